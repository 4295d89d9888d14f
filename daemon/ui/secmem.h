/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Locked, wiped memory for libassuan, on both ends of a PIN dialog (imzad's dialog.c and imza-prompt):
 * the GETPIN answer passes through assuan's line buffers, so every assuan allocation comes from here
 * (see docs/PROMPT.md for what GTK itself keeps). */
#pragma once

#include <stddef.h>

/* malloc/realloc/free for assuan_malloc_hooks: page-backed, mlock'ed where RLIMIT_MEMLOCK allows,
 * excluded from core dumps, wiped before unmapping. */
void *secmem_malloc(size_t n);
void *secmem_realloc(void *p, size_t n);
void secmem_free(void *p);
