/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The card cache (see cache.h): one SQLite file in imzad's state directory, WAL mode, schema versioned by
 * PRAGMA user_version and marked ours by PRAGMA application_id. A cache is only ever a copy of what
 * the card holds, so a file we cannot trust is moved aside (kept for a bug report) rather than
 * repaired, and imzad starts with an empty one: losing the cache costs one card read, refusing to
 * start would cost the user their signing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "daemon/store/cache.h"
#include "daemon/store/db.h"
#include "daemon/log.h"
#include "daemon/store/privdir.h"
#include "daemon/store/token-store.h"

#define CACHE_FILE "cache.sqlite"
/* "imza": tells our file from another program's SQLite database dropped at the same path. */
#define CACHE_APP_ID 0x696d7a61
/* imzad runs everything on one loop: waiting long for a lock held by another process (a second
 * imzad, someone's sqlite3 shell) would freeze every client, so give up quickly and report -EBUSY. */
#define CACHE_BUSY_TIMEOUT_MS 2000

/* Schema migrations: migrations[v] takes the file from user_version v to v + 1, in one transaction
 * together with the user_version update. Never edit a released step; append a new one.
 *
 * v1:
 * cards: one row per card. driver + id is the card identity (id: bytes the driver chooses, PIV: the
 *   GUID); token is token_serialize()'s blob; label, serial, objects are copies of what it holds so
 *   that a listing needs no decoding; last_seen is the unix time the card was last stored or served.
 * audit: one row per signing or decryption request, whatever its outcome.
 *   time: unix time; origin: who asked (local application as imzad describes the peer, or web origin);
 *   cert_sha256: SHA-256 of the DER of the certificate whose key was used, NULL when none was chosen;
 *   content_sha256: SHA-256 of the bytes the signer was given (the document for a web origin; the
 *   data, digest or DigestInfo a PKCS#11 application passed);
 *   result: "ok" or a short reason it was not done ("denied", "pin-locked", "card-error: ...").
 * grants: the user's standing answer for a web origin (scheme://host[:port]):
 *   decision "allow" or "deny", time: unix time it was given. */
static const char *const migrations[] = {
        "CREATE TABLE cards ("
        "  driver TEXT NOT NULL,"
        "  id BLOB NOT NULL,"
        "  label TEXT NOT NULL,"
        "  serial TEXT NOT NULL,"
        "  last_seen INTEGER NOT NULL,"
        "  objects INTEGER NOT NULL,"
        "  token BLOB NOT NULL,"
        "  PRIMARY KEY (driver, id));"
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  time INTEGER NOT NULL,"
        "  origin TEXT NOT NULL,"
        "  cert_sha256 BLOB,"
        "  content_sha256 BLOB,"
        "  result TEXT NOT NULL);"
        "CREATE INDEX audit_time ON audit (time);"
        "CREATE TABLE grants ("
        "  origin TEXT PRIMARY KEY,"
        "  decision TEXT NOT NULL CHECK (decision IN ('allow', 'deny')),"
        "  time INTEGER NOT NULL);",
        /* v2: the audit log and the grants moved to the records (records.c), which take the rows over
         * when they are made; imzad opens the records before the cache. */
        "DROP INDEX IF EXISTS audit_time;"
        "DROP TABLE IF EXISTS audit;"
        "DROP TABLE IF EXISTS grants;",
};
#define CACHE_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct cache {
	sqlite3 *db;
	sqlite3_stmt *put, *get, *touch, *del, *list, *clear;
};

/* Why a file is unusable, for the one warning. */
struct verdict {
	char why[256];
};

static int broken(struct verdict *v, const char *why, const char *detail)
{
	return db_say(v->why, sizeof(v->why), -DB_EBROKEN, why, detail);
}

/* An sqlite failure while checking the file: corrupt or not a database is the file's fault. */
static int unreadable(sqlite3 *db, int rc, char *why, size_t cap)
{
	int r = db_errno(rc);

	if (r == -DB_EBROKEN)
		return db_say(why, cap, r, "is not a readable database", sqlite3_errmsg(db));
	log_debug("cache: %s", sqlite3_errmsg(db));
	return r;
}

/* unreadable(), for the checks that hold a verdict. */
static int failed(sqlite3 *db, int rc, struct verdict *v)
{
	return unreadable(db, rc, v->why, sizeof(v->why));
}

/* The single integer a PRAGMA (or a count) answers. */
static int query_int(sqlite3 *db, const char *sql, struct verdict *v, int64_t *ret_v)
{
	return db_query_int(db, sql, unreadable, v->why, sizeof(v->why), ret_v);
}

/* Whether the file is one we can use: ours (or new), not newer than this imzad, intact. */
static int check_db(sqlite3 *db, struct verdict *v, int *ret_version)
{
	int64_t app_id = 0, version = 0, objects = 0;
	char detail[64];
	int r;

	/* The first read of the header: a file that is not a database fails here. */
	r = query_int(db, "PRAGMA application_id", v, &app_id);
	if (r == 0)
		r = query_int(db, "PRAGMA user_version", v, &version);
	if (r < 0)
		return r;
	if (app_id != 0 && app_id != CACHE_APP_ID) {
		snprintf(detail, sizeof(detail), "application_id %#llx", (unsigned long long)app_id);
		return broken(v, "belongs to another program", detail);
	}
	if (version > CACHE_SCHEMA_VERSION || version < 0) {
		snprintf(detail, sizeof(detail), "schema version %lld, we know %d", (long long)version,
		         CACHE_SCHEMA_VERSION);
		return broken(v, "was written by a newer imzad", detail);
	}
	if (version == 0) {
		/* Migrations run in one transaction with the version bump, so a file of ours at version 0
		 * is empty; tables there are someone else's. */
		r = query_int(db, "SELECT count(*) FROM sqlite_master", v, &objects);
		if (r < 0)
			return r;
		if (objects > 0)
			return broken(v, "belongs to another program", "tables at schema version 0");
	} else if (app_id != CACHE_APP_ID) {
		return broken(v, "belongs to another program", "no imza application_id");
	}
	r = db_integrity(db, "PRAGMA quick_check(1)", unreadable, v->why, sizeof(v->why));
	if (r < 0)
		return r;
	*ret_version = (int)version;
	return 0;
}

static int migrate(sqlite3 *db, struct verdict *v)
{
	int64_t version = 0;
	int rc, r;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return failed(db, rc, v);
	/* Again inside the write lock: another process may have migrated since check_db. */
	r = query_int(db, "PRAGMA user_version", v, &version);
	if (r == 0 && version > CACHE_SCHEMA_VERSION)
		r = broken(v, "was written by a newer imzad", NULL);
	if (r == 0)
		r = db_migrate(db, migrations, &version, CACHE_SCHEMA_VERSION, unreadable, v->why,
		               sizeof(v->why));
	if (r == 0)
		r = db_stamp_commit(db, CACHE_APP_ID, CACHE_SCHEMA_VERSION, unreadable, v->why,
		                    sizeof(v->why));
	if (r < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int open_db(const char *path, struct verdict *v, sqlite3 **ret_db)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *mode;
	int version = 0, rc, r;

	/* No SQLITE_OPEN_CREATE: prepare_file() made the file with our mode; if it is gone now, fail
	 * rather than let SQLite create it with the umask's. */
	r = db_open(path, SQLITE_OPEN_READWRITE, CACHE_BUSY_TIMEOUT_MS, &db);
	if (r == -DB_EBROKEN)
		return broken(v, "is not a readable database", NULL);
	if (r < 0)
		return r;

	r = check_db(db, v, &version);
	if (r == 0) {
		/* WAL: a listing or a lookup never waits for a write. Where WAL cannot work (no shared
		 * memory on the file system) SQLite keeps its rollback journal, which is slower but correct. */
		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			mode = (const char *)sqlite3_column_text(st, 0);
			if (mode == NULL || strcmp(mode, "wal") != 0)
				log_info("cache: %s stays in journal mode %s", path, mode ? mode : "?");
		} else {
			r = failed(db, rc, v);
		}
		sqlite3_finalize(st);
	}
	/* In WAL mode NORMAL cannot corrupt the file; a crash may only lose the last writes, which for a
	 * cache means one more card read. */
	if (r == 0 && (rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL)) != SQLITE_OK)
		r = failed(db, rc, v);
	if (r == 0 &&
	    (rc = sqlite3_exec(db, "PRAGMA cache_size = " DB_CACHE_SIZE, NULL, NULL, NULL)) != SQLITE_OK)
		r = failed(db, rc, v);
	if (r == 0 && version < CACHE_SCHEMA_VERSION)
		r = migrate(db, v);
	if (r < 0) {
		db_close_untouched(db);
		return r;
	}
	*ret_db = db;
	return 0;
}

/* state_dir must be ours and writable by us alone: the file's tokens are what PKCS#11 applications are
 * told about the card, so nobody else may swap it. */
static int open_state_dir(const char *state_dir, int *ret_fd)
{
	return privdir_open("cache", state_dir, 022, ret_fd);
}

static const char *const side_files[] = {"-wal", "-shm"};

/* Makes sure CACHE_FILE is a regular file of mode 0600 before SQLite opens it (SQLite gives the -wal
 * and -shm files the mode of the database). Must not keep a descriptor open: closing any descriptor
 * of the file drops SQLite's POSIX locks on it. */
static int prepare_file(int dirfd, struct verdict *v)
{
	struct stat st;
	int fd, r = 0;

	/* A -wal left beside a new, empty file is not replayed into it: SQLite deletes a WAL next to a
	 * zero-length database (test_stale_journal_without_its_database_is_not_replayed). */
	fd = openat(dirfd, CACHE_FILE, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (fstatat(dirfd, CACHE_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return broken(v, "is not a regular file", NULL);
		fd = openat(dirfd, CACHE_FILE, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && !S_ISREG(st.st_mode))
		r = broken(v, "is not a regular file", NULL);
	if (r == 0 && (st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Renames CACHE_FILE and its -wal and -shm to CACHE_FILE.broken-<unix time>[.n][-wal|-shm]: kept for
 * whoever wants to know what happened, and out of the way of the new file. */
static int move_aside(int dirfd, char *ret_name, size_t size)
{
	char name[64], from[64], to[96];
	long long now = (long long)time(NULL);
	struct stat st;
	int n;

	for (n = 0; n < 100; n++) {
		if (n == 0)
			snprintf(name, sizeof(name), "%s.broken-%lld", CACHE_FILE, now);
		else
			snprintf(name, sizeof(name), "%s.broken-%lld.%d", CACHE_FILE, now, n);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			break;
	}
	if (n == 100)
		return -EEXIST;
	if (renameat(dirfd, CACHE_FILE, dirfd, name) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(side_files) / sizeof(side_files[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", CACHE_FILE, side_files[i]);
		snprintf(to, sizeof(to), "%s%s", name, side_files[i]);
		/* A journal that cannot be moved must still go: it belongs to the old file. */
		if (renameat(dirfd, from, dirfd, to) < 0 && errno != ENOENT && unlinkat(dirfd, from, 0) < 0 &&
		    errno != ENOENT)
			return -errno;
	}
	snprintf(ret_name, size, "%s", name);
	return 0;
}

static int open_file(int dirfd, const char *path, struct verdict *v, sqlite3 **ret_db)
{
	int r;

	r = prepare_file(dirfd, v);
	if (r < 0)
		return r;
	return open_db(path, v, ret_db);
}

static int prepare_all(struct cache *c)
{
	const struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
	        {&c->put, "INSERT INTO cards (driver, id, label, serial, last_seen, objects, token)"
	                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	                  " ON CONFLICT (driver, id) DO UPDATE SET label = excluded.label,"
	                  " serial = excluded.serial, last_seen = excluded.last_seen,"
	                  " objects = excluded.objects, token = excluded.token"},
	        {&c->get, "SELECT token FROM cards WHERE driver = ?1 AND id = ?2"},
	        {&c->touch, "UPDATE cards SET last_seen = ?3 WHERE driver = ?1 AND id = ?2"},
	        {&c->del, "DELETE FROM cards WHERE driver = ?1 AND id = ?2"},
	        {&c->list, "SELECT driver, id, label, serial, last_seen, objects FROM cards"
	                   " ORDER BY last_seen DESC, driver, id"},
	        {&c->clear, "DELETE FROM cards"},
	};

	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		int rc = sqlite3_prepare_v3(c->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st,
		                            NULL);

		if (rc != SQLITE_OK) {
			log_error("cache: %s: %s", stmts[i].sql, sqlite3_errmsg(c->db));
			return db_error(rc);
		}
	}
	return 0;
}

int cache_open(const char *state_dir, struct cache **ret)
{
	struct verdict v = {{0}};
	struct cache *c = NULL;
	char *path = NULL, aside[64];
	int dirfd = -1, r;

	if (state_dir == NULL || *state_dir == 0)
		return -EINVAL;
	r = open_state_dir(state_dir, &dirfd);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (c == NULL || asprintf(&path, "%s/%s", state_dir, CACHE_FILE) < 0) {
		path = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = open_file(dirfd, path, &v, &c->db);
	if (r == -DB_EBROKEN) {
		r = move_aside(dirfd, aside, sizeof(aside));
		if (r < 0) {
			log_error("cache: %s %s and cannot be moved aside: %s", path, v.why, strerror(-r));
			goto out;
		}
		log_warning("cache: %s %s; moved it to %s/%s and started an empty cache", path, v.why,
		            state_dir, aside);
		r = open_file(dirfd, path, &v, &c->db);
		if (r == -DB_EBROKEN) {
			/* A file we just made cannot be broken: something else is wrong, do not loop. */
			log_error("cache: new %s %s", path, v.why);
			r = -EIO;
		}
	}
	if (r == 0)
		r = prepare_all(c);
out:
	close(dirfd);
	free(path);
	if (r < 0) {
		cache_close(c);
		return r;
	}
	*ret = c;
	return 0;
}

void cache_close(struct cache *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->put);
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->touch);
	sqlite3_finalize(c->del);
	sqlite3_finalize(c->list);
	sqlite3_finalize(c->clear);
	/* The last connection checkpoints the WAL into the file and removes it. */
	sqlite3_close(c->db);
	free(c);
}

static int check_key(const struct cache *c, const char *driver, const uint8_t *id, size_t id_len)
{
	size_t n;

	if (c == NULL || driver == NULL || id == NULL)
		return -EINVAL;
	n = strnlen(driver, CACHE_DRIVER_MAX + 1);
	if (n == 0 || n > CACHE_DRIVER_MAX || id_len == 0 || id_len > CACHE_ID_MAX)
		return -EINVAL;
	return 0;
}

/* Binds ?1 driver and ?2 id. The values are STATIC: every caller resets the statement before the
 * caller's buffers can go away. */
static int bind_key(sqlite3_stmt *st, const char *driver, const uint8_t *id, size_t id_len)
{
	int rc;

	rc = sqlite3_bind_text(st, 1, driver, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, 2, id, (int)id_len, SQLITE_STATIC);
	return rc;
}

/* Runs a statement that returns no rows and leaves it ready for the next call. */
static int run(struct cache *c, sqlite3_stmt *st, int rc)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_debug("cache: %s: %s", sqlite3_sql(st), sqlite3_errmsg(c->db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(rc);
}

int cache_put_token(struct cache *c, const char *driver, const uint8_t *id, size_t id_len,
                    const struct token *tok)
{
	struct proto_buf w = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB);
	size_t label_len;
	int rc, r;

	r = check_key(c, driver, id, id_len);
	if (r < 0 || tok == NULL)
		return r < 0 ? r : -EINVAL;
	r = token_serialize(tok, &w);
	if (r < 0) {
		proto_buf_free(&w);
		return r;
	}
	/* The label is padded to 32 characters on the card; a listing wants the text. */
	label_len = token_text_len(tok->label, sizeof(tok->label) - 1);
	rc = bind_key(c->put, driver, id, id_len);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(c->put, 3, tok->label, (int)label_len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(c->put, 4, tok->serial,
		                       (int)strnlen(tok->serial, sizeof(tok->serial) - 1), SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(c->put, 5, (sqlite3_int64)time(NULL));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(c->put, 6, (sqlite3_int64)tok->nobjs);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(c->put, 7, w.data, (int)w.len, SQLITE_STATIC);
	r = run(c, c->put, rc);
	proto_buf_free(&w);
	return r;
}

int cache_get_token(struct cache *c, const char *driver, const uint8_t *id, size_t id_len, struct token **ret)
{
	struct token *t = NULL;
	const void *blob;
	int rc, r;

	r = check_key(c, driver, id, id_len);
	if (r < 0 || ret == NULL)
		return r < 0 ? r : -EINVAL;
	rc = bind_key(c->get, driver, id, id_len);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(c->get);
	if (rc == SQLITE_ROW) {
		/* Decoded straight from SQLite's buffer, valid until the reset below. */
		blob = sqlite3_column_blob(c->get, 0);
		r = token_deserialize(blob, blob ? (size_t)sqlite3_column_bytes(c->get, 0) : 0, &t);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		log_debug("cache: lookup: %s", sqlite3_errmsg(c->db));
		r = db_error(rc);
	}
	sqlite3_reset(c->get);
	sqlite3_clear_bindings(c->get);
	if (r == -EBADMSG) {
		/* Damaged or from another imzad version: the card will be read again and stored anew. */
		log_warning("cache: dropping an unreadable entry of driver %s", driver);
		r = run(c, c->del, bind_key(c->del, driver, id, id_len));
		return r < 0 ? r : -ENOENT;
	}
	if (r < 0)
		return r;
	/* Best effort: a failed timestamp must not cost the caller its hit. */
	rc = bind_key(c->touch, driver, id, id_len);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(c->touch, 3, (sqlite3_int64)time(NULL));
	run(c, c->touch, rc);
	*ret = t;
	return 0;
}

int cache_list(struct cache *c, int (*cb)(void *ud, const struct cache_entry *e), void *ud)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	if (c == NULL || cb == NULL)
		return -EINVAL;
	st = c->list;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *driver = (const char *)sqlite3_column_text(st, 0);
		const uint8_t *id = sqlite3_column_blob(st, 1);
		size_t id_len = (size_t)sqlite3_column_bytes(st, 1);
		const char *label = (const char *)sqlite3_column_text(st, 2);
		const char *serial = (const char *)sqlite3_column_text(st, 3);
		sqlite3_int64 objects = sqlite3_column_int64(st, 5);
		/* Columns are NOT NULL, but the file is outside our control: never hand out NULL. */
		struct cache_entry e = {
		        .driver = driver ? driver : "",
		        .id = id ? id : (const uint8_t *)"",
		        .id_len = id ? id_len : 0,
		        .label = label ? label : "",
		        .serial = serial ? serial : "",
		        .last_seen = sqlite3_column_int64(st, 4),
		        .nobjs = objects < 0 ? 0 : (size_t)objects,
		};

		r = cb(ud, &e);
		if (r < 0)
			break;
		r = 0;
	}
	if (r == 0 && rc != SQLITE_DONE) {
		log_debug("cache: list: %s", sqlite3_errmsg(c->db));
		r = db_error(rc);
	}
	sqlite3_reset(st);
	return r;
}

int cache_forget(struct cache *c, const char *driver, const uint8_t *id, size_t id_len)
{
	int r;

	r = check_key(c, driver, id, id_len);
	if (r < 0)
		return r;
	r = run(c, c->del, bind_key(c->del, driver, id, id_len));
	if (r < 0)
		return r;
	return sqlite3_changes(c->db) > 0 ? 0 : -ENOENT;
}

int cache_clear(struct cache *c)
{
	if (c == NULL)
		return -EINVAL;
	return run(c, c->clear, SQLITE_OK);
}
