/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token (token.h) as bytes, for the card cache: a versioned blob written with the bounded writer and
 * read back with the bounded reader, so that a blob from a damaged file or an older imzad can only
 * ever fail to load, never yield a token the rest of the daemon could trip over. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/card/token.h"
#include "protocol/proto-buf.h"

/* Upper bounds a blob must respect, checked on both sides. TOKEN_MAX_OBJECTS objects of at most
 * TOKEN_STORE_MAX_ATTRS attributes fit easily: token.c builds about 30 attributes per object and a
 * whole PIV card (four certificates and their keys) serialises to some tens of KiB. */
/* The blob layout's version; 2: a private key that needs no PIN (PIV 9E) has CKA_PRIVATE false, so the
 * blobs of version 1 (9E private) are read again from the card; 3: a PIV card's RSA-1024, 3072 and
 * 4096 keys are kept (an older blob of the same certificates lacks them); 4: a module's token keeps its
 * signing and decryption mechanisms (at most TOKEN_MECH_MAX). */
#define TOKEN_BLOB_VERSION 4
#define TOKEN_STORE_MAX_ATTRS 128
#define TOKEN_STORE_MAX_BLOB (1024 * 1024)
/* One attribute value: a certificate is the largest (a PIV object is at most 9 KiB); a value near the
 * RPC frame's cap could not be sent to a client anyway. */
#define TOKEN_STORE_MAX_ATTR_LEN (64 * 1024)
/* A key's size as the card jobs and the signature buffers are sized (p11.c, sign.c): RSA 4096 is 512
 * bytes of modulus, P-521 66 bytes of field. Larger is no key we can use: refused when stored and
 * when read back, and checked again at every private-key submit. */
#define TOKEN_KEY_BYTES_MAX 512
_Static_assert(TOKEN_RSA_BYTES_MAX <= TOKEN_KEY_BYTES_MAX, "a module's RSA key must fit a cached token");
#define TOKEN_EC_FIELD_BYTES_MAX 66

/* Whether a key description fits the bounds above: key type RSA or EC, size within its bound. */
bool token_key_info_ok(const struct token_key_info *k);

/* Appends t's blob to w and returns w's (sticky) error: -ENOBUFS when w's maximum is too small,
 * -EINVAL for a token that breaks the limits above (count, attributes, value length, key size). */
int token_serialize(const struct token *t, struct proto_buf *w);
/* Builds a token from exactly len bytes. -EBADMSG for anything malformed, truncated, followed by
 * trailing bytes, of another blob version or written on a host with another CK_ULONG form, and for
 * any count, value length or key size beyond the limits above: a blob is as untrusted as peer input. */
int token_deserialize(const uint8_t *p, size_t len, struct token **ret);
