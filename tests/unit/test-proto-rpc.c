/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-proto-rpc: the signature table and everything generated from it. A loopback
 * CK_FUNCTION_LIST_3_0 is built from the table exactly as the module will build its own (typed
 * client stubs -> rpc_server_dispatch -> typed fake backend), so these tests call PKCS#11
 * functions the way an application does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rpc.h"
#include "proto-fake.h"

/* ---- loopback module ---- */

static struct fake_ctx *g_ctx;
static const struct rpc_server_ops *g_ops = &fake_ops;
static int g_err; /* errno of the last loopback call */

#define RPC_CALL(name, id, ...)                                                                      \
	static CK_RV loop_##name(RPC_PARAMS(__VA_ARGS__))                                            \
	{                                                                                            \
		struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);                              \
		struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);                             \
		CK_RV rv = CKR_DEVICE_ERROR;                                                         \
		int e = rpc_##name##_request(&req, RPC_NAMES(__VA_ARGS__));                          \
		if (e == 0)                                                                          \
			e = rpc_server_dispatch(g_ops, g_ctx, req.data, req.len, &resp);             \
		if (e == 0)                                                                          \
			e = rpc_##name##_response(resp.data, resp.len, &rv, RPC_NAMES(__VA_ARGS__)); \
		g_err = e;                                                                           \
		proto_buf_free(&req);                                                                \
		proto_buf_free(&resp);                                                               \
		return e == 0 ? rv : CKR_DEVICE_ERROR;                                               \
	}
#include "rpc-calls.h"
#undef RPC_CALL

/* Assigning each stub to its member is the compile-time check that every row of the table has
 * the C shape of the PKCS#11 function it names. */
static CK_FUNCTION_LIST_3_0 loop = {
        .version = {3, 0},
#define RPC_CALL(name, id, ...) .name = loop_##name,
#include "rpc-calls.h"
#undef RPC_CALL
};

/* Calls loop's member for row d with generic arguments. */
static CK_RV call_loop(const struct rpc_call_desc *d, union rpc_arg *args)
{
	switch (d->id) {
#define RPC_CALL(name, id, ...) \
	case id:                \
		return loop.name(RPC_UNPACK(__VA_ARGS__));
#include "rpc-calls.h"
#undef RPC_CALL
	default:
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

static int setup(void **state)
{
	static struct fake_ctx ctx;

	ctx = (struct fake_ctx){.check_inputs = true};
	g_ctx = &ctx;
	g_ops = &fake_ops;
	g_err = 0;
	*state = &ctx;
	return 0;
}

/* Request and response bytes of row d with sample arguments and the generic backend. */
static void encode_call(const struct rpc_call_desc *d, struct fake_store *s, union rpc_arg *args,
                        struct proto_buf *req, struct proto_buf *resp)
{
	fake_caller_args(d, s, args);
	assert_int_equal(rpc_request_encode(d, args, req), 0);
	assert_int_equal(rpc_server_dispatch(&fake_ops, g_ctx, req->data, req->len, resp), 0);
}

/* ---- the table ---- */

static void test_table_rows_are_found_by_their_ids(void **state)
{
	(void)state;
	assert_true(rpc_calls_count >= 75);
	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];

		assert_ptr_equal(rpc_call_find(d->id), d);
		assert_true(d->nkinds >= 1 && d->nkinds <= RPC_KINDS_MAX);
		for (unsigned k = 0; k < d->nkinds; k++)
			assert_true(d->kinds[k] < RPC_KIND__COUNT);
	}
	assert_null(rpc_call_find(0));
	assert_null(rpc_call_find(RPC_CALL_IMZA_STATUS));
	assert_string_equal(rpc_call_find(RPC_CALL_C_Sign)->name, "C_Sign");
}

static void test_function_list_members_come_from_the_table(void **state)
{
	(void)state;
	assert_non_null(loop.C_GetInfo);
	assert_non_null(loop.C_GetAttributeValue);
	assert_non_null(loop.C_WaitForSlotEvent);
	assert_non_null(loop.C_LoginUser);
	assert_non_null(loop.C_MessageVerifyFinal);
	/* Answered by the module itself, not over the wire. */
	assert_null(loop.C_Initialize);
	assert_null(loop.C_GetInterface);
	assert_null(loop.C_EncryptMessage);
}

/* ---- every row ---- */

static void test_every_call_round_trips_through_generated_stubs(void **state)
{
	struct fake_ctx *ctx = *state;

	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];
		union rpc_arg args[RPC_KINDS_MAX];
		struct fake_store s;
		CK_RV rv;

		fake_caller_args(d, &s, args);
		ctx->calls = ctx->bad_inputs = 0;
		rv = call_loop(d, args);
		if (rv != CKR_OK || ctx->calls != 1 || ctx->bad_inputs || !fake_check_results(d, args))
			fail_msg("%s: rv 0x%lx err %d calls %d bad inputs %d", d->name, rv, g_err, ctx->calls,
			         ctx->bad_inputs);
	}
}

static void test_every_request_truncated_at_every_offset_is_rejected(void **state)
{
	(void)state;
	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];
		struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		union rpc_arg args[RPC_KINDS_MAX];
		struct fake_store s;

		encode_call(d, &s, args, &req, &resp);
		for (size_t len = 0; len < req.len; len++) {
			proto_buf_reset(&resp);
			if (rpc_server_dispatch(&fake_ops, g_ctx, req.data, len, &resp) >= 0 || resp.len != 0)
				fail_msg("%s: request cut at %zu of %zu accepted", d->name, len, req.len);
		}
		proto_buf_free(&req);
		proto_buf_free(&resp);
	}
}

static void test_every_response_truncated_at_every_offset_leaves_outputs_untouched(void **state)
{
	(void)state;
	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];
		struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		union rpc_arg args[RPC_KINDS_MAX];
		static struct fake_store s, before;
		CK_RV rv = 0x1234;

		encode_call(d, &s, args, &req, &resp);
		before = s;
		for (size_t len = 0; len < resp.len; len++) {
			if (rpc_response_decode(d, args, resp.data, len, &rv) >= 0)
				fail_msg("%s: response cut at %zu of %zu accepted", d->name, len, resp.len);
			if (memcmp(&s, &before, sizeof(s)) != 0 || rv != 0x1234)
				fail_msg("%s: response cut at %zu wrote outputs", d->name, len);
		}
		assert_int_equal(rpc_response_decode(d, args, resp.data, resp.len, &rv), 0);
		assert_true(fake_check_results(d, args));
		proto_buf_free(&req);
		proto_buf_free(&resp);
	}
}

static void test_every_call_with_trailing_bytes_is_rejected(void **state)
{
	(void)state;
	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];
		struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		union rpc_arg args[RPC_KINDS_MAX];
		struct fake_store s;
		CK_RV rv;

		encode_call(d, &s, args, &req, &resp);
		proto_put_u8(&resp, 0);
		assert_int_equal(rpc_response_decode(d, args, resp.data, resp.len, &rv), -EBADMSG);
		proto_put_u8(&req, 0);
		proto_buf_reset(&resp);
		assert_int_equal(rpc_server_dispatch(&fake_ops, g_ctx, req.data, req.len, &resp), -EBADMSG);
		proto_buf_free(&req);
		proto_buf_free(&resp);
	}
}

/* ---- dispatch ---- */

static void test_unknown_call_id_answers_function_not_supported(void **state)
{
	struct proto_buf req = PROTO_BUF_INIT(64), resp = PROTO_BUF_INIT(64);
	struct proto_reader r;
	uint32_t id;
	CK_ULONG rv;

	(void)state;
	proto_put_u32(&req, RPC_CALL_IMZA_LIST_CERTS);
	proto_put_u64(&req, 42); /* whatever follows is not ours to judge */
	assert_int_equal(rpc_server_dispatch(&fake_ops, g_ctx, req.data, req.len, &resp), 0);
	proto_reader_init(&r, resp.data, resp.len);
	proto_get_u32(&r, &id);
	proto_get_ulong(&r, &rv);
	assert_int_equal(proto_reader_end(&r), 0);
	assert_int_equal(id, RPC_CALL_IMZA_LIST_CERTS);
	assert_int_equal(rv, CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(g_ctx->calls, 0);
	proto_buf_free(&req);
	proto_buf_free(&resp);
}

static void test_bare_response_decodes_as_rv_with_outputs_untouched(void **state)
{
	(void)state;
	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];
		struct proto_buf resp = PROTO_BUF_INIT(64);
		union rpc_arg args[RPC_KINDS_MAX];
		static struct fake_store s, before;
		CK_RV rv;

		fake_caller_args(d, &s, args);
		before = s;
		assert_int_equal(rpc_response_bare(&resp, d->id, CKR_DEVICE_REMOVED), 0);
		if (rpc_response_decode(d, args, resp.data, resp.len, &rv) != 0 || rv != CKR_DEVICE_REMOVED ||
		    memcmp(&s, &before, sizeof(s)) != 0)
			fail_msg("%s: bare response", d->name);
		proto_buf_free(&resp);
	}
}

static void test_missing_op_answers_function_not_supported(void **state)
{
	struct rpc_server_ops ops = fake_ops;
	CK_BYTE sig[16];
	CK_ULONG sig_len = sizeof(sig);

	(void)state;
	ops.C_Sign = NULL;
	g_ops = &ops;
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "x", 1, sig, &sig_len), CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(sig_len, sizeof(sig));
	assert_int_equal(g_ctx->calls, 0);
}

static void test_request_shorter_than_call_id_is_malformed(void **state)
{
	struct proto_buf resp = PROTO_BUF_INIT(64);
	const uint8_t msg[3] = {0, 0, 0};

	(void)state;
	assert_int_equal(rpc_server_dispatch(&fake_ops, g_ctx, msg, sizeof(msg), &resp), -EBADMSG);
	assert_int_equal(resp.len, 0);
}

static void test_response_for_another_call_is_rejected(void **state)
{
	const struct rpc_call_desc *d = rpc_call_find(RPC_CALL_C_Logout);
	struct proto_buf resp = PROTO_BUF_INIT(64);
	union rpc_arg args[RPC_KINDS_MAX] = {{0}};
	CK_RV rv;

	(void)state;
	proto_put_u32(&resp, RPC_CALL_C_CloseSession);
	proto_put_ulong(&resp, CKR_OK);
	assert_int_equal(rpc_response_decode(d, args, resp.data, resp.len, &rv), -EBADMSG);
	proto_buf_free(&resp);
}

static void test_response_ok_without_promised_output_is_rejected(void **state)
{
	const struct rpc_call_desc *d = rpc_call_find(RPC_CALL_C_OpenSession);
	struct proto_buf resp = PROTO_BUF_INIT(64);
	union rpc_arg args[RPC_KINDS_MAX];
	struct fake_store s;
	CK_RV rv;

	(void)state;
	fake_caller_args(d, &s, args);
	proto_put_u32(&resp, RPC_CALL_C_OpenSession);
	proto_put_ulong(&resp, CKR_OK);
	proto_put_u8(&resp, 0); /* "no session handle", with CKR_OK */
	assert_int_equal(rpc_response_decode(d, args, resp.data, resp.len, &rv), -EBADMSG);
	proto_buf_free(&resp);
}

static CK_RV hook_length_past_buffer(struct fake_ctx *c, const struct rpc_call_desc *d, union rpc_arg *args)
{
	(void)c;
	if (d->id != RPC_CALL_C_Sign)
		return FAKE_PASS;
	*args[2].out.n = *args[2].out.n + 1; /* claims more than it was given */
	return CKR_OK;
}

static void test_backend_output_past_its_buffer_answers_general_error(void **state)
{
	struct fake_ctx *ctx = *state;
	CK_BYTE sig[16];
	CK_ULONG sig_len = sizeof(sig);

	ctx->hook = hook_length_past_buffer;
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "x", 1, sig, &sig_len), CKR_GENERAL_ERROR);
	assert_int_equal(sig_len, sizeof(sig));
}

static CK_ULONG big_seen;

static CK_RV hook_big_signature(struct fake_ctx *c, const struct rpc_call_desc *d, union rpc_arg *args)
{
	(void)c;
	if (d->id != RPC_CALL_C_Sign)
		return FAKE_PASS;
	big_seen = *args[2].out.n;
	/* The whole buffer it was given: a response that can't fit a frame with its header. */
	memset(args[2].out.p, 1, *args[2].out.n);
	return CKR_OK;
}

static void test_output_buffer_larger_than_frame_is_clamped_on_server(void **state)
{
	struct fake_ctx *ctx = *state;
	static CK_BYTE big[2 * PROTO_FRAME_MAX];
	CK_ULONG len = sizeof(big);

	ctx->hook = hook_big_signature;
	/* The server allocated PROTO_OUT_MAX, not 2 * PROTO_FRAME_MAX, and the result of that size
	 * plus the response header does not fit a frame. */
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "x", 1, big, &len), CKR_HOST_MEMORY);
	assert_int_equal(big_seen, PROTO_OUT_MAX);
	assert_int_equal(len, sizeof(big));
}

static CK_RV hook_needs_more_than_clamp(struct fake_ctx *c, const struct rpc_call_desc *d,
                                        union rpc_arg *args)
{
	(void)c;
	if (d->id != RPC_CALL_C_Sign)
		return FAKE_PASS;
	*args[2].out.n = PROTO_OUT_MAX + 100;
	return CKR_BUFFER_TOO_SMALL;
}

static void test_result_too_small_only_because_of_clamp_is_emsgsize(void **state)
{
	struct fake_ctx *ctx = *state;
	static CK_BYTE big[2 * PROTO_FRAME_MAX];
	CK_ULONG len = sizeof(big);

	ctx->hook = hook_needs_more_than_clamp;
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "x", 1, big, &len), CKR_DEVICE_ERROR);
	assert_int_equal(g_err, -EMSGSIZE);
	assert_int_equal(len, sizeof(big));
}

static void test_request_over_arena_bound_answers_host_memory(void **state)
{
	CK_BYTE buf[4];
	CK_ATTRIBUTE t[16];

	(void)state;
	/* 16 buffers of "4 GiB" each: every one clamped to PROTO_OUT_MAX, still past the arena. */
	for (int i = 0; i < 16; i++)
		t[i] = (CK_ATTRIBUTE){CKA_VALUE, buf, (CK_ULONG)UINT32_MAX};
	assert_int_equal(loop.C_GetAttributeValue(1, 2, t, 16), CKR_HOST_MEMORY);
	assert_int_equal(g_ctx->calls, 0);
	assert_int_equal(t[0].ulValueLen, (CK_ULONG)UINT32_MAX);
}

static void test_generate_random_over_frame_answers_host_memory(void **state)
{
	static CK_BYTE big[PROTO_FRAME_MAX + 1];

	(void)state;
	assert_int_equal(loop.C_GenerateRandom(1, big, sizeof(big)), CKR_HOST_MEMORY);
	assert_int_equal(g_ctx->calls, 0);
}

static void test_generate_random_fills_exactly_the_length(void **state)
{
	CK_BYTE buf[40];

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(loop.C_GenerateRandom(1, buf, 33), CKR_OK);
	assert_int_equal(buf[32], 0xab);
	assert_int_equal(buf[33], 0);
}

/* ---- PKCS#11 2.40 §5.2 ---- */

static CK_ULONG seen_len;
static bool seen_null_buffer;

static CK_RV hook_record_sign(struct fake_ctx *c, const struct rpc_call_desc *d, union rpc_arg *args)
{
	(void)c;
	if (d->id == RPC_CALL_C_Sign || d->id == RPC_CALL_C_SignMessageNext) {
		unsigned i = d->id == RPC_CALL_C_Sign ? 2 : 3;

		seen_null_buffer = args[i].out.p == NULL;
		seen_len = args[i].out.n ? *args[i].out.n : CK_UNAVAILABLE_INFORMATION;
	}
	return FAKE_PASS;
}

static void test_sign_length_query_returns_length_only(void **state)
{
	struct fake_ctx *ctx = *state;
	CK_ULONG len = 12345;

	ctx->hook = hook_record_sign;
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "data", 4, NULL, &len), CKR_OK);
	assert_true(seen_null_buffer);
	assert_int_equal(len, strlen(FAKE_RESULT));
}

static void test_sign_buffer_too_small_returns_required_length(void **state)
{
	struct fake_ctx *ctx = *state;
	CK_BYTE sig[3] = {7, 7, 7};
	CK_ULONG len = sizeof(sig);

	ctx->hook = hook_record_sign;
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "data", 4, sig, &len), CKR_BUFFER_TOO_SMALL);
	assert_false(seen_null_buffer);
	assert_int_equal(seen_len, 3);
	assert_int_equal(len, strlen(FAKE_RESULT));
	assert_int_equal(sig[0], 7);
}

static void test_sign_with_buffer_returns_signature(void **state)
{
	CK_BYTE sig[32];
	CK_ULONG len = sizeof(sig);

	(void)state;
	assert_int_equal(loop.C_Sign(1, (CK_BYTE_PTR) "data", 4, sig, &len), CKR_OK);
	assert_int_equal(len, strlen(FAKE_RESULT));
	assert_memory_equal(sig, FAKE_RESULT, len);
}

static void test_sign_message_next_without_length_pointer_wants_no_output(void **state)
{
	struct fake_ctx *ctx = *state;
	CK_BYTE sig[32];

	ctx->hook = hook_record_sign;
	assert_int_equal(loop.C_SignMessageNext(1, NULL, 0, (CK_BYTE_PTR) "part", 4, sig, NULL), CKR_OK);
	assert_int_equal(seen_len, CK_UNAVAILABLE_INFORMATION);
}

static void test_get_slot_list_length_query_then_values(void **state)
{
	CK_SLOT_ID slots[FAKE_N];
	CK_ULONG n = 0, small = 1;

	(void)state;
	assert_int_equal(loop.C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	assert_int_equal(n, FAKE_ULONGS_N);
	assert_int_equal(loop.C_GetSlotList(CK_TRUE, slots, &small), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(small, FAKE_ULONGS_N);
	n = FAKE_N;
	assert_int_equal(loop.C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	assert_int_equal(n, FAKE_ULONGS_N);
	assert_int_equal(slots[2], 13);
}

static void test_find_objects_returns_at_most_max(void **state)
{
	CK_OBJECT_HANDLE h[FAKE_N] = {0};
	CK_ULONG n = 99;

	(void)state;
	assert_int_equal(loop.C_FindObjects(1, h, 1, &n), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(h[0], 21);
	assert_int_equal(h[1], 0);
}

static void test_get_attribute_value_length_query_sensitive_and_values(void **state)
{
	CK_BYTE label[32];
	CK_ATTRIBUTE t[] = {
	        {CKA_MODULUS, NULL, 0},
	        {CKA_PRIVATE_EXPONENT, NULL, 0},
	        {CKA_LABEL, label, sizeof(label)},
	        {CKA_VENDOR_DEFINED | 9, label, sizeof(label)},
	};

	(void)state;
	/* §5.7: every attribute is processed; the rv names one of the problems. */
	assert_int_equal(loop.C_GetAttributeValue(1, 2, t, 4), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(t[0].ulValueLen, FAKE_MODULUS_LEN);
	assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(t[2].ulValueLen, strlen(FAKE_LABEL));
	assert_memory_equal(label, FAKE_LABEL, strlen(FAKE_LABEL));
	assert_int_equal(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void test_get_attribute_value_too_small_is_unavailable(void **state)
{
	CK_BYTE label[4] = {9, 9, 9, 9};
	CK_ULONG cls = 77;
	CK_ATTRIBUTE t[] = {
	        {CKA_CLASS, &cls, sizeof(cls)},
	        {CKA_LABEL, label, sizeof(label)},
	};

	(void)state;
	assert_int_equal(loop.C_GetAttributeValue(1, 2, t, 2), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(cls, CKO_CERTIFICATE);
	assert_int_equal(t[0].ulValueLen, sizeof(CK_ULONG));
	assert_int_equal(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(label[0], 9);
}

static void test_get_attribute_value_ulong_buffer_smaller_than_ulong_is_too_small(void **state)
{
	CK_BYTE small[sizeof(CK_ULONG) - 1];
	CK_ATTRIBUTE t = {CKA_KEY_TYPE, small, sizeof(small)};

	(void)state;
	assert_int_equal(loop.C_GetAttributeValue(1, 2, &t, 1), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(t.ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void test_get_attribute_value_nested_template_element_types_are_outputs(void **state)
{
	CK_ATTRIBUTE inner[3];
	CK_ULONG key_type = 0;
	CK_BBOOL enc = CK_FALSE;
	CK_BYTE spare[8];
	CK_ATTRIBUTE t = {CKA_WRAP_TEMPLATE, NULL, 0};

	(void)state;
	assert_int_equal(loop.C_GetAttributeValue(1, 2, &t, 1), CKR_OK);
	assert_int_equal(t.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));

	/* Room for three elements, types left unset: the server says which two there are. */
	inner[0] = (CK_ATTRIBUTE){CKA_WRAP_TEMPLATE, &key_type, sizeof(key_type)};
	inner[1] = (CK_ATTRIBUTE){0xffffUL, &enc, sizeof(enc)};
	inner[2] = (CK_ATTRIBUTE){0, spare, sizeof(spare)};
	t = (CK_ATTRIBUTE){CKA_WRAP_TEMPLATE, inner, sizeof(inner)};
	assert_int_equal(loop.C_GetAttributeValue(1, 2, &t, 1), CKR_OK);
	assert_int_equal(t.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
	assert_int_equal(inner[0].type, CKA_KEY_TYPE);
	assert_int_equal(inner[0].ulValueLen, sizeof(CK_ULONG));
	assert_int_equal(key_type, CKK_AES);
	assert_int_equal(inner[1].type, CKA_ENCRYPT);
	assert_int_equal(enc, CK_TRUE);
}

static void test_get_attribute_value_nested_element_too_small_is_unavailable(void **state)
{
	CK_ATTRIBUTE inner[2];
	CK_BYTE tiny[1];
	CK_BBOOL enc;
	CK_ATTRIBUTE t = {CKA_WRAP_TEMPLATE, inner, sizeof(inner)};

	(void)state;
	inner[0] = (CK_ATTRIBUTE){0, tiny, sizeof(tiny)};
	inner[1] = (CK_ATTRIBUTE){0, &enc, sizeof(enc)};
	assert_int_equal(loop.C_GetAttributeValue(1, 2, &t, 1), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(inner[0].type, CKA_KEY_TYPE);
	assert_int_equal(inner[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(inner[1].ulValueLen, 1);
}

/* ---- kinds with something special ---- */

static CK_RV hook_capture(struct fake_ctx *c, const struct rpc_call_desc *d, union rpc_arg *args)
{
	static union rpc_arg copy[RPC_KINDS_MAX];
	static CK_BYTE bytes[64];

	if (d->id == RPC_CALL_C_InitToken || d->id == RPC_CALL_C_Login) {
		unsigned i = 2; /* the PIN of C_Login, the label of C_InitToken */

		memcpy(copy, args, sizeof(copy));
		if (args[i].buf.p)
			memcpy(bytes, args[i].buf.p, args[i].buf.n < 64 ? args[i].buf.n : 64);
		copy[i].buf.p = args[i].buf.p ? bytes : NULL;
		c->user = copy;
		return CKR_OK;
	}
	if (d->id == RPC_CALL_C_OpenSession) {
		memcpy(copy, args, sizeof(copy));
		c->user = copy;
		*args[3].pul = 5;
		return CKR_OK;
	}
	return FAKE_PASS;
}

static void test_login_with_null_pin_crosses_as_null(void **state)
{
	struct fake_ctx *ctx = *state;
	union rpc_arg *seen;

	ctx->hook = hook_capture;
	assert_int_equal(loop.C_Login(1, CKU_USER, NULL, 0), CKR_OK);
	seen = ctx->user;
	assert_null(seen[2].buf.p);
	assert_int_equal(seen[2].buf.n, 0);
	assert_int_equal(loop.C_Login(1, CKU_USER, (CK_UTF8CHAR_PTR) "", 0), CKR_OK);
	seen = ctx->user;
	assert_non_null(seen[2].buf.p);
	assert_int_equal(seen[2].buf.n, 0);
}

static void test_init_token_label_crosses_as_32_bytes(void **state)
{
	struct fake_ctx *ctx = *state;
	CK_UTF8CHAR label[32];
	union rpc_arg *seen;

	memset(label, ' ', sizeof(label));
	memcpy(label, "imza", 4);
	ctx->hook = hook_capture;
	assert_int_equal(loop.C_InitToken(0, (CK_UTF8CHAR_PTR) "1234", 4, label), CKR_OK);
	seen = ctx->user;
	assert_int_equal(seen[2].buf.n, 32);
	assert_memory_equal(seen[2].buf.p, label, 32);
}

static void test_open_session_notify_callback_stays_local(void **state)
{
	struct fake_ctx *ctx = *state;
	CK_SESSION_HANDLE h = 0;
	union rpc_arg *seen;
	int app;

	ctx->hook = hook_capture;
	assert_int_equal(loop.C_OpenSession(0, CKF_SERIAL_SESSION, &app, NULL, &h), CKR_OK);
	seen = ctx->user;
	assert_null(seen[2].notify.app);
	assert_null(seen[2].notify.cb);
	assert_int_equal(h, 5);
}

static void test_mechanism_param_without_encoding_is_refused_before_sending(void **state)
{
	CK_BYTE ccm[48] = {0};
	CK_MECHANISM m = {CKM_AES_CCM, ccm, sizeof(ccm)};

	(void)state;
	assert_int_equal(loop.C_EncryptInit(1, &m, 2), CKR_DEVICE_ERROR);
	assert_int_equal(g_err, -EOPNOTSUPP);
	assert_int_equal(g_ctx->calls, 0);
}

static void test_null_mechanism_crosses_as_null(void **state)
{
	(void)state;
	/* PKCS#11 3.0: C_EncryptInit(NULL) ends the active operation. */
	assert_int_equal(loop.C_EncryptInit(1, NULL, 0), CKR_OK);
	assert_int_equal(g_ctx->calls, 1);
}

static void test_ulong_attribute_of_wrong_size_is_refused_before_sending(void **state)
{
	CK_BYTE three[3] = {0};
	CK_ATTRIBUTE t = {CKA_CLASS, three, sizeof(three)};
	CK_OBJECT_HANDLE h;

	(void)state;
	assert_int_equal(loop.C_CreateObject(1, &t, 1, &h), CKR_DEVICE_ERROR);
	assert_int_equal(g_err, -EINVAL);
	assert_int_equal(g_ctx->calls, 0);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(test_table_rows_are_found_by_their_ids),
	        T(test_function_list_members_come_from_the_table),
	        T(test_every_call_round_trips_through_generated_stubs),
	        T(test_every_request_truncated_at_every_offset_is_rejected),
	        T(test_every_response_truncated_at_every_offset_leaves_outputs_untouched),
	        T(test_every_call_with_trailing_bytes_is_rejected),
	        T(test_unknown_call_id_answers_function_not_supported),
	        T(test_bare_response_decodes_as_rv_with_outputs_untouched),
	        T(test_missing_op_answers_function_not_supported),
	        T(test_request_shorter_than_call_id_is_malformed),
	        T(test_response_for_another_call_is_rejected),
	        T(test_response_ok_without_promised_output_is_rejected),
	        T(test_backend_output_past_its_buffer_answers_general_error),
	        T(test_output_buffer_larger_than_frame_is_clamped_on_server),
	        T(test_result_too_small_only_because_of_clamp_is_emsgsize),
	        T(test_request_over_arena_bound_answers_host_memory),
	        T(test_generate_random_over_frame_answers_host_memory),
	        T(test_generate_random_fills_exactly_the_length),
	        T(test_sign_length_query_returns_length_only),
	        T(test_sign_buffer_too_small_returns_required_length),
	        T(test_sign_with_buffer_returns_signature),
	        T(test_sign_message_next_without_length_pointer_wants_no_output),
	        T(test_get_slot_list_length_query_then_values),
	        T(test_find_objects_returns_at_most_max),
	        T(test_get_attribute_value_length_query_sensitive_and_values),
	        T(test_get_attribute_value_too_small_is_unavailable),
	        T(test_get_attribute_value_ulong_buffer_smaller_than_ulong_is_too_small),
	        T(test_get_attribute_value_nested_template_element_types_are_outputs),
	        T(test_get_attribute_value_nested_element_too_small_is_unavailable),
	        T(test_login_with_null_pin_crosses_as_null),
	        T(test_init_token_label_crosses_as_32_bytes),
	        T(test_open_session_notify_callback_stays_local),
	        T(test_mechanism_param_without_encoding_is_refused_before_sending),
	        T(test_null_mechanism_crosses_as_null),
	        T(test_ulong_attribute_of_wrong_size_is_refused_before_sending),
	};

	return cmocka_run_group_tests_name("proto-rpc", tests, NULL, NULL);
}
