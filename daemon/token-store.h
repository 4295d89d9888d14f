/* A token (token.h) as bytes, for the card cache: a versioned blob written with the bounded writer and
 * read back with the bounded reader, so that a blob from a damaged file or an older imzad can only
 * ever fail to load, never yield a token the rest of the daemon could trip over. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/token.h"
#include "protocol/proto-buf.h"

/* Upper bounds a blob must respect, checked on both sides. TOKEN_MAX_OBJECTS objects of at most
 * TOKEN_STORE_MAX_ATTRS attributes fit easily: token.c builds about 30 attributes per object and a
 * whole PIV card (four certificates and their keys) serialises to some tens of KiB. */
#define TOKEN_STORE_MAX_ATTRS 128
#define TOKEN_STORE_MAX_BLOB (1024 * 1024)

/* Appends t's blob to w and returns w's (sticky) error: -ENOBUFS when w's maximum is too small,
 * -EINVAL for a token that breaks the limits above. */
int token_serialize(const struct token *t, struct proto_buf *w);
/* Builds a token from exactly len bytes. -EBADMSG for anything malformed, truncated, followed by
 * trailing bytes, of another blob version or written on a host with another CK_ULONG form. */
int token_deserialize(const uint8_t *p, size_t len, struct token **ret);
