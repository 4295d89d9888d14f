/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-ck: PKCS#11 values on the wire, field by field, never as raw structs: CK_ULONG as u64
 * (so a 32-bit application can talk to a 64-bit daemon), info structures, CK_VERSION, attribute
 * templates (with values, and the GetAttributeValue request/result pair) and mechanisms with
 * their parameters. Decoders allocate only from the message's arena. */
#ifndef IMZA_PROTO_CK_H
#define IMZA_PROTO_CK_H

#include <stdbool.h>
#include <stdint.h>

#include "pkcs11-3.h"
#include "proto-arena.h"
#include "proto-buf.h"
#include "proto-frame.h"

/* A template is depth 1; a template inside one of its values (CKA_WRAP_TEMPLATE...) is depth 2;
 * anything deeper is refused (-EINVAL when encoding, -EBADMSG when decoding). */
#define PROTO_TEMPLATE_DEPTH_MAX 2
/* The server never allocates a single output buffer larger than this, whatever size the caller
 * announced: a larger result could not cross the wire anyway. */
#define PROTO_OUT_MAX PROTO_FRAME_MAX

/* CK_ULONG <-> u64. CK_UNAVAILABLE_INFORMATION (all ones) stays all ones at any width; another
 * value that does not fit the host's CK_ULONG is -ERANGE. */
int proto_put_ulong(struct proto_buf *b, CK_ULONG v);
int proto_get_ulong(struct proto_reader *r, CK_ULONG *ret_v);
int proto_ulong_from_wire(uint64_t v, CK_ULONG *ret_v);
uint64_t proto_ulong_to_wire(CK_ULONG v);

/* "MAJOR.MINOR[.anything]" (configure's PACKAGE_VERSION) as a CK_VERSION; -EINVAL unless both are
 * numbers of 0..255. */
int proto_version_parse(const char *s, CK_VERSION *ret_v);
int proto_put_version(struct proto_buf *b, const CK_VERSION *v);
int proto_get_version(struct proto_reader *r, CK_VERSION *ret_v);
int proto_put_info(struct proto_buf *b, const CK_INFO *v);
int proto_get_info(struct proto_reader *r, CK_INFO *ret_v);
int proto_put_slot_info(struct proto_buf *b, const CK_SLOT_INFO *v);
int proto_get_slot_info(struct proto_reader *r, CK_SLOT_INFO *ret_v);
int proto_put_token_info(struct proto_buf *b, const CK_TOKEN_INFO *v);
int proto_get_token_info(struct proto_reader *r, CK_TOKEN_INFO *ret_v);
int proto_put_session_info(struct proto_buf *b, const CK_SESSION_INFO *v);
int proto_get_session_info(struct proto_reader *r, CK_SESSION_INFO *ret_v);
int proto_put_mechanism_info(struct proto_buf *b, const CK_MECHANISM_INFO *v);
int proto_get_mechanism_info(struct proto_reader *r, CK_MECHANISM_INFO *ret_v);

/* How an attribute's value is represented, decided by its type alone. */
enum proto_attr_kind {
	PROTO_ATTR_BYTES,    /* opaque bytes (also every vendor-defined type: we can't know) */
	PROTO_ATTR_BBOOL,    /* one CK_BBOOL, exactly one byte */
	PROTO_ATTR_ULONG,    /* one or more CK_ULONGs (CKA_ALLOWED_MECHANISMS is an array) */
	PROTO_ATTR_TEMPLATE, /* CKF_ARRAY_ATTRIBUTE: an array of CK_ATTRIBUTE */
};
enum proto_attr_kind proto_attr_kind(CK_ATTRIBUTE_TYPE type);
/* True for the attributes whose value is CK_ULONG-sized on the host and u64 on the wire. */
bool proto_attr_is_ulong(CK_ATTRIBUTE_TYPE type);

/* Template with values (C_CreateObject, C_FindObjectsInit, key generation...). A NULL template
 * crosses as NULL with its count, so the receiver's backend judges it as the caller's would. */
int proto_put_template(struct proto_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n);
int proto_get_template(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE **ret_t, CK_ULONG *ret_n);

/* C_GetAttributeValue. The request carries each type and either "length only" (pValue NULL) or
 * the caller's buffer size; for an attribute-array type, one such entry per element of the
 * caller's array (whose types are outputs, PKCS#11 2.40 §5.7). The server allocates those buffers
 * (clamped to PROTO_OUT_MAX) and records them in a shadow, so the result is encoded from what
 * it allocated, not from pointers the backend may have touched. Sizes cross scaled to 64-bit
 * CK_ULONGs; the client re-checks every value against its real buffer and turns a value that
 * does not fit into CK_UNAVAILABLE_INFORMATION + CKR_BUFFER_TOO_SMALL, as §5.2 requires. */
struct proto_attr_shadow {
	void *p;                         /* buffer handed to the backend, NULL for a length query */
	CK_ULONG cap;                    /* its size */
	struct proto_attr_shadow *inner; /* attribute-array types: one per element of p */
	CK_ULONG inner_n;
};
int proto_put_attr_query(struct proto_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n);
int proto_get_attr_query(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE **ret_t, CK_ULONG *ret_n,
                         struct proto_attr_shadow **ret_shadow);
/* t and shadow as decoded by proto_get_attr_query (t non-NULL), after the backend ran. */
int proto_put_attr_result(struct proto_buf *b, const CK_ATTRIBUTE *t, const struct proto_attr_shadow *shadow,
                          CK_ULONG n);
/* Reads a result into the caller's template t (the one the query was encoded from). With
 * apply false it only validates and writes nothing, so a caller can validate the whole response
 * before touching its outputs. *ret_too_small says an entry did not fit. */
int proto_get_attr_result(struct proto_reader *r, CK_ATTRIBUTE *t, CK_ULONG n, bool apply,
                          bool *ret_too_small);

/* Mechanism parameters. Known structures are encoded field by field; every other mechanism's
 * parameter crosses as opaque bytes (no allowlist: whatever the backend lists can be used). A
 * few known mechanisms have parameters with pointers that are not encoded yet: those are
 * refused (-EOPNOTSUPP when encoding; the module answers CKR_MECHANISM_PARAM_INVALID) rather
 * than sent as bytes that the daemon's backend would read pointers from. */
enum proto_mech_param {
	PROTO_MECH_PARAM_BYTES = 1, /* also: no parameter */
	PROTO_MECH_PARAM_PSS = 2,   /* CK_RSA_PKCS_PSS_PARAMS */
	PROTO_MECH_PARAM_OAEP = 3,  /* CK_RSA_PKCS_OAEP_PARAMS */
	PROTO_MECH_PARAM_ECDH1 = 4, /* CK_ECDH1_DERIVE_PARAMS */
	PROTO_MECH_PARAM_GCM = 5,   /* CK_GCM_PARAMS (2.40 layout, with ulIvBits) */
	PROTO_MECH_PARAM_UNSUPPORTED = 0xff,
};
enum proto_mech_param proto_mech_param_kind(CK_MECHANISM_TYPE type);
/* m may be NULL (PKCS#11 3.0 lets C_*Init take NULL to end an operation). */
int proto_put_mechanism(struct proto_buf *b, const CK_MECHANISM *m);
int proto_get_mechanism(struct proto_reader *r, struct proto_arena *a, CK_MECHANISM **ret_m);

#endif
