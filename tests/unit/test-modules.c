/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The search table of vendor PKCS#11 modules (daemon/card/modules.c), over a file tree made under a mkdtemp
 * directory in /tmp. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/card/modules.h"

static char root[64];

/* Creates root/rel, its directories first; a file, or a directory when dir. */
static void make(const char *rel, int dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	if (dir) {
		assert_int_equal(mkdir(p, 0700), 0);
	} else {
		FILE *f = fopen(p, "w");

		assert_non_null(f);
		fclose(f);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/imza-test-modules.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_nothing_installed_finds_nothing(void **state)
{
	char out[4][PATH_MAX];

	(void)state;
	assert_int_equal(modules_find(root, out, 4), 0);
}

/* The vendor's module where a package put it, under /opt: found, named by its path on the system. */
static void test_a_module_under_opt_is_found(void **state)
{
	char out[4][PATH_MAX];

	(void)state;
	make("/opt/akis/lib/libakisp11.so", 0);
	assert_int_equal(modules_find(root, out, 4), 1);
	assert_string_equal(out[0], "/opt/akis/lib/libakisp11.so");
}

/* The same module in two places runs once: the first place in the table wins; a directory that has the
 * module's name is not a module. */
static void test_one_module_in_two_places_is_taken_once_in_table_order(void **state)
{
	char out[4][PATH_MAX];

	(void)state;
	make("/usr/lib/libakisp11.so", 1);
	make("/usr/lib/x86_64-linux-gnu/libakisp11.so", 0);
	make("/opt/akis/lib/libakisp11.so", 0);
	assert_int_equal(modules_find(root, out, 4), 1);
	assert_string_equal(out[0], "/usr/lib/x86_64-linux-gnu/libakisp11.so");
	assert_int_equal(modules_find(root, out, 0), 0);
}

/* Another user could have put it there or changed it: a module writable by others, or in a folder
 * writable by others, is not taken; the same module in a folder of its own is. */
static void test_a_module_others_can_write_is_not_taken(void **state)
{
	char out[4][PATH_MAX], p[PATH_MAX];

	(void)state;
	make("/opt/akis/lib/libakisp11.so", 0);
	snprintf(p, sizeof(p), "%s/opt/akis/lib/libakisp11.so", root);
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(modules_find(root, out, 4), 0);
	assert_int_equal(chmod(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/opt/akis", root);
	assert_int_equal(chmod(p, 0777), 0);
	assert_int_equal(modules_find(root, out, 4), 0);
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(modules_find(root, out, 4), 1);
	assert_string_equal(out[0], "/opt/akis/lib/libakisp11.so");
}

/* Every row of the table is an absolute pattern with a vendor named. */
static void test_the_table_is_absolute_patterns_with_vendors(void **state)
{
	(void)state;
	assert_true(module_places_count > 0);
	for (size_t i = 0; i < module_places_count; i++) {
		assert_true(module_places[i].pattern[0] == '/');
		assert_non_null(module_places[i].vendor);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_nothing_installed_finds_nothing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_module_under_opt_is_found, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_one_module_in_two_places_is_taken_once_in_table_order,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_a_module_others_can_write_is_not_taken, setup, teardown),
	        cmocka_unit_test(test_the_table_is_absolute_patterns_with_vendors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
