/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Token blobs for the card cache (see token-store.h). The layout is ours alone and versioned: a blob
 * that does not match this version exactly is rejected, and the cache then reads the card again, so
 * changing the layout needs a new TOKEN_BLOB_VERSION and no migration.
 *
 * Layout, big-endian through proto-buf:
 *   "IMZT" u8 version  u8 sizeof(CK_ULONG) raw host bytes of HOST_PROBE
 *   bytes label  bytes serial  raw guid[16]  u32 pin_tries_left  u32 pin_tries_max  (UINT32_MAX: -1)
 *   count objects, each: u64 class  u8 is_private  u64 key type  u64 key size  u8 card_alg  u8 keyref
 *                        u8 key flags  count attributes, each: u64 type  bytes value
 *   count mechanisms (a module's token), each: u64 type  u64 min key size  u64 max key size  u64 flags
 * Attribute values are stored in host form as token.c keeps them (CK_ULONG, CK_BBOOL); the probe makes a
 * cache file carried to a host with another CK_ULONG width or byte order read as stale, not as garbage
 * attribute values. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store/token-store.h"

#define TOKEN_BLOB_MAGIC "IMZT"
#define HOST_PROBE ((CK_ULONG)0x0102030405060708ULL)

#define KEY_PIN_ALWAYS 0x01u
#define KEY_NEEDS_PIN 0x02u

/* The fewest bytes an object and an attribute take, for proto_get_count. */
#define OBJ_MIN_BYTES (8 + 1 + 8 + 8 + 1 + 1 + 1 + 4)
#define ATTR_MIN_BYTES (8 + 4)
#define MECH_BYTES (4 * 8)

static int put_pin_count(struct proto_buf *w, int v)
{
	if (v < -1)
		return proto_buf_fail(w, -EINVAL);
	return proto_put_u32(w, v == -1 ? UINT32_MAX : (uint32_t)v);
}

bool token_key_info_ok(const struct token_key_info *k)
{
	if (k->type == CKK_RSA)
		return k->size <= TOKEN_KEY_BYTES_MAX;
	if (k->type == CKK_EC)
		return k->size <= TOKEN_EC_FIELD_BYTES_MAX;
	return false;
}

/* A module's mechanism as a token keeps it: signing or decryption, no flag beyond what imza passes. */
static bool mech_ok(const struct token_mech *m)
{
	return (m->info.flags & (CKF_SIGN | CKF_DECRYPT)) != 0 && (m->info.flags & ~TOKEN_MECH_FLAGS) == 0;
}

int token_serialize(const struct token *t, struct proto_buf *w)
{
	CK_ULONG probe = HOST_PROBE;
	size_t label_len = strnlen(t->label, sizeof(t->label) - 1);
	size_t serial_len = strnlen(t->serial, sizeof(t->serial) - 1);

	if (t->nobjs > TOKEN_MAX_OBJECTS)
		return proto_buf_fail(w, -EINVAL);
	proto_put_raw(w, TOKEN_BLOB_MAGIC, 4);
	proto_put_u8(w, TOKEN_BLOB_VERSION);
	proto_put_u8(w, (uint8_t)sizeof(probe));
	proto_put_raw(w, &probe, sizeof(probe));
	proto_put_bytes(w, t->label, label_len);
	proto_put_bytes(w, t->serial, serial_len);
	proto_put_raw(w, t->guid, sizeof(t->guid));
	put_pin_count(w, t->pin_tries_left);
	put_pin_count(w, t->pin_tries_max);
	proto_put_u32(w, (uint32_t)t->nobjs);
	for (size_t i = 0; i < t->nobjs; i++) {
		const struct token_object *o = &t->objs[i];

		if (o->nattrs > TOKEN_STORE_MAX_ATTRS || !token_key_info_ok(&o->key))
			return proto_buf_fail(w, -EINVAL);
		proto_put_u64(w, o->cls);
		proto_put_u8(w, o->is_private ? 1 : 0);
		proto_put_u64(w, o->key.type);
		proto_put_u64(w, o->key.size);
		proto_put_u8(w, o->key.card_alg);
		proto_put_u8(w, o->key.keyref);
		proto_put_u8(w, (uint8_t)((o->key.pin_always ? KEY_PIN_ALWAYS : 0) |
		                          (o->key.needs_pin ? KEY_NEEDS_PIN : 0)));
		proto_put_u32(w, (uint32_t)o->nattrs);
		for (size_t j = 0; j < o->nattrs; j++) {
			if (o->attrs[j].len > TOKEN_STORE_MAX_ATTR_LEN)
				return proto_buf_fail(w, -EINVAL);
			proto_put_u64(w, o->attrs[j].type);
			proto_put_bytes(w, o->attrs[j].value, o->attrs[j].len);
		}
	}
	if (t->nmechs > TOKEN_MECH_MAX)
		return proto_buf_fail(w, -EINVAL);
	proto_put_u32(w, (uint32_t)t->nmechs);
	for (size_t i = 0; i < t->nmechs; i++) {
		const struct token_mech *m = &t->mechs[i];

		if (!mech_ok(m))
			return proto_buf_fail(w, -EINVAL);
		proto_put_u64(w, m->type);
		proto_put_u64(w, m->info.ulMinKeySize);
		proto_put_u64(w, m->info.ulMaxKeySize);
		proto_put_u64(w, m->info.flags);
	}
	return w->error;
}

/* A label or serial: at most max bytes and no NUL, which would silently shorten the C string. */
static int get_string(struct proto_reader *r, char *dst, size_t max)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	int e;

	e = proto_get_bytes(r, &p, &n);
	if (e < 0)
		return e;
	if (n > max || (n && memchr(p, 0, n) != NULL))
		return proto_reader_fail(r, -EBADMSG);
	memcpy(dst, p, n);
	dst[n] = 0;
	return 0;
}

static int get_pin_count(struct proto_reader *r, int *ret_v)
{
	uint32_t v = 0;
	int e;

	e = proto_get_u32(r, &v);
	if (e < 0)
		return e;
	if (v != UINT32_MAX && v > INT_MAX)
		return proto_reader_fail(r, -EBADMSG);
	*ret_v = v == UINT32_MAX ? -1 : (int)v;
	return 0;
}

/* A u64 that must fit a CK_ULONG (narrower than 64 bits on 32-bit hosts). */
static int get_ulong(struct proto_reader *r, CK_ULONG *ret_v)
{
	uint64_t v = 0;
	int e;

	e = proto_get_u64(r, &v);
	if (e < 0)
		return e;
	if (v > (CK_ULONG)-1)
		return proto_reader_fail(r, -EBADMSG);
	*ret_v = (CK_ULONG)v;
	return 0;
}

static int get_attrs(struct proto_reader *r, struct token_object *o)
{
	uint32_t n = 0;
	int e;

	e = proto_get_count(r, ATTR_MIN_BYTES, &n);
	if (e < 0)
		return e;
	if (n > TOKEN_STORE_MAX_ATTRS)
		return proto_reader_fail(r, -EBADMSG);
	o->attrs = calloc(n ? n : 1, sizeof(*o->attrs));
	if (o->attrs == NULL)
		return proto_reader_fail(r, -ENOMEM);
	/* o->nattrs counts the values allocated so far, so token_free cleans up after any failure. */
	for (uint32_t i = 0; i < n; i++) {
		CK_ATTRIBUTE_TYPE type = 0;
		const uint8_t *p = NULL;
		size_t len = 0;
		void *copy;

		get_ulong(r, &type);
		e = proto_get_bytes(r, &p, &len);
		if (e < 0)
			return e;
		if (len > TOKEN_STORE_MAX_ATTR_LEN)
			return proto_reader_fail(r, -EBADMSG);
		/* token_attr() answers with the first match only: a second one is not a token we wrote. */
		if (token_attr(o, type) != NULL)
			return proto_reader_fail(r, -EBADMSG);
		copy = malloc(len ? len : 1);
		if (copy == NULL)
			return proto_reader_fail(r, -ENOMEM);
		if (len)
			memcpy(copy, p, len);
		o->attrs[i] = (struct token_attr){type, copy, len};
		o->nattrs = i + 1;
	}
	return 0;
}

static int get_object(struct proto_reader *r, struct token_object *o)
{
	uint64_t size = 0;
	uint8_t is_private = 0, flags = 0;

	get_ulong(r, &o->cls);
	proto_get_u8(r, &is_private);
	get_ulong(r, &o->key.type);
	proto_get_u64(r, &size);
	proto_get_u8(r, &o->key.card_alg);
	proto_get_u8(r, &o->key.keyref);
	proto_get_u8(r, &flags);
	if (r->error)
		return r->error;
	/* The key size sizes the card job's input and the signature buffers: a damaged or hostile blob
	 * must not be able to name a larger one. */
	if (is_private > 1 || size > TOKEN_KEY_BYTES_MAX || (flags & ~(KEY_PIN_ALWAYS | KEY_NEEDS_PIN)))
		return proto_reader_fail(r, -EBADMSG);
	o->is_private = is_private;
	o->key.size = (size_t)size;
	if (!token_key_info_ok(&o->key))
		return proto_reader_fail(r, -EBADMSG);
	o->key.pin_always = flags & KEY_PIN_ALWAYS;
	o->key.needs_pin = flags & KEY_NEEDS_PIN;
	return get_attrs(r, o);
}

/* The module's mechanisms: bounded, each type once (token_mech answers with the first), each one a
 * token could have kept. */
static int get_mechs(struct proto_reader *r, struct token *t)
{
	uint32_t n = 0;

	if (proto_get_count(r, MECH_BYTES, &n) < 0)
		return r->error;
	if (n > TOKEN_MECH_MAX)
		return proto_reader_fail(r, -EBADMSG);
	for (uint32_t i = 0; i < n; i++) {
		struct token_mech m = {0};

		get_ulong(r, &m.type);
		get_ulong(r, &m.info.ulMinKeySize);
		get_ulong(r, &m.info.ulMaxKeySize);
		get_ulong(r, &m.info.flags);
		if (r->error)
			return r->error;
		if (!mech_ok(&m) || token_mech(t, m.type) != NULL)
			return proto_reader_fail(r, -EBADMSG);
		t->mechs[t->nmechs++] = m;
	}
	return 0;
}

int token_deserialize(const uint8_t *p, size_t len, struct token **ret)
{
	CK_ULONG probe = HOST_PROBE;
	struct proto_reader r;
	const uint8_t *magic = NULL, *host = NULL, *guid = NULL;
	uint8_t version = 0, width = 0;
	uint32_t nobjs = 0;
	struct token *t;
	int e;

	if (len > TOKEN_STORE_MAX_BLOB)
		return -EBADMSG;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	proto_reader_init(&r, p, len);
	proto_get_raw(&r, 4, &magic);
	proto_get_u8(&r, &version);
	proto_get_u8(&r, &width);
	if (r.error == 0 && (memcmp(magic, TOKEN_BLOB_MAGIC, 4) != 0 || version != TOKEN_BLOB_VERSION ||
	                     width != sizeof(probe)))
		proto_reader_fail(&r, -EBADMSG);
	proto_get_raw(&r, sizeof(probe), &host);
	if (r.error == 0 && memcmp(host, &probe, sizeof(probe)) != 0)
		proto_reader_fail(&r, -EBADMSG);
	get_string(&r, t->label, sizeof(t->label) - 1);
	get_string(&r, t->serial, sizeof(t->serial) - 1);
	proto_get_raw(&r, sizeof(t->guid), &guid);
	get_pin_count(&r, &t->pin_tries_left);
	get_pin_count(&r, &t->pin_tries_max);
	proto_get_count(&r, OBJ_MIN_BYTES, &nobjs);
	if (r.error == 0 && nobjs > TOKEN_MAX_OBJECTS)
		proto_reader_fail(&r, -EBADMSG);
	if (r.error == 0)
		memcpy(t->guid, guid, sizeof(t->guid));
	/* t->nobjs counts the objects begun so far, so token_free cleans up after any failure. */
	for (uint32_t i = 0; r.error == 0 && i < nobjs; i++) {
		t->nobjs = i + 1;
		/* Not stored: token.c's rule, which token_object() relies on. */
		t->objs[i].handle = (CK_OBJECT_HANDLE)(i + 1);
		get_object(&r, &t->objs[i]);
	}
	if (r.error == 0)
		get_mechs(&r, t);
	e = proto_reader_end(&r);
	if (e < 0) {
		token_free(t);
		return e;
	}
	*ret = t;
	return 0;
}
