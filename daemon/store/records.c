/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's records (see records.h): one SQLite file in the state directory, WAL mode, schema versioned by
 * PRAGMA user_version and marked ours by PRAGMA application_id. The records are the user's own history
 * and decisions: whatever is wrong with the file, it stays where it is, untouched, for the user (or
 * `imzactl records check`) to look at; imzad goes on without it and refuses what needs it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "daemon/store/db.h"
#include "daemon/log.h"
#include "daemon/store/privdir.h"
#include "daemon/store/records.h"
#include "daemon/web/site.h"

/* "imzR": tells the records from the cache ("imza") and from another program's database. */
#define RECORDS_APP_ID 0x696d7a52
#define RECORDS_BUSY_TIMEOUT_MS 2000
#define CACHE_FILE "cache.sqlite"

/* migrations[v] takes the file from user_version v to v + 1, in one transaction with the version bump.
 * Never edit a released step; append a new one.
 *
 * v1:
 * audit: one row per signature or private-key operation that was served (queued, for web requests).
 *   time: unix time. origin: the web origin, or the local program that asked through imzad's own call
 *   (imzactl sign), as imzad describes it; NULL for PKCS#11 operations, which name app_exe and app_pid
 *   (the client's executable and pid, from SO_PEERCRED and /proc). cert_sha256: SHA-256 of the
 *   certificate's DER (web, imzactl); key_id: the key's CKA_ID (PKCS#11). content_sha256: SHA-256 of
 *   the document (web, imzactl) or of the input the key was applied to (PKCS#11: the formatted block or
 *   the ciphertext). result: "ok" or a short reason it was not done.
 * allows: web origins (scheme://host[:port]) the user allowed "always".
 * denials: sites (registrable domains, site.h) the user denied; every origin of the site is denied. */
static const char *const migrations[] = {
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  time INTEGER NOT NULL,"
        "  origin TEXT,"
        "  app_exe TEXT,"
        "  app_pid INTEGER,"
        "  cert_sha256 BLOB,"
        "  key_id BLOB,"
        "  content_sha256 BLOB,"
        "  result TEXT NOT NULL);"
        "CREATE TABLE allows (origin TEXT PRIMARY KEY, time INTEGER NOT NULL);"
        "CREATE TABLE denials (site TEXT PRIMARY KEY, time INTEGER NOT NULL);",
};
#define RECORDS_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* Statements prepared once and kept (every signature adds an audit row: parsing its SQL each time cost
 * more than the rest of the call), found by the address of their SQL text. */
#define STMT_CACHE 12
struct cached_stmt {
	const char *sql;
	sqlite3_stmt *st;
	bool busy; /* handed out and not released yet: a nested use prepares its own */
};

struct records {
	sqlite3 *db; /* NULL: unusable */
	char *path;
	char why[256];
	struct cached_stmt stmts[STMT_CACHE];
};

static void stmts_finalize(struct records *rec)
{
	for (size_t i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(rec->stmts[i].st);
		rec->stmts[i] = (struct cached_stmt){0};
	}
}

/* Every SQLite failure worded the records' way: "is damaged" or "cannot be used". */
static int query_int(sqlite3 *db, const char *sql, char *why, size_t cap, int64_t *ret_v)
{
	return db_query_int(db, sql, db_failed, why, cap, ret_v);
}

/* Whether the file is ours (or new) and not newer than this imzad: 0 and the version, or -DB_EBROKEN. */
static int check_owner(sqlite3 *db, char *why, size_t cap, int64_t *ret_version)
{
	int64_t app_id = 0, version = 0, objects = 0;
	char detail[96];
	int r;

	r = query_int(db, "PRAGMA application_id", why, cap, &app_id);
	if (r == 0)
		r = query_int(db, "PRAGMA user_version", why, cap, &version);
	if (r < 0)
		return r;
	if (version > RECORDS_SCHEMA_VERSION || version < 0) {
		snprintf(detail, sizeof(detail), "schema version %lld, this imzad knows %d",
		         (long long)version, RECORDS_SCHEMA_VERSION);
		return db_say(why, cap, -DB_EBROKEN, "was written by a newer imzad", detail);
	}
	if (version == 0) {
		/* Migrations bump the version in their own transaction: a file of ours at 0 is empty. */
		r = query_int(db, "SELECT count(*) FROM sqlite_master", why, cap, &objects);
		if (r < 0)
			return r;
		if (objects > 0 || app_id != 0)
			return db_say(why, cap, -DB_EBROKEN, "belongs to another program", NULL);
	} else if (app_id != RECORDS_APP_ID) {
		return db_say(why, cap, -DB_EBROKEN, "belongs to another program", NULL);
	}
	*ret_version = version;
	return 0;
}

/* ---- taking over an older imzad's rows from the cache file ---- */

static int exec_bound(sqlite3 *db, const char *sql, const char *text)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK && text)
		rc = sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return db_errno(rc);
}

/* Attaches an older imzad's cache file (schema v1, which held the audit log and the answers) as "old":
 * true when it is there with both tables. ATTACH cannot run inside a transaction, and would create a
 * missing file: only a regular file that is there is attached. */
static bool attach_old(sqlite3 *db, int dirfd, const char *state_dir)
{
	sqlite3_stmt *st = NULL;
	struct stat sb;
	char *path = NULL;
	int64_t n = 0;
	int r;

	if (fstatat(dirfd, CACHE_FILE, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size == 0)
		return false;
	if (asprintf(&path, "%s/%s", state_dir, CACHE_FILE) < 0)
		return false;
	r = exec_bound(db, "ATTACH DATABASE ?1 AS old", path);
	free(path);
	if (r < 0)
		return false;
	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM old.sqlite_master WHERE type = 'table' AND name IN"
	                       " ('audit', 'grants')",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (n != 2) {
		sqlite3_exec(db, "DETACH DATABASE old", NULL, NULL, NULL);
		return false;
	}
	return true;
}

/* Copies the attached old file's audit rows and answers, inside the records' first transaction: the
 * take-over happens once, with the file's creation (the cache drops the tables in its own v2). The old
 * "deny" answers were per origin; they become their site's. A savepoint keeps a half copy out. */
static void copy_old(sqlite3 *db, const char *state_dir)
{
	sqlite3_stmt *st = NULL, *ins = NULL;
	char site[SITE_MAX], scratch[8];
	int64_t n = 0, m = 0;
	int rc, r;

	if (sqlite3_exec(db, "SAVEPOINT take_over", NULL, NULL, NULL) != SQLITE_OK)
		return;
	r = exec_bound(
	        db,
	        "INSERT INTO audit (time, origin, cert_sha256, content_sha256, result)"
	        " SELECT time, substr(origin, 1, 320), cert_sha256, content_sha256, substr(result, 1, 128)"
	        " FROM old.audit ORDER BY seq",
	        NULL);
	if (r == 0)
		r = exec_bound(
		        db,
		        "INSERT OR IGNORE INTO allows (origin, time) SELECT substr(origin, 1, 320), time"
		        " FROM old.grants WHERE decision = 'allow'",
		        NULL);
	rc = sqlite3_prepare_v2(db, "SELECT origin, time FROM old.grants WHERE decision = 'deny'", -1, &st,
	                        NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO denials (site, time) VALUES (?1, ?2)", -1,
		                        &ins, NULL);
	while (r == 0 && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *origin = (const char *)sqlite3_column_text(st, 0);

		rc = SQLITE_OK;
		if (origin == NULL || site_of_origin(origin, site, sizeof(site)) < 0)
			continue;
		sqlite3_reset(ins);
		if (sqlite3_bind_text(ins, 1, site, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(ins, 2, sqlite3_column_int64(st, 1)) != SQLITE_OK ||
		    sqlite3_step(ins) != SQLITE_DONE)
			r = -EIO;
		else
			m++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_error(rc);
	sqlite3_finalize(st);
	sqlite3_finalize(ins);
	if (r == 0) {
		sqlite3_exec(db, "RELEASE take_over", NULL, NULL, NULL);
		query_int(db, "SELECT count(*) FROM audit", scratch, sizeof(scratch), &n);
		log_info("records: took over %lld audit rows, the allowed origins and %lld denied sites from "
		         "%s/%s",
		         (long long)n, (long long)m, state_dir, CACHE_FILE);
	} else {
		sqlite3_exec(db, "ROLLBACK TO take_over", NULL, NULL, NULL);
		sqlite3_exec(db, "RELEASE take_over", NULL, NULL, NULL);
		log_warning("records: could not take over the rows of %s/%s (%s); starting empty", state_dir,
		            CACHE_FILE, strerror(-r));
	}
}

static int migrate(sqlite3 *db, int64_t from, int dirfd, const char *state_dir, char *why, size_t cap)
{
	bool old = from == 0 && attach_old(db, dirfd, state_dir);
	int64_t version = 0;
	int rc, r;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = db_failed(db, rc, why, cap);
		goto out;
	}
	/* Again inside the write lock: another process may have migrated meanwhile. */
	r = query_int(db, "PRAGMA user_version", why, cap, &version);
	if (r == 0 && version != from)
		r = db_say(why, cap, -EBUSY, "was changed by another process while opening", NULL);
	if (r == 0)
		r = db_migrate(db, migrations, &version, RECORDS_SCHEMA_VERSION, db_failed, why, cap);
	if (r == 0 && old)
		copy_old(db, state_dir);
	if (r == 0)
		r = db_stamp_commit(db, RECORDS_APP_ID, RECORDS_SCHEMA_VERSION, db_failed, why, cap);
	if (r < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	if (old)
		sqlite3_exec(db, "DETACH DATABASE old", NULL, NULL, NULL);
	return r;
}

/* The file must be a regular file of mode 0600 (SQLite gives -wal and -shm the database's mode). A new
 * one is made here with that mode; an existing one is only looked at. No descriptor is kept: closing
 * any descriptor of the file would drop SQLite's locks on it. */
static int prepare_file(int dirfd, char *why, size_t cap, bool *ret_new)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, RECORDS_FILE, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		*ret_new = true;
		return 0;
	}
	if (errno != EEXIST)
		return db_say(why, cap, -errno, "cannot be created", strerror(errno));
	if (fstatat(dirfd, RECORDS_FILE, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return db_say(why, cap, -errno, "cannot be read", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return db_say(why, cap, -DB_EBROKEN, "is not a regular file", NULL);
	if ((st.st_mode & 07777) != 0600 && fchmodat(dirfd, RECORDS_FILE, 0600, 0) < 0)
		return db_say(why, cap, -errno, "cannot be made 0600", strerror(errno));
	*ret_new = false;
	return 0;
}

static int open_db(struct records *rec, int dirfd, const char *state_dir)
{
	char *why = rec->why;
	size_t cap = sizeof(rec->why);
	sqlite3 *db = NULL;
	int64_t version = 0;
	bool fresh = false;
	int r, rc;

	r = prepare_file(dirfd, why, cap, &fresh);
	if (r < 0)
		return r;
	/* No SQLITE_OPEN_CREATE: prepare_file made the file with our mode. */
	r = db_open(rec->path, SQLITE_OPEN_READWRITE, RECORDS_BUSY_TIMEOUT_MS, &db);
	if (r < 0)
		return db_say(why, cap, r, "cannot be opened", strerror(-r));
	r = check_owner(db, why, cap, &version);
	if (r == 0)
		r = db_integrity(db, "PRAGMA quick_check(1)", db_failed, why, cap);
	if (r == 0 && (rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL)) != SQLITE_OK)
		r = db_failed(db, rc, why, cap);
	/* FULL: a record is a record; a crash must not lose the last one written. */
	if (r == 0 && (rc = sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL)) != SQLITE_OK)
		r = db_failed(db, rc, why, cap);
	if (r == 0 &&
	    (rc = sqlite3_exec(db, "PRAGMA cache_size = " DB_CACHE_SIZE, NULL, NULL, NULL)) != SQLITE_OK)
		r = db_failed(db, rc, why, cap);
	if (r == 0 && version < RECORDS_SCHEMA_VERSION)
		r = migrate(db, version, dirfd, state_dir, why, cap);
	if (r < 0) {
		db_close_untouched(db);
		/* An empty file we made ourselves is nobody's record: remove it rather than leave it. */
		if (fresh)
			unlinkat(dirfd, RECORDS_FILE, 0);
		return r;
	}
	rec->db = db;
	return 0;
}

int records_open(const char *state_dir, struct records **ret)
{
	struct records *rec;
	int dirfd = -1, r;

	if (state_dir == NULL || *state_dir == '\0' || ret == NULL)
		return -EINVAL;
	r = privdir_open("records", state_dir, 022, &dirfd);
	if (r < 0)
		return r;
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL || asprintf(&rec->path, "%s/%s", state_dir, RECORDS_FILE) < 0) {
		free(rec);
		close(dirfd);
		return -ENOMEM;
	}
	r = open_db(rec, dirfd, state_dir);
	close(dirfd);
	if (r < 0)
		log_error("records: %s %s; it is left as it is. Web signing is refused until it is fixed or "
		          "removed"
		          " (imzactl records check)",
		          rec->path, rec->why);
	else
		rec->why[0] = '\0';
	*ret = rec;
	return 0;
}

void records_close(struct records *r)
{
	if (r == NULL)
		return;
	stmts_finalize(r);
	sqlite3_close(r->db);
	free(r->path);
	free(r);
}

bool records_usable(const struct records *r)
{
	return r && r->db;
}

const char *records_why(const struct records *r)
{
	return r == NULL ? "imzad has no state directory" : r->db ? "" : r->why;
}

int records_check(const struct records *rec, struct records_check *ret)
{
	struct records_check c = {.ok = false, .version = -1, .known = RECORDS_SCHEMA_VERSION};
	sqlite3 *db = NULL;
	int r;

	if (rec == NULL || ret == NULL)
		return -EINVAL;
	/* Read-only, never created: the check must not change what it checks. */
	r = db_open(rec->path, SQLITE_OPEN_READONLY, RECORDS_BUSY_TIMEOUT_MS, &db);
	if (r < 0) {
		snprintf(c.detail, sizeof(c.detail), "%s cannot be opened (%s)", rec->path, strerror(-r));
		*ret = c;
		return 0;
	}
	r = check_owner(db, c.detail, sizeof(c.detail), &c.version);
	if (r < 0) {
		char scratch[8];

		query_int(db, "PRAGMA user_version", scratch, sizeof(scratch), &c.version);
	}
	if (r == 0)
		r = db_integrity(db, "PRAGMA integrity_check(10)", db_failed, c.detail, sizeof(c.detail));
	if (r == 0) {
		c.ok = true;
		snprintf(c.detail, sizeof(c.detail), "%s: integrity ok, schema version %lld", rec->path,
		         (long long)c.version);
	} else {
		char why[sizeof(c.detail)];

		memcpy(why, c.detail, sizeof(why));
		why[sizeof(why) - 1] = '\0';
		/* Cut to fit: the path comes first, then as much of the reason as there is room for. */
		snprintf(c.detail, sizeof(c.detail), "%s %.*s", rec->path, 120, why);
	}
	db_close_untouched(db);
	*ret = c;
	return 0;
}

/* ---- statements ---- */

/* SQLite says the file is damaged while in use: stop using it (no more web signing) and say so once. */
static int in_use_failed(struct records *rec, int rc)
{
	int r = db_error(rc);

	log_debug("records: %s", sqlite3_errmsg(rec->db));
	if (r == -DB_EBROKEN) {
		snprintf(rec->why, sizeof(rec->why), "was found damaged while in use (%s)",
		         sqlite3_errmsg(rec->db));
		log_error("records: %s %s; it is left as it is. Web signing is refused until it is fixed",
		          rec->path, rec->why);
		stmts_finalize(rec);
		db_close_untouched(rec->db);
		rec->db = NULL;
	}
	return r;
}

/* The statement for sql (a string literal: its address names it), prepared at its first use and
 * kept; release() gives it back. */
static int prepare(struct records *rec, const char *sql, sqlite3_stmt **ret)
{
	struct cached_stmt *free_slot = NULL;
	sqlite3_stmt *st;
	int rc;

	if (!records_usable(rec))
		return -ENXIO;
	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct cached_stmt *c = &rec->stmts[i];

		if (c->sql == sql && !c->busy) {
			c->busy = true;
			*ret = c->st;
			return 0;
		}
		if (c->sql == NULL && free_slot == NULL)
			free_slot = c;
	}
	rc = sqlite3_prepare_v3(rec->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL);
	if (rc != SQLITE_OK)
		return in_use_failed(rec, rc);
	if (free_slot)
		*free_slot = (struct cached_stmt){.sql = sql, .st = st, .busy = true};
	*ret = st;
	return 0;
}

/* Done with a statement from prepare(): a kept one is reset and loses its bindings (they point at
 * the caller's memory), any other is freed. */
static void release(struct records *rec, sqlite3_stmt *st)
{
	for (size_t i = 0; i < STMT_CACHE; i++) {
		if (rec->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			rec->stmts[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

/* Runs a statement that returns no rows, then releases it. */
static int run(struct records *rec, sqlite3_stmt *st, int rc)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	release(rec, st);
	return rc == SQLITE_DONE ? 0 : in_use_failed(rec, rc);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
	return s ? sqlite3_bind_text(st, i, s, (int)strnlen(s, cap), SQLITE_STATIC)
	         : sqlite3_bind_null(st, i);
}

static int bind_blob(sqlite3_stmt *st, int i, const uint8_t *p, size_t n)
{
	return p ? sqlite3_bind_blob(st, i, p, (int)n, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* The INSERT of audit_add and audit_begin; *ret_seq (if asked) gets the new row's seq. */
static int audit_insert(struct records *rec, const struct audit_entry *e, int64_t *ret_seq)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (e == NULL || e->result == NULL || (e->key_id && e->key_id_len > RECORDS_KEY_ID_MAX))
		return -EINVAL;
	r = prepare(rec,
	            "INSERT INTO audit (time, origin, app_exe, app_pid, cert_sha256, key_id, content_sha256, "
	            "result)"
	            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	            &st);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, e->time);
	if (rc == SQLITE_OK)
		rc = bind_text(st, 2, e->origin, RECORDS_ORIGIN_MAX);
	if (rc == SQLITE_OK)
		rc = bind_text(st, 3, e->exe, RECORDS_EXE_MAX);
	if (rc == SQLITE_OK)
		rc = e->exe ? sqlite3_bind_int64(st, 4, e->pid) : sqlite3_bind_null(st, 4);
	if (rc == SQLITE_OK)
		rc = bind_blob(st, 5, e->cert_sha256, 32);
	if (rc == SQLITE_OK)
		rc = bind_blob(st, 6, e->key_id, e->key_id_len);
	if (rc == SQLITE_OK)
		rc = bind_blob(st, 7, e->content_sha256, 32);
	if (rc == SQLITE_OK)
		rc = bind_text(st, 8, e->result, RECORDS_RESULT_MAX);
	r = run(rec, st, rc);
	if (r < 0)
		return r;
	if (ret_seq)
		*ret_seq = (int64_t)sqlite3_last_insert_rowid(rec->db);
	r = prepare(rec, "DELETE FROM audit WHERE seq <= last_insert_rowid() - ?1", &st);
	if (r < 0)
		return r;
	return run(rec, st, sqlite3_bind_int64(st, 1, RECORDS_AUDIT_KEEP));
}

int audit_add(struct records *rec, const struct audit_entry *e)
{
	return audit_insert(rec, e, NULL);
}

int audit_begin(struct records *rec, const struct audit_entry *e, int64_t *ret_seq)
{
	if (ret_seq == NULL)
		return -EINVAL;
	*ret_seq = 0;
	return audit_insert(rec, e, ret_seq);
}

/* One statement, prepared once. */
static int exec_cached(struct records *rec, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int r = prepare(rec, sql, &st);

	return r < 0 ? r : run(rec, st, SQLITE_OK);
}

int audit_end(struct records *rec, int64_t seq, const char *result)
{
	sqlite3_stmt *st = NULL;
	int rc, r, r2;

	if (seq <= 0 || result == NULL)
		return -EINVAL;
	/* The begun row is on disk already: this one need not wait for it (see records.h). */
	r = exec_cached(rec, "PRAGMA synchronous = NORMAL");
	if (r == 0)
		r = prepare(rec, "UPDATE audit SET result = ?2 WHERE seq = ?1", &st);
	if (r == 0) {
		rc = sqlite3_bind_int64(st, 1, seq);
		if (rc == SQLITE_OK)
			rc = bind_text(st, 2, result, RECORDS_RESULT_MAX);
		r = run(rec, st, rc);
	}
	r2 = exec_cached(rec, "PRAGMA synchronous = FULL");
	return r < 0 ? r : r2;
}

static const uint8_t *column_blob(sqlite3_stmt *st, int i, size_t want_max, size_t *ret_len)
{
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	const uint8_t *p = sqlite3_column_blob(st, i);

	/* The file is outside our control: a value of the wrong size is no value. */
	if (p == NULL || n == 0 || n > want_max)
		return NULL;
	if (ret_len)
		*ret_len = n;
	return p;
}

static const uint8_t *column_hash(sqlite3_stmt *st, int i)
{
	return sqlite3_column_bytes(st, i) == 32 ? sqlite3_column_blob(st, i) : NULL;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Steps st, calling row() for each row; row's negative return stops and is returned. Releases st. */
static int each_row(struct records *rec, sqlite3_stmt *st, int rc, int (*row)(sqlite3_stmt *st, void *ud),
                    void *ud)
{
	int r = 0;

	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if ((r = row(st, ud)) < 0)
				break;
	}
	release(rec, st);
	if (r == 0 && rc != SQLITE_DONE)
		r = in_use_failed(rec, rc);
	return r;
}

struct audit_walk {
	int (*cb)(void *ud, const struct audit_entry *e);
	void *ud;
};

static int audit_row(sqlite3_stmt *st, void *ud)
{
	struct audit_walk *w = ud;
	const char *exe = column_text(st, 3);
	const char *result = column_text(st, 8);
	struct audit_entry e = {
	        .seq = sqlite3_column_int64(st, 0),
	        .time = sqlite3_column_int64(st, 1),
	        .origin = column_text(st, 2),
	        .exe = exe,
	        .pid = exe ? sqlite3_column_int64(st, 4) : 0,
	        .cert_sha256 = column_hash(st, 5),
	        .content_sha256 = column_hash(st, 7),
	        .result = result ? result : "",
	};

	e.key_id = column_blob(st, 6, RECORDS_KEY_ID_MAX, &e.key_id_len);
	if (e.key_id == NULL)
		e.key_id_len = 0;
	if (e.origin == NULL && e.exe == NULL)
		e.origin = "";
	return w->cb(w->ud, &e) < 0 ? -ECANCELED : 0;
}

int audit_list(struct records *rec, int64_t after, unsigned limit,
               int (*cb)(void *ud, const struct audit_entry *e), void *ud)
{
	struct audit_walk w = {cb, ud};
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (cb == NULL)
		return -EINVAL;
	r = prepare(
	        rec,
	        after < 0 ? "SELECT * FROM (SELECT seq, time, origin, app_exe, app_pid, cert_sha256, key_id,"
	                    " content_sha256, result FROM audit ORDER BY seq DESC LIMIT ?1) ORDER BY seq"
	                  : "SELECT seq, time, origin, app_exe, app_pid, cert_sha256, key_id, content_sha256,"
	                    " result FROM audit WHERE seq > ?2 ORDER BY seq LIMIT ?1",
	        &st);
	if (r < 0)
		return r;
	rc = sqlite3_bind_int64(st, 1, limit);
	if (rc == SQLITE_OK && after >= 0)
		rc = sqlite3_bind_int64(st, 2, after);
	return each_row(rec, st, rc, audit_row, &w);
}

/* ---- standing answers ---- */

static int found_row(sqlite3_stmt *st, void *ud)
{
	*(bool *)ud = true;
	return 0;
}

static int lookup(struct records *rec, const char *sql, const char *key, size_t cap)
{
	sqlite3_stmt *st = NULL;
	bool found = false;
	int r;

	if (key == NULL || *key == '\0')
		return -EINVAL;
	r = prepare(rec, sql, &st);
	if (r < 0)
		return r;
	r = each_row(rec, st, bind_text(st, 1, key, cap), found_row, &found);
	if (r < 0)
		return r;
	return found ? 0 : -ENOENT;
}

static int store(struct records *rec, const char *sql, const char *key, size_t cap, int64_t time)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (key == NULL || *key == '\0')
		return -EINVAL;
	r = prepare(rec, sql, &st);
	if (r < 0)
		return r;
	rc = bind_text(st, 1, key, cap);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, time);
	return run(rec, st, rc);
}

int records_allow_get(struct records *rec, const char *origin)
{
	return lookup(rec, "SELECT 1 FROM allows WHERE origin = ?1", origin, RECORDS_ORIGIN_MAX);
}

int records_allow_put(struct records *rec, const char *origin, int64_t time)
{
	return store(rec,
	             "INSERT INTO allows (origin, time) VALUES (?1, ?2)"
	             " ON CONFLICT (origin) DO UPDATE SET time = excluded.time",
	             origin, RECORDS_ORIGIN_MAX, time);
}

int records_deny_get(struct records *rec, const char *site)
{
	return lookup(rec, "SELECT 1 FROM denials WHERE site = ?1", site, SITE_MAX);
}

int records_deny_put(struct records *rec, const char *site, int64_t time)
{
	return store(rec,
	             "INSERT INTO denials (site, time) VALUES (?1, ?2)"
	             " ON CONFLICT (site) DO UPDATE SET time = excluded.time",
	             site, SITE_MAX, time);
}

static int remove_one(struct records *rec, const char *sql, const char *key, size_t cap, bool *ret_removed)
{
	sqlite3_stmt *st = NULL;
	int r;

	*ret_removed = false;
	if (key == NULL || *key == '\0')
		return 0;
	r = prepare(rec, sql, &st);
	if (r < 0)
		return r;
	r = run(rec, st, bind_text(st, 1, key, cap));
	if (r == 0)
		*ret_removed = sqlite3_changes(rec->db) > 0;
	return r;
}

int records_forget(struct records *rec, const char *origin, const char *site, unsigned *ret_forgot)
{
	bool allow = false, deny = false;
	int r;

	r = remove_one(rec, "DELETE FROM allows WHERE origin = ?1", origin, RECORDS_ORIGIN_MAX, &allow);
	if (r == 0)
		r = remove_one(rec, "DELETE FROM denials WHERE site = ?1", site, SITE_MAX, &deny);
	if (r < 0)
		return r;
	if (ret_forgot)
		*ret_forgot = (allow ? RECORDS_FORGOT_ALLOW : 0) | (deny ? RECORDS_FORGOT_DENY : 0);
	return 0;
}

struct answer_walk {
	int (*cb)(void *ud, const char *who, bool allow, int64_t time);
	void *ud;
};

static int answer_row(sqlite3_stmt *st, void *ud)
{
	struct answer_walk *w = ud;
	const char *who = column_text(st, 0);

	return w->cb(w->ud, who ? who : "", sqlite3_column_int64(st, 2) != 0, sqlite3_column_int64(st, 1)) < 0
	               ? -ECANCELED
	               : 0;
}

int records_answers_list(struct records *rec, int (*cb)(void *ud, const char *who, bool allow, int64_t time),
                         void *ud)
{
	struct answer_walk w = {cb, ud};
	sqlite3_stmt *st = NULL;
	int r;

	if (cb == NULL)
		return -EINVAL;
	r = prepare(rec,
	            "SELECT origin, time, 1 FROM allows UNION ALL SELECT site, time, 0 FROM denials"
	            " ORDER BY 3 DESC, 1",
	            &st);
	if (r < 0)
		return r;
	return each_row(rec, st, SQLITE_OK, answer_row, &w);
}
