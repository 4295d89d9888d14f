/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the virtual PIV applet (piv.c) on cards made by imza-vcard-gen:
 * SELECT, GET DATA with Le and GET RESPONSE, PIN/PUK counters and their
 * persistence, PIN-always on 9C, signatures and decryption checked with OpenSSL. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "piv.h"

#define GUID_HEX "00112233445566778899AABBCCDDEEFF"
#define OUT_MIN 4096 /* every response buffer handed to xfer() holds at least this */

struct tpl {
	char dir[PATH_MAX];
	char state[512];
	size_t state_len;
};

/* main: 9a=ec256 9c=rsa2048 9d=rsa2048 9e=ec384;
 * alt: 9a=rsa2048 9c=ec384 9d=ec256, no 9e;
 * keep: as main, but a wrong PIN leaves it verified (failed_verify=keep) */
static struct tpl main_card, alt_card, keep_card;
static char tmp_root[1024];
static const char *gen_argv0;

struct fx {
	struct piv_card *card;
	const struct tpl *tpl;
};

/* ---- helpers ---- */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;

	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(n < cap);
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static uint16_t sw_of(const uint8_t *r, size_t n)
{
	assert_true(n >= 2);
	return (uint16_t)(r[n - 2] << 8 | r[n - 1]);
}

/* Sends one APDU given in hex; returns SW, the data goes to out. */
static uint16_t raw(struct piv_card *c, const char *hex, uint8_t *out, size_t *out_len)
{
	uint8_t cmd[1024], resp[PIV_RAPDU_MAX];
	size_t n = unhex(hex, cmd, sizeof cmd);
	size_t rn = piv_card_apdu(c, cmd, n, resp, sizeof resp);

	if (out) {
		memcpy(out, resp, rn - 2);
		*out_len = rn - 2;
	}
	return sw_of(resp, rn);
}

static uint16_t raw_bytes(struct piv_card *c, const uint8_t *cmd, size_t n, uint8_t *out, size_t *out_len)
{
	static uint8_t resp[PIV_RAPDU_MAX];
	size_t rn = piv_card_apdu(c, cmd, n, resp, sizeof resp);

	if (out) {
		memcpy(out, resp, rn - 2);
		*out_len = rn - 2;
	}
	return sw_of(resp, rn);
}

/* As OpenSC does it: short APDUs chained by 255 bytes, Le=00, then GET RESPONSE
 * for as long as the card answers 61xx. */
static uint16_t xfer(struct piv_card *c, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data, size_t n,
                     uint8_t *out, size_t *out_len)
{
	uint8_t cmd[262], resp[300];
	size_t off = 0, chunk, rn, got = 0;
	uint16_t sw;

	do {
		chunk = n - off > 255 ? 255 : n - off;
		cmd[0] = off + chunk < n ? 0x10 : 0x00;
		cmd[1] = ins;
		cmd[2] = p1;
		cmd[3] = p2;
		rn = 4;
		if (chunk) {
			cmd[rn++] = (uint8_t)chunk;
			memcpy(cmd + rn, data + off, chunk);
			rn += chunk;
		}
		off += chunk;
		if (off == n && out)
			cmd[rn++] = 0x00;
		rn = piv_card_apdu(c, cmd, rn, resp, sizeof resp);
		sw = sw_of(resp, rn);
		if (off < n && sw != 0x9000)
			return sw;
	} while (off < n);
	for (;;) {
		if (out) {
			assert_true(got + rn - 2 <= OUT_MIN);
			memcpy(out + got, resp, rn - 2);
			got += rn - 2;
		}
		if ((sw & 0xFF00) != 0x6100)
			break;
		rn = piv_card_apdu(c, (const uint8_t *)"\x00\xC0\x00\x00\x00", 5, resp, sizeof resp);
		sw = sw_of(resp, rn);
	}
	if (out_len)
		*out_len = got;
	return sw;
}

static uint16_t verify_pin(struct piv_card *c, const char *pin)
{
	uint8_t d[8];

	memset(d, 0xFF, sizeof d);
	memcpy(d, pin, strlen(pin));
	return xfer(c, 0x20, 0x00, 0x80, d, sizeof d, NULL, NULL);
}

/* Two 8-byte FF-padded references, as CHANGE REFERENCE DATA and RESET RETRY COUNTER take them. */
static uint16_t two_refs(struct piv_card *c, uint8_t ins, uint8_t p2, const char *a, const char *b)
{
	uint8_t d[16];

	memset(d, 0xFF, sizeof d);
	memcpy(d, a, strlen(a));
	memcpy(d + 8, b, strlen(b));
	return xfer(c, ins, 0x00, p2, d, sizeof d, NULL, NULL);
}

static uint16_t get_object(struct piv_card *c, uint32_t tag, uint8_t *out, size_t *out_len)
{
	uint8_t d[5] = {0x5C, 0x03, (uint8_t)(tag >> 16), (uint8_t)(tag >> 8), (uint8_t)tag};

	if (tag == 0x7E) {
		d[1] = 1;
		d[2] = 0x7E;
		return xfer(c, 0xCB, 0x3F, 0xFF, d, 3, out, out_len);
	}
	return xfer(c, 0xCB, 0x3F, 0xFF, d, sizeof d, out, out_len);
}

/* GENERAL AUTHENTICATE 7C { 82 00, tag input }; the 82 value goes to out. */
static uint16_t gen_auth(struct piv_card *c, uint8_t alg, uint8_t ref, uint8_t tag, const uint8_t *in,
                         size_t n, uint8_t *out, size_t *out_len)
{
	uint8_t d[600], r[OUT_MIN];
	size_t dn = 0, inner = 2 + (n < 0x80 ? 2 : n <= 0xFF ? 3 : 4) + n, rn = 0, k;
	const uint8_t *p;
	uint16_t sw;

	assert_true(n < 512);
	d[dn++] = 0x7C;
	if (inner > 0xFF) {
		d[dn++] = 0x82;
		d[dn++] = (uint8_t)(inner >> 8);
	} else if (inner >= 0x80) {
		d[dn++] = 0x81;
	}
	d[dn++] = (uint8_t)inner;
	d[dn++] = 0x82;
	d[dn++] = 0x00;
	d[dn++] = tag;
	if (n > 0xFF) {
		d[dn++] = 0x82;
		d[dn++] = (uint8_t)(n >> 8);
	} else if (n >= 0x80) {
		d[dn++] = 0x81;
	}
	d[dn++] = (uint8_t)n;
	memcpy(d + dn, in, n);
	dn += n;
	sw = xfer(c, 0x87, alg, ref, d, dn, r, &rn);
	if (sw != 0x9000 || !out)
		return sw;
	/* 7C L 82 L value */
	assert_true(rn > 4 && r[0] == 0x7C);
	p = r + 1;
	k = *p & 0x80 ? (*p & 0x7F) + 1u : 1u;
	p += k;
	assert_int_equal(*p++, 0x82);
	if (*p & 0x80) {
		k = *p++ & 0x7F;
		for (*out_len = 0; k; k--)
			*out_len = *out_len << 8 | *p++;
	} else {
		*out_len = *p++;
	}
	assert_true((size_t)(p - r) + *out_len == rn);
	memcpy(out, p, *out_len);
	return sw;
}

static EVP_PKEY *cert_key(const struct tpl *t, const char *slot, uint8_t *der, size_t *der_len)
{
	char path[PATH_MAX + 16];
	uint8_t buf[4096];
	const uint8_t *p = buf;
	EVP_PKEY *key;
	size_t n;
	FILE *f;
	X509 *x;

	snprintf(path, sizeof path, "%s/%s.crt.der", t->dir, slot);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	x = d2i_X509(NULL, &p, (long)n);
	assert_non_null(x);
	key = X509_get_pubkey(x);
	X509_free(x);
	assert_non_null(key);
	if (der) {
		memcpy(der, buf, n);
		*der_len = n;
	}
	return key;
}

static void sha256(const void *msg, size_t n, uint8_t out[32])
{
	unsigned len = 32;

	assert_int_equal(EVP_Digest(msg, n, out, &len, EVP_sha256(), NULL), 1);
}

/* PKCS#1 v1.5 block of SHA-256(msg), as a host builds it for raw RSA. */
static void pkcs1_block(const char *msg, uint8_t block[256])
{
	static const uint8_t prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

	memset(block, 0xFF, 256);
	block[0] = 0x00;
	block[1] = 0x01;
	block[256 - 32 - sizeof prefix - 1] = 0x00;
	memcpy(block + 256 - 32 - sizeof prefix, prefix, sizeof prefix);
	sha256(msg, strlen(msg), block + 256 - 32);
}

static void assert_rsa_sig_ok(EVP_PKEY *pub, const char *msg, const uint8_t *sig, size_t n)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	assert_int_equal(n, 256);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, n, (const uint8_t *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(md);
}

static int ecdsa_check(EVP_PKEY *pub, const uint8_t *hash, size_t hn, const uint8_t *sig, size_t n)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	int r;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	r = EVP_PKEY_verify(ctx, sig, n, hash, hn);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int sign_rsa(struct piv_card *c, uint8_t ref, const char *msg, uint8_t *sig, size_t *n)
{
	uint8_t block[256];

	pkcs1_block(msg, block);
	return gen_auth(c, 0x07, ref, 0x81, block, sizeof block, sig, n);
}

static void read_text(const char *dir, const char *name, char *out, size_t cap, size_t *len)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	*len = fread(out, 1, cap - 1, f);
	out[*len] = 0;
	fclose(f);
}

static void write_text(const char *dir, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool state_has(const struct tpl *t, const char *line)
{
	char text[512];
	size_t n;

	read_text(t->dir, "state", text, sizeof text, &n);
	return strstr(text, line) != NULL;
}

static void reload(struct fx *f)
{
	piv_card_free(f->card);
	f->card = NULL;
	assert_int_equal(piv_card_load(&f->card, f->tpl->dir), 0);
}

/* ---- fixtures ---- */

static int run_gen(const char *gen, char *const extra[])
{
	char *argv[24];
	size_t n = 0;
	pid_t pid;
	int status;

	argv[n++] = (char *)"bash";
	argv[n++] = (char *)gen;
	while (*extra && n < 23)
		argv[n++] = *extra++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		execvp("bash", argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static const char *find_gen(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("IMZA_VCARD_GEN"), *srcdir = getenv("srcdir");
	const char *slash;

	if (env && *env)
		return env;
	if (srcdir) {
		snprintf(path, sizeof path, "%s/tests/vcard/imza-vcard-gen", srcdir);
		if (access(path, R_OK) == 0)
			return path;
	}
	/* beside the test binary (in-tree build), or from the top of the tree */
	slash = gen_argv0 ? strrchr(gen_argv0, '/') : NULL;
	if (slash) {
		snprintf(path, sizeof path, "%.*s/imza-vcard-gen", (int)(slash - gen_argv0), gen_argv0);
		if (access(path, R_OK) == 0)
			return path;
	}
	if (access("tests/vcard/imza-vcard-gen", R_OK) == 0)
		return "tests/vcard/imza-vcard-gen";
	return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	const char *gen = find_gen(), *tmp = getenv("TMPDIR");
	char ca[PATH_MAX];
	size_t n;

	(void)state;
	if (!gen) {
		fprintf(stderr, "imza-vcard-gen not found: set IMZA_VCARD_GEN or pass its path\n");
		return -1;
	}
	snprintf(tmp_root, sizeof tmp_root, "%s/imza-vcard-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmp_root))
		return -1;
	snprintf(main_card.dir, sizeof main_card.dir, "%s/main", tmp_root);
	snprintf(alt_card.dir, sizeof alt_card.dir, "%s/alt", tmp_root);
	snprintf(keep_card.dir, sizeof keep_card.dir, "%s/keep", tmp_root);
	snprintf(ca, sizeof ca, "%s/ca", tmp_root);
	if (run_gen(gen, (char *[]){main_card.dir, "--ca", ca, "--guid", GUID_HEX, "--name", "AHMET YILMAZ",
	                            "--tckn", "10000000146", NULL}) < 0 ||
	    run_gen(gen, (char *[]){alt_card.dir, "--ca", ca, "--slots", "9a,9c,9d", "--alg",
	                            "9a=rsa2048,9c=ec384,9d=ec256", "--pin", "87654321", NULL}) < 0 ||
	    run_gen(gen, (char *[]){keep_card.dir, "--ca", ca, "--failed-verify", "keep", NULL}) < 0) {
		fprintf(stderr, "imza-vcard-gen %s failed\n", gen);
		return -1;
	}
	read_text(main_card.dir, "state", main_card.state, sizeof main_card.state, &n);
	main_card.state_len = n;
	read_text(alt_card.dir, "state", alt_card.state, sizeof alt_card.state, &n);
	alt_card.state_len = n;
	read_text(keep_card.dir, "state", keep_card.state, sizeof keep_card.state, &n);
	keep_card.state_len = n;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (tmp_root[0] && !getenv("IMZA_KEEP_TMP"))
		nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int setup_tpl(void **state, const struct tpl *t)
{
	struct fx *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	f->tpl = t;
	write_text(t->dir, "state", t->state, t->state_len); /* each test starts fresh */
	if (piv_card_load(&f->card, t->dir) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup_main(void **state)
{
	return setup_tpl(state, &main_card);
}

static int setup_alt(void **state)
{
	return setup_tpl(state, &alt_card);
}

static int setup_keep(void **state)
{
	return setup_tpl(state, &keep_card);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	piv_card_free(f->card);
	free(f);
	return 0;
}

/* ---- SELECT and GET DATA ---- */

static void test_power_on_selects_piv_so_discovery_reads_without_select(void **state)
{
	struct fx *f = *state;
	uint8_t out[OUT_MIN];
	size_t n;

	piv_card_power(f->card, 0);
	piv_card_power(f->card, 1);
	assert_int_equal(raw(f->card, "00CB3FFF035C017E00", out, &n), 0x9000);
	/* 7E { 4F PIV AID, 5F2F 40 00: PIV PIN, not the global PIN } */
	assert_int_equal(n, 20);
	assert_memory_equal(out,
	                    "\x7E\x12\x4F\x0B\xA0\x00\x00\x03\x08\x00\x00\x10\x00\x01\x00"
	                    "\x5F\x2F\x02\x40\x00",
	                    20);
}

static void test_select_piv_aid_short_full_and_prefix_returns_apt(void **state)
{
	struct fx *f = *state;
	static const char *aids[] = {"A000000308", "A0000003080000100001", "A000000308000010000100"};
	uint8_t out[256], cmd[32];
	size_t n, i, k;

	for (i = 0; i < 3; i++) {
		k = unhex(aids[i], cmd + 5, sizeof cmd - 6);
		memcpy(cmd, "\x00\xA4\x04\x00", 4);
		cmd[4] = (uint8_t)k;
		cmd[5 + k] = 0x00;
		assert_int_equal(raw_bytes(f->card, cmd, k + 6, out, &n), 0x9000);
		assert_true(n > 10);
		assert_int_equal(out[0], 0x61);
		assert_int_equal(out[1], n - 2);
		assert_memory_equal(out + 2,
		                    "\x4F\x06\x00\x00\x10\x00\x01\x00\x79\x07\x4F\x05"
		                    "\xA0\x00\x00\x03\x08",
		                    17);
	}
	/* P2=0C: no response data */
	assert_int_equal(raw(f->card, "00A4040C05A000000308", out, &n), 0x9000);
	assert_int_equal(n, 0);
}

static void test_select_other_aid_deselects_piv_until_piv_is_selected_again(void **state)
{
	struct fx *f = *state;

	assert_int_equal(raw(f->card, "00A4040007A000000397425400", NULL, NULL), 0x6A82);
	assert_int_equal(raw(f->card, "00CB3FFF035C017E00", NULL, NULL), 0x6D00);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x6D00);
	assert_int_equal(raw(f->card, "00A4040009A0000003080000100000", NULL, NULL), 0x9000);
	assert_int_equal(raw(f->card, "00CB3FFF035C017E00", NULL, NULL), 0x9000);
}

static void test_get_data_with_le_8_returns_8_bytes_and_61xx_then_exact_read(void **state)
{
	struct fx *f = *state;
	uint8_t out[4096], der[4096];
	size_t n, der_len, total;
	EVP_PKEY *k = cert_key(f->tpl, "9c", der, &der_len);

	EVP_PKEY_free(k);
	/* OpenSC: first 8 bytes for the length, then the exact length */
	assert_int_equal(raw(f->card, "00CB3FFF055C035FC10A08", out, &n), 0x6100);
	assert_int_equal(n, 8);
	assert_int_equal(out[0], 0x53);
	assert_int_equal(out[1], 0x82);
	total = 4 + ((size_t)out[2] << 8 | out[3]);
	assert_int_equal(total, 4 + 4 + der_len + 3 + 2);
	assert_int_equal(out[4], 0x70);
	/* exact Le larger than 256 needs an extended APDU; a short Le=00 gets
	 * 256 bytes and the rest by GET RESPONSE */
	assert_int_equal(get_object(f->card, 0x5FC10A, out, &n), 0x9000);
	assert_int_equal(n, total);
	assert_memory_equal(out + 8, der, der_len);
	assert_memory_equal(out + 8 + der_len, "\x71\x01\x00\xFE\x00", 5);
}

static void test_response_chaining_splits_at_256_and_counts_the_rest(void **state)
{
	struct fx *f = *state;
	uint8_t out[4096];
	size_t n, left, got;
	uint16_t sw;

	assert_int_equal(raw(f->card, "00CB3FFF055C035FC10A08", out, &n), 0x6100);
	left = 4 + ((size_t)out[2] << 8 | out[3]);
	sw = raw(f->card, "00CB3FFF055C035FC10A00", out, &n);
	assert_int_equal(n, 256);
	got = n;
	while ((sw & 0xFF00) == 0x6100) {
		size_t announced = sw & 0xFF ? sw & 0xFF : 256;

		assert_int_equal(announced, left - got > 255 ? 256 : left - got);
		sw = raw(f->card, "00C0000000", out, &n);
		got += n;
	}
	assert_int_equal(sw, 0x9000);
	assert_int_equal(got, left);
	/* nothing pending any more */
	assert_int_equal(raw(f->card, "00C0000000", NULL, NULL), 0x6985);
}

static void test_other_command_drops_pending_response(void **state)
{
	struct fx *f = *state;

	assert_int_equal(raw(f->card, "00CB3FFF055C035FC10A08", NULL, NULL), 0x6100);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C3);
	assert_int_equal(raw(f->card, "00C0000000", NULL, NULL), 0x6985);
}

static void test_extended_le_returns_whole_object_in_one_response(void **state)
{
	struct fx *f = *state;
	uint8_t out[4096];
	size_t n;

	assert_int_equal(raw(f->card, "00CB3FFF0000055C035FC10A0000", out, &n), 0x9000);
	assert_true(n > 256);
	assert_int_equal(n, 4 + ((size_t)out[2] << 8 | out[3]));
}

static void test_chuid_carries_fascn_and_guid_from_card_conf(void **state)
{
	struct fx *f = *state;
	uint8_t out[OUT_MIN], guid[16];
	size_t n;

	unhex(GUID_HEX, guid, sizeof guid);
	assert_int_equal(get_object(f->card, 0x5FC102, out, &n), 0x9000);
	assert_int_equal(out[0], 0x53);
	assert_memory_equal(out + 2, "\x30\x19\xD4\xE7\x39\xDA", 6);
	assert_memory_equal(out + 2 + 27, "\x34\x10", 2);
	assert_memory_equal(out + 2 + 29, guid, 16);
}

static void test_ccc_and_key_history_are_readable_without_pin(void **state)
{
	struct fx *f = *state;
	uint8_t out[OUT_MIN];
	size_t n;

	assert_int_equal(get_object(f->card, 0x5FC107, out, &n), 0x9000);
	assert_int_equal(out[0], 0x53);
	assert_int_equal(out[2], 0xF0);
	assert_int_equal(get_object(f->card, 0x5FC10C, out, &n), 0x9000);
	assert_int_equal(n, 10);
	assert_memory_equal(out, "\x53\x08\xC1\x01\x00\xC2\x01\x00\xFE\x00", 10);
}

static void test_printed_information_needs_pin(void **state)
{
	struct fx *f = *state;
	uint8_t out[OUT_MIN];
	size_t n;

	assert_int_equal(get_object(f->card, 0x5FC109, out, &n), 0x6982);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(get_object(f->card, 0x5FC109, out, &n), 0x9000);
	assert_memory_equal(out + 2,
	                    "\x01\x0C"
	                    "AHMET YILMAZ",
	                    14);
}

static void test_objects_of_empty_slots_and_unknown_tags_are_not_found(void **state)
{
	struct fx *f = *state;
	uint8_t out[OUT_MIN];
	size_t n;

	assert_int_equal(get_object(f->card, 0x5FC101, out, &n), 0x6A82); /* 9E is empty */
	assert_int_equal(get_object(f->card, 0x5FC103, out, &n), 0x6A82); /* fingerprints */
	assert_int_equal(get_object(f->card, 0x5FC10D, out, &n), 0x6A82); /* retired key 1 */
	assert_int_equal(get_object(f->card, 0x5FC105, out, &n), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x14, 0x9E, 0x81, (const uint8_t *)"abc", 3, NULL, NULL), 0x6A86);
}

/* ---- PIN and PUK ---- */

static void test_verify_wrong_pin_decrements_counter_by_one(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_true(state_has(f->tpl, "pin_tries=2\n"));
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C2);
	assert_int_equal(verify_pin(f->card, "111111"), 0x63C1);
	assert_true(state_has(f->tpl, "pin_tries=1\n"));
}

static void test_third_wrong_pin_blocks_with_6983_even_for_the_right_pin(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C1);
	assert_int_equal(verify_pin(f->card, "000000"), 0x6983);
	assert_int_equal(verify_pin(f->card, "123456"), 0x6983);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x6983);
	assert_true(state_has(f->tpl, "pin_tries=0\n"));
}

static void test_pin_counter_persists_across_reload_like_card_removal(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C1);
	reload(f);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C1);
	assert_int_equal(verify_pin(f->card, "000000"), 0x6983);
	reload(f);
	assert_int_equal(verify_pin(f->card, "123456"), 0x6983);
}

static void test_right_pin_resets_counter_and_verifies(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_true(state_has(f->tpl, "pin_tries=3\n"));
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x9000);
}

static void test_wrong_pin_clears_security_status(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C2);
}

static void test_verify_p1_ff_and_reset_clear_security_status(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(raw(f->card, "0020FF80", NULL, NULL), 0x9000);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C3);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	piv_card_power(f->card, 1);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C3);
}

/* Such a card keeps whoever verified last verified through someone else's wrong PIN: only VERIFY P1=FF
 * (or a reset) ends it. The counter still counts, and 9C's single-use right is gone all the same. */
static void test_keep_card_stays_verified_after_wrong_pin_until_verify_ff(void **state)
{
	struct fx *f = *state;
	uint8_t hash[32], sig[128];
	size_t n;

	sha256("auth", 4, hash);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_true(state_has(f->tpl, "pin_tries=2\n"));
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x11, 0x9A, 0x81, hash, 32, sig, &n), 0x9000);
	assert_int_equal(sign_rsa(f->card, 0x9C, "x", sig, &n), 0x6982);
	assert_int_equal(raw(f->card, "0020FF80", NULL, NULL), 0x9000);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C2);
	assert_int_equal(gen_auth(f->card, 0x11, 0x9A, 0x81, hash, 32, sig, &n), 0x6982);
	/* not verified before, not verified after */
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C1);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C1);
}

static void test_keep_card_forgets_the_login_on_reset(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	piv_card_power(f->card, 1);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x63C2);
}

static void test_verify_with_bad_length_or_reference_is_rejected_without_counting(void **state)
{
	struct fx *f = *state;

	assert_int_equal(raw(f->card, "002000800631323334353600", NULL, NULL), 0x6700);
	assert_int_equal(raw(f->card, "00200081083132333435363738", NULL, NULL), 0x6A86);
	assert_int_equal(raw(f->card, "00200180083132333435363738", NULL, NULL), 0x6A86);
	assert_int_equal(raw(f->card, "0020FF80083132333435363738", NULL, NULL), 0x6700);
	assert_true(state_has(f->tpl, "pin_tries=3\n"));
}

static void test_reset_retry_counter_with_puk_unblocks_pin(void **state)
{
	struct fx *f = *state;

	assert_int_equal(verify_pin(f->card, "000000"), 0x63C2);
	assert_int_equal(verify_pin(f->card, "000000"), 0x63C1);
	assert_int_equal(verify_pin(f->card, "000000"), 0x6983);
	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "12345678", "24681357"), 0x9000);
	assert_true(state_has(f->tpl, "pin=24681357\n"));
	assert_true(state_has(f->tpl, "pin_tries=3\n"));
	assert_int_equal(verify_pin(f->card, "123456"), 0x63C2);
	assert_int_equal(verify_pin(f->card, "24681357"), 0x9000);
}

static void test_wrong_puk_decrements_puk_counter_and_blocks_at_zero(void **state)
{
	struct fx *f = *state;

	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "00000000", "654321"), 0x63C2);
	assert_true(state_has(f->tpl, "puk_tries=2\n"));
	reload(f);
	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "00000000", "654321"), 0x63C1);
	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "00000000", "654321"), 0x6983);
	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "12345678", "654321"), 0x6983);
	assert_true(state_has(f->tpl, "pin=123456\n"));
	assert_int_equal(two_refs(f->card, 0x2C, 0x81, "12345678", "654321"), 0x6A86);
}

static void test_reset_retry_counter_rejects_bad_new_pin_without_counting(void **state)
{
	struct fx *f = *state;

	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "12345678", "12a456"), 0x6A80);
	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "12345678", "12345"), 0x6A80);
	assert_true(state_has(f->tpl, "puk_tries=3\n"));
}

static void test_change_pin_needs_old_pin_and_persists_new_one(void **state)
{
	struct fx *f = *state;

	assert_int_equal(two_refs(f->card, 0x24, 0x80, "000000", "654321"), 0x63C2);
	assert_int_equal(two_refs(f->card, 0x24, 0x80, "123456", "65a321"), 0x6A80);
	assert_int_equal(two_refs(f->card, 0x24, 0x80, "123456", "654321"), 0x9000);
	assert_true(state_has(f->tpl, "pin=654321\n"));
	assert_true(state_has(f->tpl, "pin_tries=3\n"));
	reload(f);
	assert_int_equal(verify_pin(f->card, "123456"), 0x63C2);
	assert_int_equal(verify_pin(f->card, "654321"), 0x9000);
}

static void test_change_puk_needs_old_puk(void **state)
{
	struct fx *f = *state;

	assert_int_equal(two_refs(f->card, 0x24, 0x81, "87654321", "11223344"), 0x63C2);
	assert_int_equal(two_refs(f->card, 0x24, 0x81, "12345678", "11223344"), 0x9000);
	assert_true(state_has(f->tpl, "puk=11223344\n"));
	assert_true(state_has(f->tpl, "puk_tries=3\n"));
	assert_int_equal(two_refs(f->card, 0x2C, 0x80, "11223344", "123456"), 0x9000);
}

/* ---- GENERAL AUTHENTICATE ---- */

static void test_rsa_signature_with_9c_verifies_against_certificate(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9c", NULL, NULL);
	uint8_t sig[512];
	size_t n;

	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(sign_rsa(f->card, 0x9C, "e-imza test", sig, &n), 0x9000);
	assert_rsa_sig_ok(pub, "e-imza test", sig, n);
	EVP_PKEY_free(pub);
}

static void test_9c_needs_pin_verified_immediately_before_each_use(void **state)
{
	struct fx *f = *state;
	uint8_t sig[512];
	size_t n;

	assert_int_equal(sign_rsa(f->card, 0x9C, "x", sig, &n), 0x6982);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(sign_rsa(f->card, 0x9C, "x", sig, &n), 0x9000);
	/* one use consumed the right */
	assert_int_equal(sign_rsa(f->card, 0x9C, "x", sig, &n), 0x6982);
	/* any other command in between clears it */
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(raw(f->card, "00CB3FFF035C017E00", NULL, NULL), 0x9000);
	assert_int_equal(sign_rsa(f->card, 0x9C, "x", sig, &n), 0x6982);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(raw(f->card, "00200080", NULL, NULL), 0x9000);
	assert_int_equal(sign_rsa(f->card, 0x9C, "x", sig, &n), 0x6982);
	/* while 9A keeps working on the plain verified state */
	assert_int_equal(gen_auth(f->card, 0x11, 0x9A, 0x81, sig, 32, NULL, NULL), 0x9000);
}

static void test_9a_ec_p256_needs_pin_and_signature_verifies(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9a", NULL, NULL);
	uint8_t hash[32], sig[128];
	size_t n;

	sha256("auth", 4, hash);
	assert_int_equal(gen_auth(f->card, 0x11, 0x9A, 0x81, hash, 32, sig, &n), 0x6982);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x11, 0x9A, 0x81, hash, 32, sig, &n), 0x9000);
	assert_int_equal(sig[0], 0x30);
	assert_int_equal(ecdsa_check(pub, hash, 32, sig, n), 1);
	/* still verified: 9A is not PIN-always */
	assert_int_equal(gen_auth(f->card, 0x11, 0x9A, 0x81, hash, 32, sig, &n), 0x9000);
	EVP_PKEY_free(pub);
}

static void test_9e_ec_p384_signs_without_pin(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9e", NULL, NULL);
	uint8_t hash[48], sig[160];
	size_t n;

	RAND_bytes(hash, sizeof hash);
	assert_int_equal(gen_auth(f->card, 0x14, 0x9E, 0x81, hash, 48, sig, &n), 0x9000);
	assert_int_equal(ecdsa_check(pub, hash, 48, sig, n), 1);
	EVP_PKEY_free(pub);
}

static void test_ec_hash_is_truncated_or_left_padded_to_the_field(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9e", NULL, NULL);
	uint8_t hash[64], padded[48] = {0}, sig[160];
	size_t n;

	RAND_bytes(hash, sizeof hash);
	/* SHA-512 on P-384: the leftmost 48 bytes count */
	assert_int_equal(gen_auth(f->card, 0x14, 0x9E, 0x81, hash, 64, sig, &n), 0x9000);
	assert_int_equal(ecdsa_check(pub, hash, 48, sig, n), 1);
	/* SHA-256 on P-384: same integer once left-padded */
	assert_int_equal(gen_auth(f->card, 0x14, 0x9E, 0x81, hash, 32, sig, &n), 0x9000);
	memcpy(padded + 16, hash, 32);
	assert_int_equal(ecdsa_check(pub, padded, 48, sig, n), 1);
	assert_int_equal(gen_auth(f->card, 0x14, 0x9E, 0x81, hash, 0, sig, &n), 0x6A80);
	EVP_PKEY_free(pub);
}

static void test_9d_decrypts_pkcs1_ciphertext_with_raw_rsa(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9d", NULL, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	static const char secret[] = "oturum anahtari";
	uint8_t ct[256], pt[512];
	size_t ctn = sizeof ct, n;

	assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ctn, (const uint8_t *)secret, strlen(secret)), 1);
	assert_int_equal(gen_auth(f->card, 0x07, 0x9D, 0x81, ct, ctn, pt, &n), 0x6982);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x07, 0x9D, 0x81, ct, ctn, pt, &n), 0x9000);
	assert_int_equal(n, 256);
	assert_int_equal(pt[0], 0x00);
	assert_int_equal(pt[1], 0x02);
	assert_int_equal(pt[256 - strlen(secret) - 1], 0x00);
	assert_memory_equal(pt + 256 - strlen(secret), secret, strlen(secret));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pub);
}

static void test_rsa_input_must_be_modulus_size_and_below_modulus(void **state)
{
	struct fx *f = *state;
	uint8_t in[256], sig[512];
	size_t n;

	memset(in, 0xFF, sizeof in);
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x07, 0x9D, 0x81, in, 255, sig, &n), 0x6A80);
	assert_int_equal(gen_auth(f->card, 0x07, 0x9D, 0x81, in, 256, sig, &n), 0x6A80);
}

static void test_algorithm_and_key_mismatch_is_rejected(void **state)
{
	struct fx *f = *state;
	uint8_t in[256] = {0}, out[512];
	size_t n;

	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x07, 0x9A, 0x81, in, 256, out, &n), 0x6A86);
	assert_int_equal(gen_auth(f->card, 0x11, 0x9D, 0x81, in, 32, out, &n), 0x6A86);
	assert_int_equal(gen_auth(f->card, 0x14, 0x9A, 0x81, in, 32, out, &n), 0x6A86);
	assert_int_equal(gen_auth(f->card, 0x11, 0x82, 0x81, in, 32, out, &n), 0x6A86);
	/* ECDH with an RSA key */
	assert_int_equal(gen_auth(f->card, 0x07, 0x9D, 0x85, in, 256, out, &n), 0x6A80);
}

static void test_general_authenticate_template_must_be_well_formed(void **state)
{
	struct fx *f = *state;

	/* no 82, two 81, trailing junk, wrong outer tag, truncated length */
	assert_int_equal(raw(f->card, "0087149E067C0481020102", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "0087149E0A7C08820081010181010200", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "0087149E057C028200FF", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "0087149E067D0482008100", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "0087149E047C0A8200", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "0087149E067C048201008100", NULL, NULL), 0x6A80);
}

static void test_random_challenge_needs_no_pin(void **state)
{
	struct fx *f = *state;
	uint8_t a[32], b[32];
	size_t n, m;

	assert_int_equal(raw(f->card, "0087009B047C02810000", a, &n), 0x9000);
	assert_int_equal(n, 12);
	assert_memory_equal(a, "\x7C\x0A\x81\x08", 4);
	assert_int_equal(raw(f->card, "0087009B047C02810000", b, &m), 0x9000);
	assert_memory_not_equal(a + 4, b + 4, 8);
	assert_int_equal(raw(f->card, "0087089B047C02810000", a, &n), 0x9000);
	assert_int_equal(n, 20);
	assert_int_equal(raw(f->card, "0087009B047C02820000", NULL, NULL), 0x6A80);
}

static void test_ecdh_with_ec_key_management_key(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9d", NULL, NULL), *eph = NULL;
	EVP_PKEY_CTX *ctx;
	uint8_t point[65], secret[32], got[64];
	size_t pn = 0, sn = sizeof secret, n;

	eph = EVP_EC_gen("P-256");
	assert_non_null(eph);
	assert_int_equal(EVP_PKEY_get_octet_string_param(eph, "encoded-pub-key", point, sizeof point, &pn),
	                 1);
	ctx = EVP_PKEY_CTX_new(eph, NULL);
	assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(ctx, pub), 1);
	assert_int_equal(EVP_PKEY_derive(ctx, secret, &sn), 1);
	assert_int_equal(verify_pin(f->card, "87654321"), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x11, 0x9D, 0x85, point, pn, got, &n), 0x9000);
	assert_int_equal(n, sn);
	assert_memory_equal(got, secret, sn);
	/* a point off the curve */
	point[pn - 1] ^= 1;
	assert_int_equal(gen_auth(f->card, 0x11, 0x9D, 0x85, point, pn, got, &n), 0x6A80);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(pub);
}

static void test_alt_card_rsa_9a_and_ec_9c_sign(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub9a = cert_key(f->tpl, "9a", NULL, NULL);
	EVP_PKEY *pub9c = cert_key(f->tpl, "9c", NULL, NULL);
	uint8_t hash[48], sig[512];
	size_t n;

	assert_int_equal(verify_pin(f->card, "87654321"), 0x9000);
	assert_int_equal(sign_rsa(f->card, 0x9A, "kimlik", sig, &n), 0x9000);
	assert_rsa_sig_ok(pub9a, "kimlik", sig, n);
	RAND_bytes(hash, sizeof hash);
	assert_int_equal(verify_pin(f->card, "87654321"), 0x9000);
	assert_int_equal(gen_auth(f->card, 0x14, 0x9C, 0x81, hash, 48, sig, &n), 0x9000);
	assert_int_equal(ecdsa_check(pub9c, hash, 48, sig, n), 1);
	EVP_PKEY_free(pub9a);
	EVP_PKEY_free(pub9c);
}

/* ---- framing and junk ---- */

static void test_command_chaining_accumulates_and_rejects_beyond_bound(void **state)
{
	struct fx *f = *state;
	uint8_t cmd[300];
	size_t i;

	memset(cmd, 0, sizeof cmd);
	memcpy(cmd, "\x10\x87\x07\x9C\xFF", 5);
	/* 16 x 255 bytes fit, the 17th link overflows the 4 KiB bound */
	for (i = 0; i < 16; i++)
		assert_int_equal(raw_bytes(f->card, cmd, 5 + 255, NULL, NULL), 0x9000);
	assert_int_equal(raw_bytes(f->card, cmd, 5 + 255, NULL, NULL), 0x6700);
	/* and the chain is gone: the last link alone is judged on its own */
	memcpy(cmd, "\x00\x87\x07\x9C\x04\x7C\x02\x82\x00", 9);
	assert_int_equal(raw_bytes(f->card, cmd, 9, NULL, NULL), 0x6982);
}

static void test_chain_with_other_header_starts_over(void **state)
{
	struct fx *f = *state;

	assert_int_equal(raw(f->card, "1087149E027C03", NULL, NULL), 0x9000);
	/* another command ends the chain and runs on its own */
	assert_int_equal(raw(f->card, "00CB3FFF035C017E00", NULL, NULL), 0x9000);
	/* so this last link is judged alone: not a 7C template */
	assert_int_equal(raw(f->card, "0087149E0582008101AA00", NULL, NULL), 0x6A80);
	/* a link with another P2 starts a new chain */
	assert_int_equal(raw(f->card, "1087149A027C03", NULL, NULL), 0x9000);
	assert_int_equal(raw(f->card, "1087149E027C05", NULL, NULL), 0x9000);
	assert_int_equal(raw(f->card, "0087149E0582008101AA00", NULL, NULL), 0x9000);
}

static void test_extended_length_general_authenticate_is_accepted(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9c", NULL, NULL);
	uint8_t cmd[300], out[600], block[256];
	size_t n = 0, rn;

	pkcs1_block("genisletilmis", block);
	memcpy(cmd, "\x00\x87\x07\x9C\x00\x01\x0A\x7C\x82\x01\x06\x82\x00\x81\x82\x01\x00", 17);
	memcpy(cmd + 17, block, 256);
	cmd[273] = 0x00;
	cmd[274] = 0x00;
	assert_int_equal(verify_pin(f->card, "123456"), 0x9000);
	assert_int_equal(raw_bytes(f->card, cmd, 275, out, &rn), 0x9000);
	assert_int_equal(rn, 264);
	assert_memory_equal(out, "\x7C\x82\x01\x04\x82\x82\x01\x00", 8);
	n = 256;
	assert_rsa_sig_ok(pub, "genisletilmis", out + 8, n);
	EVP_PKEY_free(pub);
}

static void test_status_words_for_junk(void **state)
{
	struct fx *f = *state;

	assert_int_equal(raw(f->card, "00", NULL, NULL), 0x6700);
	assert_int_equal(raw(f->card, "00CB3F", NULL, NULL), 0x6700);
	assert_int_equal(raw(f->card, "00EE0000", NULL, NULL), 0x6D00);
	assert_int_equal(raw(f->card, "80CB3FFF035C017E00", NULL, NULL), 0x6E00);
	assert_int_equal(raw(f->card, "FFCB3FFF", NULL, NULL), 0x6E00);
	assert_int_equal(raw(f->card, "00CB3FFE035C017E00", NULL, NULL), 0x6A86);
	assert_int_equal(raw(f->card, "00A4000002 3F00", NULL, NULL), 0x6A86);
	assert_int_equal(raw(f->card, "00CB3FFF035C027E00", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "00CB3FFF045C017E0000", NULL, NULL), 0x6A80);
	assert_int_equal(raw(f->card, "00CB3FFF025C0000", NULL, NULL), 0x6A80);
	/* Lc says 5, 3 bytes follow */
	assert_int_equal(raw(f->card, "00CB3FFF055C017E", NULL, NULL), 0x6700);
	/* extended Lc of 0 */
	assert_int_equal(raw(f->card, "00CB3FFF0000005C", NULL, NULL), 0x6700);
	assert_int_equal(raw(f->card, "00C0000000", NULL, NULL), 0x6985);
	assert_int_equal(raw(f->card, "00C0000100", NULL, NULL), 0x6A86);
	assert_int_equal(raw(f->card, "10C0000000", NULL, NULL), 0x6884);
	assert_int_equal(raw(f->card, "00DB3FFF035C017E", NULL, NULL), 0x6982);
	assert_int_equal(raw(f->card, "0047009A05AC0380010700", NULL, NULL), 0x6982);
	assert_int_equal(piv_card_apdu(f->card, NULL, 0, (uint8_t[2]){0}, 2), 2);
	assert_int_equal(piv_card_apdu(f->card, (const uint8_t *)"\0\0\0\0", 4, NULL, 0), 0);
}

static void test_small_response_buffer_still_gets_status_and_rest_later(void **state)
{
	struct fx *f = *state;
	uint8_t r[10];
	size_t n;

	n = piv_card_apdu(f->card, (const uint8_t *)"\x00\xCB\x3F\xFF\x03\x5C\x01\x7E\x00", 9, r, sizeof r);
	assert_int_equal(n, 10);
	assert_int_equal(r[0], 0x7E);
	assert_int_equal(sw_of(r, n), 0x610C);
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_10000_random_apdus_never_crash_and_card_still_signs(void **state)
{
	static const uint8_t ins[] = {0xA4, 0xCB, 0x20, 0x24, 0x2C, 0x87, 0xC0, 0x47, 0xDB, 0x00};
	static const uint8_t cla[] = {0x00, 0x10, 0x00, 0x10, 0x80, 0x0C};
	struct fx *f = *state;
	EVP_PKEY *pub = cert_key(f->tpl, "9e", NULL, NULL);
	uint32_t seed = 0x1D2A2025;
	uint8_t cmd[600], resp[PIV_RAPDU_MAX], hash[48], sig[160];
	char line[2 * sizeof cmd + 1];
	size_t i, j, n, rn;
	const char *env = getenv("IMZA_FUZZ_SEED");

	if (env && *env)
		seed = (uint32_t)strtoul(env, NULL, 0) | 1;
	for (i = 0; i < 10000; i++) {
		uint32_t r = xorshift(&seed);

		n = r % 8 == 0 ? xorshift(&seed) % sizeof cmd : 4 + xorshift(&seed) % 300;
		for (j = 0; j < n; j++)
			cmd[j] = (uint8_t)xorshift(&seed);
		if (n >= 4 && r % 3) {
			/* mostly well-aimed: a real CLA/INS, a plausible Lc */
			cmd[0] = cla[xorshift(&seed) % sizeof cla];
			cmd[1] = ins[xorshift(&seed) % sizeof ins];
			if (r % 5 == 0)
				memcpy(cmd + 2, "\x3F\xFF", 2);
			if (r % 7 == 0 && n >= 5)
				cmd[4] = (uint8_t)(n - 5);
			if (r % 11 == 0 && n >= 7) {
				cmd[4] = 0; /* extended Lc that fits */
				cmd[5] = (uint8_t)((n - 7) >> 8);
				cmd[6] = (uint8_t)(n - 7);
			}
			if (r % 13 == 0 && n >= 7) {
				cmd[5] = 0x7C; /* a template GENERAL AUTHENTICATE would parse */
				cmd[6] = (uint8_t)(n - 7);
			}
		}
		rn = piv_card_apdu(f->card, cmd, n, resp, r % 17 == 0 ? 2 + r % 40 : sizeof resp);
		assert_true(rn >= 2);
		assert_int_equal(piv_log_hex(cmd, n, true, line, sizeof line), 0);
		if (r % 500 == 0)
			piv_card_power(f->card, (int)(r & 1));
	}
	piv_card_power(f->card, 1);
	RAND_bytes(hash, sizeof hash);
	assert_int_equal(gen_auth(f->card, 0x14, 0x9E, 0x81, hash, 48, sig, &n), 0x9000);
	assert_int_equal(ecdsa_check(pub, hash, 48, sig, n), 1);
	EVP_PKEY_free(pub);
}

/* ---- log and load ---- */

static void test_apdu_log_masks_pin_data(void **state)
{
	char out[128];
	uint8_t cmd[64];
	size_t n;

	(void)state;
	n = unhex("0020008008313233343536FFFF", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "0020008008****************");
	n = unhex("002400801031323334353637383132333435363738", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "0024008010********************************");
	n = unhex("102C00800431323334", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "102C008004********");
	/* malformed: everything past the header */
	n = unhex("0020008009313233", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "00200080********");
	/* extended Lc, with Le */
	n = unhex("0020008000000231320000", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "00200080000002****0000");
	n = unhex("00200080", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "00200080");
	n = unhex("00CB3FFF035C017E00", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, true, out, sizeof out), 0);
	assert_string_equal(out, "00CB3FFF035C017E00");
	/* responses are never masked, and a short buffer is refused */
	n = unhex("9000", cmd, sizeof cmd);
	assert_int_equal(piv_log_hex(cmd, n, false, out, sizeof out), 0);
	assert_string_equal(out, "9000");
	assert_int_equal(piv_log_hex(cmd, n, false, out, 4), -ENOBUFS);
}

static void test_load_rejects_missing_dir_bad_conf_and_foreign_certificate(void **state)
{
	char dir[1100], text[512], src[PATH_MAX + 16], dst[PATH_MAX + 16];
	struct piv_card *c = NULL;
	static const char *files[] = {"card.conf", "state", "9a.key.pem", "9a.crt.der"};
	uint8_t buf[4096];
	size_t i, n;
	FILE *in, *out;

	(void)state;
	snprintf(dir, sizeof dir, "%s/bad", tmp_root);
	assert_int_equal(piv_card_load(&c, dir), -ENOENT);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (i = 0; i < 4; i++) {
		snprintf(src, sizeof src, "%s/%s", main_card.dir, files[i]);
		snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
		in = fopen(src, "rb");
		out = fopen(dst, "wb");
		assert_non_null(in);
		assert_non_null(out);
		n = fread(buf, 1, sizeof buf, in);
		assert_int_equal(fwrite(buf, 1, n, out), n);
		fclose(in);
		fclose(out);
	}
	write_text(dir, "card.conf", "atr=3B00\nguid=00\nslots=9a\n", 26);
	assert_int_equal(piv_card_load(&c, dir), -EINVAL);
	n = (size_t)snprintf(text, sizeof text, "atr=3B00\nguid=%s\nslots=9a\n", GUID_HEX);
	write_text(dir, "card.conf", text, n);
	assert_int_equal(piv_card_load(&c, dir), 0);
	piv_card_free(c);
	c = NULL;
	n = (size_t)snprintf(text, sizeof text, "atr=3B00\nguid=%s\nslots=9a\nfailed_verify=sometimes\n",
	                     GUID_HEX);
	write_text(dir, "card.conf", text, n);
	assert_int_equal(piv_card_load(&c, dir), -EINVAL);
	assert_null(c);
	n = (size_t)snprintf(text, sizeof text, "atr=3B00\nguid=%s\nslots=9a\n", GUID_HEX);
	write_text(dir, "card.conf", text, n);
	/* the 9A certificate of another card */
	snprintf(src, sizeof src, "%s/9a.crt.der", alt_card.dir);
	snprintf(dst, sizeof dst, "%s/9a.crt.der", dir);
	in = fopen(src, "rb");
	out = fopen(dst, "wb");
	n = fread(buf, 1, sizeof buf, in);
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	c = NULL;
	assert_int_equal(piv_card_load(&c, dir), -EINVAL);
	assert_null(c);
	write_text(dir, "state", "pin=123456\npin_tries=9\n", 23);
	assert_int_equal(piv_card_load(&c, dir), -EINVAL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(name, setup) cmocka_unit_test_setup_teardown(name, setup, teardown)
	        T(test_power_on_selects_piv_so_discovery_reads_without_select, setup_main),
	        T(test_select_piv_aid_short_full_and_prefix_returns_apt, setup_main),
	        T(test_select_other_aid_deselects_piv_until_piv_is_selected_again, setup_main),
	        T(test_get_data_with_le_8_returns_8_bytes_and_61xx_then_exact_read, setup_main),
	        T(test_response_chaining_splits_at_256_and_counts_the_rest, setup_main),
	        T(test_other_command_drops_pending_response, setup_main),
	        T(test_extended_le_returns_whole_object_in_one_response, setup_main),
	        T(test_chuid_carries_fascn_and_guid_from_card_conf, setup_main),
	        T(test_ccc_and_key_history_are_readable_without_pin, setup_main),
	        T(test_printed_information_needs_pin, setup_main),
	        T(test_objects_of_empty_slots_and_unknown_tags_are_not_found, setup_alt),
	        T(test_verify_wrong_pin_decrements_counter_by_one, setup_main),
	        T(test_third_wrong_pin_blocks_with_6983_even_for_the_right_pin, setup_main),
	        T(test_pin_counter_persists_across_reload_like_card_removal, setup_main),
	        T(test_right_pin_resets_counter_and_verifies, setup_main),
	        T(test_wrong_pin_clears_security_status, setup_main),
	        T(test_verify_p1_ff_and_reset_clear_security_status, setup_main),
	        T(test_keep_card_stays_verified_after_wrong_pin_until_verify_ff, setup_keep),
	        T(test_keep_card_forgets_the_login_on_reset, setup_keep),
	        T(test_verify_with_bad_length_or_reference_is_rejected_without_counting, setup_main),
	        T(test_reset_retry_counter_with_puk_unblocks_pin, setup_main),
	        T(test_wrong_puk_decrements_puk_counter_and_blocks_at_zero, setup_main),
	        T(test_reset_retry_counter_rejects_bad_new_pin_without_counting, setup_main),
	        T(test_change_pin_needs_old_pin_and_persists_new_one, setup_main),
	        T(test_change_puk_needs_old_puk, setup_main),
	        T(test_rsa_signature_with_9c_verifies_against_certificate, setup_main),
	        T(test_9c_needs_pin_verified_immediately_before_each_use, setup_main),
	        T(test_9a_ec_p256_needs_pin_and_signature_verifies, setup_main),
	        T(test_9e_ec_p384_signs_without_pin, setup_main),
	        T(test_ec_hash_is_truncated_or_left_padded_to_the_field, setup_main),
	        T(test_9d_decrypts_pkcs1_ciphertext_with_raw_rsa, setup_main),
	        T(test_rsa_input_must_be_modulus_size_and_below_modulus, setup_main),
	        T(test_algorithm_and_key_mismatch_is_rejected, setup_main),
	        T(test_general_authenticate_template_must_be_well_formed, setup_main),
	        T(test_random_challenge_needs_no_pin, setup_main),
	        T(test_ecdh_with_ec_key_management_key, setup_alt),
	        T(test_alt_card_rsa_9a_and_ec_9c_sign, setup_alt),
	        T(test_command_chaining_accumulates_and_rejects_beyond_bound, setup_main),
	        T(test_chain_with_other_header_starts_over, setup_main),
	        T(test_extended_length_general_authenticate_is_accepted, setup_main),
	        T(test_status_words_for_junk, setup_main),
	        T(test_small_response_buffer_still_gets_status_and_rest_later, setup_main),
	        T(test_10000_random_apdus_never_crash_and_card_still_signs, setup_main),
#undef T
	        cmocka_unit_test(test_apdu_log_masks_pin_data),
	        cmocka_unit_test(test_load_rejects_missing_dir_bad_conf_and_foreign_certificate),
	};

	gen_argv0 = argv[0];
	if (argc > 1)
		setenv("IMZA_VCARD_GEN", argv[1], 1);
	return cmocka_run_group_tests_name("piv", tests, group_setup, group_teardown);
}
