/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* replay: feeds every file of the corpus directories (or files) named on the command line to
 * LLVMFuzzerTestOneInput, so a build without libFuzzer (gcc, make check) still runs each fuzz
 * target over its corpus. With no arguments it replays REPLAY_CORPUS, compiled in by the build,
 * since automake TESTS entries take no arguments. Output is TAP. Link it with one fuzz target. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_FILE_MAX (16u * 1024u * 1024u)

static int replay_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	FILE *f;
	int r = -1;

	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) < 0 || st.st_size < 0 || st.st_size > REPLAY_FILE_MAX)
		goto out;
	/* One spare byte so an empty file still has a buffer. */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	len = fread(buf, 1, (size_t)st.st_size, f);
	if (len != (size_t)st.st_size)
		goto out;
	LLVMFuzzerTestOneInput(buf, len);
	r = 0;
out:
	if (r < 0)
		fprintf(stderr, "replay: cannot read %s\n", path);
	free(buf);
	if (f)
		fclose(f);
	return r;
}

/* Returns the number of inputs replayed, or -1 (with a message on stderr). */
static long replay_path(const char *path)
{
	struct dirent *e;
	struct stat st;
	long n = 0;
	DIR *dir;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) < 0 ? -1 : 1;
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir))) {
		char child[4096];
		int w;

		if (e->d_name[0] == '.')
			continue;
		w = snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
		if (w < 0 || (size_t)w >= sizeof(child) || replay_file(child) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(dir);
	return n;
}

int main(int argc, char **argv)
{
#ifdef REPLAY_CORPUS
	static char *fallback[] = {NULL, REPLAY_CORPUS, NULL};
#else
	static char *fallback[] = {NULL, NULL};
#endif
	int failed = 0;
	long n;

	if (argc < 2) {
		argv = fallback;
		argc = (int)(sizeof(fallback) / sizeof(fallback[0])) - 1;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: replay CORPUS-DIR-OR-FILE...\n");
		return 2;
	}
	/* TAP, like every imza test: one check per corpus. */
	printf("1..%d\n", argc - 1);
	for (int i = 1; i < argc; i++) {
		n = replay_path(argv[i]);
		/* An empty corpus would pass without testing anything. */
		if (n > 0) {
			printf("ok %d - replayed %ld inputs from %s\n", i, n, argv[i]);
		} else {
			printf("not ok %d - replay %s%s\n", i, argv[i], n == 0 ? ": empty corpus" : "");
			failed = 1;
		}
		fflush(stdout);
	}
	return failed;
}
