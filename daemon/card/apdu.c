/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ISO 7816-4 APDU transport for the card drivers (see apdu.h). Every length that comes from the card is
 * checked against the caller's buffer before it is copied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/card/apdu.h"

#define SHORT_LC_MAX 255
/* A card that keeps answering 61xx or 6Cxx forever must not keep us here. */
#define MAX_STEPS 512

int apdu_encode(const struct apdu_cmd *c, bool extended, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = 0, need;
	bool ext = extended && (c->lc > SHORT_LC_MAX || c->le > 256);

	if (c->lc > 65535 || c->le > APDU_LE_MAX || (c->lc > 0 && c->data == NULL))
		return -EINVAL;
	if (!ext && (c->lc > SHORT_LC_MAX || c->le > 256))
		return -E2BIG;
	need = 4 + (c->lc ? (ext ? 3 : 1) + c->lc : 0) + (c->le ? (ext ? (c->lc ? 2 : 3) : 1) : 0);
	if (need > cap)
		return -ENOBUFS;
	out[n++] = c->cla;
	out[n++] = c->ins;
	out[n++] = c->p1;
	out[n++] = c->p2;
	if (c->lc > 0) {
		if (ext) {
			out[n++] = 0;
			out[n++] = (uint8_t)(c->lc >> 8);
		}
		out[n++] = (uint8_t)c->lc;
		memcpy(out + n, c->data, c->lc);
		n += c->lc;
	}
	if (c->le > 0) {
		size_t le = c->le == APDU_LE_MAX || (!ext && c->le == 256) ? 0 : c->le;

		if (ext) {
			if (c->lc == 0)
				out[n++] = 0;
			out[n++] = (uint8_t)(le >> 8);
		}
		out[n++] = (uint8_t)le;
	}
	*ret_len = n;
	return 0;
}

/* One transmit: resp gets data + SW; returns the data length via *ret_len and SW via *ret_sw. */
static int transmit_one(struct apdu_transport *t, const struct apdu_cmd *c, bool ext, uint8_t *resp,
                        size_t rcap, size_t *ret_len, uint16_t *ret_sw)
{
	uint8_t cmd[4 + 3 + 65535 + 3];
	size_t clen, rlen = rcap;
	int r;

	r = apdu_encode(c, ext, cmd, sizeof(cmd), &clen);
	if (r < 0)
		return r;
	t->apdu_count++;
	r = t->transmit(t->ctx, cmd, clen, resp, &rlen);
	/* The command may have carried a PIN. */
	explicit_bzero(cmd, clen);
	if (r < 0)
		return r;
	if (rlen < 2 || rlen > rcap)
		return -EPROTO;
	*ret_sw = (uint16_t)(resp[rlen - 2] << 8 | resp[rlen - 1]);
	*ret_len = rlen - 2;
	return 0;
}

#define RESP_MAX (APDU_LE_MAX + 2)

static int exchange_in(struct apdu_transport *t, const struct apdu_cmd *c, bool ext, uint8_t *resp,
                       size_t rcap, uint8_t *out, size_t cap, size_t *ret_len, uint16_t *ret_sw)
{
	struct apdu_cmd step = *c;
	size_t total = 0, len;
	uint16_t sw;
	int r, steps = 0;

	/* Command chaining when the data does not fit one short APDU and the card is short-only. */
	if (!ext && c->lc > SHORT_LC_MAX) {
		size_t off = 0;

		if (c->cla & 0x10)
			return -EINVAL;
		while (c->lc - off > SHORT_LC_MAX) {
			struct apdu_cmd part = {.cla = (uint8_t)(c->cla | 0x10),
			                        .ins = c->ins,
			                        .p1 = c->p1,
			                        .p2 = c->p2,
			                        .data = c->data + off,
			                        .lc = SHORT_LC_MAX};

			r = transmit_one(t, &part, false, resp, rcap, &len, &sw);
			if (r < 0)
				return r;
			if (sw != 0x9000) {
				*ret_len = 0;
				*ret_sw = sw;
				return 0;
			}
			off += SHORT_LC_MAX;
		}
		step.data = c->data + off;
		step.lc = c->lc - off;
	}
	if (!ext && step.le > 256)
		step.le = 256;

	for (;;) {
		if (++steps > MAX_STEPS)
			return -EPROTO;
		r = transmit_one(t, &step, ext, resp, rcap, &len, &sw);
		if (r < 0)
			return r;
		if ((sw >> 8) == 0x6C && step.ins != 0xC0 && steps == 1) {
			/* Wrong Le: the card says how many bytes it has; ask again once with that. */
			step.le = (sw & 0xFF) ? (sw & 0xFF) : 256;
			continue;
		}
		if (len > cap - total)
			return -EMSGSIZE;
		memcpy(out + total, resp, len);
		total += len;
		if ((sw >> 8) != 0x61)
			break;
		/* More data waiting: GET RESPONSE for it. */
		step = (struct apdu_cmd){
		        .cla = (uint8_t)(c->cla & ~0x10), .ins = 0xC0, .le = (sw & 0xFF) ? (sw & 0xFF) : 256};
	}
	*ret_len = total;
	*ret_sw = sw;
	return 0;
}

/* The response buffer is the exchange's own, in heap: a buffer per thread (_Thread_local) would be zeroed
 * and kept resident in every thread of imzad, not only in the readers' that use it. It is as large as
 * one answer that fits the caller's cap can be (a larger one is an error either way), at least a
 * GET RESPONSE piece: a signature's 1 KiB rather than 64 KiB. A 64 KiB block came from mmap (imzad
 * sets the threshold at 32 KiB) with its page faults, its wipe and the unmap's TLB shootdown in every
 * APDU: most of a signature's CPU in imzad's reader thread. */
static int exchange(struct apdu_transport *t, const struct apdu_cmd *c, bool ext, uint8_t *out, size_t cap,
                    size_t *ret_len, uint16_t *ret_sw)
{
	size_t rcap = (cap > 256 ? cap : 256) + 2;
	uint8_t *resp;
	int r;

	if (rcap > RESP_MAX)
		rcap = RESP_MAX;
	resp = malloc(rcap);
	if (resp == NULL)
		return -ENOMEM;
	r = exchange_in(t, c, ext, resp, rcap, out, cap, ret_len, ret_sw);
	/* Responses carry decrypted data and signatures. */
	explicit_bzero(resp, rcap);
	free(resp);
	return r;
}

int apdu_exchange(struct apdu_transport *t, const struct apdu_cmd *c, uint8_t *out, size_t cap,
                  size_t *ret_len, uint16_t *ret_sw)
{
	bool wants_ext = c->lc > SHORT_LC_MAX || c->le > 256;
	int r;

	if (!wants_ext || t->ext == APDU_EXT_NO)
		return exchange(t, c, false, out, cap, ret_len, ret_sw);
	if (t->ext == APDU_EXT_YES)
		return exchange(t, c, true, out, cap, ret_len, ret_sw);
	r = exchange(t, c, true, out, cap, ret_len, ret_sw);
	if (r < 0)
		return r;
	if (*ret_sw == 0x6700 || *ret_sw == 0x6D00 || *ret_sw == 0x6E00) {
		t->ext = APDU_EXT_NO;
		return exchange(t, c, false, out, cap, ret_len, ret_sw);
	}
	t->ext = APDU_EXT_YES;
	return 0;
}
