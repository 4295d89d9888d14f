/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's shared state on the main loop: slots (one per reader, stable ids by reader name), the
 * applications (one per client process, as PKCS#11 defines an application) with their sessions and
 * logins, and the calls in progress. Only the main loop's thread touches any of it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol/rpc.h"
#include "daemon/mech.h"
#include "daemon/mech-module.h"
#include "daemon/card/card.h"
#include "daemon/card/pin.h"
#include "daemon/card/reader.h"
#include "daemon/card/token.h"

#define DAEMON_MAX_SLOTS 16
#define APP_MAX_SESSIONS 64
#define APP_MAX_CONNECTIONS 16
/* Session objects (C_DeriveKey's secrets) an application holds at once, over all its sessions. */
#define APP_MAX_SESSION_OBJECTS 32
/* Their handles: apart from a token's (1 to TOKEN_MAX_OBJECTS), never reused by one imzad. */
#define SESSION_OBJECT_HANDLE_BASE 0x10000000UL
/* Data collected by a multi-part operation without a digest (raw mechanisms) is bounded. */
#define OP_DATA_MAX 1024
/* An internal "answer later" code: never sent, it tells the server the call completes itself. */
#define CKR_IMZA_PENDING (CKR_VENDOR_DEFINED | 0x1a5eUL)

struct daemon;
struct client;
struct app;

struct slot {
	bool used;
	CK_SLOT_ID id;
	char reader_name[256];
	struct reader *reader; /* NULL while the reader is unplugged */
	struct token *token;   /* NULL without a (usable) card */
	uint64_t card_seq;     /* insertion the token belongs to */
	struct card_pin_status pin;
	bool pin_known;
	uint64_t owner_app; /* app whose PIN the card holds verified (0: none) */
	unsigned queued;    /* card jobs queued or running */
	/* The PIN counter's last look (empty VERIFY, p11.c's pin_look; CLOCK_MONOTONIC), and one queued. */
	struct timespec pin_looked;
	bool pin_looking;
};

/* Sign and decrypt go to the card; digest and verify are imzad's own (p11-soft.c). */
enum op_kind { OP_NONE, OP_SIGN, OP_DECRYPT, OP_FIND, OP_DIGEST, OP_VERIFY, OP_VERIFY_RECOVER, OP_DERIVE };

struct op {
	enum op_kind kind;
	const struct mech_desc *mech; /* sign, verify */
	CK_MECHANISM_TYPE type;       /* decrypt, verify-recover */
	struct mech_oaep oaep;        /* its label points to label below */
	uint8_t label[MECH_OAEP_LABEL_MAX];
	struct mech_pss pss;
	bool has_pss;
	CK_OBJECT_HANDLE key;
	void *md_ctx; /* EVP_MD_CTX for hashing multi-part */
	uint8_t data[OP_DATA_MAX];
	size_t data_len;
	bool multi;         /* Update was called */
	bool context_login; /* CKU_CONTEXT_SPECIFIC done for this operation */
	/* Its PIN, for a card that wants it inside the operation (a vendor module's own context login):
	 * locked, handed to the operation's job, wiped at the end. */
	struct pin_secret context_pin;
	/* A vendor module's token (mech-module.h): how the operation reaches the module, and the mechanism
	 * it is given (not the raw route's: that one goes as on a PIV card). */
	bool module;
	struct mech_route route;
	struct card_mech cmech;
	/* A passed-through PSS or OAEP whose parameters imza can apply itself, on a module with
	 * CKM_RSA_X_509: if the module refuses them, imza's block or unpadding over its raw RSA. */
	bool raw_fallback;
	uint8_t result[512]; /* a result kept for a buffer-too-small retry (decrypt; a module's signature) */
	size_t result_len;
	bool have_result;
	/* find */
	CK_OBJECT_HANDLE found[TOKEN_MAX_OBJECTS + APP_MAX_SESSION_OBJECTS];
	size_t nfound, next;
};

struct session {
	CK_SESSION_HANDLE handle;
	CK_SLOT_ID slot;
	uint64_t card_seq;
	CK_FLAGS flags;
	/* An operation's state exists while it runs only (op_begin at its Init, op_end at its end): most
	 * sessions are idle, and a thousand applications each holding one must stay small. */
	struct op *op;   /* sign, decrypt, digest, verify */
	struct op *find; /* C_FindObjects */
	/* The session objects it made (C_DeriveKey), visible to the application's sessions on the same
	 * slot; they end with it. NULL for most sessions. */
	struct session_obj *objs;
};

struct session_obj {
	struct session_obj *next;
	struct token_object o;
};

struct app {
	struct daemon *d;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	int kind;
	char name[256];
	char exe[256];
	unsigned nconn;
	unsigned ncalls;       /* calls in progress keep the app alive after its last connection */
	uint64_t served_round; /* the server's round (+1) in which it last had a call */
	struct app *next;
	struct session *sessions[APP_MAX_SESSIONS];
	CK_SESSION_HANDLE next_handle;
	CK_OBJECT_HANDLE next_object; /* its next session object's, above SESSION_OBJECT_HANDLE_BASE */
	/* Login per slot, bound to the card insertion it was made on. */
	uint64_t login_seq[DAEMON_MAX_SLOTS];
	/* The SO's login per slot (C_Login(CKU_SO) with the PUK), bound to the insertion, and the PUK it gave,
	 * kept (locked) for one C_InitPIN only: wiped there, at C_Logout, and when the slot's last session
	 * ends (app_so_logout). */
	uint64_t so_seq[DAEMON_MAX_SLOTS];
	struct pin_secret so_puk[DAEMON_MAX_SLOTS];
	/* Slot events not yet reported by C_WaitForSlotEvent. */
	bool event[DAEMON_MAX_SLOTS];
	struct call *waiting; /* a C_WaitForSlotEvent in progress */
};

/* One request in progress. */
struct server_handlers;

struct call {
	struct client *client;
	struct app *app;
	const struct server_handlers *handlers; /* the server's (its call_done ends the app's call) */
	const struct rpc_call_desc *desc;
	union rpc_arg args[RPC_KINDS_MAX];
	struct proto_arena arena;
	bool pending;
	bool cancelled; /* the client went away: complete without answering */
	/* For calls that complete outside PKCS#11 (imzactl sign): called when the client goes away,
	 * instead of waiting for a completion; it must end with call_release(). */
	void (*on_cancel)(struct call *c);
	void *priv;
};

/* What happened to a slot, for the parts of imzad that follow the slots (slots_listen): slots.c
 * publishes, and calls none of them by name. */
enum slot_event {
	SLOT_EV_CHANGED,   /* a reader came or went, or a card could not be used */
	SLOT_EV_CARD,      /* a card is in and read, or its contents changed: it is served now */
	SLOT_EV_CARD_GONE, /* the card that was there went or changed: what was opened on it ends */
	SLOT_EV_LOOKED,    /* (slot 0) the modules looked at their slots as asked, or the wait for it ended */
};
#define SLOTS_LISTENERS_MAX 4
#define SLOTS_LISTING_MAX 64
#define SLOTS_LOOK_WAIT_MS 1000
struct slot_listener {
	void (*on)(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev);
	void *ud;
};

struct cache;
struct backend_set;
struct event;
struct records;
struct known;
struct signsvc;

struct daemon {
	struct event_base *base;
	struct cache *cache; /* NULL when the cache could not be opened: cards are then always read */
	/* The audit log and the answers for web origins; unusable (records_usable) when the file could not
	 * be used: web signing is then refused, PKCS#11 goes on. */
	struct records *records;
	struct known *known;
	struct reader_monitor *monitor;
	struct signsvc *signsvc; /* the signing service (HTTPS endpoint, imzactl sign) */
	struct slot slots[DAEMON_MAX_SLOTS];
	CK_SLOT_ID next_slot_id;
	struct app *apps;
	/* At most this many applications (0: 256); imzad sets it to its connection cap, which already
	 * bounds them, as every application has a connection (or a call still pending). */
	size_t max_apps;
	uint64_t next_app_id;
	unsigned long apdus_total;
	struct slot_listener listeners[SLOTS_LISTENERS_MAX];
	size_t nlisteners;
	/* An application that held a card's login went: the card forgets the PIN (p11_release_card, set
	 * by daemon/wiring.c; NULL: nothing to do). */
	void (*release_card)(struct daemon *d, struct slot *s, uint64_t app_id);
	/* The driver of vendor modules' tokens (backend_card_driver, set by wiring.c), for the PIN changes
	 * the main loop checks before a job; NULL where no module is served (the fuzzers). */
	const struct card_driver *module_driver;
	/* The vendor modules (NULL: none). Their slots are looked at only while someone follows the slots
	 * (slots_listeners_changed): an application connected, or a signing request in progress. */
	struct backend_set *backends;
	unsigned sign_requests; /* in the signing service (web/sign.c) */
	bool listening;
	/* The modules were asked to look (someone started to listen) and have not all answered yet: a
	 * C_GetSlotList waits for them, at most SLOTS_LOOK_WAIT_MS, so that an application's first slot list
	 * holds what the modules hold now (p11.c). */
	bool look_pending;
	struct event *look_timer;
	struct call *listing[SLOTS_LISTING_MAX];
};

extern const struct rpc_server_ops p11_ops;
/* p11-soft.c: the operations imzad does itself with OpenSSL, no card (digest, verify), for p11_ops. */
CK_RV p11_DigestInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m);
CK_RV p11_Digest(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
                 CK_ULONG_PTR outlen);
CK_RV p11_DigestUpdate(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len);
CK_RV p11_DigestKey(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key);
CK_RV p11_DigestFinal(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen);
CK_RV p11_VerifyInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV p11_Verify(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                 CK_ULONG siglen);
CK_RV p11_VerifyUpdate(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len);
CK_RV p11_VerifyFinal(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG siglen);
CK_RV p11_VerifyRecoverInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV p11_VerifyRecover(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG siglen, CK_BYTE_PTR data,
                        CK_ULONG_PTR datalen);
/* The application that holds the card's login is gone: the card forgets the PIN (no reply to anyone). */
void p11_release_card(struct daemon *d, struct slot *s, uint64_t app_id);
/* imzactl pin change|unblock: the card job of C_SetPIN/C_InitPIN (pin_change_on_card: CHANGE REFERENCE
 * DATA or RESET RETRY COUNTER) for op PIN_OP_CHANGE or PIN_OP_UNBLOCK, with no application's login. old
 * and new are taken (emptied here, wiped whatever happens). 0: done(ud, r, c) runs on the main loop once
 * the card answered (r a card error, CARD_E_REMOVED when the card went meanwhile); -ENOTSUP (not a card
 * of imza's own driver), -EINVAL, -ENOMEM: nothing started. */
int p11_pin_admin(struct daemon *d, struct slot *s, enum pin_op op, struct pin_secret *old,
                  struct pin_secret *new, void (*done)(void *ud, int r, const struct pin_change *c),
                  void *ud);
/* The slot lists that waited for the modules' look are answered (a slots_listen listener). */
void p11_on_slot(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev);

/* slots.c */
extern const struct reader_callbacks slot_callbacks;
/* Loads every cached card into the in-memory mirror the reader threads use. */
void slots_load_known(struct daemon *d);
struct slot *slot_get(struct daemon *d, CK_SLOT_ID id);
/* Follows every slot's events from now on: 0, or -ENOSPC past SLOTS_LISTENERS_MAX. */
int slots_listen(struct daemon *d, void (*on)(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev),
                 void *ud);
struct slot *slot_by_index(struct daemon *d, size_t i);
/* Someone may have started or stopped following the slots (an application came or went, a signing
 * request began or ended): the modules are told (backend_set_listen). */
void slots_listeners_changed(struct daemon *d);

/* server.c */
void call_complete(struct call *c, CK_RV rv);
/* Completes a call with a reply frame of the caller's making (begun with proto_frame_begin). */
void call_reply(struct call *c, struct proto_buf *w);
/* Frees a call whose client went away (from its on_cancel). */
void call_release(struct call *c);
struct daemon *call_daemon(const struct call *c);

/* app.c */
struct app *app_attach(struct daemon *d, pid_t pid, uid_t uid, int kind, const char *name, const char *exe);
void app_detach(struct daemon *d, struct app *a);
struct session *app_session(struct app *a, CK_SESSION_HANDLE h);
/* A session, its slot with the card the session was opened on, or the PKCS#11 error that says why not
 * (a session whose card went is closed: CKR_DEVICE_REMOVED). */
CK_RV app_get_session(struct app *a, CK_SESSION_HANDLE h, struct session **ret_sess, struct slot **ret_slot);
/* Whether the application is logged in to the card in slot s (login is per application). */
bool app_logged_in(const struct app *a, const struct slot *s);
void app_close_session(struct app *a, CK_SESSION_HANDLE h);
/* Frees a session object (its secret wiped); the caller has unlinked it. */
void session_obj_free(struct session_obj *so);
/* The SO's login on slot index idx ends: the PUK is wiped. */
void app_so_logout(struct app *a, size_t idx);
void app_slot_event(struct daemon *d, CK_SLOT_ID id);
/* The applications follow the slots: every event wakes a C_WaitForSlotEvent, a card gone ends the
 * sessions on it (a slots_listen listener). */
void app_on_slot(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev);
void app_call_start(struct app *a);
void app_call_done(struct app *a);
/* The client of a pending call went away: a waiting C_WaitForSlotEvent ends at once. */
void app_call_cancel(struct app *a, struct call *c);
/* Ends every session of every app on a slot whose card went (or changed). */
void app_drop_slot(struct daemon *d, CK_SLOT_ID id);
/* Starts an operation in *slot (NULL before): 0 or -ENOMEM. */
int op_begin(struct op **slot, enum op_kind kind);
/* Ends the operation in *slot, if any: its data wiped, its state freed, *slot NULL. */
void op_end(struct op **slot);
static inline enum op_kind op_kind(const struct op *op)
{
	return op ? op->kind : OP_NONE;
}
