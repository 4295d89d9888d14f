/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sites of web origins through libpsl (site.h). The Public Suffix List is never written here: libpsl
 * carries it and Debian's publicsuffix package keeps it current. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <libpsl.h>

#include "daemon/web/site.h"

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	/* The newer of the built-in list and the distribution's file. */
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

int site_init(void)
{
	pthread_once(&psl_once, load);
	return psl ? 0 : -ENOMEM;
}

int site_host(const char *origin, char *ret, size_t cap)
{
	const char *h, *end;
	size_t n;

	if (origin == NULL || ret == NULL || cap == 0)
		return -EINVAL;
	if (strncmp(origin, "https://", 8) == 0)
		h = origin + 8;
	else if (strncmp(origin, "http://", 7) == 0)
		h = origin + 7;
	else
		return -EINVAL;
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL)
			return -EINVAL;
		end++;
	} else {
		end = h + strcspn(h, ":/");
	}
	if (end == h || (*end != '\0' && *end != ':'))
		return -EINVAL;
	n = (size_t)(end - h);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(ret, h, n);
	ret[n] = '\0';
	return 0;
}

int site_of_origin(const char *origin, char *ret, size_t cap)
{
	char host[SITE_MAX];
	const char *reg = NULL;
	size_t n;
	int e = site_host(origin, host, sizeof(host));

	if (e < 0)
		return e;
	/* An IP literal has no registrable domain; libpsl would treat "127.0.0.1" as labels. */
	if (host[0] != '[' && strspn(host, "0123456789.") != strlen(host) && site_init() == 0)
		reg = psl_registrable_domain(psl, host);
	if (reg == NULL)
		reg = host;
	n = strlen(reg);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(ret, reg, n + 1);
	return 0;
}

bool site_may_remember(const char *origin)
{
	char host[SITE_MAX];

	if (origin == NULL)
		return false;
	if (strncmp(origin, "https://", 8) == 0)
		return site_host(origin, host, sizeof(host)) == 0;
	if (strncmp(origin, "http://", 7) != 0 || site_host(origin, host, sizeof(host)) < 0)
		return false;
	return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0;
}
