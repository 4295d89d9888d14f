/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-buf: bounded writer and bounds-checked reader for the wire protocol (see proto-buf.h).
 * Integers are big-endian and fixed width; nothing here knows about PKCS#11. */
#include "proto-buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PROTO_BUF_MIN_CAP 256

void proto_buf_init(struct proto_buf *b, size_t max)
{
	*b = (struct proto_buf)PROTO_BUF_INIT(max);
}

void proto_buf_free(struct proto_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
	b->error = 0;
}

void proto_buf_reset(struct proto_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	b->len = 0;
	b->error = 0;
}

int proto_buf_truncate(struct proto_buf *b, size_t len)
{
	if (len > b->len)
		return -EINVAL;
	explicit_bzero(b->data + len, b->len - len);
	b->len = len;
	b->error = 0;
	return 0;
}

int proto_buf_fail(struct proto_buf *b, int err)
{
	if (!b->error)
		b->error = err;
	return b->error;
}

/* Grows by copying rather than realloc so the old block can be wiped: requests carry PINs. */
static int buf_grow(struct proto_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : PROTO_BUF_MIN_CAP;
	uint8_t *p;

	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > b->max)
		cap = b->max;
	p = malloc(cap);
	if (!p)
		return -ENOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int proto_buf_reserve(struct proto_buf *b, size_t n, uint8_t **ret_ptr)
{
	int r;

	if (b->error)
		return b->error;
	if (n > b->max || b->len > b->max - n)
		return proto_buf_fail(b, -ENOBUFS);
	if (b->len + n > b->cap) {
		r = buf_grow(b, b->len + n);
		if (r < 0)
			return proto_buf_fail(b, r);
	}
	*ret_ptr = b->data + b->len;
	b->len += n;
	return 0;
}

int proto_put_raw(struct proto_buf *b, const void *p, size_t n)
{
	uint8_t *dst = NULL;
	int r;

	r = proto_buf_reserve(b, n, &dst);
	if (r < 0)
		return r;
	if (n)
		memcpy(dst, p, n);
	return 0;
}

int proto_put_u8(struct proto_buf *b, uint8_t v)
{
	return proto_put_raw(b, &v, 1);
}

int proto_put_u32(struct proto_buf *b, uint32_t v)
{
	uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	return proto_put_raw(b, be, sizeof(be));
}

int proto_put_u64(struct proto_buf *b, uint64_t v)
{
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(v >> (56 - 8 * i));
	return proto_put_raw(b, be, sizeof(be));
}

int proto_put_bytes(struct proto_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		return proto_buf_fail(b, -ENOBUFS);
	proto_put_u32(b, (uint32_t)n);
	return proto_put_raw(b, p, n);
}

int proto_put_maybe_bytes(struct proto_buf *b, const void *p, uint64_t n)
{
	if (!p) {
		proto_put_u8(b, 0);
		return proto_put_u64(b, n);
	}
	if (n > SIZE_MAX)
		return proto_buf_fail(b, -ENOBUFS);
	proto_put_u8(b, 1);
	return proto_put_bytes(b, p, (size_t)n);
}

int proto_put_outbuf(struct proto_buf *b, enum proto_outbuf st, uint64_t size)
{
	proto_put_u8(b, (uint8_t)st);
	if (st == PROTO_OUT_BUFFER)
		proto_put_u64(b, size);
	return b->error;
}

void proto_reader_init(struct proto_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->left = data ? len : 0;
	r->error = 0;
}

int proto_reader_fail(struct proto_reader *r, int err)
{
	if (!r->error)
		r->error = err;
	return r->error;
}

int proto_reader_end(struct proto_reader *r)
{
	if (r->error)
		return r->error;
	if (r->left)
		return proto_reader_fail(r, -EBADMSG);
	return 0;
}

int proto_get_raw(struct proto_reader *r, size_t n, const uint8_t **ret_p)
{
	if (r->error)
		return r->error;
	if (n > r->left)
		return proto_reader_fail(r, -EBADMSG);
	*ret_p = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

int proto_get_u8(struct proto_reader *r, uint8_t *ret_v)
{
	const uint8_t *p = NULL;
	int e = proto_get_raw(r, 1, &p);

	if (e < 0)
		return e;
	*ret_v = p[0];
	return 0;
}

int proto_get_u32(struct proto_reader *r, uint32_t *ret_v)
{
	const uint8_t *p = NULL;
	int e = proto_get_raw(r, 4, &p);

	if (e < 0)
		return e;
	*ret_v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int proto_get_u64(struct proto_reader *r, uint64_t *ret_v)
{
	const uint8_t *p = NULL;
	uint64_t v = 0;
	int e = proto_get_raw(r, 8, &p);

	if (e < 0)
		return e;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	*ret_v = v;
	return 0;
}

int proto_get_bytes(struct proto_reader *r, const uint8_t **ret_p, size_t *ret_len)
{
	const uint8_t *p = NULL;
	uint32_t n;
	int e;

	e = proto_get_u32(r, &n);
	if (e < 0)
		return e;
	e = proto_get_raw(r, n, &p);
	if (e < 0)
		return e;
	*ret_p = p;
	*ret_len = n;
	return 0;
}

int proto_get_maybe_bytes(struct proto_reader *r, const uint8_t **ret_p, uint64_t *ret_len)
{
	const uint8_t *p = NULL;
	uint64_t n = 0;
	size_t len;
	uint8_t present;
	int e;

	e = proto_get_u8(r, &present);
	if (e < 0)
		return e;
	if (present == 0) {
		e = proto_get_u64(r, &n);
	} else if (present == 1) {
		e = proto_get_bytes(r, &p, &len);
		n = len;
	} else {
		e = proto_reader_fail(r, -EBADMSG);
	}
	if (e < 0)
		return e;
	*ret_p = p;
	*ret_len = n;
	return 0;
}

int proto_get_count(struct proto_reader *r, size_t min_elem_size, uint32_t *ret_count)
{
	uint32_t n;
	int e;

	e = proto_get_u32(r, &n);
	if (e < 0)
		return e;
	if (min_elem_size == 0)
		min_elem_size = 1;
	if (n > r->left / min_elem_size)
		return proto_reader_fail(r, -EBADMSG);
	*ret_count = n;
	return 0;
}

int proto_get_outbuf(struct proto_reader *r, bool allow_none, enum proto_outbuf *ret_st, uint64_t *ret_size)
{
	uint64_t size = 0;
	uint8_t st = 0;
	int e;

	e = proto_get_u8(r, &st);
	if (e < 0)
		return e;
	if (st > PROTO_OUT_BUFFER || (st == PROTO_OUT_NONE && !allow_none))
		return proto_reader_fail(r, -EBADMSG);
	if (st == PROTO_OUT_BUFFER) {
		e = proto_get_u64(r, &size);
		if (e < 0)
			return e;
	}
	*ret_st = (enum proto_outbuf)st;
	*ret_size = size;
	return 0;
}
