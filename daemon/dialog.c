/* The user's dialogs through pinentry (see dialog.h): one pinentry process per question, spoken to with
 * libassuan. The PIN passes through assuan's line buffer, so assuan allocates from locked pages that are
 * wiped on free, and the PIN itself is collected straight into the page that the caller gets. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
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
#include <openssl/evp.h>

#include "daemon/dialog-spawn.h"
#include "daemon/dialog.h"
#include "daemon/secmem.h"
#include "daemon/log.h"
#include "daemon/pin.h"
#include "daemon/prompt.h"
#include "daemon/site.h"
#include "daemon/visible.h"
#include "protocol/proto-hex.h"

/* One Assuan line without its LF (assuan.h: 1000 + [CR,]LF). libassuan silently cuts a longer one, which
 * would cut the end of a description, so every line is built to fit. */
#define LINE_MAX_LEN (ASSUAN_LINELENGTH - 2)
#define TEXT_MAX_CHARS 1500
/* A web origin is shown whole with its site on a line of its own: the user judges a page by the end of
 * its name, so when the line is short it is the document text that gets cut, never these. A local
 * program's description (ours, not a page's) is clipped to the same room. The subject is capped; whatever
 * all of them take, at least CONTENT_MIN_ESC bytes stay for the content. */
#define ORIGIN_MAX_ESC DIALOG_ORIGIN_MAX
#define SITE_LINE_MAX (9 + DIALOG_ORIGIN_MAX) /* "%0ASite: " and a site, a part of the origin */
#define ACTION_MAX 40                         /* " şu içeriği imzalamak istiyor:%0A%0A" */
#define SUBJECT_LABEL 18                      /* "%0A%0Aİmzalayan: " */
#define SUBJECT_MAX_ESC 200
#define TRIES_LINE_MAX 90   /* the last try's line */
#define CONTENT_MIN_ESC 120 /* a text's size and SHA-256; binary content's size and SHA-256 */
#define HEAD_BYTES 32
#define ELLIPSIS "\xe2\x80\xa6" /* … */

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

static int err_to_errno(gpg_error_t err)
{
	switch (gpg_err_code(err)) {
	case GPG_ERR_NO_ERROR:
		return 0;
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
		return -ECANCELED;
	case GPG_ERR_TIMEOUT:
	case GPG_ERR_ETIMEDOUT:
		return -ETIMEDOUT;
	case GPG_ERR_TOO_LARGE:
		return -E2BIG;
	case GPG_ERR_ENOMEM:
		return -ENOMEM;
	case GPG_ERR_EOF:
	case GPG_ERR_ASS_READ_ERROR:
	case GPG_ERR_ASS_WRITE_ERROR:
	case GPG_ERR_ASS_CONNECT_FAILED:
	case GPG_ERR_ASS_SERVER_START:
	case GPG_ERR_EPIPE:
	case GPG_ERR_EIO:
	case GPG_ERR_ECONNRESET:
		return -EIO;
	default:
		return -EPROTO;
	}
}

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

/* Text: whole when it fits and is at most TEXT_MAX_CHARS characters; else a prefix, "…", and its size
 * and SHA-256 so that the whole can still be compared with what the page shows. */
static int put_text(struct line *l, const uint8_t *content, size_t n, size_t budget)
{
	char suffix[160], hex[65];
	size_t slen, k, dn;
	bool changed, whole;
	int r;
	char *d = visible_copy(content, n, &dn, &changed);
	const uint8_t *s = (const uint8_t *)d;

	if (d == NULL)
		return -ENOMEM;
	whole = n <= VISIBLE_IN_MAX && esc_len(s, dn) <= budget &&
	        clip_len(s, dn, SIZE_MAX, TEXT_MAX_CHARS) == dn;
	if (whole && !changed) {
		line_put_esc(l, s, dn);
		free(d);
		return 0;
	}
	/* Cut, or shown with markers: the size and SHA-256 name exactly what is signed. */
	r = sha256_hex(content, n, hex);
	if (r < 0) {
		free(d);
		return r;
	}
	snprintf(suffix, sizeof(suffix), "\n(%zu bayt, SHA-256: %s)", n, hex);
	slen = esc_len(suffix, strlen(suffix));
	if (!whole || esc_len(s, dn) + slen > budget) {
		/* Cut: "…" before the size. */
		snprintf(suffix, sizeof(suffix), ELLIPSIS "\n(%zu bayt, SHA-256: %s)", n, hex);
		slen = esc_len(suffix, strlen(suffix));
		k = clip_len(s, dn, budget > slen ? budget - slen : 0, TEXT_MAX_CHARS);
	} else {
		k = dn;
	}
	line_put_esc(l, s, k);
	line_put_str(l, suffix);
	free(d);
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

/* imza-prompt instead of rq's pinentry when prompt.h wants it and it is installed. */
static bool pick_prompt(const struct dialog_request **rq, struct dialog_request *alt,
                        char path[static PATH_MAX])
{
	const char *want = prompt_wanted();

	if (want == NULL || resolve_program(want, path, PATH_MAX) < 0)
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
		r = err_to_errno(err);
		assuan_release(ctx); /* a failed connect has already reaped the child */
		return r == -ENOMEM ? r : -EIO;
	}
	STAMP(rq, started);
	*ret_ctx = ctx;
	return 0;
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
		return err_to_errno(err) == -EIO ? -EIO : -EPROTO;
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
	if (err && err_to_errno(err) == -EIO) {
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
static int dialog_begin(const struct dialog_request *rq, struct line *desc, assuan_context_t *ret_ctx)
{
	assuan_context_t ctx = NULL;
	gpg_error_t err;
	int r;

	r = dialog_open(rq, &ctx);
	if (r < 0)
		return r;
	r = dialog_setup(ctx, rq);
	if (r == 0 && (err = transact(ctx, desc)) != 0) {
		log_failure(rq, "SETDESC", err);
		r = err_to_errno(err) == -EIO ? -EIO : -EPROTO;
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
	struct dialog_request alt;
	char path[PATH_MAX];
	struct line desc;
	gpg_error_t err;
	bool rich;
	int r;

	if (!request_ok(rq) || ret == NULL)
		return -EINVAL;
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
	r = dialog_begin(rq, &desc, &ctx);
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
	err = assuan_transact(ctx, "CONFIRM", NULL, NULL, NULL, NULL, NULL, NULL);
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
		r = err_to_errno(err);
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
};

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

static int pin_desc(const struct dialog_request *rq, struct line *desc)
{
	struct line tail;
	char tries[64];
	int r = 0;

	line_init(&tail, NULL);
	if (rq->subject != NULL) {
		line_put_str(&tail, rq->content != NULL ? "\n\nİmzalayan: " : "\nİmzalayan: ");
		line_put_clipped(&tail, rq->subject, SUBJECT_MAX_ESC);
	}
	if (rq->tries_left == 1)
		line_put_str(&tail, "\nKalan PIN deneme hakkı: 1. Bu son hakkınız: yanlış bir PIN kartınızı "
		                    "kilitler.");
	else if (rq->tries_left == 2) {
		snprintf(tries, sizeof(tries), "\nKalan PIN deneme hakkı: %d", rq->tries_left);
		line_put_str(&tail, tries);
	}

	line_init(desc, "SETDESC ");
	r = put_origin(desc, rq);
	line_put_str(desc, rq->content == NULL ? " kartınızdaki imza anahtarını kullanmak istiyor."
	                                       : " şu içeriği imzalamak istiyor:");
	if (r == 0)
		r = put_site(desc, rq);
	if (r < 0)
		return r;
	if (rq->content != NULL) {
		size_t budget;

		line_put_str(desc, "\n\n");
		budget = line_room(desc) > tail.len ? line_room(desc) - tail.len : 0;
		if (rq->is_text)
			r = put_text(desc, rq->content, rq->len, budget);
		else
			r = put_binary(desc, rq->content, rq->len, budget);
	}
	line_put_line(desc, &tail);
	return r;
}

/* With one try left: a question of its own, before any PIN is typed, that says in plain words that a
 * wrong PIN now locks the card. 0 when the user goes on; -ECANCELED when not. */
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
		return err_to_errno(err) == -EIO ? -EIO : -EPROTO;
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
		r = err_to_errno(err);
		if (r != -ETIMEDOUT) {
			log_failure(rq, "CONFIRM", err);
			r = r == -EIO ? -EIO : -EPROTO;
		}
		return r;
	}
}

int dialog_pin(const struct dialog_request *rq, struct pin_secret *ret)
{
	static const uint8_t none[1];
	struct pin_secret pin = {0};
	struct pin_sink sink = {&pin, false};
	assuan_context_t ctx = NULL;
	struct dialog_request alt;
	char path[PATH_MAX];
	struct line desc;
	gpg_error_t err;
	bool rich;
	int r;

	if (!request_ok(rq) || ret == NULL)
		return -EINVAL;
	rich = pick_prompt(&rq, &alt, path);
	r = pin_desc(rq, &desc);
	if (r < 0)
		return r;
	r = dialog_open(rq, &ctx);
	if (r < 0)
		return r;
	r = dialog_setup(ctx, rq);
	/* The prompt first: it tells a pinentry (and the test one) that this is the PIN dialog. */
	if (r == 0)
		r = command(ctx, rq, "SETPROMPT", "PIN:");
	if (r == 0 && rq->tries_left == 1)
		r = confirm_last_try(ctx, rq);
	if (r == 0 && (err = transact(ctx, &desc)) != 0) {
		log_failure(rq, "SETDESC", err);
		r = err_to_errno(err) == -EIO ? -EIO : -EPROTO;
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

	/* An empty locked page from pin.c; the PIN is written into it as it arrives, with no copy. */
	r = pin_secret_set(&pin, none, 0);
	if (r < 0)
		goto out;
	STAMP(rq, asked);
	assuan_begin_confidential(ctx);
	err = assuan_transact(ctx, "GETPIN", pin_data, &sink, NULL, NULL, NULL, NULL);
	assuan_end_confidential(ctx);
	STAMP(rq, answered);
	if (sink.too_long) {
		r = -E2BIG;
	} else if (err) {
		r = err_to_errno(err);
		if (r != -ECANCELED && r != -ETIMEDOUT) {
			log_failure(rq, "GETPIN", err);
			r = r == -EIO ? -EIO : -EPROTO;
		}
	} else if (pin.len == 0) {
		r = -EINVAL;
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
