/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What imzad's two SQLite files (the card cache, cache.c, and the records, records.c) do alike: error
 * numbers, the one-line reason a file cannot be used, and the reads that check a file before use. What
 * each does with a file it cannot use (the cache moves it aside, the records leave it) stays with it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* The file itself is at fault (damaged, another program's, too new): kept apart from errors that say
 * nothing about it, because that is when the cache moves a file aside and the records refuse web
 * signing. */
#define DB_EBROKEN EUCLEAN

/* The -errno for an SQLite result code; 0 for SQLITE_OK, SQLITE_ROW and SQLITE_DONE. */
int db_errno(int rc);

/* The -errno for a result that is not the one the caller wanted: db_errno, but never 0 (-EIO where a
 * statement returned a row or finished when it should not have). */
int db_error(int rc);

/* Sets why to "what (detail)", or "what" without a detail, and returns r. */
int db_say(char *why, size_t cap, int r, const char *what, const char *detail);

/* How an SQLite failure met while checking a file is worded into why; returns the -errno. */
typedef int db_failed_fn(sqlite3 *db, int rc, char *why, size_t cap);

/* The records' wording: "is damaged" for the file's fault (-DB_EBROKEN), "cannot be used" else. */
int db_failed(sqlite3 *db, int rc, char *why, size_t cap);

/* The single integer a PRAGMA (or a count) answers; an SQLite failure is worded by failed. */
int db_query_int(sqlite3 *db, const char *sql, db_failed_fn *failed, char *why, size_t cap, int64_t *ret_v);

/* Runs pragma ("PRAGMA quick_check(1)", "PRAGMA integrity_check(10)"): 0 when SQLite answers "ok",
 * -DB_EBROKEN with the first problems it names in why otherwise. */
int db_integrity(sqlite3 *db, const char *pragma, db_failed_fn *failed, char *why, size_t cap);

/* Inside the caller's BEGIN IMMEDIATE: runs migrations[*version] up to migrations[to - 1], each taking
 * the file one version on, with *version following; an SQLite failure is worded by failed. */
int db_migrate(sqlite3 *db, const char *const *migrations, int64_t *version, int to, db_failed_fn *failed,
               char *why, size_t cap);

/* Stamps the main file with app_id and user_version and commits the caller's transaction; an SQLite
 * failure is worded by failed (the caller rolls back). */
int db_stamp_commit(sqlite3 *db, int app_id, int version, db_failed_fn *failed, char *why, size_t cap);

/* The page cache of each of imzad's connections (PRAGMA cache_size; negative: KiB), set once a file is
 * known to be ours: the files are a few pages, read seldom; SQLite's default would let it grow to 2 MiB. */
#define DB_CACHE_SIZE "-64"

/* Opens path with flags (plus no mutex, no symlink) and the settings both files want. 0, or the -errno
 * of the failure, with the connection closed. */
int db_open(const char *path, int flags, int busy_timeout_ms, sqlite3 **ret_db);

/* Closes a connection to a file imzad is not going to use, leaving it as it was found. */
void db_close_untouched(sqlite3 *db);
