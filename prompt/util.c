/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt's rules without a window (see util.h). Nothing here allocates from a peer's count before
 * checking it, and nothing reads past the lengths given. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <glib.h>
#include <openssl/evp.h>

#include "daemon/ui/visible.h"
#include "prompt/util.h"
#include "protocol/proto-hex.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void prompt_unescape(char *s, size_t *ret_len)
{
	size_t i = 0, o = 0;

	while (s[i] != '\0') {
		int hi, lo;

		if (s[i] == '%' && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			s[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	if (ret_len)
		*ret_len = o;
}

bool prompt_site_of_origin(const char *origin, const char *site)
{
	const char *host, *end;
	size_t hn, sn;

	if (origin == NULL || site == NULL || site[0] == '\0')
		return false;
	host = strstr(origin, "://");
	if (host == NULL)
		return false;
	host += 3;
	/* An IPv6 literal is its own site, brackets and all. */
	if (host[0] == '[')
		end = strchr(host, ']') ? strchr(host, ']') + 1 : NULL;
	else
		end = host + strcspn(host, ":/");
	if (end == NULL)
		return false;
	hn = (size_t)(end - host);
	sn = strlen(site);
	if (sn > hn || memcmp(end - sn, site, sn) != 0)
		return false;
	return sn == hn || end[-(ptrdiff_t)sn - 1] == '.';
}

int prompt_text_pieces(const uint8_t *doc, size_t len, prompt_piece_fn fn, void *opaque)
{
	size_t i = 0, run = 0;
	int r;

	while (i < len) {
		int32_t cp;
		size_t k = visible_next(doc + i, len - i, &cp);
		char marker[VISIBLE_MARKER_MAX + 1];
		struct prompt_piece p = {0};

		if (cp >= 0 && !visible_hidden((uint32_t)cp)) {
			i += k;
			continue;
		}
		if (i > run) {
			p.text = (const char *)doc + run;
			p.len = i - run;
			r = fn(&p, opaque);
			if (r)
				return r;
		}
		visible_marker(doc + i, cp, marker);
		p = (struct prompt_piece){.marker = marker};
		r = fn(&p, opaque);
		if (r)
			return r;
		i += k;
		run = i;
	}
	if (len > run) {
		struct prompt_piece p = {.text = (const char *)doc + run, .len = len - run};

		return fn(&p, opaque);
	}
	return 0;
}

char *prompt_hex_dump(const uint8_t *doc, size_t len)
{
	GString *s = g_string_sized_new(len / 16 * 70 + 80);

	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		g_string_append_printf(s, "%08zx ", off);
		for (size_t i = 0; i < 16; i++) {
			if (i % 2 == 0)
				g_string_append_c(s, ' ');
			if (i < n)
				g_string_append_printf(s, "%02x", doc[off + i]);
			else
				g_string_append(s, "  ");
		}
		g_string_append(s, "  |");
		for (size_t i = 0; i < n; i++)
			g_string_append_c(s, doc[off + i] >= 0x20 && doc[off + i] < 0x7f ? (char)doc[off + i]
			                                                                 : '.');
		g_string_append(s, "|\n");
	}
	return g_string_free(s, FALSE);
}

/* An unbiased draw in 0..bound-1: values past the last whole multiple of bound are drawn again. */
static int random_below(uint32_t bound, uint32_t *ret)
{
	uint32_t limit = UINT32_MAX - UINT32_MAX % bound, v;

	for (;;) {
		ssize_t n = getrandom(&v, sizeof(v), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(v))
			return n < 0 ? -errno : -EIO;
		/* Rejection keeps every residue equally likely. */
		if (v < limit)
			break;
	}
	*ret = v % bound;
	return 0;
}

void prompt_plain_digits(char digits[10])
{
	memcpy(digits, "1234567890", 10);
}

int prompt_shuffle_digits(char digits[10])
{
	char d[10];

	memcpy(d, "0123456789", 10);
	for (uint32_t i = 9; i > 0; i--) {
		uint32_t j = 0; /* set by random_below on success; gcc -O2 cannot see it */
		char t;
		int r = random_below(i + 1, &j);

		if (r < 0)
			return r;
		t = d[i];
		d[i] = d[j];
		d[j] = t;
	}
	memcpy(digits, d, 10);
	return 0;
}

static int sha256(const uint8_t *data, size_t len, uint8_t md[32])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -ENOMEM;
}

int prompt_sha256_hex(const uint8_t *data, size_t len, char hex[static 65])
{
	uint8_t md[32];

	if (sha256(data, len, md) < 0)
		return -ENOMEM;
	proto_hex_encode(md, sizeof(md), hex);
	return 0;
}

int prompt_fingerprint(const uint8_t *der, size_t len, char out[static 96])
{
	static const char digits[] = "0123456789ABCDEF";
	uint8_t md[32];

	if (sha256(der, len, md) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < 32; i++) {
		out[3 * i] = digits[md[i] >> 4];
		out[3 * i + 1] = digits[md[i] & 15];
		out[3 * i + 2] = i == 31 ? '\0' : ':';
	}
	return 0;
}

void prompt_key_usage_text(const struct certinfo *ci, char *out, size_t cap)
{
	const char *names[8];
	size_t n = certinfo_key_usage_names(ci->has_key_usage ? ci->key_usage : 0, names, 8), o = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", names[i]);

		if (w < 0 || (size_t)w >= cap - o)
			return;
		o += (size_t)w;
	}
}

int prompt_tckn(const char *serial_number, char out[static 12])
{
	const char *s = serial_number;
	int d[11], odd, even, sum = 0;

	if (strncmp(s, "TCKN", 4) == 0)
		s += 4;
	else if (strncmp(s, "TC", 2) == 0)
		s += 2;
	if (strlen(s) != 11 || s[0] == '0')
		return -EINVAL;
	for (int i = 0; i < 11; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d[i] = s[i] - '0';
	}
	odd = d[0] + d[2] + d[4] + d[6] + d[8];
	even = d[1] + d[3] + d[5] + d[7];
	for (int i = 0; i < 10; i++)
		sum += d[i];
	if (d[9] != ((odd * 7 - even) % 10 + 10) % 10 || d[10] != sum % 10)
		return -EINVAL;
	memcpy(out, s, 11);
	out[11] = '\0';
	return 0;
}
