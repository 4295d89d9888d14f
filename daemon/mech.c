/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host-side mechanism work (see mech.h). OpenSSL 3 keeps its padding primitives only in the deprecated
 * RSA_padding_* API; using them beats writing PKCS#1 and PSS encoding again, so this one file turns the
 * deprecation warnings off. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
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

const CK_MECHANISM_TYPE mech_other_table[] = {
        CKM_RSA_X_509, CKM_RSA_PKCS_OAEP, CKM_SHA_1,  CKM_SHA224,
        CKM_SHA256,    CKM_SHA384,        CKM_SHA512, CKM_ECDH1_DERIVE,
};
const size_t mech_other_count = sizeof(mech_other_table) / sizeof(mech_other_table[0]);

static const struct mech_desc rsa_x509 = {CKM_RSA_X_509, MECH_RSA_RAW, NULL};

const struct mech_desc *mech_find(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < mech_sign_count; i++)
		if (mech_sign_table[i].type == type)
			return &mech_sign_table[i];
	return NULL;
}

const struct mech_desc *mech_find_verify(CK_MECHANISM_TYPE type)
{
	return type == CKM_RSA_X_509 ? &rsa_x509 : mech_find(type);
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

int mech_pss_params(const struct mech_desc *m, const CK_MECHANISM *mech, size_t key_size,
                    struct mech_pss *ret)
{
	const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;
	const char *hn;

	if (p == NULL || mech->ulParameterLen != sizeof(*p))
		return -EINVAL;
	hn = mech_hash_name(p->hashAlg);
	if (hn == NULL || mech_mgf_name(p->mgf) == NULL || (m->digest && strcmp(m->digest, hn) != 0) ||
	    p->sLen > key_size)
		return -EINVAL;
	*ret = (struct mech_pss){p->hashAlg, p->mgf, p->sLen};
	return 0;
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

int mech_digest_info(const char *digest_name, const uint8_t *hash, size_t hlen, uint8_t *out, size_t cap,
                     size_t *ret_len)
{
	return digest_info(digest_name, hash, hlen, out, cap, ret_len);
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

/* What an unpadding into tmp (tmplen bytes) gave: n bytes, copied to out; -EBADMSG for a bad padding,
 * -EMSGSIZE when out is too small. tmp is wiped either way. */
static int unpadded(int n, uint8_t *tmp, size_t tmplen, uint8_t *out, size_t cap, size_t *ret_len)
{
	int r = 0;

	if (n < 0) {
		ERR_clear_error();
		r = -EBADMSG;
	} else if ((size_t)n > cap) {
		r = -EMSGSIZE;
	} else {
		memcpy(out, tmp, (size_t)n);
		*ret_len = (size_t)n;
	}
	OPENSSL_cleanse(tmp, tmplen);
	return r;
}

int mech_rsa_unpad_pkcs1(const uint8_t *block, size_t modlen, uint8_t *out, size_t cap, size_t *ret_len)
{
	uint8_t tmp[512];
	int n;

	if (modlen < 12 || modlen > sizeof(tmp))
		return -EBADMSG;
	/* OpenSSL's check runs in constant time over the whole block (Bleichenbacher), its leading zero
	 * byte included: no byte of it is looked at here first. */
	n = RSA_padding_check_PKCS1_type_2(tmp, (int)sizeof(tmp), block, (int)modlen, (int)modlen);
	return unpadded(n, tmp, sizeof(tmp), out, cap, ret_len);
}

bool mech_oaep_ok(const struct mech_oaep *oaep)
{
	return mech_hash_name(oaep->hash) != NULL && mech_mgf_name(oaep->mgf) != NULL &&
	       oaep->label_len <= MECH_OAEP_LABEL_MAX && (oaep->label != NULL || oaep->label_len == 0);
}

int mech_rsa_unpad_oaep(const uint8_t *block, size_t modlen, const struct mech_oaep *oaep, uint8_t *out,
                        size_t cap, size_t *ret_len)
{
	uint8_t tmp[512];
	EVP_MD *md, *mgf;
	int n;

	if (!mech_oaep_ok(oaep) || modlen < 64 || modlen > sizeof(tmp))
		return -EINVAL;
	md = EVP_MD_fetch(NULL, mech_hash_name(oaep->hash), NULL);
	mgf = EVP_MD_fetch(NULL, mech_mgf_name(oaep->mgf), NULL);
	if (md == NULL || mgf == NULL) {
		EVP_MD_free(md);
		EVP_MD_free(mgf);
		return -EINVAL;
	}
	/* Why this is constant-time (Manger's attack needs to tell "first byte not zero" from the other
	 * failures): OpenSSL's RSA_padding_check_PKCS1_OAEP_mgf1 (crypto/rsa/rsa_oaep.c, the code its own
	 * RSA_private_decrypt uses) takes the whole modulus-sized block, copies it with a mask whatever its
	 * length, then checks the zero byte, the label's hash (CRYPTO_memcmp) and the 01 separator with
	 * constant_time_* masks and one combined "good", and moves the message out with a masked loop over
	 * the whole buffer; every failure is the same -1. imzad looks at no byte of the block itself and
	 * turns every failure into one answer (CKR_ENCRYPTED_DATA_INVALID). The hash and the label are the
	 * caller's, not secret. */
	n = RSA_padding_check_PKCS1_OAEP_mgf1(tmp, (int)sizeof(tmp), block, (int)modlen, (int)modlen,
	                                      oaep->label, (int)oaep->label_len, md, mgf);
	EVP_MD_free(md);
	EVP_MD_free(mgf);
	return unpadded(n, tmp, sizeof(tmp), out, cap, ret_len);
}

static EVP_PKEY *public_key(const uint8_t *spki, size_t len)
{
	const unsigned char *p = spki;
	EVP_PKEY *k;

	if (spki == NULL || len == 0 || len > 4096)
		return NULL;
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (k != NULL && p != spki + len) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* PKCS#11's r || s as the DER ECDSA-Sig-Value OpenSSL verifies. */
static int ec_raw_to_der(const uint8_t *sig, size_t siglen, unsigned char **ret_der, int *ret_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(siglen / 2), NULL),
	       *s = BN_bin2bn(sig + siglen / 2, (int)(siglen / 2), NULL);
	unsigned char *der = NULL;
	int n = -1;

	if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(es, &der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return -ENOMEM;
	*ret_der = der;
	*ret_len = n;
	return 0;
}

/* The hash a hashing mechanism signs: computed here, or given (multi-part) and checked for size. */
static int message_hash(const char *name, const uint8_t *data, size_t len, bool hashed, uint8_t *out,
                        size_t *ret_len)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	unsigned int hlen = 0;
	int size = md ? EVP_MD_get_size(md) : -1, r = 0;

	if (size <= 0)
		r = -EINVAL;
	else if (hashed && len != (size_t)size)
		r = -EINVAL;
	else if (hashed)
		memcpy(out, data, len);
	else if (EVP_Digest(data, len, out, &hlen, md, NULL) != 1)
		r = -EINVAL;
	EVP_MD_free(md);
	if (r == 0)
		*ret_len = (size_t)size;
	return r;
}

/* Signature recovery with a parsed key (see mech_verify_recover). */
static int mech_verify_recover_key(EVP_PKEY *k, CK_MECHANISM_TYPE type, const uint8_t *sig, size_t siglen,
                                   uint8_t *out, size_t cap, size_t *ret_len)
{
	EVP_PKEY_CTX *ctx;
	uint8_t rec[512];
	size_t rlen = sizeof(rec);
	int r = -EBADMSG;

	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || (type != CKM_RSA_PKCS && type != CKM_RSA_X_509))
		return -EINVAL;
	if (siglen != (size_t)EVP_PKEY_get_size(k) || siglen > sizeof(rec))
		return -EMSGSIZE;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (ctx != NULL && EVP_PKEY_verify_recover_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, type == CKM_RSA_PKCS ? RSA_PKCS1_PADDING : RSA_NO_PADDING) ==
	            1 &&
	    EVP_PKEY_verify_recover(ctx, rec, &rlen, sig, siglen) == 1)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (r == 0 && rlen > cap)
		r = -EMSGSIZE;
	if (r == 0) {
		memcpy(out, rec, rlen);
		*ret_len = rlen;
	}
	return r;
}

int mech_verify_recover(CK_MECHANISM_TYPE type, const uint8_t *spki, size_t spki_len, const uint8_t *sig,
                        size_t siglen, uint8_t *out, size_t cap, size_t *ret_len)
{
	EVP_PKEY *k = public_key(spki, spki_len);
	int r;

	if (k == NULL)
		return -EINVAL;
	r = mech_verify_recover_key(k, type, sig, siglen, out, cap, ret_len);
	EVP_PKEY_free(k);
	return r;
}

/* Raw RSA verification: the block the signature recovers equals data left-padded with zeros. */
static int verify_raw(EVP_PKEY *k, const uint8_t *data, size_t len, const uint8_t *sig, size_t siglen)
{
	uint8_t rec[512], want[512];
	size_t rlen = 0;
	int r = mech_verify_recover_key(k, CKM_RSA_X_509, sig, siglen, rec, sizeof(rec), &rlen);

	if (r < 0)
		return r;
	if (len > rlen)
		return -EINVAL;
	memset(want, 0, rlen - len);
	memcpy(want + rlen - len, data, len);
	return CRYPTO_memcmp(rec, want, rlen) == 0 ? 0 : -EBADMSG;
}

int mech_verify(const struct mech_desc *m, const struct mech_pss *pss, const uint8_t *spki, size_t spki_len,
                const uint8_t *data, size_t len, bool hashed, const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *k = public_key(spki, spki_len);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_MD *md = NULL, *mgf = NULL;
	uint8_t tbs[EVP_MAX_MD_SIZE + 32];
	size_t tlen = 0, field;
	unsigned char *der = NULL;
	int derlen = 0, r, v;
	bool rsa;

	if (k == NULL)
		return -EINVAL;
	rsa = EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA;
	if (rsa != (m->family != MECH_ECDSA) || (!rsa && EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)) {
		r = -EINVAL;
		goto out;
	}
	if (rsa && siglen != (size_t)EVP_PKEY_get_size(k)) {
		r = -EMSGSIZE;
		goto out;
	}
	if (m->family == MECH_RSA_RAW) {
		r = verify_raw(k, data, len, sig, siglen);
		goto out;
	}
	/* What the card's raw operation was given, before padding: a DigestInfo, a hash or the data. */
	if (m->digest != NULL) {
		size_t hlen;

		r = message_hash(m->digest, data, len, hashed, tbs, &hlen);
		if (r == 0 && m->family == MECH_RSA_PKCS) {
			uint8_t info[sizeof(tbs)];

			r = digest_info(m->digest, tbs, hlen, info, sizeof(info), &tlen);
			if (r == 0)
				memcpy(tbs, info, tlen);
		} else {
			tlen = hlen;
		}
		if (r < 0)
			goto out;
	} else {
		if (len > sizeof(tbs) || (m->family == MECH_RSA_PKCS && len > siglen - 11)) {
			r = -EINVAL;
			goto out;
		}
		memcpy(tbs, data, len);
		tlen = len;
	}
	r = -ENOMEM;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (m->family == MECH_ECDSA) {
		/* The card signed the hash cut or padded to the field's size (mech_ec_input). */
		field = ((size_t)EVP_PKEY_get_bits(k) + 7) / 8;
		if (siglen != 2 * field || field > 66) {
			r = -EMSGSIZE;
			goto out;
		}
		if (tlen == 0 || tlen > 64) {
			r = -EINVAL;
			goto out;
		}
		if (tlen >= field) {
			tlen = field;
		} else {
			memmove(tbs + field - tlen, tbs, tlen);
			memset(tbs, 0, field - tlen);
			tlen = field;
		}
		if (ec_raw_to_der(sig, siglen, &der, &derlen) < 0)
			goto out;
		v = EVP_PKEY_verify(ctx, der, (size_t)derlen, tbs, tlen);
	} else if (m->family == MECH_RSA_PSS) {
		const char *hn = pss ? mech_hash_name(pss->hash) : NULL,
		           *mn = pss ? mech_mgf_name(pss->mgf) : NULL;

		r = -EINVAL;
		if (hn == NULL || mn == NULL || (m->digest && strcmp(m->digest, hn) != 0) ||
		    pss->salt_len > siglen)
			goto out;
		md = EVP_MD_fetch(NULL, hn, NULL);
		mgf = EVP_MD_fetch(NULL, mn, NULL);
		if (md == NULL || mgf == NULL || (size_t)EVP_MD_get_size(md) != tlen ||
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)pss->salt_len) != 1)
			goto out;
		v = EVP_PKEY_verify(ctx, sig, siglen, tbs, tlen);
	} else {
		/* No signature digest set: OpenSSL compares the recovered PKCS#1 payload with tbs itself. */
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
			goto out;
		v = EVP_PKEY_verify(ctx, sig, siglen, tbs, tlen);
	}
	r = v == 1 ? 0 : -EBADMSG;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_MD_free(md);
	EVP_MD_free(mgf);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	return r;
}

int mech_ecdh_peer_point(const uint8_t *ec_params, size_t params_len, const uint8_t *pub, size_t publen,
                         uint8_t *out, size_t cap, size_t *ret_len)
{
	const unsigned char *p = ec_params;
	ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)params_len);
	int nid = oid ? OBJ_obj2nid(oid) : NID_undef;
	EC_GROUP *g;
	EC_POINT *pt = NULL;
	size_t field, want;
	int r = -EINVAL;

	ASN1_OBJECT_free(oid);
	if (p != ec_params + params_len || (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1))
		return -EOPNOTSUPP;
	field = nid == NID_secp384r1 ? 48 : 32;
	want = 1 + 2 * field;
	/* A DER OCTET STRING around the point: 04 len point, with a short length (the point is < 128). */
	if (publen == want + 2 && pub[0] == 0x04 && pub[1] == want) {
		pub += 2;
		publen -= 2;
	}
	if (publen != want || pub[0] != 0x04 || cap < want)
		return -EINVAL;
	g = EC_GROUP_new_by_curve_name(nid);
	if (g == NULL)
		return -ENOMEM;
	pt = EC_POINT_new(g);
	if (pt && EC_POINT_oct2point(g, pt, pub, publen, NULL) == 1 && !EC_POINT_is_at_infinity(g, pt) &&
	    EC_POINT_is_on_curve(g, pt, NULL) == 1) {
		memcpy(out, pub, want);
		*ret_len = want;
		r = 0;
	}
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	ERR_clear_error();
	return r;
}

static const char *kdf_digest(CK_ULONG kdf)
{
	switch (kdf) {
	case CKD_SHA1_KDF:
		return "SHA1";
	case CKD_SHA224_KDF:
		return "SHA224";
	case CKD_SHA256_KDF:
		return "SHA256";
	case CKD_SHA384_KDF:
		return "SHA384";
	case CKD_SHA512_KDF:
		return "SHA512";
	default:
		return NULL;
	}
}

bool mech_ecdh_kdf_ok(CK_ULONG kdf)
{
	return kdf == CKD_NULL || kdf_digest(kdf) != NULL;
}

int mech_ecdh_kdf(CK_ULONG kdf, const uint8_t *z, size_t zlen, const uint8_t *shared, size_t slen,
                  uint8_t *out, size_t outlen)
{
	const char *md = kdf_digest(kdf);
	EVP_KDF *k;
	EVP_KDF_CTX *ctx;
	OSSL_PARAM params[4], *pp = params;
	int r;

	if (outlen == 0)
		return -EINVAL;
	if (kdf == CKD_NULL) {
		if (outlen > zlen || slen > 0)
			return -EINVAL;
		memcpy(out, z, outlen);
		return 0;
	}
	if (md == NULL || outlen > MECH_ECDH_KEY_MAX || slen > MECH_ECDH_SHARED_MAX)
		return -EINVAL;
	k = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_X963KDF, NULL);
	ctx = k ? EVP_KDF_CTX_new(k) : NULL;
	EVP_KDF_free(k);
	if (ctx == NULL)
		return -ENOMEM;
	*pp++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	*pp++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen);
	if (slen > 0)
		*pp++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)shared, slen);
	*pp = OSSL_PARAM_construct_end();
	r = EVP_KDF_derive(ctx, out, outlen, params) == 1 ? 0 : -EINVAL;
	EVP_KDF_CTX_free(ctx);
	ERR_clear_error();
	return r;
}
