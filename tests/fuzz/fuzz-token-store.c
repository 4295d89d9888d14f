/* fuzz-token-store: blobs from a damaged or hostile cache file. token_deserialize must refuse anything
 * malformed cleanly, and what it accepts must serialize back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/token-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_buf w = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB);
	struct token *t;

	if (token_deserialize(data, size, &t) < 0)
		return 0;
	if (token_serialize(t, &w) < 0 || w.len != size || memcmp(w.data, data, size) != 0)
		abort();
	proto_buf_free(&w);
	token_free(t);
	return 0;
}
