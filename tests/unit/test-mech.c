/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the host side of the mechanisms (daemon/mech.c): what the card's raw RSA or ECDSA makes
 * of our prepared input must verify with OpenSSL's own padding and digest code. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

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

static void test_unknown_mechanism_is_not_found(void **state)
{
	assert_null(mech_find(CKM_AES_CBC));
	assert_int_equal(mech_sign_count, 18);
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
	        cmocka_unit_test(test_unknown_mechanism_is_not_found),
	};

	return cmocka_run_group_tests_name("mech", tests, setup, teardown);
}
