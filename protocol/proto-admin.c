/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza's admin calls on the wire (see proto-admin.h): every string is a bounded byte string that must
 * fit its field with room for the NUL, and every count is checked before it is used. */
#include <errno.h>
#include <string.h>

#include "proto-admin.h"

static void put_str(struct proto_buf *w, const char *s)
{
	proto_put_bytes(w, s, strlen(s));
}

static int get_str(struct proto_reader *r, char *out, size_t cap)
{
	const uint8_t *p;
	size_t n;

	if (proto_get_bytes(r, &p, &n) < 0)
		return r->error;
	if (n >= cap || memchr(p, 0, n) != NULL)
		return proto_reader_fail(r, -EBADMSG);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int proto_status_encode(struct proto_buf *w, const struct proto_status *s)
{
	if (s->nslots > PROTO_ADMIN_SLOTS_MAX)
		return -EINVAL;
	put_str(w, s->server);
	proto_put_u64(w, s->apdus_total);
	proto_put_u32(w, s->nclients);
	proto_put_u32(w, s->nslots);
	for (uint32_t i = 0; i < s->nslots; i++) {
		const struct proto_status_slot *sl = &s->slots[i];

		proto_put_u64(w, sl->id);
		put_str(w, sl->reader);
		proto_put_u8(w, sl->reader_present);
		proto_put_u8(w, sl->token_present);
		put_str(w, sl->label);
		put_str(w, sl->serial);
		proto_put_u64(w, sl->apdus);
		proto_put_u32(w, (uint32_t)sl->pin_tries);
		put_str(w, sl->driver);
	}
	return w->error;
}

int proto_status_decode(struct proto_reader *r, struct proto_status *ret)
{
	uint32_t n, tries;

	memset(ret, 0, sizeof(*ret));
	get_str(r, ret->server, sizeof(ret->server));
	proto_get_u64(r, &ret->apdus_total);
	proto_get_u32(r, &ret->nclients);
	if (proto_get_u32(r, &n) < 0)
		return r->error;
	if (n > PROTO_ADMIN_SLOTS_MAX)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < n && !r->error; i++) {
		struct proto_status_slot *sl = &ret->slots[i];

		proto_get_u64(r, &sl->id);
		get_str(r, sl->reader, sizeof(sl->reader));
		proto_get_u8(r, &sl->reader_present);
		proto_get_u8(r, &sl->token_present);
		get_str(r, sl->label, sizeof(sl->label));
		get_str(r, sl->serial, sizeof(sl->serial));
		proto_get_u64(r, &sl->apdus);
		if (proto_get_u32(r, &tries) == 0)
			sl->pin_tries = (int32_t)tries;
		get_str(r, sl->driver, sizeof(sl->driver));
	}
	ret->nslots = n;
	return r->error;
}

int proto_certs_encode(struct proto_buf *w, const struct proto_cert_list *l)
{
	if (l->n > PROTO_ADMIN_CERTS_MAX)
		return -EINVAL;
	proto_put_u32(w, l->n);
	for (uint32_t i = 0; i < l->n; i++) {
		const struct proto_cert_entry *c = &l->certs[i];

		proto_put_u64(w, c->slot);
		put_str(w, c->reader);
		put_str(w, c->label);
		proto_put_bytes(w, c->id, c->id_len);
		proto_put_bytes(w, c->der, c->der_len);
	}
	return w->error;
}

int proto_certs_decode(struct proto_reader *r, struct proto_cert_list *ret)
{
	uint32_t n;

	memset(ret, 0, sizeof(*ret));
	if (proto_get_u32(r, &n) < 0)
		return r->error;
	if (n > PROTO_ADMIN_CERTS_MAX)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < n && !r->error; i++) {
		struct proto_cert_entry *c = &ret->certs[i];
		const uint8_t *p;
		size_t len;

		proto_get_u64(r, &c->slot);
		get_str(r, c->reader, sizeof(c->reader));
		get_str(r, c->label, sizeof(c->label));
		if (proto_get_bytes(r, &p, &len) == 0) {
			if (len > sizeof(c->id))
				return proto_reader_fail(r, -EBADMSG);
			memcpy(c->id, p, len);
			c->id_len = (uint32_t)len;
		}
		if (proto_get_bytes(r, &p, &len) == 0) {
			c->der = p;
			c->der_len = (uint32_t)len;
		}
	}
	ret->n = n;
	return r->error;
}

int proto_cache_list_encode(struct proto_buf *w, const struct proto_cache_list *l)
{
	if (l->n > PROTO_ADMIN_CACHED_MAX)
		return -EINVAL;
	proto_put_u32(w, l->n);
	for (uint32_t i = 0; i < l->n; i++) {
		const struct proto_cached_card *c = &l->cards[i];

		put_str(w, c->driver);
		proto_put_bytes(w, c->id, c->id_len);
		put_str(w, c->label);
		put_str(w, c->serial);
		proto_put_u64(w, c->last_seen);
		proto_put_u32(w, c->nobjs);
	}
	return w->error;
}

int proto_cache_list_decode(struct proto_reader *r, struct proto_cache_list *ret)
{
	uint32_t n;

	memset(ret, 0, sizeof(*ret));
	if (proto_get_u32(r, &n) < 0)
		return r->error;
	if (n > PROTO_ADMIN_CACHED_MAX)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < n && !r->error; i++) {
		struct proto_cached_card *c = &ret->cards[i];
		const uint8_t *p;
		size_t len;

		get_str(r, c->driver, sizeof(c->driver));
		if (proto_get_bytes(r, &p, &len) == 0) {
			if (len > sizeof(c->id))
				return proto_reader_fail(r, -EBADMSG);
			memcpy(c->id, p, len);
			c->id_len = (uint32_t)len;
		}
		get_str(r, c->label, sizeof(c->label));
		get_str(r, c->serial, sizeof(c->serial));
		proto_get_u64(r, &c->last_seen);
		proto_get_u32(r, &c->nobjs);
	}
	ret->n = n;
	return r->error;
}

static void get_fixed(struct proto_reader *r, uint8_t *out, size_t n)
{
	const uint8_t *p;

	if (proto_get_raw(r, n, &p) == 0)
		memcpy(out, p, n);
}

int proto_sign_request_encode(struct proto_buf *w, const struct proto_sign_request *q)
{
	if (q->len > PROTO_SIGN_CONTENT_MAX)
		return -E2BIG;
	proto_put_raw(w, q->cert_id, sizeof(q->cert_id));
	proto_put_u32(w, q->format);
	proto_put_u8(w, q->detached);
	proto_put_u8(w, q->is_text);
	proto_put_u32(w, q->wait_s);
	proto_put_bytes(w, q->content, q->len);
	return w->error;
}

int proto_sign_request_decode(struct proto_reader *r, struct proto_sign_request *ret)
{
	size_t n = 0;

	memset(ret, 0, sizeof(*ret));
	get_fixed(r, ret->cert_id, sizeof(ret->cert_id));
	proto_get_u32(r, &ret->format);
	proto_get_u8(r, &ret->detached);
	proto_get_u8(r, &ret->is_text);
	proto_get_u32(r, &ret->wait_s);
	proto_get_bytes(r, &ret->content, &n);
	if (r->error == 0 &&
	    (n > PROTO_SIGN_CONTENT_MAX || ret->format > 1 || ret->detached > 1 || ret->is_text > 1))
		proto_reader_fail(r, -EBADMSG);
	ret->len = (uint32_t)n;
	return r->error ? r->error : proto_reader_end(r);
}

int proto_sign_reply_encode(struct proto_buf *w, const struct proto_sign_reply *a)
{
	proto_put_u32(w, a->err);
	proto_put_u32(w, (uint32_t)a->tries_left);
	put_str(w, a->code);
	put_str(w, a->message);
	proto_put_bytes(w, a->sig, a->sig_len);
	proto_put_bytes(w, a->cert, a->cert_len);
	return w->error;
}

int proto_sign_reply_decode(struct proto_reader *r, struct proto_sign_reply *ret)
{
	uint32_t tries = 0;
	size_t n1 = 0, n2 = 0;

	memset(ret, 0, sizeof(*ret));
	proto_get_u32(r, &ret->err);
	proto_get_u32(r, &tries);
	get_str(r, ret->code, sizeof(ret->code));
	get_str(r, ret->message, sizeof(ret->message));
	proto_get_bytes(r, &ret->sig, &n1);
	proto_get_bytes(r, &ret->cert, &n2);
	ret->tries_left = (int32_t)tries;
	ret->sig_len = (uint32_t)n1;
	ret->cert_len = (uint32_t)n2;
	return r->error ? r->error : proto_reader_end(r);
}

int proto_audit_encode(struct proto_buf *w, const struct proto_audit_list *l)
{
	if (l->n > PROTO_AUDIT_MAX)
		return -EINVAL;
	proto_put_u32(w, l->n);
	for (uint32_t i = 0; i < l->n; i++) {
		const struct proto_audit_entry *e = &l->e[i];

		proto_put_u64(w, e->seq);
		proto_put_u64(w, (uint64_t)e->time);
		put_str(w, e->origin);
		proto_put_u8(w, e->has_cert);
		proto_put_raw(w, e->cert_sha256, 32);
		proto_put_u8(w, e->has_content);
		proto_put_raw(w, e->content_sha256, 32);
		put_str(w, e->result);
		put_str(w, e->exe);
		proto_put_u64(w, (uint64_t)e->pid);
		if (e->key_id_len > sizeof(e->key_id))
			return proto_buf_fail(w, -EINVAL);
		proto_put_bytes(w, e->key_id, e->key_id_len);
	}
	return w->error;
}

int proto_audit_decode(struct proto_reader *r, struct proto_audit_list *ret)
{
	uint32_t n;

	memset(ret, 0, sizeof(*ret));
	if (proto_get_u32(r, &n) < 0)
		return r->error;
	if (n > PROTO_AUDIT_MAX)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < n && r->error == 0; i++) {
		struct proto_audit_entry *e = &ret->e[i];
		uint64_t t = 0;

		proto_get_u64(r, &e->seq);
		proto_get_u64(r, &t);
		e->time = (int64_t)t;
		get_str(r, e->origin, sizeof(e->origin));
		proto_get_u8(r, &e->has_cert);
		get_fixed(r, e->cert_sha256, 32);
		proto_get_u8(r, &e->has_content);
		get_fixed(r, e->content_sha256, 32);
		const uint8_t *kid = NULL;
		size_t klen = 0;

		get_str(r, e->result, sizeof(e->result));
		get_str(r, e->exe, sizeof(e->exe));
		proto_get_u64(r, &t);
		e->pid = (int64_t)t;
		if (proto_get_bytes(r, &kid, &klen) == 0) {
			if (klen > sizeof(e->key_id))
				return proto_reader_fail(r, -EBADMSG);
			memcpy(e->key_id, kid, klen);
			e->key_id_len = (uint32_t)klen;
		}
	}
	ret->n = n;
	return r->error ? r->error : proto_reader_end(r);
}

int proto_grants_encode(struct proto_buf *w, const struct proto_grant_list *l)
{
	if (l->n > PROTO_GRANTS_MAX)
		return -EINVAL;
	proto_put_u32(w, l->n);
	for (uint32_t i = 0; i < l->n; i++) {
		put_str(w, l->g[i].origin);
		proto_put_u8(w, l->g[i].allow);
		proto_put_u64(w, (uint64_t)l->g[i].time);
	}
	return w->error;
}

int proto_grants_decode(struct proto_reader *r, struct proto_grant_list *ret)
{
	uint32_t n;

	memset(ret, 0, sizeof(*ret));
	if (proto_get_u32(r, &n) < 0)
		return r->error;
	if (n > PROTO_GRANTS_MAX)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < n && r->error == 0; i++) {
		uint64_t t = 0;

		get_str(r, ret->g[i].origin, sizeof(ret->g[i].origin));
		proto_get_u8(r, &ret->g[i].allow);
		proto_get_u64(r, &t);
		ret->g[i].time = (int64_t)t;
	}
	ret->n = n;
	return r->error ? r->error : proto_reader_end(r);
}

int proto_records_check_encode(struct proto_buf *w, const struct proto_records_check *c)
{
	proto_put_u8(w, c->ok);
	proto_put_u64(w, (uint64_t)c->version);
	proto_put_u64(w, (uint64_t)c->known);
	put_str(w, c->detail);
	return w->error;
}

int proto_records_check_decode(struct proto_reader *r, struct proto_records_check *ret)
{
	uint64_t v = 0, k = 0;

	memset(ret, 0, sizeof(ret[0]));
	proto_get_u8(r, &ret->ok);
	proto_get_u64(r, &v);
	proto_get_u64(r, &k);
	get_str(r, ret->detail, sizeof(ret->detail));
	if (r->error == 0 && ret->ok > 1)
		proto_reader_fail(r, -EBADMSG);
	ret->version = (int64_t)v;
	ret->known = (int64_t)k;
	return r->error ? r->error : proto_reader_end(r);
}
