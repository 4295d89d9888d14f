/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-attr: attribute templates on the wire (see proto-ck.h). The type of an attribute decides
 * how its value crosses: CK_ULONG values are converted to and from u64 so sizeof(CK_ULONG) may
 * differ between the two ends, CK_BBOOL is one byte, attribute arrays recurse to a fixed depth,
 * everything else is bytes. */
#include "proto-ck.h"

#include <errno.h>
#include <string.h>

/* Wire sizes of the smallest entries, for checking counts against the bytes left. */
#define ENTRY_MIN 9u /* u64 type + u8 state */
#define ULONG_WIRE 8u

/* PKCS#11 2.40 attributes (and CKA_PROFILE_ID from 3.0) whose values are CK_ULONG or arrays of
 * CK_ULONG. Vendor-defined attributes are not here: their layout is unknown, they cross as bytes
 * and are only right when both ends share sizeof(CK_ULONG). */
bool proto_attr_is_ulong(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_CLASS:
	case CKA_CERTIFICATE_TYPE:
	case CKA_CERTIFICATE_CATEGORY:
	case CKA_JAVA_MIDP_SECURITY_DOMAIN:
	case CKA_NAME_HASH_ALGORITHM:
	case CKA_KEY_TYPE:
	case CKA_MODULUS_BITS:
	case CKA_PRIME_BITS:
	case CKA_SUB_PRIME_BITS:
	case CKA_VALUE_BITS:
	case CKA_VALUE_LEN:
	case CKA_KEY_GEN_MECHANISM:
	case CKA_AUTH_PIN_FLAGS:
	case CKA_OTP_FORMAT:
	case CKA_OTP_LENGTH:
	case CKA_OTP_TIME_INTERVAL:
	case CKA_OTP_CHALLENGE_REQUIREMENT:
	case CKA_OTP_TIME_REQUIREMENT:
	case CKA_OTP_COUNTER_REQUIREMENT:
	case CKA_OTP_PIN_REQUIREMENT:
	case CKA_HW_FEATURE_TYPE:
	case CKA_PIXEL_X:
	case CKA_PIXEL_Y:
	case CKA_RESOLUTION:
	case CKA_CHAR_ROWS:
	case CKA_CHAR_COLUMNS:
	case CKA_BITS_PER_PIXEL:
	case CKA_MECHANISM_TYPE:
	case CKA_ALLOWED_MECHANISMS:
	case CKA_PROFILE_ID:
		return true;
	default:
		return false;
	}
}

static bool attr_is_bbool(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_TOKEN:
	case CKA_PRIVATE:
	case CKA_TRUSTED:
	case CKA_SENSITIVE:
	case CKA_ENCRYPT:
	case CKA_DECRYPT:
	case CKA_WRAP:
	case CKA_UNWRAP:
	case CKA_SIGN:
	case CKA_SIGN_RECOVER:
	case CKA_VERIFY:
	case CKA_VERIFY_RECOVER:
	case CKA_DERIVE:
	case CKA_EXTRACTABLE:
	case CKA_LOCAL:
	case CKA_NEVER_EXTRACTABLE:
	case CKA_ALWAYS_SENSITIVE:
	case CKA_MODIFIABLE:
	case CKA_COPYABLE:
	case CKA_DESTROYABLE:
	case CKA_SECONDARY_AUTH:
	case CKA_ALWAYS_AUTHENTICATE:
	case CKA_WRAP_WITH_TRUSTED:
	case CKA_OTP_USER_FRIENDLY_MODE:
	case CKA_RESET_ON_INIT:
	case CKA_HAS_RESET:
	case CKA_COLOR:
		return true;
	default:
		return false;
	}
}

enum proto_attr_kind proto_attr_kind(CK_ATTRIBUTE_TYPE type)
{
	if (proto_attr_is_ulong(type))
		return PROTO_ATTR_ULONG; /* before the array bit: CKA_ALLOWED_MECHANISMS has it */
	if (attr_is_bbool(type))
		return PROTO_ATTR_BBOOL;
	if (type & CKF_ARRAY_ATTRIBUTE)
		return PROTO_ATTR_TEMPLATE;
	return PROTO_ATTR_BYTES;
}

/* ---- templates with values ---- */

static int put_value_entry(struct proto_buf *b, const CK_ATTRIBUTE *at, int depth)
{
	CK_ULONG n, len = at->ulValueLen;
	const uint8_t *v = at->pValue;

	proto_put_ulong(b, at->type);
	if (!v) {
		proto_put_u8(b, 0);
		return proto_put_ulong(b, len);
	}
	proto_put_u8(b, 1);
	switch (proto_attr_kind(at->type)) {
	case PROTO_ATTR_BBOOL:
		if (len != 1)
			return proto_buf_fail(b, -EINVAL);
		return proto_put_u8(b, v[0]);
	case PROTO_ATTR_ULONG:
		n = len / sizeof(CK_ULONG);
		if (len % sizeof(CK_ULONG) || n > UINT32_MAX)
			return proto_buf_fail(b, -EINVAL);
		proto_put_u32(b, (uint32_t)n);
		for (CK_ULONG i = 0; i < n; i++) {
			CK_ULONG x;

			memcpy(&x, v + i * sizeof(x), sizeof(x)); /* the caller's buffer may be unaligned */
			proto_put_ulong(b, x);
		}
		return b->error;
	case PROTO_ATTR_TEMPLATE:
		n = len / sizeof(CK_ATTRIBUTE);
		if (depth >= PROTO_TEMPLATE_DEPTH_MAX || len % sizeof(CK_ATTRIBUTE) || n > UINT32_MAX)
			return proto_buf_fail(b, -EINVAL);
		proto_put_u32(b, (uint32_t)n);
		for (CK_ULONG i = 0; i < n && !b->error; i++)
			put_value_entry(b, (const CK_ATTRIBUTE *)at->pValue + i, depth + 1);
		return b->error;
	case PROTO_ATTR_BYTES:
	default:
		return proto_put_bytes(b, v, len);
	}
}

/* The head of a template on the wire (see get_template_head): 1 when t is NULL and nothing follows,
 * 0 when n entries are to follow, negative on error. */
static int put_template_head(struct proto_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	if (!t) {
		proto_put_u8(b, 0);
		return proto_put_ulong(b, n) < 0 ? b->error : 1;
	}
	if (n > UINT32_MAX)
		return proto_buf_fail(b, -EINVAL);
	proto_put_u8(b, 1);
	return proto_put_u32(b, (uint32_t)n);
}

int proto_put_template(struct proto_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	int e = put_template_head(b, t, n);

	if (e != 0)
		return e < 0 ? e : 0;
	for (CK_ULONG i = 0; i < n && !b->error; i++)
		put_value_entry(b, &t[i], 1);
	return b->error;
}

static int get_ulong_array(struct proto_reader *r, struct proto_arena *a, void **ret_p, CK_ULONG *ret_len)
{
	CK_ULONG *v;
	uint32_t n;

	if (proto_get_count(r, ULONG_WIRE, &n) < 0)
		return r->error;
	v = proto_arena_calloc(a, n, sizeof(CK_ULONG));
	if (!v)
		return proto_reader_fail(r, -ENOMEM);
	for (uint32_t i = 0; i < n; i++)
		if (proto_get_ulong(r, &v[i]) < 0)
			return r->error;
	*ret_p = v;
	*ret_len = n * sizeof(CK_ULONG);
	return 0;
}

static int get_value_entry(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE *out, int depth)
{
	CK_ATTRIBUTE at = {0};
	const uint8_t *p = NULL;
	uint8_t st, v;
	size_t len;
	uint32_t n;

	proto_get_ulong(r, &at.type);
	if (proto_get_u8(r, &st) < 0)
		return r->error;
	if (st == 0) {
		if (proto_get_ulong(r, &at.ulValueLen) < 0)
			return r->error;
		*out = at;
		return 0;
	}
	if (st != 1)
		return proto_reader_fail(r, -EBADMSG);

	switch (proto_attr_kind(at.type)) {
	case PROTO_ATTR_BBOOL:
		if (proto_get_u8(r, &v) < 0)
			return r->error;
		at.pValue = proto_arena_memdup(a, &v, 1);
		at.ulValueLen = 1;
		break;
	case PROTO_ATTR_ULONG:
		if (get_ulong_array(r, a, &at.pValue, &at.ulValueLen) < 0)
			return r->error;
		break;
	case PROTO_ATTR_TEMPLATE: {
		CK_ATTRIBUTE *inner;

		if (depth >= PROTO_TEMPLATE_DEPTH_MAX)
			return proto_reader_fail(r, -EBADMSG);
		if (proto_get_count(r, ENTRY_MIN, &n) < 0)
			return r->error;
		inner = proto_arena_calloc(a, n, sizeof(CK_ATTRIBUTE));
		if (!inner)
			return proto_reader_fail(r, -ENOMEM);
		for (uint32_t i = 0; i < n; i++)
			if (get_value_entry(r, a, &inner[i], depth + 1) < 0)
				return r->error;
		at.pValue = inner;
		at.ulValueLen = n * sizeof(CK_ATTRIBUTE);
		break;
	}
	case PROTO_ATTR_BYTES:
	default:
		if (proto_get_bytes(r, &p, &len) < 0)
			return r->error;
		at.pValue = proto_arena_memdup(a, p, len);
		at.ulValueLen = len;
		break;
	}
	if (!at.pValue)
		return proto_reader_fail(r, -ENOMEM);
	*out = at;
	return 0;
}

/* The head of a template on the wire: a NULL template with the caller's count (1, *ret_count set), or
 * n zeroed entries from the arena to decode into (0, *ret_t and *ret_n set); negative on error. */
static int get_template_head(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE **ret_t,
                             uint32_t *ret_n, CK_ULONG *ret_count)
{
	CK_ATTRIBUTE *t;
	uint8_t present;
	uint32_t n;

	if (proto_get_u8(r, &present) < 0)
		return r->error;
	if (present == 0)
		return proto_get_ulong(r, ret_count) < 0 ? r->error : 1;
	if (present != 1 || proto_get_count(r, ENTRY_MIN, &n) < 0)
		return proto_reader_fail(r, -EBADMSG);
	t = proto_arena_calloc(a, n, sizeof(CK_ATTRIBUTE));
	if (!t)
		return proto_reader_fail(r, -ENOMEM);
	*ret_t = t;
	*ret_n = n;
	return 0;
}

int proto_get_template(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE **ret_t, CK_ULONG *ret_n)
{
	CK_ATTRIBUTE *t = NULL;
	CK_ULONG count = 0;
	uint32_t n = 0;
	int e = get_template_head(r, a, &t, &n, &count);

	if (e < 0)
		return e;
	if (e == 1) {
		*ret_t = NULL;
		*ret_n = count;
		return 0;
	}
	for (uint32_t i = 0; i < n; i++)
		if (get_value_entry(r, a, &t[i], 1) < 0)
			return r->error;
	*ret_t = t;
	*ret_n = n;
	return 0;
}

/* ---- C_GetAttributeValue: request ---- */

/* A caller's buffer size in the units the server allocates: bytes, scaled as if every CK_ULONG
 * in it were 64-bit, so the server's buffer is never smaller than the caller's in any kind. */
static uint64_t query_size(CK_ULONG len)
{
	return (uint64_t)len * (8 / sizeof(CK_ULONG));
}

/* Element entries of an attribute array carry no type: PKCS#11 says their types are outputs
 * (and an application may leave them unset), so nothing is decided from them here. */
static int put_query_entry(struct proto_buf *b, const CK_ATTRIBUTE *at, int depth)
{
	CK_ULONG n;

	if (depth == 1)
		proto_put_ulong(b, at->type);
	if (!at->pValue)
		return proto_put_outbuf(b, PROTO_OUT_QUERY, 0);
	if (depth == 1 && proto_attr_kind(at->type) == PROTO_ATTR_TEMPLATE) {
		n = at->ulValueLen / sizeof(CK_ATTRIBUTE);
		proto_put_outbuf(b, PROTO_OUT_BUFFER, n);
		for (CK_ULONG i = 0; i < n && !b->error; i++)
			put_query_entry(b, (const CK_ATTRIBUTE *)at->pValue + i, depth + 1);
		return b->error;
	}
	return proto_put_outbuf(b, PROTO_OUT_BUFFER, query_size(at->ulValueLen));
}

int proto_put_attr_query(struct proto_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	int e = put_template_head(b, t, n);

	if (e != 0)
		return e < 0 ? e : 0;
	for (CK_ULONG i = 0; i < n && !b->error; i++)
		put_query_entry(b, &t[i], 1);
	return b->error;
}

static int get_query_entry(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE *out,
                           struct proto_attr_shadow *sh, int depth)
{
	enum proto_outbuf st;
	uint64_t size;

	if (depth == 1)
		proto_get_ulong(r, &out->type);
	if (proto_get_outbuf(r, false, &st, &size) < 0)
		return r->error;
	if (st == PROTO_OUT_QUERY) {
		out->pValue = NULL;
		out->ulValueLen = 0;
		return 0;
	}
	if (depth == 1 && proto_attr_kind(out->type) == PROTO_ATTR_TEMPLATE) {
		CK_ATTRIBUTE *inner;
		struct proto_attr_shadow *ish;

		/* Each element entry takes at least its one state byte. */
		if (size > r->left)
			return proto_reader_fail(r, -EBADMSG);
		inner = proto_arena_calloc(a, (size_t)size, sizeof(CK_ATTRIBUTE));
		ish = proto_arena_calloc(a, (size_t)size, sizeof(*ish));
		if (!inner || !ish)
			return proto_reader_fail(r, -ENOMEM);
		for (uint64_t i = 0; i < size; i++)
			if (get_query_entry(r, a, &inner[i], &ish[i], depth + 1) < 0)
				return r->error;
		out->pValue = inner;
		out->ulValueLen = (CK_ULONG)size * sizeof(CK_ATTRIBUTE);
		sh->p = inner;
		sh->cap = out->ulValueLen;
		sh->inner = ish;
		sh->inner_n = (CK_ULONG)size;
		return 0;
	}
	if (size > PROTO_OUT_MAX)
		size = PROTO_OUT_MAX;
	out->pValue = proto_arena_alloc(a, (size_t)size);
	if (!out->pValue)
		return proto_reader_fail(r, -ENOMEM);
	out->ulValueLen = (CK_ULONG)size;
	sh->p = out->pValue;
	sh->cap = out->ulValueLen;
	return 0;
}

int proto_get_attr_query(struct proto_reader *r, struct proto_arena *a, CK_ATTRIBUTE **ret_t, CK_ULONG *ret_n,
                         struct proto_attr_shadow **ret_shadow)
{
	struct proto_attr_shadow *sh;
	CK_ATTRIBUTE *t = NULL;
	CK_ULONG count = 0;
	uint32_t n = 0;
	int e = get_template_head(r, a, &t, &n, &count);

	if (e < 0)
		return e;
	if (e == 1) {
		*ret_t = NULL;
		*ret_n = count;
		*ret_shadow = NULL;
		return 0;
	}
	sh = proto_arena_calloc(a, n, sizeof(*sh));
	if (!sh)
		return proto_reader_fail(r, -ENOMEM);
	for (uint32_t i = 0; i < n; i++)
		if (get_query_entry(r, a, &t[i], &sh[i], 1) < 0)
			return r->error;
	*ret_t = t;
	*ret_n = n;
	*ret_shadow = sh;
	return 0;
}

/* ---- C_GetAttributeValue: result ---- */

/* Result entry state. */
enum {
	RESULT_UNAVAILABLE = 0, /* ulValueLen = CK_UNAVAILABLE_INFORMATION */
	RESULT_LENGTH = 1,      /* length only, in wire units of the kind */
	RESULT_VALUE = 2,
};

/* Host length -> wire units of the kind (bytes, CK_ULONGs or array elements). */
static int length_to_wire(enum proto_attr_kind kind, CK_ULONG len, uint64_t *ret_units)
{
	size_t unit = kind == PROTO_ATTR_ULONG      ? sizeof(CK_ULONG)
	              : kind == PROTO_ATTR_TEMPLATE ? sizeof(CK_ATTRIBUTE)
	                                            : 1;

	if (len % unit)
		return -EINVAL;
	*ret_units = len / unit;
	return 0;
}

/* Wire units -> host length; -ERANGE if this host can't represent it. */
static int length_from_wire(enum proto_attr_kind kind, uint64_t units, CK_ULONG *ret_len)
{
	size_t unit = kind == PROTO_ATTR_ULONG      ? sizeof(CK_ULONG)
	              : kind == PROTO_ATTR_TEMPLATE ? sizeof(CK_ATTRIBUTE)
	                                            : 1;

	if (units >= (uint64_t)(CK_ULONG)-1 / unit)
		return -ERANGE;
	*ret_len = (CK_ULONG)(units * unit);
	return 0;
}

static int put_result_entry(struct proto_buf *b, const CK_ATTRIBUTE *at, const struct proto_attr_shadow *sh,
                            int depth)
{
	enum proto_attr_kind kind = proto_attr_kind(at->type);
	CK_ULONG len = at->ulValueLen, n;
	const uint8_t *v = sh->p;
	uint64_t units;

	proto_put_ulong(b, at->type);
	if (len == CK_UNAVAILABLE_INFORMATION)
		return proto_put_u8(b, RESULT_UNAVAILABLE);
	if (!v) {
		if (length_to_wire(kind, len, &units) < 0)
			return proto_buf_fail(b, -EINVAL);
		proto_put_u8(b, RESULT_LENGTH);
		return proto_put_u64(b, units);
	}
	/* The backend claims more than the buffer we gave it: don't read past it. */
	if (len > sh->cap)
		return proto_buf_fail(b, -EINVAL);

	switch (kind) {
	case PROTO_ATTR_BBOOL:
		if (len != 1)
			return proto_buf_fail(b, -EINVAL);
		proto_put_u8(b, RESULT_VALUE);
		return proto_put_u8(b, v[0]);
	case PROTO_ATTR_ULONG:
		if (len % sizeof(CK_ULONG))
			return proto_buf_fail(b, -EINVAL);
		n = len / sizeof(CK_ULONG);
		proto_put_u8(b, RESULT_VALUE);
		proto_put_u32(b, (uint32_t)n);
		for (CK_ULONG i = 0; i < n; i++)
			proto_put_ulong(b, ((const CK_ULONG *)sh->p)[i]);
		return b->error;
	case PROTO_ATTR_TEMPLATE:
		/* An array inside an array element is past the depth the wire carries. */
		if (depth >= PROTO_TEMPLATE_DEPTH_MAX)
			return proto_put_u8(b, RESULT_UNAVAILABLE);
		n = len / sizeof(CK_ATTRIBUTE);
		if (!sh->inner || len % sizeof(CK_ATTRIBUTE) || n > sh->inner_n)
			return proto_buf_fail(b, -EINVAL);
		proto_put_u8(b, RESULT_VALUE);
		proto_put_u32(b, (uint32_t)n);
		for (CK_ULONG i = 0; i < n && !b->error; i++)
			put_result_entry(b, (const CK_ATTRIBUTE *)sh->p + i, &sh->inner[i], depth + 1);
		return b->error;
	case PROTO_ATTR_BYTES:
	default:
		proto_put_u8(b, RESULT_VALUE);
		return proto_put_bytes(b, v, len);
	}
}

int proto_put_attr_result(struct proto_buf *b, const CK_ATTRIBUTE *t, const struct proto_attr_shadow *shadow,
                          CK_ULONG n)
{
	if (n > UINT32_MAX)
		return proto_buf_fail(b, -EINVAL);
	proto_put_u32(b, (uint32_t)n);
	for (CK_ULONG i = 0; i < n && !b->error; i++)
		put_result_entry(b, &t[i], &shadow[i], 1);
	return b->error;
}

/* Reads one result entry into the caller's attribute. The caller's buffer size is read before
 * anything is written, so the validating pass and the applying pass see the same inputs. */
static int get_result_entry(struct proto_reader *r, CK_ATTRIBUTE *at, int depth, bool apply, bool *too_small)
{
	CK_ULONG cap = at->ulValueLen, len = CK_UNAVAILABLE_INFORMATION, x;
	enum proto_attr_kind kind;
	CK_ATTRIBUTE_TYPE type;
	const uint8_t *p = NULL;
	uint64_t units;
	bool fits = true;
	uint8_t st, v;
	size_t n;
	uint32_t k;

	proto_get_ulong(r, &type);
	if (proto_get_u8(r, &st) < 0)
		return r->error;
	/* A top-level type is the caller's input; element types are the server's output. */
	if (depth == 1 && type != at->type)
		return proto_reader_fail(r, -EBADMSG);
	kind = proto_attr_kind(type);

	switch (st) {
	case RESULT_UNAVAILABLE:
		break;
	case RESULT_LENGTH:
		if (proto_get_u64(r, &units) < 0)
			return r->error;
		if (length_from_wire(kind, units, &len) < 0)
			return proto_reader_fail(r, -ERANGE);
		break;
	case RESULT_VALUE:
		if (!at->pValue)
			return proto_reader_fail(r, -EBADMSG);
		switch (kind) {
		case PROTO_ATTR_BBOOL:
			if (proto_get_u8(r, &v) < 0)
				return r->error;
			fits = cap >= 1;
			if (fits && apply)
				*(CK_BBOOL *)at->pValue = v;
			len = 1;
			break;
		case PROTO_ATTR_ULONG:
			if (proto_get_count(r, ULONG_WIRE, &k) < 0)
				return r->error;
			fits = (uint64_t)k * sizeof(CK_ULONG) <= cap;
			for (uint32_t i = 0; i < k; i++) {
				if (proto_get_ulong(r, &x) < 0)
					return r->error;
				if (fits && apply)
					memcpy((uint8_t *)at->pValue + i * sizeof(x), &x, sizeof(x));
			}
			len = k * sizeof(CK_ULONG);
			break;
		case PROTO_ATTR_TEMPLATE:
			if (depth >= PROTO_TEMPLATE_DEPTH_MAX || proto_get_count(r, ENTRY_MIN, &k) < 0 ||
			    k > cap / sizeof(CK_ATTRIBUTE))
				return proto_reader_fail(r, -EBADMSG);
			for (uint32_t i = 0; i < k; i++)
				if (get_result_entry(r, (CK_ATTRIBUTE *)at->pValue + i, depth + 1, apply,
				                     too_small) < 0)
					return r->error;
			len = k * sizeof(CK_ATTRIBUTE);
			break;
		case PROTO_ATTR_BYTES:
		default:
			if (proto_get_bytes(r, &p, &n) < 0)
				return r->error;
			fits = n <= cap;
			if (fits && apply && n)
				memcpy(at->pValue, p, n);
			len = (CK_ULONG)n;
			break;
		}
		break;
	default:
		return proto_reader_fail(r, -EBADMSG);
	}
	if (!fits) {
		*too_small = true;
		len = CK_UNAVAILABLE_INFORMATION;
	}
	if (apply) {
		at->type = type;
		at->ulValueLen = len;
	}
	return 0;
}

int proto_get_attr_result(struct proto_reader *r, CK_ATTRIBUTE *t, CK_ULONG n, bool apply,
                          bool *ret_too_small)
{
	bool too_small = false;
	uint32_t m;

	if (proto_get_count(r, ENTRY_MIN, &m) < 0)
		return r->error;
	if (m != n)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < m; i++)
		if (get_result_entry(r, &t[i], 1, apply, &too_small) < 0)
			return r->error;
	*ret_too_small = too_small;
	return 0;
}
