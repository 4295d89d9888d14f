/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's half of each signing and decryption mechanism: the card only does raw RSA or ECDSA over a
 * prepared input, so hashing, PKCS#1 v1.5 and PSS encoding, ECDSA signature format and PKCS#1 and OAEP
 * decryption unpadding happen here, with OpenSSL. So do what needs no card at all: digests and the
 * verification of signatures with the card's public keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

enum mech_family {
	MECH_RSA_PKCS, /* PKCS#1 v1.5 signature; without a digest the input is a DigestInfo */
	MECH_RSA_PSS,  /* EMSA-PSS; without a digest the input is the hash */
	MECH_ECDSA,    /* without a digest the input is the hash */
	MECH_RSA_RAW,  /* CKM_RSA_X_509: verification only (and decryption, outside this table) */
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

struct mech_oaep {
	CK_MECHANISM_TYPE hash;
	CK_RSA_PKCS_MGF_TYPE mgf;
	const uint8_t *label;
	size_t label_len;
};
/* The longest OAEP label taken (PKCS#11 bounds none; a label is a short context string). */
#define MECH_OAEP_LABEL_MAX 512

/* The signing mechanisms imza offers, for C_GetMechanismList. */
extern const struct mech_desc mech_sign_table[];
extern const size_t mech_sign_count;
/* The other mechanisms: raw RSA and OAEP decryption (raw RSA verification too), software digests. */
extern const CK_MECHANISM_TYPE mech_other_table[];
extern const size_t mech_other_count;

const struct mech_desc *mech_find(CK_MECHANISM_TYPE type);
/* A signing mechanism, or CKM_RSA_X_509: what C_VerifyInit takes. */
const struct mech_desc *mech_find_verify(CK_MECHANISM_TYPE type);
/* OpenSSL digest name of a CKM_SHA* hash mechanism, or NULL. */
const char *mech_hash_name(CK_MECHANISM_TYPE hash);
/* The same for CKG_MGF1_* */
const char *mech_mgf_name(CK_RSA_PKCS_MGF_TYPE mgf);

/* The PSS parameters of a C_SignInit/C_VerifyInit with mechanism m (of family MECH_RSA_PSS) for a key of
 * key_size bytes: 0 with *ret filled, or -EINVAL (no parameters, a wrong size, an unknown hash or MGF, a
 * hash other than the mechanism's own, a salt longer than the key). */
int mech_pss_params(const struct mech_desc *m, const CK_MECHANISM *mech, size_t key_size,
                    struct mech_pss *ret);

/* Builds the modulus-sized block that the card's raw RSA operation turns into the signature.
 * data is the message (hashing mechanisms) or the hash/DigestInfo (raw ones). */
int mech_rsa_block(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *data, size_t len,
                   uint8_t *block, size_t modlen);
/* The same for a hashing mechanism whose digest the caller computed (multi-part operations). */
int mech_block_from_hash(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *hash,
                         size_t hlen, uint8_t *out, size_t size);
/* The DER DigestInfo of a hash made with the OpenSSL digest digest_name (what CKM_RSA_PKCS signs). */
int mech_digest_info(const char *digest_name, const uint8_t *hash, size_t hlen, uint8_t *out, size_t cap,
                     size_t *ret_len);
/* Builds the curve-sized input for the card's ECDSA (hash truncated or left-padded). */
int mech_ec_input(const struct mech_desc *m, const uint8_t *data, size_t len, uint8_t *out, size_t fieldlen);
/* Converts the card's DER ECDSA-Sig-Value to PKCS#11's r || s, each fieldlen bytes. */
int mech_ec_der_to_raw(const uint8_t *der, size_t len, uint8_t *out, size_t fieldlen);
/* Strips PKCS#1 v1.5 type 2 padding from a raw RSA decryption result (modlen bytes, leading zeros kept). */
int mech_rsa_unpad_pkcs1(const uint8_t *block, size_t modlen, uint8_t *out, size_t cap, size_t *ret_len);
/* The same for EME-OAEP: -EINVAL for parameters OpenSSL has no digest for, -EBADMSG for a block that is
 * not OAEP with these parameters (one answer for every way it can fail, found in constant time). */
int mech_rsa_unpad_oaep(const uint8_t *block, size_t modlen, const struct mech_oaep *oaep, uint8_t *out,
                        size_t cap, size_t *ret_len);
/* ECDH (CKM_ECDH1_DERIVE) */
#define MECH_ECDH_SHARED_MAX 1024 /* shared data of a KDF */
#define MECH_ECDH_KEY_MAX 1024    /* a derived key's length through a KDF */
/* The peer's public point for an ECDH with a key on the curve ec_params (CKA_EC_PARAMS, the named curve's
 * OID in DER): pub is the uncompressed point, or a DER OCTET STRING around it (as CKA_EC_POINT holds
 * it; some applications send that). The point must be on the curve and not infinity, so that a card is
 * never asked to multiply a point of an attacker's choosing off the curve. out gets the uncompressed
 * point (1 + 2 field bytes). -EINVAL: not such a point; -EOPNOTSUPP: a curve imza does not know. */
int mech_ecdh_peer_point(const uint8_t *ec_params, size_t params_len, const uint8_t *pub, size_t publen,
                         uint8_t *out, size_t cap, size_t *ret_len);
/* Whether kdf is one imza applies (CKD_NULL, or the ANSI X9.63 KDF with SHA-1 or SHA-2). */
bool mech_ecdh_kdf_ok(CK_ULONG kdf);
/* The derived key of outlen bytes from the shared x-coordinate z: CKD_NULL takes z's leading outlen
 * bytes (outlen <= zlen); an X9.63 KDF hashes z, a counter and the shared data (OpenSSL's X963KDF). */
int mech_ecdh_kdf(CK_ULONG kdf, const uint8_t *z, size_t zlen, const uint8_t *shared, size_t slen,
                  uint8_t *out, size_t outlen);

/* Whether OAEP parameters name a hash and MGF1 hash imza takes and a label within MECH_OAEP_LABEL_MAX. */
bool mech_oaep_ok(const struct mech_oaep *oaep);

/* Verifies sig with the public key spki (DER SubjectPublicKeyInfo, a key's CKA_PUBLIC_KEY_INFO). data is
 * the message for a hashing mechanism, or its digest when hashed is true (multi-part), and what was
 * signed for a raw one (DigestInfo, hash, block). 0: valid; -EBADMSG: not; -EMSGSIZE: sig has not the
 * key's signature length; -EINVAL: data or the parameters do not fit the mechanism or the key. */
int mech_verify(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *spki, size_t spki_len,
                const uint8_t *data, size_t len, bool hashed, const uint8_t *sig, size_t siglen);
/* RSA signature recovery (CKM_RSA_PKCS: the signed data; CKM_RSA_X_509: the whole block). 0, -EBADMSG
 * for a signature that recovers nothing, -EMSGSIZE for a wrong length or an out that cannot hold it. */
int mech_verify_recover(CK_MECHANISM_TYPE type, const uint8_t *spki, size_t spki_len, const uint8_t *sig,
                        size_t siglen, uint8_t *out, size_t cap, size_t *ret_len);
