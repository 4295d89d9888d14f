/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's card cache: the objects of every card seen before, kept in SQLite (state_dir/cache.sqlite) so
 * that a known card is served after one cheap freshness check instead of a full read. Nothing else: the
 * audit log and the answers for web origins are in the records (records.h), which are never moved aside.
 * Not thread-safe: use it from the main loop only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/card/token.h"

/* Card identities are short (PIV: the 16-byte GUID, maybe plus certificate hashes); the caps keep a
 * bug from filling the file with megabyte keys. */
#define CACHE_DRIVER_MAX 64
#define CACHE_ID_MAX 1024

struct cache;

/* One card for `imzactl cache list`. The pointers are valid only during the callback. */
struct cache_entry {
	const char *driver;
	const uint8_t *id;
	size_t id_len;
	const char *label;  /* token label without its space padding */
	const char *serial; /* token serial number */
	int64_t last_seen;  /* unix time the card was last stored or served */
	size_t nobjs;       /* objects in the cached token */
};

/* Opens, creating what is missing, state_dir/cache.sqlite. A missing state_dir (and missing parents)
 * is made 0700; an existing one must belong to us and be writable by us alone, else -EPERM (logged).
 * The file is made 0600. A file that is not a usable cache of ours (not a database, corrupt, another
 * program's, written by a newer imzad, not a regular file) is renamed to
 * cache.sqlite.broken-<unix time> together with its -wal and -shm, one warning is logged and an empty
 * cache is made in its place. Errors that say nothing about the file (-EBUSY: another process holds
 * it; -ENOSPC, -EROFS, -EIO, -ENOMEM) are returned and nothing is moved: imzad then runs without a
 * cache rather than not at all.
 * Every call below may also fail with -EUCLEAN when SQLite finds the file damaged while in use;
 * closing and opening the cache again moves the file aside. */
int cache_open(const char *state_dir, struct cache **ret);
void cache_close(struct cache *c);

/* A card is identified by its driver's name and identity bytes the driver chooses. put replaces
 * any earlier entry and records the card as seen now. */
int cache_put_token(struct cache *c, const char *driver, const uint8_t *id, size_t id_len,
                    const struct token *tok);
/* -ENOENT for an unknown card. An entry that cannot be decoded (damaged, or written by another
 * version of imzad) is deleted and also reported as -ENOENT: the caller then reads the card again.
 * A hit records the card as seen now. The token belongs to the caller (token_free). */
int cache_get_token(struct cache *c, const char *driver, const uint8_t *id, size_t id_len,
                    struct token **ret);
/* Calls cb for each cached card, most recently seen first. A negative return from cb stops the
 * listing and is returned. cb must not call other cache functions. */
int cache_list(struct cache *c, int (*cb)(void *ud, const struct cache_entry *e), void *ud);
/* -ENOENT for an unknown card. */
int cache_forget(struct cache *c, const char *driver, const uint8_t *id, size_t id_len);
/* Forgets every card. */
int cache_clear(struct cache *c);
