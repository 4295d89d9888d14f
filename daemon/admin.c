/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl's calls (see admin.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/admin.h"
#include "daemon/store/cache.h"
#include "daemon/store/known.h"
#include "daemon/log.h"
#include "daemon/store/records.h"
#include "daemon/web/site.h"
#include "daemon/web/sign.h"
#include "protocol/proto-admin.h"
#include "protocol/proto-ck.h"

static void fill_status(struct daemon *d, struct proto_status *st)
{
	unsigned long total = d->apdus_total;

	snprintf(st->server, sizeof(st->server), "imzad %s", PACKAGE_VERSION);
	for (struct app *a = d->apps; a; a = a->next)
		st->nclients++;
	for (size_t i = 0; i < DAEMON_MAX_SLOTS && st->nslots < PROTO_ADMIN_SLOTS_MAX; i++) {
		struct slot *s = slot_by_index(d, i);
		struct proto_status_slot *o;

		if (s == NULL)
			continue;
		o = &st->slots[st->nslots++];
		o->id = s->id;
		snprintf(o->reader, sizeof(o->reader), "%s", s->reader_name);
		o->reader_present = s->reader != NULL;
		o->token_present = s->token != NULL;
		o->pin_tries = -1;
		if (s->reader) {
			o->apdus = reader_apdu_count(s->reader);
			total += o->apdus;
		}
		if (s->token) {
			snprintf(o->label, sizeof(o->label), "%.*s", (int)token_text_len(s->token->label, 32),
			         s->token->label);
			snprintf(o->serial, sizeof(o->serial), "%s", s->token->serial);
			o->pin_tries = s->token->pin_tries_left >= 0 || !s->token->pin_count_low
			                       ? s->token->pin_tries_left
			                       : PROTO_PIN_TRIES_LOW;
			if (s->token->module[0])
				snprintf(o->driver, sizeof(o->driver), "module %s", s->token->module);
			else
				snprintf(o->driver, sizeof(o->driver), "%s", s->token->driver);
		}
	}
	st->apdus_total = total;
}

static void fill_certs(struct daemon *d, struct proto_cert_list *l)
{
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		struct slot *s = slot_by_index(d, i);

		if (s == NULL || s->token == NULL)
			continue;
		for (size_t j = 0; j < s->token->nobjs && l->n < PROTO_ADMIN_CERTS_MAX; j++) {
			const struct token_object *o = &s->token->objs[j];
			const struct token_attr *der, *id, *label;
			struct proto_cert_entry *c;

			if (o->cls != CKO_CERTIFICATE)
				continue;
			der = token_attr(o, CKA_VALUE);
			id = token_attr(o, CKA_ID);
			label = token_attr(o, CKA_LABEL);
			c = &l->certs[l->n++];
			c->slot = s->id;
			snprintf(c->reader, sizeof(c->reader), "%s", s->reader_name);
			if (label)
				snprintf(c->label, sizeof(c->label), "%.*s", (int)label->len,
				         (const char *)label->value);
			if (id && id->len <= sizeof(c->id)) {
				memcpy(c->id, id->value, id->len);
				c->id_len = (uint32_t)id->len;
			}
			c->der = der ? der->value : NULL;
			c->der_len = der ? (uint32_t)der->len : 0;
		}
	}
}

static int add_cached(void *ud, const struct cache_entry *e)
{
	struct proto_cache_list *l = ud;
	struct proto_cached_card *c;

	if (l->n == PROTO_ADMIN_CACHED_MAX || e->id_len > sizeof(c->id))
		return 0;
	c = &l->cards[l->n++];
	snprintf(c->driver, sizeof(c->driver), "%s", e->driver);
	memcpy(c->id, e->id, e->id_len);
	c->id_len = (uint32_t)e->id_len;
	snprintf(c->label, sizeof(c->label), "%s", e->label);
	snprintf(c->serial, sizeof(c->serial), "%s", e->serial);
	c->last_seen = (uint64_t)e->last_seen;
	c->nobjs = (uint32_t)e->nobjs;
	return 0;
}

/* The cache calls: list, forget one card, clear. Without a cache they answer CKR_FUNCTION_FAILED. */
static int admin_cache(struct daemon *d, uint32_t id, struct proto_reader *r, struct proto_buf *w)
{
	static struct proto_cache_list list;
	const uint8_t *drv = NULL, *cid = NULL;
	size_t drv_len = 0, cid_len = 0;
	char driver[16];
	int e;

	if (id == RPC_CALL_IMZA_CACHE_FORGET) {
		proto_get_bytes(r, &drv, &drv_len);
		proto_get_bytes(r, &cid, &cid_len);
	}
	if (proto_reader_end(r) < 0 || drv_len >= sizeof(driver) || cid_len > 32)
		return -EBADMSG;
	proto_put_u32(w, id);
	if (d->cache == NULL)
		return proto_put_ulong(w, CKR_FUNCTION_FAILED);
	switch (id) {
	case RPC_CALL_IMZA_CACHE_LIST:
		memset(&list, 0, sizeof(list));
		e = cache_list(d->cache, add_cached, &list);
		proto_put_ulong(w, e < 0 ? CKR_FUNCTION_FAILED : CKR_OK);
		return e < 0 ? w->error : proto_cache_list_encode(w, &list);
	case RPC_CALL_IMZA_CACHE_FORGET:
		memcpy(driver, drv, drv_len);
		driver[drv_len] = '\0';
		e = cache_forget(d->cache, driver, cid, cid_len);
		known_forget(d->known, driver, cid, cid_len);
		return proto_put_ulong(w, e == -ENOENT ? CKR_ARGUMENTS_BAD
		                          : e < 0      ? CKR_FUNCTION_FAILED
		                                       : CKR_OK);
	default:
		e = cache_clear(d->cache);
		known_clear(d->known);
		return proto_put_ulong(w, e < 0 ? CKR_FUNCTION_FAILED : CKR_OK);
	}
}

static void sign_done(void *ud, const struct sign_result *res)
{
	struct call *call = ud;
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_sign_reply a = {
	        .err = (uint32_t)res->err,
	        .tries_left = res->tries_left,
	        .sig = res->sig,
	        .sig_len = (uint32_t)res->sig_len,
	        .cert = res->cert,
	        .cert_len = (uint32_t)res->cert_len,
	};

	snprintf(a.code, sizeof(a.code), "%s", sign_err_code(res->err));
	snprintf(a.message, sizeof(a.message), "%s", res->message ? res->message : "");
	proto_frame_begin(&w);
	proto_put_u32(&w, RPC_CALL_IMZA_SIGN);
	proto_put_u64(&w, CKR_OK);
	if (proto_sign_reply_encode(&w, &a) < 0) {
		/* Too large for a frame: say so rather than send half. */
		proto_frame_begin(&w);
		proto_put_u32(&w, RPC_CALL_IMZA_SIGN);
		proto_put_u64(&w, CKR_OK);
		a = (struct proto_sign_reply){.err = SIGN_E_INTERNAL, .tries_left = -1};
		snprintf(a.code, sizeof(a.code), "%s", sign_err_code(SIGN_E_INTERNAL));
		snprintf(a.message, sizeof(a.message), "the signature does not fit in a reply");
		proto_sign_reply_encode(&w, &a);
	}
	call_reply(call, &w);
}

static void sign_cancel(struct call *call)
{
	sign_abandon(call->priv);
	call_release(call);
}

int admin_start(struct daemon *d, struct call *call, uint32_t id, struct proto_reader *r)
{
	struct proto_sign_request q;
	struct sign_peer peer = {.web = false};
	struct sign_args args = {0};
	struct app *a = call->app;
	struct sign_pending *p;

	if (id == RPC_CALL_IMZA_PIN)
		return admin_pin_start(d, call, r);
	if (id != RPC_CALL_IMZA_SIGN || proto_sign_request_decode(r, &q) < 0)
		return -EBADMSG;
	/* Cut to fit: the name is the client's claim, the pid and executable are what the kernel says. */
	snprintf(peer.app, sizeof(peer.app), "%.60s (pid %d, %.200s)",
	         a && a->name[0] ? a->name : "local program", a ? (int)a->pid : -1,
	         a && a->exe[0] ? a->exe : "?");
	memcpy(args.cert_id, q.cert_id, sizeof(args.cert_id));
	args.format = q.format == 1 ? SIGN_FMT_RAW : SIGN_FMT_CADES;
	args.detached = q.detached;
	args.is_text = q.is_text;
	args.wait_s = q.wait_s;
	args.content = q.content;
	args.len = q.len;
	if (d->signsvc == NULL) {
		struct sign_result res = {
		        .err = SIGN_E_INTERNAL, .message = "imzad has no signing service", .tries_left = -1};

		sign_done(call, &res);
		return 0;
	}
	call->on_cancel = sign_cancel;
	/* NULL: sign_done already ran and the call is gone. */
	p = sign_submit(d->signsvc, &peer, &args, sign_done, call);
	if (p)
		call->priv = p;
	return 0;
}

static int add_audit(void *ud, const struct audit_entry *e)
{
	struct proto_audit_list *l = ud;
	struct proto_audit_entry *o;

	if (l->n == PROTO_AUDIT_MAX)
		return -1;
	o = &l->e[l->n++];
	o->seq = (uint64_t)e->seq;
	o->time = e->time;
	snprintf(o->origin, sizeof(o->origin), "%s", e->origin ? e->origin : "");
	snprintf(o->result, sizeof(o->result), "%s", e->result);
	snprintf(o->exe, sizeof(o->exe), "%s", e->exe ? e->exe : "");
	o->pid = e->pid;
	if (e->cert_sha256) {
		o->has_cert = 1;
		memcpy(o->cert_sha256, e->cert_sha256, 32);
	}
	if (e->content_sha256) {
		o->has_content = 1;
		memcpy(o->content_sha256, e->content_sha256, 32);
	}
	if (e->key_id && e->key_id_len <= sizeof(o->key_id)) {
		memcpy(o->key_id, e->key_id, e->key_id_len);
		o->key_id_len = (uint32_t)e->key_id_len;
	}
	return 0;
}

static int add_grant(void *ud, const char *who, bool allow, int64_t time)
{
	struct proto_grant_list *l = ud;

	if (l->n == PROTO_GRANTS_MAX)
		return -1;
	snprintf(l->g[l->n].origin, sizeof(l->g[l->n].origin), "%s", who);
	l->g[l->n].allow = allow;
	l->g[l->n].time = time;
	l->n++;
	return 0;
}

/* imzactl grants allow|deny|forget ORIGIN: allow stores the origin's allow and lifts its site's deny
 * (the user named this origin); deny stores the site's deny; forget removes both. */
static int set_answer(struct daemon *d, const char *origin, uint8_t op, uint8_t *ret_done)
{
	char site[SITE_MAX];
	unsigned forgot = 0;
	uint8_t done = 0;
	int64_t now = (int64_t)time(NULL);
	int e;

	e = site_of_origin(origin, site, sizeof(site));
	if (e < 0)
		return e;
	switch (op) {
	case 0:
		e = records_forget(d->records, origin, site, &forgot);
		break;
	case 1:
		e = records_allow_put(d->records, origin, now);
		if (e == 0)
			e = records_forget(d->records, NULL, site, &forgot);
		done = PROTO_GRANT_ALLOW_STORED;
		break;
	default:
		e = records_deny_put(d->records, site, now);
		done = PROTO_GRANT_DENY_STORED;
		break;
	}
	if (e < 0)
		return e;
	done |= (forgot & RECORDS_FORGOT_ALLOW ? PROTO_GRANT_ALLOW_REMOVED : 0) |
	        (forgot & RECORDS_FORGOT_DENY ? PROTO_GRANT_DENY_REMOVED : 0);
	log_info("imzactl: %s %s",
	         op == 0   ? "forgot the answers for"
	         : op == 1 ? "allowed"
	                   : "denied the site of",
	         origin);
	*ret_done = done;
	return 0;
}

/* The audit log and the answers. Without usable records: PROTO_ADMIN_RECORDS_UNAVAILABLE, except for
 * the check, which is there to say why. */
static int admin_records(struct daemon *d, uint32_t id, struct proto_reader *r, struct proto_buf *w)
{
	static struct proto_audit_list audit;
	static struct proto_grant_list grants;
	struct proto_records_check pc = {0};
	struct records_check rc;
	const uint8_t *origin = NULL;
	size_t olen = 0;
	uint32_t limit = 0;
	uint64_t after = 0;
	uint8_t op = 0, done = 0;
	char o[RECORDS_ORIGIN_MAX + 1];
	int e;

	if (id == RPC_CALL_IMZA_AUDIT)
		proto_get_u32(r, &limit);
	if (id == RPC_CALL_IMZA_AUDIT_PAGE)
		proto_get_u64(r, &after);
	if (id == RPC_CALL_IMZA_GRANT_SET) {
		proto_get_bytes(r, &origin, &olen);
		proto_get_u8(r, &op);
	}
	if (proto_reader_end(r) < 0 || olen > RECORDS_ORIGIN_MAX || op > 2 || after > INT64_MAX ||
	    (origin && memchr(origin, 0, olen)) || (id == RPC_CALL_IMZA_GRANT_SET && olen == 0))
		return -EBADMSG;
	proto_put_u32(w, id);
	if (id == RPC_CALL_IMZA_RECORDS_CHECK) {
		if (d->records == NULL || records_check(d->records, &rc) < 0)
			return proto_put_ulong(w, CKR_FUNCTION_FAILED);
		pc.ok = rc.ok;
		pc.version = rc.version;
		pc.known = rc.known;
		snprintf(pc.detail, sizeof(pc.detail), "%s", rc.detail);
		proto_put_ulong(w, CKR_OK);
		return proto_records_check_encode(w, &pc);
	}
	if (!records_usable(d->records))
		return proto_put_ulong(w, PROTO_ADMIN_RECORDS_UNAVAILABLE);
	switch (id) {
	case RPC_CALL_IMZA_AUDIT:
	case RPC_CALL_IMZA_AUDIT_PAGE:
		memset(&audit, 0, sizeof(audit));
		e = audit_list(d->records, id == RPC_CALL_IMZA_AUDIT ? -1 : (int64_t)after,
		               limit && limit < PROTO_AUDIT_MAX ? limit : PROTO_AUDIT_MAX, add_audit, &audit);
		proto_put_ulong(w, e < 0 ? CKR_FUNCTION_FAILED : CKR_OK);
		return e < 0 ? w->error : proto_audit_encode(w, &audit);
	case RPC_CALL_IMZA_GRANTS:
		memset(&grants, 0, sizeof(grants));
		e = records_answers_list(d->records, add_grant, &grants);
		proto_put_ulong(w, e < 0 ? CKR_FUNCTION_FAILED : CKR_OK);
		return e < 0 ? w->error : proto_grants_encode(w, &grants);
	default:
		memcpy(o, origin, olen);
		o[olen] = '\0';
		e = set_answer(d, o, op, &done);
		proto_put_ulong(w, e == -EINVAL || e == -ENAMETOOLONG ? CKR_ARGUMENTS_BAD
		                   : e < 0                            ? CKR_FUNCTION_FAILED
		                                                      : CKR_OK);
		return e < 0 ? w->error : proto_put_u8(w, done);
	}
}

int admin_handle(struct daemon *d, struct app *a, uint32_t id, struct proto_reader *r, struct proto_buf *w)
{
	static struct proto_status st;
	static struct proto_cert_list certs;

	(void)a;
	if (id >= RPC_CALL_IMZA_CACHE_LIST && id <= RPC_CALL_IMZA_CACHE_CLEAR)
		return admin_cache(d, id, r, w);
	if (id >= RPC_CALL_IMZA_AUDIT && id <= RPC_CALL_IMZA_RECORDS_CHECK)
		return admin_records(d, id, r, w);
	if (proto_reader_end(r) < 0)
		return -EBADMSG;
	proto_put_u32(w, id);
	switch (id) {
	case RPC_CALL_IMZA_STATUS:
		memset(&st, 0, sizeof(st));
		fill_status(d, &st);
		proto_put_u64(w, CKR_OK);
		return proto_status_encode(w, &st);
	case RPC_CALL_IMZA_LIST_CERTS:
		memset(&certs, 0, sizeof(certs));
		fill_certs(d, &certs);
		proto_put_u64(w, CKR_OK);
		return proto_certs_encode(w, &certs);
	default:
		return proto_put_u64(w, CKR_FUNCTION_NOT_SUPPORTED);
	}
}
