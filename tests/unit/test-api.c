/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/web/api.c: each rule of docs/API.md that needs no socket (the sign request body,
 * Host, Origin, Content-Type, the status table) and the JSON of each answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "daemon/web/api.h"
#include "tests/lib/testcert.h"

#define CERT_HEX "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

static int parse(const char *body, struct api_sign_request *rq, char *err)
{
	return api_sign_parse((const uint8_t *)body, strlen(body), rq, err, API_ERR_MAX);
}

static void refused(const char *body)
{
	struct api_sign_request rq;
	char err[API_ERR_MAX];

	memset(&rq, 0x5a, sizeof(rq));
	if (parse(body, &rq, err) != -EINVAL)
		fail_msg("accepted: %s", body);
	assert_true(err[0] != '\0');
	/* Nothing written on failure. */
	assert_int_equal(((uint8_t *)&rq)[0], 0x5a);
}

static void accepted(const char *body, struct api_sign_request *rq)
{
	char err[API_ERR_MAX];
	int r = parse(body, rq, err);

	if (r != 0)
		fail_msg("refused (%d, %s): %s", r, err, body);
}

/* A body with the certificate and one extra member (JSON text after the comma, or "" for none). */
static char *body_with(const char *extra)
{
	size_t n = strlen(extra) + 128;
	char *b = malloc(n);

	assert_non_null(b);
	snprintf(b, n, "{\"certificate\": \"%s\"%s%s}", CERT_HEX, extra[0] ? ", " : "", extra);
	return b;
}

static void refused_with(const char *extra)
{
	char *b = body_with(extra);

	refused(b);
	free(b);
}

static void accepted_with(const char *extra, struct api_sign_request *rq)
{
	char *b = body_with(extra);

	accepted(b, rq);
	free(b);
}

static void test_text_request_with_defaults_is_parsed(void **state)
{
	static const uint8_t id[32] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
	                               0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	                               0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	struct api_sign_request rq;

	accepted_with("\"text\": \"Başvuru Nedeni: yenileme\"", &rq);
	assert_memory_equal(rq.args.cert_id, id, 32);
	assert_false(rq.args.choose);
	assert_int_equal(rq.args.format, SIGN_FMT_CADES);
	assert_false(rq.args.detached);
	assert_int_equal(rq.args.wait_s, 0);
	assert_true(rq.args.is_text);
	assert_int_equal(rq.args.len, strlen("Başvuru Nedeni: yenileme"));
	assert_memory_equal(rq.args.content, "Başvuru Nedeni: yenileme", rq.args.len);
	assert_ptr_equal(rq.args.content, rq.content);
	api_sign_request_clear(&rq);
	assert_null(rq.content);
	/* Clearing twice is harmless. */
	api_sign_request_clear(&rq);
}

static void test_data_request_is_base64_decoded(void **state)
{
	struct api_sign_request rq;

	accepted_with("\"data\": \"AAECA/7/\"", &rq);
	assert_false(rq.args.is_text);
	assert_int_equal(rq.args.len, 6);
	assert_memory_equal(rq.args.content, "\x00\x01\x02\x03\xfe\xff", 6);
	api_sign_request_clear(&rq);
	accepted_with("\"data\": \"QQ==\"", &rq);
	assert_int_equal(rq.args.len, 1);
	assert_memory_equal(rq.args.content, "A", 1);
	api_sign_request_clear(&rq);
	accepted_with("\"data\": \"QUI=\"", &rq);
	assert_int_equal(rq.args.len, 2);
	assert_memory_equal(rq.args.content, "AB", 2);
	api_sign_request_clear(&rq);
	accepted_with("\"data\": \"\"", &rq);
	assert_int_equal(rq.args.len, 0);
	api_sign_request_clear(&rq);
}

static void test_every_field_is_parsed(void **state)
{
	struct api_sign_request rq;

	accepted_with("\"text\": \"x\", \"format\": \"cades-bes\", \"detached\": false, \"wait\": 300", &rq);
	assert_int_equal(rq.args.format, SIGN_FMT_CADES);
	assert_false(rq.args.detached);
	assert_int_equal(rq.args.wait_s, 300);
	api_sign_request_clear(&rq);
	accepted_with("\"wait\": 7, \"detached\": true, \"data\": \"eA==\", \"format\": \"cades-bes\"", &rq);
	assert_int_equal(rq.args.format, SIGN_FMT_CADES);
	assert_true(rq.args.detached);
	assert_int_equal(rq.args.wait_s, 7);
	api_sign_request_clear(&rq);
}

static void test_detached_raw_is_refused(void **state)
{
	refused_with("\"text\": \"x\", \"format\": \"raw\", \"detached\": true");
}

/* A bare signature over bytes a page chose is a login answer, or signed attributes wrapped around content
 * the user never saw: the web gets CAdES-BES only (imzactl and PKCS#11 keep raw). */
static void test_raw_format_refused_for_web(void **state)
{
	struct api_sign_request rq;
	char err[API_ERR_MAX];

	refused_with("\"text\": \"x\", \"format\": \"raw\"");
	refused_with("\"data\": \"aGVsbG8=\", \"format\": \"raw\", \"detached\": false");
	refused_with("\"data\": \"aGVsbG8=\", \"format\": \"RAW\"");
	/* The client learns why. */
	assert_int_equal(
	        parse("{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\", \"format\": \"raw\"}", &rq, err),
	        -EINVAL);
	assert_non_null(strstr(err, "cades-bes"));
}

static void test_malformed_json_is_refused(void **state)
{
	static const char *const bodies[] = {
	        "",
	        " ",
	        "{",
	        "}",
	        "null",
	        "\"text\"",
	        "42",
	        "[]",
	        "[{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"}]",
	        "{'certificate': 'x'}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\",}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"} x",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"}{}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"\xff\"}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"a\\u0000b\"}",
	        "{\"certificate\": \"" CERT_HEX "\", \"text\": \"\\ud800\"}",
	};

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		refused(bodies[i]);
}

static void test_embedded_nul_byte_is_refused(void **state)
{
	static const char body[] = "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"}\0";
	struct api_sign_request rq;
	char err[API_ERR_MAX];

	assert_int_equal(api_sign_parse((const uint8_t *)body, sizeof(body), &rq, err, sizeof(err)), -EINVAL);
}

static void test_whitespace_around_the_object_is_accepted(void **state)
{
	struct api_sign_request rq;

	accepted(" \n{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"}\r\n\t ", &rq);
	api_sign_request_clear(&rq);
}

static void test_duplicate_keys_are_refused(void **state)
{
	refused_with("\"text\": \"x\", \"text\": \"y\"");
	refused("{\"certificate\": \"" CERT_HEX "\", \"certificate\": \"" CERT_HEX "\", \"text\": \"x\"}");
}

static void test_unknown_keys_are_refused(void **state)
{
	struct api_sign_request rq;
	char err[API_ERR_MAX];
	char *b = body_with("\"text\": \"x\", \"pin\": \"123456\"");

	refused_with("\"text\": \"x\", \"display\": \"y\"");
	refused_with("\"text\": \"x\", \"Text\": \"y\"");
	refused_with("\"text\": \"x\", \"\": 1");
	assert_int_equal(parse(b, &rq, err), -EINVAL);
	/* jansson names the key, so the client knows what to drop. */
	assert_non_null(strstr(err, "pin"));
	free(b);
}

/* No "certificate": the user chooses in the window; the rest of the body is checked as always. */
static void test_body_without_certificate_lets_the_user_choose(void **state)
{
	static const uint8_t zero[32];
	struct api_sign_request rq;

	accepted("{\"text\": \"Beyan\", \"wait\": 30, \"detached\": true}", &rq);
	assert_true(rq.args.choose);
	assert_memory_equal(rq.args.cert_id, zero, 32);
	assert_int_equal(rq.args.wait_s, 30);
	assert_true(rq.args.detached);
	assert_int_equal(rq.args.len, 5);
	assert_memory_equal(rq.args.content, "Beyan", 5);
	api_sign_request_clear(&rq);
	accepted("{\"data\": \"AAEC\"}", &rq);
	assert_true(rq.args.choose);
	api_sign_request_clear(&rq);
	/* Still one of text and data, and nothing unknown. */
	refused("{}");
	refused("{\"wait\": 5}");
	refused("{\"text\": \"x\", \"certificates\": []}");
}

static void test_wrong_types_are_refused(void **state)
{
	refused("{\"certificate\": 1, \"text\": \"x\"}");
	refused("{\"certificate\": null, \"text\": \"x\"}");
	refused_with("\"text\": 1");
	refused_with("\"text\": null");
	refused_with("\"text\": [\"x\"]");
	refused_with("\"data\": {}");
	refused_with("\"text\": \"x\", \"format\": null");
	refused_with("\"text\": \"x\", \"format\": 1");
	refused_with("\"text\": \"x\", \"detached\": \"true\"");
	refused_with("\"text\": \"x\", \"detached\": 1");
	refused_with("\"text\": \"x\", \"detached\": null");
	refused_with("\"text\": \"x\", \"wait\": 1.0");
	refused_with("\"text\": \"x\", \"wait\": \"1\"");
	refused_with("\"text\": \"x\", \"wait\": true");
	refused_with("\"text\": \"x\", \"wait\": 99999999999999999999999");
}

static void test_exactly_one_of_text_and_data(void **state)
{
	refused_with("");
	refused_with("\"text\": \"x\", \"data\": \"eA==\"");
}

static void test_certificate_must_be_64_hex_digits(void **state)
{
	refused("{\"certificate\": \"\", \"text\": \"x\"}");
	refused("{\"certificate\": \"" CERT_HEX "0\", \"text\": \"x\"}");
	refused("{\"certificate\": \"0" CERT_HEX "\", \"text\": \"x\"}");
	refused("{\"certificate\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeef\", "
	        "\"text\": "
	        "\"x\"}");
	refused("{\"certificate\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\", "
	        "\"text\": "
	        "\"x\"}");
	refused("{\"certificate\": \" 0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\", "
	        "\"text\": "
	        "\"x\"}");
}

static void test_unknown_format_is_refused(void **state)
{
	refused_with("\"text\": \"x\", \"format\": \"CAdES-BES\"");
	refused_with("\"text\": \"x\", \"format\": \"pades\"");
	refused_with("\"text\": \"x\", \"format\": \"\"");
}

static void test_wait_must_be_0_to_300(void **state)
{
	struct api_sign_request rq;

	refused_with("\"text\": \"x\", \"wait\": -1");
	refused_with("\"text\": \"x\", \"wait\": 301");
	accepted_with("\"text\": \"x\", \"wait\": 0", &rq);
	api_sign_request_clear(&rq);
}

static void test_base64_must_be_strict(void **state)
{
	static const char *const bad[] = {
	        "QQ",       /* no padding */
	        "QQ=",      /* short padding */
	        "Q===",     /* three pads */
	        "====",     /* only padding */
	        "QQ==QQ==", /* padding inside */
	        "Q=Q=",     /* padding inside */
	        "QR==",     /* non-zero unused bits */
	        "QUJ=",     /* non-zero unused bits */
	        "QUJD\n",   /* whitespace */
	        " QUJD",    /* whitespace */
	        "QU JD",    /* whitespace */
	        "QUJ-",     /* base64url */
	        "QUJ_",     /* base64url */
	        "QUJ.",     /* other */
	        "QUJD\\u0000",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char extra[64];

		snprintf(extra, sizeof(extra), "\"data\": \"%s\"", bad[i]);
		refused_with(extra);
	}
}

/* A body with "text" of n bytes, or "data" decoding to n bytes. */
static char *big_body(size_t n, bool data)
{
	size_t b64 = 4 * ((n + 2) / 3);
	size_t cap = (data ? b64 : n) + 200;
	char *b = malloc(cap), *p;

	assert_non_null(b);
	p = b + snprintf(b, cap, "{\"certificate\": \"%s\", \"%s\": \"", CERT_HEX, data ? "data" : "text");
	if (data) {
		uint8_t *raw = calloc(1, n + 1);

		assert_non_null(raw);
		p += EVP_EncodeBlock((unsigned char *)p, raw, (int)n);
		free(raw);
	} else {
		memset(p, 'a', n);
		p += n;
	}
	memcpy(p, "\"}", 3);
	return b;
}

static void test_content_over_512k_is_refused(void **state)
{
	struct api_sign_request rq;
	char *b;

	b = big_body(SIGN_CONTENT_MAX, false);
	accepted(b, &rq);
	assert_int_equal(rq.args.len, SIGN_CONTENT_MAX);
	api_sign_request_clear(&rq);
	free(b);
	b = big_body(SIGN_CONTENT_MAX + 1, false);
	refused(b);
	free(b);
	b = big_body(SIGN_CONTENT_MAX, true);
	accepted(b, &rq);
	assert_int_equal(rq.args.len, SIGN_CONTENT_MAX);
	api_sign_request_clear(&rq);
	free(b);
	b = big_body(SIGN_CONTENT_MAX + 1, true);
	refused(b);
	free(b);
}

static void test_body_over_1mib_is_refused_before_parsing(void **state)
{
	static const char head[] = "{\"certificate\": \"" CERT_HEX "\", \"text\": \"x\"}";
	size_t n = API_BODY_MAX + 1;
	char *b = malloc(n);
	struct api_sign_request rq;
	char err[API_ERR_MAX];

	assert_non_null(b);
	/* A valid request padded with whitespace: only the size is wrong. */
	memset(b, ' ', n);
	memcpy(b, head, sizeof(head) - 1);
	assert_int_equal(api_sign_parse((const uint8_t *)b, n - 1, &rq, err, sizeof(err)), 0);
	api_sign_request_clear(&rq);
	assert_int_equal(api_sign_parse((const uint8_t *)b, n, &rq, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "1 MiB"));
	free(b);
}

static void test_error_message_fits_any_buffer(void **state)
{
	struct api_sign_request rq;
	char err[8];

	assert_int_equal(api_sign_parse((const uint8_t *)"{", 1, &rq, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) < sizeof(err));
	assert_int_equal(api_sign_parse((const uint8_t *)"{", 1, &rq, NULL, 0), -EINVAL);
}

static void test_host_loopback_with_our_port_is_accepted(void **state)
{
	static const char *const ok[] = {"localhost:38443", "LOCALHOST:38443", "LocalHost:38443",
	                                 "127.0.0.1:38443", "[::1]:38443"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!api_host_ok(ok[i], 38443))
			fail_msg("refused %s", ok[i]);
}

static void test_host_anything_else_is_refused(void **state)
{
	static const char *const bad[] = {
	        "",
	        "evil.example",
	        "evil.example:38443",
	        "localhost",
	        "127.0.0.1",
	        "[::1]",
	        "localhost.:38443",
	        "localhost:38443.",
	        "user@localhost:38443",
	        "localhost@evil.example:38443",
	        "localhost:38444",
	        "localhost:3844",
	        "localhost:384430",
	        "localhost:038443",
	        "localhost:+38443",
	        "localhost:38443/",
	        "localhost:38443 x",
	        "localhost :38443",
	        "localhost.evil.example:38443",
	        "localhost.localdomain:38443",
	        "127.0.0.2:38443",
	        "127.1:38443",
	        "2130706433:38443",
	        "::1:38443",
	        "[::1]:38443:38443",
	        "[0:0:0:0:0:0:0:1]:38443",
	        "[::ffff:127.0.0.1]:38443",
	        "localhost:",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_host_ok(bad[i], 38443))
			fail_msg("accepted %s", bad[i]);
	assert_false(api_host_ok(NULL, 38443));
	assert_false(api_host_ok("localhost:0", 0));
}

static void test_host_port_may_be_omitted_only_for_443(void **state)
{
	assert_true(api_host_ok("localhost", 443));
	assert_true(api_host_ok("localhost:443", 443));
	assert_true(api_host_ok("[::1]", 443));
	assert_false(api_host_ok("localhost", 38443));
	assert_false(api_host_ok("localhost:443", 38443));
}

static void test_origin_as_browsers_send_it_is_accepted(void **state)
{
	static const char *const ok[] = {
	        "https://example.com",
	        "https://portal.turkiye.gov.tr",
	        "http://localhost:8080",
	        "http://127.0.0.1:3000",
	        "http://[::1]:8000",
	        "https://[2001:db8::1]",
	        "https://xn--bcher-kva.example",
	        "https://a_b.example:65535",
	        "http://x:1",
	};
	char longest[API_ORIGIN_MAX + 1];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!api_origin_ok(ok[i]))
			fail_msg("refused %s", ok[i]);
	memcpy(longest, "https://", 8);
	memset(longest + 8, 'a', API_ORIGIN_MAX - 8);
	longest[API_ORIGIN_MAX] = '\0';
	assert_true(api_origin_ok(longest));
}

static void test_origin_null_and_malformed_are_refused(void **state)
{
	static const char *const bad[] = {
	        "null",
	        "",
	        "https://",
	        "http://",
	        "example.com",
	        "//example.com",
	        "ftp://example.com",
	        "file://",
	        "chrome-extension://abcdef",
	        "HTTPS://example.com",
	        "https://Example.com",
	        "https:/example.com",
	        "https://example.com/",
	        "https://example.com/path",
	        "https://example.com?x=1",
	        "https://example.com#x",
	        "https://user@example.com",
	        "https://user:pw@example.com",
	        "https://example.com:",
	        "https://example.com:0",
	        "https://example.com:080",
	        "https://example.com:65536",
	        "https://example.com:123456",
	        "https://example.com:8080:80",
	        "https://example..com",
	        "https://.example.com",
	        "https://example.com.",
	        "https://exa mple.com",
	        "https://example.com\t",
	        "https://\xc3\xb6rnek.example",
	        "https://[::1",
	        "https://[]",
	        "https://[::1]x",
	        "https://[::g]",
	        "https://example.com, https://evil.example",
	};
	char too_long[API_ORIGIN_MAX + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (api_origin_ok(bad[i]))
			fail_msg("accepted %s", bad[i]);
		/* Refused as no origin (403), not as too long (400). */
		assert_int_equal(api_origin_check(bad[i]), -EINVAL);
	}
	assert_false(api_origin_ok(NULL));
	assert_int_equal(api_origin_check(NULL), -EINVAL);
	memcpy(too_long, "https://", 8);
	memset(too_long + 8, 'a', API_ORIGIN_MAX + 1 - 8);
	too_long[API_ORIGIN_MAX + 1] = '\0';
	assert_false(api_origin_ok(too_long));
}

/* An origin over 253 bytes cannot be shown whole in a dialog: it is a bad request (400), however well
 * formed, while 253 bytes pass and are shown whole. */
static void test_long_origin_over_253_bytes_is_a_bad_request(void **state)
{
	char o[400];
	size_t n;

	assert_int_equal(API_ORIGIN_MAX, 253);
	/* https://portal.kamusm.gov.tr.<labels>.evil-example.com, 253 and 254 bytes */
	for (n = 253; n <= 254; n++) {
		size_t i = 0;

		i += (size_t)snprintf(o, sizeof(o), "https://portal.kamusm.gov.tr");
		for (; i < n - strlen(".evil-example.com"); i++)
			o[i] = i % 10 == 0 ? '.' : 'x';
		if (o[i - 1] == '.')
			o[i - 1] = 'y';
		snprintf(o + i, sizeof(o) - i, ".evil-example.com");
		assert_int_equal(strlen(o), n);
		if (n == 253) {
			assert_true(api_origin_ok(o));
			assert_int_equal(api_origin_check(o), 0);
		} else {
			assert_false(api_origin_ok(o));
			assert_int_equal(api_origin_check(o), -E2BIG);
		}
	}
	memset(o, 'a', sizeof(o) - 1);
	memcpy(o, "https://", 8);
	o[sizeof(o) - 1] = '\0';
	assert_int_equal(api_origin_check(o), -E2BIG);
}

static void test_content_type_json_or_text_with_parameters(void **state)
{
	static const char *const ok[] = {
	        "application/json",
	        "APPLICATION/JSON",
	        "text/plain",
	        "Text/Plain",
	        "text/plain;charset=UTF-8",
	        "text/plain; charset=ISO-8859-9",
	        "application/json ; charset=utf-8",
	};
	static const char *const bad[] = {
	        "",
	        "application/jsonx",
	        "application/json5",
	        "application/x-www-form-urlencoded",
	        "multipart/form-data; boundary=x",
	        "text/html",
	        "text/plainx",
	        "text/plain x",
	        " text/plain",
	        "text/plain;\x01",
	        "text/plain; charset=\xc3\xbc",
	        "*/*",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!api_content_type_ok(ok[i]))
			fail_msg("refused %s", ok[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_content_type_ok(bad[i]))
			fail_msg("accepted %s", bad[i]);
	assert_false(api_content_type_ok(NULL));
}

static void test_sign_errors_map_to_the_api_statuses(void **state)
{
	assert_int_equal(api_err_status(SIGN_OK), 200);
	assert_int_equal(api_err_status(SIGN_E_BAD_REQUEST), 400);
	assert_int_equal(api_err_status(SIGN_E_ORIGIN_DENIED), 403);
	assert_int_equal(api_err_status(SIGN_E_KEY_NOT_ALLOWED), 403);
	assert_string_equal(sign_err_code(SIGN_E_KEY_NOT_ALLOWED), "key_not_allowed");
	assert_non_null(strstr(sign_err_message(SIGN_E_KEY_NOT_ALLOWED), "nonRepudiation"));
	assert_int_equal(api_err_status(SIGN_E_USER_CANCELLED), 403);
	assert_int_equal(api_err_status(SIGN_E_PIN_INCORRECT), 403);
	assert_int_equal(api_err_status(SIGN_E_PIN_LOCKED), 423);
	assert_int_equal(api_err_status(SIGN_E_CERT_UNKNOWN), 404);
	assert_int_equal(api_err_status(SIGN_E_CARD_ABSENT), 409);
	assert_int_equal(api_err_status(SIGN_E_TIMEOUT), 504);
	assert_int_equal(api_err_status(SIGN_E_BUSY), 503);
	assert_int_equal(api_err_status(SIGN_E_INTERNAL), 500);
	assert_int_equal(api_err_status((enum sign_err)99), 500);
	assert_string_equal(api_status_reason(421), "Misdirected Request");
	assert_string_equal(api_status_reason(423), "Locked");
}

static void assert_keys(json_t *o, const char *const *keys, size_t n)
{
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), n);
	for (size_t i = 0; i < n; i++)
		if (json_object_get(o, keys[i]) == NULL)
			fail_msg("no key %s", keys[i]);
}

static void test_error_json_is_error_and_message(void **state)
{
	static const char *const keys[] = {"error", "message"};
	static const char *const keys_tries[] = {"error", "message", "tries_left"};
	json_t *j = api_error_json("bad_host", "Host must be localhost");

	assert_keys(j, keys, 2);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "bad_host");
	assert_string_equal(json_string_value(json_object_get(j, "message")), "Host must be localhost");
	json_decref(j);
	j = api_error_tries_json("pin_incorrect", "wrong PIN", 2);
	assert_keys(j, keys_tries, 3);
	assert_int_equal(json_integer_value(json_object_get(j, "tries_left")), 2);
	json_decref(j);
	j = api_error_tries_json("pin_incorrect", "wrong PIN", -1);
	assert_int_equal(json_integer_value(json_object_get(j, "tries_left")), -1);
	json_decref(j);
	/* A message that is not UTF-8 still makes JSON. */
	j = api_error_json("internal", "bad \xff byte");
	assert_string_equal(json_string_value(json_object_get(j, "message")), "bad ? byte");
	json_decref(j);
}

static void test_info_json(void **state)
{
	static const char *const keys[] = {"name", "version", "api", "granted"};
	json_t *j = api_info_json(true);

	assert_keys(j, keys, 4);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "imza");
	assert_string_equal(json_string_value(json_object_get(j, "version")), PACKAGE_VERSION);
	assert_int_equal(json_integer_value(json_object_get(j, "api")), 1);
	assert_true(json_is_true(json_object_get(j, "granted")));
	json_decref(j);
	j = api_info_json(false);
	assert_true(json_is_false(json_object_get(j, "granted")));
	json_decref(j);
}

static uint8_t *unb64(const char *s, size_t *ret_len)
{
	size_t n = strlen(s);
	uint8_t *out = malloc(n / 4 * 3 + 1);
	int w;

	assert_non_null(out);
	w = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	assert_true(w >= 0);
	*ret_len = (size_t)w - (n >= 1 && s[n - 1] == '=') - (n >= 2 && s[n - 2] == '=');
	return out;
}

static void test_cert_json_has_every_field(void **state)
{
	static const char *const keys[] = {"id",       "label",    "subject",    "common_name",
	                                   "issuer",   "serial",   "not_before", "not_after",
	                                   "key_type", "key_bits", "key_usage",  "qualified",
	                                   "reader",   "present",  "certificate"};
	struct sign_cert c = {.label = "PIV Authentication", .reader = "ACS ACR39U 00 00", .present = true};
	struct certinfo ci;
	uint8_t *der = NULL, *back;
	size_t len = testcert_make("P-256", "critical,digitalSignature,nonRepudiation", &der, NULL), back_len;
	json_t *j, *ku;

	for (size_t i = 0; i < 32; i++)
		c.id[i] = (uint8_t)(0xa0 + i);
	c.der = der;
	c.der_len = len;
	assert_int_equal(certinfo_parse(der, len, &ci), 0);
	j = api_cert_json(&c, &ci);
	assert_keys(j, keys, 15);
	assert_string_equal(json_string_value(json_object_get(j, "id")),
	                    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
	assert_string_equal(json_string_value(json_object_get(j, "label")), "PIV Authentication");
	assert_string_equal(json_string_value(json_object_get(j, "subject")), "CN=AHMET YILMAZ");
	assert_string_equal(json_string_value(json_object_get(j, "common_name")), "AHMET YILMAZ");
	assert_string_equal(json_string_value(json_object_get(j, "issuer")), "CN=AHMET YILMAZ");
	assert_string_equal(json_string_value(json_object_get(j, "serial")), "1092");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "not_before"))), 20);
	assert_string_equal(json_string_value(json_object_get(j, "key_type")), "EC");
	assert_int_equal(json_integer_value(json_object_get(j, "key_bits")), 256);
	ku = json_object_get(j, "key_usage");
	assert_int_equal(json_array_size(ku), 2);
	assert_string_equal(json_string_value(json_array_get(ku, 0)), "digitalSignature");
	assert_string_equal(json_string_value(json_array_get(ku, 1)), "nonRepudiation");
	assert_true(json_is_false(json_object_get(j, "qualified")));
	assert_string_equal(json_string_value(json_object_get(j, "reader")), "ACS ACR39U 00 00");
	assert_true(json_is_true(json_object_get(j, "present")));
	back = unb64(json_string_value(json_object_get(j, "certificate")), &back_len);
	assert_int_equal(back_len, len);
	assert_memory_equal(back, der, len);
	free(back);
	json_decref(j);

	/* A card that is not present: reader null; a label that is not UTF-8 still makes JSON. */
	c.reader = NULL;
	c.present = false;
	c.label = "PIV \xc3";
	j = api_cert_json(&c, &ci);
	assert_true(json_is_null(json_object_get(j, "reader")));
	assert_true(json_is_false(json_object_get(j, "present")));
	assert_string_equal(json_string_value(json_object_get(j, "label")), "PIV ?");
	json_decref(j);
	OPENSSL_free(der);
}

static void test_sign_reply_json(void **state)
{
	static const char *const keys[] = {"signature", "format", "detached", "certificate"};
	static const uint8_t sig[] = {0x30, 0x80, 0x06, 0x09, 0xff};
	static const uint8_t cert[] = {0x30, 0x82, 0x01};
	struct sign_result r = {
	        .err = SIGN_OK, .sig = sig, .sig_len = sizeof(sig), .cert = cert, .cert_len = 3};
	json_t *j = api_sign_reply_json(&r, SIGN_FMT_CADES, true);

	assert_keys(j, keys, 4);
	assert_string_equal(json_string_value(json_object_get(j, "signature")), "MIAGCf8=");
	assert_string_equal(json_string_value(json_object_get(j, "certificate")), "MIIB");
	assert_string_equal(json_string_value(json_object_get(j, "format")), "cades-bes");
	assert_true(json_is_true(json_object_get(j, "detached")));
	json_decref(j);
	j = api_sign_reply_json(&r, SIGN_FMT_RAW, true);
	assert_string_equal(json_string_value(json_object_get(j, "format")), "raw");
	assert_true(json_is_false(json_object_get(j, "detached")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_text_request_with_defaults_is_parsed),
	        cmocka_unit_test(test_data_request_is_base64_decoded),
	        cmocka_unit_test(test_every_field_is_parsed),
	        cmocka_unit_test(test_detached_raw_is_refused),
	        cmocka_unit_test(test_raw_format_refused_for_web),
	        cmocka_unit_test(test_malformed_json_is_refused),
	        cmocka_unit_test(test_embedded_nul_byte_is_refused),
	        cmocka_unit_test(test_whitespace_around_the_object_is_accepted),
	        cmocka_unit_test(test_duplicate_keys_are_refused),
	        cmocka_unit_test(test_unknown_keys_are_refused),
	        cmocka_unit_test(test_body_without_certificate_lets_the_user_choose),
	        cmocka_unit_test(test_wrong_types_are_refused),
	        cmocka_unit_test(test_exactly_one_of_text_and_data),
	        cmocka_unit_test(test_certificate_must_be_64_hex_digits),
	        cmocka_unit_test(test_unknown_format_is_refused),
	        cmocka_unit_test(test_wait_must_be_0_to_300),
	        cmocka_unit_test(test_base64_must_be_strict),
	        cmocka_unit_test(test_content_over_512k_is_refused),
	        cmocka_unit_test(test_body_over_1mib_is_refused_before_parsing),
	        cmocka_unit_test(test_error_message_fits_any_buffer),
	        cmocka_unit_test(test_host_loopback_with_our_port_is_accepted),
	        cmocka_unit_test(test_host_anything_else_is_refused),
	        cmocka_unit_test(test_host_port_may_be_omitted_only_for_443),
	        cmocka_unit_test(test_origin_as_browsers_send_it_is_accepted),
	        cmocka_unit_test(test_origin_null_and_malformed_are_refused),
	        cmocka_unit_test(test_long_origin_over_253_bytes_is_a_bad_request),
	        cmocka_unit_test(test_content_type_json_or_text_with_parameters),
	        cmocka_unit_test(test_sign_errors_map_to_the_api_statuses),
	        cmocka_unit_test(test_error_json_is_error_and_message),
	        cmocka_unit_test(test_info_json),
	        cmocka_unit_test(test_cert_json_has_every_field),
	        cmocka_unit_test(test_sign_reply_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
