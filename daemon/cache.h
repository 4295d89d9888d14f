/* imzad's card cache: the objects of every card seen before, kept in SQLite (state_dir/cache.sqlite) so
 * that a known card is served after one cheap freshness check instead of a full read. The same file
 * holds the audit log of signatures and the web origins' grants.
 * Not thread-safe: use it from the main loop only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/token.h"

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
/* Forgets every card; the audit log and the grants stay. */
int cache_clear(struct cache *c);

/* ---- audit log and origin grants (the same file) ---- */

#define CACHE_ORIGIN_MAX 320
#define CACHE_RESULT_MAX 128
/* The audit log keeps the newest entries only: a bound on the file, whatever happens. */
#define CACHE_AUDIT_KEEP 100000

struct audit_entry {
	int64_t seq;
	int64_t time;
	const char *origin;
	const uint8_t *cert_sha256;    /* 32 bytes, or NULL */
	const uint8_t *content_sha256; /* 32 bytes, or NULL */
	const char *result;
};

/* Appends one row; origin and result are cut to their caps. Rows beyond the newest CACHE_AUDIT_KEEP go. */
int cache_audit_add(struct cache *c, int64_t time, const char *origin, const uint8_t *cert_sha256,
                    const uint8_t *content_sha256, const char *result);
/* The last `limit` rows, oldest first. The entry's pointers are valid during the callback only. */
int cache_audit_list(struct cache *c, unsigned limit, int (*cb)(void *ud, const struct audit_entry *e),
                     void *ud);

/* A web origin's standing answer: 0 with *ret_allow, or -ENOENT. */
int cache_grant_get(struct cache *c, const char *origin, bool *ret_allow);
int cache_grant_put(struct cache *c, const char *origin, bool allow, int64_t time);
/* -ENOENT when the origin had no answer stored. */
int cache_grant_forget(struct cache *c, const char *origin);
int cache_grant_list(struct cache *c, int (*cb)(void *ud, const char *origin, bool allow, int64_t time),
                     void *ud);
