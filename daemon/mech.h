/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's half of each signing and decryption mechanism: the card only does raw RSA or ECDSA over a
 * prepared input, so hashing, PKCS#1 v1.5 and PSS encoding, ECDSA signature format and PKCS#1
 * decryption unpadding happen here, with OpenSSL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

enum mech_family {
	MECH_RSA_PKCS, /* PKCS#1 v1.5 signature; without a digest the input is a DigestInfo */
	MECH_RSA_PSS,  /* EMSA-PSS; without a digest the input is the hash */
	MECH_ECDSA,    /* without a digest the input is the hash */
};

struct mech_desc {
	CK_MECHANISM_TYPE type;
	enum mech_family family;
	const char *digest; /* OpenSSL digest name, or NULL: the caller hashed already */
};

struct mech_pss {
	CK_MECHANISM_TYPE hash; /* CKM_SHA256 ... */
	CK_RSA_PKCS_MGF_TYPE mgf;
	size_t salt_len;
};

/* The signing mechanisms imza offers, for C_GetMechanismList. */
extern const struct mech_desc mech_sign_table[];
extern const size_t mech_sign_count;

const struct mech_desc *mech_find(CK_MECHANISM_TYPE type);
/* OpenSSL digest name of a CKM_SHA* hash mechanism, or NULL. */
const char *mech_hash_name(CK_MECHANISM_TYPE hash);
/* The same for CKG_MGF1_* */
const char *mech_mgf_name(CK_RSA_PKCS_MGF_TYPE mgf);

/* Builds the modulus-sized block that the card's raw RSA operation turns into the signature.
 * data is the message (hashing mechanisms) or the hash/DigestInfo (raw ones). */
int mech_rsa_block(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *data, size_t len,
                   uint8_t *block, size_t modlen);
/* The same for a hashing mechanism whose digest the caller computed (multi-part operations). */
int mech_block_from_hash(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *hash,
                         size_t hlen, uint8_t *out, size_t size);
/* Builds the curve-sized input for the card's ECDSA (hash truncated or left-padded). */
int mech_ec_input(const struct mech_desc *m, const uint8_t *data, size_t len, uint8_t *out, size_t fieldlen);
/* Converts the card's DER ECDSA-Sig-Value to PKCS#11's r || s, each fieldlen bytes. */
int mech_ec_der_to_raw(const uint8_t *der, size_t len, uint8_t *out, size_t fieldlen);
/* Strips PKCS#1 v1.5 type 2 padding from a raw RSA decryption result. */
int mech_rsa_unpad_pkcs1(const uint8_t *block, size_t modlen, uint8_t *out, size_t cap, size_t *ret_len);
