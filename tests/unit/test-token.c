/* Unit tests for the token object model (daemon/token.c): one certificate per key slot gives a
 * certificate, a public key and a private key that agree on CKA_ID, key type and public values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/token.h"

static const uint8_t guid[16] = {0, 1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17};

/* A self-signed certificate for a fresh key, as DER. */
static size_t make_cert(const char *type, const char *ku, uint8_t **ret_der, EVP_PKEY **ret_key)
{
	EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	                                       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	int len;

	assert_non_null(k);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"AHMET YILMAZ", -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, ku);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	X509_NAME_free(n);
	X509_free(x);
	*ret_der = der;
	*ret_key = k;
	return (size_t)len;
}

static CK_ULONG ulong_attr(const struct token_object *o, CK_ATTRIBUTE_TYPE type)
{
	const struct token_attr *a = token_attr(o, type);
	CK_ULONG v;

	assert_non_null(a);
	assert_int_equal(a->len, sizeof(CK_ULONG));
	memcpy(&v, a->value, sizeof(v));
	return v;
}

static CK_BBOOL bool_attr(const struct token_object *o, CK_ATTRIBUTE_TYPE type)
{
	const struct token_attr *a = token_attr(o, type);

	assert_non_null(a);
	assert_int_equal(a->len, 1);
	return *(CK_BBOOL *)a->value;
}

static void test_rsa_slot_gives_three_objects_sharing_the_id(void **state)
{
	struct token *t = token_new("AHMET YILMAZ", guid);
	struct token_slot_desc d = {2, 0x9C, true, true, "SIGN key", "Certificate for Digital Signature"};
	EVP_PKEY *k;
	uint8_t *der;
	size_t len = make_cert("RSA", "critical,nonRepudiation", &der, &k);

	assert_int_equal(token_add_slot(t, &d, der, len), 0);
	assert_int_equal(t->nobjs, 3);
	assert_int_equal(ulong_attr(&t->objs[0], CKA_CLASS), CKO_CERTIFICATE);
	assert_int_equal(ulong_attr(&t->objs[1], CKA_CLASS), CKO_PUBLIC_KEY);
	assert_int_equal(ulong_attr(&t->objs[2], CKA_CLASS), CKO_PRIVATE_KEY);
	for (int i = 0; i < 3; i++) {
		const struct token_attr *id = token_attr(&t->objs[i], CKA_ID);

		assert_int_equal(id->len, 1);
		assert_int_equal(((uint8_t *)id->value)[0], 2);
		assert_int_equal(t->objs[i].handle, (CK_OBJECT_HANDLE)(i + 1));
	}
	assert_memory_equal(token_attr(&t->objs[0], CKA_VALUE)->value, der, len);
	assert_int_equal(ulong_attr(&t->objs[2], CKA_KEY_TYPE), CKK_RSA);
	assert_int_equal(ulong_attr(&t->objs[1], CKA_MODULUS_BITS), 2048);
	assert_int_equal(token_attr(&t->objs[2], CKA_MODULUS)->len, 256);
	assert_true(bool_attr(&t->objs[2], CKA_SIGN));
	assert_false(bool_attr(&t->objs[2], CKA_DECRYPT));
	assert_true(bool_attr(&t->objs[2], CKA_ALWAYS_AUTHENTICATE));
	assert_true(bool_attr(&t->objs[2], CKA_PRIVATE));
	assert_true(t->objs[2].is_private);
	assert_false(t->objs[1].is_private);
	assert_true(token_attr_sensitive(&t->objs[2], CKA_PRIVATE_EXPONENT));
	assert_false(token_attr_sensitive(&t->objs[1], CKA_MODULUS));
	assert_int_equal(t->objs[2].key.size, 256);
	assert_int_equal(t->objs[2].key.card_alg, 0x07);
	assert_string_equal(t->serial, "1011121314151617");
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	token_free(t);
}

static void test_ec_slot_has_params_and_point_and_derive_only_with_key_agreement(void **state)
{
	struct token *t = token_new("x", guid);
	struct token_slot_desc d = {
	        4, 0x9E, false, false, "CARD AUTH key", "Certificate for Card Authentication"};
	EVP_PKEY *k;
	uint8_t *der;
	size_t len = make_cert("P-384", "digitalSignature", &der, &k);
	const struct token_attr *point, *params;

	assert_int_equal(token_add_slot(t, &d, der, len), 0);
	params = token_attr(&t->objs[1], CKA_EC_PARAMS);
	point = token_attr(&t->objs[1], CKA_EC_POINT);
	assert_non_null(params);
	assert_int_equal(((uint8_t *)params->value)[0], 0x06);
	assert_int_equal(point->len, 2 + 97);
	assert_int_equal(((uint8_t *)point->value)[0], 0x04);
	assert_int_equal(((uint8_t *)point->value)[2], 0x04);
	assert_int_equal(t->objs[2].key.card_alg, 0x14);
	assert_int_equal(t->objs[2].key.size, 48);
	assert_false(bool_attr(&t->objs[2], CKA_DERIVE));
	assert_false(bool_attr(&t->objs[2], CKA_ALWAYS_AUTHENTICATE));
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	token_free(t);
}

static void test_template_match_and_lookup(void **state)
{
	struct token *t = token_new("x", guid);
	struct token_slot_desc d = {3, 0x9D, false, true, "KEY MAN key", "Certificate for Key Management"};
	EVP_PKEY *k;
	uint8_t *der;
	size_t len = make_cert("RSA", "keyEncipherment", &der, &k);
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE want[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_DECRYPT, &yes, 1}};
	CK_ATTRIBUTE sign[] = {{CKA_SIGN, &yes, 1}};

	assert_int_equal(token_add_slot(t, &d, der, len), 0);
	assert_false(token_match(&t->objs[0], want, 2));
	assert_true(token_match(&t->objs[2], want, 2));
	assert_false(token_match(&t->objs[2], sign, 1));
	assert_true(token_match(&t->objs[0], NULL, 0));
	assert_null(token_object(t, 0));
	assert_null(token_object(t, 4));
	assert_ptr_equal(token_object(t, 3), &t->objs[2]);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	token_free(t);
}

static void test_garbage_certificate_is_rejected(void **state)
{
	struct token *t = token_new("x", guid);
	struct token_slot_desc d = {1,    0x9A,           false,
	                            true, "PIV AUTH key", "Certificate for PIV Authentication"};
	const uint8_t junk[] = {0x30, 0x82, 0x01, 0x00, 0x01};

	assert_int_equal(token_add_slot(t, &d, junk, sizeof(junk)), -EBADMSG);
	assert_int_equal(t->nobjs, 0);
	token_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rsa_slot_gives_three_objects_sharing_the_id),
	        cmocka_unit_test(test_ec_slot_has_params_and_point_and_derive_only_with_key_agreement),
	        cmocka_unit_test(test_template_match_and_lookup),
	        cmocka_unit_test(test_garbage_certificate_is_rejected),
	};

	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
