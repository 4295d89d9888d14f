/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl trust / untrust: puts imza's local CA (the one imzad made for its HTTPS endpoint) into the
 * user's NSS databases, or takes it out again. They work on files, not through imzad. */
#pragma once

#include <stdbool.h>

/* Is argv[1] of imzactl one of these commands? */
bool trust_is_command(const char *name);
/* argv[0] is "trust" or "untrust", then its options (--config-dir DIR). Returns the exit status. */
int trust_main(int argc, char **argv);
