/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* module: the state imza-pkcs11.so's parts share. The module holds no card logic: every call goes
 * to imzad over a small pool of Unix-socket connections (conn.c); session handles are the
 * module's own, mapped to the daemon's per connection epoch (session.c); entry points, the
 * generated calls and the local functions are in module.c. */
#ifndef IMZA_P11_MODULE_H
#define IMZA_P11_MODULE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lock.h"
#include "pkcs11-3.h"
#include "proto-buf.h"

/* Connections for ordinary calls; a calling thread takes a free one, opens one up to the cap,
 * or waits. */
#define P11_POOL_MAX 4
/* Dedicated connections of blocking C_WaitForSlotEvent calls, never used for anything else. */
#define P11_WAITERS_MAX 4

enum p11_state {
	P11_UNINIT = 0,
	P11_INITIALIZING,
	P11_READY,
	P11_FINALIZING,
};

struct p11_conn {
	int fd;         /* -1: free entry */
	int reg;        /* its index in the fd registry (conn.c) */
	uint64_t epoch; /* the daemon connection epoch it belongs to */
	bool busy;      /* owned by a calling thread (also while it connects) */
	bool fresh;     /* connected for the call that holds it */
};

/* A thread waiting for a connection. Waiters queue in arrival order and the one at the head is
 * woken alone (its own condition variable): with many threads on few connections, neither a wake-up
 * race (some threads starve for seconds) nor a broadcast (all wake, one proceeds) serves them well. */
struct p11_waiter {
	pthread_cond_t c;
	struct p11_waiter *next;
};

struct p11_pool {
	struct p11_conn c[P11_POOL_MAX > P11_WAITERS_MAX ? P11_POOL_MAX : P11_WAITERS_MAX];
	unsigned cap;
	struct p11_waiter *head, *tail;
};

/* One session of the application: the module's handle (never reused) for the daemon's handle in
 * one epoch. */
struct p11_sess {
	CK_SESSION_HANDLE handle;
	uint64_t epoch;
	CK_SESSION_HANDLE dh;
	CK_SLOT_ID slot;
};

/* Everything below `lock` is guarded by it. */
struct p11_module {
	struct p11_lock lock;
	/* Bumped whenever a connection breaks: every session of an older epoch is gone. */
	uint64_t epoch;
	pid_t daemon_pid; /* the current epoch's daemon as SO_PEERCRED saw it (0: not known) */
	struct p11_pool pool, waiters;
	struct p11_sess *sess;
	size_t nsess, capsess;
};

extern struct p11_module p11_g;
extern _Atomic int p11_state;

/* ---- conn.c ---- */

void p11_conn_init(void);
/* Takes a connection of the current epoch from p (opening one if there is room; waiting for a
 * free one when `wait`, else -EBUSY). -ESHUTDOWN when the module is finalizing; other negative
 * errnos when the daemon can't be reached. An idle connection is handed out unchecked: see
 * p11_conn_roundtrip's -EPIPE. `lost`: the caller's call lost the daemon it had (that -EPIPE), so
 * no daemon in its place is -ECONNABORTED (an error for the call), not an absent daemon. */
int p11_conn_acquire(struct p11_pool *p, bool wait, bool lost, struct p11_conn **ret);
/* Gives it back. broken: the stream can't be trusted any more (EOF, reset, garbage): the
 * connection is closed, every other idle one too, and the epoch moves on. */
void p11_conn_release(struct p11_conn *c, bool broken);
/* One request frame out, one response frame into resp: one send and (for a usual answer) one receive.
 * -EPIPE: the request was not sent, the daemon had closed this connection (it went away while the
 * connection sat idle): release it as broken, which ends the epoch, and start the call over.
 * Any other error after the send (-ECONNRESET for EOF) is a call lost on its way. */
int p11_conn_roundtrip(struct p11_conn *c, const struct proto_buf *req, struct proto_buf *resp);
/* With the lock held: the daemon is gone (or not the one we knew). */
void p11_conn_bump_epoch_locked(void);
/* C_Finalize, lock held: wakes every call blocked on a connection (shutdown) and closes the
 * idle ones. */
void p11_conn_shutdown_locked(void);
/* C_Finalize after the calls drained: closes what is left. */
void p11_conn_close_all(void);
/* In a forked child: closes the inherited sockets without a byte sent on them and forgets them. */
void p11_conn_forget_inherited(void);

/* ---- session.c (all with the lock held) ---- */

/* A new module handle for the daemon's session dh of epoch; -ENOMEM. */
int p11_sess_add(uint64_t epoch, CK_SESSION_HANDLE dh, CK_SLOT_ID slot, CK_SESSION_HANDLE *ret_handle);
/* -ENOENT for a handle that is not (or no longer) open. */
int p11_sess_get(CK_SESSION_HANDLE handle, struct p11_sess *ret);
void p11_sess_forget(CK_SESSION_HANDLE handle);
void p11_sess_forget_slot(uint64_t epoch, CK_SLOT_ID slot);
/* Forgets every session (a new epoch, or C_Finalize). */
void p11_sess_clear(void);
/* In a forked child: the parent's map may have been mid-update; it is set aside, not freed. */
void p11_sess_abandon(void);

#endif
