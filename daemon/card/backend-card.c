/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A vendor module's token as an imza card (see backend-card.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/card/backend-card.h"
#include "daemon/card/backend.h"
#include "daemon/log.h"
#include "daemon/card/pin.h"
#include "daemon/card/reader.h"

/* Objects one look at the token takes; more certificates than a token model holds are not served. */
#define FIND_MAX 32
#define KEYS_MAX (TOKEN_MAX_OBJECTS / 3)
#define CERT_MAX (16 * 1024)

/* The channel the driver's calls get (card->t.ctx): one token of one module. */
struct chan {
	struct backend *b;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	/* The module lists CKM_RSA_X_509 for signing, for decryption (the raw operations' way in). */
	bool raw_sign, raw_decrypt;
	/* The private keys of the token model, by keyref: their CKA_ID, and their handle once known (a
	 * module shows private keys only after the login: found by CKA_ID then). */
	uint8_t key_id[KEYS_MAX][TOKEN_ID_MAX];
	size_t key_id_len[KEYS_MAX];
	CK_OBJECT_HANDLE keys[KEYS_MAX];
	/* The key needs the PIN at each use (its CKA_ALWAYS_AUTHENTICATE, read with its handle): the
	 * module's own C_Login(CKU_CONTEXT_SPECIFIC) goes between its Init and the operation. */
	bool key_always[KEYS_MAX];
	size_t nkeys;
	/* The slot's description (trimmed), the reader's name in imzad, the token as last listed; the
	 * reader while the token is served (NULL while a card of imza's own drivers is in the same PC/SC
	 * reader: see show_or_hide). Backend thread only. */
	char desc[65], name[256];
	CK_TOKEN_INFO token_info;
	struct reader *r;
	bool said_hidden;
	bool prefer; /* the module is preferred over imza's own drivers (prefer = module) */
};

#define CALL(c, rvp, name, ...) BACKEND_CALL((c)->b, BACKEND_CALL_TIMEOUT_MS, rvp, name, __VA_ARGS__)
#define CALL_LONG(c, rvp, name, ...) BACKEND_CALL((c)->b, BACKEND_SIGN_TIMEOUT_MS, rvp, name, __VA_ARGS__)

static struct chan *chan_of(struct apdu_transport *t)
{
	return t->ctx;
}

/* A module's answer as a driver result. */
static int rv_err(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
		return CARD_E_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
		return CARD_E_PIN_LOCKED;
	case CKR_PIN_LEN_RANGE:
		return CARD_E_PIN_FORMAT;
	case CKR_USER_NOT_LOGGED_IN:
		return CARD_E_NOT_LOGGED_IN;
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		return CARD_E_REMOVED;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return -ENOMEM;
	case CKR_MECHANISM_INVALID:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return -EOPNOTSUPP;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return -ESTALE;
	default:
		log_debug("vendor module answered rv 0x%lx", (unsigned long)rv);
		return -EIO;
	}
}

/* A call that failed on the way (the helper died, hung or is in its back-off) lost the token. */
static int call_err(int e, CK_RV rv)
{
	return e < 0 ? CARD_E_REMOVED : rv_err(rv);
}

/* The object handles a template finds (at most max). */
static int find(struct chan *c, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max,
                CK_ULONG *ret_n)
{
	CK_RV rv = CKR_OK, rv2 = CKR_OK;
	int e = CALL(c, &rv, C_FindObjectsInit, c->session, tmpl, n);

	if (e < 0 || rv != CKR_OK)
		return call_err(e, rv);
	e = CALL(c, &rv, C_FindObjects, c->session, out, max, ret_n);
	if (e == 0)
		e = CALL(c, &rv2, C_FindObjectsFinal, c->session);
	return call_err(e, rv != CKR_OK ? rv : rv2);
}

/* One attribute's value, allocated (*ret NULL and *ret_len 0 when the object does not have it). */
static int get_attr(struct chan *c, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, size_t max, uint8_t **ret,
                    size_t *ret_len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	CK_RV rv = CKR_OK;
	int e;

	*ret = NULL;
	*ret_len = 0;
	e = CALL(c, &rv, C_GetAttributeValue, c->session, o, &a, 1);
	if (e < 0)
		return CARD_E_REMOVED;
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return 0;
	if (rv != CKR_OK)
		return rv_err(rv);
	if (a.ulValueLen > max)
		return -EMSGSIZE;
	a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
	if (a.pValue == NULL)
		return -ENOMEM;
	e = CALL(c, &rv, C_GetAttributeValue, c->session, o, &a, 1);
	if (e < 0 || rv != CKR_OK) {
		free(a.pValue);
		return call_err(e, rv);
	}
	*ret = a.pValue;
	*ret_len = a.ulValueLen;
	return 0;
}

/* The longest mechanism list asked for: a module's list is peer input, and every entry costs a call. */
#define MECH_LIST_MAX 512

/* The standard mechanisms asked for one by one when a module's list cannot be had (its
 * C_GetMechanismList fails, or lists more than MECH_LIST_MAX). */
static const CK_MECHANISM_TYPE mech_probe[] = {
        CKM_RSA_PKCS,
        CKM_RSA_X_509,
        CKM_RSA_PKCS_OAEP,
        CKM_RSA_PKCS_PSS,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_ECDSA,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
};

/* The raw RSA operations' way in, from the token's mechanisms. */
static void raw_from(struct chan *c, const struct token *tok)
{
	const struct token_mech *m = token_mech(tok, CKM_RSA_X_509);

	c->raw_sign = m != NULL && (m->info.flags & CKF_SIGN);
	c->raw_decrypt = m != NULL && (m->info.flags & CKF_DECRYPT);
}

/* The module's signing and decryption mechanisms for the token (token_mech_kept), at most
 * TOKEN_MECH_MAX, each with its info, its flags cut to what imza passes on. */
static int read_mechs(struct chan *c, struct token *tok)
{
	CK_MECHANISM_TYPE *list = calloc(MECH_LIST_MAX, sizeof(*list));
	CK_ULONG n = MECH_LIST_MAX;
	CK_RV rv = CKR_OK;
	bool said = false;
	int e;

	if (list == NULL)
		return -ENOMEM;
	e = CALL(c, &rv, C_GetMechanismList, c->slot, list, &n);
	if (e < 0) {
		free(list);
		return CARD_E_REMOVED;
	}
	if (rv != CKR_OK || n > MECH_LIST_MAX) {
		log_debug("%s: the module's mechanism list not had (rv 0x%lx): its standard ones asked for",
		          c->name, (unsigned long)rv);
		n = sizeof(mech_probe) / sizeof(mech_probe[0]);
		memcpy(list, mech_probe, sizeof(mech_probe));
	}
	tok->nmechs = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_MECHANISM_INFO info;

		/* A type imza would not keep whatever its flags costs no call; nor does one twice. */
		if (!token_mech_kept(list[i], CKF_SIGN) || token_mech(tok, list[i]) != NULL)
			continue;
		e = CALL(c, &rv, C_GetMechanismInfo, c->slot, list[i], &info);
		if (e < 0) {
			free(list);
			return CARD_E_REMOVED;
		}
		if (rv != CKR_OK || !token_mech_kept(list[i], info.flags))
			continue;
		if (tok->nmechs == TOKEN_MECH_MAX) {
			if (!said)
				log_info("%s: more than %d signing and decryption mechanisms: the first ones "
				         "kept",
				         c->name, TOKEN_MECH_MAX);
			said = true;
			continue;
		}
		info.flags &= TOKEN_MECH_FLAGS;
		tok->mechs[tok->nmechs++] = (struct token_mech){list[i], info};
	}
	free(list);
	raw_from(c, tok);
	return 0;
}

/* Whether the module shows an object of class cls with this CKA_ID (its handle in *ret, 0 if not). */
static int find_by_id(struct chan *c, CK_OBJECT_CLASS cls, const uint8_t *id, size_t id_len,
                      CK_OBJECT_HANDLE *ret)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)id, id_len}};
	CK_ULONG n = 0;
	int e;

	*ret = 0;
	e = find(c, t, 2, ret, 1, &n);
	if (e == 0 && n != 1)
		*ret = 0;
	return e;
}

/* Whether the module says the private key o needs the PIN at each use (CKA_ALWAYS_AUTHENTICATE). */
static int always_auth(struct chan *c, CK_OBJECT_HANDLE o, bool *ret)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int e = get_attr(c, o, CKA_ALWAYS_AUTHENTICATE, sizeof(CK_BBOOL), &v, &len);

	*ret = e == 0 && len == sizeof(CK_BBOOL) && v[0] != CK_FALSE;
	free(v);
	return e == -EMSGSIZE ? 0 : e;
}

/* Whether a certificate is a CA's (a chain certificate the token carries, with no key of the user's). */
static bool is_ca(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	bool ca = x != NULL && X509_check_ca(x) != 0;

	X509_free(x);
	return ca;
}

/* Adds one certificate with its key pair to tok. A module may show private keys only after the login:
 * a certificate has a key when the module shows its private or its public key, or when it is not a CA's
 * certificate. */
static int add_pair(struct chan *c, struct token *tok, CK_OBJECT_HANDLE cert)
{
	CK_OBJECT_HANDLE key = 0, pub = 0;
	uint8_t *id = NULL, *der = NULL, *label = NULL;
	size_t id_len, der_len, label_len;
	char lab[65] = "";
	bool always = false;
	int e;

	if (c->nkeys == KEYS_MAX)
		return 0;
	e = get_attr(c, cert, CKA_ID, TOKEN_ID_MAX, &id, &id_len);
	if (e == 0 && id_len > 0)
		e = get_attr(c, cert, CKA_VALUE, CERT_MAX, &der, &der_len);
	if (e == 0 && der != NULL)
		e = find_by_id(c, CKO_PRIVATE_KEY, id, id_len, &key);
	if (e == 0 && der != NULL && key == 0)
		e = find_by_id(c, CKO_PUBLIC_KEY, id, id_len, &pub);
	/* A private key shown before the login says now whether it needs the PIN at each use; one shown
	 * only after it, when its handle is found (key_handle). */
	if (e == 0 && key != 0)
		e = always_auth(c, key, &always);
	if (e == 0 && der != NULL && (key != 0 || pub != 0 || !is_ca(der, der_len))) {
		/* Peer text: cleaned before anything shows it (a longer one is cut). */
		get_attr(c, cert, CKA_LABEL, 1024, &label, &label_len);
		if (label)
			token_text_clean(lab, sizeof(lab), label, label_len);
		struct token_slot_desc d = {
		        .keyref = (uint8_t)c->nkeys,
		        .needs_pin = true,
		        .pin_always = always,
		        .key_label = lab[0] ? lab : "private key",
		        .cert_label = lab[0] ? lab : "certificate",
		};
		/* A certificate imza cannot parse or a key type it does not drive is left out, not fatal. */
		int r = token_add_slot_id(tok, &d, id, id_len, TOKEN_ANY_RSA, der, der_len);

		if (r == 0) {
			memcpy(c->key_id[c->nkeys], id, id_len);
			c->key_id_len[c->nkeys] = id_len;
			c->key_always[c->nkeys] = always;
			c->keys[c->nkeys++] = key;
		} else if (r != -EBADMSG && r != -EOPNOTSUPP) {
			e = r;
		}
	}
	free(id);
	free(der);
	free(label);
	return e;
}

/* The token's identity, the key of its cache entry: the module that serves it, who made it, what it
 * is, its serial and label (all in the token info the slot list gives, so a known token is found
 * without reading an object); the check that follows compares its certificates. The module is part of
 * it: another module that shows the same texts (a stand-in, or one that copies them) is not served
 * the first one's token from the cache. */
static void token_ident(const char *module, const CK_TOKEN_INFO *ti, uint8_t ident[SHA256_DIGEST_LENGTH])
{
	uint8_t who[PATH_MAX + 32 + 16 + 16 + 32];
	size_t n = strnlen(module, PATH_MAX - 1) + 1;

	memcpy(who, module, n - 1);
	who[n - 1] = '\0';
	memcpy(who + n, ti->manufacturerID, 32);
	memcpy(who + n + 32, ti->model, 16);
	memcpy(who + n + 48, ti->serialNumber, 16);
	memcpy(who + n + 64, ti->label, 32);
	SHA256(who, n + 96, ident);
}

/* A new session on the token (the last one closed), the channel's keys forgotten. */
static int open_token(struct chan *c)
{
	CK_RV rv = CKR_OK;
	int e;

	if (c->session != 0)
		CALL(c, &rv, C_CloseSession, c->session);
	c->session = 0;
	c->nkeys = 0;
	e = CALL(c, &rv, C_OpenSession, c->slot, CKF_SERIAL_SESSION, NULL, NULL, &c->session);
	if (e < 0 || rv != CKR_OK)
		return call_err(e, rv);
	return 0;
}

/* The token's X.509 certificates (at most FIND_MAX) and the hash of what they hold, kept in the token
 * model's guid: each one's CKA_ID and CKA_VALUE with their lengths, in the module's order. A token of
 * the same identity with the same hash holds what its cached model was made from. */
static int find_certs(struct chan *c, CK_OBJECT_HANDLE *certs, CK_ULONG *ret_n, uint8_t hash[16])
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)}};
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t out[EVP_MAX_MD_SIZE];
	CK_ULONG n = 0;
	int e;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	e = find(c, t, 2, certs, FIND_MAX, &n);
	for (CK_ULONG i = 0; e == 0 && i < n; i++) {
		uint8_t *id = NULL, *der = NULL, lens[8];
		size_t id_len = 0, der_len = 0;

		e = get_attr(c, certs[i], CKA_ID, TOKEN_ID_MAX, &id, &id_len);
		if (e == 0)
			e = get_attr(c, certs[i], CKA_VALUE, CERT_MAX, &der, &der_len);
		for (int k = 0; k < 4; k++) {
			lens[k] = (uint8_t)(id_len >> (24 - 8 * k));
			lens[4 + k] = (uint8_t)(der_len >> (24 - 8 * k));
		}
		if (e == 0 &&
		    (EVP_DigestUpdate(md, lens, sizeof(lens)) != 1 || EVP_DigestUpdate(md, id, id_len) != 1 ||
		     EVP_DigestUpdate(md, der, der_len) != 1))
			e = -ENOMEM;
		free(id);
		free(der);
	}
	if (e == 0 && EVP_DigestFinal_ex(md, out, NULL) != 1)
		e = -ENOMEM;
	EVP_MD_CTX_free(md);
	if (e < 0)
		return e;
	memcpy(hash, out, 16);
	*ret_n = n;
	return 0;
}

/* The ids of the private keys (by keyref) of a token model this driver made, for the channel; false for
 * a model that does not fit it. */
static bool keys_from(struct chan *c, const struct token *tok)
{
	memset(c->key_id_len, 0, sizeof(c->key_id_len));
	c->nkeys = 0;
	for (size_t i = 0; i < tok->nobjs; i++) {
		const struct token_object *o = &tok->objs[i];
		const struct token_attr *id = token_attr(o, CKA_ID);
		size_t k = o->key.keyref;

		if (o->cls != CKO_PRIVATE_KEY)
			continue;
		if (id == NULL || id->len == 0 || id->len > TOKEN_ID_MAX || k >= KEYS_MAX) {
			c->nkeys = 0;
			return false;
		}
		memcpy(c->key_id[k], id->value, id->len);
		c->key_id_len[k] = id->len;
		c->keys[k] = 0;
		if (k + 1 > c->nkeys)
			c->nkeys = k + 1;
	}
	return true;
}

/* The token in the channel's slot, read whole (on the backend's thread, or the reader's worker for
 * the check of a token served from the cache). */
static int read_token(struct chan *c, const CK_TOKEN_INFO *ti, struct token **ret)
{
	CK_OBJECT_HANDLE certs[FIND_MAX];
	CK_ULONG n = 0;
	char label[33];
	uint8_t ident[SHA256_DIGEST_LENGTH];
	struct token *tok;
	int e = open_token(c);

	if (e < 0)
		return e;
	token_ident(backend_module(c->b), ti, ident);
	token_text_clean(label, sizeof(label), ti->label, 32);
	tok = token_new(label[0] ? label : "token", ident);
	if (tok == NULL)
		return -ENOMEM;
	token_text_clean(tok->serial, sizeof(tok->serial), ti->serialNumber, 16);
	snprintf(tok->driver, sizeof(tok->driver), "module");
	snprintf(tok->module, sizeof(tok->module), "%s", backend_module(c->b));
	memcpy(tok->id, ident, sizeof(ident));
	tok->id_len = sizeof(ident);
	/* The PIN state the module showed with the token (drv_verify reads it again after a wrong PIN). */
	tok->pin_tries_left = ti->flags & CKF_USER_PIN_LOCKED      ? 0
	                      : ti->flags & CKF_USER_PIN_FINAL_TRY ? 1
	                                                           : -1;
	tok->pin_count_low = (ti->flags & CKF_USER_PIN_COUNT_LOW) != 0;
	e = read_mechs(c, tok);
	if (e == 0)
		e = find_certs(c, certs, &n, tok->guid);
	for (CK_ULONG i = 0; e == 0 && i < n; i++)
		e = add_pair(c, tok, certs[i]);
	if (e < 0) {
		token_free(tok);
		return e;
	}
	*ret = tok;
	return 0;
}

/* ---- the driver ---- */

static int drv_read_token(struct apdu_transport *t, struct token **ret)
{
	struct chan *c = chan_of(t);

	return read_token(c, &c->token_info, ret);
}

/* The check of a token served from the cache: its certificates' hash against the cached model's. The
 * same: the model stands (no key is looked for) and the channel takes its keys' ids from it; another:
 * the token is read whole. */
static int drv_check_token(struct apdu_transport *t, const struct token *cached, struct token **ret_fresh)
{
	struct chan *c = chan_of(t);
	CK_OBJECT_HANDLE certs[FIND_MAX];
	CK_ULONG n = 0;
	uint8_t hash[16];
	int e = open_token(c);

	if (e == 0)
		e = find_certs(c, certs, &n, hash);
	if (e < 0)
		return e;
	if (memcmp(hash, cached->guid, sizeof(hash)) != 0 || !keys_from(c, cached))
		return read_token(c, &c->token_info, ret_fresh);
	raw_from(c, cached);
	*ret_fresh = NULL;
	return 0;
}

static int drv_pin_status(struct apdu_transport *t, struct card_pin_status *ret)
{
	struct chan *c = chan_of(t);
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO si;
	CK_RV rv = CKR_OK;
	int e = CALL(c, &rv, C_GetTokenInfo, c->slot, &ti);

	if (e < 0 || rv != CKR_OK)
		return call_err(e, rv);
	/* A module says no counts, only these flags: locked, the final try, or (COUNT_LOW) fewer than all. */
	ret->tries_max = -1;
	ret->tries_left = ti.flags & CKF_USER_PIN_LOCKED ? 0 : ti.flags & CKF_USER_PIN_FINAL_TRY ? 1 : -1;
	e = CALL(c, &rv, C_GetSessionInfo, c->session, &si);
	if (e < 0 || rv != CKR_OK)
		return call_err(e, rv);
	ret->verified = si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
	return 0;
}

/* A module may renumber private objects at every login (SoftHSM does): their handles are found again. */
static void forget_keys(struct chan *c)
{
	for (size_t i = 0; i < c->nkeys; i++)
		c->keys[i] = 0;
}

static int drv_logout(struct apdu_transport *t)
{
	struct chan *c = chan_of(t);
	CK_RV rv = CKR_OK;
	int e = CALL(c, &rv, C_Logout, c->session);

	forget_keys(c);
	return rv == CKR_USER_NOT_LOGGED_IN ? 0 : call_err(e, rv);
}

/* A call that carries a PIN (C_Login, C_SetPIN, C_InitPIN): what its request and answer need. */
enum secret_call { SECRET_LOGIN, SECRET_SET_PIN, SECRET_INIT_PIN };
struct secret_args {
	CK_SESSION_HANDLE session;
	CK_USER_TYPE user;
	const uint8_t *a, *b; /* the PIN (C_Login, C_InitPIN); the old and new (C_SetPIN) */
	size_t alen, blen;
};

static int secret_request(enum secret_call k, struct proto_buf *w, const struct secret_args *x)
{
	switch (k) {
	case SECRET_LOGIN:
		return rpc_C_Login_request(w, x->session, x->user, (CK_UTF8CHAR_PTR)x->a, x->alen);
	case SECRET_SET_PIN:
		return rpc_C_SetPIN_request(w, x->session, (CK_UTF8CHAR_PTR)x->a, x->alen,
		                            (CK_UTF8CHAR_PTR)x->b, x->blen);
	case SECRET_INIT_PIN:
		return rpc_C_InitPIN_request(w, x->session, (CK_UTF8CHAR_PTR)x->a, x->alen);
	}
	return -EINVAL;
}

static int secret_response(enum secret_call k, const struct proto_buf *r, CK_RV *rv,
                           const struct secret_args *x)
{
	switch (k) {
	case SECRET_LOGIN:
		return rpc_C_Login_response(r->data, r->len, rv, x->session, x->user, (CK_UTF8CHAR_PTR)x->a,
		                            x->alen);
	case SECRET_SET_PIN:
		return rpc_C_SetPIN_response(r->data, r->len, rv, x->session, (CK_UTF8CHAR_PTR)x->a, x->alen,
		                             (CK_UTF8CHAR_PTR)x->b, x->blen);
	case SECRET_INIT_PIN:
		return rpc_C_InitPIN_response(r->data, r->len, rv, x->session, (CK_UTF8CHAR_PTR)x->a,
		                              x->alen);
	}
	return -EINVAL;
}

/* The call with its request frame (it carries the PINs) in a locked page kept out of core dumps, wiped
 * after the call. */
static int secret_call(struct chan *c, enum secret_call k, const struct secret_args *x, CK_RV *rv)
{
	enum { PAGE = 4096 };
	struct proto_buf req = PROTO_BUF_INIT(PAGE), resp = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	unsigned helper = 0;
	int e;

	req.data = pin_pages_new(PAGE);
	if (req.data == NULL)
		return -ENOMEM;
	req.cap = PAGE;
	e = secret_request(k, &req, x);
	if (e == 0)
		e = backend_call_from(c->b, &req, &resp, BACKEND_SIGN_TIMEOUT_MS, &helper);
	if (e == 0) {
		e = secret_response(k, &resp, rv, x);
		if (e < 0)
			backend_distrust(c->b, helper);
	}
	pin_pages_free(req.data, PAGE);
	proto_buf_free(&resp);
	return e;
}

/* C_Login: the user's, or the context-specific one of an operation. */
static int login(struct chan *c, CK_USER_TYPE user, const uint8_t *pin, size_t len, CK_RV *rv)
{
	return secret_call(c, SECRET_LOGIN, &(struct secret_args){c->session, user, pin, NULL, len, 0}, rv);
}

static int drv_verify(struct apdu_transport *t, const uint8_t *pin, size_t len, int *ret_tries)
{
	struct chan *c = chan_of(t);
	struct card_pin_status ps;
	CK_RV rv = CKR_OK;
	int e = login(c, CKU_USER, pin, len, &rv);

	/* Logged in already (by an application before this one): the PIN was not checked. The module
	 * forgets that login and checks this one. */
	if (e == 0 && rv == CKR_USER_ALREADY_LOGGED_IN) {
		e = drv_logout(t);
		if (e < 0)
			return e;
		e = login(c, CKU_USER, pin, len, &rv);
	}
	if (e < 0)
		return CARD_E_REMOVED;
	forget_keys(c);
	e = rv_err(rv);
	if (e == CARD_E_PIN_INCORRECT && ret_tries && drv_pin_status(t, &ps) == 0)
		*ret_tries = ps.tries_left;
	return e;
}

/* ---- PIN change and unblock, passed to the module ----
 * PKCS#11 asks for a read-write session for C_SetPIN and C_InitPIN, and for no read-only one while the
 * SO logs in: the channel's own session is read-only, so these run in a read-write session of their own,
 * and an SO's work closes the channel's session first and opens it again after (its keys are found
 * again at their next use). */

/* The module's answer to a change of the PIN or the SO PIN, with the counter its flags show after a
 * wrong one. */
static int pin_result(struct apdu_transport *t, int e, CK_RV rv, int *ret_tries)
{
	struct card_pin_status ps;

	if (e < 0)
		return CARD_E_REMOVED;
	e = rv_err(rv);
	if (e == CARD_E_PIN_INCORRECT && ret_tries && drv_pin_status(t, &ps) == 0)
		*ret_tries = ps.tries_left;
	return e;
}

static int rw_session(struct chan *c, CK_SESSION_HANDLE *ret)
{
	CK_RV rv = CKR_OK;
	int e = CALL(c, &rv, C_OpenSession, c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, ret);

	return e < 0 || rv != CKR_OK ? call_err(e, rv) : 0;
}

/* As the SO (its PIN: so, solen): with old NULL, a new user PIN (C_InitPIN); else the SO PIN changes from
 * old to new (C_SetPIN in the SO's session). */
static int as_so(struct apdu_transport *t, const uint8_t *so, size_t solen, const uint8_t *old, size_t oldlen,
                 const uint8_t *new, size_t newlen, int *ret_tries)
{
	struct chan *c = chan_of(t);
	CK_SESSION_HANDLE rw = 0;
	CK_RV rv = CKR_OK, rv2 = CKR_OK;
	int e;

	if (c->session != 0)
		CALL(c, &rv2, C_CloseSession, c->session);
	c->session = 0;
	forget_keys(c);
	e = rw_session(c, &rw);
	if (e == 0) {
		e = secret_call(c, SECRET_LOGIN, &(struct secret_args){rw, CKU_SO, so, NULL, solen, 0}, &rv);
		if (e == 0 && rv == CKR_OK) {
			e = old ? secret_call(c, SECRET_SET_PIN,
			                      &(struct secret_args){rw, 0, old, new, oldlen, newlen}, &rv)
			        : secret_call(c, SECRET_INIT_PIN,
			                      &(struct secret_args){rw, 0, new, NULL, newlen, 0}, &rv);
			CALL(c, &rv2, C_Logout, rw);
		} else if (e == 0 && ret_tries) {
			/* A wrong SO PIN: its count, if the module says one, is not the user's PIN's. */
			*ret_tries = -1;
			ret_tries = NULL;
		}
		CALL(c, &rv2, C_CloseSession, rw);
	}
	if (CALL(c, &rv2, C_OpenSession, c->slot, CKF_SERIAL_SESSION, NULL, NULL, &c->session) < 0 ||
	    rv2 != CKR_OK)
		c->session = 0;
	return e < 0 ? e : pin_result(t, 0, rv, ret_tries);
}

static int drv_change_ref(struct apdu_transport *t, enum card_ref ref, const uint8_t *old, size_t oldlen,
                          const uint8_t *new, size_t newlen, int *ret_tries)
{
	struct chan *c = chan_of(t);
	CK_SESSION_HANDLE rw = 0;
	CK_RV rv = CKR_OK, rv2 = CKR_OK;
	int e;

	if (ref == CARD_REF_PUK)
		return as_so(t, old, oldlen, old, oldlen, new, newlen, ret_tries);
	/* The user's PIN, in a read-write session: the user's (logged in) or a public one. */
	e = rw_session(c, &rw);
	if (e < 0)
		return e;
	e = secret_call(c, SECRET_SET_PIN, &(struct secret_args){rw, 0, old, new, oldlen, newlen}, &rv);
	CALL(c, &rv2, C_CloseSession, rw);
	return pin_result(t, e, rv, ret_tries);
}

static int drv_unblock_pin(struct apdu_transport *t, const uint8_t *puk, size_t puklen, const uint8_t *pin,
                           size_t pinlen, int *ret_tries)
{
	return as_so(t, puk, puklen, NULL, 0, pin, pinlen, ret_tries);
}

/* The module checks its SO PIN itself: any that fits imza's bound goes to it. */
static bool drv_so_pin_ok(const uint8_t *puk, size_t len)
{
	return puk != NULL && len > 0;
}

/* r || s as the DER ECDSA-Sig-Value the driver interface returns. */
static int ec_raw_to_der(const uint8_t *raw, size_t len, uint8_t *out, size_t cap, size_t *ret_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL), *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	unsigned char *p = out;
	int n = -1;

	if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(sig, NULL);
		if (n > 0 && (size_t)n <= cap)
			n = i2d_ECDSA_SIG(sig, &p);
		else
			n = -1;
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return -EMSGSIZE;
	*ret_len = (size_t)n;
	return 0;
}

/* The DigestInfo inside a PKCS#1 v1.5 signature block (00 01 FF.. 00 DigestInfo), or NULL. */
static const uint8_t *pkcs1_type1_payload(const uint8_t *in, size_t len, size_t *ret_len)
{
	size_t i = 2;

	if (len < 11 || in[0] != 0x00 || in[1] != 0x01)
		return NULL;
	while (i < len && in[i] == 0xff)
		i++;
	if (i < 10 || i >= len || in[i] != 0x00)
		return NULL;
	*ret_len = len - i - 1;
	return in + i + 1;
}

/* An operation the module still holds after its context login failed (PKCS#11 leaves it active, and a
 * 2.x module has no way to cancel it): it ends with the session that holds it. The new session is
 * opened first: closing the last one would end the user's login. */
static void drop_operation(struct chan *c)
{
	CK_SESSION_HANDLE fresh = 0;
	CK_RV rv = CKR_OK;

	if (CALL(c, &rv, C_OpenSession, c->slot, CKF_SERIAL_SESSION, NULL, NULL, &fresh) < 0 || rv != CKR_OK)
		return;
	CALL(c, &rv, C_CloseSession, c->session);
	c->session = fresh;
}

/* One operation in the module: its Init, its context login when the key needs the PIN at each use
 * (pin: the PIN given for this operation), then the operation. */
static int one_shot(struct chan *c, bool decrypt, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key, bool always,
                    const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out, size_t cap,
                    size_t *ret_len, CK_RV *ret_rv)
{
	CK_MECHANISM m = *mech;
	CK_ULONG n = cap;
	CK_RV rv = CKR_OK;
	int e;

	/* Refused before the module starts an operation that nothing could end. */
	if (always && (pin == NULL || pin->page == NULL))
		return CARD_E_NOT_LOGGED_IN;
	e = decrypt ? CALL(c, &rv, C_DecryptInit, c->session, &m, key)
	            : CALL(c, &rv, C_SignInit, c->session, &m, key);
	if (e == 0 && rv != CKR_OK && ret_rv)
		*ret_rv = rv;
	/* Refused before the key was used: the caller may take another way. */
	if (e == 0 &&
	    (rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD))
		return CARD_E_MECH_REFUSED;
	if (e < 0 || rv != CKR_OK)
		return call_err(e, rv);
	if (always) {
		e = login(c, CKU_CONTEXT_SPECIFIC, pin->page, pin->len, &rv);
		if (e < 0)
			return CARD_E_REMOVED;
		if (rv != CKR_OK) {
			drop_operation(c);
			return rv_err(rv);
		}
	}
	e = decrypt ? CALL_LONG(c, &rv, C_Decrypt, c->session, (CK_BYTE_PTR)in, inlen, out, &n)
	            : CALL_LONG(c, &rv, C_Sign, c->session, (CK_BYTE_PTR)in, inlen, out, &n);
	if (e == 0 && rv != CKR_OK && ret_rv)
		*ret_rv = rv;
	if (e < 0 || rv != CKR_OK)
		return call_err(e, rv);
	*ret_len = n;
	return 0;
}

/* The handle of the private key keyref, found by its CKA_ID when not known yet. */
static int key_handle(struct chan *c, size_t keyref, CK_OBJECT_HANDLE *ret)
{
	int e = 0;

	if (c->keys[keyref] == 0) {
		e = find_by_id(c, CKO_PRIVATE_KEY, c->key_id[keyref], c->key_id_len[keyref],
		               &c->keys[keyref]);
		/* A module may show a private key's attributes only after the login: read with the
		 * handle. */
		if (e == 0 && c->keys[keyref] != 0)
			e = always_auth(c, c->keys[keyref], &c->key_always[keyref]);
		if (e < 0)
			c->keys[keyref] = 0;
	}
	if (e == 0 && c->keys[keyref] == 0)
		e = CARD_E_NOT_LOGGED_IN;
	*ret = c->keys[keyref];
	return e;
}

static int private_op_once(struct chan *c, bool decrypt, const struct token_key_info *key,
                           const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out,
                           size_t cap, size_t *ret_len)
{
	static const CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0}, x509 = {CKM_RSA_X_509, NULL, 0},
	                          pkcs1 = {CKM_RSA_PKCS, NULL, 0};
	uint8_t raw[2 * 66];
	size_t n = 0, plen;
	const uint8_t *payload;
	CK_OBJECT_HANDLE h;
	int e = key_handle(c, key->keyref, &h);

	bool always;

	if (e < 0)
		return e;
	always = c->key_always[key->keyref];
	if (key->type == CKK_EC) {
		if (decrypt)
			return -EOPNOTSUPP;
		e = one_shot(c, false, &ecdsa, h, always, pin, in, inlen, raw, sizeof(raw), &n, NULL);
		if (e == 0 && (n == 0 || n % 2 != 0))
			e = -EIO;
		return e < 0 ? e : ec_raw_to_der(raw, n, out, cap, ret_len);
	}
	if (decrypt ? c->raw_decrypt : c->raw_sign)
		return one_shot(c, decrypt, &x509, h, always, pin, in, inlen, out, cap, ret_len, NULL);
	/* Without raw RSA (the signing window's signatures): a PKCS#1 v1.5 signature is made from its
	 * DigestInfo. PKCS#11 applications reach the module's own mechanisms through mech_op. */
	payload = decrypt ? NULL : pkcs1_type1_payload(in, inlen, &plen);
	if (payload == NULL)
		return -EOPNOTSUPP;
	return one_shot(c, false, &pkcs1, h, always, pin, payload, plen, out, cap, ret_len, NULL);
}

static int private_op(struct apdu_transport *t, bool decrypt, const struct token_key_info *key,
                      const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out, size_t cap,
                      size_t *ret_len)
{
	struct chan *c = chan_of(t);
	int e;

	if (key->keyref >= c->nkeys)
		return -EINVAL;
	e = private_op_once(c, decrypt, key, pin, in, inlen, out, cap, ret_len);
	/* A handle the module no longer knows (renumbered): found again, once. */
	if (e == -ESTALE) {
		c->keys[key->keyref] = 0;
		e = private_op_once(c, decrypt, key, pin, in, inlen, out, cap, ret_len);
	}
	return e == -ESTALE ? -EIO : e;
}

static int drv_sign(struct apdu_transport *t, const struct token_key_info *key, const struct pin_secret *pin,
                    const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *ret_len)
{
	return private_op(t, false, key, pin, in, inlen, out, cap, ret_len);
}

static int drv_decrypt(struct apdu_transport *t, const struct token_key_info *key,
                       const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out,
                       size_t cap, size_t *ret_len)
{
	return private_op(t, true, key, pin, in, inlen, out, cap, ret_len);
}

/* An operation with the mechanism m, as mech_op defines it: the parameters given to the module as
 * the application gave them (the OAEP label and a vendor mechanism's bytes from the job's copy). */
static int drv_mech_op(struct apdu_transport *t, bool decrypt, const struct token_key_info *key,
                       const struct card_mech *m, const struct pin_secret *pin, const uint8_t *in,
                       size_t inlen, uint8_t *out, size_t cap, size_t *ret_len, CK_RV *ret_rv)
{
	struct chan *c = chan_of(t);
	CK_RSA_PKCS_OAEP_PARAMS oaep = m->oaep;
	CK_MECHANISM mech = {m->type, NULL, 0};
	CK_OBJECT_HANDLE h;
	int e = 0;

	switch (m->param) {
	case CARD_MECH_NONE:
		break;
	case CARD_MECH_PSS:
		mech.pParameter = (void *)&m->pss;
		mech.ulParameterLen = sizeof(m->pss);
		break;
	case CARD_MECH_OAEP:
		if (m->bytes_len > sizeof(m->bytes))
			return -EINVAL;
		oaep.pSourceData = m->bytes_len ? (void *)m->bytes : NULL;
		oaep.ulSourceDataLen = m->bytes_len;
		mech.pParameter = &oaep;
		mech.ulParameterLen = sizeof(oaep);
		break;
	case CARD_MECH_BYTES:
		if (m->bytes_len > sizeof(m->bytes))
			return -EINVAL;
		mech.pParameter = (void *)m->bytes;
		mech.ulParameterLen = m->bytes_len;
		break;
	default:
		return -EINVAL;
	}
	if (key->keyref >= c->nkeys)
		return -EINVAL;
	/* A handle the module no longer knows (renumbered): found again, once. */
	for (int i = 0; i < 2; i++) {
		*ret_rv = CKR_OK;
		e = key_handle(c, key->keyref, &h);
		if (e == 0)
			e = one_shot(c, decrypt, &mech, h, c->key_always[key->keyref], pin, in, inlen, out,
			             cap, ret_len, ret_rv);
		if (e != -ESTALE)
			break;
		c->keys[key->keyref] = 0;
	}
	return e == -ESTALE ? -EIO : e;
}

/* After the login: the private keys are found (their handles, and whether each needs the PIN at each
 * use) and those that do are named. A key the module still does not show is left as it is. */
static int drv_pin_always_keys(struct apdu_transport *t, uint8_t *keyrefs, size_t cap, size_t *ret_n)
{
	struct chan *c = chan_of(t);
	CK_OBJECT_HANDLE h;
	size_t n = 0;

	for (size_t i = 0; i < c->nkeys; i++) {
		int e = key_handle(c, i, &h);

		if (e == CARD_E_REMOVED)
			return e;
		if (e == 0 && c->key_always[i] && n < cap)
			keyrefs[n++] = (uint8_t)i;
	}
	*ret_n = n;
	return 0;
}

const struct card_driver backend_card_driver = {
        .name = "module",
        .read_token = drv_read_token,
        .check_token = drv_check_token,
        .verify = drv_verify,
        .puk_ok = drv_so_pin_ok,
        .change_ref = drv_change_ref,
        .unblock_pin = drv_unblock_pin,
        .pin_status = drv_pin_status,
        .logout = drv_logout,
        .private_op = drv_sign,
        .decrypt_op = drv_decrypt,
        .mech_op = drv_mech_op,
        .pin_always_keys = drv_pin_always_keys,
};

/* ---- the set of backends imzad runs ---- */

struct backend_set {
	struct reader_monitor *m;
	struct backend **b;
	size_t n;
	/* The channels of the tokens present, each with its reader (backend threads only: each backend
	 * touches its own entries, under lock). */
	pthread_mutex_t lock;
	struct chan *chans[64];
	/* The last token found not usable (its backend and why): a helper started again and again shows
	 * it again and again, and it is said once (under lock). */
	struct backend *unusable_b;
	int unusable_e;
	bool prefer[CONFIG_BACKENDS_MAX];
	/* Under lock: the backends asked to look (backend_set_listen), by index, and how many have not yet. */
	bool asked[CONFIG_BACKENDS_MAX];
	size_t unlooked;
};

/* Who owns the reader: a card that one of imza's own drivers serves keeps it, and the module's token in
 * the same reader is not shown (no card appears twice); once that card is gone, the token is. */
static void show_or_hide(struct backend_set *s, struct chan *c)
{
	struct token *tok = NULL;
	uint8_t id[SHA256_DIGEST_LENGTH];
	int e;

	/* Preferred: the module keeps the reader, and imza's own driver leaves its card. */
	if (c->prefer)
		reader_monitor_claim(s->m, c->desc, true);
	else if (reader_monitor_native_in(s->m, c->desc)) {
		if (!c->said_hidden)
			log_info("%s: not shown: imza's own driver serves the card in that reader", c->name);
		c->said_hidden = true;
		if (c->r != NULL) {
			reader_ext_remove(c->r);
			c->r = NULL;
		}
		return;
	}
	if (c->r != NULL)
		return;
	c->said_hidden = false;
	c->r = reader_ext_add(s->m, c->name, &backend_card_driver, c);
	if (c->r == NULL)
		return;
	/* A token seen before is served from the cache at once and read in full on the reader's worker
	 * later (reader_ext_card). */
	token_ident(backend_module(c->b), &c->token_info, id);
	tok = reader_monitor_known(s->m, backend_card_driver.name, id, sizeof(id));
	if (tok != NULL) {
		tok->unchecked = true;
		snprintf(tok->module, sizeof(tok->module), "%s", backend_module(c->b));
		reader_ext_card(c->r, tok);
		return;
	}
	e = read_token(c, &c->token_info, &tok);
	if (e < 0) {
		char label[33];
		bool again;

		pthread_mutex_lock(&s->lock);
		again = s->unusable_b == c->b && s->unusable_e == e;
		s->unusable_b = c->b;
		s->unusable_e = e;
		pthread_mutex_unlock(&s->lock);
		token_text_clean(label, sizeof(label), c->token_info.label, 32);
		log_msg(again ? LOG_LVL_DEBUG : LOG_LVL_WARNING, "%s: token \"%s\" not usable (%s)", c->name,
		        label, strerror(-e));
		return;
	}
	reader_ext_card(c->r, tok);
}

static void on_present(void *ud, struct backend *b, const struct backend_token *bt)
{
	struct backend_set *s = ud;
	struct chan *c = calloc(1, sizeof(*c));
	const char *mod = strrchr(backend_module(b), '/');
	size_t i;

	if (c == NULL)
		return;
	c->b = b;
	c->slot = bt->slot;
	for (i = 0; i < s->n; i++)
		c->prefer = c->prefer || (s->b[i] == b && s->prefer[i]);
	c->token_info = bt->token_info;
	/* The one place the module's slot description enters imzad: cleaned, it names the reader. */
	token_text_clean(c->desc, sizeof(c->desc), bt->slot_info.slotDescription, 64);
	snprintf(c->name, sizeof(c->name), "%s [%s]", c->desc[0] ? c->desc : "slot",
	         mod ? mod + 1 : backend_module(b));
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < sizeof(s->chans) / sizeof(s->chans[0]) && s->chans[i]; i++)
		;
	if (i < sizeof(s->chans) / sizeof(s->chans[0]))
		s->chans[i] = c;
	pthread_mutex_unlock(&s->lock);
	if (i == sizeof(s->chans) / sizeof(s->chans[0])) {
		free(c);
		return;
	}
	show_or_hide(s, c);
}

/* After each look at the module's slots: a card of imza's own drivers may have come or gone since. */
static void on_tick(void *ud, struct backend *b)
{
	struct backend_set *s = ud;
	struct chan *mine[sizeof(s->chans) / sizeof(s->chans[0])];
	size_t n = 0;

	/* Only this backend's thread frees its channels (on_gone): they stay valid outside the lock. */
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < sizeof(s->chans) / sizeof(s->chans[0]); i++)
		if (s->chans[i] && s->chans[i]->b == b)
			mine[n++] = s->chans[i];
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		show_or_hide(s, mine[i]);
}

static void on_gone(void *ud, struct backend *b, CK_SLOT_ID slot)
{
	struct backend_set *s = ud;
	struct chan *c = NULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < sizeof(s->chans) / sizeof(s->chans[0]); i++)
		if (s->chans[i] && s->chans[i]->b == b && s->chans[i]->slot == slot) {
			c = s->chans[i];
			s->chans[i] = NULL;
		}
	pthread_mutex_unlock(&s->lock);
	if (c == NULL)
		return;
	if (c->prefer)
		reader_monitor_claim(s->m, c->desc, false);
	/* The worker ends (its job, if one runs, first): nothing uses the channel after this. */
	if (c->r)
		reader_ext_remove(c->r);
	free(c);
}

/* After a look that was asked for: once every backend asked has looked, the main loop learns that what
 * the modules' slots held has reached it (reader_ext_looked). */
static void on_looked(void *ud, struct backend *b)
{
	struct backend_set *s = ud;
	bool all = false;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n; i++) {
		if (s->b[i] == b && s->asked[i]) {
			s->asked[i] = false;
			all = --s->unlooked == 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (all)
		reader_ext_looked(s->m);
}

bool backend_set_listen(struct backend_set *s, bool on)
{
	if (s == NULL || s->n == 0)
		return false;
	/* Only the modules that answer are waited for: one that hangs or crash-loops would hold every
	 * application's first slot list for the whole wait. */
	pthread_mutex_lock(&s->lock);
	s->unlooked = 0;
	for (size_t i = 0; i < s->n; i++) {
		s->asked[i] = on && backend_answering(s->b[i]);
		s->unlooked += s->asked[i];
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		backend_listen(s->b[i], on);
	return on && s->unlooked > 0;
}

int backend_set_new(struct reader_monitor *m, const char *helper, char (*modules)[PATH_MAX],
                    const bool *prefer, size_t n, struct backend_set **ret)
{
	static const struct backend_callbacks cb = {
	        .token_present = on_present, .token_gone = on_gone, .tick = on_tick, .looked = on_looked};
	struct backend_set *s = calloc(1, sizeof(*s));

	if (n > CONFIG_BACKENDS_MAX)
		n = CONFIG_BACKENDS_MAX;
	if (s == NULL || (n > 0 && (s->b = calloc(n, sizeof(*s->b))) == NULL)) {
		free(s);
		return -ENOMEM;
	}
	s->m = m;
	pthread_mutex_init(&s->lock, NULL);
	for (size_t i = 0; i < n; i++) {
		if (backend_new(modules[i], helper, &cb, s, &s->b[s->n]) < 0) {
			log_error("backend %s: not started (out of memory)", modules[i]);
			continue;
		}
		s->prefer[s->n] = prefer != NULL && prefer[i];
		log_info("backend %s: served through %s%s", modules[i], helper,
		         s->prefer[s->n] ? " (preferred over imza's own drivers)" : "");
		s->n++;
	}
	*ret = s;
	return 0;
}

void backend_set_free(struct backend_set *s)
{
	if (s == NULL)
		return;
	/* Each backend reports its tokens gone as it stops: their readers go with them. */
	for (size_t i = 0; i < s->n; i++)
		backend_free(s->b[i]);
	pthread_mutex_destroy(&s->lock);
	free(s->b);
	free(s);
}
