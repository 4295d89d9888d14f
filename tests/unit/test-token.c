/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the token object model (daemon/card/token.c): one certificate per key slot gives a
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

#include "daemon/card/token.h"
#include "tests/lib/testcert.h"

static const uint8_t guid[16] = {0, 1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17};

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
	size_t len = testcert_make("RSA", "critical,nonRepudiation", &der, &k);

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
	size_t len = testcert_make("P-384", "digitalSignature", &der, &k);
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

/* Each RSA size PIV defines (SP 800-78-5: 06 RSA-1024, 07 RSA-2048, 05 RSA-3072, 16 RSA-4096) is kept
 * with its algorithm id, modulus bits and bytes; a size PIV does not define leaves the slot out on a PIV
 * card and is kept for a vendor module's token (TOKEN_ANY_RSA). */
static void test_piv_rsa_sizes_carry_their_algorithm_ids(void **state)
{
	static const struct {
		const char *type;
		CK_ULONG bits;
		uint8_t alg;
	} sizes[] = {{"RSA-1024", 1024, 0x06},
	             {"RSA-2048", 2048, 0x07},
	             {"RSA-3072", 3072, 0x05},
	             {"RSA-4096", 4096, 0x16}};
	struct token_slot_desc d = {2, 0x9C, true, true, "SIGN key", "Certificate for Digital Signature"};
	EVP_PKEY *k;
	uint8_t *der, id = 2;
	size_t len;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct token *t = token_new("x", guid);

		len = testcert_make(sizes[i].type, "critical,nonRepudiation", &der, &k);
		assert_int_equal(token_add_slot(t, &d, der, len), 0);
		assert_int_equal(t->nobjs, 3);
		assert_int_equal(ulong_attr(&t->objs[1], CKA_MODULUS_BITS), sizes[i].bits);
		assert_int_equal(token_attr(&t->objs[1], CKA_MODULUS)->len, sizes[i].bits / 8);
		assert_int_equal(t->objs[2].key.size, sizes[i].bits / 8);
		assert_int_equal(t->objs[2].key.card_alg, sizes[i].alg);
		assert_true(bool_attr(&t->objs[2], CKA_SIGN));
		OPENSSL_free(der);
		EVP_PKEY_free(k);
		token_free(t);
	}

	/* 1536 bits: not a PIV size; a vendor module's key of that size is kept. */
	struct token *t = token_new("x", guid);

	len = testcert_make("RSA-1536", "critical,nonRepudiation", &der, &k);
	assert_int_equal(token_add_slot(t, &d, der, len), -EOPNOTSUPP);
	token_free(t);
	t = token_new("x", guid);
	assert_int_equal(token_add_slot_id(t, &d, &id, 1, TOKEN_ANY_RSA, der, len), 0);
	assert_int_equal(t->objs[2].key.size, 192);
	assert_int_equal(ulong_attr(&t->objs[1], CKA_MODULUS_BITS), 1536);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	token_free(t);
}

/* PIV's card-authentication key needs no PIN: its private key is listed and used before login, with
 * CKA_PRIVATE false, as OpenSC shows it; a key that needs the PIN stays private. */
static void test_key_without_pin_is_not_private(void **state)
{
	struct token *t = token_new("x", guid);
	struct token_slot_desc cak = {
	        4, 0x9E, false, false, "CARD AUTH key", "Certificate for Card Authentication"};
	struct token_slot_desc auth = {1,    0x9A,           false,
	                               true, "PIV AUTH key", "Certificate for PIV Authentication"};
	EVP_PKEY *k;
	uint8_t *der;
	size_t len = testcert_make("P-256", "digitalSignature", &der, &k);

	assert_int_equal(token_add_slot(t, &cak, der, len), 0);
	assert_int_equal(token_add_slot(t, &auth, der, len), 0);
	assert_int_equal(ulong_attr(&t->objs[2], CKA_CLASS), CKO_PRIVATE_KEY);
	assert_false(t->objs[2].is_private);
	assert_false(bool_attr(&t->objs[2], CKA_PRIVATE));
	assert_false(t->objs[2].key.needs_pin);
	assert_true(bool_attr(&t->objs[2], CKA_SIGN));
	assert_int_equal(ulong_attr(&t->objs[5], CKA_CLASS), CKO_PRIVATE_KEY);
	assert_true(t->objs[5].is_private);
	assert_true(bool_attr(&t->objs[5], CKA_PRIVATE));
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
	size_t len = testcert_make("RSA", "keyEncipherment", &der, &k);
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

/* A vendor module's texts are peer input: control characters, bidi overrides and bytes that are no
 * UTF-8 become '?', a character cut by the field's end goes, Turkish letters stay, padding is trimmed
 * and the result never cuts a character to fit. */
static void test_module_text_is_cleaned_of_controls_and_bad_utf8(void **state)
{
	static const char field[16] = "a\x1b[2J\r\nb\0c\xff\xc2\x9b\xc4";
	static const char turkish[] = "\xc4\xb0\xc5\x9f\xc4\x9f\xc3\xbc \xe2\x80\xae\xc3\xa7   \0\0";
	static const char overlong[] = "\xc0\xaf\xed\xa0\x80x";
	char out[65];

	(void)state;
	assert_int_equal(token_text_clean(out, sizeof(out), field, sizeof(field)), 12);
	assert_string_equal(out, "a?[2J??b?c??");
	assert_int_equal(token_text_clean(out, sizeof(out), turkish, sizeof(turkish) - 1), 12);
	assert_string_equal(out, "\xc4\xb0\xc5\x9f\xc4\x9f\xc3\xbc ?\xc3\xa7");
	token_text_clean(out, sizeof(out), overlong, sizeof(overlong) - 1);
	assert_string_equal(out, "?????x");
	/* Cut to fit: 3 bytes of room, and the second letter would not fit whole. */
	assert_int_equal(token_text_clean(out, 4, "\xc4\xb0\xc5\x9f", 4), 2);
	assert_string_equal(out, "\xc4\xb0");
	assert_int_equal(token_text_clean(out, sizeof(out), "    ", 4), 0);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rsa_slot_gives_three_objects_sharing_the_id),
	        cmocka_unit_test(test_ec_slot_has_params_and_point_and_derive_only_with_key_agreement),
	        cmocka_unit_test(test_key_without_pin_is_not_private),
	        cmocka_unit_test(test_piv_rsa_sizes_carry_their_algorithm_ids),
	        cmocka_unit_test(test_template_match_and_lookup),
	        cmocka_unit_test(test_garbage_certificate_is_rejected),
	        cmocka_unit_test(test_module_text_is_cleaned_of_controls_and_bad_utf8),
	};

	return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
