/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rpc: generic marshalling of the calls in rpc-calls.h, one switch per direction over the
 * argument kinds, plus the per-call code the macros generate from the table (descriptors, typed
 * client stubs, typed server invocation). See rpc.h for the wire shapes. */
#include "rpc.h"

#include <errno.h>
#include <string.h>

/* ---- the table ---- */

#define RPC_CALL(name, id, ...)                               \
	static const struct rpc_call_desc rpc_desc_##name = { \
	        #name, id, RPC_NARGS(__VA_ARGS__), {RPC_KINDS(__VA_ARGS__)}};
#include "rpc-calls.h"
#undef RPC_CALL

const struct rpc_call_desc *const rpc_calls[] = {
#define RPC_CALL(name, id, ...) &rpc_desc_##name,
#include "rpc-calls.h"
#undef RPC_CALL
};
const size_t rpc_calls_count = sizeof(rpc_calls) / sizeof(rpc_calls[0]);

/* A switch, so a duplicated id in the table is a compile error. */
bool rpc_call_carries_pin(uint32_t id)
{
	return id == RPC_CALL_C_Login || id == RPC_CALL_C_LoginUser || id == RPC_CALL_C_InitPIN ||
	       id == RPC_CALL_C_SetPIN;
}

/* The private-key operations and the logins that lead to them: what a person waits on. */
bool rpc_call_uses_key(uint32_t id)
{
	switch (id) {
	case RPC_CALL_C_Login:
	case RPC_CALL_C_LoginUser:
	case RPC_CALL_C_SignInit:
	case RPC_CALL_C_Sign:
	case RPC_CALL_C_SignUpdate:
	case RPC_CALL_C_SignFinal:
	case RPC_CALL_C_SignRecoverInit:
	case RPC_CALL_C_SignRecover:
	case RPC_CALL_C_DecryptInit:
	case RPC_CALL_C_Decrypt:
	case RPC_CALL_C_DecryptUpdate:
	case RPC_CALL_C_DecryptFinal:
	case RPC_CALL_C_DeriveKey:
		return true;
	default:
		return false;
	}
}

void rpc_request_arena_init(struct proto_arena *a, uint32_t id)
{
	if (rpc_call_carries_pin(id))
		proto_arena_init_locked(a, PROTO_ARENA_MAX);
	else
		proto_arena_init(a, PROTO_ARENA_MAX);
}

const struct rpc_call_desc *rpc_call_find(uint32_t id)
{
	switch (id) {
#define RPC_CALL(name, id, ...) \
	case id:                \
		return &rpc_desc_##name;
#include "rpc-calls.h"
#undef RPC_CALL
	default:
		return NULL;
	}
}

/* ---- rv classes ---- */

/* Results a backend fills in for these rvs (PKCS#11 2.40 §5.2 and §5.7). */
static bool rv_has_length(CK_RV rv)
{
	return rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL;
}

static bool rv_attrs_processed(CK_RV rv)
{
	return rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_SENSITIVE ||
	       rv == CKR_ATTRIBUTE_TYPE_INVALID;
}

/* Element counts of ulong arrays are clamped so the array fits a frame. */
#define ULONGS_MAX (PROTO_OUT_MAX / 8u)

/* ---- client: request ---- */

/* What the caller passed for an output with §5.2 semantics (p: its buffer, n: its length). */
static int put_out_request(struct proto_buf *w, const void *p, const CK_ULONG *n)
{
	if (!n)
		return proto_put_outbuf(w, PROTO_OUT_NONE, 0);
	if (!p)
		return proto_put_outbuf(w, PROTO_OUT_QUERY, 0);
	return proto_put_outbuf(w, PROTO_OUT_BUFFER, *n);
}

static int put_request_arg(struct proto_buf *w, enum rpc_kind kind, const union rpc_arg *arg)
{
	switch (kind) {
	case RPC_KIND_ULONG:
		return proto_put_ulong(w, arg->ul);
	case RPC_KIND_BBOOL:
		return proto_put_u8(w, arg->bbool);
	case RPC_KIND_BYTES:
	case RPC_KIND_PARAM:
		return proto_put_maybe_bytes(w, arg->buf.p, arg->buf.n);
	case RPC_KIND_LABEL32:
		proto_put_u8(w, arg->buf.p != NULL);
		return arg->buf.p ? proto_put_raw(w, arg->buf.p, 32) : w->error;
	case RPC_KIND_BYTES_OUT:
		return put_out_request(w, arg->out.p, arg->out.n);
	case RPC_KIND_ULONGS_OUT:
		return put_out_request(w, arg->ulongs.p, arg->ulongs.n);
	case RPC_KIND_FIXED_OUT:
		proto_put_u8(w, arg->buf.p != NULL);
		return proto_put_u64(w, arg->buf.n);
	case RPC_KIND_HANDLES_OUT:
		proto_put_u64(w, arg->handles.max);
		return proto_put_u8(w, (uint8_t)((arg->handles.p != NULL) | (arg->handles.n != NULL) << 1));
	case RPC_KIND_TEMPLATE:
		return proto_put_template(w, arg->tmpl.p, arg->tmpl.n);
	case RPC_KIND_TEMPLATE_GET:
		return proto_put_attr_query(w, arg->tmpl.p, arg->tmpl.n);
	case RPC_KIND_MECHANISM:
		return proto_put_mechanism(w, arg->mech);
	/* Pointers to one value: the server only needs to know whether there is one. */
	case RPC_KIND_ULONG_OUT:
		return proto_put_u8(w, arg->pul != NULL);
	case RPC_KIND_INFO_OUT:
		return proto_put_u8(w, arg->info != NULL);
	case RPC_KIND_SLOT_INFO_OUT:
		return proto_put_u8(w, arg->slot_info != NULL);
	case RPC_KIND_TOKEN_INFO_OUT:
		return proto_put_u8(w, arg->token_info != NULL);
	case RPC_KIND_SESSION_INFO_OUT:
		return proto_put_u8(w, arg->session_info != NULL);
	case RPC_KIND_MECH_INFO_OUT:
		return proto_put_u8(w, arg->mech_info != NULL);
	case RPC_KIND_NOTIFY:
	case RPC_KIND_RESERVED:
		return w->error;
	default:
		return proto_buf_fail(w, -EINVAL);
	}
}

int rpc_request_encode(const struct rpc_call_desc *d, const union rpc_arg *args, struct proto_buf *w)
{
	proto_put_u32(w, d->id);
	for (unsigned i = 0; i < d->nkinds && !w->error; i++)
		put_request_arg(w, d->kinds[i], &args[i]);
	return w->error;
}

/* ---- server: request ---- */

static void *arena_ulong(struct proto_arena *a)
{
	return proto_arena_alloc(a, sizeof(CK_ULONG));
}

/* Output-buffer request -> (pointer, length pointer, capacity) for the backend. `unit` is the
 * host size of one element. */
static int get_out_request(struct proto_reader *r, struct proto_arena *a, size_t unit, uint64_t max_units,
                           void **ret_p, CK_ULONG_PTR *ret_n, CK_ULONG *ret_cap)
{
	enum proto_outbuf st;
	CK_ULONG_PTR n = NULL;
	void *p = NULL;
	uint64_t size;

	if (proto_get_outbuf(r, true, &st, &size) < 0)
		return r->error;
	if (size > max_units)
		size = max_units;
	if (st != PROTO_OUT_NONE) {
		n = arena_ulong(a);
		if (!n)
			return proto_reader_fail(r, -ENOMEM);
	}
	if (st == PROTO_OUT_BUFFER) {
		p = proto_arena_calloc(a, (size_t)size, unit);
		if (!p)
			return proto_reader_fail(r, -ENOMEM);
		*n = (CK_ULONG)size;
	}
	*ret_p = p;
	*ret_n = n;
	*ret_cap = (CK_ULONG)size;
	return 0;
}

/* u8 present flag -> a zeroed object of `size` bytes or NULL. */
static int get_present(struct proto_reader *r, struct proto_arena *a, size_t size, void **ret_p)
{
	uint8_t present;
	void *p = NULL;

	if (proto_get_u8(r, &present) < 0)
		return r->error;
	if (present > 1)
		return proto_reader_fail(r, -EBADMSG);
	if (present) {
		p = proto_arena_alloc(a, size);
		if (!p)
			return proto_reader_fail(r, -ENOMEM);
	}
	*ret_p = p;
	return 0;
}

static int get_request_arg(struct proto_reader *r, struct proto_arena *a, enum rpc_kind kind,
                           union rpc_arg *arg)
{
	const uint8_t *src;
	uint64_t len;
	void *p = NULL;

	switch (kind) {
	case RPC_KIND_ULONG:
		return proto_get_ulong(r, &arg->ul);
	case RPC_KIND_BBOOL:
		return proto_get_u8(r, &arg->bbool);
	case RPC_KIND_BYTES:
	case RPC_KIND_PARAM:
		if (proto_get_maybe_bytes(r, &src, &len) < 0)
			return r->error;
		if (proto_ulong_from_wire(len, &arg->buf.n) < 0)
			return proto_reader_fail(r, -ERANGE);
		arg->buf.p = NULL;
		if (src) {
			arg->buf.p = proto_arena_memdup(a, src, (size_t)len);
			if (!arg->buf.p)
				return proto_reader_fail(r, -ENOMEM);
		}
		return 0;
	case RPC_KIND_LABEL32:
		if (get_present(r, a, 32, &p) < 0)
			return r->error;
		if (p && proto_get_raw(r, 32, &src) == 0)
			memcpy(p, src, 32);
		arg->buf.p = p;
		arg->buf.n = 32;
		return r->error;
	case RPC_KIND_BYTES_OUT:
		if (get_out_request(r, a, 1, PROTO_OUT_MAX, &p, &arg->out.n, &arg->out.cap) < 0)
			return r->error;
		arg->out.p = p;
		return 0;
	case RPC_KIND_ULONGS_OUT:
		if (get_out_request(r, a, sizeof(CK_ULONG), ULONGS_MAX, &p, &arg->ulongs.n,
		                    &arg->ulongs.cap) < 0)
			return r->error;
		arg->ulongs.p = p;
		return 0;
	case RPC_KIND_FIXED_OUT: {
		uint8_t present;

		proto_get_u8(r, &present);
		if (proto_get_u64(r, &len) < 0)
			return r->error;
		if (present > 1)
			return proto_reader_fail(r, -EBADMSG);
		if (proto_ulong_from_wire(len, &arg->buf.n) < 0)
			return proto_reader_fail(r, -ERANGE);
		arg->buf.p = NULL;
		if (present) {
			/* The whole length must cross in one response: more is asking too much. */
			if (len > PROTO_OUT_MAX)
				return proto_reader_fail(r, -ENOMEM);
			arg->buf.p = proto_arena_alloc(a, (size_t)len);
			if (!arg->buf.p)
				return proto_reader_fail(r, -ENOMEM);
		}
		return 0;
	}
	case RPC_KIND_HANDLES_OUT: {
		uint8_t flags;

		proto_get_u64(r, &len);
		if (proto_get_u8(r, &flags) < 0)
			return r->error;
		if (flags > 3)
			return proto_reader_fail(r, -EBADMSG);
		if (len > ULONGS_MAX)
			len = ULONGS_MAX;
		arg->handles.max = (CK_ULONG)len;
		arg->handles.p = NULL;
		arg->handles.n = NULL;
		if (flags & 1) {
			arg->handles.p = proto_arena_calloc(a, (size_t)len, sizeof(CK_OBJECT_HANDLE));
			if (!arg->handles.p)
				return proto_reader_fail(r, -ENOMEM);
		}
		if (flags & 2) {
			arg->handles.n = arena_ulong(a);
			if (!arg->handles.n)
				return proto_reader_fail(r, -ENOMEM);
		}
		return 0;
	}
	case RPC_KIND_TEMPLATE:
		return proto_get_template(r, a, &arg->tmpl.p, &arg->tmpl.n);
	case RPC_KIND_TEMPLATE_GET:
		return proto_get_attr_query(r, a, &arg->tmpl.p, &arg->tmpl.n, &arg->tmpl.shadow);
	case RPC_KIND_MECHANISM:
		return proto_get_mechanism(r, a, &arg->mech);
	case RPC_KIND_ULONG_OUT:
		if (get_present(r, a, sizeof(CK_ULONG), &p) < 0)
			return r->error;
		arg->pul = p;
		return 0;
	case RPC_KIND_INFO_OUT:
		if (get_present(r, a, sizeof(CK_INFO), &p) < 0)
			return r->error;
		arg->info = p;
		return 0;
	case RPC_KIND_SLOT_INFO_OUT:
		if (get_present(r, a, sizeof(CK_SLOT_INFO), &p) < 0)
			return r->error;
		arg->slot_info = p;
		return 0;
	case RPC_KIND_TOKEN_INFO_OUT:
		if (get_present(r, a, sizeof(CK_TOKEN_INFO), &p) < 0)
			return r->error;
		arg->token_info = p;
		return 0;
	case RPC_KIND_SESSION_INFO_OUT:
		if (get_present(r, a, sizeof(CK_SESSION_INFO), &p) < 0)
			return r->error;
		arg->session_info = p;
		return 0;
	case RPC_KIND_MECH_INFO_OUT:
		if (get_present(r, a, sizeof(CK_MECHANISM_INFO), &p) < 0)
			return r->error;
		arg->mech_info = p;
		return 0;
	case RPC_KIND_NOTIFY:
		/* Callbacks stay in the application: the backend gets none. */
		arg->notify.app = NULL;
		arg->notify.cb = NULL;
		return 0;
	case RPC_KIND_RESERVED:
		arg->reserved = NULL;
		return 0;
	default:
		return proto_reader_fail(r, -EBADMSG);
	}
}

int rpc_request_decode(const struct rpc_call_desc *d, struct proto_reader *r, struct proto_arena *a,
                       union rpc_arg *ret_args)
{
	union rpc_arg args[RPC_KINDS_MAX];

	memset(args, 0, sizeof(args));
	for (unsigned i = 0; i < d->nkinds; i++)
		if (get_request_arg(r, a, d->kinds[i], &args[i]) < 0)
			return r->error;
	if (proto_reader_end(r) < 0)
		return r->error;
	memcpy(ret_args, args, d->nkinds * sizeof(args[0]));
	return 0;
}

/* ---- server: response ---- */

/* State byte of a result part (see rpc.h). Single values are NONE or VALUE; outputs with
 * §5.2 semantics may also be LENGTH. */
enum { RES_NONE = 0, RES_LENGTH = 1, RES_VALUE = 2 };

static int put_ulongs(struct proto_buf *w, const CK_ULONG *v, CK_ULONG n)
{
	proto_put_u32(w, (uint32_t)n);
	for (CK_ULONG i = 0; i < n; i++)
		proto_put_ulong(w, v[i]);
	return w->error;
}

/* The result of an output with §5.2 semantics: the value when there is one, else the length the
 * backend reported (length query, or CKR_BUFFER_TOO_SMALL). unit: 1 for bytes, else CK_ULONGs. */
static int put_out_response(struct proto_buf *w, const void *p, const CK_ULONG *n, CK_ULONG cap, size_t unit,
                            CK_RV rv)
{
	if (!rv_has_length(rv) || !n)
		return proto_put_u8(w, RES_NONE);
	if (rv == CKR_OK && p) {
		if (*n > cap)
			return proto_buf_fail(w, -EINVAL);
		proto_put_u8(w, RES_VALUE);
		return unit == 1 ? proto_put_bytes(w, p, *n) : put_ulongs(w, p, *n);
	}
	proto_put_u8(w, RES_LENGTH);
	return proto_put_ulong(w, *n);
}

static int put_response_arg(struct proto_buf *w, enum rpc_kind kind, const union rpc_arg *arg, CK_RV rv)
{
	switch (kind) {
	case RPC_KIND_BYTES_OUT:
		return put_out_response(w, arg->out.p, arg->out.n, arg->out.cap, 1, rv);
	case RPC_KIND_ULONGS_OUT:
		return put_out_response(w, arg->ulongs.p, arg->ulongs.n, arg->ulongs.cap, sizeof(CK_ULONG),
		                        rv);
	case RPC_KIND_FIXED_OUT:
		if (rv != CKR_OK || !arg->buf.p)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_bytes(w, arg->buf.p, arg->buf.n);
	case RPC_KIND_HANDLES_OUT:
		if (rv != CKR_OK || !arg->handles.n)
			return proto_put_u8(w, RES_NONE);
		if (*arg->handles.n > arg->handles.max || (*arg->handles.n && !arg->handles.p))
			return proto_buf_fail(w, -EINVAL);
		proto_put_u8(w, RES_VALUE);
		return put_ulongs(w, arg->handles.p, *arg->handles.n);
	case RPC_KIND_TEMPLATE_GET:
		if (!rv_attrs_processed(rv) || !arg->tmpl.p)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_attr_result(w, arg->tmpl.p, arg->tmpl.shadow, arg->tmpl.n);
	case RPC_KIND_ULONG_OUT:
		if (rv != CKR_OK || !arg->pul)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_ulong(w, *arg->pul);
	case RPC_KIND_INFO_OUT:
		if (rv != CKR_OK || !arg->info)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_info(w, arg->info);
	case RPC_KIND_SLOT_INFO_OUT:
		if (rv != CKR_OK || !arg->slot_info)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_slot_info(w, arg->slot_info);
	case RPC_KIND_TOKEN_INFO_OUT:
		if (rv != CKR_OK || !arg->token_info)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_token_info(w, arg->token_info);
	case RPC_KIND_SESSION_INFO_OUT:
		if (rv != CKR_OK || !arg->session_info)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_session_info(w, arg->session_info);
	case RPC_KIND_MECH_INFO_OUT:
		if (rv != CKR_OK || !arg->mech_info)
			return proto_put_u8(w, RES_NONE);
		proto_put_u8(w, RES_VALUE);
		return proto_put_mechanism_info(w, arg->mech_info);
	default:
		return w->error; /* arguments only: nothing in the response */
	}
}

int rpc_response_encode(const struct rpc_call_desc *d, const union rpc_arg *args, CK_RV rv,
                        struct proto_buf *w)
{
	proto_put_u32(w, d->id);
	proto_put_ulong(w, rv);
	for (unsigned i = 0; i < d->nkinds && !w->error; i++)
		put_response_arg(w, d->kinds[i], &args[i], rv);
	return w->error;
}

/* ---- client: response ---- */

/* Reads a result part's state byte; `want` says the caller has somewhere to put a result and
 * the rv promises one, so RES_NONE would leave the application with unset outputs. */
static int get_state(struct proto_reader *r, bool length_ok, bool want, uint8_t *ret_st)
{
	uint8_t st = 0;

	if (proto_get_u8(r, &st) < 0)
		return r->error;
	if (st > RES_VALUE || (st == RES_LENGTH && !length_ok) || (want && st == RES_NONE))
		return proto_reader_fail(r, -EBADMSG);
	*ret_st = st;
	return 0;
}

/* Reads a length-or-value result for an output with §5.2 semantics: p/n are the caller's, unit
 * the host size of an element. Bytes are copied, u64 arrays converted. */
static int get_out_result(struct proto_reader *r, void *p, CK_ULONG_PTR n, size_t unit, CK_RV rv, bool apply)
{
	CK_ULONG len, x;
	const uint8_t *src;
	uint8_t st = 0;
	uint32_t k;
	size_t sz;

	if (get_state(r, true, n && rv_has_length(rv), &st) < 0)
		return r->error;
	if (st == RES_NONE)
		return 0;
	if (!n)
		return proto_reader_fail(r, -EBADMSG);
	if (st == RES_LENGTH) {
		/* With a buffer and CKR_OK the value itself must come. */
		if (p && rv == CKR_OK)
			return proto_reader_fail(r, -EBADMSG);
		if (proto_get_ulong(r, &len) < 0)
			return r->error;
		/* Too small for the server, yet the caller's buffer was big enough: only our clamp
		 * made it fail, and retrying can't help. */
		if (p && rv == CKR_BUFFER_TOO_SMALL && len <= *n)
			return proto_reader_fail(r, -EMSGSIZE);
		if (apply)
			*n = len;
		return 0;
	}
	if (!p)
		return proto_reader_fail(r, -EBADMSG);
	if (unit == 1) {
		if (proto_get_bytes(r, &src, &sz) < 0)
			return r->error;
		if (sz > *n)
			return proto_reader_fail(r, -EBADMSG);
		if (apply) {
			if (sz)
				memcpy(p, src, sz);
			*n = (CK_ULONG)sz;
		}
		return 0;
	}
	if (proto_get_count(r, 8, &k) < 0)
		return r->error;
	if (k > *n)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < k; i++) {
		if (proto_get_ulong(r, &x) < 0)
			return r->error;
		if (apply)
			((CK_ULONG *)p)[i] = x;
	}
	if (apply)
		*n = k;
	return 0;
}

static int get_response_arg(struct proto_reader *r, enum rpc_kind kind, union rpc_arg *arg, CK_RV *rv,
                            bool apply)
{
	const uint8_t *src;
	uint8_t st = 0;
	size_t sz;
	uint32_t k;
	bool too_small;

	switch (kind) {
	case RPC_KIND_BYTES_OUT:
		return get_out_result(r, arg->out.p, arg->out.n, 1, *rv, apply);
	case RPC_KIND_ULONGS_OUT:
		return get_out_result(r, arg->ulongs.p, arg->ulongs.n, sizeof(CK_ULONG), *rv, apply);
	case RPC_KIND_FIXED_OUT:
		if (get_state(r, false, arg->buf.p && *rv == CKR_OK, &st) < 0 || st == RES_NONE)
			return r->error;
		if (!arg->buf.p || proto_get_bytes(r, &src, &sz) < 0 || sz != arg->buf.n)
			return proto_reader_fail(r, -EBADMSG);
		if (apply && sz)
			memcpy(arg->buf.p, src, sz);
		return 0;
	case RPC_KIND_HANDLES_OUT:
		if (get_state(r, false, arg->handles.n && *rv == CKR_OK, &st) < 0 || st == RES_NONE)
			return r->error;
		if (!arg->handles.n || proto_get_count(r, 8, &k) < 0 || k > arg->handles.max ||
		    (k && !arg->handles.p))
			return proto_reader_fail(r, -EBADMSG);
		for (uint32_t i = 0; i < k; i++) {
			CK_ULONG h;

			if (proto_get_ulong(r, &h) < 0)
				return r->error;
			if (apply)
				arg->handles.p[i] = h;
		}
		if (apply)
			*arg->handles.n = k;
		return 0;
	case RPC_KIND_TEMPLATE_GET:
		if (get_state(r, false, arg->tmpl.p && rv_attrs_processed(*rv), &st) < 0 || st == RES_NONE)
			return r->error;
		if (!arg->tmpl.p)
			return proto_reader_fail(r, -EBADMSG);
		if (proto_get_attr_result(r, arg->tmpl.p, arg->tmpl.n, apply, &too_small) < 0)
			return r->error;
		if (too_small && *rv == CKR_OK)
			*rv = CKR_BUFFER_TOO_SMALL;
		return 0;
	case RPC_KIND_ULONG_OUT: {
		CK_ULONG v;

		if (get_state(r, false, arg->pul && *rv == CKR_OK, &st) < 0 || st == RES_NONE)
			return r->error;
		if (!arg->pul)
			return proto_reader_fail(r, -EBADMSG);
		if (proto_get_ulong(r, &v) == 0 && apply)
			*arg->pul = v;
		return r->error;
	}
/* Info structures: decoded into a local, copied out in the applying pass. */
#define GET_INFO(member, type, getter)                                                            \
	{                                                                                         \
		type v;                                                                           \
		if (get_state(r, false, arg->member && *rv == CKR_OK, &st) < 0 || st == RES_NONE) \
			return r->error;                                                          \
		if (!arg->member)                                                                 \
			return proto_reader_fail(r, -EBADMSG);                                    \
		if (getter(r, &v) == 0 && apply)                                                  \
			*arg->member = v;                                                         \
		return r->error;                                                                  \
	}
	case RPC_KIND_INFO_OUT:
		GET_INFO(info, CK_INFO, proto_get_info)
	case RPC_KIND_SLOT_INFO_OUT:
		GET_INFO(slot_info, CK_SLOT_INFO, proto_get_slot_info)
	case RPC_KIND_TOKEN_INFO_OUT:
		GET_INFO(token_info, CK_TOKEN_INFO, proto_get_token_info)
	case RPC_KIND_SESSION_INFO_OUT:
		GET_INFO(session_info, CK_SESSION_INFO, proto_get_session_info)
	case RPC_KIND_MECH_INFO_OUT:
		GET_INFO(mech_info, CK_MECHANISM_INFO, proto_get_mechanism_info)
#undef GET_INFO
	default:
		return r->error;
	}
}

/* Runs twice over the same bytes: first only validating, then writing the caller's outputs, so
 * a response that turns out malformed half-way leaves them untouched. */
int rpc_response_decode(const struct rpc_call_desc *d, union rpc_arg *args, const uint8_t *msg, size_t len,
                        CK_RV *ret_rv)
{
	struct proto_reader r;
	uint32_t id;
	CK_RV rv = CKR_OK;

	for (int apply = 0; apply < 2; apply++) {
		proto_reader_init(&r, msg, len);
		proto_get_u32(&r, &id);
		if (proto_get_ulong(&r, &rv) < 0)
			return r.error;
		if (id != d->id)
			return -EBADMSG;
		for (unsigned i = 0; i < d->nkinds; i++)
			if (get_response_arg(&r, d->kinds[i], &args[i], &rv, apply) < 0)
				return r.error;
		if (proto_reader_end(&r) < 0)
			return r.error;
	}
	*ret_rv = rv;
	return 0;
}

/* ---- generated typed stubs ---- */

#define RPC_CALL(name, id, ...)                                                                           \
	int rpc_##name##_request(struct proto_buf *w, RPC_PARAMS(__VA_ARGS__))                            \
	{                                                                                                 \
		union rpc_arg args[RPC_KINDS_MAX];                                                        \
		memset(args, 0, sizeof(args));                                                            \
		RPC_PACK(__VA_ARGS__)                                                                     \
		return rpc_request_encode(&rpc_desc_##name, args, w);                                     \
	}                                                                                                 \
	int rpc_##name##_response(const uint8_t *msg, size_t len, CK_RV *ret_rv, RPC_PARAMS(__VA_ARGS__)) \
	{                                                                                                 \
		union rpc_arg args[RPC_KINDS_MAX];                                                        \
		memset(args, 0, sizeof(args));                                                            \
		RPC_PACK(__VA_ARGS__)                                                                     \
		return rpc_response_decode(&rpc_desc_##name, args, msg, len, ret_rv);                     \
	}
#include "rpc-calls.h"
#undef RPC_CALL

CK_RV rpc_server_invoke(const struct rpc_server_ops *ops, void *ctx, const struct rpc_call_desc *d,
                        union rpc_arg *args)
{
	switch (d->id) {
#define RPC_CALL(name, id, ...) \
	case id:                \
		return ops->name ? ops->name(ctx, RPC_UNPACK(__VA_ARGS__)) : CKR_FUNCTION_NOT_SUPPORTED;
#include "rpc-calls.h"
#undef RPC_CALL
	default:
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

/* ---- server: one request ---- */

int rpc_response_bare(struct proto_buf *w, uint32_t id, CK_RV rv)
{
	const struct rpc_call_desc *d = rpc_call_find(id);
	union rpc_arg none[RPC_KINDS_MAX];

	if (!d) {
		proto_put_u32(w, id);
		return proto_put_ulong(w, rv);
	}
	/* An error rv makes every result part "none" without looking at the arguments. */
	memset(none, 0, sizeof(none));
	return rpc_response_encode(d, none, rv, w);
}

int rpc_server_dispatch(const struct rpc_server_ops *ops, void *ctx, const uint8_t *msg, size_t len,
                        struct proto_buf *resp)
{
	struct proto_arena arena = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	union rpc_arg args[RPC_KINDS_MAX];
	const struct rpc_call_desc *d;
	size_t start = resp->len;
	struct proto_reader r;
	uint32_t id;
	CK_RV rv;
	int e;

	proto_reader_init(&r, msg, len);
	if (proto_get_u32(&r, &id) < 0)
		return r.error;
	d = rpc_call_find(id);
	if (!d)
		return rpc_response_bare(resp, id, CKR_FUNCTION_NOT_SUPPORTED);
	/* A PIN is decoded into locked, no-dump pages, never into ordinary heap. */
	rpc_request_arena_init(&arena, id);

	e = rpc_request_decode(d, &r, &arena, args);
	if (e == -ENOMEM) {
		e = rpc_response_bare(resp, id, CKR_HOST_MEMORY);
	} else if (e == 0) {
		rv = rpc_server_invoke(ops, ctx, d, args);
		e = rpc_response_encode(d, args, rv, resp);
		if (e == 0 && resp->len - start > PROTO_FRAME_MAX)
			e = -ENOBUFS;
		if (e < 0) {
			/* The call ran but its results can't be sent; say so instead. */
			proto_buf_truncate(resp, start);
			e = rpc_response_bare(resp, id, e == -EINVAL ? CKR_GENERAL_ERROR : CKR_HOST_MEMORY);
		}
	}
	proto_arena_free(&arena);
	return e;
}
