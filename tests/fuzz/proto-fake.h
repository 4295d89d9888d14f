/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-fake: what the RPC tests and the protocol fuzzer share. Sample caller arguments for
 * any row of the signature table, and a fake backend (a struct rpc_server_ops generated from the
 * table) that checks it received exactly those arguments and fills every kind of result the
 * way PKCS#11 2.40 §5.2 says, from whatever buffers the server allocated. */
#ifndef IMZA_PROTO_FAKE_H
#define IMZA_PROTO_FAKE_H

#include <stdbool.h>

#include "rpc.h"

#define FAKE_BUF 64 /* caller's byte buffers */
#define FAKE_N 8    /* caller's ulong/handle arrays */
#define FAKE_GET_N 5
#define FAKE_RESULT "result"    /* what BYTES_OUT returns */
#define FAKE_LABEL "imza-label" /* byte attributes */
#define FAKE_MODULUS_LEN 256u
#define FAKE_ULONGS_N 3u  /* ULONGS_OUT results */
#define FAKE_HANDLES_N 2u /* HANDLES_OUT results */
#define FAKE_ULONG 0x77u  /* ULONG_OUT result */
/* Returned by a hook to let the generic backend handle the call. */
#define FAKE_PASS (CKR_VENDOR_DEFINED | 0xfa4eUL)

/* Caller-side memory for one call's arguments: everything the client stub may write lives here,
 * so a test can check that a failed decode wrote nothing. */
struct fake_store {
	CK_BYTE in[RPC_KINDS_MAX][FAKE_BUF];
	CK_BYTE out[RPC_KINDS_MAX][FAKE_BUF];
	CK_ULONG len[RPC_KINDS_MAX];
	CK_ULONG ul[RPC_KINDS_MAX][FAKE_N];
	CK_ATTRIBUTE get[RPC_KINDS_MAX][FAKE_GET_N];
	CK_ATTRIBUTE get_inner[RPC_KINDS_MAX][2];
	CK_ULONG get_values[RPC_KINDS_MAX][FAKE_GET_N][4]; /* CK_ULONG for alignment */
	CK_ULONG get_inner_values[RPC_KINDS_MAX][2][4];
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_INFO info;
	CK_SLOT_INFO slot_info;
	CK_TOKEN_INFO token_info;
	CK_SESSION_INFO session_info;
	CK_MECHANISM_INFO mech_info;
};

/* Fills args[0..d->nkinds) with sample arguments (deterministic per call and position),
 * pointing into s. */
void fake_caller_args(const struct rpc_call_desc *d, struct fake_store *s, union rpc_arg *args);

/* Server side: true if args (as decoded) are what fake_caller_args passed. */
bool fake_check_inputs(const struct rpc_call_desc *d, const union rpc_arg *args);
/* Server side: fills every result kind in args; returns the rv a backend would. */
CK_RV fake_fill_results(const struct rpc_call_desc *d, union rpc_arg *args);
/* Client side: true if the caller's results (args from fake_caller_args) hold what
 * fake_fill_results produced. */
bool fake_check_results(const struct rpc_call_desc *d, const union rpc_arg *args);

/* Deep comparison of two templates with values, by attribute kind. */
bool fake_template_equal(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b, CK_ULONG n);

struct fake_ctx {
	/* Called first for every call; return FAKE_PASS for the generic behaviour. */
	CK_RV (*hook)(struct fake_ctx *c, const struct rpc_call_desc *d, union rpc_arg *args);
	CK_RV force_rv;    /* if not CKR_OK: returned instead of the generic rv (results still filled) */
	bool check_inputs; /* generic calls verify their inputs against fake_caller_args */
	int calls;         /* calls that reached the backend */
	int bad_inputs;    /* generic calls whose inputs differed */
	void *user;
};

/* The fake backend; ctx is a struct fake_ctx. */
extern const struct rpc_server_ops fake_ops;

#endif
