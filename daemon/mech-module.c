/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a vendor module's token offers and how each mechanism reaches the module (see mech-module.h). */
#include <errno.h>

#include "daemon/mech-module.h"
#include "daemon/mech.h"

static bool has(const struct token *t, CK_MECHANISM_TYPE type, CK_FLAGS flag)
{
	const struct token_mech *m = token_mech(t, type);

	return m != NULL && (m->info.flags & flag) != 0;
}

static int route(enum mech_route_kind kind, CK_MECHANISM_TYPE card_type, struct mech_route *ret)
{
	*ret = (struct mech_route){kind, card_type};
	return 0;
}

int mech_module_route(const struct token *t, CK_MECHANISM_TYPE type, bool decrypt, struct mech_route *ret)
{
	const struct mech_desc *md = decrypt ? NULL : mech_find(type);
	bool raw = has(t, CKM_RSA_X_509, decrypt ? CKF_DECRYPT : CKF_SIGN);

	if (decrypt) {
		if (has(t, type, CKF_DECRYPT))
			return route(MECH_ROUTE_PASS, type, ret);
		if ((type == CKM_RSA_PKCS || type == CKM_RSA_PKCS_OAEP) && raw)
			return route(MECH_ROUTE_RAW, CKM_RSA_X_509, ret);
		return -ENOENT;
	}
	/* A hashing mechanism imza knows: imza hashes (any length of data, in any number of parts) and
	 * the module signs over its raw form. */
	if (md != NULL && md->digest != NULL) {
		switch (md->family) {
		case MECH_RSA_PKCS:
			if (has(t, CKM_RSA_PKCS, CKF_SIGN))
				return route(MECH_ROUTE_DIGESTINFO, CKM_RSA_PKCS, ret);
			if (raw)
				return route(MECH_ROUTE_RAW, CKM_RSA_X_509, ret);
			break;
		case MECH_RSA_PSS:
			if (has(t, CKM_RSA_PKCS_PSS, CKF_SIGN))
				return route(MECH_ROUTE_HASH, CKM_RSA_PKCS_PSS, ret);
			if (raw)
				return route(MECH_ROUTE_RAW, CKM_RSA_X_509, ret);
			break;
		case MECH_ECDSA:
			if (has(t, CKM_ECDSA, CKF_SIGN))
				return route(MECH_ROUTE_HASH, CKM_ECDSA, ret);
			break;
		default:
			break;
		}
	}
	if (has(t, type, CKF_SIGN))
		return route(MECH_ROUTE_PASS, type, ret);
	/* PKCS#1 v1.5 over a DigestInfo and PSS over a hash, which the module does not list: imza's block
	 * through its raw RSA. */
	if (md != NULL && md->family != MECH_ECDSA && raw)
		return route(MECH_ROUTE_RAW, CKM_RSA_X_509, ret);
	return -ENOENT;
}

/* The entry of type in out[0..*n), added (zeroed) when it is not there yet; NULL when out is full. */
static struct token_mech *entry(struct token_mech *out, size_t cap, size_t *n, CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].type == type)
			return &out[i];
	if (*n == cap)
		return NULL;
	out[*n] = (struct token_mech){.type = type};
	return &out[(*n)++];
}

/* A composed mechanism takes the key sizes and the hardware and EC flags of the module's mechanism it
 * goes through. */
static void compose(struct token_mech *out, size_t cap, size_t *n, const struct token *t,
                    CK_MECHANISM_TYPE type, CK_MECHANISM_TYPE base, CK_FLAGS flags)
{
	const struct token_mech *b = token_mech(t, base);
	struct token_mech *e = entry(out, cap, n, type);

	if (e == NULL || b == NULL)
		return;
	if (e->info.flags == 0) {
		e->info.ulMinKeySize = b->info.ulMinKeySize;
		e->info.ulMaxKeySize = b->info.ulMaxKeySize;
	}
	e->info.flags |= flags | (b->info.flags & (CKF_HW | TOKEN_MECH_EC_FLAGS));
}

size_t mech_module_list(const struct token *t, struct token_mech *out, size_t cap)
{
	static const CK_MECHANISM_TYPE digests[] = {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384,
	                                            CKM_SHA512};
	struct mech_route r;
	size_t n = 0;

	for (size_t i = 0; i < t->nmechs && i < TOKEN_MECH_MAX && n < cap; i++)
		out[n++] = t->mechs[i];
	for (size_t i = 0; i < mech_sign_count; i++) {
		CK_MECHANISM_TYPE type = mech_sign_table[i].type;

		if (has(t, type, CKF_SIGN) || mech_module_route(t, type, false, &r) < 0)
			continue;
		compose(out, cap, &n, t, type, r.card_type, CKF_SIGN);
	}
	for (size_t i = 0; i < 2; i++) {
		CK_MECHANISM_TYPE type = i == 0 ? CKM_RSA_PKCS : CKM_RSA_PKCS_OAEP;

		if (!has(t, type, CKF_DECRYPT) && mech_module_route(t, type, true, &r) == 0)
			compose(out, cap, &n, t, type, r.card_type, CKF_DECRYPT);
	}
	/* What imzad verifies in software (p11-soft.c), with the token's public keys. */
	for (size_t i = 0; i < n; i++) {
		if (mech_find_verify(out[i].type) != NULL && (out[i].info.flags & CKF_SIGN))
			out[i].info.flags |= CKF_VERIFY;
		if ((out[i].type == CKM_RSA_PKCS || out[i].type == CKM_RSA_X_509) &&
		    (out[i].info.flags & CKF_SIGN))
			out[i].info.flags |= CKF_VERIFY_RECOVER;
	}
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		struct token_mech *e = entry(out, cap, &n, digests[i]);

		if (e != NULL)
			e->info.flags |= CKF_DIGEST;
	}
	return n;
}
