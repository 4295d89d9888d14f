/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PKCS#11 operations that need no card: software digests (CKM_SHA_1..SHA512) and the verification
 * of signatures with the token's public keys (C_Verify*, C_VerifyRecover), done here in imzad with
 * OpenSSL (mech.c). The module links no crypto library, so they cost a round trip like every call; the
 * key material is what imzad already holds (CKA_PUBLIC_KEY_INFO). State lives in the session's
 * operation from Init to the end, bounded as a signature's is (a digest context, or OP_DATA_MAX bytes
 * for raw mechanisms), and is freed at the end of each operation. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/daemon.h"

#define APP(ctx) (((struct call *)(ctx))->app)

static CK_RV session_of(void *ctx, CK_SESSION_HANDLE h, struct session **ret_sess, struct slot **ret_slot)
{
	return app_get_session(APP(ctx), h, ret_sess, ret_slot);
}

/* The session's operation when it is of this kind (else CKR_OPERATION_NOT_INITIALIZED). */
static CK_RV op_of(void *ctx, CK_SESSION_HANDLE h, enum op_kind kind, struct session **ret_sess,
                   struct slot **ret_slot)
{
	CK_RV rv = session_of(ctx, h, ret_sess, ret_slot);

	if (rv != CKR_OK)
		return rv;
	return op_kind((*ret_sess)->op) == kind ? CKR_OK : CKR_OPERATION_NOT_INITIALIZED;
}

static CK_RV md_start(struct op *op, const char *name)
{
	EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
	int ok;

	op->md_ctx = EVP_MD_CTX_new();
	ok = md != NULL && op->md_ctx != NULL && EVP_DigestInit_ex(op->md_ctx, md, NULL) == 1;
	EVP_MD_free(md);
	return ok ? CKR_OK : CKR_HOST_MEMORY;
}

static CK_RV fail(struct session *sess, CK_RV rv)
{
	op_end(&sess->op);
	return rv;
}

/* ---- digests ---- */

CK_RV p11_DigestInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
	struct session *sess;
	struct slot *s;
	const char *name;
	CK_RV rv = session_of(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (m == NULL) {
		/* PKCS#11 3.0: a NULL mechanism ends the operation. */
		if (op_kind(sess->op) == OP_DIGEST)
			op_end(&sess->op);
		return CKR_OK;
	}
	if (sess->op)
		return CKR_OPERATION_ACTIVE;
	name = mech_hash_name(m->mechanism);
	if (name == NULL)
		return CKR_MECHANISM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if (op_begin(&sess->op, OP_DIGEST) < 0)
		return CKR_HOST_MEMORY;
	sess->op->type = m->mechanism;
	rv = md_start(sess->op, name);
	return rv == CKR_OK ? rv : fail(sess, rv);
}

/* Writes the digest, or answers a length query or a short buffer without ending the operation. */
static CK_RV digest_out(struct session *sess, const uint8_t *data, size_t len, CK_BYTE_PTR out,
                        CK_ULONG_PTR outlen)
{
	struct op *op = sess->op;
	size_t need = (size_t)EVP_MD_CTX_get_size(op->md_ctx);
	unsigned int n = 0;

	if (out == NULL) {
		*outlen = need;
		return CKR_OK;
	}
	if (*outlen < need) {
		*outlen = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	if ((len > 0 && EVP_DigestUpdate(op->md_ctx, data, len) != 1) ||
	    EVP_DigestFinal_ex(op->md_ctx, out, &n) != 1)
		return fail(sess, CKR_FUNCTION_FAILED);
	*outlen = n;
	op_end(&sess->op);
	return CKR_OK;
}

CK_RV p11_Digest(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
                 CK_ULONG_PTR outlen)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = op_of(ctx, h, OP_DIGEST, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (sess->op->multi)
		return CKR_OPERATION_ACTIVE;
	if (outlen == NULL || (data == NULL && len > 0))
		return fail(sess, CKR_ARGUMENTS_BAD);
	return digest_out(sess, data, len, out, outlen);
}

CK_RV p11_DigestUpdate(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = op_of(ctx, h, OP_DIGEST, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (data == NULL && len > 0)
		return fail(sess, CKR_ARGUMENTS_BAD);
	sess->op->multi = true;
	if (len > 0 && EVP_DigestUpdate(sess->op->md_ctx, data, len) != 1)
		return fail(sess, CKR_FUNCTION_FAILED);
	return CKR_OK;
}

/* Every key imzad serves is on the card: their secret values are never where a digest could read them,
 * and a public key's value is no CKA_VALUE either. */
CK_RV p11_DigestKey(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	struct session *sess;
	struct slot *s;
	const struct token_object *o;
	CK_RV rv = op_of(ctx, h, OP_DIGEST, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	o = token_object(s->token, key);
	if (o == NULL || (o->is_private && !app_logged_in(APP(ctx), s)) ||
	    (o->cls != CKO_PRIVATE_KEY && o->cls != CKO_PUBLIC_KEY && o->cls != CKO_SECRET_KEY))
		return fail(sess, CKR_KEY_HANDLE_INVALID);
	return fail(sess, CKR_KEY_INDIGESTIBLE);
}

CK_RV p11_DigestFinal(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = op_of(ctx, h, OP_DIGEST, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (outlen == NULL)
		return fail(sess, CKR_ARGUMENTS_BAD);
	return digest_out(sess, NULL, 0, out, outlen);
}

/* ---- verification ---- */

/* A public key of the token this application sees, fit for the mechanism (verify or recover). */
static CK_RV verify_key(void *ctx, struct slot *s, CK_OBJECT_HANDLE key, const struct mech_desc *md,
                        CK_ATTRIBUTE_TYPE use, const struct token_object **ret)
{
	const struct token_object *o = token_object(s->token, key);
	const struct token_attr *a;

	if (o == NULL || (o->is_private && !app_logged_in(APP(ctx), s)))
		return CKR_KEY_HANDLE_INVALID;
	if (o->cls != CKO_PUBLIC_KEY)
		return CKR_KEY_TYPE_INCONSISTENT;
	if ((md->family == MECH_ECDSA) != (o->key.type == CKK_EC))
		return CKR_KEY_TYPE_INCONSISTENT;
	a = token_attr(o, use);
	if (a == NULL || a->len != 1 || *(const CK_BBOOL *)a->value != CK_TRUE)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (token_attr(o, CKA_PUBLIC_KEY_INFO) == NULL)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	*ret = o;
	return CKR_OK;
}

static CK_RV verify_init(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
                         enum op_kind kind)
{
	struct session *sess;
	struct slot *s;
	const struct token_object *o;
	const struct mech_desc *md;
	struct mech_pss pss = {0};
	bool has_pss = false;
	CK_RV rv = session_of(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (m == NULL) {
		if (op_kind(sess->op) == kind)
			op_end(&sess->op);
		return CKR_OK;
	}
	if (sess->op)
		return CKR_OPERATION_ACTIVE;
	if (kind == OP_VERIFY_RECOVER && m->mechanism != CKM_RSA_PKCS && m->mechanism != CKM_RSA_X_509)
		return CKR_MECHANISM_INVALID;
	md = mech_find_verify(m->mechanism);
	if (md == NULL)
		return CKR_MECHANISM_INVALID;
	rv = verify_key(ctx, s, key, md, kind == OP_VERIFY ? CKA_VERIFY : CKA_VERIFY_RECOVER, &o);
	if (rv != CKR_OK)
		return rv;
	if (md->family == MECH_RSA_PSS) {
		if (mech_pss_params(md, m, o->key.size, &pss) < 0)
			return CKR_MECHANISM_PARAM_INVALID;
		has_pss = true;
	}
	if (op_begin(&sess->op, kind) < 0)
		return CKR_HOST_MEMORY;
	sess->op->mech = md;
	sess->op->type = m->mechanism;
	sess->op->key = key;
	sess->op->pss = pss;
	sess->op->has_pss = has_pss;
	return CKR_OK;
}

CK_RV p11_VerifyInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return verify_init(ctx, h, m, key, OP_VERIFY);
}

CK_RV p11_VerifyRecoverInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return verify_init(ctx, h, m, key, OP_VERIFY_RECOVER);
}

/* Collects data: hashed as it comes for hashing mechanisms, kept (at most OP_DATA_MAX) for raw ones. */
static CK_RV verify_update(struct op *op, const uint8_t *data, size_t len)
{
	CK_RV rv;

	if (op->mech->digest) {
		if (op->md_ctx == NULL && (rv = md_start(op, op->mech->digest)) != CKR_OK)
			return rv;
		return len == 0 || EVP_DigestUpdate(op->md_ctx, data, len) == 1 ? CKR_OK
		                                                                : CKR_FUNCTION_FAILED;
	}
	if (len > sizeof(op->data) - op->data_len)
		return CKR_DATA_LEN_RANGE;
	if (len > 0)
		memcpy(op->data + op->data_len, data, len);
	op->data_len += len;
	return CKR_OK;
}

static CK_RV verify_rv(int r)
{
	switch (r) {
	case 0:
		return CKR_OK;
	case -EBADMSG:
		return CKR_SIGNATURE_INVALID;
	case -EMSGSIZE:
		return CKR_SIGNATURE_LEN_RANGE;
	case -EINVAL:
		return CKR_DATA_LEN_RANGE;
	default:
		return CKR_FUNCTION_FAILED;
	}
}

/* Verifies what the operation collected against sig; the operation ends whatever the answer. */
static CK_RV verify_end(struct session *sess, struct slot *s, const uint8_t *sig, size_t siglen)
{
	struct op *op = sess->op;
	const struct token_object *o = token_object(s->token, op->key);
	const struct token_attr *spki = o ? token_attr(o, CKA_PUBLIC_KEY_INFO) : NULL;
	const struct mech_pss *pss = op->has_pss ? &op->pss : NULL;
	uint8_t hash[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	int r;

	if (spki == NULL)
		return fail(sess, CKR_KEY_HANDLE_INVALID);
	if (op->mech->digest) {
		if ((op->md_ctx == NULL && verify_update(op, NULL, 0) != CKR_OK) ||
		    EVP_DigestFinal_ex(op->md_ctx, hash, &hlen) != 1)
			return fail(sess, CKR_FUNCTION_FAILED);
		r = mech_verify(op->mech, pss, spki->value, spki->len, hash, hlen, true, sig, siglen);
	} else {
		r = mech_verify(op->mech, pss, spki->value, spki->len, op->data, op->data_len, false, sig,
		                siglen);
	}
	return fail(sess, verify_rv(r));
}

CK_RV p11_Verify(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                 CK_ULONG siglen)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = op_of(ctx, h, OP_VERIFY, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (sess->op->multi)
		return CKR_OPERATION_ACTIVE;
	if ((data == NULL && len > 0) || sig == NULL)
		return fail(sess, CKR_ARGUMENTS_BAD);
	rv = verify_update(sess->op, data, len);
	if (rv != CKR_OK)
		return fail(sess, rv);
	return verify_end(sess, s, sig, siglen);
}

CK_RV p11_VerifyUpdate(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = op_of(ctx, h, OP_VERIFY, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (data == NULL && len > 0)
		return fail(sess, CKR_ARGUMENTS_BAD);
	sess->op->multi = true;
	rv = verify_update(sess->op, data, len);
	return rv == CKR_OK ? rv : fail(sess, rv);
}

CK_RV p11_VerifyFinal(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG siglen)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = op_of(ctx, h, OP_VERIFY, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (sig == NULL)
		return fail(sess, CKR_ARGUMENTS_BAD);
	return verify_end(sess, s, sig, siglen);
}

CK_RV p11_VerifyRecover(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG siglen, CK_BYTE_PTR data,
                        CK_ULONG_PTR datalen)
{
	struct session *sess;
	struct slot *s;
	const struct token_object *o;
	const struct token_attr *spki;
	uint8_t out[TOKEN_RSA_BYTES_MAX];
	size_t n = 0;
	int r;
	CK_RV rv = op_of(ctx, h, OP_VERIFY_RECOVER, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (sig == NULL || datalen == NULL)
		return fail(sess, CKR_ARGUMENTS_BAD);
	o = token_object(s->token, sess->op->key);
	spki = o ? token_attr(o, CKA_PUBLIC_KEY_INFO) : NULL;
	if (spki == NULL)
		return fail(sess, CKR_KEY_HANDLE_INVALID);
	/* Recovery is cheap and public: a length query or a short buffer does it again on the next call. */
	r = mech_verify_recover(sess->op->type, spki->value, spki->len, sig, siglen, out, sizeof(out), &n);
	if (r < 0)
		return fail(sess, verify_rv(r));
	if (data == NULL || *datalen < n) {
		*datalen = n;
		return data == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	memcpy(data, out, n);
	*datalen = n;
	return fail(sess, CKR_OK);
}
