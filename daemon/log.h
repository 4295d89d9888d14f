/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's log: the journal with structured fields when stderr goes to it (JOURNAL_STREAM), stderr
 * otherwise. Never pass a PIN or key material to these. */
#pragma once

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 3, LOG_LVL_WARNING = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_setup(bool verbose);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line about one signature or private-key operation: on the journal with the fields IMZA_ORIGIN (the
 * web origin, or the program and its pid), IMZA_CARD (the card's label, "" when unknown) and IMZA_RESULT
 * ("ok", or what ended it), so that `journalctl --user -u imzad IMZA_RESULT=ok` finds the signatures;
 * on stderr the same text. Each field is peer text: cut, and its controls written as '?'. */
void log_record(enum log_level lvl, const char *origin, const char *card, const char *result, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
