/* imzactl's calls (see admin.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/admin.h"
#include "protocol/proto-admin.h"

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

int admin_handle(struct daemon *d, struct app *a, uint32_t id, struct proto_reader *r, struct proto_buf *w)
{
	static struct proto_status st;
	static struct proto_cert_list certs;

	(void)a;
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
