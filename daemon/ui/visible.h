/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the user sees is what is signed: the characters a dialog must not show as they are (controls,
 * bidi overrides, zero-width and other invisible format characters, invalid UTF-8), and the visible
 * marker that stands for each. Shared by the pinentry dialogs (dialog.c) and imza-prompt's window. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The widest marker, "\u27e8U+10FFFF\u27e9", without its NUL. */
#define VISIBLE_MARKER_MAX 14

/* Whether code point cp would make a dialog show other than what is signed: utf8_hidden's (controls,
 * where CR and ESC sequences rewrite a terminal pinentry's screen; the invisible, reordering and line
 * breaking format characters) but LF and TAB, which the document's layout keeps. */
bool visible_hidden(uint32_t cp);
/* One UTF-8 sequence at s (n > 0 bytes left): its length, and its code point in *ret_cp, or -1 when it
 * is not valid UTF-8 (then the length is 1: that byte alone gets a marker). */
size_t visible_next(const uint8_t *s, size_t n, int32_t *ret_cp);
/* The marker for the sequence at s whose code point visible_next gave as cp: "\u27e8U+202E\u27e9" for a
 * hidden character, "\u27e80xFF\u27e9" for an invalid byte. Writes it with a NUL; returns its length. */
size_t visible_marker(const uint8_t *s, int32_t cp, char out[static VISIBLE_MARKER_MAX + 1]);
