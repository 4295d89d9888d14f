/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's RPC server (see server.h). Frames are read by hand rather than through a bufferevent so a
 * request (which may carry a PIN) lives in one buffer of ours that is wiped after use: one locked,
 * no-dump page that the loop's connections share for every frame that can carry a PIN (proto_rx: frames
 * are handled one at a time), and a PIN call is decoded into a locked arena. A reply goes straight to
 * the socket when nothing of the client's is queued; what the socket does not take waits in an
 * evbuffer, and later replies queue behind it. A client that sends garbage, oversized frames or stops
 * reading loses its own connection and nothing else. Applications are served round-robin: one call
 * each per round, whatever their number of connections, and below every other event of the loop; an
 * application's next call after one that used a key is read ahead of the round (PRIO_AHEAD). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "daemon/log.h"
#include "daemon/server.h"
#include "protocol/proto-hello.h"

/* File descriptors kept for everything but the clients: the HTTPS endpoint's connections (64), the
 * readers' PC/SC contexts, the cache and records databases with their WAL and shm files, the dialog
 * and backend processes' pipes, the listeners, the log. Generous: running out of descriptors in
 * the middle of a card job or an SQLite open is worse than refusing one more client. */
#define FD_RESERVE 192
/* Clients accepted per wakeup: a crowd connecting at once empties the backlog quickly, and the
 * other events still get their turn. */
#define ACCEPT_BATCH 32
/* Replies a client has not read yet: past this we stop reading its requests. */
#define OUT_PAUSE (1u << 20)
/* A client that reads nothing of a pending reply for this long is dropped. */
#define WRITE_TIMEOUT_S 30
/* Client reads run below every other event (card-job completions, HTTPS, signals, accepts), and the
 * end of a round below them. After this many client reads the loop looks for new events again, so a
 * completion or a newly arrived application's request does not wait for a whole batch of ready
 * clients to be served. */
#define PRIO_AHEAD (SERVER_PRIORITIES - 3)
#define PRIO_READ (SERVER_PRIORITIES - 2)
#define PRIO_ROUND (SERVER_PRIORITIES - 1)
#define READS_PER_POLL 8
/* A connection whose last call used a key (rpc_call_uses_key: a login, a signature, a decryption) has
 * its next request read ahead of the round, at PRIO_AHEAD: a person waits on a signature, a short chain
 * of such calls (C_Login, C_SignInit, C_Sign), while listing calls are a program's bulk. With 200
 * programs listing, a signature's every call waited for a round of them (about 5 ms each here).
 * Between two calls read in the round, at most AHEAD_MAX_IN_ROW are read ahead; one past that goes
 * into the round with the others. So listing keeps at least a fifth of the loop's calls whoever calls
 * C_SignInit in a loop, and a signer's next call is read after at most READS_PER_POLL others. */
#define AHEAD_MAX_IN_ROW 4

struct client {
	struct server *srv;
	int fd;
	struct event *rev, *wev;
	/* Watches for the peer hanging up while its reads are paused (a pending call): a module's
	 * C_Finalize must end its waits and its login at once, not at the next slot event. */
	struct event *cev;
	struct evbuffer *out;
	struct proto_rx rx;
	bool hello_done;
	/* Its application already had a call this round: its reads wait for the next one. */
	bool deferred;
	/* Its last call used a key: its read event is at PRIO_AHEAD. */
	bool ahead;
	/* The id of the call handle_call took last (0 before one). */
	uint32_t last_id;
	/* Whether rev and wev are added (update_events). */
	bool reading, writing;
	/* While a frame is handled it stays in rx: a client_free meanwhile only marks the client dead, and
	 * on_read frees it once the frame is wiped. */
	bool dispatching, dead;
	pid_t pid;
	uid_t uid;
	struct app *app;
	struct call *call;
	struct client *next, *prev;
};

struct server {
	struct daemon *d;
	const struct server_handlers *h;
	int fd;
	struct event *lev;
	struct client *clients;
	size_t nclients, max_clients;
	/* The warning about nearing the cap is given once per crossing of 90%. */
	bool near_warned;
	/* Round-robin between applications: each gets one call per round, however many connections it
	 * has; a round ends when no application that has not had its turn has a request ready. */
	uint64_t round;
	struct event *round_ev;
	bool round_ending;
	/* Calls read ahead since the last one read in the round. */
	unsigned ahead_in_row;
	/* The locked page every connection receives its requests into (see proto-frame.h). */
	struct proto_rx_shared rxpage;
};

static void client_free(struct client *c, const char *why);

struct daemon *call_daemon(const struct call *c)
{
	return c->client ? c->client->srv->d : NULL;
}

static void update_events(struct client *c)
{
	struct timeval tv = {WRITE_TIMEOUT_S, 0};
	bool want_read = c->call == NULL && !c->deferred && evbuffer_get_length(c->out) < OUT_PAUSE;
	bool want_write = evbuffer_get_length(c->out) > 0;

	/* Only changes reach libevent (and epoll_ctl): most calls leave the reading on and nothing to
	 * write once the reply is out. */
	if (want_read != c->reading) {
		if (want_read)
			event_add(c->rev, NULL);
		else
			event_del(c->rev);
		c->reading = want_read;
	}
	/* A request that came with the last one: the socket will not announce it. */
	if (want_read && proto_rx_ready(&c->rx))
		event_active(c->rev, EV_READ, 0);
	if (want_write != c->writing) {
		if (want_write)
			event_add(c->wev, &tv);
		else
			event_del(c->wev);
		c->writing = want_write;
	}
}

/* A write that failed only because the socket is full (or was interrupted): try again later. */
static bool write_would_wait(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static void flush_out(struct client *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		int n = evbuffer_write(c->out, c->fd);

		if (n > 0)
			continue;
		if (n < 0 && write_would_wait(errno))
			break;
		client_free(c, "write failed");
		return;
	}
	update_events(c);
}

/* Sends one frame whose payload is w's bytes after the header reserved by proto_frame_begin. */
static void send_frame(struct client *c, struct proto_buf *w)
{
	const char *why = NULL;
	size_t sent = 0;

	if (proto_frame_end(w) < 0) {
		why = "reply too large";
	} else if (evbuffer_get_length(c->out) == 0) {
		/* Nothing queued before it: straight to the socket, and only what it did not take is queued
		 * (most replies go whole: no copy into the evbuffer, no writev). */
		ssize_t n = send(c->fd, w->data, w->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && !write_would_wait(errno))
			why = "write failed";
		sent = n > 0 ? (size_t)n : 0;
	}
	if (why == NULL && sent < w->len && evbuffer_add(c->out, w->data + sent, w->len - sent) < 0)
		why = "reply too large";
	proto_buf_free(w);
	if (why) {
		client_free(c, why);
		return;
	}
	flush_out(c);
}

static void call_free(struct call *c)
{
	proto_arena_free(&c->arena);
	explicit_bzero(c->args, sizeof(c->args));
	free(c);
}

void call_release(struct call *call)
{
	if (call->app)
		call->handlers->call_done(call->app);
	call_free(call);
}

void call_reply(struct call *call, struct proto_buf *w)
{
	struct client *c = call->client;

	if (call->app)
		call->handlers->call_done(call->app);
	call_free(call);
	if (c == NULL) {
		proto_buf_free(w);
		return;
	}
	c->call = NULL;
	send_frame(c, w);
}

void call_complete(struct call *call, CK_RV rv)
{
	struct client *c = call->client;
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	int e;

	if (call->app)
		call->handlers->call_done(call->app);
	if (call->cancelled || c == NULL) {
		call_free(call);
		return;
	}
	c->call = NULL;
	proto_frame_begin(&w);
	e = rpc_response_encode(call->desc, call->args, rv, &w);
	if (e < 0) {
		/* The call ran but its results can't be sent; say so instead. */
		proto_frame_begin(&w);
		rpc_response_bare(&w, call->desc->id, e == -EINVAL ? CKR_GENERAL_ERROR : CKR_HOST_MEMORY);
	}
	call_free(call);
	send_frame(c, &w);
}

static void handle_hello(struct client *c, const uint8_t *msg, size_t len)
{
	struct proto_hello h;
	struct proto_hello_reply rep = {.major = PROTO_VERSION_MAJOR};
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	char exe[PATH_MAX] = "", link[64];
	ssize_t n;
	int e;

	if (proto_hello_decode(msg, len, &h) < 0) {
		client_free(c, "no valid HELLO");
		return;
	}
	e = proto_hello_negotiate(&h, PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR, &rep.minor);
	snprintf(rep.server_name, sizeof(rep.server_name), "imzad %s", PACKAGE_VERSION);
	proto_frame_begin(&w);
	proto_hello_reply_encode(&w, &rep);
	send_frame(c, &w);
	if (e < 0) {
		log_info("client pid %d speaks protocol %u.x; closing", (int)c->pid, h.major);
		client_free(c, NULL);
		return;
	}
	/* The executable as the kernel knows it: the client's own name is only a claim. */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)c->pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	c->app = c->srv->h->attach(c->srv->d, c->pid, c->uid, (int)h.kind, h.app_name, exe);
	if (c->app == NULL) {
		client_free(c, "too many applications");
		return;
	}
	c->hello_done = true;
	log_debug("client pid %d (%s, %s) connected", (int)c->pid, h.app_name, exe);
}

/* An admin call that answers later (imzactl sign): reads pause until it does. */
static void handle_admin_async(struct client *c, uint32_t id, struct proto_reader *r)
{
	struct call *call = calloc(1, sizeof(*call));
	int e;

	if (call == NULL) {
		client_free(c, "out of memory");
		return;
	}
	proto_arena_init(&call->arena, PROTO_ARENA_MAX);
	call->client = c;
	call->handlers = c->srv->h;
	call->app = c->app;
	call->pending = true;
	c->call = call;
	c->srv->h->call_start(c->app);
	update_events(c);
	e = c->srv->h->admin_async(c->srv->d, call, id, r);
	if (e < 0) {
		/* Nothing was started: the call is still ours. */
		if (c->call == call) {
			c->call = NULL;
			call_release(call);
		}
		client_free(c, "malformed admin request");
	}
}

static void handle_call(struct client *c, const uint8_t *msg, size_t len, bool locked)
{
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_reader r;
	struct call *call;
	uint32_t id;
	CK_RV rv;
	int e;

	proto_reader_init(&r, msg, len);
	if (proto_get_u32(&r, &id) < 0) {
		client_free(c, "malformed request");
		return;
	}
	c->last_id = id;
	if (id == RPC_CALL_IMZA_SIGN || id == RPC_CALL_IMZA_PIN) {
		handle_admin_async(c, id, &r);
		return;
	}
	if (id >= RPC_CALL_IMZA_STATUS) {
		proto_frame_begin(&w);
		e = c->srv->h->admin(c->srv->d, c->app, id, &r, &w);
		if (e < 0) {
			proto_buf_free(&w);
			client_free(c, "malformed admin request");
			return;
		}
		send_frame(c, &w);
		return;
	}
	/* Frames that can hold a PIN fit the locked page; a PIN in a larger one is not taken (no card's
	 * PIN is kilobytes long), so a PIN is never decoded from ordinary heap. */
	if (rpc_call_carries_pin(id) && !locked) {
		proto_frame_begin(&w);
		rpc_response_bare(&w, id, CKR_PIN_LEN_RANGE);
		send_frame(c, &w);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		client_free(c, "out of memory");
		return;
	}
	call->desc = rpc_call_find(id);
	if (call->desc == NULL) {
		free(call);
		proto_frame_begin(&w);
		rpc_response_bare(&w, id, CKR_FUNCTION_NOT_SUPPORTED);
		send_frame(c, &w);
		return;
	}
	rpc_request_arena_init(&call->arena, id);
	e = rpc_request_decode(call->desc, &r, &call->arena, call->args);
	if (e == -ENOMEM) {
		call_free(call);
		proto_frame_begin(&w);
		rpc_response_bare(&w, id, CKR_HOST_MEMORY);
		send_frame(c, &w);
		return;
	}
	if (e < 0) {
		call_free(call);
		client_free(c, "malformed request");
		return;
	}
	call->client = c;
	call->handlers = c->srv->h;
	call->app = c->app;
	c->call = call;
	c->srv->h->call_start(c->app);
	rv = rpc_server_invoke(c->srv->h->p11, call, call->desc, call->args);
	if (rv == CKR_IMZA_PENDING) {
		call->pending = true;
		update_events(c);
		return;
	}
	call_complete(call, rv);
}

/* The round is over: the applications that waited have their turn in the next one. */
static void on_round_end(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	s->round++;
	s->round_ending = false;
	for (struct client *c = s->clients; c; c = c->next) {
		if (c->deferred) {
			c->deferred = false;
			update_events(c);
		}
	}
}

/* Moves the connection's read event to PRIO_AHEAD or back to PRIO_READ. libevent refuses to move an
 * active event: it stays where it is for that request. */
static void set_ahead(struct client *c, bool ahead)
{
	if (c->ahead != ahead && event_priority_set(c->rev, ahead ? PRIO_AHEAD : PRIO_READ) == 0)
		c->ahead = ahead;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct server *s = c->srv;
	const uint8_t *msg;
	uint32_t len;
	bool locked, ahead = c->ahead && c->app && s->ahead_in_row < AHEAD_MAX_IN_ROW;
	int r;

	if (c->ahead && !ahead) {
		/* AHEAD_MAX_IN_ROW calls were read ahead since the round's last: this one goes into the round. */
		set_ahead(c, false);
		event_active(c->rev, EV_READ, 0);
		return;
	}
	if (!ahead && c->app && c->app->served_round == s->round + 1 && !s->round_ending &&
	    event_base_get_num_events(s->d->base, EVENT_BASE_COUNT_ACTIVE) == 0) {
		/* No other event waits (no other client's request among those the loop saw ready, no
		 * deferred one): a new round starts with this request, at no cost. Deferring it would cost
		 * two epoll_ctl and a loop turn for every call of a lone busy application. */
		s->round++;
	}
	if (!ahead && c->app && c->app->served_round == s->round + 1) {
		/* Its application had its call this round (on this or another connection): the request
		 * stays in the socket until the others have had theirs. */
		c->deferred = true;
		update_events(c);
		if (!s->round_ending) {
			s->round_ending = true;
			event_active(s->round_ev, EV_TIMEOUT, 0);
		}
		return;
	}
	r = proto_rx_read(&c->rx, fd, &msg, &len, &locked);
	if (r == -EAGAIN)
		return;
	if (r == -ECONNRESET) {
		client_free(c, proto_rx_idle(&c->rx) ? NULL : "connection closed inside a frame");
		return;
	}
	if (r == -EMSGSIZE || r == -EBADMSG) {
		client_free(c, "frame over the size cap or empty");
		return;
	}
	if (r < 0) {
		client_free(c, r == -ENOMEM ? "out of memory" : "connection closed inside a frame");
		return;
	}
	c->dispatching = true;
	if (c->hello_done) {
		/* Stored one ahead, so that a new application's zero means "not served yet". */
		c->app->served_round = s->round + 1;
		s->ahead_in_row = ahead ? s->ahead_in_row + 1 : 0;
		handle_call(c, msg, len, locked);
	} else
		handle_hello(c, msg, len);
	c->dispatching = false;
	/* Requests carry PINs: nothing of them stays in memory. */
	proto_rx_done(&c->rx);
	if (c->dead) {
		client_free(c, NULL);
		return;
	}
	set_ahead(c, c->hello_done && rpc_call_uses_key(c->last_id));
	if (proto_rx_ready(&c->rx))
		update_events(c);
}

static void on_closed(evutil_socket_t fd, short what, void *arg)
{
	client_free(arg, NULL);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (what & EV_TIMEOUT) {
		client_free(c, "client stopped reading its replies");
		return;
	}
	flush_out(c);
}

static void client_free(struct client *c, const char *why)
{
	struct server *s = c->srv;

	if (why && !c->dead)
		log_info("client pid %d: %s; connection closed", (int)c->pid, why);
	if (c->dispatching) {
		c->dead = true;
		return;
	}
	if (c->call) {
		/* The card job still holds the call; it is freed when the job ends. */
		struct call *call = c->call;

		call->cancelled = true;
		call->client = NULL;
		c->call = NULL;
		if (call->on_cancel)
			call->on_cancel(call);
		else if (c->app)
			s->h->call_cancel(c->app, call);
	}
	if (c->app)
		s->h->detach(s->d, c->app);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->cev);
	evbuffer_free(c->out);
	close(c->fd);
	proto_rx_free(&c->rx);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nclients--;
	if (s->nclients * 10 < s->max_clients * 8)
		s->near_warned = false;
	free(c);
}

/* One connection off the listener; false when there is none left to take. */
static bool accept_one(struct server *s, int lfd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct client *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE)
			log_warning("cannot accept a connection: %s", strerror(errno));
		return false;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		log_warning("refused a connection from uid %d", (int)cred.uid);
		close(fd);
		return true;
	}
	if (s->nclients >= s->max_clients) {
		/* Closed before HELLO: the module tells the application the call failed (conn.c). */
		log_warning("refused a connection: %zu clients already (the cap)", s->max_clients);
		close(fd);
		return true;
	}
	if (!s->near_warned && (s->nclients + 1) * 10 >= s->max_clients * 9) {
		s->near_warned = true;
		log_warning("%zu clients: near the cap of %zu (the open-file limit)", s->nclients + 1,
		            s->max_clients);
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return true;
	}
	c->srv = s;
	c->fd = fd;
	c->pid = cred.pid;
	c->uid = cred.uid;
	proto_rx_init(&c->rx, &s->rxpage);
	c->out = evbuffer_new();
	c->rev = event_new(s->d->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(s->d->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	c->cev = event_new(s->d->base, fd, EV_CLOSED | EV_PERSIST, on_closed, c);
	if (c->out == NULL || c->rev == NULL || c->wev == NULL || c->cev == NULL ||
	    event_priority_set(c->rev, PRIO_READ) < 0) {
		if (c->out)
			evbuffer_free(c->out);
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		if (c->cev)
			event_free(c->cev);
		proto_rx_free(&c->rx);
		close(fd);
		free(c);
		return true;
	}
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
	event_add(c->rev, NULL);
	c->reading = true;
	event_add(c->cev, NULL);
	return true;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	for (int i = 0; i < ACCEPT_BATCH && accept_one(arg, lfd); i++)
		;
}

int server_max_clients(size_t cap, size_t *ret)
{
	struct rlimit rl;
	size_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};

		/* The soft limit is often 1024 for compatibility with select(); imzad uses epoll. */
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
		else
			log_warning("cannot raise the open-file limit to %llu: %s",
			            (unsigned long long)rl.rlim_max, strerror(errno));
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)SIZE_MAX / 2)
		n = SIZE_MAX / 2;
	else
		n = (size_t)rl.rlim_cur;
	n = n > FD_RESERVE + 16 ? n - FD_RESERVE : 16;
	if (cap > 0 && cap < n)
		n = cap;
	*ret = n;
	return 0;
}

int server_event_base_new(struct event_base **ret)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;

	if (cfg == NULL)
		return -ENOMEM;
	if (event_config_set_max_dispatch_interval(cfg, NULL, READS_PER_POLL, PRIO_AHEAD) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL)
		return -ENOMEM;
	if (event_base_priority_init(base, SERVER_PRIORITIES) < 0) {
		event_base_free(base);
		return -EINVAL;
	}
	*ret = base;
	return 0;
}

int server_new(struct daemon *d, const struct server_handlers *h, int listen_fd, size_t max_clients,
               struct server **ret)
{
	struct server *s;

	if (event_base_get_npriorities(d->base) != SERVER_PRIORITIES)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->d = d;
	s->h = h;
	s->max_clients = max_clients;
	if (proto_rx_shared_init(&s->rxpage) < 0) {
		free(s);
		return -ENOMEM;
	}
	/* on_accept takes several connections per wakeup: the last accept must find none, not block
	 * (a listener from socket activation comes blocking). */
	if (fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0) {
		int e = -errno;

		proto_rx_shared_free(&s->rxpage);
		free(s);
		return e;
	}
	s->fd = listen_fd;
	s->lev = event_new(d->base, listen_fd, EV_READ | EV_PERSIST, on_accept, s);
	s->round_ev = event_new(d->base, -1, 0, on_round_end, s);
	if (s->lev == NULL || s->round_ev == NULL || event_priority_set(s->round_ev, PRIO_ROUND) < 0 ||
	    event_add(s->lev, NULL) < 0) {
		if (s->lev)
			event_free(s->lev);
		if (s->round_ev)
			event_free(s->round_ev);
		proto_rx_shared_free(&s->rxpage);
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void server_free(struct server *s)
{
	if (s == NULL)
		return;
	while (s->clients)
		client_free(s->clients, NULL);
	event_free(s->lev);
	event_free(s->round_ev);
	close(s->fd);
	proto_rx_shared_free(&s->rxpage);
	free(s);
}

int server_default_path(char *out, size_t cap)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rt == NULL || rt[0] != '/')
		return -ENOENT;
	n = snprintf(out, cap, "%s/imza/imzad.sock", rt);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int server_bind(const char *path, bool private_dir, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	char *slash;
	struct stat st;
	mode_t old;
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		/* The directory must be ours and no one else may replace the socket in it; our own runtime
		 * directory must also be closed to others. */
		if (stat(dir, &st) < 0)
			return -errno;
		if (st.st_uid != getuid() || (st.st_mode & (private_dir ? 0077 : 0022)))
			return -EPERM;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a previous run that no one answers on may go. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	old = umask(0177);
	e = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (e == 0 && listen(fd, 64) < 0)
		e = -errno;
	if (e < 0) {
		close(fd);
		return e;
	}
	*ret_fd = fd;
	return 0;
}
