/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the HTTPS endpoint (daemon/web/https.c) over real TLS: the server runs on this thread's event
 * loop with a certificate from a test CA, a client thread speaks raw HTTP/1.1 through OpenSSL, and the
 * signing service is a fake defined here (the sign.h functions), so every answer of docs/API.md can be
 * provoked: at once, later, never (a client that leaves). Built with HTTPS_TIMEOUT_S=2,
 * HTTPS_HEAD_TIMEOUT_S=3, HTTPS_MAX_CONNS=8, HTTPS_MAX_PER_PEER=6, HTTPS_MAX_HANDSHAKES=6,
 * HTTPS_MAX_HANDSHAKES_HARD=10 and HTTPS_HANDSHAKE_GRACE_MS=300. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "daemon/web/api.h"
#include "daemon/daemon.h"
#include "daemon/web/https.h"
#include "daemon/web/sign.h"
#include "tests/lib/testcert.h"

#define GRANTED "https://granted.example"
#define DENIED "https://denied.example"
#define UNKNOWN "https://unknown.example"
#define CERT_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define SIGN_BODY "{\"certificate\": \"" CERT_HEX "\", \"text\": \"Başvuru Nedeni: yenileme\"}"

static const uint8_t fake_sig[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02};

/* ---- the fake signing service ---- */

enum { ANSWER_NOW = 0, HOLD = -1 }; /* else: answer after that many ms */

struct signsvc {
	/* what the next calls answer */
	enum sign_err consent_err;
	int consent_delay_ms;
	enum sign_err sign_err;
	int sign_delay_ms;
	int tries_left;
	/* what the server did */
	atomic_int consents, submits, abandons, lists;
	struct sign_args last;
	uint8_t last_content[128];
	char last_origin[256];
	bool last_web;
	/* the certificates sign_list_certs reports */
	uint8_t *der[2];
	size_t der_len[2];
};

struct sign_pending {
	struct signsvc *s;
	sign_consent_cb consent;
	sign_done_cb done;
	void *ud;
	struct event *ev;
};

static struct event_base *base;

int sign_origin_decision(struct signsvc *s, const char *origin)
{
	if (strcmp(origin, GRANTED) == 0)
		return 1;
	if (strcmp(origin, DENIED) == 0)
		return 0;
	return -ENOENT;
}

bool sign_origin_granted(struct signsvc *s, const char *origin)
{
	return sign_origin_decision(s, origin) == 1;
}

static void fake_answer(struct sign_pending *p)
{
	struct signsvc *s = p->s;
	struct sign_result r = {.err = s->sign_err, .tries_left = s->tries_left};

	if (p->consent) {
		p->consent(p->ud, s->consent_err);
		return;
	}
	if (r.err == SIGN_OK) {
		r.sig = fake_sig;
		r.sig_len = sizeof(fake_sig);
		r.cert = s->der[0];
		r.cert_len = s->der_len[0];
	}
	p->done(p->ud, &r);
}

static void on_fake_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sign_pending *p = arg;

	event_free(p->ev);
	fake_answer(p);
	free(p);
}

/* Answers now (NULL), later (a handle and a timer) or never (a handle). */
static struct sign_pending *fake_start(struct signsvc *s, int delay_ms, sign_consent_cb ccb, sign_done_cb dcb,
                                       void *ud)
{
	struct sign_pending *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	*p = (struct sign_pending){.s = s, .consent = ccb, .done = dcb, .ud = ud};
	if (delay_ms == ANSWER_NOW) {
		fake_answer(p);
		free(p);
		return NULL;
	}
	if (delay_ms > 0) {
		struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};

		p->ev = evtimer_new(base, on_fake_timer, p);
		assert_non_null(p->ev);
		evtimer_add(p->ev, &tv);
	}
	return p;
}

struct sign_pending *sign_consent(struct signsvc *s, const struct sign_peer *peer, sign_consent_cb cb,
                                  void *ud)
{
	int stored = peer->origin[0] ? sign_origin_decision(s, peer->origin) : -ENOENT;

	s->consents++;
	if (stored >= 0) {
		cb(ud, stored ? SIGN_OK : SIGN_E_ORIGIN_DENIED);
		return NULL;
	}
	return fake_start(s, s->consent_delay_ms, cb, NULL, ud);
}

struct sign_pending *sign_submit(struct signsvc *s, const struct sign_peer *peer, const struct sign_args *a,
                                 sign_done_cb cb, void *ud)
{
	s->submits++;
	s->last = *a;
	s->last.content = NULL;
	memcpy(s->last_content, a->content,
	       a->len < sizeof(s->last_content) ? a->len : sizeof(s->last_content));
	memcpy(s->last_origin, peer->origin, sizeof(s->last_origin));
	s->last_web = peer->web;
	return fake_start(s, s->sign_delay_ms, NULL, cb, ud);
}

void sign_abandon(struct sign_pending *p)
{
	p->s->abandons++;
	if (p->ev)
		event_free(p->ev);
	free(p);
}

int sign_list_certs(struct signsvc *s, int (*cb)(void *ud, const struct sign_cert *c), void *ud)
{
	s->lists++;
	for (int i = 0; i < 2; i++) {
		struct sign_cert c = {.der = s->der[i],
		                      .der_len = s->der_len[i],
		                      .label = i ? "PIV Signature" : "PIV Auth",
		                      .reader = i ? NULL : "Virtual PCD 00 00",
		                      .present = i == 0};
		int r;

		EVP_Digest(c.der, c.der_len, c.id, NULL, EVP_sha256(), NULL);
		r = cb(ud, &c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- certificates for TLS ---- */

static X509 *make_x509(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign");
	} else {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
		                          "DNS:localhost,IP:127.0.0.1,IP:::1");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "serverAuth");
	}
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

struct fixture {
	SSL_CTX *server_ctx, *client_ctx, *old_client_ctx;
	struct signsvc svc;
	struct daemon d;
	struct https_server *h;
	struct event *ticker;
	uint16_t port;
	int lfd;
};

static struct fixture *fx_global;

static int group_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	EVP_PKEY *ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca, *crt;

	assert_non_null(fx);
	signal(SIGPIPE, SIG_IGN);
	ca = make_x509(ca_key, "imza test CA", NULL, NULL, true);
	crt = make_x509(key, "localhost", ca, ca_key, false);
	fx->server_ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(fx->server_ctx);
	assert_int_equal(SSL_CTX_use_certificate(fx->server_ctx, crt), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(fx->server_ctx, key), 1);
	/* The context would allow TLS 1.0: the server must refuse below 1.2 by itself. */
	SSL_CTX_set_security_level(fx->server_ctx, 0);
	SSL_CTX_set_min_proto_version(fx->server_ctx, TLS1_VERSION);
	assert_int_equal(SSL_CTX_set_cipher_list(fx->server_ctx, "DEFAULT:@SECLEVEL=0"), 1);

	fx->client_ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(fx->client_ctx);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(fx->client_ctx), ca), 1);
	SSL_CTX_set_verify(fx->client_ctx, SSL_VERIFY_PEER, NULL);
	/* The server frees its side without close_notify after "Connection: close". */
	SSL_CTX_set_options(fx->client_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);

	fx->old_client_ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(fx->old_client_ctx);
	SSL_CTX_set_security_level(fx->old_client_ctx, 0);
	SSL_CTX_set_min_proto_version(fx->old_client_ctx, TLS1_VERSION);
	SSL_CTX_set_max_proto_version(fx->old_client_ctx, TLS1_1_VERSION);
	assert_int_equal(SSL_CTX_set_cipher_list(fx->old_client_ctx, "DEFAULT:@SECLEVEL=0"), 1);

	fx->svc.der_len[0] = testcert_make("P-256", "critical,digitalSignature", &fx->svc.der[0], NULL);
	fx->svc.der_len[1] = testcert_make("RSA", "critical,nonRepudiation", &fx->svc.der[1], NULL);
	X509_free(ca);
	X509_free(crt);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	fx_global = fx;
	*state = fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *fx = *state;

	SSL_CTX_free(fx->server_ctx);
	SSL_CTX_free(fx->client_ctx);
	SSL_CTX_free(fx->old_client_ctx);
	OPENSSL_free(fx->svc.der[0]);
	OPENSSL_free(fx->svc.der[1]);
	free(fx);
	return 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
}

static void reset_fake(struct signsvc *s)
{
	s->consent_err = SIGN_OK;
	s->consent_delay_ms = ANSWER_NOW;
	s->sign_err = SIGN_OK;
	s->sign_delay_ms = ANSWER_NOW;
	s->tries_left = -1;
	s->consents = s->submits = s->abandons = s->lists = 0;
	memset(&s->last, 0, sizeof(s->last));
	memset(s->last_content, 0, sizeof(s->last_content));
	s->last_origin[0] = '\0';
}

/* A listening socket on 127.0.0.1 with a port of the kernel's choosing, handed over as systemd would. */
static int setup(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct timeval tick = {0, 5000};

	base = event_base_new();
	assert_non_null(base);
	fx->d.base = base;
	reset_fake(&fx->svc);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fx->lfd >= 0);
	assert_int_equal(bind(fx->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fx->lfd, 64), 0);
	assert_int_equal(getsockname(fx->lfd, (struct sockaddr *)&sin, &sl), 0);
	fx->port = ntohs(sin.sin_port);
	assert_int_equal(https_server_new(&fx->d, &fx->svc, fx->server_ctx, fx->port, &fx->lfd, 1, &fx->h),
	                 0);
	/* Wakes the loop so it notices the client thread is done. */
	fx->ticker = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	evtimer_add(fx->ticker, &tick);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	https_server_free(fx->h);
	fx->h = NULL;
	event_free(fx->ticker);
	/* Let libevent finalize the connections' bufferevents (and so free their SSLs). */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	base = NULL;
	close(fx->lfd);
	return 0;
}

/* ---- the client (runs on its own thread; records, never asserts) ---- */

struct resp {
	int status; /* 0: no HTTP answer */
	char head[8192];
	char *body;
	size_t body_len;
	size_t raw_len; /* bytes received in all */
};

static void resp_clear(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void ms_sleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int tcp_connect(int family, uint16_t port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {5, 0};
	int r;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (family == AF_INET) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	} else {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
		                            .sin6_port = htons(port),
		                            .sin6_addr = IN6ADDR_LOOPBACK_INIT};

		r = connect(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	}
	if (r < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static SSL *tls_connect(SSL_CTX *ctx, int family, uint16_t port, int *ret_fd)
{
	int fd = tcp_connect(family, port);
	SSL *ssl;

	if (fd < 0)
		return NULL;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), family == AF_INET ? "127.0.0.1" : "::1");
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		return NULL;
	}
	*ret_fd = fd;
	return ssl;
}

static bool send_all(SSL *ssl, const char *p, size_t n)
{
	while (n > 0) {
		int w = SSL_write(ssl, p, n > (1 << 20) ? (1 << 20) : (int)n);

		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads one answer: the head, then Content-Length bytes (or up to EOF). */
static void read_response(SSL *ssl, struct resp *r)
{
	size_t cap = 1 << 16, len = 0, head_len = 0, want = (size_t)-1;
	char *buf = malloc(cap);
	const char *cl;

	memset(r, 0, sizeof(*r));
	for (;;) {
		int n;
		char *end;

		if (head_len && len - head_len >= want)
			break;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
		n = SSL_read(ssl, buf + len, (int)(cap - len));
		if (n <= 0)
			break;
		len += (size_t)n;
		if (head_len == 0 && (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL) {
			head_len = (size_t)(end - buf) + 4;
			memcpy(r->head, buf, head_len < sizeof(r->head) ? head_len : sizeof(r->head) - 1);
			cl = strcasestr(r->head, "\r\nContent-Length:");
			if (cl)
				want = strtoul(cl + 17, NULL, 10);
			else if (strncmp(r->head + 9, "204", 3) == 0)
				want = 0;
		}
	}
	r->raw_len = len;
	if (head_len) {
		r->status = (int)strtol(r->head + 9, NULL, 10);
		r->body_len = len - head_len;
		r->body = malloc(r->body_len + 1);
		memcpy(r->body, buf + head_len, r->body_len);
		r->body[r->body_len] = '\0';
	}
	free(buf);
}

/* One request on a fresh TLS connection to 127.0.0.1. */
static void https_exchange(const char *req, size_t len, struct resp *r)
{
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	memset(r, 0, sizeof(*r));
	if (ssl == NULL)
		return;
	if (send_all(ssl, req, len))
		read_response(ssl, r);
	SSL_free(ssl);
	close(fd);
}

struct job {
	void (*fn)(struct job *);
	atomic_bool done;
	const char *req;
	size_t req_len;
	struct resp resp, resp2;
	int result;
	const char *req2;
	atomic_int *counter; /* job_leave waits for it to reach 1 */
};

static void *job_thread(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	j->done = true;
	return NULL;
}

/* Runs the server's loop while the client thread does j->fn. */
static void run_job(struct job *j)
{
	pthread_t t;

	j->done = false;
	assert_int_equal(pthread_create(&t, NULL, job_thread, j), 0);
	while (!j->done)
		event_base_loop(base, EVLOOP_ONCE);
	pthread_join(t, NULL);
}

static void job_exchange(struct job *j)
{
	https_exchange(j->req, j->req_len, &j->resp);
}

/* Sends req (Connection: close is the caller's) and returns the answer in r. */
static void request(const char *req, struct resp *r)
{
	struct job j = {.fn = job_exchange, .req = req, .req_len = strlen(req)};

	run_job(&j);
	*r = j.resp;
}

/* A request with the usual Host and the given extra header lines and body. */
static void requestf(struct resp *r, const char *method, const char *path, const char *headers,
                     const char *body)
{
	size_t n = strlen(headers) + (body ? strlen(body) : 0) + 512;
	char *req = malloc(n);

	assert_non_null(req);
	if (body)
		snprintf(req, n,
		         "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%sContent-Length: "
		         "%zu\r\n\r\n%s",
		         method, path, fx_global->port, headers, strlen(body), body);
	else
		snprintf(req, n, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s\r\n",
		         method, path, fx_global->port, headers);
	request(req, r);
	free(req);
}

static void sign_request(struct resp *r, const char *origin_header, const char *body)
{
	char headers[512];

	snprintf(headers, sizeof(headers), "%sContent-Type: text/plain;charset=UTF-8\r\n",
	         origin_header ? origin_header : "");
	requestf(r, "POST", "/v1/sign", headers, body ? body : SIGN_BODY);
}

/* The value of a header of the answer, "" when absent. */
static const char *header(const struct resp *r, const char *name)
{
	static char v[512];
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s:", name);
	p = strcasestr(r->head, key);
	if (p == NULL)
		return "";
	p += strlen(key);
	p += strspn(p, " ");
	e = strstr(p, "\r\n");
	snprintf(v, sizeof(v), "%.*s", (int)(e ? e - p : (ptrdiff_t)strlen(p)), p);
	return v;
}

static bool has_header(const struct resp *r, const char *name)
{
	char key[128];

	snprintf(key, sizeof(key), "\r\n%s:", name);
	return strcasestr(r->head, key) != NULL;
}

/* Status, the headers every answer has, and the JSON error code (NULL: no error expected). */
static json_t *check_json(const struct resp *r, int status, const char *code)
{
	json_error_t e;
	json_t *j;

	if (r->status != status)
		fail_msg("status %d, expected %d; body: %s", r->status, status, r->body ? r->body : "");
	assert_string_equal(header(r, "Content-Type"), "application/json");
	assert_string_equal(header(r, "Cache-Control"), "no-store");
	assert_string_equal(header(r, "X-Content-Type-Options"), "nosniff");
	j = json_loadb(r->body, r->body_len, 0, &e);
	if (j == NULL)
		fail_msg("not JSON: %s", r->body);
	if (code) {
		assert_string_equal(json_string_value(json_object_get(j, "error")), code);
		assert_non_null(json_string_value(json_object_get(j, "message")));
	}
	return j;
}

static void expect(const struct resp *r, int status, const char *code)
{
	json_decref(check_json(r, status, code));
}

/* ---- tests ---- */

static void test_info_is_json_with_the_common_headers(void **state)
{
	struct resp r;
	json_t *j;

	requestf(&r, "GET", "/v1/info", "", NULL);
	j = check_json(&r, 200, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "imza");
	assert_int_equal(json_integer_value(json_object_get(j, "api")), 1);
	assert_true(json_is_false(json_object_get(j, "granted")));
	/* No Origin, no CORS; and /v1/info never asks for consent. */
	assert_false(has_header(&r, "Access-Control-Allow-Origin"));
	assert_int_equal(fx_global->svc.consents, 0);
	json_decref(j);
	resp_clear(&r);
}

static void test_info_from_granted_origin_says_granted_with_cors(void **state)
{
	struct resp r;
	json_t *j;

	requestf(&r, "GET", "/v1/info", "Origin: " GRANTED "\r\n", NULL);
	j = check_json(&r, 200, NULL);
	assert_true(json_is_true(json_object_get(j, "granted")));
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), GRANTED);
	assert_string_equal(header(&r, "Vary"), "Origin");
	json_decref(j);
	resp_clear(&r);
	requestf(&r, "GET", "/v1/info", "Origin: " UNKNOWN "\r\n", NULL);
	j = check_json(&r, 200, NULL);
	assert_true(json_is_false(json_object_get(j, "granted")));
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), UNKNOWN);
	json_decref(j);
	resp_clear(&r);
}

static void test_foreign_host_is_421(void **state)
{
	static const char *const hosts[] = {"evil.example", "localhost.", "localhost", "127.0.0.1:1"};
	struct resp r;
	char req[256];

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(req, sizeof(req), "GET /v1/info HTTP/1.1\r\nHost: %s%s\r\nConnection: close\r\n\r\n",
		         hosts[i], strcmp(hosts[i], "evil.example") == 0 ? ":38443" : "");
		request(req, &r);
		expect(&r, 421, "bad_host");
		resp_clear(&r);
	}
	/* Two Host headers, one of them ours. */
	snprintf(req, sizeof(req),
	         "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\nHost: evil.example\r\n\r\n",
	         fx_global->port);
	request(req, &r);
	expect(&r, 421, "bad_host");
	resp_clear(&r);
	/* An absolute URI names a host of its own. */
	snprintf(req, sizeof(req), "GET https://evil.example/v1/info HTTP/1.1\r\nHost: localhost:%u\r\n\r\n",
	         fx_global->port);
	request(req, &r);
	expect(&r, 421, "bad_host");
	resp_clear(&r);
}

/* DNS rebinding with the port right: a page of evil.example resolved to 127.0.0.1 reaches imza's own port,
 * and its Host names evil.example with that port. The name is judged, not only the port. */
static void test_foreign_host_with_real_port_refused(void **state)
{
	static const char *const names[] = {
	        "evil.example", "localhost.evil.example",  "127.0.0.1.evil.example", "127.0.0.2", "[::2]",
	        "localhostx",   "evil.example:1@localhost"};
	int consents = fx_global->svc.consents, lists = fx_global->svc.lists;
	struct resp r;
	char req[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(req, sizeof(req),
		         "GET /v1/certificates HTTP/1.1\r\nHost: %s:%u\r\nOrigin: " GRANTED
		         "\r\nConnection: close\r\n\r\n",
		         names[i], fx_global->port);
		request(req, &r);
		expect(&r, 421, "bad_host");
		resp_clear(&r);
	}
	assert_int_equal(fx_global->svc.consents, consents);
	assert_int_equal(fx_global->svc.lists, lists);
	/* The same request with imza's own name is served: the refusals above are for the name alone. */
	snprintf(req, sizeof(req),
	         "GET /v1/certificates HTTP/1.1\r\nHost: localhost:%u\r\nOrigin: " GRANTED
	         "\r\nConnection: close\r\n\r\n",
	         fx_global->port);
	request(req, &r);
	expect(&r, 200, NULL);
	resp_clear(&r);
	assert_int_equal(fx_global->svc.lists, lists + 1);
}

static void test_missing_host_is_421(void **state)
{
	struct resp r;

	request("GET /v1/info HTTP/1.0\r\n\r\n", &r);
	expect(&r, 421, "bad_host");
	resp_clear(&r);
	request("GET /v1/info HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	expect(&r, 421, "bad_host");
	resp_clear(&r);
}

static void test_unknown_route_is_404(void **state)
{
	static const char *const paths[] = {"/", "/v1", "/v1/info/", "/v2/info", "/v1/%69nfo", "/V1/INFO"};
	struct resp r;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		requestf(&r, "GET", paths[i], "", NULL);
		expect(&r, 404, "not_found");
		resp_clear(&r);
	}
}

static void test_wrong_method_is_405_with_allow(void **state)
{
	struct resp r;

	requestf(&r, "POST", "/v1/info", "Content-Type: application/json\r\n", "{}");
	expect(&r, 405, "method_not_allowed");
	assert_string_equal(header(&r, "Allow"), "GET, OPTIONS");
	resp_clear(&r);
	requestf(&r, "GET", "/v1/sign", "", NULL);
	expect(&r, 405, "method_not_allowed");
	assert_string_equal(header(&r, "Allow"), "POST, OPTIONS");
	resp_clear(&r);
	requestf(&r, "PUT", "/v1/sign", "Content-Type: application/json\r\n", SIGN_BODY);
	expect(&r, 405, "method_not_allowed");
	resp_clear(&r);
	requestf(&r, "DELETE", "/v1/certificates", "", NULL);
	expect(&r, 405, "method_not_allowed");
	assert_string_equal(header(&r, "Allow"), "GET, OPTIONS");
	resp_clear(&r);
	assert_int_equal(fx_global->svc.submits, 0);
}

static void test_body_over_1mib_is_413_json(void **state)
{
	size_t n = 2u << 20;
	char *body = malloc(n + 1);
	struct resp r;

	assert_non_null(body);
	memset(body, ' ', n);
	body[n] = '\0';
	memcpy(body, SIGN_BODY, strlen(SIGN_BODY));
	sign_request(&r, NULL, body);
	expect(&r, 413, "too_large");
	resp_clear(&r);
	/* Any route: the limit is on every request. */
	requestf(&r, "GET", "/v1/info", "Origin: " GRANTED "\r\n", body);
	expect(&r, 413, "too_large");
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), GRANTED);
	resp_clear(&r);
	free(body);
	assert_int_equal(fx_global->svc.submits, 0);
}

static void test_body_over_libevent_limit_is_refused(void **state)
{
	struct resp r;
	char req[256];

	/* Only announced: libevent stops at its own 4 MiB limit before reading the body. */
	snprintf(req, sizeof(req),
	         "POST /v1/sign HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
	         "Content-Length: 5000000\r\n\r\n{",
	         fx_global->port);
	request(req, &r);
	assert_true(r.status == 0 || r.status == 413);
	resp_clear(&r);
	assert_int_equal(fx_global->svc.submits, 0);
}

static void test_malformed_json_or_extra_field_is_400(void **state)
{
	static const char *const bodies[] = {
	        "{",
	        "",
	        "[]",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\", \"extra\": 1}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\", \"text\": \"y\"}",
	        "{\"certificate\": \"" CERT_HEX "\", \"data\": \"not base64\"}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"} trailing",
	};
	struct resp r;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		sign_request(&r, NULL, bodies[i]);
		expect(&r, 400, "bad_request");
		resp_clear(&r);
	}
	assert_int_equal(fx_global->svc.submits, 0);
}

static void test_wrong_content_type_is_415(void **state)
{
	struct resp r;

	requestf(&r, "POST", "/v1/sign", "Content-Type: text/html\r\n", SIGN_BODY);
	expect(&r, 415, "bad_request");
	resp_clear(&r);
	requestf(&r, "POST", "/v1/sign", "Content-Type: application/x-www-form-urlencoded\r\n", SIGN_BODY);
	expect(&r, 415, "bad_request");
	resp_clear(&r);
	requestf(&r, "POST", "/v1/sign", "", SIGN_BODY);
	expect(&r, 415, "bad_request");
	resp_clear(&r);
	requestf(&r, "POST", "/v1/sign", "Content-Type: application/json\r\nContent-Type: text/html\r\n",
	         SIGN_BODY);
	expect(&r, 415, "bad_request");
	resp_clear(&r);
	assert_int_equal(fx_global->svc.submits, 0);
	/* With parameters, and either type. */
	requestf(&r, "POST", "/v1/sign", "Content-Type: application/json; charset=utf-8\r\n", SIGN_BODY);
	expect(&r, 200, NULL);
	resp_clear(&r);
}

static void test_preflight_of_granted_origin_is_204_with_cors(void **state)
{
	struct resp r;

	requestf(&r, "OPTIONS", "/v1/sign",
	         "Origin: " GRANTED "\r\nAccess-Control-Request-Method: POST\r\n"
	         "Access-Control-Request-Headers: content-type\r\n"
	         "Access-Control-Request-Private-Network: true\r\n",
	         NULL);
	assert_int_equal(r.status, 204);
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), GRANTED);
	assert_string_equal(header(&r, "Vary"), "Origin");
	assert_string_equal(header(&r, "Access-Control-Allow-Methods"), "GET, POST");
	assert_string_equal(header(&r, "Access-Control-Allow-Headers"), "Content-Type");
	assert_string_equal(header(&r, "Access-Control-Max-Age"), "600");
	assert_string_equal(header(&r, "Access-Control-Allow-Private-Network"), "true");
	assert_false(strstr(r.head, "*") != NULL);
	resp_clear(&r);
	/* Not asked: not answered. */
	requestf(&r, "OPTIONS", "/v1/certificates",
	         "Origin: " GRANTED "\r\nAccess-Control-Request-Method: GET\r\n", NULL);
	assert_int_equal(r.status, 204);
	assert_false(has_header(&r, "Access-Control-Allow-Private-Network"));
	resp_clear(&r);
	assert_int_equal(fx_global->svc.consents, 0);
}

static void test_preflight_of_ungranted_origin_is_403_without_dialog(void **state)
{
	struct resp r;

	requestf(&r, "OPTIONS", "/v1/sign", "Origin: " UNKNOWN "\r\nAccess-Control-Request-Method: POST\r\n",
	         NULL);
	expect(&r, 403, "origin_denied");
	assert_false(has_header(&r, "Access-Control-Allow-Methods"));
	resp_clear(&r);
	requestf(&r, "OPTIONS", "/v1/sign", "Origin: " DENIED "\r\nAccess-Control-Request-Method: POST\r\n",
	         NULL);
	expect(&r, 403, "origin_denied");
	resp_clear(&r);
	assert_int_equal(fx_global->svc.consents, 0);
	assert_int_equal(fx_global->svc.submits, 0);
}

static void test_denied_origin_is_403_before_the_service(void **state)
{
	struct resp r;

	sign_request(&r, "Origin: " DENIED "\r\n", NULL);
	expect(&r, 403, "origin_denied");
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), DENIED);
	resp_clear(&r);
	requestf(&r, "GET", "/v1/certificates", "Origin: " DENIED "\r\n", NULL);
	expect(&r, 403, "origin_denied");
	resp_clear(&r);
	assert_int_equal(fx_global->svc.submits, 0);
	assert_int_equal(fx_global->svc.consents, 0);
}

static void test_null_or_malformed_origin_is_403(void **state)
{
	static const char *const origins[] = {"null", "https://example.com/path", "file://",
	                                      "https://Example.com"};
	struct resp r;
	char h[128];

	for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++) {
		snprintf(h, sizeof(h), "Origin: %s\r\n", origins[i]);
		sign_request(&r, h, NULL);
		expect(&r, 403, "origin_denied");
		assert_false(has_header(&r, "Access-Control-Allow-Origin"));
		resp_clear(&r);
		requestf(&r, "GET", "/v1/info", h, NULL);
		expect(&r, 403, "origin_denied");
		resp_clear(&r);
	}
	/* Two Origin headers. */
	sign_request(&r, "Origin: " GRANTED "\r\nOrigin: " DENIED "\r\n", NULL);
	expect(&r, 403, "origin_denied");
	resp_clear(&r);
	assert_int_equal(fx_global->svc.submits, 0);
}

/* An origin too long to be shown whole (its registrable domain at the far end) is a bad request, on every
 * route, before the service: no dialog could show it. */
static void test_long_origin_over_253_bytes_is_400(void **state)
{
	static const char tail[] = ".evil-example.com";
	char h[400], origin[300];
	struct resp r;

	memset(origin, 'a', sizeof(origin));
	memcpy(origin, "https://portal.kamusm.gov.tr.", 29);
	memcpy(origin + 254 - strlen(tail), tail, sizeof(tail));
	assert_int_equal(strlen(origin), 254);
	snprintf(h, sizeof(h), "Origin: %s\r\n", origin);
	sign_request(&r, h, NULL);
	expect(&r, 400, "bad_request");
	assert_false(has_header(&r, "Access-Control-Allow-Origin"));
	resp_clear(&r);
	requestf(&r, "GET", "/v1/certificates", h, NULL);
	expect(&r, 400, "bad_request");
	resp_clear(&r);
	assert_int_equal(fx_global->svc.submits, 0);
	assert_int_equal(fx_global->svc.consents, 0);
}

static void test_sign_ok_returns_base64_signature(void **state)
{
	struct signsvc *s = &fx_global->svc;
	struct resp r;
	json_t *j;
	const char *sig;
	uint8_t dec[64];

	sign_request(&r, "Origin: " GRANTED "\r\n", NULL);
	j = check_json(&r, 200, NULL);
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), GRANTED);
	sig = json_string_value(json_object_get(j, "signature"));
	assert_non_null(sig);
	assert_int_equal(EVP_DecodeBlock(dec, (const unsigned char *)sig, (int)strlen(sig)), 9);
	assert_memory_equal(dec, fake_sig, sizeof(fake_sig));
	assert_string_equal(json_string_value(json_object_get(j, "format")), "cades-bes");
	assert_true(json_is_false(json_object_get(j, "detached")));
	assert_non_null(json_string_value(json_object_get(j, "certificate")));
	json_decref(j);
	resp_clear(&r);
	/* What the service was asked. */
	assert_int_equal(s->submits, 1);
	assert_true(s->last_web);
	assert_string_equal(s->last_origin, GRANTED);
	assert_true(s->last.is_text);
	assert_int_equal(s->last.len, strlen("Başvuru Nedeni: yenileme"));
	assert_memory_equal(s->last_content, "Başvuru Nedeni: yenileme", s->last.len);
	assert_int_equal(s->last.cert_id[0], 0x00);
	assert_int_equal(s->last.cert_id[31], 0xff);
	/* Without an Origin the service gets "" and asks the user itself. */
	sign_request(&r, NULL,
	             "{\"certificate\": \"" CERT_HEX
	             "\", \"data\": \"AAEC\", \"detached\": true, \"wait\": 5}");
	j = check_json(&r, 200, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "format")), "cades-bes");
	json_decref(j);
	resp_clear(&r);
	assert_string_equal(s->last_origin, "");
	assert_false(s->last.is_text);
	assert_int_equal(s->last.format, SIGN_FMT_CADES);
	assert_true(s->last.detached);
	assert_int_equal(s->last.wait_s, 5);
	/* A bare signature is never the web's: 400 before the service. */
	sign_request(&r, "Origin: " GRANTED "\r\n",
	             "{\"certificate\": \"" CERT_HEX "\", \"data\": \"AAEC\", \"format\": \"raw\"}");
	expect(&r, 400, "bad_request");
	resp_clear(&r);
	assert_int_equal(s->submits, 2);
}

static void test_sign_answered_after_the_idle_timeout_is_delivered(void **state)
{
	struct resp r;
	json_t *j;

	/* The server's idle timeout is 2 s in this build: the answer comes later, the request must wait. */
	fx_global->svc.sign_delay_ms = 2600;
	sign_request(&r, "Origin: " UNKNOWN "\r\n", NULL);
	j = check_json(&r, 200, NULL);
	assert_non_null(json_string_value(json_object_get(j, "signature")));
	json_decref(j);
	resp_clear(&r);
	assert_int_equal(fx_global->svc.abandons, 0);
}

static void test_each_sign_error_has_its_status_and_code(void **state)
{
	static const struct {
		enum sign_err e;
		int status;
		const char *code;
	} cases[] = {
	        {SIGN_E_BAD_REQUEST, 400, "bad_request"},
	        {SIGN_E_ORIGIN_DENIED, 403, "origin_denied"},
	        {SIGN_E_KEY_NOT_ALLOWED, 403, "key_not_allowed"},
	        {SIGN_E_USER_CANCELLED, 403, "user_cancelled"},
	        {SIGN_E_PIN_INCORRECT, 403, "pin_incorrect"},
	        {SIGN_E_PIN_LOCKED, 423, "pin_locked"},
	        {SIGN_E_CERT_UNKNOWN, 404, "certificate_unknown"},
	        {SIGN_E_CARD_ABSENT, 409, "card_absent"},
	        {SIGN_E_TIMEOUT, 504, "timeout"},
	        {SIGN_E_BUSY, 503, "busy"},
	        {SIGN_E_INTERNAL, 500, "internal"},
	};
	struct signsvc *s = &fx_global->svc;
	struct resp r;
	json_t *j;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s->sign_err = cases[i].e;
		s->tries_left = 2;
		/* Half of them answered later, through the watched connection. */
		s->sign_delay_ms = i % 2 ? 20 : ANSWER_NOW;
		sign_request(&r, "Origin: " GRANTED "\r\n", NULL);
		j = check_json(&r, cases[i].status, cases[i].code);
		if (cases[i].e == SIGN_E_PIN_INCORRECT)
			assert_int_equal(json_integer_value(json_object_get(j, "tries_left")), 2);
		else
			assert_null(json_object_get(j, "tries_left"));
		if (cases[i].e == SIGN_E_BUSY)
			assert_string_equal(header(&r, "Retry-After"), "10");
		json_decref(j);
		resp_clear(&r);
	}
}

static void test_certificates_after_consent(void **state)
{
	struct signsvc *s = &fx_global->svc;
	struct resp r;
	json_t *j, *list, *c;

	/* An unknown origin: the user is asked (the fake answers "allow" a little later). */
	s->consent_delay_ms = 20;
	requestf(&r, "GET", "/v1/certificates", "Origin: " UNKNOWN "\r\n", NULL);
	j = check_json(&r, 200, NULL);
	list = json_object_get(j, "certificates");
	assert_int_equal(json_array_size(list), 2);
	c = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(c, "key_type")), "EC");
	assert_string_equal(json_string_value(json_object_get(c, "reader")), "Virtual PCD 00 00");
	assert_int_equal(strlen(json_string_value(json_object_get(c, "id"))), 64);
	c = json_array_get(list, 1);
	assert_string_equal(json_string_value(json_object_get(c, "key_type")), "RSA");
	assert_true(json_is_null(json_object_get(c, "reader")));
	assert_true(json_is_false(json_object_get(c, "present")));
	json_decref(j);
	resp_clear(&r);
	assert_int_equal(s->consents, 1);
	assert_int_equal(s->lists, 1);

	/* The user says no. */
	s->consent_err = SIGN_E_USER_CANCELLED;
	requestf(&r, "GET", "/v1/certificates", "", NULL);
	expect(&r, 403, "user_cancelled");
	resp_clear(&r);
	assert_int_equal(s->lists, 1);
}

/* Sends the request, waits until the service holds it, then goes away. */
static void job_leave(struct job *j)
{
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);
	atomic_int *counter = j->counter;

	j->result = -1;
	if (ssl == NULL)
		return;
	if (send_all(ssl, j->req, j->req_len)) {
		for (int i = 0; i < 300 && *counter == 0; i++)
			ms_sleep(10);
		j->result = *counter == 1 ? 0 : -1;
	}
	/* Like a closed tab: no close_notify, just the TCP close. */
	SSL_free(ssl);
	close(fd);
}

static void leave_while_waiting(const char *req, atomic_int *counter)
{
	struct signsvc *s = &fx_global->svc;
	struct job j = {.fn = job_leave, .req = req, .req_len = strlen(req), .counter = counter};

	run_job(&j);
	assert_int_equal(j.result, 0);
	for (int i = 0; i < 300 && s->abandons == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(s->abandons, 1);
}

static void test_client_gone_while_sign_waits_is_abandoned(void **state)
{
	struct signsvc *s = &fx_global->svc;
	char req[512];

	s->sign_delay_ms = HOLD;
	snprintf(req, sizeof(req),
	         "POST /v1/sign HTTP/1.1\r\nHost: localhost:%u\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         fx_global->port, strlen(SIGN_BODY), SIGN_BODY);
	leave_while_waiting(req, &s->submits);
	/* The server still serves others. */
	s->sign_delay_ms = ANSWER_NOW;
	{
		struct resp r;

		requestf(&r, "GET", "/v1/info", "", NULL);
		expect(&r, 200, NULL);
		resp_clear(&r);
	}
}

static void test_client_gone_while_consent_waits_is_abandoned(void **state)
{
	struct signsvc *s = &fx_global->svc;
	char req[256];

	s->consent_delay_ms = HOLD;
	snprintf(req, sizeof(req), "GET /v1/certificates HTTP/1.1\r\nHost: [::1]:%u\r\n\r\n",
	         fx_global->port);
	leave_while_waiting(req, &s->consents);
	assert_int_equal(s->lists, 0);
}

/* A request that waits, then a second request on the same connection: evhttp takes the connection back
 * after the answer. The second request is sent while the first waits (pipelined). */
static void job_keepalive(struct job *j)
{
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);
	char both[1024];

	if (ssl == NULL)
		return;
	snprintf(both, sizeof(both), "%s%s", j->req, j->req2);
	if (send_all(ssl, both, strlen(both))) {
		read_response(ssl, &j->resp);
		read_response(ssl, &j->resp2);
	}
	SSL_free(ssl);
	close(fd);
}

static void test_connection_serves_the_next_request_after_a_wait(void **state)
{
	char first[512], second[256];
	struct job j = {.fn = job_keepalive, .req = first, .req2 = second};

	fx_global->svc.sign_delay_ms = 100;
	snprintf(first, sizeof(first),
	         "POST /v1/sign HTTP/1.1\r\nHost: localhost:%u\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         fx_global->port, strlen(SIGN_BODY), SIGN_BODY);
	snprintf(second, sizeof(second),
	         "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n", fx_global->port);
	run_job(&j);
	expect(&j.resp, 200, NULL);
	expect(&j.resp2, 200, NULL);
	assert_non_null(strstr(j.resp2.body, "\"name\""));
	resp_clear(&j.resp);
	resp_clear(&j.resp2);
}

/* The server's end of the client's connection fd: the socket of this process whose two addresses are
 * the client's, swapped. -1 if none. */
static int server_end_of(int fd)
{
	struct sockaddr_storage me, peer, a, b;
	socklen_t ml = sizeof(me), pl = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
		return -1;
	for (int s = 3; s < 4096; s++) {
		socklen_t al = sizeof(a), bl = sizeof(b);

		if (s == fd || getsockname(s, (struct sockaddr *)&a, &al) < 0 ||
		    getpeername(s, (struct sockaddr *)&b, &bl) < 0)
			continue;
		if (al == pl && bl == ml && memcmp(&a, &peer, al) == 0 && memcmp(&b, &me, bl) == 0)
			return s;
	}
	return -1;
}

/* One kept-alive request, then the server end's TCP_NODELAY in j->result (-1: no server end found). */
static void job_nodelay(struct job *j)
{
	int fd, server, on = 0;
	socklen_t ol = sizeof(on);
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	j->result = -2;
	if (ssl == NULL)
		return;
	if (send_all(ssl, j->req, j->req_len)) {
		read_response(ssl, &j->resp);
		server = server_end_of(fd);
		if (server < 0)
			j->result = -1;
		else if (getsockopt(server, IPPROTO_TCP, TCP_NODELAY, &on, &ol) == 0)
			j->result = on;
	}
	SSL_free(ssl);
	close(fd);
}

/* Without TCP_NODELAY, an answer's last small segment waits for the client's delayed ACK: about 40 ms
 * on every request of a kept-alive connection. The fixture's socket is passed as systemd would. */
static void test_accepted_connection_has_tcp_nodelay(void **state)
{
	char req[256];
	struct job j = {.fn = job_nodelay, .req = req};

	snprintf(req, sizeof(req), "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\n\r\n", fx_global->port);
	j.req_len = strlen(req);
	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 1);
}

/* Counts the TLS 1.3 records of application data the client receives. */
static void count_app_records(int write_p, int version, int content_type, const void *buf, size_t len,
                              SSL *ssl, void *arg)
{
	atomic_int *n = arg;

	if (!write_p && content_type == SSL3_RT_INNER_CONTENT_TYPE && len == 1 &&
	    *(const uint8_t *)buf == SSL3_RT_APPLICATION_DATA)
		(*n)++;
}

static void job_records(struct job *j)
{
	int fd;
	atomic_int records = 0;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	j->result = -1;
	if (ssl == NULL)
		return;
	SSL_set_msg_callback(ssl, count_app_records);
	SSL_set_msg_callback_arg(ssl, &records);
	if (send_all(ssl, j->req, j->req_len)) {
		read_response(ssl, &j->resp);
		j->result = records;
	}
	SSL_free(ssl);
	close(fd);
}

/* evhttp writes the head and the body of an answer apart; sent as two records (two segments), the
 * second waits for the client's ACK wherever Nagle applies. One answer, one record. */
static void test_answer_goes_out_as_one_tls_record(void **state)
{
	char req[256];
	struct job j = {.fn = job_records, .req = req};

	snprintf(req, sizeof(req), "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n",
	         fx_global->port);
	j.req_len = strlen(req);
	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 1);
}

/* After an answer that waited, the connection is evhttp's again, with its idle timeout (2 s here). */
static void job_idle_after_wait(struct job *j)
{
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);
	struct timespec t0, t1;
	char c;

	j->result = -1;
	if (ssl == NULL)
		return;
	if (send_all(ssl, j->req, j->req_len)) {
		read_response(ssl, &j->resp);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* Blocks until the server closes (the socket's own receive timeout is 5 s). */
		if (SSL_read(ssl, &c, 1) <= 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			j->result =
			        (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		}
	}
	SSL_free(ssl);
	close(fd);
}

static void test_idle_connection_after_a_wait_still_times_out(void **state)
{
	char req[512];
	struct job j = {.fn = job_idle_after_wait, .req = req};

	fx_global->svc.sign_delay_ms = 50;
	snprintf(req, sizeof(req),
	         "POST /v1/sign HTTP/1.1\r\nHost: localhost:%u\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         fx_global->port, strlen(SIGN_BODY), SIGN_BODY);
	j.req_len = strlen(req);
	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	if (j.result < 1000 || j.result > 4000)
		fail_msg("closed after %d ms, expected about 2000", j.result);
}

static void job_wait_for_answer(struct job *j)
{
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	if (ssl == NULL)
		return;
	if (send_all(ssl, j->req, j->req_len))
		read_response(ssl, &j->resp);
	SSL_free(ssl);
	close(fd);
}

static void test_server_freed_while_a_request_waits_abandons_it(void **state)
{
	struct signsvc *s = &fx_global->svc;
	char req[512];
	struct job j = {.fn = job_wait_for_answer, .req = req};
	pthread_t t;

	s->sign_delay_ms = HOLD;
	snprintf(req, sizeof(req),
	         "POST /v1/sign HTTP/1.1\r\nHost: localhost:%u\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         fx_global->port, strlen(SIGN_BODY), SIGN_BODY);
	j.req_len = strlen(req);
	assert_int_equal(pthread_create(&t, NULL, job_thread, &j), 0);
	for (int i = 0; i < 1000 && s->submits == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(s->submits, 1);
	https_server_free(fx_global->h);
	fx_global->h = NULL;
	assert_int_equal(s->abandons, 1);
	while (!j.done)
		event_base_loop(base, EVLOOP_ONCE);
	pthread_join(t, NULL);
	/* The client got no answer, just the end of the connection. */
	assert_int_equal(j.resp.status, 0);
	resp_clear(&j.resp);
}

static void job_plain(struct job *j)
{
	int fd = tcp_connect(AF_INET, fx_global->port);
	char buf[4096];
	ssize_t n;

	j->result = -1;
	if (fd < 0)
		return;
	if (write(fd, j->req, j->req_len) == (ssize_t)j->req_len) {
		j->resp.raw_len = 0;
		while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			j->resp.raw_len += (size_t)n;
			if (strstr(buf, "HTTP/"))
				j->resp.status = 1;
		}
		/* EOF, or a reset: the connection ended (not the 5 s receive timeout). */
		j->result = n == 0 || errno == ECONNRESET ? 0 : -1;
	}
	close(fd);
}

static void test_plain_http_gets_no_http_answer(void **state)
{
	char req[256];
	struct job j = {.fn = job_plain, .req = req};

	snprintf(req, sizeof(req), "GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n\r\n", fx_global->port);
	j.req_len = strlen(req);
	run_job(&j);
	assert_int_equal(j.result, 0);
	assert_int_equal(j.resp.status, 0);
}

static void job_old_tls(struct job *j)
{
	int fd;
	SSL *ssl = tls_connect(fx_global->old_client_ctx, AF_INET, fx_global->port, &fd);

	j->result = ssl != NULL;
	if (ssl) {
		SSL_free(ssl);
		close(fd);
	}
	/* The same client may speak TLS 1.2: then it gets through. */
	SSL_CTX_set_max_proto_version(fx_global->old_client_ctx, TLS1_2_VERSION);
	ssl = tls_connect(fx_global->old_client_ctx, AF_INET, fx_global->port, &fd);
	j->result |= (ssl != NULL) << 1;
	if (ssl) {
		SSL_free(ssl);
		close(fd);
	}
	SSL_CTX_set_max_proto_version(fx_global->old_client_ctx, TLS1_1_VERSION);
}

static void test_tls_1_1_client_is_refused(void **state)
{
	struct job j = {.fn = job_old_tls};

	run_job(&j);
	/* Bit 0: TLS 1.1 connected (must not); bit 1: TLS 1.2 connected (must). */
	assert_int_equal(j.result, 2);
}

static int ms_between(const struct timespec *t0, const struct timespec *t1)
{
	return (int)((t1->tv_sec - t0->tv_sec) * 1000 + (t1->tv_nsec - t0->tv_nsec) / 1000000);
}

/* Whether the server closed fd within ms. Reads nothing: TLS 1.3 session tickets stay for OpenSSL. */
static bool closed_within(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

	return poll(&pfd, 1, ms) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* A served request on a new connection: 0, or -1. */
static int get_info(struct job *j)
{
	char req[256];
	int fd;
	SSL *s = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	if (s == NULL)
		return -1;
	snprintf(req, sizeof(req), "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n",
	         fx_global->port);
	if (send_all(s, req, strlen(req)))
		read_response(s, &j->resp);
	SSL_free(s);
	close(fd);
	return 0;
}

/* The per-peer cap (6 here) filled with TLS connections through their handshake that sent nothing, one
 * after the other; then a new client: the oldest makes room for it, the newest stays. */
static void job_cap(struct job *j)
{
	SSL *ssl[6] = {NULL};
	int fds[6];

	j->result = -1;
	for (int i = 0; i < 6; i++) {
		ssl[i] = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fds[i]);
		if (ssl[i] == NULL)
			goto out;
		ms_sleep(30);
	}
	ms_sleep(200);
	if (get_info(j) < 0)
		goto out;
	/* Bit 0: the oldest was not closed; bit 1: the newest was. */
	j->result = (closed_within(fds[0], 500) ? 0 : 1) | (closed_within(fds[5], 0) ? 2 : 0);
out:
	for (int i = 0; i < 6; i++)
		if (ssl[i]) {
			SSL_free(ssl[i]);
			close(fds[i]);
		}
}

static void test_over_the_cap_the_oldest_idle_connection_makes_room(void **state)
{
	struct job j = {.fn = job_cap};

	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 0);
}

/* Handshakes have a budget of their own (6 here), apart from the places of connections through theirs:
 * six connections that never begin one fill it, the next makes the oldest of them go once it has had
 * its grace (300 ms here), and a client is served beside them. */
static void job_handshakes(struct job *j)
{
	int fds[6], later;

	j->result = -1;
	for (int i = 0; i < 6; i++) {
		fds[i] = tcp_connect(AF_INET, fx_global->port);
		ms_sleep(30);
	}
	ms_sleep(300);
	later = tcp_connect(AF_INET, fx_global->port);
	/* Bit 0: the oldest was not closed for the later one; bit 1: the newest was, or the later one;
	 * bit 2: the client was not served. */
	j->result = (closed_within(fds[0], 500) ? 0 : 1) |
	            (closed_within(fds[5], 0) || later < 0 || closed_within(later, 0) ? 2 : 0);
	if (get_info(j) < 0)
		j->result |= 4;
	if (later >= 0)
		close(later);
	for (int i = 0; i < 6; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void test_handshakes_over_their_budget_the_oldest_makes_room(void **state)
{
	struct job j = {.fn = job_handshakes};

	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 0);
}

/* A burst: ten connections at once, over the budget of 6 but within the grace. None of them goes for
 * the later ones (the first had no turn yet: the listener takes them all before reading any), the
 * eleventh goes (the hard cap, 10 here), and once the grace is over a client is served, the oldest
 * making room. */
static void job_handshake_burst(struct job *j)
{
	int fds[11];
	bool any_closed = false;

	j->result = -1;
	for (int i = 0; i < 11; i++)
		fds[i] = tcp_connect(AF_INET, fx_global->port);
	for (int i = 0; i < 11; i++)
		if (fds[i] < 0)
			goto out;
	/* Bit 0: the eleventh was not closed; bit 1: one of the ten was. */
	j->result = closed_within(fds[10], 250) ? 0 : 1;
	for (int i = 0; i < 10; i++)
		any_closed |= closed_within(fds[i], 0);
	if (any_closed)
		j->result |= 2;
	ms_sleep(400);
	/* Bit 2: no client served after the grace; bit 3: the oldest did not make room for it. */
	if (get_info(j) < 0)
		j->result |= 4;
	if (!closed_within(fds[0], 500))
		j->result |= 8;
out:
	for (int i = 0; i < 11; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void test_a_burst_of_handshakes_waits_its_turn_up_to_the_hard_cap(void **state)
{
	struct job j = {.fn = job_handshake_burst};

	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 0);
}

/* The cap filled with an idle TLS connection, then five slow clients that sent whole header lines but
 * no whole head (evhttp has taken the lines: nothing is left in their buffers). They have shown what
 * they are: a new client takes the oldest slow one's place, not the older idle one's, and is served. */
static void job_cap_slow_lines(struct job *j)
{
	static const char lines[] = "GET /v1/info HTTP/1.1\r\nX-A: b\r\n";
	SSL *ssl[6] = {NULL};
	int fds[6];

	j->result = -1;
	for (int i = 0; i < 6; i++) {
		ssl[i] = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fds[i]);
		if (ssl[i] == NULL || (i > 0 && !send_all(ssl[i], lines, strlen(lines))))
			goto out;
		ms_sleep(20);
	}
	ms_sleep(150); /* the lines are read and parsed, and came over 100 ms ago */
	if (get_info(j) < 0)
		goto out;
	/* Bit 0: the oldest slow one was not closed; bit 1: the idle one was, or the newest. */
	j->result = (closed_within(fds[1], 500) ? 0 : 1) |
	            (closed_within(fds[0], 0) || closed_within(fds[5], 0) ? 2 : 0);
out:
	for (int i = 0; i < 6; i++)
		if (ssl[i]) {
			SSL_free(ssl[i]);
			close(fds[i]);
		}
}

static void test_over_the_cap_a_slow_client_makes_room_before_an_idle_one(void **state)
{
	struct job j = {.fn = job_cap_slow_lines};

	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 0);
}

/* A client whose bytes just came is talking, whatever it sent: evhttp reads a request in a callback of
 * its own, after every handshake done in the same turn of the loop, and until then a real client's
 * request looks like a slow client's part of one. The per-peer cap (6 here) filled with five silent
 * connections and a client that has just sent part of a head: a newcomer closes the oldest silent
 * one, not the client, which is then served. */
static void job_cap_talking(struct job *j)
{
	SSL *ssl[5] = {NULL}, *client = NULL, *extra = NULL;
	int fds[5], cfd = -1, efd = -1;
	char rest[128];

	j->result = -1;
	for (int i = 0; i < 5; i++) {
		if ((ssl[i] = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fds[i])) == NULL)
			goto out;
		ms_sleep(20);
	}
	if ((client = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &cfd)) == NULL ||
	    !send_all(client, "GET /v1/info HTTP/1.1\r\n", 23))
		goto out;
	if ((extra = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &efd)) == NULL)
		goto out;
	/* Bit 0: the client was closed; bit 1: the oldest silent one was not. */
	j->result = (closed_within(cfd, 50) ? 1 : 0) | (closed_within(fds[0], 500) ? 0 : 2);
	snprintf(rest, sizeof(rest), "Host: localhost:%u\r\nConnection: close\r\n\r\n", fx_global->port);
	if (send_all(client, rest, strlen(rest)))
		read_response(client, &j->resp);
out:
	if (client) {
		SSL_free(client);
		close(cfd);
	}
	if (extra) {
		SSL_free(extra);
		close(efd);
	}
	for (int i = 0; i < 5; i++)
		if (ssl[i]) {
			SSL_free(ssl[i]);
			close(fds[i]);
		}
}

static void test_over_the_cap_a_talking_client_keeps_its_place(void **state)
{
	struct job j = {.fn = job_cap_talking};

	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	assert_int_equal(j.result, 0);
}

/* Every place of the peer holds a request the service keeps: none can be taken, the new one goes once
 * through its handshake. */
static void job_cap_busy(struct job *j)
{
	SSL *ssl[6] = {NULL}, *extra_ssl;
	int fds[6], extra;
	struct timespec t0, t1;
	char req[512];

	snprintf(req, sizeof(req),
	         "POST /v1/sign HTTP/1.1\r\nHost: localhost:%u\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         fx_global->port, strlen(SIGN_BODY), SIGN_BODY);
	j->result = -1;
	for (int i = 0; i < 6; i++) {
		ssl[i] = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fds[i]);
		if (ssl[i] == NULL || !send_all(ssl[i], req, strlen(req)))
			goto out;
	}
	for (int i = 0; i < 200 && fx_global->svc.submits < 6; i++)
		ms_sleep(10);
	if (fx_global->svc.submits < 6)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	extra_ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &extra);
	if (extra_ssl && closed_within(extra, 1500)) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		j->result = ms_between(&t0, &t1) < 1000 ? 0 : -2;
	}
	if (extra_ssl) {
		SSL_free(extra_ssl);
		close(extra);
	}
out:
	for (int i = 0; i < 6; i++)
		if (ssl[i]) {
			SSL_free(ssl[i]);
			close(fds[i]);
		}
}

static void test_connections_over_the_cap_all_busy_new_one_is_closed_at_once(void **state)
{
	struct job j = {.fn = job_cap_busy};

	fx_global->svc.sign_delay_ms = HOLD;
	run_job(&j);
	assert_int_equal(j.result, 0);
}

/* Many TLS connections that sent half a request head, then a normal request on a new connection. */
static void job_slow_heads(struct job *j)
{
	enum { SLOW = 20 };
	SSL *ssl[SLOW] = {NULL};
	int fds[SLOW], fd;
	struct timespec t0, t1;
	char req[256];
	SSL *s;

	for (int i = 0; i < SLOW; i++) {
		ssl[i] = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fds[i]);
		if (ssl[i])
			send_all(ssl[i], "GET /v1/info HTTP/1.1\r\nHo", 25);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);
	if (s) {
		snprintf(req, sizeof(req),
		         "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\nConnection: close\r\n\r\n",
		         fx_global->port);
		if (send_all(s, req, strlen(req)))
			read_response(s, &j->resp);
		SSL_free(s);
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->result = ms_between(&t0, &t1);
	for (int i = 0; i < SLOW; i++)
		if (ssl[i]) {
			SSL_free(ssl[i]);
			close(fds[i]);
		}
}

static void test_slow_headers_do_not_block(void **state)
{
	struct job j = {.fn = job_slow_heads};

	run_job(&j);
	print_message("# a normal request beside 20 half-sent heads: answered in %d ms\n", j.result);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	/* Loose: the answer takes milliseconds; before the deadline it was never answered at all. */
	assert_true(j.result < 2000);
}

/* One byte every 400 ms: evhttp's 2 s idle timeout never fires, the 3 s head deadline does. */
static void job_dribble(struct job *j)
{
	static const char head[] = "GET /v1/info HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct timespec t0, t1;
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	j->result = -1;
	if (ssl == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < sizeof(head) - 1; i++) {
		if (SSL_write(ssl, head + i, 1) != 1 || closed_within(fd, 400)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			j->result = ms_between(&t0, &t1);
			break;
		}
	}
	SSL_free(ssl);
	close(fd);
}

static void test_dribbling_client_is_closed_at_the_head_deadline(void **state)
{
	struct job j = {.fn = job_dribble};

	run_job(&j);
	print_message("# a client sending a byte every 400 ms was closed after %d ms\n", j.result);
	if (j.result < 2500 || j.result > 5000)
		fail_msg("closed after %d ms, expected about 3000 (-1: never)", j.result);
}

/* After an answer on a kept-alive connection the next request has its own deadline: dribbled, it is
 * closed about 3 s after the answer. */
static void job_dribble_after_answer(struct job *j)
{
	static const char next[] = "GET /v1/info HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct timespec t0, t1;
	char first[256];
	int fd;
	SSL *ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);

	j->result = -1;
	if (ssl == NULL)
		return;
	snprintf(first, sizeof(first), "GET /v1/info HTTP/1.1\r\nHost: localhost:%u\r\n\r\n",
	         fx_global->port);
	if (send_all(ssl, first, strlen(first))) {
		read_response(ssl, &j->resp);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (size_t i = 0; i < sizeof(next) - 1; i++) {
			if (SSL_write(ssl, next + i, 1) != 1 || closed_within(fd, 400)) {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				j->result = ms_between(&t0, &t1);
				break;
			}
		}
	}
	SSL_free(ssl);
	close(fd);
}

static void test_kept_alive_connection_has_a_new_deadline_per_request(void **state)
{
	struct job j = {.fn = job_dribble_after_answer};

	run_job(&j);
	expect(&j.resp, 200, NULL);
	resp_clear(&j.resp);
	print_message("# the next request, dribbled, was closed %d ms after the first answer\n", j.result);
	if (j.result < 2500 || j.result > 5000)
		fail_msg("closed %d ms after the answer, expected about 3000 (-1: never)", j.result);
}

/* A peer of another user (a child that dropped to uid 65534) asks for the certificates with the Origin
 * of a granted page: its connection is closed, it gets no answer. Ours gets one. */
static void test_other_uid_peer_refused(void **state)
{
	char req[256];
	struct resp r;
	pid_t pid;
	int st = 0;

	if (geteuid() != 0)
		skip();
	snprintf(req, sizeof(req),
	         "GET /v1/certificates HTTP/1.1\r\nHost: localhost:%u\r\nOrigin: " GRANTED
	         "\r\nConnection: close\r\n\r\n",
	         fx_global->port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;
		SSL *ssl;

		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		ssl = tls_connect(fx_global->client_ctx, AF_INET, fx_global->port, &fd);
		if (ssl == NULL)
			_exit(0);
		if (send_all(ssl, req, strlen(req)))
			read_response(ssl, &r);
		_exit(r.status == 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, WNOHANG) == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(fx_global->svc.consents, 0);
	/* The same request of our own uid is answered. */
	request(req, &r);
	expect(&r, 200, NULL);
	resp_clear(&r);
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void job_both_families(struct job *j)
{
	int fd, families[2] = {AF_INET, AF_INET6};
	char req[256];

	for (int i = 0; i < (have_ipv6_loopback() ? 2 : 1); i++) {
		SSL *ssl = tls_connect(fx_global->client_ctx, families[i], fx_global->port, &fd);
		struct resp *r = i ? &j->resp2 : &j->resp;

		if (ssl == NULL)
			continue;
		snprintf(req, sizeof(req),
		         "GET /v1/info HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n\r\n",
		         i ? "[::1]" : "localhost", fx_global->port);
		if (send_all(ssl, req, strlen(req)))
			read_response(ssl, r);
		SSL_free(ssl);
		close(fd);
	}
}

static void test_binds_127_0_0_1_and_ipv6_loopback(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct job j = {.fn = job_both_families};
	int probe, fd;
	struct https_server *other = NULL;

	/* A free port (the kernel's choice, released again). */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	probe = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&sin, &sl), 0);
	close(probe);
	https_server_free(fx->h);
	fx->h = NULL;
	fx->port = ntohs(sin.sin_port);
	assert_int_equal(https_server_new(&fx->d, &fx->svc, fx->server_ctx, fx->port, NULL, 0, &fx->h), 0);
	/* The port is taken now: a second server fails. */
	assert_true(https_server_new(&fx->d, &fx->svc, fx->server_ctx, fx->port, NULL, 0, &other) < 0);
	assert_null(other);
	run_job(&j);
	expect(&j.resp, 200, NULL);
	if (have_ipv6_loopback())
		expect(&j.resp2, 200, NULL);
	resp_clear(&j.resp);
	resp_clear(&j.resp2);
	/* Nothing listens on other addresses: a socket bound to 0.0.0.0 is not accepted from systemd either. */
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = 0;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(https_server_new(&fx->d, &fx->svc, fx->server_ctx, 1234, &fd, 1, &other),
	                 -EADDRNOTAVAIL);
	close(fd);
}

/* The lazy server's context maker: fails while lazy_fail is set, else hands out the fixture's context. */
static int lazy_calls;
static bool lazy_fail;

static int lazy_ctx(void *arg, SSL_CTX **ret)
{
	SSL_CTX *ctx = arg;

	lazy_calls++;
	if (lazy_fail)
		return -EIO;
	if (SSL_CTX_up_ref(ctx) != 1)
		return -ENOMEM;
	*ret = ctx;
	return 0;
}

/* An endpoint made with https_server_new_lazy has no TLS context until a browser connects (OpenSSL stays
 * out of an idle imzad); the first connection makes it and is served, the next ones reuse it. A
 * connection that comes while the context cannot be made is refused, and the next one tries again. */
static void test_tls_context_is_made_at_the_first_connection_and_serves_it(void **state)
{
	struct fixture *fx = *state;
	struct resp r;
	json_t *j;

	https_server_free(fx->h);
	event_base_loop(base, EVLOOP_NONBLOCK);
	lazy_calls = 0;
	lazy_fail = false;
	assert_int_equal(https_server_new_lazy(&fx->d, &fx->svc, lazy_ctx, fx->server_ctx, fx->port, &fx->lfd,
	                                       1, &fx->h),
	                 0);
	assert_false(https_server_has_tls(fx->h));
	assert_int_equal(lazy_calls, 0);

	lazy_fail = true;
	requestf(&r, "GET", "/v1/info", "", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(lazy_calls, 1);
	assert_false(https_server_has_tls(fx->h));
	resp_clear(&r);

	lazy_fail = false;
	requestf(&r, "GET", "/v1/info", "", NULL);
	j = check_json(&r, 200, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "imza");
	json_decref(j);
	resp_clear(&r);
	assert_int_equal(lazy_calls, 2);
	assert_true(https_server_has_tls(fx->h));

	requestf(&r, "GET", "/v1/info", "", NULL);
	j = check_json(&r, 200, NULL);
	json_decref(j);
	resp_clear(&r);
	assert_int_equal(lazy_calls, 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	        T(test_info_is_json_with_the_common_headers),
	        T(test_tls_context_is_made_at_the_first_connection_and_serves_it),
	        T(test_info_from_granted_origin_says_granted_with_cors),
	        T(test_foreign_host_is_421),
	        T(test_foreign_host_with_real_port_refused),
	        T(test_missing_host_is_421),
	        T(test_unknown_route_is_404),
	        T(test_wrong_method_is_405_with_allow),
	        T(test_body_over_1mib_is_413_json),
	        T(test_body_over_libevent_limit_is_refused),
	        T(test_malformed_json_or_extra_field_is_400),
	        T(test_wrong_content_type_is_415),
	        T(test_preflight_of_granted_origin_is_204_with_cors),
	        T(test_preflight_of_ungranted_origin_is_403_without_dialog),
	        T(test_denied_origin_is_403_before_the_service),
	        T(test_null_or_malformed_origin_is_403),
	        T(test_long_origin_over_253_bytes_is_400),
	        T(test_sign_ok_returns_base64_signature),
	        T(test_sign_answered_after_the_idle_timeout_is_delivered),
	        T(test_each_sign_error_has_its_status_and_code),
	        T(test_certificates_after_consent),
	        T(test_client_gone_while_sign_waits_is_abandoned),
	        T(test_client_gone_while_consent_waits_is_abandoned),
	        T(test_connection_serves_the_next_request_after_a_wait),
	        T(test_accepted_connection_has_tcp_nodelay),
	        T(test_answer_goes_out_as_one_tls_record),
	        T(test_idle_connection_after_a_wait_still_times_out),
	        T(test_server_freed_while_a_request_waits_abandons_it),
	        T(test_plain_http_gets_no_http_answer),
	        T(test_tls_1_1_client_is_refused),
	        T(test_over_the_cap_the_oldest_idle_connection_makes_room),
	        T(test_over_the_cap_a_slow_client_makes_room_before_an_idle_one),
	        T(test_over_the_cap_a_talking_client_keeps_its_place),
	        T(test_handshakes_over_their_budget_the_oldest_makes_room),
	        T(test_a_burst_of_handshakes_waits_its_turn_up_to_the_hard_cap),
	        T(test_connections_over_the_cap_all_busy_new_one_is_closed_at_once),
	        T(test_slow_headers_do_not_block),
	        T(test_dribbling_client_is_closed_at_the_head_deadline),
	        T(test_kept_alive_connection_has_a_new_deadline_per_request),
	        T(test_other_uid_peer_refused),
	        T(test_binds_127_0_0_1_and_ipv6_loopback),
	};
#undef T

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
