/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The user's dialogs through pinentry (see dialog.h): one pinentry process per question, spoken to with
 * libassuan. The PIN passes through assuan's line buffer, so assuan allocates from locked pages that are
 * wiped on free, and the PIN itself is collected straight into the page that the caller gets. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <assuan.h>
#include <gpg-error.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/ui/dialog-spawn.h"
#include "daemon/ui/dialog.h"
#include "daemon/ui/secmem.h"
#include "daemon/log.h"
#include "daemon/card/pin.h"
#include "daemon/ui/prompt.h"
#include "daemon/web/site.h"
#include "daemon/ui/visible.h"
#include "protocol/proto-hex.h"

/* One Assuan line without its LF (assuan.h: 1000 + [CR,]LF). libassuan silently cuts a longer one, which
 * would cut the end of a description, so every line is built to fit. */
#define LINE_MAX_LEN (ASSUAN_LINELENGTH - 2)
/* imzad's own lines come first and are never cut: who asks (a web origin whole, its site on a line of
 * its own; a local program's description clipped to the same room), the signer (capped), the tries left,
 * and the document's size and SHA-256 (with the "shortened" sentence when it is cut). The page's text
 * comes last, every line of it quoted, and it is what gives way: at least CONTENT_MIN_ESC bytes are left
 * for its facts and start whatever the other parts take. */
#define ORIGIN_MAX_ESC DIALOG_ORIGIN_MAX
#define SITE_LINE_MAX (9 + DIALOG_ORIGIN_MAX - 7) /* "%0ASite: " and a site: the origin but "http://" */
#define ACTION_MAX 40                             /* " şu içeriği imzalamak istiyor:" */
#define SUBJECT_LABEL 15                          /* "%0Aİmzalayan: " */
#define SUBJECT_MAX_ESC 128
#define TRIES_LINE_MAX 90 /* the last try's line */
#define HEAD_BYTES 32
#define ELLIPSIS "\xe2\x80\xa6" /* … */
/* Every shown line of the page's text starts with "│ " (U+2502), which none of imzad's lines does, so
 * that no page line can pass for one of imzad's. Lines are also broken at QUOTE_WRAP characters, so that
 * a window narrower than a long line does not wrap its end onto a line of its own, unquoted. */
#define QUOTE "\xe2\x94\x82 "
#define QUOTE_WRAP 64
#define DOC_LINE_FMT "\nBelge: %zu bayt, SHA-256: %s"
#define CUT_LINE_FMT "\nKısaltıldı: belgenin %zu baytı burada gösterilmiyor."
#define SIZE_DIGITS_MAX 20
/* Escaped, with "%zu" at its widest and "%s" a hex SHA-256: each LF takes 3 bytes. */
#define DOC_LINE_MAX (sizeof(DOC_LINE_FMT) - 1 + 2 - 3 + SIZE_DIGITS_MAX - 2 + 64)
#define CUT_LINE_MAX (sizeof(CUT_LINE_FMT) - 1 + 2 - 3 + SIZE_DIGITS_MAX)
#define TEXT_MIN_SHOWN 16 /* "%0A%0A", "│ ", a few bytes of the text and "…" */
#define CONTENT_MIN_ESC (DOC_LINE_MAX + CUT_LINE_MAX + TEXT_MIN_SHOWN)

static_assert(CONTENT_MIN_ESC >= 120, "binary content's size and SHA-256 fit the content's room too");
static_assert(8 + ORIGIN_MAX_ESC + SITE_LINE_MAX + ACTION_MAX + SUBJECT_LABEL + SUBJECT_MAX_ESC +
                              TRIES_LINE_MAX + CONTENT_MIN_ESC <=
                      LINE_MAX_LEN,
              "the description's parts must fit one Assuan line");

/* assuan logs nothing of ours: a GETPIN answer must never reach a log, whatever ASSUAN_DEBUG says. */
static int no_log(assuan_context_t ctx, void *hook, unsigned int cat, const char *msg)
{
	return 0;
}

/* ---- errors ---- */

static void log_failure(const struct dialog_request *rq, const char *what, gpg_error_t err)
{
	char msg[128];

	gpg_strerror_r(err, msg, sizeof(msg));
	log_warning("pinentry %s: %s: %s", rq->program, what, msg);
}

/* ---- Assuan lines ---- */

struct line {
	char buf[LINE_MAX_LEN + 1];
	size_t len;
	bool overflow; /* a bug in the budget below, never the input: the line is not sent */
};

static void line_init(struct line *l, const char *cmd)
{
	l->len = 0;
	l->overflow = false;
	l->buf[0] = '\0';
	if (cmd != NULL) {
		size_t n = strlen(cmd);

		if (n > LINE_MAX_LEN) {
			l->overflow = true;
			return;
		}
		memcpy(l->buf, cmd, n + 1);
		l->len = n;
	}
}

static bool must_escape(uint8_t c)
{
	return c == '%' || c < 0x20;
}

static size_t esc_len(const void *s, size_t n)
{
	const uint8_t *p = s;
	size_t r = 0;

	for (size_t i = 0; i < n; i++)
		r += must_escape(p[i]) ? 3 : 1;
	return r;
}

/* Assuan's percent-escaping of an argument: %, CR, LF and every other control byte. */
static void line_put_esc(struct line *l, const void *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *p = s;

	if (l->overflow || esc_len(s, n) > LINE_MAX_LEN - l->len) {
		l->overflow = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (must_escape(p[i])) {
			l->buf[l->len++] = '%';
			l->buf[l->len++] = hex[p[i] >> 4];
			l->buf[l->len++] = hex[p[i] & 0xf];
		} else {
			l->buf[l->len++] = (char)p[i];
		}
	}
	l->buf[l->len] = '\0';
}

static void line_put_str(struct line *l, const char *s)
{
	line_put_esc(l, s, strlen(s));
}

static void line_put_line(struct line *l, const struct line *other)
{
	if (l->overflow || other->overflow || other->len > LINE_MAX_LEN - l->len) {
		l->overflow = true;
		return;
	}
	memcpy(l->buf + l->len, other->buf, other->len + 1);
	l->len += other->len;
}

static size_t line_room(const struct line *l)
{
	return l->overflow ? 0 : LINE_MAX_LEN - l->len;
}

/* How many bytes of s, cut only between UTF-8 sequences, take at most budget bytes escaped and hold at
 * most max_chars characters. A stray continuation byte counts as a character of its own. */
static size_t clip_len(const uint8_t *s, size_t n, size_t budget, size_t max_chars)
{
	size_t i = 0, used = 0, chars = 0;

	while (i < n && chars < max_chars) {
		size_t j = i + 1, cost;

		while (j < n && j - i < 4 && (s[j] & 0xC0) == 0x80)
			j++;
		cost = esc_len(s + i, j - i);
		if (cost > budget - used)
			break;
		used += cost;
		chars++;
		i = j;
	}
	return i;
}

/* ---- what the user sees is what is signed ---- */

/* Of a long text only the start can be shown; the rest is covered by the SHA-256. */
#define VISIBLE_IN_MAX 4096
/* The first VISIBLE_IN_MAX bytes of s with every hidden character or invalid byte replaced by a visible
 * marker ("\u27e8U+202E\u27e9", "\u27e80xFF\u27e9"). Sets *ret_changed when anything was replaced. Free it. */
static char *visible_copy(const uint8_t *s, size_t n, size_t *ret_len, bool *ret_changed)
{
	size_t in = n < VISIBLE_IN_MAX ? n : VISIBLE_IN_MAX, o = 0;
	char *out = malloc(in * VISIBLE_MARKER_MAX + 1);

	*ret_changed = false;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < in;) {
		int32_t cp;
		size_t k = visible_next(s + i, in - i, &cp);
		bool hide = cp < 0 || visible_hidden((uint32_t)cp);

		if (hide)
			o += visible_marker(s + i, cp, out + o);
		else
			memcpy(out + o, s + i, k), o += k;
		*ret_changed |= hide;
		i += k;
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

/* s escaped, or as much of it as fits budget followed by "…". */
static void line_put_clipped(struct line *l, const char *str, size_t budget)
{
	bool changed;
	size_t n, k;
	char *s = visible_copy((const uint8_t *)str, strlen(str), &n, &changed);

	if (s == NULL) {
		l->overflow = true;
		return;
	}
	if (esc_len(s, n) <= budget && strlen(str) <= VISIBLE_IN_MAX) {
		line_put_esc(l, s, n);
	} else {
		k = clip_len((const uint8_t *)s, n, budget - strlen(ELLIPSIS), SIZE_MAX);
		line_put_esc(l, s, k);
		line_put_str(l, ELLIPSIS);
	}
	free(s);
}

static int sha256_hex(const uint8_t *data, size_t len, char hex[static 65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -ENOMEM;
	proto_hex_encode(md, 32, hex);
	return 0;
}

/* Quoting the page's text: what is put so far, and the room left. */
struct quoter {
	struct line *l;
	size_t left; /* escaped bytes still allowed */
	size_t col;  /* characters on the current shown line */
};

static bool quote_put(struct quoter *q, const char *s, size_t n)
{
	size_t e = esc_len(s, n);

	if (e > q->left)
		return false;
	line_put_esc(q->l, s, n);
	q->left -= e;
	return true;
}

static bool quote_newline(struct quoter *q, bool first)
{
	q->col = 0;
	return quote_put(q, first ? QUOTE : "\n" QUOTE, strlen(QUOTE) + !first);
}

static bool is_blank(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static size_t line_end(const uint8_t *s, size_t n, size_t pos)
{
	const uint8_t *nl = memchr(s + pos, '\n', n - pos);

	return nl != NULL ? (size_t)(nl - s) : n;
}

/* How wide a character shows: a marker takes about 8. */
#define MARKER_WIDTH 8

static size_t char_width(int32_t cp)
{
	return cp < 0 || visible_hidden((uint32_t)cp) ? MARKER_WIDTH : 1;
}

/* Shown characters up to the next space, tab or the end e. */
static size_t word_width(const uint8_t *s, size_t i, size_t e)
{
	size_t w = 0;

	while (i < e && s[i] != ' ' && s[i] != '\t') {
		int32_t cp;

		i += visible_next(s + i, e - i, &cp);
		w += char_width(cp);
	}
	return w;
}

/* The page's text as quoted lines (QUOTE), into l, taking at most budget bytes escaped. Hidden
 * characters and invalid bytes become markers (visible.h); a run of blank lines (nothing but spaces and
 * tabs) is one quoted line that says how many there were, so that no run of them can push anything out
 * of view. *ret_shown: how many bytes of s are shown, n when all of them. */
static void quote_text(struct line *l, const uint8_t *s, size_t n, size_t budget, size_t *ret_shown)
{
	struct quoter q = {l, budget, 0};
	size_t pos = 0;

	while (pos < n) {
		size_t e = line_end(s, n, pos), i;

		if (is_blank(s + pos, e - pos)) {
			size_t runs = 0, p = pos;
			char note[64] = "";

			while (p < n) {
				size_t e2 = line_end(s, n, p);

				if (!is_blank(s + p, e2 - p))
					break;
				runs++;
				p = e2 < n ? e2 + 1 : n;
			}
			if (runs > 1)
				snprintf(note, sizeof(note), "\xe2\x9f\xa8%zu boş satır\xe2\x9f\xa9", runs);
			if (!quote_newline(&q, pos == 0) || !quote_put(&q, note, strlen(note))) {
				*ret_shown = pos;
				return;
			}
			pos = p;
			continue;
		}
		if (!quote_newline(&q, pos == 0)) {
			*ret_shown = pos;
			return;
		}
		for (i = pos; i < e;) {
			char marker[VISIBLE_MARKER_MAX + 1];
			int32_t cp;
			size_t k = visible_next(s + i, e - i, &cp), width = char_width(cp), w;
			const char *out = (const char *)s + i;
			size_t out_len = k;

			/* A word that would cross the wrap starts a line of its own, in place of the space. */
			if ((s[i] == ' ' || s[i] == '\t') && q.col > 0) {
				w = word_width(s, i + 1, e);
				if (q.col + 1 + w > QUOTE_WRAP && w <= QUOTE_WRAP) {
					if (!quote_newline(&q, false)) {
						*ret_shown = i;
						return;
					}
					i++;
					continue;
				}
			}
			if (width == MARKER_WIDTH) {
				out_len = visible_marker(s + i, cp, marker);
				out = marker;
			}
			if (q.col + width > QUOTE_WRAP && q.col > 0 && !quote_newline(&q, false)) {
				*ret_shown = i;
				return;
			}
			if (!quote_put(&q, out, out_len)) {
				*ret_shown = i;
				return;
			}
			q.col += width;
			i += k;
		}
		pos = e < n ? e + 1 : n;
	}
	*ret_shown = n;
}

/* Text: its size and SHA-256 (always: they name exactly what is signed), then the text quoted line by
 * line, as much as fits budget. When it is cut, a sentence says so with how many bytes are not shown,
 * and the shown text ends in "…". */
static int put_text(struct line *l, const uint8_t *content, size_t n, size_t budget)
{
	char doc[DOC_LINE_MAX + 1], cut[CUT_LINE_MAX + 1], hex[65];
	size_t fixed, shown;
	struct line t;
	int r;

	r = sha256_hex(content, n, hex);
	if (r < 0)
		return r;
	snprintf(doc, sizeof(doc), DOC_LINE_FMT, n, hex);
	fixed = esc_len(doc, strlen(doc)) + esc_len("\n\n", 2);
	/* First as if it all fitted; when it does not, again with room for the sentence (its count of bytes
	 * not shown is at most n, so it is never longer than this one) and the "…". */
	line_init(&t, NULL);
	quote_text(&t, content, n, budget > fixed ? budget - fixed : 0, &shown);
	if (shown < n) {
		snprintf(cut, sizeof(cut), CUT_LINE_FMT, n);
		fixed += esc_len(cut, strlen(cut)) + strlen(ELLIPSIS);
		line_init(&t, NULL);
		quote_text(&t, content, n, budget > fixed ? budget - fixed : 0, &shown);
		snprintf(cut, sizeof(cut), CUT_LINE_FMT, n - shown);
	}
	line_put_str(l, doc);
	if (shown < n)
		line_put_str(l, cut);
	if (n > 0)
		line_put_str(l, "\n\n");
	line_put_line(l, &t);
	if (shown < n)
		line_put_str(l, ELLIPSIS);
	return 0;
}

/* Binary content: its size, SHA-256 and as many of its first bytes in hex as fit budget. */
static int put_binary(struct line *l, const uint8_t *s, size_t n, size_t budget)
{
	char text[256], hex[65], head[2 * HEAD_BYTES + 1], more[2 * HEAD_BYTES + 32];
	size_t h = n < HEAD_BYTES ? n : HEAD_BYTES, used;
	int r;

	r = sha256_hex(s, n, hex);
	if (r < 0)
		return r;
	snprintf(text, sizeof(text), "İkili veri, %zu bayt\nSHA-256: %s", n, hex);
	used = esc_len(text, strlen(text));
	for (; h > 0; h--) {
		proto_hex_encode(s, h, head);
		snprintf(more, sizeof(more), "\nİlk %zu bayt: %s", h, head);
		if (used + esc_len(more, strlen(more)) <= budget)
			break;
	}
	line_put_str(l, text);
	if (h > 0)
		line_put_str(l, more);
	return 0;
}

/* ---- the pinentry process ---- */

static void stamp(double *at)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	*at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define STAMP(rq, step)                            \
	do {                                       \
		if ((rq)->times != NULL)           \
			stamp(&(rq)->times->step); \
	} while (0)

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* execv does no PATH search, so a bare name is looked up here as execvp would. */
static int resolve_program(const char *name, char *buf, size_t cap)
{
	const char *path, *p;

	if (name == NULL || name[0] == '\0')
		return -ENOENT;
	if (strchr(name, '/') != NULL) {
		if (strlen(name) >= cap || !is_executable(name))
			return -ENOENT;
		memcpy(buf, name, strlen(name) + 1);
		return 0;
	}
	path = getenv("PATH");
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int dlen = (int)(end - p);
		int n;

		/* An empty entry is the current directory, as for execvp. */
		if (dlen == 0)
			n = snprintf(buf, cap, "./%s", name);
		else
			n = snprintf(buf, cap, "%.*s/%s", dlen, p, name);
		if (n > 0 && (size_t)n < cap && is_executable(buf))
			return 0;
		if (*end == '\0')
			break;
		p = end;
	}
	return -ENOENT;
}

#ifndef IMZA_PROMPT_INSTALLED
#define IMZA_PROMPT_INSTALLED "/usr/bin/imza-prompt"
#endif

/* imza-prompt instead of rq's pinentry when prompt.h wants it and it is installed. The default name is
 * first the imza-prompt installed beside this imzad (bindir: their commands go together, and a service's
 * PATH may not hold a --prefix of one's choosing), then the one on the PATH. */
static bool pick_prompt(const struct dialog_request **rq, struct dialog_request *alt,
                        char path[static PATH_MAX])
{
	const char *want = prompt_wanted();

	if (want == NULL)
		return false;
	if (strcmp(want, "imza-prompt") == 0 && is_executable(IMZA_PROMPT_INSTALLED))
		snprintf(path, PATH_MAX, "%s", IMZA_PROMPT_INSTALLED);
	else if (resolve_program(want, path, PATH_MAX) < 0)
		return false;
	*alt = **rq;
	alt->program = path;
	*rq = alt;
	return true;
}

static int dialog_open(const struct dialog_request *rq, assuan_context_t *ret_ctx)
{
	struct assuan_malloc_hooks hooks = {secmem_malloc, secmem_realloc, secmem_free};
	char path[PATH_MAX];
	const char *argv[2];
	assuan_context_t ctx;
	gpg_error_t err;
	int r;

	r = resolve_program(rq->program, path, sizeof(path));
	if (r < 0) {
		log_error("pinentry program %s not found", rq->program ? rq->program : "(none)");
		return r;
	}
	err = assuan_new_ext(&ctx, GPG_ERR_SOURCE_USER_1, &hooks, no_log, NULL);
	if (err)
		return -ENOMEM;
	assuan_ctx_set_system_hooks(ctx, dialog_spawn_hooks());
	argv[0] = rq->program;
	argv[1] = NULL;
	/* The child gets our environment (dialog-spawn.c), so DISPLAY, WAYLAND_DISPLAY, DBUS… reach it as they are. */
	err = assuan_pipe_connect(ctx, path, argv, NULL, NULL, NULL, 0);
	if (err) {
		log_failure(rq, "start", err);
		r = dialog_errno(err);
		assuan_release(ctx); /* a failed connect has already reaped the child */
		return r == -ENOMEM ? r : -EIO;
	}
	STAMP(rq, started);
	*ret_ctx = ctx;
	return 0;
}

/* Opens *rq's program. When that is imza-prompt (*rich) and it does not start talking (it exits before
 * its greeting when it cannot open the display: a dead X server, a display of another session), the
 * question goes to the pinentry instead (orig, *rich false): a window that cannot appear must not
 * turn into a failed signature. Nothing was asked yet, so nothing is asked twice. */
static int dialog_open_or_fallback(const struct dialog_request **rq, const struct dialog_request *orig,
                                   bool *rich, assuan_context_t *ret_ctx)
{
	int r = dialog_open(*rq, ret_ctx);

	if (r == -EIO && *rich) {
		log_warning("imza-prompt did not start (no usable display?); asking through the pinentry");
		*rich = false;
		*rq = orig;
		r = dialog_open(*rq, ret_ctx);
	}
	return r;
}

static gpg_error_t transact(assuan_context_t ctx, const struct line *l)
{
	if (l->overflow)
		return gpg_err_make(GPG_ERR_SOURCE_USER_1, GPG_ERR_ASS_LINE_TOO_LONG);
	return assuan_transact(ctx, l->buf, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* A command whose failure ends the dialog. */
static int command(assuan_context_t ctx, const struct dialog_request *rq, const char *cmd, const char *arg)
{
	struct line l;
	gpg_error_t err;

	line_init(&l, cmd);
	if (arg != NULL) {
		line_put_esc(&l, " ", 1);
		line_put_str(&l, arg);
	}
	err = transact(ctx, &l);
	if (err) {
		log_failure(rq, cmd, err);
		return dialog_errno(err) == -EIO ? -EIO : -EPROTO;
	}
	return 0;
}

/* OPTION values are not unescaped by Assuan, so only plain values are passed on. */
static int option_from_env(assuan_context_t ctx, const struct dialog_request *rq, const char *name,
                           const char *var)
{
	const char *v = getenv(var);
	struct line l;
	gpg_error_t err;

	if (v == NULL || v[0] == '\0' || esc_len(v, strlen(v)) != strlen(v) || strlen(v) > 512)
		return 0;
	line_init(&l, "OPTION ");
	line_put_str(&l, name);
	line_put_str(&l, "=");
	line_put_str(&l, v);
	err = transact(ctx, &l);
	/* A pinentry without the option still works; a dead one does not. */
	if (err && dialog_errno(err) == -EIO) {
		log_failure(rq, "OPTION", err);
		return -EIO;
	}
	return 0;
}

static int dialog_setup(assuan_context_t ctx, const struct dialog_request *rq)
{
	char num[32];
	int r;

	if (getenv("GPG_TTY") != NULL) {
		r = option_from_env(ctx, rq, "ttyname", "GPG_TTY");
		if (r == 0)
			r = option_from_env(ctx, rq, "ttytype", "TERM");
		if (r < 0)
			return r;
	}
	r = option_from_env(ctx, rq, "display", "DISPLAY");
	if (r < 0)
		return r;
	r = command(ctx, rq, "SETTITLE", "imza");
	if (r < 0)
		return r;
	if (rq->timeout_s > 0) {
		snprintf(num, sizeof(num), "%u", rq->timeout_s);
		r = command(ctx, rq, "SETTIMEOUT", num);
	}
	return r;
}

static void dialog_close(assuan_context_t ctx)
{
	/* BYE, close the pipes, waitpid: no zombie is left, whatever happened before. */
	assuan_release(ctx);
}

static bool request_ok(const struct dialog_request *rq)
{
	return rq != NULL && rq->origin != NULL && (rq->content != NULL || rq->len == 0);
}

/* Who asks. A web origin whole, then (after the caller's action text) its site; a local program's
 * description clipped. -EINVAL for a web origin that cannot be shown whole or has no site. */
static int put_origin(struct line *l, const struct dialog_request *rq)
{
	size_t n = strlen(rq->origin);

	if (!rq->web) {
		line_put_clipped(l, rq->origin, ORIGIN_MAX_ESC);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rq->origin[i] <= 0x20 || (unsigned char)rq->origin[i] >= 0x7f)
			return -EINVAL;
	if (esc_len(rq->origin, n) > ORIGIN_MAX_ESC)
		return -EINVAL;
	line_put_str(l, rq->origin);
	return 0;
}

static int put_site(struct line *l, const struct dialog_request *rq)
{
	char site[SITE_MAX];

	if (!rq->web)
		return 0;
	if (site_of_origin(rq->origin, site, sizeof(site)) < 0)
		return -EINVAL;
	line_put_str(l, "\nSite: ");
	line_put_str(l, site);
	return 0;
}

/* ---- the dialogs ---- */

/* Starts the pinentry, sets it up and gives it the description: the part both dialogs share. */
static int dialog_begin(const struct dialog_request **rqp, const struct dialog_request *orig, bool *rich,
                        struct line *desc, assuan_context_t *ret_ctx)
{
	assuan_context_t ctx = NULL;
	const struct dialog_request *rq;
	gpg_error_t err;
	int r;

	r = dialog_open_or_fallback(rqp, orig, rich, &ctx);
	rq = *rqp;
	if (r < 0)
		return r;
	r = dialog_setup(ctx, rq);
	if (r == 0 && (err = transact(ctx, desc)) != 0) {
		log_failure(rq, "SETDESC", err);
		r = dialog_errno(err) == -EIO ? -EIO : -EPROTO;
	}
	if (r < 0) {
		dialog_close(ctx);
		return r;
	}
	*ret_ctx = ctx;
	return 0;
}

int dialog_consent(const struct dialog_request *rq, enum dialog_consent *ret)
{
	assuan_context_t ctx = NULL;
	const struct dialog_request *orig;
	struct dialog_request alt;
	char path[PATH_MAX];
	struct line desc;
	gpg_error_t err;
	bool rich;
	int r;

	if (!request_ok(rq) || ret == NULL)
		return -EINVAL;
	orig = rq;
	rich = pick_prompt(&rq, &alt, path);
	line_init(&desc, "SETDESC ");
	r = put_origin(&desc, rq);
	line_put_str(&desc, " e-imza kartınızı kullanmak istiyor.");
	if (r == 0)
		r = put_site(&desc, rq);
	if (r < 0)
		return r;
	if (rq->web && !site_may_remember(rq->origin))
		line_put_str(&desc, "\nBu sayfa şifrelenmemiş bir bağlantıyla (http) açıldı; yolda "
		                    "değiştirilebilir. Bu yüzden izin yalnızca bu seferlik verilebilir.");
	line_put_str(&desc, "\n\nSertifikalarınızı görebilir ve imza isteyebilir; her imza için PIN ayrıca "
	                    "sorulur.\n\nİzin veriyor musunuz?");
	r = dialog_begin(&rq, orig, &rich, &desc, &ctx);
	if (r < 0)
		return r;
	r = command(ctx, rq, "SETOK", "Bu seferlik izin ver");
	if (r == 0 && rq->can_remember)
		r = command(ctx, rq, "SETNOTOK", "Her zaman izin ver");
	if (r == 0)
		r = command(ctx, rq, "SETCANCEL", "Reddet");
	if (r == 0 && rich)
		r = prompt_send(ctx, &(struct prompt_extras){.origin = rq->web ? rq->origin : NULL,
		                                             .tries_left = -1});
	if (r < 0)
		goto out;

	STAMP(rq, asked);
	/* imza-prompt's consent window has the same answers as CONFIRM, with Reddet as its default and
	 * "always" set apart; a pinentry gets CONFIRM with the three buttons set above. */
	err = assuan_transact(ctx,
	                      !rich              ? "CONFIRM"
	                      : rq->consent_sign ? (rq->can_remember ? "CONSENT SIGN" : "CONSENT SIGN ONCE")
	                      : rq->can_remember ? "CONSENT LIST"
	                                         : "CONSENT LIST ONCE",
	                      NULL, NULL, NULL, NULL, NULL, NULL);
	STAMP(rq, answered);
	switch (gpg_err_code(err)) {
	case GPG_ERR_NO_ERROR:
		*ret = DIALOG_ONCE;
		break;
	case GPG_ERR_NOT_CONFIRMED:
		if (!rq->can_remember) {
			log_warning("pinentry %s: answered \"always\", which was not offered", rq->program);
			r = -EPROTO;
			break;
		}
		*ret = DIALOG_ALWAYS;
		break;
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
		*ret = DIALOG_DENY;
		break;
	default:
		r = dialog_errno(err);
		if (r != -ETIMEDOUT) {
			log_failure(rq, "CONFIRM", err);
			r = r == -EIO ? -EIO : -EPROTO;
		}
		break;
	}
out:
	dialog_close(ctx);
	STAMP(rq, closed);
	return r;
}

struct pin_sink {
	struct pin_secret *pin;
	bool too_long;
	bool last_try_confirmed; /* imza-prompt's S LAST_TRY_CONFIRMED came with the PIN */
};

/* The status lines of imza-prompt's GETPIN: LAST_TRY_CONFIRMED says the user ticked the last-try box in
 * the signing window before İmzala. Other status lines are ignored, as pinentry's are. */
static gpg_error_t pin_status(void *opaque, const char *line)
{
	struct pin_sink *k = opaque;
	size_t n = strlen("LAST_TRY_CONFIRMED");

	if (strncmp(line, "LAST_TRY_CONFIRMED", n) == 0 && (line[n] == '\0' || line[n] == ' '))
		k->last_try_confirmed = true;
	return 0;
}

/* assuan hands over the PIN percent-decoded, maybe in pieces; its line buffer is wiped with the context. */
static gpg_error_t pin_data(void *opaque, const void *buf, size_t n)
{
	struct pin_sink *k = opaque;

	if (buf == NULL || n == 0)
		return 0;
	if (n > PIN_MAX_LEN - k->pin->len) {
		k->too_long = true;
		return gpg_err_make(GPG_ERR_SOURCE_USER_1, GPG_ERR_TOO_LARGE);
	}
	memcpy(k->pin->page + k->pin->len, buf, n);
	k->pin->len += n;
	return 0;
}

/* imzad's own lines first (who asks, the site, the signer, the tries left), then the content, whose
 * facts come before the page's quoted text: nothing the page sends can stand above or among them. */
static int pin_desc(const struct dialog_request *rq, struct line *desc)
{
	char tries[64];
	int r = 0;

	line_init(desc, "SETDESC ");
	r = put_origin(desc, rq);
	line_put_str(desc, rq->content == NULL ? " kartınızdaki imza anahtarını kullanmak istiyor."
	                                       : " şu içeriği imzalamak istiyor:");
	if (r == 0)
		r = put_site(desc, rq);
	if (r < 0)
		return r;
	if (rq->subject != NULL) {
		/* imzad's note on its own choice shares the subject's room: the line's budget stays. */
		size_t note = rq->signer_note ? esc_len(rq->signer_note, strlen(rq->signer_note)) : 0;

		line_put_str(desc, "\nİmzalayan: ");
		line_put_clipped(desc, rq->subject,
		                 SUBJECT_MAX_ESC - (note < SUBJECT_MAX_ESC / 2 ? note : 0));
		if (note > 0 && note < SUBJECT_MAX_ESC / 2)
			line_put_str(desc, rq->signer_note);
	}
	if (rq->tries_left == 1)
		line_put_str(desc, "\nKalan PIN deneme hakkı: 1. Bu son hakkınız: yanlış bir PIN kartınızı "
		                   "kilitler.");
	else if (rq->tries_left == 2) {
		snprintf(tries, sizeof(tries), "\nKalan PIN deneme hakkı: %d", rq->tries_left);
		line_put_str(desc, tries);
	}
	if (rq->content == NULL)
		return 0;
	if (rq->is_text)
		return put_text(desc, rq->content, rq->len, line_room(desc));
	line_put_str(desc, "\n\n");
	return put_binary(desc, rq->content, rq->len, line_room(desc));
}

/* With one try left, for a pinentry: a question of its own, before any PIN is typed, that says in plain
 * words that a wrong PIN now locks the card. 0 when the user goes on; -ECANCELED when not. (imza-prompt
 * asks the same inside its signing window: see dialog_pin.) */
static int confirm_last_try(assuan_context_t ctx, const struct dialog_request *rq)
{
	struct line l;
	gpg_error_t err;
	int r;

	line_init(&l, "SETDESC ");
	r = put_origin(&l, rq);
	line_put_str(&l, " kartınızdaki imza anahtarını kullanmak istiyor.");
	if (r == 0)
		r = put_site(&l, rq);
	if (r < 0)
		return r;
	line_put_str(&l, "\n\nDİKKAT: Kartınızda yalnızca 1 PIN deneme hakkı kaldı. Şimdi yanlış bir PIN "
	                 "girerseniz kartınız KİLİTLENİR ve ancak PUK koduyla açılabilir.\n\nPIN girmeye "
	                 "devam etmek istiyor musunuz?");
	err = transact(ctx, &l);
	if (err) {
		log_failure(rq, "SETDESC", err);
		return dialog_errno(err) == -EIO ? -EIO : -EPROTO;
	}
	r = command(ctx, rq, "SETOK", "Evet, PIN gireceğim");
	if (r == 0)
		r = command(ctx, rq, "SETCANCEL", "Vazgeç");
	if (r < 0)
		return r;
	err = assuan_transact(ctx, "CONFIRM", NULL, NULL, NULL, NULL, NULL, NULL);
	switch (gpg_err_code(err)) {
	case GPG_ERR_NO_ERROR:
		return 0;
	case GPG_ERR_NOT_CONFIRMED:
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
		return -ECANCELED;
	default:
		r = dialog_errno(err);
		if (r != -ETIMEDOUT) {
			log_failure(rq, "CONFIRM", err);
			r = r == -EIO ? -EIO : -EPROTO;
		}
		return r;
	}
}

/* POST /v1/sign without a certificate: which of rq's choices signs. imza-prompt lets the user choose
 * (SETCERTS, CHOOSE); a pinentry cannot show a list, so imzad takes the first qualified certificate, or
 * the only one, and says so after "İmzalayan:"; several and none qualified: -ENOTUNIQ, nothing asked.
 * *ret is rq with the chosen one as the signer. */
static int choose_signer(assuan_context_t ctx, const struct dialog_request *rq, bool rich,
                         struct dialog_request *ret)
{
	const uint8_t *ders[DIALOG_CHOICES_MAX];
	size_t lens[DIALOG_CHOICES_MAX], i = SIZE_MAX;
	const char *note = NULL;
	int r;

	if (rq->n_choices == 0 || rq->n_choices > DIALOG_CHOICES_MAX || rq->choices == NULL)
		return -EINVAL;
	if (rich) {
		for (size_t k = 0; k < rq->n_choices; k++) {
			ders[k] = rq->choices[k].der;
			lens[k] = rq->choices[k].der_len;
		}
		r = prompt_send(ctx, &(struct prompt_extras){.origin = rq->web ? rq->origin : NULL,
		                                             .tries_left = -1});
		if (r == 0)
			r = prompt_choose(ctx, ders, lens, rq->n_choices, &i);
		if (r < 0)
			return r;
	} else {
		for (size_t k = 0; k < rq->n_choices && i == SIZE_MAX; k++)
			if (rq->choices[k].qualified)
				i = k;
		if (i == SIZE_MAX && rq->n_choices == 1)
			i = 0;
		if (i == SIZE_MAX) {
			log_warning("pinentry %s: %zu signing certificates, none qualified, and a pinentry "
			            "cannot "
			            "show a choice: refused",
			            rq->program, rq->n_choices);
			return -ENOTUNIQ;
		}
		note = rq->n_choices == 1 ? " (imzad seçti: kartlardaki tek imza sertifikası)"
		                          : " (imzad seçti: nitelikli sertifika)";
	}
	/* prompt_choose checked the index; this is the one place that turns it into a signer. */
	if (i >= rq->n_choices)
		return -EPROTO;
	*ret = *rq;
	ret->subject = rq->choices[i].subject;
	ret->cert = rq->choices[i].der;
	ret->cert_len = rq->choices[i].der_len;
	ret->tries_left = rq->choices[i].tries_left;
	ret->signer_note = note;
	if (rq->ret_chosen != NULL)
		*rq->ret_chosen = i;
	return 0;
}

/* One GETPIN into a fresh locked page, the PIN written into it as it arrives, with no copy: 0 with *ret
 * filled (not empty) and *ret_confirmed (when asked for) whether imza-prompt said the last try was
 * confirmed; -ECANCELED, -ETIMEDOUT, -E2BIG, -EINVAL (an empty answer), -EIO, -EPROTO. */
static int get_secret(assuan_context_t ctx, const struct dialog_request *rq, struct pin_secret *ret,
                      bool *ret_confirmed)
{
	static const uint8_t none[1];
	struct pin_secret pin = {0};
	struct pin_sink sink = {&pin, false, false};
	gpg_error_t err;
	int r;

	r = pin_secret_set(&pin, none, 0);
	if (r < 0)
		return r;
	STAMP(rq, asked);
	assuan_begin_confidential(ctx);
	err = assuan_transact(ctx, "GETPIN", pin_data, &sink, NULL, NULL, pin_status, &sink);
	assuan_end_confidential(ctx);
	STAMP(rq, answered);
	if (sink.too_long) {
		r = -E2BIG;
	} else if (err) {
		r = dialog_errno(err);
		if (r != -ECANCELED && r != -ETIMEDOUT) {
			log_failure(rq, "GETPIN", err);
			r = r == -EIO ? -EIO : -EPROTO;
		}
	} else if (pin.len == 0) {
		r = -EINVAL;
	} else {
		*ret = pin;
		if (ret_confirmed)
			*ret_confirmed = sink.last_try_confirmed;
		return 0;
	}
	pin_secret_wipe(&pin);
	return r;
}

int dialog_pin(const struct dialog_request *rq, struct pin_secret *ret)
{
	struct dialog_request chosen;
	struct pin_secret pin = {0};
	bool confirmed = false;
	assuan_context_t ctx = NULL;
	const struct dialog_request *orig;
	struct dialog_request alt;
	char path[PATH_MAX];
	struct line desc;
	gpg_error_t err;
	bool rich;
	int r;

	if (!request_ok(rq) || ret == NULL)
		return -EINVAL;
	orig = rq;
	rich = pick_prompt(&rq, &alt, path);
	/* With a choice the description waits for the signer. */
	r = rq->n_choices > 0 ? 0 : pin_desc(rq, &desc);
	if (r < 0)
		return r;
	r = dialog_open_or_fallback(&rq, orig, &rich, &ctx);
	if (r < 0)
		return r;
	r = dialog_setup(ctx, rq);
	if (r == 0 && rq->n_choices > 0) {
		r = choose_signer(ctx, rq, rich, &chosen);
		if (r == 0) {
			rq = &chosen;
			r = pin_desc(rq, &desc);
		}
	}
	/* The prompt first: it tells a pinentry (and the test one) that this is the PIN dialog. */
	if (r == 0)
		r = command(ctx, rq, "SETPROMPT", "PIN:");
	/* imza-prompt asks it in the signing window itself (SETTRIES 1: a box to tick before İmzala) and
	 * says so with the PIN; a pinentry gets the question of its own before the PIN. */
	if (r == 0 && rq->tries_left == 1 && !rich)
		r = confirm_last_try(ctx, rq);
	if (r == 0 && (err = transact(ctx, &desc)) != 0) {
		log_failure(rq, "SETDESC", err);
		r = dialog_errno(err) == -EIO ? -EIO : -EPROTO;
	}
	if (r == 0)
		r = command(ctx, rq, "SETOK", "İmzala");
	if (r == 0)
		r = command(ctx, rq, "SETCANCEL", "Vazgeç");
	/* imza-prompt's window: the document whole, the signer's certificate, the tries, the site. */
	if (r == 0 && rich)
		r = prompt_send(ctx, &(struct prompt_extras){.origin = rq->web ? rq->origin : NULL,
		                                             .tries_left = rq->tries_left,
		                                             .content = rq->content,
		                                             .len = rq->len,
		                                             .is_text = rq->is_text,
		                                             .cert = rq->cert,
		                                             .cert_len = rq->cert_len});
	if (r < 0)
		goto out;

	r = get_secret(ctx, rq, &pin, &confirmed);
	if (r < 0)
		goto out;
	if (rich && rq->tries_left == 1 && !confirmed) {
		/* A window that did not ask for the last-try confirmation: its PIN never reaches the card. */
		log_warning("imza-prompt %s: a PIN on the last try without the confirmation; dropped",
		            rq->program);
		r = -EPROTO;
	} else {
		if (rq->pin_read != NULL)
			rq->pin_read(rq->pin_read_ud, &pin);
		else
			*ret = pin;
		pin = (struct pin_secret){0};
		r = 0;
	}
out:
	pin_secret_wipe(&pin);
	dialog_close(ctx);
	STAMP(rq, closed);
	return r;
}

/* ---- the insert-card window (imza-prompt only) ---- */

/* A card label from the cache: 32 bytes padded with spaces, shown with visible markers. */
#define CARD_LABEL_MAX_ESC 160

/* The answer to the command last written: 0 for OK, else its error as an errno. Status and comment
 * lines are skipped; anything else is a protocol error. */
static int read_answer(assuan_context_t ctx, const struct dialog_request *rq, const char *what)
{
	for (;;) {
		char *line;
		int len, off, r;
		assuan_response_t kind;
		gpg_error_t err = assuan_client_read_response(ctx, &line, &len);

		if (!err)
			err = assuan_client_parse_response(ctx, line, len, &kind, &off);
		if (err) {
			log_failure(rq, what, err);
			return -EIO;
		}
		if (kind == ASSUAN_RESPONSE_OK)
			return 0;
		if (kind == ASSUAN_RESPONSE_ERROR) {
			r = dialog_errno((gpg_error_t)strtoul(line + off, NULL, 10));
			return r == -ECANCELED || r == -ETIMEDOUT || r == -EIO ? r : -EPROTO;
		}
		if (kind != ASSUAN_RESPONSE_STATUS && kind != ASSUAN_RESPONSE_COMMENT)
			return -EPROTO;
	}
}

/* WAITCARD, then whichever comes first: imza-prompt's answer (only the user's İptal or its guard
 * timeout end it from that side), or a byte on wake_fd, upon which imzad ends the wait with an early
 * NOP line (imza-prompt, which watches its input while the window is up, then answers WAITCARD with OK,
 * and NOP). Assuan has no other way for a client to end a pending command. */
static int wait_card(assuan_context_t ctx, const struct dialog_request *rq, int wake_fd)
{
	assuan_fd_t in[2]; /* libassuan wants room for two (a pipe's one, or a socket's and a passed one) */
	struct pollfd p[2];
	bool woken = false;
	int r;

	if (assuan_get_active_fds(ctx, 0, in, 2) < 1)
		return -EIO;
	if (assuan_write_line(ctx, "WAITCARD") != 0)
		return -EIO;
	STAMP(rq, asked);
	p[0] = (struct pollfd){.fd = in[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		if (p[0].revents)
			break;
		if (p[1].revents) {
			woken = true;
			if (assuan_write_line(ctx, "NOP") != 0)
				return -EIO;
			break;
		}
	}
	r = read_answer(ctx, rq, "WAITCARD");
	STAMP(rq, answered);
	if (!woken)
		/* imza-prompt never ends the wait with OK on its own: the card is imzad's to see. */
		return r == 0 ? -EPROTO : r;
	/* The user's İptal may have crossed imzad's NOP: the user's answer stands. */
	if (r == 0)
		r = read_answer(ctx, rq, "NOP");
	return r;
}

int dialog_card(const struct dialog_request *rq, int wake_fd)
{
	assuan_context_t ctx = NULL;
	struct dialog_request alt;
	char path[PATH_MAX];
	struct line l;
	gpg_error_t err;
	int r;

	if (!request_ok(rq) || wake_fd < 0)
		return -EINVAL;
	if (rq->web && strlen(rq->origin) > DIALOG_ORIGIN_MAX)
		return -EINVAL;
	if (!pick_prompt(&rq, &alt, path))
		return -ENOTSUP;
	/* No pinentry fallback: a pinentry could only ask a question the user cannot answer by inserting
	 * the card. A window that does not start leaves the request waiting, as without a display. */
	r = dialog_open(rq, &ctx);
	if (r < 0)
		return r;
	r = dialog_setup(ctx, rq);
	/* The window's own words ask for the card (in the user's language); imzad names the card. */
	if (r == 0 && rq->card_label != NULL && rq->card_label[0] != '\0') {
		line_init(&l, "SETCARD ");
		line_put_clipped(&l, rq->card_label, CARD_LABEL_MAX_ESC);
		if ((err = transact(ctx, &l)) != 0) {
			log_failure(rq, "SETCARD", err);
			r = dialog_errno(err) == -EIO ? -EIO : -EPROTO;
		}
	}
	if (r == 0)
		r = prompt_send(ctx, &(struct prompt_extras){.origin = rq->web ? rq->origin : NULL,
		                                             .tries_left = -1,
		                                             .cert = rq->cert,
		                                             .cert_len = rq->cert_len});
	if (r == 0)
		r = wait_card(ctx, rq, wake_fd);
	dialog_close(ctx);
	STAMP(rq, closed);
	return r;
}

/* ---- imzactl pin change / unblock ---- */

/* The description of one step: who asks, which card, what is asked, then the step's own words. */
static int pin_new_desc(const struct dialog_request *rq, bool unblock, const char *step, struct line *l)
{
	char tries[96];

	line_init(l, "SETDESC ");
	line_put_clipped(l, rq->origin, ORIGIN_MAX_ESC);
	line_put_str(l, unblock ? " kartınızın kilitli PIN'ini PUK koduyla açmak istiyor."
	                        : " kartınızın PIN'ini değiştirmek istiyor.");
	line_put_str(l, "\nKart: ");
	line_put_clipped(l, rq->card_label && rq->card_label[0] ? rq->card_label : "?", CARD_LABEL_MAX_ESC);
	if (rq->tries_left == 1)
		line_put_str(
		        l, unblock ? "\nKalan PUK deneme hakkı: 1. Bu son hakkınız: yanlış bir PUK kartınızı "
		                     "kalıcı olarak kilitler."
		                   : "\nKalan PIN deneme hakkı: 1. Bu son hakkınız: yanlış bir PIN kartınızı "
		                     "kilitler.");
	else if (rq->tries_left == 2) {
		snprintf(tries, sizeof(tries), "\nKalan %s deneme hakkı: 2", unblock ? "PUK" : "PIN");
		line_put_str(l, tries);
	}
	line_put_str(l, "\n\n");
	line_put_str(l, step);
	return l->overflow ? -EINVAL : 0;
}

/* One step: its description, prompt and buttons, then the secret. */
static int pin_new_step(assuan_context_t ctx, const struct dialog_request *rq, bool unblock, const char *step,
                        const char *prompt, const char *ok, struct pin_secret *ret)
{
	struct line desc;
	gpg_error_t err;
	int r = pin_new_desc(rq, unblock, step, &desc);

	/* The prompt first: it tells a pinentry (and the test one) that a secret is asked. */
	if (r == 0)
		r = command(ctx, rq, "SETPROMPT", prompt);
	if (r == 0 && (err = transact(ctx, &desc)) != 0) {
		log_failure(rq, "SETDESC", err);
		r = dialog_errno(err) == -EIO ? -EIO : -EPROTO;
	}
	if (r == 0)
		r = command(ctx, rq, "SETOK", ok);
	if (r == 0)
		r = command(ctx, rq, "SETCANCEL", "Vazgeç");
	if (r == 0)
		r = get_secret(ctx, rq, ret, NULL);
	return r;
}

int dialog_pin_new(const struct dialog_request *rq, bool unblock, struct pin_secret *ret_old,
                   struct pin_secret *ret_new)
{
	struct pin_secret old = {0}, new = {0}, again = {0};
	assuan_context_t ctx = NULL;
	const struct dialog_request *orig;
	struct dialog_request alt;
	char path[PATH_MAX];
	bool rich;
	int r;

	if (rq == NULL || rq->origin == NULL || ret_old == NULL || ret_new == NULL)
		return -EINVAL;
	orig = rq;
	rich = pick_prompt(&rq, &alt, path);
	r = dialog_open_or_fallback(&rq, orig, &rich, &ctx);
	if (r < 0)
		return r;
	r = dialog_setup(ctx, rq);
	if (r == 0)
		r = unblock ? pin_new_step(ctx, rq, true, "Kartınızın PUK kodunu girin.", "PUK:", "Devam",
		                           &old)
		            : pin_new_step(ctx, rq, false, "Kartınızın şimdiki PIN'ini girin.",
		                           "PIN:", "Devam", &old);
	if (r == 0)
		r = pin_new_step(ctx, rq, unblock, "Yeni PIN'i girin (6-8 rakam).", "Yeni PIN:", "Devam",
		                 &new);
	if (r == 0)
		r = pin_new_step(ctx, rq, unblock, "Yeni PIN'i doğrulamak için bir kez daha girin.",
		                 "Yeni PIN (tekrar):", unblock ? "PIN'i aç" : "PIN'i değiştir", &again);
	/* The two entries of the new PIN differ: nothing goes to the card, nothing is asked again (imzactl
	 * says so; the user runs it again). */
	if (r == 0 && (new.len != again.len || CRYPTO_memcmp(new.page, again.page, new.len) != 0))
		r = DIALOG_E_MISMATCH;
	pin_secret_wipe(&again);
	dialog_close(ctx);
	STAMP(rq, closed);
	if (r < 0) {
		pin_secret_wipe(&old);
		pin_secret_wipe(&new);
		return r;
	}
	*ret_old = old;
	*ret_new = new;
	return 0;
}
