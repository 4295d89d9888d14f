/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conn: the module's connections to imzad. Each one starts with a HELLO; ordinary calls share a
 * small pool, blocking C_WaitForSlotEvent calls get their own. A broken connection (the daemon
 * exited or restarted) moves the epoch on, which ends every session of the old daemon without a
 * module handle ever pointing at a new daemon's session of the same number. Every socket the
 * module opens is also in a lock-free registry, so a forked child can close exactly those.
 * An absent daemon (no socket, no listener on it, another user's) and a daemon that refused or
 * dropped us are told apart: the first is "no slots" for the application, the second an error
 * (-ECONNABORTED here, CKR_FUNCTION_FAILED or CKR_DEVICE_ERROR in module.c), never "no card".
 * A call costs one send and one receive: an idle connection is not polled before use, since a send
 * to a daemon that went away fails at once (-EPIPE, nothing delivered) and the call starts over. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "module.h"
#include "proto-frame.h"
#include "proto-hello.h"
#include "rpc.h"

/* How long a HELLO may take: a daemon started by socket activation answers well within it. */
#define HELLO_TIMEOUT_S 10

/* ---- fd registry ----
 * fd + 1 per entry, 0 for none. An entry is cleared before its fd is closed, so a child never
 * closes a number the application has reused; at worst it keeps one socket open. */
#define REG_MAX (P11_POOL_MAX + P11_WAITERS_MAX)
static _Atomic int reg_fds[REG_MAX];

static int reg_add(int fd)
{
	for (int i = 0; i < REG_MAX; i++) {
		int none = 0;

		if (atomic_compare_exchange_strong(&reg_fds[i], &none, fd + 1))
			return i;
	}
	return -1;
}

static void reg_close(int idx, int fd)
{
	if (idx >= 0 && idx < REG_MAX)
		atomic_store(&reg_fds[idx], 0);
	close(fd);
}

void p11_conn_forget_inherited(void)
{
	for (int i = 0; i < REG_MAX; i++) {
		int v = atomic_exchange(&reg_fds[i], 0);

		/* close() sends nothing: the parent's end of each socket stays as it was. */
		if (v > 0)
			close(v - 1);
	}
	memset(&p11_g.pool, 0, sizeof(p11_g.pool));
	memset(&p11_g.waiters, 0, sizeof(p11_g.waiters));
}

static void pool_init(struct p11_pool *p, unsigned cap)
{
	memset(p, 0, sizeof(*p));
	p->cap = cap;
	for (unsigned i = 0; i < cap; i++) {
		p->c[i].fd = -1;
		p->c[i].reg = -1;
	}
}

void p11_conn_init(void)
{
	pool_init(&p11_g.pool, P11_POOL_MAX);
	pool_init(&p11_g.waiters, P11_WAITERS_MAX);
	p11_g.daemon_pid = 0;
}

/* ---- opening a connection ---- */

static int socket_path(struct sockaddr_un *sa)
{
	const char *env = secure_getenv("IMZA_SOCKET");
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (env && env[0]) {
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", env);
	} else {
		env = secure_getenv("XDG_RUNTIME_DIR");
		if (!env || env[0] != '/')
			return -ENOENT;
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/imza/imzad.sock", env);
	}
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int connect_unix(int fd, const struct sockaddr_un *sa)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0;

	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno != EINTR && errno != EINPROGRESS)
		return -errno;
	/* Interrupted: the connection goes on by itself; wait for its outcome. */
	while (poll(&pfd, 1, HELLO_TIMEOUT_S * 1000) < 0)
		if (errno != EINTR)
			return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return err ? -err : 0;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = {seconds, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* The self-declared name: the program's short name with anything unprintable replaced. */
static void app_name(char out[PROTO_NAME_MAX + 1])
{
	const char *src = program_invocation_short_name;
	size_t n = 0;

	if (src) {
		for (; src[n] && n < PROTO_NAME_MAX; n++) {
			unsigned char ch = (unsigned char)src[n];

			out[n] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		}
	}
	out[n] = '\0';
}

static int hello(int fd)
{
	struct proto_hello h = {.major = PROTO_VERSION_MAJOR,
	                        .minor = PROTO_VERSION_MINOR,
	                        .kind = PROTO_CLIENT_PKCS11,
	                        .pid = (uint32_t)getpid()};
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_hello_reply rep;
	int r;

	app_name(h.app_name);
	r = proto_hello_encode(&w, &h);
	if (r == 0)
		r = proto_send_frame(fd, w.data, w.len);
	if (r == 0)
		r = proto_recv_answer(fd, &w);
	if (r == 0)
		r = proto_hello_reply_decode(w.data, w.len, &rep);
	if (r == 0)
		r = proto_hello_reply_check(&rep, PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR);
	proto_buf_free(&w);
	return r;
}

/* The daemon must run as this process's user, or as root (a system service): a socket of another user
 * (a path in IMZA_SOCKET, or a runtime dir taken over) would receive the PINs. Checked before HELLO, so
 * such a listener learns nothing. */
static int check_daemon_uid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred) || (cred.uid != geteuid() && cred.uid != 0))
		return -EPERM;
	return 0;
}

static pid_t peer_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return 0;
	return cred.pid;
}

/* Whether the daemon closed this connection (or, on an idle one, sent anything at all: it never
 * speaks unasked, so that is garbage). Never blocks. */
static bool conn_gone(int fd, bool idle)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP | (idle ? POLLIN : 0)};

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	return pfd.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL);
}

static void close_idle_locked(struct p11_pool *p)
{
	for (unsigned i = 0; i < p->cap; i++) {
		struct p11_conn *c = &p->c[i];

		if (c->fd >= 0 && !c->busy) {
			reg_close(c->reg, c->fd);
			c->fd = -1;
			c->reg = -1;
		}
	}
}

void p11_conn_bump_epoch_locked(void)
{
	p11_g.epoch++;
	p11_g.daemon_pid = 0;
	close_idle_locked(&p11_g.pool);
	close_idle_locked(&p11_g.waiters);
	p11_sess_clear();
	p11_lock_broadcast(&p11_g.lock);
}

/* A new connection reached the daemon: if the ones we have reach another (it restarted and no
 * call has noticed yet), their epoch is over before anything is sent on the new one. */
static void check_same_daemon_locked(struct p11_conn *nc, pid_t pid)
{
	struct p11_pool *pools[] = {&p11_g.pool, &p11_g.waiters};
	bool gone = pid && p11_g.daemon_pid && pid != p11_g.daemon_pid;

	for (size_t k = 0; k < 2 && !gone; k++) {
		for (unsigned i = 0; i < pools[k]->cap && !gone; i++) {
			struct p11_conn *c = &pools[k]->c[i];

			if (c != nc && c->fd >= 0 && c->epoch == p11_g.epoch && !(c->busy && c->fresh))
				gone = conn_gone(c->fd, !c->busy);
		}
	}
	if (gone)
		p11_conn_bump_epoch_locked();
	if (pid)
		p11_g.daemon_pid = pid;
}

/* Connects the reserved entry c (busy, no fd) and says HELLO. */
static int conn_open(struct p11_conn *c)
{
	struct sockaddr_un sa;
	int fd, reg, r;

	r = socket_path(&sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	reg = reg_add(fd);
	if (reg < 0) {
		close(fd);
		return -EMFILE;
	}
	/* Published before connecting, so C_Finalize can interrupt the HELLO. */
	p11_lock(&p11_g.lock);
	if (atomic_load(&p11_state) != P11_READY) {
		p11_unlock(&p11_g.lock);
		reg_close(reg, fd);
		return -ESHUTDOWN;
	}
	c->fd = fd;
	c->reg = reg;
	p11_unlock(&p11_g.lock);

	set_timeouts(fd, HELLO_TIMEOUT_S);
	r = connect_unix(fd, &sa);
	/* A listener whose backlog stayed full for the whole timeout is a daemon too busy for us. */
	if (r == -EAGAIN || r == -EINPROGRESS || r == -ETIMEDOUT)
		r = -ECONNABORTED;
	if (r == 0)
		r = check_daemon_uid(fd);
	if (r == 0) {
		r = hello(fd);
		/* Our daemon is there and did not answer (it refused us at its connection cap, closed on
		 * us or sent nonsense): that is a failure, not an absent daemon. */
		if (r < 0 && r != -ESHUTDOWN)
			r = -ECONNABORTED;
	}
	set_timeouts(fd, 0);

	p11_lock(&p11_g.lock);
	if (r == 0 && atomic_load(&p11_state) != P11_READY)
		r = -ESHUTDOWN;
	if (r < 0) {
		c->fd = -1;
		c->reg = -1;
		p11_unlock(&p11_g.lock);
		reg_close(reg, fd);
		return r;
	}
	check_same_daemon_locked(c, peer_pid(fd));
	c->epoch = p11_g.epoch;
	p11_unlock(&p11_g.lock);
	return 0;
}

/* ---- pool ---- */

static void enqueue_locked(struct p11_pool *p, struct p11_waiter *w)
{
	w->next = NULL;
	if (p->tail)
		p->tail->next = w;
	else
		p->head = w;
	p->tail = w;
}

/* Takes w (the head) off the queue and wakes the next one, which may find another free connection. */
static void dequeue_locked(struct p11_pool *p, struct p11_waiter *w, bool *queued)
{
	if (!*queued)
		return;
	*queued = false;
	if (p->head == w) {
		p->head = w->next;
		if (p->head == NULL)
			p->tail = NULL;
	} else {
		for (struct p11_waiter *q = p->head; q; q = q->next) {
			if (q->next == w) {
				q->next = w->next;
				if (p->tail == w)
					p->tail = q;
				break;
			}
		}
	}
	if (p->head && !p11_g.lock.app)
		pthread_cond_signal(&p->head->c);
	if (!p11_g.lock.app)
		pthread_cond_destroy(&w->c);
}

/* With the lock held: waits to be woken as the queue's head, or for at most 100 ms. */
static void wait_turn_locked(struct p11_waiter *w)
{
	struct timespec ts;

	if (p11_g.lock.app) {
		p11_lock_wait(&p11_g.lock, 100);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 100 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&w->c, &p11_g.lock.m, &ts);
}

int p11_conn_acquire(struct p11_pool *p, bool wait, bool lost, struct p11_conn **ret)
{
	struct p11_waiter me;
	struct p11_conn *c;
	bool queued = false;
	int r;

	p11_lock(&p11_g.lock);
	for (;;) {
		struct p11_conn *idle = NULL, *free_entry = NULL;
		/* First come, first served: a newcomer only when no one waits, a waiter at the head. */
		bool my_turn = queued ? p->head == &me : p->head == NULL;

		if (atomic_load(&p11_state) != P11_READY) {
			dequeue_locked(p, &me, &queued);
			p11_unlock(&p11_g.lock);
			return -ESHUTDOWN;
		}
		for (unsigned i = 0; i < p->cap; i++) {
			c = &p->c[i];
			if (c->busy)
				continue;
			if (c->fd >= 0 && c->epoch != p11_g.epoch) {
				/* Left over from an older epoch (release closes those; be sure). */
				reg_close(c->reg, c->fd);
				c->fd = -1;
				c->reg = -1;
			}
			if (c->fd >= 0 && !idle)
				idle = c;
			else if (c->fd < 0 && !free_entry)
				free_entry = c;
		}
		if (idle && my_turn) {
			/* Not looked at before use (a poll a call): a daemon that went away while it sat
			 * idle makes the request's send fail, and the caller starts over (see p11_conn_roundtrip). */
			idle->busy = true;
			idle->fresh = false;
			dequeue_locked(p, &me, &queued);
			p11_unlock(&p11_g.lock);
			*ret = idle;
			return 0;
		}
		if (free_entry && my_turn) {
			free_entry->busy = true;
			free_entry->fresh = true;
			dequeue_locked(p, &me, &queued);
			p11_unlock(&p11_g.lock);
			r = conn_open(free_entry);
			/* The daemon we had went away and none answers in its place: this call lost it. */
			if (r < 0 && lost && r != -ESHUTDOWN)
				r = -ECONNABORTED;
			if (r < 0) {
				p11_lock(&p11_g.lock);
				free_entry->busy = false;
				free_entry->fresh = false;
				if (p->head && !p11_g.lock.app)
					pthread_cond_signal(&p->head->c);
				p11_lock_broadcast(&p11_g.lock);
				p11_unlock(&p11_g.lock);
				return r;
			}
			*ret = free_entry;
			return 0;
		}
		if (!wait) {
			dequeue_locked(p, &me, &queued);
			p11_unlock(&p11_g.lock);
			return -EBUSY;
		}
		if (!queued) {
			if (!p11_g.lock.app) {
				pthread_condattr_t ca;

				pthread_condattr_init(&ca);
				pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
				pthread_cond_init(&me.c, &ca);
				pthread_condattr_destroy(&ca);
			}
			enqueue_locked(p, &me);
			queued = true;
		}
		wait_turn_locked(&me);
	}
}

void p11_conn_release(struct p11_conn *c, bool broken)
{
	int fd = -1, reg = -1;

	p11_lock(&p11_g.lock);
	if (broken && c->epoch == p11_g.epoch)
		p11_conn_bump_epoch_locked();
	if (broken || c->epoch != p11_g.epoch || atomic_load(&p11_state) != P11_READY) {
		fd = c->fd;
		reg = c->reg;
		c->fd = -1;
		c->reg = -1;
	}
	c->busy = false;
	c->fresh = false;
	/* The queue's head gets this connection; whoever else waits on the lock (C_Finalize) too. */
	for (struct p11_pool *pools[] = {&p11_g.pool, &p11_g.waiters}, **pp = pools; pp < pools + 2; pp++)
		if ((*pp)->head && !p11_g.lock.app)
			pthread_cond_signal(&(*pp)->head->c);
	p11_lock_broadcast(&p11_g.lock);
	p11_unlock(&p11_g.lock);
	if (fd >= 0)
		reg_close(reg, fd);
}

int p11_conn_roundtrip(struct p11_conn *c, const struct proto_buf *req, struct proto_buf *resp)
{
	int r = proto_send_frame(c->fd, req->data, req->len);

	/* A stream socket whose peer closed fails the send at once: the daemon went away (or dropped us)
	 * while this connection sat idle, and nothing of the request reached anyone. */
	if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
		r = -EPIPE;

	/* A PIN leaves our memory as soon as the daemon has it, not when the card has answered. Such calls
	 * name a session, so they are never sent again (see call_entered). */
	if (req->len >= 4 &&
	    rpc_call_carries_pin((uint32_t)req->data[0] << 24 | (uint32_t)req->data[1] << 16 |
	                         (uint32_t)req->data[2] << 8 | req->data[3]))
		explicit_bzero(req->data, req->len);
	if (r < 0)
		return r;
	r = proto_recv_answer(c->fd, resp);
	/* -EPIPE says "not sent"; an EOF or reset after the send is a call lost on its way. */
	return r == -EPIPE ? -ECONNRESET : r;
}

/* ---- C_Finalize ---- */

void p11_conn_shutdown_locked(void)
{
	struct p11_pool *pools[] = {&p11_g.pool, &p11_g.waiters};

	for (size_t k = 0; k < 2; k++) {
		for (unsigned i = 0; i < pools[k]->cap; i++) {
			struct p11_conn *c = &pools[k]->c[i];

			/* The owner closes a busy one; shutdown makes its blocked read return. */
			if (c->fd >= 0 && c->busy)
				shutdown(c->fd, SHUT_RDWR);
		}
		close_idle_locked(pools[k]);
		/* Every queued waiter looks at the state now and leaves. */
		for (struct p11_waiter *w = pools[k]->head; w && !p11_g.lock.app; w = w->next)
			pthread_cond_signal(&w->c);
	}
	p11_lock_broadcast(&p11_g.lock);
}

void p11_conn_close_all(void)
{
	close_idle_locked(&p11_g.pool);
	close_idle_locked(&p11_g.waiters);
}
