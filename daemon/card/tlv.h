/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BER-TLV reading for card data (PIV objects, templates): bounded, never trusts a length before
 * checking it against the bytes that are left. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct tlv {
	uint32_t tag; /* tag bytes as written, e.g. 0x5FC102, 0x7C */
	const uint8_t *value;
	size_t len;
};

/* Reads the next TLV at *buf, advancing *buf and *left past it. -EBADMSG on malformed input,
 * -ENOENT when nothing is left. Tags of up to 3 bytes, lengths of up to 3 length bytes. */
int tlv_next(const uint8_t **buf, size_t *left, struct tlv *ret);

/* Finds the first TLV with tag among the siblings in buf (no descent). -ENOENT when absent. */
int tlv_find(const uint8_t *buf, size_t len, uint32_t tag, struct tlv *ret);

/* Writes a BER length; returns the bytes written (1-4) or 0 if cap is too small. */
size_t tlv_put_len(uint8_t *out, size_t cap, size_t len);

/* Writes tag + length + value; returns the bytes written or 0 if cap is too small. */
size_t tlv_put(uint8_t *out, size_t cap, uint32_t tag, const uint8_t *value, size_t len);
