/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of daemon/web/signq.c, the signing queue's fairness rules: one flooding site cannot starve another,
 * subdomains count as their site, and a cancelled PIN dialog holds the site's next signature for a
 * back-off that doubles up to 5 min and ends with a signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/web/signq.h"

static void test_sites_of_peers(void **state)
{
	char s[SITE_MAX];

	assert_int_equal(site_init(), 0);
	signq_site_of(true, "https://s1.evil.example", s);
	assert_string_equal(s, "evil.example");
	signq_site_of(true, "https://portal.kamusm.gov.tr", s);
	assert_string_equal(s, "kamusm.gov.tr");
	signq_site_of(true, "", s);
	assert_string_equal(s, SIGNQ_NO_ORIGIN_SITE);
	signq_site_of(false, "", s);
	assert_string_equal(s, SIGNQ_LOCAL_SITE);
}

/* Queue A A B (A flooded first): after A's first, B goes before A's second; then A. */
static void test_one_flooding_site_does_not_starve_another(void **state)
{
	struct signq q;
	const char *queue[3] = {"evil.example", "evil.example", "kamusm.gov.tr"};
	const bool held[3] = {true, true, true};
	int i;

	memset(&q, 0, sizeof(q));
	i = signq_pick(&q, queue, held, 3, 100, NULL);
	assert_int_equal(i, 0);
	signq_started(&q, queue[i], 100);
	/* A's first left the queue: A B remain. */
	i = signq_pick(&q, queue + 1, held, 2, 100, NULL);
	assert_int_equal(i, 1); /* B */
	signq_started(&q, "kamusm.gov.tr", 100);
	i = signq_pick(&q, queue + 1, held, 1, 100, NULL);
	assert_int_equal(i, 0);
}

static void test_cancel_backs_off_5_doubling_to_5_min_reset_by_a_signature(void **state)
{
	struct signq q;
	const char *queue[2] = {"evil.example", "kamusm.gov.tr"};
	const bool held[2] = {true, true};
	unsigned want[] = {5, 10, 20, 40, 80, 160, 300, 300};
	double wake = 0;

	memset(&q, 0, sizeof(q));
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		assert_int_equal(signq_cancelled(&q, "evil.example", 1000), want[k]);
	signq_signed(&q, "evil.example");
	assert_int_equal(signq_cancelled(&q, "evil.example", 1000), 5);
	/* Held until 1005: the other site goes first, though queued after it. */
	assert_int_equal(signq_pick(&q, queue, held, 2, 1001, &wake), 1);
	/* Alone and held: nothing starts, and the wake-up is the back-off's end. */
	assert_int_equal(signq_pick(&q, queue, held, 1, 1001, &wake), -1);
	assert_true(wake > 1004.9 && wake < 1005.1);
	assert_int_equal(signq_pick(&q, queue, held, 1, 1005.5, &wake), 0);
	/* A consent question is not held by the back-off. */
	{
		const bool not_held[1] = {false};

		assert_int_equal(signq_pick(&q, queue, not_held, 1, 1001, &wake), 0);
	}
}

/* More sites than slots: a site in its back-off is kept over ones served long ago. */
static void test_many_sites_keep_a_running_back_off(void **state)
{
	struct signq q;
	char name[64];
	const char *queue[1] = {"evil.example"};
	const bool held[1] = {true};
	double wake;

	memset(&q, 0, sizeof(q));
	signq_cancelled(&q, "evil.example", 1000);
	for (int i = 0; i < 3 * SIGNQ_SITES; i++) {
		snprintf(name, sizeof(name), "site%d.example", i);
		signq_started(&q, name, 1001);
	}
	assert_int_equal(signq_pick(&q, queue, held, 1, 1002, &wake), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sites_of_peers),
	        cmocka_unit_test(test_one_flooding_site_does_not_starve_another),
	        cmocka_unit_test(test_cancel_backs_off_5_doubling_to_5_min_reset_by_a_signature),
	        cmocka_unit_test(test_many_sites_keep_a_running_back_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
