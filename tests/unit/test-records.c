/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the records (daemon/store/records.c): the audit log and the answers for web origins live in
 * records.sqlite apart from the card cache; a damaged, foreign or newer file is never moved aside or
 * changed (imzad runs without records and says why once); an older cache file's rows are taken over
 * once and dropped from the cache; denials are kept per site, allows per origin. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/store/cache.h"
#include "daemon/store/records.h"
#include "tests/lib/capture.h"

static struct {
	char root[64];
	int ndirs;
} fx = {.root = "/tmp/imza-test-records.XXXXXX"};

static int group_setup(void **state)
{
	return mkdtemp(fx.root) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.root);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh state directory, made 0700. */
static void new_dir(char *buf, size_t size)
{
	snprintf(buf, size, "%s/state%d", fx.root, fx.ndirs++);
	assert_int_equal(mkdir(buf, 0700), 0);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", stmt, err);
	sqlite3_close(db);
}

/* The whole file, for byte-for-byte comparisons. */
static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* Names in dir other than the records file, its journals and the cache's. */
static int strangers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strncmp(e->d_name, "records.sqlite", 14) != 0 &&
		    strncmp(e->d_name, "cache.sqlite", 12) != 0)
			n++;
		else if (strstr(e->d_name, ".broken"))
			n++;
	closedir(d);
	return n;
}

struct audit_seen {
	int n;
	int64_t seq[8], time[8], pid[8];
	char origin[8][64], exe[8][64], result[8][64];
	bool has_origin[8], has_cert[8], has_content[8];
	uint8_t content[8][32], key_id[8][8];
	size_t key_id_len[8];
};

static int audit_collect(void *ud, const struct audit_entry *e)
{
	struct audit_seen *a = ud;

	if (a->n == 8)
		return -E2BIG;
	a->seq[a->n] = e->seq;
	a->time[a->n] = e->time;
	a->pid[a->n] = e->pid;
	a->has_origin[a->n] = e->origin != NULL;
	snprintf(a->origin[a->n], sizeof(a->origin[0]), "%s", e->origin ? e->origin : "");
	snprintf(a->exe[a->n], sizeof(a->exe[0]), "%s", e->exe ? e->exe : "");
	snprintf(a->result[a->n], sizeof(a->result[0]), "%s", e->result);
	a->has_cert[a->n] = e->cert_sha256 != NULL;
	a->has_content[a->n] = e->content_sha256 != NULL;
	if (e->content_sha256)
		memcpy(a->content[a->n], e->content_sha256, 32);
	if (e->key_id && e->key_id_len <= sizeof(a->key_id[0])) {
		memcpy(a->key_id[a->n], e->key_id, e->key_id_len);
		a->key_id_len[a->n] = e->key_id_len;
	}
	a->n++;
	return 0;
}

struct answers_seen {
	int n;
	char who[8][64];
	bool allow[8];
	int64_t time[8];
};

static int answers_collect(void *ud, const char *who, bool allow, int64_t time)
{
	struct answers_seen *g = ud;

	if (g->n == 8)
		return -E2BIG;
	snprintf(g->who[g->n], sizeof(g->who[0]), "%s", who);
	g->allow[g->n] = allow;
	g->time[g->n++] = time;
	return 0;
}

static struct records *open_ok(const char *dir)
{
	struct records *r = NULL;

	assert_int_equal(records_open(dir, &r), 0);
	assert_non_null(r);
	if (!records_usable(r))
		fail_msg("records unusable: %s", records_why(r));
	return r;
}

/* The cache file at path holds no audit log or grants tables (they live in the records). */
static void assert_cache_has_no_records(const char *path)
{
	sqlite3_stmt *q = NULL;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	        sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('audit', 'grants')",
	                           -1, &q, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void test_new_records_file_is_0600_wal_and_apart_from_the_cache(void **state)
{
	char dir[128], path[192];
	struct records *r;
	struct cache *c = NULL;
	struct stat st;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	new_dir(dir, sizeof(dir));
	umask(0);
	r = open_ok(dir);
	umask(022);
	assert_int_equal(cache_open(dir, &c), 0);
	path_in(path, sizeof(path), dir, RECORDS_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
	/* The cache holds no audit log or grants any more. */
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_cache_has_no_records(path);
	cache_close(c);
	records_close(r);
}

static void test_audit_rows_come_back_in_order_with_their_fields(void **state)
{
	char dir[128];
	struct records *r;
	struct audit_seen a = {0};
	uint8_t cert[32], content[32], kid[1] = {0x02};
	struct audit_entry web = {.time = 100,
	                          .origin = "https://portal.example",
	                          .cert_sha256 = cert,
	                          .content_sha256 = content,
	                          .result = "ok"};
	struct audit_entry local = {.time = 101,
	                            .origin = "imzactl (pid 7, /usr/bin/imzactl)",
	                            .content_sha256 = content,
	                            .result = "user_cancelled"};
	struct audit_entry p11 = {.time = 102,
	                          .exe = "/usr/bin/pkcs11-tool",
	                          .pid = 4242,
	                          .key_id = kid,
	                          .key_id_len = 1,
	                          .content_sha256 = content,
	                          .result = "pkcs11 sign: ok"};

	memset(cert, 0xc5, sizeof(cert));
	memset(content, 0x7a, sizeof(content));
	new_dir(dir, sizeof(dir));
	r = open_ok(dir);
	assert_int_equal(audit_add(r, &web), 0);
	assert_int_equal(audit_add(r, &local), 0);
	assert_int_equal(audit_add(r, &p11), 0);
	assert_int_equal(audit_list(r, -1, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 3);
	assert_true(a.seq[0] < a.seq[1] && a.seq[1] < a.seq[2]);
	assert_int_equal(a.time[0], 100);
	assert_string_equal(a.origin[0], "https://portal.example");
	assert_true(a.has_cert[0]);
	assert_string_equal(a.result[1], "user_cancelled");
	assert_false(a.has_cert[1]);
	/* A PKCS#11 row names the application and the key instead of an origin. */
	assert_false(a.has_origin[2]);
	assert_string_equal(a.exe[2], "/usr/bin/pkcs11-tool");
	assert_int_equal(a.pid[2], 4242);
	assert_int_equal(a.key_id_len[2], 1);
	assert_int_equal(a.key_id[2][0], 0x02);
	assert_memory_equal(a.content[2], content, 32);
	/* The last two only, oldest first; then a page after the first row. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(audit_list(r, -1, 2, audit_collect, &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.result[0], "user_cancelled");
	memset(&a, 0, sizeof(a));
	assert_int_equal(audit_list(r, 1, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.seq[0], 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(audit_list(r, 3, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 0);
	local.result = NULL;
	assert_int_equal(audit_add(r, &local), -EINVAL);
	records_close(r);
}

/* A private-key operation's row is on disk as it begins, saying so, and its outcome replaces that
 * result in the same row; a file opened again (another process) reads the outcome. */
static void test_audit_row_begun_then_its_outcome_written_over_it(void **state)
{
	char dir[128];
	struct records *r, *r2;
	struct audit_seen a = {0}, b = {0};
	struct audit_entry e = {.time = 5,
	                        .exe = "/usr/bin/app",
	                        .pid = 42,
	                        .result = "pkcs11 sign: begun, no outcome recorded"};
	int64_t seq = -1, seq2 = -1;

	new_dir(dir, sizeof(dir));
	r = open_ok(dir);
	assert_int_equal(audit_begin(r, &e, &seq), 0);
	assert_true(seq > 0);
	assert_int_equal(audit_begin(r, &e, &seq2), 0);
	assert_int_equal(seq2, seq + 1);
	/* Before its outcome, another reader sees the row as begun. */
	r2 = open_ok(dir);
	assert_int_equal(audit_list(r2, -1, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.result[0], "pkcs11 sign: begun, no outcome recorded");
	records_close(r2);
	assert_int_equal(audit_end(r, seq, "pkcs11 sign: ok"), 0);
	assert_int_equal(audit_end(r, seq2, "pkcs11 sign: failed (CKR 0xa0)"), 0);
	assert_int_equal(audit_end(r, 0, "x"), -EINVAL);
	records_close(r);
	r = open_ok(dir);
	assert_int_equal(audit_list(r, -1, 10, audit_collect, &b), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.seq[0], seq);
	assert_string_equal(b.result[0], "pkcs11 sign: ok");
	assert_string_equal(b.result[1], "pkcs11 sign: failed (CKR 0xa0)");
	assert_string_equal(b.exe[0], "/usr/bin/app");
	assert_int_equal(b.pid[0], 42);
	records_close(r);
}

static void test_audit_keeps_only_the_newest_rows(void **state)
{
	char dir[128], path[192], stmt[160];
	struct records *r;
	struct audit_seen a = {0};
	struct audit_entry e = {.time = 1, .origin = "https://old.example", .result = "ok"};

	new_dir(dir, sizeof(dir));
	r = open_ok(dir);
	assert_int_equal(audit_add(r, &e), 0);
	records_close(r);
	/* A log as long as the cap allows, without writing all of it. */
	path_in(path, sizeof(path), dir, RECORDS_FILE);
	snprintf(stmt, sizeof(stmt),
	         "INSERT INTO audit (seq, time, origin, result) VALUES (%d, 2, 'x', 'ok')",
	         RECORDS_AUDIT_KEEP + 1);
	sql(path, stmt);
	r = open_ok(dir);
	e.origin = "https://new.example";
	assert_int_equal(audit_add(r, &e), 0);
	assert_int_equal(audit_list(r, -1, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.origin[0], "x");
	assert_string_equal(a.origin[1], "https://new.example");
	records_close(r);
}

/* "Deny" is a site's, "allow" an origin's; forget removes both; they outlive a reopened file. */
static void test_deny_is_kept_per_site_allow_per_origin_and_forget_removes_both(void **state)
{
	char dir[128];
	struct records *r;
	struct answers_seen g = {0};
	unsigned forgot = 99;

	new_dir(dir, sizeof(dir));
	r = open_ok(dir);
	assert_int_equal(records_allow_get(r, "https://portal.example"), -ENOENT);
	assert_int_equal(records_allow_put(r, "https://portal.example", 5), 0);
	assert_int_equal(records_deny_put(r, "evil.example", 6), 0);
	assert_int_equal(records_allow_get(r, "https://portal.example"), 0);
	assert_int_equal(records_allow_get(r, "https://other.portal.example"), -ENOENT);
	assert_int_equal(records_deny_get(r, "evil.example"), 0);
	assert_int_equal(records_deny_get(r, "portal.example"), -ENOENT);
	assert_int_equal(records_allow_put(r, "", 1), -EINVAL);
	records_close(r);
	r = open_ok(dir);
	assert_int_equal(records_answers_list(r, answers_collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.who[0], "https://portal.example");
	assert_true(g.allow[0]);
	assert_int_equal(g.time[0], 5);
	assert_string_equal(g.who[1], "evil.example");
	assert_false(g.allow[1]);
	assert_int_equal(g.time[1], 6);
	assert_int_equal(records_forget(r, "https://portal.example", "evil.example", &forgot), 0);
	assert_int_equal(forgot, RECORDS_FORGOT_ALLOW | RECORDS_FORGOT_DENY);
	assert_int_equal(records_forget(r, "https://portal.example", "evil.example", &forgot), 0);
	assert_int_equal(forgot, 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(records_answers_list(r, answers_collect, &g), 0);
	assert_int_equal(g.n, 0);
	records_close(r);
}

/* A records file imzad cannot use stays exactly as it was, nothing is moved aside or made beside it,
 * and the reason is logged once; the records are then unusable. */
static void expect_left_alone(const char *dir, const char *what_logged)
{
	static uint8_t before[65536], after[65536];
	char path[192];
	size_t n0, n1;
	struct records *r = NULL;
	struct capture cap;

	path_in(path, sizeof(path), dir, RECORDS_FILE);
	n0 = slurp(path, before, sizeof(before));
	capture_begin(&cap, fx.root);
	assert_int_equal(records_open(dir, &r), 0);
	assert_int_equal(capture_end(&cap, what_logged), 1);
	assert_non_null(r);
	assert_false(records_usable(r));
	assert_non_null(strstr(records_why(r), what_logged));
	struct audit_entry e = {.time = 1, .origin = "https://x.example", .result = "ok"};
	assert_int_equal(audit_add(r, &e), -ENXIO);
	assert_int_equal(records_allow_put(r, "https://x.example", 1), -ENXIO);
	records_close(r);
	n1 = slurp(path, after, sizeof(after));
	assert_int_equal(n0, n1);
	assert_memory_equal(before, after, n0);
	assert_int_equal(strangers(dir), 0);
}

static void test_damaged_records_file_is_never_moved_aside_or_changed(void **state)
{
	char dir[128], path[192];
	uint8_t junk[8192];
	FILE *f;

	new_dir(dir, sizeof(dir));
	path_in(path, sizeof(path), dir, RECORDS_FILE);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	fclose(f);
	chmod(path, 0600);
	expect_left_alone(dir, "is damaged");
}

static void test_records_of_a_newer_imzad_are_left_alone(void **state)
{
	char dir[128], path[192];
	struct records *r;

	new_dir(dir, sizeof(dir));
	r = open_ok(dir);
	records_close(r);
	path_in(path, sizeof(path), dir, RECORDS_FILE);
	sql(path, "PRAGMA user_version = 99");
	expect_left_alone(dir, "was written by a newer imzad");
}

static void test_another_programs_database_is_left_alone(void **state)
{
	char dir[128], path[192];

	new_dir(dir, sizeof(dir));
	path_in(path, sizeof(path), dir, RECORDS_FILE);
	sql(path, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine')");
	chmod(path, 0600);
	expect_left_alone(dir, "belongs to another program");
}

/* records check reads the file without changing it: ok for a good file, damaged for a broken one. */
static void test_check_says_ok_or_damaged_with_the_schema_version(void **state)
{
	char dir[128], path[192];
	struct records *r;
	struct records_check c;
	sqlite3 *db = NULL;
	uint8_t zero[4096] = {0};
	int fd;

	new_dir(dir, sizeof(dir));
	r = open_ok(dir);
	struct audit_entry e = {.time = 1, .origin = "https://x.example", .result = "ok"};
	for (int i = 0; i < 200; i++)
		assert_int_equal(audit_add(r, &e), 0);
	assert_int_equal(records_check(r, &c), 0);
	assert_true(c.ok);
	assert_int_equal(c.version, 1);
	assert_int_equal(c.known, 1);
	records_close(r);
	/* Damage a page in the middle of the table (not the header): the quick check on open may pass or
	 * not, the full check must not. */
	path_in(path, sizeof(path), dir, RECORDS_FILE);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zero, sizeof(zero), 4096), (ssize_t)sizeof(zero));
	close(fd);
	struct capture cap;
	capture_begin(&cap, fx.root);
	assert_int_equal(records_open(dir, &r), 0);
	capture_end(&cap, "records");
	assert_int_equal(records_check(r, &c), 0);
	assert_false(c.ok);
	assert_non_null(strstr(c.detail, RECORDS_FILE));
	records_close(r);
}

/* An older imzad kept the audit log and the grants in cache.sqlite (schema v1): new records take the
 * rows over once (a deny becomes its site's), and the cache's migration drops them there. */
static void test_rows_of_an_old_cache_file_move_to_the_records_once(void **state)
{
	char dir[128], path[192];
	struct records *r;
	struct cache *c = NULL;
	struct audit_seen a = {0};
	struct answers_seen g = {0};

	new_dir(dir, sizeof(dir));
	path_in(path, sizeof(path), dir, "cache.sqlite");
	sql(path, "CREATE TABLE cards (driver TEXT NOT NULL, id BLOB NOT NULL, label TEXT NOT NULL,"
	          " serial TEXT NOT NULL, last_seen INTEGER NOT NULL, objects INTEGER NOT NULL,"
	          " token BLOB NOT NULL, PRIMARY KEY (driver, id));"
	          "CREATE TABLE audit (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, origin TEXT NOT NULL,"
	          " cert_sha256 BLOB, content_sha256 BLOB, result TEXT NOT NULL);"
	          "CREATE INDEX audit_time ON audit (time);"
	          "CREATE TABLE grants (origin TEXT PRIMARY KEY, decision TEXT NOT NULL CHECK (decision IN"
	          " ('allow', 'deny')), time INTEGER NOT NULL);"
	          "INSERT INTO audit (time, origin, result) VALUES (10, 'https://portal.example', 'ok');"
	          "INSERT INTO audit (time, origin, result) VALUES (11, 'https://evil.example', 'denied');"
	          "INSERT INTO grants VALUES ('https://portal.example', 'allow', 20);"
	          "INSERT INTO grants VALUES ('https://s1.evil.example', 'deny', 21);"
	          "PRAGMA application_id = 1768782433; PRAGMA user_version = 1;");
	chmod(path, 0600);
	r = open_ok(dir);
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(audit_list(r, -1, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.origin[0], "https://portal.example");
	assert_int_equal(a.time[1], 11);
	assert_int_equal(records_answers_list(r, answers_collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.who[0], "https://portal.example");
	assert_true(g.allow[0]);
	assert_string_equal(g.who[1], "evil.example");
	assert_false(g.allow[1]);
	records_close(r);
	cache_close(c);
	/* The cache's tables are gone: a second start takes nothing over again. */
	assert_cache_has_no_records(path);
	r = open_ok(dir);
	memset(&a, 0, sizeof(a));
	assert_int_equal(audit_list(r, -1, 10, audit_collect, &a), 0);
	assert_int_equal(a.n, 2);
	records_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_new_records_file_is_0600_wal_and_apart_from_the_cache),
	        cmocka_unit_test(test_audit_rows_come_back_in_order_with_their_fields),
	        cmocka_unit_test(test_audit_keeps_only_the_newest_rows),
	        cmocka_unit_test(test_audit_row_begun_then_its_outcome_written_over_it),
	        cmocka_unit_test(test_deny_is_kept_per_site_allow_per_origin_and_forget_removes_both),
	        cmocka_unit_test(test_damaged_records_file_is_never_moved_aside_or_changed),
	        cmocka_unit_test(test_records_of_a_newer_imzad_are_left_alone),
	        cmocka_unit_test(test_another_programs_database_is_left_alone),
	        cmocka_unit_test(test_check_says_ok_or_damaged_with_the_schema_version),
	        cmocka_unit_test(test_rows_of_an_old_cache_file_move_to_the_records_once),
	};

	return cmocka_run_group_tests_name("records", tests, group_setup, group_teardown);
}
