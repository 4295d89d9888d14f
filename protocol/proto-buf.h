/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-buf: the only way bytes enter or leave the wire protocol.
 * A writer that grows up to a hard maximum and a reader over a fixed range; both keep the first
 * error (sticky) so an encoder or decoder can run straight through and check once at the end. */
#ifndef IMZA_PROTO_BUF_H
#define IMZA_PROTO_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writer. Fields are read-only for users; data[0..len) is the encoded output. */
struct proto_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len; growing past it fails with -ENOBUFS */
	int error;  /* first error, sticky until proto_buf_reset/truncate */
};

#define PROTO_BUF_INIT(maximum)          \
	{                                \
		NULL, 0, 0, (maximum), 0 \
	}

void proto_buf_init(struct proto_buf *b, size_t max);
/* Wipes (requests carry PINs) and frees the storage; the buffer can be reused afterwards. */
void proto_buf_free(struct proto_buf *b);
/* Empties the buffer and clears the error; storage is kept (wiped). */
void proto_buf_reset(struct proto_buf *b);
/* Drops everything after len bytes and clears the error, so a failed encoding can be replaced. */
int proto_buf_truncate(struct proto_buf *b, size_t len);
/* Records err as the writer's error (first one wins; for encoder errors that are not about
 * space, e.g. -EINVAL for an inconsistent input) and returns the recorded error. */
int proto_buf_fail(struct proto_buf *b, int err);
/* Makes room for n more bytes at the end; *ret_ptr points at them (uninitialised). */
int proto_buf_reserve(struct proto_buf *b, size_t n, uint8_t **ret_ptr);

int proto_put_u8(struct proto_buf *b, uint8_t v);
int proto_put_u32(struct proto_buf *b, uint32_t v);
int proto_put_u64(struct proto_buf *b, uint64_t v);
/* n bytes as they are, no length (fixed-size fields). */
int proto_put_raw(struct proto_buf *b, const void *p, size_t n);
/* Byte string: u32 length, then the bytes. */
int proto_put_bytes(struct proto_buf *b, const void *p, size_t n);
/* Maybe-NULL input buffer: u8 0 + u64 length (the pointer was NULL; the length is kept as the
 * caller gave it) or u8 1 + byte string. PKCS#11 distinguishes NULL from empty (C_Login on a
 * protected authentication path passes a NULL PIN). */
int proto_put_maybe_bytes(struct proto_buf *b, const void *p, uint64_t n);

/* Output-buffer request (PKCS#11 2.40 §5.2): what the caller passed for an output it wants. */
enum proto_outbuf {
	PROTO_OUT_NONE = 0,   /* no length pointer either: the caller wants no output */
	PROTO_OUT_QUERY = 1,  /* buffer pointer NULL: the caller asks for the length only */
	PROTO_OUT_BUFFER = 2, /* a buffer of `size` units */
};
int proto_put_outbuf(struct proto_buf *b, enum proto_outbuf st, uint64_t size);

/* Reader over bytes that stay owned by the caller. Every getter checks the bytes left before it
 * reads; on failure it records the error (-EBADMSG for truncated or malformed input), leaves its
 * out-parameters untouched and every later getter fails with the same error. */
struct proto_reader {
	const uint8_t *p;
	size_t left;
	int error;
};

void proto_reader_init(struct proto_reader *r, const void *data, size_t len);
/* Records err (first one wins) and returns the recorded error. */
int proto_reader_fail(struct proto_reader *r, int err);
/* 0 if everything was consumed without error; trailing bytes are an error (-EBADMSG). */
int proto_reader_end(struct proto_reader *r);

int proto_get_u8(struct proto_reader *r, uint8_t *ret_v);
int proto_get_u32(struct proto_reader *r, uint32_t *ret_v);
int proto_get_u64(struct proto_reader *r, uint64_t *ret_v);
/* A view of the next n bytes (no copy). */
int proto_get_raw(struct proto_reader *r, size_t n, const uint8_t **ret_p);
/* Byte string as written by proto_put_bytes: a view and its length. */
int proto_get_bytes(struct proto_reader *r, const uint8_t **ret_p, size_t *ret_len);
/* As proto_put_maybe_bytes: *ret_p is NULL when the sender's pointer was NULL. */
int proto_get_maybe_bytes(struct proto_reader *r, const uint8_t **ret_p, uint64_t *ret_len);
/* A u32 element count, rejected unless count * min_elem_size bytes are still left: a hostile
 * count can never make the decoder allocate more than the message could fill. */
int proto_get_count(struct proto_reader *r, size_t min_elem_size, uint32_t *ret_count);
/* As proto_put_outbuf; `allow_none` says whether PROTO_OUT_NONE is legal at this place. */
int proto_get_outbuf(struct proto_reader *r, bool allow_none, enum proto_outbuf *ret_st, uint64_t *ret_size);

#endif
