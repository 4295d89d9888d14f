/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-backend: runs one vendor PKCS#11 module apart from imzad. imzad starts it with one end of a
 * socketpair as its standard input (or --fd N) and speaks imza's RPC to it: the frames and the call
 * table the module uses (protocol/rpc.h), every call forwarded to the vendor's function list as it
 * came. A vendor module that crashes, hangs or leaks takes only this process with it.
 *
 * One request at a time, in order: every call to the vendor module is serialised, so a module that is
 * not thread-safe is safe here. A module that refuses OS locking (CKR_CANT_LOCK) is initialised again
 * with no arguments. The process ends when imzad closes its end (after C_Finalize), or on a malformed
 * frame (status 1). The request buffer is locked, kept out of core dumps and wiped after each call: a
 * C_Login frame carries the PIN. */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "protocol/pkcs11-3.h"
#include "protocol/proto-buf.h"
#include "protocol/proto-frame.h"
#include "protocol/rpc.h"

struct backend {
	void *dl;
	/* The vendor's functions: its 3.0 list when it offers one, else its 2.x list in the same leading
	 * layout with the 3.0 members NULL. NULL members (old or short lists) answer
	 * CKR_FUNCTION_NOT_SUPPORTED. */
	CK_FUNCTION_LIST_3_0 fl;
	bool initialised;
	bool os_locking; /* the module took CKF_OS_LOCKING_OK */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("imza-backend: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the call counter (IMZA_BACKEND_CALLS=1) ---- */

/* With IMZA_BACKEND_CALLS=1 in its environment, the helper counts the calls it forwards, per function,
 * and after each one says on stderr (imzad's log) how many of each it has made, in one line written
 * before the answer goes back: a test or the bench that sees an answer sees its count. Off, a call
 * costs one increment. */
enum {
#define RPC_CALL(name, id, ...) CALL_##name,
#include "protocol/rpc-calls.h"
#undef RPC_CALL
	CALLS_N
};
static const char *const call_names[CALLS_N] = {
#define RPC_CALL(name, id, ...) [CALL_##name] = #name,
#include "protocol/rpc-calls.h"
#undef RPC_CALL
};
static unsigned long calls[CALLS_N];
static bool say_calls;

static void report_calls(void)
{
	char line[4096];
	size_t n;
	int k;

	k = snprintf(line, sizeof(line), "imza-backend[%d]: calls", (int)getpid());
	n = k > 0 ? (size_t)k : 0;
	for (size_t i = 0; i < CALLS_N && n < sizeof(line); i++) {
		if (calls[i] == 0)
			continue;
		k = snprintf(line + n, sizeof(line) - n, " %s=%lu", call_names[i], calls[i]);
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write: the line lands whole among imzad's own. */
	(void)!write(STDERR_FILENO, line, n);
}

/* ---- forwarding: one op per row of the call table ---- */

#define RPC_CALL(name, id, ...)                                     \
	static CK_RV fwd_##name(void *ctx, RPC_PARAMS(__VA_ARGS__)) \
	{                                                           \
		struct backend *b = ctx;                            \
                                                                    \
		calls[CALL_##name]++;                               \
		if (b->fl.name == NULL)                             \
			return CKR_FUNCTION_NOT_SUPPORTED;          \
		return b->fl.name(RPC_NAMES(__VA_ARGS__));          \
	}
#include "protocol/rpc-calls.h"
#undef RPC_CALL

static const struct rpc_server_ops forward_ops = {
#define RPC_CALL(name, id, ...) .name = fwd_##name,
#include "protocol/rpc-calls.h"
#undef RPC_CALL
};

/* ---- loading ---- */

/* The module's functions: C_GetInterface("PKCS 11") 3.x when it has it, else C_GetFunctionList. */
static int load(struct backend *b, const char *path)
{
	CK_C_GetInterface get_interface;
	CK_C_GetFunctionList get_list;
	CK_INTERFACE_PTR iface = NULL;
	CK_FUNCTION_LIST_PTR list = NULL;

	b->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (b->dl == NULL) {
		say("cannot load %s: %s", path, dlerror());
		return -ENOENT;
	}
	memset(&b->fl, 0, sizeof(b->fl));
	get_interface = (CK_C_GetInterface)dlsym(b->dl, "C_GetInterface");
	if (get_interface && get_interface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, 0) == CKR_OK && iface &&
	    iface->pFunctionList) {
		const CK_VERSION *v = iface->pFunctionList;

		if (v->major >= 3) {
			memcpy(&b->fl, iface->pFunctionList, sizeof(b->fl));
			return 0;
		}
	}
	get_list = (CK_C_GetFunctionList)dlsym(b->dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&list) != CKR_OK || list == NULL) {
		say("%s has no usable C_GetFunctionList", path);
		return -ENOEXEC;
	}
	/* A 2.x list is the 3.0 list's leading part. */
	memcpy(&b->fl, list, sizeof(*list));
	return 0;
}

/* C_Initialize with OS locking, as imza's calls come from one thread but the module may start its
 * own; a module that refuses it (CKR_CANT_LOCK) gets NULL arguments: it is called from one thread
 * only anyway. */
static int initialise(struct backend *b)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	if (b->fl.C_Initialize == NULL) {
		say("the module has no C_Initialize");
		return -ENOEXEC;
	}
	rv = b->fl.C_Initialize(&args);
	if (rv == CKR_CANT_LOCK || rv == CKR_ARGUMENTS_BAD) {
		say("the module refuses OS locking (rv 0x%lx): initialised without arguments, every call "
		    "serialised",
		    (unsigned long)rv);
		rv = b->fl.C_Initialize(NULL);
	} else if (rv == CKR_OK) {
		b->os_locking = true;
	}
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		say("C_Initialize failed: rv 0x%lx", (unsigned long)rv);
		return -EIO;
	}
	b->initialised = true;
	return 0;
}

/* The request buffer: a whole frame's worth, locked and out of core dumps, so a PIN never lands in
 * swap, a dump or freed heap; proto_buf_reset wipes what was used. Locking may be refused
 * (RLIMIT_MEMLOCK): the buffer is still wiped after every call. */
static int request_buffer(struct proto_buf *b)
{
	size_t n = PROTO_FRAME_BUF_MAX;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (mlock(p, n) < 0)
		say("cannot lock the request buffer (%s): it is wiped after each call still",
		    strerror(errno));
	(void)madvise(p, n, MADV_DONTDUMP);
	b->data = p;
	b->len = 0;
	b->cap = n;
	b->max = n;
	b->error = 0;
	return 0;
}

static int serve(struct backend *b, int fd)
{
	struct proto_buf req, resp = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	int e;

	e = request_buffer(&req);
	if (e < 0) {
		say("no memory for the request buffer: %s", strerror(-e));
		return 1;
	}
	for (;;) {
		e = proto_recv_frame(fd, &req);
		if (e == -ECONNRESET && req.len == 0)
			break; /* imzad is gone or done */
		if (e < 0) {
			say("bad frame from imzad: %s", strerror(-e));
			proto_buf_reset(&req);
			proto_buf_free(&resp);
			return 1;
		}
		proto_buf_reset(&resp);
		e = rpc_server_dispatch(&forward_ops, b, req.data, req.len, &resp);
		proto_buf_reset(&req);
		if (e < 0) {
			say("malformed request from imzad: %s", strerror(-e));
			proto_buf_free(&resp);
			return 1;
		}
		if (say_calls)
			report_calls();
		e = proto_send_frame(fd, resp.data, resp.len);
		if (e < 0) {
			say("cannot answer imzad: %s", strerror(-e));
			break;
		}
	}
	proto_buf_free(&resp);
	return 0;
}

static void usage(void)
{
	fputs("usage: imza-backend --module PATH [--fd N]\n"
	      "Runs one PKCS#11 module for imzad, which speaks to it on fd N (default 0).\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"module", required_argument, NULL, 'm'},
	        {"fd", required_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const struct rlimit no_core = {0, 0};
	struct backend b = {0};
	const char *module = NULL;
	int fd = 0, c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			module = optarg;
			break;
		case 'f': {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 0 || v > 1024)
				usage();
			fd = (int)v;
			break;
		}
		default:
			usage();
		}
	}
	if (module == NULL || optind != argc)
		usage();
	say_calls = getenv("IMZA_BACKEND_CALLS") && strcmp(getenv("IMZA_BACKEND_CALLS"), "1") == 0;
	/* No core dump of a process that holds PINs; a dead imzad is an EPIPE, not a signal. */
	(void)setrlimit(RLIMIT_CORE, &no_core);
	signal(SIGPIPE, SIG_IGN);
	if (load(&b, module) < 0 || initialise(&b) < 0)
		return 1;
	rc = serve(&b, fd);
	if (b.initialised && b.fl.C_Finalize)
		b.fl.C_Finalize(NULL);
	/* The module stays mapped: some vendor modules leave threads behind that would run unmapped code. */
	return rc;
}
