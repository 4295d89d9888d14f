/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's configuration file (see config.h). The parser is strict on purpose: a typo that silently
 * fell back to a default could turn the HTTPS endpoint on or move it, so every doubt is an error that
 * names the line. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/store/privdir.h"
#include "protocol/proto-client.h"

/* Longest line, newline not counted. */
#define CONFIG_LINE_MAX 4096

enum config_key {
	KEY_HTTPS,
	KEY_HTTPS_PORT,
	KEY_PINENTRY,
	KEY_PROMPT,
	KEY_MODULE,
	KEY_NATIVE,
	KEY_PREFER,
	KEY_COUNT
};

static const char *const key_names[KEY_COUNT] = {
        [KEY_HTTPS] = "https",   [KEY_HTTPS_PORT] = "https_port", [KEY_PINENTRY] = "pinentry",
        [KEY_PROMPT] = "prompt", [KEY_MODULE] = "module",         [KEY_NATIVE] = "native",
        [KEY_PREFER] = "prefer",
};

void config_defaults(struct imzad_config *c)
{
	memset(c, 0, sizeof(*c));
	c->https = true;
	c->native = true;
	c->https_port = IMZA_HTTPS_PORT_DEFAULT;
	snprintf(c->pinentry, sizeof(c->pinentry), "%s", "pinentry");
	snprintf(c->prompt, sizeof(c->prompt), "%s", "imza-prompt");
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Copies at most 40 bytes of s into out for an error message; bytes that are not printable ASCII
 * become '?', so a hostile file cannot put control sequences into the log. */
static const char *printable(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, max = n < 40 ? n : 40;

	for (i = 0; i < max && i + 4 < cap; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < n && i + 4 <= cap) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* Writes the message (err may be NULL) and returns r. */
static int fail(int r, char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(int r, char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;

	if (err && errcap > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errcap, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Digits only (strtoul alone would take a sign, leading blanks or "0x"), no overflow, 1..65535. */
static int parse_port(const char *v, size_t n, uint16_t *ret)
{
	char buf[16], *end;
	unsigned long u;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	errno = 0;
	u = strtoul(buf, &end, 10);
	if (errno != 0 || end != buf + n || u < 1 || u > 65535)
		return -EINVAL;
	*ret = (uint16_t)u;
	return 0;
}

/* A bare program name (looked up in PATH when run) or an absolute path: a relative path with a slash
 * would depend on imzad's working directory. No control characters. */
static int parse_pinentry(const char *v, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return -EINVAL;
	if (memchr(v, '/', n) && v[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -EINVAL;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

static int parse_line(const char *line, size_t len, unsigned lineno, struct imzad_config *c,
                      unsigned seen[KEY_COUNT], char *err, size_t errcap)
{
	const char *eq, *k, *v;
	size_t kn, vn;
	char shown[48];
	int key = -1;

	while (len > 0 && is_blank(line[0])) {
		line++;
		len--;
	}
	while (len > 0 && is_blank(line[len - 1]))
		len--;
	if (len == 0 || line[0] == '#')
		return 0;
	eq = memchr(line, '=', len);
	if (eq == NULL)
		return fail(-EINVAL, err, errcap, "line %u: no '=' (lines are key = value)", lineno);
	k = line;
	kn = (size_t)(eq - line);
	while (kn > 0 && is_blank(k[kn - 1]))
		kn--;
	v = eq + 1;
	vn = len - (size_t)(v - line);
	while (vn > 0 && is_blank(v[0])) {
		v++;
		vn--;
	}
	if (kn == 0)
		return fail(-EINVAL, err, errcap, "line %u: no key before '='", lineno);
	for (int i = 0; i < KEY_COUNT; i++)
		if (strlen(key_names[i]) == kn && memcmp(key_names[i], k, kn) == 0)
			key = i;
	if (key < 0)
		return fail(-EINVAL, err, errcap, "line %u: unknown key '%s'", lineno,
		            printable(k, kn, shown, sizeof(shown)));
	if (seen[key] && key != KEY_MODULE && key != KEY_PREFER)
		return fail(-EINVAL, err, errcap, "line %u: '%s' is already set on line %u", lineno,
		            key_names[key], seen[key]);
	/* prefer is said of the module line above it, once. */
	if (key == KEY_PREFER && c->nmodules == 0)
		return fail(-EINVAL, err, errcap,
		            "line %u: prefer is said of a module: it follows a module line", lineno);
	if (key == KEY_PREFER && seen[KEY_PREFER] > seen[KEY_MODULE])
		return fail(-EINVAL, err, errcap, "line %u: prefer is already said of module '%s' on line %u",
		            lineno,
		            printable(c->module[c->nmodules - 1], strlen(c->module[c->nmodules - 1]), shown,
		                      sizeof(shown)),
		            seen[KEY_PREFER]);
	seen[key] = lineno;
	if (vn == 0)
		return fail(-EINVAL, err, errcap, "line %u: empty value for '%s'", lineno, key_names[key]);
	switch (key) {
	case KEY_HTTPS:
	case KEY_NATIVE:
		if (vn == 3 && memcmp(v, "yes", 3) == 0)
			*(key == KEY_HTTPS ? &c->https : &c->native) = true;
		else if (vn == 2 && memcmp(v, "no", 2) == 0)
			*(key == KEY_HTTPS ? &c->https : &c->native) = false;
		else
			return fail(-EINVAL, err, errcap, "line %u: %s is yes or no, not '%s'", lineno,
			            key_names[key], printable(v, vn, shown, sizeof(shown)));
		break;
	case KEY_HTTPS_PORT:
		if (parse_port(v, vn, &c->https_port) < 0)
			return fail(-EINVAL, err, errcap,
			            "line %u: https_port is a number from 1 to 65535, not '%s'", lineno,
			            printable(v, vn, shown, sizeof(shown)));
		break;
	case KEY_PINENTRY:
		if (parse_pinentry(v, vn, c->pinentry, sizeof(c->pinentry)) < 0)
			return fail(-EINVAL, err, errcap,
			            "line %u: pinentry is a program name or an absolute path (under %d "
			            "bytes), not "
			            "'%s'",
			            lineno, PATH_MAX, printable(v, vn, shown, sizeof(shown)));
		break;
	case KEY_PROMPT:
		/* The same rules as a pinentry: "imza-prompt", "pinentry" or any bare name is looked up in
		 * PATH; a path must be absolute. */
		if (parse_pinentry(v, vn, c->prompt, sizeof(c->prompt)) < 0)
			return fail(-EINVAL, err, errcap,
			            "line %u: prompt is imza-prompt, pinentry or an absolute path (under %d "
			            "bytes), not '%s'",
			            lineno, PATH_MAX, printable(v, vn, shown, sizeof(shown)));
		break;
	case KEY_MODULE:
		/* A module is dlopened by its helper: only an absolute path names one file for sure. */
		if (c->nmodules == CONFIG_MODULES_MAX)
			return fail(-EINVAL, err, errcap, "line %u: more than %d modules", lineno,
			            CONFIG_MODULES_MAX);
		if (v[0] != '/' || parse_pinentry(v, vn, c->module[c->nmodules], sizeof(c->module[0])) < 0)
			return fail(
			        -EINVAL, err, errcap,
			        "line %u: module is the absolute path of a PKCS#11 module (under %d bytes), "
			        "not '%s'",
			        lineno, PATH_MAX, printable(v, vn, shown, sizeof(shown)));
		for (size_t i = 0; i < c->nmodules; i++)
			if (strcmp(c->module[i], c->module[c->nmodules]) == 0)
				return fail(-EINVAL, err, errcap, "line %u: module '%s' is named twice",
				            lineno, printable(v, vn, shown, sizeof(shown)));
		c->prefer_module[c->nmodules] = false;
		c->nmodules++;
		break;
	case KEY_PREFER:
		if (vn == 6 && memcmp(v, "module", 6) == 0)
			c->prefer_module[c->nmodules - 1] = true;
		else if (vn == 6 && memcmp(v, "native", 6) == 0)
			c->prefer_module[c->nmodules - 1] = false;
		else
			return fail(-EINVAL, err, errcap, "line %u: prefer is native or module, not '%s'",
			            lineno, printable(v, vn, shown, sizeof(shown)));
		break;
	}
	return 0;
}

int config_parse(const char *text, size_t len, struct imzad_config *c, char *err, size_t errcap)
{
	/* Parsed into a copy: a broken file leaves *c as it was. */
	struct imzad_config next = *c;
	unsigned seen[KEY_COUNT] = {0};
	unsigned lineno = 0;
	size_t pos = 0;
	int r;

	if (text == NULL && len > 0)
		return fail(-EINVAL, err, errcap, "no text");
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		lineno++;
		if (n > CONFIG_LINE_MAX)
			return fail(-EINVAL, err, errcap, "line %u: longer than %d bytes", lineno,
			            CONFIG_LINE_MAX);
		if (memchr(line, '\0', n))
			return fail(-EINVAL, err, errcap, "line %u: contains a NUL byte", lineno);
		r = parse_line(line, n, lineno, &next, seen, err, errcap);
		if (r < 0)
			return r;
		pos += n + (nl ? 1 : 0);
	}
	*c = next;
	return 0;
}

int config_load(const char *path, struct imzad_config *c, char *err, size_t errcap)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO in the file's place must not hang imzad's start; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			fail(r, err, errcap, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		r = fail(r, err, errcap, "%s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = fail(-EINVAL, err, errcap, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		r = fail(-EFBIG, err, errcap, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto out;
	}
	/* One byte more than the cap: a file that grew since fstat is caught by the read. */
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		r = fail(-ENOMEM, err, errcap, "%s: out of memory", path);
		goto out;
	}
	r = privdir_read_all(fd, buf, CONFIG_FILE_MAX, &len);
	if (r == -EFBIG)
		r = fail(-EFBIG, err, errcap, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
	else if (r < 0)
		r = fail(r, err, errcap, "%s: %s", path, strerror(-r));
	else
		r = config_parse(buf, len, c, err, errcap);
out:
	free(buf);
	close(fd);
	return r;
}

int config_dir_default(char *out, size_t cap)
{
	return proto_xdg_dir("XDG_CONFIG_HOME", NULL, ".config", out, cap);
}
