/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What imzad's two SQLite files do alike (see db.h): kept in one place so that the cache and the
 * records read, judge and word a file the same way, while each keeps its own policy for a bad file. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/store/db.h"

int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -DB_EBROKEN;
	default:
		return -EIO;
	}
}

int db_error(int rc)
{
	int r = db_errno(rc);

	return r ? r : -EIO;
}

int db_say(char *why, size_t cap, int r, const char *what, const char *detail)
{
	snprintf(why, cap, "%s%s%s%s", what, detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	return r;
}

int db_failed(sqlite3 *db, int rc, char *why, size_t cap)
{
	int r = db_error(rc);

	return db_say(why, cap, r, r == -DB_EBROKEN ? "is damaged" : "cannot be used", sqlite3_errmsg(db));
}

int db_query_int(sqlite3 *db, const char *sql, db_failed_fn *failed, char *why, size_t cap, int64_t *ret_v)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_v = sqlite3_column_int64(st, 0);
	else
		r = rc == SQLITE_DONE ? -EIO : failed(db, rc, why, cap);
	sqlite3_finalize(st);
	return r;
}

int db_integrity(sqlite3 *db, const char *pragma, db_failed_fn *failed, char *why, size_t cap)
{
	sqlite3_stmt *st = NULL;
	const char *res;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(db, pragma, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		res = (const char *)sqlite3_column_text(st, 0);
		if (res == NULL || strcmp(res, "ok") != 0)
			r = db_say(why, cap, -DB_EBROKEN, "fails its integrity check", res ? res : "?");
	} else {
		r = rc == SQLITE_DONE ? -EIO : failed(db, rc, why, cap);
	}
	sqlite3_finalize(st);
	return r;
}

int db_open(const char *path, int flags, int busy_timeout_ms, sqlite3 **ret_db)
{
	static bool configured;
	sqlite3 *db = NULL;
	int rc;

	/* imzad's files are small and touched seldom (a card inserted, a signature recorded): SQLite's
	 * per-connection lookaside (about 120 KiB, all of it written at open) and the page cache's first bulk
	 * allocation (about 90 KiB per connection, before a page is read) would keep more in memory than
	 * the files hold. Before SQLite initialises; later it is refused, harmlessly. */
	if (!configured) {
		sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
		sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
		configured = true;
	}
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		return db_error(rc);
	}
	sqlite3_extended_result_codes(db, 1);
	/* A lock held elsewhere is waited for this long at most, then -EBUSY: imzad runs on one loop. */
	sqlite3_busy_timeout(db, busy_timeout_ms);
	/* Nothing here needs writable_schema, or functions called from a schema's views and triggers; a
	 * damaged file should not get more power. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	*ret_db = db;
	return 0;
}

void db_close_untouched(sqlite3 *db)
{
	/* Closing the last connection would checkpoint a WAL into the file and delete it: leave a file we
	 * are not going to use as we found it, journal included. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_close(db);
}

int db_migrate(sqlite3 *db, const char *const *migrations, int64_t *version, int to, db_failed_fn *failed,
               char *why, size_t cap)
{
	for (; *version < to; (*version)++) {
		int rc = sqlite3_exec(db, migrations[*version], NULL, NULL, NULL);

		if (rc != SQLITE_OK)
			return failed(db, rc, why, cap);
	}
	return 0;
}

int db_stamp_commit(sqlite3 *db, int app_id, int version, db_failed_fn *failed, char *why, size_t cap)
{
	char sql[96];
	int rc;

	/* PRAGMAs take no bound parameters; both numbers are the caller's own constants. */
	snprintf(sql, sizeof(sql), "PRAGMA main.application_id = %d; PRAGMA main.user_version = %d", app_id,
	         version);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : failed(db, rc, why, cap);
}
