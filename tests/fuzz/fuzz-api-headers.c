/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: the header checks of the HTTPS API (Host, Origin, Content-Type). The input is lines:
 * our port in decimal, then a Host, an Origin and a Content-Type value. Each check must stay inside its
 * string, and what passes must have the shape docs/API.md allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/web/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of the input as a C string (a NUL inside ends it early, as it would in a header). */
static char *next_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = nl ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *port_s = next_line(&p, end), *host = next_line(&p, end), *origin = next_line(&p, end);
	char *ct = next_line(&p, end);
	unsigned long port = 0;
	json_t *j;

	for (size_t i = 0; i < 5 && port_s[i] >= '0' && port_s[i] <= '9'; i++)
		port = port * 10 + (unsigned long)(port_s[i] - '0');
	port &= 0xffff;
	if (api_host_ok(host, (uint16_t)port)) {
		/* The longest allowed: "127.0.0.1:65535" */
		if (strlen(host) > 15 || port == 0 || strchr(host, '@') || strchr(host, '/'))
			abort();
	}
	if (api_origin_ok(origin)) {
		if (strlen(origin) > API_ORIGIN_MAX || strcmp(origin, "null") == 0 ||
		    strchr(origin + 8, '/') || strchr(origin, '@') || strchr(origin, '?') ||
		    strchr(origin, '#'))
			abort();
		/* It goes into JSON (the consent dialog, the grants table) as it is. */
		j = json_string(origin);
		if (j == NULL)
			abort();
		json_decref(j);
	}
	if (api_content_type_ok(ct) && strncasecmp(ct, "application/json", 16) != 0 &&
	    strncasecmp(ct, "text/plain", 10) != 0)
		abort();
	free(port_s);
	free(host);
	free(origin);
	free(ct);
	return 0;
}
