/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gen-proto-corpus: writes the seed corpus of fuzz-proto into the directory given: for every
 * row of the signature table, a request frame with sample arguments (server side) and the
 * response the fake backend gives to it (client side), plus a HELLO followed by a call and a
 * HELLO reply. Seeds are valid encodings so the fuzzer starts deep inside every decoder.
 * Run it again when the table or an encoding changes, and commit the result. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto-frame.h"
#include "proto-hello.h"
#include "rpc.h"
#include "proto-fake.h"

/* Writes prefix (the two selector bytes of fuzz-proto) and data to dir/name. */
static int write_seed(const char *dir, const char *name, uint8_t side, const struct proto_buf *b)
{
	const uint8_t prefix[2] = {side, 0};
	char path[4096];
	FILE *f;
	int w, ok;

	w = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (w < 0 || (size_t)w >= sizeof(path))
		return -1;
	f = fopen(path, "wb");
	if (!f)
		return -1;
	ok = fwrite(prefix, 1, 2, f) == 2 && fwrite(b->data, 1, b->len, f) == b->len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int frame_of(struct proto_buf *frame, const struct proto_buf *payload)
{
	proto_frame_begin(frame);
	proto_put_raw(frame, payload->data, payload->len);
	return proto_frame_end(frame);
}

int main(int argc, char **argv)
{
	struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX), resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_buf frame = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_buf hello = PROTO_BUF_INIT(1024);
	struct fake_ctx ctx = {0};
	static struct fake_store store;
	union rpc_arg args[RPC_KINDS_MAX];
	struct proto_hello h = {PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR, PROTO_CLIENT_PKCS11, 1,
	                        "pkcs11-tool"};
	struct proto_hello_reply hr = {PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR, "imzad 0.1.0"};
	char name[128];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < rpc_calls_count; i++) {
		const struct rpc_call_desc *d = rpc_calls[i];

		proto_buf_reset(&req);
		proto_buf_reset(&resp);
		fake_caller_args(d, &store, args);
		if (rpc_request_encode(d, args, &req) < 0 ||
		    rpc_server_dispatch(&fake_ops, &ctx, req.data, req.len, &resp) < 0 ||
		    frame_of(&frame, &req) < 0)
			return 1;
		snprintf(name, sizeof(name), "req-%s", d->name);
		if (write_seed(argv[1], name, 0, &frame) < 0)
			return 1;
		snprintf(name, sizeof(name), "resp-%s", d->name);
		if (write_seed(argv[1], name, 1, &resp) < 0)
			return 1;
	}

	/* A connection's start: HELLO, then a call. */
	if (proto_hello_encode(&hello, &h) < 0 || frame_of(&frame, &hello) < 0)
		return 1;
	proto_buf_reset(&req);
	fake_caller_args(rpc_call_find(RPC_CALL_C_GetSlotList), &store, args);
	rpc_request_encode(rpc_call_find(RPC_CALL_C_GetSlotList), args, &req);
	{
		struct proto_buf both = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX * 2);

		proto_put_raw(&both, frame.data, frame.len);
		if (frame_of(&frame, &req) < 0)
			return 1;
		proto_put_raw(&both, frame.data, frame.len);
		if (both.error || write_seed(argv[1], "hello-then-call", 0, &both) < 0)
			return 1;
		proto_buf_free(&both);
	}
	proto_buf_reset(&hello);
	if (proto_hello_reply_encode(&hello, &hr) < 0 || write_seed(argv[1], "hello-reply", 1, &hello) < 0)
		return 1;

	proto_buf_free(&req);
	proto_buf_free(&resp);
	proto_buf_free(&frame);
	proto_buf_free(&hello);
	return 0;
}
