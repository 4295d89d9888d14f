/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The search table of vendor PKCS#11 modules (see modules.h). */
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/card/modules.h"
#include "daemon/log.h"

/* AKIS, the cards of Kamu SM (TÜBİTAK BİLGEM): libakisp11.so from the vendor's Linux package, which
 * distributions and users unpack in different places. */
const struct module_place module_places[] = {
        {"/usr/lib/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
        {"/usr/lib/x86_64-linux-gnu/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
        {"/usr/lib64/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
        {"/usr/local/lib/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
        {"/usr/lib/akia/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
        {"/opt/*/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
        {"/opt/*/lib/libakisp11.so", "AKIS (TÜBİTAK BİLGEM, Kamu SM)"},
};
const size_t module_places_count = sizeof(module_places) / sizeof(module_places[0]);

/* A module found by the table is code that imzad's user runs: it, and every folder above it (up to
 * skip bytes of root), must belong to root or to this user, and nobody else may write to them. */
static bool trusted(const char *path, size_t skip)
{
	char dir[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return false;
	memcpy(dir, path, n + 1);
	for (;;) {
		if (stat(dir, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) ||
		    (st.st_mode & (S_IWGRP | S_IWOTH))) {
			log_warning("%s: not taken as a vendor module: %s is not only root's or this user's",
			            path, dir);
			return false;
		}
		while (n > 0 && dir[n - 1] != '/')
			n--;
		while (n > 1 && dir[n - 1] == '/')
			n--;
		if (n <= skip || n <= 1)
			return true;
		dir[n] = '\0';
	}
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

size_t modules_find(const char *root, char (*out)[PATH_MAX], size_t max)
{
	size_t n = 0, rootlen = strlen(root);

	for (size_t i = 0; i < module_places_count && n < max; i++) {
		char pattern[PATH_MAX];
		glob_t g;

		if (snprintf(pattern, sizeof(pattern), "%s%s", root, module_places[i].pattern) >=
		    (int)sizeof(pattern))
			continue;
		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc && n < max; j++) {
			const char *p = g.gl_pathv[j];
			struct stat st;
			bool taken = false;

			if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) || strlen(p) - rootlen >= PATH_MAX ||
			    !trusted(p, rootlen))
				continue;
			for (size_t k = 0; k < n; k++)
				taken = taken || strcmp(base_name(out[k]), base_name(p)) == 0;
			if (!taken)
				snprintf(out[n++], PATH_MAX, "%s", p + rootlen);
		}
		globfree(&g);
	}
	return n;
}
