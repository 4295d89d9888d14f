/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hex digits (proto-hex.h). */
#include <errno.h>

#include "proto-hex.h"

int proto_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int proto_hex_decode(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = proto_hex_digit((unsigned char)s[2 * i]), lo;

		/* hi first: a NUL ends the string before s[2i + 1] is read. */
		if (hi < 0 || (lo = proto_hex_digit((unsigned char)s[2 * i + 1])) < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void proto_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}
