/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PIV driver (daemon/card/piv.c) against the virtual card's applet (tests/vcard/piv.c) in the same process:
 * every driver call goes through the real APDU layer and the card's own parser, with no pcscd between. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/card/card.h"
#include "daemon/mech.h"
#include "daemon/card/pin.h"
#include "daemon/card/piv.h"
#include "tests/vcard/piv.h"

static char dir[] = "/tmp/imza-test-piv-driver.XXXXXX";

struct fixture {
	struct piv_card *card;
	struct apdu_transport t;
};

static int card_transmit(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	*resp_len = piv_card_apdu(ctx, cmd, len, resp, *resp_len);
	return 0;
}

static int group_setup(void **state)
{
	const char *gen = getenv("IMZA_VCARD_GEN");
	char cmd[512];

	if (gen == NULL || mkdtemp(dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s' '%s/card' >/dev/null 2>&1", gen, dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[300];

	snprintf(path, sizeof(path), "%s/card", dir);
	if (f == NULL || piv_card_load(&f->card, path) < 0)
		return -1;
	f->t = (struct apdu_transport){.transmit = card_transmit, .ctx = f->card};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	piv_card_free(f->card);
	free(f);
	return 0;
}

static void test_probe_selects_piv_and_read_token_finds_all_slots(void **state)
{
	struct fixture *f = *state;
	struct token *tok = NULL;

	assert_int_equal(piv_driver.probe(&f->t), 0);
	assert_int_equal(piv_driver.read_token(&f->t, &tok), 0);
	assert_int_equal(tok->nobjs, 12);
	/* SELECT, CHUID and four certificates: the whole read in few APDUs even with chaining. */
	assert_true(f->t.apdu_count < 30);
	token_free(tok);
}

static void test_wrong_pin_costs_one_try_and_right_pin_restores(void **state)
{
	struct fixture *f = *state;
	struct card_pin_status st;
	int tries = -1;

	assert_int_equal(piv_driver.pin_status(&f->t, &st), 0);
	assert_false(st.verified);
	assert_int_equal(st.tries_left, 3);
	assert_int_equal(piv_driver.verify(&f->t, (const uint8_t *)"000000", 6, &tries),
	                 CARD_E_PIN_INCORRECT);
	assert_int_equal(tries, 2);
	assert_int_equal(piv_driver.pin_status(&f->t, &st), 0);
	assert_int_equal(st.tries_left, 2);
	assert_int_equal(piv_driver.verify(&f->t, (const uint8_t *)"123456", 6, &tries), 0);
	assert_int_equal(piv_driver.pin_status(&f->t, &st), 0);
	assert_true(st.verified);
	assert_int_equal(piv_driver.logout(&f->t), 0);
	assert_int_equal(piv_driver.pin_status(&f->t, &st), 0);
	assert_false(st.verified);
	assert_int_equal(st.tries_left, 3);
}

/* A PIV PIN is 6 to 8 digits: anything else could never be right and would cost a try, so it never
 * reaches the card, not even the reset before it; the card's counter is unchanged. */
static void test_short_pin_never_reaches_card(void **state)
{
	static const char *const bad[] = {"12345",
	                                  "1",
	                                  "123456789",
	                                  "12345a",
	                                  "12 3456",
	                                  "１２３４５６",
	                                  "123\x00"
	                                  "456",
	                                  "abcdef"};
	static const char *const good[] = {"123456", "1234567", "12345678", "000000"};
	struct fixture *f = *state;
	struct card_pin_status st;
	struct pin_secret pin;
	unsigned long before;
	int tries = 0;

	assert_non_null(piv_driver.pin_ok);
	assert_int_equal(piv_driver.probe(&f->t), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = i == 6 ? 7 : strlen(bad[i]);

		assert_false(piv_driver.pin_ok((const uint8_t *)bad[i], n));
		assert_int_equal(pin_secret_set(&pin, (const uint8_t *)bad[i], n), 0);
		before = f->t.apdu_count;
		assert_int_equal(pin_verify_on_card(&piv_driver, &f->t, true, &pin, &tries),
		                 CARD_E_PIN_FORMAT);
		assert_true(f->t.apdu_count == before);
		assert_int_equal(tries, -1);
		/* Wiped and unmapped all the same. */
		assert_null(pin.page);
	}
	assert_false(piv_driver.pin_ok((const uint8_t *)"", 0));
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(piv_driver.pin_ok((const uint8_t *)good[i], strlen(good[i])));
	assert_int_equal(piv_driver.pin_status(&f->t, &st), 0);
	assert_int_equal(st.tries_left, 3);
	/* A PIN of the right shape still goes to the card, wrong or right. */
	assert_int_equal(pin_secret_set(&pin, (const uint8_t *)"000000", 6), 0);
	assert_int_equal(pin_verify_on_card(&piv_driver, &f->t, true, &pin, &tries), CARD_E_PIN_INCORRECT);
	assert_int_equal(tries, 2);
	assert_int_equal(pin_secret_set(&pin, (const uint8_t *)"123456", 6), 0);
	assert_int_equal(pin_verify_on_card(&piv_driver, &f->t, true, &pin, &tries), 0);
	assert_int_equal(piv_driver.pin_status(&f->t, &st), 0);
	assert_true(st.verified);
	assert_int_equal(piv_driver.logout(&f->t), 0);
}

static EVP_PKEY *slot_pubkey(const struct token *tok, uint8_t keyref)
{
	for (size_t i = 0; i < tok->nobjs; i++) {
		const struct token_object *o = &tok->objs[i];
		const struct token_attr *a;
		const unsigned char *p;

		if (o->cls != CKO_PUBLIC_KEY || o->key.keyref != keyref)
			continue;
		a = token_attr(o, CKA_PUBLIC_KEY_INFO);
		p = a->value;
		return d2i_PUBKEY(NULL, &p, (long)a->len);
	}
	return NULL;
}

static const struct token_key_info *slot_key(const struct token *tok, uint8_t keyref)
{
	for (size_t i = 0; i < tok->nobjs; i++)
		if (tok->objs[i].cls == CKO_PRIVATE_KEY && tok->objs[i].key.keyref == keyref)
			return &tok->objs[i].key;
	return NULL;
}

static void test_pin_always_key_signs_once_per_verify_and_signature_verifies(void **state)
{
	struct fixture *f = *state;
	static const uint8_t msg[] = "AD: AHMET SOY: YILMAZ";
	const struct mech_desc *m = mech_find(CKM_SHA256_RSA_PKCS);
	struct token *tok;
	uint8_t block[256], sig[256];
	size_t siglen;
	int tries;
	EVP_PKEY *pub;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();

	assert_int_equal(piv_driver.read_token(&f->t, &tok), 0);
	const struct token_key_info *k = slot_key(tok, 0x9C);
	assert_non_null(k);
	assert_true(k->pin_always);
	assert_int_equal(mech_rsa_block(m, NULL, msg, sizeof(msg), block, sizeof(block)), 0);
	assert_int_equal(piv_driver.private_op(&f->t, k, NULL, block, 256, sig, sizeof(sig), &siglen),
	                 CARD_E_NOT_LOGGED_IN);
	assert_int_equal(piv_driver.verify(&f->t, (const uint8_t *)"123456", 6, &tries), 0);
	assert_int_equal(piv_driver.private_op(&f->t, k, NULL, block, 256, sig, sizeof(sig), &siglen), 0);
	assert_int_equal(siglen, 256);
	/* PIN-always: the next use needs another VERIFY. */
	assert_int_equal(piv_driver.private_op(&f->t, k, NULL, block, 256, sig, sizeof(sig), &siglen),
	                 CARD_E_NOT_LOGGED_IN);
	pub = slot_pubkey(tok, 0x9C);
	assert_non_null(pub);
	assert_int_equal(EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, NULL, pub, NULL), 1);
	assert_int_equal(EVP_DigestVerify(mctx, sig, 256, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pub);
	token_free(tok);
}

static void test_card_auth_ec_key_signs_without_pin(void **state)
{
	struct fixture *f = *state;
	static const uint8_t msg[] = "imza";
	const struct mech_desc *m = mech_find(CKM_ECDSA_SHA384);
	struct token *tok;
	uint8_t in[48], der[128], raw[96];
	size_t len;
	EVP_PKEY *pub;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();

	assert_int_equal(piv_driver.read_token(&f->t, &tok), 0);
	const struct token_key_info *k = slot_key(tok, 0x9E);
	assert_non_null(k);
	assert_int_equal(mech_ec_input(m, msg, sizeof(msg), in, k->size), 0);
	assert_int_equal(piv_driver.private_op(&f->t, k, NULL, in, k->size, der, sizeof(der), &len), 0);
	assert_int_equal(mech_ec_der_to_raw(der, len, raw, k->size), 0);
	pub = slot_pubkey(tok, 0x9E);
	assert_int_equal(EVP_DigestVerifyInit_ex(mctx, NULL, "SHA384", NULL, NULL, pub, NULL), 1);
	assert_int_equal(EVP_DigestVerify(mctx, der, len, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pub);
	token_free(tok);
}

/* A card served from the cache is checked against what the card holds: the same GUID and certificate bytes
 * give "the same" without a new token (no certificate parsed: that is what keeps libcrypto out of an idle
 * imzad); a certificate, a GUID or a slot that differs gives the card's fresh token. */
static void test_check_token_says_same_for_the_same_bytes_and_reads_a_changed_card(void **state)
{
	struct fixture *f = *state;
	struct token *cached = NULL, *fresh = NULL;
	uint8_t *v = NULL;

	assert_int_equal(piv_driver.probe(&f->t), 0);
	assert_int_equal(piv_driver.read_token(&f->t, &cached), 0);
	assert_non_null(piv_driver.check_token);
	fresh = cached; /* must be set to NULL */
	assert_int_equal(piv_driver.check_token(&f->t, cached, &fresh), 0);
	assert_null(fresh);

	/* One byte of one certificate changed behind the cache. */
	for (size_t i = 0; i < cached->nobjs && v == NULL; i++)
		if (cached->objs[i].cls == CKO_CERTIFICATE)
			v = token_attr(&cached->objs[i], CKA_VALUE)->value;
	assert_non_null(v);
	v[40] ^= 1;
	assert_int_equal(piv_driver.check_token(&f->t, cached, &fresh), 0);
	assert_non_null(fresh);
	assert_int_equal(fresh->nobjs, 12);
	assert_memory_equal(fresh->id, cached->id, cached->id_len);
	token_free(fresh);
	fresh = NULL;
	v[40] ^= 1;

	/* Another card's GUID. */
	cached->id[0] ^= 1;
	assert_int_equal(piv_driver.check_token(&f->t, cached, &fresh), 0);
	assert_non_null(fresh);
	token_free(fresh);
	fresh = NULL;
	cached->id[0] ^= 1;

	/* A slot the cached token lacks: the card has one more certificate. */
	cached->nobjs -= 3;
	assert_int_equal(piv_driver.check_token(&f->t, cached, &fresh), 0);
	assert_non_null(fresh);
	assert_int_equal(fresh->nobjs, 12);
	token_free(fresh);
	cached->nobjs += 3;
	token_free(cached);
}

/* ---- a card whose every answer the test writes: piv_challenge against hostile or unusual cards ---- */

#define SCRIPT_MAX 8
struct script {
	const char *resp[SCRIPT_MAX]; /* hex, SW included */
	size_t n, pos;
	uint8_t p1[SCRIPT_MAX]; /* what each command asked for */
};

static int scripted_transmit(void *ctx, const uint8_t *cmd, size_t len, uint8_t *resp, size_t *resp_len)
{
	struct script *s = ctx;
	size_t n = 0;

	if (s->pos >= s->n)
		return -EIO; /* asked more often than the card answers */
	assert_true(len >= 4);
	assert_int_equal(cmd[1], 0x87);
	s->p1[s->pos] = cmd[2];
	for (const char *h = s->resp[s->pos]; h[0] && h[1]; h += 2) {
		assert_true(n < *resp_len);
		sscanf(h, "%2hhx", &resp[n++]);
	}
	*resp_len = n;
	s->pos++;
	return 0;
}

static int challenge(struct script *s, uint8_t *out, size_t len)
{
	struct apdu_transport t = {.transmit = scripted_transmit, .ctx = s};

	return piv_challenge(&t, out, len);
}

/* 8-byte blocks (a 3DES management key): 20 bytes take three, the last one cut, nothing written past
 * the 20. */
static void test_challenge_joins_blocks_and_writes_no_more_than_asked(void **state)
{
	struct script s = {.resp = {"7C0A81080102030405060708"
	                            "9000",
	                            "7C0A81081112131415161718"
	                            "9000",
	                            "7C0A81082122232425262728"
	                            "9000"},
	                   .n = 3};
	uint8_t out[24], want[20] = {1,    2,    3,    4,    5,    6,    7,    8,    0x11, 0x12,
	                             0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24};

	(void)state;
	memset(out, 0xEE, sizeof(out));
	assert_int_equal(challenge(&s, out, 20), 0);
	assert_int_equal(s.pos, 3);
	assert_memory_equal(out, want, 20);
	for (size_t i = 20; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xEE);
}

/* An AES management key: "wrong P1/P2" (6A86) for 3DES, then the next algorithm, kept for the next
 * block. */
static void test_challenge_finds_the_cards_algorithm_once(void **state)
{
	struct script s = {.resp = {"6A86",
	                            "7C1281100102030405060708090A0B0C0D0E0F10"
	                            "9000",
	                            "7C1281101112131415161718191A1B1C1D1E1F20"
	                            "9000"},
	                   .n = 3};
	uint8_t out[32];

	(void)state;
	assert_int_equal(challenge(&s, out, sizeof(out)), 0);
	assert_int_equal(s.pos, 3);
	assert_int_equal(s.p1[0], 0x00);
	assert_int_equal(s.p1[1], 0x03);
	assert_int_equal(s.p1[2], 0x03);
	assert_int_equal(out[0], 0x01);
	assert_int_equal(out[31], 0x20);
}

/* Cards that must not hang the card's thread or fill the output with what they did not give: every
 * algorithm refused (five tries, then an error); a challenge of no bytes (without the check the loop
 * would ask forever); a template longer than the answer; an answer larger than the 64 bytes a
 * challenge can take (refused by the APDU layer, not cut). */
static void test_challenge_from_hostile_cards_fails_and_stops(void **state)
{
	static const struct {
		const char *resp[SCRIPT_MAX];
		size_t n, apdus;
	} cases[] = {
	        {{"6A86", "6A86", "6A86", "6A86", "6A86",
	          "7C0A81080102030405060708"
	          "9000"},
	         6,
	         5},
	        {{"7C028100"
	          "9000",
	          "7C028100"
	          "9000"},
	         2,
	         1},
	        {{"7C0A8108010203"
	          "9000"},
	         1,
	         1},
	        {{"7C0281FF"
	          "9000"},
	         1,
	         1},
	        {{"7C448142"
	          "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	          "00000000000000000000000000000000000000000000"
	          "9000"},
	         1,
	         1},
	};
	uint8_t out[16];

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct script s = {.n = cases[k].n};

		memcpy(s.resp, cases[k].resp, sizeof(s.resp));
		memset(out, 0xEE, sizeof(out));
		assert_true(challenge(&s, out, sizeof(out)) < 0);
		assert_int_equal(s.pos, cases[k].apdus);
		for (size_t i = 0; i < sizeof(out); i++)
			assert_int_equal(out[i], 0xEE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_probe_selects_piv_and_read_token_finds_all_slots, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_pin_costs_one_try_and_right_pin_restores, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_pin_always_key_signs_once_per_verify_and_signature_verifies, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_card_auth_ec_key_signs_without_pin, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_check_token_says_same_for_the_same_bytes_and_reads_a_changed_card, setup,
	                teardown),
	        cmocka_unit_test_setup_teardown(test_short_pin_never_reaches_card, setup, teardown),
	        cmocka_unit_test(test_challenge_joins_blocks_and_writes_no_more_than_asked),
	        cmocka_unit_test(test_challenge_finds_the_cards_algorithm_once),
	        cmocka_unit_test(test_challenge_from_hostile_cards_fails_and_stops),
	};

	return cmocka_run_group_tests_name("piv-driver", tests, group_setup, group_teardown);
}
