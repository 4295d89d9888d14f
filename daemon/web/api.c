/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTPS API's rules and JSON (see api.h). jansson parses and writes every byte of JSON; the header
 * checks compare whole values against the few shapes allowed, so anything unusual is refused rather
 * than interpreted. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/web/api.h"
#include "protocol/proto-hex.h"

/* Longest base64 text whose decoding can fit SIGN_CONTENT_MAX. */
#define B64_MAX (4 * ((SIGN_CONTENT_MAX + 2) / 3))

/* Writes the client's message (prefix and detail) and returns -EINVAL. */
static int fail(char *err, size_t errcap, const char *prefix, const char *detail)
{
	if (err != NULL && errcap > 0)
		snprintf(err, errcap, "%s%s", prefix, detail);
	return -EINVAL;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 4648 §4 strictly: whole quanta, '=' only as the last one or two characters, the unused bits of
 * the last character zero (one text per content), no whitespace or other characters. EVP_DecodeBlock
 * then does the decoding; it would skip whitespace and keep the padding's zero bytes, hence the checks. */
static int b64_decode(const char *s, size_t n, uint8_t **ret, size_t *ret_len, char *err, size_t errcap)
{
	size_t pad = 0, out_len;
	uint8_t *out;
	int last;

	if (n > B64_MAX)
		return fail(err, errcap, "", "content is over 512 KiB");
	if (n % 4 != 0)
		return fail(err, errcap, "", "data is not base64: length is not a multiple of 4");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 >= n) {
			pad++;
			continue;
		}
		if (pad > 0 || b64_value((unsigned char)s[i]) < 0)
			return fail(err, errcap, "", "data is not base64: invalid character or padding");
	}
	if (pad > 0) {
		last = b64_value((unsigned char)s[n - pad - 1]);
		if ((pad == 2 && (last & 0x0f) != 0) || (pad == 1 && (last & 0x03) != 0))
			return fail(err, errcap, "", "data is not base64: non-zero padding bits");
	}
	out_len = n / 4 * 3 - pad;
	if (out_len > SIGN_CONTENT_MAX)
		return fail(err, errcap, "", "content is over 512 KiB");
	out = malloc(n / 4 * 3 + 1);
	if (out == NULL)
		return -ENOMEM;
	if (n > 0 && EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) != (int)(n / 4 * 3)) {
		OPENSSL_cleanse(out, n / 4 * 3 + 1);
		free(out);
		return fail(err, errcap, "", "data is not base64");
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}

int api_sign_parse(const uint8_t *body, size_t len, struct api_sign_request *ret, char *err, size_t errcap)
{
	const char *cert = NULL, *text = NULL, *data = NULL, *format = NULL;
	size_t text_len = 0, data_len = 0, content_len = 0;
	int detached = -1;
	json_int_t wait = 0;
	struct api_sign_request rq;
	uint8_t *content = NULL;
	json_error_t jerr;
	json_t *root;
	int r;

	if (err && errcap > 0)
		err[0] = '\0';
	if (len > API_BODY_MAX)
		return fail(err, errcap, "", "body is over 1 MiB");
	/* No JSON_DISABLE_EOF_CHECK: nothing but whitespace may follow the object. No JSON_DECODE_ANY:
	 * the top level must be an object or array (an array fails the unpack below). */
	root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return fail(err, errcap, "invalid JSON: ", jerr.text);
	/* '!': every key of the object must be one of these. */
	if (json_unpack_ex(root, &jerr, 0, "{s?s, s?s%, s?s%, s?s, s?b, s?I !}", "certificate", &cert, "text",
	                   &text, &text_len, "data", &data, &data_len, "format", &format, "detached",
	                   &detached, "wait", &wait) != 0) {
		r = fail(err, errcap, "invalid request: ", jerr.text);
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	r = -EINVAL;
	/* No certificate: the user chooses among the cards' signing certificates in the window, and the
	 * page learns nothing of the cards before the signature. */
	rq.args.choose = cert == NULL;
	if (cert != NULL && strlen(cert) != 2 * sizeof(rq.args.cert_id)) {
		fail(err, errcap, "", "certificate must be 64 hex digits");
		goto out;
	}
	if (cert != NULL && proto_hex_decode(cert, rq.args.cert_id, sizeof(rq.args.cert_id)) < 0) {
		fail(err, errcap, "", "certificate must be 64 hex digits");
		goto out;
	}
	/* Web signatures are CAdES-BES only: a bare signature over bytes a page chose could be a login
	 * challenge's answer, or signed attributes the page wraps around content the user never saw. */
	if (format != NULL && strcmp(format, "cades-bes") != 0) {
		fail(err, errcap, "", "format must be \"cades-bes\" (the only format of web signatures)");
		goto out;
	}
	rq.args.format = SIGN_FMT_CADES;
	rq.args.detached = detached == 1;
	if (wait < 0 || wait > SIGN_WAIT_MAX) {
		fail(err, errcap, "", "wait must be 0..300 seconds");
		goto out;
	}
	rq.args.wait_s = (unsigned)wait;
	if ((text == NULL) == (data == NULL)) {
		fail(err, errcap, "", "exactly one of text and data is needed");
		goto out;
	}
	if (text) {
		if (text_len > SIGN_CONTENT_MAX) {
			fail(err, errcap, "", "content is over 512 KiB");
			goto out;
		}
		content = malloc(text_len + 1);
		if (content == NULL) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(content, text, text_len);
		content_len = text_len;
		rq.args.is_text = true;
	} else {
		r = b64_decode(data, data_len, &content, &content_len, err, errcap);
		if (r < 0)
			goto out;
	}
	rq.content = content;
	rq.args.content = content;
	rq.args.len = content_len;
	*ret = rq;
	r = 0;
out:
	json_decref(root);
	return r;
}

void api_sign_request_clear(struct api_sign_request *r)
{
	if (r->content) {
		OPENSSL_cleanse(r->content, r->args.len);
		free(r->content);
	}
	memset(r, 0, sizeof(*r));
}

bool api_host_ok(const char *host, uint16_t port)
{
	static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
	char want[8];

	if (host == NULL || port == 0)
		return false;
	snprintf(want, sizeof(want), ":%u", (unsigned)port);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (strncasecmp(host, names[i], n) != 0)
			continue;
		if (strcmp(host + n, want) == 0 || (port == 443 && host[n] == '\0'))
			return true;
	}
	return false;
}

static bool dns_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool ipv6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

int api_origin_check(const char *origin)
{
	if (origin == NULL)
		return -EINVAL;
	if (strnlen(origin, API_ORIGIN_MAX + 1) > API_ORIGIN_MAX)
		return -E2BIG;
	return api_origin_ok(origin) ? 0 : -EINVAL;
}

bool api_origin_ok(const char *origin)
{
	const char *p, *host;
	size_t len;
	unsigned long port = 0;

	if (origin == NULL)
		return false;
	len = strnlen(origin, API_ORIGIN_MAX + 1);
	if (len == 0 || len > API_ORIGIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (origin[i] <= 0x20 || origin[i] >= 0x7f)
			return false;
	if (strncmp(origin, "https://", 8) == 0)
		p = origin + 8;
	else if (strncmp(origin, "http://", 7) == 0)
		p = origin + 7;
	else
		return false; /* also "null" */
	host = p;
	if (*p == '[') {
		for (p++; ipv6_char(*p); p++)
			;
		if (*p != ']' || p == host + 1)
			return false;
		p++;
	} else {
		for (; dns_char(*p); p++)
			/* No empty label: not first, not doubled, not last. */
			if (*p == '.' && (p == host || p[1] == '.' || !dns_char(p[1])))
				return false;
		if (p == host)
			return false;
	}
	if (*p == ':') {
		const char *digits = ++p;

		for (; *p >= '0' && *p <= '9' && p - digits < 5; p++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (p == digits || *digits == '0' || port > 65535)
			return false;
	}
	return *p == '\0';
}

bool api_content_type_ok(const char *ct)
{
	static const char *const types[] = {"application/json", "text/plain"};

	if (ct == NULL)
		return false;
	for (const char *p = ct; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p >= 0x7f)
			return false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t n = strlen(types[i]);
		const char *rest = ct + n;

		if (strncasecmp(ct, types[i], n) != 0)
			continue;
		rest += strspn(rest, " \t");
		if (*rest == '\0' || *rest == ';')
			return true;
	}
	return false;
}

/* The API's names for the signing service's outcomes (sign.h): here, beside their HTTP statuses. */
const char *sign_err_code(enum sign_err e)
{
	static const char *const codes[] = {
	        [SIGN_OK] = "ok",
	        [SIGN_E_BAD_REQUEST] = "bad_request",
	        [SIGN_E_ORIGIN_DENIED] = "origin_denied",
	        [SIGN_E_KEY_NOT_ALLOWED] = "key_not_allowed",
	        [SIGN_E_USER_CANCELLED] = "user_cancelled",
	        [SIGN_E_PIN_INCORRECT] = "pin_incorrect",
	        [SIGN_E_PIN_LOCKED] = "pin_locked",
	        [SIGN_E_CERT_UNKNOWN] = "certificate_unknown",
	        [SIGN_E_CARD_ABSENT] = "card_absent",
	        [SIGN_E_TIMEOUT] = "timeout",
	        [SIGN_E_BUSY] = "busy",
	        [SIGN_E_INTERNAL] = "internal",
	        [SIGN_E_RECORDS_UNAVAILABLE] = "records_unavailable",
	        [SIGN_E_CERT_REQUIRED] = "certificate_required",
	};

	return (size_t)e < sizeof(codes) / sizeof(codes[0]) && codes[e] ? codes[e] : "internal";
}

const char *sign_err_message(enum sign_err e)
{
	switch (e) {
	case SIGN_OK:
		return "signed";
	case SIGN_E_BAD_REQUEST:
		return "the request is malformed";
	case SIGN_E_ORIGIN_DENIED:
		return "the user did not allow this origin to use imza";
	case SIGN_E_KEY_NOT_ALLOWED:
		return "this certificate is not for signatures (no nonRepudiation): web pages cannot use its "
		       "key";
	case SIGN_E_USER_CANCELLED:
		return "the user cancelled";
	case SIGN_E_PIN_INCORRECT:
		return "the PIN is incorrect";
	case SIGN_E_PIN_LOCKED:
		return "the PIN is blocked";
	case SIGN_E_CERT_UNKNOWN:
		return "no known card holds this certificate";
	case SIGN_E_CARD_ABSENT:
		return "the card holding this certificate is not in a reader";
	case SIGN_E_TIMEOUT:
		return "the request waited too long";
	case SIGN_E_BUSY:
		return "too many requests are waiting";
	case SIGN_E_INTERNAL:
		break;
	case SIGN_E_RECORDS_UNAVAILABLE:
		return "imzad cannot use its records (audit log, answers); web signing waits until they are "
		       "fixed";
	case SIGN_E_CERT_REQUIRED:
		return "several signing certificates are present, none of them qualified, and no window can "
		       "show the choice (no display): name one with \"certificate\"";
	}
	return "imzad could not complete the request";
}

int api_err_status(enum sign_err e)
{
	switch (e) {
	case SIGN_OK:
		return 200;
	case SIGN_E_BAD_REQUEST:
		return 400;
	case SIGN_E_ORIGIN_DENIED:
	case SIGN_E_KEY_NOT_ALLOWED:
	case SIGN_E_USER_CANCELLED:
	case SIGN_E_PIN_INCORRECT:
		return 403;
	case SIGN_E_PIN_LOCKED:
		return 423;
	case SIGN_E_CERT_UNKNOWN:
		return 404;
	case SIGN_E_CARD_ABSENT:
	case SIGN_E_CERT_REQUIRED:
		return 409;
	case SIGN_E_TIMEOUT:
		return 504;
	case SIGN_E_BUSY:
	case SIGN_E_RECORDS_UNAVAILABLE:
		return 503;
	case SIGN_E_INTERNAL:
	default:
		return 500;
	}
}

const char *api_status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 421:
		return "Misdirected Request";
	case 423:
		return "Locked";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Internal Server Error";
	}
}

/* A JSON string of s; bytes that do not make UTF-8 (a card's label may be anything) become '?'. */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *copy;

	if (s == NULL)
		s = "";
	j = json_string(s);
	if (j != NULL)
		return j;
	copy = strdup(s);
	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *jb64(const uint8_t *p, size_t n)
{
	size_t cap;
	char *out;
	json_t *j;
	int w;

	if (n > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	cap = 4 * ((n + 2) / 3) + 1;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	w = n > 0 ? EVP_EncodeBlock((unsigned char *)out, p, (int)n) : 0;
	j = w >= 0 ? json_stringn(out, (size_t)w) : NULL;
	free(out);
	return j;
}

json_t *api_error_json(const char *code, const char *message)
{
	return json_pack("{s:s, s:o}", "error", code, "message", jstr(message));
}

json_t *api_error_tries_json(const char *code, const char *message, int tries_left)
{
	return json_pack("{s:s, s:o, s:i}", "error", code, "message", jstr(message), "tries_left",
	                 tries_left);
}

json_t *api_info_json(bool granted)
{
	return json_pack("{s:s, s:s, s:i, s:b}", "name", "imza", "version", PACKAGE_VERSION, "api",
	                 API_VERSION, "granted", granted);
}

json_t *api_cert_json(const struct sign_cert *c, const struct certinfo *ci)
{
	char id[2 * sizeof(c->id) + 1], nb[21], na[21];
	const char *ku[8];
	size_t nku = certinfo_key_usage_names(ci->key_usage, ku, sizeof(ku) / sizeof(ku[0]));
	json_t *usage = json_array();

	proto_hex_encode(c->id, sizeof(c->id), id);
	certinfo_time(ci->not_before, nb);
	certinfo_time(ci->not_after, na);
	for (size_t i = 0; usage && i < nku; i++)
		if (json_array_append_new(usage, json_string(ku[i])) != 0) {
			json_decref(usage);
			usage = NULL;
		}
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:I, s:o, s:b, s:o, s:b, s:o}", "id",
	                 id, "label", jstr(c->label), "subject", jstr(ci->subject), "common_name",
	                 jstr(ci->common_name), "issuer", jstr(ci->issuer), "serial", ci->serial,
	                 "not_before", nb, "not_after", na, "key_type", ci->key_type, "key_bits",
	                 (json_int_t)ci->key_bits, "key_usage", usage, "qualified", ci->qualified, "reader",
	                 c->reader ? jstr(c->reader) : json_null(), "present", c->present, "certificate",
	                 jb64(c->der, c->der_len));
}

json_t *api_sign_reply_json(const struct sign_result *r, enum sign_format format, bool detached)
{
	bool cades = format == SIGN_FMT_CADES;

	return json_pack("{s:o, s:s, s:b, s:o}", "signature", jb64(r->sig, r->sig_len), "format",
	                 cades ? "cades-bes" : "raw", "detached", cades && detached, "certificate",
	                 jb64(r->cert, r->cert_len));
}
