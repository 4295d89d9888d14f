/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-hello: the first exchange on every connection (DESIGN §2). The client says which
 * protocol version it speaks, what kind of client it is, a self-declared application name and
 * its pid; the daemon answers with the version it will use and its own name. The major version
 * must match; the minor is the lower of the two. The daemon trusts none of the client's claims
 * for access decisions: it has SO_PEERCRED for that. */
#ifndef IMZA_PROTO_HELLO_H
#define IMZA_PROTO_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "proto-buf.h"

#define PROTO_VERSION_MAJOR 1u
#define PROTO_VERSION_MINOR 0u
/* "IMZA": never a valid call id, so a HELLO can't be mistaken for a call or the reverse. */
#define PROTO_HELLO_MAGIC 0x494d5a41u
#define PROTO_HELLO_REPLY_MAGIC 0x696d7a61u /* "imza" */
/* Bytes in a self-declared name (application or server), NUL not included. */
#define PROTO_NAME_MAX 255u

enum proto_client_kind {
	PROTO_CLIENT_PKCS11 = 1,
	PROTO_CLIENT_CLI = 2,
	PROTO_CLIENT_HTTPS_INTERNAL = 3,
};

struct proto_hello {
	uint32_t major, minor;
	enum proto_client_kind kind;
	uint32_t pid;
	char app_name[PROTO_NAME_MAX + 1]; /* NUL-terminated */
};

struct proto_hello_reply {
	uint32_t major, minor;                /* minor: the one both sides will speak */
	char server_name[PROTO_NAME_MAX + 1]; /* e.g. "imzad 0.1.0" */
};

/* Names must be printable: no control bytes (they end up in logs and consent dialogs), at most
 * PROTO_NAME_MAX bytes. Encoding a bad name is -EINVAL; decoding one is -EBADMSG. */
int proto_hello_encode(struct proto_buf *b, const struct proto_hello *h);
int proto_hello_decode(const uint8_t *msg, size_t len, struct proto_hello *ret_h);
int proto_hello_reply_encode(struct proto_buf *b, const struct proto_hello_reply *h);
int proto_hello_reply_decode(const uint8_t *msg, size_t len, struct proto_hello_reply *ret_h);

/* Server side: the minor version to use with this client, or -EPROTONOSUPPORT when the majors
 * differ (answer with the server's version anyway, then close, so the client can say why). */
int proto_hello_negotiate(const struct proto_hello *client, uint32_t server_major, uint32_t server_minor,
                          uint32_t *ret_minor);
/* Client side: -EPROTONOSUPPORT unless the reply's major is ours and its minor no higher than
 * the one we offered. */
int proto_hello_reply_check(const struct proto_hello_reply *reply, uint32_t client_major,
                            uint32_t client_minor);

#endif
