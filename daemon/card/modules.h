/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where vendor packages put their PKCS#11 modules: the one table imzad searches when imzad.conf names no
 * `module`. Each row is a glob(3) pattern; the first file found for a module's name is taken, so one
 * module installed in two places runs once. A file that, or a folder above which, another user owns or
 * may write is not taken (it would be their code running as imzad's user). docs/BACKENDS.md lists the table for users. */
#pragma once

#include <limits.h>
#include <stddef.h>

struct module_place {
	const char *pattern; /* absolute glob pattern */
	const char *vendor;  /* who ships it, for the log and the docs */
};

extern const struct module_place module_places[];
extern const size_t module_places_count;

/* The modules found under root ("" for the real file system; a test's directory otherwise), at most max,
 * in table order, one per file name. Returns how many. */
size_t modules_find(const char *root, char (*out)[PATH_MAX], size_t max);
