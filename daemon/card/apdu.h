/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ISO 7816-4 APDU layer shared by the card drivers: encodes short or extended commands, chains long
 * data, follows 61xx with GET RESPONSE and 6Cxx with a corrected Le, and bounds every response. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest response the layer assembles from 61xx pieces; drivers pass smaller caps. */
#define APDU_RESP_MAX (64 * 1024)
/* Le = APDU_LE_MAX asks for "all available" (short 00, extended 0000). */
#define APDU_LE_MAX 65536

/* Whether the card takes extended-length APDUs. Zero is "no": a transport says otherwise. */
enum apdu_ext { APDU_EXT_NO = 0, APDU_EXT_UNKNOWN, APDU_EXT_YES };

struct apdu_transport {
	/* Sends one APDU as encoded and writes the response (data + SW1 SW2). *resp_len is the
	 * buffer size on entry. Returns 0 or a negative errno (-ENODEV card gone, -EIO). */
	int (*transmit)(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp, size_t *resp_len);
	void *ctx;
	enum apdu_ext ext;        /* UNKNOWN: the first command that needs it finds out */
	unsigned long apdu_count; /* APDUs sent, for metrics and tests */
};

struct apdu_cmd {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t le; /* 0: no Le field; APDU_LE_MAX: all available */
};

/* Runs one command; the response data goes to out (up to cap bytes), the final status word to
 * *ret_sw. Data beyond cap is an error (-EMSGSIZE), not truncated. Chaining steps that do not answer
 * 9000 end the exchange with that status word. A command too long for a short APDU goes out extended
 * when the card takes that; while unknown, one try tells (6700/6D00/6E00: chain from then on). Commands
 * that fit a short APDU (VERIFY) are never sent twice. */
int apdu_exchange(struct apdu_transport *t, const struct apdu_cmd *c, uint8_t *out, size_t cap,
                  size_t *ret_len, uint16_t *ret_sw);

/* Encodes one command without chaining; returns the length or a negative errno. */
int apdu_encode(const struct apdu_cmd *c, bool extended, uint8_t *out, size_t cap, size_t *ret_len);
