/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for CAdES-BES (daemon/web/cades.c): the test plays the card with a software key, OpenSSL's CMS
 * verifier and the openssl command judge the result, and a card that fails or answers wrongly leaves no
 * signature behind. */
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
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/web/cades.h"
#include "tests/lib/testcert.h"

static const char declaration[] = "Başvuru Nedeni: yenileme\nGüvenlik sözcüğü: kırmızı\n";

enum card_mode {
	CARD_OK,
	CARD_FAILS,       /* the card answers with an error */
	CARD_SHORT,       /* one byte too few */
	CARD_OVERLONG,    /* claims more bytes than the buffer holds */
	CARD_OTHER_KEY,   /* signs with a key that is not the certificate's */
	CARD_POSITIVE,    /* a buggy driver returns a positive value */
	CARD_FLIPPED_BIT, /* a faulty answer of the right size */
};

struct card {
	EVP_PKEY *key;
	EVP_PKEY *other;
	enum card_mode mode;
	int calls;
	uint8_t last_digest[32];
};

struct fixture {
	uint8_t *rsa_der, *ec_der;
	size_t rsa_len, ec_len;
	EVP_PKEY *rsa_key, *ec_key, *other_rsa;
};

static int card_sign(void *ud, const uint8_t *digest, size_t len, uint8_t *sig, size_t cap, size_t *ret_len)
{
	struct card *c = ud;
	EVP_PKEY *k = c->mode == CARD_OTHER_KEY ? c->other : c->key;
	EVP_PKEY_CTX *ctx;
	size_t n = cap;
	int ok;

	c->calls++;
	assert_int_equal(len, 32);
	memcpy(c->last_digest, digest, 32);
	if (c->mode == CARD_FAILS)
		return -ENXIO;
	if (c->mode == CARD_POSITIVE)
		return 1;
	ctx = EVP_PKEY_CTX_new(k, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	if (EVP_PKEY_is_a(k, "RSA")) {
		/* PKCS#1 v1.5 with the SHA-256 DigestInfo, as a card's RSA signature key does it. */
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	}
	ok = EVP_PKEY_sign(ctx, sig, &n, digest, len);
	EVP_PKEY_CTX_free(ctx);
	assert_int_equal(ok, 1);
	if (c->mode == CARD_SHORT)
		n--;
	if (c->mode == CARD_OVERLONG)
		n = cap + 1;
	if (c->mode == CARD_FLIPPED_BIT)
		sig[n / 2] ^= 0x01;
	*ret_len = n;
	return 0;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->rsa_len = testcert_make("RSA", "critical,nonRepudiation", &fx->rsa_der, &fx->rsa_key);
	fx->ec_len =
	        testcert_make("P-256", "critical,digitalSignature,nonRepudiation", &fx->ec_der, &fx->ec_key);
	fx->other_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(fx->other_rsa);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	OPENSSL_free(fx->rsa_der);
	OPENSSL_free(fx->ec_der);
	EVP_PKEY_free(fx->rsa_key);
	EVP_PKEY_free(fx->ec_key);
	EVP_PKEY_free(fx->other_rsa);
	free(fx);
	return 0;
}

static X509 *cert_of(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	assert_non_null(x);
	return x;
}

static CMS_ContentInfo *parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);

	assert_non_null(cms);
	assert_ptr_equal(p, der + len);
	return cms;
}

/* CMS_verify with the self-signed certificate as the only trust anchor and no certificates from outside
 * the SignedData: the signer's certificate has to come from inside it. Returns the content verified. */
static bool verify(const uint8_t *der, size_t len, const uint8_t *cert_der, size_t cert_len,
                   const uint8_t *detached_content, size_t content_len, uint8_t **ret_out,
                   size_t *ret_out_len)
{
	CMS_ContentInfo *cms = parse(der, len);
	X509_STORE *store = X509_STORE_new();
	X509 *cert = cert_of(cert_der, cert_len);
	BIO *in = detached_content ? BIO_new_mem_buf(detached_content, (int)content_len) : NULL;
	BIO *out = BIO_new(BIO_s_mem());
	bool ok;

	assert_non_null(store);
	assert_non_null(out);
	assert_int_equal(X509_STORE_add_cert(store, cert), 1);
	ok = CMS_verify(cms, NULL, store, in, out, CMS_BINARY) == 1;
	if (ok && ret_out) {
		char *p;
		long n = BIO_get_mem_data(out, &p);

		*ret_out = malloc((size_t)n + 1);
		assert_non_null(*ret_out);
		memcpy(*ret_out, p, (size_t)n);
		*ret_out_len = (size_t)n;
	}
	BIO_free(out);
	BIO_free(in);
	X509_free(cert);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	return ok;
}

static void sign_ok(const struct fixture *fx, bool ec, const uint8_t *content, size_t len, bool detached,
                    uint8_t **ret_der, size_t *ret_len)
{
	struct card c = {.key = ec ? fx->ec_key : fx->rsa_key, .mode = CARD_OK};
	struct cades_signer s = {card_sign, &c};

	assert_int_equal(cades_sign(content, len, detached, ec ? fx->ec_der : fx->rsa_der,
	                            ec ? fx->ec_len : fx->rsa_len, &s, ret_der, ret_len),
	                 0);
	assert_int_equal(c.calls, 1);
	assert_non_null(*ret_der);
}

static void check_attached(void **state, bool ec)
{
	const struct fixture *fx = *state;
	const uint8_t *cert = ec ? fx->ec_der : fx->rsa_der;
	size_t cert_len = ec ? fx->ec_len : fx->rsa_len;
	uint8_t *der = NULL, *out = NULL;
	size_t len = 0, out_len = 0;

	sign_ok(fx, ec, (const uint8_t *)declaration, strlen(declaration), false, &der, &len);
	assert_true(verify(der, len, cert, cert_len, NULL, 0, &out, &out_len));
	assert_int_equal(out_len, strlen(declaration));
	assert_memory_equal(out, declaration, out_len);
	free(out);
	OPENSSL_free(der);
}

static void check_detached(void **state, bool ec)
{
	static const char other[] = "Başvuru Nedeni: kayıp\n";
	const struct fixture *fx = *state;
	const uint8_t *cert = ec ? fx->ec_der : fx->rsa_der;
	size_t cert_len = ec ? fx->ec_len : fx->rsa_len;
	uint8_t *der = NULL;
	size_t len = 0;
	CMS_ContentInfo *cms;

	sign_ok(fx, ec, (const uint8_t *)declaration, strlen(declaration), true, &der, &len);
	cms = parse(der, len);
	assert_int_equal(CMS_is_detached(cms), 1);
	CMS_ContentInfo_free(cms);
	assert_true(verify(der, len, cert, cert_len, (const uint8_t *)declaration, strlen(declaration), NULL,
	                   NULL));
	/* Other content does not verify: the message-digest binds it. */
	assert_false(verify(der, len, cert, cert_len, (const uint8_t *)other, strlen(other), NULL, NULL));
	OPENSSL_free(der);
}

static void test_rsa_attached_verifies_and_carries_the_content(void **state)
{
	check_attached(state, false);
}

static void test_ec_attached_verifies_and_carries_the_content(void **state)
{
	check_attached(state, true);
}

static void test_rsa_detached_verifies_only_with_the_same_content(void **state)
{
	check_detached(state, false);
}

static void test_ec_detached_verifies_only_with_the_same_content(void **state)
{
	check_detached(state, true);
}

static void test_large_and_empty_content_are_signed(void **state)
{
	const struct fixture *fx = *state;
	size_t big_len = 200000;
	uint8_t *big = malloc(big_len), *der = NULL, *out = NULL;
	size_t len = 0, out_len = 0;

	assert_non_null(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	sign_ok(fx, true, big, big_len, false, &der, &len);
	assert_true(verify(der, len, fx->ec_der, fx->ec_len, NULL, 0, &out, &out_len));
	assert_int_equal(out_len, big_len);
	assert_memory_equal(out, big, big_len);
	free(out);
	OPENSSL_free(der);

	sign_ok(fx, false, NULL, 0, true, &der, &len);
	assert_true(verify(der, len, fx->rsa_der, fx->rsa_len, (const uint8_t *)"", 0, NULL, NULL));
	OPENSSL_free(der);
	free(big);
}

static const ASN1_TYPE *attr_value(CMS_SignerInfo *si, int nid)
{
	int i = CMS_signed_get_attr_by_NID(si, nid, -1);
	X509_ATTRIBUTE *a;

	assert_true(i >= 0);
	/* Exactly one of each, with one value. */
	assert_int_equal(CMS_signed_get_attr_by_NID(si, nid, i), -1);
	a = CMS_signed_get_attr(si, i);
	assert_int_equal(X509_ATTRIBUTE_count(a), 1);
	return X509_ATTRIBUTE_get0_type(a, 0);
}

static void check_attributes(void **state, bool ec)
{
	const struct fixture *fx = *state;
	const uint8_t *cert_der = ec ? fx->ec_der : fx->rsa_der;
	size_t cert_len = ec ? fx->ec_len : fx->rsa_len;
	uint8_t *der = NULL, md[32], cert_md[32];
	size_t len = 0;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_ALGOR *dig, *sig;
	const ASN1_OBJECT *oid;
	const ASN1_TYPE *t;
	int day, sec;
	const unsigned char *p;
	ESS_SIGNING_CERT_V2 *sc2;
	STACK_OF(X509) * chain, *certs;
	X509 *cert = cert_of(cert_der, cert_len);

	sign_ok(fx, ec, (const uint8_t *)declaration, strlen(declaration), false, &der, &len);
	cms = parse(der, len);
	assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_int_equal(CMS_signed_get_attr_count(si), 4);

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	X509_ALGOR_get0(&oid, NULL, NULL, dig);
	assert_int_equal(OBJ_obj2nid(oid), NID_sha256);
	X509_ALGOR_get0(&oid, NULL, NULL, sig);
	assert_int_equal(OBJ_obj2nid(oid), ec ? NID_ecdsa_with_SHA256 : NID_rsaEncryption);

	t = attr_value(si, NID_pkcs9_contentType);
	assert_int_equal(t->type, V_ASN1_OBJECT);
	assert_int_equal(OBJ_obj2nid(t->value.object), NID_pkcs7_data);

	t = attr_value(si, NID_pkcs9_messageDigest);
	assert_int_equal(t->type, V_ASN1_OCTET_STRING);
	assert_int_equal(EVP_Digest(declaration, strlen(declaration), md, NULL, EVP_sha256(), NULL), 1);
	assert_int_equal(ASN1_STRING_length(t->value.octet_string), 32);
	assert_memory_equal(ASN1_STRING_get0_data(t->value.octet_string), md, 32);

	t = attr_value(si, NID_pkcs9_signingTime);
	assert_int_equal(t->type, V_ASN1_UTCTIME);
	assert_int_equal(ASN1_TIME_diff(&day, &sec, t->value.utctime, NULL), 1);
	assert_int_equal(day, 0);
	assert_true(sec >= -60 && sec <= 60);

	/* signing-certificate-v2: OpenSSL's ESS check finds the certificate's SHA-256 in it, and so does a
	 * plain search for the hash as an OCTET STRING in the attribute's DER. */
	t = attr_value(si, NID_id_smime_aa_signingCertificateV2);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	p = ASN1_STRING_get0_data(t->value.sequence);
	sc2 = d2i_ESS_SIGNING_CERT_V2(NULL, &p, ASN1_STRING_length(t->value.sequence));
	assert_non_null(sc2);
	chain = sk_X509_new_null();
	assert_non_null(chain);
	assert_int_equal(sk_X509_push(chain, cert), 1);
	assert_int_equal(OSSL_ESS_check_signing_certs(NULL, sc2, chain, 1), 1);
	assert_int_equal(EVP_Digest(cert_der, cert_len, cert_md, NULL, EVP_sha256(), NULL), 1);
	{
		const uint8_t *seq = ASN1_STRING_get0_data(t->value.sequence);
		int n = ASN1_STRING_length(t->value.sequence);
		bool found = false;

		for (int i = 0; i + 34 <= n && !found; i++)
			found = seq[i] == 0x04 && seq[i + 1] == 0x20 && memcmp(seq + i + 2, cert_md, 32) == 0;
		assert_true(found);
	}
	ESS_SIGNING_CERT_V2_free(sc2);
	sk_X509_free(chain);

	/* The signer's certificate is in the SignedData. */
	certs = CMS_get1_certs(cms);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), cert), 0);
	sk_X509_pop_free(certs, X509_free);

	X509_free(cert);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
}

static void test_rsa_signed_attributes_are_the_cades_bes_set(void **state)
{
	check_attributes(state, false);
}

static void test_ec_signed_attributes_are_the_cades_bes_set(void **state)
{
	check_attributes(state, true);
}

static int sign_with_mode(const struct fixture *fx, enum card_mode mode, uint8_t **der, size_t *len)
{
	struct card c = {.key = fx->rsa_key, .other = fx->other_rsa, .mode = mode};
	struct cades_signer s = {card_sign, &c};
	int r = cades_sign((const uint8_t *)declaration, strlen(declaration), false, fx->rsa_der, fx->rsa_len,
	                   &s, der, len);

	assert_int_equal(c.calls, 1);
	return r;
}

static void test_failing_card_error_is_returned_and_nothing_written(void **state)
{
	uint8_t *der = (uint8_t *)0x1;
	size_t len = 77;

	assert_int_equal(sign_with_mode(*state, CARD_FAILS, &der, &len), -ENXIO);
	assert_ptr_equal(der, (uint8_t *)0x1);
	assert_int_equal(len, 77);
	assert_int_equal(sign_with_mode(*state, CARD_POSITIVE, &der, &len), -EIO);
	assert_ptr_equal(der, (uint8_t *)0x1);
}

static void test_wrong_size_signature_is_rejected(void **state)
{
	uint8_t *der = (uint8_t *)0x1;
	size_t len = 77;

	assert_int_equal(sign_with_mode(*state, CARD_SHORT, &der, &len), -EBADMSG);
	assert_int_equal(sign_with_mode(*state, CARD_OVERLONG, &der, &len), -EBADMSG);
	assert_ptr_equal(der, (uint8_t *)0x1);
	assert_int_equal(len, 77);
}

static void test_signature_that_does_not_verify_is_rejected(void **state)
{
	const struct fixture *fx = *state;
	struct card c = {.key = fx->ec_key, .mode = CARD_FLIPPED_BIT};
	struct cades_signer s = {card_sign, &c};
	uint8_t *der = (uint8_t *)0x1;
	size_t len = 77;

	assert_int_equal(sign_with_mode(fx, CARD_OTHER_KEY, &der, &len), -EBADMSG);
	assert_int_equal(sign_with_mode(fx, CARD_FLIPPED_BIT, &der, &len), -EBADMSG);
	/* A flipped bit in an ECDSA-Sig-Value: either no longer DER or a wrong r or s. */
	assert_int_equal(cades_sign((const uint8_t *)"x", 1, true, fx->ec_der, fx->ec_len, &s, &der, &len),
	                 -EBADMSG);
	assert_ptr_equal(der, (uint8_t *)0x1);
}

static void test_bad_arguments_are_rejected_before_the_card(void **state)
{
	const struct fixture *fx = *state;
	struct card c = {.key = fx->rsa_key, .mode = CARD_OK};
	struct cades_signer s = {card_sign, &c}, none = {NULL, NULL};
	uint8_t *der = NULL, *cert2 = malloc(fx->rsa_len + 1);
	size_t len = 0;

	assert_non_null(cert2);
	memcpy(cert2, fx->rsa_der, fx->rsa_len);
	cert2[fx->rsa_len] = 0;
	/* Trailing bytes after the certificate, a truncated one, no certificate, no callback, no content. */
	assert_int_equal(cades_sign((const uint8_t *)"x", 1, false, cert2, fx->rsa_len + 1, &s, &der, &len),
	                 -EINVAL);
	assert_int_equal(cades_sign((const uint8_t *)"x", 1, false, cert2, fx->rsa_len - 1, &s, &der, &len),
	                 -EINVAL);
	assert_int_equal(cades_sign((const uint8_t *)"x", 1, false, NULL, 0, &s, &der, &len), -EINVAL);
	assert_int_equal(
	        cades_sign((const uint8_t *)"x", 1, false, fx->rsa_der, fx->rsa_len, &none, &der, &len),
	        -EINVAL);
	assert_int_equal(cades_sign(NULL, 1, false, fx->rsa_der, fx->rsa_len, &s, &der, &len), -EINVAL);
	assert_int_equal(cades_sign((const uint8_t *)"x", 1, false, fx->rsa_der, fx->rsa_len, &s, NULL, &len),
	                 -EINVAL);
	assert_int_equal(c.calls, 0);
	assert_null(der);
	free(cert2);
}

/* cades.c keeps the certificates it parsed last: with more signers than it keeps, in an order that reuses
 * and evicts them, each signature still carries, and verifies with, the very certificate it was given. */
static void test_each_signature_carries_its_own_certificate_among_several(void **state)
{
	enum { N = 6 };
	static const int order[] = {0, 1, 2, 3, 4, 5, 0, 3, 5, 1, 1, 4, 2, 0};
	uint8_t *ders[N];
	size_t lens[N];
	EVP_PKEY *keys[N];

	(void)state;
	for (int i = 0; i < N; i++)
		lens[i] = testcert_make("P-256", "critical,nonRepudiation", &ders[i], &keys[i]);
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		int i = order[k];
		struct card c = {.key = keys[i], .mode = CARD_OK};
		struct cades_signer s = {card_sign, &c};
		uint8_t *der = NULL, *cert_der = NULL;
		size_t len = 0;
		CMS_ContentInfo *cms;
		STACK_OF(X509) * certs;
		int cert_len;

		assert_int_equal(cades_sign((const uint8_t *)declaration, strlen(declaration), false, ders[i],
		                            lens[i], &s, &der, &len),
		                 0);
		cms = parse(der, len);
		certs = CMS_get1_certs(cms);
		assert_non_null(certs);
		assert_int_equal(sk_X509_num(certs), 1);
		cert_len = i2d_X509(sk_X509_value(certs, 0), &cert_der);
		assert_int_equal(cert_len, (int)lens[i]);
		assert_memory_equal(cert_der, ders[i], lens[i]);
		assert_true(verify(der, len, ders[i], lens[i], NULL, 0, NULL, NULL));
		OPENSSL_free(cert_der);
		sk_X509_pop_free(certs, X509_free);
		CMS_ContentInfo_free(cms);
		OPENSSL_free(der);
	}
	for (int i = 0; i < N; i++) {
		OPENSSL_free(ders[i]);
		EVP_PKEY_free(keys[i]);
	}
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The acceptance check of DESIGN §5: `openssl cms -verify` takes the file, and `-cmsout -print` names
 * the four signed attributes (one line each; the ContentInfo's own contentType line is not counted). */
static void test_openssl_cli_verifies_and_prints_the_attributes(void **state)
{
	const struct fixture *fx = *state;
	char dir[] = "/tmp/imza-cades-XXXXXX", cmd[1024], line[256];
	uint8_t *der = NULL;
	size_t len = 0;
	X509 *cert = cert_of(fx->rsa_der, fx->rsa_len);
	FILE *f;
	int lines = 0;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		X509_free(cert);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/cert.pem", dir);
	f = fopen(cmd, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, cert), 1);
	assert_int_equal(fclose(f), 0);
	X509_free(cert);

	sign_ok(fx, false, (const uint8_t *)declaration, strlen(declaration), false, &der, &len);
	snprintf(cmd, sizeof(cmd), "%s/sig.p7s", dir);
	write_file(cmd, der, len);
	OPENSSL_free(der);
	snprintf(cmd, sizeof(cmd), "%s/decl.txt", dir);
	write_file(cmd, declaration, strlen(declaration));

	snprintf(cmd, sizeof(cmd),
	         "openssl cms -verify -inform DER -in %s/sig.p7s -CAfile %s/cert.pem -binary -out %s/out.txt "
	         "2>%s/verify.err && cmp -s %s/out.txt %s/decl.txt",
	         dir, dir, dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -qx 'CMS Verification successful' %s/verify.err", dir);
	assert_int_equal(system(cmd), 0);

	snprintf(
	        cmd, sizeof(cmd),
	        "openssl cms -cmsout -print -inform DER -in %s/sig.p7s | "
	        "grep -E 'object: (contentType|signingTime|messageDigest|id-smime-aa-signingCertificateV2) ' "
	        ">%s/attrs.txt",
	        dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/attrs.txt", dir);
	f = fopen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	assert_int_equal(lines, 4);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rsa_attached_verifies_and_carries_the_content),
	        cmocka_unit_test(test_ec_attached_verifies_and_carries_the_content),
	        cmocka_unit_test(test_rsa_detached_verifies_only_with_the_same_content),
	        cmocka_unit_test(test_ec_detached_verifies_only_with_the_same_content),
	        cmocka_unit_test(test_large_and_empty_content_are_signed),
	        cmocka_unit_test(test_rsa_signed_attributes_are_the_cades_bes_set),
	        cmocka_unit_test(test_ec_signed_attributes_are_the_cades_bes_set),
	        cmocka_unit_test(test_failing_card_error_is_returned_and_nothing_written),
	        cmocka_unit_test(test_wrong_size_signature_is_rejected),
	        cmocka_unit_test(test_signature_that_does_not_verify_is_rejected),
	        cmocka_unit_test(test_bad_arguments_are_rejected_before_the_card),
	        cmocka_unit_test(test_openssl_cli_verifies_and_prints_the_attributes),
	        cmocka_unit_test(test_each_signature_carries_its_own_certificate_among_several),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
