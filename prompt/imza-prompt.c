/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt: imza's own signing window (GTK 4). imzad starts one per question on the user's display
 * and speaks Assuan to it on stdin/stdout: pinentry's commands, and imza's own for what pinentry cannot
 * carry (the whole document, the signer's certificate, the tries left, the origin and its site). The
 * protocol is in docs/PROMPT.md. */
#include <errno.h>
#include <fcntl.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <assuan.h>
#include <gpg-error.h>
#include <gtk/gtk.h>

#include "daemon/ui/secmem.h"
#include "prompt/choose.h"
#include "prompt/util.h"
#include "prompt/window.h"

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/share/locale"
#endif

static struct prompt st = {.tries = -1};
/* The Assuan pipe from imzad: the insert-card window watches it (WAITCARD). */
static int in_fd = -1;

static gpg_error_t err(gpg_err_code_t code)
{
	return gpg_err_make(GPG_ERR_SOURCE_PINENTRY, code);
}

/* assuan logs nothing of ours: a GETPIN answer must never reach a log, whatever ASSUAN_DEBUG says. */
static int no_log(assuan_context_t ctx, void *hook, unsigned int cat, const char *msg)
{
	return 0;
}

/* ---- pinentry's settings ---- */

/* Replaces *slot with the unescaped argument; an empty one clears it. */
static gpg_error_t set_text(char **slot, char *line)
{
	g_free(*slot);
	*slot = NULL;
	prompt_unescape(line, NULL);
	if (line[0] == '\0')
		return 0;
	if (!g_utf8_validate(line, -1, NULL))
		return err(GPG_ERR_INV_VALUE);
	*slot = g_strdup(line);
	return 0;
}

static gpg_error_t cmd_settitle(assuan_context_t c, char *l)
{
	return set_text(&st.title, l);
}
static gpg_error_t cmd_setdesc(assuan_context_t c, char *l)
{
	return set_text(&st.desc, l);
}
static gpg_error_t cmd_setprompt(assuan_context_t c, char *l)
{
	return set_text(&st.prompt, l);
}
static gpg_error_t cmd_setok(assuan_context_t c, char *l)
{
	return set_text(&st.ok, l);
}
static gpg_error_t cmd_setnotok(assuan_context_t c, char *l)
{
	return set_text(&st.notok, l);
}
static gpg_error_t cmd_setcancel(assuan_context_t c, char *l)
{
	return set_text(&st.cancel, l);
}
static gpg_error_t cmd_seterror(assuan_context_t c, char *l)
{
	return set_text(&st.error, l);
}

static gpg_error_t parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return err(GPG_ERR_INV_VALUE);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v > max)
		return err(GPG_ERR_INV_VALUE);
	*ret = v;
	return 0;
}

static gpg_error_t cmd_settimeout(assuan_context_t c, char *l)
{
	unsigned long v;
	gpg_error_t e = parse_uint(l, 86400, &v);

	if (!e)
		st.timeout_s = (unsigned)v;
	return e;
}

/* pinentry's options (display, ttyname, lc-ctype…): GTK takes the display from the environment imzad
 * passed on, so each is accepted and left unused. */
static gpg_error_t on_option(assuan_context_t c, const char *key, const char *value)
{
	return 0;
}

static gpg_error_t cmd_getinfo(assuan_context_t c, char *l)
{
	char buf[32];

	if (strcmp(l, "version") == 0)
		return assuan_send_data(c, PACKAGE_VERSION, strlen(PACKAGE_VERSION));
	if (strcmp(l, "flavor") == 0)
		return assuan_send_data(c, "imza", 4);
	if (strcmp(l, "pid") == 0) {
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		return assuan_send_data(c, buf, strlen(buf));
	}
	return err(GPG_ERR_ASS_PARAMETER);
}

/* ---- imza's settings ---- */

static gpg_error_t cmd_setorigin(assuan_context_t c, char *l)
{
	gpg_error_t e = set_text(&st.origin, l);

	/* A site set before must still belong to the new origin. */
	if (!e && st.site && !prompt_site_of_origin(st.origin, st.site)) {
		g_free(st.site);
		st.site = NULL;
	}
	return e;
}

static gpg_error_t cmd_setsite(assuan_context_t c, char *l)
{
	gpg_error_t e;

	if (st.origin == NULL)
		return err(GPG_ERR_MISSING_VALUE);
	e = set_text(&st.site, l);
	if (!e && st.site && !prompt_site_of_origin(st.origin, st.site)) {
		g_free(st.site);
		st.site = NULL;
		return err(GPG_ERR_INV_VALUE);
	}
	return e;
}

static gpg_error_t cmd_settries(assuan_context_t c, char *l)
{
	unsigned long v;
	gpg_error_t e;

	if (strcmp(l, "-1") == 0) {
		st.tries = -1;
		return 0;
	}
	e = parse_uint(l, 255, &v);
	if (!e)
		st.tries = (int)v;
	return e;
}

/* Asks imzad for LEN bytes under KEYWORD (INQUIRE; they come as D lines, so no line limit applies) and
 * checks that exactly LEN came. */
static gpg_error_t inquire(assuan_context_t c, const char *keyword, size_t len, size_t max, uint8_t **ret)
{
	unsigned char *buf = NULL;
	size_t n = 0;
	gpg_error_t e;

	if (len > max)
		return err(GPG_ERR_TOO_LARGE);
	e = assuan_inquire(c, keyword, &buf, &n, max);
	if (e)
		return e;
	if (n != len) {
		secmem_free(buf);
		return err(GPG_ERR_INV_LENGTH);
	}
	*ret = g_malloc(len + 1);
	if (len)
		memcpy(*ret, buf, len);
	(*ret)[len] = 0;
	secmem_free(buf);
	return 0;
}

/* SETDOC TEXT|BINARY LEN */
static gpg_error_t cmd_setdoc(assuan_context_t c, char *l)
{
	char *sp = strchr(l, ' ');
	unsigned long len;
	bool text;
	uint8_t *doc;
	gpg_error_t e;

	if (sp == NULL)
		return err(GPG_ERR_ASS_PARAMETER);
	*sp = '\0';
	if (strcmp(l, "TEXT") == 0)
		text = true;
	else if (strcmp(l, "BINARY") == 0)
		text = false;
	else
		return err(GPG_ERR_ASS_PARAMETER);
	e = parse_uint(sp + 1, PROMPT_DOC_MAX, &len);
	if (!e)
		e = inquire(c, "DOCUMENT", len, PROMPT_DOC_MAX, &doc);
	if (e)
		return e;
	g_free(st.doc);
	st.doc = doc;
	st.doc_len = len;
	st.doc_text = text;
	st.has_doc = true;
	return 0;
}

/* SETCERT LEN: the signer's certificate, DER. */
static gpg_error_t cmd_setcert(assuan_context_t c, char *l)
{
	unsigned long len;
	uint8_t *der;
	gpg_error_t e = parse_uint(l, PROMPT_CERT_MAX, &len);

	if (!e && len == 0)
		e = err(GPG_ERR_INV_VALUE);
	if (!e)
		e = inquire(c, "CERTIFICATE", len, PROMPT_CERT_MAX, &der);
	if (e)
		return e;
	g_free(st.cert);
	st.cert = der;
	st.cert_len = len;
	return 0;
}

/* ---- the questions ---- */

static int send_pin(const char *pin, size_t len, void *opaque)
{
	assuan_context_t c = opaque;
	gpg_error_t e;

	/* With one try left the window gave the PIN only after its last-try box was ticked; imzad drops a
	 * last-try PIN that comes without this line. */
	if (st.tries == 1 && assuan_write_status(c, "LAST_TRY_CONFIRMED", "") != 0)
		return -EIO;
	assuan_begin_confidential(c);
	e = assuan_send_data(c, pin, len);
	if (!e)
		e = assuan_send_data(c, NULL, 0); /* flush: the PIN leaves assuan's buffer now */
	assuan_end_confidential(c);
	return e ? -EIO : 0;
}

static gpg_error_t answer_error(enum prompt_answer a)
{
	switch (a) {
	case ANSWER_OK:
		return 0;
	case ANSWER_NOTOK:
		return err(GPG_ERR_NOT_CONFIRMED);
	case ANSWER_TIMEOUT:
		return err(GPG_ERR_TIMEOUT);
	case ANSWER_CANCEL:
	default:
		return err(GPG_ERR_CANCELED);
	}
}

static gpg_error_t cmd_getpin(assuan_context_t c, char *l)
{
	enum prompt_answer a;
	int r = window_getpin(&st, send_pin, c, &a);

	/* pinentry forgets the error line once shown. */
	g_free(st.error);
	st.error = NULL;
	if (r < 0)
		return err(GPG_ERR_ASS_WRITE_ERROR);
	return answer_error(a);
}

static gpg_error_t cmd_confirm(assuan_context_t c, char *l)
{
	enum prompt_answer a;

	window_confirm(&st, strcmp(l, "--one-button") == 0, &a);
	g_free(st.error);
	st.error = NULL;
	return answer_error(a);
}

static gpg_error_t cmd_message(assuan_context_t c, char *l)
{
	enum prompt_answer a;

	window_confirm(&st, true, &a);
	return 0;
}

/* SETCARD label: the card the insert-card window asks for. */
static gpg_error_t cmd_setcard(assuan_context_t c, char *l)
{
	return set_text(&st.card_label, l);
}

/* WAITCARD: the insert-card window, until imzad ends the wait with any line (it sends NOP) or closes the
 * pipe: OK. İptal, Escape or closing it: GPG_ERR_CANCELED. A line already read ahead ends it at once. */
static gpg_error_t cmd_waitcard(assuan_context_t c, char *l)
{
	enum prompt_answer a = ANSWER_OK;

	if (!assuan_pending_line(c))
		window_waitcard(&st, in_fd, &a);
	g_free(st.error);
	st.error = NULL;
	return a == ANSWER_OK ? 0 : answer_error(a == ANSWER_NOTOK ? ANSWER_CANCEL : a);
}

/* CONSENT LIST|SIGN [ONCE]: the consent window. OK: allow once; GPG_ERR_NOT_CONFIRMED: always (never
 * with ONCE, which offers no "always"); GPG_ERR_CANCELED: deny. */
static gpg_error_t cmd_consent(assuan_context_t c, char *l)
{
	char *sp = strchr(l, ' ');
	enum consent_what what;
	enum prompt_answer a;
	bool can_always = true;

	if (sp) {
		*sp = '\0';
		if (strcmp(sp + 1, "ONCE") != 0)
			return err(GPG_ERR_ASS_PARAMETER);
		can_always = false;
	}
	if (strcmp(l, "LIST") == 0)
		what = CONSENT_LIST;
	else if (strcmp(l, "SIGN") == 0)
		what = CONSENT_SIGN;
	else
		return err(GPG_ERR_ASS_PARAMETER);
	window_consent(&st, what, can_always, &a);
	g_free(st.error);
	st.error = NULL;
	if (a == ANSWER_NOTOK && !can_always)
		a = ANSWER_CANCEL;
	return answer_error(a);
}

/* The certificate choice (prompt/choose.c): the window needs the site and the timeout set so far. */
static gpg_error_t cmd_choose(assuan_context_t c, char *l)
{
	return choose_command(&st, c, l);
}

/* ---- start ---- */

/* Turkish when the user's locale names Turkish, even when that locale is not generated on the machine
 * (setlocale then falls back to C, which would ignore the catalog): the messages then use C.UTF-8 with
 * LANGUAGE=tr. English otherwise. */
static void setup_locale(void)
{
	const char *dir = getenv("IMZA_PROMPT_LOCALEDIR"), *want = NULL,
	           *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
	const char *got;

	setlocale(LC_ALL, "");
	for (size_t i = 0; i < 3 && want == NULL; i++)
		if (getenv(vars[i]) && getenv(vars[i])[0])
			want = getenv(vars[i]);
	got = setlocale(LC_MESSAGES, NULL);
	if (want && strncmp(want, "tr", 2) == 0 && got &&
	    (strcmp(got, "C") == 0 || strcmp(got, "POSIX") == 0) && setlocale(LC_MESSAGES, "C.UTF-8") != NULL)
		setenv("LANGUAGE", "tr", 1);
	bindtextdomain("imza", dir && dir[0] ? dir : LOCALEDIR);
	bind_textdomain_codeset("imza", "UTF-8");
	textdomain("imza");
}

static const struct {
	const char *name;
	assuan_handler_t fn;
} commands[] = {
        {"SETTITLE", cmd_settitle},   {"SETDESC", cmd_setdesc},       {"SETPROMPT", cmd_setprompt},
        {"SETOK", cmd_setok},         {"SETNOTOK", cmd_setnotok},     {"SETCANCEL", cmd_setcancel},
        {"SETERROR", cmd_seterror},   {"SETTIMEOUT", cmd_settimeout}, {"GETINFO", cmd_getinfo},
        {"GETPIN", cmd_getpin},       {"CONFIRM", cmd_confirm},       {"MESSAGE", cmd_message},
        {"SETORIGIN", cmd_setorigin}, {"SETSITE", cmd_setsite},       {"SETTRIES", cmd_settries},
        {"SETDOC", cmd_setdoc},       {"SETCERT", cmd_setcert},       {"SETCARD", cmd_setcard},
        {"WAITCARD", cmd_waitcard},   {"CONSENT", cmd_consent},       {"SETCERTS", choose_setcerts},
        {"CHOOSE", cmd_choose},
};

static void free_state(void)
{
	char **texts[] = {&st.title,  &st.desc,  &st.prompt, &st.ok,   &st.notok,
	                  &st.cancel, &st.error, &st.origin, &st.site, &st.card_label};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		g_free(*texts[i]);
		*texts[i] = NULL;
	}
	g_free(st.doc);
	g_free(st.cert);
	st.doc = st.cert = NULL;
	choose_free();
}

int main(int argc, char **argv)
{
	struct assuan_malloc_hooks hooks = {secmem_malloc, secmem_realloc, secmem_free};
	assuan_fd_t fds[2];
	assuan_context_t ctx;
	gpg_error_t e;
	int in, out, devnull, status = 0;

	setup_locale();
	/* The protocol keeps stdin and stdout to itself: a library that prints to stdout must not break it,
	 * so stdout points at stderr from here on. */
	in = fcntl(0, F_DUPFD_CLOEXEC, 3);
	out = fcntl(1, F_DUPFD_CLOEXEC, 3);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || out < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(2, 1) < 0) {
		fprintf(stderr, "imza-prompt: cannot set up its pipes\n");
		return 1;
	}
	close(devnull);
	g_set_prgname("imza-prompt");
	g_set_application_name("imza");
	if (!gtk_init_check()) {
		/* Translated: a user who starts the window by hand reads it (and the install test checks with it
		 * that an installed imza-prompt finds its catalog). */
		fprintf(stderr, "imza-prompt: %s\n", gettext("no display (DISPLAY or WAYLAND_DISPLAY)"));
		return 1;
	}
	assuan_set_gpg_err_source(GPG_ERR_SOURCE_PINENTRY);
	e = assuan_new_ext(&ctx, GPG_ERR_SOURCE_PINENTRY, &hooks, no_log, NULL);
	if (e) {
		fprintf(stderr, "imza-prompt: %s\n", gpg_strerror(e));
		return 1;
	}
	fds[0] = in;
	in_fd = in;
	fds[1] = out;
	e = assuan_init_pipe_server(ctx, fds);
	for (size_t i = 0; !e && i < sizeof(commands) / sizeof(commands[0]); i++)
		e = assuan_register_command(ctx, commands[i].name, commands[i].fn, NULL);
	if (!e)
		e = assuan_register_option_handler(ctx, on_option);
	if (!e)
		e = assuan_set_hello_line(ctx, "imza-prompt " PACKAGE_VERSION " ready");
	if (e) {
		fprintf(stderr, "imza-prompt: %s\n", gpg_strerror(e));
		assuan_release(ctx);
		return 1;
	}
	for (;;) {
		e = assuan_accept(ctx);
		if (e == (gpg_error_t)-1 || gpg_err_code(e) == GPG_ERR_EOF)
			break;
		if (e) {
			status = 1;
			break;
		}
		e = assuan_process(ctx);
		if (e && gpg_err_code(e) != GPG_ERR_EOF)
			status = 1;
	}
	assuan_release(ctx);
	free_state();
	return status;
}
