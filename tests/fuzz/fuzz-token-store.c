/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-token-store: blobs from a damaged or hostile cache file. token_deserialize must refuse anything
 * malformed cleanly; what it accepts must keep the bounds the rest of imzad sizes its buffers by (key
 * size, value length, counts) and serialize back to the same bytes. The corpus holds the virtual
 * card's token and blobs at and just past each bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store/token-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounds(const struct token *t)
{
	if (t->nobjs > TOKEN_MAX_OBJECTS)
		abort();
	for (size_t i = 0; i < t->nobjs; i++) {
		const struct token_object *o = &t->objs[i];

		if (!token_key_info_ok(&o->key) || o->key.size > TOKEN_KEY_BYTES_MAX ||
		    o->nattrs > TOKEN_STORE_MAX_ATTRS)
			abort();
		for (size_t j = 0; j < o->nattrs; j++)
			if (o->attrs[j].len > TOKEN_STORE_MAX_ATTR_LEN)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_buf w = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB);
	struct token *t;

	if (token_deserialize(data, size, &t) < 0)
		return 0;
	check_bounds(t);
	if (token_serialize(t, &w) < 0 || w.len != size || memcmp(w.data, data, size) != 0)
		abort();
	proto_buf_free(&w);
	token_free(t);
	return 0;
}
