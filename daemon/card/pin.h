/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A PIN on its way to the card: copied into a page of its own that is locked in memory and kept out
 * of core dumps, then wiped and unmapped as soon as the card has it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIN_MAX_LEN 64

struct pin_secret {
	uint8_t *page;
	size_t len;
};

/* Pages for secrets: size (a multiple of the page size) bytes, locked (best effort: one warning when the
 * limit refuses), kept out of core dumps; freed wiped. The PIN's page, and pinentry's buffers. */
void *pin_pages_new(size_t size);
void pin_pages_free(void *p, size_t size);

int pin_secret_set(struct pin_secret *s, const uint8_t *pin, size_t len);
void pin_secret_wipe(struct pin_secret *s);

struct card_driver;
struct apdu_transport;

/* On a reader's worker: gives the card the PIN, after making it forget another application's login
 * (reset_first), so that a wrong PIN of ours never leaves the card verified for someone else. The PIN
 * is wiped whatever happens; *ret_tries is the card's count after a wrong PIN (-1 unknown).
 * CARD_E_PIN_FORMAT, with no card I/O at all, for a PIN the driver's pin_ok refuses. */
int pin_verify_on_card(const struct card_driver *drv, struct apdu_transport *t, bool reset_first,
                       struct pin_secret *pin, int *ret_tries);

/* Whether a value has the form of the card's PIN (puk false) or PUK: 0; CARD_E_PIN_FORMAT for a length
 * outside the driver's; CARD_E_PIN_INVALID for a character it cannot hold; -ENOTSUP when the driver has
 * no PUK. No card I/O. */
int pin_format(const struct card_driver *drv, bool puk, const uint8_t *p, size_t len);

/* A change of the PIN or PUK, or an unblock, on its way to the card (a job's; see pin_change_on_card). */
enum pin_op {
	PIN_OP_CHANGE,     /* old PIN -> new PIN (PIV CHANGE REFERENCE DATA 80) */
	PIN_OP_CHANGE_PUK, /* old PUK -> new PUK (81) */
	PIN_OP_UNBLOCK,    /* PUK -> new PIN, the counter filled (RESET RETRY COUNTER) */
	/* C_SetPIN with no login: an unblock when the card says the PIN is locked (old is then the PUK,
	 * as OpenSC's user_pin_unblock_style = set_pin_in_unlogged_session has it), else a change. */
	PIN_OP_CHANGE_OR_UNBLOCK,
};

struct pin_change {
	enum pin_op op;
	bool reset_first;  /* the card holds another application's login: forget it first */
	bool forget_after; /* the application holds no login: the card forgets what the change verified */
	struct pin_secret old, new;
	/* Results: what was done (CHANGE, CHANGE_PUK or UNBLOCK), the count of the secret checked after a
	 * wrong one (-1 unknown), and the PIN's count read before deciding (CHANGE_OR_UNBLOCK; -1 none). */
	enum pin_op done;
	int tries;
	int pin_tries_seen;
};

/* On a reader's worker: the change c asks for. Both values are checked first (pin_format: a value the
 * card cannot hold costs no try and never reaches it), and wiped whatever happens. A wrong old value is
 * never given again. 0 or a card error (CARD_E_PIN_INCORRECT/LOCKED, CARD_E_PIN_FORMAT/INVALID,
 * -ENOTSUP when the driver cannot). */
int pin_change_on_card(const struct card_driver *drv, struct apdu_transport *t, struct pin_change *c);

struct token;
/* On the main loop, after pin_change_on_card gave r: the token's PIN (or PUK) state. */
void pin_note_change(struct token *t, const struct pin_change *c, int r);
/* On the main loop, after an empty VERIFY's answer (pin_status): the token's PIN state. */
struct card_pin_status;
void pin_note_status(struct token *t, const struct card_pin_status *ps);

/* On the main loop, after pin_verify_on_card gave r (and tries): the token's PIN state, which its
 * PKCS#11 flags, imzactl status and the signing window's last-try question show. A right PIN fills the
 * counter again; a wrong one leaves the count the card gave (a module's FINAL_TRY: 1) and the count low. */
void pin_note_result(struct token *t, int r, int tries);
