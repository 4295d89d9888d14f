/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt's windows (GTK 4): the signing window (site, signer, document, PIN with keypad) for
 * GETPIN, and the question window for CONFIRM. Each call shows one window and runs GTK's main context
 * until the user answers, the timeout passes or the window is closed (docs/PROMPT.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What imzad set with pinentry's and imza's commands; every string is UTF-8, already unescaped. */
struct prompt {
	char *title, *desc, *prompt, *ok, *notok, *cancel, *error;
	unsigned timeout_s; /* 0: none */
	char *origin, *site;
	int tries; /* PIN tries left, -1 unknown */
	uint8_t *doc;
	size_t doc_len;
	bool has_doc, doc_text;
	uint8_t *cert;
	size_t cert_len;
	char *card_label; /* SETCARD: the label of the card to insert */
};

enum prompt_answer { ANSWER_OK, ANSWER_NOTOK, ANSWER_CANCEL, ANSWER_TIMEOUT };

/* Hands the PIN on while the window still holds it (in GTK's locked password buffer): 0, or a
 * non-zero that window_getpin returns. */
typedef int (*prompt_pin_fn)(const char *pin, size_t len, void *opaque);

/* The PIN window; on ANSWER_OK the PIN goes to fn before the entry is cleared. 0 with *ret set, or
 * what fn returned. The signing window when a document or certificate was set, else pinentry's plain
 * one (SETDESC and a PIN field). */
int window_getpin(const struct prompt *p, prompt_pin_fn fn, void *opaque, enum prompt_answer *ret);
/* A question: SETDESC with OK, the optional NOTOK and Cancel (one_button: OK alone). */
void window_confirm(const struct prompt *p, bool one_button, enum prompt_answer *ret);

/* The insert-card window (WAITCARD, card.c): which card to insert, for which certificate and site, and
 * İptal. It ends when in_fd (imzad's side of the Assuan pipe) becomes readable or hangs up: imzad ended
 * the wait (ANSWER_OK); İptal, Escape or closing it is ANSWER_CANCEL; SETTIMEOUT's ANSWER_TIMEOUT. */
void window_waitcard(const struct prompt *p, int in_fd, enum prompt_answer *ret);

/* What a site asks consent for (CONSENT, consent.c). */
enum consent_what { CONSENT_LIST, CONSENT_SIGN };
/* The consent window: the site, what it asks, "Reddet" (the default: Enter and Escape deny), "Bir kez
 * izin ver" and, set apart, "Her zaman izin ver" (only when can_always). ANSWER_OK: once;
 * ANSWER_NOTOK: always; ANSWER_CANCEL: deny; ANSWER_TIMEOUT. */
void window_consent(const struct prompt *p, enum consent_what what, bool can_always, enum prompt_answer *ret);
/* For the certificate choice (prompt/choose.c), the signing window's own parts: the site's lines, and
 * "Görüntüle"'s details window for a certificate (DER) over parent. */
struct _GtkWidget;
struct _GtkWidget *window_site_section(const struct prompt *p);
void window_cert_details(struct _GtkWidget *parent, const uint8_t *der, size_t len);
