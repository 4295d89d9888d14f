/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The code under test's stderr (imzad's log when not under the journal) caught in a file, so that a
 * unit test can count the lines it logs: "one warning", "nothing logged". */
#pragma once

#include <stddef.h>

struct capture {
	int saved;
	char path[128];
};

/* Sends stderr to a new file in dir until capture_end; aborts on failure, as a test fixture may. */
void capture_begin(struct capture *cap, const char *dir);

/* Restores stderr and counts the lines that contain `what`; the lines are echoed as TAP comments. */
int capture_end(struct capture *cap, const char *what);
