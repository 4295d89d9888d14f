/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pkcs11: the local parts of imza-pkcs11.so, loaded with dlopen as applications load it:
 * function and interface lists, C_Initialize's argument rules and locking callbacks, behaviour
 * before C_Initialize and in a forked child, and what it answers without a daemon. A small fake
 * daemon in a thread (HELLO, then the generated server dispatch) checks the HELLO, that a blocked
 * C_WaitForSlotEvent neither stalls other calls nor survives C_Finalize, and that a restarted
 * daemon's session numbers never alias the old ones. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto-frame.h"
#include "proto-hello.h"
#include "rpc.h"

static void *dl;
static CK_FUNCTION_LIST_PTR f;
static char sock_path[108];

static void *sym(const char *name)
{
	return dlsym(dl, name);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- function lists and interfaces ---- */

#define NAMES_240                                                                                          \
	"C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",  \
	        "C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN",  \
	        "C_SetPIN", "C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo",   \
	        "C_GetOperationState", "C_SetOperationState", "C_Login", "C_Logout", "C_CreateObject",     \
	        "C_CopyObject", "C_DestroyObject", "C_GetObjectSize", "C_GetAttributeValue",               \
	        "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects", "C_FindObjectsFinal",         \
	        "C_EncryptInit", "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal", "C_DecryptInit",        \
	        "C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal", "C_DigestInit", "C_Digest",              \
	        "C_DigestUpdate", "C_DigestKey", "C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate",  \
	        "C_SignFinal", "C_SignRecoverInit", "C_SignRecover", "C_VerifyInit", "C_Verify",           \
	        "C_VerifyUpdate", "C_VerifyFinal", "C_VerifyRecoverInit", "C_VerifyRecover",               \
	        "C_DigestEncryptUpdate", "C_DecryptDigestUpdate", "C_SignEncryptUpdate",                   \
	        "C_DecryptVerifyUpdate", "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey", "C_UnwrapKey", \
	        "C_DeriveKey", "C_SeedRandom", "C_GenerateRandom", "C_GetFunctionStatus",                  \
	        "C_CancelFunction", "C_WaitForSlotEvent"
#define NAMES_30                                                                                          \
	"C_GetInterfaceList", "C_GetInterface", "C_LoginUser", "C_SessionCancel", "C_MessageEncryptInit", \
	        "C_EncryptMessage", "C_EncryptMessageBegin", "C_EncryptMessageNext",                      \
	        "C_MessageEncryptFinal", "C_MessageDecryptInit", "C_DecryptMessage",                      \
	        "C_DecryptMessageBegin", "C_DecryptMessageNext", "C_MessageDecryptFinal",                 \
	        "C_MessageSignInit", "C_SignMessage", "C_SignMessageBegin", "C_SignMessageNext",          \
	        "C_MessageSignFinal", "C_MessageVerifyInit", "C_VerifyMessage", "C_VerifyMessageBegin",   \
	        "C_VerifyMessageNext", "C_MessageVerifyFinal"

static const char *const names_240[] = {NAMES_240};
static const char *const names_30[] = {NAMES_240, NAMES_30};

/* Each member of a function list (after its CK_VERSION) is the exported function of that name, but
 * the 3.0 list's C_GetInfo, which says 3.0 (the export says 2.40). */
static void check_members(const void *list, const char *const *names, size_t n)
{
	const char *p = (const char *)list + offsetof(CK_FUNCTION_LIST, C_Initialize);
	bool is30 = ((const CK_VERSION *)list)->major == 3;

	for (size_t i = 0; i < n; i++) {
		void *member;

		memcpy(&member, p + i * sizeof(void *), sizeof(member));
		if (is30 && strcmp(names[i], "C_GetInfo") == 0) {
			if (member == NULL || member == sym(names[i]))
				fail_msg("the 3.0 list's C_GetInfo is %p, not its own", member);
			continue;
		}
		if (member == NULL || member != sym(names[i]))
			fail_msg("member %zu (%s) is %p, the export %p", i, names[i], member, sym(names[i]));
	}
}

static void test_function_list_is_240_and_complete(void **state)
{
	CK_C_GetFunctionList get = (CK_C_GetFunctionList)sym("C_GetFunctionList");
	CK_FUNCTION_LIST_PTR l = NULL;

	assert_non_null(get);
	assert_int_equal(get(NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(get(&l), CKR_OK);
	assert_ptr_equal(l, f);
	assert_int_equal(f->version.major, 2);
	assert_int_equal(f->version.minor, 40);
	assert_int_equal(sizeof(CK_FUNCTION_LIST),
	                 offsetof(CK_FUNCTION_LIST, C_Initialize) + 68 * sizeof(void *));
	check_members(f, names_240, 68);
	/* Only C_ functions leave the module: the protocol library stays inside. */
	assert_null(sym("proto_buf_init"));
	assert_null(sym("rpc_call_find"));
	assert_null(sym("p11_conn_acquire"));
}

static void test_interface_list_offers_30_then_240(void **state)
{
	CK_C_GetInterfaceList list = (CK_C_GetInterfaceList)sym("C_GetInterfaceList");
	CK_INTERFACE ifs[3];
	CK_ULONG n = 0;
	CK_FUNCTION_LIST_3_0 *l30;

	assert_int_equal(list(NULL, NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(list(NULL, &n), CKR_OK);
	assert_int_equal(n, 2);
	n = 1;
	assert_int_equal(list(ifs, &n), CKR_BUFFER_TOO_SMALL);
	assert_int_equal(n, 2);
	n = 3;
	assert_int_equal(list(ifs, &n), CKR_OK);
	assert_int_equal(n, 2);
	assert_string_equal((char *)ifs[0].pInterfaceName, "PKCS 11");
	assert_string_equal((char *)ifs[1].pInterfaceName, "PKCS 11");
	l30 = ifs[0].pFunctionList;
	assert_int_equal(l30->version.major, 3);
	assert_int_equal(l30->version.minor, 0);
	check_members(l30, names_30, 92);
	assert_int_equal(((CK_FUNCTION_LIST *)ifs[1].pFunctionList)->version.minor, 40);
	check_members(ifs[1].pFunctionList, names_240, 68);
	/* Not fork-safe in the 3.0 sense: a child must initialize again. */
	assert_int_equal(ifs[0].flags & CKF_INTERFACE_FORK_SAFE, 0);
}

static void test_get_interface_by_name_version_flags(void **state)
{
	CK_C_GetInterface get = (CK_C_GetInterface)sym("C_GetInterface");
	CK_INTERFACE_PTR i = NULL;
	CK_VERSION v240 = {2, 40}, v30 = {3, 0}, v31 = {3, 1};

	assert_int_equal(get(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	assert_int_equal(get(NULL, NULL, &i, 0), CKR_OK);
	assert_int_equal(((CK_VERSION *)i->pFunctionList)->major, 3);
	assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &i, 0), CKR_OK);
	assert_ptr_equal(i->pFunctionList, f);
	assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &i, 0), CKR_OK);
	assert_int_equal(((CK_VERSION *)i->pFunctionList)->major, 3);
	assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &i, 0), CKR_ARGUMENTS_BAD);
	assert_int_equal(get((CK_UTF8CHAR_PTR) "Vendor", NULL, &i, 0), CKR_ARGUMENTS_BAD);
	assert_int_equal(get(NULL, NULL, &i, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
}

/* The library version as configure's PACKAGE_VERSION gives it ("0.1.0" -> 0.1). */
static CK_VERSION package_version(void)
{
	unsigned maj = 0, min = 0;

	assert_int_equal(sscanf(PACKAGE_VERSION, "%u.%u", &maj, &min), 2);
	return (CK_VERSION){(CK_BYTE)maj, (CK_BYTE)min};
}

static void no_daemon(void);

static void test_get_info_says_the_version_of_the_interface_taken(void **state)
{
	CK_C_GetInterface get = (CK_C_GetInterface)sym("C_GetInterface");
	CK_VERSION v30 = {3, 0}, v240 = {2, 40}, lib = package_version();
	CK_INTERFACE_PTR i = NULL;
	CK_INFO info;

	no_daemon();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetInfo(&info), CKR_OK);
	assert_int_equal(info.cryptokiVersion.major, 2);
	assert_int_equal(info.cryptokiVersion.minor, 40);
	assert_int_equal(info.libraryVersion.major, lib.major);
	assert_int_equal(info.libraryVersion.minor, lib.minor);
	assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &i, 0), CKR_OK);
	memset(&info, 0, sizeof(info));
	assert_int_equal(((CK_FUNCTION_LIST_3_0 *)i->pFunctionList)->C_GetInfo(&info), CKR_OK);
	assert_int_equal(info.cryptokiVersion.major, 3);
	assert_int_equal(info.cryptokiVersion.minor, 0);
	assert_int_equal(info.libraryVersion.major, lib.major);
	assert_int_equal(info.libraryVersion.minor, lib.minor);
	assert_int_equal(((CK_FUNCTION_LIST_3_0 *)i->pFunctionList)->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(get((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &i, 0), CKR_OK);
	memset(&info, 0, sizeof(info));
	assert_int_equal(((CK_FUNCTION_LIST *)i->pFunctionList)->C_GetInfo(&info), CKR_OK);
	assert_int_equal(info.cryptokiVersion.minor, 40);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* ---- C_Initialize and C_Finalize ---- */

static void no_daemon(void)
{
	snprintf(sock_path, sizeof(sock_path), "/nonexistent/imza-test/imzad.sock");
	setenv("IMZA_SOCKET", sock_path, 1);
}

static void test_calls_before_initialize_are_refused(void **state)
{
	CK_C_GetFunctionStatus status = (CK_C_GetFunctionStatus)sym("C_GetFunctionStatus");
	CK_C_MessageEncryptInit menc = (CK_C_MessageEncryptInit)sym("C_MessageEncryptInit");
	CK_ULONG n = 0;
	CK_INFO info;
	CK_SESSION_HANDLE h;

	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h),
	                 CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(status(1), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(menc(1, NULL, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_initialize_argument_rules(void **state)
{
	CK_C_INITIALIZE_ARGS a;
	int dummy;

	no_daemon();
	memset(&a, 0, sizeof(a));
	a.pReserved = &dummy;
	assert_int_equal(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	/* Mutex callbacks come all together or not at all. */
	memset(&a, 0, sizeof(a));
	a.LockMutex = (CK_LOCKMUTEX)sym("C_Finalize");
	assert_int_equal(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);

	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(f->C_Finalize(&dummy), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	assert_int_equal(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);

	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	assert_int_equal(f->C_Initialize(&a), CKR_OK);
	assert_int_equal(f->C_Initialize(&a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

static atomic_int n_create, n_destroy, n_lock, n_unlock;

static CK_RV app_create(CK_VOID_PTR_PTR m)
{
	pthread_mutex_t *p = malloc(sizeof(*p));

	if (!p)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(p, NULL);
	*m = p;
	atomic_fetch_add(&n_create, 1);
	return CKR_OK;
}

static CK_RV app_destroy(CK_VOID_PTR m)
{
	pthread_mutex_destroy(m);
	free(m);
	atomic_fetch_add(&n_destroy, 1);
	return CKR_OK;
}

static CK_RV app_lock(CK_VOID_PTR m)
{
	pthread_mutex_lock(m);
	atomic_fetch_add(&n_lock, 1);
	return CKR_OK;
}

static CK_RV app_unlock(CK_VOID_PTR m)
{
	atomic_fetch_add(&n_unlock, 1);
	pthread_mutex_unlock(m);
	return CKR_OK;
}

static void reset_counts(void)
{
	atomic_store(&n_create, 0);
	atomic_store(&n_destroy, 0);
	atomic_store(&n_lock, 0);
	atomic_store(&n_unlock, 0);
}

static void test_app_mutex_callbacks_are_used_without_os_locking(void **state)
{
	CK_C_INITIALIZE_ARGS a = {app_create, app_destroy, app_lock, app_unlock, 0, NULL};
	CK_ULONG n = 9;
	CK_SLOT_ID list[4];

	no_daemon();
	reset_counts();
	assert_int_equal(f->C_Initialize(&a), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_FALSE, list, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	assert_true(atomic_load(&n_create) >= 1);
	assert_int_equal(atomic_load(&n_destroy), atomic_load(&n_create));
	assert_true(atomic_load(&n_lock) >= 1);
	assert_int_equal(atomic_load(&n_lock), atomic_load(&n_unlock));

	/* With CKF_OS_LOCKING_OK the choice is the module's: it uses its own. */
	reset_counts();
	a.flags = CKF_OS_LOCKING_OK;
	assert_int_equal(f->C_Initialize(&a), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	assert_int_equal(atomic_load(&n_create), 0);
	assert_int_equal(atomic_load(&n_lock), 0);
}

/* ---- without a daemon ---- */

static void test_without_daemon_no_slots_and_local_info(void **state)
{
	CK_C_GetFunctionStatus status = (CK_C_GetFunctionStatus)sym("C_GetFunctionStatus");
	CK_C_MessageEncryptInit menc = (CK_C_MessageEncryptInit)sym("C_MessageEncryptInit");
	CK_SLOT_ID list[4], slot = 99;
	CK_ULONG n = 4;
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_SESSION_INFO sess;
	CK_SESSION_HANDLE h;

	no_daemon();
	/* A browser disables a module whose C_Initialize fails: it must not need the daemon. */
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	assert_int_equal(n, 0);
	n = 7;
	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
	memset(&info, 0, sizeof(info));
	assert_int_equal(f->C_GetInfo(&info), CKR_OK);
	assert_int_equal(info.cryptokiVersion.major, 2);
	assert_memory_equal(info.manufacturerID, "imza ", 5);
	assert_int_equal(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	assert_int_equal(f->C_GetSlotInfo(1, &si), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	assert_int_equal(f->C_GetSessionInfo(1, &sess), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
	assert_int_equal(status(1), CKR_FUNCTION_NOT_PARALLEL);
	assert_int_equal(f->C_CancelFunction(1), CKR_FUNCTION_NOT_PARALLEL);
	assert_int_equal(menc(1, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* A blocking wait with no daemon keeps trying; C_Finalize still ends it. */
static void *wait_thread(void *arg)
{
	CK_RV *rv = arg;
	CK_SLOT_ID slot;

	*rv = f->C_WaitForSlotEvent(0, &slot, NULL);
	return NULL;
}

static void test_finalize_ends_wait_without_daemon(void **state)
{
	pthread_t t;
	CK_RV rv = 0xdead;
	double t0;

	no_daemon();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(pthread_create(&t, NULL, wait_thread, &rv), 0);
	sleep_ms(300);
	assert_int_equal(rv, 0xdead);
	t0 = now();
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	pthread_join(t, NULL);
	assert_int_equal(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_true(now() - t0 < 1.0);
}

/* ---- fork ---- */

static void test_forked_child_must_initialize_again(void **state)
{
	CK_ULONG n = 5;
	CK_INFO info;
	int status = -1;
	pid_t pid;

	no_daemon();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* No cmocka in the child: the exit code says which check failed. */
		if (f->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
			_exit(10);
		if (f->C_GetInfo(&info) != CKR_CRYPTOKI_NOT_INITIALIZED)
			_exit(11);
		if (f->C_Initialize(NULL) != CKR_OK)
			_exit(12);
		if (f->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_OK || n != 0)
			_exit(13);
		if (f->C_Finalize(NULL) != CKR_OK)
			_exit(14);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent is untouched. */
	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
}

/* ---- a fake daemon ---- */

struct fake {
	int lfd;
	int stop[2];
	pthread_t thread;
	CK_SESSION_HANDLE next_dh;
	CK_SESSION_HANDLE last_dh; /* session handle of the last session call */
	struct proto_hello hello;
	atomic_int hellos, waits, calls;
	/* The next call kills the daemon: every connection and the listener go, the socket too. */
	atomic_bool die_on_call;
	bool died;
};

static struct fake *cur;

static CK_RV fk_GetSlotList(void *ctx, CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n)
{
	if (list && *n < 1) {
		*n = 1;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (list)
		list[0] = 7;
	*n = 1;
	return CKR_OK;
}

static CK_RV fk_OpenSession(void *ctx, CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                            CK_SESSION_HANDLE_PTR h)
{
	struct fake *fk = ctx;

	if (id != 7)
		return CKR_SLOT_ID_INVALID;
	*h = fk->next_dh++;
	return CKR_OK;
}

static CK_RV fk_GetSessionInfo(void *ctx, CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct fake *fk = ctx;

	fk->last_dh = h;
	if (h == 0 || h >= fk->next_dh)
		return CKR_SESSION_HANDLE_INVALID;
	memset(info, 0, sizeof(*info));
	info->slotID = 7;
	info->state = CKS_RO_PUBLIC_SESSION;
	info->flags = CKF_SERIAL_SESSION;
	return CKR_OK;
}

static const struct rpc_server_ops fake_ops = {
        .C_GetSlotList = fk_GetSlotList,
        .C_OpenSession = fk_OpenSession,
        .C_GetSessionInfo = fk_GetSessionInfo,
};

#define FAKE_CLIENTS 16

/* One request (or the HELLO) from client fd; false when the client is gone. A blocking
 * C_WaitForSlotEvent is never answered. */
static bool fake_serve(struct fake *fk, int fd, bool *hello_done)
{
	struct proto_buf in = PROTO_BUF_INIT(PROTO_FRAME_MAX), out = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	bool ok = false;

	if (proto_recv_frame(fd, &in) < 0)
		goto done;
	if (!*hello_done) {
		struct proto_hello_reply rep = {.major = PROTO_VERSION_MAJOR, .minor = PROTO_VERSION_MINOR};

		if (proto_hello_decode(in.data, in.len, &fk->hello) < 0)
			goto done;
		snprintf(rep.server_name, sizeof(rep.server_name), "fake");
		proto_hello_reply_encode(&out, &rep);
		*hello_done = true;
		atomic_fetch_add(&fk->hellos, 1);
	} else {
		uint32_t id = (uint32_t)in.data[0] << 24 | (uint32_t)in.data[1] << 16 |
		              (uint32_t)in.data[2] << 8 | in.data[3];

		atomic_fetch_add(&fk->calls, 1);
		if (atomic_load(&fk->die_on_call)) {
			fk->died = true;
			goto done;
		}
		/* id, then the flags as u64: a blocking wait has bit 0 clear. */
		if (id == RPC_CALL_C_WaitForSlotEvent && in.len >= 12 && !(in.data[11] & 1)) {
			atomic_fetch_add(&fk->waits, 1);
			ok = true;
			goto done;
		}
		if (rpc_server_dispatch(&fake_ops, fk, in.data, in.len, &out) < 0)
			goto done;
	}
	ok = proto_send_frame(fd, out.data, out.len) == 0;
done:
	proto_buf_free(&in);
	proto_buf_free(&out);
	return ok;
}

static void *fake_main(void *arg)
{
	struct fake *fk = arg;
	struct pollfd p[FAKE_CLIENTS + 2];
	bool hello[FAKE_CLIENTS + 2];
	int n = 2;

	p[0] = (struct pollfd){.fd = fk->stop[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = fk->lfd, .events = POLLIN};
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		if (p[0].revents)
			break;
		if ((p[1].revents & POLLIN) && n < FAKE_CLIENTS + 2) {
			int c = accept(fk->lfd, NULL, NULL);

			if (c >= 0) {
				p[n] = (struct pollfd){.fd = c, .events = POLLIN};
				hello[n++] = false;
			}
		}
		for (int i = 2; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (!fake_serve(fk, p[i].fd, &hello[i])) {
				if (fk->died)
					goto died;
				close(p[i].fd);
				p[i] = p[n - 1];
				hello[i] = hello[n - 1];
				n--;
				i--;
			}
		}
	}
died:
	/* A daemon that dies: every connection ends. */
	for (int i = 2; i < n; i++)
		close(p[i].fd);
	if (fk->died) {
		unlink(sock_path);
		close(fk->lfd);
		fk->lfd = -1;
	}
	return NULL;
}

static struct fake *fake_start(void)
{
	struct fake *fk = calloc(1, sizeof(*fk));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_non_null(fk);
	fk->next_dh = 1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	unlink(sock_path);
	fk->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk->lfd >= 0);
	assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fk->lfd, 16), 0);
	assert_int_equal(pipe(fk->stop), 0);
	assert_int_equal(pthread_create(&fk->thread, NULL, fake_main, fk), 0);
	cur = fk;
	return fk;
}

static void fake_stop(struct fake *fk)
{
	assert_int_equal(write(fk->stop[1], "x", 1), 1);
	pthread_join(fk->thread, NULL);
	close(fk->stop[0]);
	close(fk->stop[1]);
	if (fk->lfd >= 0)
		close(fk->lfd);
	unlink(sock_path);
	free(fk);
}

static void fake_path(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/imza-test-pkcs11-%d.sock", (int)getpid());
	setenv("IMZA_SOCKET", sock_path, 1);
}

/* A fake daemon with one slot, the module initialized and its first listing seen. */
static struct fake *start_with_one_slot(CK_SLOT_ID *ret_slot)
{
	struct fake *fk;
	CK_SLOT_ID list[4];
	CK_ULONG n = 4;

	fake_path();
	fk = fake_start();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	assert_int_equal(n, 1);
	*ret_slot = list[0];
	return fk;
}

static void test_hello_names_the_program_and_pid(void **state)
{
	CK_SLOT_ID list[4];
	struct fake *fk = start_with_one_slot(&list[0]);
	CK_ULONG n;

	assert_int_equal(list[0], 7);
	assert_int_equal(atomic_load(&fk->hellos), 1);
	assert_int_equal(fk->hello.kind, PROTO_CLIENT_PKCS11);
	assert_int_equal(fk->hello.pid, (uint32_t)getpid());
	assert_int_equal(fk->hello.major, PROTO_VERSION_MAJOR);
	assert_string_equal(fk->hello.app_name, program_invocation_short_name);
	/* The pooled connection is reused: no second HELLO. */
	n = 4;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	assert_int_equal(atomic_load(&fk->hellos), 1);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	fake_stop(fk);
}

static void test_blocked_wait_has_its_own_connection_and_ends_with_finalize(void **state)
{
	struct fake *fk;
	pthread_t t;
	CK_RV rv = 0xdead;
	CK_ULONG n;
	double t0, worst = 0;

	fake_path();
	fk = fake_start();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(pthread_create(&t, NULL, wait_thread, &rv), 0);
	for (int i = 0; i < 100 && atomic_load(&fk->waits) == 0; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&fk->waits), 1);
	/* Other calls go on meanwhile, on the pool. */
	for (int i = 0; i < 20; i++) {
		t0 = now();
		n = 0;
		assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
		assert_int_equal(n, 1);
		if (now() - t0 > worst)
			worst = now() - t0;
	}
	assert_true(worst < 0.5);
	assert_int_equal(rv, 0xdead);
	t0 = now();
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	pthread_join(t, NULL);
	assert_int_equal(rv, CKR_CRYPTOKI_NOT_INITIALIZED);
	assert_true(now() - t0 < 1.0);
	fake_stop(fk);
}

static void test_restarted_daemon_never_aliases_old_sessions(void **state)
{
	struct fake *fk;
	CK_SESSION_HANDLE h1, h2;
	CK_SESSION_INFO info;
	CK_ULONG n = 0;

	fake_path();
	fk = fake_start();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, &h1), CKR_OK);
	assert_int_equal(f->C_GetSessionInfo(h1, &info), CKR_OK);
	assert_int_equal(fk->last_dh, 1);
	fake_stop(fk);

	/* The new daemon numbers its sessions from 1 again. */
	fk = fake_start();
	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(f->C_GetSessionInfo(h1, &info), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(f->C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, &h2), CKR_OK);
	assert_true(h2 != h1);
	fk->last_dh = 0;
	assert_int_equal(f->C_GetSessionInfo(h2, &info), CKR_OK);
	assert_int_equal(fk->last_dh, 1);
	fk->last_dh = 0;
	assert_int_equal(f->C_GetSessionInfo(h1, &info), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(fk->last_dh, 0); /* never sent */
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	fake_stop(fk);
}

/* The daemon restarts while the pooled connection sits idle, and the next call names a session: the
 * module learns it from that call's send (no poll before each call) and answers as it did when it
 * polled: the session is gone, the call did not fail; nothing reached the new daemon. */
static void test_daemon_restarted_while_idle_ends_the_session_not_the_call(void **state)
{
	struct fake *fk;
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO info;
	int calls;

	fake_path();
	fk = fake_start();
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	assert_int_equal(f->C_GetSessionInfo(h, &info), CKR_OK);
	fake_stop(fk);
	fk = fake_start();
	calls = atomic_load(&fk->calls);
	assert_int_equal(f->C_GetSessionInfo(h, &info), CKR_SESSION_HANDLE_INVALID);
	assert_int_equal(atomic_load(&fk->calls), calls);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	fake_stop(fk);
}

/* A listener of another user (a child that dropped to uid 65534) at the module's socket path: the module
 * sends it nothing, not even a HELLO, and answers as without a daemon. */
static void test_daemon_of_another_uid_is_refused(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	CK_ULONG n = 4;
	CK_SLOT_ID list[4];
	int res[2], st = 0;
	char got = 'x';
	pid_t pid;

	if (geteuid() != 0)
		skip();
	fake_path();
	unlink(sock_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(pipe(res), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pollfd p;
		int l, c;
		char b;

		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sock_path, 0666) < 0 ||
		    listen(l, 4) < 0)
			_exit(3);
		(void)!write(res[1], "r", 1);
		c = accept(l, NULL, NULL);
		p = (struct pollfd){.fd = c, .events = POLLIN};
		/* "b": it spoke to us; "n": it hung up without a byte. */
		b = poll(&p, 1, 3000) > 0 && read(c, &b, 1) == 1 ? 'b' : 'n';
		(void)!write(res[1], &b, 1);
		_exit(0);
	}
	assert_int_equal(read(res[0], &got, 1), 1);
	assert_int_equal(got, 'r');
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_FALSE, list, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	assert_int_equal(read(res[0], &got, 1), 1);
	assert_int_equal(got, 'n');
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(res[0]);
	close(res[1]);
	unlink(sock_path);
}

/* Our daemon at its connection cap closes a new connection before the HELLO. The application must
 * hear that the call failed: zero slots would say "no card" while there is one. */
static void *refuse_main(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			return NULL;
		close(c);
	}
}

/* After a failed check, the next test still starts from an uninitialized module. */
static int finalize_teardown(void **state)
{
	f->C_Finalize(NULL);
	return 0;
}

static void test_refused_connection_is_an_error_not_zero_slots(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	CK_SLOT_ID list[4];
	CK_ULONG n = 4;
	CK_SLOT_INFO si;
	CK_INFO info;
	pthread_t t;
	static int lfd;

	fake_path();
	unlink(sock_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(pthread_create(&t, NULL, refuse_main, &lfd), 0);
	assert_int_equal(f->C_Initialize(NULL), CKR_OK);
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_FUNCTION_FAILED);
	n = 4;
	assert_int_equal(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_FUNCTION_FAILED);
	assert_int_equal(f->C_GetSlotInfo(7, &si), CKR_DEVICE_ERROR);
	/* The module's own description needs no daemon. */
	assert_int_equal(f->C_GetInfo(&info), CKR_OK);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(lfd);
	unlink(sock_path);
}

/* The daemon dies with our request in flight and none takes its place: the call fails. Only the
 * next call, which finds no daemon at all, answers as without one. */
static void test_connection_lost_mid_call_is_an_error_not_zero_slots(void **state)
{
	CK_SLOT_ID list[4];
	struct fake *fk = start_with_one_slot(&list[0]);
	CK_ULONG n;

	atomic_store(&fk->die_on_call, true);
	n = 4;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_FUNCTION_FAILED);
	assert_true(fk->died);
	n = 4;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	fake_stop(fk);
}

/* The daemon is killed between two calls (the pooled connection is found closed) and none takes
 * its place: the call that found it gone fails. */
static void test_daemon_gone_between_calls_is_an_error_once(void **state)
{
	CK_SLOT_ID list[4];
	struct fake *fk = start_with_one_slot(&list[0]);
	CK_ULONG n;

	/* Like a SIGKILL: connections end, the socket file stays, nobody listens. */
	assert_int_equal(write(fk->stop[1], "x", 1), 1);
	pthread_join(fk->thread, NULL);
	close(fk->lfd);
	fk->lfd = -1;
	sleep_ms(50);
	n = 4;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_FUNCTION_FAILED);
	n = 4;
	assert_int_equal(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(f->C_Finalize(NULL), CKR_OK);
	close(fk->stop[0]);
	close(fk->stop[1]);
	unlink(sock_path);
	free(fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_function_list_is_240_and_complete),
	        cmocka_unit_test(test_interface_list_offers_30_then_240),
	        cmocka_unit_test(test_get_interface_by_name_version_flags),
	        cmocka_unit_test(test_get_info_says_the_version_of_the_interface_taken),
	        cmocka_unit_test(test_calls_before_initialize_are_refused),
	        cmocka_unit_test(test_initialize_argument_rules),
	        cmocka_unit_test(test_app_mutex_callbacks_are_used_without_os_locking),
	        cmocka_unit_test(test_without_daemon_no_slots_and_local_info),
	        cmocka_unit_test(test_finalize_ends_wait_without_daemon),
	        cmocka_unit_test(test_forked_child_must_initialize_again),
	        cmocka_unit_test(test_hello_names_the_program_and_pid),
	        cmocka_unit_test(test_blocked_wait_has_its_own_connection_and_ends_with_finalize),
	        cmocka_unit_test(test_restarted_daemon_never_aliases_old_sessions),
	        cmocka_unit_test_teardown(test_daemon_restarted_while_idle_ends_the_session_not_the_call,
	                                  finalize_teardown),
	        cmocka_unit_test_teardown(test_refused_connection_is_an_error_not_zero_slots,
	                                  finalize_teardown),
	        cmocka_unit_test_teardown(test_connection_lost_mid_call_is_an_error_not_zero_slots,
	                                  finalize_teardown),
	        cmocka_unit_test_teardown(test_daemon_gone_between_calls_is_an_error_once, finalize_teardown),
	        cmocka_unit_test(test_daemon_of_another_uid_is_refused),
	};
	const char *path = getenv("IMZA_TEST_MODULE_PATH");

	dl = dlopen(path ? path : IMZA_TEST_MODULE, RTLD_NOW | RTLD_LOCAL);
	if (!dl || !sym("C_GetFunctionList") ||
	    ((CK_C_GetFunctionList)sym("C_GetFunctionList"))(&f) != CKR_OK) {
		fprintf(stderr, "test-pkcs11: %s\n", dl ? "no function list" : dlerror());
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
