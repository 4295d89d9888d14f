/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes seed inputs for fuzz-card: the virtual card's real answers to the PIV driver, recorded in the
 * fuzz target's format. Usage: gen-card-corpus CARD_DIR OUT_FILE */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/card/card.h"
#include "tests/vcard/piv.h"

static FILE *out;

static int recorded(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	size_t n = piv_card_apdu(ctx, cmd, len, resp, *resp_len);

	fputc((int)(n >> 8), out);
	fputc((int)(n & 0xFF), out);
	fwrite(resp, 1, n, out);
	*resp_len = n;
	return 0;
}

int main(int argc, char **argv)
{
	struct piv_card *card;
	struct token *tok;
	struct card_pin_status ps;
	uint8_t in[256] = {0}, sig[1024];
	size_t siglen;
	int tries;

	if (argc != 3 || piv_card_load(&card, argv[1]) < 0 || (out = fopen(argv[2], "wb")) == NULL) {
		fprintf(stderr, "usage: gen-card-corpus CARD_DIR OUT_FILE\n");
		return 2;
	}
	struct apdu_transport t = {.transmit = recorded, .ctx = card};
	piv_driver.probe(&t);
	if (piv_driver.read_token(&t, &tok) == 0) {
		for (size_t i = 0; i < tok->nobjs; i++)
			if (tok->objs[i].cls == CKO_PRIVATE_KEY)
				piv_driver.private_op(&t, &tok->objs[i].key, NULL, in, tok->objs[i].key.size,
				                      sig, sizeof(sig), &siglen);
		token_free(tok);
	}
	piv_driver.pin_status(&t, &ps);
	piv_driver.verify(&t, (const uint8_t *)"123456", 6, &tries);
	fclose(out);
	piv_card_free(card);
	return 0;
}
