/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/web/certinfo.c: certificates made here with OpenSSL (names, serials, times, keys,
 * key usage, QC statements and policies) and what certinfo_parse makes of them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/web/certinfo.h"
#include "tests/lib/testcert.h"

/* QCStatements DER: SEQUENCE OF SEQUENCE { OID [, info] }.
 * 0.4.0.1862.1.1 QcCompliance = 06 06 04 00 8E 46 01 01; 0.4.0.1862.1.4 QcSSCD = 06 06 04 00 8E 46 01 04;
 * 0.4.0.1862.1.6 QcType with SEQUENCE { 0.4.0.1862.1.6.1 esign }. */
#define QC_COMPLIANCE_ONLY "DER:300A3008060604008E460101"
#define QC_TYPE_SSCD_COMPLIANCE                      \
	"DER:3029"                                   \
	"3013060604008E4601063009060704008E46010601" \
	"3008060604008E460104"                       \
	"3008060604008E460101"
#define QC_SSCD_ONLY "DER:300A3008060604008E460104"
/* A statement with three elements: not a QCStatement, so the extension counts for nothing. */
#define QC_MALFORMED "DER:300F300D060604008E4601010101FF0500"

struct spec {
	const char *key;        /* "RSA" (2048 bits), "RSA-<bits>" or a curve */
	const char *cn, *o;     /* subject (C=TR is always added) */
	const char *issuer_cn;  /* NULL: self-issued */
	const char *serial_hex; /* NULL: 01 */
	time_t not_before, not_after;
	const char *key_usage; /* openssl.cnf syntax, NULL: no extension */
	const char *qc;        /* qcStatements value for X509V3_EXT_nconf, NULL: none */
	const char *policies;  /* certificatePolicies value, NULL: none */
};

static void add_ext(X509 *x, X509V3_CTX *ctx, const char *name, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, ctx, name, value);

	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509_NAME *name_of(const char *cn, const char *o)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	assert_int_equal(
	        X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *)"TR", -1, -1, 0), 1);
	if (o)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)o,
		                                            -1, -1, 0),
		                 1);
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
		                                            -1, -1, 0),
		                 1);
	return n;
}

/* Builds the certificate; name, when not NULL, replaces the subject built from the spec. */
static size_t make(const struct spec *s, X509_NAME *name, uint8_t **ret_der)
{
	EVP_PKEY *k = strncmp(s->key, "RSA", 3) == 0
	                      ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	                                          (size_t)(s->key[3] ? strtoul(s->key + 4, NULL, 10) : 2048))
	                      : EVP_PKEY_Q_keygen(NULL, NULL, "EC", s->key);
	X509 *x = X509_new();
	X509_NAME *subj = name ? name : name_of(s->cn, s->o);
	X509_NAME *iss = s->issuer_cn ? name_of(s->issuer_cn, "Kamu SM") : NULL;
	BIGNUM *bn = NULL;
	CONF *conf;
	X509V3_CTX ctx;
	unsigned char *der = NULL;
	int len;

	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_true(BN_hex2bn(&bn, s->serial_hex ? s->serial_hex : "01") > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	assert_int_equal(X509_set_subject_name(x, subj), 1);
	assert_int_equal(X509_set_issuer_name(x, iss ? iss : subj), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), s->not_before));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), s->not_after));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	/* certificatePolicies is parsed by a routine that wants a config database, even an empty one. */
	conf = NCONF_new(NULL);
	assert_non_null(conf);
	X509V3_set_nconf(&ctx, conf);
	if (s->key_usage)
		add_ext(x, &ctx, "keyUsage", s->key_usage);
	if (s->qc)
		add_ext(x, &ctx, "qcStatements", s->qc);
	if (s->policies)
		add_ext(x, &ctx, "certificatePolicies", s->policies);
	NCONF_free(conf);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	X509_NAME_free(subj);
	X509_NAME_free(iss);
	X509_free(x);
	EVP_PKEY_free(k);
	*ret_der = der;
	return (size_t)len;
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {
	        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};

	return timegm(&tm);
}

static struct spec base(void)
{
	struct spec s = {
	        .key = "P-256",
	        .cn = "AHMET YILMAZ",
	        .o = "Test",
	        .not_before = utc(2026, 1, 1, 0, 0, 0),
	        .not_after = utc(2029, 1, 1, 0, 0, 0),
	        .key_usage = "critical,nonRepudiation",
	};
	return s;
}

static struct certinfo parse_ok(const struct spec *s)
{
	struct certinfo ci;
	uint8_t *der = NULL;
	size_t len = make(s, NULL, &der);

	memset(&ci, 0x5a, sizeof(ci));
	assert_int_equal(certinfo_parse(der, len, &ci), 0);
	OPENSSL_free(der);
	return ci;
}

static void test_rsa_key_type_and_bits(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.key = "RSA";
	ci = parse_ok(&s);
	assert_string_equal(ci.key_type, "RSA");
	assert_int_equal(ci.key_bits, 2048);
}

static void test_ec_key_type_and_bits(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	ci = parse_ok(&s);
	assert_string_equal(ci.key_type, "EC");
	assert_int_equal(ci.key_bits, 256);
	s.key = "P-384";
	ci = parse_ok(&s);
	assert_string_equal(ci.key_type, "EC");
	assert_int_equal(ci.key_bits, 384);
}

static void test_names_are_rfc2253_with_common_name(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.issuer_cn = "Kamu SM NES Sertifika Hizmet Saglayicisi";
	ci = parse_ok(&s);
	assert_string_equal(ci.subject, "CN=AHMET YILMAZ,O=Test,C=TR");
	assert_string_equal(ci.issuer, "CN=Kamu SM NES Sertifika Hizmet Saglayicisi,O=Kamu SM,C=TR");
	assert_string_equal(ci.common_name, "AHMET YILMAZ");
}

static void test_turkish_utf8_subject_stays_utf8(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.cn = "ŞĞİÇÖÜ şğıçöü";
	s.o = "Türkiye Büyük Millet Meclisi";
	ci = parse_ok(&s);
	assert_string_equal(ci.subject, "CN=ŞĞİÇÖÜ şğıçöü,O=Türkiye Büyük Millet Meclisi,C=TR");
	assert_string_equal(ci.common_name, "ŞĞİÇÖÜ şğıçöü");
}

static void test_bmpstring_subject_is_shown_as_utf8(void **state)
{
	/* "ŞÜ" as UCS-2 big-endian: U+015E U+00DC. */
	static const unsigned char bmp[] = {0x01, 0x5e, 0x00, 0xdc};
	struct spec s = base();
	X509_NAME *n = X509_NAME_new();
	struct certinfo ci;
	uint8_t *der = NULL;
	size_t len;

	assert_non_null(n);
	assert_int_equal(
	        X509_NAME_add_entry_by_NID(n, NID_commonName, V_ASN1_BMPSTRING, bmp, sizeof(bmp), -1, 0), 1);
	len = make(&s, n, &der);
	assert_int_equal(certinfo_parse(der, len, &ci), 0);
	assert_string_equal(ci.subject, "CN=ŞÜ");
	assert_string_equal(ci.common_name, "ŞÜ");
	OPENSSL_free(der);
}

/* A card may hold any DER: a UTF8String that is not UTF-8 (OpenSSL will not write one, so the test
 * patches a byte) must never reach the JSON as such. */
static void test_invalid_utf8string_name_is_refused_or_escaped(void **state)
{
	struct spec s = base();
	struct certinfo ci;
	uint8_t *der = NULL;
	size_t len, patched = 0;
	int r;

	s.cn = "ZQXJ";
	len = make(&s, NULL, &der);
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(der + i, "ZQXJ", 4) == 0) {
			der[i + 2] = 0xc3;
			patched++;
		}
	assert_int_equal(patched, 2);
	r = certinfo_parse(der, len, &ci);
	if (r == 0) {
		for (const char *p = ci.subject; *p; p++)
			assert_true((unsigned char)*p < 0x80);
		assert_string_equal(ci.common_name, "");
	} else {
		assert_int_equal(r, -EBADMSG);
	}
	OPENSSL_free(der);
}

static void test_control_characters_in_common_name_are_replaced(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.cn = "AHMET\nEVIL";
	ci = parse_ok(&s);
	assert_string_equal(ci.common_name, "AHMET?EVIL");
	/* RFC 2253 escaping in the subject. */
	assert_non_null(strstr(ci.subject, "AHMET\\0AEVIL"));
}

static void test_serial_is_upper_case_hex(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.serial_hex = "00a1b2c3d4e5f60718293a4b5c6d7e8f90";
	ci = parse_ok(&s);
	assert_string_equal(ci.serial, "A1B2C3D4E5F60718293A4B5C6D7E8F90");
	s.serial_hex = "1092";
	ci = parse_ok(&s);
	assert_string_equal(ci.serial, "1092");
	s.serial_hex = "5";
	ci = parse_ok(&s);
	assert_string_equal(ci.serial, "05");
}

static void test_validity_times_utc_and_generalized(void **state)
{
	struct spec s = base();
	struct certinfo ci;
	char out[21];

	/* After 2049 the certificate carries a GeneralizedTime. */
	s.not_after = utc(2055, 6, 30, 12, 34, 56);
	ci = parse_ok(&s);
	assert_int_equal(ci.not_before, utc(2026, 1, 1, 0, 0, 0));
	assert_int_equal(ci.not_after, utc(2055, 6, 30, 12, 34, 56));
	certinfo_time(ci.not_before, out);
	assert_string_equal(out, "2026-01-01T00:00:00Z");
	certinfo_time(ci.not_after, out);
	assert_string_equal(out, "2055-06-30T12:34:56Z");
}

static void test_time_string_keeps_its_shape(void **state)
{
	char out[21];

	certinfo_time(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	certinfo_time(utc(9999, 12, 31, 23, 59, 59), out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	certinfo_time(utc(9999, 12, 31, 23, 59, 59) + 10, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	assert_int_equal(strlen(out), 20);
}

static void test_key_usage_bits_and_names(void **state)
{
	struct spec s = base();
	struct certinfo ci;
	const char *names[8];
	size_t n;

	s.key_usage =
	        "critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyAgreement,"
	        "keyCertSign,cRLSign";
	ci = parse_ok(&s);
	assert_true(ci.has_key_usage);
	assert_int_equal(ci.key_usage, 0x7f);
	n = certinfo_key_usage_names(ci.key_usage, names, 8);
	assert_int_equal(n, 7);
	assert_string_equal(names[0], "digitalSignature");
	assert_string_equal(names[1], "nonRepudiation");
	assert_string_equal(names[2], "keyEncipherment");
	assert_string_equal(names[3], "dataEncipherment");
	assert_string_equal(names[4], "keyAgreement");
	assert_string_equal(names[5], "keyCertSign");
	assert_string_equal(names[6], "cRLSign");

	s.key_usage = "critical,nonRepudiation";
	ci = parse_ok(&s);
	assert_int_equal(ci.key_usage, CERTINFO_KU_NON_REPUDIATION);
	n = certinfo_key_usage_names(ci.key_usage, names, 8);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "nonRepudiation");

	/* The names stop at the caller's capacity, in order. */
	n = certinfo_key_usage_names(
	        CERTINFO_KU_DIGITAL_SIGNATURE | CERTINFO_KU_KEY_AGREEMENT | CERTINFO_KU_CRL_SIGN, names, 2);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "digitalSignature");
	assert_string_equal(names[1], "keyAgreement");
}

static void test_no_key_usage_extension(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.key_usage = NULL;
	ci = parse_ok(&s);
	assert_false(ci.has_key_usage);
	assert_int_equal(ci.key_usage, 0);
}

/* The web signs only with keys for signatures: nonRepudiation (contentCommitment). The PIV
 * authentication (9A: digitalSignature), key-management (9D) and card-authentication (9E) keys are not. */
static void test_authentication_key_refused_for_web(void **state)
{
	static const struct {
		const char *ku;
		bool signing;
	} cases[] = {
	        {"critical,nonRepudiation", true},
	        {"critical,digitalSignature,nonRepudiation", true},
	        {"critical,digitalSignature", false},
	        {"critical,keyEncipherment,dataEncipherment", false},
	        {"critical,keyAgreement", false},
	        {"critical,keyCertSign,cRLSign", false},
	        {NULL, false},
	};
	struct spec s = base();
	struct certinfo ci;
	uint8_t *der = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.key_usage = cases[i].ku;
		ci = parse_ok(&s);
		assert_int_equal(certinfo_for_signatures(&ci), cases[i].signing);
		len = make(&s, NULL, &der);
		assert_int_equal(certinfo_der_for_signatures(der, len), cases[i].signing);
		/* A certificate that does not parse is for nothing. */
		assert_false(certinfo_der_for_signatures(der, len - 1));
		OPENSSL_free(der);
		der = NULL;
	}
	assert_false(certinfo_der_for_signatures(NULL, 0));
}

/* A legacy RSA-1024 key (PIV algorithm 06) never makes a web signature, whatever its keyUsage; 2048 and
 * up (PIV's 3072 and 4096 too) do. */
static void test_rsa_under_2048_bits_refused_for_web(void **state)
{
	static const struct {
		const char *key;
		unsigned bits;
		bool signing;
	} cases[] = {{"RSA-1024", 1024, false}, {"RSA-2048", 2048, true}, {"RSA-3072", 3072, true}};
	struct spec s = base();
	struct certinfo ci;
	uint8_t *der = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.key = cases[i].key;
		ci = parse_ok(&s);
		assert_int_equal(ci.key_bits, cases[i].bits);
		assert_int_equal(certinfo_for_signatures(&ci), cases[i].signing);
		len = make(&s, NULL, &der);
		assert_int_equal(certinfo_der_for_signatures(der, len), cases[i].signing);
		OPENSSL_free(der);
		der = NULL;
	}
}

static void test_qualified_by_qc_compliance_statement(void **state)
{
	struct spec s = base();

	s.qc = QC_COMPLIANCE_ONLY;
	assert_true(parse_ok(&s).qualified);
	/* Among other statements, with and without statementInfo. */
	s.qc = QC_TYPE_SSCD_COMPLIANCE;
	assert_true(parse_ok(&s).qualified);
}

static void test_qualified_by_policy(void **state)
{
	static const char *const policies[] = {"2.16.792.1.61.0.1.5070.1.1", "0.4.0.194112.1.0",
	                                       "0.4.0.194112.1.2", "1.2.3.4,2.16.792.1.61.0.1.5070.1.1"};
	struct spec s = base();

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		s.policies = policies[i];
		assert_true(parse_ok(&s).qualified);
	}
}

/* imza-prompt's "Görüntüle" lists the policies as the certificate gives them, qualified or not. */
static void test_policies_are_listed_in_order(void **state)
{
	struct spec s = base();
	struct certinfo ci;

	s.policies = "1.2.3.4,2.16.792.1.61.0.1.5070.1.1";
	ci = parse_ok(&s);
	assert_int_equal(ci.n_policies, 2);
	assert_string_equal(ci.policies[0], "1.2.3.4");
	assert_string_equal(ci.policies[1], "2.16.792.1.61.0.1.5070.1.1");
	s.policies = NULL;
	assert_int_equal(parse_ok(&s).n_policies, 0);
}

/* The subject's serialNumber (a Turkish person's TC kimlik no) is kept, controls replaced. */
static void test_subject_serial_number_is_kept(void **state)
{
	struct spec s = base();
	X509_NAME *n = name_of("AHMET YILMAZ", NULL);
	struct certinfo ci;
	uint8_t *der = NULL;
	size_t len;

	assert_int_equal(X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_UTF8,
	                                            (const unsigned char *)"12345678950", -1, -1, 0),
	                 1);
	len = make(&s, n, &der);
	assert_int_equal(certinfo_parse(der, len, &ci), 0);
	OPENSSL_free(der);
	assert_string_equal(ci.serial_number, "12345678950");
	assert_string_equal(parse_ok(&s).serial_number, "");
}

static void test_not_qualified_without_statement_or_policy(void **state)
{
	struct spec s = base();

	assert_false(parse_ok(&s).qualified);
	/* Other statements, other policies (QCP-l 0.4.0.194112.1.1 is not qualified for signatures). */
	s.qc = QC_SSCD_ONLY;
	s.policies = "0.4.0.194112.1.1,2.16.792.1.61.0.1.5070.1.2";
	assert_false(parse_ok(&s).qualified);
}

static void test_malformed_qc_statements_count_for_nothing(void **state)
{
	struct spec s = base();

	s.qc = QC_MALFORMED;
	assert_false(parse_ok(&s).qualified);
	/* Trailing bytes after the SEQUENCE. */
	s.qc = "DER:300A3008060604008E46010100";
	assert_false(parse_ok(&s).qualified);
}

static void test_garbage_and_trailing_bytes_are_ebadmsg(void **state)
{
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	struct spec s = base();
	struct certinfo ci;
	uint8_t *der = NULL, *longer;
	size_t len = make(&s, NULL, &der);

	assert_int_equal(certinfo_parse(junk, sizeof(junk), &ci), -EBADMSG);
	assert_int_equal(certinfo_parse(der, 0, &ci), -EBADMSG);
	assert_int_equal(certinfo_parse(der, len - 1, &ci), -EBADMSG);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(certinfo_parse(longer, len + 1, &ci), -EBADMSG);
	free(longer);
	OPENSSL_free(der);
}

static void test_ed25519_key_is_eopnotsupp(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	struct certinfo ci;
	int len;

	assert_non_null(k);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, NULL) > 0);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	assert_int_equal(certinfo_parse(der, (size_t)len, &ci), -EOPNOTSUPP);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_testcert_fixture_parses(void **state)
{
	uint8_t *der = NULL;
	size_t len = testcert_make("RSA", "critical,digitalSignature,nonRepudiation", &der, NULL);
	struct certinfo ci;

	assert_int_equal(certinfo_parse(der, len, &ci), 0);
	assert_string_equal(ci.common_name, "AHMET YILMAZ");
	assert_string_equal(ci.serial, "1092");
	assert_int_equal(ci.key_usage, CERTINFO_KU_DIGITAL_SIGNATURE | CERTINFO_KU_NON_REPUDIATION);
	assert_false(ci.qualified);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rsa_key_type_and_bits),
	        cmocka_unit_test(test_ec_key_type_and_bits),
	        cmocka_unit_test(test_rsa_under_2048_bits_refused_for_web),
	        cmocka_unit_test(test_names_are_rfc2253_with_common_name),
	        cmocka_unit_test(test_turkish_utf8_subject_stays_utf8),
	        cmocka_unit_test(test_bmpstring_subject_is_shown_as_utf8),
	        cmocka_unit_test(test_invalid_utf8string_name_is_refused_or_escaped),
	        cmocka_unit_test(test_control_characters_in_common_name_are_replaced),
	        cmocka_unit_test(test_serial_is_upper_case_hex),
	        cmocka_unit_test(test_validity_times_utc_and_generalized),
	        cmocka_unit_test(test_time_string_keeps_its_shape),
	        cmocka_unit_test(test_key_usage_bits_and_names),
	        cmocka_unit_test(test_no_key_usage_extension),
	        cmocka_unit_test(test_authentication_key_refused_for_web),
	        cmocka_unit_test(test_qualified_by_qc_compliance_statement),
	        cmocka_unit_test(test_qualified_by_policy),
	        cmocka_unit_test(test_policies_are_listed_in_order),
	        cmocka_unit_test(test_subject_serial_number_is_kept),
	        cmocka_unit_test(test_not_qualified_without_statement_or_policy),
	        cmocka_unit_test(test_malformed_qc_statements_count_for_nothing),
	        cmocka_unit_test(test_garbage_and_trailing_bytes_are_ebadmsg),
	        cmocka_unit_test(test_ed25519_key_is_eopnotsupp),
	        cmocka_unit_test(test_testcert_fixture_parses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
