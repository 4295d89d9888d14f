/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BER-TLV helpers for the card drivers (see tlv.h). */
#include <errno.h>
#include <string.h>

#include "daemon/card/tlv.h"

int tlv_next(const uint8_t **buf, size_t *left, struct tlv *ret)
{
	const uint8_t *p = *buf;
	size_t n = *left, i = 0, len;
	uint32_t tag;

	if (n == 0)
		return -ENOENT;
	tag = p[i++];
	if ((tag & 0x1F) == 0x1F) {
		/* Multi-byte tag: continuation bytes have bit 8 set; we accept up to 3 tag bytes. */
		do {
			if (i >= n || i >= 3)
				return -EBADMSG;
			tag = tag << 8 | p[i];
		} while (p[i++] & 0x80);
	}
	if (i >= n)
		return -EBADMSG;
	len = p[i++];
	if (len & 0x80) {
		size_t nb = len & 0x7F;

		if (nb == 0 || nb > 3 || nb > n - i)
			return -EBADMSG;
		len = 0;
		while (nb--)
			len = len << 8 | p[i++];
	}
	if (len > n - i)
		return -EBADMSG;
	ret->tag = tag;
	ret->value = p + i;
	ret->len = len;
	*buf = p + i + len;
	*left = n - i - len;
	return 0;
}

int tlv_find(const uint8_t *buf, size_t len, uint32_t tag, struct tlv *ret)
{
	struct tlv t;
	int r;

	while ((r = tlv_next(&buf, &len, &t)) == 0) {
		if (t.tag == tag) {
			*ret = t;
			return 0;
		}
	}
	return r;
}

size_t tlv_put_len(uint8_t *out, size_t cap, size_t len)
{
	if (len < 0x80 && cap >= 1) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len <= 0xFF && cap >= 2) {
		out[0] = 0x81;
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xFFFF && cap >= 3) {
		out[0] = 0x82;
		out[1] = (uint8_t)(len >> 8);
		out[2] = (uint8_t)len;
		return 3;
	}
	return 0;
}

size_t tlv_put(uint8_t *out, size_t cap, uint32_t tag, const uint8_t *value, size_t len)
{
	size_t n = 0, l;

	if (tag > 0xFFFF) {
		if (cap < 3)
			return 0;
		out[n++] = (uint8_t)(tag >> 16);
	}
	if (tag > 0xFF) {
		if (cap - n < 2)
			return 0;
		out[n++] = (uint8_t)(tag >> 8);
	}
	if (cap - n < 1)
		return 0;
	out[n++] = (uint8_t)tag;
	l = tlv_put_len(out + n, cap - n, len);
	if (l == 0 || len > cap - n - l)
		return 0;
	n += l;
	if (len > 0)
		memmove(out + n, value, len);
	return n + len;
}
