/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the pinentry dialogs (daemon/ui/dialog.c) against tests/pinentry/imza-test-pinentry: the
 * answers map as dialog.h says, the pinentry's log shows what the user would read (and never the PIN),
 * and every way a pinentry can fail ends in an error code with its process reaped. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "daemon/ui/dialog.h"
#include "daemon/ui/visible.h"
#include "daemon/ui/prompt.h"

#define ORIGIN "https://portal.example.gov.tr"
#define SUBJECT "CN=AHMET YILMAZ, SERIALNUMBER=12345678901, C=TR"
#define LAST_TRY_LINE "Kalan PIN deneme hakkı: 1. Bu son hakkınız: yanlış bir PIN kartınızı kilitler."
/* 253 bytes, the longest origin the API lets in: a trusted name in front, the real site at the end. */
#define LONG_ORIGIN                                                                                        \
	"https://"                                                                                         \
	"portal.kamusm.gov.tr.a1.a2.a3.a4.a5.a6.a7.a8.a9.b1.b2.b3.b4.b5.b6.b7.b8.b9.c1.c2.c3.c4.c5.c6."    \
	"c7.c8.c9.d1.d2.d3.d4.d5.d6.d7.d8.d9.e1.e2.e3.e4.e5.e6.e7.e8.e9.f1.f2.f3.f4.f5.f6.f7.f8.f9.g1.g2." \
	"g3."                                                                                              \
	"g4.g5.g6.g7.g8.g9.h1.h2.h3.h4.h5.h67.evil-example.com"

static char pinentry[PATH_MAX];
static char dir[64];
static char script_path[128];
static char log_path[128];

struct entry {
	char *cmd;
	char *arg;
	size_t arg_len;
	long pid;
};

struct log {
	struct entry *e;
	size_t n;
	char *raw;
	size_t raw_len;
};

static void write_script(const char *text)
{
	FILE *f = fopen(script_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		*ret_len = 0;
		return calloc(1, 1);
	}
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 4096;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static struct log read_log(void)
{
	struct log lg = {0};
	char *p, *nl;

	lg.raw = read_file(log_path, &lg.raw_len);
	for (p = lg.raw; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_error_t jerr;
		json_t *j, *arg;
		struct entry *e;

		j = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &jerr);
		if (j == NULL)
			fail_msg("bad log line: %s", jerr.text);
		lg.e = realloc(lg.e, (lg.n + 1) * sizeof(*lg.e));
		assert_non_null(lg.e);
		e = &lg.e[lg.n++];
		e->cmd = strdup(json_string_value(json_object_get(j, "cmd")));
		arg = json_object_get(j, "arg");
		assert_true(json_is_string(arg));
		e->arg_len = json_string_length(arg);
		e->arg = malloc(e->arg_len + 1);
		assert_non_null(e->arg);
		memcpy(e->arg, json_string_value(arg), e->arg_len + 1);
		e->pid = (long)json_integer_value(json_object_get(j, "pid"));
		json_decref(j);
	}
	return lg;
}

static void free_log(struct log *lg)
{
	for (size_t i = 0; i < lg->n; i++) {
		free(lg->e[i].cmd);
		free(lg->e[i].arg);
	}
	free(lg->e);
	free(lg->raw);
	*lg = (struct log){0};
}

/* The last entry for cmd, or NULL. */
static const struct entry *find(const struct log *lg, const char *cmd)
{
	const struct entry *found = NULL;

	for (size_t i = 0; i < lg->n; i++)
		if (strcmp(lg->e[i].cmd, cmd) == 0)
			found = &lg->e[i];
	return found;
}

/* Asks rq's PIN through the test pinentry (answering 0000), reads its log into lg and gives the
 * description it was shown (SETDESC). */
static const struct entry *pin_dialog_desc(const struct dialog_request *rq, struct log *lg)
{
	struct pin_secret pin = {0};

	write_script("pin 0000\n");
	assert_int_equal(dialog_pin(rq, &pin), 0);
	pin_secret_wipe(&pin);
	*lg = read_log();
	return find(lg, "SETDESC");
}

static size_t count(const struct log *lg, const char *cmd)
{
	size_t c = 0;

	for (size_t i = 0; i < lg->n; i++)
		c += strcmp(lg->e[i].cmd, cmd) == 0;
	return c;
}

static bool has(const struct entry *e, const char *s)
{
	return e != NULL && memmem(e->arg, e->arg_len, s, strlen(s)) != NULL;
}

static void assert_arg(const struct log *lg, const char *cmd, const char *want)
{
	const struct entry *e = find(lg, cmd);

	if (e == NULL)
		fail_msg("no %s in the log", cmd);
	assert_string_equal(e->arg, want);
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Assuan's escaped size of a decoded argument. */
static size_t escaped_len(const char *s, size_t n)
{
	size_t r = 0;

	for (size_t i = 0; i < n; i++)
		r += (s[i] == '%' || (unsigned char)s[i] < 0x20) ? 3 : 1;
	return r;
}

#define QUOTE "\xe2\x94\x82 "

/* The page's text as the dialog quotes it: every line, the first too, after "\n│ ". */
static void assert_all_page_lines_quoted(const struct entry *d)
{
	const char *text = memmem(d->arg, d->arg_len, "\n\n" QUOTE, strlen("\n\n" QUOTE));
	const char *end = d->arg + d->arg_len;

	if (text == NULL)
		fail_msg("no quoted text in: %s", d->arg);
	for (const char *p = text + 2; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) < strlen(QUOTE) || memcmp(p, QUOTE, strlen(QUOTE)) != 0)
			fail_msg("a page line not quoted: \"%.40s\" in: %s", p, d->arg);
		p = nl != NULL ? nl + 1 : end;
	}
}

/* The byte offset of s in d's text, or -1. */
static long where(const struct entry *d, const char *s)
{
	const char *p = memmem(d->arg, d->arg_len, s, strlen(s));

	return p != NULL ? (long)(p - d->arg) : -1;
}

static struct dialog_request request(void)
{
	return (struct dialog_request){
	        .program = pinentry,
	        .origin = ORIGIN,
	        .can_remember = true,
	        .subject = NULL,
	        .tries_left = -1,
	};
}

static struct dialog_request text_request(const char *text)
{
	struct dialog_request rq = request();

	rq.subject = SUBJECT;
	rq.content = (const uint8_t *)text;
	rq.len = strlen(text);
	rq.is_text = true;
	return rq;
}

static void assert_no_child_left(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static int setup(void **state)
{
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/imza-test-dialog-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(script_path, sizeof(script_path), "%s/script", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	setenv("IMZA_TEST_PINENTRY_SCRIPT", script_path, 1);
	setenv("IMZA_TEST_PINENTRY_LOG", log_path, 1);
	return 0;
}

static int teardown(void **state)
{
	assert_no_child_left();
	unlink(script_path);
	unlink(log_path);
	rmdir(dir);
	return 0;
}

static void test_consent_ok_button_is_once(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c = DIALOG_DENY;
	struct log lg;

	write_script("# the user presses OK\nconsent once\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	assert_int_equal(c, DIALOG_ONCE);
	lg = read_log();
	assert_arg(&lg, "SETTITLE", "imza");
	assert_arg(&lg, "SETOK", "Bu seferlik izin ver");
	assert_arg(&lg, "SETNOTOK", "Her zaman izin ver");
	assert_arg(&lg, "SETCANCEL", "Reddet");
	assert_true(has(find(&lg, "SETDESC"), ORIGIN));
	assert_int_equal(count(&lg, "CONFIRM"), 1);
	assert_arg(&lg, "ANSWER", "once");
	assert_int_equal(count(&lg, "SETTIMEOUT"), 0);
	free_log(&lg);
}

static void test_consent_notok_button_is_always(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c = DIALOG_DENY;

	write_script("consent always\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	assert_int_equal(c, DIALOG_ALWAYS);
}

static void test_consent_cancel_button_is_deny(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c = DIALOG_ONCE;

	write_script("consent deny\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	assert_int_equal(c, DIALOG_DENY);
}

static void test_consent_without_remember_never_offers_always(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c = DIALOG_DENY;
	struct log lg;

	rq.can_remember = false;
	write_script("consent once\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	assert_int_equal(c, DIALOG_ONCE);
	lg = read_log();
	assert_int_equal(count(&lg, "SETNOTOK"), 0);
	assert_arg(&lg, "SETOK", "Bu seferlik izin ver");
	assert_arg(&lg, "SETCANCEL", "Reddet");
	free_log(&lg);
}

static void test_always_answer_that_was_not_offered_is_a_protocol_error(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c = DIALOG_DENY;

	rq.can_remember = false;
	write_script("consent always\n");
	assert_int_equal(dialog_consent(&rq, &c), -EPROTO);
	assert_int_equal(c, DIALOG_DENY);
}

static void test_timeout_is_sent_and_reported_as_etimedout(void **state)
{
	struct dialog_request rq = request();
	struct pin_secret pin = {0};
	enum dialog_consent c = DIALOG_ONCE;
	struct log lg;

	rq.timeout_s = 7;
	write_script("consent timeout\npin timeout\n");
	assert_int_equal(dialog_consent(&rq, &c), -ETIMEDOUT);
	assert_int_equal(c, DIALOG_ONCE);
	assert_int_equal(dialog_pin(&rq, &pin), -ETIMEDOUT);
	assert_null(pin.page);
	lg = read_log();
	assert_int_equal(count(&lg, "SETTIMEOUT"), 2);
	assert_arg(&lg, "SETTIMEOUT", "7");
	free_log(&lg);
}

/* ASan turns mlock into a no-op, so a sanitizer build can only see MADV_DONTDUMP. */
#if defined(__SANITIZE_ADDRESS__)
#define MLOCK_WORKS false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLOCK_WORKS false
#endif
#endif
#ifndef MLOCK_WORKS
#define MLOCK_WORKS true
#endif

/* The page's mapping in /proc/self/smaps: locked (where RLIMIT_MEMLOCK lets pin.c lock it) and kept out
 * of core dumps. */
static void assert_page_locked_and_not_dumped(const void *page)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	uintptr_t a = (uintptr_t)page;
	bool in = false, seen = false, expect_lock;
	struct rlimit rl;
	char line[512];

	assert_non_null(f);
	assert_int_equal(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
	expect_lock =
	        MLOCK_WORKS && (geteuid() == 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 1024 * 1024);
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo <= a && a < hi;
			continue;
		}
		if (!in || strncmp(line, "VmFlags:", 8) != 0)
			continue;
		seen = true;
		assert_non_null(strstr(line, " dd"));
		if (expect_lock)
			assert_non_null(strstr(line, " lo"));
	}
	fclose(f);
	assert_true(seen);
}

static void test_pin_is_returned_exactly_in_a_locked_page(void **state)
{
	struct dialog_request rq = text_request("Beyan: bilgilerim doğrudur.");
	struct pin_secret pin = {0};
	struct log lg;

	write_script("pin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_non_null(pin.page);
	assert_int_equal(pin.len, 6);
	assert_memory_equal(pin.page, "123456", 6);
	assert_int_equal((uintptr_t)pin.page % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	assert_page_locked_and_not_dumped(pin.page);
	pin_secret_wipe(&pin);
	assert_null(pin.page);
	assert_int_equal(pin.len, 0);

	lg = read_log();
	assert_arg(&lg, "SETPROMPT", "PIN:");
	assert_arg(&lg, "SETOK", "İmzala");
	assert_arg(&lg, "SETCANCEL", "Vazgeç");
	assert_int_equal(count(&lg, "SETNOTOK"), 0);
	assert_int_equal(count(&lg, "GETPIN"), 1);
	assert_arg(&lg, "ANSWER", "pin");
	free_log(&lg);
}

struct early {
	struct pin_secret pin;
	int calls;
	bool child_alive; /* the pinentry had not exited yet when the PIN came */
};

static void take_pin(void *ud, struct pin_secret *pin)
{
	struct early *e = ud;

	e->calls++;
	e->pin = *pin;
	*pin = (struct pin_secret){0};
	e->child_alive = waitpid(-1, NULL, WNOHANG) == 0;
}

/* With pin_read, the PIN is handed over while the pinentry is still there (the caller goes on while it
 * closes), in its locked page; dialog_pin still returns only once the program is reaped, *ret empty. */
static void test_pin_read_gets_the_pin_before_the_pinentry_closes(void **state)
{
	struct dialog_request rq = text_request("Beyan: bilgilerim doğrudur.");
	struct pin_secret pin = {0};
	struct early e = {0};

	rq.pin_read = take_pin;
	rq.pin_read_ud = &e;
	write_script("pin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_no_child_left();
	assert_null(pin.page);
	assert_int_equal(e.calls, 1);
	assert_true(e.child_alive);
	assert_int_equal(e.pin.len, 6);
	assert_memory_equal(e.pin.page, "123456", 6);
	assert_page_locked_and_not_dumped(e.pin.page);
	pin_secret_wipe(&e.pin);

	/* A cancelled dialog hands over nothing. */
	write_script("pin cancel\n");
	assert_int_equal(dialog_pin(&rq, &pin), -ECANCELED);
	assert_no_child_left();
	assert_int_equal(e.calls, 1);
}

static void test_pin_with_special_characters_is_decoded(void **state)
{
	struct dialog_request rq = text_request("x");
	struct pin_secret pin = {0};

	write_script("pin 1%2 3+4\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_int_equal(pin.len, 7);
	assert_memory_equal(pin.page, "1%2 3+4", 7);
	pin_secret_wipe(&pin);
}

static void test_pin_desc_shows_origin_subject_and_full_text(void **state)
{
	static const char text[] =
	        "Başvuru Nedeni: Kayıp\nAd Soyad: Ahmet Yılmaz\nGüvenlik sözcüğü: kırmızı\n"
	        "Kurum: Kamu SM, İl: Ankara, İlçe: Çankaya";
	struct dialog_request rq = text_request(text);
	const struct entry *d;
	struct log lg;

	d = pin_dialog_desc(&rq, &lg);
	assert_true(has(d, ORIGIN " şu içeriği imzalamak istiyor:"));
	assert_true(has(d, SUBJECT));
	assert_true(has(d, "\n\n" QUOTE "Başvuru Nedeni: Kayıp\n" QUOTE "Ad Soyad: Ahmet Yılmaz\n" QUOTE
	                   "Güvenlik sözcüğü: kırmızı\n" QUOTE "Kurum: Kamu SM, İl: Ankara, İlçe: Çankaya"));
	/* Shown whole: the size and SHA-256 all the same, and no word of shortening. */
	assert_true(has(d, "bayt, SHA-256: "));
	assert_false(has(d, "Kısaltıldı"));
	assert_false(has(d, "…"));
	assert_false(has(d, "Kalan PIN"));
	free_log(&lg);
}

static void test_long_text_is_shortened_with_its_size_and_sha256(void **state)
{
	char *text = malloc(3001), hex[65], want[128];
	struct dialog_request rq;
	struct pin_secret pin = {0};
	const struct entry *d;
	struct log lg;

	assert_non_null(text);
	for (int i = 0; i < 3000; i++)
		text[i] = (char)('a' + i % 26);
	text[3000] = '\0';
	rq = text_request(text);
	write_script("pin 0000\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);

	sha256_hex(text, 3000, hex);
	snprintf(want, sizeof(want), "\nBelge: 3000 bayt, SHA-256: %s\nKısaltıldı: belgenin ", hex);
	lg = read_log();
	d = find(&lg, "SETDESC");
	assert_true(has(d, want));
	assert_true(has(d, "baytı burada gösterilmiyor."));
	assert_string_equal(d->arg + d->arg_len - strlen("…"), "…");
	text[64] = '\0'; /* the start of the text is still shown, broken into quoted lines */
	assert_true(has(d, text));
	assert_all_page_lines_quoted(d);
	assert_true(has(d, SUBJECT));
	assert_true(escaped_len(d->arg, d->arg_len) + strlen("SETDESC ") <= 1000);
	free_log(&lg);
	free(text);
}

static void test_long_text_is_cut_between_utf8_characters(void **state)
{
	static const char g[] = "ğ";
	char *text = malloc(2000 * 2 + 1);
	struct dialog_request rq;
	const struct entry *d;
	struct log lg;

	assert_non_null(text);
	for (int i = 0; i < 2000; i++)
		memcpy(text + 2 * i, g, 2);
	text[4000] = '\0';
	rq = text_request(text);
	d = pin_dialog_desc(&rq, &lg);
	assert_true(has(d, "\nBelge: 4000 bayt, SHA-256: "));
	assert_true(has(d, "Kısaltıldı: belgenin "));
	assert_string_equal(d->arg + d->arg_len - strlen("ğğğğ…"), "ğğğğ…");
	assert_false(has(d, "\xef\xbf\xbd")); /* the pinentry found no broken sequence */
	free_log(&lg);
	free(text);
}

/* imzad's own lines (who asks, the site, the signer, the tries left, the document's size and SHA-256)
 * stand above the page's text, and every line of the page's text is quoted. */
static void test_imzads_lines_come_before_the_quoted_page_text(void **state)
{
	static const char text[] = "Beyan\nİmzalayan: CN=SAHTE\nSite: evil.example\n\n\tson satır\n";
	struct dialog_request rq = text_request(text);
	const struct entry *d;
	char want[160], hex[65];
	struct log lg;
	long quoted;

	rq.web = true;
	rq.tries_left = 2;
	d = pin_dialog_desc(&rq, &lg);
	sha256_hex(text, strlen(text), hex);
	snprintf(want, sizeof(want), "\nBelge: %zu bayt, SHA-256: %s\n\n" QUOTE "Beyan\n", strlen(text), hex);
	quoted = where(d, "\n\n" QUOTE);
	assert_true(quoted > 0);
	assert_true(where(d,
	                  ORIGIN " şu içeriği imzalamak istiyor:\nSite: example.gov.tr\nİmzalayan: " SUBJECT
	                         "\nKalan PIN deneme hakkı: 2") == 0);
	assert_true(has(d, want));
	assert_true(where(d, "İmzalayan: " SUBJECT) < quoted);
	assert_true(where(d, "Kalan PIN deneme hakkı: 2") < quoted);
	assert_true(where(d, "SHA-256: ") < quoted);
	/* The page's lines, each quoted, a blank one too. */
	assert_true(has(d, "\n" QUOTE "İmzalayan: CN=SAHTE\n" QUOTE "Site: evil.example\n" QUOTE "\n" QUOTE
	                   "\tson satır"));
	assert_false(has(d, "\nİmzalayan: CN=SAHTE"));
	assert_false(has(d, "\nSite: evil.example"));
	assert_all_page_lines_quoted(d);
	assert_false(has(d, "Kısaltıldı"));
	free_log(&lg);
}

/* A page that puts 150 newlines and then a signer line of its own in its text: the run of blank lines is
 * one quoted line that counts them, and the fake signer shows only quoted, after the real one. */
static void test_fake_signer_after_150_newlines_shows_only_quoted_after_the_real_one(void **state)
{
	char text[512], want[160], hex[65];
	struct dialog_request rq;
	const struct entry *d;
	struct log lg;
	size_t n = 0, lines = 0;

	n += (size_t)snprintf(text, sizeof(text), "Başvurumun doğru olduğunu beyan ederim.\n");
	memset(text + n, '\n', 150);
	n += 150;
	snprintf(text + n, sizeof(text) - n, "İmzalayan: CN=BAŞKA KİŞİ");
	rq = text_request(text);
	rq.web = true;
	d = pin_dialog_desc(&rq, &lg);
	assert_true(has(d, "\n" QUOTE "Başvurumun doğru olduğunu beyan ederim.\n" QUOTE
	                   "⟨150 boş satır⟩\n" QUOTE "İmzalayan: CN=BAŞKA KİŞİ"));
	/* The real signer first; the fake one never at the start of a line of its own. */
	assert_true(where(d, "İmzalayan: ") == where(d, "\nİmzalayan: " SUBJECT) + 1);
	assert_true(where(d, "İmzalayan: CN=BAŞKA") > where(d, "İmzalayan: " SUBJECT));
	assert_false(has(d, "\nİmzalayan: CN=BAŞKA"));
	assert_all_page_lines_quoted(d);
	/* Nothing pushed out of view: a few lines in all, with the size and the SHA-256. */
	for (size_t i = 0; i < d->arg_len; i++)
		lines += d->arg[i] == '\n';
	assert_true(lines < 10);
	sha256_hex(text, strlen(text), hex);
	snprintf(want, sizeof(want), "\nBelge: %zu bayt, SHA-256: %s\n", strlen(text), hex);
	assert_true(has(d, want));
	free_log(&lg);
}

/* A 2400-byte Turkish declaration is shortened: the dialog says so in words, with how many bytes are not
 * shown (exactly those after the shown start) and the SHA-256 of the whole. */
static void test_shortened_text_says_how_many_bytes_are_not_shown(void **state)
{
	static const char line[] = "Bu belgede verdiğim bilgilerin doğruluğunu beyan ederim. ";
	char text[2401], hex[65], want[200], *shown;
	struct dialog_request rq;
	const struct entry *d;
	const char *q, *end;
	size_t n = 0, k = 0, not_shown;
	struct log lg;

	/* Lines of under 64 characters, so that the dialog breaks none of them. */
	while (n < 2400) {
		size_t c = strlen(line) - 1 < 2400 - n ? strlen(line) - 1 : 2400 - n;

		memcpy(text + n, line, c);
		n += c;
		if (n < 2400)
			text[n++] = '\n';
	}
	text[2400] = '\0';
	assert_int_equal(strlen(text), 2400);
	rq = text_request(text);
	rq.web = true;
	d = pin_dialog_desc(&rq, &lg);
	assert_true(escaped_len(d->arg, d->arg_len) + strlen("SETDESC ") <= 1000);
	assert_all_page_lines_quoted(d);
	/* Undo the quoting: what is left must be the start of the text, and the count the rest. */
	q = (const char *)memmem(d->arg, d->arg_len, "\n\n" QUOTE, strlen("\n\n" QUOTE)) + 2;
	end = d->arg + d->arg_len - strlen("…");
	assert_string_equal(end, "…");
	shown = malloc(d->arg_len + 1);
	assert_non_null(shown);
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t len = (size_t)((nl != NULL ? nl : end) - q) - strlen(QUOTE);

		memcpy(shown + k, q + strlen(QUOTE), len);
		k += len;
		if (nl != NULL)
			shown[k++] = '\n';
		q = nl != NULL ? nl + 1 : end;
	}
	assert_true(k > 300);
	assert_true(k < 1000);
	assert_memory_equal(shown, text, k);
	not_shown = 2400 - k;
	sha256_hex(text, 2400, hex);
	snprintf(want, sizeof(want),
	         "\nBelge: 2400 bayt, SHA-256: %s\nKısaltıldı: belgenin %zu baytı burada "
	         "gösterilmiyor.\n\n",
	         hex, not_shown);
	assert_true(has(d, want));
	free(shown);
	free_log(&lg);
}

static void test_binary_content_shows_size_sha256_and_first_bytes(void **state)
{
	uint8_t data[100];
	char hex[65], head[65], want[128];
	struct dialog_request rq = request();
	struct pin_secret pin = {0};
	const struct entry *d;
	struct log lg;

	for (int i = 0; i < 100; i++)
		data[i] = (uint8_t)i;
	for (int i = 0; i < 32; i++)
		snprintf(head + 2 * i, 3, "%02x", data[i]);
	rq.subject = SUBJECT;
	rq.content = data;
	rq.len = sizeof(data);
	rq.is_text = false;
	write_script("pin 0000\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);

	sha256_hex(data, sizeof(data), hex);
	lg = read_log();
	d = find(&lg, "SETDESC");
	assert_true(has(d, "100 bayt"));
	snprintf(want, sizeof(want), "SHA-256: %s", hex);
	assert_true(has(d, want));
	snprintf(want, sizeof(want), "İlk 32 bayt: %s", head);
	assert_true(has(d, want));
	snprintf(want, sizeof(want), "%s20", head); /* only the first 32 */
	assert_false(has(d, want));
	assert_false(has(d, "\x01"));
	free_log(&lg);
}

static void test_pin_cancel_is_ecanceled(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {(uint8_t *)&pin, 77};

	write_script("# defaults: pin cancel\n");
	assert_int_equal(dialog_pin(&rq, &pin), -ECANCELED);
	assert_ptr_equal(pin.page, (uint8_t *)&pin); /* untouched on failure */
	assert_int_equal(pin.len, 77);
}

static void test_empty_pin_is_einval(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};

	write_script("pin\n");
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	assert_null(pin.page);
}

static void test_pin_over_max_length_is_e2big(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	char sc[PIN_MAX_LEN + 16];

	snprintf(sc, sizeof(sc), "pin %0*d\n", PIN_MAX_LEN, 7);
	write_script(sc);
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_int_equal(pin.len, PIN_MAX_LEN);
	pin_secret_wipe(&pin);

	snprintf(sc, sizeof(sc), "pin %0*d\n", PIN_MAX_LEN + 1, 7);
	write_script(sc);
	assert_int_equal(dialog_pin(&rq, &pin), -E2BIG);
	assert_null(pin.page);
}

static void test_missing_program_is_enoent(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	enum dialog_consent c = DIALOG_ONCE;
	char path[PATH_MAX + 16];
	struct log lg;

	snprintf(path, sizeof(path), "%s/no-such-pinentry", dir);
	rq.program = path;
	assert_int_equal(dialog_consent(&rq, &c), -ENOENT);
	assert_int_equal(dialog_pin(&rq, &pin), -ENOENT);
	rq.program = "imza-no-such-pinentry";
	assert_int_equal(dialog_consent(&rq, &c), -ENOENT);
	rq.program = dir; /* a directory is no program */
	assert_int_equal(dialog_consent(&rq, &c), -ENOENT);
	rq.program = "";
	assert_int_equal(dialog_consent(&rq, &c), -ENOENT);
	assert_int_equal(c, DIALOG_ONCE);
	assert_null(pin.page);
	lg = read_log();
	assert_int_equal(lg.n, 0);
	free_log(&lg);
}

static void test_bare_name_is_found_through_path(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c = DIALOG_DENY;
	char *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char path[PATH_MAX + 64], *slash;

	snprintf(path, sizeof(path), "/nonexistent::%s", pinentry);
	slash = strrchr(path, '/');
	*slash = '\0';
	setenv("PATH", path, 1);
	rq.program = "imza-test-pinentry";
	write_script("consent once\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	assert_int_equal(c, DIALOG_ONCE);
	setenv("PATH", old, 1);
	free(old);
}

static void test_pinentry_dying_mid_dialog_fails_and_is_reaped(void **state)
{
	static const char *const consent_deaths[] = {"die SETTITLE\n", "die SETDESC\n", "die SETNOTOK\n",
	                                             "die CONFIRM\n"};
	static const char *const pin_deaths[] = {"die SETDESC\n", "die SETPROMPT\n", "die GETPIN\n"};
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	enum dialog_consent c = DIALOG_ONCE;
	int r;

	for (size_t i = 0; i < sizeof(consent_deaths) / sizeof(consent_deaths[0]); i++) {
		write_script(consent_deaths[i]);
		r = dialog_consent(&rq, &c);
		if (r != -EIO && r != -EPROTO)
			fail_msg("%s: %d", consent_deaths[i], r);
		assert_no_child_left();
	}
	for (size_t i = 0; i < sizeof(pin_deaths) / sizeof(pin_deaths[0]); i++) {
		write_script(pin_deaths[i]);
		r = dialog_pin(&rq, &pin);
		if (r != -EIO && r != -EPROTO)
			fail_msg("%s: %d", pin_deaths[i], r);
		assert_no_child_left();
	}
	assert_int_equal(c, DIALOG_ONCE);
	assert_null(pin.page);

	/* Programs that are no pinentry at all: one exits at once, one greets with garbage. */
	rq.program = "/bin/false";
	assert_int_equal(dialog_consent(&rq, &c), -EIO);
	assert_no_child_left();
	rq.program = "/bin/echo";
	r = dialog_pin(&rq, &pin);
	assert_true(r == -EIO || r == -EPROTO);
	assert_no_child_left();
}

/* The dialog program gets the pipes as stdin and stdout, /dev/null as stderr and nothing else of the
 * daemon's: not a descriptor it left inheritable (its sockets, the records' files), nor a connection fd
 * variable, which would make an Assuan server expect a socket instead of its pipes. */
static void test_pinentry_gets_its_pipes_and_nothing_else(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	enum dialog_consent c = DIALOG_DENY;
	int leaked = open("/dev/null", O_RDONLY), p[2];
	struct log lg;

	assert_true(leaked > STDERR_FILENO);
	assert_int_equal(pipe(p), 0);
	setenv("_assuan_connection_fd", "7", 1);
	write_script("start\npin 123456\nconsent once\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);
	assert_int_equal(dialog_consent(&rq, &c), 0);
	unsetenv("_assuan_connection_fd");
	close(leaked);
	close(p[0]);
	close(p[1]);

	lg = read_log();
	assert_int_equal(count(&lg, "START"), 2);
	for (size_t i = 0; i < lg.n; i++)
		if (strcmp(lg.e[i].cmd, "START") == 0)
			assert_string_equal(lg.e[i].arg, "fds 0 1 2; stderr /dev/null; connection_fd unset");
	free_log(&lg);
}

static void test_low_tries_left_is_shown(void **state)
{
	static const int tries[] = {1, 2, 3, -1};
	static const bool shown[] = {true, true, false, false};
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	char want[64];
	struct log lg;

	write_script("pin 0000\n");
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		rq.tries_left = tries[i];
		assert_int_equal(dialog_pin(&rq, &pin), 0);
		pin_secret_wipe(&pin);
		lg = read_log();
		snprintf(want, sizeof(want), "Kalan PIN deneme hakkı: %d", tries[i]);
		assert_int_equal(has(find(&lg, "SETDESC"), want), shown[i]);
		assert_int_equal(has(find(&lg, "SETDESC"), "Kalan PIN"), shown[i]);
		free_log(&lg);
		assert_int_equal(truncate(log_path, 0), 0);
	}
}

static void test_pin_never_appears_in_the_log(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	struct log lg;

	write_script("pin 918273645\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_memory_equal(pin.page, "918273645", 9);
	pin_secret_wipe(&pin);
	lg = read_log();
	assert_true(lg.raw_len > 0);
	assert_null(memmem(lg.raw, lg.raw_len, "918273645", 9));
	assert_arg(&lg, "ANSWER", "pin");
	free_log(&lg);
}

static void test_control_characters_round_trip_through_escaping(void **state)
{
	static const char text[] = "100% doğru\r\nikinci satır\x01son %0A %% \t.";
	struct dialog_request rq = text_request(text);
	const struct entry *d;
	struct log lg;

	rq.origin = "https://a%41.example";
	d = pin_dialog_desc(&rq, &lg);
	/* %, LF and TAB pass the escaping as they are; CR and 0x01 are shown as markers. */
	assert_true(has(d, "100% doğru\xe2\x9f\xa8U+000D\xe2\x9f\xa9\n" QUOTE
	                   "ikinci satır\xe2\x9f\xa8U+0001\xe2\x9f\xa9son %0A %% \t."));
	assert_true(has(d, "https://a%41.example şu"));
	free_log(&lg);
}

static void test_hidden_and_reordering_characters_are_shown_as_markers_with_the_digest(void **state)
{
	/* CR + ESC sequences (a terminal pinentry), a right-to-left override, a zero-width space, a
	 * byte that is not UTF-8: none reaches the dialog as it is. */
	static const char text[] = "Odeme: 100 TL\r\x1b[2K\x1b[1AOdeme: 1 TL \xe2\x80\xae\xe2\x80\x8b\xff.";
	struct dialog_request rq = text_request(text);
	const struct entry *d;
	struct log lg;
	char want[160];
	uint8_t md[32];

	rq.origin = "imzactl (pid 7, name \xe2\x80\xae"
	            "evil)";
	d = pin_dialog_desc(&rq, &lg);
	assert_true(has(d, "Odeme: 100 TL\xe2\x9f\xa8U+000D\xe2\x9f\xa9\xe2\x9f\xa8U+001B\xe2\x9f\xa9[2K"));
	assert_true(has(d, "\xe2\x9f\xa8U+202E\xe2\x9f\xa9\xe2\x9f\xa8U+200B\xe2\x9f\xa9\xe2\x9f\xa8"
	                   "0xFF\xe2\x9f\xa9."));
	assert_false(has(d, "\xe2\x80\xae"));
	assert_false(has(d, "\x1b"));
	assert_true(has(d, "name \xe2\x9f\xa8U+202E\xe2\x9f\xa9"
	                   "evil"));
	/* A line separator would break the line where the text shows none: a marker too; LF stays. */
	assert_true(visible_hidden(0x2028) && visible_hidden(0x2029) && visible_hidden('\r'));
	assert_false(visible_hidden('\n') || visible_hidden('\t') || visible_hidden(0x131));
	/* Not cut, so no "…", but the digest of exactly what is signed. */
	assert_int_equal(EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL), 1);
	snprintf(want, sizeof(want), "\nBelge: %zu bayt, SHA-256: ", strlen(text));
	for (int i = 0; i < 32; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%02x", md[i]);
	assert_true(has(d, want));
	assert_false(has(d, "Kısaltıldı"));
	free_log(&lg);
}

static void test_long_origin_and_subject_keep_the_line_within_assuan_limit(void **state)
{
	char *origin = malloc(2001), *subject = malloc(2001), *text = malloc(3001);
	struct dialog_request rq;
	const struct entry *d;
	struct log lg;

	assert_non_null(origin);
	assert_non_null(subject);
	assert_non_null(text);
	memset(origin, 'o', 2000);
	origin[2000] = '\0';
	for (int i = 0; i < 2000; i++)
		subject[i] = i % 2 ? '%' : 's'; /* every other byte escaped */
	subject[2000] = '\0';
	memset(text, '\n', 3000);
	text[3000] = '\0';
	rq = text_request(text);
	rq.origin = origin;
	rq.subject = subject;
	rq.tries_left = 1;
	d = pin_dialog_desc(&rq, &lg);
	assert_non_null(d);
	assert_true(escaped_len(d->arg, d->arg_len) + strlen("SETDESC ") <= 1000);
	assert_true(has(d, "ooo… şu içeriği imzalamak istiyor:"));
	assert_true(has(d, "s%s…\n" LAST_TRY_LINE "\nBelge: 3000 bayt, SHA-256: "));
	/* 3000 blank lines are one quoted line that says so. */
	assert_string_equal(d->arg + d->arg_len - strlen(QUOTE "⟨3000 boş satır⟩"), QUOTE "⟨3000 boş satır⟩");
	free_log(&lg);
	free(origin);
	free(subject);
	free(text);
}

/* The web origin whole and its site on a line of its own, in both dialogs: a long origin cannot push its
 * registrable domain out of sight. When the line is short, the document text is cut (it keeps its size and
 * SHA-256), never the origin or the site. */
static void test_long_origin_shown_whole(void **state)
{
	char *text = malloc(3001), subject[256];
	struct dialog_request rq;
	struct pin_secret pin = {0};
	enum dialog_consent c;
	const struct entry *d;
	struct log lg;

	assert_int_equal(strlen(LONG_ORIGIN), 253);
	assert_non_null(text);
	for (int i = 0; i < 3000; i++)
		text[i] = (char)('a' + i % 26);
	text[3000] = '\0';
	memset(subject, 'S', sizeof(subject) - 1);
	subject[sizeof(subject) - 1] = '\0';

	/* Consent. */
	rq = request();
	rq.origin = LONG_ORIGIN;
	rq.web = true;
	write_script("consent once\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	lg = read_log();
	d = find(&lg, "SETDESC");
	assert_true(has(d, LONG_ORIGIN " e-imza kartınızı kullanmak istiyor.\nSite: evil-example.com\n"));
	assert_false(has(d, "…"));
	free_log(&lg);
	assert_int_equal(truncate(log_path, 0), 0);

	/* PIN, with a text to cut, a long subject and the last try: everything else still fits. */
	rq = text_request(text);
	rq.origin = LONG_ORIGIN;
	rq.web = true;
	rq.subject = subject;
	rq.tries_left = 1;
	write_script("pin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);
	lg = read_log();
	for (size_t i = 0; i < lg.n; i++) {
		if (strcmp(lg.e[i].cmd, "SETDESC") != 0)
			continue;
		d = &lg.e[i];
		assert_true(escaped_len(d->arg, d->arg_len) + strlen("SETDESC ") <= 1000);
		assert_true(has(d, LONG_ORIGIN " "));
		assert_true(has(d, "\nSite: evil-example.com\n"));
	}
	d = find(&lg, "SETDESC");
	assert_true(
	        has(d, LONG_ORIGIN " şu içeriği imzalamak istiyor:\nSite: evil-example.com\nİmzalayan: SSS"));
	assert_true(has(d, "…\n" LAST_TRY_LINE "\nBelge: 3000 bayt, SHA-256: "));
	assert_true(has(d, "\nKısaltıldı: belgenin "));
	assert_true(has(d, "\n\n" QUOTE "abc"));
	assert_string_equal(d->arg + d->arg_len - strlen("…"), "…");
	free_log(&lg);
	assert_int_equal(truncate(log_path, 0), 0);

	/* Binary content: its size and digest stay, the first bytes give way. */
	rq.content = (const uint8_t *)text;
	rq.len = 3000;
	rq.is_text = false;
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);
	lg = read_log();
	d = find(&lg, "SETDESC");
	assert_true(escaped_len(d->arg, d->arg_len) + strlen("SETDESC ") <= 1000);
	assert_true(has(d, LONG_ORIGIN " şu içeriği imzalamak istiyor:\nSite: evil-example.com\n"));
	assert_true(has(d, "İkili veri, 3000 bayt\nSHA-256: "));
	free_log(&lg);
	free(text);
}

/* A web origin that cannot be shown whole is no request for a dialog: refused, no window. */
static void test_web_origin_too_long_for_the_dialog_is_refused(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	enum dialog_consent c = DIALOG_ONCE;
	struct log lg;

	rq.origin = LONG_ORIGIN ".x"; /* hand-made: the API refuses it first */
	rq.web = true;
	write_script("consent always\npin 123456\n");
	assert_int_equal(dialog_consent(&rq, &c), -EINVAL);
	assert_int_equal(c, DIALOG_ONCE);
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	assert_null(pin.page);
	rq.origin = "https://bad origin.example";
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	lg = read_log();
	assert_int_equal(lg.n, 0);
	free_log(&lg);
}

/* A plain-http page may be rewritten on its way: "always" is not offered and the dialog says why; local
 * development hosts are not concerned. */
static void test_http_origin_is_told_why_only_once(void **state)
{
	static const struct {
		const char *origin;
		bool told;
	} cases[] = {
	        {"http://portal.example.gov.tr", true}, {"https://portal.example.gov.tr", false},
	        {"http://localhost:8080", false},       {"http://127.0.0.1:8080", false},
	        {"http://[::1]:8080", false},
	};
	struct dialog_request rq = request();
	enum dialog_consent c;
	struct log lg;

	write_script("consent once\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rq.origin = cases[i].origin;
		rq.web = true;
		rq.can_remember = !cases[i].told;
		assert_int_equal(dialog_consent(&rq, &c), 0);
		lg = read_log();
		assert_int_equal(has(find(&lg, "SETDESC"), "izin yalnızca bu seferlik verilebilir"),
		                 cases[i].told);
		assert_int_equal(count(&lg, "SETNOTOK"), cases[i].told ? 0 : 1);
		free_log(&lg);
		assert_int_equal(truncate(log_path, 0), 0);
	}
}

/* With one try left the user is told in plain words that a wrong PIN locks the card, and must say yes
 * before any PIN is asked; "no" ends the dialog with no PIN at all. */
static void test_last_try_needs_confirmation(void **state)
{
	struct dialog_request rq = text_request("metin");
	struct pin_secret pin = {0};
	const struct entry *e;
	struct log lg;
	size_t confirm = 0, getpin = 0;

	rq.origin = "https://portal.example.gov.tr";
	rq.web = true;
	rq.tries_left = 1;
	write_script("lasttry no\npin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), -ECANCELED);
	assert_null(pin.page);
	lg = read_log();
	assert_int_equal(count(&lg, "CONFIRM"), 1);
	assert_int_equal(count(&lg, "GETPIN"), 0);
	assert_arg(&lg, "ANSWER", "lasttry-no");
	e = find(&lg, "SETDESC");
	assert_true(has(e, "yalnızca 1 PIN deneme hakkı kaldı"));
	assert_true(has(e, "yanlış bir PIN girerseniz kartınız KİLİTLENİR"));
	assert_true(has(e, "\nSite: example.gov.tr"));
	free_log(&lg);
	assert_int_equal(truncate(log_path, 0), 0);

	/* "Yes": then, and only then, the PIN. */
	write_script("lasttry yes\npin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_memory_equal(pin.page, "123456", 6);
	pin_secret_wipe(&pin);
	lg = read_log();
	for (size_t i = 0; i < lg.n; i++) {
		if (strcmp(lg.e[i].cmd, "CONFIRM") == 0)
			confirm = i;
		if (strcmp(lg.e[i].cmd, "GETPIN") == 0)
			getpin = i;
	}
	assert_true(confirm > 0 && getpin > confirm);
	assert_true(has(find(&lg, "SETDESC"), LAST_TRY_LINE));
	free_log(&lg);
	assert_int_equal(truncate(log_path, 0), 0);

	/* Two tries left: no question. */
	rq.tries_left = 2;
	write_script("lasttry no\npin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);
	lg = read_log();
	assert_int_equal(count(&lg, "CONFIRM"), 0);
	free_log(&lg);
}

/* imza-prompt asks the last try inside its signing window (SETTRIES 1 and a box to tick), so imzad asks no
 * CONFIRM before it; a PIN that comes without the window's LAST_TRY_CONFIRMED line never leaves the
 * dialog. The test pinentry stands in for imza-prompt here (prompt = its path, a DISPLAY set). */
/* Back to the pinentry and no display, even after a failed check, so the next tests are not affected. */
static int teardown_prompt(void **state)
{
	assert_int_equal(prompt_configure("pinentry"), 0);
	unsetenv("DISPLAY");
	return teardown(state);
}

static void test_imza_prompt_last_try_pin_needs_the_window_confirmation(void **state)
{
	struct dialog_request rq = request();
	struct pin_secret pin = {0};
	const struct entry *e;
	struct log lg;

	setenv("DISPLAY", ":77", 1);
	assert_int_equal(prompt_configure(pinentry), 0);
	rq.tries_left = 1;
	write_script("lasttry no\npin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), -EPROTO);
	assert_null(pin.page);
	lg = read_log();
	assert_int_equal(count(&lg, "CONFIRM"), 0);
	assert_int_equal(count(&lg, "GETPIN"), 1);
	e = find(&lg, "SETTRIES");
	assert_non_null(e);
	assert_string_equal(e->arg, "1");
	free_log(&lg);
	assert_int_equal(truncate(log_path, 0), 0);

	/* The window's line with the PIN: the PIN is taken, still with no CONFIRM. */
	write_script("lasttry no\nlasttry status\npin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	assert_int_equal(pin.len, 6);
	assert_memory_equal(pin.page, "123456", 6);
	pin_secret_wipe(&pin);
	lg = read_log();
	assert_int_equal(count(&lg, "CONFIRM"), 0);
	free_log(&lg);
	assert_int_equal(truncate(log_path, 0), 0);

	/* Two tries left: no line needed. */
	rq.tries_left = 2;
	write_script("pin 123456\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	pin_secret_wipe(&pin);
}

static void test_display_and_tty_are_passed_as_options(void **state)
{
	struct dialog_request rq = request();
	enum dialog_consent c;
	char *old_display = getenv("DISPLAY") ? strdup(getenv("DISPLAY")) : NULL;
	char *old_tty = getenv("GPG_TTY") ? strdup(getenv("GPG_TTY")) : NULL;
	char *old_term = getenv("TERM") ? strdup(getenv("TERM")) : NULL;
	struct log lg;
	bool display = false, tty = false, term = false;

	setenv("DISPLAY", ":77", 1);
	setenv("GPG_TTY", "/dev/pts/77", 1);
	setenv("TERM", "xterm-256color", 1);
	write_script("consent once\n");
	assert_int_equal(dialog_consent(&rq, &c), 0);
	lg = read_log();
	for (size_t i = 0; i < lg.n; i++) {
		if (strcmp(lg.e[i].cmd, "OPTION") != 0)
			continue;
		display = display || strcmp(lg.e[i].arg, "display=:77") == 0;
		tty = tty || strcmp(lg.e[i].arg, "ttyname=/dev/pts/77") == 0;
		term = term || strcmp(lg.e[i].arg, "ttytype=xterm-256color") == 0;
	}
	assert_true(display && tty && term);
	free_log(&lg);

	unsetenv("DISPLAY");
	unsetenv("GPG_TTY");
	assert_int_equal(truncate(log_path, 0), 0);
	assert_int_equal(dialog_consent(&rq, &c), 0);
	lg = read_log();
	assert_int_equal(count(&lg, "OPTION"), 0);
	free_log(&lg);

	if (old_display)
		setenv("DISPLAY", old_display, 1);
	if (old_tty)
		setenv("GPG_TTY", old_tty, 1);
	if (old_term)
		setenv("TERM", old_term, 1);
	else
		unsetenv("TERM");
	free(old_display);
	free(old_tty);
	free(old_term);
}

struct worker {
	pthread_t t;
	int r;
	struct pin_secret pin;
};

static void *pin_worker(void *arg)
{
	struct worker *w = arg;
	struct dialog_request rq = text_request("aynı anda");

	w->r = dialog_pin(&rq, &w->pin);
	return NULL;
}

static void test_dialogs_in_two_threads_at_once(void **state)
{
	struct worker w[2] = {0};
	struct log lg;
	long pids[2] = {0, 0};
	size_t np = 0;

	write_script("pin 2468\ndelay 100\n");
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&w[i].t, NULL, pin_worker, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(w[i].t, NULL), 0);
		assert_int_equal(w[i].r, 0);
		assert_int_equal(w[i].pin.len, 4);
		assert_memory_equal(w[i].pin.page, "2468", 4);
		pin_secret_wipe(&w[i].pin);
	}
	lg = read_log();
	for (size_t i = 0; i < lg.n; i++) {
		if (strcmp(lg.e[i].cmd, "ANSWER") != 0)
			continue;
		assert_true(np < 2);
		pids[np++] = lg.e[i].pid;
	}
	assert_int_equal(np, 2);
	assert_true(pids[0] != pids[1]);
	free_log(&lg);
}

static void test_bad_requests_are_einval(void **state)
{
	struct dialog_request rq = request();
	struct pin_secret pin = {0};
	enum dialog_consent c;

	assert_int_equal(dialog_consent(NULL, &c), -EINVAL);
	assert_int_equal(dialog_consent(&rq, NULL), -EINVAL);
	assert_int_equal(dialog_pin(&rq, NULL), -EINVAL);
	rq.origin = NULL;
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	rq.origin = ORIGIN;
	rq.len = 5; /* content NULL */
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
}

/* The test pinentry: $IMZA_BUILDDIR/tests/pinentry/, else beside this program's directory. */
static void find_pinentry(const char *argv0)
{
	const char *b = getenv("IMZA_BUILDDIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (b != NULL) {
		if (snprintf(pinentry, sizeof(pinentry), "%s/tests/pinentry/imza-test-pinentry", b) >=
		    (int)sizeof(pinentry))
			exit(99);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "cannot find %s\n", argv0);
		exit(99);
	}
	exe[n] = '\0';
	for (int i = 0; i < 2 && (slash = strrchr(exe, '/')) != NULL; i++)
		*slash = '\0';
	if (snprintf(pinentry, sizeof(pinentry), "%s/pinentry/imza-test-pinentry", exe) >=
	    (int)sizeof(pinentry))
		exit(99);
}

/* ---- the certificate choice (POST /v1/sign without a certificate) ---- */

static const uint8_t der_a[] = {0x30, 0x03, 0x02, 0x01, 0x0a};
static const uint8_t der_b[] = {0x30, 0x04, 0x02, 0x02, 0x01, 0x0b};

/* Two certificates, the qualified one second (as a test of who decides: the window's order is the
 * caller's). */
static struct dialog_request choice_request(struct dialog_choice *c, size_t n, size_t *chosen)
{
	struct dialog_request rq = text_request("Beyan");

	c[0] = (struct dialog_choice){der_a, sizeof(der_a), "CN=ALPHA KISI", 3, false};
	if (n > 1)
		c[1] = (struct dialog_choice){der_b, sizeof(der_b), "CN=BETA KISI", 1, true};
	rq.subject = NULL;
	rq.choices = c;
	rq.n_choices = n;
	rq.ret_chosen = chosen;
	*chosen = SIZE_MAX;
	return rq;
}

/* The test pinentry plays imza-prompt: prompt.h picks it when a display is named. */
static void as_imza_prompt(bool on)
{
	if (on) {
		setenv("DISPLAY", ":99", 1);
		assert_int_equal(prompt_configure(pinentry), 0);
	} else {
		unsetenv("DISPLAY");
		assert_int_equal(prompt_configure("pinentry"), 0);
	}
}

static size_t index_of(const struct log *lg, const char *cmd)
{
	for (size_t i = 0; i < lg->n; i++)
		if (strcmp(lg->e[i].cmd, cmd) == 0)
			return i;
	return SIZE_MAX;
}

static void test_window_choice_sends_every_certificate_and_the_chosen_one_signs(void **state)
{
	struct dialog_choice c[2];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 2, &chosen);
	struct pin_secret pin = {0};
	struct log lg;
	char want[32];

	as_imza_prompt(true);
	write_script("choose 1\npin 0000\nlasttry status\n");
	assert_int_equal(dialog_pin(&rq, &pin), 0);
	as_imza_prompt(false);
	pin_secret_wipe(&pin);
	assert_int_equal(chosen, 1);
	lg = read_log();
	snprintf(want, sizeof(want), "2 %zu %zu", sizeof(der_a), sizeof(der_b));
	assert_arg(&lg, "SETCERTS", want);
	snprintf(want, sizeof(want), "CERTIFICATES %zu", sizeof(der_a) + sizeof(der_b));
	assert_true(has(&lg.e[index_of(&lg, "SETCERTS") + 1], want));
	/* The choice comes first; then the chosen one is the signer: its certificate, its subject, its
	 * card's tries (1: the last try is confirmed inside the window, no CONFIRM of its own). */
	assert_true(index_of(&lg, "CHOOSE") < index_of(&lg, "SETCERT"));
	assert_true(index_of(&lg, "CHOOSE") < index_of(&lg, "GETPIN"));
	assert_arg(&lg, "SETCERT", "6");
	assert_arg(&lg, "SETTRIES", "1");
	assert_int_equal(count(&lg, "CONFIRM"), 0);
	assert_true(has(find(&lg, "SETDESC"), "İmzalayan: CN=BETA KISI"));
	assert_false(has(find(&lg, "SETDESC"), "ALPHA"));
	free_log(&lg);
}

static void test_window_choice_out_of_range_is_refused_before_the_pin(void **state)
{
	static const char *const answers[] = {"choose 2",      "choose raw -1", "choose raw 01",
	                                      "choose raw 1x", "choose raw ",   "choose raw 99999999999"};
	struct dialog_choice c[2];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 2, &chosen);
	struct pin_secret pin = {0};
	char script[64];
	struct log lg;

	as_imza_prompt(true);
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		snprintf(script, sizeof(script), "%s\npin 0000\n", answers[i]);
		write_script(script);
		assert_int_equal(dialog_pin(&rq, &pin), -EPROTO);
		assert_int_equal(chosen, SIZE_MAX);
	}
	as_imza_prompt(false);
	lg = read_log();
	assert_int_equal(count(&lg, "CHOOSE"), sizeof(answers) / sizeof(answers[0]));
	assert_int_equal(count(&lg, "GETPIN"), 0);
	free_log(&lg);
}

static void test_window_choice_cancelled_is_ecanceled(void **state)
{
	struct dialog_choice c[2];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 2, &chosen);
	struct pin_secret pin = {0};
	struct log lg;

	as_imza_prompt(true);
	write_script("choose cancel\npin 0000\n");
	assert_int_equal(dialog_pin(&rq, &pin), -ECANCELED);
	as_imza_prompt(false);
	lg = read_log();
	assert_int_equal(count(&lg, "GETPIN"), 0);
	free_log(&lg);
}

/* Past the caps nothing is sent: imza-prompt would refuse it, and imzad never offers it. */
static void test_window_choice_over_the_caps_is_never_sent(void **state)
{
	struct dialog_choice c[DIALOG_CHOICES_MAX + 1];
	static uint8_t big[16 * 1024 + 1];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 2, &chosen);
	struct pin_secret pin = {0};
	struct log lg;

	as_imza_prompt(true);
	write_script("choose 0\npin 0000\n");
	for (size_t i = 0; i < DIALOG_CHOICES_MAX + 1; i++)
		c[i] = c[0];
	rq.n_choices = DIALOG_CHOICES_MAX + 1;
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	rq.n_choices = 2;
	c[1].der = big;
	c[1].der_len = sizeof(big);
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	/* Nine of 16 KiB: each within its cap, together over 128 KiB. */
	for (size_t i = 0; i < 9; i++)
		c[i] = (struct dialog_choice){big, sizeof(big) - 1, "CN=X", 3, false};
	rq.n_choices = 9;
	assert_int_equal(dialog_pin(&rq, &pin), -EINVAL);
	as_imza_prompt(false);
	lg = read_log();
	assert_int_equal(count(&lg, "SETCERTS"), 0);
	assert_int_equal(count(&lg, "GETPIN"), 0);
	assert_int_equal(chosen, SIZE_MAX);
	free_log(&lg);
}

/* A pinentry shows no list: the qualified certificate signs, and the description says imzad chose it. */
static void test_pinentry_takes_the_qualified_certificate_and_says_so(void **state)
{
	struct dialog_choice c[2];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 2, &chosen);
	struct log lg;
	const struct entry *d = pin_dialog_desc(&rq, &lg);

	assert_int_equal(chosen, 1);
	assert_true(has(d, "İmzalayan: CN=BETA KISI (imzad seçti: nitelikli sertifika)"));
	assert_int_equal(count(&lg, "CHOOSE"), 0);
	assert_int_equal(count(&lg, "SETCERTS"), 0);
	free_log(&lg);
}

static void test_pinentry_takes_the_only_certificate_and_says_so(void **state)
{
	struct dialog_choice c[1];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 1, &chosen);
	struct log lg;
	const struct entry *d = pin_dialog_desc(&rq, &lg);

	assert_int_equal(chosen, 0);
	assert_true(has(d, "İmzalayan: CN=ALPHA KISI (imzad seçti: kartlardaki tek imza sertifikası)"));
	free_log(&lg);
}

static void test_pinentry_refuses_several_unqualified_certificates(void **state)
{
	struct dialog_choice c[2];
	size_t chosen;
	struct dialog_request rq = choice_request(c, 2, &chosen);
	struct pin_secret pin = {0};
	struct log lg;

	c[1].qualified = false;
	write_script("pin 0000\n");
	assert_int_equal(dialog_pin(&rq, &pin), -ENOTUNIQ);
	assert_int_equal(chosen, SIZE_MAX);
	lg = read_log();
	assert_int_equal(count(&lg, "GETPIN"), 0);
	assert_int_equal(count(&lg, "SETDESC"), 0);
	free_log(&lg);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_consent_ok_button_is_once, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_consent_notok_button_is_always, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_consent_cancel_button_is_deny, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_consent_without_remember_never_offers_always, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_always_answer_that_was_not_offered_is_a_protocol_error,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timeout_is_sent_and_reported_as_etimedout, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pin_is_returned_exactly_in_a_locked_page, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pin_with_special_characters_is_decoded, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pin_desc_shows_origin_subject_and_full_text, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_long_text_is_shortened_with_its_size_and_sha256, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_long_text_is_cut_between_utf8_characters, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_imzads_lines_come_before_the_quoted_page_text, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fake_signer_after_150_newlines_shows_only_quoted_after_the_real_one, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_shortened_text_says_how_many_bytes_are_not_shown, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_binary_content_shows_size_sha256_and_first_bytes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pin_cancel_is_ecanceled, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_empty_pin_is_einval, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pin_over_max_length_is_e2big, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_program_is_enoent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bare_name_is_found_through_path, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pinentry_dying_mid_dialog_fails_and_is_reaped, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pin_read_gets_the_pin_before_the_pinentry_closes, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pinentry_gets_its_pipes_and_nothing_else, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_low_tries_left_is_shown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pin_never_appears_in_the_log, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_control_characters_round_trip_through_escaping, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_hidden_and_reordering_characters_are_shown_as_markers_with_the_digest, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(
	                test_long_origin_and_subject_keep_the_line_within_assuan_limit, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_long_origin_shown_whole, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_web_origin_too_long_for_the_dialog_is_refused, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_http_origin_is_told_why_only_once, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_last_try_needs_confirmation, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_imza_prompt_last_try_pin_needs_the_window_confirmation,
	                                        setup, teardown_prompt),
	        cmocka_unit_test_setup_teardown(test_display_and_tty_are_passed_as_options, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dialogs_in_two_threads_at_once, setup, teardown),
	        cmocka_unit_test(test_bad_requests_are_einval),
	        cmocka_unit_test_setup_teardown(
	                test_window_choice_sends_every_certificate_and_the_chosen_one_signs, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_window_choice_out_of_range_is_refused_before_the_pin,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_window_choice_cancelled_is_ecanceled, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_window_choice_over_the_caps_is_never_sent, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pinentry_takes_the_qualified_certificate_and_says_so,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_pinentry_takes_the_only_certificate_and_says_so, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_pinentry_refuses_several_unqualified_certificates, setup,
	                                        teardown),
	};

	(void)argc;
	find_pinentry(argv[0]);
	/* As imzad does: a pinentry that dies must not kill us through a write on its pipe. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
