/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Locked, wiped memory for libassuan, in imzad's dialogs and in imza-prompt (see secmem.h). Each block is
 * whole pages from proto_secret_pages_new with its size in front; a failed mlock (the limit) leaves the
 * block usable and still wiped. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ui/secmem.h"
#include "protocol/proto-arena.h"

#define HDR alignof(max_align_t)
_Static_assert(HDR >= sizeof(size_t), "the size header must fit");

void *secmem_malloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), total;
	unsigned char *p;
	bool locked;

	if (n > SIZE_MAX - HDR - page) {
		errno = ENOMEM;
		return NULL;
	}
	total = (HDR + n + page - 1) / page * page;
	p = proto_secret_pages_new(total, &locked);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(p, &total, sizeof(total));
	return p + HDR;
}

void secmem_free(void *ptr)
{
	unsigned char *p;
	size_t total;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - HDR;
	memcpy(&total, p, sizeof(total));
	proto_secret_pages_free(p, total);
}

void *secmem_realloc(void *ptr, size_t n)
{
	size_t total, old;
	void *q;

	if (ptr == NULL)
		return secmem_malloc(n);
	if (n == 0) {
		secmem_free(ptr);
		return NULL;
	}
	memcpy(&total, (unsigned char *)ptr - HDR, sizeof(total));
	old = total - HDR;
	if (n <= old)
		return ptr;
	q = secmem_malloc(n);
	if (q == NULL)
		return NULL;
	memcpy(q, ptr, old);
	secmem_free(ptr);
	return q;
}
