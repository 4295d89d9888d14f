/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's records (state_dir/records.sqlite): the audit log of signatures and private-key operations,
 * and the user's standing answers for web origins (allow per exact origin, deny per site). Unlike the
 * card cache they are not copies of anything: a file we cannot use is never moved aside, repaired or
 * replaced. imzad then runs without records, and web signing is refused until the user looks.
 * Not thread-safe: use it from the main loop only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORDS_FILE "records.sqlite"
/* Caps on what one row keeps; longer text is cut. */
#define RECORDS_ORIGIN_MAX 320
#define RECORDS_RESULT_MAX 128
#define RECORDS_EXE_MAX 256
#define RECORDS_KEY_ID_MAX 64
/* The audit log keeps the newest rows only: a bound on the file, whatever happens. */
#define RECORDS_AUDIT_KEEP 100000

struct records;

/* Opens, creating what is missing, state_dir/records.sqlite (0600; the dir as privdir.h makes it).
 * 0 and a handle, which is unusable (records_usable() false, records_why() says why, one error logged)
 * when the file is damaged, another program's, written by a newer imzad, not a regular file, or cannot
 * be opened: the file is then left exactly as it was. A new file takes over, once, the audit rows and
 * answers an older imzad kept in state_dir/cache.sqlite (answers: allow per origin, deny per site).
 * -EINVAL, -ENOMEM, or the state dir's error (-EPERM...) without a handle. */
int records_open(const char *state_dir, struct records **ret);
void records_close(struct records *r);
/* False for NULL, for a file that could not be used, and after SQLite found it damaged in use. */
bool records_usable(const struct records *r);
/* Why the records are unusable ("" when they are usable). */
const char *records_why(const struct records *r);

/* What records_check found. */
struct records_check {
	bool ok;
	int64_t version; /* PRAGMA user_version, -1 when unreadable */
	int64_t known;   /* the schema version this imzad writes */
	char detail[256];
};
/* Runs SQLite's full integrity_check and reads the schema version and owner of the file, on a
 * connection of its own (also for records that could not be opened). The file is not changed. 0 with
 * *ret filled, whether it is ok or not; -errno when no check could run. */
int records_check(const struct records *r, struct records_check *ret);

/* ---- audit log ---- */

struct audit_entry {
	int64_t seq;
	int64_t time;
	const char *origin;         /* web origin, or a local program as imzad describes it; NULL: PKCS#11 */
	const char *exe;            /* PKCS#11: the application's executable, else NULL */
	int64_t pid;                /* PKCS#11: its pid, else 0 */
	const uint8_t *cert_sha256; /* 32 bytes, or NULL */
	const uint8_t *key_id;      /* PKCS#11: the key's CKA_ID, or NULL */
	size_t key_id_len;
	const uint8_t *content_sha256; /* 32 bytes, or NULL */
	const char *result;
};

/* Appends one row (e->seq is ignored); text is cut to its cap. Rows beyond the newest
 * RECORDS_AUDIT_KEEP go. -ENXIO when the records are unusable. */
int audit_add(struct records *r, const struct audit_entry *e);
/* A row for an operation about to run, on disk when this returns (e->result says it began); *ret_seq
 * names it for audit_end, which writes its outcome over that result. The outcome's commit does not wait
 * for the disk (synchronous = NORMAL): imzad ending keeps it (the system has it), a power cut may leave
 * the row saying the operation began; the next row's commit carries it to the disk. So the begun row's
 * wait can overlap the operation, and the answer does not wait for the outcome's. */
int audit_begin(struct records *r, const struct audit_entry *e, int64_t *ret_seq);
int audit_end(struct records *r, int64_t seq, const char *result);
/* after < 0: the last `limit` rows, oldest first. after >= 0: the first `limit` rows with seq > after,
 * in order (for an export in pages). The entry's pointers are valid during the callback only; a
 * negative return from cb stops the walk. */
int audit_list(struct records *r, int64_t after, unsigned limit,
               int (*cb)(void *ud, const struct audit_entry *e), void *ud);

/* ---- standing answers ---- */

/* 0 when the exact origin holds an "allow", -ENOENT when not. */
int records_allow_get(struct records *r, const char *origin);
int records_allow_put(struct records *r, const char *origin, int64_t time);
/* 0 when the site (site.h) holds a "deny", -ENOENT when not. */
int records_deny_get(struct records *r, const char *site);
int records_deny_put(struct records *r, const char *site, int64_t time);
#define RECORDS_FORGOT_ALLOW 0x1u
#define RECORDS_FORGOT_DENY 0x2u
/* Removes origin's allow and site's deny (either may be NULL); *ret_forgot says which were there. */
int records_forget(struct records *r, const char *origin, const char *site, unsigned *ret_forgot);
/* Every allow (by origin), then every deny (by site), each ordered by name. */
int records_answers_list(struct records *r, int (*cb)(void *ud, const char *who, bool allow, int64_t time),
                         void *ud);
