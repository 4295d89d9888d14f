/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rpc: PKCS#11 calls over the imza protocol, generated from the signature table rpc-calls.h.
 *
 * Request payload:  u32 call id, then each argument kind's request part, in table order.
 * Response payload: u32 call id, u64 CK_RV, then each result kind's response part. Every result
 * part starts with a state byte; 0 means "nothing for this output" (the rv was an error, or the
 * caller passed no pointer), so a response always has the same shape and is checked in full
 * before the caller's memory is touched.
 *
 * Kinds (C parameters they stand for -> request part / response part):
 *   ULONG          CK_ULONG (handles, ids, flags, types)      -> u64 / -
 *   BBOOL          CK_BBOOL                                    -> u8 / -
 *   BYTES          CK_BYTE_PTR, CK_ULONG                       -> maybe-NULL bytes / -
 *   PARAM          CK_VOID_PTR, CK_ULONG (3.0 message params)  -> maybe-NULL bytes / -
 *   LABEL32        CK_UTF8CHAR_PTR to 32 bytes (C_InitToken)   -> u8 present + 32 bytes / -
 *   BYTES_OUT      CK_BYTE_PTR, CK_ULONG_PTR, §5.2 semantics   -> none|length query|buffer size
 *                                                                 / length or bytes
 *   FIXED_OUT      CK_BYTE_PTR, CK_ULONG (C_GenerateRandom)    -> u8 present + u64 size / bytes
 *   ULONG_OUT      CK_ULONG_PTR (new handles, sizes)           -> u8 present / u64
 *   ULONGS_OUT     CK_ULONG_PTR, CK_ULONG_PTR, §5.2 (slot and  -> as BYTES_OUT, in elements
 *                  mechanism lists)                               / count or u64 array
 *   HANDLES_OUT    CK_OBJECT_HANDLE_PTR, CK_ULONG max,         -> u64 max + u8 pointer flags
 *                  CK_ULONG_PTR count (C_FindObjects)             / u64 array
 *   TEMPLATE       CK_ATTRIBUTE_PTR, CK_ULONG with values      -> proto_put_template / -
 *   TEMPLATE_GET   CK_ATTRIBUTE_PTR, CK_ULONG (GetAttribute-   -> proto_put_attr_query
 *                  Value)                                         / proto_put_attr_result
 *   MECHANISM      CK_MECHANISM_PTR (may be NULL)              -> proto_put_mechanism / -
 *   INFO_OUT, SLOT_INFO_OUT, TOKEN_INFO_OUT, SESSION_INFO_OUT, MECH_INFO_OUT
 *                  pointer to the info structure               -> u8 present / fields
 *   NOTIFY         CK_VOID_PTR, CK_NOTIFY (C_OpenSession)      -> nothing: callbacks can't cross
 *   RESERVED       CK_VOID_PTR pReserved                       -> nothing
 *
 * Output buffers the client announces are allocated by the server clamped to PROTO_OUT_MAX; a
 * result that only failed because of that clamp reaches the client as -EMSGSIZE, not as a
 * CKR_BUFFER_TOO_SMALL the application could never satisfy.
 *
 * Errors (negative errno) for the module to map at the PKCS#11 edge: -EINVAL an argument that
 * can't be encoded (e.g. a CK_ULONG attribute of the wrong size: CKR_ATTRIBUTE_VALUE_INVALID,
 * a mechanism struct of the wrong size: CKR_MECHANISM_PARAM_INVALID), -EOPNOTSUPP a mechanism
 * parameter without an encoding (CKR_MECHANISM_PARAM_INVALID), -ENOBUFS a request over the frame
 * cap (CKR_DATA_LEN_RANGE or CKR_HOST_MEMORY), -EBADMSG/-ERANGE a malformed response and
 * -EMSGSIZE a result too large for a frame (CKR_DEVICE_ERROR; drop the connection). */
#ifndef IMZA_RPC_H
#define IMZA_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11-3.h"
#include "proto-arena.h"
#include "proto-buf.h"
#include "proto-ck.h"

#define RPC_KINDS_MAX 8

enum rpc_kind {
	RPC_KIND_ULONG,
	RPC_KIND_BBOOL,
	RPC_KIND_BYTES,
	RPC_KIND_PARAM,
	RPC_KIND_LABEL32,
	RPC_KIND_BYTES_OUT,
	RPC_KIND_FIXED_OUT,
	RPC_KIND_ULONG_OUT,
	RPC_KIND_ULONGS_OUT,
	RPC_KIND_HANDLES_OUT,
	RPC_KIND_TEMPLATE,
	RPC_KIND_TEMPLATE_GET,
	RPC_KIND_MECHANISM,
	RPC_KIND_INFO_OUT,
	RPC_KIND_SLOT_INFO_OUT,
	RPC_KIND_TOKEN_INFO_OUT,
	RPC_KIND_SESSION_INFO_OUT,
	RPC_KIND_MECH_INFO_OUT,
	RPC_KIND_NOTIFY,
	RPC_KIND_RESERVED,
	RPC_KIND__COUNT,
};

/* One argument of a call, as the C function sees it. The client packs the caller's arguments
 * here; the server decodes into it (pointers into the message's arena) and unpacks it into the
 * typed call. Server-only fields: cap (what was allocated) and the template shadow. */
union rpc_arg {
	CK_ULONG ul;
	CK_BBOOL bbool;
	struct {
		CK_BYTE_PTR p;
		CK_ULONG n;
	} buf; /* BYTES, PARAM, LABEL32 (n = 32), FIXED_OUT */
	struct {
		CK_BYTE_PTR p;
		CK_ULONG_PTR n;
		CK_ULONG cap;
	} out; /* BYTES_OUT */
	struct {
		CK_ULONG_PTR p;
		CK_ULONG_PTR n;
		CK_ULONG cap;
	} ulongs; /* ULONGS_OUT */
	struct {
		CK_OBJECT_HANDLE_PTR p;
		CK_ULONG max;
		CK_ULONG_PTR n;
	} handles;
	CK_ULONG_PTR pul;
	struct {
		CK_ATTRIBUTE_PTR p;
		CK_ULONG n;
		struct proto_attr_shadow *shadow;
	} tmpl; /* TEMPLATE, TEMPLATE_GET */
	CK_MECHANISM_PTR mech;
	CK_INFO_PTR info;
	CK_SLOT_INFO_PTR slot_info;
	CK_TOKEN_INFO_PTR token_info;
	CK_SESSION_INFO_PTR session_info;
	CK_MECHANISM_INFO_PTR mech_info;
	struct {
		CK_VOID_PTR app;
		CK_NOTIFY cb;
	} notify;
	CK_VOID_PTR reserved;
};

struct rpc_call_desc {
	const char *name;
	uint32_t id;
	uint8_t nkinds;
	uint8_t kinds[RPC_KINDS_MAX]; /* enum rpc_kind */
};

/* ---- generator macros: a row's kinds -> C parameters, packing, unpacking ---- */

#define RPC__CAT(a, b) RPC__CAT2(a, b)
#define RPC__CAT2(a, b) a##b
#define RPC_NARGS(...) RPC__NARGS(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define RPC__NARGS(_1, _2, _3, _4, _5, _6, _7, _8, n, ...) n

/* m(kind, index) for each kind, comma-separated (L) or juxtaposed (S). */
#define RPC__LIST(m, ...) RPC__CAT(RPC__L, RPC_NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define RPC__L1(m, a) m(a, 0)
#define RPC__L2(m, a, b) RPC__L1(m, a), m(b, 1)
#define RPC__L3(m, a, b, c) RPC__L2(m, a, b), m(c, 2)
#define RPC__L4(m, a, b, c, d) RPC__L3(m, a, b, c), m(d, 3)
#define RPC__L5(m, a, b, c, d, e) RPC__L4(m, a, b, c, d), m(e, 4)
#define RPC__L6(m, a, b, c, d, e, f) RPC__L5(m, a, b, c, d, e), m(f, 5)
#define RPC__L7(m, a, b, c, d, e, f, g) RPC__L6(m, a, b, c, d, e, f), m(g, 6)
#define RPC__L8(m, a, b, c, d, e, f, g, h) RPC__L7(m, a, b, c, d, e, f, g), m(h, 7)
#define RPC__SEQ(m, ...) RPC__CAT(RPC__S, RPC_NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define RPC__S1(m, a) m(a, 0)
#define RPC__S2(m, a, b) RPC__S1(m, a) m(b, 1)
#define RPC__S3(m, a, b, c) RPC__S2(m, a, b) m(c, 2)
#define RPC__S4(m, a, b, c, d) RPC__S3(m, a, b, c) m(d, 3)
#define RPC__S5(m, a, b, c, d, e) RPC__S4(m, a, b, c, d) m(e, 4)
#define RPC__S6(m, a, b, c, d, e, f) RPC__S5(m, a, b, c, d, e) m(f, 5)
#define RPC__S7(m, a, b, c, d, e, f, g) RPC__S6(m, a, b, c, d, e, f) m(g, 6)
#define RPC__S8(m, a, b, c, d, e, f, g, h) RPC__S7(m, a, b, c, d, e, f, g) m(h, 7)

#define RPC__P(k, i) RPC_P_##k(i)
#define RPC__N(k, i) RPC_N_##k(i)
#define RPC__A(k, i) RPC_A_##k(i)
#define RPC__U(k, i) RPC_U_##k(i)
#define RPC__K(k, i) RPC_KIND_##k

/* The C parameter list of a row, named a0, a1p/a1n, ... */
#define RPC_PARAMS(...) RPC__LIST(RPC__P, __VA_ARGS__)
/* The same parameters' names, for forwarding them to another function of the same row. */
#define RPC_NAMES(...) RPC__LIST(RPC__N, __VA_ARGS__)
/* Statements storing those parameters into `union rpc_arg args[]` (which must be in scope). */
#define RPC_PACK(...) RPC__SEQ(RPC__A, __VA_ARGS__)
/* The argument list for calling a typed function from `args[]`. */
#define RPC_UNPACK(...) RPC__LIST(RPC__U, __VA_ARGS__)
/* Initialiser of rpc_call_desc.kinds. */
#define RPC_KINDS(...) RPC__LIST(RPC__K, __VA_ARGS__)

/* Per kind: P = parameter declarations, A = pack into args[i], U = unpack from args[i]; the
 * names (N) follow from P: a<i> for one parameter, a<i>p/a<i>n (and a<i>m) for several. */
#define RPC__N1(i) a##i
#define RPC__N2(i) a##i##p, a##i##n
#define RPC_N_ULONG(i) RPC__N1(i)
#define RPC_N_BBOOL(i) RPC__N1(i)
#define RPC_N_BYTES(i) RPC__N2(i)
#define RPC_N_PARAM(i) RPC__N2(i)
#define RPC_N_LABEL32(i) RPC__N1(i)
#define RPC_N_BYTES_OUT(i) RPC__N2(i)
#define RPC_N_FIXED_OUT(i) RPC__N2(i)
#define RPC_N_ULONG_OUT(i) RPC__N1(i)
#define RPC_N_ULONGS_OUT(i) RPC__N2(i)
#define RPC_N_HANDLES_OUT(i) a##i##p, a##i##m, a##i##n
#define RPC_N_TEMPLATE(i) RPC__N2(i)
#define RPC_N_TEMPLATE_GET(i) RPC__N2(i)
#define RPC_N_MECHANISM(i) RPC__N1(i)
#define RPC_N_INFO_OUT(i) RPC__N1(i)
#define RPC_N_SLOT_INFO_OUT(i) RPC__N1(i)
#define RPC_N_TOKEN_INFO_OUT(i) RPC__N1(i)
#define RPC_N_SESSION_INFO_OUT(i) RPC__N1(i)
#define RPC_N_MECH_INFO_OUT(i) RPC__N1(i)
#define RPC_N_NOTIFY(i) RPC__N2(i)
#define RPC_N_RESERVED(i) RPC__N1(i)
#define RPC_P_ULONG(i) CK_ULONG a##i
#define RPC_A_ULONG(i) args[i].ul = a##i;
#define RPC_U_ULONG(i) args[i].ul
#define RPC_P_BBOOL(i) CK_BBOOL a##i
#define RPC_A_BBOOL(i) args[i].bbool = a##i;
#define RPC_U_BBOOL(i) args[i].bbool
#define RPC_P_BYTES(i) CK_BYTE_PTR a##i##p, CK_ULONG a##i##n
#define RPC_A_BYTES(i) args[i].buf.p = a##i##p, args[i].buf.n = a##i##n;
#define RPC_U_BYTES(i) args[i].buf.p, args[i].buf.n
#define RPC_P_PARAM(i) CK_VOID_PTR a##i##p, CK_ULONG a##i##n
#define RPC_A_PARAM(i) RPC_A_BYTES(i)
#define RPC_U_PARAM(i) RPC_U_BYTES(i)
#define RPC_P_LABEL32(i) CK_UTF8CHAR_PTR a##i
#define RPC_A_LABEL32(i) args[i].buf.p = a##i, args[i].buf.n = 32;
#define RPC_U_LABEL32(i) args[i].buf.p
#define RPC_P_BYTES_OUT(i) CK_BYTE_PTR a##i##p, CK_ULONG_PTR a##i##n
#define RPC_A_BYTES_OUT(i) args[i].out.p = a##i##p, args[i].out.n = a##i##n;
#define RPC_U_BYTES_OUT(i) args[i].out.p, args[i].out.n
#define RPC_P_FIXED_OUT(i) CK_BYTE_PTR a##i##p, CK_ULONG a##i##n
#define RPC_A_FIXED_OUT(i) RPC_A_BYTES(i)
#define RPC_U_FIXED_OUT(i) RPC_U_BYTES(i)
#define RPC_P_ULONG_OUT(i) CK_ULONG_PTR a##i
#define RPC_A_ULONG_OUT(i) args[i].pul = a##i;
#define RPC_U_ULONG_OUT(i) args[i].pul
#define RPC_P_ULONGS_OUT(i) CK_ULONG_PTR a##i##p, CK_ULONG_PTR a##i##n
#define RPC_A_ULONGS_OUT(i) args[i].ulongs.p = a##i##p, args[i].ulongs.n = a##i##n;
#define RPC_U_ULONGS_OUT(i) args[i].ulongs.p, args[i].ulongs.n
#define RPC_P_HANDLES_OUT(i) CK_OBJECT_HANDLE_PTR a##i##p, CK_ULONG a##i##m, CK_ULONG_PTR a##i##n
#define RPC_A_HANDLES_OUT(i) \
	args[i].handles.p = a##i##p, args[i].handles.max = a##i##m, args[i].handles.n = a##i##n;
#define RPC_U_HANDLES_OUT(i) args[i].handles.p, args[i].handles.max, args[i].handles.n
#define RPC_P_TEMPLATE(i) CK_ATTRIBUTE_PTR a##i##p, CK_ULONG a##i##n
#define RPC_A_TEMPLATE(i) args[i].tmpl.p = a##i##p, args[i].tmpl.n = a##i##n;
#define RPC_U_TEMPLATE(i) args[i].tmpl.p, args[i].tmpl.n
#define RPC_P_TEMPLATE_GET(i) RPC_P_TEMPLATE(i)
#define RPC_A_TEMPLATE_GET(i) RPC_A_TEMPLATE(i)
#define RPC_U_TEMPLATE_GET(i) RPC_U_TEMPLATE(i)
#define RPC_P_MECHANISM(i) CK_MECHANISM_PTR a##i
#define RPC_A_MECHANISM(i) args[i].mech = a##i;
#define RPC_U_MECHANISM(i) args[i].mech
#define RPC_P_INFO_OUT(i) CK_INFO_PTR a##i
#define RPC_A_INFO_OUT(i) args[i].info = a##i;
#define RPC_U_INFO_OUT(i) args[i].info
#define RPC_P_SLOT_INFO_OUT(i) CK_SLOT_INFO_PTR a##i
#define RPC_A_SLOT_INFO_OUT(i) args[i].slot_info = a##i;
#define RPC_U_SLOT_INFO_OUT(i) args[i].slot_info
#define RPC_P_TOKEN_INFO_OUT(i) CK_TOKEN_INFO_PTR a##i
#define RPC_A_TOKEN_INFO_OUT(i) args[i].token_info = a##i;
#define RPC_U_TOKEN_INFO_OUT(i) args[i].token_info
#define RPC_P_SESSION_INFO_OUT(i) CK_SESSION_INFO_PTR a##i
#define RPC_A_SESSION_INFO_OUT(i) args[i].session_info = a##i;
#define RPC_U_SESSION_INFO_OUT(i) args[i].session_info
#define RPC_P_MECH_INFO_OUT(i) CK_MECHANISM_INFO_PTR a##i
#define RPC_A_MECH_INFO_OUT(i) args[i].mech_info = a##i;
#define RPC_U_MECH_INFO_OUT(i) args[i].mech_info
#define RPC_P_NOTIFY(i) CK_VOID_PTR a##i##p, CK_NOTIFY a##i##n
#define RPC_A_NOTIFY(i) args[i].notify.app = a##i##p, args[i].notify.cb = a##i##n;
#define RPC_U_NOTIFY(i) args[i].notify.app, args[i].notify.cb
#define RPC_P_RESERVED(i) CK_VOID_PTR a##i
#define RPC_A_RESERVED(i) args[i].reserved = a##i;
#define RPC_U_RESERVED(i) args[i].reserved

/* ---- call ids ---- */

enum rpc_call_id {
#define RPC_CALL(name, id, ...) RPC_CALL_##name = id,
#include "rpc-calls.h"
#undef RPC_CALL
	/* imza's own calls for the CLI; ids reserved, encodings to be defined with them. */
	RPC_CALL_IMZA_STATUS = 0x1000,
	RPC_CALL_IMZA_LIST_CERTS = 0x1001,
	RPC_CALL_IMZA_CACHE_LIST = 0x1002,
	RPC_CALL_IMZA_CACHE_FORGET = 0x1003, /* request: bytes driver, bytes id */
	RPC_CALL_IMZA_CACHE_CLEAR = 0x1004,
	RPC_CALL_IMZA_SIGN = 0x1005,  /* request: proto_sign_request; answered when signed */
	RPC_CALL_IMZA_AUDIT = 0x1006, /* request: u32 how many of the last entries */
	RPC_CALL_IMZA_GRANTS = 0x1007,
	RPC_CALL_IMZA_GRANT_SET = 0x1008,     /* request: bytes origin, u8 0 forget / 1 allow / 2 deny */
	RPC_CALL_IMZA_AUDIT_PAGE = 0x1009,    /* request: u64 after seq; the next entries in order */
	RPC_CALL_IMZA_RECORDS_CHECK = 0x100a, /* the records file's integrity and schema version */
	RPC_CALL_IMZA_PIN = 0x100b, /* request: u8 PROTO_PIN_OP_*, u64 slot or PROTO_PIN_ANY_SLOT; answered
	                             * when done: u32 PROTO_PIN_R_*, i32 tries left (-1 unknown) */
};

/* The table's rows in table order, and lookup by id (NULL for an id not in the table). */
extern const struct rpc_call_desc *const rpc_calls[];
extern const size_t rpc_calls_count;
const struct rpc_call_desc *rpc_call_find(uint32_t id);
/* Whether a request of this call carries a PIN (C_Login, C_LoginUser, C_InitPIN, C_SetPIN): the daemon
 * decodes those into locked memory, the module wipes their frame once sent. */
bool rpc_call_carries_pin(uint32_t id);
/* Whether this call is a private-key operation or a login (C_Login, C_LoginUser, C_SignInit and the
 * C_Sign family, C_SignRecover*, C_DecryptInit and the C_Decrypt family, C_DeriveKey): imzad reads an
 * application's next request ahead of the listing calls after one of these (server.c). */
bool rpc_call_uses_key(uint32_t id);
/* The arena a request of this call is decoded into: locked pages for a PIN call, heap otherwise. */
void rpc_request_arena_init(struct proto_arena *a, uint32_t id);

/* ---- generic marshalling (what the generated stubs call) ---- */

/* Client: the request payload (id + arguments) from the caller's arguments, appended to w. */
int rpc_request_encode(const struct rpc_call_desc *d, const union rpc_arg *args, struct proto_buf *w);
/* Client: validates the whole response payload, then writes the results into the caller's
 * arguments (the same args the request was encoded from) and *ret_rv. Nothing is written when
 * it fails. */
int rpc_response_decode(const struct rpc_call_desc *d, union rpc_arg *args, const uint8_t *msg, size_t len,
                        CK_RV *ret_rv);
/* Server: decodes the arguments that follow the call id (the reader must end with them) into
 * ret_args[0..d->nkinds), allocating from a; output buffers are allocated here too. */
int rpc_request_decode(const struct rpc_call_desc *d, struct proto_reader *r, struct proto_arena *a,
                       union rpc_arg *ret_args);
/* Server: the response payload for rv and the results in args, appended to w. */
int rpc_response_encode(const struct rpc_call_desc *d, const union rpc_arg *args, CK_RV rv,
                        struct proto_buf *w);

/* Server: a response with rv and no results (e.g. CKR_FUNCTION_NOT_SUPPORTED, CKR_HOST_MEMORY),
 * appended to w, for an id in the table or not. For servers that run calls asynchronously and
 * can't use rpc_server_dispatch; rv must be an error. */
int rpc_response_bare(struct proto_buf *w, uint32_t id, CK_RV rv);

/* ---- typed client stubs, one pair per row ----
 * rpc_C_Sign_request(w, hSession, pData, ulDataLen, pSignature, pulSignatureLen) encodes;
 * rpc_C_Sign_response(msg, len, &rv, <the same arguments>) decodes into them. */
#define RPC_CALL(name, id, ...)                                                 \
	int rpc_##name##_request(struct proto_buf *w, RPC_PARAMS(__VA_ARGS__)); \
	int rpc_##name##_response(const uint8_t *msg, size_t len, CK_RV *ret_rv, RPC_PARAMS(__VA_ARGS__));
#include "rpc-calls.h"
#undef RPC_CALL

/* ---- server ----
 * The daemon implements the calls as functions with the PKCS#11 parameters after a context
 * pointer (its per-connection application state). A NULL member answers
 * CKR_FUNCTION_NOT_SUPPORTED. */
struct rpc_server_ops {
#define RPC_CALL(name, id, ...) CK_RV (*name)(void *ctx, RPC_PARAMS(__VA_ARGS__));
#include "rpc-calls.h"
#undef RPC_CALL
};

/* Calls ops for decoded args. */
CK_RV rpc_server_invoke(const struct rpc_server_ops *ops, void *ctx, const struct rpc_call_desc *d,
                        union rpc_arg *args);

/* One request payload in, its response payload appended to resp. A well-formed request always
 * gets a response: an id not in the table or a NULL op answers CKR_FUNCTION_NOT_SUPPORTED, a
 * request over the arena bound CKR_HOST_MEMORY, results that can't be encoded or don't fit a
 * frame CKR_HOST_MEMORY (too large) or CKR_GENERAL_ERROR (inconsistent backend output).
 * A malformed request returns -EBADMSG (or -ERANGE) and appends nothing: close the connection.
 * imza's own ids (>= 0x1000) are for the caller to route before calling this. */
int rpc_server_dispatch(const struct rpc_server_ops *ops, void *ctx, const uint8_t *msg, size_t len,
                        struct proto_buf *resp);

#endif
