/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's side of a vendor PKCS#11 module: the module runs in imza-backend, a process of its own that
 * imzad starts with one end of a socketpair as its standard input, and every call goes to it as one of
 * imza's RPC frames (protocol/rpc.h). imzad loads no vendor code into itself.
 *
 * A backend has a thread of its own that keeps the helper running and follows its tokens: while someone
 * listens (backend_listen) it looks at the slots every BACKEND_POLL_MS (with C_WaitForSlotEvent and
 * CKF_DONT_BLOCK when the module has it, the slot list only when that reports an event), once when asked,
 * and not at all otherwise; it reports tokens as they come and go (an uninitialised token
 * holds nothing to sign with and is not reported). Calls (from that
 * thread and from any other) are serialised per module, and each has a deadline: BACKEND_SIGN_TIMEOUT_MS
 * for what may wait on the card or the user (login, signature, decryption), BACKEND_CALL_TIMEOUT_MS for
 * the rest. A helper that misses a deadline is killed; one that died is started again after a back-off
 * that doubles from BACKEND_BACKOFF_MIN_MS to BACKEND_BACKOFF_MAX_MS (and starts over once a helper stayed
 * up for BACKEND_STABLE_MS); its tokens are reported gone meanwhile. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/proto-buf.h"
#include "protocol/rpc.h"

#ifndef BACKEND_CALL_TIMEOUT_MS
#define BACKEND_CALL_TIMEOUT_MS 5000
#endif
#ifndef BACKEND_SIGN_TIMEOUT_MS
#define BACKEND_SIGN_TIMEOUT_MS 60000
#endif
#define BACKEND_POLL_MS 500
/* With C_WaitForSlotEvent, the slots are still listed this often while someone listens. */
#define BACKEND_LIST_MS 5000
#define BACKEND_BACKOFF_MIN_MS 250
#ifndef BACKEND_BACKOFF_MAX_MS
#define BACKEND_BACKOFF_MAX_MS 30000
#endif
#define BACKEND_STABLE_MS 30000
/* Slots with a token that one module may show at once; more are ignored (and logged once). */
#define BACKEND_MAX_TOKENS 16

struct backend;

struct backend_token {
	CK_SLOT_ID slot;
	CK_SLOT_INFO slot_info;
	CK_TOKEN_INFO token_info;
};

/* Called on the backend's thread, never with a call in progress. */
struct backend_callbacks {
	/* A token is in the module's slot (a helper started again shows its tokens anew). */
	void (*token_present)(void *ud, struct backend *b, const struct backend_token *t);
	/* The token went: taken out, or its helper died or was killed. */
	void (*token_gone)(void *ud, struct backend *b, CK_SLOT_ID slot);
	/* After each look at the slots (every BACKEND_POLL_MS while someone listens). */
	void (*tick)(void *ud, struct backend *b);
	/* After a look that was asked for (at start, or by backend_listen turned on): what the slots
	 * held then has been reported. */
	void (*looked)(void *ud, struct backend *b);
};

/* Starts the backend's thread; the helper program (imza-backend) runs module. 0, or -ENOMEM. */
int backend_new(const char *module, const char *helper, const struct backend_callbacks *cb, void *ud,
                struct backend **ret);
/* Whether anyone follows the module's slots. The backend looks once when started; then at every
 * BACKEND_POLL_MS while on, not at all while off. Turned on, it looks at once (and calls looked). */
/* Whether the helper answered its last call: false while it is down, in its back-off, or after a call
 * it did not answer (a module that hangs), until it answers again. Any thread. */
bool backend_answering(struct backend *b);
void backend_listen(struct backend *b, bool on);
/* Stops the thread and the helper (EOF, then SIGKILL after a second); no callback runs after it. */
void backend_free(struct backend *b);

const char *backend_module(const struct backend *b);
/* The helper's pid (0 while none runs), and how many helpers were started so far. */
pid_t backend_pid(struct backend *b);
unsigned backend_starts(struct backend *b);

/* One call: req holds a request frame's payload (rpc_*_request); the answer's payload lands in resp,
 * whole: its first byte within timeout_ms, the rest at once after it. 0, -ETIMEDOUT (no answer, or
 * half of one, in time: the helper was killed), -EBADMSG (a malformed frame, or bytes nobody asked
 * for: killed), -ECONNRESET (it died), -EAGAIN (none runs now: back-off), or -ENOMEM. */
int backend_call(struct backend *b, const struct proto_buf *req, struct proto_buf *resp, unsigned timeout_ms);
/* The same, with the number of the helper that answered (see backend_distrust). */
int backend_call_from(struct backend *b, const struct proto_buf *req, struct proto_buf *resp,
                      unsigned timeout_ms, unsigned *ret_helper);
/* An answer of helper (backend_call_from's number) did not decode: that helper is killed, if it still
 * runs, and started again after the back-off. A helper is trusted for nothing it says. */
void backend_distrust(struct backend *b, unsigned helper);

/* BACKEND_CALL(b, timeout_ms, &rv, C_Name, args...): the call through the RPC stubs, 0 with the
 * module's CK_RV in *rv, or backend_call's error (or the codec's: the helper is distrusted). */
#define BACKEND_CALL(b, timeout_ms, rvp, name, ...)                                            \
	({                                                                                     \
		struct proto_buf req_ = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);                   \
		struct proto_buf resp_ = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);                  \
		unsigned h_ = 0;                                                               \
		int e_ = rpc_##name##_request(&req_, __VA_ARGS__);                             \
		if (e_ == 0)                                                                   \
			e_ = backend_call_from((b), &req_, &resp_, (timeout_ms), &h_);         \
		if (e_ == 0) {                                                                 \
			e_ = rpc_##name##_response(resp_.data, resp_.len, (rvp), __VA_ARGS__); \
			if (e_ < 0)                                                            \
				backend_distrust((b), h_);                                     \
		}                                                                              \
		proto_buf_free(&req_);                                                         \
		proto_buf_free(&resp_);                                                        \
		e_;                                                                            \
	})
