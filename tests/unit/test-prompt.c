/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for imza-prompt's window-free rules (prompt/util.c): Assuan unescaping, the site check, the
 * document's pieces and markers, the shuffled keypad, the TC kimlik no and the fingerprint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <openssl/crypto.h>

#include "prompt/choices.h"
#include "prompt/util.h"
#include "tests/lib/testcert.h"

static void test_unescape_decodes_percent_pairs_only(void **state)
{
	char s[] = "a%0Ab%25c%zz%4";
	size_t n;

	prompt_unescape(s, &n);
	assert_string_equal(s, "a\nb%c%zz%4");
	assert_int_equal(n, strlen("a\nb%c%zz%4"));
}

static void test_site_must_end_the_origin_host_at_a_label(void **state)
{
	assert_true(prompt_site_of_origin("https://portal.turkiye.gov.tr", "turkiye.gov.tr"));
	assert_true(prompt_site_of_origin("https://turkiye.gov.tr:8443", "turkiye.gov.tr"));
	assert_true(prompt_site_of_origin("http://[::1]:80", "[::1]"));
	/* Not a label boundary, another host, a path or port that looks like the site. */
	assert_false(prompt_site_of_origin("https://evilturkiye.gov.tr", "turkiye.gov.tr"));
	assert_false(prompt_site_of_origin("https://evil.example", "turkiye.gov.tr"));
	assert_false(prompt_site_of_origin("https://evil.example/turkiye.gov.tr", "turkiye.gov.tr"));
	assert_false(prompt_site_of_origin("https://gov.tr", "turkiye.gov.tr"));
	assert_false(prompt_site_of_origin("portal.example", "portal.example"));
	assert_false(prompt_site_of_origin("https://a.example", ""));
}

struct pieces {
	GString *all;
	int markers;
};

static int collect(const struct prompt_piece *p, void *opaque)
{
	struct pieces *c = opaque;

	if (p->marker) {
		c->markers++;
		g_string_append(c->all, p->marker);
	} else {
		g_string_append_len(c->all, p->text, (gssize)p->len);
	}
	return 0;
}

static void test_document_hidden_characters_become_markers(void **state)
{
	/* RLO, ZWSP, CR, an invalid byte; LF, TAB and Turkish letters stay as they are. */
	static const char doc[] = "Ödeme\xe2\x80\xae 100\xe2\x80\x8b TL\r\nsatır\tiki\xff.";
	struct pieces c = {g_string_new(NULL), 0};

	assert_int_equal(prompt_text_pieces((const uint8_t *)doc, sizeof(doc) - 1, collect, &c), 0);
	assert_int_equal(c.markers, 4);
	assert_string_equal(c.all->str,
	                    "Ödeme\xe2\x9f\xa8U+202E\xe2\x9f\xa9 100\xe2\x9f\xa8U+200B\xe2\x9f\xa9 TL"
	                    "\xe2\x9f\xa8U+000D\xe2\x9f\xa9\nsatır\tiki\xe2\x9f\xa8"
	                    "0xFF\xe2\x9f\xa9.");
	g_string_free(c.all, TRUE);
}

static void test_plain_document_is_one_piece_byte_for_byte(void **state)
{
	static const char doc[] = "Kamu SM'ye başvurumu imzalıyorum.\n\n\nİmzalayan: CN=BAŞKA KİŞİ";
	struct pieces c = {g_string_new(NULL), 0};

	assert_int_equal(prompt_text_pieces((const uint8_t *)doc, sizeof(doc) - 1, collect, &c), 0);
	assert_int_equal(c.markers, 0);
	assert_memory_equal(c.all->str, doc, sizeof(doc) - 1);
	g_string_free(c.all, TRUE);
}

static void test_shuffled_digits_are_a_permutation_and_vary(void **state)
{
	char a[10], b[10], plain[10];
	int counts[10][10] = {{0}};
	bool differ = false;

	prompt_plain_digits(plain);
	assert_memory_equal(plain, "1234567890", 10);
	for (int round = 0; round < 2000; round++) {
		bool seen[10] = {false};

		assert_int_equal(prompt_shuffle_digits(a), 0);
		for (int i = 0; i < 10; i++) {
			assert_true(a[i] >= '0' && a[i] <= '9');
			assert_false(seen[a[i] - '0']);
			seen[a[i] - '0'] = true;
			counts[i][a[i] - '0']++;
		}
	}
	/* Every digit lands on every key (2000 draws: about 200 each; 100 is far out of chance). */
	for (int i = 0; i < 10; i++)
		for (int d = 0; d < 10; d++)
			assert_true(counts[i][d] > 100);
	for (int i = 0; i < 5 && !differ; i++) {
		assert_int_equal(prompt_shuffle_digits(a), 0);
		assert_int_equal(prompt_shuffle_digits(b), 0);
		differ = memcmp(a, b, 10) != 0;
	}
	assert_true(differ);
}

static void test_tckn_checks_its_digits(void **state)
{
	char out[12];

	assert_int_equal(prompt_tckn("12345678950", out), 0);
	assert_string_equal(out, "12345678950");
	assert_int_equal(prompt_tckn("TCKN12345678950", out), 0);
	assert_string_equal(out, "12345678950");
	assert_int_equal(prompt_tckn("12345678951", out), -EINVAL);
	assert_int_equal(prompt_tckn("02345678950", out), -EINVAL);
	assert_int_equal(prompt_tckn("1234567895", out), -EINVAL);
	assert_int_equal(prompt_tckn("", out), -EINVAL);
}

static void test_sha256_and_fingerprint(void **state)
{
	char hex[65], fp[96];

	assert_int_equal(prompt_sha256_hex((const uint8_t *)"abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(prompt_fingerprint((const uint8_t *)"abc", 3, fp), 0);
	assert_int_equal(strncmp(fp, "BA:78:16:BF:", 12), 0);
	assert_int_equal(strlen(fp), 95);
}

static void test_hex_dump_shows_every_byte(void **state)
{
	uint8_t d[20];
	char *s;

	for (int i = 0; i < 20; i++)
		d[i] = (uint8_t)(0x41 + i);
	s = prompt_hex_dump(d, sizeof(d));
	assert_non_null(strstr(s, "00000000  4142 4344"));
	assert_non_null(strstr(s, "|ABCDEFGHIJKLMNOP|\n00000010  5152 5354"));
	assert_non_null(strstr(s, "|QRST|\n"));
	g_free(s);
}

/* ---- SETCERTS (the certificate choice) ---- */

static void test_setcerts_header_within_the_caps_is_parsed(void **state)
{
	size_t n, lens[PROMPT_CHOICES_MAX], total;

	assert_int_equal(prompt_certs_header("2 1200 16384", &n, lens, &total), 0);
	assert_int_equal(n, 2);
	assert_int_equal(lens[0], 1200);
	assert_int_equal(lens[1], 16384);
	assert_int_equal(total, 17584);
	assert_int_equal(prompt_certs_header("16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", &n, lens, &total), 0);
	assert_int_equal(n, 16);
}

static void test_setcerts_over_the_caps_or_malformed_is_refused(void **state)
{
	static const char *const bad[] = {"17 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", /* more than 16 */
	                                  "1 16385",                              /* one over 16 KiB */
	                                  /* 9 of 16 KiB: each within its cap, together over 128 KiB */
	                                  "9 16384 16384 16384 16384 16384 16384 16384 16384 16384", "0", "",
	                                  "2 100", "1 100 100", "1 0", "1 -5", "1 +5", "1 05", "1  5", "1 5 ",
	                                  "x", "1 5x", "1 1000000", "01 5"};
	size_t n = 99, lens[PROMPT_CHOICES_MAX], total = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (prompt_certs_header(bad[i], &n, lens, &total) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
	assert_int_equal(n, 99);
	assert_int_equal(total, 99);
}

static void test_setcerts_short_or_long_inquiry_or_a_non_certificate_is_refused(void **state)
{
	uint8_t *a, *b, *buf;
	size_t la = testcert_make("P-256", "critical,nonRepudiation", &a, NULL);
	size_t lb = testcert_make("P-256", "critical,digitalSignature", &b, NULL);
	size_t lens[2] = {la, lb};
	const uint8_t *ders[PROMPT_CHOICES_MAX] = {NULL};

	buf = g_malloc(la + lb + 1);
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	buf[la + lb] = 0x00;
	assert_int_equal(prompt_certs_split(buf, la + lb, lens, 2, ders), 0);
	assert_ptr_equal(ders[0], buf);
	assert_ptr_equal(ders[1], buf + la);
	/* Short (one byte missing), long (one byte more), a boundary that cuts a certificate. */
	assert_int_equal(prompt_certs_split(buf, la + lb - 1, lens, 2, ders), -EINVAL);
	assert_int_equal(prompt_certs_split(buf, la + lb + 1, lens, 2, ders), -EINVAL);
	lens[0] = la - 1;
	lens[1] = lb + 1;
	assert_int_equal(prompt_certs_split(buf, la + lb, lens, 2, ders), -EINVAL);
	/* Bytes that are no certificate. */
	lens[0] = la;
	lens[1] = lb;
	buf[la] ^= 0xff;
	assert_int_equal(prompt_certs_split(buf, la + lb, lens, 2, ders), -EINVAL);
	g_free(buf);
	OPENSSL_free(a);
	OPENSSL_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unescape_decodes_percent_pairs_only),
	        cmocka_unit_test(test_site_must_end_the_origin_host_at_a_label),
	        cmocka_unit_test(test_document_hidden_characters_become_markers),
	        cmocka_unit_test(test_plain_document_is_one_piece_byte_for_byte),
	        cmocka_unit_test(test_shuffled_digits_are_a_permutation_and_vary),
	        cmocka_unit_test(test_tckn_checks_its_digits),
	        cmocka_unit_test(test_sha256_and_fingerprint),
	        cmocka_unit_test(test_hex_dump_shows_every_byte),
	        cmocka_unit_test(test_setcerts_header_within_the_caps_is_parsed),
	        cmocka_unit_test(test_setcerts_over_the_caps_or_malformed_is_refused),
	        cmocka_unit_test(test_setcerts_short_or_long_inquiry_or_a_non_certificate_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
