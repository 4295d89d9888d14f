/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for imzad's configuration file (daemon/config.c): each rule of the format, the error
 * that names the line, a broken file leaving the configuration as it was, and where the file lives. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/config.h"

static int parse(const char *text, struct imzad_config *c, char *err, size_t errcap)
{
	return config_parse(text, strlen(text), c, err, errcap);
}

/* Parses text over the defaults and expects -EINVAL with an error containing want; the
 * configuration must be left as it was. */
static void assert_rejected(const char *text, size_t len, const char *want)
{
	struct imzad_config c, before;
	char err[256] = "";

	config_defaults(&c);
	c.https_port = 4242;
	before = c;
	assert_int_equal(config_parse(text, len, &c, err, sizeof(err)), -EINVAL);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void reject(const char *text, const char *want)
{
	assert_rejected(text, strlen(text), want);
}

static void test_defaults_are_https_on_port_38443_and_pinentry(void **state)
{
	struct imzad_config c;

	config_defaults(&c);
	assert_true(c.https);
	assert_int_equal(c.https_port, 38443);
	assert_string_equal(c.pinentry, "pinentry");
}

static void test_every_key_is_read(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_int_equal(parse("https = no\nhttps_port = 8443\npinentry = /usr/bin/pinentry-gnome3\n", &c,
	                       err, sizeof(err)),
	                 0);
	assert_false(c.https);
	assert_int_equal(c.https_port, 8443);
	assert_string_equal(c.pinentry, "/usr/bin/pinentry-gnome3");
	assert_int_equal(parse("https=yes\n", &c, err, sizeof(err)), 0);
	assert_true(c.https);
}

static void test_keys_not_in_the_file_keep_their_value(void **state)
{
	struct imzad_config c;
	char err[128];

	config_defaults(&c);
	assert_int_equal(parse("https_port = 1\n", &c, err, sizeof(err)), 0);
	assert_true(c.https);
	assert_int_equal(c.https_port, 1);
	assert_string_equal(c.pinentry, "pinentry");
}

static void test_whitespace_around_equals_and_at_line_ends_is_ignored(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_int_equal(parse("  \thttps\t=\tno \t\r\n https_port   =65535\r\npinentry=   pinentry-qt   \n",
	                       &c, err, sizeof(err)),
	                 0);
	assert_false(c.https);
	assert_int_equal(c.https_port, 65535);
	assert_string_equal(c.pinentry, "pinentry-qt");
}

static void test_comments_blank_lines_and_a_missing_last_newline_are_fine(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_int_equal(parse("# imzad\n\n   \n\t# indented comment = with equals\r\n\nhttps_port = 9000",
	                       &c, err, sizeof(err)),
	                 0);
	assert_int_equal(c.https_port, 9000);
}

static void test_empty_text_keeps_the_defaults(void **state)
{
	struct imzad_config c, d;
	char err[16];

	config_defaults(&c);
	d = c;
	assert_int_equal(config_parse("", 0, &c, err, sizeof(err)), 0);
	assert_int_equal(config_parse(NULL, 0, &c, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));
}

static void test_text_is_read_only_up_to_len(void **state)
{
	/* Not NUL-terminated where it ends: "https = no" and then bytes that are not ours. */
	static const char text[] = {'h', 't', 't', 'p', 's', ' ', '=', ' ', 'n', 'o', 'x', 'x'};
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_int_equal(config_parse(text, 10, &c, err, sizeof(err)), 0);
	assert_false(c.https);
}

static void test_line_without_equals_is_an_error_with_its_number(void **state)
{
	reject("https = yes\n# fine\nhttps_port 8443\n", "line 3: no '='");
}

static void test_empty_value_is_an_error(void **state)
{
	reject("https =\n", "line 1: empty value for 'https'");
	reject("\npinentry =   \t \n", "line 2: empty value for 'pinentry'");
	reject("https_port=\r\n", "line 1: empty value for 'https_port'");
}

static void test_empty_key_is_an_error(void **state)
{
	reject(" = yes\n", "line 1: no key");
}

static void test_unknown_key_is_an_error_with_its_name(void **state)
{
	reject("https = yes\n\nfoo = bar\n", "line 3: unknown key 'foo'");
	/* Keys are exact: no case folding, no prefix. */
	reject("HTTPS = yes\n", "unknown key 'HTTPS'");
	reject("http = yes\n", "unknown key 'http'");
	reject("https_port_x = 1\n", "unknown key");
	/* A key with control bytes is shown without them. */
	reject("fo\x1b[2Jo = 1\n", "unknown key 'fo?[2Jo'");
}

static void test_duplicate_key_is_an_error_not_last_wins(void **state)
{
	reject("https_port = 8443\nhttps = yes\nhttps_port = 8444\n",
	       "line 3: 'https_port' is already set on line 1");
	reject("https = yes\nhttps = yes\n", "line 2: 'https' is already set");
	reject("pinentry = a\npinentry = a\n", "already set");
}

static void test_https_is_exactly_yes_or_no(void **state)
{
	const char *bad[] = {"https = Yes\n", "https = NO\n",   "https = true\n",       "https = 1\n",
	                     "https = y\n",   "https = yess\n", "https = yes please\n", "https = \"yes\"\n"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		reject(bad[i], "https is yes or no");
}

static void test_port_range_is_1_to_65535(void **state)
{
	struct imzad_config c;
	char err[128];

	config_defaults(&c);
	assert_int_equal(parse("https_port = 1\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.https_port, 1);
	config_defaults(&c);
	assert_int_equal(parse("https_port = 65535\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.https_port, 65535);
	config_defaults(&c);
	assert_int_equal(parse("https_port = 00443\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.https_port, 443);
	reject("https_port = 0\n", "https_port is a number from 1 to 65535");
	reject("https_port = 65536\n", "not '65536'");
	reject("https_port = 4294967297\n", "from 1 to 65535");
}

static void test_port_is_digits_only_checked_with_strtoul(void **state)
{
	const char *bad[] = {
	        "https_port = -1\n",
	        "https_port = +80\n",
	        "https_port = 80x\n",
	        "https_port = 0x50\n",
	        "https_port = 8 0\n",
	        "https_port = 1e3\n",
	        "https_port = 80.0\n",
	        "https_port = \xd9\xa1\n", /* ARABIC-INDIC DIGIT ONE */
	        "https_port = 18446744073709551617\n",
	        "https_port = 99999999999999999999999999999999999\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		reject(bad[i], "https_port is a number");
}

static void test_pinentry_is_a_name_or_an_absolute_path(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_int_equal(parse("pinentry = pinentry-curses\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.pinentry, "pinentry-curses");
	assert_int_equal(parse("pinentry = /opt/my tools/pinentry\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.pinentry, "/opt/my tools/pinentry");
	reject("pinentry = bin/pinentry\n", "pinentry is a program name or an absolute path");
	reject("pinentry = ./pinentry\n", "absolute path");
	reject("pinentry = /usr/bin/pin\x01entry\n", "absolute path");
	reject("pinentry = /usr/bin/pin\x7f\n", "absolute path");
}

/* prompt = imza-prompt (the default), pinentry, or an absolute path; the same rules as a pinentry. */
static void test_prompt_is_imza_prompt_by_default_pinentry_or_a_path(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_string_equal(c.prompt, "imza-prompt");
	assert_int_equal(parse("prompt = pinentry\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.prompt, "pinentry");
	assert_int_equal(parse("prompt = /opt/imza/imza-prompt\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.prompt, "/opt/imza/imza-prompt");
	reject("prompt = bin/imza-prompt\n", "prompt is imza-prompt, pinentry or an absolute path");
	reject("prompt = /usr/bin/imza\x01prompt\n", "absolute path");
}

/* module = PATH, once per vendor module: absolute paths only, each named once, at most eight. */
static void test_module_lines_name_vendor_modules_by_absolute_path(void **state)
{
	struct imzad_config c;
	char err[128] = "", text[2048] = "";

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.nmodules, 0);
	assert_int_equal(parse("module = /usr/lib/libakisp11.so\nhttps = no\nmodule = /opt/x/p11.so\n", &c,
	                       err, sizeof(err)),
	                 0);
	assert_int_equal(c.nmodules, 2);
	assert_string_equal(c.module[0], "/usr/lib/libakisp11.so");
	assert_string_equal(c.module[1], "/opt/x/p11.so");
	reject("module = libakisp11.so\n", "module is the absolute path of a PKCS#11 module");
	reject("module = lib/libakisp11.so\n", "absolute path");
	reject("module = /usr/lib/lib\x01akis.so\n", "absolute path");
	reject("module = /a.so\nmodule = /a.so\n", "line 2: module '/a.so' is named twice");
	for (int i = 0; i <= CONFIG_MODULES_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "module = /m%d.so\n", i);
	reject(text, "line 9: more than 8 modules");
}

/* native = yes|no: imza's own card drivers, on by default. */
static void test_native_drivers_are_on_unless_said_no(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	(void)state;
	config_defaults(&c);
	assert_true(c.native);
	assert_int_equal(parse("native = no\n", &c, err, sizeof(err)), 0);
	assert_false(c.native);
	assert_int_equal(parse("native = yes\n", &c, err, sizeof(err)), 0);
	assert_true(c.native);
	reject("native = off\n", "native is yes or no, not 'off'");
	reject("native = no\nnative = no\n", "'native' is already set on line 1");
}

/* prefer = native|module: said of the module line above it; native (imza's own driver keeps the reader)
 * unless said. */
static void test_prefer_is_said_of_the_module_above(void **state)
{
	struct imzad_config c;
	char err[128] = "";

	(void)state;
	config_defaults(&c);
	assert_int_equal(
	        parse("module = /a.so\nprefer = module\nmodule = /b.so\nmodule = /c.so\nprefer = native\n",
	              &c, err, sizeof(err)),
	        0);
	assert_int_equal(c.nmodules, 3);
	assert_true(c.prefer_module[0]);
	assert_false(c.prefer_module[1]);
	assert_false(c.prefer_module[2]);
	config_defaults(&c);
	assert_false(c.prefer_module[0]);
	reject("prefer = module\nmodule = /a.so\n",
	       "line 1: prefer is said of a module: it follows a module line");
	reject("module = /a.so\nprefer = both\n", "line 2: prefer is native or module, not 'both'");
	reject("module = /a.so\nprefer = module\nprefer = native\n",
	       "line 3: prefer is already said of module '/a.so' on line 2");
	reject("module = /a.so\nprefer = module\nmodule = /b.so\nprefer = module\nprefer = module\n",
	       "line 5: prefer is already said of module '/b.so' on line 4");
}

static void test_long_pinentry_path_is_kept_whole_up_to_the_line_limit(void **state)
{
	/* "pinentry=" and 4087 bytes of path make a line of 4096 bytes: the longest there is, so a path
	 * can never be cut to PATH_MAX. */
	char *text = malloc(4098);
	struct imzad_config c;
	char err[128] = "";

	assert_non_null(text);
	memset(text, 'a', 4098);
	memcpy(text, "pinentry=/", 10);
	text[4096] = '\n';
	config_defaults(&c);
	assert_int_equal(config_parse(text, 4097, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.pinentry), 4087);
	assert_memory_equal(c.pinentry, text + 9, 4087);
	text[4096] = 'a';
	text[4097] = '\n';
	assert_rejected(text, 4098, "line 1: longer than 4096 bytes");
	free(text);
}

static void test_lines_over_4096_bytes_are_an_error(void **state)
{
	char *text = malloc(3 * 4096);
	struct imzad_config c;
	char err[128] = "";

	assert_non_null(text);
	memset(text, ' ', 3 * 4096);
	/* Line 1: a comment of exactly 4096 bytes. Line 2: a setting padded with blanks to 4096 bytes. */
	text[0] = '#';
	text[4096] = '\n';
	memcpy(text + 4097, "https = no", 10);
	text[4097 + 4096] = '\n';
	config_defaults(&c);
	assert_int_equal(config_parse(text, 4097 + 4097, &c, err, sizeof(err)), 0);
	assert_false(c.https);
	config_defaults(&c);
	assert_int_equal(config_parse(text, 4097 + 4096, &c, err, sizeof(err)), 0);
	assert_false(c.https);
	/* One byte more on line 2, with or without its newline. */
	text[4097 + 4096] = ' ';
	text[4097 + 4097] = '\n';
	assert_rejected(text, 4097 + 4098, "line 2: longer than 4096 bytes");
	assert_rejected(text, 4097 + 4097, "line 2: longer than 4096 bytes");
	free(text);
}

static void test_nul_byte_is_an_error(void **state)
{
	static const char text[] = "https = yes\nhttps_port = 80\0\n";

	assert_rejected(text, sizeof(text) - 1, "line 2: contains a NUL byte");
	assert_rejected("# a comment\0 is no excuse\n", 26, "line 1: contains a NUL byte");
}

static void test_an_error_later_in_the_file_leaves_the_config_untouched(void **state)
{
	reject("https = no\nhttps_port = 1\npinentry = /x\nbogus\n", "line 4");
}

static void test_err_may_be_null_or_small(void **state)
{
	struct imzad_config c;
	char err[8];

	config_defaults(&c);
	assert_int_equal(parse("nope\n", &c, NULL, 0), -EINVAL);
	assert_int_equal(parse("nope\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1:");
}

/* ---- config_load ---- */

struct dir {
	char root[64];
	char path[128];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	snprintf(d->root, sizeof(d->root), "/tmp/imza-test-config.XXXXXX");
	if (mkdtemp(d->root) == NULL)
		return -1;
	snprintf(d->path, sizeof(d->path), "%s/imzad.conf", d->root);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;

	unlink(d->path);
	rmdir(d->path);
	rmdir(d->root);
	free(d);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load_reads_a_good_file(void **state)
{
	struct dir *d = *state;
	struct imzad_config c;
	char err[128] = "";

	write_file(d->path, "https_port = 1234\n", 18);
	config_defaults(&c);
	assert_int_equal(config_load(d->path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.https_port, 1234);
}

static void test_load_of_a_missing_file_is_enoent_and_keeps_the_defaults(void **state)
{
	struct dir *d = *state;
	struct imzad_config c, before;
	char err[128] = "";

	config_defaults(&c);
	before = c;
	assert_int_equal(config_load(d->path, &c, err, sizeof(err)), -ENOENT);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_load_of_a_broken_file_is_einval_with_the_line(void **state)
{
	struct dir *d = *state;
	struct imzad_config c;
	char err[128] = "";

	write_file(d->path, "https = yes\nhttps = no\n", 23);
	config_defaults(&c);
	assert_int_equal(config_load(d->path, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	assert_true(c.https);
}

static void test_load_of_a_file_over_the_cap_is_efbig(void **state)
{
	struct dir *d = *state;
	char *big = malloc(CONFIG_FILE_MAX + 1);
	struct imzad_config c;
	char err[128] = "";

	assert_non_null(big);
	memset(big, '\n', CONFIG_FILE_MAX + 1);
	write_file(d->path, big, CONFIG_FILE_MAX);
	config_defaults(&c);
	assert_int_equal(config_load(d->path, &c, err, sizeof(err)), 0);
	write_file(d->path, big, CONFIG_FILE_MAX + 1);
	assert_int_equal(config_load(d->path, &c, err, sizeof(err)), -EFBIG);
	free(big);
}

static void test_load_of_a_directory_or_fifo_is_refused(void **state)
{
	struct dir *d = *state;
	struct imzad_config c;
	char err[128] = "";

	config_defaults(&c);
	assert_int_equal(mkdir(d->path, 0700), 0);
	assert_true(config_load(d->path, &c, err, sizeof(err)) < 0);
	assert_int_equal(rmdir(d->path), 0);
	/* A FIFO with no writer would block a plain open. */
	assert_int_equal(mkfifo(d->path, 0600), 0);
	assert_int_equal(config_load(d->path, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* ---- config_dir_default ---- */

static void set_env(const char *xdg, const char *home)
{
	if (xdg)
		setenv("XDG_CONFIG_HOME", xdg, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	if (home)
		setenv("HOME", home, 1);
	else
		unsetenv("HOME");
}

static void test_dir_is_xdg_config_home_when_absolute_else_home(void **state)
{
	char out[PATH_MAX];

	set_env("/x/conf", "/home/u");
	assert_int_equal(config_dir_default(out, sizeof(out)), 0);
	assert_string_equal(out, "/x/conf/imza");
	set_env("relative/conf", "/home/u");
	assert_int_equal(config_dir_default(out, sizeof(out)), 0);
	assert_string_equal(out, "/home/u/.config/imza");
	set_env("", "/home/u");
	assert_int_equal(config_dir_default(out, sizeof(out)), 0);
	assert_string_equal(out, "/home/u/.config/imza");
	set_env(NULL, "/home/u");
	assert_int_equal(config_dir_default(out, sizeof(out)), 0);
	assert_string_equal(out, "/home/u/.config/imza");
}

static void test_dir_without_xdg_or_home_is_enoent(void **state)
{
	char out[PATH_MAX] = "untouched";

	set_env(NULL, NULL);
	assert_int_equal(config_dir_default(out, sizeof(out)), -ENOENT);
	set_env("rel", "");
	assert_int_equal(config_dir_default(out, sizeof(out)), -ENOENT);
	set_env(NULL, "home/u");
	assert_int_equal(config_dir_default(out, sizeof(out)), -ENOENT);
	assert_string_equal(out, "untouched");
}

static void test_dir_that_does_not_fit_is_enametoolong(void **state)
{
	char out[16] = "untouched";

	set_env("/x/conf", NULL);
	assert_int_equal(config_dir_default(out, 12), -ENAMETOOLONG);
	assert_string_equal(out, "untouched");
	assert_int_equal(config_dir_default(out, 13), 0);
	assert_string_equal(out, "/x/conf/imza");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_are_https_on_port_38443_and_pinentry),
	        cmocka_unit_test(test_every_key_is_read),
	        cmocka_unit_test(test_keys_not_in_the_file_keep_their_value),
	        cmocka_unit_test(test_whitespace_around_equals_and_at_line_ends_is_ignored),
	        cmocka_unit_test(test_comments_blank_lines_and_a_missing_last_newline_are_fine),
	        cmocka_unit_test(test_empty_text_keeps_the_defaults),
	        cmocka_unit_test(test_text_is_read_only_up_to_len),
	        cmocka_unit_test(test_line_without_equals_is_an_error_with_its_number),
	        cmocka_unit_test(test_empty_value_is_an_error),
	        cmocka_unit_test(test_empty_key_is_an_error),
	        cmocka_unit_test(test_unknown_key_is_an_error_with_its_name),
	        cmocka_unit_test(test_duplicate_key_is_an_error_not_last_wins),
	        cmocka_unit_test(test_https_is_exactly_yes_or_no),
	        cmocka_unit_test(test_port_range_is_1_to_65535),
	        cmocka_unit_test(test_port_is_digits_only_checked_with_strtoul),
	        cmocka_unit_test(test_pinentry_is_a_name_or_an_absolute_path),
	        cmocka_unit_test(test_prompt_is_imza_prompt_by_default_pinentry_or_a_path),
	        cmocka_unit_test(test_module_lines_name_vendor_modules_by_absolute_path),
	        cmocka_unit_test(test_native_drivers_are_on_unless_said_no),
	        cmocka_unit_test(test_prefer_is_said_of_the_module_above),
	        cmocka_unit_test(test_long_pinentry_path_is_kept_whole_up_to_the_line_limit),
	        cmocka_unit_test(test_lines_over_4096_bytes_are_an_error),
	        cmocka_unit_test(test_nul_byte_is_an_error),
	        cmocka_unit_test(test_an_error_later_in_the_file_leaves_the_config_untouched),
	        cmocka_unit_test(test_err_may_be_null_or_small),
	        cmocka_unit_test_setup_teardown(test_load_reads_a_good_file, dir_setup, dir_teardown),
	        cmocka_unit_test_setup_teardown(test_load_of_a_missing_file_is_enoent_and_keeps_the_defaults,
	                                        dir_setup, dir_teardown),
	        cmocka_unit_test_setup_teardown(test_load_of_a_broken_file_is_einval_with_the_line, dir_setup,
	                                        dir_teardown),
	        cmocka_unit_test_setup_teardown(test_load_of_a_file_over_the_cap_is_efbig, dir_setup,
	                                        dir_teardown),
	        cmocka_unit_test_setup_teardown(test_load_of_a_directory_or_fifo_is_refused, dir_setup,
	                                        dir_teardown),
	        cmocka_unit_test(test_dir_is_xdg_config_home_when_absolute_else_home),
	        cmocka_unit_test(test_dir_without_xdg_or_home_is_enoent),
	        cmocka_unit_test(test_dir_that_does_not_fit_is_enametoolong),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
