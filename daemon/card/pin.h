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

struct token;
/* On the main loop, after pin_verify_on_card gave r (and tries): the token's PIN state, which its
 * PKCS#11 flags, imzactl status and the signing window's last-try question show. A right PIN fills the
 * counter again; a wrong one leaves the count the card gave (a module's FINAL_TRY: 1) and the count low. */
void pin_note_result(struct token *t, int r, int tries);
