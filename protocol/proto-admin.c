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
