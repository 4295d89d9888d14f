/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the HTTPS API and the dialogs show of a certificate (see certinfo.h). OpenSSL does every bit of
 * the DER: X.509 through d2i_X509, the QC statements through an ASN.1 template, so no byte of a
 * certificate from a card is read by hand here. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/web/certinfo.h"

/* ETSI EN 319 412-5, in the extension qcStatements (1.3.6.1.5.5.7.1.3): QCStatements ::= SEQUENCE OF QCStatement;
 * QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY OPTIONAL } */
typedef struct {
	ASN1_OBJECT *id;
	ASN1_TYPE *info;
} IMZA_QCSTATEMENT;

DEFINE_STACK_OF(IMZA_QCSTATEMENT)
typedef STACK_OF(IMZA_QCSTATEMENT) IMZA_QCSTATEMENTS;

/* clang-format off */
ASN1_SEQUENCE(IMZA_QCSTATEMENT) = {
	ASN1_SIMPLE(IMZA_QCSTATEMENT, id, ASN1_OBJECT),
	ASN1_OPT(IMZA_QCSTATEMENT, info, ASN1_ANY),
} static_ASN1_SEQUENCE_END(IMZA_QCSTATEMENT)

ASN1_ITEM_TEMPLATE(IMZA_QCSTATEMENTS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, QcStatements, IMZA_QCSTATEMENT)
static_ASN1_ITEM_TEMPLATE_END(IMZA_QCSTATEMENTS)
/* clang-format on */

#define OID_QC_COMPLIANCE "0.4.0.1862.1.1"

        /* The policies docs/API.md counts as qualified: Turkish NES, ETSI QCP-n and QCP-n-qscd. */
        static const char *const qualified_policies[] = {
                "2.16.792.1.61.0.1.5070.1.1",
                "0.4.0.194112.1.0",
                "0.4.0.194112.1.2",
};

static bool oid_is(const ASN1_OBJECT *o, const char *dotted)
{
	char buf[128];
	int n = OBJ_obj2txt(buf, sizeof(buf), o, 1);

	return n > 0 && (size_t)n < sizeof(buf) && strcmp(buf, dotted) == 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Copies valid UTF-8 into out; past cap it is cut on a character boundary and ends in "...". */
static void copy_utf8(char *out, size_t cap, const unsigned char *s, size_t len)
{
	if (len < cap) {
		memcpy(out, s, len);
		out[len] = '\0';
		return;
	}
	len = cap - 4;
	while (len > 0 && (s[len] & 0xc0) == 0x80)
		len--;
	memcpy(out, s, len);
	memcpy(out + len, "...", 4);
}

/* RFC 2253 order and escaping, but UTF-8 as UTF-8 (not \XX) so Turkish names read as written. A name
 * OpenSSL cannot print that way (an invalid UTF8String) falls back to RFC 2253's hex form of each value
 * ("CN=#0C03..."), which is ASCII and always printable. */
static int print_name(const X509_NAME *name, char *out, size_t cap)
{
	static const unsigned long flags[] = {XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB,
	                                      XN_FLAG_RFC2253 | ASN1_STRFLGS_DUMP_ALL};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		BIO *b = BIO_new(BIO_s_mem());
		char *p;
		long n;
		bool ok;

		if (b == NULL)
			return -ENOMEM;
		ok = X509_NAME_print_ex(b, name, 0, flags[i]) >= 0;
		n = BIO_get_mem_data(b, &p);
		if (n <= 0) { /* an empty name */
			p = "";
			n = 0;
		}
		ok = ok && utf8_valid((const unsigned char *)p, (size_t)n) &&
		     memchr(p, '\0', (size_t)n) == NULL;
		if (ok)
			copy_utf8(out, cap, (const unsigned char *)p, (size_t)n);
		BIO_free(b);
		if (ok)
			return 0;
	}
	return -EBADMSG;
}

/* The subject's (first) attribute nid as UTF-8; control characters become '?' so the value cannot hide
 * a tail. "" when absent. */
static void name_entry(const X509_NAME *name, int nid, char *out, size_t cap)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	int n;

	out[0] = '\0';
	if (i < 0)
		return;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0)
		return;
	for (int k = 0; k < n; k++)
		if (utf8[k] < 0x20 || utf8[k] == 0x7f)
			utf8[k] = '?';
	if (utf8_valid(utf8, (size_t)n))
		copy_utf8(out, cap, utf8, (size_t)n);
	OPENSSL_free(utf8);
}

static int serial_hex(const X509 *x, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int r = -EBADMSG;

	if (hex && strlen(hex) < cap) {
		memcpy(out, hex, strlen(hex) + 1);
		r = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

static int to_time_t(const ASN1_TIME *t, time_t *ret)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EBADMSG;
	*ret = timegm(&tm);
	return 0;
}

static int key_info(X509 *x, struct certinfo *ci)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	ASN1_OBJECT *alg = NULL;

	if (k == NULL) {
		/* A key OpenSSL cannot decode: broken if it claims to be RSA or EC, else just not ours. */
		X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x));
		if (alg &&
		    (OBJ_obj2nid(alg) == NID_rsaEncryption || OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey))
			return -EBADMSG;
		return -EOPNOTSUPP;
	}
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		memcpy(ci->key_type, "RSA", 4);
	else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
		memcpy(ci->key_type, "EC", 3);
	else
		return -EOPNOTSUPP;
	ci->key_bits = EVP_PKEY_get_bits(k) > 0 ? (unsigned)EVP_PKEY_get_bits(k) : 0;
	return 0;
}

static void key_usage(X509 *x, struct certinfo *ci)
{
	static const struct {
		uint32_t ossl;
		unsigned ours;
	} map[] = {
	        {KU_DIGITAL_SIGNATURE, CERTINFO_KU_DIGITAL_SIGNATURE},
	        {KU_NON_REPUDIATION, CERTINFO_KU_NON_REPUDIATION},
	        {KU_KEY_ENCIPHERMENT, CERTINFO_KU_KEY_ENCIPHERMENT},
	        {KU_DATA_ENCIPHERMENT, CERTINFO_KU_DATA_ENCIPHERMENT},
	        {KU_KEY_AGREEMENT, CERTINFO_KU_KEY_AGREEMENT},
	        {KU_KEY_CERT_SIGN, CERTINFO_KU_KEY_CERT_SIGN},
	        {KU_CRL_SIGN, CERTINFO_KU_CRL_SIGN},
	};
	uint32_t ku;

	/* X509_get_extension_flags caches the extensions; EXFLAG_KUSAGE says the extension is there. */
	if (!(X509_get_extension_flags(x) & EXFLAG_KUSAGE))
		return;
	ci->has_key_usage = true;
	ku = X509_get_key_usage(x);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ku & map[i].ossl)
			ci->key_usage |= map[i].ours;
}

static bool has_qc_compliance(const X509 *x)
{
	int i = X509_get_ext_by_NID(x, NID_qcStatements, -1);
	const ASN1_OCTET_STRING *v;
	const unsigned char *p, *end;
	IMZA_QCSTATEMENTS *qcs;
	bool found = false;

	if (i < 0)
		return false;
	v = X509_EXTENSION_get_data(X509_get_ext(x, i));
	p = ASN1_STRING_get0_data(v);
	end = p + ASN1_STRING_length(v);
	qcs = (IMZA_QCSTATEMENTS *)ASN1_item_d2i(NULL, &p, ASN1_STRING_length(v),
	                                         ASN1_ITEM_rptr(IMZA_QCSTATEMENTS));
	/* Trailing bytes after the SEQUENCE make the extension malformed: it counts for nothing. */
	if (qcs != NULL && p == end)
		for (int k = 0; k < sk_IMZA_QCSTATEMENT_num(qcs) && !found; k++)
			found = oid_is(sk_IMZA_QCSTATEMENT_value(qcs, k)->id, OID_QC_COMPLIANCE);
	ASN1_item_free((ASN1_VALUE *)qcs, ASN1_ITEM_rptr(IMZA_QCSTATEMENTS));
	return found;
}

/* Whether a policy is a qualified one; the policies' OIDs go into ci (the first CERTINFO_POLICIES_MAX). */
static bool policies(const X509 *x, struct certinfo *ci)
{
	CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(x, NID_certificate_policies, NULL, NULL);
	bool found = false;

	for (int i = 0; pol && i < sk_POLICYINFO_num(pol); i++) {
		const ASN1_OBJECT *id = sk_POLICYINFO_value(pol, i)->policyid;
		char *slot = ci->policies[ci->n_policies];
		int n;

		for (size_t k = 0; k < sizeof(qualified_policies) / sizeof(qualified_policies[0]) && !found;
		     k++)
			found = oid_is(id, qualified_policies[k]);
		if (ci->n_policies == CERTINFO_POLICIES_MAX)
			continue;
		n = OBJ_obj2txt(slot, sizeof(ci->policies[0]), id, 1);
		if (n > 0 && (size_t)n < sizeof(ci->policies[0]))
			ci->n_policies++;
		else
			slot[0] = '\0';
	}
	CERTIFICATEPOLICIES_free(pol);
	return found;
}

int certinfo_parse(const uint8_t *der, size_t len, struct certinfo *ret)
{
	const unsigned char *p = der;
	struct certinfo ci;
	X509 *x;
	int r;

	if (der == NULL || len == 0 || len > LONG_MAX)
		return -EBADMSG;
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL)
		return -EBADMSG;
	memset(&ci, 0, sizeof(ci));
	r = p == der + len ? 0 : -EBADMSG;
	if (r == 0)
		r = print_name(X509_get_subject_name(x), ci.subject, sizeof(ci.subject));
	if (r == 0)
		r = print_name(X509_get_issuer_name(x), ci.issuer, sizeof(ci.issuer));
	if (r == 0)
		r = serial_hex(x, ci.serial, sizeof(ci.serial));
	if (r == 0)
		r = to_time_t(X509_get0_notBefore(x), &ci.not_before);
	if (r == 0)
		r = to_time_t(X509_get0_notAfter(x), &ci.not_after);
	if (r == 0)
		r = key_info(x, &ci);
	if (r == 0) {
		name_entry(X509_get_subject_name(x), NID_commonName, ci.common_name, sizeof(ci.common_name));
		name_entry(X509_get_subject_name(x), NID_serialNumber, ci.serial_number,
		           sizeof(ci.serial_number));
		key_usage(x, &ci);
		/* Both run: the policies are listed whether or not the statement already made it qualified. */
		ci.qualified = policies(x, &ci);
		ci.qualified = has_qc_compliance(x) || ci.qualified;
		*ret = ci;
	}
	X509_free(x);
	return r;
}

bool certinfo_for_signatures(const struct certinfo *ci)
{
	/* RSA below 2048 bits (a PIV card's legacy RSA-1024) is too weak for a new signature a person makes
	 * (ETSI TS 119 312): such a key still signs through PKCS#11, as its card allows, never here. */
	if (strcmp(ci->key_type, "RSA") == 0 && ci->key_bits < 2048)
		return false;
	return ci->has_key_usage && (ci->key_usage & CERTINFO_KU_NON_REPUDIATION) != 0;
}

bool certinfo_der_for_signatures(const uint8_t *der, size_t len)
{
	struct certinfo ci;

	return certinfo_parse(der, len, &ci) == 0 && certinfo_for_signatures(&ci);
}

size_t certinfo_key_usage_names(unsigned ku, const char **names, size_t cap)
{
	static const char *const all[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
	                                  "dataEncipherment", "keyAgreement",   "keyCertSign",
	                                  "cRLSign"};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && n < cap; i++)
		if (ku & (1u << i))
			names[n++] = all[i];
	return n;
}

void certinfo_time(time_t t, char out[21])
{
	struct tm tm;
	char buf[80]; /* room for any int, so the compiler sees no truncation */

	/* ASN1_TIME_to_tm keeps certificate times within years 0..9999; anything else is clamped so the
	 * string keeps its fixed shape. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999) {
		memcpy(out, "9999-12-31T23:59:59Z", 21);
		return;
	}
	if (tm.tm_year + 1900 < 0) {
		memcpy(out, "0000-01-01T00:00:00Z", 21);
		return;
	}
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, buf, 20);
	out[20] = '\0';
}
