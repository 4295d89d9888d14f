/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt from imzad's side (see prompt.h). The setting is written once before the loop starts any
 * dialog thread and only read after, so the threads share it without a lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gpg-error.h>

#include "daemon/log.h"
#include "daemon/ui/prompt.h"
#include "daemon/web/sign.h"
#include "daemon/web/site.h"
#include "daemon/ui/dialog.h"
#include "prompt/choices.h"
#include "prompt/util.h"

/* imza-prompt refuses a document over its cap: it must take every document imzad signs. */
_Static_assert(SIGN_CONTENT_MAX <= PROMPT_DOC_MAX, "imza-prompt's document cap is below imzad's");
/* Every choice the signing service gathers reaches the window. */
_Static_assert(SIGN_CHOICES_MAX <= DIALOG_CHOICES_MAX && DIALOG_CHOICES_MAX <= PROMPT_CHOICES_MAX,
               "imza-prompt takes fewer certificates to choose from than imzad offers");

static char setting[PROMPT_SETTING_MAX];
static bool use_prompt;

bool prompt_setting_ok(const char *v, size_t n)
{
	if (n == 0 || n >= PROMPT_SETTING_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return false;
	/* A relative path would depend on imzad's working directory. */
	if (memchr(v, '/', n) && v[0] != '/')
		return false;
	return true;
}

int prompt_configure(const char *v)
{
	if (v == NULL || !prompt_setting_ok(v, strlen(v)))
		return -EINVAL;
	use_prompt = strcmp(v, "pinentry") != 0;
	snprintf(setting, sizeof(setting), "%s", v);
	return 0;
}

static bool set(const char *var)
{
	const char *v = getenv(var);

	return v != NULL && v[0] != '\0';
}

const char *prompt_wanted(void)
{
	if (!use_prompt || (!set("DISPLAY") && !set("WAYLAND_DISPLAY")))
		return NULL;
	return setting;
}

/* ---- the commands ---- */

struct inquiry {
	assuan_context_t ctx;
	const char *keyword;
	const uint8_t *data;
	size_t len;
};

/* imza-prompt asks for the bytes it was told of; anything else it asks is refused. */
static gpg_error_t on_inquire(void *opaque, const char *line)
{
	struct inquiry *q = opaque;
	size_t k = strlen(q->keyword);

	if (strncmp(line, q->keyword, k) != 0 || (line[k] != '\0' && line[k] != ' '))
		return gpg_error(GPG_ERR_ASS_UNKNOWN_INQUIRE);
	/* assuan cuts the data into D lines and escapes them: no line limit applies. */
	return q->len ? assuan_send_data(q->ctx, q->data, q->len) : 0;
}

static int transact(assuan_context_t ctx, const char *cmd, struct inquiry *q)
{
	gpg_error_t e = assuan_transact(ctx, cmd, NULL, NULL, q ? on_inquire : NULL, q, NULL, NULL);
	char msg[128];

	if (!e)
		return 0;
	gpg_strerror_r(e, msg, sizeof(msg));
	log_warning("imza-prompt: %.*s: %s", (int)strcspn(cmd, " "), cmd, msg);
	return dialog_errno(e) == -EIO ? -EIO : -EPROTO;
}

/* "CMD arg" with the argument percent-escaped; -E2BIG when it does not fit one Assuan line. */
static int command(assuan_context_t ctx, const char *cmd, const char *arg)
{
	char line[ASSUAN_LINELENGTH];
	size_t o = (size_t)snprintf(line, sizeof(line), "%s ", cmd);

	for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
		if (o + 4 > sizeof(line) - 2)
			return -E2BIG;
		if (*p == '%' || *p < 0x20)
			o += (size_t)snprintf(line + o, 4, "%%%02X", *p);
		else
			line[o++] = (char)*p;
	}
	line[o] = '\0';
	return transact(ctx, line, NULL);
}

int prompt_send(assuan_context_t ctx, const struct prompt_extras *x)
{
	char site[SITE_MAX], num[64];
	int r = 0;

	if (x->origin) {
		r = command(ctx, "SETORIGIN", x->origin);
		if (r == 0 && site_of_origin(x->origin, site, sizeof(site)) == 0)
			r = command(ctx, "SETSITE", site);
	}
	if (r == 0) {
		snprintf(num, sizeof(num), "SETTRIES %d", x->tries_left < 0 ? -1 : x->tries_left);
		r = transact(ctx, num, NULL);
	}
	if (r == 0 && x->content) {
		struct inquiry q = {ctx, "DOCUMENT", x->content, x->len};

		snprintf(num, sizeof(num), "SETDOC %s %zu", x->is_text ? "TEXT" : "BINARY", x->len);
		r = transact(ctx, num, &q);
	}
	if (r == 0 && x->cert && x->cert_len) {
		struct inquiry q = {ctx, "CERTIFICATE", x->cert, x->cert_len};

		snprintf(num, sizeof(num), "SETCERT %zu", x->cert_len);
		r = transact(ctx, num, &q);
	}
	return r == -E2BIG ? -EPROTO : r;
}

/* CHOOSE's answer: the index in decimal, in D lines. */
struct choice_answer {
	char digits[8];
	size_t len;
	bool bad;
};

static gpg_error_t on_choice(void *opaque, const void *buf, size_t n)
{
	struct choice_answer *a = opaque;

	if (n > sizeof(a->digits) - 1 - a->len) {
		a->bad = true;
		return 0;
	}
	memcpy(a->digits + a->len, buf, n);
	a->len += n;
	a->digits[a->len] = '\0';
	return 0;
}

int prompt_choose(assuan_context_t ctx, const uint8_t *const *ders, const size_t *lens, size_t n,
                  size_t *ret_index)
{
	char line[16 + PROMPT_CHOICES_MAX * 8];
	struct choice_answer a = {.len = 0};
	size_t total = 0, o, index = 0;
	uint8_t *all;
	gpg_error_t e;
	int r;

	if (n == 0 || n > PROMPT_CHOICES_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (ders[i] == NULL || lens[i] == 0 || lens[i] > PROMPT_CERT_MAX)
			return -EINVAL;
		total += lens[i];
	}
	if (total > PROMPT_CERTS_TOTAL_MAX)
		return -EINVAL;
	all = malloc(total);
	if (all == NULL)
		return -ENOMEM;
	o = (size_t)snprintf(line, sizeof(line), "SETCERTS %zu", n);
	for (size_t i = 0, at = 0; i < n; at += lens[i], i++) {
		memcpy(all + at, ders[i], lens[i]);
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %zu", lens[i]);
	}
	r = transact(ctx, line, &(struct inquiry){ctx, "CERTIFICATES", all, total});
	free(all);
	if (r < 0)
		return r;
	e = assuan_transact(ctx, "CHOOSE", on_choice, &a, NULL, NULL, NULL, NULL);
	r = dialog_errno(e);
	if (r != 0 && r != -ECANCELED && r != -ETIMEDOUT && r != -EIO) {
		log_warning("imza-prompt: CHOOSE: %s", gpg_strerror(e));
		return -EPROTO;
	}
	if (r < 0)
		return r;
	/* The window answers with one of the indexes it was given; anything else is refused, never
	 * clamped: imzad signs with the key of the certificate the user saw chosen, or with none. */
	for (size_t i = 0; i < a.len && !a.bad; i++) {
		if (a.digits[i] < '0' || a.digits[i] > '9' || (i == 0 && a.digits[i] == '0' && a.len > 1))
			a.bad = true;
		else
			index = index * 10 + (size_t)(a.digits[i] - '0');
	}
	if (a.bad || a.len == 0 || index >= n) {
		log_warning("imza-prompt: CHOOSE answered \"%.7s\" for %zu certificates: refused", a.digits,
		            n);
		return -EPROTO;
	}
	*ret_index = index;
	return 0;
}
