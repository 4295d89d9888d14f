/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test certificates (see testcert.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/lib/testcert.h"

/* "1024" of "RSA-1024": a fixture's own constant, so strtoul's errors need no care. */
static unsigned long rsa_bits(const char *s)
{
	return strtoul(s, NULL, 10);
}

size_t testcert_make(const char *type, const char *key_usage, uint8_t **ret_der, EVP_PKEY **ret_key)
{
	EVP_PKEY *k =
	        strncmp(type, "RSA", 3) == 0
	                ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(type[3] ? rsa_bits(type + 4) : 2048))
	                : EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	int len;

	if (k == NULL || x == NULL || n == NULL)
		abort();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"AHMET YILMAZ", -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, key_usage);
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1 || X509_sign(x, k, EVP_sha256()) <= 0)
		abort();
	X509_EXTENSION_free(ext);
	len = i2d_X509(x, &der);
	if (len <= 0)
		abort();
	X509_NAME_free(n);
	X509_free(x);
	if (ret_key)
		*ret_key = k;
	else
		EVP_PKEY_free(k);
	*ret_der = der;
	return (size_t)len;
}
