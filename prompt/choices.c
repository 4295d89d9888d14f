/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The certificate choice's window-free rules (see choices.h): every count and length imzad sends is
 * checked against its cap before anything is inquired or kept, so a confused or hostile peer can make
 * imza-prompt refuse, never allocate without bound or show a part of a certificate. */
#include <errno.h>
#include <string.h>

#include "daemon/web/certinfo.h"
#include "prompt/choices.h"

/* One decimal number of at most 6 digits, no leading zero; *p moves past it. */
static int number(const char **p, size_t *ret)
{
	const char *s = *p;
	size_t v = 0, k = 0;

	if (*s < '1' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++, k++) {
		if (k >= 6)
			return -EINVAL;
		v = v * 10 + (size_t)(*s - '0');
	}
	*p = s;
	*ret = v;
	return 0;
}

int prompt_certs_header(const char *line, size_t *ret_n, size_t lens[PROMPT_CHOICES_MAX], size_t *ret_total)
{
	const char *p = line;
	size_t n, total = 0, got[PROMPT_CHOICES_MAX];

	if (line == NULL || number(&p, &n) < 0 || n > PROMPT_CHOICES_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (*p++ != ' ' || number(&p, &got[i]) < 0 || got[i] > PROMPT_CERT_MAX)
			return -EINVAL;
		total += got[i];
	}
	if (*p != '\0' || total > PROMPT_CERTS_TOTAL_MAX)
		return -EINVAL;
	memcpy(lens, got, n * sizeof(got[0]));
	*ret_n = n;
	*ret_total = total;
	return 0;
}

int prompt_certs_split(const uint8_t *buf, size_t len, const size_t *lens, size_t n,
                       const uint8_t *ret_ders[PROMPT_CHOICES_MAX])
{
	const uint8_t *ders[PROMPT_CHOICES_MAX];
	size_t off = 0;

	if (n == 0 || n > PROMPT_CHOICES_MAX || (buf == NULL && len > 0))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct certinfo ci;

		if (lens[i] == 0 || lens[i] > len - off || certinfo_parse(buf + off, lens[i], &ci) < 0)
			return -EINVAL;
		ders[i] = buf + off;
		off += lens[i];
	}
	if (off != len)
		return -EINVAL;
	memcpy(ret_ders, ders, n * sizeof(ders[0]));
	return 0;
}
