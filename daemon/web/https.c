/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTPS endpoint (https.h, docs/API.md). libevent's evhttp parses HTTP over OpenSSL bufferevents,
 * api.c holds the rules and the JSON, the signing service (sign.h) gives the answers, some of them
 * minutes later. While a request waits for the service, its connection is watched so that a client
 * that goes away is noticed at once and its request abandoned. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "daemon/web/api.h"
#include "daemon/web/certinfo.h"
#include "daemon/daemon.h"
#include "daemon/web/https.h"
#include "daemon/log.h"
#include "daemon/web/peeruid.h"
#include "daemon/web/sign.h"

/* Idle and I/O timeout of a connection (evhttp's, for reading a request and writing an answer; never
 * while a request waits for the signing service). The test build lowers it. */
#ifndef HTTPS_TIMEOUT_S
#define HTTPS_TIMEOUT_S 30
#endif
/* From accept to a complete request, TLS handshake included, and from an answer to the next request on
 * a kept-alive connection. evhttp's own timeout starts again with every byte, so without this a client
 * sending one byte a second would keep its place for ever. */
#ifndef HTTPS_HEAD_TIMEOUT_S
#define HTTPS_HEAD_TIMEOUT_S 5
#endif
/* Connections past their TLS handshake, in all and from one peer address. Browsers open about 6 per
 * host: two browsers and a program fit under the second. A connection takes its place when its
 * handshake is done; past either cap the oldest connection that has no request in hand makes room for
 * it (first one that has sent part of a request: a slow client), unless it is talking: bytes of it
 * wait unread, or came within HTTPS_TALKING_MS (evhttp reads a request in a callback of its own, after
 * every handshake that was done in the same turn of the loop: a real client's request, sent at once,
 * is not in hand yet then). When every one has a request, the new one is closed; when only talking
 * ones are left, it takes a place beside them up to the hard caps, and past those the oldest talking
 * one goes. */
#ifndef HTTPS_MAX_CONNS
#define HTTPS_MAX_CONNS 64
#endif
#ifndef HTTPS_MAX_CONNS_HARD
#define HTTPS_MAX_CONNS_HARD 256
#endif
#ifndef HTTPS_MAX_PER_PEER
#define HTTPS_MAX_PER_PEER 16
#endif
#ifndef HTTPS_MAX_PER_PEER_HARD
#define HTTPS_MAX_PER_PEER_HARD 64
#endif
#define HTTPS_TALKING_MS 100
/* Connections in their TLS handshake, in all: a budget of their own, so that a flood of new connections
 * (each one costs a handshake before it can show what it is) does not take the places of those through
 * theirs. Past it the oldest handshake goes, once it has had HTTPS_HANDSHAKE_GRACE_MS for its turn: the
 * listener accepts the whole backlog in one go before any of them is read, so in a burst the one that
 * went first is not done yet only because it waited behind the others. While every handshake is that
 * young, a newcomer waits its turn beside them, up to HTTPS_MAX_HANDSHAKES_HARD; past that it goes. A
 * trickle of silent connections keeps nobody out (each is old after the grace), and a flood must open
 * HTTPS_MAX_HANDSHAKES_HARD per grace to shut one out, where a real client needs a few milliseconds. */
#ifndef HTTPS_MAX_HANDSHAKES
#define HTTPS_MAX_HANDSHAKES 32
#endif
#ifndef HTTPS_MAX_HANDSHAKES_HARD
#define HTTPS_MAX_HANDSHAKES_HARD 256
#endif
/* A handshake's turn: the time a real client needs (a few ms) with room to spare. */
#ifndef HTTPS_HANDSHAKE_GRACE_MS
#define HTTPS_HANDSHAKE_GRACE_MS 250
#endif
/* Repeated refusals (peers of other users, connections closed for room) get one log line, then at most
 * one per this period. */
#define HTTPS_LOG_QUIET_S 60
#define HTTPS_MAX_HEADERS 8192
/* libevent's own stop; bodies between API_BODY_MAX and this get our JSON 413. */
#define HTTPS_MAX_BODY_HARD (4 * 1024 * 1024)
/* What a client may send while its request waits (pipelining) before we stop reading it. */
#define HTTPS_HELD_INPUT_MAX (16 * 1024)
#define HTTPS_RETRY_AFTER_S "10"

/* A line that repeats (a client that keeps reconnecting would fill the log): the first is logged, then
 * at most one per HTTPS_LOG_QUIET_S, counting those it stood for. */
struct quiet_log {
	struct timespec logged; /* zero: never */
	unsigned quiet;         /* not logged since */
};

/* One accepted TCP connection, tied to its SSL object: the SSL's ex_data free callback runs when
 * libevent frees the bufferevent, the only hook 2.1 gives on every connection's end. */
struct https_conn {
	struct https_server *h; /* NULL once the server is gone */
	struct bufferevent *bev;
	struct event *accepted;   /* runs once evhttp has given the bufferevent its socket */
	struct event *deadline;   /* HTTPS_HEAD_TIMEOUT_S for a whole request, unless one is in hand */
	struct timespec since;    /* accepted, placed or last answered: the oldest is closed first */
	bool checked;             /* the peer's uid was asked */
	bool same_uid;            /* and it is imzad's */
	bool shaking;             /* in nshaking: accepted, its handshake not done */
	bool counted;             /* placed: in nconns and its peer's count */
	bool in_request;          /* a request arrived and is not answered yet */
	bool got_bytes;           /* bytes of a request came since the deadline was set, not all of it */
	struct timespec input_at; /* when bytes last came (see talking) */
	bool closing;             /* shut down by us; evhttp frees it when it reads the end */
	int family;               /* the peer's address, once accepted */
	uint8_t addr[16];
	struct evbuffer_cb_entry *input_cb; /* note_input, on its input buffer */
	struct https_conn *next, *prev;
};

enum route { ROUTE_NONE, ROUTE_INFO, ROUTE_CERTS, ROUTE_SIGN };

/* One request from its arrival to its answer. */
struct hreq {
	struct https_server *h;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	enum route route;
	bool has_origin; /* a valid Origin: answers carry CORS headers */
	char origin[API_ORIGIN_MAX + 1];
	char what[96]; /* "GET /v1/info" for the log, printable */
	enum sign_format format;
	bool detached;
	struct sign_pending *pending;
	bool in_call;    /* inside sign_submit / sign_consent */
	bool answered;   /* its answer went out */
	bool watched;    /* the connection's callbacks are ours */
	double received; /* when the whole request was there (CLOCK_MONOTONIC s), for the signing timings */
};

struct https_server {
	struct daemon *d;
	struct signsvc *svc;
	SSL_CTX *ctx; /* NULL until the first connection when made lazily (make_ctx) */
	int (*make_ctx)(void *arg, SSL_CTX **ret);
	void *make_arg;
	uint16_t port;
	struct evhttp *http;
	struct https_conn *conns;
	unsigned nconns;
	unsigned nshaking;
	struct quiet_log full;    /* connections closed for room */
	uid_t uid;                /* the only user served */
	struct quiet_log refused; /* peers of other users */
};

static int conn_index = -1;

/* ---- connections ---- */

static void conn_unlink(struct https_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (c->h)
		c->h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

/* CRYPTO_EX_free for conn_index: called for every SSL freed in the process, ours when ptr is set. */
static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct https_conn *c = ptr;

	if (c == NULL)
		return;
	/* Called from the bufferevent's free, before its buffers go. */
	if (c->input_cb && c->bev)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
	if (c->accepted)
		event_free(c->accepted);
	if (c->deadline)
		event_free(c->deadline);
	if (c->h) {
		if (c->counted)
			c->h->nconns--;
		if (c->shaking)
			c->h->nshaking--;
		conn_unlink(c);
	}
	free(c);
}

static struct https_conn *conn_of(struct bufferevent *bev)
{
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;
}

static struct https_conn *conn_of_request(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	return evcon ? conn_of(evhttp_connection_get_bufferevent(evcon)) : NULL;
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Shuts the socket down: the handshake or evhttp then reads EOF and evhttp frees the connection the
 * usual way, so nothing here needs evhttp's connection object. Its place is free at once. */
static void conn_close(struct https_conn *c)
{
	evutil_socket_t fd = c->bev ? bufferevent_getfd(c->bev) : -1;

	if (c->counted && c->h)
		c->h->nconns--;
	if (c->shaking && c->h)
		c->h->nshaking--;
	c->counted = c->shaking = false;
	c->closing = true;
	if (c->deadline)
		evtimer_del(c->deadline);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* The deadline runs from now: for a new connection, or once an answer is on its way. */
static void conn_arm(struct https_conn *c)
{
	static const struct timeval head = {HTTPS_HEAD_TIMEOUT_S, 0};

	c->in_request = false;
	c->got_bytes = false;
	clock_gettime(CLOCK_MONOTONIC, &c->since);
	if (c->deadline && !c->closing)
		evtimer_add(c->deadline, &head);
}

static void on_deadline(evutil_socket_t unused, short what, void *arg)
{
	struct https_conn *c = arg;

	log_debug("https: no whole request within %d s; closing the connection", HTTPS_HEAD_TIMEOUT_S);
	conn_close(c);
}

/* Whether the line is due now; if so, *ret_quiet is how many it stands for and the period starts. */
static bool quiet_log_due(struct quiet_log *q, unsigned *ret_quiet)
{
	static const struct timespec never;

	if (memcmp(&q->logged, &never, sizeof(never)) != 0 && seconds_since(&q->logged) < HTTPS_LOG_QUIET_S) {
		q->quiet++;
		return false;
	}
	*ret_quiet = q->quiet;
	q->quiet = 0;
	clock_gettime(CLOCK_MONOTONIC, &q->logged);
	return true;
}

static void log_refused(struct https_server *h, int e, uid_t uid)
{
	unsigned quiet;

	if (!quiet_log_due(&h->refused, &quiet))
		return;
	if (e < 0)
		log_warning(
		        "https: closed a connection whose peer's uid is unknown (%s); only uid %u is served "
		        "(%u more refused since the last line)",
		        strerror(-e), (unsigned)h->uid, quiet);
	else
		log_warning("https: closed a connection from uid %u; only uid %u is served (%u more refused "
		            "since the last line)",
		            (unsigned)uid, (unsigned)h->uid, quiet);
}

/* Whether the peer runs as imzad's user: loopback is open to every local user. Asked once, as soon as
 * the socket is known; a peer that cannot be identified is refused. */
static bool conn_peer_ok(struct https_conn *c)
{
	evutil_socket_t fd = c->bev ? bufferevent_getfd(c->bev) : -1;
	uid_t uid = (uid_t)-1;
	int e;

	if (c->checked || c->h == NULL)
		return c->same_uid;
	if (fd < 0)
		return false;
	c->checked = true;
	e = peer_fd_uid(fd, &uid);
	c->same_uid = e == 0 && uid == c->h->uid;
	if (!c->same_uid)
		log_refused(c->h, e, uid);
	return c->same_uid;
}

static bool same_peer(const struct https_conn *a, const struct https_conn *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static bool older(const struct https_conn *a, const struct https_conn *b)
{
	return b == NULL || a->since.tv_sec < b->since.tv_sec ||
	       (a->since.tv_sec == b->since.tv_sec && a->since.tv_nsec < b->since.tv_nsec);
}

/* Whether the handshake c has had HTTPS_HANDSHAKE_GRACE_MS since it was accepted. */
static bool had_its_turn(const struct https_conn *c)
{
	return seconds_since(&c->since) * 1000 >= HTTPS_HANDSHAKE_GRACE_MS;
}

/* Whether c's peer is sending: bytes wait in the socket or in OpenSSL, or came within HTTPS_TALKING_MS. */
static bool talking(const struct https_conn *c)
{
	static const struct timespec never;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int n = 0;

	if (memcmp(&c->input_at, &never, sizeof(never)) != 0 &&
	    seconds_since(&c->input_at) * 1000 < HTTPS_TALKING_MS)
		return true;
	if (ssl && SSL_pending(ssl) > 0)
		return true;
	return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* The placed connection with no request in hand that has waited longest (of like's peer, or of any when
 * like is NULL), or NULL: one that is not talking (*passed says whether one was passed over for it),
 * or with quiet false any. First one that has sent part of a request (a slow client: a real one sends
 * its head whole, and it is in hand as it lands), then one that has sent nothing. "Part of a request"
 * counts every byte that came, not what is still buffered: evhttp takes each whole header line out, so
 * a slow client's buffer is empty between its lines. */
static struct https_conn *oldest_idle(struct https_server *h, const struct https_conn *like, bool quiet,
                                      bool *passed)
{
	struct https_conn *slow = NULL, *idle = NULL;

	for (struct https_conn *c = h->conns; c; c = c->next) {
		if (!c->counted || c->in_request || (like && !same_peer(c, like)))
			continue;
		if (quiet && talking(c)) {
			*passed = true;
			continue;
		}
		if (c->got_bytes) {
			if (older(c, slow))
				slow = c;
		} else if (older(c, idle))
			idle = c;
	}
	return slow ? slow : idle;
}

/* Makes room under a cap: closes the oldest idle connection that is not talking; else, with only
 * talking ones, lets the new one in below hard, or past it closes the oldest of them. false when every
 * one has a request. n: the connections under that cap. */
static bool make_room(struct https_server *h, const struct https_conn *like, unsigned n, unsigned hard)
{
	bool passed = false;
	struct https_conn *v = oldest_idle(h, like, true, &passed);

	if (v == NULL && passed && n < hard)
		return true;
	if (v == NULL && passed)
		v = oldest_idle(h, like, false, &passed);
	if (v == NULL)
		return false;
	log_debug("https: closing a connection idle for %.1f s to make room", seconds_since(&v->since));
	conn_close(v);
	return true;
}

/* A cap was reached (see quiet_log). */
static void note_full(struct https_server *h)
{
	unsigned quiet;

	if (quiet_log_due(&h->full, &quiet))
		log_info("https: %u connections open, %u from one address or %u in their handshake: closing "
		         "the oldest idle ones (%u times since the last line)",
		         HTTPS_MAX_CONNS, HTTPS_MAX_PER_PEER, HTTPS_MAX_HANDSHAKES, quiet);
}

/* The peer's address, for its cap. */
static bool conn_address(struct https_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return false;
	c->family = ss.ss_family;
	if (ss.ss_family == AF_INET)
		memcpy(c->addr, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
	else if (ss.ss_family == AF_INET6)
		memcpy(c->addr, &((const struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	return true;
}

/* A handshake's place under HTTPS_MAX_HANDSHAKES (and its hard cap), by closing the oldest one if it has
 * had its turn. */
static bool conn_admit_handshake(struct https_conn *c)
{
	struct https_server *h = c->h;
	struct https_conn *v = NULL;

	if (h->nshaking >= HTTPS_MAX_HANDSHAKES) {
		note_full(h);
		for (struct https_conn *o = h->conns; o; o = o->next)
			if (o->shaking && older(o, v))
				v = o;
		if (v && had_its_turn(v)) {
			log_debug("https: closing a handshake begun %.1f s ago to make room",
			          seconds_since(&v->since));
			conn_close(v);
		} else if (h->nshaking >= HTTPS_MAX_HANDSHAKES_HARD)
			return false;
	}
	c->shaking = true;
	h->nshaking++;
	return true;
}

/* The connection's place once its handshake is done: within the per-peer and the global cap, by
 * closing older idle ones if need be. false: no room, the new one goes. */
static bool conn_admit(struct https_conn *c)
{
	struct https_server *h = c->h;
	unsigned same = 0;

	if (c->counted)
		return true;
	if (c->shaking) {
		c->shaking = false;
		h->nshaking--;
	}
	for (struct https_conn *o = h->conns; o; o = o->next)
		if (o != c && o->counted && same_peer(o, c))
			same++;
	if (same >= HTTPS_MAX_PER_PEER) {
		note_full(h);
		if (!make_room(h, c, same, HTTPS_MAX_PER_PEER_HARD))
			return false;
	}
	if (h->nconns >= HTTPS_MAX_CONNS) {
		note_full(h);
		if (!make_room(h, NULL, h->nconns, HTTPS_MAX_CONNS_HARD))
			return false;
	}
	c->counted = true;
	h->nconns++;
	clock_gettime(CLOCK_MONOTONIC, &c->since);
	return true;
}

/* Every answer is small and goes out whole: Nagle's algorithm would hold its last segment until the
 * client's delayed ACK (about 40 ms on Linux) for nothing, on every request of a kept-alive connection. */
static int set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

/* evhttp set the socket right after make_bev returned: no Nagle, the peer's uid, then its place among
 * the handshakes (unless it is through its handshake already). */
static void on_accepted(evutil_socket_t unused, short what, void *arg)
{
	struct https_conn *c = arg;
	int e;

	if (c->h == NULL || c->closing)
		return;
	/* Linux gives accepted sockets the listener's TCP_NODELAY (set in listen_loopback and adopt), so the
	 * handshake has it already; this is for the kernels that do not, and for a listener we could not set. */
	e = set_nodelay(bufferevent_getfd(c->bev));
	if (e < 0)
		log_warning("https: cannot set TCP_NODELAY, answers may wait for the client's ACK: %s",
		            strerror(-e));
	if (c->counted)
		return;
	if (!conn_peer_ok(c) || !conn_address(c) || !conn_admit_handshake(c))
		conn_close(c);
}

/* OpenSSL's info callback: the handshake is done, the connection takes its place. With TLS 1.3 this
 * can come more than once (after each session ticket). */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct https_conn *c = SSL_get_ex_data(ssl, conn_index);

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE) || c == NULL || c->h == NULL || c->closing || c->counted)
		return;
	if (!conn_peer_ok(c) || !conn_address(c) || !conn_admit(c))
		conn_close(c);
}

/* The OpenSSL bufferevent makes one SSL_write, so one TLS record and one send, per chain of its output
 * buffer, and evhttp puts an answer's head and its body in separate chains: two records, two segments.
 * Joining the front of the buffer as it fills sends the usual answer (a few hundred bytes) as one. Past
 * a record's worth (16 KiB) it would only copy: the records are full anyway. */
#define HTTPS_JOIN_MAX 16384
static void join_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *unused)
{
	size_t len = evbuffer_get_length(buf);

	if (info->n_added > 0 && len > 0)
		evbuffer_pullup(buf, (ev_ssize_t)(len < HTTPS_JOIN_MAX ? len : HTTPS_JOIN_MAX));
}

/* Decrypted bytes came: part of a request, at least, until it is whole (see oldest_idle). */
static void note_input(struct evbuffer *unused, const struct evbuffer_cb_info *info, void *arg)
{
	struct https_conn *c = arg;

	if (info->n_added > 0) {
		clock_gettime(CLOCK_MONOTONIC, &c->input_at);
		if (!c->in_request)
			c->got_bytes = true;
	}
}

/* evhttp's bevcb: every accepted socket gets a TLS server bufferevent. Returning NULL would make evhttp
 * speak plain HTTP on the socket; on_request refuses any request that did not come through TLS, so even
 * that failure (out of memory) cannot serve plain HTTP. */
/* OpenSSL's TLS state, made when first needed: an imzad that serves no web page keeps libssl's and most
 * of libcrypto's pages out of memory (and its config unread). */
static int server_ctx(struct https_server *h)
{
	int e;

	if (conn_index < 0) {
		conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
		if (conn_index < 0)
			return -ENOMEM;
	}
	if (h->ctx)
		return 0;
	e = h->make_ctx(h->make_arg, &h->ctx);
	if (e < 0)
		h->ctx = NULL;
	return e;
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct https_server *h = arg;
	SSL *ssl;
	struct https_conn *c;
	struct bufferevent *bev;

	if (server_ctx(h) < 0) {
		log_error("https: no TLS set-up: connection refused");
		return NULL;
	}
	ssl = SSL_new(h->ctx);
	c = calloc(1, sizeof(*c));

	if (c) {
		c->accepted = evtimer_new(base, on_accepted, c);
		c->deadline = evtimer_new(base, on_deadline, c);
	}
	if (ssl == NULL || c == NULL || c->accepted == NULL || c->deadline == NULL) {
		SSL_free(ssl);
		if (c && c->accepted)
			event_free(c->accepted);
		if (c && c->deadline)
			event_free(c->deadline);
		free(c);
		log_error("https: out of memory for a connection");
		return NULL;
	}
	/* TLS 1.2 or later whatever the context allows. From SSL_set_ex_data on, SSL_free frees c. */
	if (SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 || SSL_set_ex_data(ssl, conn_index, c) != 1) {
		SSL_free(ssl);
		event_free(c->accepted);
		event_free(c->deadline);
		free(c);
		log_error("https: cannot set up a TLS connection");
		return NULL;
	}
	SSL_set_info_callback(ssl, on_tls_info);
	c->h = h;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	/* The socket is not ours to see yet: evhttp sets it after this returns. Made active rather than a
	 * timer of 0 s: active events run in the order they were made so, timers of one time in any, and a
	 * burst is placed in the order it was accepted (the newest goes past the hard cap). */
	event_active(c->accepted, EV_TIMEOUT, 0);
	conn_arm(c);
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		/* libevent freed the SSL, and with it c. */
		log_error("https: cannot make a TLS bufferevent");
		return NULL;
	}
	c->bev = bev;
	/* Writes happen later, from the loop, so every piece of an answer is in the buffer by then. Without
	 * this the answer still goes out at once (TCP_NODELAY), only in two records. */
	if (evbuffer_add_cb(bufferevent_get_output(bev), join_output, NULL) == NULL)
		log_warning("https: cannot join answers into one record");
	c->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), note_input, c);
	/* A browser may close without close_notify: that is an EOF, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* ---- answers ---- */

static void hreq_free(struct hreq *r)
{
	free(r);
}

/* Sends the answer: body (a reference we take; NULL for none, e.g. 204) with the headers every answer
 * has. A refused request is logged here, once, without its body. */
static void reply(struct hreq *r, int status, json_t *body, const char *code)
{
	static const char oom[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}";
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct evbuffer *buf = evhttp_request_get_output_buffer(r->req);
	struct https_conn *c;
	char *text = NULL;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
	}
	/* Only a 204 has no body; a missing one means a builder ran out of memory. */
	if (status != 204 && text == NULL) {
		status = 500;
		code = "internal";
		evbuffer_add(buf, oom, sizeof(oom) - 1);
	} else if (text) {
		evbuffer_add(buf, text, strlen(text));
	}
	free(text);
	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Vary", "Origin");
	if (r->has_origin)
		evhttp_add_header(out, "Access-Control-Allow-Origin", r->origin);
	if (status >= 400)
		log_info("https: %s from %s: %d %s", r->what, r->has_origin ? r->origin : "(no valid origin)",
		         status, code ? code : "");
	r->answered = true;
	/* The next request on this connection has its own deadline, from now. */
	c = conn_of_request(r->req);
	if (c)
		conn_arm(c);
	evhttp_send_reply(r->req, status, api_status_reason(status), NULL);
}

static void reply_error(struct hreq *r, int status, const char *code, const char *message)
{
	reply(r, status, api_error_json(code, message), code);
}

static void reply_sign_error(struct hreq *r, enum sign_err e, const char *message, int tries_left)
{
	const char *code = sign_err_code(e);

	if (message == NULL)
		message = sign_err_message(e);
	if (e == SIGN_E_BUSY)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After",
		                  HTTPS_RETRY_AFTER_S);
	reply(r, api_err_status(e),
	      e == SIGN_E_PIN_INCORRECT ? api_error_tries_json(code, message, tries_left)
	                                : api_error_json(code, message),
	      code);
}

/* ---- waiting for the signing service ---- */

/* Data from a client whose request waits (HTTP pipelining): left for evhttp, which reads it as the next
 * request after our answer; past a limit we stop reading. */
static void on_watched_read(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_input(bev)) > HTTPS_HELD_INPUT_MAX)
		bufferevent_disable(bev, EV_READ);
}

static void on_watched_event(struct bufferevent *bev, short what, void *arg)
{
	struct hreq *r = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("https: %s: the client went away while it waited", r->what);
		/* Runs on_conn_close (which abandons and frees r), then frees the request. */
		evhttp_connection_free(r->evcon);
		return;
	}
	/* Timeouts are off while watched; keep reading whatever else this is. */
	bufferevent_enable(bev, EV_READ);
}

/* evhttp is freeing the connection (client gone, or the server going down): the request is freed right
 * after this returns, so the service must never call back for it. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct hreq *r = arg;

	if (r->pending)
		sign_abandon(r->pending);
	hreq_free(r);
}

/* evhttp stops reading a connection once its request is read (libevent 2.1.12: evhttp_handle_request
 * disables EV_READ) and so never learns that an incoming connection closed while the user holds its
 * request; reading it with evhttp's own callbacks in that state would hit event_errx. So the
 * bufferevent is ours until the answer. Its timeouts are off meanwhile: reading with them would end
 * any wait longer than HTTPS_TIMEOUT_S (a PIN dialog), and unwatch puts them back. */
static void watch(struct hreq *r)
{
	struct bufferevent *bev;

	r->evcon = evhttp_request_get_connection(r->req);
	bev = evhttp_connection_get_bufferevent(r->evcon);
	evhttp_connection_set_closecb(r->evcon, on_conn_close, r);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setcb(bev, on_watched_read, NULL, on_watched_event, r);
	bufferevent_enable(bev, EV_READ);
	r->watched = true;
}

/* Gives the connection back to evhttp for the answer (evhttp_send_reply sets its own callbacks). */
static void unwatch(struct hreq *r)
{
	evhttp_connection_set_closecb(r->evcon, NULL, NULL);
	evhttp_connection_set_timeout(r->evcon, HTTPS_TIMEOUT_S);
	r->watched = false;
}

/* After sign_submit / sign_consent returned p: answered already, or wait. */
static void wait_or_finish(struct hreq *r, struct sign_pending *p)
{
	if (r->answered) {
		hreq_free(r);
		return;
	}
	if (p == NULL) {
		/* The service promised an answer with NULL. */
		log_error("https: %s: the signing service gave neither an answer nor a handle", r->what);
		reply_error(r, 500, "internal", "internal error");
		hreq_free(r);
		return;
	}
	r->pending = p;
	watch(r);
}

/* The answer came; r is freed here unless the service answered from inside the call. */
static void answered(struct hreq *r)
{
	if (!r->in_call)
		hreq_free(r);
}

static void on_signed(void *ud, const struct sign_result *res)
{
	struct hreq *r = ud;

	r->pending = NULL;
	if (r->watched)
		unwatch(r);
	if (res->err == SIGN_OK)
		reply(r, 200, api_sign_reply_json(res, r->format, r->detached), NULL);
	else
		reply_sign_error(r, res->err, res->message, res->tries_left);
	answered(r);
}

static int add_cert(void *ud, const struct sign_cert *c)
{
	json_t *arr = ud;
	struct certinfo ci;
	json_t *j;
	int e = certinfo_parse(c->der, c->der_len, &ci);

	if (e < 0) {
		/* The label is the card's text: the id goes to the log instead. */
		log_warning("https: certificate %02x%02x%02x%02x... cannot be shown: %s", c->id[0], c->id[1],
		            c->id[2], c->id[3], strerror(-e));
		return 0;
	}
	j = api_cert_json(c, &ci);
	if (j == NULL || json_array_append_new(arr, j) != 0)
		return -ENOMEM;
	return 0;
}

static void reply_certs(struct hreq *r)
{
	json_t *arr = json_array();
	int e = arr ? sign_list_certs(r->h->svc, add_cert, arr) : -ENOMEM;

	if (e < 0) {
		json_decref(arr);
		log_error("https: listing certificates: %s", strerror(-e));
		reply_error(r, 500, "internal", "internal error");
		return;
	}
	reply(r, 200, json_pack("{s:o}", "certificates", arr), NULL);
}

static void on_consent(void *ud, enum sign_err e)
{
	struct hreq *r = ud;

	r->pending = NULL;
	if (r->watched)
		unwatch(r);
	if (e == SIGN_OK)
		reply_certs(r);
	else
		reply_sign_error(r, e, NULL, -1);
	answered(r);
}

/* ---- requests ---- */

static const char *one_header(struct evkeyvalq *hs, const char *name, bool *ret_many);

static struct sign_peer peer_of(const struct hreq *r)
{
	struct sign_peer p;

	memset(&p, 0, sizeof(p));
	p.web = true;
	if (r->has_origin)
		memcpy(p.origin, r->origin, strlen(r->origin) + 1);
	return p;
}

static void handle_certs(struct hreq *r)
{
	struct sign_peer peer = peer_of(r);
	struct sign_pending *p;

	r->in_call = true;
	p = sign_consent(r->h->svc, &peer, on_consent, r);
	r->in_call = false;
	wait_or_finish(r, p);
}

static void handle_sign(struct hreq *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct evbuffer *body = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(body);
	struct api_sign_request rq;
	char err[API_ERR_MAX];
	struct sign_peer peer;
	struct sign_pending *p;
	const uint8_t *data;
	const char *ct;
	bool many;
	int e;

	ct = one_header(in, "Content-Type", &many);
	if (many || !api_content_type_ok(ct)) {
		reply_error(r, 415, "bad_request", "Content-Type must be application/json or text/plain");
		hreq_free(r);
		return;
	}
	data = len ? evbuffer_pullup(body, -1) : (const uint8_t *)"";
	e = data ? api_sign_parse(data, len, &rq, err, sizeof(err)) : -ENOMEM;
	if (e < 0) {
		if (e == -EINVAL)
			reply_error(r, 400, "bad_request", err);
		else
			reply_error(r, 500, "internal", "internal error");
		hreq_free(r);
		return;
	}
	r->format = rq.args.format;
	r->detached = rq.args.detached;
	rq.args.received = r->received;
	peer = peer_of(r);
	r->in_call = true;
	p = sign_submit(r->h->svc, &peer, &rq.args, on_signed, r);
	r->in_call = false;
	api_sign_request_clear(&rq);
	wait_or_finish(r, p);
}

/* A preflight never opens a dialog: a stored "allow" gets the CORS answer, anything else 403. */
static void handle_preflight(struct hreq *r, const char *allow)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	const char *pna = evhttp_find_header(in, "Access-Control-Request-Private-Network");

	if (!r->has_origin) {
		/* Not a CORS preflight: a plain OPTIONS. */
		evhttp_add_header(out, "Allow", allow);
		reply(r, 204, NULL, NULL);
		return;
	}
	if (sign_origin_decision(r->h->svc, r->origin) != 1) {
		reply_error(r, 403, "origin_denied",
		            "this origin holds no grant; a preflight never asks the user");
		return;
	}
	evhttp_add_header(out, "Access-Control-Allow-Methods", "GET, POST");
	evhttp_add_header(out, "Access-Control-Allow-Headers", "Content-Type");
	evhttp_add_header(out, "Access-Control-Max-Age", "600");
	if (pna && strcasecmp(pna, "true") == 0)
		evhttp_add_header(out, "Access-Control-Allow-Private-Network", "true");
	reply(r, 204, NULL, NULL);
}

/* The value of a header that may appear once; *ret_many when it appears more often. */
static const char *one_header(struct evkeyvalq *hs, const char *name, bool *ret_many)
{
	const char *v = NULL;
	unsigned n = 0;

	for (struct evkeyval *kv = hs->tqh_first; kv; kv = kv->next.tqe_next)
		if (strcasecmp(kv->key, name) == 0) {
			v = n == 0 ? kv->value : v;
			n++;
		}
	*ret_many = n > 1;
	return v;
}

static const char *method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "?";
	}
}

static void describe(struct hreq *r, enum evhttp_cmd_type cmd, const char *path)
{
	size_t n = (size_t)snprintf(r->what, sizeof(r->what), "%s ", method_name(cmd));

	/* The path as sent, shortened, printable ASCII only: it goes to the log. */
	for (; path && *path && n + 1 < sizeof(r->what); path++)
		r->what[n++] = *path > 0x20 && *path < 0x7f ? *path : '?';
	r->what[n] = '\0';
}

/* CLOCK_MONOTONIC seconds, as the signing service's timings count (signq_now). */
static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct https_server *h = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *host, *origin, *allow = NULL;
	enum evhttp_cmd_type want = EVHTTP_REQ_GET;
	bool many_hosts, many_origins;
	struct https_conn *conn;
	struct hreq *r;
	int decision, origin_e;
	double received = mono_now();

	/* Only what came through TLS is answered (see make_bev). */
	if (bev == NULL || bufferevent_openssl_get_ssl(bev) == NULL) {
		log_warning("https: a request without TLS; closing its connection");
		if (evcon)
			evhttp_connection_free(evcon);
		return;
	}
	/* Only imzad's own user, on a connection that still has its place (taken when its handshake was
	 * done). The request stops its deadline until it is answered. */
	conn = conn_of(bev);
	if (conn == NULL || !conn_peer_ok(conn) || conn->closing || !conn->counted) {
		if (conn)
			conn_close(conn);
		evhttp_connection_free(evcon);
		return;
	}
	conn->in_request = true;
	evtimer_del(conn->deadline);
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	r->h = h;
	r->req = req;
	r->received = received;
	describe(r, cmd, path);
	origin = one_header(in, "Origin", &many_origins);
	origin_e = many_origins ? -EINVAL : api_origin_check(origin);
	if (origin && origin_e == 0) {
		memcpy(r->origin, origin, strlen(origin) + 1);
		r->has_origin = true;
	}

	/* DNS rebinding: a page of evil.example resolving to 127.0.0.1 still names itself in Host. An
	 * absolute URI would name a host of its own: refused alike. */
	host = one_header(in, "Host", &many_hosts);
	if (many_hosts || !api_host_ok(host, h->port) || (uri && evhttp_uri_get_host(uri) != NULL)) {
		reply_error(r, 421, "bad_host",
		            "Host must be localhost, 127.0.0.1 or [::1] with imza's port");
		hreq_free(r);
		return;
	}

	if (path && strcmp(path, "/v1/info") == 0) {
		r->route = ROUTE_INFO;
		allow = "GET, OPTIONS";
	} else if (path && strcmp(path, "/v1/certificates") == 0) {
		r->route = ROUTE_CERTS;
		allow = "GET, OPTIONS";
	} else if (path && strcmp(path, "/v1/sign") == 0) {
		r->route = ROUTE_SIGN;
		allow = "POST, OPTIONS";
		want = EVHTTP_REQ_POST;
	} else {
		reply_error(r, 404, "not_found", "no such route");
		hreq_free(r);
		return;
	}
	if (cmd != want && cmd != EVHTTP_REQ_OPTIONS) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		reply_error(r, 405, "method_not_allowed", "method not allowed on this route");
		hreq_free(r);
		return;
	}

	/* libevent stops bodies past HTTPS_MAX_BODY_HARD itself; the API's limit is ours, in JSON. */
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > API_BODY_MAX) {
		reply_error(r, 413, "too_large", "the body is over 1 MiB");
		hreq_free(r);
		return;
	}
	/* An origin too long to be shown whole is no origin a page can have (a host is at most 253 bytes):
	 * refused as malformed, never cut for a dialog. */
	if (origin && origin_e == -E2BIG) {
		reply_error(r, 400, "bad_request", "Origin is over 253 bytes");
		hreq_free(r);
		return;
	}
	/* "null" (sandboxed frames, file: pages) names no one and cannot be granted; a malformed or repeated
	 * Origin is no better. */
	if (origin && !r->has_origin) {
		reply_error(r, 403, "origin_denied", "this Origin cannot be granted");
		hreq_free(r);
		return;
	}
	if (cmd == EVHTTP_REQ_OPTIONS) {
		handle_preflight(r, allow);
		hreq_free(r);
		return;
	}
	if (r->route == ROUTE_INFO) {
		reply(r, 200, api_info_json(r->has_origin && sign_origin_granted(h->svc, r->origin)), NULL);
		hreq_free(r);
		return;
	}
	/* A browser leaves Origin out of no-cors requests (an <img> or <script> pointing here), so any page
	 * could make the user answer "(no origin)" dialogs; browsers mark every request with Sec-Fetch-*.
	 * Without an Origin, only programs that are not browsers get the dialog. */
	if (origin == NULL &&
	    (evhttp_find_header(in, "Sec-Fetch-Mode") || evhttp_find_header(in, "Sec-Fetch-Site"))) {
		reply_error(r, 403, "origin_denied", "a browser request without Origin cannot be granted");
		hreq_free(r);
		return;
	}
	/* Every other route needs consent: a stored "deny" answers at once, before anything else. */
	decision = r->has_origin ? sign_origin_decision(h->svc, r->origin) : -ENOENT;
	if (decision == 0) {
		reply_sign_error(r, SIGN_E_ORIGIN_DENIED, NULL, -1);
		hreq_free(r);
		return;
	}
	if (r->route == ROUTE_CERTS)
		handle_certs(r);
	else
		handle_sign(r);
}

/* ---- listening ---- */

static bool skippable(int e)
{
	return e == EAFNOSUPPORT || e == EADDRNOTAVAIL || e == EPROTONOSUPPORT;
}

static int listen_loopback(struct https_server *h, int family)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(h->port)};
	struct sockaddr_in6 sin6 = {
	        .sin6_family = AF_INET6, .sin6_port = htons(h->port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int one = 1, fd, e;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    set_nodelay(fd) < 0 ||
	    (family == AF_INET ? bind(fd, (struct sockaddr *)&sin, sizeof(sin))
	                       : bind(fd, (struct sockaddr *)&sin6, sizeof(sin6))) < 0 ||
	    listen(fd, 128) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	/* evhttp's listener closes fd when freed. */
	if (evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

/* A socket from systemd: it must listen on a loopback address. evhttp gets a duplicate, so the caller's
 * descriptor stays the caller's. */
static int adopt(struct https_server *h, int fd, bool first)
{
	uint16_t port;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int listening = 0, dup_fd;
	socklen_t ll = sizeof(listening);
	bool loopback;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		loopback = ((const struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	else if (ss.ss_family == AF_INET6)
		loopback = IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&ss)->sin6_addr);
	else
		loopback = false;
	if (!listening || !loopback) {
		log_error("https: socket %d is not listening on 127.0.0.1 or ::1", fd);
		return -EADDRNOTAVAIL;
	}
	/* The port the Host header must name is the one the sockets listen on, whatever the config says. */
	port = ntohs(ss.ss_family == AF_INET ? ((const struct sockaddr_in *)&ss)->sin_port
	                                     : ((const struct sockaddr_in6 *)&ss)->sin6_port);
	if (first)
		h->port = port;
	else if (port != h->port) {
		log_error("https: the sockets passed listen on ports %u and %u: give them one port", h->port,
		          port);
		return -EINVAL;
	}
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return -errno;
	/* For the sockets it accepts (on_accepted sets it again on each); systemd's NoDelay= does the same. */
	(void)set_nodelay(dup_fd);
	/* evconnlistener accepts until EAGAIN: a blocking socket would stall the loop. */
	if (fcntl(dup_fd, F_SETFL, fcntl(dup_fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    evhttp_accept_socket_with_handle(h->http, dup_fd) == NULL) {
		close(dup_fd);
		return -ENOMEM;
	}
	return 0;
}

static int server_new(struct daemon *d, struct signsvc *svc, SSL_CTX *ctx,
                      int (*make_ctx)(void *arg, SSL_CTX **ret), void *make_arg, uint16_t port,
                      const int *fds, size_t nfds, struct https_server **ret)
{
	static const int families[] = {AF_INET, AF_INET6};
	struct https_server *h;
	unsigned listening = 0;
	int e = 0;

	if (d == NULL || d->base == NULL || svc == NULL || (ctx == NULL && make_ctx == NULL) || port == 0 ||
	    (nfds > 0 && fds == NULL) || ret == NULL)
		return -EINVAL;
	if (ctx && conn_index < 0) {
		conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
		if (conn_index < 0)
			return -ENOMEM;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->d = d;
	h->svc = svc;
	h->port = port;
	h->uid = geteuid();
	h->http = evhttp_new(d->base);
	if (h->http == NULL) {
		free(h);
		return -ENOMEM;
	}
	if (ctx)
		SSL_CTX_up_ref(ctx);
	h->ctx = ctx;
	h->make_ctx = make_ctx;
	h->make_arg = make_arg;
	/* Methods beyond GET, POST and OPTIONS reach on_request only to get a JSON 405 (docs/API.md);
	 * TRACE and CONNECT stay with libevent's 501. */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_OPTIONS |
	                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                            EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->http, HTTPS_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, HTTPS_MAX_BODY_HARD);
	evhttp_set_timeout(h->http, HTTPS_TIMEOUT_S);
	evhttp_set_bevcb(h->http, make_bev, h);
	evhttp_set_gencb(h->http, on_request, h);

	if (nfds > 0) {
		for (size_t i = 0; i < nfds && e == 0; i++)
			e = adopt(h, fds[i], i == 0);
	} else {
		for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && e == 0; i++) {
			const char *name = families[i] == AF_INET ? "127.0.0.1" : "[::1]";
			int r = listen_loopback(h, families[i]);

			if (r == 0) {
				listening++;
			} else if (skippable(-r)) {
				log_info("https: not listening on %s:%u: %s", name, port, strerror(-r));
			} else {
				log_error("https: cannot listen on %s:%u: %s", name, port, strerror(-r));
				e = r;
			}
		}
		if (e == 0 && listening == 0)
			e = -EADDRNOTAVAIL;
	}
	if (e < 0) {
		https_server_free(h);
		return e;
	}
	*ret = h;
	return 0;
}

int https_server_new(struct daemon *d, struct signsvc *svc, SSL_CTX *ctx, uint16_t port, const int *fds,
                     size_t nfds, struct https_server **ret)
{
	if (ctx == NULL)
		return -EINVAL;
	return server_new(d, svc, ctx, NULL, NULL, port, fds, nfds, ret);
}

int https_server_new_lazy(struct daemon *d, struct signsvc *svc, int (*make_ctx)(void *arg, SSL_CTX **ret),
                          void *arg, uint16_t port, const int *fds, size_t nfds, struct https_server **ret)
{
	if (make_ctx == NULL)
		return -EINVAL;
	return server_new(d, svc, NULL, make_ctx, arg, port, fds, nfds, ret);
}

bool https_server_has_tls(const struct https_server *h)
{
	return h->ctx != NULL;
}

uint16_t https_server_port(const struct https_server *h)
{
	return h->port;
}

void https_server_free(struct https_server *h)
{
	if (h == NULL)
		return;
	/* Frees every connection: requests still waiting are abandoned in on_conn_close. */
	evhttp_free(h->http);
	/* The SSLs go when libevent finalizes their bufferevents, maybe later in the loop. */
	while (h->conns) {
		struct https_conn *c = h->conns;

		if (c->accepted) {
			event_free(c->accepted);
			c->accepted = NULL;
		}
		if (c->deadline) {
			event_free(c->deadline);
			c->deadline = NULL;
		}
		conn_unlink(c);
		c->h = NULL;
	}
	SSL_CTX_free(h->ctx);
	free(h);
}
