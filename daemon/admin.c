/* imzactl's calls (see admin.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/admin.h"
#include "daemon/cache.h"
#include "daemon/known.h"
#include "protocol/proto-admin.h"
#include "protocol/proto-ck.h"

static void trim_copy(char *dst, size_t cap, const char *src, size_t n)
{
	while (n > 0 && src[n - 1] == ' ')
		n--;
	snprintf(dst, cap, "%.*s", (int)n, src);
}

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
			trim_copy(o->label, sizeof(o->label), s->token->label, 32);
			snprintf(o->serial, sizeof(o->serial), "%s", s->token->serial);
			o->pin_tries = s->token->pin_tries_left;
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

int admin_handle(struct daemon *d, struct app *a, uint32_t id, struct proto_reader *r, struct proto_buf *w)
{
	static struct proto_status st;
	static struct proto_cert_list certs;

	(void)a;
	if (id >= RPC_CALL_IMZA_CACHE_LIST && id <= RPC_CALL_IMZA_CACHE_CLEAR)
		return admin_cache(d, id, r, w);
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
