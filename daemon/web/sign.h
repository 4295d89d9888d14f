/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The signing service behind the HTTPS endpoint and `imzactl sign`: one queue in which every request
 * (consent question, PIN dialog, card operation) is served in turn, the origin grants, the audit log.
 * Main loop only; the dialogs run on a thread of their own, the card work on the reader's worker. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

struct daemon;
struct signsvc;
struct sign_pending;

/* The outcomes a client sees; sign_err_code() gives the API's error code (docs/API.md). */
enum sign_err {
	SIGN_OK = 0,
	SIGN_E_BAD_REQUEST,
	SIGN_E_ORIGIN_DENIED,
	SIGN_E_KEY_NOT_ALLOWED, /* a web peer named a key that is not for signatures (no nonRepudiation) */
	SIGN_E_USER_CANCELLED,
	SIGN_E_PIN_INCORRECT,
	SIGN_E_PIN_LOCKED,
	SIGN_E_CERT_UNKNOWN,
	SIGN_E_CARD_ABSENT,
	SIGN_E_TIMEOUT,
	SIGN_E_BUSY,
	SIGN_E_INTERNAL,
	SIGN_E_RECORDS_UNAVAILABLE, /* the records (audit, answers) cannot be used: no web signing */
	SIGN_E_CERT_REQUIRED, /* no certificate named, several to choose from and no window to choose in */
};

/* The API's code ("pin_incorrect") and a short English message for each outcome (both defined in
 * api.c, with the HTTP statuses). */
const char *sign_err_code(enum sign_err e);
const char *sign_err_message(enum sign_err e);

/* Who asks. A web request names its origin (the Origin header; "" when it had none); a local program
 * (imzactl) is described by what the daemon knows of its peer. */
struct sign_peer {
	bool web;
	char origin[256]; /* web only: scheme://host[:port], or "" */
	char app[320];    /* local only: e.g. "imzactl (pid 123, /usr/bin/imzactl)" */
};

enum sign_format { SIGN_FMT_CADES, SIGN_FMT_RAW };

#define SIGN_CONTENT_MAX (512 * 1024)
#define SIGN_WAIT_MAX 300
#define SIGN_QUEUE_MAX 8
#define SIGN_CHOICES_MAX 16

struct sign_args {
	uint8_t cert_id[32]; /* SHA-256 of the certificate's DER (unused when choose) */
	bool choose;         /* no certificate named: the user chooses among the signing certificates of the
	                      * cards present, in the window (at most SIGN_CHOICES_MAX, qualified first) */
	enum sign_format format;
	bool detached;          /* CAdES only */
	const uint8_t *content; /* copied by sign_submit */
	size_t len;
	bool is_text;    /* content is UTF-8 text, shown as such in the dialog */
	unsigned wait_s; /* how long to wait for the card, 0..SIGN_WAIT_MAX */
	double received; /* when the request came (CLOCK_MONOTONIC s, signq_now), 0 unknown: timings only */
};

struct sign_result {
	enum sign_err err;
	const char *message; /* for the client, in English */
	int tries_left;      /* SIGN_E_PIN_INCORRECT: tries left, -1 unknown */
	const uint8_t *sig;  /* SIGN_OK: CMS DER or raw signature; valid during the callback */
	size_t sig_len;
	const uint8_t *cert; /* the signer's certificate DER (SIGN_OK) */
	size_t cert_len;
};

typedef void (*sign_consent_cb)(void *ud, enum sign_err e);
typedef void (*sign_done_cb)(void *ud, const struct sign_result *r);

/* The pinentry the service's dialogs use (imzactl's PIN dialogs use it too). */
const char *signsvc_pinentry(const struct signsvc *svc);
/* pinentry: the dialog program (NULL: "pinentry" from PATH). */
int signsvc_new(struct daemon *d, const char *pinentry, struct signsvc **ret);
/* Requests still queued complete with SIGN_E_INTERNAL before this returns. */
void signsvc_free(struct signsvc *s);
/* A card came or went (slots.c): requests waiting for a card look again. */
void signsvc_card_event(struct signsvc *s);

/* Whether a web origin holds a standing "allow" (for /v1/info). */
bool sign_origin_granted(struct signsvc *s, const char *origin);
/* The stored answer for an origin: 1 allow, 0 deny, -ENOENT none. */
int sign_origin_decision(struct signsvc *s, const char *origin);

/* Consent for a web peer before it may list certificates. Answered from the grants when the origin
 * has a stored answer: then cb runs before this returns and NULL is returned. Else the question waits in
 * the queue and the handle is returned (NULL with cb called with SIGN_E_BUSY when the queue is full). */
struct sign_pending *sign_consent(struct signsvc *s, const struct sign_peer *p, sign_consent_cb cb, void *ud);
/* A signature: consent (web peers without a standing answer), the PIN dialog, the card, the audit log.
 * cb always runs exactly once, on the main loop, unless the request is abandoned; it may run before
 * this returns (then NULL is returned). */
struct sign_pending *sign_submit(struct signsvc *s, const struct sign_peer *p, const struct sign_args *a,
                                 sign_done_cb cb, void *ud);
/* The requester went away: its callback never runs. A dialog already on screen stays until answered,
 * a card operation already started completes (and is audited). */
void sign_abandon(struct sign_pending *p);

/* The certificates a web page may sign with (keyUsage nonRepudiation, key on the card) of the cards
 * present; cards not present are never listed (they may be an earlier user's). */
struct sign_cert {
	uint8_t id[32];
	const uint8_t *der;
	size_t der_len;
	const char *label;  /* CKA_LABEL, may be "" */
	const char *reader; /* NULL when the card is not present */
	bool present;
};
int sign_list_certs(struct signsvc *s, int (*cb)(void *ud, const struct sign_cert *c), void *ud);
