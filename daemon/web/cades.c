/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CAdES-BES with OpenSSL's CMS API and the private key on the card (see cades.h).
 *
 * How the card gets to sign: CMS_sign(CMS_PARTIAL) and CMS_add1_signer with the certificate's *public*
 * key (CMS_add1_signer only compares it with the certificate) set up the SignedData, the SignerInfo and
 * its algorithm identifiers without signing. The signed attributes are then added here, and their DER is
 * built as RFC 5652 §5.4 says it is signed: each Attribute's DER (i2d_X509_ATTRIBUTE), sorted as DER
 * sorts a SET OF, under an explicit SET OF tag (0x31) instead of the [0] IMPLICIT one. OpenSSL has no
 * public call for those bytes; since it sorts the SET OF the same way when it writes the SignerInfo, the
 * bytes signed and the bytes a verifier rebuilds agree (the tests check this with CMS_verify). The card
 * signs SHA-256 of them; the result goes in with CMS_SignerInfo_get0_signature and the content is set
 * directly, so CMS_final, which would sign with the key itself, is never called.
 * Rejected: a key whose RSA_METHOD / EC_KEY_METHOD calls the card. It works in OpenSSL 3.0 only through
 * the deprecated "foreign key" legacy path, which a provider-only build or a later release may drop, and
 * it hides a blocking card operation inside an EVP call. Here every call is public, non-deprecated API,
 * no private key object exists in the daemon, and the card's answer is checked before it is used. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "daemon/web/cades.h"

/* The certificates parsed last, kept: a signer's certificate is the same from one signature to the next,
 * and its parse (the key through OpenSSL's decoders) costs more than the rest of the CMS. The readers'
 * workers sign at the same time, hence the lock; each signature holds its own reference. A DER is looked
 * up by its bytes, so an entry is never another certificate's. */
#define CERT_CACHE_SLOTS 4

static struct cert_slot {
	uint8_t *der;
	size_t len;
	X509 *x;
	uint64_t last; /* 0: free; else the turn of its last use, the oldest goes first */
} cert_cache[CERT_CACHE_SLOTS];
static pthread_mutex_t cert_cache_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t cert_cache_turn;

/* The certificate of exactly these bytes (a reference: X509_free it), or NULL. */
static X509 *cert_get(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	struct cert_slot *victim = NULL;
	uint8_t *copy;
	X509 *x = NULL;

	pthread_mutex_lock(&cert_cache_mu);
	for (size_t i = 0; i < CERT_CACHE_SLOTS && x == NULL; i++) {
		struct cert_slot *c = &cert_cache[i];

		if (c->last != 0 && c->len == len && memcmp(c->der, der, len) == 0 &&
		    X509_up_ref(c->x) == 1) {
			c->last = ++cert_cache_turn;
			x = c->x;
		}
	}
	pthread_mutex_unlock(&cert_cache_mu);
	if (x != NULL)
		return x;

	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		X509_free(x);
		return NULL;
	}
	/* Kept only when it can be: a certificate not kept is still used. */
	copy = malloc(len);
	if (copy == NULL || X509_up_ref(x) != 1) {
		free(copy);
		return x;
	}
	memcpy(copy, der, len);
	pthread_mutex_lock(&cert_cache_mu);
	for (size_t i = 0; i < CERT_CACHE_SLOTS; i++)
		if (victim == NULL || cert_cache[i].last < victim->last)
			victim = &cert_cache[i];
	X509_free(victim->x);
	free(victim->der);
	*victim = (struct cert_slot){copy, len, x, ++cert_cache_turn};
	pthread_mutex_unlock(&cert_cache_mu);
	return x;
}

struct der_item {
	uint8_t *der;
	int len;
};

/* The order DER gives a SET OF (X.690 §11.6), as OpenSSL's own encoder compares. */
static int der_item_cmp(const void *a, const void *b)
{
	const struct der_item *x = a, *y = b;
	int r = memcmp(x->der, y->der, (size_t)(x->len < y->len ? x->len : y->len));

	if (r != 0)
		return r;
	return x->len - y->len;
}

/* SHA-256 of the DER of SignedAttributes as signed: SET OF Attribute, sorted, with the universal tag. */
static int signed_attrs_digest(CMS_SignerInfo *si, uint8_t digest[static 32])
{
	struct der_item *items = NULL;
	EVP_MD_CTX *mctx = NULL;
	unsigned int mdlen = 0;
	size_t total = 0;
	uint8_t hdr[1 + 1 + sizeof(size_t)];
	size_t hlen = 0;
	int n, r = -ENOMEM;

	n = CMS_signed_get_attr_count(si);
	if (n <= 0)
		return -EINVAL;
	items = calloc((size_t)n, sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		items[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &items[i].der);
		if (items[i].len <= 0) {
			items[i].der = NULL;
			items[i].len = 0;
			goto out;
		}
		total += (size_t)items[i].len;
	}
	qsort(items, (size_t)n, sizeof(*items), der_item_cmp);

	hdr[hlen++] = 0x31;
	if (total < 0x80) {
		hdr[hlen++] = (uint8_t)total;
	} else {
		size_t nbytes = 0;

		for (size_t t = total; t > 0; t >>= 8)
			nbytes++;
		hdr[hlen++] = (uint8_t)(0x80 | nbytes);
		for (size_t k = nbytes; k > 0; k--)
			hdr[hlen++] = (uint8_t)(total >> (8 * (k - 1)));
	}

	mctx = EVP_MD_CTX_new();
	if (!mctx || EVP_DigestInit_ex(mctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(mctx, hdr, hlen) != 1)
		goto out;
	for (int i = 0; i < n; i++)
		if (EVP_DigestUpdate(mctx, items[i].der, (size_t)items[i].len) != 1)
			goto out;
	if (EVP_DigestFinal_ex(mctx, digest, &mdlen) != 1 || mdlen != 32)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(mctx);
	for (int i = 0; i < n; i++)
		OPENSSL_free(items[i].der);
	free(items);
	return r;
}

static int add_signing_cert_v2(CMS_SignerInfo *si, X509 *cert)
{
	ESS_SIGNING_CERT_V2 *sc = NULL;
	ASN1_STRING *seq = NULL;
	uint8_t *der = NULL;
	int len, r = -ENOMEM;

	/* ESSCertIDv2 with SHA-256 (the DEFAULT, so its identifier is left out) and issuerSerial, as OpenSSL's
	 * own CMS_CADES flag writes it. */
	sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 1);
	if (!sc)
		goto out;
	len = i2d_ESS_SIGNING_CERT_V2(sc, &der);
	if (len <= 0)
		goto out;
	seq = ASN1_STRING_new();
	if (!seq || ASN1_STRING_set(seq, der, len) != 1)
		goto out;
	if (CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, seq, -1) !=
	    1)
		goto out;
	r = 0;
out:
	ASN1_STRING_free(seq);
	OPENSSL_free(der);
	ESS_SIGNING_CERT_V2_free(sc);
	return r;
}

static int add_signed_attrs(CMS_SignerInfo *si, X509 *cert, const uint8_t *content, size_t len)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	ASN1_TIME *now = NULL;
	int r = -ENOMEM;

	if (EVP_Digest(content, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
		return -ENOMEM;
	if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data),
	                                -1) != 1)
		return -ENOMEM;
	/* UTCTime until 2049, GeneralizedTime after, as RFC 5652 §11.3 asks. */
	now = X509_gmtime_adj(NULL, 0);
	if (!now)
		return -ENOMEM;
	if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, ASN1_STRING_type(now), now, -1) != 1)
		goto out;
	if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, md, (int)mdlen) !=
	    1)
		goto out;
	r = add_signing_cert_v2(si, cert);
out:
	ASN1_TIME_free(now);
	return r;
}

/* A card that answers with the wrong key, a wrong format or a faulty RSA-CRT result must not produce a
 * signature file: check the answer with the certificate's key. */
static int check_signature(EVP_PKEY *pub, const uint8_t *digest, size_t dlen, const uint8_t *sig, size_t slen)
{
	EVP_PKEY_CTX *ctx;
	int r = -ENOMEM;

	if (EVP_PKEY_is_a(pub, "RSA") && slen != (size_t)EVP_PKEY_get_size(pub))
		return -EBADMSG;
	ctx = EVP_PKEY_CTX_new(pub, NULL);
	if (!ctx || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_is_a(pub, "RSA") && (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	                                  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1))
		goto out;
	r = EVP_PKEY_verify(ctx, sig, slen, digest, dlen) == 1 ? 0 : -EBADMSG;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int set_content(CMS_ContentInfo *cms, const uint8_t *content, size_t len)
{
	ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
	ASN1_OCTET_STRING *os;

	if (!pos)
		return -ENOMEM;
	/* Replace, not fill, the placeholder CMS_sign left: it is flagged as content still to be streamed. */
	os = ASN1_OCTET_STRING_new();
	if (!os || ASN1_OCTET_STRING_set(os, content, (int)len) != 1) {
		ASN1_OCTET_STRING_free(os);
		return -ENOMEM;
	}
	ASN1_OCTET_STRING_free(*pos);
	*pos = os;
	return 0;
}

int cades_sign(const uint8_t *content, size_t len, bool detached, const uint8_t *cert_der, size_t cert_len,
               const struct cades_signer *signer, uint8_t **ret_der, size_t *ret_len)
{
	static const uint8_t empty[1];
	X509 *cert = NULL;
	EVP_PKEY *pub;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	uint8_t digest[32];
	uint8_t *sig = NULL, *der = NULL;
	size_t cap, siglen = 0;
	int dlen, r;

	if ((!content && len > 0) || !cert_der || cert_len == 0 || cert_len > LONG_MAX || !signer ||
	    !signer->sign_digest || !ret_der || !ret_len)
		return -EINVAL;
	if (len > INT_MAX)
		return -E2BIG;
	if (!content)
		content = empty;

	cert = cert_get(cert_der, cert_len);
	if (!cert) {
		r = -EINVAL;
		goto out;
	}
	pub = X509_get0_pubkey(cert);
	if (!pub) {
		r = -EINVAL;
		goto out;
	}
	if (!EVP_PKEY_is_a(pub, "RSA") && !EVP_PKEY_is_a(pub, "EC")) {
		r = -EOPNOTSUPP;
		goto out;
	}

	r = -ENOMEM;
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY | (detached ? CMS_DETACHED : 0));
	if (!cms)
		goto out;
	/* No S/MIME capabilities: CAdES does not call for them and the signer cannot promise any. */
	si = CMS_add1_signer(cms, cert, pub, EVP_sha256(), CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
	if (!si)
		goto out;
	r = add_signed_attrs(si, cert, content, len);
	if (r < 0)
		goto out;
	r = signed_attrs_digest(si, digest);
	if (r < 0)
		goto out;

	cap = (size_t)EVP_PKEY_get_size(pub);
	sig = calloc(1, cap);
	if (!sig) {
		r = -ENOMEM;
		goto out;
	}
	r = signer->sign_digest(signer->ud, digest, sizeof(digest), sig, cap, &siglen);
	if (r > 0)
		r = -EIO;
	if (r < 0)
		goto out;
	if (siglen == 0 || siglen > cap) {
		r = -EBADMSG;
		goto out;
	}
	r = check_signature(pub, digest, sizeof(digest), sig, siglen);
	if (r < 0)
		goto out;

	r = -ENOMEM;
	if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen) != 1)
		goto out;
	if (!detached) {
		r = set_content(cms, content, len);
		if (r < 0)
			goto out;
	}
	r = -ENOMEM;
	dlen = i2d_CMS_ContentInfo(cms, &der);
	if (dlen <= 0)
		goto out;

	*ret_der = der;
	*ret_len = (size_t)dlen;
	r = 0;
out:
	free(sig);
	CMS_ContentInfo_free(cms);
	X509_free(cert);
	return r;
}
