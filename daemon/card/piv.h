/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PIV card driver (NIST SP 800-73-4) over the APDU layer: select the applet, read the CHUID and the
 * certificate objects, verify and reset the PIN, and run GENERAL AUTHENTICATE for RSA and EC keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/card/apdu.h"

#define PIV_ALG_RSA2048 0x07
#define PIV_ALG_ECC256 0x11
#define PIV_ALG_ECC384 0x14
#define PIV_PIN_REF 0x80
#define PIV_PUK_REF 0x81
#define PIV_PIN_MAX 8
#define PIV_GUID_LEN 16
/* Largest object we read: certificates of 2048-bit RSA keys are ~1-2 KiB; 9 KiB leaves room. */
#define PIV_OBJECT_MAX (9 * 1024)

struct piv_slot {
	uint8_t keyref;    /* 9A, 9C, 9D, 9E */
	uint32_t cert_tag; /* 5FC105 ... */
	uint8_t id;        /* CKA_ID as OpenSC numbers them: 01..04 */
	bool pin_always;   /* 9C: PIN verified right before each use */
	bool needs_pin;    /* 9E needs none */
	const char *label; /* "PIV AUTH key" ... */
	const char *cert_label;
};

extern const struct piv_slot piv_slots[4];

/* Status words become these negative codes. */
#define PIV_E_NOT_FOUND (-ENOENT)           /* 6A82 */
#define PIV_E_NOT_LOGGED_IN (-EACCES)       /* 6982 */
#define PIV_E_PIN_INCORRECT (-EKEYREJECTED) /* 63Cx */
#define PIV_E_PIN_LOCKED (-EKEYREVOKED)     /* 6983 / 63C0 */

int piv_select(struct apdu_transport *t);
/* Reads the object with the given tag; writes the contents of its 53 wrapper to out. */
int piv_get_object(struct apdu_transport *t, uint32_t tag, uint8_t *out, size_t cap, size_t *ret_len);
int piv_read_guid(struct apdu_transport *t, uint8_t ret_guid[PIV_GUID_LEN]);
/* Reads a slot's certificate DER; PIV_E_NOT_FOUND when the slot is empty. */
int piv_read_cert(struct apdu_transport *t, const struct piv_slot *slot, uint8_t *out, size_t cap,
                  size_t *ret_len);
/* VERIFY. On PIV_E_PIN_INCORRECT *ret_tries holds the tries left (when the card says). */
int piv_verify(struct apdu_transport *t, const uint8_t *pin, size_t len, int *ret_tries);
/* CHANGE REFERENCE DATA of ref (PIV_PIN_REF or PIV_PUK_REF) from old to new, and RESET RETRY COUNTER of
 * the PIN with the PUK: each value 1 to 8 bytes (FF-padded here). On PIV_E_PIN_INCORRECT/LOCKED
 * *ret_tries holds the tries left of the value checked (the old PIN, the PUK); -ERANGE when the card
 * refuses the new value's format. */
int piv_change_reference(struct apdu_transport *t, uint8_t ref, const uint8_t *old, size_t oldlen,
                         const uint8_t *new, size_t newlen, int *ret_tries);
int piv_reset_retry(struct apdu_transport *t, const uint8_t *puk, size_t puklen, const uint8_t *pin,
                    size_t pinlen, int *ret_tries);
/* Empty VERIFY: 0 with *ret_verified set, and the tries left when not verified (-1 unknown). */
int piv_pin_status(struct apdu_transport *t, bool *ret_verified, int *ret_tries);
/* VERIFY P1=FF: forgets the PIN's verified state on the card. */
int piv_reset_security(struct apdu_transport *t);
/* GENERAL AUTHENTICATE with 7C{82 00, 81 in}: raw RSA (in is modulus-sized) or ECDSA over a hash
 * (out is the DER ECDSA-Sig-Value the card returns). */
/* len random bytes from the card (GENERAL AUTHENTICATE challenge to 9B); no PIN needed. */
int piv_challenge(struct apdu_transport *t, uint8_t *out, size_t len);
/* GENERAL AUTHENTICATE with the input in tag (81: a challenge to sign or a block to decrypt; 85: the
 * peer's point for ECDH); out gets the response (82). */
int piv_general_auth_tag(struct apdu_transport *t, uint8_t alg, uint8_t keyref, uint8_t tag,
                         const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *ret_len);
int piv_general_auth(struct apdu_transport *t, uint8_t alg, uint8_t keyref, const uint8_t *in, size_t inlen,
                     uint8_t *out, size_t cap, size_t *ret_len);
const struct piv_slot *piv_slot_by_keyref(uint8_t keyref);
