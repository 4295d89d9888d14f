/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The card driver interface: what imzad needs from any card, whatever speaks to it underneath (PIV over
 * APDUs now; a vendor PKCS#11 module later). Every call runs on the reader's worker thread. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/card/apdu.h"
#include "daemon/card/token.h"

/* Error codes beyond errno that drivers return. */
#define CARD_E_PIN_INCORRECT (-EKEYREJECTED)
#define CARD_E_PIN_LOCKED (-EKEYREVOKED)
#define CARD_E_NOT_LOGGED_IN (-EACCES)
#define CARD_E_REMOVED (-ENODEV)
/* A PIN the card cannot hold (length, alphabet): refused before the card sees it, so it costs no try. */
#define CARD_E_PIN_FORMAT (-ERANGE)

struct card_pin_status {
	bool verified;
	int tries_left; /* -1 unknown */
	int tries_max;
};

struct card_driver {
	const char *name;
	/* Selects the application; 0 if this driver serves the card, -ENOENT if not. */
	int (*probe)(struct apdu_transport *t);
	/* The card's identity, as cheaply as the card allows (PIV: the GUID from the CHUID): the key under
	 * which a known card's token is cached. */
	int (*read_identity)(struct apdu_transport *t, uint8_t *id, size_t cap, size_t *ret_len);
	/* Reads the card's identity and objects; the token carries the identity (driver, id). */
	int (*read_token)(struct apdu_transport *t, struct token **ret_token);
	/* Reads the card as read_token does and compares it with cached, a token this driver made earlier:
	 * 0 with *ret_fresh NULL when the card holds what cached was made from (nothing is parsed), 0 with a
	 * new token when it differs. NULL: the check uses read_token. */
	int (*check_token)(struct apdu_transport *t, const struct token *cached, struct token **ret_fresh);
	/* Whether pin has the length and alphabet of this card's PIN (PIV: 6 to 8 digits). No card I/O: a PIN
	 * that fails it never reaches the card. NULL: any PIN goes to verify. */
	bool (*pin_ok)(const uint8_t *pin, size_t len);
	int (*verify)(struct apdu_transport *t, const uint8_t *pin, size_t len, int *ret_tries);
	int (*pin_status)(struct apdu_transport *t, struct card_pin_status *ret);
	/* Forgets the card's login state (PIV: VERIFY P1=FF). */
	int (*logout)(struct apdu_transport *t);
	/* Raw private-key operation with the key of obj: RSA (in is modulus-sized; out the raw result) or
	 * ECDSA (in is the field-sized hash; out the DER signature). */
	int (*private_op)(struct apdu_transport *t, const struct token_key_info *key, const uint8_t *in,
	                  size_t inlen, uint8_t *out, size_t cap, size_t *ret_len);
	/* Raw RSA decryption, for a driver whose card tells signing and decryption apart (a vendor
	 * module's key has CKA_SIGN and CKA_DECRYPT). NULL: private_op serves both. */
	int (*decrypt_op)(struct apdu_transport *t, const struct token_key_info *key, const uint8_t *in,
	                  size_t inlen, uint8_t *out, size_t cap, size_t *ret_len);
	/* len random bytes from the card's generator. NULL: the card has none that imza uses. */
	int (*random)(struct apdu_transport *t, uint8_t *out, size_t len);
};

extern const struct card_driver piv_driver;
