/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes seed blobs for fuzz-token-store: the virtual card's token as the cache stores it.
 * Usage: gen-token-corpus CARD_DIR OUT_FILE */
#include <stdio.h>

#include "daemon/card/card.h"
#include "daemon/store/token-store.h"
#include "tests/vcard/piv.h"

static int apdu(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	*resp_len = piv_card_apdu(ctx, cmd, len, resp, *resp_len);
	return 0;
}

int main(int argc, char **argv)
{
	struct proto_buf w = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB);
	struct piv_card *card;
	struct token *tok;
	FILE *f;

	if (argc != 3 || piv_card_load(&card, argv[1]) < 0)
		return 2;
	struct apdu_transport t = {.transmit = apdu, .ctx = card};
	if (piv_driver.probe(&t) < 0 || piv_driver.read_token(&t, &tok) < 0 || token_serialize(tok, &w) < 0)
		return 1;
	f = fopen(argv[2], "wb");
	if (f == NULL || fwrite(w.data, 1, w.len, f) != w.len)
		return 1;
	fclose(f);
	token_free(tok);
	proto_buf_free(&w);
	piv_card_free(card);
	return 0;
}
