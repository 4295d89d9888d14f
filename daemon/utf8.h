/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UTF-8 as peer text needs it: one character at a time, strictly (no overlong forms, no surrogates, no
 * code point past U+10FFFF), and which characters are not shown as they are. Shared by the dialogs'
 * markers (daemon/ui/visible.c) and a vendor module's texts (daemon/card/token.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One UTF-8 character at s (n > 0 bytes left): its length, with its code point in *ret_cp; 0 when the
 * bytes are no UTF-8; n + 1 when it begins well but the end of s cuts it. */
size_t utf8_next(const uint8_t *s, size_t n, uint32_t *ret_cp);
/* What a terminal, a journal or a dialog would act on or hide instead of showing: C0 controls, DEL and
 * C1, the soft hyphen, the Arabic letter mark, zero-width characters and marks, line and paragraph
 * separators, bidi embeddings, overrides and isolates, word joiners and invisible operators, BOM. */
bool utf8_hidden(uint32_t cp);
