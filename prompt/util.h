/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt's rules that need no window: Assuan's argument escaping, the site check, the document's
 * marked-up view, the shuffled keypad order and the certificate lines. Kept apart from GTK so that unit
 * tests (tests/unit/test-prompt.c) reach every rule. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/web/certinfo.h"

/* The largest document imzad sends (sign.h's SIGN_CONTENT_MAX) and certificate. */
#define PROMPT_DOC_MAX (512 * 1024)
#define PROMPT_CERT_MAX (16 * 1024)

/* Undoes Assuan's percent-escaping (%XX) in place; a '%' not followed by two hex digits stays as it is.
 * The result is NUL-terminated; its length goes to *ret_len when not NULL. */
void prompt_unescape(char *s, size_t *ret_len);

/* Whether site (a registrable domain, as imzad's libpsl found it) is the host of origin or a suffix of
 * it at a label boundary: a window never shows a "site" that is not part of the origin. */
bool prompt_site_of_origin(const char *origin, const char *site);

/* One piece of a document for the view: plain text (text, len), or a marker for a character that is not
 * shown as it is (marker set, a NUL-terminated "\u27e8U+202E\u27e9"). */
struct prompt_piece {
	const char *text;
	size_t len;
	const char *marker;
};
typedef int (*prompt_piece_fn)(const struct prompt_piece *p, void *opaque);
/* Splits a text document into pieces (consecutive plain bytes together); stops at fn's first non-zero. */
int prompt_text_pieces(const uint8_t *doc, size_t len, prompt_piece_fn fn, void *opaque);
/* A binary document as a hex dump: "00000000  3082 01a2 ...  |0.......|" lines. g_free()-able. */
char *prompt_hex_dump(const uint8_t *doc, size_t len);

/* A permutation of the digits 0..9 drawn with getrandom (Fisher-Yates, unbiased by rejection).
 * 0, or -errno when the kernel gives no randomness. */
int prompt_shuffle_digits(char digits[10]);
/* The keypad's order without shuffling: 1..9, then 0. */
void prompt_plain_digits(char digits[10]);

/* "abcd...": the SHA-256 of data in lower-case hex. 0 or -ENOMEM. */
int prompt_sha256_hex(const uint8_t *data, size_t len, char hex[static 65]);
/* "AB:CD:...": the SHA-256 fingerprint of a certificate's DER, upper case with colons. 0 or -ENOMEM. */
int prompt_fingerprint(const uint8_t *der, size_t len, char out[static 96]);
/* The key usage bits of ci as names joined by ", " into out; "" when the extension is absent. */
void prompt_key_usage_text(const struct certinfo *ci, char *out, size_t cap);
/* The subject serialNumber as a TC kimlik no: 11 digits (a "TCKN" or "TC" prefix removed) whose check
 * digits are right. 0 with the digits in out, -EINVAL when it is not one. */
int prompt_tckn(const char *serial_number, char out[static 12]);
