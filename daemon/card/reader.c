/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PC/SC monitor and per-reader workers (see reader.h). Threads never call back into the main loop's
 * state: they post events to a queue that a libevent event drains on the main loop's thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "daemon/log.h"
#include "daemon/card/reader.h"
#include "daemon/card/timespec.h"

#define MAX_READERS 16
#define READER_NAME_MAX 256
#define RESTART_DELAY_MS 250
/* How long a failed exchange waits to learn whether the card was pulled. */
#define REMOVAL_GRACE_MS 600
/* A card served from the cache is read in full this long after insertion (or before its first job),
 * so that the listing that follows an insertion costs the card nothing beyond its identity. */
#define CHECK_DELAY_MS 1500
/* A card put into a reader that a preferred vendor module serves waits this long for the module to show
 * it before imza's own driver may take it (a module looks every 500 ms while someone listens). */
#define CLAIM_GRACE_MS 1500
#define PNP_NAME "\\\\?PnP?\\Notification"

enum mev_kind {
	MEV_READER_ADDED,
	MEV_READER_REMOVED,
	MEV_CARD_READY,
	MEV_CARD_REMOVED,
	MEV_CARD_CHECKED,
	MEV_JOB_DONE,
	MEV_MODULES_LOOKED
};

struct mev {
	enum mev_kind kind;
	struct reader *r;
	uint64_t seq;
	int err;
	struct token *tok;
	struct reader_job *job;
	struct mev *next;
};

struct reader {
	struct reader_monitor *m;
	char name[READER_NAME_MAX];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock: the queue, what the monitor wants, and whether the worker has ended. */
	struct reader_job *head, *tail;
	bool stopping, exited, want_present;
	uint64_t want_seq;
	/* Worker only. */
	bool check_pending; /* a token served from the cache waits to be checked against the card */
	struct timespec check_at;
	uint8_t card_id[32]; /* the identity the cached token was found under */
	size_t card_id_len;
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	DWORD proto;
	bool connected;
	struct reader_card card;
	/* Monitor only. */
	DWORD state;
	uint64_t seq;
	/* Main loop only: insertions it has seen go. */
	uint64_t removed_seq;
	/* A vendor module's reader (reader_ext_add): no PC/SC, the token given by the backend. */
	bool ext;
	/* A card one of imza's own drivers serves is in (worker; read by reader_monitor_native_in). */
	atomic_bool native_card;
	/* A vendor module preferred over imza's own drivers shows a token in this reader now
	 * (reader_monitor_claim), and did at some time: imza's drivers leave its cards to that module. */
	atomic_bool claimed, module_reader;
	/* Worker only: the insertion whose grace (CLAIM_GRACE_MS) runs, and until when. */
	uint64_t grace_seq;
	struct timespec grace_until;
	atomic_ulong apdus;
};

struct reader_monitor {
	struct event_base *base;
	struct reader_callbacks cb;
	void *ud;
	pthread_t thread;
	struct event *wake;
	pthread_mutex_t lock; /* guards the event queue, ctx validity and stopping */
	pthread_cond_t cond;
	struct mev *head, *tail;
	bool stopping, ctx_valid;
	SCARDCONTEXT ctx;
	/* Changed by the monitor thread under list_lock, so that other threads may look (native_in). */
	pthread_mutex_t list_lock;
	struct reader *readers[MAX_READERS];
	size_t nreaders;
};

/* imza's own card drivers serve cards (reader_native_drivers). */
static atomic_bool native_on = true;

static void post(struct reader_monitor *m, struct mev ev)
{
	struct mev *e = malloc(sizeof(*e));

	if (e == NULL) {
		/* Out of memory in a worker: nothing better to do than say so; the event is lost. */
		log_error("reader: out of memory posting an event");
		return;
	}
	*e = ev;
	e->next = NULL;
	pthread_mutex_lock(&m->lock);
	if (m->tail)
		m->tail->next = e;
	else
		m->head = e;
	m->tail = e;
	pthread_mutex_unlock(&m->lock);
	event_active(m->wake, EV_READ, 0);
}

static int pcsc_err(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS:
		return 0;
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER:
	case SCARD_W_UNPOWERED_CARD:
		return CARD_E_REMOVED;
	case SCARD_W_RESET_CARD:
		return -ERESTART;
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED:
	case SCARD_F_COMM_ERROR:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

static int pcsc_transmit(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	struct reader *r = ctx;
	DWORD rl = (DWORD)*resp_len;
	const SCARD_IO_REQUEST *pci = r->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	LONG rv = SCardTransmit(r->h, pci, cmd, (DWORD)len, NULL, resp, &rl);

	atomic_fetch_add(&r->apdus, 1);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_err(rv);
	*resp_len = rl;
	return 0;
}

static void worker_disconnect(struct reader *r)
{
	atomic_store(&r->native_card, false);
	if (r->connected && r->h)
		SCardDisconnect(r->h, SCARD_RESET_CARD);
	r->connected = false;
	r->h = 0;
}

/* The PIN counter for the token flags: one short APDU. */
static void read_pin_status(struct reader *r, struct token *tok)
{
	struct card_pin_status ps;

	if (r->card.driver->pin_status(&r->card.t, &ps) == 0) {
		tok->pin_tries_left = ps.verified ? ps.tries_max : ps.tries_left;
		tok->pin_tries_max = ps.tries_max;
	}
}

static void set_check_time(struct reader *r)
{
	clock_gettime(CLOCK_REALTIME, &r->check_at);
	r->check_at = timespec_after_ms(r->check_at, CHECK_DELAY_MS);
}

/* Connects to the card of insertion seq and finds its driver. A card the cache knows (by the identity
 * its driver reads first) is served from the cache at once and checked in full later; any other is
 * read now. */
static void worker_insert(struct reader *r, uint64_t seq)
{
	static const struct card_driver *drivers[] = {&piv_driver};
	size_t ndrivers = atomic_load(&native_on) && !atomic_load(&r->claimed)
	                          ? sizeof(drivers) / sizeof(drivers[0])
	                          : 0;
	struct token *tok = NULL;
	uint8_t id[32];
	size_t id_len = 0;
	LONG rv;
	int err = -ENOENT;

	worker_disconnect(r);
	r->check_pending = false;
	rv = SCardConnect(r->ctx, r->name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &r->h,
	                  &r->proto);
	if (rv != SCARD_S_SUCCESS) {
		post(r->m, (struct mev){.kind = MEV_CARD_REMOVED, .r = r, .seq = seq, .err = pcsc_err(rv)});
		return;
	}
	r->connected = true;
	r->card.seq = seq;
	r->card.driver = NULL;
	r->card.t = (struct apdu_transport){.transmit = pcsc_transmit, .ctx = r, .ext = APDU_EXT_UNKNOWN};
	if (SCardBeginTransaction(r->h) == SCARD_S_SUCCESS) {
		for (size_t i = 0; i < ndrivers; i++) {
			err = drivers[i]->probe(&r->card.t);
			if (err == -ENOENT)
				continue;
			if (err < 0)
				break;
			r->card.driver = drivers[i];
			if (r->m->cb.known &&
			    drivers[i]->read_identity(&r->card.t, id, sizeof(id), &id_len) == 0)
				tok = r->m->cb.known(r->m->ud, drivers[i]->name, id, id_len);
			if (tok != NULL) {
				memcpy(r->card_id, id, id_len);
				r->card_id_len = id_len;
				tok->unchecked = true;
				tok->pin_tries_left = -1;
				r->check_pending = true;
				set_check_time(r);
			} else {
				err = drivers[i]->read_token(&r->card.t, &tok);
				if (err == 0)
					read_pin_status(r, tok);
			}
			break;
		}
		SCardEndTransaction(r->h, SCARD_LEAVE_CARD);
	} else {
		err = -EIO;
	}
	if (err < 0) {
		r->card.driver = NULL;
		if (ndrivers == 0)
			log_debug("reader %s: a card, left to the vendor modules", r->name);
		else
			log_warning("reader %s: card not usable (%s)", r->name, strerror(-err));
		/* A card left to the modules is no error of this reader's. */
		post(r->m,
		     (struct mev){.kind = MEV_CARD_REMOVED, .r = r, .seq = seq, .err = ndrivers ? err : 0});
		return;
	}
	atomic_store(&r->native_card, true);
	post(r->m, (struct mev){.kind = MEV_CARD_READY, .r = r, .seq = seq, .tok = tok});
}

/* The full read of a card that was served from the cache (on its worker, the card's transaction
 * held): a fresh copy of what was served goes to the driver, which compares the card's bytes with it
 * (the same bytes make the same token without parsing anything again), or the card is read whole.
 * 0 with the token to post. */
static int check_card(struct reader *r, struct token **ret)
{
	const struct card_driver *drv = r->card.driver;
	struct token *tok = NULL, *cached = NULL;
	int err;

	if (drv->check_token && r->m->cb.known && r->card_id_len > 0)
		cached = r->m->cb.known(r->m->ud, drv->name, r->card_id, r->card_id_len);
	if (cached) {
		err = drv->check_token(&r->card.t, cached, &tok);
		if (err == 0 && tok == NULL) {
			tok = cached;
			cached = NULL;
		}
		token_free(cached);
	} else {
		err = drv->read_token(&r->card.t, &tok);
	}
	if (err == 0)
		*ret = tok;
	return err;
}

/* The main loop compares the checked card with what it serves, and keeps or replaces it. */
static void worker_check(struct reader *r)
{
	struct token *tok = NULL;
	int err;

	r->check_pending = false;
	if (!r->connected || r->card.driver == NULL || SCardBeginTransaction(r->h) != SCARD_S_SUCCESS)
		return;
	err = check_card(r, &tok);
	if (err == 0)
		read_pin_status(r, tok);
	SCardEndTransaction(r->h, SCARD_LEAVE_CARD);
	if (err == 0)
		post(r->m, (struct mev){.kind = MEV_CARD_CHECKED, .r = r, .seq = r->card.seq, .tok = tok});
	else
		log_info("reader %s: checking the cached card failed (%s)", r->name, strerror(-err));
}

/* The card stays in, but is the preferred module's now: imza's driver lets go of it without a reset (the
 * module holds it too), and for the main loop this insertion is gone. It is not taken again until it
 * is put back. */
static void worker_leave(struct reader *r)
{
	uint64_t seq = r->card.seq;

	log_info("reader %s: the card is left to the vendor module preferred for it", r->name);
	atomic_store(&r->native_card, false);
	if (r->h)
		SCardDisconnect(r->h, SCARD_LEAVE_CARD);
	r->h = 0;
	r->card.driver = NULL;
	r->check_pending = false;
	post(r->m, (struct mev){.kind = MEV_CARD_REMOVED, .r = r, .seq = seq});
}

static int worker_run_job(struct reader *r, struct reader_job *job)
{
	LONG rv;
	int res;

	if (!r->connected || r->card.driver == NULL || job->seq != r->card.seq)
		return CARD_E_REMOVED;
	rv = SCardBeginTransaction(r->h);
	if (rv == SCARD_W_RESET_CARD) {
		/* Another application reset the card: reconnect; its login state is gone, which the
		 * job's own checks see as "not logged in". */
		rv = SCardReconnect(r->h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
		                    SCARD_LEAVE_CARD, &r->proto);
		if (rv == SCARD_S_SUCCESS)
			rv = SCardBeginTransaction(r->h);
		if (rv == SCARD_S_SUCCESS && r->card.driver->probe(&r->card.t) < 0) {
			SCardEndTransaction(r->h, SCARD_LEAVE_CARD);
			return -EIO;
		}
	}
	if (rv != SCARD_S_SUCCESS)
		return pcsc_err(rv);
	res = job->run(job, &r->card);
	SCardEndTransaction(r->h, SCARD_LEAVE_CARD);
	if (res == -EIO || res == -EPROTO || res == -ECONNRESET) {
		/* A card pulled in the middle of an exchange can look like a garbled answer before pcscd
		 * has noticed it is gone: give the reader a moment to tell. */
		SCARD_READERSTATE rs = {.szReader = r->name, .dwCurrentState = SCARD_STATE_PRESENT};
		LONG st = SCardGetStatusChange(r->ctx, REMOVAL_GRACE_MS, &rs, 1);

		if (st == SCARD_S_SUCCESS && !(rs.dwEventState & SCARD_STATE_PRESENT))
			res = CARD_E_REMOVED;
	}
	return res;
}

/* A worker's end, with the lock held (it is released): every queued job goes back as "card removed". */
static void worker_end(struct reader *r)
{
	r->exited = true;
	while (r->head) {
		struct reader_job *job = r->head;

		r->head = job->next;
		job->result = CARD_E_REMOVED;
		post(r->m, (struct mev){.kind = MEV_JOB_DONE, .job = job});
	}
	r->tail = NULL;
	pthread_mutex_unlock(&r->lock);
}

static void *worker_main(void *arg)
{
	struct reader *r = arg;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &r->ctx);
	bool have_ctx = rv == SCARD_S_SUCCESS;

	for (;;) {
		struct reader_job *job;

		pthread_mutex_lock(&r->lock);
		while (!r->stopping && r->head == NULL &&
		       r->want_present == (r->connected && r->card.seq == r->want_seq) &&
		       !(atomic_load(&r->claimed) && r->card.driver != NULL)) {
			if (!r->check_pending) {
				pthread_cond_wait(&r->cond, &r->lock);
			} else if (pthread_cond_timedwait(&r->cond, &r->lock, &r->check_at) == ETIMEDOUT) {
				break;
			}
		}
		if (r->stopping)
			break;
		/* The cached token is checked when due, and always before the card does any job. */
		if (r->check_pending && r->want_present && r->connected && r->card.seq == r->want_seq) {
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			if (r->head != NULL || now.tv_sec > r->check_at.tv_sec ||
			    (now.tv_sec == r->check_at.tv_sec && now.tv_nsec >= r->check_at.tv_nsec)) {
				pthread_mutex_unlock(&r->lock);
				worker_check(r);
				continue;
			}
		}
		/* A preferred module shows the card imza's own driver serves: the driver leaves it. */
		if (atomic_load(&r->claimed) && r->connected && r->card.driver != NULL) {
			pthread_mutex_unlock(&r->lock);
			worker_leave(r);
			continue;
		}
		if (r->want_present && !(r->connected && r->card.seq == r->want_seq)) {
			uint64_t seq = r->want_seq;

			/* A new card in a reader a preferred module serves: the module gets its grace to show
			 * it first (reader_monitor_claim wakes the wait). */
			if (atomic_load(&r->module_reader) && !atomic_load(&r->claimed)) {
				struct timespec now;

				clock_gettime(CLOCK_REALTIME, &now);
				if (r->grace_seq != seq) {
					r->grace_seq = seq;
					r->grace_until = timespec_after_ms(now, CLAIM_GRACE_MS);
				}
				if (now.tv_sec < r->grace_until.tv_sec ||
				    (now.tv_sec == r->grace_until.tv_sec &&
				     now.tv_nsec < r->grace_until.tv_nsec)) {
					pthread_cond_timedwait(&r->cond, &r->lock, &r->grace_until);
					pthread_mutex_unlock(&r->lock);
					continue;
				}
			}
			pthread_mutex_unlock(&r->lock);
			if (have_ctx) {
				worker_insert(r, seq);
				/* A failed connect must not spin: the card stays unusable until reinserted. */
				if (!r->connected) {
					r->connected = true;
					r->card.seq = seq;
					r->card.driver = NULL;
					r->h = 0;
				}
			}
			continue;
		}
		if (!r->want_present && r->connected) {
			pthread_mutex_unlock(&r->lock);
			worker_disconnect(r);
			continue;
		}
		if (r->head == NULL) {
			/* Woken early (a wait timed out a hair before the check was due): look again. */
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		job = r->head;
		r->head = job->next;
		if (r->head == NULL)
			r->tail = NULL;
		pthread_mutex_unlock(&r->lock);
		job->result = have_ctx && r->h ? worker_run_job(r, job) : CARD_E_REMOVED;
		post(r->m, (struct mev){.kind = MEV_JOB_DONE, .job = job});
	}
	worker_end(r);
	worker_disconnect(r);
	if (have_ctx)
		SCardReleaseContext(r->ctx);
	return NULL;
}

/* Whether the check of a token served from the cache is due (under lock): when its time came, and
 * always before the token does any job. */
static bool check_due(struct reader *r)
{
	struct timespec now;

	if (!r->check_pending || !r->connected)
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	return r->head != NULL || now.tv_sec > r->check_at.tv_sec ||
	       (now.tv_sec == r->check_at.tv_sec && now.tv_nsec >= r->check_at.tv_nsec);
}

/* The worker of a vendor module's reader: jobs, run while the token they were made for is there, and
 * the check of a token served from the cache. */
static void *ext_worker_main(void *arg)
{
	struct reader *r = arg;

	for (;;) {
		struct reader_job *job;
		bool ok;

		pthread_mutex_lock(&r->lock);
		while (!r->stopping && r->head == NULL && !check_due(r)) {
			if (!r->check_pending || !r->connected)
				pthread_cond_wait(&r->cond, &r->lock);
			else
				pthread_cond_timedwait(&r->cond, &r->lock, &r->check_at);
		}
		if (r->stopping)
			break;
		if (check_due(r)) {
			uint64_t seq = r->card.seq;
			struct token *tok = NULL;
			int err;

			r->check_pending = false;
			pthread_mutex_unlock(&r->lock);
			err = check_card(r, &tok);
			if (err == 0)
				post(r->m,
				     (struct mev){.kind = MEV_CARD_CHECKED, .r = r, .seq = seq, .tok = tok});
			else
				log_info("reader %s: checking the cached token failed (%s)", r->name,
				         strerror(-err));
			continue;
		}
		job = r->head;
		r->head = job->next;
		if (r->head == NULL)
			r->tail = NULL;
		ok = r->connected && job->seq == r->card.seq;
		pthread_mutex_unlock(&r->lock);
		job->result = ok ? job->run(job, &r->card) : CARD_E_REMOVED;
		post(r->m, (struct mev){.kind = MEV_JOB_DONE, .job = job});
	}
	worker_end(r);
	return NULL;
}

static struct reader *reader_start(struct reader_monitor *m, const char *name)
{
	struct reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->m = m;
	snprintf(r->name, sizeof(r->name), "%s", name);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->state = SCARD_STATE_UNAWARE;
	if (pthread_create(&r->thread, NULL, worker_main, r) != 0) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->cond);
		free(r);
		return NULL;
	}
	return r;
}

/* Monitor side: stops the worker and waits for it, so everything it posted precedes the removal. */
static void reader_stop(struct reader *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
}

static void reader_destroy(struct reader *r)
{
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

/* Insertions are numbered across all readers and reader lifetimes: a login, a session or a job bound to
 * one insertion can never match a later card, even after the reader went away and came back (pcscd
 * restarted) and started counting again. */
static atomic_uint_fast64_t insertion_counter;

static void set_card(struct reader *r, bool present)
{
	pthread_mutex_lock(&r->lock);
	r->want_present = present;
	if (present)
		r->want_seq = r->seq = atomic_fetch_add(&insertion_counter, 1) + 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void monitor_remove_reader(struct reader_monitor *m, size_t i)
{
	struct reader *r = m->readers[i];

	if (r->want_present)
		post(m, (struct mev){.kind = MEV_CARD_REMOVED, .r = r, .seq = r->seq});
	reader_stop(r);
	post(m, (struct mev){.kind = MEV_READER_REMOVED, .r = r});
	pthread_mutex_lock(&m->list_lock);
	m->readers[i] = m->readers[--m->nreaders];
	pthread_mutex_unlock(&m->list_lock);
}

/* Brings the reader list in line with what pcscd lists now. */
static void monitor_sync(struct reader_monitor *m, const char *names, DWORD len)
{
	for (size_t i = 0; i < m->nreaders;) {
		bool found = false;

		for (const char *p = names; p && p < names + len && *p; p += strlen(p) + 1)
			found = found || strcmp(p, m->readers[i]->name) == 0;
		if (found)
			i++;
		else
			monitor_remove_reader(m, i);
	}
	for (const char *p = names; p && p < names + len && *p; p += strlen(p) + 1) {
		bool known = false;
		struct reader *r;

		for (size_t i = 0; i < m->nreaders; i++)
			known = known || strcmp(p, m->readers[i]->name) == 0;
		if (known || m->nreaders == MAX_READERS)
			continue;
		r = reader_start(m, p);
		if (r == NULL)
			continue;
		pthread_mutex_lock(&m->list_lock);
		m->readers[m->nreaders++] = r;
		pthread_mutex_unlock(&m->list_lock);
		post(m, (struct mev){.kind = MEV_READER_ADDED, .r = r});
	}
}

static void sleep_ms(struct reader_monitor *m, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts = timespec_after_ms(ts, ms);
	pthread_mutex_lock(&m->lock);
	if (!m->stopping)
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	pthread_mutex_unlock(&m->lock);
}

static bool monitor_stopping(struct reader_monitor *m)
{
	bool s;

	pthread_mutex_lock(&m->lock);
	s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void *monitor_main(void *arg)
{
	struct reader_monitor *m = arg;
	SCARD_READERSTATE st[MAX_READERS + 1];
	DWORD pnp_state = SCARD_STATE_UNAWARE;
	char names[8192];
	bool warned = false;

	while (!monitor_stopping(m)) {
		DWORD len = sizeof(names);
		LONG rv;

		if (!m->ctx_valid) {
			SCARDCONTEXT ctx;

			rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
			if (rv != SCARD_S_SUCCESS) {
				if (!warned)
					log_warning("pcscd not reachable (%s); retrying",
					            pcsc_stringify_error(rv));
				warned = true;
				sleep_ms(m, RESTART_DELAY_MS);
				continue;
			}
			pthread_mutex_lock(&m->lock);
			m->ctx = ctx;
			m->ctx_valid = true;
			pthread_mutex_unlock(&m->lock);
			if (warned)
				log_info("pcscd reachable again");
			warned = false;
			pnp_state = SCARD_STATE_UNAWARE;
		}
		rv = SCardListReaders(m->ctx, NULL, names, &len);
		if (rv == SCARD_E_NO_READERS_AVAILABLE) {
			len = 0;
			names[0] = '\0';
			rv = SCARD_S_SUCCESS;
		}
		if (rv == SCARD_S_SUCCESS)
			monitor_sync(m, names, len);
		st[0] = (SCARD_READERSTATE){.szReader = PNP_NAME, .dwCurrentState = pnp_state};
		for (size_t i = 0; i < m->nreaders; i++)
			st[i + 1] = (SCARD_READERSTATE){.szReader = m->readers[i]->name,
			                                .dwCurrentState = m->readers[i]->state};
		if (rv == SCARD_S_SUCCESS)
			rv = SCardGetStatusChange(m->ctx, INFINITE, st, (DWORD)m->nreaders + 1);
		if (rv == SCARD_E_CANCELLED || rv == SCARD_E_TIMEOUT)
			continue;
		if (rv != SCARD_S_SUCCESS) {
			/* pcscd went away or restarted: drop everything and start again with a new context. */
			log_warning("pcscd connection lost (%s); re-establishing", pcsc_stringify_error(rv));
			while (m->nreaders > 0)
				monitor_remove_reader(m, m->nreaders - 1);
			pthread_mutex_lock(&m->lock);
			m->ctx_valid = false;
			pthread_mutex_unlock(&m->lock);
			SCardReleaseContext(m->ctx);
			sleep_ms(m, RESTART_DELAY_MS);
			continue;
		}
		pnp_state = st[0].dwEventState & ~SCARD_STATE_CHANGED;
		for (size_t i = 0; i < m->nreaders; i++) {
			struct reader *r = m->readers[i];
			DWORD ev = st[i + 1].dwEventState;
			bool was = r->want_present;
			bool now = (ev & SCARD_STATE_PRESENT) && !(ev & SCARD_STATE_MUTE);
			/* pcscd counts insertions and removals in the high word: a card swapped between two
			 * calls shows as present both times with another count. */
			bool swapped = was && now && r->state != SCARD_STATE_UNAWARE &&
			               (ev >> 16) != (r->state >> 16);

			r->state = ev & ~SCARD_STATE_CHANGED;
			if (was && (!now || swapped)) {
				post(m, (struct mev){.kind = MEV_CARD_REMOVED, .r = r, .seq = r->seq});
				set_card(r, false);
			}
			if (now && (!was || swapped))
				set_card(r, true);
		}
	}
	while (m->nreaders > 0)
		monitor_remove_reader(m, m->nreaders - 1);
	pthread_mutex_lock(&m->lock);
	if (m->ctx_valid)
		SCardReleaseContext(m->ctx);
	m->ctx_valid = false;
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static void dispatch(struct reader_monitor *m, struct mev *e)
{
	switch (e->kind) {
	case MEV_READER_ADDED:
		if (m->cb.reader_added)
			m->cb.reader_added(m->ud, e->r);
		break;
	case MEV_READER_REMOVED:
		if (m->cb.reader_removed)
			m->cb.reader_removed(m->ud, e->r);
		reader_destroy(e->r);
		break;
	case MEV_CARD_READY:
		/* A card read just before it was pulled: the removal came first, drop the stale token. */
		if (e->seq <= e->r->removed_seq || m->cb.card_ready == NULL)
			token_free(e->tok);
		else
			m->cb.card_ready(m->ud, e->r, e->seq, e->tok);
		break;
	case MEV_CARD_REMOVED:
		if (e->seq > e->r->removed_seq) {
			e->r->removed_seq = e->seq;
			if (m->cb.card_removed)
				m->cb.card_removed(m->ud, e->r, e->seq, e->err);
		}
		break;
	case MEV_CARD_CHECKED:
		if (e->seq <= e->r->removed_seq || m->cb.card_checked == NULL)
			token_free(e->tok);
		else
			m->cb.card_checked(m->ud, e->r, e->seq, e->tok);
		break;
	case MEV_JOB_DONE:
		e->job->done(e->job, e->job->result);
		break;
	case MEV_MODULES_LOOKED:
		if (m->cb.modules_looked)
			m->cb.modules_looked(m->ud);
		break;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct reader_monitor *m = arg;
	struct mev *e;

	pthread_mutex_lock(&m->lock);
	e = m->head;
	m->head = m->tail = NULL;
	pthread_mutex_unlock(&m->lock);
	while (e) {
		struct mev *next = e->next;

		dispatch(m, e);
		free(e);
		e = next;
	}
}

int reader_monitor_new(struct event_base *base, const struct reader_callbacks *cb, void *ud,
                       struct reader_monitor **ret)
{
	struct reader_monitor *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -ENOMEM;
	m->base = base;
	m->cb = *cb;
	m->ud = ud;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->list_lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->wake = event_new(base, -1, 0, on_wake, m);
	if (m->wake == NULL || pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
		if (m->wake)
			event_free(m->wake);
		pthread_mutex_destroy(&m->lock);
		pthread_mutex_destroy(&m->list_lock);
		pthread_cond_destroy(&m->cond);
		free(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

void reader_monitor_free(struct reader_monitor *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	if (m->ctx_valid)
		SCardCancel(m->ctx);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	/* Deliver what the threads posted last (job results, removals) before going. */
	on_wake(-1, 0, m);
	event_free(m->wake);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->list_lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

void reader_native_drivers(bool on)
{
	atomic_store(&native_on, on);
}

bool reader_monitor_native_in(struct reader_monitor *m, const char *desc)
{
	size_t n = strlen(desc);
	bool found = false;

	/* A slot description is the reader's name, perhaps cut to the 64 bytes PKCS#11 gives it; a few
	 * letters in common are not enough. */
	if (n < 8)
		return false;
	pthread_mutex_lock(&m->list_lock);
	for (size_t i = 0; i < m->nreaders && !found; i++) {
		const struct reader *r = m->readers[i];
		size_t k = strlen(r->name);

		found = atomic_load(&r->native_card) && strncmp(r->name, desc, k < n ? k : n) == 0;
	}
	pthread_mutex_unlock(&m->list_lock);
	return found;
}

void reader_ext_looked(struct reader_monitor *m)
{
	post(m, (struct mev){.kind = MEV_MODULES_LOOKED});
}

struct token *reader_monitor_known(struct reader_monitor *m, const char *driver, const uint8_t *id,
                                   size_t id_len)
{
	return m->cb.known ? m->cb.known(m->ud, driver, id, id_len) : NULL;
}

void reader_monitor_claim(struct reader_monitor *m, const char *desc, bool claim)
{
	size_t n = strlen(desc);

	if (n < 8)
		return;
	pthread_mutex_lock(&m->list_lock);
	for (size_t i = 0; i < m->nreaders; i++) {
		struct reader *r = m->readers[i];
		size_t k = strlen(r->name);

		if (strncmp(r->name, desc, k < n ? k : n) != 0 || atomic_load(&r->claimed) == claim)
			continue;
		pthread_mutex_lock(&r->lock);
		atomic_store(&r->claimed, claim);
		if (claim)
			atomic_store(&r->module_reader, true);
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_unlock(&m->list_lock);
}

struct reader *reader_ext_add(struct reader_monitor *m, const char *name, const struct card_driver *drv,
                              void *chan)
{
	struct reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->m = m;
	r->ext = true;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->card.driver = drv;
	r->card.t = (struct apdu_transport){.ctx = chan};
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (pthread_create(&r->thread, NULL, ext_worker_main, r) != 0) {
		reader_destroy(r);
		return NULL;
	}
	post(m, (struct mev){.kind = MEV_READER_ADDED, .r = r});
	return r;
}

void reader_ext_card(struct reader *r, struct token *tok)
{
	uint64_t gone = 0, seq = 0;

	pthread_mutex_lock(&r->lock);
	if (r->connected)
		gone = r->card.seq;
	r->connected = tok != NULL;
	r->check_pending = false;
	if (tok != NULL)
		r->card.seq = seq = atomic_fetch_add(&insertion_counter, 1) + 1;
	/* Served from the cache: the token is read in full later, on the worker (ext_worker_main). */
	if (tok != NULL && tok->unchecked && tok->id_len <= sizeof(r->card_id)) {
		memcpy(r->card_id, tok->id, tok->id_len);
		r->card_id_len = tok->id_len;
		r->check_pending = true;
		set_check_time(r);
		pthread_cond_signal(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	if (gone)
		post(r->m, (struct mev){.kind = MEV_CARD_REMOVED, .r = r, .seq = gone});
	if (tok != NULL)
		post(r->m, (struct mev){.kind = MEV_CARD_READY, .r = r, .seq = seq, .tok = tok});
}

void reader_ext_remove(struct reader *r)
{
	reader_ext_card(r, NULL);
	reader_stop(r);
	post(r->m, (struct mev){.kind = MEV_READER_REMOVED, .r = r});
}

const char *reader_name(const struct reader *r)
{
	return r->name;
}

unsigned long reader_apdu_count(const struct reader *r)
{
	return atomic_load(&r->apdus);
}

void reader_submit(struct reader *r, struct reader_job *job)
{
	job->reader = r;
	job->next = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->exited || r->stopping) {
		pthread_mutex_unlock(&r->lock);
		job->result = CARD_E_REMOVED;
		post(r->m, (struct mev){.kind = MEV_JOB_DONE, .job = job});
		return;
	}
	if (r->tail)
		r->tail->next = job;
	else
		r->head = job;
	r->tail = job;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
