/* Unit tests for imza-prompt's window-free rules (prompt/util.c): Assuan unescaping, the site check, the
 * document's pieces and markers, the shuffled keypad, the TC kimlik no and the fingerprint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "prompt/util.h"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
