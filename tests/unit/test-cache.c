/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the card cache (daemon/store/cache.c) and the token blob (daemon/store/token-store.c): tokens built
 * from real certificates survive the file unchanged, damaged files and blobs are dropped with one
 * warning and never trusted, and the file keeps its permissions. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "daemon/store/cache.h"
#include "tests/lib/testcert.h"
#include "tests/lib/capture.h"
#include "daemon/store/token-store.h"

static const uint8_t guid[16] = {0, 1, 2, 3, 4, 5, 6, 7, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17};
static const uint8_t guid2[16] = {9, 9, 9, 9, 9, 9, 9, 9, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27};

/* Certificates are made once: RSA key generation is the slow part of this program. */
static struct {
	char root[64];
	int ndirs;
	uint8_t *rsa_der, *ec_der;
	size_t rsa_len, ec_len;
} fx = {.root = "/tmp/imza-test-cache.XXXXXX"};

static int group_setup(void **state)
{
	if (mkdtemp(fx.root) == NULL)
		return -1;
	fx.rsa_len = testcert_make("RSA", "critical,nonRepudiation", &fx.rsa_der, NULL);
	fx.ec_len = testcert_make("P-256", "digitalSignature,keyAgreement", &fx.ec_der, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	OPENSSL_free(fx.rsa_der);
	OPENSSL_free(fx.ec_der);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.root);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh state directory path (not created) for one test. */
static void new_dir(char *buf, size_t size)
{
	snprintf(buf, size, "%s/state%d", fx.root, fx.ndirs++);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

/* Two key slots, six objects, PIN counters known. */
static struct token *make_token(const char *label, const uint8_t id[16])
{
	struct token *t = token_new(label, id);
	struct token_slot_desc sign = {2, 0x9C, true, true, "SIGN key", "Certificate for Digital Signature"};
	struct token_slot_desc auth = {
	        4, 0x9E, false, false, "CARD AUTH key", "Certificate for Card Authentication"};

	assert_non_null(t);
	assert_int_equal(token_add_slot(t, &sign, fx.rsa_der, fx.rsa_len), 0);
	assert_int_equal(token_add_slot(t, &auth, fx.ec_der, fx.ec_len), 0);
	t->pin_tries_left = 2;
	t->pin_tries_max = 3;
	return t;
}

static void assert_tokens_equal(const struct token *a, const struct token *b)
{
	assert_memory_equal(a->label, b->label, sizeof(a->label));
	assert_memory_equal(a->serial, b->serial, sizeof(a->serial));
	assert_memory_equal(a->guid, b->guid, sizeof(a->guid));
	assert_int_equal(a->pin_tries_left, b->pin_tries_left);
	assert_int_equal(a->pin_tries_max, b->pin_tries_max);
	assert_int_equal(a->nobjs, b->nobjs);
	for (size_t i = 0; i < a->nobjs; i++) {
		const struct token_object *oa = &a->objs[i], *ob = &b->objs[i];

		assert_int_equal(oa->handle, ob->handle);
		assert_int_equal(oa->cls, ob->cls);
		assert_int_equal(oa->is_private, ob->is_private);
		assert_int_equal(oa->key.type, ob->key.type);
		assert_int_equal(oa->key.size, ob->key.size);
		assert_int_equal(oa->key.card_alg, ob->key.card_alg);
		assert_int_equal(oa->key.keyref, ob->key.keyref);
		assert_int_equal(oa->key.pin_always, ob->key.pin_always);
		assert_int_equal(oa->key.needs_pin, ob->key.needs_pin);
		assert_int_equal(oa->nattrs, ob->nattrs);
		for (size_t j = 0; j < oa->nattrs; j++) {
			assert_int_equal(oa->attrs[j].type, ob->attrs[j].type);
			assert_int_equal(oa->attrs[j].len, ob->attrs[j].len);
			if (oa->attrs[j].len)
				assert_memory_equal(oa->attrs[j].value, ob->attrs[j].value, oa->attrs[j].len);
		}
	}
}

static void serialize(const struct token *t, struct proto_buf *w)
{
	proto_buf_init(w, TOKEN_STORE_MAX_BLOB);
	assert_int_equal(token_serialize(t, w), 0);
}

/* Names in dir that start with cache.sqlite.broken- and end with suffix ("" for the database itself). */
static int count_aside(const char *dir, const char *suffix, char *ret_name, size_t size)
{
	static const char prefix[] = "cache.sqlite.broken-";
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), sl = strlen(suffix);

		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		if (sl == 0 && (strstr(e->d_name, "-wal") || strstr(e->d_name, "-shm")))
			continue;
		if (sl && (len < sl || strcmp(e->d_name + len - sl, suffix) != 0))
			continue;
		n++;
		if (ret_name)
			assert_true((size_t)snprintf(ret_name, size, "%s/%s", dir, e->d_name) < size);
	}
	closedir(d);
	return n;
}

static void write_file(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/* xorshift64: the same "random" inputs on every run, so a failure can be replayed. */
static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int64_t count_rows(const char *dir)
{
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM cards", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---- round trips ---- */

static void test_token_round_trips_through_the_cache_attribute_by_attribute(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = make_token("AHMET YILMAZ", guid), *back = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), 0);
	assert_int_equal(back->nobjs, 6);
	assert_tokens_equal(t, back);
	token_free(back);
	back = NULL;
	cache_close(c);

	/* And from the file, by a new connection. */
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), 0);
	assert_tokens_equal(t, back);
	assert_int_equal(count_aside(dir, "", NULL, 0), 0);
	cache_close(c);
	token_free(back);
	token_free(t);
}

static void test_blob_round_trip_is_byte_identical_and_keeps_unknown_pin_counts(void **state)
{
	struct token *t = make_token("x", guid), *back = NULL, *empty = token_new("", guid2);
	struct proto_buf w1, w2;

	serialize(t, &w1);
	assert_int_equal(token_deserialize(w1.data, w1.len, &back), 0);
	assert_tokens_equal(t, back);
	serialize(back, &w2);
	assert_int_equal(w1.len, w2.len);
	assert_memory_equal(w1.data, w2.data, w1.len);
	token_free(back);
	back = NULL;
	proto_buf_free(&w1);
	proto_buf_free(&w2);

	/* No objects and PIN counters never read (-1). */
	serialize(empty, &w1);
	assert_int_equal(token_deserialize(w1.data, w1.len, &back), 0);
	assert_int_equal(back->pin_tries_left, -1);
	assert_int_equal(back->pin_tries_max, -1);
	assert_tokens_equal(empty, back);
	token_free(back);
	proto_buf_free(&w1);
	token_free(empty);
	token_free(t);
}

static void test_put_replaces_the_earlier_entry_of_the_same_card(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = make_token("OLD", guid), *t2 = token_new("NEW", guid), *back = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t2), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), 0);
	assert_tokens_equal(t2, back);
	assert_int_equal(back->nobjs, 0);
	cache_close(c);
	assert_int_equal(count_rows(dir), 1);
	token_free(back);
	token_free(t);
	token_free(t2);
}

/* ---- lookups, forget, clear, list ---- */

static void test_unknown_card_is_enoent(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), -ENOENT);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	/* Same bytes under another driver, a prefix of the id, another id: all different cards. */
	assert_int_equal(cache_get_token(c, "backend", guid, sizeof(guid), &back), -ENOENT);
	assert_int_equal(cache_get_token(c, "piv", guid, 8, &back), -ENOENT);
	assert_int_equal(cache_get_token(c, "piv", guid2, sizeof(guid2), &back), -ENOENT);
	assert_null(back);
	cache_close(c);
	token_free(t);
}

static void test_bad_arguments_are_einval(void **state)
{
	char dir[128], longname[CACHE_DRIVER_MAX + 2];
	static uint8_t big[CACHE_ID_MAX + 1];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open("", &c), -EINVAL);
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "", guid, sizeof(guid), t), -EINVAL);
	assert_int_equal(cache_put_token(c, longname, guid, sizeof(guid), t), -EINVAL);
	assert_int_equal(cache_put_token(c, "piv", guid, 0, t), -EINVAL);
	assert_int_equal(cache_put_token(c, "piv", big, sizeof(big), t), -EINVAL);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), NULL), -EINVAL);
	assert_int_equal(cache_get_token(c, "piv", NULL, 16, &back), -EINVAL);
	assert_int_equal(cache_forget(c, NULL, guid, sizeof(guid)), -EINVAL);
	/* The longest legal key works. */
	longname[CACHE_DRIVER_MAX] = 0;
	assert_int_equal(cache_put_token(c, longname, big, CACHE_ID_MAX, t), 0);
	assert_int_equal(cache_get_token(c, longname, big, CACHE_ID_MAX, &back), 0);
	token_free(back);
	cache_close(c);
	token_free(t);
}

static void test_forget_drops_one_card_and_an_unknown_card_is_enoent(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_put_token(c, "piv", guid2, sizeof(guid2), t), 0);
	assert_int_equal(cache_forget(c, "piv", guid, sizeof(guid)), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), -ENOENT);
	assert_int_equal(cache_forget(c, "piv", guid, sizeof(guid)), -ENOENT);
	assert_int_equal(cache_get_token(c, "piv", guid2, sizeof(guid2), &back), 0);
	token_free(back);
	cache_close(c);
	token_free(t);
}

static void test_clear_forgets_every_card(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_clear(c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_put_token(c, "backend", guid2, sizeof(guid2), t), 0);
	assert_int_equal(cache_clear(c), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), -ENOENT);
	assert_int_equal(cache_get_token(c, "backend", guid2, sizeof(guid2), &back), -ENOENT);
	cache_close(c);
	assert_int_equal(count_rows(dir), 0);
	token_free(t);
}

struct seen {
	int n;
	struct {
		char driver[16], label[40], serial[20];
		uint8_t id[16];
		size_t id_len, nobjs;
		int64_t last_seen;
	} e[4];
	int stop_after;
};

static int collect(void *ud, const struct cache_entry *e)
{
	struct seen *s = ud;

	if (s->n == 4)
		return -E2BIG;
	snprintf(s->e[s->n].driver, sizeof(s->e[s->n].driver), "%s", e->driver);
	snprintf(s->e[s->n].label, sizeof(s->e[s->n].label), "%s", e->label);
	snprintf(s->e[s->n].serial, sizeof(s->e[s->n].serial), "%s", e->serial);
	s->e[s->n].id_len = e->id_len;
	memcpy(s->e[s->n].id, e->id, e->id_len < 16 ? e->id_len : 16);
	s->e[s->n].nobjs = e->nobjs;
	s->e[s->n].last_seen = e->last_seen;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? -ECANCELED : 0;
}

static void test_list_reports_each_card_with_its_label_serial_objects_and_time(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = make_token("AHMET YILMAZ", guid), *t2 = token_new("MEHMET", guid2);
	struct seen s = {0};
	int64_t before = (int64_t)time(NULL), after;
	int piv, be;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_list(c, collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_put_token(c, "backend", guid2, 4, t2), 0);
	assert_int_equal(cache_list(c, collect, &s), 0);
	after = (int64_t)time(NULL);
	assert_int_equal(s.n, 2);
	piv = strcmp(s.e[0].driver, "piv") == 0 ? 0 : 1;
	be = 1 - piv;
	assert_string_equal(s.e[piv].driver, "piv");
	assert_string_equal(s.e[piv].label, "AHMET YILMAZ"); /* without the card's space padding */
	assert_string_equal(s.e[piv].serial, "1011121314151617");
	assert_int_equal(s.e[piv].id_len, 16);
	assert_memory_equal(s.e[piv].id, guid, 16);
	assert_int_equal(s.e[piv].nobjs, 6);
	assert_true(s.e[piv].last_seen >= before && s.e[piv].last_seen <= after);
	assert_string_equal(s.e[be].driver, "backend");
	assert_string_equal(s.e[be].label, "MEHMET");
	assert_int_equal(s.e[be].id_len, 4);
	assert_memory_equal(s.e[be].id, guid2, 4);
	assert_int_equal(s.e[be].nobjs, 0);

	/* A callback's error stops the listing and comes back. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(cache_list(c, collect, &s), -ECANCELED);
	assert_int_equal(s.n, 1);
	/* And the listing statement is usable again. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(cache_list(c, collect, &s), 0);
	assert_int_equal(s.n, 2);
	cache_close(c);
	token_free(t);
	token_free(t2);
}

static void test_list_puts_the_most_recently_seen_card_first(void **state)
{
	char dir[128], path[256];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;
	struct seen s = {0};
	sqlite3 *db = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "a", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_put_token(c, "b", guid, sizeof(guid), t), 0);
	/* Age both entries rather than sleep. */
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE cards SET last_seen = last_seen - 100", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	/* A hit counts as seen. */
	assert_int_equal(cache_get_token(c, "b", guid, sizeof(guid), &back), 0);
	assert_int_equal(cache_list(c, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.e[0].driver, "b");
	assert_string_equal(s.e[1].driver, "a");
	assert_true(s.e[0].last_seen > s.e[1].last_seen);
	token_free(back);
	cache_close(c);
	token_free(t);
}

/* ---- the file and its directory ---- */

static void test_new_dir_is_0700_and_file_0600_whatever_the_umask(void **state)
{
	char dir[128], nested[160], path[256];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid);
	struct stat st;
	mode_t old = umask(0);

	new_dir(dir, sizeof(dir));
	snprintf(nested, sizeof(nested), "%s/a/imza", dir);
	assert_int_equal(cache_open(nested, &c), 0);
	umask(old);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(nested, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	path_in(path, sizeof(path), nested, "cache.sqlite");
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* WAL mode, and its files get the database's mode. */
	path_in(path, sizeof(path), nested, "cache.sqlite-wal");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	path_in(path, sizeof(path), nested, "cache.sqlite-shm");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	cache_close(c);
	token_free(t);
}

static void test_existing_file_with_a_loose_mode_is_made_0600(void **state)
{
	char dir[128], path[256];
	struct cache *c = NULL;
	struct stat st;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	cache_close(c);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	cache_close(c);
}

static void test_state_dir_writable_by_others_is_refused(void **state)
{
	char dir[128], path[256];
	struct cache *c = NULL;
	struct capture cap;

	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	capture_begin(&cap, fx.root);
	assert_int_equal(cache_open(dir, &c), -EPERM);
	assert_int_equal(capture_end(&cap, "imzad: error:"), 1);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(access(path, F_OK), -1);
	/* An existing 0755 directory of ours is fine and left as it is. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(cache_open(dir, &c), 0);
	cache_close(c);
}

static void test_reopening_a_good_cache_keeps_it_and_logs_nothing(void **state)
{
	char dir[128];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;
	struct capture cap;
	int r;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	cache_close(c);
	capture_begin(&cap, fx.root);
	r = cache_open(dir, &c);
	assert_int_equal(capture_end(&cap, "imzad:"), 0);
	assert_int_equal(r, 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), 0);
	assert_int_equal(count_aside(dir, "", NULL, 0), 0);
	token_free(back);
	cache_close(c);
	token_free(t);
}

/* ---- damaged files ---- */

/* Opens dir's cache expecting the damaged file to be moved aside with one warning; checks the new
 * cache is empty and usable. ret_aside: the moved-aside path. */
static void open_expecting_move_aside(const char *dir, char *ret_aside, size_t size)
{
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;
	struct capture cap;
	int r;

	capture_begin(&cap, fx.root);
	r = cache_open(dir, &c);
	assert_int_equal(capture_end(&cap, "imzad: warning: cache:"), 1);
	assert_int_equal(r, 0);
	assert_int_equal(count_aside(dir, "", ret_aside, size), 1);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), -ENOENT);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), 0);
	token_free(back);
	cache_close(c);
	token_free(t);

	/* The new file is a good one: opening again moves nothing. */
	capture_begin(&cap, fx.root);
	r = cache_open(dir, &c);
	assert_int_equal(capture_end(&cap, "imzad:"), 0);
	assert_int_equal(r, 0);
	assert_int_equal(count_aside(dir, "", NULL, 0), 1);
	cache_close(c);
}

static void test_random_bytes_are_moved_aside_with_one_warning(void **state)
{
	char dir[128], path[256], aside[256];
	uint8_t junk[4096], back[4096];
	FILE *f;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rnd();
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	write_file(path, junk, sizeof(junk));
	open_expecting_move_aside(dir, aside, sizeof(aside));
	/* Kept as it was, for whoever wants to look. */
	f = fopen(aside, "rb");
	assert_non_null(f);
	assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(junk));
	fclose(f);
	assert_memory_equal(junk, back, sizeof(junk));
}

static void test_truncated_database_is_moved_aside(void **state)
{
	char dir[128], path[256], aside[256];
	struct cache *c = NULL;
	struct token *t = make_token("x", guid);
	uint8_t id[16];
	struct stat st;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	for (int i = 0; i < 8; i++) {
		memcpy(id, guid, sizeof(id));
		id[0] = (uint8_t)i;
		assert_int_equal(cache_put_token(c, "piv", id, sizeof(id), t), 0);
	}
	cache_close(c);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 8 * 4096);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	open_expecting_move_aside(dir, aside, sizeof(aside));
	token_free(t);
}

static void test_database_from_a_newer_imzad_is_moved_aside(void **state)
{
	char dir[128], path[256], aside[256];
	struct cache *c = NULL;
	sqlite3 *db = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	cache_close(c);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_expecting_move_aside(dir, aside, sizeof(aside));
}

static void test_another_programs_database_is_moved_aside(void **state)
{
	char dir[128], path[256], aside[256];
	sqlite3 *db = NULL;

	/* Tables, no application id, version 0. */
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE cards (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_expecting_move_aside(dir, aside, sizeof(aside));

	/* Another application id. */
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 1234", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_expecting_move_aside(dir, aside, sizeof(aside));
}

static void test_directory_in_place_of_the_file_is_moved_aside(void **state)
{
	char dir[128], path[256], aside[256];
	struct stat st;

	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(mkdir(path, 0700), 0);
	open_expecting_move_aside(dir, aside, sizeof(aside));
	assert_int_equal(stat(aside, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void test_symlink_in_place_of_the_file_is_moved_aside_not_followed(void **state)
{
	char dir[128], path[256], target[256], aside[256];
	struct stat st;

	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(target, sizeof(target), fx.root, "elsewhere");
	write_file(target, "keep", 4);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(symlink(target, path), 0);
	open_expecting_move_aside(dir, aside, sizeof(aside));
	assert_int_equal(lstat(aside, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 4);
}

static void test_journals_of_a_broken_file_go_aside_with_it(void **state)
{
	char dir[128], path[256], aside[256];
	uint8_t junk[1024];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rnd();
	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	write_file(path, junk, sizeof(junk));
	path_in(path, sizeof(path), dir, "cache.sqlite-wal");
	write_file(path, junk, sizeof(junk));
	path_in(path, sizeof(path), dir, "cache.sqlite-shm");
	write_file(path, junk, 100);
	open_expecting_move_aside(dir, aside, sizeof(aside));
	assert_int_equal(count_aside(dir, "-wal", NULL, 0), 1);
	assert_int_equal(count_aside(dir, "-shm", NULL, 0), 1);
}

static void copy_file(const char *from, const char *to)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(from, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(buf));
	write_file(to, buf, n);
}

static void test_stale_journal_without_its_database_is_not_replayed(void **state)
{
	char dir[128], path[256], wal[256], saved[256];
	struct cache *c = NULL;
	struct token *t = token_new("x", guid), *back = NULL;
	struct capture cap;
	int r;

	/* A real WAL holding a card, left behind when the database was removed by hand. */
	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	path_in(wal, sizeof(wal), dir, "cache.sqlite-wal");
	path_in(saved, sizeof(saved), fx.root, "saved-wal");
	copy_file(wal, saved);
	cache_close(c);
	assert_int_equal(unlink(path), 0);
	copy_file(saved, wal);

	capture_begin(&cap, fx.root);
	r = cache_open(dir, &c);
	assert_int_equal(capture_end(&cap, "imzad:"), 0);
	assert_int_equal(r, 0);
	assert_int_equal(cache_get_token(c, "piv", guid, sizeof(guid), &back), -ENOENT);
	assert_int_equal(cache_put_token(c, "piv", guid2, sizeof(guid2), t), 0);
	cache_close(c);
	assert_int_equal(count_rows(dir), 1);
	token_free(t);
}

static void test_database_locked_by_another_process_is_busy_and_left_alone(void **state)
{
	char dir[128], path[256];
	struct cache *c = NULL;
	sqlite3 *db = NULL;

	new_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(cache_open(dir, &c), -EBUSY);
	assert_int_equal(count_aside(dir, "", NULL, 0), 0);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

/* ---- damaged blobs ---- */

static void test_malformed_blob_is_enoent_and_its_row_is_deleted(void **state)
{
	char dir[128], path[256];
	struct cache *c = NULL;
	struct token *t = make_token("x", guid), *back = NULL;
	static const uint8_t garbage[] = {'I', 'M', 'Z', 'T', 0xde, 0xad, 0xbe, 0xef};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct capture cap;
	int r;

	new_dir(dir, sizeof(dir));
	assert_int_equal(cache_open(dir, &c), 0);
	assert_int_equal(cache_put_token(c, "piv", guid, sizeof(guid), t), 0);
	assert_int_equal(cache_put_token(c, "piv", guid2, sizeof(guid2), t), 0);
	path_in(path, sizeof(path), dir, "cache.sqlite");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE cards SET token = ?1 WHERE id = ?2", -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_blob(st, 1, garbage, sizeof(garbage), SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, guid, sizeof(guid), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);

	capture_begin(&cap, fx.root);
	r = cache_get_token(c, "piv", guid, sizeof(guid), &back);
	assert_int_equal(capture_end(&cap, "imzad: warning: cache:"), 1);
	assert_int_equal(r, -ENOENT);
	assert_null(back);
	assert_int_equal(count_rows(dir), 1);
	assert_int_equal(cache_forget(c, "piv", guid, sizeof(guid)), -ENOENT);
	/* The other card is untouched. */
	assert_int_equal(cache_get_token(c, "piv", guid2, sizeof(guid2), &back), 0);
	assert_tokens_equal(t, back);
	token_free(back);
	cache_close(c);
	token_free(t);
}

static void test_every_truncation_of_a_blob_fails_cleanly(void **state)
{
	struct token *t = make_token("x", guid), *back = NULL;
	struct proto_buf w;

	serialize(t, &w);
	for (size_t n = 0; n < w.len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past the end. */
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, w.data, n);
		assert_int_equal(token_deserialize(p, n, &back), -EBADMSG);
		assert_null(back);
		free(p);
	}
	/* And one trailing byte too many. */
	assert_int_equal(proto_put_u8(&w, 0), 0);
	assert_int_equal(token_deserialize(w.data, w.len, &back), -EBADMSG);
	assert_null(back);
	proto_buf_free(&w);
	token_free(t);
}

static void test_random_and_mutated_blobs_never_crash(void **state)
{
	struct token *t = make_token("x", guid), *back = NULL;
	struct proto_buf w;
	uint8_t *p;
	int ok = 0, r;

	serialize(t, &w);
	p = malloc(w.len);
	assert_non_null(p);
	/* Random bytes, half of them behind a valid header so the decoder gets past it. */
	for (int i = 0; i < 4000; i++) {
		size_t n = (size_t)(rnd() % 600), head = (i & 1) ? 14 : 0;
		uint8_t *q = malloc(n + head + 1);

		assert_non_null(q);
		memcpy(q, w.data, head);
		for (size_t j = 0; j < n; j++)
			q[head + j] = (uint8_t)rnd();
		r = token_deserialize(q, n + head, &back);
		assert_int_equal(r, -EBADMSG);
		free(q);
	}
	/* A valid blob with a few bytes changed: either it still decodes (a changed value byte) or it
	 * fails cleanly. */
	for (int i = 0; i < 3000; i++) {
		memcpy(p, w.data, w.len);
		for (int k = 1 + (int)(rnd() % 4); k > 0; k--)
			p[rnd() % w.len] = (uint8_t)rnd();
		back = NULL;
		r = token_deserialize(p, w.len, &back);
		assert_true(r == 0 || r == -EBADMSG);
		if (r == 0) {
			ok++;
			assert_true(back->nobjs <= TOKEN_MAX_OBJECTS);
			token_free(back);
		} else {
			assert_null(back);
		}
	}
	print_message("# %d of 3000 mutated blobs still decoded\n", ok);
	free(p);
	proto_buf_free(&w);
	token_free(t);
}

/* Builds a blob by hand with the layout of token-store.c, for values token_serialize never writes. */
static void blob_header(struct proto_buf *w, uint8_t version, uint32_t nobjs)
{
	CK_ULONG probe = (CK_ULONG)0x0102030405060708ULL;

	proto_buf_init(w, 1 << 20);
	proto_put_raw(w, "IMZT", 4);
	proto_put_u8(w, version);
	proto_put_u8(w, (uint8_t)sizeof(probe));
	proto_put_raw(w, &probe, sizeof(probe));
	proto_put_bytes(w, "L", 1);
	proto_put_bytes(w, "S", 1);
	proto_put_raw(w, guid, 16);
	proto_put_u32(w, 3);
	proto_put_u32(w, UINT32_MAX);
	proto_put_u32(w, nobjs);
}

static void blob_object(struct proto_buf *w, uint8_t is_private, uint8_t flags, uint32_t nattrs)
{
	proto_put_u64(w, CKO_CERTIFICATE);
	proto_put_u8(w, is_private);
	proto_put_u64(w, 0);
	proto_put_u64(w, 0);
	proto_put_u8(w, 0);
	proto_put_u8(w, 0);
	proto_put_u8(w, flags);
	proto_put_u32(w, nattrs);
}

/* Decodes a blob that ends here, its mechanisms written by the caller. */
static void expect_blob_raw(struct proto_buf *w, int want)
{
	struct token *t = NULL;

	assert_int_equal(w->error, 0);
	assert_int_equal(token_deserialize(w->data, w->len, &t), want);
	if (want == 0) {
		assert_non_null(t);
		token_free(t);
	} else {
		assert_null(t);
	}
	proto_buf_free(w);
}

/* The same for a blob whose objects end it: no mechanisms (a PIV card's). */
static void expect_blob(struct proto_buf *w, int want)
{
	proto_put_u32(w, 0);
	expect_blob_raw(w, want);
}

/* A blob of no objects with a module's mechanisms: n of them, each of type base + i with flags. */
static void blob_mechs(struct proto_buf *w, uint32_t n, CK_MECHANISM_TYPE base, uint64_t flags)
{
	blob_header(w, TOKEN_BLOB_VERSION, 0);
	proto_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		proto_put_u64(w, base + i);
		proto_put_u64(w, 1024);
		proto_put_u64(w, 4096);
		proto_put_u64(w, flags);
	}
}

/* A module's token keeps its signing and decryption mechanisms in its blob, and reads them back; a
 * tampered blob with more than TOKEN_MECH_MAX, a type twice, a flag imza never keeps, one that neither
 * signs nor decrypts, or a count the bytes cannot fill is refused; the writer keeps the same bounds. */
static void test_module_mechanisms_round_trip_and_are_bounded(void **state)
{
	struct token *t = make_token("x", guid), *back = NULL;
	struct proto_buf w;
	uint8_t pad[64] = {0};

	t->mechs[0] = (struct token_mech){CKM_RSA_PKCS, {1024, 4096, CKF_HW | CKF_SIGN | CKF_DECRYPT}};
	t->mechs[1] = (struct token_mech){CKM_ECDSA, {256, 384, CKF_SIGN | CKF_EC_F_P}};
	t->mechs[2] = (struct token_mech){CKM_VENDOR_DEFINED | 0x494d5a41, {2048, 2048, CKF_SIGN}};
	t->nmechs = 3;
	proto_buf_init(&w, TOKEN_STORE_MAX_BLOB);
	assert_int_equal(token_serialize(t, &w), 0);
	assert_int_equal(token_deserialize(w.data, w.len, &back), 0);
	assert_int_equal(back->nmechs, 3);
	assert_memory_equal(back->mechs, t->mechs, 3 * sizeof(t->mechs[0]));
	token_free(back);
	proto_buf_free(&w);

	blob_mechs(&w, TOKEN_MECH_MAX, CKM_VENDOR_DEFINED, CKF_SIGN);
	expect_blob_raw(&w, 0);
	blob_mechs(&w, TOKEN_MECH_MAX + 1, CKM_VENDOR_DEFINED, CKF_SIGN); /* too many, bytes enough */
	expect_blob_raw(&w, -EBADMSG);
	blob_mechs(&w, 1, CKM_RSA_PKCS, CKF_SIGN | CKF_DERIVE); /* a flag imza does not pass on */
	expect_blob_raw(&w, -EBADMSG);
	blob_mechs(&w, 1, CKM_RSA_PKCS, CKF_HW); /* neither signs nor decrypts */
	expect_blob_raw(&w, -EBADMSG);
	blob_mechs(&w, 1, CKM_RSA_PKCS, (uint64_t)1 << 40); /* beyond any flag */
	expect_blob_raw(&w, -EBADMSG);
	blob_mechs(&w, 2, CKM_RSA_PKCS, CKF_SIGN);
	proto_put_u64(&w, CKM_RSA_PKCS); /* trailing bytes */
	expect_blob_raw(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 0); /* the same type twice */
	proto_put_u32(&w, 2);
	for (int i = 0; i < 2; i++) {
		proto_put_u64(&w, CKM_RSA_PKCS);
		proto_put_u64(&w, 0);
		proto_put_u64(&w, 0);
		proto_put_u64(&w, CKF_SIGN);
	}
	expect_blob_raw(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 0); /* a count the bytes cannot fill */
	proto_put_u32(&w, 1000000);
	proto_put_raw(&w, pad, sizeof(pad));
	expect_blob_raw(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 0); /* no mechanism count at all (a version 3 layout) */
	expect_blob_raw(&w, -EBADMSG);

	/* The writer: no more than TOKEN_MECH_MAX, no flag beyond what imza passes. */
	t->nmechs = TOKEN_MECH_MAX + 1;
	proto_buf_init(&w, TOKEN_STORE_MAX_BLOB);
	assert_int_equal(token_serialize(t, &w), -EINVAL);
	proto_buf_free(&w);
	t->nmechs = 1;
	t->mechs[0].info.flags |= CKF_DERIVE;
	proto_buf_init(&w, TOKEN_STORE_MAX_BLOB);
	assert_int_equal(token_serialize(t, &w), -EINVAL);
	proto_buf_free(&w);
	token_free(t);
}

/* A key object with the given type and size, and one attribute of len bytes. */
static void blob_key(struct proto_buf *w, CK_KEY_TYPE type, uint64_t size, size_t attr_len)
{
	static uint8_t value[TOKEN_STORE_MAX_ATTR_LEN + 1];

	blob_header(w, TOKEN_BLOB_VERSION, 1);
	proto_put_u64(w, CKO_PRIVATE_KEY);
	proto_put_u8(w, 0);
	proto_put_u64(w, type);
	proto_put_u64(w, size);
	proto_put_u8(w, 0x07);
	proto_put_u8(w, 0x9d);
	proto_put_u8(w, 0);
	proto_put_u32(w, 1);
	proto_put_u64(w, CKA_VALUE);
	proto_put_bytes(w, value, attr_len);
}

/* A tampered cache file names a key larger than any buffer sized for RSA 4096 / P-521 (C_Decrypt
 * copied key-size bytes into a 512-byte card job: a heap overflow), an attribute value past its cap,
 * or a key type we cannot use: the blob is refused, as are tokens that would write such a blob. */
static void test_tampered_key_size_and_value_length_are_refused(void **state)
{
	struct token *t = make_token("x", guid);
	struct proto_buf w;

	blob_key(&w, CKK_RSA, TOKEN_KEY_BYTES_MAX, 1);
	expect_blob(&w, 0);
	blob_key(&w, CKK_RSA, TOKEN_KEY_BYTES_MAX + 1, 1);
	expect_blob(&w, -EBADMSG);
	blob_key(&w, CKK_RSA, 4096, 1);
	expect_blob(&w, -EBADMSG);
	blob_key(&w, CKK_RSA, UINT64_MAX, 1);
	expect_blob(&w, -EBADMSG);
	blob_key(&w, CKK_EC, TOKEN_EC_FIELD_BYTES_MAX, 1);
	expect_blob(&w, 0);
	blob_key(&w, CKK_EC, TOKEN_EC_FIELD_BYTES_MAX + 1, 1);
	expect_blob(&w, -EBADMSG);
	blob_key(&w, CKK_DSA, 128, 1);
	expect_blob(&w, -EBADMSG);
	blob_key(&w, CKK_RSA, 256, TOKEN_STORE_MAX_ATTR_LEN);
	expect_blob(&w, 0);
	blob_key(&w, CKK_RSA, 256, TOKEN_STORE_MAX_ATTR_LEN + 1);
	expect_blob(&w, -EBADMSG);

	/* The writer keeps the same bounds. */
	for (size_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].cls == CKO_PRIVATE_KEY)
			t->objs[i].key.size = TOKEN_KEY_BYTES_MAX + 1;
	proto_buf_init(&w, TOKEN_STORE_MAX_BLOB);
	assert_int_equal(token_serialize(t, &w), -EINVAL);
	proto_buf_free(&w);
	token_free(t);
}

static void test_blob_limits_and_fields_are_checked(void **state)
{
	struct proto_buf w;
	struct token *t = make_token("x", guid);
	uint8_t pad[64] = {0};

	/* The hand-made layout is right: a minimal blob decodes. */
	blob_header(&w, TOKEN_BLOB_VERSION, 1);
	blob_object(&w, 0, 0, 1);
	proto_put_u64(&w, CKA_LABEL);
	proto_put_bytes(&w, "a", 1);
	expect_blob(&w, 0);

	blob_header(&w, TOKEN_BLOB_VERSION + 1, 0); /* another version */
	expect_blob(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION,
	            TOKEN_MAX_OBJECTS + 1); /* too many objects, even with bytes enough */
	for (int i = 0; i < TOKEN_MAX_OBJECTS + 1; i++)
		blob_object(&w, 0, 0, 0);
	expect_blob(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 1000000); /* a count the bytes cannot fill */
	proto_put_raw(&w, pad, sizeof(pad));
	expect_blob(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 1);
	blob_object(&w, 2, 0, 0); /* CKA_PRIVATE neither 0 nor 1 */
	expect_blob(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 1);
	blob_object(&w, 0, 0x80, 0); /* unknown key flag */
	expect_blob(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 1);
	blob_object(&w, 0, 0, TOKEN_STORE_MAX_ATTRS + 1); /* too many attributes */
	for (int i = 0; i < TOKEN_STORE_MAX_ATTRS + 1; i++) {
		proto_put_u64(&w, (uint64_t)i);
		proto_put_bytes(&w, "", 0);
	}
	expect_blob(&w, -EBADMSG);
	blob_header(&w, TOKEN_BLOB_VERSION, 1);
	blob_object(&w, 0, 0, 2); /* the same attribute twice */
	proto_put_u64(&w, CKA_LABEL);
	proto_put_bytes(&w, "a", 1);
	proto_put_u64(&w, CKA_LABEL);
	proto_put_bytes(&w, "b", 1);
	expect_blob(&w, -EBADMSG);

	/* A label with a NUL or longer than 32, a PIN counter below -1. */
	proto_buf_init(&w, 1 << 20);
	proto_put_raw(&w, "IMZT", 4);
	proto_put_u8(&w, TOKEN_BLOB_VERSION);
	proto_put_u8(&w, (uint8_t)sizeof(CK_ULONG));
	{
		CK_ULONG probe = (CK_ULONG)0x0102030405060708ULL;

		proto_put_raw(&w, &probe, sizeof(probe));
	}
	proto_put_bytes(&w, "a\0b", 3);
	expect_blob(&w, -EBADMSG);

	/* The writer: a maximum too small, and counts it refuses to write. */
	proto_buf_init(&w, 100);
	assert_int_equal(token_serialize(t, &w), -ENOBUFS);
	proto_buf_free(&w);
	t->pin_tries_left = -2;
	proto_buf_init(&w, 1 << 20);
	assert_int_equal(token_serialize(t, &w), -EINVAL);
	proto_buf_free(&w);
	token_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_token_round_trips_through_the_cache_attribute_by_attribute),
	        cmocka_unit_test(test_blob_round_trip_is_byte_identical_and_keeps_unknown_pin_counts),
	        cmocka_unit_test(test_put_replaces_the_earlier_entry_of_the_same_card),
	        cmocka_unit_test(test_unknown_card_is_enoent),
	        cmocka_unit_test(test_bad_arguments_are_einval),
	        cmocka_unit_test(test_forget_drops_one_card_and_an_unknown_card_is_enoent),
	        cmocka_unit_test(test_clear_forgets_every_card),
	        cmocka_unit_test(test_list_reports_each_card_with_its_label_serial_objects_and_time),
	        cmocka_unit_test(test_list_puts_the_most_recently_seen_card_first),
	        cmocka_unit_test(test_new_dir_is_0700_and_file_0600_whatever_the_umask),
	        cmocka_unit_test(test_existing_file_with_a_loose_mode_is_made_0600),
	        cmocka_unit_test(test_state_dir_writable_by_others_is_refused),
	        cmocka_unit_test(test_reopening_a_good_cache_keeps_it_and_logs_nothing),
	        cmocka_unit_test(test_random_bytes_are_moved_aside_with_one_warning),
	        cmocka_unit_test(test_truncated_database_is_moved_aside),
	        cmocka_unit_test(test_database_from_a_newer_imzad_is_moved_aside),
	        cmocka_unit_test(test_another_programs_database_is_moved_aside),
	        cmocka_unit_test(test_directory_in_place_of_the_file_is_moved_aside),
	        cmocka_unit_test(test_symlink_in_place_of_the_file_is_moved_aside_not_followed),
	        cmocka_unit_test(test_journals_of_a_broken_file_go_aside_with_it),
	        cmocka_unit_test(test_stale_journal_without_its_database_is_not_replayed),
	        cmocka_unit_test(test_database_locked_by_another_process_is_busy_and_left_alone),
	        cmocka_unit_test(test_malformed_blob_is_enoent_and_its_row_is_deleted),
	        cmocka_unit_test(test_every_truncation_of_a_blob_fails_cleanly),
	        cmocka_unit_test(test_random_and_mutated_blobs_never_crash),
	        cmocka_unit_test(test_blob_limits_and_fields_are_checked),
	        cmocka_unit_test(test_module_mechanisms_round_trip_and_are_bounded),
	        cmocka_unit_test(test_tampered_key_size_and_value_length_are_refused),
	};

	return cmocka_run_group_tests_name("cache", tests, group_setup, group_teardown);
}
