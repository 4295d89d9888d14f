/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host-side mechanism work (see mech.h). OpenSSL 3 keeps its padding primitives only in the deprecated
 * RSA_padding_* API; using them beats writing PKCS#1 and PSS encoding again, so this one file turns the
 * deprecation warnings off. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/mech.h"

const struct mech_desc mech_sign_table[] = {
        {CKM_RSA_PKCS, MECH_RSA_PKCS, NULL},
        {CKM_SHA1_RSA_PKCS, MECH_RSA_PKCS, "SHA1"},
        {CKM_SHA224_RSA_PKCS, MECH_RSA_PKCS, "SHA224"},
        {CKM_SHA256_RSA_PKCS, MECH_RSA_PKCS, "SHA256"},
        {CKM_SHA384_RSA_PKCS, MECH_RSA_PKCS, "SHA384"},
        {CKM_SHA512_RSA_PKCS, MECH_RSA_PKCS, "SHA512"},
        {CKM_RSA_PKCS_PSS, MECH_RSA_PSS, NULL},
        {CKM_SHA1_RSA_PKCS_PSS, MECH_RSA_PSS, "SHA1"},
        {CKM_SHA224_RSA_PKCS_PSS, MECH_RSA_PSS, "SHA224"},
        {CKM_SHA256_RSA_PKCS_PSS, MECH_RSA_PSS, "SHA256"},
        {CKM_SHA384_RSA_PKCS_PSS, MECH_RSA_PSS, "SHA384"},
        {CKM_SHA512_RSA_PKCS_PSS, MECH_RSA_PSS, "SHA512"},
        {CKM_ECDSA, MECH_ECDSA, NULL},
        {CKM_ECDSA_SHA1, MECH_ECDSA, "SHA1"},
        {CKM_ECDSA_SHA224, MECH_ECDSA, "SHA224"},
        {CKM_ECDSA_SHA256, MECH_ECDSA, "SHA256"},
        {CKM_ECDSA_SHA384, MECH_ECDSA, "SHA384"},
        {CKM_ECDSA_SHA512, MECH_ECDSA, "SHA512"},
};
const size_t mech_sign_count = sizeof(mech_sign_table) / sizeof(mech_sign_table[0]);

const struct mech_desc *mech_find(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < mech_sign_count; i++)
		if (mech_sign_table[i].type == type)
			return &mech_sign_table[i];
	return NULL;
}

const char *mech_hash_name(CK_MECHANISM_TYPE hash)
{
	switch (hash) {
	case CKM_SHA_1:
		return "SHA1";
	case CKM_SHA224:
		return "SHA224";
	case CKM_SHA256:
		return "SHA256";
	case CKM_SHA384:
		return "SHA384";
	case CKM_SHA512:
		return "SHA512";
	default:
		return NULL;
	}
}

const char *mech_mgf_name(CK_RSA_PKCS_MGF_TYPE mgf)
{
	switch (mgf) {
	case CKG_MGF1_SHA1:
		return "SHA1";
	case CKG_MGF1_SHA224:
		return "SHA224";
	case CKG_MGF1_SHA256:
		return "SHA256";
	case CKG_MGF1_SHA384:
		return "SHA384";
	case CKG_MGF1_SHA512:
		return "SHA512";
	default:
		return NULL;
	}
}

static int digest(const char *name, const uint8_t *data, size_t len, uint8_t *out, unsigned int *ret_len)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	int ok = md != NULL && EVP_Digest(data, len, out, ret_len, md, NULL) == 1;

	EVP_MD_free(md);
	return ok ? 0 : -EINVAL;
}

/* DigestInfo DER for a hash, via OpenSSL's X509_SIG so no prefix tables are written by hand. */
static int digest_info(const char *name, const uint8_t *hash, size_t hlen, uint8_t *out, size_t cap,
                       size_t *ret_len)
{
	X509_SIG *sig = X509_SIG_new();
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *oct;
	unsigned char *p = NULL;
	int n = -1;

	if (sig == NULL)
		return -ENOMEM;
	X509_SIG_getm(sig, &alg, &oct);
	if (X509_ALGOR_set0(alg, OBJ_txt2obj(name, 0), V_ASN1_NULL, NULL) == 1 &&
	    ASN1_OCTET_STRING_set(oct, hash, (int)hlen) == 1)
		n = i2d_X509_SIG(sig, &p);
	X509_SIG_free(sig);
	if (n <= 0)
		return -EINVAL;
	if ((size_t)n > cap) {
		OPENSSL_free(p);
		return -EMSGSIZE;
	}
	memcpy(out, p, (size_t)n);
	OPENSSL_free(p);
	*ret_len = (size_t)n;
	return 0;
}

/* EMSA-PSS of a hash. digest_name, when set, is the mechanism's own digest that params must name. */
static int pss_block(const char *digest_name, const struct mech_pss *pss, const uint8_t *hash, size_t hlen,
                     uint8_t *block, size_t modlen)
{
	const char *hname = pss ? mech_hash_name(pss->hash) : NULL;
	const char *mname = pss ? mech_mgf_name(pss->mgf) : NULL;
	EVP_MD *md, *mgf;
	RSA *rsa;
	BIGNUM *n, *e;
	int ok;

	if (hname == NULL || mname == NULL || (digest_name != NULL && strcmp(digest_name, hname) != 0))
		return -EINVAL;
	md = EVP_MD_fetch(NULL, hname, NULL);
	if (md == NULL || (size_t)EVP_MD_get_size(md) != hlen || pss->salt_len > modlen) {
		EVP_MD_free(md);
		return -EINVAL;
	}
	/* The padding routine only reads the modulus size from the RSA object. */
	mgf = EVP_MD_fetch(NULL, mname, NULL);
	rsa = RSA_new();
	n = BN_new();
	e = BN_new();
	ok = mgf && rsa && n && e && BN_set_bit(n, (int)modlen * 8 - 1) == 1 && BN_set_bit(n, 0) == 1 &&
	     BN_set_word(e, RSA_F4) == 1 && RSA_set0_key(rsa, n, e, NULL) == 1;
	if (ok)
		n = e = NULL;
	ok = ok && RSA_padding_add_PKCS1_PSS_mgf1(rsa, block, hash, md, mgf, (int)pss->salt_len) == 1;
	BN_free(n);
	BN_free(e);
	RSA_free(rsa);
	EVP_MD_free(md);
	EVP_MD_free(mgf);
	return ok ? 0 : -EINVAL;
}

/* The block for the card from a hash the mechanism's digest already made (hashing mechanisms). */
static int rsa_block_from_hash(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *hash,
                               size_t hlen, uint8_t *block, size_t modlen)
{
	uint8_t info[EVP_MAX_MD_SIZE + 32];
	size_t ilen;
	int r;

	if (m->family == MECH_RSA_PKCS) {
		r = digest_info(m->digest, hash, hlen, info, sizeof(info), &ilen);
		if (r < 0)
			return r;
		return RSA_padding_add_PKCS1_type_1(block, (int)modlen, info, (int)ilen) == 1 ? 0 : -EINVAL;
	}
	return pss_block(m->digest, pss, hash, hlen, block, modlen);
}

int mech_rsa_block(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *data, size_t len,
                   uint8_t *block, size_t modlen)
{
	uint8_t hash[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	int r;

	if (modlen < 64 || modlen > 512)
		return -EINVAL;
	if (m->digest != NULL) {
		r = digest(m->digest, data, len, hash, &hlen);
		if (r < 0)
			return r;
		return rsa_block_from_hash(m, pss, hash, hlen, block, modlen);
	}
	if (m->family == MECH_RSA_PKCS) {
		if (len > modlen - 11)
			return -EMSGSIZE;
		return RSA_padding_add_PKCS1_type_1(block, (int)modlen, data, (int)len) == 1 ? 0 : -EINVAL;
	}
	if (m->family == MECH_RSA_PSS)
		return pss_block(NULL, pss, data, len, block, modlen);
	return -EINVAL;
}

int mech_block_from_hash(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *hash,
                         size_t hlen, uint8_t *out, size_t size)
{
	if (m->digest == NULL)
		return -EINVAL;
	if (m->family == MECH_ECDSA) {
		const struct mech_desc raw = {m->type, MECH_ECDSA, NULL};

		return mech_ec_input(&raw, hash, hlen, out, size);
	}
	if (size < 64 || size > 512)
		return -EINVAL;
	return rsa_block_from_hash(m, pss, hash, hlen, out, size);
}

int mech_ec_input(const struct mech_desc *m, const uint8_t *data, size_t len, uint8_t *out, size_t fieldlen)
{
	uint8_t hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	int r;

	if (m->family != MECH_ECDSA || fieldlen == 0 || fieldlen > 66)
		return -EINVAL;
	if (m->digest != NULL) {
		r = digest(m->digest, data, len, hash, &hlen);
		if (r < 0)
			return r;
		data = hash;
		len = hlen;
	}
	if (len == 0 || len > 64)
		return -EINVAL;
	/* ECDSA uses the leftmost bits of a longer hash; a shorter one is a smaller number. */
	if (len >= fieldlen) {
		memcpy(out, data, fieldlen);
	} else {
		memset(out, 0, fieldlen - len);
		memcpy(out + fieldlen - len, data, len);
	}
	return 0;
}

int mech_ec_der_to_raw(const uint8_t *der, size_t len, uint8_t *out, size_t fieldlen)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int ok;

	if (sig == NULL)
		return -EPROTO;
	if (p != der + len) {
		ECDSA_SIG_free(sig);
		return -EPROTO;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, out, (int)fieldlen) == (int)fieldlen &&
	     BN_bn2binpad(s, out + fieldlen, (int)fieldlen) == (int)fieldlen;
	ECDSA_SIG_free(sig);
	return ok ? 0 : -EPROTO;
}

int mech_rsa_unpad_pkcs1(const uint8_t *block, size_t modlen, uint8_t *out, size_t cap, size_t *ret_len)
{
	uint8_t tmp[512];
	int n;

	if (modlen < 12 || modlen > sizeof(tmp) || block[0] != 0)
		return -EBADMSG;
	/* OpenSSL's check runs in constant time over the block (Bleichenbacher); it takes it without the
	 * leading zero byte. */
	n = RSA_padding_check_PKCS1_type_2(tmp, (int)sizeof(tmp), block + 1, (int)modlen - 1, (int)modlen);
	if (n < 0) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -EBADMSG;
	}
	if ((size_t)n > cap) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -EMSGSIZE;
	}
	memcpy(out, tmp, (size_t)n);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	*ret_len = (size_t)n;
	return 0;
}
