/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl trust / untrust: puts imza's local CA (the one imzad made for its HTTPS endpoint) into the
 * user's NSS databases, or takes it out again. They work on files, not through imzad. The pieces
 * below are shared with imzactl setup (setup.c), which does the same per database and records it. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#define TRUST_DBS_MAX 64

/* A tool's output (NUL-terminated when data is not NULL), bounded at 1 MiB. */
struct trust_buf {
	char *data;
	size_t len;
};

/* NSS databases (directories holding cert9.db), each once (by real path). */
struct trust_dbs {
	char path[TRUST_DBS_MAX][PATH_MAX];
	char real[TRUST_DBS_MAX][PATH_MAX];
	size_t n;
};

/* Is argv[1] of imzactl one of these commands? */
bool trust_is_command(const char *name);
/* argv[0] is "trust" or "untrust", then its options (--config-dir DIR). Returns the exit status. */
int trust_main(int argc, char **argv);

/* Runs argv (found in PATH, no shell) with stdin from /dev/null; stdout and stderr into out and err
 * (NULL: dropped). Returns its exit status, 256 + the signal that killed it, or -errno. */
int trust_run(char *const argv[], struct trust_buf *out, struct trust_buf *err);
void trust_buf_free(struct trust_buf *b);
/* The last line tool wrote to stderr, or its exit status, for a message. */
const char *trust_reason(const struct trust_buf *err, const char *tool, int status);
/* Is tool an executable file in PATH? */
bool trust_have_tool(const char *tool);
/* At most max bytes of path (more is cut off); ret->data is NUL-terminated. */
int trust_read_small_file(const char *path, size_t max, struct trust_buf *ret);
/* $HOME, or the password database's home; absolute. */
int trust_home_dir(char *out, size_t cap);
/* config/ca.crt, or the one in imzad's config dir when config is NULL. */
int trust_ca_file(const char *home, const char *config, char *out, size_t cap);
X509 *trust_read_ca(const char *cafile);

/* Chromium's NSS database: ~/.pki/nssdb while that directory exists (older Chromium, and Chromium 146
 * and later go on with it), else $XDG_DATA_HOME/pki/nssdb (~/.local/share/pki/nssdb), where Chromium
 * 146 and later make it. trust_legacy_db and trust_modern_db are the two places. */
int trust_chromium_db(const char *home, char *out, size_t cap);
int trust_legacy_db(const char *home, char *out, size_t cap);
int trust_modern_db(const char *home, char *out, size_t cap);
/* mkdir -p dir, each new one 0700; made(dir, arg) for each one made below home. */
int trust_mkdirs(const char *home, const char *dir, void (*made)(const char *dir, void *arg), void *arg);
bool trust_is_db(const char *dir);
/* Makes an empty NSS database (no password) in the existing directory db, and says so. */
int trust_make_db(const char *db);
/* The databases that exist: Chromium's two places, Chromium's snap, the Firefox profiles profiles.ini lists
 * (Firefox's own, which Debian's firefox-esr shares, and the snap's). Appends to d. */
void trust_find_dbs(const char *home, struct trust_dbs *d);
/* Puts ca (read from cafile) in db with trust C,,: 1 added (dry_run: would add), 0 already there,
 * -1 failed (said on stderr). */
int trust_db(const char *db, const char *cafile, X509 *ca, bool dry_run);
/* Takes every certificate under our nickname out of db: 1 removed, 0 none there, -1 failed. */
int trust_untrust_db(const char *db);
