/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-proto: the protocol's building blocks: bounded writer and reader, the per-message arena,
 * framing and blocking frame I/O, HELLO, and the PKCS#11 value encoders (info structures,
 * templates, mechanisms). The calls built on them are tested in test-proto-rpc.c. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto-arena.h"
#include "proto-buf.h"
#include "proto-ck.h"
#include "proto-frame.h"
#include "proto-hello.h"
#include "rpc.h"
#include "proto-fake.h"

/* Runs decode over every strict prefix of buf and expects each to fail. */
#define ASSERT_EVERY_PREFIX_FAILS(buf, decode_expr)                                            \
	do {                                                                                   \
		for (size_t cut_ = 0; cut_ < (buf)->len; cut_++) {                             \
			struct proto_reader r_;                                                \
			proto_reader_init(&r_, (buf)->data, cut_);                             \
			if ((decode_expr) >= 0 && proto_reader_end(&r_) >= 0)                  \
				fail_msg("prefix of %zu/%zu bytes decoded", cut_, (buf)->len); \
		}                                                                              \
	} while (0)

/* ---- writer ---- */

static void test_writer_encodes_fixed_width_big_endian(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(64);
	static const uint8_t want[] = {0x7f, 0x01, 0x02, 0x03, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55,
	                               0x66, 0x77, 0x88, 0,    0,    0,    2,    'h',  'i'};

	(void)state;
	proto_put_u8(&b, 0x7f);
	proto_put_u32(&b, 0x01020304);
	proto_put_u64(&b, 0x1122334455667788ULL);
	assert_int_equal(proto_put_bytes(&b, "hi", 2), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	proto_buf_free(&b);
}

static void test_integers_round_trip_at_their_limits(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(64);
	struct proto_reader r;
	uint8_t v8;
	uint32_t v32;
	uint64_t v64;

	(void)state;
	proto_put_u8(&b, 0xff);
	proto_put_u32(&b, UINT32_MAX);
	proto_put_u64(&b, UINT64_MAX);
	proto_put_u64(&b, 0);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_u8(&r, &v8), 0);
	assert_int_equal(v8, 0xff);
	assert_int_equal(proto_get_u32(&r, &v32), 0);
	assert_int_equal(v32, UINT32_MAX);
	assert_int_equal(proto_get_u64(&r, &v64), 0);
	assert_true(v64 == UINT64_MAX);
	assert_int_equal(proto_get_u64(&r, &v64), 0);
	assert_true(v64 == 0);
	assert_int_equal(proto_reader_end(&r), 0);
	proto_buf_free(&b);
}

static void test_version_parse_takes_major_minor_and_refuses_the_rest(void **state)
{
	CK_VERSION v = {9, 9};

	assert_int_equal(proto_version_parse("0.1.0", &v), 0);
	assert_int_equal(v.major, 0);
	assert_int_equal(v.minor, 1);
	assert_int_equal(proto_version_parse("2.40", &v), 0);
	assert_int_equal(v.major, 2);
	assert_int_equal(v.minor, 40);
	assert_int_equal(proto_version_parse("255.0.7.1", &v), 0);
	assert_int_equal(v.major, 255);
	v = (CK_VERSION){9, 9};
	assert_int_equal(proto_version_parse("256.0", &v), -EINVAL);
	assert_int_equal(proto_version_parse("1.99999999999999999999", &v), -EINVAL);
	assert_int_equal(proto_version_parse("1", &v), -EINVAL);
	assert_int_equal(proto_version_parse("1.", &v), -EINVAL);
	assert_int_equal(proto_version_parse(".1", &v), -EINVAL);
	assert_int_equal(proto_version_parse("1.2rc1", &v), -EINVAL);
	assert_int_equal(proto_version_parse("", &v), -EINVAL);
	assert_int_equal(proto_version_parse(NULL, &v), -EINVAL);
	assert_int_equal(v.major, 9); /* untouched on failure */
}

static void test_writer_past_its_max_fails_and_error_is_sticky(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(6);

	(void)state;
	assert_int_equal(proto_put_u32(&b, 1), 0);
	assert_int_equal(proto_put_u32(&b, 2), -ENOBUFS);
	assert_int_equal(b.len, 4);
	/* Even a write that would fit fails now: the encoding is already broken. */
	assert_int_equal(proto_put_u8(&b, 3), -ENOBUFS);
	assert_int_equal(b.len, 4);
	assert_true(b.cap <= 6);
	proto_buf_free(&b);
}

static void test_writer_truncate_drops_tail_and_clears_error(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(8);

	(void)state;
	proto_put_u32(&b, 0xaabbccdd);
	proto_put_u64(&b, 1);
	assert_int_equal(b.error, -ENOBUFS);
	assert_int_equal(proto_buf_truncate(&b, 2), 0);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.len, 2);
	assert_int_equal(proto_buf_truncate(&b, 3), -EINVAL);
	assert_int_equal(proto_put_u8(&b, 1), 0);
	proto_buf_free(&b);
}

/* ---- reader ---- */

static void test_reader_truncated_integer_sets_error_and_leaves_output_untouched(void **state)
{
	const uint8_t three[3] = {1, 2, 3};
	struct proto_reader r;
	uint32_t v = 0xcafe;

	(void)state;
	proto_reader_init(&r, three, sizeof(three));
	assert_int_equal(proto_get_u32(&r, &v), -EBADMSG);
	assert_int_equal(v, 0xcafe);
	assert_int_equal(r.error, -EBADMSG);
}

static void test_reader_error_is_sticky(void **state)
{
	const uint8_t data[8] = {0};
	struct proto_reader r;
	uint64_t v64;
	uint8_t v8 = 9;

	(void)state;
	proto_reader_init(&r, data, 4);
	assert_int_equal(proto_get_u64(&r, &v64), -EBADMSG);
	/* The four bytes that are there stay unreadable: the message is already bad. */
	assert_int_equal(proto_get_u8(&r, &v8), -EBADMSG);
	assert_int_equal(v8, 9);
	assert_int_equal(proto_reader_end(&r), -EBADMSG);
}

static void test_reader_count_larger_than_remaining_sets_error(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(64);
	struct proto_reader r;
	uint32_t n = 77;

	(void)state;
	proto_put_u32(&b, 3);
	proto_put_u64(&b, 1);
	proto_put_u64(&b, 2); /* two 8-byte elements where three are announced */
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_count(&r, 8, &n), -EBADMSG);
	assert_int_equal(n, 77);

	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_count(&r, 5, &n), 0); /* 3 * 5 <= 16 */
	assert_int_equal(n, 3);
	proto_buf_free(&b);
}

static void test_reader_bytes_length_past_end_is_rejected(void **state)
{
	const uint8_t data[] = {0, 0, 0, 9, 'a', 'b'};
	const uint8_t *p = NULL;
	struct proto_reader r;
	size_t n = 0;

	(void)state;
	proto_reader_init(&r, data, sizeof(data));
	assert_int_equal(proto_get_bytes(&r, &p, &n), -EBADMSG);
	assert_null(p);
	assert_int_equal(n, 0);
}

static void test_reader_end_rejects_trailing_bytes(void **state)
{
	const uint8_t data[] = {1, 2};
	struct proto_reader r;
	uint8_t v;

	(void)state;
	proto_reader_init(&r, data, sizeof(data));
	proto_get_u8(&r, &v);
	assert_int_equal(proto_reader_end(&r), -EBADMSG);
}

static void test_maybe_bytes_keeps_null_distinct_from_empty(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(64);
	struct proto_reader r;
	const uint8_t *p;
	uint64_t n;

	(void)state;
	proto_put_maybe_bytes(&b, NULL, 5);
	proto_put_maybe_bytes(&b, "", 0);
	proto_put_maybe_bytes(&b, "abc", 3);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_maybe_bytes(&r, &p, &n), 0);
	assert_null(p);
	assert_true(n == 5);
	assert_int_equal(proto_get_maybe_bytes(&r, &p, &n), 0);
	assert_non_null(p);
	assert_true(n == 0);
	assert_int_equal(proto_get_maybe_bytes(&r, &p, &n), 0);
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(proto_reader_end(&r), 0);
	proto_buf_free(&b);
}

static void test_outbuf_request_round_trips_each_state(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(64);
	enum proto_outbuf st;
	struct proto_reader r;
	uint64_t size;

	(void)state;
	proto_put_outbuf(&b, PROTO_OUT_NONE, 0);
	proto_put_outbuf(&b, PROTO_OUT_QUERY, 0);
	proto_put_outbuf(&b, PROTO_OUT_BUFFER, 4096);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_outbuf(&r, true, &st, &size), 0);
	assert_int_equal(st, PROTO_OUT_NONE);
	assert_int_equal(proto_get_outbuf(&r, true, &st, &size), 0);
	assert_int_equal(st, PROTO_OUT_QUERY);
	assert_int_equal(proto_get_outbuf(&r, true, &st, &size), 0);
	assert_int_equal(st, PROTO_OUT_BUFFER);
	assert_true(size == 4096);
	assert_int_equal(proto_reader_end(&r), 0);

	/* Where the caller must have a length pointer, "none" is malformed. */
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_outbuf(&r, false, &st, &size), -EBADMSG);
	proto_buf_free(&b);
}

/* ---- arena ---- */

static void test_arena_memory_is_zeroed_and_aligned(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);

	(void)state;
	for (size_t n = 0; n < 100; n++) {
		uint8_t *p = proto_arena_alloc(&a, n);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xee, n);
	}
	assert_ptr_not_equal(proto_arena_alloc(&a, 0), proto_arena_alloc(&a, 0));
	proto_arena_free(&a);
}

static void test_arena_refuses_allocations_past_its_bound(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(64 * 1024);
	size_t got = 0;

	(void)state;
	while (proto_arena_alloc(&a, 1000))
		got += 1000;
	assert_true(got > 32 * 1024);
	assert_true(a.used <= 64 * 1024);
	assert_null(proto_arena_alloc(&a, 64 * 1024));
	assert_null(proto_arena_alloc(&a, SIZE_MAX));
	assert_null(proto_arena_calloc(&a, SIZE_MAX / 2, 4));
	proto_arena_free(&a);
	assert_int_equal(a.used, 0);
}

static void test_arena_free_releases_everything_for_reuse(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(100 * 1024);

	(void)state;
	for (int round = 0; round < 3; round++) {
		assert_non_null(proto_arena_alloc(&a, 60 * 1024));
		assert_non_null(proto_arena_memdup(&a, "pin", 3));
		proto_arena_free(&a);
	}
}

/* ---- frames ---- */

static void test_frame_over_cap_is_rejected_before_alloc(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	uint8_t hdr[PROTO_FRAME_HEADER];
	uint32_t len = 1;
	int sv[2];

	(void)state;
	proto_frame_put_header(hdr, PROTO_FRAME_MAX + 1);
	assert_int_equal(proto_frame_need(hdr, &len), -EMSGSIZE);
	assert_int_equal(len, 1);

	proto_frame_put_header(hdr, UINT32_MAX);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(proto_recv_frame(sv[1], &b), -EMSGSIZE);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_frame_at_cap_is_accepted_and_empty_frame_is_not(void **state)
{
	uint8_t hdr[PROTO_FRAME_HEADER];
	uint32_t len = 0;

	(void)state;
	proto_frame_put_header(hdr, PROTO_FRAME_MAX);
	assert_int_equal(proto_frame_need(hdr, &len), 0);
	assert_int_equal(len, PROTO_FRAME_MAX);
	proto_frame_put_header(hdr, 0);
	assert_int_equal(proto_frame_need(hdr, &len), -EBADMSG);
}

static void test_frame_split_waits_for_the_whole_frame(void **state)
{
	uint8_t data[16] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0};
	const uint8_t *payload;
	size_t used = 0;
	uint32_t len;

	(void)state;
	for (size_t avail = 0; avail < 7; avail++)
		assert_int_equal(proto_frame_split(data, avail, &payload, &len, &used), -EAGAIN);
	assert_int_equal(proto_frame_split(data, 10, &payload, &len, &used), 0);
	assert_int_equal(len, 3);
	assert_int_equal(used, 7);
	assert_memory_equal(payload, "abc", 3);
	assert_int_equal(proto_frame_split(data + 7, 3, &payload, &len, &used), -EAGAIN);
	data[7] = 0xff; /* the next frame announces too much: refused before it arrives */
	assert_int_equal(proto_frame_split(data + 7, 4, &payload, &len, &used), -EMSGSIZE);
}

static void test_frame_begin_end_writes_the_length_header(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	uint32_t len;

	(void)state;
	assert_int_equal(proto_frame_begin(&b), 0);
	assert_int_equal(proto_frame_end(&b), -EMSGSIZE); /* empty */
	proto_put_u64(&b, 42);
	assert_int_equal(proto_frame_end(&b), 0);
	assert_int_equal(proto_frame_need(b.data, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(b.len, 12);
	/* Begin starts over. */
	assert_int_equal(proto_frame_begin(&b), 0);
	assert_int_equal(b.len, PROTO_FRAME_HEADER);
	proto_buf_free(&b);
}

static void test_send_recv_frame_round_trips_a_frame_at_the_cap(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	uint8_t *big = malloc(PROTO_FRAME_MAX);
	int sv[2], status;
	pid_t pid;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < PROTO_FRAME_MAX; i++)
		big[i] = (uint8_t)(i * 31);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* A frame this size doesn't fit the socket buffer: the writer runs in a child. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[1]);
		_exit(proto_send_frame(sv[0], "small", 5) == 0 &&
		                      proto_send_frame(sv[0], big, PROTO_FRAME_MAX) == 0
		              ? 0
		              : 1);
	}
	close(sv[0]);
	assert_int_equal(proto_recv_frame(sv[1], &b), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "small", 5);
	assert_int_equal(proto_recv_frame(sv[1], &b), 0);
	assert_int_equal(b.len, PROTO_FRAME_MAX);
	assert_memory_equal(b.data, big, PROTO_FRAME_MAX);
	assert_int_equal(proto_recv_frame(sv[1], &b), -ECONNRESET); /* child is gone */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[1]);
	free(big);
	proto_buf_free(&b);
}

static void test_recv_frame_eof_mid_frame_is_connreset(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	const uint8_t partial[] = {0, 0, 0, 10, 'a', 'b'};
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], partial, sizeof(partial)), (ssize_t)sizeof(partial));
	close(sv[0]);
	assert_int_equal(proto_recv_frame(sv[1], &b), -ECONNRESET);
	assert_int_equal(b.len, 0);
	close(sv[1]);
	proto_buf_free(&b);
}

/* An answer's header and body come in one receive; bytes after the frame in it are a peer that speaks
 * unasked, and the answer is not taken. A large answer, or one in pieces, is read whole. */
static void test_recv_answer_refuses_bytes_past_it_and_reads_large_ones_whole(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	const uint8_t answer[] = {0, 0, 0, 2, 'o', 'k'}, extra[] = {0, 0, 0, 1, 'x'};
	uint8_t both[sizeof(answer) + sizeof(extra)], *big;
	int sv[2];

	(void)state;
	memcpy(both, answer, sizeof(answer));
	memcpy(both + sizeof(answer), extra, sizeof(extra));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], answer, sizeof(answer)), (ssize_t)sizeof(answer));
	assert_int_equal(proto_recv_answer(sv[1], &b), 0);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "ok", 2);
	assert_int_equal(write(sv[0], both, sizeof(both)), (ssize_t)sizeof(both));
	assert_int_equal(proto_recv_answer(sv[1], &b), -EBADMSG);
	assert_int_equal(b.len, 0);

	/* Past the first receive's room; and an answer written in two pieces. */
	big = calloc(1, PROTO_FRAME_HEADER + 3 * PROTO_RECV_FIRST);
	assert_non_null(big);
	proto_frame_put_header(big, 3 * PROTO_RECV_FIRST);
	big[PROTO_FRAME_HEADER + 3 * PROTO_RECV_FIRST - 1] = 0x5a;
	assert_int_equal(write(sv[0], big, PROTO_FRAME_HEADER + 3 * PROTO_RECV_FIRST),
	                 (ssize_t)(PROTO_FRAME_HEADER + 3 * PROTO_RECV_FIRST));
	assert_int_equal(proto_recv_answer(sv[1], &b), 0);
	assert_int_equal(b.len, 3 * PROTO_RECV_FIRST);
	assert_memory_equal(b.data, big + PROTO_FRAME_HEADER, b.len);
	assert_int_equal(write(sv[0], answer, 2), 2);
	assert_int_equal(write(sv[0], answer + 2, sizeof(answer) - 2), (ssize_t)sizeof(answer) - 2);
	assert_int_equal(proto_recv_answer(sv[1], &b), 0);
	assert_memory_equal(b.data, "ok", 2);
	close(sv[0]);
	assert_int_equal(proto_recv_answer(sv[1], &b), -ECONNRESET);
	close(sv[1]);
	free(big);
	proto_buf_free(&b);
}

static void test_send_frame_to_closed_peer_is_epipe_not_sigpipe(void **state)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
	int sv[2];

	(void)state;
	/* With the default action a SIGPIPE would kill the test; the module can't rely on the
	 * host ignoring it. */
	sigaction(SIGPIPE, &dfl, &old);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(proto_send_frame(sv[0], "x", 1), -EPIPE);
	close(sv[0]);
	sigaction(SIGPIPE, &old, NULL);
}

static void test_send_frame_refuses_empty_and_oversized_payloads(void **state)
{
	(void)state;
	assert_int_equal(proto_send_frame(-1, "", 0), -EMSGSIZE);
	assert_int_equal(proto_send_frame(-1, "", PROTO_FRAME_MAX + 1), -EMSGSIZE);
}

/* ---- HELLO ---- */

static struct proto_hello sample_hello(void)
{
	struct proto_hello h = {
	        .major = PROTO_VERSION_MAJOR,
	        .minor = PROTO_VERSION_MINOR,
	        .kind = PROTO_CLIENT_PKCS11,
	        .pid = 4242,
	};

	memcpy(h.app_name, "firefox", 8);
	return h;
}

static void test_hello_round_trips(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	struct proto_hello h = sample_hello(), got;
	struct proto_hello_reply rep = {.major = 1, .minor = 0}, rgot;

	(void)state;
	assert_int_equal(proto_hello_encode(&b, &h), 0);
	assert_int_equal(proto_hello_decode(b.data, b.len, &got), 0);
	assert_int_equal(got.major, h.major);
	assert_int_equal(got.minor, h.minor);
	assert_int_equal(got.kind, PROTO_CLIENT_PKCS11);
	assert_int_equal(got.pid, 4242);
	assert_string_equal(got.app_name, "firefox");

	memcpy(rep.server_name, "imzad 0.1.0", 12);
	proto_buf_reset(&b);
	assert_int_equal(proto_hello_reply_encode(&b, &rep), 0);
	assert_int_equal(proto_hello_reply_decode(b.data, b.len, &rgot), 0);
	assert_string_equal(rgot.server_name, "imzad 0.1.0");
	assert_int_equal(proto_hello_reply_check(&rgot, PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR), 0);
	proto_buf_free(&b);
}

static void test_hello_major_mismatch_is_rejected(void **state)
{
	struct proto_hello h = sample_hello();
	struct proto_hello_reply rep = {.major = PROTO_VERSION_MAJOR + 1};
	uint32_t minor = 99;

	(void)state;
	h.major = PROTO_VERSION_MAJOR + 1;
	assert_int_equal(proto_hello_negotiate(&h, PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR, &minor),
	                 -EPROTONOSUPPORT);
	assert_int_equal(minor, 99);
	assert_int_equal(proto_hello_reply_check(&rep, PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR),
	                 -EPROTONOSUPPORT);
}

static void test_hello_minor_is_negotiated_down_to_the_lower(void **state)
{
	struct proto_hello h = sample_hello();
	struct proto_hello_reply rep = {.major = 1, .minor = 3};
	uint32_t minor;

	(void)state;
	h.major = 1;
	h.minor = 7;
	assert_int_equal(proto_hello_negotiate(&h, 1, 3, &minor), 0);
	assert_int_equal(minor, 3);
	h.minor = 2;
	assert_int_equal(proto_hello_negotiate(&h, 1, 3, &minor), 0);
	assert_int_equal(minor, 2);
	/* A server may not pick a minor above what the client offered. */
	assert_int_equal(proto_hello_reply_check(&rep, 1, 2), -EPROTONOSUPPORT);
	assert_int_equal(proto_hello_reply_check(&rep, 1, 3), 0);
}

static void test_hello_rejects_control_bytes_and_long_names(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	struct proto_hello h = sample_hello(), got;

	(void)state;
	memcpy(h.app_name, "evil\nname", 10);
	assert_int_equal(proto_hello_encode(&b, &h), -EINVAL);

	/* Handcrafted: the same name from a client that doesn't use our encoder. */
	proto_buf_reset(&b);
	proto_put_u32(&b, PROTO_HELLO_MAGIC);
	proto_put_u32(&b, 1);
	proto_put_u32(&b, 0);
	proto_put_u32(&b, PROTO_CLIENT_CLI);
	proto_put_u32(&b, 1);
	proto_put_bytes(&b, "evil\nname", 9);
	assert_int_equal(proto_hello_decode(b.data, b.len, &got), -EBADMSG);

	proto_buf_reset(&b);
	proto_put_u32(&b, PROTO_HELLO_MAGIC);
	proto_put_u32(&b, 1);
	proto_put_u32(&b, 0);
	proto_put_u32(&b, PROTO_CLIENT_CLI);
	proto_put_u32(&b, 1);
	proto_put_u32(&b, PROTO_NAME_MAX + 1);
	for (unsigned i = 0; i <= PROTO_NAME_MAX; i++)
		proto_put_u8(&b, 'a');
	assert_int_equal(proto_hello_decode(b.data, b.len, &got), -EBADMSG);
	proto_buf_free(&b);
}

static void test_hello_with_unknown_client_kind_or_magic_is_rejected(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	struct proto_hello h = sample_hello(), got;

	(void)state;
	h.kind = (enum proto_client_kind)9;
	assert_int_equal(proto_hello_encode(&b, &h), 0);
	assert_int_equal(proto_hello_decode(b.data, b.len, &got), -EBADMSG);
	proto_buf_reset(&b);
	h = sample_hello();
	proto_hello_encode(&b, &h);
	b.data[0] ^= 1;
	assert_int_equal(proto_hello_decode(b.data, b.len, &got), -EBADMSG);
	proto_buf_free(&b);
}

static void test_hello_truncated_at_every_offset_fails(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	struct proto_hello h = sample_hello(), got;
	struct proto_hello_reply rep = {.major = 1}, rgot;

	(void)state;
	proto_hello_encode(&b, &h);
	for (size_t cut = 0; cut < b.len; cut++)
		assert_int_equal(proto_hello_decode(b.data, cut, &got), -EBADMSG);
	proto_buf_reset(&b);
	memcpy(rep.server_name, "imzad", 6);
	proto_hello_reply_encode(&b, &rep);
	for (size_t cut = 0; cut < b.len; cut++)
		assert_int_equal(proto_hello_reply_decode(b.data, cut, &rgot), -EBADMSG);
	proto_buf_free(&b);
}

/* ---- CK values ---- */

static void test_ulong_unavailable_information_is_all_ones_on_the_wire(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(64);
	struct proto_reader r;
	CK_ULONG v = 0;
	CK_ULONG big;

	(void)state;
	assert_true(proto_ulong_to_wire(CK_UNAVAILABLE_INFORMATION) == UINT64_MAX);
	assert_int_equal(proto_ulong_from_wire(UINT64_MAX, &v), 0);
	assert_int_equal(v, CK_UNAVAILABLE_INFORMATION);
	proto_put_ulong(&b, CK_UNAVAILABLE_INFORMATION);
	proto_put_ulong(&b, 12345);
	proto_reader_init(&r, b.data, b.len);
	proto_get_ulong(&r, &v);
	assert_int_equal(v, CK_UNAVAILABLE_INFORMATION);
	proto_get_ulong(&r, &v);
	assert_int_equal(v, 12345);
	/* A 64-bit peer's value that this host can't hold is an error, not a truncation. */
	if (sizeof(CK_ULONG) < 8)
		assert_int_equal(proto_ulong_from_wire(UINT64_C(1) << 40, &big), -ERANGE);
	else
		assert_int_equal(proto_ulong_from_wire(UINT64_C(1) << 40, &big), 0);
	proto_buf_free(&b);
}

/* Round trips a value through put/get and compares field by field with a fake's result check. */
static void test_info_structures_round_trip_and_reject_truncation(void **state)
{
	static const uint32_t ids[] = {RPC_CALL_C_GetInfo, RPC_CALL_C_GetSlotInfo, RPC_CALL_C_GetTokenInfo,
	                               RPC_CALL_C_GetSessionInfo, RPC_CALL_C_GetMechanismInfo};

	(void)state;
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		const struct rpc_call_desc *d = rpc_call_find(ids[k]);
		union rpc_arg filled[RPC_KINDS_MAX], got[RPC_KINDS_MAX];
		static struct fake_store s1, s2;
		struct proto_buf b = PROTO_BUF_INIT(1024);
		struct proto_reader r;
		unsigned i = d->nkinds - 1; /* the info pointer is the last argument */

		fake_caller_args(d, &s1, filled);
		fake_caller_args(d, &s2, got);
		fake_fill_results(d, filled);
		switch (d->kinds[i]) {
		case RPC_KIND_INFO_OUT:
			proto_put_info(&b, filled[i].info);
			proto_reader_init(&r, b.data, b.len);
			assert_int_equal(proto_get_info(&r, got[i].info), 0);
			ASSERT_EVERY_PREFIX_FAILS(&b, proto_get_info(&r_, got[i].info));
			break;
		case RPC_KIND_SLOT_INFO_OUT:
			proto_put_slot_info(&b, filled[i].slot_info);
			proto_reader_init(&r, b.data, b.len);
			assert_int_equal(proto_get_slot_info(&r, got[i].slot_info), 0);
			ASSERT_EVERY_PREFIX_FAILS(&b, proto_get_slot_info(&r_, got[i].slot_info));
			break;
		case RPC_KIND_TOKEN_INFO_OUT:
			proto_put_token_info(&b, filled[i].token_info);
			proto_reader_init(&r, b.data, b.len);
			assert_int_equal(proto_get_token_info(&r, got[i].token_info), 0);
			ASSERT_EVERY_PREFIX_FAILS(&b, proto_get_token_info(&r_, got[i].token_info));
			break;
		case RPC_KIND_SESSION_INFO_OUT:
			proto_put_session_info(&b, filled[i].session_info);
			proto_reader_init(&r, b.data, b.len);
			assert_int_equal(proto_get_session_info(&r, got[i].session_info), 0);
			ASSERT_EVERY_PREFIX_FAILS(&b, proto_get_session_info(&r_, got[i].session_info));
			break;
		case RPC_KIND_MECH_INFO_OUT:
			proto_put_mechanism_info(&b, filled[i].mech_info);
			proto_reader_init(&r, b.data, b.len);
			assert_int_equal(proto_get_mechanism_info(&r, got[i].mech_info), 0);
			ASSERT_EVERY_PREFIX_FAILS(&b, proto_get_mechanism_info(&r_, got[i].mech_info));
			break;
		default:
			fail();
		}
		assert_int_equal(proto_reader_end(&r), 0);
		assert_true(fake_check_results(d, got));
		proto_buf_free(&b);
	}
}

static void test_token_info_strings_cross_as_fixed_byte_counts(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	CK_TOKEN_INFO ti;

	(void)state;
	memset(&ti, 0, sizeof(ti));
	proto_put_token_info(&b, &ti);
	/* 32+32+16+16 string bytes, 11 ulongs, 2 versions, 16 bytes of time: no padding. */
	assert_int_equal(b.len, 96 + 11 * 8 + 2 * 2 + 16);
	proto_buf_free(&b);
}

static void test_attr_kind_classifies_by_type(void **state)
{
	(void)state;
	assert_int_equal(proto_attr_kind(CKA_CLASS), PROTO_ATTR_ULONG);
	assert_int_equal(proto_attr_kind(CKA_KEY_TYPE), PROTO_ATTR_ULONG);
	assert_int_equal(proto_attr_kind(CKA_CERTIFICATE_TYPE), PROTO_ATTR_ULONG);
	assert_int_equal(proto_attr_kind(CKA_MODULUS_BITS), PROTO_ATTR_ULONG);
	assert_int_equal(proto_attr_kind(CKA_KEY_GEN_MECHANISM), PROTO_ATTR_ULONG);
	/* Has the array bit but holds mechanism types, not attributes. */
	assert_int_equal(proto_attr_kind(CKA_ALLOWED_MECHANISMS), PROTO_ATTR_ULONG);
	assert_int_equal(proto_attr_kind(CKA_WRAP_TEMPLATE), PROTO_ATTR_TEMPLATE);
	assert_int_equal(proto_attr_kind(CKA_DERIVE_TEMPLATE), PROTO_ATTR_TEMPLATE);
	assert_int_equal(proto_attr_kind(CKA_TOKEN), PROTO_ATTR_BBOOL);
	assert_int_equal(proto_attr_kind(CKA_ALWAYS_AUTHENTICATE), PROTO_ATTR_BBOOL);
	assert_int_equal(proto_attr_kind(CKA_LABEL), PROTO_ATTR_BYTES);
	assert_int_equal(proto_attr_kind(CKA_EC_POINT), PROTO_ATTR_BYTES);
	assert_int_equal(proto_attr_kind(CKA_VENDOR_DEFINED | 1), PROTO_ATTR_BYTES);
	assert_true(proto_attr_is_ulong(CKA_VALUE_LEN));
	assert_false(proto_attr_is_ulong(CKA_VALUE));
}

static CK_ULONG t_class = CKO_CERTIFICATE, t_bits = 2048, t_ktype = CKK_EC;
static CK_BBOOL t_true = CK_TRUE;
static CK_MECHANISM_TYPE t_mechs[3] = {CKM_ECDSA, CKM_ECDSA_SHA256, CKM_RSA_PKCS_PSS};

static void test_template_round_trips_every_value_kind(void **state)
{
	CK_ATTRIBUTE inner[] = {{CKA_KEY_TYPE, &t_ktype, sizeof(t_ktype)}, {CKA_SIGN, &t_true, 1}};
	CK_ATTRIBUTE t[] = {
	        {CKA_CLASS, &t_class, sizeof(t_class)},
	        {CKA_MODULUS_BITS, &t_bits, sizeof(t_bits)},
	        {CKA_TOKEN, &t_true, 1},
	        {CKA_LABEL, "Nitelikli", 9},
	        {CKA_ID, NULL, 0},
	        {CKA_SUBJECT, "", 0},
	        {CKA_ALLOWED_MECHANISMS, t_mechs, sizeof(t_mechs)},
	        {CKA_UNWRAP_TEMPLATE, inner, sizeof(inner)},
	};
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_reader r;
	CK_ATTRIBUTE *got;
	CK_ULONG n;

	(void)state;
	assert_int_equal(proto_put_template(&b, t, 8), 0);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_template(&r, &a, &got, &n), 0);
	assert_int_equal(proto_reader_end(&r), 0);
	assert_int_equal(n, 8);
	assert_true(fake_template_equal(t, got, 8));
	assert_non_null(got[5].pValue); /* empty is not NULL */
	assert_null(got[4].pValue);
	ASSERT_EVERY_PREFIX_FAILS(&b, proto_get_template(&r_, &a, &got, &n));
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_template_null_crosses_as_null_with_its_count(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(64);
	struct proto_reader r;
	CK_ATTRIBUTE *got = (CK_ATTRIBUTE *)&b;
	CK_ULONG n = 0;

	(void)state;
	proto_put_template(&b, NULL, 3);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_template(&r, &a, &got, &n), 0);
	assert_null(got);
	assert_int_equal(n, 3);
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_template_nesting_deeper_than_limit_is_rejected(void **state)
{
	CK_ATTRIBUTE level3[] = {{CKA_SIGN, &t_true, 1}};
	CK_ATTRIBUTE level2[] = {{CKA_WRAP_TEMPLATE, level3, sizeof(level3)}};
	CK_ATTRIBUTE level1[] = {{CKA_DERIVE_TEMPLATE, level2, sizeof(level2)}};
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(1024);
	struct proto_reader r;
	CK_ATTRIBUTE *got;
	CK_ULONG n;

	(void)state;
	assert_int_equal(proto_put_template(&b, level1, 1), -EINVAL);

	/* The same nesting from a peer that doesn't check. */
	proto_buf_reset(&b);
	proto_put_u8(&b, 1);
	proto_put_u32(&b, 1);
	for (int depth = 0; depth < 2; depth++) {
		proto_put_ulong(&b, CKA_WRAP_TEMPLATE);
		proto_put_u8(&b, 1);
		proto_put_u32(&b, 1);
	}
	proto_put_ulong(&b, CKA_SIGN);
	proto_put_u8(&b, 1);
	proto_put_u8(&b, 1);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_template(&r, &a, &got, &n), -EBADMSG);
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_template_ulong_or_bool_value_of_wrong_size_is_rejected(void **state)
{
	CK_BYTE four[4] = {0};
	CK_ATTRIBUTE bad_ulong = {CKA_CLASS, four, sizeof(four)};
	CK_ATTRIBUTE bad_bool = {CKA_TOKEN, four, sizeof(four)};
	struct proto_buf b = PROTO_BUF_INIT(1024);

	(void)state;
	if (sizeof(CK_ULONG) != 4)
		assert_int_equal(proto_put_template(&b, &bad_ulong, 1), -EINVAL);
	proto_buf_reset(&b);
	assert_int_equal(proto_put_template(&b, &bad_bool, 1), -EINVAL);
	proto_buf_free(&b);
}

static void test_template_huge_count_is_rejected_before_alloc(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(64);
	struct proto_reader r;
	CK_ATTRIBUTE *got;
	CK_ULONG n;

	(void)state;
	proto_put_u8(&b, 1);
	proto_put_u32(&b, UINT32_MAX);
	proto_put_u64(&b, CKA_LABEL);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_template(&r, &a, &got, &n), -EBADMSG);
	assert_int_equal(a.used, 0);
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_template_decode_stops_at_the_arena_bound(void **state)
{
	static CK_BYTE value[8192];
	CK_ATTRIBUTE t[8];
	struct proto_arena a = PROTO_ARENA_INIT(32 * 1024);
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_reader r;
	CK_ATTRIBUTE *got;
	CK_ULONG n;

	(void)state;
	for (int i = 0; i < 8; i++)
		t[i] = (CK_ATTRIBUTE){CKA_VALUE, value, sizeof(value)};
	proto_put_template(&b, t, 8);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_template(&r, &a, &got, &n), -ENOMEM);
	assert_true(a.used <= 32 * 1024);
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_attr_query_and_result_round_trip_with_length_only_and_values(void **state)
{
	CK_ULONG cls = 0;
	CK_BYTE label[32];
	CK_ATTRIBUTE t[] = {
	        {CKA_CLASS, &cls, sizeof(cls)},
	        {CKA_LABEL, label, sizeof(label)},
	        {CKA_MODULUS, NULL, 0},
	};
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf q = PROTO_BUF_INIT(1024), res = PROTO_BUF_INIT(1024);
	struct proto_attr_shadow *sh;
	struct proto_reader r;
	CK_ATTRIBUTE *st;
	CK_ULONG n;
	bool small;

	(void)state;
	assert_int_equal(proto_put_attr_query(&q, t, 3), 0);
	proto_reader_init(&r, q.data, q.len);
	assert_int_equal(proto_get_attr_query(&r, &a, &st, &n, &sh), 0);
	assert_int_equal(proto_reader_end(&r), 0);
	ASSERT_EVERY_PREFIX_FAILS(&q, proto_get_attr_query(&r_, &a, &st, &n, &sh));
	proto_reader_init(&r, q.data, q.len);
	proto_get_attr_query(&r, &a, &st, &n, &sh);

	/* What a backend does with them. */
	*(CK_ULONG *)st[0].pValue = CKO_PUBLIC_KEY;
	st[0].ulValueLen = sizeof(CK_ULONG);
	memcpy(st[1].pValue, "Kamu SM", 7);
	st[1].ulValueLen = 7;
	st[2].ulValueLen = 256;
	assert_int_equal(proto_put_attr_result(&res, st, sh, n), 0);

	proto_reader_init(&r, res.data, res.len);
	assert_int_equal(proto_get_attr_result(&r, t, 3, true, &small), 0);
	assert_false(small);
	assert_int_equal(cls, CKO_PUBLIC_KEY);
	assert_int_equal(t[1].ulValueLen, 7);
	assert_memory_equal(label, "Kamu SM", 7);
	assert_int_equal(t[2].ulValueLen, 256);
	t[0].ulValueLen = sizeof(cls);
	t[1].ulValueLen = sizeof(label);
	ASSERT_EVERY_PREFIX_FAILS(&res, proto_get_attr_result(&r_, t, 3, false, &small));
	proto_arena_free(&a);
	proto_buf_free(&q);
	proto_buf_free(&res);
}

static void test_attr_result_past_the_buffer_given_is_refused(void **state)
{
	CK_BYTE label[4];
	CK_ATTRIBUTE t = {CKA_LABEL, label, sizeof(label)};
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf q = PROTO_BUF_INIT(1024), res = PROTO_BUF_INIT(1024);
	struct proto_attr_shadow *sh;
	struct proto_reader r;
	CK_ATTRIBUTE *st;
	CK_ULONG n;

	(void)state;
	proto_put_attr_query(&q, &t, 1);
	proto_reader_init(&r, q.data, q.len);
	assert_int_equal(proto_get_attr_query(&r, &a, &st, &n, &sh), 0);
	st[0].ulValueLen = 1000; /* a backend lying about what it wrote */
	assert_int_equal(proto_put_attr_result(&res, st, sh, n), -EINVAL);
	proto_arena_free(&a);
	proto_buf_free(&q);
	proto_buf_free(&res);
}

/* ---- mechanisms ---- */

static void mech_round_trip(CK_MECHANISM *m, CK_MECHANISM **ret, struct proto_arena *a, struct proto_buf *b)
{
	struct proto_reader r;

	proto_buf_reset(b);
	assert_int_equal(proto_put_mechanism(b, m), 0);
	proto_reader_init(&r, b->data, b->len);
	assert_int_equal(proto_get_mechanism(&r, a, ret), 0);
	assert_int_equal(proto_reader_end(&r), 0);
	ASSERT_EVERY_PREFIX_FAILS(b, proto_get_mechanism(&r_, a, ret));
}

static void test_mechanism_struct_parameters_round_trip_field_by_field(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(1024);
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA384, CKG_MGF1_SHA384, 48};
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "label", 5};
	CK_BYTE pub[65] = {0x04, 1, 2, 3};
	CK_ECDH1_DERIVE_PARAMS ecdh = {CKD_NULL, 0, NULL, sizeof(pub), pub};
	CK_BYTE iv[12] = {9, 8, 7}, aad[3] = {'a', 'a', 'd'};
	CK_GCM_PARAMS gcm = {iv, sizeof(iv), 96, aad, sizeof(aad), 128};
	CK_MECHANISM m, *got;

	(void)state;
	m = (CK_MECHANISM){CKM_SHA384_RSA_PKCS_PSS, &pss, sizeof(pss)};
	mech_round_trip(&m, &got, &a, &b);
	{
		CK_RSA_PKCS_PSS_PARAMS *p = got->pParameter;

		assert_int_equal(got->mechanism, CKM_SHA384_RSA_PKCS_PSS);
		assert_int_equal(got->ulParameterLen, sizeof(pss));
		assert_true(p->hashAlg == CKM_SHA384 && p->mgf == CKG_MGF1_SHA384 && p->sLen == 48);
	}
	m = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	mech_round_trip(&m, &got, &a, &b);
	{
		CK_RSA_PKCS_OAEP_PARAMS *p = got->pParameter;

		assert_true(p->hashAlg == CKM_SHA256 && p->mgf == CKG_MGF1_SHA256 &&
		            p->source == CKZ_DATA_SPECIFIED && p->ulSourceDataLen == 5);
		assert_memory_equal(p->pSourceData, "label", 5);
	}
	m = (CK_MECHANISM){CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh)};
	mech_round_trip(&m, &got, &a, &b);
	{
		CK_ECDH1_DERIVE_PARAMS *p = got->pParameter;

		assert_true(p->kdf == CKD_NULL && p->pSharedData == NULL && p->ulSharedDataLen == 0 &&
		            p->ulPublicDataLen == sizeof(pub));
		assert_memory_equal(p->pPublicData, pub, sizeof(pub));
	}
	m = (CK_MECHANISM){CKM_AES_GCM, &gcm, sizeof(gcm)};
	mech_round_trip(&m, &got, &a, &b);
	{
		CK_GCM_PARAMS *p = got->pParameter;

		assert_true(p->ulIvLen == 12 && p->ulIvBits == 96 && p->ulAADLen == 3 && p->ulTagBits == 128);
		assert_memory_equal(p->pIv, iv, 12);
		assert_memory_equal(p->pAAD, aad, 3);
	}
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_mechanism_bytes_parameters_and_none_round_trip(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(1024);
	CK_BYTE iv[16] = {1, 2, 3, 4}, blob[5] = {5, 4, 3, 2, 1};
	CK_MECHANISM m, *got;

	(void)state;
	m = (CK_MECHANISM){CKM_AES_CBC_PAD, iv, sizeof(iv)};
	mech_round_trip(&m, &got, &a, &b);
	assert_int_equal(got->ulParameterLen, 16);
	assert_memory_equal(got->pParameter, iv, 16);

	/* Unknown (vendor) mechanisms cross too: no allowlist. */
	m = (CK_MECHANISM){CKM_VENDOR_DEFINED | 0x4b534d, blob, sizeof(blob)};
	mech_round_trip(&m, &got, &a, &b);
	assert_int_equal(got->mechanism, CKM_VENDOR_DEFINED | 0x4b534d);
	assert_memory_equal(got->pParameter, blob, 5);

	m = (CK_MECHANISM){CKM_ECDSA, NULL, 0};
	mech_round_trip(&m, &got, &a, &b);
	assert_null(got->pParameter);
	assert_int_equal(got->ulParameterLen, 0);

	/* A struct mechanism without its parameter is the backend's to refuse. */
	m = (CK_MECHANISM){CKM_RSA_PKCS_PSS, NULL, 0};
	mech_round_trip(&m, &got, &a, &b);
	assert_null(got->pParameter);

	mech_round_trip(NULL, &got, &a, &b);
	assert_null(got);
	proto_arena_free(&a);
	proto_buf_free(&b);
}

static void test_mechanism_with_unencoded_pointer_parameters_is_refused(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	CK_BYTE params[64] = {0};
	CK_MECHANISM m = {CKM_AES_CCM, params, sizeof(params)};

	(void)state;
	assert_int_equal(proto_mech_param_kind(CKM_AES_CCM), PROTO_MECH_PARAM_UNSUPPORTED);
	assert_int_equal(proto_mech_param_kind(CKM_PBE_SHA1_DES3_EDE_CBC), PROTO_MECH_PARAM_UNSUPPORTED);
	assert_int_equal(proto_put_mechanism(&b, &m), -EOPNOTSUPP);
	proto_buf_free(&b);
}

static void test_mechanism_struct_of_wrong_size_is_refused(void **state)
{
	struct proto_buf b = PROTO_BUF_INIT(1024);
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM m = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss) - 1};

	(void)state;
	assert_int_equal(proto_put_mechanism(&b, &m), -EINVAL);
	proto_buf_free(&b);
}

static void test_mechanism_bytes_where_a_struct_belongs_are_rejected(void **state)
{
	struct proto_arena a = PROTO_ARENA_INIT(PROTO_ARENA_MAX);
	struct proto_buf b = PROTO_BUF_INIT(1024);
	struct proto_reader r;
	CK_MECHANISM *got;

	(void)state;
	/* Raw bytes for a PSS mechanism would hand the backend a struct read from the wire. */
	proto_put_u8(&b, 1);
	proto_put_ulong(&b, CKM_RSA_PKCS_PSS);
	proto_put_u8(&b, PROTO_MECH_PARAM_BYTES);
	proto_put_maybe_bytes(&b, "012345678901234567890123", 24);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_mechanism(&r, &a, &got), -EBADMSG);

	/* A GCM structure for a mechanism that takes something else. */
	proto_buf_reset(&b);
	proto_put_u8(&b, 1);
	proto_put_ulong(&b, CKM_SHA256_RSA_PKCS);
	proto_put_u8(&b, PROTO_MECH_PARAM_GCM);
	proto_reader_init(&r, b.data, b.len);
	assert_int_equal(proto_get_mechanism(&r, &a, &got), -EBADMSG);
	proto_arena_free(&a);
	proto_buf_free(&b);
}

/* ---- frames that carry a PIN ---- */

#define TEST_PIN "97531864"

/* The VmFlags line of the mapping that holds p, from /proc/self/smaps ("" when none is found). */
static void vm_flags_of(const void *p, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			size_t n = strlen(line + 8);

			n = n < cap ? n : cap - 1;
			memcpy(out, line + 8, n);
			out[n] = '\0';
			break;
		}
	}
	fclose(f);
}

static bool has_flag(const char *flags, const char *flag)
{
	char want[8];

	snprintf(want, sizeof(want), " %s", flag);
	return strstr(flags, want) != NULL;
}

/* Whether this machine locks pages at all (a sandbox or a tiny RLIMIT_MEMLOCK may refuse every
 * mlock): only then can "locked" be required. No-dump and the wipe are required everywhere. Probed
 * with a page of the test's own (the system call: the sanitizers make mlock() a no-op). */
static bool can_lock(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char flags[256] = "";

	if (p != MAP_FAILED && syscall(SYS_mlock, p, 4096) == 0)
		vm_flags_of(p, flags, sizeof(flags));
	if (p != MAP_FAILED)
		munmap(p, 4096);
	if (!has_flag(flags, "lo"))
		print_message("# pages are not locked here: only no-dump and the wipe are checked\n");
	return has_flag(flags, "lo");
}

static void expect_secret_memory(const void *p)
{
	char flags[256];

	vm_flags_of(p, flags, sizeof(flags));
	if (!has_flag(flags, "dd"))
		fail_msg("%p is not in a no-dump mapping (VmFlags:%s)", p, flags);
	if (can_lock() && !has_flag(flags, "lo"))
		fail_msg("%p is not in a locked mapping (VmFlags:%s)", p, flags);
}

static void expect_wiped(const uint8_t *page, const char *what)
{
	for (size_t i = 0; i < PROTO_RX_LOCKED_MAX; i++)
		if (page[i] != 0)
			fail_msg("byte %zu of %s is not wiped", i, what);
}

static void login_frame(struct proto_buf *w, const char *pin)
{
	const struct rpc_call_desc *d = rpc_call_find(RPC_CALL_C_Login);
	union rpc_arg args[RPC_KINDS_MAX];

	memset(args, 0, sizeof(args));
	args[0].ul = 5;
	args[1].ul = CKU_USER;
	args[2].buf.p = (CK_BYTE_PTR)pin;
	args[2].buf.n = strlen(pin);
	assert_non_null(d);
	assert_int_equal(proto_frame_begin(w), 0);
	assert_int_equal(rpc_request_encode(d, args, w), 0);
	assert_int_equal(proto_frame_end(w), 0);
}

/* C_Login's frame is received into a locked, no-dump page, decoded into a locked arena, and no page
 * holds anything of it once the frame is done. It came in pieces: the first piece waits in a locked page
 * of the connection's own, and the loop's shared page keeps nothing of it meanwhile. */
static void test_pin_frame_is_received_into_locked_memory_and_wiped(void **state)
{
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_arena a;
	union rpc_arg args[RPC_KINDS_MAX];
	struct proto_reader r;
	struct proto_rx_shared sh;
	struct proto_rx rx;
	const uint8_t *msg;
	uint32_t len, id;
	bool locked = false;
	int sv[2];

	assert_true(rpc_call_carries_pin(RPC_CALL_C_Login));
	assert_true(rpc_call_carries_pin(RPC_CALL_C_SetPIN));
	assert_true(rpc_call_carries_pin(RPC_CALL_C_InitPIN));
	assert_false(rpc_call_carries_pin(RPC_CALL_C_Sign));
	rpc_request_arena_init(&a, RPC_CALL_C_Sign);
	assert_false(a.locked);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(proto_rx_shared_init(&sh), 0);
	expect_secret_memory(sh.page);
	proto_rx_init(&rx, &sh);
	login_frame(&w, TEST_PIN);
	/* In two pieces, as a socket may deliver it. */
	assert_int_equal(write(sv[0], w.data, 10), 10);
	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), -EAGAIN);
	assert_false(proto_rx_idle(&rx));
	assert_non_null(rx.page);
	assert_ptr_not_equal(rx.page, sh.page);
	expect_secret_memory(rx.page);
	assert_false(sh.busy);
	expect_wiped(sh.page, "the shared page, while a frame's start waits");
	assert_int_equal(write(sv[0], w.data + 10, w.len - 10), (ssize_t)(w.len - 10));
	proto_buf_free(&w);
	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), 0);
	assert_true(locked);
	assert_ptr_equal(msg, rx.page + PROTO_FRAME_HEADER);
	assert_non_null(memmem(msg, len, TEST_PIN, strlen(TEST_PIN)));

	/* Decoded as the server does: the PIN's copy is in locked pages too. */
	proto_reader_init(&r, msg, len);
	assert_int_equal(proto_get_u32(&r, &id), 0);
	assert_int_equal(id, RPC_CALL_C_Login);
	rpc_request_arena_init(&a, id);
	assert_true(a.locked);
	assert_int_equal(rpc_request_decode(rpc_call_find(id), &r, &a, args), 0);
	assert_int_equal(args[2].buf.n, strlen(TEST_PIN));
	assert_memory_equal(args[2].buf.p, TEST_PIN, strlen(TEST_PIN));
	expect_secret_memory(args[2].buf.p);
	proto_arena_free(&a);

	proto_rx_done(&rx);
	assert_true(proto_rx_idle(&rx));
	/* The connection's own page went back (wiped by proto_secret_pages_free) with its last byte. */
	assert_null(rx.page);
	expect_wiped(sh.page, "the shared page");
	proto_rx_free(&rx);
	assert_null(rx.page);
	proto_rx_shared_free(&sh);
	close(sv[0]);
	close(sv[1]);
}

/* imzad keeps a few freed secret mappings for the next ones (proto_secret_pages_keep): one comes back
 * wiped, locked and no-dump, for a request of its length only; with keeping off (the module's default)
 * a freed mapping is unmapped at once. */
static void test_kept_secret_pages_come_back_wiped_and_locked(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char vec;
	uint8_t *p, *q, *r;
	bool locked = false;

	proto_secret_pages_keep(1);
	p = proto_secret_pages_new(page, NULL);
	assert_non_null(p);
	memset(p, 0xA5, page);
	proto_secret_pages_free(p, page);
	/* Another length is not served from it. */
	r = proto_secret_pages_new(2 * page, NULL);
	assert_non_null(r);
	assert_ptr_not_equal(r, p);
	q = proto_secret_pages_new(page, &locked);
	assert_ptr_equal(q, p);
	assert_int_equal(locked, can_lock());
	for (size_t i = 0; i < page; i++)
		if (q[i] != 0)
			fail_msg("byte %zu of a kept page is not wiped", i);
	expect_secret_memory(q);
	proto_secret_pages_free(r, 2 * page);

	proto_secret_pages_keep(0);
	proto_secret_pages_free(q, page);
	/* Unmapped: mincore refuses an address with no mapping. */
	assert_int_equal(mincore(q, page, &vec), -1);
	assert_int_equal(errno, ENOMEM);
	p = proto_secret_pages_new(2 * page, NULL);
	assert_non_null(p);
	proto_secret_pages_free(p, 2 * page);
}

/* Connections receive into the loop's one locked page, which holds nothing once a frame is done: a
 * thousand idle connections hold no page each. A connection that reads while another's frame is still
 * in it gets a locked page of its own for that frame. */
static void test_connections_share_one_locked_page_wiped_after_each_frame(void **state)
{
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_rx_shared sh;
	struct proto_rx a, b;
	const uint8_t *msg, *msg_b;
	uint32_t len, len_b;
	bool locked = false;
	int sa[2], sb[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sa), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sb), 0);
	assert_int_equal(proto_rx_shared_init(&sh), 0);
	proto_rx_init(&a, &sh);
	proto_rx_init(&b, &sh);
	assert_null(a.page);
	assert_null(b.page);
	login_frame(&w, TEST_PIN);
	for (int round = 0; round < 2; round++) {
		struct proto_rx *rx = round == 0 ? &a : &b;
		int fd = round == 0 ? sa[1] : sb[1];

		assert_int_equal(write(round == 0 ? sa[0] : sb[0], w.data, w.len), (ssize_t)w.len);
		assert_int_equal(proto_rx_read(rx, fd, &msg, &len, &locked), 0);
		assert_true(locked);
		assert_true(sh.busy);
		assert_ptr_equal(msg, sh.page + PROTO_FRAME_HEADER);
		assert_non_null(memmem(msg, len, TEST_PIN, strlen(TEST_PIN)));
		proto_rx_done(rx);
		assert_false(sh.busy);
		assert_null(rx->page);
		assert_true(proto_rx_idle(rx));
		expect_wiped(sh.page, "the shared page");
	}
	/* b reads while a's frame is out: b's goes to a locked page of b's own, given back when done. */
	assert_int_equal(write(sa[0], w.data, w.len), (ssize_t)w.len);
	assert_int_equal(write(sb[0], w.data, w.len), (ssize_t)w.len);
	assert_int_equal(proto_rx_read(&a, sa[1], &msg, &len, &locked), 0);
	assert_int_equal(proto_rx_read(&b, sb[1], &msg_b, &len_b, &locked), 0);
	assert_true(locked);
	assert_ptr_equal(msg, sh.page + PROTO_FRAME_HEADER);
	assert_ptr_not_equal(b.page, sh.page);
	expect_secret_memory(b.page);
	assert_memory_equal(msg_b, msg, len);
	proto_rx_done(&b);
	assert_null(b.page);
	assert_true(sh.busy);
	proto_rx_done(&a);
	expect_wiped(sh.page, "the shared page");
	proto_buf_free(&w);
	proto_rx_free(&a);
	proto_rx_free(&b);
	proto_rx_shared_free(&sh);
	for (int i = 0; i < 2; i++) {
		close(sa[i]);
		close(sb[i]);
	}
}

/* A request and the next one sent at once are taken with one receive (the socket is left empty), and
 * both are served: the second, a PIN's, from the locked page, which is wiped after it. */
static void test_request_and_the_next_come_in_one_receive_and_both_are_served(void **state)
{
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX), both = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	const uint8_t first[] = {0, 0, 0, 4, 0, 0, 0, 1};
	struct proto_rx_shared sh;
	struct proto_rx rx;
	const uint8_t *msg;
	uint32_t len;
	bool locked = false;
	uint8_t peek;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(proto_rx_shared_init(&sh), 0);
	proto_rx_init(&rx, &sh);
	login_frame(&w, TEST_PIN);
	assert_int_equal(proto_put_raw(&both, first, sizeof(first)), 0);
	assert_int_equal(proto_put_raw(&both, w.data, w.len), 0);
	assert_int_equal(write(sv[0], both.data, both.len), (ssize_t)both.len);
	proto_buf_free(&both);

	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), 0);
	assert_int_equal(len, 4);
	assert_true(locked);
	assert_false(proto_rx_ready(&rx));
	assert_int_equal(recv(sv[1], &peek, 1, MSG_PEEK | MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* The next request waits in a locked page of this connection's own, not in the shared one. */
	assert_ptr_not_equal(rx.page, sh.page);
	expect_secret_memory(rx.page);
	expect_wiped(sh.page, "the shared page, while the next request waits");
	proto_rx_done(&rx);

	assert_true(proto_rx_ready(&rx));
	assert_false(proto_rx_idle(&rx));
	/* Served without the socket: the peer may even have gone. */
	close(sv[0]);
	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), 0);
	assert_true(locked);
	assert_int_equal(len, w.len - PROTO_FRAME_HEADER);
	assert_memory_equal(msg, w.data + PROTO_FRAME_HEADER, len);
	proto_buf_free(&w);
	proto_rx_done(&rx);
	assert_false(proto_rx_ready(&rx));
	assert_true(proto_rx_idle(&rx));
	assert_null(rx.page);
	expect_wiped(sh.page, "the shared page");
	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), -ECONNRESET);
	assert_true(proto_rx_idle(&rx));
	proto_rx_free(&rx);
	proto_rx_shared_free(&sh);
	close(sv[1]);
}

/* A frame over the page goes to heap (never a PIN's: the server refuses those); EOF between frames is
 * told from EOF inside one. */
static void test_large_frame_is_received_into_heap_and_eof_is_told(void **state)
{
	struct proto_rx_shared sh;
	struct proto_rx rx;
	uint8_t *big = calloc(1, 8192 + PROTO_FRAME_HEADER);
	const uint8_t *msg;
	uint32_t len;
	bool locked = true;
	int sv[2];

	assert_non_null(big);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(proto_rx_shared_init(&sh), 0);
	proto_rx_init(&rx, &sh);
	proto_frame_put_header(big, 8192);
	assert_int_equal(write(sv[0], big, 8192 + PROTO_FRAME_HEADER), 8192 + PROTO_FRAME_HEADER);
	while (proto_rx_read(&rx, sv[1], &msg, &len, &locked) == -EAGAIN)
		;
	assert_int_equal(len, 8192);
	assert_false(locked);
	proto_rx_done(&rx);
	/* Half a header, then EOF: not idle. */
	assert_int_equal(write(sv[0], big, 2), 2);
	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), -EAGAIN);
	close(sv[0]);
	assert_int_equal(proto_rx_read(&rx, sv[1], &msg, &len, &locked), -ECONNRESET);
	assert_false(proto_rx_idle(&rx));
	proto_rx_free(&rx);
	proto_rx_shared_free(&sh);
	close(sv[1]);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_version_parse_takes_major_minor_and_refuses_the_rest),
	        cmocka_unit_test(test_pin_frame_is_received_into_locked_memory_and_wiped),
	        cmocka_unit_test(test_large_frame_is_received_into_heap_and_eof_is_told),
	        cmocka_unit_test(test_request_and_the_next_come_in_one_receive_and_both_are_served),
	        cmocka_unit_test(test_connections_share_one_locked_page_wiped_after_each_frame),
	        cmocka_unit_test(test_kept_secret_pages_come_back_wiped_and_locked),
	        cmocka_unit_test(test_writer_encodes_fixed_width_big_endian),
	        cmocka_unit_test(test_integers_round_trip_at_their_limits),
	        cmocka_unit_test(test_writer_past_its_max_fails_and_error_is_sticky),
	        cmocka_unit_test(test_writer_truncate_drops_tail_and_clears_error),
	        cmocka_unit_test(test_reader_truncated_integer_sets_error_and_leaves_output_untouched),
	        cmocka_unit_test(test_reader_error_is_sticky),
	        cmocka_unit_test(test_reader_count_larger_than_remaining_sets_error),
	        cmocka_unit_test(test_reader_bytes_length_past_end_is_rejected),
	        cmocka_unit_test(test_reader_end_rejects_trailing_bytes),
	        cmocka_unit_test(test_maybe_bytes_keeps_null_distinct_from_empty),
	        cmocka_unit_test(test_outbuf_request_round_trips_each_state),
	        cmocka_unit_test(test_arena_memory_is_zeroed_and_aligned),
	        cmocka_unit_test(test_arena_refuses_allocations_past_its_bound),
	        cmocka_unit_test(test_arena_free_releases_everything_for_reuse),
	        cmocka_unit_test(test_frame_over_cap_is_rejected_before_alloc),
	        cmocka_unit_test(test_frame_at_cap_is_accepted_and_empty_frame_is_not),
	        cmocka_unit_test(test_frame_split_waits_for_the_whole_frame),
	        cmocka_unit_test(test_frame_begin_end_writes_the_length_header),
	        cmocka_unit_test(test_send_recv_frame_round_trips_a_frame_at_the_cap),
	        cmocka_unit_test(test_recv_frame_eof_mid_frame_is_connreset),
	        cmocka_unit_test(test_recv_answer_refuses_bytes_past_it_and_reads_large_ones_whole),
	        cmocka_unit_test(test_send_frame_to_closed_peer_is_epipe_not_sigpipe),
	        cmocka_unit_test(test_send_frame_refuses_empty_and_oversized_payloads),
	        cmocka_unit_test(test_hello_round_trips),
	        cmocka_unit_test(test_hello_major_mismatch_is_rejected),
	        cmocka_unit_test(test_hello_minor_is_negotiated_down_to_the_lower),
	        cmocka_unit_test(test_hello_rejects_control_bytes_and_long_names),
	        cmocka_unit_test(test_hello_with_unknown_client_kind_or_magic_is_rejected),
	        cmocka_unit_test(test_hello_truncated_at_every_offset_fails),
	        cmocka_unit_test(test_ulong_unavailable_information_is_all_ones_on_the_wire),
	        cmocka_unit_test(test_info_structures_round_trip_and_reject_truncation),
	        cmocka_unit_test(test_token_info_strings_cross_as_fixed_byte_counts),
	        cmocka_unit_test(test_attr_kind_classifies_by_type),
	        cmocka_unit_test(test_template_round_trips_every_value_kind),
	        cmocka_unit_test(test_template_null_crosses_as_null_with_its_count),
	        cmocka_unit_test(test_template_nesting_deeper_than_limit_is_rejected),
	        cmocka_unit_test(test_template_ulong_or_bool_value_of_wrong_size_is_rejected),
	        cmocka_unit_test(test_template_huge_count_is_rejected_before_alloc),
	        cmocka_unit_test(test_template_decode_stops_at_the_arena_bound),
	        cmocka_unit_test(test_attr_query_and_result_round_trip_with_length_only_and_values),
	        cmocka_unit_test(test_attr_result_past_the_buffer_given_is_refused),
	        cmocka_unit_test(test_mechanism_struct_parameters_round_trip_field_by_field),
	        cmocka_unit_test(test_mechanism_bytes_parameters_and_none_round_trip),
	        cmocka_unit_test(test_mechanism_with_unencoded_pointer_parameters_is_refused),
	        cmocka_unit_test(test_mechanism_struct_of_wrong_size_is_refused),
	        cmocka_unit_test(test_mechanism_bytes_where_a_struct_belongs_are_rejected),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
