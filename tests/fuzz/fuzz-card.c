/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: hostile card answers. The input is a sequence of responses (2-byte big-endian length,
 * then the bytes) that a scripted transport hands to the PIV driver as it selects the applet, reads the
 * token, asks the PIN status and signs. Whatever the card says, the driver must return an error or a
 * token, never crash, loop or read past a buffer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "daemon/card/card.h"
#include "daemon/card/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t left;
};

static int fed(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	struct feed *f = ctx;
	size_t n;

	(void)cmd;
	(void)len;
	if (f->left < 2)
		return CARD_E_REMOVED;
	n = (size_t)f->p[0] << 8 | f->p[1];
	f->p += 2;
	f->left -= 2;
	if (n > f->left)
		n = f->left;
	if (n > *resp_len)
		n = *resp_len;
	memcpy(resp, f->p, n);
	*resp_len = n;
	f->p += n;
	f->left -= n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed f = {data, size};
	struct apdu_transport t = {.transmit = fed, .ctx = &f};
	struct token *tok = NULL;
	struct card_pin_status ps;
	uint8_t in[256] = {0}, out[1024];
	size_t outlen;
	int tries;

	if (piv_driver.probe(&t) != 0)
		return 0;
	if (piv_driver.read_token(&t, &tok) == 0) {
		for (size_t i = 0; i < tok->nobjs; i++)
			if (tok->objs[i].cls == CKO_PRIVATE_KEY)
				piv_driver.private_op(&t, &tok->objs[i].key, NULL, in, tok->objs[i].key.size,
				                      out, sizeof(out), &outlen);
		token_free(tok);
	}
	piv_driver.pin_status(&t, &ps);
	piv_driver.verify(&t, (const uint8_t *)"123456", 6, &tries);
	return 0;
}
