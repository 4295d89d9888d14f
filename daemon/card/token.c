/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Token object model (see token.h): one certificate parse per key slot yields the three objects, with
 * attributes computed once so that listings and attribute reads never touch the card. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/card/token.h"
#include "daemon/utf8.h"
#include "protocol/proto-hex.h"

#define MAX_ATTRS 40

struct attr_list {
	struct token_attr a[MAX_ATTRS];
	size_t n;
	int error;
};

static void put(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const void *v, size_t len)
{
	void *copy;

	if (l->error)
		return;
	if (l->n == MAX_ATTRS) {
		l->error = -E2BIG;
		return;
	}
	copy = malloc(len ? len : 1);
	if (copy == NULL) {
		l->error = -ENOMEM;
		return;
	}
	if (len)
		memcpy(copy, v, len);
	l->a[l->n++] = (struct token_attr){type, copy, len};
}

static void put_bool(struct attr_list *l, CK_ATTRIBUTE_TYPE type, bool v)
{
	CK_BBOOL b = v ? CK_TRUE : CK_FALSE;

	put(l, type, &b, sizeof(b));
}

static void put_ulong(struct attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	put(l, type, &v, sizeof(v));
}

static void put_str(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const char *s)
{
	put(l, type, s, strlen(s));
}

/* DER of an OpenSSL object through its i2d function. */
#define PUT_DER(l, type, i2d, obj)                          \
	do {                                                \
		unsigned char *der_ = NULL;                 \
		int n_ = (obj) ? i2d((obj), &der_) : -1;    \
		if (n_ > 0)                                 \
			put((l), (type), der_, (size_t)n_); \
		else if (!(l)->error)                       \
			(l)->error = -EBADMSG;              \
		OPENSSL_free(der_);                         \
	} while (0)

static void put_date(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const ASN1_TIME *t)
{
	struct tm tm;
	CK_DATE d;
	char buf[40];

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		put(l, type, NULL, 0);
		return;
	}
	snprintf(buf, sizeof(buf), "%04d%02d%02d", tm.tm_year + 1900, (tm.tm_mon + 1) % 100,
	         tm.tm_mday % 100);
	memcpy(d.year, buf, 4);
	memcpy(d.month, buf + 4, 2);
	memcpy(d.day, buf + 6, 2);
	put(l, type, &d, sizeof(d));
}

static void put_bn(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const EVP_PKEY *pkey, const char *param)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1 || (n = BN_num_bytes(bn)) > (int)sizeof(buf)) {
		BN_free(bn);
		l->error = l->error ? l->error : -EBADMSG;
		return;
	}
	BN_bn2bin(bn, buf);
	BN_free(bn);
	put(l, type, buf, (size_t)n);
}

/* CKA_EC_PARAMS (the curve's OID in DER) and CKA_EC_POINT (DER OCTET STRING of the point). */
static int put_ec(struct attr_list *l, const EVP_PKEY *pkey, size_t *ret_field)
{
	char group[64];
	unsigned char point[256], *der = NULL;
	size_t plen;
	ASN1_OBJECT *oid;
	ASN1_OCTET_STRING *os;
	int nid, n;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
		return -EBADMSG;
	nid = OBJ_txt2nid(group);
	if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1)
		return -EOPNOTSUPP;
	oid = OBJ_nid2obj(nid);
	PUT_DER(l, CKA_EC_PARAMS, i2d_ASN1_OBJECT, oid);
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &plen) != 1)
		return -EBADMSG;
	os = ASN1_OCTET_STRING_new();
	if (os == NULL || ASN1_OCTET_STRING_set(os, point, (int)plen) != 1) {
		ASN1_OCTET_STRING_free(os);
		return -ENOMEM;
	}
	n = i2d_ASN1_OCTET_STRING(os, &der);
	ASN1_OCTET_STRING_free(os);
	if (n <= 0)
		return -ENOMEM;
	put(l, CKA_EC_POINT, der, (size_t)n);
	OPENSSL_free(der);
	*ret_field = nid == NID_secp384r1 ? 48 : 32;
	return 0;
}

/* Moves the list's attributes into o. */
static int fill_object(struct token_object *o, CK_OBJECT_CLASS cls, bool is_private,
                       const struct token_key_info *key, struct attr_list *l)
{
	if (l->error)
		return l->error;
	o->attrs = calloc(l->n, sizeof(*o->attrs));
	if (o->attrs == NULL)
		return -ENOMEM;
	memcpy(o->attrs, l->a, l->n * sizeof(*o->attrs));
	o->nattrs = l->n;
	l->n = 0;
	o->cls = cls;
	o->is_private = is_private;
	if (key)
		o->key = *key;
	return 0;
}

static int add_object(struct token *t, CK_OBJECT_CLASS cls, bool is_private, const struct token_key_info *key,
                      struct attr_list *l)
{
	int r;

	if (l->error)
		return l->error;
	if (t->nobjs == TOKEN_MAX_OBJECTS)
		return -E2BIG;
	r = fill_object(&t->objs[t->nobjs], cls, is_private, key, l);
	if (r < 0)
		return r;
	/* Handles are stable for the life of the token and never 0 (CK_INVALID_HANDLE). */
	t->objs[t->nobjs].handle = (CK_OBJECT_HANDLE)(t->nobjs + 1);
	t->nobjs++;
	return 0;
}

static void attr_list_clear(struct attr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->a[i].value);
	l->n = 0;
}

size_t token_text_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	while (n > 0 && s[n - 1] == ' ')
		n--;
	return n;
}

size_t token_text_clean(char *out, size_t cap, const void *in, size_t n)
{
	const uint8_t *s = in;
	size_t o = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		n--;
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t len = utf8_next(s + i, n - i, &cp);

		if (len > n - i)
			break; /* cut by the field's end */
		if (len == 0 || utf8_hidden(cp)) {
			if (o + 1 >= cap)
				break;
			out[o++] = '?';
			i += len ? len : 1;
			continue;
		}
		if (o + len >= cap)
			break;
		memcpy(out + o, s + i, len);
		o += len;
		i += len;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return o;
}

struct token *token_new(const char *label, const uint8_t guid[16])
{
	struct token *t = calloc(1, sizeof(*t));
	size_t n = strlen(label);

	if (t == NULL)
		return NULL;
	memset(t->label, ' ', 32);
	memcpy(t->label, label, n > 32 ? 32 : n);
	memcpy(t->guid, guid, 16);
	t->pin_tries_left = t->pin_tries_max = -1;
	/* As OpenSC does for PIV: the serial is the last 8 bytes of the GUID in hex. */
	proto_hex_encode(guid + 8, 8, t->serial);
	return t;
}

void token_object_clear(struct token_object *o)
{
	for (size_t j = 0; j < o->nattrs; j++) {
		/* A secret key's value among them. */
		explicit_bzero(o->attrs[j].value, o->attrs[j].len);
		free(o->attrs[j].value);
	}
	free(o->attrs);
	memset(o, 0, sizeof(*o));
}

void token_free(struct token *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nobjs; i++)
		token_object_clear(&t->objs[i]);
	free(t);
}

int token_secret_make(struct token_object *o, CK_OBJECT_HANDLE handle, const struct token_secret_desc *d)
{
	struct attr_list l = {.n = 0};
	int r;

	put_ulong(&l, CKA_CLASS, CKO_SECRET_KEY);
	put_bool(&l, CKA_TOKEN, false);
	put_bool(&l, CKA_PRIVATE, d->is_private);
	put_bool(&l, CKA_MODIFIABLE, false);
	put_bool(&l, CKA_COPYABLE, false);
	put_bool(&l, CKA_DESTROYABLE, true);
	put(&l, CKA_LABEL, d->label, d->label_len);
	put(&l, CKA_ID, d->id, d->id_len);
	put_ulong(&l, CKA_KEY_TYPE, d->key_type);
	put_date(&l, CKA_START_DATE, NULL);
	put_date(&l, CKA_END_DATE, NULL);
	put_bool(&l, CKA_LOCAL, false);
	put_ulong(&l, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
	put_bool(&l, CKA_SENSITIVE, d->sensitive);
	put_bool(&l, CKA_EXTRACTABLE, d->extractable);
	put_bool(&l, CKA_ALWAYS_SENSITIVE, false);
	put_bool(&l, CKA_NEVER_EXTRACTABLE, false);
	for (size_t i = 0; i < TOKEN_SECRET_USES; i++)
		put_bool(&l, token_secret_uses[i], d->uses[i]);
	put(&l, CKA_VALUE, d->value, d->len);
	put_ulong(&l, CKA_VALUE_LEN, d->len);
	r = fill_object(o, CKO_SECRET_KEY, d->is_private, NULL, &l);
	if (r < 0) {
		for (size_t i = 0; i < l.n; i++)
			explicit_bzero(l.a[i].value, l.a[i].len);
		attr_list_clear(&l);
		return r;
	}
	o->handle = handle;
	return 0;
}

const CK_ATTRIBUTE_TYPE token_secret_uses[TOKEN_SECRET_USES] = {
        CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE,
};

/* Attributes every object of the token carries. */
static void put_common(struct attr_list *l, CK_OBJECT_CLASS cls, bool is_private, const char *label,
                       const uint8_t *id, size_t id_len)
{
	put_ulong(l, CKA_CLASS, cls);
	put_bool(l, CKA_TOKEN, true);
	put_bool(l, CKA_PRIVATE, is_private);
	put_bool(l, CKA_MODIFIABLE, false);
	put_bool(l, CKA_COPYABLE, false);
	put_bool(l, CKA_DESTROYABLE, false);
	put_str(l, CKA_LABEL, label);
	put(l, CKA_ID, id, id_len);
}

/* The RSA sizes PIV defines (SP 800-78-5, table 6-2), by modulus bytes: 06 RSA-1024 (legacy, see
 * docs/KEYS.md), 07 RSA-2048, 05 RSA-3072, 16 RSA-4096. 0: not a PIV key size. */
static uint8_t piv_rsa_alg(size_t bytes)
{
	switch (bytes) {
	case 128:
		return 0x06;
	case 256:
		return 0x07;
	case 384:
		return 0x05;
	case 512:
		return 0x16;
	default:
		return 0;
	}
}

int token_add_slot(struct token *t, const struct token_slot_desc *slot, const uint8_t *der, size_t len)
{
	return token_add_slot_id(t, slot, &slot->id, 1, 0, der, len);
}

int token_add_slot_id(struct token *t, const struct token_slot_desc *slot, const uint8_t *id, size_t id_len,
                      unsigned flags, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	struct attr_list l = {.n = 0};
	struct token_key_info key = {
	        .keyref = slot->keyref, .pin_always = slot->pin_always, .needs_pin = slot->needs_pin};
	EVP_PKEY *pkey;
	uint32_t ku;
	bool can_sign, can_decrypt, can_derive;
	unsigned char sha1[20];
	char pub_label[64];
	int r = 0;

	if (id_len == 0 || id_len > TOKEN_ID_MAX) {
		X509_free(x);
		return -EINVAL;
	}
	if (x == NULL || p != der + len) {
		X509_free(x);
		return -EBADMSG;
	}
	pkey = X509_get0_pubkey(x);
	if (pkey == NULL) {
		X509_free(x);
		return -EBADMSG;
	}
	ku = X509_get_key_usage(x);
	can_sign = ku == UINT32_MAX || (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
	can_decrypt = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
	              (ku == UINT32_MAX || (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)));
	can_derive = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC && ku != UINT32_MAX && (ku & KU_KEY_AGREEMENT);

	/* Certificate. */
	put_common(&l, CKO_CERTIFICATE, false, slot->cert_label, id, id_len);
	put_ulong(&l, CKA_CERTIFICATE_TYPE, CKC_X_509);
	put_bool(&l, CKA_TRUSTED, false);
	put_ulong(&l, CKA_CERTIFICATE_CATEGORY, 1); /* token user */
	SHA1(der, len, sha1);
	put(&l, CKA_CHECK_VALUE, sha1, 3);
	put_date(&l, CKA_START_DATE, X509_get0_notBefore(x));
	put_date(&l, CKA_END_DATE, X509_get0_notAfter(x));
	PUT_DER(&l, CKA_SUBJECT, i2d_X509_NAME, X509_get_subject_name(x));
	PUT_DER(&l, CKA_ISSUER, i2d_X509_NAME, X509_get_issuer_name(x));
	PUT_DER(&l, CKA_SERIAL_NUMBER, i2d_ASN1_INTEGER, X509_get0_serialNumber(x));
	put(&l, CKA_VALUE, der, len);
	put(&l, CKA_URL, NULL, 0);
	put_ulong(&l, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
	r = add_object(t, CKO_CERTIFICATE, false, NULL, &l);

	/* Key pair: what both halves share, then each half's own attributes. A private key that needs no
	 * PIN (PIV's card-authentication key, 9E) is no secret to list: CKA_PRIVATE false, visible and
	 * usable before login, as OpenSC shows it. */
	for (int half = 0; r == 0 && half < 2; half++) {
		bool priv = half == 1, hidden = priv && slot->needs_pin;

		snprintf(pub_label, sizeof(pub_label), "%s", slot->key_label);
		put_common(&l, priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, hidden, pub_label, id, id_len);
		PUT_DER(&l, CKA_SUBJECT, i2d_X509_NAME, X509_get_subject_name(x));
		PUT_DER(&l, CKA_PUBLIC_KEY_INFO, i2d_X509_PUBKEY, X509_get_X509_PUBKEY(x));
		put_date(&l, CKA_START_DATE, NULL);
		put_date(&l, CKA_END_DATE, NULL);
		put_bool(&l, CKA_LOCAL, false);
		put_ulong(&l, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
		put_bool(&l, CKA_DERIVE, can_derive);
		if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
			key.type = CKK_RSA;
			key.size = (size_t)EVP_PKEY_get_size(pkey);
			key.card_alg = piv_rsa_alg(key.size);
			if ((flags & TOKEN_ANY_RSA) ? key.size < 128 || key.size > TOKEN_RSA_BYTES_MAX
			                            : key.card_alg == 0)
				r = -EOPNOTSUPP;
			put_ulong(&l, CKA_KEY_TYPE, CKK_RSA);
			put_bn(&l, CKA_MODULUS, pkey, OSSL_PKEY_PARAM_RSA_N);
			put_bn(&l, CKA_PUBLIC_EXPONENT, pkey, OSSL_PKEY_PARAM_RSA_E);
			put_ulong(&l, CKA_MODULUS_BITS, (CK_ULONG)EVP_PKEY_get_bits(pkey));
		} else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
			key.type = CKK_EC;
			put_ulong(&l, CKA_KEY_TYPE, CKK_EC);
			r = put_ec(&l, pkey, &key.size);
			key.card_alg = key.size == 48 ? 0x14 : 0x11;
		} else {
			r = -EOPNOTSUPP;
		}
		if (r < 0)
			break;
		if (!priv) {
			put_bool(&l, CKA_ENCRYPT, can_decrypt);
			put_bool(&l, CKA_VERIFY, can_sign);
			/* imzad recovers RSA signatures in software (p11-soft.c). */
			put_bool(&l, CKA_VERIFY_RECOVER, can_sign && key.type == CKK_RSA);
			put_bool(&l, CKA_WRAP, false);
			put_bool(&l, CKA_TRUSTED, false);
		} else {
			put_bool(&l, CKA_SENSITIVE, true);
			put_bool(&l, CKA_DECRYPT, can_decrypt);
			put_bool(&l, CKA_SIGN, can_sign);
			put_bool(&l, CKA_SIGN_RECOVER, false);
			put_bool(&l, CKA_UNWRAP, false);
			put_bool(&l, CKA_EXTRACTABLE, false);
			put_bool(&l, CKA_ALWAYS_SENSITIVE, true);
			put_bool(&l, CKA_NEVER_EXTRACTABLE, true);
			put_bool(&l, CKA_WRAP_WITH_TRUSTED, false);
			put_bool(&l, CKA_ALWAYS_AUTHENTICATE, slot->pin_always);
		}
		r = add_object(t, priv ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, hidden, &key, &l);
	}
	attr_list_clear(&l);
	X509_free(x);
	return r;
}

const struct token_attr *token_attr(const struct token_object *o, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < o->nattrs; i++)
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	return NULL;
}

struct token_object *token_object(struct token *t, CK_OBJECT_HANDLE h)
{
	if (t == NULL || h == 0 || h > t->nobjs)
		return NULL;
	return &t->objs[h - 1];
}

void token_set_pin_always(struct token *t, uint8_t keyref)
{
	for (size_t i = 0; i < t->nobjs; i++) {
		struct token_object *o = &t->objs[i];
		const struct token_attr *a;

		if (o->cls != CKO_PRIVATE_KEY || o->key.keyref != keyref)
			continue;
		o->key.pin_always = true;
		a = token_attr(o, CKA_ALWAYS_AUTHENTICATE);
		if (a && a->len == sizeof(CK_BBOOL))
			*(CK_BBOOL *)a->value = CK_TRUE;
	}
}

static bool bool_attr(const struct token_object *o, CK_ATTRIBUTE_TYPE type)
{
	const struct token_attr *a = token_attr(o, type);

	return a && a->len == sizeof(CK_BBOOL) && *(const CK_BBOOL *)a->value == CK_TRUE;
}

bool token_attr_sensitive(const struct token_object *o, CK_ATTRIBUTE_TYPE type)
{
	if (o->cls == CKO_SECRET_KEY)
		return type == CKA_VALUE && (bool_attr(o, CKA_SENSITIVE) || !bool_attr(o, CKA_EXTRACTABLE));
	if (o->cls != CKO_PRIVATE_KEY)
		return false;
	switch (type) {
	case CKA_VALUE:
	case CKA_PRIVATE_EXPONENT:
	case CKA_PRIME_1:
	case CKA_PRIME_2:
	case CKA_EXPONENT_1:
	case CKA_EXPONENT_2:
	case CKA_COEFFICIENT:
		return true;
	default:
		return false;
	}
}

bool token_match(const struct token_object *o, const CK_ATTRIBUTE *tmpl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct token_attr *a = token_attr(o, tmpl[i].type);

		if (a == NULL || a->len != tmpl[i].ulValueLen ||
		    (a->len && memcmp(a->value, tmpl[i].pValue, a->len) != 0))
			return false;
	}
	return true;
}

bool token_module_mechs(const struct token *t)
{
	return t->module[0] != '\0' || strcmp(t->driver, "module") == 0;
}

const struct token_mech *token_mech(const struct token *t, CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < t->nmechs && i < TOKEN_MECH_MAX; i++)
		if (t->mechs[i].type == type)
			return &t->mechs[i];
	return NULL;
}

bool token_mech_kept(CK_MECHANISM_TYPE type, CK_FLAGS flags)
{
	if (!(flags & (CKF_SIGN | CKF_DECRYPT)))
		return false;
	/* MD2 and MD5 are broken for signatures (chosen-prefix collisions): never offered through imza. */
	if (type == CKM_MD2_RSA_PKCS || type == CKM_MD5_RSA_PKCS)
		return false;
	/* RSA (PKCS#1, X.509, OAEP, PSS, X9.31 and their hashing forms, SHA-2 and SHA-3), ECDSA and its
	 * hashing forms, and whatever the vendor defines: imza's keys are RSA and EC, and a vendor's own
	 * mechanism is the module's to judge. */
	return type <= CKM_SHA1_RSA_PKCS_PSS ||
	       (type >= CKM_SHA256_RSA_PKCS && type <= CKM_SHA224_RSA_PKCS_PSS) ||
	       (type >= 0x60 && type <= 0x67) || (type >= CKM_ECDSA && type <= 0x104a) ||
	       type >= CKM_VENDOR_DEFINED;
}
