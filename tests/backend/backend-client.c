/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-client: drives imza-backend as imzad will, through the RPC client stubs over a socketpair,
 * and prints "ok - ..." / "not ok - ..." lines for tests/integration/backend-helper.sh.
 *
 *   backend-client BACKEND MODULE CHECK [ARG]
 *     token LABEL PIN SIGFILE   the token is listed with its label; key 01 signs "imza backend" with
 *                               CKM_SHA256_RSA_PKCS into SIGFILE (the script verifies it)
 *     unsupported               a NULL entry of the module's list answers CKR_FUNCTION_NOT_SUPPORTED
 *     crash                     the backend dies inside a call: the caller gets an end, not a hang
 *     garbage                   an unknown call id is answered CKR_FUNCTION_NOT_SUPPORTED; a request cut
 *                               short, or a header over the frame cap, ends the backend (status 1)
 *     eof                       closing our end ends the backend with status 0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol/proto-buf.h"
#include "protocol/proto-frame.h"
#include "protocol/rpc.h"

static int fd = -1;
static pid_t pid = -1;
static struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX), resp = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);

static void check(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
}

static int start(const char *backend, const char *module)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(sv[1], 0);
		execl(backend, backend, "--module", module, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	fd = sv[0];
	/* A hung backend must not hang the test. */
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* The backend's exit: status, 128+signal, or -1 if it did not end within 5 s. */
static int reap(void)
{
	int st;

	for (int i = 0; i < 50; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Sends what the stub encoded into req, receives the answer into resp. */
static int roundtrip(void)
{
	int e = proto_send_frame(fd, req.data, req.len);

	if (e == 0)
		e = proto_recv_frame(fd, &resp);
	return e;
}

#define CALL(name, ...)                                                                     \
	({                                                                                  \
		CK_RV rv_ = CKR_GENERAL_ERROR;                                              \
		proto_buf_reset(&req);                                                      \
		int e_ = rpc_##name##_request(&req, __VA_ARGS__);                           \
		if (e_ == 0)                                                                \
			e_ = roundtrip();                                                   \
		if (e_ == 0)                                                                \
			e_ = rpc_##name##_response(resp.data, resp.len, &rv_, __VA_ARGS__); \
		e_ < 0 ? (CK_RV)-1 : rv_;                                                   \
	})

static int check_token(const char *label, const char *pin, const char *sigfile)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8, found = 0, siglen = 512;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s = 0;
	CK_OBJECT_HANDLE key = 0;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BYTE id = 1, sig[512];
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, &id, 1}};
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
	static const char data[] = "imza backend";
	char got[33];
	FILE *f;

	/* SoftHSM lists its token and a free slot for the next one. */
	check(CALL(C_GetSlotList, CK_TRUE, slots, &n) == CKR_OK && n >= 1,
	      "C_GetSlotList: the token's slot first");
	check(CALL(C_GetTokenInfo, slots[0], &ti) == CKR_OK, "C_GetTokenInfo answers");
	memcpy(got, ti.label, 32);
	got[32] = 0;
	for (int i = 31; i >= 0 && got[i] == ' '; i--)
		got[i] = 0;
	check(strcmp(got, label) == 0, "the token's label comes through whole");
	check(CALL(C_OpenSession, slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK, "C_OpenSession");
	check(CALL(C_Login, s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK,
	      "C_Login with the PIN");
	check(CALL(C_FindObjectsInit, s, t, 2) == CKR_OK &&
	              CALL(C_FindObjects, s, &key, 1, &found) == CKR_OK &&
	              CALL(C_FindObjectsFinal, s) == CKR_OK && found == 1,
	      "key 01 found");
	check(CALL(C_SignInit, s, &m, key) == CKR_OK &&
	              CALL(C_Sign, s, (CK_BYTE_PTR)data, sizeof(data) - 1, sig, &siglen) == CKR_OK &&
	              siglen == 256,
	      "key 01 signs (CKM_SHA256_RSA_PKCS, 256 bytes)");
	f = fopen(sigfile, "wb");
	if (f) {
		fwrite(sig, 1, siglen, f);
		fclose(f);
	}
	check(CALL(C_Logout, s) == CKR_OK && CALL(C_CloseSession, s) == CKR_OK, "C_Logout, C_CloseSession");
	return 0;
}

int main(int argc, char **argv)
{
	const char *what;
	int e, st;

	if (argc < 4)
		return 2;
	what = argv[3];
	signal(SIGPIPE, SIG_IGN);
	if (start(argv[1], argv[2]) < 0)
		return 1;
	if (strcmp(what, "token") == 0 && argc == 7) {
		check_token(argv[4], argv[5], argv[6]);
		close(fd);
		st = reap();
		check(st == 0, "the backend ends with status 0 when imzad closes its end");
	} else if (strcmp(what, "unsupported") == 0) {
		CK_SLOT_ID slot = 0;
		CK_RV rv = CALL(C_WaitForSlotEvent, CKF_DONT_BLOCK, &slot, NULL);

		check(rv == CKR_FUNCTION_NOT_SUPPORTED, "a NULL entry answers CKR_FUNCTION_NOT_SUPPORTED");
		CK_INFO info;
		check(CALL(C_GetInfo, &info) == CKR_OK && info.cryptokiVersion.major == 2 &&
		              info.cryptokiVersion.minor == 20,
		      "and the backend goes on: C_GetInfo says 2.20");
		close(fd);
		check(reap() == 0, "the backend ends with status 0");
	} else if (strcmp(what, "crash") == 0) {
		CK_INFO info;

		proto_buf_reset(&req);
		e = rpc_C_GetInfo_request(&req, &info);
		if (e == 0)
			e = roundtrip();
		check(e == -ECONNRESET,
		      "a call into a module that crashes ends with the connection, not a hang");
		st = reap();
		check(st == 128 + SIGSEGV, "the backend died of SIGSEGV");
	} else if (strcmp(what, "garbage") == 0 && argc == 5) {
		static const unsigned char unknown[] = {0x00, 0x00, 0x0f, 0xff, 1, 2, 3};
		static const unsigned char cut[] = {0x00, 0x00, 0x00, 0x02}; /* C_GetSlotList, no arguments */
		static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff};
		struct proto_reader r;
		uint32_t id = 0;
		uint64_t rv = 0;

		e = proto_send_frame(fd, unknown, sizeof(unknown));
		if (e == 0)
			e = proto_recv_frame(fd, &resp);
		proto_reader_init(&r, resp.data, resp.len);
		check(e == 0 && proto_get_u32(&r, &id) == 0 && proto_get_u64(&r, &rv) == 0 && id == 0xfff &&
		              rv == CKR_FUNCTION_NOT_SUPPORTED,
		      "an unknown call id is answered CKR_FUNCTION_NOT_SUPPORTED");
		if (strcmp(argv[4], "cut") == 0)
			e = proto_send_frame(fd, cut, sizeof(cut));
		else
			e = write(fd, huge, sizeof(huge)) == (ssize_t)sizeof(huge) ? 0 : -EIO;
		if (e == 0)
			e = proto_recv_frame(fd, &resp);
		check(e == -ECONNRESET,
		      strcmp(argv[4], "cut") == 0
		              ? "a request cut short gets no answer: the connection ends"
		              : "a header over the frame cap gets no answer: the connection ends");
		check(reap() == 1, "the backend ends with status 1");
	} else if (strcmp(what, "eof") == 0) {
		close(fd);
		check(reap() == 0, "closing imzad's end ends the backend with status 0");
	} else {
		return 2;
	}
	return 0;
}
