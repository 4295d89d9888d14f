/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PC/SC side of imzad. A monitor thread follows readers and cards (SCardGetStatusChange with the PnP
 * notification) and re-establishes its context when pcscd restarts; each reader has one worker thread
 * that owns that reader's context and card handle and runs jobs from a queue. Everything the main loop
 * sees (readers, cards, job results) arrives as callbacks on the main loop's thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "daemon/card/apdu.h"
#include "daemon/card/card.h"
#include "daemon/card/token.h"

struct event_base;
struct reader;
struct reader_monitor;

/* The card as a job sees it on the worker thread. */
struct reader_card {
	struct apdu_transport t;
	const struct card_driver *driver;
	uint64_t seq; /* which insertion this is */
};

struct reader_job {
	/* On the worker, with the card of insertion `seq` connected and inside a PC/SC transaction. */
	int (*run)(struct reader_job *job, struct reader_card *card);
	/* On the main loop, with run's result (or CARD_E_REMOVED when the card was not there). */
	void (*done)(struct reader_job *job, int result);
	uint64_t seq;
	/* Owned by the reader layer. */
	struct reader_job *next;
	int result;
	struct reader *reader;
};

struct reader_callbacks {
	void (*reader_added)(void *ud, struct reader *r);
	/* r is freed after this returns. */
	void (*reader_removed)(void *ud, struct reader *r);
	/* A card was inserted and read; tok now belongs to the callee. */
	void (*card_ready)(void *ud, struct reader *r, uint64_t seq, struct token *tok);
	/* A card went away (or could not be read: err < 0 then, and no card_ready came). */
	void (*card_removed)(void *ud, struct reader *r, uint64_t seq, int err);
	/* On a reader's worker thread: a copy of the cached token of this card, or NULL. */
	struct token *(*known)(void *ud, const char *driver, const uint8_t *id, size_t id_len);
	/* A card served from the cache (tok->unchecked) was read in full: fresh belongs to the callee. */
	void (*card_checked)(void *ud, struct reader *r, uint64_t seq, struct token *fresh);
	/* The vendor modules looked at their slots when asked (reader_ext_looked): every token they held
	 * then has been reported before this. */
	void (*modules_looked)(void *ud);
};

int reader_monitor_new(struct event_base *base, const struct reader_callbacks *cb, void *ud,
                       struct reader_monitor **ret);
/* Stops the monitor and every worker; queued jobs complete with CARD_E_REMOVED first. */
void reader_monitor_free(struct reader_monitor *m);

const char *reader_name(const struct reader *r);
/* A reader whose cards are the tokens of a vendor module (daemon/card/backend-card.c): no PC/SC. Its jobs run
 * on a worker thread of its own with drv and chan (the channel the driver's calls get, as
 * card->t.ctx); the backend's thread adds it, gives it its tokens as they come (tok, which the reader
 * layer then owns) and go (NULL), and removes it. Everything still reaches the main loop through the
 * monitor's callbacks, as a PC/SC reader's does. */
struct reader *reader_ext_add(struct reader_monitor *m, const char *name, const struct card_driver *drv,
                              void *chan);
void reader_ext_card(struct reader *r, struct token *tok);
/* A token served from the cache (tok->unchecked, found with reader_monitor_known under tok->driver and
 * tok->id) is read in full on the reader's worker CHECK_DELAY_MS later, or before its first job, with
 * drv->check_token or drv->read_token, and the main loop keeps or replaces it (card_checked). */
/* From a backend's thread: the modules looked at their slots as asked (modules_looked, after the events
 * posted before it). */
void reader_ext_looked(struct reader_monitor *m);
/* A copy of the cached token of this identity (the monitor's known callback), or NULL; any thread. */
struct token *reader_monitor_known(struct reader_monitor *m, const char *driver, const uint8_t *id,
                                   size_t id_len);
/* Stops the worker (queued jobs end with CARD_E_REMOVED) and reports the reader gone; r is freed later,
 * on the main loop. */
void reader_ext_remove(struct reader *r);

/* Whether imza's own drivers (PIV) serve cards; off, every card is left to vendor modules. Before
 * reader_monitor_new. */
void reader_native_drivers(bool on);
/* Whether one of imza's own drivers serves a card in the PC/SC reader that a vendor module's slot
 * description desc names (the same name, or one cut short); from any thread. */
bool reader_monitor_native_in(struct reader_monitor *m, const char *desc);

/* A vendor module preferred over imza's own drivers (prefer = module) shows a token in the PC/SC reader
 * its slot description desc names (claim), or no longer does: while claimed, imza's drivers leave that
 * reader's card (one they serve now is let go); a card put into a reader once claimed waits
 * CLAIM_GRACE_MS for the module before they may take it. From any thread. */
void reader_monitor_claim(struct reader_monitor *m, const char *desc, bool claim);

/* Queues a job for the reader's worker; its done() always runs later, on the main loop. */
void reader_submit(struct reader *r, struct reader_job *job);
/* APDUs sent to this reader's cards since imzad started (metrics). */
unsigned long reader_apdu_count(const struct reader *r);
