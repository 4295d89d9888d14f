/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The signing service (see sign.h). Requests wait in one queue and are served one at a time: the
 * user sees one dialog at a time, and a card does one signature at a time. A request moves through
 * consent (web origins without a standing answer), waiting for its card, the PIN dialog and the card
 * job; each step ends on the main loop, and a requester that went away stops it at the next step. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "daemon/card/token.h"
#include "daemon/store/cache.h"
#include "daemon/web/cades.h"
#include "daemon/web/certinfo.h"
#include "daemon/daemon.h"
#include "daemon/ui/dialog.h"
#include "daemon/store/known.h"
#include "daemon/log.h"
#include "daemon/ui/prompt.h"
#include "daemon/store/records.h"
#include "daemon/web/sign.h"
#include "daemon/web/signq.h"
#include "daemon/web/site.h"

/* How long a request may wait in the queue, and how long a dialog stays up. */
#define QUEUE_TIMEOUT_S 120
#define DIALOG_TIMEOUT_S 120
/* "Allow once" covers the page's visit: its certificate listing and the signature that follows it (each
 * signature still shows its own PIN dialog with the content). */
#define ONCE_MEMORY_S 120
#define MEMORY_SLOTS 16
/* Certificates whose facts are kept (cert_facts): a few cards' signing certificates. */
#define FACTS_SLOTS 8

enum req_kind { REQ_CONSENT, REQ_SIGN };

/* Where a signature's time goes: a CLOCK_MONOTONIC stamp at each step (0: not reached), logged at its
 * end (imzad --verbose), which make bench reads (tests/bench/https_sign.py). In order; each name is the
 * step that ends at its stamp. */
enum sign_mark {
	MK_RECEIVED,     /* the request whole (HTTPS: before its checks and JSON), when the caller says */
	MK_QUEUED,       /* sign_submit: parsed, checked, queued */
	MK_STARTED,      /* its turn came */
	MK_DIALOG,       /* consent settled, the PIN dialog's thread being started */
	MK_THREAD,       /* the dialog thread runs */
	MK_SPAWNED,      /* the pinentry is up (its greeting read) */
	MK_ASKED,        /* texts and buttons sent, GETPIN sent */
	MK_ANSWERED,     /* the PIN read (the pinentry closes meanwhile, off this path) */
	MK_PIN,          /* the PIN on the main loop */
	MK_CARD_RUN,     /* the card's worker runs the job (inside its PC/SC transaction) */
	MK_VERIFIED,     /* the card took the PIN */
	MK_DIGEST,       /* CMS set up: the signed attributes' digest ready for the card */
	MK_CARD_SIGNED,  /* the card's signature */
	MK_CMS,          /* the signature checked and the CMS written */
	MK_RESET,        /* the card's login reset */
	MK_CARD_DONE,    /* the result on the main loop */
	MK_AUDITED,      /* the audit row written */
	MK_ANSWERED_WEB, /* the answer handed to the requester (HTTPS: JSON built and queued) */
	MK_COUNT
};

static const char *const mark_names[MK_COUNT] = {
        "received",     "request",      "queue",       "consent",   "dialog_thread", "dialog_spawn",
        "dialog_texts", "dialog_pin",   "dialog_back", "to_card",   "verify",        "cades_setup",
        "card_sign",    "cades_finish", "reset",       "card_back", "audit",         "answer",
};

static void stamp(double *at)
{
	*at = signq_now();
}

enum req_step { ST_QUEUED, ST_CONSENT, ST_WAIT_CARD, ST_PIN, ST_CARD };

struct sign_pending {
	struct signsvc *svc;
	enum req_kind kind;
	enum req_step step;
	struct sign_peer peer;
	struct sign_args args;
	uint8_t *content; /* owned copy of args.content */
	uint8_t content_sha256[32];
	sign_consent_cb consent_cb;
	sign_done_cb done_cb;
	void *ud;
	bool abandoned;
	bool queued;         /* it got a place in the queue (only those are audited) */
	char site[SITE_MAX]; /* what it counts against in the queue (signq.h) */
	struct event *timer; /* queue timeout, then the card wait */
	struct sign_pending *next;
	/* Where the certificate was found, for the card job. */
	CK_SLOT_ID slot;
	uint64_t card_seq;
	/* No certificate named (args.choose): what the user chooses from, in the window's order. */
	struct sign_choice {
		uint8_t id[32];
		CK_SLOT_ID slot;
		uint64_t card_seq;
	} choices[SIGN_CHOICES_MAX];
	size_t n_choices;
	double marks[MK_COUNT];
	bool card_wait_over; /* the wait ran out while the insert-card window was up */
};

struct dialog_task;

/* What the requests need of a certificate, parsed once (a parse costs about 0.2 ms and a signature
 * needed four): kept under the SHA-256 of its DER, which names one DER only, so an entry never goes
 * stale. */
struct cert_facts {
	uint8_t sha256[32];
	uint64_t last; /* 0: a free slot; else the turn of its last use, the oldest goes first */
	bool signing;  /* certinfo_for_signatures; false for DER that does not parse */
	bool qualified;
	char subject[sizeof(((struct certinfo *)0)->subject)]; /* "" for DER that does not parse */
};

struct signsvc {
	struct daemon *d;
	char *pinentry;
	struct sign_pending *head, *current;
	size_t queued;
	struct signq fair;  /* turns and back-offs by site */
	struct event *wake; /* when every waiting request is held by a back-off: the first one's end */
	struct dialog_task *dialog; /* the dialog on screen, if any */
	struct origin_memory {
		char origin[256];
		time_t until;
	} once[MEMORY_SLOTS];
	struct event *kick;
	struct cert_facts facts[FACTS_SLOTS];
	uint64_t facts_turn;
};

/* ---- the outcome ---- */

static void advance(struct signsvc *svc);

static const char *peer_name(const struct sign_peer *p)
{
	if (!p->web)
		return p->app;
	return p->origin[0] ? p->origin : "(web request without Origin)";
}

/* A web page that named itself: the dialogs show its site, and only it can be remembered. */
static bool web_origin(const struct sign_peer *p)
{
	return p->web && p->origin[0] != '\0';
}

static void audit(struct signsvc *svc, struct sign_pending *rq, const char *result)
{
	/* Only what reached the queue: refusals at the door (busy, a standing deny) would let a hostile page
	 * grow the log at will. */
	struct audit_entry e = {
	        .time = (int64_t)time(NULL),
	        .origin = peer_name(&rq->peer),
	        .cert_sha256 = rq->args.cert_id,
	        .content_sha256 = rq->content_sha256,
	        .result = result,
	};

	struct slot *s;
	char card[33] = "";

	if (rq->kind != REQ_SIGN || !rq->queued)
		return;
	if (audit_add(svc->d->records, &e) < 0)
		log_warning("audit: could not record a signature request of %s", peer_name(&rq->peer));
	s = rq->slot ? slot_get(svc->d, rq->slot) : NULL;
	if (s && s->token && s->card_seq == rq->card_seq)
		snprintf(card, sizeof(card), "%.*s", (int)token_text_len(s->token->label, 32),
		         s->token->label);
	log_record(LOG_LVL_INFO, peer_name(&rq->peer), card, result, "signature request of %s: %s",
	           peer_name(&rq->peer), result);
}

/* One debug line: each step's milliseconds, then the total. */
static void log_timing(const struct sign_pending *rq)
{
	char line[640];
	size_t n = 0;
	double first = rq->marks[MK_RECEIVED] != 0 ? rq->marks[MK_RECEIVED] : rq->marks[MK_QUEUED];
	double prev = first;

	if (rq->kind != REQ_SIGN || rq->marks[MK_QUEUED] == 0)
		return;
	line[0] = '\0';
	for (size_t i = MK_RECEIVED + 1; i < MK_COUNT && n < sizeof(line); i++) {
		int k;

		if (rq->marks[i] == 0)
			continue;
		k = snprintf(line + n, sizeof(line) - n, " %s=%.3f", mark_names[i],
		             (rq->marks[i] - prev) * 1e3);
		if (k < 0)
			return;
		n += (size_t)k;
		prev = rq->marks[i];
	}
	log_debug("sign timing (ms) for %s:%s total=%.3f", peer_name(&rq->peer), line, (prev - first) * 1e3);
}

static void req_free(struct sign_pending *rq)
{
	struct daemon *d = rq->svc->d;

	/* A request in progress may wait for its card: the modules' slots are followed meanwhile. */
	d->sign_requests--;
	slots_listeners_changed(d);
	if (rq->timer)
		event_free(rq->timer);
	if (rq->content) {
		OPENSSL_cleanse(rq->content, rq->args.len);
		free(rq->content);
	}
	free(rq);
}

/* Ends the current request: audit, answer (unless abandoned), next one. */
static void finish(struct sign_pending *rq, const struct sign_result *res, const char *audit_result)
{
	struct signsvc *svc = rq->svc;
	char why[RECORDS_RESULT_MAX];

	if (audit_result == NULL) {
		snprintf(why, sizeof(why), "%s", sign_err_code(res->err));
		audit_result = res->err == SIGN_OK ? "ok" : why;
	}
	audit(svc, rq, rq->abandoned && res->err != SIGN_OK ? "abandoned" : audit_result);
	stamp(&rq->marks[MK_AUDITED]);
	if (!rq->abandoned) {
		if (rq->kind == REQ_CONSENT)
			rq->consent_cb(rq->ud, res->err);
		else
			rq->done_cb(rq->ud, res);
	}
	stamp(&rq->marks[MK_ANSWERED_WEB]);
	log_timing(rq);
	if (rq->kind == REQ_SIGN && res->err == SIGN_OK)
		signq_signed(&svc->fair, rq->site);
	if (svc->current == rq)
		svc->current = NULL;
	req_free(rq);
	advance(svc);
}

static void finish_err(struct sign_pending *rq, enum sign_err e, int tries_left)
{
	struct sign_result res = {.err = e, .message = sign_err_message(e), .tries_left = tries_left};

	finish(rq, &res, NULL);
}

/* ---- grants ---- */

static bool remembered(const struct origin_memory *m, const char *origin)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < MEMORY_SLOTS; i++)
		if (m[i].until > now && strcmp(m[i].origin, origin) == 0)
			return true;
	return false;
}

static void remember(struct origin_memory *m, const char *origin, time_t for_s)
{
	size_t slot = 0;

	for (size_t i = 0; i < MEMORY_SLOTS; i++) {
		if (strcmp(m[i].origin, origin) == 0) {
			slot = i;
			break;
		}
		if (m[i].until < m[slot].until)
			slot = i;
	}
	snprintf(m[slot].origin, sizeof(m[slot].origin), "%s", origin);
	m[slot].until = time(NULL) + for_s;
}

/* The answer that stands for an origin now: 1 allow, 0 deny, -ENOENT ask. */
static int standing_answer(struct signsvc *svc, const struct sign_peer *p)
{
	int decision;

	if (!p->web)
		return 1;
	decision = sign_origin_decision(svc, p->origin);
	if (decision >= 0 || p->origin[0] == '\0')
		return decision;
	return remembered(svc->once, p->origin) ? 1 : -ENOENT;
}

/* A deny is kept per site, so that a fresh subdomain (s1., s2. ...) cannot ask again; an allow is kept
 * per exact origin. A deny of the site wins over the origin's own allow. */
int sign_origin_decision(struct signsvc *svc, const char *origin)
{
	char site[SITE_MAX];

	if (origin == NULL || origin[0] == '\0' || !records_usable(svc->d->records))
		return -ENOENT;
	if (site_of_origin(origin, site, sizeof(site)) == 0 && records_deny_get(svc->d->records, site) == 0)
		return 0;
	return records_allow_get(svc->d->records, origin) == 0 ? 1 : -ENOENT;
}

/* Stores the user's "deny" for the origin's site; false when it could not be kept. */
static bool store_deny(struct signsvc *svc, const char *origin)
{
	char site[SITE_MAX];

	return site_of_origin(origin, site, sizeof(site)) == 0 &&
	       records_deny_put(svc->d->records, site, (int64_t)time(NULL)) == 0;
}

bool sign_origin_granted(struct signsvc *svc, const char *origin)
{
	return sign_origin_decision(svc, origin) == 1;
}

/* ---- dialogs, on a thread of their own ---- */

enum dialog_kind { DLG_CONSENT, DLG_PIN, DLG_CARD };

struct dialog_task {
	pthread_mutex_t mu;
	bool orphan;   /* the service is gone: the thread frees the task */
	bool finished; /* the thread is done with the dialog (its done event may never run now) */
	bool answered; /* the PIN went to the main loop before the pinentry was closed (pin_read) */
	bool loop_done; /* the main loop is done with it while the pinentry still closes: the thread frees it */
	enum dialog_kind kind;
	struct dialog_request rq;
	char *program, *origin, *subject;
	uint8_t *content, *cert;
	/* The choice's own copies (rq.choices points into them), and the index the user chose. */
	struct dialog_choice choices[SIGN_CHOICES_MAX];
	size_t chosen;
	int result;
	enum dialog_consent consent;
	struct pin_secret pin;
	struct event *done;
	struct signsvc *svc;
	double thread_at; /* when the thread began (timings) */
	struct dialog_times times;
	/* The insert-card window: its card's label, and the pipe on which the loop ends it (card_wake). */
	char *card_label;
	int wake[2];
};

static void task_free(struct dialog_task *t)
{
	pin_secret_wipe(&t->pin);
	if (t->done)
		event_free(t->done);
	free(t->program);
	free(t->origin);
	free(t->subject);
	free(t->cert);
	free(t->card_label);
	for (int i = 0; i < 2; i++)
		if (t->wake[i] >= 0)
			close(t->wake[i]);
	for (size_t i = 0; i < t->rq.n_choices; i++) {
		free((char *)t->choices[i].subject);
		free((uint8_t *)t->choices[i].der);
	}
	if (t->content) {
		OPENSSL_cleanse(t->content, t->rq.len);
		free(t->content);
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* The PIN read: it goes to the main loop now, and the card starts, while the pinentry exits. */
static void pin_read(void *ud, struct pin_secret *pin)
{
	struct dialog_task *t = ud;

	pthread_mutex_lock(&t->mu);
	t->pin = *pin;
	*pin = (struct pin_secret){0};
	t->result = 0;
	t->answered = true;
	if (!t->orphan)
		event_active(t->done, 0, 0);
	/* From here the main loop reads result and pin; the thread writes neither again. */
	pthread_mutex_unlock(&t->mu);
}

static void *dialog_thread(void *arg)
{
	struct dialog_task *t = arg;
	struct pin_secret none = {0};
	bool free_it;
	int r;

	stamp(&t->thread_at);
	if (t->kind == DLG_CONSENT)
		r = dialog_consent(&t->rq, &t->consent);
	else if (t->kind == DLG_CARD)
		r = dialog_card(&t->rq, t->wake[0]);
	else
		r = dialog_pin(&t->rq, &none); /* a PIN goes to pin_read, never here */
	pthread_mutex_lock(&t->mu);
	if (!t->answered)
		t->result = r;
	free_it = t->orphan || t->loop_done;
	t->finished = true;
	if (!free_it && !t->answered)
		event_active(t->done, 0, 0);
	/* After this unlock the task is the main loop's (or freed here): the thread touches nothing more. */
	pthread_mutex_unlock(&t->mu);
	if (free_it)
		task_free(t);
	return NULL;
}

static void on_consent_done(struct sign_pending *rq, struct dialog_task *t);
static void on_pin_done(struct sign_pending *rq, struct dialog_task *t);
static void on_card_done(struct sign_pending *rq, struct dialog_task *t);

static void on_dialog_done(evutil_socket_t fd, short what, void *arg)
{
	struct dialog_task *t = arg;
	struct signsvc *svc = t->svc;
	struct sign_pending *rq = svc->current;
	bool finished;

	/* The thread activated us while holding the lock: wait for its unlock before the task goes. */
	pthread_mutex_lock(&t->mu);
	pthread_mutex_unlock(&t->mu);

	svc->dialog = NULL;
	if (rq != NULL && t->kind == DLG_CONSENT)
		on_consent_done(rq, t);
	else if (rq != NULL && t->kind == DLG_CARD)
		on_card_done(rq, t);
	else if (rq != NULL)
		on_pin_done(rq, t);
	/* A PIN that came early: the thread may still be closing the pinentry, and then frees the task. */
	pthread_mutex_lock(&t->mu);
	finished = t->finished;
	if (!finished) {
		event_free(t->done);
		t->done = NULL;
		t->loop_done = true;
	}
	pthread_mutex_unlock(&t->mu);
	if (finished)
		task_free(t);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Starts a dialog for the current request; the answer comes to on_dialog_done. */
static int start_dialog(struct signsvc *svc, enum dialog_kind kind, const struct dialog_request *rq)
{
	struct dialog_task *t = calloc(1, sizeof(*t));
	pthread_attr_t attr;
	pthread_t th;
	int e;

	if (t == NULL)
		return -ENOMEM;
	pthread_mutex_init(&t->mu, NULL);
	t->wake[0] = t->wake[1] = -1;
	t->kind = kind;
	t->svc = svc;
	t->rq = *rq;
	t->program = dup_or_null(svc->pinentry);
	t->origin = dup_or_null(rq->origin);
	t->subject = dup_or_null(rq->subject);
	t->card_label = dup_or_null(rq->card_label);
	if (kind == DLG_CARD && pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		t->wake[0] = t->wake[1] = -1;
	if (rq->len > 0) {
		t->content = malloc(rq->len);
		if (t->content)
			memcpy(t->content, rq->content, rq->len);
	}
	if (rq->cert_len > 0) {
		t->cert = malloc(rq->cert_len);
		if (t->cert)
			memcpy(t->cert, rq->cert, rq->cert_len);
	}
	t->rq.n_choices = 0;
	t->chosen = SIZE_MAX;
	for (size_t i = 0; i < rq->n_choices && i < SIGN_CHOICES_MAX; i++) {
		const struct dialog_choice *c = &rq->choices[i];
		uint8_t *der = malloc(c->der_len);
		char *subject = strdup(c->subject ? c->subject : "");

		if (der == NULL || subject == NULL) {
			free(der);
			free(subject);
			task_free(t);
			return -ENOMEM;
		}
		memcpy(der, c->der, c->der_len);
		t->choices[i] = *c;
		t->choices[i].der = der;
		t->choices[i].subject = subject;
		t->rq.n_choices = i + 1;
	}
	t->rq.choices = t->rq.n_choices ? t->choices : NULL;
	t->rq.ret_chosen = &t->chosen;
	t->done = event_new(svc->d->base, -1, 0, on_dialog_done, t);
	if (t->program == NULL || t->origin == NULL || (rq->subject && t->subject == NULL) ||
	    (rq->len > 0 && t->content == NULL) || (rq->cert_len > 0 && t->cert == NULL) || t->done == NULL ||
	    (rq->card_label && t->card_label == NULL) || (kind == DLG_CARD && t->wake[0] < 0)) {
		task_free(t);
		return -ENOMEM;
	}
	t->rq.program = t->program;
	t->rq.origin = t->origin;
	t->rq.subject = t->subject;
	t->rq.content = t->content;
	t->rq.times = &t->times;
	t->rq.pin_read = pin_read;
	t->rq.pin_read_ud = t;
	t->rq.cert = t->cert;
	t->rq.card_label = t->card_label;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&th, &attr, dialog_thread, t);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		task_free(t);
		return -e;
	}
	svc->dialog = t;
	return 0;
}

/* ---- finding the certificate ---- */

/* Slot i when a card is in its reader, else NULL. */
static struct slot *present_slot(struct signsvc *svc, size_t i)
{
	struct slot *s = slot_by_index(svc->d, i);

	return s && s->reader && s->token ? s : NULL;
}

struct found {
	struct slot *slot;
	const struct token_object *cert, *key;
};

static bool same_id(const struct token_object *a, const struct token_object *b)
{
	const struct token_attr *x = token_attr(a, CKA_ID), *y = token_attr(b, CKA_ID);

	return x && y && x->len == y->len && memcmp(x->value, y->value, x->len) == 0;
}

static bool cert_matches(const struct token_object *o, const uint8_t id[32])
{
	const struct token_attr *der = token_attr(o, CKA_VALUE);
	uint8_t h[32];

	return o->cls == CKO_CERTIFICATE && der &&
	       EVP_Digest(der->value, der->len, h, NULL, EVP_sha256(), NULL) == 1 && memcmp(h, id, 32) == 0;
}

static const struct token_object *find_in_token(const struct token *t, const uint8_t id[32],
                                                const struct token_object **ret_key)
{
	for (size_t i = 0; i < t->nobjs; i++) {
		const struct token_object *c = &t->objs[i];

		if (!cert_matches(c, id))
			continue;
		for (size_t j = 0; j < t->nobjs; j++)
			if (t->objs[j].cls == CKO_PRIVATE_KEY && same_id(&t->objs[j], c)) {
				*ret_key = &t->objs[j];
				return c;
			}
	}
	return NULL;
}

static bool find_present(struct signsvc *svc, const uint8_t id[32], struct found *ret)
{
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		struct slot *s = present_slot(svc, i);
		const struct token_object *key = NULL, *cert;

		if (s == NULL)
			continue;
		cert = find_in_token(s->token, id, &key);
		if (cert) {
			*ret = (struct found){s, cert, key};
			return true;
		}
	}
	return false;
}

/* Cached cards not present: their identities come from the cache, their tokens from the mirror. */
struct absent_walk {
	struct signsvc *svc;
	int (*cb)(void *ud, const struct token *t);
	void *ud;
};

static bool card_present(struct signsvc *svc, const char *driver, const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		struct slot *s = present_slot(svc, i);

		if (s && strcmp(s->token->driver, driver) == 0 && s->token->id_len == len &&
		    memcmp(s->token->id, id, len) == 0)
			return true;
	}
	return false;
}

static int absent_entry(void *ud, const struct cache_entry *e)
{
	struct absent_walk *w = ud;
	struct token *t;
	int r;

	if (card_present(w->svc, e->driver, e->id, e->id_len))
		return 0;
	t = known_get(w->svc->d->known, e->driver, e->id, e->id_len);
	if (t == NULL)
		return 0;
	r = w->cb(w->ud, t);
	token_free(t);
	return r < 0 ? r : 0;
}

static int each_absent_token(struct signsvc *svc, int (*cb)(void *ud, const struct token *t), void *ud)
{
	struct absent_walk w = {svc, cb, ud};

	if (svc->d->cache == NULL || svc->d->known == NULL)
		return 0;
	return cache_list(svc->d->cache, absent_entry, &w);
}

/* The certificate's facts, parsed on first use; NULL without a DER (or memory for its digest). */
static const struct cert_facts *cert_facts(struct signsvc *svc, const struct token_object *cert)
{
	const struct token_attr *der = token_attr(cert, CKA_VALUE);
	struct cert_facts *f = NULL;
	struct certinfo ci;
	uint8_t h[32];

	if (der == NULL || EVP_Digest(der->value, der->len, h, NULL, EVP_sha256(), NULL) != 1)
		return NULL;
	for (size_t i = 0; i < FACTS_SLOTS; i++) {
		struct cert_facts *c = &svc->facts[i];

		if (c->last != 0 && memcmp(c->sha256, h, sizeof(h)) == 0) {
			c->last = ++svc->facts_turn;
			return c;
		}
		if (f == NULL || c->last < f->last)
			f = c;
	}
	memcpy(f->sha256, h, sizeof(h));
	f->last = ++svc->facts_turn;
	f->signing = false;
	f->qualified = false;
	f->subject[0] = '\0';
	if (certinfo_parse(der->value, der->len, &ci) == 0) {
		f->signing = certinfo_for_signatures(&ci);
		f->qualified = ci.qualified;
		memcpy(f->subject, ci.subject, sizeof(f->subject));
	}
	return f;
}

/* A certificate a web page may name: its keyUsage has nonRepudiation (certinfo.h). */
static bool for_signatures(struct signsvc *svc, const struct token_object *cert)
{
	const struct cert_facts *f = cert_facts(svc, cert);

	return f != NULL && f->signing;
}

struct known_check {
	struct signsvc *svc;
	const uint8_t *id;
	bool found;
	bool signing;
};

static int known_check_cb(void *ud, const struct token *t)
{
	struct known_check *k = ud;
	const struct token_object *key, *cert = find_in_token(t, k->id, &key);

	if (cert) {
		k->found = true;
		k->signing = for_signatures(k->svc, cert);
		return -1;
	}
	return 0;
}

static bool cert_known(struct signsvc *svc, const uint8_t id[32])
{
	struct known_check k = {svc, id, false, false};

	each_absent_token(svc, known_check_cb, &k);
	return k.found;
}

/* Whether a web page may sign with the key of certificate id, as far as the cards present and known
 * tell: 1 yes, 0 no (a key for authentication, key management…), -ENOENT no card holds it. */
static int web_may_sign(struct signsvc *svc, const uint8_t id[32])
{
	struct known_check k = {svc, id, false, false};
	struct found f;

	if (find_present(svc, id, &f))
		return for_signatures(svc, f.cert) ? 1 : 0;
	each_absent_token(svc, known_check_cb, &k);
	if (!k.found)
		return -ENOENT;
	return k.signing ? 1 : 0;
}

struct list_walk {
	struct signsvc *svc;
	int (*cb)(void *ud, const struct sign_cert *c);
	void *ud;
	const char *reader;
	bool present;
};

static bool has_key(const struct token *t, const struct token_object *cert)
{
	for (size_t j = 0; j < t->nobjs; j++)
		if (t->objs[j].cls == CKO_PRIVATE_KEY && same_id(&t->objs[j], cert))
			return true;
	return false;
}

/* The certificates of t a page may sign with: for signatures, with their key on the card. */
static int list_token(void *ud, const struct token *t)
{
	struct list_walk *w = ud;

	for (size_t i = 0; i < t->nobjs; i++) {
		const struct token_object *o = &t->objs[i];
		const struct token_attr *der = token_attr(o, CKA_VALUE), *label = token_attr(o, CKA_LABEL);
		struct sign_cert c = {.reader = w->reader, .present = w->present};
		char lbl[128];
		int r;

		if (o->cls != CKO_CERTIFICATE || der == NULL || !for_signatures(w->svc, o) || !has_key(t, o))
			continue;
		if (EVP_Digest(der->value, der->len, c.id, NULL, EVP_sha256(), NULL) != 1)
			return -ENOMEM;
		snprintf(lbl, sizeof(lbl), "%.*s", label ? (int)label->len : 0,
		         label ? (const char *)label->value : "");
		c.der = der->value;
		c.der_len = der->len;
		c.label = lbl;
		r = w->cb(w->ud, &c);
		if (r < 0)
			return r;
	}
	return 0;
}

int sign_list_certs(struct signsvc *svc, int (*cb)(void *ud, const struct sign_cert *c), void *ud)
{
	struct list_walk w = {svc, cb, ud, NULL, true};
	int r;

	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		struct slot *s = present_slot(svc, i);

		if (s == NULL)
			continue;
		w.reader = s->reader_name;
		r = list_token(&w, s->token);
		if (r < 0)
			return r;
	}
	/* Cards that are not present are not listed: the cache keeps every card ever seen, and a page
	 * must not learn the names of the account's earlier users. A request with "wait" may still name a
	 * known card's certificate (the page took the id when the card was in). */
	return 0;
}

/* ---- the card job ---- */

/* The card's PIN counter as last seen, for a wrong PIN the card never saw. */
static int tries_of(struct sign_pending *rq)
{
	struct slot *s = slot_get(rq->svc->d, rq->slot);

	return s && s->token && s->card_seq == rq->card_seq ? s->token->pin_tries_left : -1;
}

struct sign_job {
	struct reader_job rj;
	struct signsvc *svc;
	struct sign_pending *rq;
	struct pin_secret pin;
	/* The same PIN for the signature itself, for a key whose card wants it inside the operation (a
	 * vendor module's context-specific login): held from the VERIFY to the signature, then wiped. */
	struct pin_secret op_pin;
	struct token_key_info key;
	uint8_t *cert;
	size_t cert_len;
	int tries;
	bool reset_first; /* a PKCS#11 application holds the card's login: reset it before our VERIFY */
	bool verified;    /* the PIN was accepted: a later failure is the card's or ours, not the user's */
	uint8_t *out;     /* CMS DER (OPENSSL_free) or raw signature (in raw[]) */
	size_t out_len;
	uint8_t raw[512];
	struct reader_card *card; /* during run only */
	double marks[MK_COUNT];   /* the worker's steps (timings) */
};

static int card_sign_digest(void *ud, const uint8_t *digest, size_t len, uint8_t *sig, size_t cap,
                            size_t *ret_len)
{
	struct sign_job *j = ud;
	const struct mech_desc *m = mech_find(j->key.type == CKK_EC ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS);
	uint8_t in[512];
	int r;

	if (m == NULL || j->key.size == 0 || j->key.size > sizeof(in))
		return -EINVAL;
	stamp(&j->marks[MK_DIGEST]);
	r = mech_block_from_hash(m, NULL, digest, len, in, j->key.size);
	if (r < 0)
		return r;
	r = j->card->driver->private_op(&j->card->t, &j->key, j->op_pin.page ? &j->op_pin : NULL, in,
	                                j->key.size, sig, cap, ret_len);
	stamp(&j->marks[MK_CARD_SIGNED]);
	return r;
}

static int sign_job_run(struct reader_job *rj, struct reader_card *card)
{
	struct sign_job *j = (struct sign_job *)rj;
	struct sign_pending *rq = j->rq;
	struct cades_signer signer = {card_sign_digest, j};
	int r, e;

	j->card = card;
	stamp(&j->marks[MK_CARD_RUN]);
	/* Ours starts from no one else's login. Every signature here ends with a reset, so only a PKCS#11
	 * application's login can be on the card (the slot's owner): then the card is reset first, as
	 * p11.c does between applications. The VERIFY that follows decides alone whether we sign. */
	r = pin_secret_set(&j->op_pin, j->pin.page, j->pin.len);
	if (r < 0) {
		pin_secret_wipe(&j->pin);
		return r;
	}
	r = pin_verify_on_card(card->driver, &card->t, j->reset_first, &j->pin, &j->tries);
	if (r == CARD_E_PIN_INCORRECT || r == CARD_E_PIN_LOCKED) {
		/* Some cards keep an earlier login after a wrong PIN (a program outside imzad may have made
		 * it): a refused signature leaves no login behind either. */
		e = card->driver->logout(&card->t);
		if (e < 0)
			log_warning("card: logout after a wrong PIN failed: %s", strerror(-e));
	}
	if (r < 0) {
		pin_secret_wipe(&j->op_pin);
		return r;
	}
	j->verified = true;
	stamp(&j->marks[MK_VERIFIED]);
	if (rq->args.format == SIGN_FMT_CADES) {
		r = cades_sign(rq->content, rq->args.len, rq->args.detached, j->cert, j->cert_len, &signer,
		               &j->out, &j->out_len);
		stamp(&j->marks[MK_CMS]);
	} else {
		uint8_t h[32];

		r = EVP_Digest(rq->content, rq->args.len, h, NULL, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
		if (r == 0)
			r = card_sign_digest(j, h, sizeof(h), j->raw, sizeof(j->raw), &j->out_len);
	}
	pin_secret_wipe(&j->op_pin);
	/* The card forgets the PIN at once: no one else's operation runs on this login. */
	e = card->driver->logout(&card->t);
	if (e < 0)
		log_warning("card: logout after a signature failed: %s", strerror(-e));
	stamp(&j->marks[MK_RESET]);
	j->card = NULL;
	return r;
}

static enum sign_err card_err(int r)
{
	switch (r) {
	case 0:
		return SIGN_OK;
	case CARD_E_PIN_INCORRECT:
		return SIGN_E_PIN_INCORRECT;
	case CARD_E_PIN_LOCKED:
		return SIGN_E_PIN_LOCKED;
	case CARD_E_REMOVED:
		return SIGN_E_CARD_ABSENT;
	default:
		return SIGN_E_INTERNAL;
	}
}

static void sign_job_done(struct reader_job *rj, int r)
{
	struct sign_job *j = (struct sign_job *)rj;
	struct sign_pending *rq = j->rq;
	struct slot *s = slot_get(j->svc->d, rq->slot);
	struct sign_result res = {.err = card_err(r), .tries_left = -1};
	char why[RECORDS_RESULT_MAX];

	pin_secret_wipe(&j->pin);
	pin_secret_wipe(&j->op_pin);
	for (size_t i = MK_CARD_RUN; i < MK_CARD_DONE; i++)
		rq->marks[i] = j->marks[i];
	stamp(&rq->marks[MK_CARD_DONE]);
	if (s && s->token && s->card_seq == rj->seq) {
		/* We reset the card's login before and after: no application holds it now. */
		s->owner_app = 0;
		pin_note_result(s->token, j->verified ? 0 : r, j->tries);
	}
	/* A PIN the card cannot even take (PIV: not 6 to 8 digits) is a wrong PIN; the card was not asked. */
	if ((r == -EINVAL || r == CARD_E_PIN_FORMAT) && !j->verified) {
		res.err = SIGN_E_PIN_INCORRECT;
		j->tries = tries_of(rq);
	}
	if (res.err == SIGN_E_PIN_INCORRECT)
		res.tries_left = j->tries;
	if (r < 0 && j->verified && r != CARD_E_REMOVED)
		res.err = SIGN_E_INTERNAL;
	res.message = sign_err_message(res.err);
	if (res.err == SIGN_OK) {
		res.sig = rq->args.format == SIGN_FMT_CADES ? j->out : j->raw;
		res.sig_len = j->out_len;
		res.cert = j->cert;
		res.cert_len = j->cert_len;
	} else if (res.err == SIGN_E_INTERNAL) {
		log_warning("signature for %s failed on the card: %s", peer_name(&rq->peer), strerror(-r));
		snprintf(why, sizeof(why), "card-error: %s", strerror(-r));
	}
	finish(rq, &res, res.err == SIGN_E_INTERNAL ? why : NULL);
	OPENSSL_free(j->out);
	free(j->cert);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

static void start_card(struct sign_pending *rq, struct pin_secret *pin)
{
	struct signsvc *svc = rq->svc;
	struct found f;
	const struct token_attr *der;
	struct sign_job *j;

	if (!find_present(svc, rq->args.cert_id, &f) || f.slot->id != rq->slot ||
	    f.slot->card_seq != rq->card_seq) {
		pin_secret_wipe(pin);
		finish_err(rq, SIGN_E_CARD_ABSENT, -1);
		return;
	}
	j = calloc(1, sizeof(*j));
	der = token_attr(f.cert, CKA_VALUE);
	if (j == NULL || der == NULL || (j->cert = malloc(der->len)) == NULL) {
		free(j);
		pin_secret_wipe(pin);
		finish_err(rq, SIGN_E_INTERNAL, -1);
		return;
	}
	memcpy(j->cert, der->value, der->len);
	j->cert_len = der->len;
	j->rj.run = sign_job_run;
	j->rj.done = sign_job_done;
	j->rj.seq = f.slot->card_seq;
	j->svc = svc;
	j->rq = rq;
	j->pin = *pin;
	*pin = (struct pin_secret){0};
	j->key = f.key->key;
	j->reset_first = f.slot->owner_app != 0;
	rq->step = ST_CARD;
	reader_submit(f.slot->reader, &j->rj);
}

/* ---- the steps ---- */

static void ask_pin(struct sign_pending *rq, const struct found *f)
{
	struct signsvc *svc = rq->svc;
	const struct cert_facts *facts = cert_facts(svc, f->cert);
	const struct token_attr *der = token_attr(f->cert, CKA_VALUE);
	struct dialog_request d = {
	        .origin = peer_name(&rq->peer),
	        .web = web_origin(&rq->peer),
	        .subject = facts ? facts->subject : "",
	        .content = rq->content,
	        .len = rq->args.len,
	        .is_text = rq->args.is_text,
	        .tries_left = f->slot->token->pin_tries_left,
	        .timeout_s = DIALOG_TIMEOUT_S,
	        /* The signer's certificate for imza-prompt's window. */
	        .cert = der ? der->value : NULL,
	        .cert_len = der ? der->len : 0,
	};

	rq->slot = f->slot->id;
	rq->card_seq = f->slot->card_seq;
	rq->step = ST_PIN;
	if (f->slot->token->pin_tries_left == 0) {
		finish_err(rq, SIGN_E_PIN_LOCKED, 0);
		return;
	}
	stamp(&rq->marks[MK_DIALOG]);
	if (start_dialog(svc, DLG_PIN, &d) < 0)
		finish_err(rq, SIGN_E_INTERNAL, -1);
}

/* ---- the insert-card window ---- */

/* Ends the insert-card window on screen, if one is up (its thread reads the byte and closes it); its end
 * then comes to on_card_done, which looks again. */
static bool card_wake(struct signsvc *svc)
{
	struct dialog_task *t = svc->dialog;

	if (t == NULL || t->kind != DLG_CARD)
		return false;
	/* One byte is enough, and a full pipe already holds one. */
	if (write(t->wake[1], "", 1) < 0 && errno != EAGAIN)
		log_warning("the insert-card window could not be told to close: %s", strerror(errno));
	return true;
}

/* The absent card that holds the certificate, as the cache knows it: its label and the DER. */
struct absent_card {
	const uint8_t *id;
	char label[sizeof(((struct token *)0)->label)];
	uint8_t *der;
	size_t der_len;
};

static int absent_card_cb(void *ud, const struct token *t)
{
	struct absent_card *a = ud;
	const struct token_object *key = NULL, *cert = find_in_token(t, a->id, &key);
	const struct token_attr *der;
	size_t n;

	if (cert == NULL)
		return 0;
	n = token_text_len(t->label, sizeof(a->label) - 1);
	memcpy(a->label, t->label, n);
	a->label[n] = '\0';
	der = token_attr(cert, CKA_VALUE);
	if (der && (a->der = malloc(der->len)) != NULL) {
		memcpy(a->der, der->value, der->len);
		a->der_len = der->len;
	}
	return -1; /* found: the walk stops */
}

/* With imza-prompt on a display: the window that says which card to insert, up while the request
 * waits. Without one (a terminal, `prompt = pinentry`) the request waits without a window, since a
 * pinentry cannot be closed from here when the card comes. */
static void show_insert_card(struct sign_pending *rq)
{
	struct signsvc *svc = rq->svc;
	struct absent_card a = {.id = rq->args.cert_id};
	struct dialog_request d;

	if (prompt_wanted() == NULL || svc->dialog != NULL)
		return;
	each_absent_token(svc, absent_card_cb, &a);
	d = (struct dialog_request){
	        .origin = peer_name(&rq->peer),
	        .web = web_origin(&rq->peer),
	        .tries_left = -1,
	        /* imzad ends the window when the wait is over; this only guards against a lost wake. */
	        .timeout_s = rq->args.wait_s + 30,
	        .cert = a.der,
	        .cert_len = a.der_len,
	        .card_label = a.label[0] ? a.label : NULL,
	};
	if (start_dialog(svc, DLG_CARD, &d) < 0)
		log_warning("the insert-card window could not be started; the request waits without it");
	free(a.der);
}

static void on_card_wait_over(evutil_socket_t fd, short what, void *arg);

/* The certificates a request without one may sign with: for signatures, key on the card, the cards
 * present (never a cached card's), the PIN not blocked; qualified ones first, each group in slot order;
 * at most SIGN_CHOICES_MAX. Into rq->choices and out (subjects copied to subjects: the facts' slots
 * may be reused by the next certificate). *ret_locked: a card was left out for its blocked PIN. */
static size_t gather_choices(struct sign_pending *rq, struct dialog_choice *out,
                             char (*subjects)[sizeof(((struct cert_facts *)0)->subject)], bool *ret_locked)
{
	struct signsvc *svc = rq->svc;
	size_t n = 0;

	*ret_locked = false;
	for (int qualified = 1; qualified >= 0; qualified--)
		for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
			struct slot *s = present_slot(svc, i);

			for (size_t k = 0; s && k < s->token->nobjs; k++) {
				const struct token_object *o = &s->token->objs[k];
				const struct token_attr *der = token_attr(o, CKA_VALUE);
				const struct cert_facts *f;

				if (o->cls != CKO_CERTIFICATE || der == NULL || !has_key(s->token, o))
					continue;
				f = cert_facts(svc, o);
				if (f == NULL || !f->signing || f->qualified != (qualified == 1))
					continue;
				if (s->token->pin_tries_left == 0) {
					*ret_locked = true;
					continue;
				}
				if (n == SIGN_CHOICES_MAX)
					continue;
				memcpy(rq->choices[n].id, f->sha256, 32);
				rq->choices[n].slot = s->id;
				rq->choices[n].card_seq = s->card_seq;
				snprintf(subjects[n], sizeof(subjects[n]), "%s", f->subject);
				out[n] = (struct dialog_choice){.der = der->value,
				                                .der_len = der->len,
				                                .subject = subjects[n],
				                                .tries_left = s->token->pin_tries_left,
				                                .qualified = f->qualified};
				n++;
			}
		}
	rq->n_choices = n;
	return n;
}

/* The PIN dialog that first lets the user choose the signer among rq's choices. */
static void ask_choice(struct sign_pending *rq, struct dialog_choice *choices)
{
	struct dialog_request d = {
	        .origin = peer_name(&rq->peer),
	        .web = web_origin(&rq->peer),
	        .content = rq->content,
	        .len = rq->args.len,
	        .is_text = rq->args.is_text,
	        .tries_left = -1,
	        .timeout_s = DIALOG_TIMEOUT_S,
	        .choices = choices,
	        .n_choices = rq->n_choices,
	};

	rq->step = ST_PIN;
	stamp(&rq->marks[MK_DIALOG]);
	if (start_dialog(rq->svc, DLG_PIN, &d) < 0)
		finish_err(rq, SIGN_E_INTERNAL, -1);
}

/* No certificate named: the cards present offer theirs, or the first card to come does. */
static void look_for_choices(struct sign_pending *rq)
{
	struct dialog_choice choices[SIGN_CHOICES_MAX];
	char subjects[SIGN_CHOICES_MAX][sizeof(((struct cert_facts *)0)->subject)];
	struct timeval tv = {(time_t)rq->args.wait_s, 0};
	bool locked;

	if (gather_choices(rq, choices, subjects, &locked) > 0) {
		if (rq->timer)
			event_del(rq->timer);
		ask_choice(rq, choices);
		return;
	}
	if (locked) {
		finish_err(rq, SIGN_E_PIN_LOCKED, 0);
		return;
	}
	if (rq->step == ST_WAIT_CARD)
		return;
	if (rq->args.wait_s == 0) {
		finish_err(rq, SIGN_E_CARD_ABSENT, -1);
		return;
	}
	rq->step = ST_WAIT_CARD;
	event_del(rq->timer);
	event_assign(rq->timer, rq->svc->d->base, -1, 0, on_card_wait_over, rq);
	event_add(rq->timer, &tv);
}

static void on_card_wait_over(evutil_socket_t fd, short what, void *arg)
{
	struct sign_pending *rq = arg;

	if (rq->args.choose) {
		finish_err(rq, SIGN_E_CARD_ABSENT, -1);
		return;
	}
	/* The window closes first; its end finishes the request. */
	if (card_wake(rq->svc)) {
		rq->card_wait_over = true;
		return;
	}
	finish_err(rq, cert_known(rq->svc, rq->args.cert_id) ? SIGN_E_CARD_ABSENT : SIGN_E_CERT_UNKNOWN, -1);
}

/* The certificate's card: present, or waited for as long as the request allows. */
static void look_for_card(struct sign_pending *rq)
{
	struct found f;
	struct timeval tv = {(time_t)rq->args.wait_s, 0};

	if (rq->args.choose) {
		look_for_choices(rq);
		return;
	}
	if (find_present(rq->svc, rq->args.cert_id, &f)) {
		/* The insert-card window closes first; its end comes back here. */
		if (card_wake(rq->svc))
			return;
		if (rq->timer)
			event_del(rq->timer);
		/* A card that came while the request waited: its key is checked as the door checked known ones. */
		if (rq->peer.web && !for_signatures(rq->svc, f.cert)) {
			finish_err(rq, SIGN_E_KEY_NOT_ALLOWED, -1);
			return;
		}
		ask_pin(rq, &f);
		return;
	}
	if (rq->step == ST_WAIT_CARD)
		return;
	/* A certificate no known card holds will not come by waiting (the page took the id from the listing,
	 * which holds known cards only): the queue is not held for it. */
	if (rq->args.wait_s == 0 || (rq->svc->d->cache && !cert_known(rq->svc, rq->args.cert_id))) {
		on_card_wait_over(-1, 0, rq);
		return;
	}
	rq->step = ST_WAIT_CARD;
	event_del(rq->timer);
	event_assign(rq->timer, rq->svc->d->base, -1, 0, on_card_wait_over, rq);
	event_add(rq->timer, &tv);
	show_insert_card(rq);
}

static void on_card_done(struct sign_pending *rq, struct dialog_task *t)
{
	struct found f;

	if (rq->abandoned) {
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
		return;
	}
	if (t->result == -ECANCELED) {
		/* As for a cancelled PIN dialog: the site's next request waits, so that a page cannot put
		 * insert-card windows in front of the user back to back. */
		log_info(
		        "the user cancelled the wait for the card of %s; the next signature of %s waits %u s",
		        peer_name(&rq->peer), rq->site,
		        signq_cancelled(&rq->svc->fair, rq->site, signq_now()));
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
		return;
	}
	if (t->result < 0 && t->result != -ETIMEDOUT && t->result != -ENOTSUP)
		log_warning("the insert-card window failed (%s); the request waits without it",
		            strerror(-t->result));
	if (find_present(rq->svc, rq->args.cert_id, &f)) {
		look_for_card(rq);
		return;
	}
	if (rq->card_wait_over || t->result == -ETIMEDOUT) {
		on_card_wait_over(-1, 0, rq);
		return;
	}
	/* The card came and went again, or the window did not start: the wait goes on, without it. */
}

static void after_consent(struct sign_pending *rq)
{
	struct sign_result ok = {.err = SIGN_OK, .message = "allowed"};

	if (rq->abandoned) {
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
		return;
	}
	if (rq->kind == REQ_CONSENT)
		finish(rq, &ok, NULL);
	else
		look_for_card(rq);
}

static void on_consent_done(struct sign_pending *rq, struct dialog_task *t)
{
	struct signsvc *svc = rq->svc;

	if (t->result == -ETIMEDOUT) {
		finish_err(rq, SIGN_E_TIMEOUT, -1);
		return;
	}
	if (t->result < 0) {
		log_warning("pinentry (%s) failed: %s", svc->pinentry, strerror(-t->result));
		finish_err(rq, SIGN_E_INTERNAL, -1);
		return;
	}
	switch (t->consent) {
	case DIALOG_DENY:
		if (rq->peer.origin[0] && !store_deny(svc, rq->peer.origin))
			log_warning("the denial of %s could not be stored", rq->peer.origin);
		log_info("the user denied %s", peer_name(&rq->peer));
		finish_err(rq, SIGN_E_ORIGIN_DENIED, -1);
		return;
	case DIALOG_ALWAYS:
		if (rq->peer.origin[0] &&
		    records_allow_put(svc->d->records, rq->peer.origin, (int64_t)time(NULL)) == 0)
			log_info("the user allowed %s from now on", rq->peer.origin);
		break;
	case DIALOG_ONCE:
		if (rq->peer.origin[0])
			remember(svc->once, rq->peer.origin, ONCE_MEMORY_S);
		break;
	}
	after_consent(rq);
}

static void on_pin_done(struct sign_pending *rq, struct dialog_task *t)
{
	rq->marks[MK_THREAD] = t->thread_at;
	rq->marks[MK_SPAWNED] = t->times.started;
	rq->marks[MK_ASKED] = t->times.asked;
	rq->marks[MK_ANSWERED] = t->times.answered;
	stamp(&rq->marks[MK_PIN]);
	/* A dialog the user cancelled (or left): the site's next one waits, longer each time, so a page
	 * cannot put dialogs in front of the user back to back. */
	if (t->result == -ECANCELED || t->result == -EINVAL || t->result == -ETIMEDOUT)
		log_info("the PIN dialog for %s was not answered; the next signature of %s waits %u s",
		         peer_name(&rq->peer), rq->site,
		         signq_cancelled(&rq->svc->fair, rq->site, signq_now()));
	if (rq->abandoned) {
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
		return;
	}
	switch (t->result) {
	case 0:
		if (rq->args.choose) {
			/* dialog.c took the index from the window only below n; checked again where it becomes
			 * the key that signs. */
			if (t->chosen >= rq->n_choices) {
				pin_secret_wipe(&t->pin);
				finish_err(rq, SIGN_E_INTERNAL, -1);
				return;
			}
			memcpy(rq->args.cert_id, rq->choices[t->chosen].id, 32);
			rq->slot = rq->choices[t->chosen].slot;
			rq->card_seq = rq->choices[t->chosen].card_seq;
		}
		start_card(rq, &t->pin);
		return;
	case -ENOTUNIQ:
		finish_err(rq, SIGN_E_CERT_REQUIRED, -1);
		return;
	case -ECANCELED:
	case -EINVAL: /* an empty PIN */
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
		return;
	case -E2BIG: /* longer than any PIN: wrong, and the card was not asked */
		finish_err(rq, SIGN_E_PIN_INCORRECT, tries_of(rq));
		return;
	case -ETIMEDOUT:
		finish_err(rq, SIGN_E_TIMEOUT, -1);
		return;
	default:
		log_warning("pinentry failed: %s", strerror(-t->result));
		finish_err(rq, SIGN_E_INTERNAL, -1);
	}
}

/* Consent first: a stored answer, the remembered deny, else the dialog. */
static void start(struct sign_pending *rq)
{
	struct signsvc *svc = rq->svc;
	struct dialog_request d = {
	        .origin = peer_name(&rq->peer),
	        .web = web_origin(&rq->peer),
	        /* "Always" only where it can be kept, and never for a plain-http page (site.h). */
	        .can_remember = web_origin(&rq->peer) && records_usable(svc->d->records) &&
	                        site_may_remember(rq->peer.origin),
	        .consent_sign = rq->kind == REQ_SIGN,
	        .tries_left = -1,
	        .timeout_s = DIALOG_TIMEOUT_S,
	};
	int decision;

	event_del(rq->timer);
	decision = standing_answer(svc, &rq->peer);
	if (decision == 1) {
		/* (A local program reached the user's own socket: the PIN dialog is its consent.) */
		after_consent(rq);
		return;
	}
	if (decision == 0) {
		finish_err(rq, SIGN_E_ORIGIN_DENIED, -1);
		return;
	}
	/* A signature that names no certificate tells the page nothing about the cards before the user
	 * signed: the signing window, which shows the origin and waits for the user's choice, PIN and
	 * İmzala, is the consent. Nothing is remembered for the origin. */
	if (rq->kind == REQ_SIGN && rq->args.choose) {
		after_consent(rq);
		return;
	}
	rq->step = ST_CONSENT;
	if (start_dialog(svc, DLG_CONSENT, &d) < 0)
		finish_err(rq, SIGN_E_INTERNAL, -1);
}

static void advance(struct signsvc *svc)
{
	/* Not from inside a callback chain: the next request starts from the loop. */
	if (svc->kick && svc->current == NULL && svc->head)
		event_active(svc->kick, 0, 0);
}

/* The next request: sites in turn, skipping those in a back-off (they do not hold the others up). */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct signsvc *svc = arg;
	const char *sites[SIGN_QUEUE_MAX];
	bool held[SIGN_QUEUE_MAX];
	struct sign_pending *rq, **p;
	double now = signq_now(), wake = 0;
	size_t n = 0;
	int pick;

	if (svc->current || svc->head == NULL)
		return;
	for (rq = svc->head; rq && n < SIGN_QUEUE_MAX; rq = rq->next, n++) {
		sites[n] = rq->site;
		held[n] = rq->kind == REQ_SIGN;
	}
	pick = signq_pick(&svc->fair, sites, held, n, now, &wake);
	if (pick < 0) {
		double in = wake > now ? wake - now : 0;
		struct timeval tv = {(time_t)in, (suseconds_t)((in - (double)(time_t)in) * 1e6)};

		evtimer_add(svc->wake, &tv);
		return;
	}
	for (p = &svc->head; pick > 0; pick--)
		p = &(*p)->next;
	rq = *p;
	*p = rq->next;
	svc->queued--;
	rq->next = NULL;
	svc->current = rq;
	signq_started(&svc->fair, rq->site, now);
	stamp(&rq->marks[MK_STARTED]);
	start(rq);
}

static void unlink_queued(struct signsvc *svc, struct sign_pending *rq)
{
	for (struct sign_pending **p = &svc->head; *p; p = &(*p)->next)
		if (*p == rq) {
			*p = rq->next;
			svc->queued--;
			return;
		}
}

static void on_queue_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sign_pending *rq = arg;

	unlink_queued(rq->svc, rq);
	finish_err(rq, SIGN_E_TIMEOUT, -1);
}

static struct sign_pending *enqueue(struct signsvc *svc, struct sign_pending *rq)
{
	struct timeval tv = {QUEUE_TIMEOUT_S, 0};
	struct sign_pending **p;
	size_t same = 0;

	rq->svc = svc;
	svc->d->sign_requests++;
	slots_listeners_changed(svc->d);
	signq_site_of(rq->peer.web, rq->peer.origin, rq->site);
	for (struct sign_pending *o = svc->head; o; o = o->next)
		same += strcmp(o->site, rq->site) == 0;
	rq->timer = event_new(svc->d->base, -1, 0, on_queue_timeout, rq);
	/* One site cannot fill the queue: a page that floods it gets 503s, the others keep their places. */
	if (rq->timer == NULL || svc->queued >= SIGN_QUEUE_MAX || same >= SIGNQ_PER_SITE) {
		enum sign_err e = rq->timer ? SIGN_E_BUSY : SIGN_E_INTERNAL;

		/* Not the current request: finish() answers and frees without touching the queue. */
		finish_err(rq, e, -1);
		return NULL;
	}
	event_add(rq->timer, &tv);
	for (p = &svc->head; *p; p = &(*p)->next)
		;
	*p = rq;
	rq->queued = true;
	svc->queued++;
	advance(svc);
	return rq;
}

struct sign_pending *sign_consent(struct signsvc *svc, const struct sign_peer *p, sign_consent_cb cb,
                                  void *ud)
{
	struct sign_pending *rq;
	int decision;

	/* The records hold the answers and the audit log: without them no web page is served. */
	if (p->web && !records_usable(svc->d->records)) {
		cb(ud, SIGN_E_RECORDS_UNAVAILABLE);
		return NULL;
	}
	decision = standing_answer(svc, p);
	if (decision >= 0) {
		cb(ud, decision == 1 ? SIGN_OK : SIGN_E_ORIGIN_DENIED);
		return NULL;
	}
	rq = calloc(1, sizeof(*rq));
	if (rq == NULL) {
		cb(ud, SIGN_E_INTERNAL);
		return NULL;
	}
	rq->kind = REQ_CONSENT;
	rq->peer = *p;
	rq->consent_cb = cb;
	rq->ud = ud;
	return enqueue(svc, rq);
}

/* An answer at once, before the queue (nothing audited). */
static struct sign_pending *answer_now(sign_done_cb cb, void *ud, enum sign_err e)
{
	struct sign_result res = {.err = e, .message = sign_err_message(e), .tries_left = -1};

	cb(ud, &res);
	return NULL;
}

struct sign_pending *sign_submit(struct signsvc *svc, const struct sign_peer *p, const struct sign_args *a,
                                 sign_done_cb cb, void *ud)
{
	struct sign_pending *rq;

	if (a->len > SIGN_CONTENT_MAX || a->wait_s > SIGN_WAIT_MAX || (a->len > 0 && a->content == NULL) ||
	    (a->detached && a->format != SIGN_FMT_CADES) || (p->web && a->format != SIGN_FMT_CADES))
		return answer_now(cb, ud, SIGN_E_BAD_REQUEST);
	/* A web signature is recorded, and judged by the stored answers: without records, none. */
	if (p->web && !records_usable(svc->d->records))
		return answer_now(cb, ud, SIGN_E_RECORDS_UNAVAILABLE);
	if (standing_answer(svc, p) == 0)
		return answer_now(cb, ud, SIGN_E_ORIGIN_DENIED);
	/* A page signs only with a key for signatures: before any dialog, before the card. */
	if (p->web && !a->choose && web_may_sign(svc, a->cert_id) == 0)
		return answer_now(cb, ud, SIGN_E_KEY_NOT_ALLOWED);
	rq = calloc(1, sizeof(*rq));
	if (rq == NULL || (a->len > 0 && (rq->content = malloc(a->len)) == NULL)) {
		free(rq);
		return answer_now(cb, ud, SIGN_E_INTERNAL);
	}
	rq->kind = REQ_SIGN;
	rq->peer = *p;
	rq->args = *a;
	if (a->len > 0)
		memcpy(rq->content, a->content, a->len);
	rq->args.content = rq->content;
	EVP_Digest(rq->content ? rq->content : (const uint8_t *)"", a->len, rq->content_sha256, NULL,
	           EVP_sha256(), NULL);
	rq->done_cb = cb;
	rq->ud = ud;
	rq->marks[MK_RECEIVED] = a->received;
	stamp(&rq->marks[MK_QUEUED]);
	return enqueue(svc, rq);
}

void sign_abandon(struct sign_pending *rq)
{
	struct signsvc *svc;

	if (rq == NULL)
		return;
	svc = rq->svc;
	rq->abandoned = true;
	if (rq->step == ST_QUEUED && svc->current != rq) {
		unlink_queued(svc, rq);
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
	} else if (rq->step == ST_WAIT_CARD && !card_wake(svc)) {
		finish_err(rq, SIGN_E_USER_CANCELLED, -1);
	}
	/* In a dialog or on the card: the step ends, sees the flag and stops there. */
}

void signsvc_card_event(struct signsvc *svc)
{
	if (svc && svc->current && svc->current->step == ST_WAIT_CARD)
		look_for_card(svc->current);
}

/* The slots' events: a card that came may be the one a request waits for. */
static void on_slot(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev)
{
	(void)ud;
	(void)id;
	if (ev == SLOT_EV_CARD)
		signsvc_card_event(d->signsvc);
}

const char *signsvc_pinentry(const struct signsvc *svc)
{
	return svc && svc->pinentry ? svc->pinentry : "pinentry";
}

int signsvc_new(struct daemon *d, const char *pinentry, struct signsvc **ret)
{
	struct signsvc *svc = calloc(1, sizeof(*svc));

	if (svc == NULL || slots_listen(d, on_slot, NULL) < 0) {
		free(svc);
		return -ENOMEM;
	}
	svc->d = d;
	svc->pinentry = strdup(pinentry ? pinentry : "pinentry");
	svc->kick = event_new(d->base, -1, 0, on_kick, svc);
	svc->wake = evtimer_new(d->base, on_kick, svc);
	if (svc->pinentry == NULL || svc->kick == NULL || svc->wake == NULL) {
		signsvc_free(svc);
		return -ENOMEM;
	}
	*ret = svc;
	return 0;
}

void signsvc_free(struct signsvc *svc)
{
	struct sign_pending *rq;

	if (svc == NULL)
		return;
	if (svc->dialog) {
		struct dialog_task *t = svc->dialog;
		bool finished;

		/* A dialog still waiting for the user frees its task itself; one that ended while the loop no
		 * longer ran is freed here. */
		card_wake(svc); /* an insert-card window would wait for ever */
		pthread_mutex_lock(&t->mu);
		finished = t->finished;
		t->orphan = true;
		event_free(t->done);
		t->done = NULL;
		pthread_mutex_unlock(&t->mu);
		if (finished)
			task_free(t);
		svc->dialog = NULL;
	}
	/* Nothing may start now: answer everything still here. imzad frees the reader monitor first, so
	 * no request is on a card any more. */
	if (svc->kick)
		event_free(svc->kick);
	svc->kick = NULL;
	if (svc->wake)
		event_free(svc->wake);
	svc->wake = NULL;
	while ((rq = svc->head) != NULL) {
		svc->head = rq->next;
		svc->queued--;
		finish_err(rq, SIGN_E_INTERNAL, -1);
	}
	if ((rq = svc->current) != NULL) {
		svc->current = NULL;
		finish_err(rq, SIGN_E_INTERNAL, -1);
	}
	free(svc->pinentry);
	free(svc);
}
