/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PKCS#11 semantics of imzad: what each call means for slots, sessions, logins and operations.
 * Listings and attribute reads answer from the token model at once; anything that needs the card
 * (login, logout, sign, decrypt) becomes a job on the reader's worker and answers when it is done.
 * Login state belongs to the application (all connections of one client process). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "daemon/daemon.h"
#include "daemon/log.h"
#include "daemon/card/pin.h"
#include "daemon/card/piv.h"
#include "daemon/store/records.h"
#include "daemon/store/token-store.h"

#define CALL(ctx) ((struct call *)(ctx))
#define APP(ctx) (CALL(ctx)->app)
#define DMN(ctx) (APP(ctx)->d)

static void pad(CK_UTF8CHAR *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, l > n ? n : l);
}

/* imza's version as configure gave it, for the library, slot and token versions. */
static CK_VERSION version(void)
{
	CK_VERSION v = {0, 0};

	proto_version_parse(PACKAGE_VERSION, &v);
	return v;
}

/* ---- lookups ---- */

static size_t slot_index(struct daemon *d, const struct slot *s)
{
	return (size_t)(s - d->slots);
}

static bool logged_in(struct app *a, struct slot *s)
{
	return app_logged_in(a, s);
}

/* The SO logged in with the PUK (its PUK may be spent already: C_InitPIN takes it). */
static bool so_logged_in(struct app *a, struct slot *s)
{
	return s->token && a->so_seq[slot_index(a->d, s)] == s->card_seq;
}

/* The driver of imza's own that serves the slot's card, for what the main loop checks before a job (a
 * PIN's form); NULL for a vendor module's token. */
static const struct card_driver *native_driver(const struct slot *s)
{
	if (s->token && s->token->module[0] == '\0' && strcmp(s->token->driver, piv_driver.name) == 0)
		return &piv_driver;
	return NULL;
}

/* The driver that serves the slot's card: imza's own, or the vendor module's (backend-card.c); NULL
 * without a token. */
static const struct card_driver *card_driver_of(const struct daemon *d, const struct slot *s)
{
	if (s->token && s->token->module[0] != '\0')
		return d->module_driver;
	return native_driver(s);
}

/* A session, its slot and token, or the PKCS#11 error that says why not. */
static CK_RV get_session(void *ctx, CK_SESSION_HANDLE h, struct session **ret_sess, struct slot **ret_slot)
{
	return app_get_session(APP(ctx), h, ret_sess, ret_slot);
}

static bool visible(struct app *a, struct slot *s, const struct token_object *o)
{
	return !o->is_private || logged_in(a, s);
}

static CK_BBOOL attr_bool(const struct token_object *o, CK_ATTRIBUTE_TYPE t)
{
	const struct token_attr *a = token_attr(o, t);

	return a && a->len == 1 && *(CK_BBOOL *)a->value;
}

/* ---- card jobs ---- */

enum job_kind { JOB_LOGIN, JOB_LOGOUT, JOB_PRIVATE, JOB_RANDOM, JOB_PIN_CHANGE, JOB_PIN_LOOK };

struct p11_job {
	struct reader_job rj;
	enum job_kind kind;
	struct call *call;
	struct daemon *d;
	CK_SLOT_ID slot;
	uint64_t app_id;
	struct pin_secret pin;
	CK_USER_TYPE user;
	struct pin_change change;  /* JOB_PIN_CHANGE */
	struct card_pin_status ps; /* JOB_PIN_LOOK */
	bool reset_first;          /* the card holds another application's login: forget it before ours */
	/* A login's: the keys the card showed to need the PIN at each use (pin_always_keys). */
	uint8_t always[TOKEN_MAX_OBJECTS];
	size_t nalways;
	/* A private-key operation's: the PIN of its context-specific login (the operation's, handed on). */
	struct pin_secret op_pin;
	struct token_key_info key;
	uint8_t in[OP_DATA_MAX];
	size_t inlen;
	/* A vendor module's mechanism for the operation (the driver's mech_op), and the module's own
	 * answer when it refused it (for the application). */
	bool use_mech;
	struct card_mech cmech;
	CK_RV module_rv;
	/* The module refusing cmech's parameters: imza's PSS block (pss) or unpadding (oaep, below) over
	 * its raw RSA instead (op's raw_fallback). */
	bool raw_fallback;
	struct mech_pss pss;
	uint8_t out[1024];
	size_t outlen;
	uint8_t *rnd; /* C_GenerateRandom's bytes: rnd_len of them, for out[rnd_off..] of rnd_total */
	size_t rnd_len, rnd_off, rnd_total;
	/* For the audit row of a private-key operation: who asked, with which key, over what. */
	const char *op_name; /* "sign", "decrypt" */
	char exe[RECORDS_EXE_MAX];
	int64_t pid;
	uint8_t key_id[RECORDS_KEY_ID_MAX];
	size_t key_id_len;
	uint8_t in_sha256[32];
	int64_t audit_seq; /* its row, written as the operation began; 0: none */
	/* A decryption's mechanism and OAEP parameters, for unpadding the card's raw result. */
	CK_MECHANISM_TYPE dec_type;
	struct mech_oaep oaep; /* its label points to label below */
	uint8_t label[MECH_OAEP_LABEL_MAX];
	/* A derivation's (C_DeriveKey): its KDF and the secret to make; the shared data, label and id
	 * point into the call's arguments, which live until it completes. */
	CK_ULONG kdf;
	const uint8_t *shared;
	size_t shared_len;
	struct token_secret_desc secret;
	int tries;
	void (*finish)(struct p11_job *j, int r);
	/* An imzactl PIN job's (p11_pin_admin): told the outcome instead of a PKCS#11 call. */
	void (*pin_done)(void *ud, int r, const struct pin_change *c);
	void *pin_ud;
};

/* A module that refused the PSS or OAEP parameters it lists the mechanism for (SoftHSM's OAEP takes
 * SHA-1 only): imza's PSS block over the hash, or the ciphertext, through its CKM_RSA_X_509, as on a
 * PIV card; decrypt_finish then removes the OAEP padding (use_mech off). */
static int raw_fallback(struct p11_job *j, struct reader_card *card, const struct pin_secret *pin)
{
	static const struct mech_desc pss = {CKM_RSA_PKCS_PSS, MECH_RSA_PSS, NULL};
	uint8_t block[TOKEN_KEY_BYTES_MAX];
	int r;

	j->use_mech = false;
	j->module_rv = CKR_OK;
	if (strcmp(j->op_name, "decrypt") == 0)
		return card->driver->decrypt_op
		               ? card->driver->decrypt_op(&card->t, &j->key, pin, j->in, j->inlen, j->out,
		                                          sizeof(j->out), &j->outlen)
		               : -ENOTSUP;
	if (j->key.size > sizeof(block))
		return -EINVAL;
	r = mech_rsa_block(&pss, &j->pss, j->in, j->inlen, block, j->key.size);
	if (r == 0)
		r = card->driver->private_op(&card->t, &j->key, pin, block, j->key.size, j->out,
		                             sizeof(j->out), &j->outlen);
	explicit_bzero(block, sizeof(block));
	return r;
}

static int job_run(struct reader_job *rj, struct reader_card *card)
{
	struct p11_job *j = (struct p11_job *)rj;
	const struct pin_secret *pin = j->op_pin.page ? &j->op_pin : NULL;
	int r;

	switch (j->kind) {
	case JOB_LOGIN:
		r = pin_verify_on_card(card->driver, &card->t, j->reset_first, &j->pin, &j->tries);
		/* What only a logged-in user is shown: which keys need the PIN at each use. */
		if (r == 0 && j->user == CKU_USER && card->driver->pin_always_keys &&
		    card->driver->pin_always_keys(&card->t, j->always, sizeof(j->always), &j->nalways) < 0)
			j->nalways = 0;
		return r;
	case JOB_LOGOUT:
		return card->driver->logout(&card->t);
	case JOB_PIN_CHANGE:
		return pin_change_on_card(card->driver, &card->t, &j->change);
	case JOB_PIN_LOOK:
		return card->driver->pin_status(&card->t, &j->ps);
	case JOB_RANDOM:
		return card->driver->random ? card->driver->random(&card->t, j->rnd, j->rnd_len) : -ENOTSUP;
	case JOB_PRIVATE:
		if (strcmp(j->op_name, "derive") == 0) {
			r = card->driver->derive_op
			            ? card->driver->derive_op(&card->t, &j->key, j->in, j->inlen, j->out,
			                                      sizeof(j->out), &j->outlen)
			            : -ENOTSUP;
			pin_secret_wipe(&j->op_pin);
			return r;
		}
		if (j->use_mech) {
			r = card->driver->mech_op
			            ? card->driver->mech_op(&card->t, strcmp(j->op_name, "decrypt") == 0,
			                                    &j->key, &j->cmech, pin, j->in, j->inlen, j->out,
			                                    sizeof(j->out), &j->outlen, &j->module_rv)
			            : -ENOTSUP;
			if (r == CARD_E_MECH_REFUSED && j->raw_fallback)
				r = raw_fallback(j, card, pin);
			pin_secret_wipe(&j->op_pin);
			return r;
		}
		r = card->driver->decrypt_op && strcmp(j->op_name, "decrypt") == 0
		            ? card->driver->decrypt_op(&card->t, &j->key, pin, j->in, j->inlen, j->out,
		                                       sizeof(j->out), &j->outlen)
		            : card->driver->private_op(&card->t, &j->key, pin, j->in, j->inlen, j->out,
		                                       sizeof(j->out), &j->outlen);
		/* Its use is over: the PIN leaves memory before the answer goes. */
		pin_secret_wipe(&j->op_pin);
		return r;
	}
	return -EINVAL;
}

static void job_done(struct reader_job *rj, int r)
{
	struct p11_job *j = (struct p11_job *)rj;

	pin_secret_wipe(&j->pin);
	pin_secret_wipe(&j->op_pin);
	pin_secret_wipe(&j->change.old);
	pin_secret_wipe(&j->change.new);
	if (r < 0)
		log_debug("card job on slot %lu: %s", (unsigned long)j->slot, strerror(-r));
	j->finish(j, r);
	if (j->rnd) {
		explicit_bzero(j->rnd, j->rnd_len);
		free(j->rnd);
	}
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* A card job for slot s; call is the request to answer when it is done (NULL: nobody waits). */
static struct p11_job *job_alloc(struct daemon *d, struct slot *s, uint64_t app_id, struct call *call,
                                 enum job_kind kind, void (*finish)(struct p11_job *, int))
{
	struct p11_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->rj.run = job_run;
	j->rj.done = job_done;
	j->rj.seq = s->card_seq;
	j->kind = kind;
	j->call = call;
	j->d = d;
	j->slot = s->id;
	j->app_id = app_id;
	j->finish = finish;
	return j;
}

static struct p11_job *job_new(void *ctx, struct slot *s, enum job_kind kind,
                               void (*finish)(struct p11_job *, int))
{
	return job_alloc(DMN(ctx), s, APP(ctx)->id, CALL(ctx), kind, finish);
}

static CK_RV card_rv(int r)
{
	switch (r) {
	case 0:
		return CKR_OK;
	case CARD_E_PIN_INCORRECT:
		return CKR_PIN_INCORRECT;
	case CARD_E_PIN_LOCKED:
		return CKR_PIN_LOCKED;
	case CARD_E_PIN_FORMAT:
		return CKR_PIN_LEN_RANGE;
	case CARD_E_PIN_INVALID:
		return CKR_PIN_INVALID;
	case -ENOTSUP:
		return CKR_FUNCTION_NOT_SUPPORTED;
	case CARD_E_NOT_LOGGED_IN:
		return CKR_USER_NOT_LOGGED_IN;
	case CARD_E_REMOVED:
		return CKR_DEVICE_REMOVED;
	case -ENOMEM:
		return CKR_DEVICE_MEMORY;
	default:
		return CKR_DEVICE_ERROR;
	}
}

/* ---- general, slots, tokens ---- */

/* What the token is, apart from its PIN counter: C_GetTokenInfo says it, C_OpenSession keeps to it.
 * Not CKF_WRITE_PROTECTED: that would allow read-only sessions only (PKCS#11 3.0 §5.6), and
 * pkcs11-tool opens read-write ones for --test and for a PIN change (which the spec allows in a
 * read-write session only); OpenSC's module does not claim it for the same card either. imza still
 * writes no objects (no_new_objects). */
static CK_FLAGS token_flags(const struct token *t)
{
	CK_FLAGS f = CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED;

	/* imza's PIV driver takes random bytes from the card (piv_challenge); a vendor module's token
	 * is served without them for now. */
	if (t->module[0] == '\0' && strcmp(t->driver, piv_driver.name) == 0)
		f |= CKF_RNG;
	return f;
}

static CK_RV p_GetInfo(void *ctx, CK_INFO_PTR info)
{
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion = (CK_VERSION){2, 40};
	pad(info->manufacturerID, sizeof(info->manufacturerID), "imza");
	pad(info->libraryDescription, sizeof(info->libraryDescription), "imza smart-card signing");
	info->libraryVersion = version();
	return CKR_OK;
}

static CK_RV slot_list(struct daemon *d, CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG n = 0;

	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		struct slot *s = slot_by_index(d, i);

		if (s == NULL || s->reader == NULL || (present && s->token == NULL))
			continue;
		if (list && n < *count)
			list[n] = s->id;
		n++;
	}
	if (list && *count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	*count = n;
	return CKR_OK;
}

/* While the modules look at their slots for someone who just came, the slot list waits for what they
 * hold now (slots_listeners_changed); answered by p11_on_slot. */
static CK_RV p_GetSlotList(void *ctx, CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	struct daemon *d = DMN(ctx);

	if (d->look_pending && count != NULL) {
		for (size_t i = 0; i < SLOTS_LISTING_MAX; i++) {
			if (d->listing[i] == NULL) {
				d->listing[i] = CALL(ctx);
				return CKR_IMZA_PENDING;
			}
		}
	}
	return slot_list(d, present, list, count);
}

void p11_on_slot(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev)
{
	(void)ud;
	(void)id;
	if (ev != SLOT_EV_LOOKED)
		return;
	for (size_t i = 0; i < SLOTS_LISTING_MAX; i++) {
		struct call *c = d->listing[i];

		if (c == NULL)
			continue;
		d->listing[i] = NULL;
		call_complete(c, slot_list(d, c->args[0].bbool, c->args[1].ulongs.p, c->args[1].ulongs.n));
	}
}

static CK_RV p_GetSlotInfo(void *ctx, CK_SLOT_ID id, CK_SLOT_INFO_PTR info)
{
	struct slot *s = slot_get(DMN(ctx), id);

	if (s == NULL)
		return CKR_SLOT_ID_INVALID;
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	pad(info->slotDescription, sizeof(info->slotDescription), s->reader_name);
	pad(info->manufacturerID, sizeof(info->manufacturerID), "imza");
	info->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT | (s->token ? CKF_TOKEN_PRESENT : 0);
	info->hardwareVersion = version();
	info->firmwareVersion = version();
	return CKR_OK;
}

/* ---- the PIN counter, as other programs leave it ---- */

#define PIN_LOOK_EVERY_MS 1000

static void pin_look_finish(struct p11_job *j, int r)
{
	struct slot *s = slot_get(j->d, j->slot);

	if (s == NULL)
		return;
	s->pin_looking = false;
	clock_gettime(CLOCK_MONOTONIC, &s->pin_looked);
	if (r == 0 && s->token && s->card_seq == j->rj.seq)
		pin_note_status(s->token, &j->ps);
}

/* Another program (OpenSC, a second imza) may have lowered the card's PIN counter or filled it again:
 * imza's token flags follow within a second. An empty VERIFY on the reader's worker (it costs no try,
 * and like every job it runs in imza's own PC/SC transaction, never inside another program's), at most
 * once a second per card and one at a time, at C_GetTokenInfo (the one call that shows the flags); the
 * caller is answered from the model at once and the next call sees the card's count. A C_Login's VERIFY
 * counts as a look (it tells the counter too). Not for a token served from the cache and not yet
 * checked (its check reads the counter, and must not be brought forward), nor for a vendor module's
 * token. */
static void pin_look(struct daemon *d, struct slot *s)
{
	const struct card_driver *drv = native_driver(s);
	struct timespec now;
	struct p11_job *j;
	long ms;

	if (drv == NULL || drv->pin_status == NULL || s->reader == NULL || s->token->unchecked ||
	    s->pin_looking)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(now.tv_sec - s->pin_looked.tv_sec) * 1000 +
	     (now.tv_nsec - s->pin_looked.tv_nsec) / 1000000;
	if (s->pin_looked.tv_sec != 0 && ms >= 0 && ms < PIN_LOOK_EVERY_MS)
		return;
	j = job_alloc(d, s, 0, NULL, JOB_PIN_LOOK, pin_look_finish);
	if (j == NULL)
		return;
	s->pin_looking = true;
	reader_submit(s->reader, &j->rj);
}

static CK_RV p_GetTokenInfo(void *ctx, CK_SLOT_ID id, CK_TOKEN_INFO_PTR info)
{
	struct slot *s = slot_get(DMN(ctx), id);
	struct token *t;

	if (s == NULL)
		return CKR_SLOT_ID_INVALID;
	if (s->token == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	t = s->token;
	pin_look(DMN(ctx), s);
	memset(info, 0, sizeof(*info));
	memcpy(info->label, t->label, sizeof(info->label));
	pad(info->manufacturerID, sizeof(info->manufacturerID), "imza (PIV card)");
	pad(info->model, sizeof(info->model), "PIV II");
	pad(info->serialNumber, sizeof(info->serialNumber), t->serial);
	info->flags = token_flags(t);
	if (t->pin_tries_left == 0)
		info->flags |= CKF_USER_PIN_LOCKED;
	else if (t->pin_tries_left == 1)
		info->flags |= CKF_USER_PIN_FINAL_TRY;
	if (t->pin_count_low || (t->pin_tries_left >= 0 && t->pin_tries_left < t->pin_tries_max))
		info->flags |= CKF_USER_PIN_COUNT_LOW;
	if (t->puk_known) {
		info->flags |= CKF_SO_PIN_COUNT_LOW;
		if (t->puk_tries_left == 0)
			info->flags |= CKF_SO_PIN_LOCKED;
		else if (t->puk_tries_left == 1)
			info->flags |= CKF_SO_PIN_FINAL_TRY;
	}
	/* The real limit: an application holds at most this many sessions (all slots together). */
	info->ulMaxSessionCount = APP_MAX_SESSIONS;
	info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxRwSessionCount = APP_MAX_SESSIONS;
	info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
	/* The driver's PIN lengths (PIV: 6 to 8 digits), which C_Login and C_SetPIN hold PINs to. */
	info->ulMaxPinLen = native_driver(s) && native_driver(s)->pin_max ? native_driver(s)->pin_max : 8;
	info->ulMinPinLen = native_driver(s) && native_driver(s)->pin_min ? native_driver(s)->pin_min : 4;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion = version();
	info->firmwareVersion = version();
	return CKR_OK;
}

static CK_RV p_GetMechanismList(void *ctx, CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	struct slot *s = slot_get(DMN(ctx), id);
	struct token_mech mods[MECH_MODULE_LIST_MAX];
	CK_ULONG n = (CK_ULONG)(mech_sign_count + mech_other_count);
	bool module;

	if (s == NULL)
		return CKR_SLOT_ID_INVALID;
	if (s->token == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if (count == NULL)
		return CKR_ARGUMENTS_BAD;
	/* A module's token: what its module can serve (mech-module.h); imza's own cards: imza's table. */
	module = token_module_mechs(s->token);
	if (module)
		n = (CK_ULONG)mech_module_list(s->token, mods, MECH_MODULE_LIST_MAX);
	if (list && *count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (CK_ULONG i = 0; list && i < n; i++)
		list[i] = module                ? mods[i].type
		          : i < mech_sign_count ? mech_sign_table[i].type
		                                : mech_other_table[i - mech_sign_count];
	*count = n;
	return CKR_OK;
}

static CK_RV p_GetMechanismInfo(void *ctx, CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	struct slot *s = slot_get(DMN(ctx), id);
	const struct mech_desc *m = mech_find(type);

	if (s == NULL)
		return CKR_SLOT_ID_INVALID;
	if (s->token == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	if (token_module_mechs(s->token)) {
		struct token_mech mods[MECH_MODULE_LIST_MAX];
		size_t n = mech_module_list(s->token, mods, MECH_MODULE_LIST_MAX);

		for (size_t i = 0; i < n; i++)
			if (mods[i].type == type) {
				*info = mods[i].info;
				return CKR_OK;
			}
		return CKR_MECHANISM_INVALID;
	}
	/* Digests and verification are imzad's (p11-soft.c): no CKF_HW on what only they do. */
	if (mech_hash_name(type) != NULL) {
		info->flags = CKF_DIGEST;
		return CKR_OK;
	}
	/* RSA: the sizes PIV defines, 1024 (legacy) to 4096 bits. */
	info->ulMinKeySize = 1024;
	info->ulMaxKeySize = 4096;
	if (type == CKM_RSA_X_509) {
		info->flags = CKF_HW | CKF_DECRYPT | CKF_VERIFY | CKF_VERIFY_RECOVER;
		return CKR_OK;
	}
	if (type == CKM_RSA_PKCS_OAEP) {
		info->flags = CKF_HW | CKF_DECRYPT;
		return CKR_OK;
	}
	if (type == CKM_ECDH1_DERIVE) {
		info->ulMinKeySize = 256;
		info->ulMaxKeySize = 384;
		info->flags = CKF_HW | CKF_DERIVE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
		return CKR_OK;
	}
	if (m == NULL)
		return CKR_MECHANISM_INVALID;
	if (m->family == MECH_ECDSA) {
		info->ulMinKeySize = 256;
		info->ulMaxKeySize = 384;
		info->flags =
		        CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
	} else {
		info->flags = CKF_HW | CKF_SIGN | CKF_VERIFY |
		              (type == CKM_RSA_PKCS ? CKF_DECRYPT | CKF_VERIFY_RECOVER : 0);
	}
	return CKR_OK;
}

static CK_RV p_WaitForSlotEvent(void *ctx, CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	struct app *a = APP(ctx);

	if (slot == NULL)
		return CKR_ARGUMENTS_BAD;
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		if (a->event[i]) {
			a->event[i] = false;
			*slot = a->d->slots[i].id;
			return CKR_OK;
		}
	}
	if (flags & CKF_DONT_BLOCK)
		return CKR_NO_EVENT;
	if (a->waiting)
		return CKR_FUNCTION_FAILED;
	a->waiting = CALL(ctx);
	return CKR_IMZA_PENDING;
}

/* ---- sessions ---- */

static CK_RV p_OpenSession(void *ctx, CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR app_ptr, CK_NOTIFY notify,
                           CK_SESSION_HANDLE_PTR ret)
{
	struct app *a = APP(ctx);
	struct slot *s = slot_get(a->d, id);
	struct session *sess;

	if (s == NULL)
		return CKR_SLOT_ID_INVALID;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (s->token == NULL)
		return CKR_TOKEN_NOT_PRESENT;
	if (ret == NULL)
		return CKR_ARGUMENTS_BAD;
	/* PKCS#11 3.0 §5.6: a write-protected token has read-only sessions only. */
	if ((flags & CKF_RW_SESSION) && (token_flags(s->token) & CKF_WRITE_PROTECTED))
		return CKR_TOKEN_WRITE_PROTECTED;
	/* PKCS#11 3.0 §5.6: no read-only session while the SO is logged in. */
	if (!(flags & CKF_RW_SESSION) && so_logged_in(a, s))
		return CKR_SESSION_READ_WRITE_SO_EXISTS;
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++) {
		if (a->sessions[i])
			continue;
		sess = calloc(1, sizeof(*sess));
		if (sess == NULL)
			return CKR_HOST_MEMORY;
		sess->handle = a->next_handle++;
		sess->slot = id;
		sess->card_seq = s->card_seq;
		sess->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
		a->sessions[i] = sess;
		*ret = sess->handle;
		return CKR_OK;
	}
	return CKR_SESSION_COUNT;
}

static CK_RV p_CloseSession(void *ctx, CK_SESSION_HANDLE h)
{
	if (app_session(APP(ctx), h) == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	app_close_session(APP(ctx), h);
	return CKR_OK;
}

static CK_RV p_CloseAllSessions(void *ctx, CK_SLOT_ID id)
{
	struct app *a = APP(ctx);

	if (slot_get(a->d, id) == NULL)
		return CKR_SLOT_ID_INVALID;
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
		if (a->sessions[i] && a->sessions[i]->slot == id)
			app_close_session(a, a->sessions[i]->handle);
	return CKR_OK;
}

static CK_RV p_GetSessionInfo(void *ctx, CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = get_session(ctx, h, &sess, &s);
	bool rw, user;

	if (rv != CKR_OK)
		return rv;
	if (info == NULL)
		return CKR_ARGUMENTS_BAD;
	rw = sess->flags & CKF_RW_SESSION;
	user = logged_in(APP(ctx), s);
	info->slotID = sess->slot;
	info->state = rw ? (user ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION)
	                 : (user ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION);
	if (rw && so_logged_in(APP(ctx), s))
		info->state = CKS_RW_SO_FUNCTIONS;
	info->flags = sess->flags;
	info->ulDeviceError = 0;
	return CKR_OK;
}

/* ---- login ---- */

static void login_finish(struct p11_job *j, int r)
{
	struct slot *s = slot_get(j->d, j->slot);
	struct app *a = j->call->app;
	CK_RV rv = card_rv(r);

	if (s && s->token && s->card_seq == j->rj.seq) {
		if (r == 0) {
			s->owner_app = j->app_id;
			if (a && j->call->args[1].ul == CKU_USER)
				a->login_seq[slot_index(j->d, s)] = s->card_seq;
		} else if (r != CARD_E_PIN_FORMAT) { /* that one never reached the card */
			/* A failed VERIFY leaves the card's login state unknown: no one holds it now. */
			s->owner_app = 0;
		}
		if (r != CARD_E_PIN_FORMAT) {
			pin_note_result(s->token, r, j->tries);
			/* The VERIFY told the card's counter: as good as a look. */
			clock_gettime(CLOCK_MONOTONIC, &s->pin_looked);
		}
		for (size_t i = 0; r == 0 && i < j->nalways; i++)
			token_set_pin_always(s->token, j->always[i]);
	}
	if (a && j->user == CKU_CONTEXT_SPECIFIC) {
		struct session *sess = app_session(a, j->call->args[0].ul);

		if (sess && sess->op && r == 0)
			sess->op->context_login = true;
		else if (sess && sess->op)
			pin_secret_wipe(&sess->op->context_pin);
	}
	call_complete(j->call, rv);
}

/* The SO of a PIV card is the holder of its PUK (the card's administrator is its management key, which
 * imza never holds): C_Login(CKU_SO) keeps the PUK, in a locked page, for one C_InitPIN (docs/PIN.md).
 * Nothing goes to the card: PIV can check a PUK only by using it (RESET RETRY COUNTER), and a wrong one
 * there costs a try, so it is checked where it is used. Its form is checked here. */
static CK_RV so_login(struct app *a, struct slot *s, CK_UTF8CHAR_PTR puk, CK_ULONG len)
{
	const struct card_driver *drv = card_driver_of(a->d, s);
	size_t idx = slot_index(a->d, s);
	int r;

	if (drv == NULL || drv->puk_ok == NULL || drv->unblock_pin == NULL)
		return CKR_USER_TYPE_INVALID;
	if (so_logged_in(a, s))
		return CKR_USER_ALREADY_LOGGED_IN;
	if (logged_in(a, s))
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (puk == NULL)
		return CKR_ARGUMENTS_BAD;
	r = pin_format(drv, true, puk, len);
	if (r < 0)
		return r == CARD_E_PIN_INVALID ? CKR_PIN_INCORRECT : CKR_PIN_LEN_RANGE;
	if (s->token->puk_known && s->token->puk_tries_left == 0)
		return CKR_PIN_LOCKED;
	pin_secret_wipe(&a->so_puk[idx]);
	if (pin_secret_set(&a->so_puk[idx], puk, len) < 0)
		return CKR_HOST_MEMORY;
	a->so_seq[idx] = s->card_seq;
	return CKR_OK;
}

static CK_RV p_Login(void *ctx, CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	struct app *a = APP(ctx);
	struct session *sess;
	struct slot *s;
	struct p11_job *j;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (type == CKU_SO) {
		/* PKCS#11 3.0 §5.6: the SO never logs in while the application has a read-only session. */
		for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
			if (a->sessions[i] && a->sessions[i]->slot == s->id &&
			    !(a->sessions[i]->flags & CKF_RW_SESSION))
				return CKR_SESSION_READ_ONLY_EXISTS;
		return so_login(a, s, pin, len);
	}
	if (type != CKU_USER && type != CKU_CONTEXT_SPECIFIC)
		return CKR_USER_TYPE_INVALID;
	if (type == CKU_USER && logged_in(a, s))
		return CKR_USER_ALREADY_LOGGED_IN;
	if (type == CKU_USER && so_logged_in(a, s))
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (type == CKU_CONTEXT_SPECIFIC) {
		if (op_kind(sess->op) != OP_SIGN && op_kind(sess->op) != OP_DECRYPT)
			return CKR_OPERATION_NOT_INITIALIZED;
		if (!logged_in(a, s))
			return CKR_USER_NOT_LOGGED_IN;
	}
	/* No PIN pad support yet: a NULL PIN (protected authentication path) is refused. */
	if (pin == NULL)
		return CKR_ARGUMENTS_BAD;
	if (len < 1 || len > PIV_PIN_MAX)
		return CKR_PIN_LEN_RANGE;
	j = job_new(ctx, s, JOB_LOGIN, login_finish);
	if (j == NULL)
		return CKR_HOST_MEMORY;
	j->user = type;
	j->reset_first = s->owner_app != 0 && s->owner_app != a->id;
	if (pin_secret_set(&j->pin, pin, len) < 0) {
		free(j);
		return CKR_HOST_MEMORY;
	}
	/* The operation keeps its own copy for a card that wants the PIN inside it (a vendor module);
	 * this job's is wiped when the card has checked it. */
	if (type == CKU_CONTEXT_SPECIFIC) {
		sess->op->context_login = false;
		pin_secret_wipe(&sess->op->context_pin);
		if (pin_secret_set(&sess->op->context_pin, pin, len) < 0) {
			pin_secret_wipe(&j->pin);
			free(j);
			return CKR_HOST_MEMORY;
		}
	}
	reader_submit(s->reader, &j->rj);
	return CKR_IMZA_PENDING;
}

/* The card forgot this application's login: nobody holds it now. */
static void release_finish(struct p11_job *j, int r)
{
	struct slot *s = slot_get(j->d, j->slot);

	if (s && s->owner_app == j->app_id)
		s->owner_app = 0;
}

static void logout_finish(struct p11_job *j, int r)
{
	release_finish(j, r);
	call_complete(j->call, r == 0 || r == CARD_E_REMOVED ? CKR_OK : card_rv(r));
}

void p11_release_card(struct daemon *d, struct slot *s, uint64_t app_id)
{
	struct p11_job *j;

	if (s->reader == NULL || s->token == NULL || s->owner_app != app_id)
		return;
	j = job_alloc(d, s, app_id, NULL, JOB_LOGOUT, release_finish);
	if (j != NULL)
		reader_submit(s->reader, &j->rj);
}

static CK_RV p_Logout(void *ctx, CK_SESSION_HANDLE h)
{
	struct app *a = APP(ctx);
	struct session *sess;
	struct slot *s;
	struct p11_job *j;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (so_logged_in(a, s)) {
		app_so_logout(a, slot_index(a->d, s));
		return CKR_OK;
	}
	if (!logged_in(a, s))
		return CKR_USER_NOT_LOGGED_IN;
	a->login_seq[slot_index(a->d, s)] = 0;
	/* The card's operations end with the login; a digest or a verification needs none and goes on. */
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
		if (a->sessions[i] && a->sessions[i]->slot == s->id &&
		    (op_kind(a->sessions[i]->op) == OP_SIGN || op_kind(a->sessions[i]->op) == OP_DECRYPT))
			op_end(&a->sessions[i]->op);
	/* The card forgets the PIN only if it holds ours: another application's login stays. */
	if (s->owner_app != a->id)
		return CKR_OK;
	j = job_new(ctx, s, JOB_LOGOUT, logout_finish);
	if (j == NULL)
		return CKR_HOST_MEMORY;
	reader_submit(s->reader, &j->rj);
	return CKR_IMZA_PENDING;
}

/* ---- the PIN changed, and unblocked with the PUK (docs/PIN.md) ---- */

static void pin_change_finish(struct p11_job *j, int r)
{
	struct slot *s = slot_get(j->d, j->slot);
	struct app *a = j->call ? j->call->app : NULL;
	const struct pin_change *c = &j->change;

	if (s && s->token && s->card_seq == j->rj.seq) {
		bool touched_pin = c->done != PIN_OP_CHANGE_PUK && r != CARD_E_PIN_FORMAT &&
		                   r != CARD_E_PIN_INVALID && r != -ENOTSUP;

		/* Who holds the card's login now: the application that changed its PIN while logged in; else
		 * nobody (the card was reset before, or made to forget after, or a wrong PIN left it unknown). */
		if (r == 0 && c->done == PIN_OP_CHANGE && a && logged_in(a, s))
			s->owner_app = a->id;
		else if (touched_pin)
			s->owner_app = 0;
		pin_note_change(s->token, c, r);
		clock_gettime(CLOCK_MONOTONIC, &s->pin_looked);
	}
	if (j->pin_done)
		j->pin_done(j->pin_ud, s && s->card_seq == j->rj.seq ? r : CARD_E_REMOVED, &j->change);
	else
		call_complete(j->call, card_rv(r));
}

static CK_RV pin_change_submit(void *ctx, struct slot *s, enum pin_op op, struct pin_secret *old,
                               const CK_UTF8CHAR *new, CK_ULONG newlen)
{
	struct app *a = APP(ctx);
	struct p11_job *j;

	if (newlen > PIN_MAX_LEN) {
		pin_secret_wipe(old);
		return CKR_PIN_LEN_RANGE;
	}
	j = job_new(ctx, s, JOB_PIN_CHANGE, pin_change_finish);
	if (j == NULL || pin_secret_set(&j->change.new, new, newlen) < 0) {
		pin_secret_wipe(old);
		free(j);
		return CKR_HOST_MEMORY;
	}
	j->change.op = op;
	j->change.old = *old;
	*old = (struct pin_secret){0};
	j->change.reset_first = s->owner_app != 0 && s->owner_app != a->id;
	j->change.forget_after = !logged_in(a, s);
	reader_submit(s->reader, &j->rj);
	return CKR_IMZA_PENDING;
}

int p11_pin_admin(struct daemon *d, struct slot *s, enum pin_op op, struct pin_secret *old,
                  struct pin_secret *new, void (*done)(void *ud, int r, const struct pin_change *c), void *ud)
{
	struct p11_job *j;

	if (op != PIN_OP_CHANGE && op != PIN_OP_UNBLOCK) {
		pin_secret_wipe(old);
		pin_secret_wipe(new);
		return -EINVAL;
	}
	if (card_driver_of(d, s) == NULL || s->reader == NULL) {
		pin_secret_wipe(old);
		pin_secret_wipe(new);
		return -ENOTSUP;
	}
	j = job_alloc(d, s, 0, NULL, JOB_PIN_CHANGE, pin_change_finish);
	if (j == NULL) {
		pin_secret_wipe(old);
		pin_secret_wipe(new);
		return -ENOMEM;
	}
	j->pin_done = done;
	j->pin_ud = ud;
	j->change.op = op;
	j->change.old = *old;
	j->change.new = *new;
	*old = (struct pin_secret){0};
	*new = (struct pin_secret){0};
	/* imzactl holds no login: another application's is forgotten first, and the card forgets what the
	 * change verified, so the change never leaves the card open for anyone. */
	j->change.reset_first = s->owner_app != 0;
	j->change.forget_after = true;
	reader_submit(s->reader, &j->rj);
	return 0;
}

/* C_SetPIN: logged in as the user, the PIN changes (CHANGE REFERENCE DATA); as the SO, the PUK does;
 * with no login, the PIN changes, or, when the card says it is locked, the old value is the PUK and the
 * PIN is unblocked (RESET RETRY COUNTER), as OpenSC's user_pin_unblock_style = set_pin_in_unlogged_session
 * does it. The forms are checked before anything reaches the card. */
static CK_RV p_SetPIN(void *ctx, CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old, CK_ULONG oldlen,
                      CK_UTF8CHAR_PTR new, CK_ULONG newlen)
{
	struct app *a = APP(ctx);
	struct session *sess;
	struct slot *s;
	struct pin_secret o = {0};
	enum pin_op op;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (!(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	/* No PIN pad support yet: NULL PINs (protected authentication path) are refused. */
	if (old == NULL || new == NULL)
		return CKR_ARGUMENTS_BAD;
	if (card_driver_of(a->d, s) == NULL || card_driver_of(a->d, s)->change_ref == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (oldlen > PIN_MAX_LEN || newlen > PIN_MAX_LEN)
		return CKR_PIN_LEN_RANGE;
	op = so_logged_in(a, s) ? PIN_OP_CHANGE_PUK
	     : logged_in(a, s)  ? PIN_OP_CHANGE
	                        : PIN_OP_CHANGE_OR_UNBLOCK;
	if (pin_secret_set(&o, old, oldlen) < 0)
		return CKR_HOST_MEMORY;
	return pin_change_submit(ctx, s, op, &o, new, newlen);
}

/* C_InitPIN, as the SO: a new PIN with the PUK the SO's login kept (RESET RETRY COUNTER). That PUK goes
 * with this call whatever its outcome; another C_InitPIN needs the SO's login again. */
static CK_RV p_InitPIN(void *ctx, CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	struct app *a = APP(ctx);
	struct session *sess;
	struct slot *s;
	size_t idx;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (!(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	idx = slot_index(a->d, s);
	if (!so_logged_in(a, s) || a->so_puk[idx].page == NULL)
		return CKR_USER_NOT_LOGGED_IN;
	if (pin == NULL)
		return CKR_ARGUMENTS_BAD;
	return pin_change_submit(ctx, s, PIN_OP_UNBLOCK, &a->so_puk[idx], pin, len);
}

/* ---- objects ---- */

/* ---- session objects (C_DeriveKey's secrets) ---- */

/* The link that points to the application's session object h on slot s (any of its sessions there), or
 * NULL. */
static struct session_obj **session_obj_link(struct app *a, const struct slot *s, CK_OBJECT_HANDLE h)
{
	if (h < SESSION_OBJECT_HANDLE_BASE)
		return NULL;
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++) {
		struct session *o = a->sessions[i];

		if (o == NULL || o->slot != s->id || o->card_seq != s->card_seq)
			continue;
		for (struct session_obj **pp = &o->objs; *pp; pp = &(*pp)->next)
			if ((*pp)->o.handle == h)
				return pp;
	}
	return NULL;
}

static size_t session_obj_count(const struct app *a)
{
	size_t n = 0;

	for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
		for (const struct session_obj *so = a->sessions[i] ? a->sessions[i]->objs : NULL; so;
		     so = so->next)
			n++;
	return n;
}

static CK_RV p_FindObjectsInit(void *ctx, CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (sess->find)
		return CKR_OPERATION_ACTIVE;
	if (tmpl == NULL && n > 0)
		return CKR_ARGUMENTS_BAD;
	if (op_begin(&sess->find, OP_FIND) < 0)
		return CKR_HOST_MEMORY;
	for (size_t i = 0; i < s->token->nobjs; i++) {
		const struct token_object *o = &s->token->objs[i];

		if (visible(APP(ctx), s, o) && token_match(o, tmpl, n))
			sess->find->found[sess->find->nfound++] = o->handle;
	}
	/* Then the application's session objects on this card (at most APP_MAX_SESSION_OBJECTS). */
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++) {
		const struct session *other = APP(ctx)->sessions[i];

		if (other == NULL || other->slot != s->id || other->card_seq != s->card_seq)
			continue;
		for (const struct session_obj *so = other->objs; so; so = so->next)
			if (sess->find->nfound < sizeof(sess->find->found) / sizeof(sess->find->found[0]) &&
			    visible(APP(ctx), s, &so->o) && token_match(&so->o, tmpl, n))
				sess->find->found[sess->find->nfound++] = so->o.handle;
	}
	return CKR_OK;
}

static CK_RV p_FindObjects(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                           CK_ULONG_PTR count)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = get_session(ctx, h, &sess, &s);
	CK_ULONG n = 0;

	if (rv != CKR_OK)
		return rv;
	if (sess->find == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (count == NULL || (out == NULL && max > 0))
		return CKR_ARGUMENTS_BAD;
	while (n < max && sess->find->next < sess->find->nfound)
		out[n++] = sess->find->found[sess->find->next++];
	*count = n;
	return CKR_OK;
}

static CK_RV p_FindObjectsFinal(void *ctx, CK_SESSION_HANDLE h)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (sess->find == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	op_end(&sess->find);
	return CKR_OK;
}

static CK_RV find_object(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, struct session **ret_sess,
                         struct slot **ret_slot, struct token_object **ret_obj)
{
	CK_RV rv = get_session(ctx, h, ret_sess, ret_slot);
	struct token_object *o;

	if (rv != CKR_OK)
		return rv;
	o = token_object((*ret_slot)->token, oh);
	if (o == NULL) {
		struct session_obj **link = session_obj_link(APP(ctx), *ret_slot, oh);

		o = link ? &(*link)->o : NULL;
	}
	if (o == NULL || !visible(APP(ctx), *ret_slot, o))
		return CKR_OBJECT_HANDLE_INVALID;
	*ret_obj = o;
	return CKR_OK;
}

/* For calls that only need a valid object before giving their fixed answer. */
static CK_RV object_then(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_RV answer)
{
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	CK_RV rv = find_object(ctx, h, oh, &sess, &s, &o);

	return rv != CKR_OK ? rv : answer;
}

/* PKCS#11 2.40 §5.7: every attribute is answered; the worst problem found is the return value. */
static CK_RV p_GetAttributeValue(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR t,
                                 CK_ULONG n)
{
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	CK_RV rv = find_object(ctx, h, oh, &sess, &s, &o);
	bool sensitive = false, invalid = false, small = false;

	if (rv != CKR_OK)
		return rv;
	if (t == NULL && n > 0)
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < n; i++) {
		const struct token_attr *a = token_attr(o, t[i].type);

		if (token_attr_sensitive(o, t[i].type)) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			sensitive = true;
		} else if (a == NULL) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			invalid = true;
		} else if (t[i].pValue == NULL) {
			t[i].ulValueLen = a->len;
		} else if (t[i].ulValueLen < a->len) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			small = true;
		} else {
			memcpy(t[i].pValue, a->value, a->len);
			t[i].ulValueLen = a->len;
		}
	}
	if (sensitive)
		return CKR_ATTRIBUTE_SENSITIVE;
	if (invalid)
		return CKR_ATTRIBUTE_TYPE_INVALID;
	return small ? CKR_BUFFER_TOO_SMALL : CKR_OK;
}

static CK_RV p_GetObjectSize(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ULONG_PTR size)
{
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	CK_RV rv = find_object(ctx, h, oh, &sess, &s, &o);

	if (rv != CKR_OK)
		return rv;
	if (size == NULL)
		return CKR_ARGUMENTS_BAD;
	*size = CK_UNAVAILABLE_INFORMATION;
	return CKR_OK;
}

/* imza makes no objects: the card's are written with its management key, which imza never holds. The
 * arguments are checked first (PKCS#11 3.0 §5.7); a token object asked for in a read-only session is
 * the spec's CKR_SESSION_READ_ONLY; anything else is an object imza cannot make. */
static CK_RV no_new_objects(const struct session *sess, const struct token *t, const CK_ATTRIBUTE *tmpl,
                            CK_ULONG n)
{
	bool token_obj = false;

	if (token_flags(t) & CKF_WRITE_PROTECTED)
		return CKR_TOKEN_WRITE_PROTECTED;
	for (CK_ULONG i = 0; i < n; i++)
		if (tmpl[i].type == CKA_TOKEN && tmpl[i].pValue && tmpl[i].ulValueLen == sizeof(CK_BBOOL))
			token_obj = *(const CK_BBOOL *)tmpl[i].pValue == CK_TRUE;
	if (token_obj && !(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV p_CreateObject(void *ctx, CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                            CK_OBJECT_HANDLE_PTR r)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv;

	if ((t == NULL && n > 0) || r == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = get_session(ctx, h, &sess, &s);
	return rv != CKR_OK ? rv : no_new_objects(sess, s->token, t, n);
}

static CK_RV p_CopyObject(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                          CK_OBJECT_HANDLE_PTR r)
{
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	CK_RV rv;

	if ((t == NULL && n > 0) || r == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = find_object(ctx, h, oh, &sess, &s, &o);
	return rv != CKR_OK ? rv : no_new_objects(sess, s->token, t, n);
}

/* A session object goes (a read-only session may destroy one, PKCS#11 3.0 §5.7); the card's stay. */
static CK_RV p_DestroyObject(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh)
{
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	struct session_obj **link, *so;
	CK_RV rv = find_object(ctx, h, oh, &sess, &s, &o);

	if (rv != CKR_OK)
		return rv;
	link = session_obj_link(APP(ctx), s, oh);
	if (link == NULL)
		return CKR_ACTION_PROHIBITED;
	so = *link;
	*link = so->next;
	session_obj_free(so);
	return CKR_OK;
}

static CK_RV p_SetAttributeValue(void *ctx, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR t,
                                 CK_ULONG n)
{
	if (t == NULL && n > 0)
		return CKR_ARGUMENTS_BAD;
	return object_then(ctx, h, oh, CKR_ACTION_PROHIBITED);
}

/* ---- signing and decryption ---- */

static size_t out_len(const struct token_key_info *k)
{
	return k->type == CKK_EC ? 2 * k->size : k->size;
}

/* CK_RSA_PKCS_OAEP_PARAMS as imzad takes them: a hash and an MGF1 hash of SHA-1..512, the label given
 * as data (CKZ_DATA_SPECIFIED; 0 is taken for no label, as some applications send it), bounded; and a
 * modulus that holds the padding (k >= 2 hLen + 2, PKCS#1 v2.2 §7.1.2). */
static CK_RV oaep_params(const CK_MECHANISM *m, size_t modlen, struct mech_oaep *ret)
{
	const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;
	const EVP_MD *md;
	struct mech_oaep o;

	if (p == NULL || m->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	o = (struct mech_oaep){p->hashAlg, p->mgf, p->pSourceData, p->ulSourceDataLen};
	if (o.label_len == 0)
		o.label = NULL;
	if (!(p->source == CKZ_DATA_SPECIFIED || (p->source == 0 && o.label_len == 0)) || !mech_oaep_ok(&o))
		return CKR_MECHANISM_PARAM_INVALID;
	md = EVP_get_digestbyname(mech_hash_name(o.hash));
	if (md == NULL || modlen < 2 * (size_t)EVP_MD_get_size(md) + 2)
		return CKR_MECHANISM_PARAM_INVALID;
	*ret = o;
	return CKR_OK;
}

/* The mechanism for a vendor module in host form, bounded and copied (it outlives the call): no
 * parameters, PSS's, OAEP's with its label, or a mechanism's opaque bytes as the wire carries them.
 * Parameters of another kind (ECDH's, GCM's, ones the wire cannot carry) are not for a signature or a
 * decryption with a private key. */
static CK_RV card_mech_of(const CK_MECHANISM *m, struct card_mech *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->type = m->mechanism;
	if (m->pParameter == NULL && m->ulParameterLen == 0)
		return CKR_OK;
	if (m->pParameter == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	switch (proto_mech_param_kind(m->mechanism)) {
	case PROTO_MECH_PARAM_PSS:
		if (m->ulParameterLen != sizeof(ret->pss))
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(&ret->pss, m->pParameter, sizeof(ret->pss));
		ret->param = CARD_MECH_PSS;
		return CKR_OK;
	case PROTO_MECH_PARAM_OAEP:
		if (m->ulParameterLen != sizeof(ret->oaep))
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(&ret->oaep, m->pParameter, sizeof(ret->oaep));
		if (ret->oaep.ulSourceDataLen > sizeof(ret->bytes) ||
		    (ret->oaep.ulSourceDataLen > 0 && ret->oaep.pSourceData == NULL))
			return CKR_MECHANISM_PARAM_INVALID;
		if (ret->oaep.ulSourceDataLen > 0)
			memcpy(ret->bytes, ret->oaep.pSourceData, ret->oaep.ulSourceDataLen);
		ret->bytes_len = ret->oaep.ulSourceDataLen;
		ret->oaep.pSourceData = NULL;
		ret->param = CARD_MECH_OAEP;
		return CKR_OK;
	case PROTO_MECH_PARAM_BYTES:
		if (m->ulParameterLen > sizeof(ret->bytes))
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(ret->bytes, m->pParameter, m->ulParameterLen);
		ret->bytes_len = m->ulParameterLen;
		ret->param = CARD_MECH_BYTES;
		return CKR_OK;
	default:
		return CKR_MECHANISM_PARAM_INVALID;
	}
}

/* What a private-key operation keeps from its Init: the mechanism, the key, and OAEP's parameters (when
 * oaep is given) with the label copied into the operation. */
static void op_set(struct op *op, CK_MECHANISM_TYPE type, const struct mech_desc *md, CK_OBJECT_HANDLE key,
                   const struct mech_oaep *oaep)
{
	if (oaep) {
		if (oaep->label_len > 0)
			memcpy(op->label, oaep->label, oaep->label_len);
		op->oaep = *oaep;
		op->oaep.label = oaep->label_len > 0 ? op->label : NULL;
	}
	op->type = type;
	op->mech = md;
	op->key = key;
}

/* C_SignInit and C_DecryptInit on a vendor module's token: a mechanism its module serves
 * (mech_module_route), nothing of imza's own table beyond what the module has. */
static CK_RV op_init_module(struct session *sess, struct slot *s, const struct token_object *o,
                            const CK_MECHANISM *m, CK_OBJECT_HANDLE key, enum op_kind kind)
{
	bool decrypt = kind == OP_DECRYPT;
	const struct mech_desc *md = decrypt ? NULL : mech_find(m->mechanism);
	struct mech_oaep oaep = {0};
	struct mech_pss pss = {0};
	struct mech_route route;
	const struct token_mech *x509;
	struct card_mech cm;
	bool has_pss = false, fallback = false;
	CK_RV rv;

	if (mech_module_route(s->token, m->mechanism, decrypt, &route) < 0)
		return CKR_MECHANISM_INVALID;
	/* The key type a mechanism imza knows needs; a vendor's is the module's to judge. */
	if (md && (md->family == MECH_ECDSA) != (o->key.type == CKK_EC))
		return CKR_KEY_TYPE_INCONSISTENT;
	if (decrypt && o->key.type != CKK_RSA &&
	    (m->mechanism == CKM_RSA_PKCS || m->mechanism == CKM_RSA_PKCS_OAEP ||
	     m->mechanism == CKM_RSA_X_509))
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!attr_bool(o, decrypt ? CKA_DECRYPT : CKA_SIGN))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	rv = card_mech_of(m, &cm);
	if (rv != CKR_OK)
		return rv;
	/* What imza makes itself (the PSS block or the hash the module's PSS signs, the OAEP unpadding)
	 * takes only parameters imza can apply; what is passed through is the module's to judge. */
	if (md && md->family == MECH_RSA_PSS && route.kind != MECH_ROUTE_PASS) {
		if (mech_pss_params(md, m, o->key.size, &pss) < 0)
			return CKR_MECHANISM_PARAM_INVALID;
		has_pss = true;
	}
	if (decrypt && route.kind == MECH_ROUTE_RAW && m->mechanism == CKM_RSA_PKCS_OAEP) {
		rv = oaep_params(m, o->key.size, &oaep);
		if (rv != CKR_OK)
			return rv;
	}
	/* PSS and OAEP the module is given: if it refuses their parameters at its Init and imza can apply
	 * them, imza's own over the module's raw RSA (raw_fallback of the job). */
	x509 = token_mech(s->token, CKM_RSA_X_509);
	if (x509 && (x509->info.flags & (decrypt ? CKF_DECRYPT : CKF_SIGN)) && route.kind != MECH_ROUTE_RAW &&
	    o->key.type == CKK_RSA) {
		if (!decrypt && md && md->family == MECH_RSA_PSS &&
		    (has_pss || mech_pss_params(md, m, o->key.size, &pss) == 0)) {
			has_pss = true;
			fallback = true;
		}
		if (decrypt && m->mechanism == CKM_RSA_PKCS_OAEP &&
		    oaep_params(m, o->key.size, &oaep) == CKR_OK)
			fallback = true;
	}
	if (route.kind != MECH_ROUTE_PASS) {
		cm.type = route.card_type;
		if (!(route.kind == MECH_ROUTE_HASH && has_pss)) {
			cm.param = CARD_MECH_NONE;
			cm.bytes_len = 0;
		}
	}
	if (op_begin(&sess->op, kind) < 0)
		return CKR_HOST_MEMORY;
	sess->op->module = true;
	sess->op->raw_fallback = fallback;
	sess->op->route = route;
	sess->op->cmech = cm;
	sess->op->pss = pss;
	sess->op->has_pss = has_pss;
	op_set(sess->op, m->mechanism, md, key, &oaep);
	return CKR_OK;
}

static CK_RV op_init(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
                     enum op_kind kind)
{
	struct app *a = APP(ctx);
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	const struct mech_desc *md;
	struct mech_oaep oaep = {0};
	struct mech_pss pss = {0};
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (m == NULL) {
		/* PKCS#11 3.0: a NULL mechanism ends the operation. */
		op_end(&sess->op);
		return CKR_OK;
	}
	if (sess->op)
		return CKR_OPERATION_ACTIVE;
	o = token_object(s->token, key);
	if (o == NULL || o->cls != CKO_PRIVATE_KEY)
		return CKR_KEY_HANDLE_INVALID;
	if (!visible(a, s, o))
		return CKR_USER_NOT_LOGGED_IN;
	if (token_module_mechs(s->token))
		return op_init_module(sess, s, o, m, key, kind);
	if (kind == OP_DECRYPT) {
		if (m->mechanism != CKM_RSA_PKCS && m->mechanism != CKM_RSA_X_509 &&
		    m->mechanism != CKM_RSA_PKCS_OAEP)
			return CKR_MECHANISM_INVALID;
		if (o->key.type != CKK_RSA)
			return CKR_KEY_TYPE_INCONSISTENT;
		if (!attr_bool(o, CKA_DECRYPT))
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
		if (m->mechanism == CKM_RSA_PKCS_OAEP) {
			rv = oaep_params(m, o->key.size, &oaep);
			if (rv != CKR_OK)
				return rv;
		}
		md = NULL;
	} else {
		md = mech_find(m->mechanism);
		if (md == NULL)
			return CKR_MECHANISM_INVALID;
		if ((md->family == MECH_ECDSA) != (o->key.type == CKK_EC))
			return CKR_KEY_TYPE_INCONSISTENT;
		if (!attr_bool(o, CKA_SIGN))
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
	}
	if (md && md->family == MECH_RSA_PSS && mech_pss_params(md, m, o->key.size, &pss) < 0)
		return CKR_MECHANISM_PARAM_INVALID;
	/* The operation's state exists from here to its end only: an idle session holds none. */
	if (op_begin(&sess->op, kind) < 0)
		return CKR_HOST_MEMORY;
	if (md && md->family == MECH_RSA_PSS) {
		sess->op->pss = pss;
		sess->op->has_pss = true;
	}
	op_set(sess->op, m->mechanism, md, key,
	       kind == OP_DECRYPT && m->mechanism == CKM_RSA_PKCS_OAEP ? &oaep : NULL);
	return CKR_OK;
}

static CK_RV p_SignInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return op_init(ctx, h, m, key, OP_SIGN);
}

static CK_RV p_DecryptInit(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	return op_init(ctx, h, m, key, OP_DECRYPT);
}

/* Collects data of a multi-part signature: hashed at once for hashing mechanisms, kept (bounded)
 * for raw ones. */
static CK_RV op_update(struct op *op, const uint8_t *data, size_t len)
{
	/* A module's mechanism passed through: the module hashes, if it does, over all of it. */
	if (op->mech && op->mech->digest && !(op->module && op->route.kind == MECH_ROUTE_PASS)) {
		if (op->md_ctx == NULL) {
			EVP_MD *md = EVP_MD_fetch(NULL, op->mech->digest, NULL);

			op->md_ctx = EVP_MD_CTX_new();
			if (md == NULL || op->md_ctx == NULL ||
			    EVP_DigestInit_ex(op->md_ctx, md, NULL) != 1) {
				EVP_MD_free(md);
				return CKR_HOST_MEMORY;
			}
			EVP_MD_free(md);
		}
		return EVP_DigestUpdate(op->md_ctx, data, len) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
	}
	if (len > sizeof(op->data) - op->data_len)
		return CKR_DATA_LEN_RANGE;
	memcpy(op->data + op->data_len, data, len);
	op->data_len += len;
	return CKR_OK;
}

/* The hash of a hashing mechanism's data (a single-part signature over empty data still needs the
 * digest context); the operation ends when it cannot be made. */
static CK_RV op_digest_final(struct session *sess, uint8_t hash[EVP_MAX_MD_SIZE], unsigned int *hlen)
{
	struct op *op = sess->op;
	CK_RV rv;

	if (op->md_ctx == NULL && (rv = op_update(op, (const uint8_t *)"", 0)) != CKR_OK) {
		op_end(&sess->op);
		return rv;
	}
	if (EVP_DigestFinal_ex(op->md_ctx, hash, hlen) != 1) {
		op_end(&sess->op);
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
}

/* One audit row per private-key operation that reached the card, whatever its outcome: written on
 * disk as the operation goes to the card (its wait overlaps the card's work), its outcome written over
 * it when the answer has gone (records.h, audit_begin). The records being unusable does not stop
 * PKCS#11 (the application is the user's own): it is logged. */
static void audit_entry_of(const struct p11_job *j, const char *result, struct audit_entry *e)
{
	*e = (struct audit_entry){
	        .time = (int64_t)time(NULL),
	        .exe = j->exe[0] ? j->exe : "?",
	        .pid = j->pid,
	        .key_id = j->key_id_len ? j->key_id : NULL,
	        .key_id_len = j->key_id_len,
	        .content_sha256 = j->in_sha256,
	        .result = result,
	};
}

/* The journal's line for it (log_record): the program, the card, the outcome. */
static void log_private(const struct p11_job *j, const char *exe, bool ok, const char *result)
{
	struct slot *s = slot_get(j->d, j->slot);
	char who[RECORDS_EXE_MAX + 32], card[33] = "";

	snprintf(who, sizeof(who), "%s (pid %lld)", exe, (long long)j->pid);
	if (s && s->token)
		snprintf(card, sizeof(card), "%.*s", (int)token_text_len(s->token->label, 32),
		         s->token->label);
	log_record(LOG_LVL_INFO, who, card, ok ? "ok" : result, "%s by %s", result, who);
}

static void audit_private_begin(struct p11_job *j)
{
	char result[RECORDS_RESULT_MAX];
	struct audit_entry e;

	snprintf(result, sizeof(result), "pkcs11 %s: begun, no outcome recorded", j->op_name);
	audit_entry_of(j, result, &e);
	if (audit_begin(j->d->records, &e, &j->audit_seq) < 0)
		j->audit_seq = 0; /* audit_private tries a whole row at the end */
}

static void audit_private(struct p11_job *j, int r, CK_RV rv)
{
	char result[RECORDS_RESULT_MAX];
	struct audit_entry e;
	int e2;

	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		snprintf(result, sizeof(result), "pkcs11 %s: ok", j->op_name);
	else if (r < 0)
		snprintf(result, sizeof(result), "pkcs11 %s: card error (%s)", j->op_name, strerror(-r));
	else
		snprintf(result, sizeof(result), "pkcs11 %s: failed (CKR 0x%lx)", j->op_name,
		         (unsigned long)rv);
	audit_entry_of(j, result, &e);
	e2 = j->audit_seq > 0 ? audit_end(j->d->records, j->audit_seq, result) : audit_add(j->d->records, &e);
	log_private(j, e.exe, rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL, result);
	if (e2 < 0)
		log_warning("audit: could not record a PKCS#11 %s of %s (pid %lld)", j->op_name, e.exe,
		            (long long)j->pid);
}

/* A module's refusal that is the operation's own (its mechanism, parameters, data or key), given to the
 * application as the module said it; anything else (a lost token, a login) as imza's own answer. */
static bool module_own_rv(CK_RV rv)
{
	switch (rv) {
	case CKR_ARGUMENTS_BAD:
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_SIZE_RANGE:
	case CKR_FUNCTION_NOT_SUPPORTED:
		return true;
	default:
		return false;
	}
}

static void sign_finish(struct p11_job *j, int r)
{
	struct call *c = j->call;
	struct app *a = c->app;
	struct session *sess = a ? app_session(a, c->args[0].ul) : NULL;
	/* C_Sign's output is its third argument, C_SignFinal's its second. */
	union rpc_arg *out = &c->args[c->desc->id == RPC_CALL_C_Sign ? 2 : 1];
	struct slot *s = slot_get(j->d, j->slot);
	size_t need = out_len(&j->key);
	CK_RV rv = card_rv(r);

	if (r == CARD_E_NOT_LOGGED_IN && a && s) {
		/* The card no longer holds this application's login (another logged in, or reset). */
		a->login_seq[slot_index(j->d, s)] = 0;
	}
	if (r < 0 && module_own_rv(j->module_rv))
		rv = j->module_rv;
	if (r == 0 && j->use_mech) {
		/* The module's output as it is; one longer than the call's buffer waits for its retry. */
		struct op *op = sess && sess->op && sess->op->kind == OP_SIGN ? sess->op : NULL;

		if (j->outlen <= out->out.cap) {
			memcpy(out->out.p, j->out, j->outlen);
			*out->out.n = j->outlen;
		} else if (op && j->outlen <= sizeof(op->result)) {
			memcpy(op->result, j->out, j->outlen);
			op->result_len = j->outlen;
			op->have_result = true;
			*out->out.n = j->outlen;
			call_complete(c, CKR_BUFFER_TOO_SMALL);
			audit_private(j, r, CKR_BUFFER_TOO_SMALL);
			return;
		} else {
			rv = CKR_DEVICE_ERROR;
		}
	} else if (r == 0 && j->key.type == CKK_EC) {
		uint8_t raw[132];

		if (mech_ec_der_to_raw(j->out, j->outlen, raw, j->key.size) < 0) {
			rv = CKR_DEVICE_ERROR;
		} else {
			memcpy(out->out.p, raw, need);
			*out->out.n = need;
		}
	} else if (r == 0) {
		if (j->outlen != need) {
			rv = CKR_DEVICE_ERROR;
		} else {
			memcpy(out->out.p, j->out, need);
			*out->out.n = need;
		}
	}
	if (sess)
		op_end(&sess->op);
	call_complete(c, rv);
	audit_private(j, r, rv);
}

/* The plaintext from the card's raw RSA result, as the decryption's mechanism makes it: the result is
 * first made modulus-sized (a card may drop leading zeros), and the unpadding looks at no byte of it
 * before OpenSSL's constant-time checks (mech.c): every bad padding is one -EBADMSG. */
static int unpad(struct p11_job *j, uint8_t *plain, size_t cap, size_t *ret_len)
{
	uint8_t block[512];
	size_t k = j->key.size;
	int e;

	/* Passed through: the module's plaintext as it is (the module removed its padding). */
	if (j->use_mech) {
		if (j->outlen > cap)
			return -EPROTO;
		memcpy(plain, j->out, j->outlen);
		*ret_len = j->outlen;
		return 0;
	}
	if (k > sizeof(block) || k > cap || j->outlen > k || j->outlen == 0)
		return -EPROTO;
	memset(block, 0, k - j->outlen);
	memcpy(block + k - j->outlen, j->out, j->outlen);
	switch (j->dec_type) {
	case CKM_RSA_X_509:
		memcpy(plain, block, k);
		*ret_len = k;
		e = 0;
		break;
	case CKM_RSA_PKCS_OAEP:
		e = mech_rsa_unpad_oaep(block, k, &j->oaep, plain, cap, ret_len);
		break;
	default:
		e = mech_rsa_unpad_pkcs1(block, k, plain, cap, ret_len);
		break;
	}
	explicit_bzero(block, sizeof(block));
	return e;
}

static void decrypt_finish(struct p11_job *j, int r)
{
	struct call *c = j->call;
	struct app *a = c->app;
	struct session *sess = a ? app_session(a, c->args[0].ul) : NULL;
	union rpc_arg *out = &c->args[2];
	struct slot *s = slot_get(j->d, j->slot);
	CK_RV rv = card_rv(r);

	if (r == CARD_E_NOT_LOGGED_IN && a && s)
		a->login_seq[slot_index(j->d, s)] = 0;
	if (r < 0 && module_own_rv(j->module_rv))
		rv = j->module_rv;
	if (r == 0 && sess) {
		/* The operation may have been ended meanwhile (C_DecryptInit with no mechanism from another
		 * thread of the application): the result then has nowhere to wait for a retry. */
		struct op *op = sess->op && sess->op->kind == OP_DECRYPT ? sess->op : NULL;
		uint8_t plain[sizeof(op->result)];
		size_t plen = 0;
		int e = unpad(j, plain, sizeof(plain), &plen);

		if (e == -EPROTO) {
			rv = CKR_DEVICE_ERROR;
		} else if (e < 0) {
			rv = CKR_ENCRYPTED_DATA_INVALID;
		} else if (*out->out.n < plen && op) {
			/* Kept for the caller's retry with a larger buffer: the card is not asked again. */
			memcpy(op->result, plain, plen);
			op->result_len = plen;
			op->have_result = true;
			*out->out.n = plen;
			explicit_bzero(plain, sizeof(plain));
			explicit_bzero(j->out, sizeof(j->out));
			call_complete(c, CKR_BUFFER_TOO_SMALL);
			audit_private(j, r, CKR_BUFFER_TOO_SMALL);
			return;
		} else if (*out->out.n < plen) {
			*out->out.n = plen;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(out->out.p, plain, plen);
			*out->out.n = plen;
		}
		explicit_bzero(plain, sizeof(plain));
	}
	explicit_bzero(j->out, sizeof(j->out));
	if (sess)
		op_end(&sess->op);
	call_complete(c, rv);
	audit_private(j, r, rv);
}

static void derive_finish(struct p11_job *j, int r);

/* A derivation's own part of its job. */
struct derive_args {
	CK_ULONG kdf;
	const uint8_t *shared;
	size_t shared_len;
	struct token_secret_desc secret;
};

/* Checks the login the key needs and queues the card operation. */
static CK_RV submit_private(void *ctx, struct session *sess, struct slot *s, const struct token_object *o,
                            const uint8_t *in, size_t inlen, void (*finish)(struct p11_job *, int),
                            const struct derive_args *dv)
{
	struct app *a = APP(ctx);
	const struct token_attr *id;
	struct p11_job *j;

	/* The key's size comes from the token, which may come from the cache file: never trust it to fit
	 * the job's buffers (the input here, the signature and its EC conversion in sign_finish). */
	if (inlen == 0 || inlen > sizeof(j->in) || !token_key_info_ok(&o->key) ||
	    out_len(&o->key) > sizeof(j->out)) {
		log_warning(
		        "slot %lu: refusing a private-key operation with %zu input bytes for a key of %zu",
		        (unsigned long)s->id, inlen, o->key.size);
		op_end(&sess->op);
		return CKR_DATA_LEN_RANGE;
	}
	if (o->key.needs_pin) {
		if (!logged_in(a, s) || s->owner_app != a->id) {
			a->login_seq[slot_index(a->d, s)] = 0;
			op_end(&sess->op);
			return CKR_USER_NOT_LOGGED_IN;
		}
		if (o->key.pin_always && !sess->op->context_login) {
			op_end(&sess->op);
			return CKR_USER_NOT_LOGGED_IN;
		}
	}
	j = job_new(ctx, s, JOB_PRIVATE, finish);
	if (j == NULL)
		return CKR_HOST_MEMORY;
	j->key = o->key;
	/* The context login's PIN goes with the operation, which ends it: the op keeps no copy. */
	j->op_pin = sess->op->context_pin;
	sess->op->context_pin = (struct pin_secret){NULL, 0};
	memcpy(j->in, in, inlen);
	j->inlen = inlen;
	j->op_name = finish == decrypt_finish ? "decrypt" : finish == derive_finish ? "derive" : "sign";
	if (!dv && sess->op->module && sess->op->route.kind != MECH_ROUTE_RAW) {
		j->use_mech = true;
		j->cmech = sess->op->cmech;
		j->raw_fallback = sess->op->raw_fallback;
		j->pss = sess->op->pss;
	}
	if (finish == decrypt_finish) {
		j->dec_type = sess->op->type;
		j->oaep = sess->op->oaep;
		memcpy(j->label, sess->op->label, sizeof(j->label));
		j->oaep.label = sess->op->oaep.label ? j->label : NULL;
	}
	if (dv) {
		j->kdf = dv->kdf;
		j->shared = dv->shared;
		j->shared_len = dv->shared_len;
		j->secret = dv->secret;
	}
	snprintf(j->exe, sizeof(j->exe), "%s", a->exe);
	j->pid = (int64_t)a->pid;
	id = token_attr(o, CKA_ID);
	if (id && id->len <= sizeof(j->key_id)) {
		memcpy(j->key_id, id->value, id->len);
		j->key_id_len = id->len;
	}
	EVP_Digest(in, inlen, j->in_sha256, NULL, EVP_sha256(), NULL);
	reader_submit(s->reader, &j->rj);
	/* While the card works (the reader's thread reads the job's input, never audit_seq; its end comes
	 * through the loop, after this). */
	audit_private_begin(j);
	return CKR_IMZA_PENDING;
}

/* A module's signature other than the raw route's: the data as collected (passed through), or the
 * hash imza made, as the DigestInfo for the module's CKM_RSA_PKCS, the field-sized hash for its
 * CKM_ECDSA, the hash for its CKM_RSA_PKCS_PSS. */
static CK_RV sign_module(void *ctx, struct session *sess, struct slot *s, const struct token_object *o)
{
	struct op *op = sess->op;
	uint8_t hash[EVP_MAX_MD_SIZE], in[EVP_MAX_MD_SIZE + 32];
	unsigned int hlen = 0;
	size_t inlen = 0;
	CK_RV rv;
	int e = 0;

	if (op->route.kind == MECH_ROUTE_PASS)
		return submit_private(ctx, sess, s, o, op->data, op->data_len, sign_finish, NULL);
	if ((rv = op_digest_final(sess, hash, &hlen)) != CKR_OK)
		return rv;
	if (op->route.kind == MECH_ROUTE_DIGESTINFO) {
		e = mech_digest_info(op->mech->digest, hash, hlen, in, sizeof(in), &inlen);
	} else if (op->route.card_type == CKM_ECDSA) {
		const struct mech_desc raw = {CKM_ECDSA, MECH_ECDSA, NULL};

		inlen = o->key.size;
		e = inlen <= sizeof(in) ? mech_ec_input(&raw, hash, hlen, in, inlen) : -EINVAL;
	} else {
		memcpy(in, hash, hlen);
		inlen = hlen;
	}
	if (e < 0) {
		op_end(&sess->op);
		return CKR_FUNCTION_FAILED;
	}
	return submit_private(ctx, sess, s, o, in, inlen, sign_finish, NULL);
}

/* The result an operation kept for the caller's retry with a larger buffer (the card is not asked
 * again): its length told (PKCS#11 §5.2: the operation goes on), or handed over (the operation ends). */
static CK_RV kept_result(struct session *sess, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	struct op *op = sess->op;

	if (out == NULL || *outlen < op->result_len) {
		*outlen = op->result_len;
		return out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, op->result, op->result_len);
	*outlen = op->result_len;
	op_end(&sess->op);
	return CKR_OK;
}

/* Signs what the operation has collected (plus data, for single-part C_Sign). */
static CK_RV sign_common(void *ctx, CK_SESSION_HANDLE h, const uint8_t *data, size_t len, CK_BYTE_PTR sig,
                         CK_ULONG_PTR siglen, bool final)
{
	struct session *sess;
	struct slot *s;
	const struct token_object *o;
	struct op *op;
	uint8_t block[512];
	size_t need;
	CK_RV rv = get_session(ctx, h, &sess, &s);
	int e;

	if (rv != CKR_OK)
		return rv;
	op = sess->op;
	if (op_kind(op) != OP_SIGN)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (!final && op->multi)
		return CKR_OPERATION_ACTIVE;
	/* Any error but a short buffer ends a C_Sign (PKCS#11 3.0 §5.11), a bad argument too. */
	if (siglen == NULL || (!final && data == NULL && len > 0)) {
		op_end(&sess->op);
		return CKR_ARGUMENTS_BAD;
	}
	o = token_object(s->token, op->key);
	need = out_len(&o->key);
	/* A module's signature longer than the buffer of the call that made it (sign_finish). */
	if (op->have_result)
		return kept_result(sess, sig, siglen);
	/* PKCS#11 2.40 §5.2: a length query or a short buffer leaves the operation going. */
	if (sig == NULL) {
		*siglen = need;
		return CKR_OK;
	}
	if (*siglen < need) {
		*siglen = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (!final && data && len > 0) {
		rv = op_update(op, data, len);
		if (rv != CKR_OK) {
			op_end(&sess->op);
			return rv;
		}
	}
	if (op->module && op->route.kind != MECH_ROUTE_RAW)
		return sign_module(ctx, sess, s, o);
	if (op->mech->digest) {
		uint8_t hash[EVP_MAX_MD_SIZE];
		unsigned int hlen = 0;

		if ((rv = op_digest_final(sess, hash, &hlen)) != CKR_OK)
			return rv;
		e = mech_block_from_hash(op->mech, op->has_pss ? &op->pss : NULL, hash, hlen, block,
		                         o->key.size);
	} else if (o->key.type == CKK_EC) {
		e = mech_ec_input(op->mech, op->data, op->data_len, block, o->key.size);
	} else {
		e = mech_rsa_block(op->mech, op->has_pss ? &op->pss : NULL, op->data, op->data_len, block,
		                   o->key.size);
	}
	if (e < 0) {
		op_end(&sess->op);
		return e == -EMSGSIZE || e == -EINVAL ? CKR_DATA_LEN_RANGE : CKR_FUNCTION_FAILED;
	}
	return submit_private(ctx, sess, s, o, block, o->key.size, sign_finish, NULL);
}

static CK_RV p_Sign(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                    CK_ULONG_PTR siglen)
{
	return sign_common(ctx, h, data, len, sig, siglen, false);
}

static CK_RV p_SignUpdate(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	if (op_kind(sess->op) != OP_SIGN)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (data == NULL && len > 0) {
		op_end(&sess->op);
		return CKR_ARGUMENTS_BAD;
	}
	sess->op->multi = true;
	rv = op_update(sess->op, data, len);
	if (rv != CKR_OK)
		op_end(&sess->op);
	return rv;
}

static CK_RV p_SignFinal(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
	return sign_common(ctx, h, NULL, 0, sig, siglen, true);
}

static bool below_modulus(const struct token_object *o, const uint8_t *in, size_t len)
{
	const struct token_attr *n = token_attr(o, CKA_MODULUS);

	return n == NULL || n->len != len || memcmp(in, n->value, len) < 0;
}

static CK_RV p_Decrypt(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                       CK_ULONG_PTR outlen)
{
	struct session *sess;
	struct slot *s;
	const struct token_object *o;
	struct op *op;
	CK_RV rv = get_session(ctx, h, &sess, &s);

	if (rv != CKR_OK)
		return rv;
	op = sess->op;
	if (op_kind(op) != OP_DECRYPT)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (outlen == NULL || (in == NULL && inlen > 0)) {
		op_end(&sess->op);
		return CKR_ARGUMENTS_BAD;
	}
	o = token_object(s->token, op->key);
	if (op->have_result)
		return kept_result(sess, out, outlen);
	/* A vendor's own mechanism takes what its module takes (within a job's input); RSA's take one
	 * ciphertext of the modulus' size. */
	if (op->module && op->route.kind == MECH_ROUTE_PASS && op->type != CKM_RSA_PKCS &&
	    op->type != CKM_RSA_PKCS_OAEP && op->type != CKM_RSA_X_509) {
		if (inlen == 0 || inlen > OP_DATA_MAX) {
			op_end(&sess->op);
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		}
		if (out == NULL) {
			*outlen = o->key.size;
			return CKR_OK;
		}
		return submit_private(ctx, sess, s, o, in, inlen, decrypt_finish, NULL);
	}
	if (inlen != o->key.size || inlen < 11) {
		op_end(&sess->op);
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	}
	if (out == NULL) {
		/* An upper bound, as §5.2 allows: the exact length needs the card. */
		*outlen = op->type == CKM_RSA_X_509 ? o->key.size : o->key.size - 11;
		return CKR_OK;
	}
	if (!below_modulus(o, in, inlen)) {
		/* Not a ciphertext of this key (PKCS#1 v2.2 §5.1.2: c < n); the modulus is public. */
		op_end(&sess->op);
		return CKR_ENCRYPTED_DATA_INVALID;
	}
	return submit_private(ctx, sess, s, o, in, inlen, decrypt_finish, NULL);
}

/* ---- key derivation (ECDH) ---- */

static CK_RV tmpl_bool(const CK_ATTRIBUTE *a, bool *ret)
{
	if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*ret = *(const CK_BBOOL *)a->pValue != CK_FALSE;
	return CKR_OK;
}

static CK_RV tmpl_ulong(const CK_ATTRIBUTE *a, CK_ULONG *ret)
{
	if (a->pValue == NULL || a->ulValueLen != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*ret = *(const CK_ULONG *)a->pValue;
	return CKR_OK;
}

/* The secret key C_DeriveKey's template asks for (PKCS#11 3.0 §5.14, the secret key attributes of §4.7):
 * a session object of class CKO_SECRET_KEY, generic (the default) or AES; its length CKA_VALUE_LEN,
 * by default the field's size with CKD_NULL, needed with a KDF. Anything imza cannot make is refused
 * before the card is asked. */
static CK_RV derive_template(const struct session *sess, const CK_ATTRIBUTE *t, CK_ULONG n, CK_ULONG kdf,
                             size_t field, struct token_secret_desc *d)
{
	CK_ULONG ul, len = 0;
	bool b, have_len = false;
	CK_RV rv = CKR_OK;

	*d = (struct token_secret_desc){.key_type = CKK_GENERIC_SECRET, .extractable = true};
	for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++) {
		const CK_ATTRIBUTE *a = &t[i];
		size_t use = TOKEN_SECRET_USES;

		for (size_t u = 0; u < TOKEN_SECRET_USES; u++)
			if (token_secret_uses[u] == a->type)
				use = u;
		if (use < TOKEN_SECRET_USES) {
			rv = tmpl_bool(a, &d->uses[use]);
			continue;
		}
		switch (a->type) {
		case CKA_CLASS:
			rv = tmpl_ulong(a, &ul);
			if (rv == CKR_OK && ul != CKO_SECRET_KEY)
				rv = CKR_TEMPLATE_INCONSISTENT;
			break;
		case CKA_KEY_TYPE:
			rv = tmpl_ulong(a, &ul);
			if (rv == CKR_OK && ul != CKK_GENERIC_SECRET && ul != CKK_AES)
				rv = CKR_TEMPLATE_INCONSISTENT;
			d->key_type = ul;
			break;
		case CKA_VALUE_LEN:
			rv = tmpl_ulong(a, &len);
			have_len = true;
			break;
		case CKA_TOKEN:
			/* imza writes nothing to the card. */
			rv = tmpl_bool(a, &b);
			if (rv == CKR_OK && b)
				rv = (sess->flags & CKF_RW_SESSION) ? CKR_TEMPLATE_INCONSISTENT
				                                    : CKR_SESSION_READ_ONLY;
			break;
		case CKA_PRIVATE:
			rv = tmpl_bool(a, &d->is_private);
			break;
		case CKA_SENSITIVE:
			rv = tmpl_bool(a, &d->sensitive);
			break;
		case CKA_EXTRACTABLE:
			rv = tmpl_bool(a, &d->extractable);
			break;
		case CKA_MODIFIABLE:
		case CKA_COPYABLE:
		case CKA_DESTROYABLE:
			/* What imza's session objects are: fixed, not copied, destroyable. */
			rv = tmpl_bool(a, &b);
			if (rv == CKR_OK && b != (a->type == CKA_DESTROYABLE))
				rv = CKR_ATTRIBUTE_VALUE_INVALID;
			break;
		case CKA_LABEL:
			if (a->ulValueLen > 0 && a->pValue == NULL)
				rv = CKR_ATTRIBUTE_VALUE_INVALID;
			d->label = a->pValue;
			d->label_len = a->ulValueLen;
			break;
		case CKA_ID:
			if ((a->ulValueLen > 0 && a->pValue == NULL) || a->ulValueLen > TOKEN_ID_MAX)
				rv = CKR_ATTRIBUTE_VALUE_INVALID;
			d->id = a->pValue;
			d->id_len = a->ulValueLen;
			break;
		case CKA_VALUE:
		case CKA_LOCAL:
		case CKA_ALWAYS_SENSITIVE:
		case CKA_NEVER_EXTRACTABLE:
		case CKA_KEY_GEN_MECHANISM:
			/* Set by the token, never by the template (§4.7.2's table). */
			rv = CKR_TEMPLATE_INCONSISTENT;
			break;
		default:
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
			break;
		}
	}
	if (rv != CKR_OK)
		return rv;
	if (!have_len) {
		if (kdf != CKD_NULL || d->key_type == CKK_AES)
			return CKR_TEMPLATE_INCOMPLETE;
		len = field;
	}
	if (len == 0 || len > MECH_ECDH_KEY_MAX || (kdf == CKD_NULL && len > field))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (d->key_type == CKK_AES && len != 16 && len != 24 && len != 32)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	d->len = len;
	return CKR_OK;
}

static void derive_finish(struct p11_job *j, int r)
{
	struct call *c = j->call;
	struct app *a = c->app;
	struct session *sess = a ? app_session(a, c->args[0].ul) : NULL;
	struct slot *s = slot_get(j->d, j->slot);
	CK_RV rv = card_rv(r);
	uint8_t value[MECH_ECDH_KEY_MAX];
	struct session_obj *so = NULL;

	if (r == CARD_E_NOT_LOGGED_IN && a && s)
		a->login_seq[slot_index(j->d, s)] = 0;
	if (r == 0 && j->outlen != j->key.size)
		rv = CKR_DEVICE_ERROR;
	else if (r == 0 &&
	         (sess == NULL || s == NULL || sess->slot != s->id || sess->card_seq != s->card_seq))
		rv = CKR_SESSION_HANDLE_INVALID; /* closed while the card worked: nowhere to keep it */
	else if (r == 0 && session_obj_count(a) >= APP_MAX_SESSION_OBJECTS)
		rv = CKR_DEVICE_MEMORY;
	if (r == 0 && rv == CKR_OK) {
		j->secret.value = value;
		if (mech_ecdh_kdf(j->kdf, j->out, j->outlen, j->shared, j->shared_len, value, j->secret.len) <
		    0)
			rv = CKR_FUNCTION_FAILED;
		else if ((so = calloc(1, sizeof(*so))) == NULL ||
		         token_secret_make(&so->o, SESSION_OBJECT_HANDLE_BASE + a->next_object++,
		                           &j->secret) < 0)
			rv = CKR_HOST_MEMORY;
	}
	explicit_bzero(value, sizeof(value));
	explicit_bzero(j->out, sizeof(j->out));
	if (rv == CKR_OK) {
		so->next = sess->objs;
		sess->objs = so;
		*c->args[4].pul = so->o.handle;
	} else {
		free(so);
	}
	if (sess)
		op_end(&sess->op);
	call_complete(c, rv);
	audit_private(j, r, rv);
}

/* CKM_ECDH1_DERIVE with an EC key whose certificate allows keyAgreement (PIV 9D): the card computes the
 * shared x-coordinate (GENERAL AUTHENTICATE 85), imzad applies the KDF and keeps the secret as a session
 * object of the application, CKA_SENSITIVE false and extractable unless the template says otherwise. */
static CK_RV p_DeriveKey(void *ctx, CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
                         CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
	struct app *a = APP(ctx);
	struct session *sess;
	struct slot *s;
	struct token_object *o;
	const CK_ECDH1_DERIVE_PARAMS *p;
	const struct token_attr *params;
	struct token_secret_desc d;
	uint8_t point[1 + 2 * 48];
	size_t plen = 0;
	CK_RV rv;
	int e;

	if (m == NULL || ret == NULL || (t == NULL && n > 0))
		return CKR_ARGUMENTS_BAD;
	rv = get_session(ctx, h, &sess, &s);
	if (rv != CKR_OK)
		return rv;
	if (m->mechanism != CKM_ECDH1_DERIVE)
		return CKR_MECHANISM_INVALID;
	o = token_object(s->token, base);
	if (o == NULL || o->cls != CKO_PRIVATE_KEY)
		return CKR_KEY_HANDLE_INVALID;
	if (!visible(a, s, o))
		return CKR_USER_NOT_LOGGED_IN;
	if (o->key.type != CKK_EC)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!attr_bool(o, CKA_DERIVE))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	/* imza's own PIV driver only: a vendor module's derivation is not passed through yet. */
	if (native_driver(s) == NULL || native_driver(s)->derive_op == NULL)
		return CKR_MECHANISM_INVALID;
	p = m->pParameter;
	if (p == NULL || m->ulParameterLen != sizeof(*p) || !mech_ecdh_kdf_ok(p->kdf) ||
	    (p->ulSharedDataLen > 0 && p->pSharedData == NULL) || p->ulSharedDataLen > MECH_ECDH_SHARED_MAX ||
	    (p->kdf == CKD_NULL && p->ulSharedDataLen > 0) || p->pPublicData == NULL)
		return CKR_MECHANISM_PARAM_INVALID;
	params = token_attr(o, CKA_EC_PARAMS);
	e = params ? mech_ecdh_peer_point(params->value, params->len, p->pPublicData, p->ulPublicDataLen,
	                                  point, sizeof(point), &plen)
	           : -EOPNOTSUPP;
	if (e < 0 || !token_key_info_ok(&o->key) || plen != 1 + 2 * o->key.size)
		return CKR_MECHANISM_PARAM_INVALID;
	rv = derive_template(sess, t, n, p->kdf, o->key.size, &d);
	if (rv != CKR_OK)
		return rv;
	if (d.is_private && !logged_in(a, s))
		return CKR_USER_NOT_LOGGED_IN;
	if (session_obj_count(a) >= APP_MAX_SESSION_OBJECTS)
		return CKR_DEVICE_MEMORY;
	if (sess->op)
		return CKR_OPERATION_ACTIVE;
	if (op_begin(&sess->op, OP_DERIVE) < 0)
		return CKR_HOST_MEMORY;
	return submit_private(ctx, sess, s, o, point, plen, derive_finish,
	                      &(struct derive_args){p->kdf, p->pSharedData, p->ulSharedDataLen, d});
}

/* Random bytes are asked of the card RANDOM_CHUNK at a time, one job each: a large C_GenerateRandom (up
 * to the frame's cap, 8 bytes an APDU on PIV) never holds the reader for longer than one chunk, and
 * other applications' jobs go between. */
#define RANDOM_CHUNK 256

static int random_submit(struct daemon *d, struct slot *s, uint64_t app_id, struct call *call, uint64_t seq,
                         size_t off, size_t total);

static void random_finish(struct p11_job *j, int r)
{
	union rpc_arg *out = &j->call->args[1];
	struct slot *s = slot_get(j->d, j->slot);
	size_t next = j->rnd_off + j->rnd_len;

	if (r == 0)
		memcpy(out->buf.p + j->rnd_off, j->rnd, j->rnd_len);
	if (r == 0 && next < j->rnd_total && !j->call->cancelled) {
		/* The same card as the first chunk's, or the call fails as a removed card's would. */
		r = s ? random_submit(j->d, s, j->app_id, j->call, j->rj.seq, next, j->rnd_total)
		      : CARD_E_REMOVED;
		if (r == 0)
			return;
	}
	call_complete(j->call, card_rv(r));
}

static int random_submit(struct daemon *d, struct slot *s, uint64_t app_id, struct call *call, uint64_t seq,
                         size_t off, size_t total)
{
	struct p11_job *j = job_alloc(d, s, app_id, call, JOB_RANDOM, random_finish);

	if (j == NULL)
		return -ENOMEM;
	j->rj.seq = seq;
	j->rnd_off = off;
	j->rnd_total = total;
	j->rnd_len = total - off < RANDOM_CHUNK ? total - off : RANDOM_CHUNK;
	j->rnd = malloc(j->rnd_len);
	if (j->rnd == NULL) {
		free(j);
		return -ENOMEM;
	}
	reader_submit(s->reader, &j->rj);
	return 0;
}

/* C_GenerateRandom's and C_SeedRandom's common part: the buffer first (PKCS#11 3.0 §5.15), then the
 * session, then whether its token has the card's generator. */
static CK_RV rng_session(void *ctx, CK_SESSION_HANDLE h, const void *buf, CK_ULONG len, struct slot **ret)
{
	struct session *sess;
	CK_RV rv;

	if (buf == NULL && len > 0)
		return CKR_ARGUMENTS_BAD;
	rv = get_session(ctx, h, &sess, ret);
	if (rv != CKR_OK)
		return rv;
	return token_flags((*ret)->token) & CKF_RNG ? CKR_OK : CKR_RANDOM_NO_RNG;
}

/* Random bytes from the card's generator (the token says CKF_RNG), never from imzad's: an application
 * that asks the token for them gets the card's. No login needed. */
static CK_RV p_GenerateRandom(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
	struct slot *s;
	CK_RV rv = rng_session(ctx, h, out, len, &s);

	if (rv != CKR_OK)
		return rv;
	if (len == 0)
		return CKR_OK;
	/* len is at most the frame's cap: the request decoder allocated that much already. */
	if (random_submit(DMN(ctx), s, APP(ctx)->id, CALL(ctx), s->card_seq, 0, len) < 0)
		return CKR_HOST_MEMORY;
	return CKR_IMZA_PENDING;
}

/* The card's generator takes no seed. */
static CK_RV p_SeedRandom(void *ctx, CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
	struct slot *s;
	CK_RV rv = rng_session(ctx, h, seed, len, &s);

	return rv != CKR_OK ? rv : CKR_RANDOM_SEED_NOT_SUPPORTED;
}

const struct rpc_server_ops p11_ops = {
        .C_GenerateRandom = p_GenerateRandom,
        .C_SeedRandom = p_SeedRandom,
        .C_GetInfo = p_GetInfo,
        .C_GetSlotList = p_GetSlotList,
        .C_GetSlotInfo = p_GetSlotInfo,
        .C_GetTokenInfo = p_GetTokenInfo,
        .C_GetMechanismList = p_GetMechanismList,
        .C_GetMechanismInfo = p_GetMechanismInfo,
        .C_WaitForSlotEvent = p_WaitForSlotEvent,
        .C_OpenSession = p_OpenSession,
        .C_CloseSession = p_CloseSession,
        .C_CloseAllSessions = p_CloseAllSessions,
        .C_GetSessionInfo = p_GetSessionInfo,
        .C_Login = p_Login,
        .C_SetPIN = p_SetPIN,
        .C_InitPIN = p_InitPIN,
        .C_Logout = p_Logout,
        .C_CreateObject = p_CreateObject,
        .C_CopyObject = p_CopyObject,
        .C_DestroyObject = p_DestroyObject,
        .C_GetObjectSize = p_GetObjectSize,
        .C_GetAttributeValue = p_GetAttributeValue,
        .C_SetAttributeValue = p_SetAttributeValue,
        .C_FindObjectsInit = p_FindObjectsInit,
        .C_FindObjects = p_FindObjects,
        .C_FindObjectsFinal = p_FindObjectsFinal,
        .C_SignInit = p_SignInit,
        .C_Sign = p_Sign,
        .C_SignUpdate = p_SignUpdate,
        .C_SignFinal = p_SignFinal,
        .C_DeriveKey = p_DeriveKey,
        .C_DecryptInit = p_DecryptInit,
        .C_Decrypt = p_Decrypt,
        .C_DigestInit = p11_DigestInit,
        .C_Digest = p11_Digest,
        .C_DigestUpdate = p11_DigestUpdate,
        .C_DigestKey = p11_DigestKey,
        .C_DigestFinal = p11_DigestFinal,
        .C_VerifyInit = p11_VerifyInit,
        .C_Verify = p11_Verify,
        .C_VerifyUpdate = p11_VerifyUpdate,
        .C_VerifyFinal = p11_VerifyFinal,
        .C_VerifyRecoverInit = p11_VerifyRecoverInit,
        .C_VerifyRecover = p11_VerifyRecover,
};
