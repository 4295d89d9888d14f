/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sites of web origins (daemon/web/site.c): the registrable domain the user judges, found by libpsl. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/web/site.h"

static void expect_site(const char *origin, const char *want)
{
	char got[SITE_MAX];

	assert_int_equal(site_of_origin(origin, got, sizeof(got)), 0);
	assert_string_equal(got, want);
}

static void test_registrable_domain_of_a_long_origin(void **state)
{
	(void)state;
	expect_site("https://portal.kamusm.gov.tr", "kamusm.gov.tr");
	expect_site("https://portal.kamusm.gov.tr.a.b.c.d.evil-example.com", "evil-example.com");
	expect_site("https://portal.kamusm.gov.tr.evil-example.com:8443", "evil-example.com");
	expect_site("https://x.y.example.co.uk", "example.co.uk");
}

static void test_rotating_subdomains_share_one_site(void **state)
{
	char a[SITE_MAX], b[SITE_MAX];

	(void)state;
	assert_int_equal(site_of_origin("https://s1.evil.example", a, sizeof(a)), 0);
	assert_int_equal(site_of_origin("https://s9.evil.example", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_string_equal(a, "evil.example");
}

static void test_private_suffix_sites_are_apart(void **state)
{
	(void)state;
	/* github.io is a public suffix: each user's pages are a site of their own. */
	expect_site("https://alice.github.io", "alice.github.io");
	expect_site("https://bob.github.io", "bob.github.io");
}

static void test_hosts_without_registrable_domain_are_their_own_site(void **state)
{
	(void)state;
	expect_site("http://127.0.0.1:8080", "127.0.0.1");
	expect_site("http://[::1]:8080", "[::1]");
	expect_site("http://localhost:3000", "localhost");
	expect_site("https://gov.tr", "gov.tr");
}

static void test_bad_origins_refused(void **state)
{
	char got[SITE_MAX];

	(void)state;
	assert_int_equal(site_of_origin("null", got, sizeof(got)), -EINVAL);
	assert_int_equal(site_of_origin("ftp://a.example", got, sizeof(got)), -EINVAL);
	assert_int_equal(site_of_origin("https://", got, sizeof(got)), -EINVAL);
	assert_int_equal(site_of_origin("https://a.example/x", got, sizeof(got)), -EINVAL);
	assert_int_equal(site_of_origin("https://[::1", got, sizeof(got)), -EINVAL);
	assert_int_equal(site_of_origin("https://portal.example.com", got, 5), -ENAMETOOLONG);
}

static void test_http_origins_remembered_only_for_local_development(void **state)
{
	(void)state;
	assert_true(site_may_remember("https://portal.kamusm.gov.tr"));
	assert_true(site_may_remember("http://localhost:8080"));
	assert_true(site_may_remember("http://127.0.0.1:8080"));
	assert_true(site_may_remember("http://[::1]"));
	assert_false(site_may_remember("http://portal.kamusm.gov.tr"));
	assert_false(site_may_remember("http://localhost.evil.example"));
	assert_false(site_may_remember("http://127.0.0.1.evil.example"));
	assert_false(site_may_remember("null"));
	assert_false(site_may_remember(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registrable_domain_of_a_long_origin),
	        cmocka_unit_test(test_rotating_subdomains_share_one_site),
	        cmocka_unit_test(test_private_suffix_sites_are_apart),
	        cmocka_unit_test(test_hosts_without_registrable_domain_are_their_own_site),
	        cmocka_unit_test(test_bad_origins_refused),
	        cmocka_unit_test(test_http_origins_remembered_only_for_local_development),
	};

	return cmocka_run_group_tests_name("site", tests, NULL, NULL);
}
