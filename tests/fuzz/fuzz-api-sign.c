/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: a POST /v1/sign body from a hostile page. Whatever the bytes, api_sign_parse returns a
 * request within the API's limits or a message for the client, never both, and the message always
 * makes a JSON error body. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/web/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_sign_request rq;
	char err[API_ERR_MAX];
	json_t *j;
	int r;

	r = api_sign_parse(data, size, &rq, err, sizeof(err));
	if (r == 0) {
		if (rq.args.len > SIGN_CONTENT_MAX || rq.args.wait_s > SIGN_WAIT_MAX ||
		    (rq.args.detached && rq.args.format != SIGN_FMT_CADES) || rq.args.content != rq.content ||
		    rq.content == NULL)
			abort();
		api_sign_request_clear(&rq);
		return 0;
	}
	if (r != -EINVAL && r != -ENOMEM)
		abort();
	if (r == -EINVAL) {
		if (err[0] == '\0' || strlen(err) >= sizeof(err))
			abort();
		j = api_error_json("bad_request", err);
		if (j == NULL)
			abort();
		json_decref(j);
	}
	return 0;
}
