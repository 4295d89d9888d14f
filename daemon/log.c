/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's log sink (see log.h). The journal check follows systemd's rule: JOURNAL_STREAM names the
 * device and inode of the stream that stderr must still be. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "daemon/log.h"

static bool use_journal;
static enum log_level max_level = LOG_LVL_INFO;

void log_setup(bool verbose)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	max_level = verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	use_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	              (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* A journal field's value: at most cap - 1 bytes of s, each control character written as '?'. */
static void field(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; s && s[n] && n + 1 < cap; n++)
		out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	out[n] = '\0';
}

/* One line at lvl: on the journal, with a record's fields when origin is given (log_record); on
 * stderr otherwise. */
static void vlog(enum log_level lvl, const char *origin, const char *card, const char *result,
                 const char *fmt, va_list ap)
{
	static const char *names[] = {[LOG_LVL_ERROR] = "error",
	                              [LOG_LVL_WARNING] = "warning",
	                              [LOG_LVL_INFO] = "info",
	                              [LOG_LVL_DEBUG] = "debug"};
	char msg[1024], o[256], c[64], r[128];

	if (lvl > max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_journal && origin == NULL) {
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", (int)lvl, "SYSLOG_IDENTIFIER=imzad", NULL);
	} else if (use_journal) {
		field(o, sizeof(o), origin);
		field(c, sizeof(c), card);
		field(r, sizeof(r), result);
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", (int)lvl, "SYSLOG_IDENTIFIER=imzad",
		                "IMZA_ORIGIN=%s", o, "IMZA_CARD=%s", c, "IMZA_RESULT=%s", r, NULL);
	} else {
		fprintf(stderr, "imzad: %s: %s\n", names[lvl], msg);
	}
}

void log_record(enum log_level lvl, const char *origin, const char *card, const char *result, const char *fmt,
                ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, origin ? origin : "", card, result, fmt, ap);
	va_end(ap);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}
