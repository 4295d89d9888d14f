/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of imzad's log (daemon/log.c): on the journal, a signature's line carries IMZA_ORIGIN, IMZA_CARD
 * and IMZA_RESULT, each cut and with its control characters written as '?'. The journal here is this
 * file's sd_journal_send, which keeps the fields it was given; stderr is made the "journal stream" by
 * JOURNAL_STREAM naming it, as systemd does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "daemon/log.h"

static char fields[16][1100];
static int nfields;

/* What sd-journal.h's sd_journal_send macro calls. Each argument is a format with its own values, up to
 * NULL: the ones log.c uses take %s and %d. */
int sd_journal_send_with_location(const char *file, const char *line, const char *func, const char *format,
                                  ...);
int sd_journal_send_with_location(const char *file, const char *line, const char *func, const char *format,
                                  ...)
{
	va_list ap;
	const char *f = format;

	(void)file;
	(void)line;
	(void)func;
	nfields = 0;
	va_start(ap, format);
	while (f != NULL && nfields < 16) {
		const char *pct = strchr(f, '%');

		if (pct == NULL)
			snprintf(fields[nfields], sizeof(fields[0]), "%s", f);
		else if (pct[1] == 's')
			snprintf(fields[nfields], sizeof(fields[0]), "%.*s%s", (int)(pct - f), f,
			         va_arg(ap, const char *));
		else
			snprintf(fields[nfields], sizeof(fields[0]), "%.*s%d", (int)(pct - f), f,
			         va_arg(ap, int));
		nfields++;
		f = va_arg(ap, const char *);
	}
	va_end(ap);
	return 0;
}

static const char *field(const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < nfields; i++)
		if (strncmp(fields[i], name, n) == 0 && fields[i][n] == '=')
			return fields[i] + n + 1;
	return NULL;
}

static void on_the_journal(void)
{
	struct stat st;
	char js[64];

	assert_int_equal(fstat(2, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_setup(false);
}

static void test_a_signature_line_has_the_fields_journalctl_selects_on(void **state)
{
	(void)state;
	on_the_journal();
	log_record(LOG_LVL_INFO, "https://basvuru.kamusm.gov.tr", "AHMET YILMAZ", "ok",
	           "signature request of %s: %s", "https://basvuru.kamusm.gov.tr", "ok");
	assert_non_null(field("IMZA_RESULT"));
	assert_string_equal(field("IMZA_RESULT"), "ok");
	assert_string_equal(field("IMZA_ORIGIN"), "https://basvuru.kamusm.gov.tr");
	assert_string_equal(field("IMZA_CARD"), "AHMET YILMAZ");
	assert_string_equal(field("MESSAGE"), "signature request of https://basvuru.kamusm.gov.tr: ok");
	assert_string_equal(field("PRIORITY"), "6");
	assert_string_equal(field("SYSLOG_IDENTIFIER"), "imzad");
}

static void test_fields_are_cut_and_cannot_make_lines_of_their_own(void **state)
{
	char long_origin[600];

	(void)state;
	memset(long_origin, 'a', sizeof(long_origin) - 1);
	long_origin[sizeof(long_origin) - 1] = '\0';
	on_the_journal();
	log_record(LOG_LVL_INFO, long_origin, "KART\nIMZA_RESULT=ok", "failed\r\x1b[2K", "x");
	assert_string_equal(field("IMZA_CARD"), "KART?IMZA_RESULT=ok");
	assert_string_equal(field("IMZA_RESULT"), "failed??[2K");
	assert_int_equal(strlen(field("IMZA_ORIGIN")), 255);
	/* Still one field of each name. */
	for (int i = 0, n = 0; i < nfields; i++) {
		n += strncmp(fields[i], "IMZA_RESULT=", 12) == 0;
		assert_true(n <= 1);
	}
}

static void test_debug_lines_wait_for_verbose(void **state)
{
	(void)state;
	on_the_journal();
	nfields = 0;
	log_record(LOG_LVL_DEBUG, "o", "c", "ok", "hidden");
	assert_int_equal(nfields, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_a_signature_line_has_the_fields_journalctl_selects_on),
	        cmocka_unit_test(test_fields_are_cut_and_cannot_make_lines_of_their_own),
	        cmocka_unit_test(test_debug_lines_wait_for_verbose),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
