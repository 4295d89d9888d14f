/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-arena: a bump allocator in blocks with a hard bound on the memory it takes (see
 * proto-arena.h). Small allocations share blocks; a large one gets a block of its own. */
#include "proto-arena.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARENA_BLOCK_SIZE 16384u
#define ARENA_ALIGN alignof(max_align_t)

struct proto_arena_block {
	struct proto_arena_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	size_t map_len; /* a locked arena's mapping; 0 for malloc */
	alignas(max_align_t) unsigned char data[];
};

void proto_arena_init(struct proto_arena *a, size_t max)
{
	*a = (struct proto_arena)PROTO_ARENA_INIT(max);
}

void proto_arena_init_locked(struct proto_arena *a, size_t max)
{
	proto_arena_init(a, max);
	a->locked = true;
}

/* Wiped secret mappings kept for reuse (proto_secret_pages_keep), every one of them locked: each new one
 * is a system call to map, one to lock and one to advise, and its unmapping a TLB shootdown on every CPU
 * that runs one of the process's threads (imzad's loop and its readers' threads): per C_Login, tens of
 * microseconds. */
#define SECRET_KEEP_MAX 8
static struct {
	void *p;
	size_t len;
} kept[SECRET_KEEP_MAX];
static size_t nkept;
static atomic_uint keep_max;
static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;

void proto_secret_pages_keep(unsigned n)
{
	atomic_store(&keep_max, n < SECRET_KEEP_MAX ? n : SECRET_KEEP_MAX);
}

static bool take_kept(size_t len, void **ret)
{
	bool found = false;

	if (atomic_load(&keep_max) == 0)
		return false;
	pthread_mutex_lock(&keep_lock);
	for (size_t i = nkept; i-- > 0;) {
		if (kept[i].len == len) {
			*ret = kept[i].p;
			kept[i] = kept[--nkept];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&keep_lock);
	return found;
}

/* p is wiped and locked already. */
static bool put_kept(void *p, size_t len)
{
	bool put = false;

	pthread_mutex_lock(&keep_lock);
	if (nkept < atomic_load(&keep_max)) {
		kept[nkept].p = p;
		kept[nkept].len = len;
		nkept++;
		put = true;
	}
	pthread_mutex_unlock(&keep_lock);
	return put;
}

void *proto_secret_pages_new(size_t len, bool *ret_locked)
{
	void *p;
	bool locked;

	if (take_kept(len, &p)) {
		if (ret_locked)
			*ret_locked = true;
		return p;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* The system call itself: the sanitizers replace mlock() with a no-op. */
	locked = syscall(SYS_mlock, p, len) == 0;
	madvise(p, len, MADV_DONTDUMP);
	if (ret_locked)
		*ret_locked = locked;
	return p;
}

void proto_secret_pages_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	/* Only a locked mapping is kept (locking it again costs no page and says whether it is); one
	 * the lock fails for (RLIMIT_MEMLOCK) goes, as before. */
	if (atomic_load(&keep_max) > 0 && syscall(SYS_mlock, p, len) == 0 && put_kept(p, len))
		return;
	(void)syscall(SYS_munlock, p, len);
	munmap(p, len);
}

/* total bytes for a block: malloc, or whole locked pages. */
static struct proto_arena_block *block_new(const struct proto_arena *a, size_t total)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
	struct proto_arena_block *b;

	if (!a->locked) {
		b = malloc(total);
		if (b)
			b->map_len = 0;
		return b;
	}
	if (total > SIZE_MAX - page)
		return NULL;
	len = (total + page - 1) / page * page;
	b = proto_secret_pages_new(len, NULL);
	if (b)
		b->map_len = len;
	return b;
}

static void block_free(struct proto_arena_block *b)
{
	if (b->map_len) {
		proto_secret_pages_free(b, b->map_len);
		return;
	}
	explicit_bzero(b->data, b->used);
	free(b);
}

void *proto_arena_alloc(struct proto_arena *a, size_t size)
{
	struct proto_arena_block *b = a->head;
	size_t need, block_size, total;
	void *p;

	/* Round up so the next allocation stays aligned; 0 still takes a slot of its own. */
	if (size > SIZE_MAX - ARENA_ALIGN)
		return NULL;
	need = size ? (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1) : ARENA_ALIGN;

	if (!b || b->size - b->used < need) {
		block_size = need > ARENA_BLOCK_SIZE ? need : ARENA_BLOCK_SIZE;
		total = sizeof(*b) + block_size;
		if (total < block_size || total > a->max || a->used > a->max - total) {
			/* A smaller exact block may still fit under the bound. */
			block_size = need;
			total = sizeof(*b) + block_size;
			if (total < block_size || total > a->max || a->used > a->max - total)
				return NULL;
		}
		b = block_new(a, total);
		if (!b)
			return NULL;
		b->size = block_size;
		b->used = 0;
		/* A dedicated big block goes behind the head so the head keeps serving small ones. */
		if (a->head && block_size == need && need > ARENA_BLOCK_SIZE) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
		a->used += total;
	}
	p = b->data + b->used;
	b->used += need;
	memset(p, 0, need);
	return p;
}

void *proto_arena_calloc(struct proto_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return proto_arena_alloc(a, n * size);
}

void *proto_arena_memdup(struct proto_arena *a, const void *p, size_t size)
{
	void *d = proto_arena_alloc(a, size);

	if (d && size)
		memcpy(d, p, size);
	return d;
}

void proto_arena_free(struct proto_arena *a)
{
	struct proto_arena_block *b = a->head, *next;

	while (b) {
		next = b->next;
		block_free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
}
