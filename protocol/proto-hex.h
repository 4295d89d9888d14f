/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hex digits, as every text interface of imza writes identifiers (certificate ids, card ids, APDUs). */
#ifndef IMZA_PROTO_HEX_H
#define IMZA_PROTO_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
int proto_hex_digit(int c);
/* Writes the n bytes of p as 2 * n lower-case hex digits and a NUL into out (2 * n + 1 bytes). */
void proto_hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly 2 * n hex digits of s into out: 0, or -EINVAL at the first other character. */
int proto_hex_decode(const char *s, uint8_t *out, size_t n);

#endif
