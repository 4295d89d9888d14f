/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How imzad starts a dialog program for libassuan: system hooks whose spawn is posix_spawn (vfork and
 * exec) rather than libassuan's fork of the whole daemon followed by a close() of every descriptor number
 * up to the highest one open. The child gets the same as libassuan's: the pipes as stdin and stdout,
 * /dev/null as stderr, no other descriptor of imzad's, imzad's environment. */
#pragma once

#include <assuan.h>

/* For assuan_ctx_set_system_hooks (which copies it). */
assuan_system_hooks_t dialog_spawn_hooks(void);
