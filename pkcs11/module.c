/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* module: the PKCS#11 entry points of imza-pkcs11.so. Every call in the signature table
 * (rpc-calls.h) is generated here by one macro and goes to imzad through the generated client
 * stubs; only the functions the table leaves out are answered locally. The module must never
 * disturb its host: no abort, exit, output or signal handlers, whatever the daemon does. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "module.h"
#include "proto-frame.h"
#include "rpc.h"

struct p11_module p11_g;
_Atomic int p11_state;

/* Calls in progress: C_Finalize waits for them to drain before it frees anything. */
static _Atomic unsigned active;
/* Set in a forked child by the atfork handler: a call looks at this flag only, no getpid() (a system
 * call each time). C_Initialize and C_Finalize also compare getpid() with init_pid, for a child made
 * without the atfork handlers (a raw clone). */
static _Atomic int forked;
static pid_t init_pid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* How long a blocking C_WaitForSlotEvent waits before it tries an unreachable daemon again. */
#define WAIT_RETRY_MS 1000

/* ---- the generated calls' declarations (2.40 ones repeat <pkcs11.h>'s, which must agree) ---- */

#define RPC_CALL(name, id, ...) CK_RV name(RPC_PARAMS(__VA_ARGS__));
#include "rpc-calls.h"
#undef RPC_CALL

/* Local 3.0 functions. */
CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey);
CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                       CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                       CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen);
CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                            CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                           CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
                           CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags);
CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession);
CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey);
CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                       CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                       CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen);
CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                            CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                           CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
                           CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags);
CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession);

/* ---- entering and leaving a call ---- */

static bool in_forked_child(bool thorough)
{
	return atomic_load(&forked) ||
	       (thorough && atomic_load(&p11_state) != P11_UNINIT && getpid() != init_pid);
}

/* Counted before the state is looked at, so C_Finalize either sees the call or the call sees
 * that C_Finalize started; a call that loses never touches the lock. */
static bool enter(void)
{
	atomic_fetch_add(&active, 1);
	if (atomic_load(&p11_state) != P11_READY || in_forked_child(false)) {
		atomic_fetch_sub(&active, 1);
		return false;
	}
	return true;
}

static void leave(void)
{
	atomic_fetch_sub(&active, 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- fork ---- */

static void atfork_child(void)
{
	if (atomic_load(&p11_state) == P11_UNINIT)
		return;
	p11_conn_forget_inherited();
	atomic_store(&forked, 1);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* The child's copy of the parent's state: nothing of it is used again. The lock may have been
 * held by a thread that does not exist here, and the session map may be mid-update, so neither
 * is touched; the sockets are closed without a byte sent on them. */
static void child_reset(void)
{
	p11_conn_forget_inherited();
	p11_sess_abandon();
	memset(&p11_g.lock, 0, sizeof(p11_g.lock));
	atomic_store(&active, 0);
	atomic_store(&p11_state, P11_UNINIT);
	atomic_store(&forked, 0);
}

/* ---- calls to the daemon ---- */

/* A row's typed stubs behind one signature, so one function can drive every call. */
struct stub {
	const struct rpc_call_desc *(*desc)(void);
	uint32_t id;
	int (*request)(struct proto_buf *w, union rpc_arg *args);
	int (*response)(const uint8_t *msg, size_t len, CK_RV *rv, union rpc_arg *args);
};

/* What a call's first argument is: the module translates session handles. Rows added to the
 * table later are session calls unless listed here, as every PKCS#11 function after
 * C_OpenSession is. */
enum arg0 { ARG0_NONE, ARG0_SLOT, ARG0_SESSION };

static enum arg0 arg0_of(uint32_t id)
{
	switch (id) {
	case RPC_CALL_C_GetInfo:
	case RPC_CALL_C_GetSlotList:
	case RPC_CALL_C_WaitForSlotEvent:
		return ARG0_NONE;
	case RPC_CALL_C_GetSlotInfo:
	case RPC_CALL_C_GetTokenInfo:
	case RPC_CALL_C_GetMechanismList:
	case RPC_CALL_C_GetMechanismInfo:
	case RPC_CALL_C_InitToken:
	case RPC_CALL_C_OpenSession:
	case RPC_CALL_C_CloseAllSessions:
		return ARG0_SLOT;
	default:
		return ARG0_SESSION;
	}
}

static bool has_kind(const struct rpc_call_desc *d, enum rpc_kind k)
{
	for (unsigned i = 0; i < d->nkinds; i++)
		if (d->kinds[i] == k)
			return true;
	return false;
}

/* An argument the encoder refused (rpc.h lists the errors). */
static CK_RV encode_rv(const struct rpc_call_desc *d, const union rpc_arg *args, int e)
{
	switch (e) {
	case -EOPNOTSUPP:
		return CKR_MECHANISM_PARAM_INVALID;
	case -EINVAL:
		/* The mechanism or a template: encoding the mechanism alone tells which. */
		for (unsigned i = 0; i < d->nkinds; i++) {
			if (d->kinds[i] == RPC_KIND_MECHANISM) {
				struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_MAX);
				int r = proto_put_mechanism(&w, args[i].mech);

				proto_buf_free(&w);
				if (r == -EINVAL || r == -EOPNOTSUPP)
					return CKR_MECHANISM_PARAM_INVALID;
			}
		}
		if (has_kind(d, RPC_KIND_TEMPLATE) || has_kind(d, RPC_KIND_TEMPLATE_GET))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_ARGUMENTS_BAD;
	case -ENOBUFS:
		if (has_kind(d, RPC_KIND_BYTES) || has_kind(d, RPC_KIND_PARAM))
			return CKR_DATA_LEN_RANGE;
		return CKR_HOST_MEMORY;
	case -ENOMEM:
		return CKR_HOST_MEMORY;
	default:
		return CKR_GENERAL_ERROR;
	}
}

/* One request on c and its decoded response. ret_broken: the connection must not be used again. */
static int exchange(struct p11_conn *c, const struct stub *s, const struct proto_buf *req,
                    union rpc_arg *args, CK_RV *ret_rv, bool *ret_broken)
{
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	int r;

	*ret_broken = false;
	r = p11_conn_roundtrip(c, req, &resp);
	if (r < 0) {
		*ret_broken = true;
	} else {
		r = s->response(resp.data, resp.len, ret_rv, args);
		/* -EMSGSIZE: a whole, well-formed answer we can't pass on; the stream is fine. Anything
		 * else is a daemon that speaks nonsense: it is not trusted any more. */
		if (r < 0 && r != -EMSGSIZE)
			*ret_broken = true;
	}
	proto_buf_free(&resp); /* answers carry decrypted data */
	return r;
}

static bool is_disconnect(int e)
{
	return e == -ECONNRESET || e == -EPIPE || e == -ENOTCONN || e == -ESHUTDOWN;
}

static void pad(CK_UTF8CHAR *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, l > n ? n : l);
}

/* The library is this module, whichever imzad answers: its version is the one configure gave it. The
 * Cryptoki version is the interface's the caller took: 2.40 here, C_GetInfo_30 says 3.0. */
static void module_versions(CK_INFO_PTR info)
{
	CK_VERSION lib = {0, 0};

	proto_version_parse(PACKAGE_VERSION, &lib);
	info->cryptokiVersion = (CK_VERSION){2, 40};
	info->libraryVersion = lib;
}

static CK_RV local_info(CK_INFO_PTR info)
{
	if (!info)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	pad(info->manufacturerID, sizeof(info->manufacturerID), "imza");
	pad(info->libraryDescription, sizeof(info->libraryDescription), "imza smart-card signing");
	module_versions(info);
	return CKR_OK;
}

/* Without a daemon there are no slots: listings are empty, slot ids unknown. */
static CK_RV unreachable_rv(uint32_t id, union rpc_arg *args)
{
	switch (id) {
	case RPC_CALL_C_GetInfo:
		return local_info(args[0].info);
	case RPC_CALL_C_GetSlotList:
		if (!args[1].ulongs.n)
			return CKR_ARGUMENTS_BAD;
		*args[1].ulongs.n = 0;
		return CKR_OK;
	case RPC_CALL_C_WaitForSlotEvent:
		return CKR_NO_EVENT;
	default:
		switch (arg0_of(id)) {
		case ARG0_SLOT:
			return CKR_SLOT_ID_INVALID;
		case ARG0_SESSION:
			return CKR_SESSION_HANDLE_INVALID;
		default:
			return CKR_DEVICE_ERROR;
		}
	}
}

/* Our daemon refused the connection (at its cap) or the connection was lost during the call:
 * an error, never the empty answer of an absent daemon, which would say "no card" while there is
 * one. PKCS#11 allows CKR_DEVICE_ERROR only for calls on a slot or session; the others (C_GetSlotList,
 * C_WaitForSlotEvent) get CKR_FUNCTION_FAILED, which every function may return. C_GetInfo describes
 * the module alone and is answered here: NSS gives up a module whose C_GetInfo fails. */
static CK_RV failed_rv(uint32_t id, union rpc_arg *args)
{
	if (id == RPC_CALL_C_GetInfo)
		return local_info(args[0].info);
	return arg0_of(id) == ARG0_NONE ? CKR_FUNCTION_FAILED : CKR_DEVICE_ERROR;
}

/* What the module keeps in step with the daemon's answer: its session map. */
static CK_RV after_call(uint32_t id, CK_RV rv, uint64_t epoch, const union rpc_arg *args,
                        CK_SESSION_HANDLE app_h, CK_SESSION_HANDLE dh, CK_SESSION_HANDLE_PTR app_out)
{
	p11_lock(&p11_g.lock);
	switch (id) {
	case RPC_CALL_C_OpenSession:
		if (rv != CKR_OK || !app_out)
			break;
		if (epoch != p11_g.epoch)
			rv = CKR_DEVICE_ERROR; /* made on a daemon that is gone since */
		else if (p11_sess_add(epoch, dh, args[0].ul, app_out) < 0)
			rv = CKR_HOST_MEMORY;
		break;
	case RPC_CALL_C_CloseAllSessions:
		if (rv == CKR_OK)
			p11_sess_forget_slot(epoch, args[0].ul);
		break;
	case RPC_CALL_C_CloseSession:
		if (rv == CKR_OK)
			p11_sess_forget(app_h);
		break;
	default:
		break;
	}
	/* The daemon no longer knows the session (card removed, or closed): neither do we. */
	if (arg0_of(id) == ARG0_SESSION && (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED))
		p11_sess_forget(app_h);
	p11_unlock(&p11_g.lock);
	return rv;
}

static CK_RV wait_blocking(const struct stub *s, union rpc_arg *args);

static CK_RV call_entered(const struct stub *s, union rpc_arg *args)
{
	const struct rpc_call_desc *d = s->desc();
	struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	enum arg0 a0 = arg0_of(s->id);
	CK_SESSION_HANDLE app_h = 0, dh = 0;
	CK_SESSION_HANDLE_PTR app_out = NULL;
	struct p11_sess sess = {0};
	struct p11_conn *c;
	uint64_t epoch;
	CK_RV rv = CKR_DEVICE_ERROR;
	bool broken, lost = false;
	int r;

	/* pReserved crosses no wire: the spec's NULL is checked here. */
	for (unsigned i = 0; i < d->nkinds; i++)
		if (d->kinds[i] == RPC_KIND_RESERVED && args[i].reserved)
			return CKR_ARGUMENTS_BAD;
	if (s->id == RPC_CALL_C_WaitForSlotEvent && !(args[0].ul & CKF_DONT_BLOCK))
		return wait_blocking(s, args);
	if (a0 == ARG0_SESSION) {
		app_h = args[0].ul;
		p11_lock(&p11_g.lock);
		r = p11_sess_get(app_h, &sess);
		p11_unlock(&p11_g.lock);
		if (r < 0)
			return CKR_SESSION_HANDLE_INVALID;
		args[0].ul = sess.dh;
	}
	if (s->id == RPC_CALL_C_OpenSession && args[3].pul) {
		/* The daemon's handle lands here; the application gets the module's. */
		app_out = args[3].pul;
		args[3].pul = &dh;
	}
	r = s->request(&req, args);
	if (r < 0) {
		proto_buf_free(&req);
		return encode_rv(d, args, r);
	}
	for (int attempt = 0;;) {
		bool reused;

		r = p11_conn_acquire(&p11_g.pool, true, lost, &c);
		if (r == -ESHUTDOWN) {
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
			goto out;
		}
		if (r == -ECONNABORTED || (r < 0 && (attempt > 0 || lost))) {
			/* Refused, or the connection this call went out on was lost and no daemon answers
			 * in its place. */
			rv = failed_rv(s->id, args);
			goto out;
		}
		if (r < 0) {
			rv = unreachable_rv(s->id, args);
			goto out;
		}
		if (a0 == ARG0_SESSION && c->epoch != sess.epoch) {
			/* The daemon that had this session is gone. */
			p11_conn_release(c, false);
			rv = CKR_SESSION_HANDLE_INVALID;
			goto out;
		}
		reused = !c->fresh;
		r = exchange(c, s, &req, args, &rv, &broken);
		epoch = c->epoch;
		p11_conn_release(c, broken);
		if (r == 0)
			break;
		if (atomic_load(&p11_state) != P11_READY) {
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
			goto out;
		}
		if (r == -EPIPE && reused && !lost) {
			/* The daemon went away while this connection sat idle and nothing was sent: its
			 * epoch is over (release), and the call starts over on a new connection, where a
			 * session of the old daemon is found gone. */
			lost = true;
			continue;
		}
		/* A pooled connection may have died with a daemon that restarted since; a call that
		 * names no session can go to the new one. Nothing else is repeated. */
		if (a0 == ARG0_SESSION || !reused || attempt > 0 || !is_disconnect(r)) {
			rv = failed_rv(s->id, args);
			goto out;
		}
		attempt++;
	}
	rv = after_call(s->id, rv, epoch, args, app_h, dh, app_out);
out:
	proto_buf_free(&req); /* requests carry PINs */
	return rv;
}

static CK_RV call(const struct stub *s, union rpc_arg *args)
{
	CK_RV rv;

	if (!enter())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	rv = call_entered(s, args);
	if (s->id == RPC_CALL_C_GetInfo && rv == CKR_OK)
		module_versions(args[0].info);
	leave();
	return rv;
}

/* ---- the generated calls ---- */

#define RPC_CALL(name, id, ...)                                                                    \
	static const struct rpc_call_desc *desc_##name(void)                                       \
	{                                                                                          \
		return rpc_call_find(id);                                                          \
	}                                                                                          \
	static int request_##name(struct proto_buf *w, union rpc_arg *args)                        \
	{                                                                                          \
		return rpc_##name##_request(w, RPC_UNPACK(__VA_ARGS__));                           \
	}                                                                                          \
	static int response_##name(const uint8_t *msg, size_t len, CK_RV *rv, union rpc_arg *args) \
	{                                                                                          \
		return rpc_##name##_response(msg, len, rv, RPC_UNPACK(__VA_ARGS__));               \
	}                                                                                          \
	static const struct stub stub_##name = {desc_##name, id, request_##name, response_##name}; \
	CK_RV name(RPC_PARAMS(__VA_ARGS__))                                                        \
	{                                                                                          \
		union rpc_arg args[RPC_KINDS_MAX];                                                 \
		memset(args, 0, sizeof(args));                                                     \
		RPC_PACK(__VA_ARGS__)                                                              \
		return call(&stub_##name, args);                                                   \
	}
#include "rpc-calls.h"
#undef RPC_CALL

/* ---- C_WaitForSlotEvent ---- */

static bool pause_while_ready(long ms)
{
	for (; ms > 0; ms -= 100) {
		if (atomic_load(&p11_state) != P11_READY)
			return false;
		sleep_ms(ms < 100 ? ms : 100);
	}
	return atomic_load(&p11_state) == P11_READY;
}

/* The first slot of a daemon that was unreachable or restarted: from the application's side,
 * slots appeared. 0 with *ret_found false when it has none. */
static int first_slot(struct p11_conn *c, CK_SLOT_ID *ret_slot, bool *ret_found, bool *ret_broken)
{
	struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	union rpc_arg args[RPC_KINDS_MAX];
	CK_SLOT_ID list[64];
	CK_ULONG n = 64;
	CK_RV rv = CKR_OK;
	int r;

	memset(args, 0, sizeof(args));
	args[0].bbool = CK_FALSE;
	args[1].ulongs.p = list;
	args[1].ulongs.n = &n;
	*ret_broken = false;
	r = stub_C_GetSlotList.request(&req, args);
	if (r == 0)
		r = exchange(c, &stub_C_GetSlotList, &req, args, &rv, ret_broken);
	proto_buf_free(&req);
	if (r < 0)
		return r;
	*ret_found = rv == CKR_OK && n > 0;
	if (*ret_found)
		*ret_slot = list[0];
	return 0;
}

/* Blocks on a connection of its own, so the pool never waits for it. C_Finalize shuts that
 * connection down, which ends the wait with CKR_CRYPTOKI_NOT_INITIALIZED. */
static CK_RV wait_blocking(const struct stub *s, union rpc_arg *args)
{
	struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	bool announce = false, broken, found, reused;
	struct p11_conn *c;
	CK_SLOT_ID slot = 0;
	CK_RV rv = CKR_DEVICE_ERROR;
	int r;

	if (!args[1].pul)
		return CKR_ARGUMENTS_BAD;
	r = s->request(&req, args);
	if (r < 0) {
		proto_buf_free(&req);
		return encode_rv(s->desc(), args, r);
	}
	for (;;) {
		r = p11_conn_acquire(&p11_g.waiters, false, false, &c);
		if (r == -ESHUTDOWN) {
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
			break;
		}
		if (r == -EBUSY) {
			rv = CKR_FUNCTION_FAILED; /* as many waiting threads as we allow */
			break;
		}
		if (r < 0) {
			/* No daemon (yet): when one answers, its slots are the event. */
			announce = true;
			if (!pause_while_ready(WAIT_RETRY_MS)) {
				rv = CKR_CRYPTOKI_NOT_INITIALIZED;
				break;
			}
			continue;
		}
		if (announce) {
			r = first_slot(c, &slot, &found, &broken);
			if (r == 0 && found) {
				p11_conn_release(c, false);
				*args[1].pul = slot;
				rv = CKR_OK;
				break;
			}
			if (r < 0 && r != -EMSGSIZE) {
				p11_conn_release(c, broken);
				continue;
			}
			announce = false;
		}
		reused = !c->fresh;
		r = exchange(c, s, &req, args, &rv, &broken);
		p11_conn_release(c, broken);
		if (atomic_load(&p11_state) != P11_READY) {
			rv = CKR_CRYPTOKI_NOT_INITIALIZED;
			break;
		}
		if (r == 0)
			break;
		if (!broken) {
			rv = CKR_DEVICE_ERROR;
			break;
		}
		/* Gone while this connection sat idle, before this wait: a new connection waits. */
		if (r == -EPIPE && reused)
			continue;
		/* The daemon went away while we waited: wait for the next one. */
		announce = true;
	}
	proto_buf_free(&req);
	return rv;
}

/* ---- local functions ---- */

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	const CK_C_INITIALIZE_ARGS *a = pInitArgs;
	int expect;
	CK_RV rv;

	if (a) {
		int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
		        (a->UnlockMutex != NULL);

		if (a->pReserved || (n != 0 && n != 4))
			return CKR_ARGUMENTS_BAD;
	}
	pthread_once(&atfork_once, register_atfork);
	if (in_forked_child(true))
		child_reset();
	for (;;) {
		expect = P11_UNINIT;
		if (atomic_compare_exchange_strong(&p11_state, &expect, P11_INITIALIZING))
			break;
		if (expect != P11_FINALIZING)
			return CKR_CRYPTOKI_ALREADY_INITIALIZED;
		sleep_ms(1); /* another thread's C_Finalize is ending */
	}
	rv = p11_lock_init(&p11_g.lock, a);
	if (rv != CKR_OK) {
		atomic_store(&p11_state, P11_UNINIT);
		return rv;
	}
	p11_conn_init();
	p11_g.epoch++;
	init_pid = getpid();
	atomic_store(&p11_state, P11_READY);
	return CKR_OK;
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	int expect = P11_READY;

	if (pReserved)
		return CKR_ARGUMENTS_BAD;
	if (in_forked_child(true)) {
		child_reset();
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	if (!atomic_compare_exchange_strong(&p11_state, &expect, P11_FINALIZING))
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	p11_lock(&p11_g.lock);
	p11_conn_shutdown_locked();
	p11_unlock(&p11_g.lock);
	/* Every call in progress now fails fast: their connections are shut down, waits woken. */
	while (atomic_load(&active) > 0)
		sleep_ms(1);
	p11_conn_close_all();
	p11_sess_clear();
	p11_lock_destroy(&p11_g.lock);
	atomic_store(&p11_state, P11_UNINIT);
	return CKR_OK;
}

/* Legacy functions of parallel sessions (PKCS#11 2.40 §5.16). */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
	if (!enter())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	leave();
	return CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
	if (!enter())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	leave();
	return CKR_FUNCTION_NOT_PARALLEL;
}

/* Message-based encryption: its parameters carry outputs (the GCM tag) that the wire can't
 * describe yet, and no imza token encrypts. */
static CK_RV not_supported(void)
{
	if (!enter())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	leave();
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return not_supported();
}

CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                       CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                       CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen)
{
	return not_supported();
}

CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                            CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen)
{
	return not_supported();
}

CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                           CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
                           CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags)
{
	return not_supported();
}

CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession)
{
	return not_supported();
}

CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return not_supported();
}

CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                       CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                       CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen)
{
	return not_supported();
}

CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                            CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen)
{
	return not_supported();
}

CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                           CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
                           CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags)
{
	return not_supported();
}

CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession)
{
	return not_supported();
}

/* ---- function lists and interfaces ---- */

/* C_GetInfo of the 3.0 interface: a caller that took 3.0 is told 3.0. */
static CK_RV C_GetInfo_30(CK_INFO_PTR pInfo)
{
	CK_RV rv = C_GetInfo(pInfo);

	if (rv == CKR_OK)
		pInfo->cryptokiVersion = (CK_VERSION){3, 0};
	return rv;
}

/* The 2.40 functions in CK_FUNCTION_LIST order, but C_GetInfo: each list names its own. */
#define FUNCS_240(X)             \
	X(C_Initialize)          \
	X(C_Finalize)            \
	X(C_GetFunctionList)     \
	X(C_GetSlotList)         \
	X(C_GetSlotInfo)         \
	X(C_GetTokenInfo)        \
	X(C_GetMechanismList)    \
	X(C_GetMechanismInfo)    \
	X(C_InitToken)           \
	X(C_InitPIN)             \
	X(C_SetPIN)              \
	X(C_OpenSession)         \
	X(C_CloseSession)        \
	X(C_CloseAllSessions)    \
	X(C_GetSessionInfo)      \
	X(C_GetOperationState)   \
	X(C_SetOperationState)   \
	X(C_Login)               \
	X(C_Logout)              \
	X(C_CreateObject)        \
	X(C_CopyObject)          \
	X(C_DestroyObject)       \
	X(C_GetObjectSize)       \
	X(C_GetAttributeValue)   \
	X(C_SetAttributeValue)   \
	X(C_FindObjectsInit)     \
	X(C_FindObjects)         \
	X(C_FindObjectsFinal)    \
	X(C_EncryptInit)         \
	X(C_Encrypt)             \
	X(C_EncryptUpdate)       \
	X(C_EncryptFinal)        \
	X(C_DecryptInit)         \
	X(C_Decrypt)             \
	X(C_DecryptUpdate)       \
	X(C_DecryptFinal)        \
	X(C_DigestInit)          \
	X(C_Digest)              \
	X(C_DigestUpdate)        \
	X(C_DigestKey)           \
	X(C_DigestFinal)         \
	X(C_SignInit)            \
	X(C_Sign)                \
	X(C_SignUpdate)          \
	X(C_SignFinal)           \
	X(C_SignRecoverInit)     \
	X(C_SignRecover)         \
	X(C_VerifyInit)          \
	X(C_Verify)              \
	X(C_VerifyUpdate)        \
	X(C_VerifyFinal)         \
	X(C_VerifyRecoverInit)   \
	X(C_VerifyRecover)       \
	X(C_DigestEncryptUpdate) \
	X(C_DecryptDigestUpdate) \
	X(C_SignEncryptUpdate)   \
	X(C_DecryptVerifyUpdate) \
	X(C_GenerateKey)         \
	X(C_GenerateKeyPair)     \
	X(C_WrapKey)             \
	X(C_UnwrapKey)           \
	X(C_DeriveKey)           \
	X(C_SeedRandom)          \
	X(C_GenerateRandom)      \
	X(C_GetFunctionStatus)   \
	X(C_CancelFunction)      \
	X(C_WaitForSlotEvent)

/* Added by 3.0, in CK_FUNCTION_LIST_3_0 order. */
#define FUNCS_30(X)              \
	X(C_GetInterfaceList)    \
	X(C_GetInterface)        \
	X(C_LoginUser)           \
	X(C_SessionCancel)       \
	X(C_MessageEncryptInit)  \
	X(C_EncryptMessage)      \
	X(C_EncryptMessageBegin) \
	X(C_EncryptMessageNext)  \
	X(C_MessageEncryptFinal) \
	X(C_MessageDecryptInit)  \
	X(C_DecryptMessage)      \
	X(C_DecryptMessageBegin) \
	X(C_DecryptMessageNext)  \
	X(C_MessageDecryptFinal) \
	X(C_MessageSignInit)     \
	X(C_SignMessage)         \
	X(C_SignMessageBegin)    \
	X(C_SignMessageNext)     \
	X(C_MessageSignFinal)    \
	X(C_MessageVerifyInit)   \
	X(C_VerifyMessage)       \
	X(C_VerifyMessageBegin)  \
	X(C_VerifyMessageNext)   \
	X(C_MessageVerifyFinal)

#define MEMBER(f) .f = f,

static CK_FUNCTION_LIST list_240 = {.version = {2, 40}, .C_GetInfo = C_GetInfo, FUNCS_240(MEMBER)};
static CK_FUNCTION_LIST_3_0 list_30 = {
        .version = {3, 0}, .C_GetInfo = C_GetInfo_30, FUNCS_240(MEMBER) FUNCS_30(MEMBER)};

/* Not CKF_INTERFACE_FORK_SAFE: a child starts over with C_Initialize. */
static CK_INTERFACE interfaces[] = {
        {(CK_CHAR *)"PKCS 11", &list_30, 0},
        {(CK_CHAR *)"PKCS 11", &list_240, 0},
};
#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (!ppFunctionList)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &list_240;
	return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	if (!pulCount)
		return CKR_ARGUMENTS_BAD;
	if (!pInterfacesList) {
		*pulCount = N_INTERFACES;
		return CKR_OK;
	}
	if (*pulCount < N_INTERFACES) {
		*pulCount = N_INTERFACES;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(pInterfacesList, interfaces, sizeof(interfaces));
	*pulCount = N_INTERFACES;
	return CKR_OK;
}

/* The list's version is the interface's: its first member in both layouts. */
static const CK_VERSION *interface_version(const CK_INTERFACE *i)
{
	return (const CK_VERSION *)i->pFunctionList;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	if (!ppInterface)
		return CKR_ARGUMENTS_BAD;
	/* In order of preference: the first match is the newest. */
	for (size_t i = 0; i < N_INTERFACES; i++) {
		const CK_VERSION *v = interface_version(&interfaces[i]);

		if (pInterfaceName &&
		    strcmp((const char *)pInterfaceName, (const char *)interfaces[i].pInterfaceName))
			continue;
		if (pVersion && (pVersion->major != v->major || pVersion->minor != v->minor))
			continue;
		if ((flags & interfaces[i].flags) != flags)
			continue;
		*ppInterface = &interfaces[i];
		return CKR_OK;
	}
	return CKR_ARGUMENTS_BAD;
}
