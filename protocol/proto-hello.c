/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-hello: encoding and checks of the HELLO exchange (see proto-hello.h).
 * HELLO:  u32 magic, u32 major, u32 minor, u32 client kind, u32 pid, bytes app name.
 * Reply:  u32 reply magic, u32 major, u32 minor, bytes server name. */
#include "proto-hello.h"

#include <errno.h>
#include <string.h>

static bool name_ok(const uint8_t *p, size_t n)
{
	if (n > PROTO_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static int put_name(struct proto_buf *b, const char *name, size_t cap)
{
	size_t n = strnlen(name, cap);

	if (n == cap || !name_ok((const uint8_t *)name, n))
		return proto_buf_fail(b, -EINVAL);
	return proto_put_bytes(b, name, n);
}

/* Copies a name into dst (PROTO_NAME_MAX + 1 bytes) NUL-terminated. */
static int get_name(struct proto_reader *r, char dst[PROTO_NAME_MAX + 1])
{
	const uint8_t *p = NULL;
	size_t n;

	if (proto_get_bytes(r, &p, &n) < 0)
		return r->error;
	if (!name_ok(p, n))
		return proto_reader_fail(r, -EBADMSG);
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

int proto_hello_encode(struct proto_buf *b, const struct proto_hello *h)
{
	proto_put_u32(b, PROTO_HELLO_MAGIC);
	proto_put_u32(b, h->major);
	proto_put_u32(b, h->minor);
	proto_put_u32(b, (uint32_t)h->kind);
	proto_put_u32(b, h->pid);
	return put_name(b, h->app_name, sizeof(h->app_name));
}

int proto_hello_decode(const uint8_t *msg, size_t len, struct proto_hello *ret_h)
{
	struct proto_hello h;
	struct proto_reader r;
	uint32_t magic, kind;

	proto_reader_init(&r, msg, len);
	proto_get_u32(&r, &magic);
	proto_get_u32(&r, &h.major);
	proto_get_u32(&r, &h.minor);
	proto_get_u32(&r, &kind);
	proto_get_u32(&r, &h.pid);
	if (r.error)
		return r.error;
	if (magic != PROTO_HELLO_MAGIC)
		return -EBADMSG;
	if (kind != PROTO_CLIENT_PKCS11 && kind != PROTO_CLIENT_CLI && kind != PROTO_CLIENT_HTTPS_INTERNAL)
		return -EBADMSG;
	h.kind = (enum proto_client_kind)kind;
	if (get_name(&r, h.app_name) < 0 || proto_reader_end(&r) < 0)
		return r.error;
	*ret_h = h;
	return 0;
}

int proto_hello_reply_encode(struct proto_buf *b, const struct proto_hello_reply *h)
{
	proto_put_u32(b, PROTO_HELLO_REPLY_MAGIC);
	proto_put_u32(b, h->major);
	proto_put_u32(b, h->minor);
	return put_name(b, h->server_name, sizeof(h->server_name));
}

int proto_hello_reply_decode(const uint8_t *msg, size_t len, struct proto_hello_reply *ret_h)
{
	struct proto_hello_reply h;
	struct proto_reader r;
	uint32_t magic;

	proto_reader_init(&r, msg, len);
	proto_get_u32(&r, &magic);
	proto_get_u32(&r, &h.major);
	proto_get_u32(&r, &h.minor);
	if (r.error)
		return r.error;
	if (magic != PROTO_HELLO_REPLY_MAGIC)
		return -EBADMSG;
	if (get_name(&r, h.server_name) < 0 || proto_reader_end(&r) < 0)
		return r.error;
	*ret_h = h;
	return 0;
}

int proto_hello_negotiate(const struct proto_hello *client, uint32_t server_major, uint32_t server_minor,
                          uint32_t *ret_minor)
{
	if (client->major != server_major)
		return -EPROTONOSUPPORT;
	*ret_minor = client->minor < server_minor ? client->minor : server_minor;
	return 0;
}

int proto_hello_reply_check(const struct proto_hello_reply *reply, uint32_t client_major,
                            uint32_t client_minor)
{
	if (reply->major != client_major || reply->minor > client_minor)
		return -EPROTONOSUPPORT;
	return 0;
}
