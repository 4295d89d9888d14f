/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PIV applet of imza's virtual test card (NIST SP 800-73-4), as a pure
 * APDU-in/APDU-out state machine over a card directory written by
 * imza-vcard-gen. Its only I/O: loading that directory and saving counters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest C-APDU the applet parses: extended header, 65535 data bytes, Le. */
#define PIV_CAPDU_MAX (7 + 65535 + 2)
/* Largest payload of one vpcd message (its length field is 16 bits). */
#define PIV_RAPDU_MAX 65535

struct piv_card;

/* Loads card.conf, state and the slot keys/certificates from state_dir.
 * The card comes back powered and with the PIV applet selected. */
int piv_card_load(struct piv_card **ret_card, const char *state_dir);
void piv_card_free(struct piv_card *card);

/* on != 0: power on or warm reset (security status cleared, PIV selected);
 * on == 0: power off. */
void piv_card_power(struct piv_card *card, int on);

/* Processes one C-APDU and writes the R-APDU (data, SW1, SW2) to rapdu.
 * Returns its length: always >= 2 when rcap >= 2, whatever the input. */
size_t piv_card_apdu(struct piv_card *card, const uint8_t *capdu, size_t len, uint8_t *rapdu, size_t rcap);

/* For fuzzing: from now on keep PIN/PUK changes in memory only, and go back
 * to the PINs and counters as loaded, powered on. Each call rewinds again. */
void piv_card_rewind(struct piv_card *card);

int piv_card_atr(const struct piv_card *card, const uint8_t **ret_atr, size_t *ret_len);

/* Hex for the APDU log. For a command, the data of VERIFY, CHANGE REFERENCE
 * DATA and RESET RETRY COUNTER (PINs, PUKs) comes out as "**" per byte.
 * cap must hold 2 * len + 1. */
int piv_log_hex(const uint8_t *buf, size_t len, bool is_command, char *out, size_t cap);
