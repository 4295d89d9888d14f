/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's RPC server loop (daemon/server.c) driven over real Unix sockets in one process: the order in
 * which applications with requests waiting are served. Two applications come from this one process by
 * their client kinds (the server tells applications apart by pid, uid and kind). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "daemon/wiring.h"
#include "daemon/daemon.h"
#include "daemon/server.h"
#include "daemon/card/token.h"
#include "protocol/proto-frame.h"
#include "protocol/proto-hello.h"
#include "protocol/rpc.h"

#define BUSY_CONNS 6
/* More listing applications than the loop reads between two looks for new events (READS_PER_POLL). */
#define LISTERS 12

struct fixture {
	char dir[64], path[128];
	struct daemon d;
	struct server_handlers h;
	struct server *srv;
};

/* The kinds of the applications whose calls the server started, in its order. */
static int started[64];
static size_t nstarted;

static void record_call_start(struct app *a)
{
	if (nstarted < sizeof(started) / sizeof(started[0]))
		started[nstarted++] = a->kind;
	app_call_start(a);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int fd;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/imza-test-server.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/s.sock", fx->dir);
	fx->d.next_slot_id = 1;
	assert_int_equal(server_event_base_new(&fx->d.base), 0);
	assert_int_equal(server_bind(fx->path, true, &fd), 0);
	assert_int_equal(imzad_wire(&fx->d), 0);
	fx->h = imzad_handlers;
	fx->h.call_start = record_call_start;
	nstarted = 0;
	assert_int_equal(server_new(&fx->d, &fx->h, fd, 64, &fx->srv), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	server_free(fx->srv);
	event_base_free(fx->d.base);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int client_connect(struct fixture *fx)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, fx->path, strlen(fx->path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_hello(int fd, enum proto_client_kind kind)
{
	struct proto_hello h = {.major = PROTO_VERSION_MAJOR, .minor = PROTO_VERSION_MINOR, .kind = kind};
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);

	h.pid = (uint32_t)getpid();
	snprintf(h.app_name, sizeof(h.app_name), "test-server");
	assert_int_equal(proto_hello_encode(&w, &h), 0);
	assert_int_equal(proto_send_frame(fd, w.data, w.len), 0);
	proto_buf_free(&w);
}

/* A connection whose peer is another process (a child that connects and exits): another application
 * for the server, which tells them apart by the connecting pid. */
static int client_connect_from_child(struct fixture *fx)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), st = -1;
	pid_t pid;

	assert_true(fd >= 0);
	memcpy(sa.sun_path, fx->path, strlen(fx->path) + 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return fd;
}

/* A call that uses a key, with a session handle nobody has: the answer is an error, the call counts. */
static void send_key_call(int fd, uint32_t id)
{
	const struct rpc_call_desc *d = rpc_call_find(id);
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	union rpc_arg args[RPC_KINDS_MAX] = {0};
	CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
	CK_BYTE data[32] = {0}, sig[64];
	CK_ULONG siglen = sizeof(sig);

	assert_non_null(d);
	args[0].ul = 77;
	if (id == RPC_CALL_C_SignInit) {
		args[1].mech = &m;
		args[2].ul = 1;
	} else {
		args[1].buf.p = data;
		args[1].buf.n = sizeof(data);
		args[2].out.p = sig;
		args[2].out.n = &siglen;
	}
	assert_int_equal(rpc_request_encode(d, args, &w), 0);
	assert_int_equal(proto_send_frame(fd, w.data, w.len), 0);
	proto_buf_free(&w);
}

/* C_GetInfo, encoded as the module does. */
static void send_getinfo(int fd)
{
	const struct rpc_call_desc *d = rpc_call_find(RPC_CALL_C_GetInfo);
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	union rpc_arg args[RPC_KINDS_MAX] = {0};
	CK_INFO info;

	assert_non_null(d);
	args[0].info = &info;
	assert_int_equal(rpc_request_encode(d, args, &w), 0);
	assert_int_equal(proto_send_frame(fd, w.data, w.len), 0);
	proto_buf_free(&w);
}

/* Whether a reply is waiting on fd (without taking it). */
static bool has_reply(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void take_reply(int fd)
{
	struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);

	assert_int_equal(proto_recv_frame(fd, &b), 0);
	proto_buf_free(&b);
}

/* Runs the loop until every fd in fds has a reply, or fails after a bound of turns. */
static void run_until_answered(struct fixture *fx, const int *fds, size_t n)
{
	for (int turn = 0; turn < 1000; turn++) {
		size_t got = 0;

		for (size_t i = 0; i < n; i++)
			got += has_reply(fds[i]);
		if (got == n)
			return;
		event_base_loop(fx->d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	fail_msg("no reply after 1000 turns of the loop");
}

/* A connection that has sent its HELLO: from this process, or from a child (another application). */
static int connect_as(struct fixture *fx, enum proto_client_kind kind, bool apart)
{
	int fd = apart ? client_connect_from_child(fx) : client_connect(fx);

	send_hello(fd, kind);
	return fd;
}

/* The HELLOs of fds answered, and the answers taken. */
static void hello_answered(struct fixture *fx, const int *fds, size_t n)
{
	run_until_answered(fx, fds, n);
	for (size_t i = 0; i < n; i++)
		take_reply(fds[i]);
}

/* An application with many connections, each with a request ready, and another application with one:
 * the second is answered before the first's second request, however the socket events are ordered
 * (before round-robin between applications, all six of the busy one's requests went first). */
static void test_app_with_many_connections_gets_one_call_per_round(void **state)
{
	struct fixture *fx = *state;
	int busy[BUSY_CONNS], other, all[BUSY_CONNS + 1];
	size_t busy_answered = 0;
	int turn;

	for (int i = 0; i < BUSY_CONNS; i++)
		busy[i] = all[i] = connect_as(fx, PROTO_CLIENT_PKCS11, false);
	other = all[BUSY_CONNS] = connect_as(fx, PROTO_CLIENT_CLI, false);
	hello_answered(fx, all, BUSY_CONNS + 1);

	/* The busy application's requests are all in the sockets before the other's. */
	for (int i = 0; i < BUSY_CONNS; i++)
		send_getinfo(busy[i]);
	send_getinfo(other);
	for (turn = 0; turn < 1000 && !has_reply(other); turn++)
		event_base_loop(fx->d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_true(has_reply(other));
	for (int i = 0; i < BUSY_CONNS; i++)
		busy_answered += has_reply(busy[i]);
	assert_int_equal(busy_answered, 1);

	/* The rest of the busy application's requests are served in the next rounds, none is lost. */
	run_until_answered(fx, busy, BUSY_CONNS);
	for (int i = 0; i <= BUSY_CONNS; i++) {
		take_reply(all[i]);
		close(all[i]);
	}
}

/* One application alone is never held back by the rounds: its connections' requests are all answered,
 * one round each, with nothing else to serve in between. */
static void test_lone_app_is_served_on_every_connection(void **state)
{
	struct fixture *fx = *state;
	int fds[BUSY_CONNS];

	for (int i = 0; i < BUSY_CONNS; i++) {
		fds[i] = client_connect(fx);
		send_hello(fds[i], PROTO_CLIENT_PKCS11);
	}
	run_until_answered(fx, fds, BUSY_CONNS);
	for (int i = 0; i < BUSY_CONNS; i++) {
		take_reply(fds[i]);
		send_getinfo(fds[i]);
	}
	run_until_answered(fx, fds, BUSY_CONNS);
	for (int i = 0; i < BUSY_CONNS; i++) {
		take_reply(fds[i]);
		close(fds[i]);
	}
}

/* A signer among many listing applications: after its C_SignInit, its C_Sign is read ahead of the
 * listing requests that were in their sockets before it (before, it waited for all of them: with 200
 * listing programs, a round of them for each call of a signature). */
static void test_key_call_is_read_ahead_of_listing(void **state)
{
	struct fixture *fx = *state;
	int lister[LISTERS], signer, all[LISTERS + 1];

	for (int i = 0; i < LISTERS; i++)
		lister[i] = all[i] = connect_as(fx, PROTO_CLIENT_PKCS11, true);
	signer = all[LISTERS] = connect_as(fx, PROTO_CLIENT_CLI, false);
	hello_answered(fx, all, LISTERS + 1);
	send_key_call(signer, RPC_CALL_C_SignInit);
	run_until_answered(fx, &signer, 1);
	take_reply(signer);

	for (int i = 0; i < LISTERS; i++)
		send_getinfo(lister[i]);
	send_key_call(signer, RPC_CALL_C_Sign);
	nstarted = 0;
	/* The listing requests are all answered all the same; the signer's was started first. */
	run_until_answered(fx, all, LISTERS + 1);
	assert_int_equal(nstarted, LISTERS + 1);
	assert_int_equal(started[0], PROTO_CLIENT_CLI);
	for (size_t i = 1; i < nstarted; i++)
		assert_int_equal(started[i], PROTO_CLIENT_PKCS11);
	for (int i = 0; i <= LISTERS; i++) {
		take_reply(all[i]);
		close(all[i]);
	}
}

/* Reading ahead has a cap: an application with many connections that each call C_SignInit in a loop
 * has at most AHEAD_MAX_IN_ROW (4) of them read before a listing request that waits is read. */
static void test_reading_ahead_leaves_listing_its_share(void **state)
{
	struct fixture *fx = *state;
	int busy[2 * BUSY_CONNS], lister, all[2 * BUSY_CONNS + 1];

	for (int i = 0; i < 2 * BUSY_CONNS; i++)
		busy[i] = all[i] = connect_as(fx, PROTO_CLIENT_CLI, false);
	lister = all[2 * BUSY_CONNS] = connect_as(fx, PROTO_CLIENT_PKCS11, true);
	hello_answered(fx, all, 2 * BUSY_CONNS + 1);
	for (int i = 0; i < 2 * BUSY_CONNS; i++) {
		send_key_call(busy[i], RPC_CALL_C_SignInit);
		run_until_answered(fx, &busy[i], 1);
		take_reply(busy[i]);
	}

	send_getinfo(lister);
	for (int i = 0; i < 2 * BUSY_CONNS; i++)
		send_key_call(busy[i], RPC_CALL_C_SignInit);
	nstarted = 0;
	run_until_answered(fx, all, 2 * BUSY_CONNS + 1);
	assert_int_equal(nstarted, 2 * BUSY_CONNS + 1);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(started[i], PROTO_CLIENT_CLI);
	assert_int_equal(started[4], PROTO_CLIENT_PKCS11);
	for (int i = 0; i <= 2 * BUSY_CONNS; i++) {
		take_reply(all[i]);
		close(all[i]);
	}
}

/* One call on fd, answered by the loop; its results written into args. */
static CK_RV call_on(struct fixture *fx, int fd, uint32_t id, union rpc_arg *args)
{
	const struct rpc_call_desc *d = rpc_call_find(id);
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX), b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	CK_RV rv = CKR_GENERAL_ERROR;

	assert_non_null(d);
	assert_int_equal(rpc_request_encode(d, args, &w), 0);
	assert_int_equal(proto_send_frame(fd, w.data, w.len), 0);
	proto_buf_free(&w);
	run_until_answered(fx, &fd, 1);
	assert_int_equal(proto_recv_frame(fd, &b), 0);
	assert_int_equal(rpc_response_decode(d, args, b.data, b.len, &rv), 0);
	proto_buf_free(&b);
	return rv;
}

/* A session holds no operation state while no operation runs (a thousand applications each with an
 * idle session must stay small): C_FindObjectsInit makes it, C_FindObjectsFinal frees it, and a
 * session closed in the middle of a search takes its state along. */
/* Replies sent straight to the socket while nothing is queued, and queued behind what it did not take:
 * an application that sends thousands of requests at once and reads nothing meanwhile fills imzad's
 * side of the socket, and every reply still comes whole and in order once it reads (C_GetInfo and
 * C_GetSessionInfo alternated: their replies differ in length, so a reply sent past a queued one, or
 * into the middle of one, would show as a wrong id or a frame that does not parse). */
#define PIPELINED 4000
static void test_replies_queued_behind_a_full_socket_keep_their_order(void **state)
{
	struct fixture *fx = *state;
	int fd = connect_as(fx, PROTO_CLIENT_PKCS11, false);
	uint8_t *all = malloc(PIPELINED * 64);
	size_t len = 0, off = 0, got = 0, replies = 0;
	int turns = 0, in_socket = 0;

	assert_non_null(all);
	hello_answered(fx, &fd, 1);
	for (int i = 0; i < PIPELINED; i++) {
		const struct rpc_call_desc *d =
		        rpc_call_find(i % 2 ? RPC_CALL_C_GetSessionInfo : RPC_CALL_C_GetInfo);
		struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		union rpc_arg args[RPC_KINDS_MAX] = {0};
		CK_INFO info;
		CK_SESSION_INFO si;

		args[0].ul = 77;
		if (i % 2)
			args[1].session_info = &si;
		else
			args[0].info = &info;
		proto_frame_begin(&w);
		assert_int_equal(rpc_request_encode(d, args, &w), 0);
		assert_int_equal(proto_frame_end(&w), 0);
		assert_true(len + w.len <= PIPELINED * 64);
		memcpy(all + len, w.data, w.len);
		len += w.len;
		proto_buf_free(&w);
	}
	/* Sent in pieces as the loop takes them (this process is both ends), nothing read. */
	while (off < len) {
		ssize_t n = send(fd, all + off, len - off, MSG_DONTWAIT);

		if (n > 0)
			off += (size_t)n;
		else
			assert_true(errno == EAGAIN);
		event_base_loop(fx->d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	free(all);
	for (int turn = 0; turn < 4 * PIPELINED; turn++)
		event_base_loop(fx->d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(ioctl(fd, FIONREAD, &in_socket), 0);
	while (got < PIPELINED && turns++ < 100 * PIPELINED) {
		struct proto_buf b = PROTO_BUF_INIT(PROTO_FRAME_MAX);
		struct proto_reader r;
		uint32_t id;
		uint64_t rv;

		if (!has_reply(fd)) {
			event_base_loop(fx->d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
			continue;
		}
		assert_int_equal(proto_recv_frame(fd, &b), 0);
		replies += PROTO_FRAME_HEADER + b.len;
		proto_reader_init(&r, b.data, b.len);
		assert_int_equal(proto_get_u32(&r, &id), 0);
		assert_int_equal(id, got % 2 ? RPC_CALL_C_GetSessionInfo : RPC_CALL_C_GetInfo);
		assert_int_equal(proto_get_u64(&r, &rv), 0);
		assert_int_equal(rv, got % 2 ? CKR_SESSION_HANDLE_INVALID : CKR_OK);
		proto_buf_free(&b);
		got++;
	}
	assert_int_equal(got, PIPELINED);
	/* More than the socket held had waited on imzad's side: the queued path ran. */
	assert_true((size_t)in_socket < replies);
	close(fd);
}

static void test_session_with_no_operation_holds_no_operation_state(void **state)
{
	static const uint8_t guid[16] = {1};
	struct fixture *fx = *state;
	union rpc_arg args[RPC_KINDS_MAX];
	CK_SESSION_HANDLE h = 0;
	struct session *sess;
	CK_OBJECT_HANDLE found[4];
	CK_ULONG nfound = 0;
	int fd;

	fx->d.slots[0] = (struct slot){.used = true, .id = 1, .card_seq = 1};
	fx->d.slots[0].token = token_new("test", guid);
	assert_non_null(fx->d.slots[0].token);
	fd = client_connect(fx);
	send_hello(fd, PROTO_CLIENT_PKCS11);
	run_until_answered(fx, &fd, 1);
	take_reply(fd);

	memset(args, 0, sizeof(args));
	args[0].ul = 1;
	args[1].ul = CKF_SERIAL_SESSION;
	args[3].pul = &h;
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_OpenSession, args), CKR_OK);
	assert_non_null(fx->d.apps);
	sess = app_session(fx->d.apps, h);
	assert_non_null(sess);
	assert_null(sess->op);
	assert_null(sess->find);
	/* Handles and flags: no operation's buffers inline. */
	assert_true(sizeof(struct session) <= 64);

	memset(args, 0, sizeof(args));
	args[0].ul = h;
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_FindObjectsInit, args), CKR_OK);
	assert_non_null(sess->find);
	assert_int_equal(sess->find->kind, OP_FIND);
	assert_null(sess->op);
	memset(args, 0, sizeof(args));
	args[0].ul = h;
	args[1].handles.p = found;
	args[1].handles.max = 4;
	args[1].handles.n = &nfound;
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_FindObjects, args), CKR_OK);
	assert_int_equal(nfound, 0);
	memset(args, 0, sizeof(args));
	args[0].ul = h;
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_FindObjectsFinal, args), CKR_OK);
	assert_null(sess->find);
	/* Ended again: nothing to end. */
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_FindObjectsFinal, args), CKR_OPERATION_NOT_INITIALIZED);

	/* Closed mid-search (ASan sees the state freed, not leaked). */
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_FindObjectsInit, args), CKR_OK);
	assert_non_null(sess->find);
	assert_int_equal(call_on(fx, fd, RPC_CALL_C_CloseSession, args), CKR_OK);
	assert_null(app_session(fx->d.apps, h));
	close(fd);
	for (int turn = 0; turn < 100 && fx->d.apps; turn++)
		event_base_loop(fx->d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	token_free(fx->d.slots[0].token);
	fx->d.slots[0].token = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_app_with_many_connections_gets_one_call_per_round, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_lone_app_is_served_on_every_connection, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_key_call_is_read_ahead_of_listing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reading_ahead_leaves_listing_its_share, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_replies_queued_behind_a_full_socket_keep_their_order,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_session_with_no_operation_holds_no_operation_state,
	                                        setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
