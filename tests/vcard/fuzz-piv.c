/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer entry for the virtual PIV applet: the input is a vpcd stream (2-byte
 * big-endian length, then payload; 1-byte payloads are power controls, longer
 * ones C-APDUs), played against one card rewound to its loaded state each time. */
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "piv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct piv_card *card;
static char tmp_dir[1024];
static uint8_t rapdu[PIV_RAPDU_MAX];
static char line[2 * PIV_CAPDU_MAX + 1];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	piv_card_free(card);
	card = NULL;
	if (tmp_dir[0])
		nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A card from IMZA_VCARD_DIR, or a fresh one from imza-vcard-gen
 * (IMZA_VCARD_GEN, else $srcdir/tests/vcard/, else tests/vcard/). */
static struct piv_card *load_card(void)
{
	const char *dir = getenv("IMZA_VCARD_DIR"), *gen = getenv("IMZA_VCARD_GEN");
	const char *srcdir = getenv("srcdir"), *tmp = getenv("TMPDIR");
	static char gen_path[PATH_MAX], card_dir[1100];
	struct piv_card *c = NULL;
	int status;
	pid_t pid;

	if (!dir || !*dir) {
		if (!gen || !*gen) {
			snprintf(gen_path, sizeof gen_path, "%s/tests/vcard/imza-vcard-gen",
			         srcdir ? srcdir : ".");
			gen = gen_path;
		}
		snprintf(tmp_dir, sizeof tmp_dir, "%s/imza-fuzz-piv.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(tmp_dir)) {
			tmp_dir[0] = 0;
			return NULL;
		}
		atexit(cleanup);
		snprintf(card_dir, sizeof card_dir, "%s/card", tmp_dir);
		pid = fork();
		if (pid == 0) {
			execlp("bash", "bash", gen, card_dir, (char *)NULL);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return NULL;
		dir = card_dir;
	}
	if (piv_card_load(&c, dir) < 0)
		return NULL;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, n, rcap;

	if (!card) {
		card = load_card();
		if (!card) {
			fprintf(stderr, "fuzz-piv: no card: set IMZA_VCARD_DIR or IMZA_VCARD_GEN\n");
			abort();
		}
	}
	piv_card_rewind(card);
	while (size - off >= 2) {
		n = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		if (n == 1) {
			/* 0 off, 1 on, 2 reset, 4 ATR: as the vpcd loop treats them */
			if (data[off] <= 2)
				piv_card_power(card, data[off] != 0);
		} else {
			/* the length's low bits also pick a small response buffer now and then */
			rcap = n % 61 == 0 ? 2 + n % 7 : sizeof rapdu;
			if (piv_card_apdu(card, data + off, n, rapdu, rcap) < 2)
				abort();
			if (piv_log_hex(data + off, n, true, line, sizeof line) < 0)
				abort();
		}
		off += n;
	}
	return 0;
}
