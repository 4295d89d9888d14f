/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure half of the HTTPS API (docs/API.md): the checks on a request's Host, Origin and
 * Content-Type, the strict parser of a POST /v1/sign body and the JSON of every answer. No sockets and
 * no state, so unit tests and fuzzers reach each rule; https.c does the I/O around it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/web/certinfo.h"
#include "daemon/web/sign.h"

#define API_VERSION 1
/* Request bodies past this get 413 too_large (libevent's own hard stop is higher). */
#define API_BODY_MAX (1024 * 1024)
/* An origin's host is a DNS name of at most 253 bytes; a longer origin is refused whole (400), never
 * shown cut: the user judges a page by the end of its name. */
#define API_ORIGIN_MAX 253
/* Room for any message api_sign_parse writes. */
#define API_ERR_MAX 200

/* A parsed POST /v1/sign: args.content points to content, which belongs to the request. */
struct api_sign_request {
	struct sign_args args;
	uint8_t *content;
};

/* Parses a body with jansson, strictly: one JSON object, no duplicate or unknown keys, exact types,
 * "certificate" 64 hex digits or absent (args.choose: the user chooses in the window), exactly one of "text" and "data" (standard base64 with padding, no
 * whitespace), "format" only "cades-bes" (the default; "raw" is for local callers, never the web),
 * "detached", "wait"
 * 0..SIGN_WAIT_MAX, content at most SIGN_CONTENT_MAX bytes. 0 with *ret set (release it with
 * api_sign_request_clear); -EINVAL with a message for the client in err (a bad_request); -ENOMEM. */
int api_sign_parse(const uint8_t *body, size_t len, struct api_sign_request *ret, char *err, size_t errcap);
/* Wipes and frees the content; the request may be cleared twice. */
void api_sign_request_clear(struct api_sign_request *r);

/* Host is "localhost", "127.0.0.1" or "[::1]" (the name in any case) followed by ":port", exactly our
 * port in decimal without leading zeros (the port may be left out only when it is 443). Nothing else:
 * no trailing dot, no userinfo, no other port. NULL is refused. */
bool api_host_ok(const char *host, uint16_t port);
/* An origin as browsers serialize it: "http" or "https", "://", a host in lower case (a DNS name, or an
 * IPv6 address in brackets), an optional ":port" (1..65535, no leading zero) and nothing after it;
 * printable ASCII, at most API_ORIGIN_MAX bytes. "null" is refused, as is NULL. */
bool api_origin_ok(const char *origin);
/* api_origin_ok with the reason: 0; -E2BIG for an origin over API_ORIGIN_MAX bytes (a bad request,
 * 400); -EINVAL for any other refusal (NULL, "null", malformed: it cannot be granted, 403). */
int api_origin_check(const char *origin);
/* application/json or text/plain (any case), optionally followed by parameters ("; charset=utf-8");
 * printable ASCII. NULL (no Content-Type) is refused. */
bool api_content_type_ok(const char *content_type);

/* The HTTP status of a signing service outcome (docs/API.md's table), and a reason phrase for any
 * status imza sends. */
int api_err_status(enum sign_err e);
const char *api_status_reason(int status);

/* Answers, each a new reference (NULL only when out of memory). */
/* {"error": code, "message": message} */
json_t *api_error_json(const char *code, const char *message);
/* The same with "tries_left" (pin_incorrect). */
json_t *api_error_tries_json(const char *code, const char *message, int tries_left);
/* GET /v1/info */
json_t *api_info_json(bool granted);
/* One element of GET /v1/certificates' "certificates". */
json_t *api_cert_json(const struct sign_cert *c, const struct certinfo *ci);
/* POST /v1/sign's 200 answer from a SIGN_OK result. */
json_t *api_sign_reply_json(const struct sign_result *r, enum sign_format format, bool detached);
