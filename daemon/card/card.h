/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The card driver interface: what imzad needs from any card, whatever speaks to it underneath (PIV over
 * APDUs now; a vendor PKCS#11 module later). Every call runs on the reader's worker thread. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/card/apdu.h"
#include "daemon/card/pin.h"
#include "daemon/card/token.h"

/* Error codes beyond errno that drivers return. */
#define CARD_E_PIN_INCORRECT (-EKEYREJECTED)
#define CARD_E_PIN_LOCKED (-EKEYREVOKED)
#define CARD_E_NOT_LOGGED_IN (-EACCES)
#define CARD_E_REMOVED (-ENODEV)
/* A PIN the card cannot hold (length, alphabet): refused before the card sees it, so it costs no try. */
#define CARD_E_PIN_FORMAT (-ERANGE)
/* A PIN or PUK of the right length with a character the card cannot hold (pin.c's pin_format): no try. */
#define CARD_E_PIN_INVALID (-EILSEQ)
/* mech_op: the module refused the mechanism or its parameters at its Init (nothing was done with the
 * key). */
#define CARD_E_MECH_REFUSED (-ENOPROTOOPT)

/* The two secrets a card's holder knows. */
enum card_ref { CARD_REF_PIN, CARD_REF_PUK };

struct card_pin_status {
	bool verified;
	int tries_left; /* -1 unknown */
	int tries_max;
};

/* A mechanism for a vendor module's private-key operation, as the application gave it or as imza
 * composed it (mech-module.h), its parameters in host form and copied (the OAEP label, a vendor
 * mechanism's bytes: at most CARD_MECH_PARAM_MAX). */
#define CARD_MECH_PARAM_MAX 512
enum card_mech_param { CARD_MECH_NONE, CARD_MECH_PSS, CARD_MECH_OAEP, CARD_MECH_BYTES };
struct card_mech {
	CK_MECHANISM_TYPE type;
	enum card_mech_param param;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_RSA_PKCS_OAEP_PARAMS oaep; /* its pSourceData is bytes below when given (unused here) */
	uint8_t bytes[CARD_MECH_PARAM_MAX];
	size_t bytes_len;
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
	/* Whether puk has the length and alphabet of this card's PUK; NULL: the card has no PUK for imza. */
	bool (*puk_ok)(const uint8_t *puk, size_t len);
	/* Lengths (bytes) of the PIN and the PUK: a value outside them is CKR_PIN_LEN_RANGE, one inside that
	 * pin_ok/puk_ok refuses is CKR_PIN_INVALID (pin_format); 0: not known. */
	uint8_t pin_min, pin_max, puk_min, puk_max;
	int (*verify)(struct apdu_transport *t, const uint8_t *pin, size_t len, int *ret_tries);
	/* Changes the PIN or the PUK from old to new (PIV: CHANGE REFERENCE DATA); *ret_tries is that
	 * secret's count after a wrong old value (-1 unknown). NULL: not through imza. */
	int (*change_ref)(struct apdu_transport *t, enum card_ref ref, const uint8_t *old, size_t oldlen,
	                  const uint8_t *new, size_t newlen, int *ret_tries);
	/* Sets a new PIN and fills its counter, with the PUK (PIV: RESET RETRY COUNTER); *ret_tries is the
	 * PUK's count after a wrong PUK. NULL: not through imza. */
	int (*unblock_pin)(struct apdu_transport *t, const uint8_t *puk, size_t puklen, const uint8_t *pin,
	                   size_t pinlen, int *ret_tries);
	int (*pin_status)(struct apdu_transport *t, struct card_pin_status *ret);
	/* Forgets the card's login state (PIV: VERIFY P1=FF). */
	int (*logout)(struct apdu_transport *t);
	/* Raw private-key operation with the key of obj: RSA (in is modulus-sized; out the raw result) or
	 * ECDSA (in is the field-sized hash; out the DER signature). pin: the PIN given for this one
	 * operation (PKCS#11's context-specific login, or the signing window's PIN), or NULL. A key that
	 * needs the PIN at each use takes it here when its card wants it inside the operation (a vendor
	 * module: its own C_Login(CKU_CONTEXT_SPECIFIC) between C_SignInit and C_Sign); PIV's 9C had its
	 * VERIFY just before, and ignores it. The driver never keeps it. */
	int (*private_op)(struct apdu_transport *t, const struct token_key_info *key,
	                  const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out,
	                  size_t cap, size_t *ret_len);
	/* Raw RSA decryption, for a driver whose card tells signing and decryption apart (a vendor
	 * module's key has CKA_SIGN and CKA_DECRYPT). NULL: private_op serves both. */
	int (*decrypt_op)(struct apdu_transport *t, const struct token_key_info *key,
	                  const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out,
	                  size_t cap, size_t *ret_len);
	/* A signature (decrypt false) or decryption with mechanism m through a vendor module: in is the
	 * module's input (the application's data, or what imza made of it), out its output as the module
	 * gives it (an RSA signature, ECDSA's r || s, the plaintext). A refusal of the module's own (its
	 * C_*Init or operation failed) leaves its CK_RV in *ret_rv, for the application. NULL: only the raw
	 * operations above. */
	int (*mech_op)(struct apdu_transport *t, bool decrypt, const struct token_key_info *key,
	               const struct card_mech *m, const struct pin_secret *pin, const uint8_t *in,
	               size_t inlen, uint8_t *out, size_t cap, size_t *ret_len, CK_RV *ret_rv);
	/* ECDH with the EC key of key and the peer's uncompressed point (checked on the key's curve
	 * before): out gets the shared secret's x-coordinate (field-sized). NULL: not through imza. */
	int (*derive_op)(struct apdu_transport *t, const struct token_key_info *key, const uint8_t *point,
	                 size_t plen, uint8_t *out, size_t cap, size_t *ret_len);
	/* len random bytes from the card's generator. NULL: the card has none that imza uses. */
	int (*random)(struct apdu_transport *t, uint8_t *out, size_t len);
	/* Right after a right PIN, in the same job: the keyrefs of the keys that need the PIN at each use,
	 * for a card that shows this only to a logged-in user (a vendor module's private keys and their
	 * CKA_ALWAYS_AUTHENTICATE); at most cap. NULL: the token said it when it was read (PIV's 9C). */
	int (*pin_always_keys)(struct apdu_transport *t, uint8_t *keyrefs, size_t cap, size_t *ret_n);
};

extern const struct card_driver piv_driver;
