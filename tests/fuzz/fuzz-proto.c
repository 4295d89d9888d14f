/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-proto: the imza protocol as the daemon and the module see it from a hostile peer.
 * Input: byte 0 picks the side (even: server, odd: client), byte 1 the rv the fake backend
 * forces, the rest is the bytes from the peer. Server side: a stream of frames, each a HELLO or
 * a call dispatched through the server decoders of every call id into the fake backend, whose
 * results are encoded back. Client side: one response payload decoded into sample caller
 * arguments of the call it names, or a HELLO reply. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto-frame.h"
#include "proto-hello.h"
#include "rpc.h"
#include "proto-fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const CK_RV forced_rvs[] = {
        CKR_OK, /* the backend's own rv */
        CKR_BUFFER_TOO_SMALL,
        CKR_ATTRIBUTE_SENSITIVE,
        CKR_ATTRIBUTE_TYPE_INVALID,
        CKR_DEVICE_REMOVED,
};

static void server_side(const uint8_t *data, size_t size, CK_RV rv)
{
	struct fake_ctx ctx = {.force_rv = rv};
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	const uint8_t *payload;
	struct proto_hello hello;
	size_t used;
	uint32_t len;

	while (proto_frame_split(data, size, &payload, &len, &used) == 0) {
		if (len >= 4 && payload[0] == 0x49 && payload[1] == 0x4d && payload[2] == 0x5a &&
		    payload[3] == 0x41) {
			proto_hello_decode(payload, len, &hello);
		} else {
			if (proto_frame_begin(&resp) < 0)
				abort();
			/* A malformed call ends the connection: stop reading this stream. */
			if (rpc_server_dispatch(&fake_ops, &ctx, payload, len, &resp) < 0)
				break;
			/* A dispatched call always has a response that fits a frame. */
			if (proto_frame_end(&resp) < 0)
				abort();
		}
		data += used;
		size -= used;
	}
	proto_buf_free(&resp);
}

static void client_side(const uint8_t *data, size_t size)
{
	static struct fake_store store;
	union rpc_arg args[RPC_KINDS_MAX];
	const struct rpc_call_desc *d;
	struct proto_hello_reply reply;
	CK_RV rv;

	if (size >= 4) {
		d = rpc_call_find((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
		                  data[3]);
		if (d) {
			fake_caller_args(d, &store, args);
			rpc_response_decode(d, args, data, size, &rv);
		}
	}
	proto_hello_reply_decode(data, size, &reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] & 1)
		client_side(data + 2, size - 2);
	else
		server_side(data + 2, size - 2,
		            forced_rvs[data[1] % (sizeof(forced_rvs) / sizeof(forced_rvs[0]))]);
	return 0;
}
