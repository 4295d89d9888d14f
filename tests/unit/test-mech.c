/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the host side of the mechanisms (daemon/mech.c): what the card's raw RSA or ECDSA makes
 * of our prepared input must verify with OpenSSL's own padding and digest code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/mech-module.h"
#include "daemon/mech.h"

static EVP_PKEY *rsa_key, *ec_key;
static const uint8_t msg[] = "Başvuru İmzalama İşlemi";

static int setup(void **state)
{
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return rsa_key && ec_key ? 0 : -1;
}

static int teardown(void **state)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	return 0;
}

/* What the card does: raw RSA with the private key. */
static void raw_rsa(const uint8_t *block, uint8_t *sig)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	size_t len = 256;

	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, sig, &len, block, 256), 1);
	assert_int_equal(len, 256);
	EVP_PKEY_CTX_free(ctx);
}

static int verify(const char *md, int padding, const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, rsa_key, NULL) == 1;

	if (ok && padding == RSA_PKCS1_PSS_PADDING)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, padding) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
	ok = ok && EVP_DigestVerify(mctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(mctx);
	return ok;
}

static void test_every_hashing_rsa_pkcs_mechanism_verifies(void **state)
{
	const CK_MECHANISM_TYPE types[] = {CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
	                                   CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct mech_desc *m = mech_find(types[i]);
		uint8_t block[256], sig[256];

		assert_non_null(m);
		assert_int_equal(mech_rsa_block(m, NULL, msg, sizeof(msg), block, sizeof(block)), 0);
		raw_rsa(block, sig);
		assert_true(verify(m->digest, RSA_PKCS1_PADDING, sig, sizeof(sig)));
	}
}

static void test_every_hashing_pss_mechanism_verifies(void **state)
{
	const CK_MECHANISM_TYPE types[] = {CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS,
	                                   CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS,
	                                   CKM_SHA512_RSA_PKCS_PSS};
	const CK_MECHANISM_TYPE hashes[] = {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512};
	const CK_RSA_PKCS_MGF_TYPE mgfs[] = {CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384,
	                                     CKG_MGF1_SHA512};
	const size_t salts[] = {20, 28, 32, 48, 64};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct mech_desc *m = mech_find(types[i]);
		struct mech_pss pss = {hashes[i], mgfs[i], salts[i]};
		uint8_t block[256], sig[256];

		assert_int_equal(mech_rsa_block(m, &pss, msg, sizeof(msg), block, sizeof(block)), 0);
		raw_rsa(block, sig);
		assert_true(verify(m->digest, RSA_PKCS1_PSS_PADDING, sig, sizeof(sig)));
	}
}

static void test_pss_with_mismatched_hash_param_is_refused(void **state)
{
	struct mech_pss pss = {CKM_SHA384, CKG_MGF1_SHA384, 48};
	uint8_t block[256];

	assert_int_equal(
	        mech_rsa_block(mech_find(CKM_SHA256_RSA_PKCS_PSS), &pss, msg, sizeof(msg), block, 256),
	        -EINVAL);
	assert_int_equal(mech_rsa_block(mech_find(CKM_RSA_PKCS_PSS), NULL, msg, 32, block, 256), -EINVAL);
}

static void test_raw_pss_needs_hash_sized_input(void **state)
{
	struct mech_pss pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	uint8_t block[256], hash[32] = {1};

	assert_int_equal(mech_rsa_block(mech_find(CKM_RSA_PKCS_PSS), &pss, hash, 31, block, 256), -EINVAL);
	assert_int_equal(mech_rsa_block(mech_find(CKM_RSA_PKCS_PSS), &pss, hash, 32, block, 256), 0);
}

static void test_raw_rsa_pkcs_input_too_long_is_refused(void **state)
{
	uint8_t block[256], big[250] = {0};

	assert_int_equal(mech_rsa_block(mech_find(CKM_RSA_PKCS), NULL, big, sizeof(big), block, 256),
	                 -EMSGSIZE);
}

static void test_ecdsa_input_and_signature_conversion(void **state)
{
	const struct mech_desc *m = mech_find(CKM_ECDSA_SHA256);
	uint8_t in[32], der[80], raw[64];
	size_t derlen = sizeof(der);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(ec_key, NULL);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();

	assert_int_equal(mech_ec_input(m, msg, sizeof(msg), in, sizeof(in)), 0);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, der, &derlen, in, sizeof(in)), 1);
	assert_int_equal(EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, NULL, ec_key, NULL), 1);
	assert_int_equal(EVP_DigestVerify(mctx, der, derlen, msg, sizeof(msg)), 1);
	assert_int_equal(mech_ec_der_to_raw(der, derlen, raw, 32), 0);
	assert_int_equal(mech_ec_der_to_raw(der, derlen - 1, raw, 32), -EPROTO);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(ctx);
}

static void test_ecdsa_long_hash_is_truncated_short_is_padded(void **state)
{
	uint8_t h[64], out[48];

	memset(h, 0xAA, sizeof(h));
	assert_int_equal(mech_ec_input(mech_find(CKM_ECDSA), h, 64, out, 32), 0);
	assert_memory_equal(out, h, 32);
	assert_int_equal(mech_ec_input(mech_find(CKM_ECDSA), h, 20, out, 48), 0);
	for (int i = 0; i < 28; i++)
		assert_int_equal(out[i], 0);
	assert_memory_equal(out + 28, h, 20);
}

static void test_pkcs1_decryption_unpads_and_rejects_garbage(void **state)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	uint8_t ct[256], block[256], pt[256];
	size_t ctlen = sizeof(ct), blen = sizeof(block), ptlen;

	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ctlen, msg, sizeof(msg)), 1);
	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	assert_int_equal(EVP_PKEY_decrypt(ctx, block, &blen, ct, ctlen), 1);
	assert_int_equal(mech_rsa_unpad_pkcs1(block, blen, pt, sizeof(pt), &ptlen), 0);
	assert_int_equal(ptlen, sizeof(msg));
	assert_memory_equal(pt, msg, sizeof(msg));
	assert_int_equal(mech_rsa_unpad_pkcs1(block, blen, pt, 4, &ptlen), -EMSGSIZE);
	block[1] = 0x01;
	assert_int_equal(mech_rsa_unpad_pkcs1(block, blen, pt, sizeof(pt), &ptlen), -EBADMSG);
	EVP_PKEY_CTX_free(ctx);
}

/* What the card gives back for a ciphertext: the raw RSA block. */
static size_t raw_decrypt(const uint8_t *ct, size_t ctlen, uint8_t *block)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	size_t blen = 256;

	assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	assert_int_equal(EVP_PKEY_decrypt(ctx, block, &blen, ct, ctlen), 1);
	EVP_PKEY_CTX_free(ctx);
	return blen;
}

static size_t oaep_encrypt(const char *md, const char *mgf, const char *label, uint8_t *ct)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	size_t ctlen = 256;

	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, mgf, NULL), 1);
	if (label) {
		void *l = OPENSSL_memdup(label, strlen(label));

		assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)strlen(label)), 1);
	}
	assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ctlen, msg, sizeof(msg)), 1);
	EVP_PKEY_CTX_free(ctx);
	return ctlen;
}

static void test_oaep_unpads_what_openssl_encrypted_and_refuses_other_paddings(void **state)
{
	uint8_t ct[256], block[256], pt[256];
	size_t ptlen;
	struct mech_oaep sha256 = {CKM_SHA256, CKG_MGF1_SHA256, NULL, 0};
	struct mech_oaep labelled = {CKM_SHA256, CKG_MGF1_SHA1, (const uint8_t *)"etiket", 6};
	struct mech_oaep sha1 = {CKM_SHA_1, CKG_MGF1_SHA1, NULL, 0};
	EVP_PKEY_CTX *ctx;
	size_t ctlen;

	raw_decrypt(ct, oaep_encrypt("SHA256", "SHA256", NULL, ct), block);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &sha256, pt, sizeof(pt), &ptlen), 0);
	assert_int_equal(ptlen, sizeof(msg));
	assert_memory_equal(pt, msg, sizeof(msg));
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &sha1, pt, sizeof(pt), &ptlen), -EBADMSG);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &labelled, pt, sizeof(pt), &ptlen), -EBADMSG);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &sha256, pt, 4, &ptlen), -EMSGSIZE);
	assert_int_equal(mech_rsa_unpad_pkcs1(block, 256, pt, sizeof(pt), &ptlen), -EBADMSG);

	raw_decrypt(ct, oaep_encrypt("SHA256", "SHA1", "etiket", ct), block);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &labelled, pt, sizeof(pt), &ptlen), 0);
	assert_memory_equal(pt, msg, sizeof(msg));
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &sha256, pt, sizeof(pt), &ptlen), -EBADMSG);

	/* A PKCS#1 v1.5 block is not OAEP. */
	ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	ctlen = sizeof(ct);
	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ctlen, msg, sizeof(msg)), 1);
	EVP_PKEY_CTX_free(ctx);
	raw_decrypt(ct, ctlen, block);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &sha256, pt, sizeof(pt), &ptlen), -EBADMSG);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &sha1, pt, sizeof(pt), &ptlen), -EBADMSG);
}

static void test_oaep_parameters_are_bounded(void **state)
{
	uint8_t block[256] = {0}, pt[256];
	size_t ptlen;
	static const uint8_t big[MECH_OAEP_LABEL_MAX + 1];
	struct mech_oaep md5 = {CKM_MD5, CKG_MGF1_SHA1, NULL, 0};
	struct mech_oaep mgf = {CKM_SHA256, 0x7777, NULL, 0};
	struct mech_oaep longlabel = {CKM_SHA256, CKG_MGF1_SHA256, big, sizeof(big)};
	struct mech_oaep nolabel = {CKM_SHA256, CKG_MGF1_SHA256, NULL, 3};
	struct mech_oaep maxlabel = {CKM_SHA256, CKG_MGF1_SHA256, big, MECH_OAEP_LABEL_MAX};

	assert_false(mech_oaep_ok(&md5));
	assert_false(mech_oaep_ok(&mgf));
	assert_false(mech_oaep_ok(&longlabel));
	assert_false(mech_oaep_ok(&nolabel));
	assert_true(mech_oaep_ok(&maxlabel));
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &md5, pt, sizeof(pt), &ptlen), -EINVAL);
	assert_int_equal(mech_rsa_unpad_oaep(block, 256, &maxlabel, pt, sizeof(pt), &ptlen), -EBADMSG);
}

static size_t spki_of(EVP_PKEY *k, uint8_t **ret)
{
	int n = i2d_PUBKEY(k, ret);

	assert_true(n > 0);
	return (size_t)n;
}

static void test_verify_accepts_card_signatures_and_refuses_changed_ones(void **state)
{
	const CK_MECHANISM_TYPE types[] = {CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA512_RSA_PKCS,
	                                   CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS};
	const struct mech_pss psss[] = {
	        {0}, {0}, {0}, {CKM_SHA256, CKG_MGF1_SHA256, 32}, {CKM_SHA384, CKG_MGF1_SHA384, 48}};
	uint8_t *spki = NULL;
	size_t slen = spki_of(rsa_key, &spki);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct mech_desc *m = mech_find_verify(types[i]);
		const struct mech_pss *pss = psss[i].hash ? &psss[i] : NULL;
		uint8_t block[256], sig[256], hash[64];
		unsigned int hlen;

		assert_int_equal(mech_rsa_block(m, pss, msg, sizeof(msg), block, sizeof(block)), 0);
		raw_rsa(block, sig);
		assert_int_equal(mech_verify(m, pss, spki, slen, msg, sizeof(msg), false, sig, 256), 0);
		assert_int_equal(
		        EVP_Digest(msg, sizeof(msg), hash, &hlen, EVP_get_digestbyname(m->digest), NULL), 1);
		assert_int_equal(mech_verify(m, pss, spki, slen, hash, hlen, true, sig, 256), 0);
		assert_int_equal(mech_verify(m, pss, spki, slen, msg, sizeof(msg) - 1, false, sig, 256),
		                 -EBADMSG);
		assert_int_equal(mech_verify(m, pss, spki, slen, msg, sizeof(msg), false, sig, 255),
		                 -EMSGSIZE);
		sig[100] ^= 1;
		assert_int_equal(mech_verify(m, pss, spki, slen, msg, sizeof(msg), false, sig, 256),
		                 -EBADMSG);
	}
	OPENSSL_free(spki);
}

static void test_verify_ecdsa_raw_r_s(void **state)
{
	const struct mech_desc *m = mech_find_verify(CKM_ECDSA_SHA256);
	uint8_t in[32], der[80], raw[64], *spki = NULL;
	size_t derlen = sizeof(der), slen = spki_of(ec_key, &spki);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(ec_key, NULL);

	assert_int_equal(mech_ec_input(m, msg, sizeof(msg), in, sizeof(in)), 0);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, der, &derlen, in, sizeof(in)), 1);
	assert_int_equal(mech_ec_der_to_raw(der, derlen, raw, 32), 0);
	assert_int_equal(mech_verify(m, NULL, spki, slen, msg, sizeof(msg), false, raw, 64), 0);
	assert_int_equal(mech_verify(mech_find_verify(CKM_ECDSA), NULL, spki, slen, in, 32, false, raw, 64),
	                 0);
	assert_int_equal(mech_verify(m, NULL, spki, slen, msg, sizeof(msg), false, raw, 63), -EMSGSIZE);
	/* An RSA mechanism on an EC key. */
	assert_int_equal(mech_verify(mech_find_verify(CKM_SHA256_RSA_PKCS), NULL, spki, slen, msg,
	                             sizeof(msg), false, raw, 64),
	                 -EINVAL);
	raw[5] ^= 0x80;
	assert_int_equal(mech_verify(m, NULL, spki, slen, msg, sizeof(msg), false, raw, 64), -EBADMSG);
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(spki);
}

static void test_verify_recover_gives_back_what_was_signed(void **state)
{
	const uint8_t info[] = {0x30, 0x0b, 0x04, 0x09, 'D', 'i', 'g', 'e', 's', 't', 'I', 'n', 'f'};
	uint8_t block[256], sig[256], out[256], *spki = NULL;
	size_t olen, slen = spki_of(rsa_key, &spki);

	assert_int_equal(mech_rsa_block(mech_find(CKM_RSA_PKCS), NULL, info, sizeof(info), block, 256), 0);
	raw_rsa(block, sig);
	assert_int_equal(mech_verify_recover(CKM_RSA_PKCS, spki, slen, sig, 256, out, sizeof(out), &olen), 0);
	assert_int_equal(olen, sizeof(info));
	assert_memory_equal(out, info, sizeof(info));
	assert_int_equal(mech_verify_recover(CKM_RSA_X_509, spki, slen, sig, 256, out, sizeof(out), &olen),
	                 0);
	assert_int_equal(olen, 256);
	assert_memory_equal(out, block, 256);
	/* Raw verification: the block left-padded is what was signed. */
	assert_int_equal(mech_verify(mech_find_verify(CKM_RSA_X_509), NULL, spki, slen, block + 1, 255, false,
	                             sig, 256),
	                 0);
	assert_int_equal(mech_verify_recover(CKM_RSA_PKCS, spki, slen, sig, 256, out, 5, &olen), -EMSGSIZE);
	sig[0] ^= 0x01;
	assert_int_equal(mech_verify_recover(CKM_RSA_PKCS, spki, slen, sig, 256, out, sizeof(out), &olen),
	                 -EBADMSG);
	OPENSSL_free(spki);
}

static void test_unknown_mechanism_is_not_found(void **state)
{
	assert_null(mech_find(CKM_AES_CBC));
	assert_null(mech_find(CKM_RSA_X_509)); /* verification and decryption only */
	assert_non_null(mech_find_verify(CKM_RSA_X_509));
	assert_int_equal(mech_sign_count, 18);
}

/* A module token with the given mechanisms (type, flags). */
static struct token *module_token(const CK_MECHANISM_TYPE *types, const CK_FLAGS *flags, size_t n)
{
	static const uint8_t guid[16];
	struct token *t = token_new("m", guid);

	assert_non_null(t);
	snprintf(t->driver, sizeof(t->driver), "module");
	for (size_t i = 0; i < n; i++)
		t->mechs[t->nmechs++] = (struct token_mech){types[i], {1024, 4096, flags[i]}};
	return t;
}

static CK_FLAGS listed(const struct token *t, CK_MECHANISM_TYPE type)
{
	struct token_mech out[MECH_MODULE_LIST_MAX];
	size_t n = mech_module_list(t, out, MECH_MODULE_LIST_MAX);

	for (size_t i = 0; i < n; i++)
		if (out[i].type == type)
			return out[i].info.flags | 0x80000000UL; /* listed, whatever its flags */
	return 0;
}

static void expect_route(const struct token *t, CK_MECHANISM_TYPE type, bool decrypt, int want_e,
                         enum mech_route_kind kind, CK_MECHANISM_TYPE card)
{
	struct mech_route r;

	assert_int_equal(mech_module_route(t, type, decrypt, &r), want_e);
	if (want_e == 0) {
		assert_int_equal(r.kind, kind);
		assert_int_equal(r.card_type, card);
	}
}

/* A module with no raw RSA (the quirky module's no-raw-rsa): PSS through its PSS, decryption through its
 * PKCS#1 and OAEP, hashing mechanisms composed by imza; no CKM_RSA_X_509, no raw PKCS#1 over it. */
static void test_module_without_raw_rsa_is_served_through_its_own_mechanisms(void **state)
{
	static const CK_MECHANISM_TYPE types[] = {CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS_PSS,
	                                          CKM_SHA256_RSA_PKCS, CKM_ECDSA};
	static const CK_FLAGS flags[] = {CKF_SIGN | CKF_DECRYPT | CKF_HW, CKF_DECRYPT, CKF_SIGN, CKF_SIGN,
	                                 CKF_SIGN | CKF_EC_F_P};
	struct token *t = module_token(types, flags, 5);

	(void)state;
	expect_route(t, CKM_SHA256_RSA_PKCS, false, 0, MECH_ROUTE_DIGESTINFO, CKM_RSA_PKCS);
	expect_route(t, CKM_SHA384_RSA_PKCS_PSS, false, 0, MECH_ROUTE_HASH, CKM_RSA_PKCS_PSS);
	expect_route(t, CKM_RSA_PKCS_PSS, false, 0, MECH_ROUTE_PASS, CKM_RSA_PKCS_PSS);
	expect_route(t, CKM_ECDSA_SHA256, false, 0, MECH_ROUTE_HASH, CKM_ECDSA);
	expect_route(t, CKM_RSA_PKCS_OAEP, true, 0, MECH_ROUTE_PASS, CKM_RSA_PKCS_OAEP);
	expect_route(t, CKM_RSA_PKCS, true, 0, MECH_ROUTE_PASS, CKM_RSA_PKCS);
	expect_route(t, CKM_RSA_X_509, false, -ENOENT, 0, 0);
	expect_route(t, CKM_RSA_X_509, true, -ENOENT, 0, 0);
	expect_route(t, CKM_RSA_PKCS_PSS, true, -ENOENT, 0, 0);
	expect_route(t, CKM_SHA256_HMAC, false, -ENOENT, 0, 0);
	assert_int_equal(listed(t, CKM_RSA_X_509), 0);
	assert_int_equal(listed(t, CKM_ECDH1_DERIVE), 0);
	assert_true(listed(t, CKM_SHA512_RSA_PKCS_PSS) & CKF_SIGN);
	assert_true(listed(t, CKM_ECDSA_SHA1) & CKF_EC_F_P);
	assert_true(listed(t, CKM_SHA256) & CKF_DIGEST);
	/* The module's own flags, with what imza verifies in software. */
	assert_int_equal(listed(t, CKM_RSA_PKCS) & ~0x80000000UL,
	                 CKF_SIGN | CKF_DECRYPT | CKF_HW | CKF_VERIFY | CKF_VERIFY_RECOVER);
	token_free(t);
}

/* A module with raw RSA only: every RSA mechanism imza knows over it, nothing else; a vendor mechanism
 * is passed through; MD5 and secret-key mechanisms are never kept. */
static void test_module_with_raw_rsa_only_and_a_vendor_mechanism(void **state)
{
	static const CK_MECHANISM_TYPE types[] = {CKM_RSA_X_509, CKM_VENDOR_DEFINED | 0x494d5a41};
	static const CK_FLAGS flags[] = {CKF_SIGN | CKF_DECRYPT, CKF_SIGN};
	struct token *t = module_token(types, flags, 2);

	(void)state;
	expect_route(t, CKM_SHA256_RSA_PKCS, false, 0, MECH_ROUTE_RAW, CKM_RSA_X_509);
	expect_route(t, CKM_RSA_PKCS, false, 0, MECH_ROUTE_RAW, CKM_RSA_X_509);
	expect_route(t, CKM_RSA_PKCS_PSS, false, 0, MECH_ROUTE_RAW, CKM_RSA_X_509);
	expect_route(t, CKM_RSA_PKCS_OAEP, true, 0, MECH_ROUTE_RAW, CKM_RSA_X_509);
	expect_route(t, CKM_RSA_X_509, true, 0, MECH_ROUTE_PASS, CKM_RSA_X_509);
	expect_route(t, CKM_VENDOR_DEFINED | 0x494d5a41, false, 0, MECH_ROUTE_PASS,
	             CKM_VENDOR_DEFINED | 0x494d5a41);
	expect_route(t, CKM_VENDOR_DEFINED | 0x494d5a41, true, -ENOENT, 0, 0);
	expect_route(t, CKM_ECDSA_SHA256, false, -ENOENT, 0, 0);
	assert_int_equal(listed(t, CKM_ECDSA), 0);
	assert_true(listed(t, CKM_RSA_PKCS) & CKF_DECRYPT);
	assert_true(listed(t, CKM_VENDOR_DEFINED | 0x494d5a41) & CKF_SIGN);

	assert_false(token_mech_kept(CKM_MD5_RSA_PKCS, CKF_SIGN));
	assert_false(token_mech_kept(CKM_MD2_RSA_PKCS, CKF_SIGN));
	assert_false(token_mech_kept(CKM_SHA256_HMAC, CKF_SIGN));
	assert_false(token_mech_kept(CKM_DSA, CKF_SIGN));
	assert_false(token_mech_kept(CKM_AES_CBC, CKF_DECRYPT));
	assert_false(token_mech_kept(CKM_RSA_PKCS, CKF_ENCRYPT | CKF_VERIFY));
	assert_true(token_mech_kept(CKM_SHA224_RSA_PKCS_PSS, CKF_SIGN));
	assert_true(token_mech_kept(CKM_ECDSA_SHA512, CKF_SIGN));
	assert_true(token_mech_kept(CKM_VENDOR_DEFINED, CKF_DECRYPT));
	token_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_hashing_rsa_pkcs_mechanism_verifies),
	        cmocka_unit_test(test_every_hashing_pss_mechanism_verifies),
	        cmocka_unit_test(test_pss_with_mismatched_hash_param_is_refused),
	        cmocka_unit_test(test_raw_pss_needs_hash_sized_input),
	        cmocka_unit_test(test_raw_rsa_pkcs_input_too_long_is_refused),
	        cmocka_unit_test(test_ecdsa_input_and_signature_conversion),
	        cmocka_unit_test(test_ecdsa_long_hash_is_truncated_short_is_padded),
	        cmocka_unit_test(test_pkcs1_decryption_unpads_and_rejects_garbage),
	        cmocka_unit_test(test_oaep_unpads_what_openssl_encrypted_and_refuses_other_paddings),
	        cmocka_unit_test(test_oaep_parameters_are_bounded),
	        cmocka_unit_test(test_verify_accepts_card_signatures_and_refuses_changed_ones),
	        cmocka_unit_test(test_verify_ecdsa_raw_r_s),
	        cmocka_unit_test(test_verify_recover_gives_back_what_was_signed),
	        cmocka_unit_test(test_unknown_mechanism_is_not_found),
	        cmocka_unit_test(test_module_without_raw_rsa_is_served_through_its_own_mechanisms),
	        cmocka_unit_test(test_module_with_raw_rsa_only_and_a_vendor_mechanism),
	};

	return cmocka_run_group_tests_name("mech", tests, setup, teardown);
}
