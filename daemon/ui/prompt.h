/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt from imzad's side: whether a dialog goes to imza's own window (a display is there and
 * `prompt` in imzad.conf allows it) or to the configured pinentry, and imza's own Assuan commands that
 * give the window what pinentry's one line cannot carry (docs/PROMPT.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <assuan.h>

/* The `prompt` setting's longest value (a path). */
#define PROMPT_SETTING_MAX 4096

/* Sets the program: "imza-prompt" (looked up in PATH), "pinentry" (never imza-prompt: always the
 * configured pinentry), or an absolute path to an imza-prompt. Call it before any dialog starts; until
 * then no dialog uses imza-prompt. 0, or -EINVAL for a relative path or control characters. */
int prompt_configure(const char *setting);
/* Whether setting is a valid `prompt` value (what prompt_configure accepts). */
bool prompt_setting_ok(const char *setting, size_t len);
/* The imza-prompt to run for the next dialog (a name for PATH or an absolute path), or NULL: the
 * setting says pinentry, or neither DISPLAY nor WAYLAND_DISPLAY is set (a terminal, a headless
 * machine), so the pinentry fallback asks. */
const char *prompt_wanted(void);

/* What imza-prompt gets beyond pinentry's commands. origin: a web origin (its site is found here and
 * sent with it), or NULL for a local program. tries_left -1: unknown. content/cert may be NULL. */
struct prompt_extras {
	const char *origin;
	int tries_left;
	const uint8_t *content;
	size_t len;
	bool is_text;
	const uint8_t *cert;
	size_t cert_len;
};

/* Sends SETORIGIN, SETSITE, SETTRIES, SETDOC (the document whole, by INQUIRE) and SETCERT (the DER, by
 * INQUIRE) for what extras holds. 0; -EIO when the program is gone; -EPROTO when it refused a command. */
int prompt_send(assuan_context_t ctx, const struct prompt_extras *extras);
/* The certificate choice: SETCERTS with the n DERs (by INQUIRE CERTIFICATES), then CHOOSE, whose answer
 * is the index the user chose. n 1..PROMPT_CHOICES_MAX, each DER 1..PROMPT_CERT_MAX bytes, all of them
 * at most PROMPT_CERTS_TOTAL_MAX (else -EINVAL, nothing sent). 0 with *ret_index < n; -ECANCELED;
 * -ETIMEDOUT; -EIO; -EPROTO for a refused command or an answer that is not an index below n. */
int prompt_choose(assuan_context_t ctx, const uint8_t *const *ders, const size_t *lens, size_t n,
                  size_t *ret_index);
