/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The user's dialogs through pinentry (Assuan, with libassuan): the consent question for a web origin
 * and the PIN entry that shows what is about to be signed. Every call blocks until the user answers (or
 * the program fails): call them from a thread, never from the main loop. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/card/pin.h"

/* The longest web origin a dialog shows (whole, never cut): the API refuses longer ones. */
#define DIALOG_ORIGIN_MAX 253

enum dialog_consent { DIALOG_DENY, DIALOG_ONCE, DIALOG_ALWAYS };

/* Where a dialog's time went (CLOCK_MONOTONIC seconds, 0 for a step not reached), for the signing
 * service's timings (imzad --verbose, make bench). */
struct dialog_times {
	double started;  /* the program is up: its greeting read */
	double asked;    /* the question (CONFIRM or GETPIN) sent, after the texts and buttons */
	double answered; /* its answer read */
	double closed;   /* the program gone (reaped) */
};

/* The most certificates a signing window offers to choose from (POST /v1/sign without a certificate). */
#define DIALOG_CHOICES_MAX 16

/* One certificate the user may sign with, for the choice. */
struct dialog_choice {
	const uint8_t *der; /* at most 16 KiB */
	size_t der_len;
	const char *subject; /* shown as "İmzalayan:" once chosen */
	int tries_left;      /* of its card, -1 unknown */
	bool qualified;
};

struct dialog_request {
	const char *program;    /* pinentry to run: an absolute path, or a name looked up in PATH */
	const char *origin;     /* who asks: a web origin, or a local program's description */
	bool web;               /* origin is a web origin: shown whole (at most API_ORIGIN_MAX bytes, else the
	                         * dialog is refused), with its site (site.h) on a line of its own */
	bool can_remember;      /* offer "always" (a web origin); else only once / deny */
	const char *subject;    /* the signer's certificate subject (PIN dialog), or NULL */
	const uint8_t *content; /* what is signed (PIN dialog), or NULL */
	size_t len;
	bool is_text;       /* content is UTF-8 text: its size and SHA-256, then the text with every line
	                     * quoted, shortened (saying how many bytes are not shown) to fit the line; else
	                     * its size, SHA-256 and first bytes in hex are shown */
	int tries_left;     /* PIN tries left on the card, -1 unknown: shown when low (1 or 2); at 1 the PIN
	                     * dialog first asks the user to confirm, in plain words, that a wrong PIN now
	                     * locks the card */
	unsigned timeout_s; /* the dialog closes itself after this (pinentry's SETTIMEOUT); 0: none */
	struct dialog_times *times; /* filled in when not NULL */
	/* When not NULL, dialog_pin hands the PIN to pin_read (on the calling thread) as soon as it is
	 * read, before the program is closed, so that the caller goes on while the program exits; it
	 * then returns 0 with *ret left empty, once the program is reaped as always. */
	void (*pin_read)(void *ud, struct pin_secret *pin);
	void *pin_read_ud;
	/* The signer's certificate (DER) for imza-prompt's window (prompt.h), or NULL. */
	const uint8_t *cert;
	size_t cert_len;
	/* The insert-card window (dialog_card): the label of the card to insert, as the cache knows it
	 * (space padding and all; shown with visible markers, clipped), or NULL. */
	const char *card_label;
	/* The consent window: the site asks to sign (else to list the certificates). */
	bool consent_sign;
	/* The certificates to choose from (qualified first), or none: then subject, cert and tries_left
	 * above name the signer. With choices, dialog_pin has the user choose in imza-prompt (SETCERTS,
	 * CHOOSE: docs/PROMPT.md) before the PIN; a pinentry cannot show a list, so there the first
	 * qualified one (or the only one) is taken and the description says so, and with several and none
	 * qualified dialog_pin returns -ENOTUNIQ before any question. The index chosen goes to *ret_chosen
	 * before the PIN is read (before pin_read runs). */
	const struct dialog_choice *choices;
	size_t n_choices;
	size_t *ret_chosen;
	const char *signer_note; /* dialog.c's own: why imzad chose the signer, after "İmzalayan:" */
};

/* Asks whether origin may use imza: one CONFIRM with the buttons "Bu seferlik izin ver" (OK: once),
 * "Her zaman izin ver" (NOTOK: always; only when can_remember) and "Reddet" (Cancel, or the window
 * closed: deny). A web origin that may not be remembered (site_may_remember: plain http) is told why.
 * 0 and *ret set; -ETIMEDOUT; -ENOENT when the program cannot be started; -EIO/-EPROTO when it fails. */
int dialog_consent(const struct dialog_request *rq, enum dialog_consent *ret);
/* Shows origin, subject and content and asks for the PIN. 0 with the PIN in *ret (locked memory; the
 * caller wipes it with pin_secret_wipe), or given to rq->pin_read; -ECANCELED (also when the user does
 * not confirm the last try: no PIN was asked); -ETIMEDOUT; -ENOENT; -EIO/-EPROTO (also for a choice out
 * of range); -E2BIG for a PIN over PIN_MAX_LEN bytes; -ENOTUNIQ (see choices). With one try left a
 * pinentry gets a CONFIRM of its own first; imza-prompt asks it inside the signing window, and its PIN
 * without the LAST_TRY_CONFIRMED status is dropped (-EPROTO). */
int dialog_pin(const struct dialog_request *rq, struct pin_secret *ret);
/* The insert-card window (imza-prompt only, docs/PROMPT.md): "insert the card that holds the signing
 * certificate" with the card's label (rq->card_label), the certificate's holder (rq->cert) and who asks,
 * and one button, İptal. It stays up until one byte can be read from wake_fd (imzad ends it: the card
 * came, the wait ran out or the requester left) or the user cancels. 0 when imzad ended it; -ECANCELED
 * (İptal, Escape or the window closed); -ETIMEDOUT (its own guard timeout, rq->timeout_s); -ENOTSUP when
 * no imza-prompt asks (no display, `prompt = pinentry`: the caller waits without a window, as a
 * pinentry cannot show this); -ENOENT/-EIO/-EPROTO when it cannot start or fails. */
int dialog_card(const struct dialog_request *rq, int wake_fd);

/* The two entries of a new PIN differ (dialog_pin_new). */
#define DIALOG_E_MISMATCH (-EDOM)

/* imzactl pin change (unblock false) or unblock: one window or pinentry, three questions in it: the
 * card's current PIN (unblock: its PUK), the new PIN, the new PIN again. Each says who asks (rq->origin, a
 * local program's description), which card (rq->card_label) and what is asked, and, when rq->tries_left
 * (of the PIN; unblock: of the PUK) is 1 or 2, how many tries are left. 0 with the secrets in *ret_old and
 * *ret_new (locked memory; the caller wipes them); DIALOG_E_MISMATCH when the new PIN's two entries
 * differ (nothing asked again, both wiped); -ECANCELED at any step (nothing kept); -ETIMEDOUT; -ENOENT;
 * -EIO/-EPROTO; -E2BIG for an answer over PIN_MAX_LEN bytes; -EINVAL for an empty one. Nothing here
 * checks a PIN's form: the card job does (pin_format), before the card sees either. */
int dialog_pin_new(const struct dialog_request *rq, bool unblock, struct pin_secret *ret_old,
                   struct pin_secret *ret_new);

/* An Assuan answer as a negative errno: -ECANCELED, -ETIMEDOUT, -E2BIG, -ENOMEM, -EIO when the dialog
 * process is gone or unreachable, -EPROTO for anything else (0 for no error). */
int dialog_errno(unsigned int gpg_err);
