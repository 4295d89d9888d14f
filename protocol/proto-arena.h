/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-arena: where a decoded message lives. Everything a decoder allocates for one message
 * comes from one arena with a hard bound and is wiped and freed at once when the call is done,
 * so a decoder never frees on its error paths and a hostile message cannot grow memory past
 * the bound. */
#ifndef IMZA_PROTO_ARENA_H
#define IMZA_PROTO_ARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Enough for any message that fits a frame plus the output buffers the caller asked for,
 * each of those clamped to the frame cap (see rpc.c). */
#define PROTO_ARENA_MAX (2u * 1024u * 1024u)

struct proto_arena_block;

struct proto_arena {
	struct proto_arena_block *head;
	size_t used; /* bytes taken from malloc, block headers included: the bound is real memory */
	size_t max;
	bool locked; /* blocks are pages of their own, locked and kept out of core dumps */
};

#define PROTO_ARENA_INIT(maximum)         \
	{                                 \
		NULL, 0, (maximum), false \
	}

/* Pages for secrets (len a multiple of the page size): mlock'ed (best effort: over RLIMIT_MEMLOCK they
 * are still wiped; *ret_locked, when given, says which) and MADV_DONTDUMP; freed wiped. NULL when no
 * mapping could be made. The daemon's PIN pages (daemon/card/pin.c) are these too. */
void *proto_secret_pages_new(size_t len, bool *ret_locked);
void proto_secret_pages_free(void *p, size_t len);
/* Keeps up to n (at most 8) freed mappings, wiped and still locked, for the next ones of the same
 * length, instead of unmapping them: for imzad, which makes one or two for every C_Login. 0 (the
 * default, and the module's: it must not hold locked memory in the application after C_Finalize)
 * unmaps each at once. */
void proto_secret_pages_keep(unsigned n);

void proto_arena_init(struct proto_arena *a, size_t max);
/* For a message that carries a secret (a PIN): every block is mmap'ed pages, mlock'ed (best effort:
 * the pages are wiped in any case) and marked MADV_DONTDUMP, so what is decoded never sits in ordinary
 * heap. Costs a mapping per block: only for the few such calls. */
void proto_arena_init_locked(struct proto_arena *a, size_t max);
/* Zeroed memory aligned for any type, or NULL when the bound (or malloc) says no. Like malloc it
 * returns the pointer itself; callers turn NULL into -ENOMEM. Size 0 gives a unique pointer. */
void *proto_arena_alloc(struct proto_arena *a, size_t size);
/* n elements of size bytes each, with the multiplication checked. */
void *proto_arena_calloc(struct proto_arena *a, size_t n, size_t size);
void *proto_arena_memdup(struct proto_arena *a, const void *p, size_t size);
/* Wipes (decoded PINs live here) and frees every block; the arena is empty and reusable. */
void proto_arena_free(struct proto_arena *a);

#endif
