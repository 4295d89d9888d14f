/* Locked, wiped memory for assuan in imza-prompt (see secmem.h). Each block is whole pages with its size
 * in front; a failed mlock (the limit) leaves the block usable and still wiped. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prompt/secmem.h"

#define HDR alignof(max_align_t)

void *secmem_malloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), total;
	unsigned char *p;

	if (n > SIZE_MAX - HDR - page) {
		errno = ENOMEM;
		return NULL;
	}
	total = (HDR + n + page - 1) / page * page;
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	(void)mlock(p, total);
	(void)madvise(p, total, MADV_DONTDUMP);
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
	explicit_bzero(p, total);
	munlock(p, total);
	munmap(p, total);
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
