/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A vendor module's token: the mechanisms imza lists for it and the way each one reaches the module
 * (docs/BACKENDS.md, "Mechanisms"). The module's own signing and decryption mechanisms (token.h's
 * mechs) are passed through; the hashing mechanisms imza knows are composed over the module's raw
 * ones, imza hashing; decryption falls back to the module's raw RSA and imza's unpadding. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "daemon/card/token.h"

enum mech_route_kind {
	MECH_ROUTE_PASS,       /* the application's mechanism and parameters, over its data */
	MECH_ROUTE_HASH,       /* imza hashes; the module's CKM_RSA_PKCS_PSS (the application's parameters)
	                        * or CKM_ECDSA over the hash */
	MECH_ROUTE_DIGESTINFO, /* imza hashes; the module's CKM_RSA_PKCS over the DigestInfo */
	MECH_ROUTE_RAW,        /* imza's own block through the module's CKM_RSA_X_509, as for a PIV card
	                        * (decryption: imza removes the padding) */
};

struct mech_route {
	enum mech_route_kind kind;
	CK_MECHANISM_TYPE card_type; /* what the module is given */
};

/* How a signature (decrypt false) or decryption with type reaches the module of token t: 0 with *ret,
 * or -ENOENT when the module cannot serve it (CKR_MECHANISM_INVALID). A hashing mechanism imza knows is
 * composed whenever the module has its raw base, so its data is never bounded; one the module lists and
 * imza cannot compose is passed through. */
int mech_module_route(const struct token *t, CK_MECHANISM_TYPE type, bool decrypt, struct mech_route *ret);

/* The mechanisms of a module's token for C_GetMechanismList and C_GetMechanismInfo: the module's own,
 * those imza composes over them, imza's software digests; with CKF_VERIFY (and CKF_VERIFY_RECOVER)
 * where imza verifies in software. At most cap; returns how many there are. */
#define MECH_MODULE_LIST_MAX (TOKEN_MECH_MAX + 32)
size_t mech_module_list(const struct token *t, struct token_mech *out, size_t cap);
