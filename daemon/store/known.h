/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cards imzad knows, in memory for the reader threads: the card cache lives in SQLite on the main
 * loop, and this mirror of it (serialized tokens under a mutex) lets a reader's worker serve a known
 * card the moment it has read its identity, without a round trip through the main loop. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/card/token.h"

struct known;

int known_new(struct known **ret);
void known_free(struct known *k);
/* Records t under its driver and identity (t->driver, t->id), replacing an earlier entry. */
int known_put(struct known *k, const struct token *t);
/* A fresh copy of the known token for this identity, or NULL. Safe from any thread. */
struct token *known_get(struct known *k, const char *driver, const uint8_t *id, size_t id_len);
void known_forget(struct known *k, const char *driver, const uint8_t *id, size_t id_len);
void known_clear(struct known *k);
