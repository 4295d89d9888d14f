/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl setup [--undo]: the module in the user's NSS databases, the local CA trusted there, imzad's
 * user units enabled; each change recorded so that --undo reverses exactly those. */
#pragma once

#include <stdbool.h>

/* Is argv[1] of imzactl this command? */
bool setup_is_command(const char *name);
/* argv[0] is "setup", then its options. Returns the exit status (0, 1 a step failed, 2 usage). */
int setup_main(int argc, char **argv);
