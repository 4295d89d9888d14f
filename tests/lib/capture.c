/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stderr caught in a file for the unit tests that count what the code under test logs (see
 * capture.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/capture.h"

void capture_begin(struct capture *cap, const char *dir)
{
	int fd;

	if (snprintf(cap->path, sizeof(cap->path), "%s/stderr.XXXXXX", dir) >= (int)sizeof(cap->path))
		abort();
	fflush(stderr);
	fd = mkostemp(cap->path, O_CLOEXEC);
	cap->saved = dup(2);
	if (fd < 0 || cap->saved < 0 || dup2(fd, 2) < 0)
		abort();
	close(fd);
}

int capture_end(struct capture *cap, const char *what)
{
	char line[1200];
	FILE *f;
	int n = 0;

	fflush(stderr);
	dup2(cap->saved, 2);
	close(cap->saved);
	f = fopen(cap->path, "r");
	if (f == NULL)
		abort();
	while (fgets(line, sizeof(line), f)) {
		printf("# %s", line);
		if (strstr(line, what))
			n++;
	}
	fclose(f);
	return n;
}
