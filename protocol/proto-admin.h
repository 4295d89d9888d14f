/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-admin: imza's own calls for imzactl (ids from 0x1000, see rpc.h): daemon status and the
 * certificates of every token. Request: the u32 id alone. Response: u32 id, u64 CK_RV, then the body. */
#ifndef IMZA_PROTO_ADMIN_H
#define IMZA_PROTO_ADMIN_H

#include <stdint.h>

#include "proto-buf.h"

#define PROTO_ADMIN_SLOTS_MAX 16
#define PROTO_ADMIN_CERTS_MAX 64

/* proto_status_slot.pin_tries: a wrong PIN was given, how many tries are left the card does not say (a
 * vendor module's CKF_USER_PIN_COUNT_LOW). */
#define PROTO_PIN_TRIES_LOW (-2)

/* imzactl pin change|unblock (RPC_CALL_IMZA_PIN). The PINs never cross this socket: imzad asks them in
 * its own dialog. */
#define PROTO_PIN_OP_CHANGE 1
#define PROTO_PIN_OP_UNBLOCK 2
#define PROTO_PIN_ANY_SLOT UINT64_MAX /* the only card there is */
enum proto_pin_result {
	PROTO_PIN_R_OK = 0,
	PROTO_PIN_R_WRONG_PIN,     /* tries: the PIN's left */
	PROTO_PIN_R_PIN_LOCKED,    /* the PIN is locked (or this try locked it) */
	PROTO_PIN_R_WRONG_PUK,     /* tries: the PUK's left */
	PROTO_PIN_R_PUK_LOCKED,    /* the PUK is locked: the card cannot be unblocked */
	PROTO_PIN_R_CANCELLED,     /* the dialog was cancelled or timed out: nothing reached the card */
	PROTO_PIN_R_MISMATCH,      /* the new PIN's two entries differ: nothing reached the card */
	PROTO_PIN_R_FORMAT,        /* a value the card cannot hold (length, characters): no try used */
	PROTO_PIN_R_NO_CARD,       /* no card (in that slot) */
	PROTO_PIN_R_SEVERAL,       /* several cards and no slot named */
	PROTO_PIN_R_NOT_SUPPORTED, /* the card's driver has no PIN change or unblock */
	PROTO_PIN_R_BUSY,          /* another PIN dialog of imzactl is open */
	PROTO_PIN_R_FAILED,        /* the dialog or the card failed */
	PROTO_PIN_R_NOT_LOCKED,    /* unblock asked while the PIN is not locked */
	PROTO_PIN_R_MAX,
};

struct proto_status_slot {
	uint64_t id;
	char reader[256];
	uint8_t reader_present, token_present;
	char label[33];
	char serial[17];
	uint64_t apdus;
	int32_t pin_tries; /* -1 unknown, PROTO_PIN_TRIES_LOW */
	char driver[256];  /* what serves the card: "piv", or "module PATH" for a vendor module */
};

struct proto_status {
	char server[256];
	uint64_t apdus_total;
	uint32_t nclients;
	uint32_t nslots;
	struct proto_status_slot slots[PROTO_ADMIN_SLOTS_MAX];
};

struct proto_cert_entry {
	uint64_t slot;
	char reader[256];
	char label[64];
	uint8_t id[16];
	uint32_t id_len;
	const uint8_t *der; /* a view into the message */
	uint32_t der_len;
};

struct proto_cert_list {
	uint32_t n;
	struct proto_cert_entry certs[PROTO_ADMIN_CERTS_MAX];
};

/* The card cache as imzactl lists it. */
#define PROTO_ADMIN_CACHED_MAX 256

struct proto_cached_card {
	char driver[16];
	uint8_t id[32];
	uint32_t id_len;
	char label[33];
	char serial[17];
	uint64_t last_seen;
	uint32_t nobjs;
};

struct proto_cache_list {
	uint32_t n;
	struct proto_cached_card cards[PROTO_ADMIN_CACHED_MAX];
};

int proto_cache_list_encode(struct proto_buf *w, const struct proto_cache_list *l);
int proto_cache_list_decode(struct proto_reader *r, struct proto_cache_list *ret);

int proto_status_encode(struct proto_buf *w, const struct proto_status *s);
int proto_status_decode(struct proto_reader *r, struct proto_status *ret);
int proto_certs_encode(struct proto_buf *w, const struct proto_cert_list *l);
int proto_certs_decode(struct proto_reader *r, struct proto_cert_list *ret);

/* imzactl sign: the same request the HTTPS endpoint takes, from a local program. The content must fit in
 * one frame with its reply (the CMS carries it again when attached). */
#define PROTO_SIGN_CONTENT_MAX (100 * 1024)

struct proto_sign_request {
	uint8_t cert_id[32];
	uint32_t format; /* 0 CAdES-BES, 1 raw */
	uint8_t detached;
	uint8_t is_text;
	uint32_t wait_s;
	const uint8_t *content; /* a view into the message */
	uint32_t len;
};

struct proto_sign_reply {
	uint32_t err;       /* enum sign_err */
	int32_t tries_left; /* -1 unknown */
	char code[32];
	char message[160];
	const uint8_t *sig; /* views into the message */
	uint32_t sig_len;
	const uint8_t *cert;
	uint32_t cert_len;
};

int proto_sign_request_encode(struct proto_buf *w, const struct proto_sign_request *q);
int proto_sign_request_decode(struct proto_reader *r, struct proto_sign_request *ret);
int proto_sign_reply_encode(struct proto_buf *w, const struct proto_sign_reply *a);
int proto_sign_reply_decode(struct proto_reader *r, struct proto_sign_reply *ret);

/* A call on the records (audit, grants) while imzad cannot use its records file: the CK_RV of the
 * answer. `imzactl records check` says why. */
#define PROTO_ADMIN_RECORDS_UNAVAILABLE 0x80001a5fUL

/* imzactl log: the audit log's last entries, oldest first (RPC_CALL_IMZA_AUDIT), or the entries after
 * a seq in order (RPC_CALL_IMZA_AUDIT_PAGE, for the export: an empty page ends it). */
#define PROTO_AUDIT_MAX 200

struct proto_audit_entry {
	uint64_t seq;
	int64_t time;
	char origin[320]; /* web origin or local program; "" for PKCS#11 */
	uint8_t has_cert, has_content;
	uint8_t cert_sha256[32];
	uint8_t content_sha256[32];
	char result[128];
	/* PKCS#11 operations: the application (exe "" otherwise) and the key's CKA_ID. */
	char exe[256];
	int64_t pid;
	uint32_t key_id_len;
	uint8_t key_id[64];
};

struct proto_audit_list {
	uint32_t n;
	struct proto_audit_entry e[PROTO_AUDIT_MAX];
};

int proto_audit_encode(struct proto_buf *w, const struct proto_audit_list *l);
int proto_audit_decode(struct proto_reader *r, struct proto_audit_list *ret);

/* imzactl grants: the standing answers, allows by origin then denials by site. RPC_CALL_IMZA_GRANT_SET
 * answers with a u8 of PROTO_GRANT_* bits: what was stored or removed. */
#define PROTO_GRANTS_MAX 256
#define PROTO_GRANT_ALLOW_STORED 0x01u
#define PROTO_GRANT_DENY_STORED 0x02u
#define PROTO_GRANT_ALLOW_REMOVED 0x04u
#define PROTO_GRANT_DENY_REMOVED 0x08u

struct proto_grant {
	char origin[320]; /* an origin for an allow, a site (registrable domain) for a deny */
	uint8_t allow;
	int64_t time;
};

struct proto_grant_list {
	uint32_t n;
	struct proto_grant g[PROTO_GRANTS_MAX];
};

int proto_grants_encode(struct proto_buf *w, const struct proto_grant_list *l);
int proto_grants_decode(struct proto_reader *r, struct proto_grant_list *ret);

/* imzactl records check: u8 ok, u64 schema version (-1 unreadable), u64 the version imzad writes,
 * string what was found. */
struct proto_records_check {
	uint8_t ok;
	int64_t version, known;
	char detail[256];
};

int proto_records_check_encode(struct proto_buf *w, const struct proto_records_check *c);
int proto_records_check_decode(struct proto_reader *r, struct proto_records_check *ret);

#endif
