/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PIV applet of imza's virtual test card: ISO 7816-4 APDU parsing with command
 * and response chaining, the PIV data objects, PIN/PUK checks with retry
 * counters persisted in the card directory, and GENERAL AUTHENTICATE (EVP). */
#include "piv.h"
#include "protocol/proto-hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define CERT_MAX 3072  /* DER certificate file */
#define RESP_MAX 4096  /* whole response before response chaining */
#define CHAIN_MAX 4096 /* accumulated data of a command chain */
#define FILE_MAX 4096  /* card.conf, state */
#define REF_LEN 8      /* PIV PIN/PUK: up to 8 bytes, padded with FF */
#define TRIES_LIMIT 15 /* what SW 63Cx can express */

enum {
	SW_OK = 0x9000,
	SW_MEMORY_FAILURE = 0x6581,
	SW_WRONG_LENGTH = 0x6700,
	SW_CHAINING_UNSUPPORTED = 0x6884,
	SW_SECURITY = 0x6982,
	SW_BLOCKED = 0x6983,
	SW_CONDITIONS = 0x6985,
	SW_WRONG_DATA = 0x6A80,
	SW_NOT_FOUND = 0x6A82,
	SW_WRONG_P1P2 = 0x6A86,
	SW_INS = 0x6D00,
	SW_CLA = 0x6E00,
	SW_RETRIES = 0x63C0,
};

/* SP 800-78-5's identifiers (table 6-2); RSA-1024 is legacy, still found on old cards. */
enum {
	ALG_RSA1024 = 0x06,
	ALG_RSA2048 = 0x07,
	ALG_RSA3072 = 0x05,
	ALG_RSA4096 = 0x16,
	ALG_P256 = 0x11,
	ALG_P384 = 0x14
};

static bool alg_is_rsa(uint8_t alg)
{
	return alg == ALG_RSA1024 || alg == ALG_RSA2048 || alg == ALG_RSA3072 || alg == ALG_RSA4096;
}

static const uint8_t piv_aid[] = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00};

/* Agency code 9999 ("not a federal card"): OpenSC then takes the GUID as serial. */
static const uint8_t fascn[25] = {0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE,
                                  0x73, 0x9D, 0x83, 0x68, 0x58, 0x21, 0x08, 0x42, 0x10,
                                  0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB};

static const struct {
	uint8_t ref;
	uint32_t tag;
	char name[3];
} slot_defs[] = {
        {0x9A, 0x5FC105, "9a"},
        {0x9C, 0x5FC10A, "9c"},
        {0x9D, 0x5FC10B, "9d"},
        {0x9E, 0x5FC101, "9e"},
};
#define SLOT_N (sizeof slot_defs / sizeof slot_defs[0])

struct slot {
	EVP_PKEY *key; /* NULL: empty slot */
	uint8_t alg;
	size_t size;  /* RSA modulus or EC field, bytes */
	uint8_t *obj; /* 53 { 70 cert, 71 CertInfo, FE } */
	size_t obj_len;
};

struct obj {
	uint8_t b[256];
	size_t len;
};

struct piv_card {
	char *dir;
	uint8_t atr[33];
	size_t atr_len;
	uint8_t guid[16];
	char name[126];
	struct slot slot[SLOT_N];
	struct obj apt, discovery, chuid, ccc, keyhist, printed;
	/* failed_verify=keep in card.conf: a wrong PIN leaves the security status as it was, as some
	 * cards do (PIV clears it), so that a host's own reset before its VERIFY can be observed. */
	bool keep_verified;

	/* persistent, in the state file */
	uint8_t pin[REF_LEN], puk[REF_LEN];
	unsigned pin_tries, pin_max, puk_tries, puk_max;
	bool in_memory; /* piv_card_rewind() was called: never write the state file */
	uint8_t loaded_pin[REF_LEN], loaded_puk[REF_LEN];
	unsigned loaded_pin_tries, loaded_puk_tries;

	/* volatile, lost on reset */
	bool selected;
	bool pin_ok;
	bool pin_always; /* single-use right for 9C, set by VERIFY, lost on any other command */
	bool chaining;
	uint8_t chain_hdr[3]; /* INS P1 P2 of the chain */
	size_t chain_len;
	uint8_t chain[CHAIN_MAX];
	size_t resp_len, resp_off; /* pending for GET RESPONSE */
	uint8_t resp[RESP_MAX];
};

struct apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t ne;
	bool has_le;
};

/* ---- bounded writer with sticky error ---- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	bool err;
};

static void wb_bytes(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n > w->cap - w->len) {
		w->err = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void wb_byte(struct wbuf *w, uint8_t b)
{
	wb_bytes(w, &b, 1);
}

static void wb_head(struct wbuf *w, uint32_t tag, size_t n)
{
	if (tag > 0xFFFF)
		wb_byte(w, (uint8_t)(tag >> 16));
	if (tag > 0xFF)
		wb_byte(w, (uint8_t)(tag >> 8));
	wb_byte(w, (uint8_t)tag);
	if (n < 0x80) {
		wb_byte(w, (uint8_t)n);
	} else if (n <= 0xFF) {
		wb_byte(w, 0x81);
		wb_byte(w, (uint8_t)n);
	} else if (n <= 0xFFFF) {
		wb_byte(w, 0x82);
		wb_byte(w, (uint8_t)(n >> 8));
		wb_byte(w, (uint8_t)n);
	} else {
		w->err = true;
	}
}

static void wb_tlv(struct wbuf *w, uint32_t tag, const void *v, size_t n)
{
	wb_head(w, tag, n);
	wb_bytes(w, v, n);
}

static size_t tlv_size(uint32_t tag, size_t n)
{
	size_t t = tag > 0xFFFF ? 3 : tag > 0xFF ? 2 : 1;
	size_t l = n < 0x80 ? 1 : n <= 0xFF ? 2 : 3;
	return t + l + n;
}

/* Wraps what was written since `start` in a TLV with `tag`. */
static void wb_wrap(struct wbuf *w, size_t start, uint32_t tag)
{
	size_t n = w->len - start, head;

	if (w->err)
		return;
	head = tlv_size(tag, n) - n;
	if (head > w->cap - w->len) {
		w->err = true;
		return;
	}
	memmove(w->p + start + head, w->p + start, n);
	w->len = start;
	wb_head(w, tag, n);
	w->len += n;
}

/* ---- BER-TLV reader: tags up to 3 bytes, lengths up to 3 bytes ----
 * Not daemon/card/tlv.c on purpose: the card is the daemon's independent counterpart,
 * so one shared parsing bug cannot hide itself in the tests. */

static int tlv_next(const uint8_t **p, size_t *left, uint32_t *ret_tag, const uint8_t **ret_val,
                    size_t *ret_len)
{
	const uint8_t *q = *p;
	size_t n = *left, len, k;
	uint32_t tag;

	if (n < 2)
		return -EINVAL;
	tag = *q++;
	n--;
	if ((tag & 0x1F) == 0x1F) {
		for (k = 0;; k++) {
			if (n < 1 || k == 2)
				return -EINVAL;
			tag = tag << 8 | *q;
			n--;
			if (!(*q++ & 0x80))
				break;
		}
	}
	if (n < 1)
		return -EINVAL;
	len = *q++;
	n--;
	if (len & 0x80) {
		k = len & 0x7F;
		if (k < 1 || k > 3 || n < k)
			return -EINVAL;
		for (len = 0; k; k--, n--)
			len = len << 8 | *q++;
	}
	if (len > n)
		return -EINVAL;
	*ret_tag = tag;
	*ret_val = q;
	*ret_len = len;
	*p = q + len;
	*left = n - len;
	return 0;
}

/* ---- files ---- */

static int read_file(const char *dir, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len)
{
	char path[4096];
	uint8_t *buf;
	size_t n;
	FILE *f;
	int r;

	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return -ENAMETOOLONG;
	f = fopen(path, "rbe");
	if (!f)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	r = ferror(f) ? -EIO : n > max ? -EFBIG : 0;
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[n] = 0; /* text files are parsed as strings */
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

static int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = 0;
	int hi, lo;

	while (*s) {
		if (*s == ' ' || *s == ':') {
			s++;
			continue;
		}
		hi = proto_hex_digit(s[0]);
		lo = hi < 0 ? -1 : proto_hex_digit(s[1]);
		if (lo < 0 || n == cap)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*ret_len = n;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret_value)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret_value = (unsigned)v;
	return 0;
}

/* A PIN or PUK from the state file: 1 to 8 printable characters, stored FF-padded. */
static int parse_ref(const char *s, uint8_t out[REF_LEN])
{
	size_t n = strlen(s), i;

	if (n < 1 || n > REF_LEN)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return -EINVAL;
	memset(out, 0xFF, REF_LEN);
	memcpy(out, s, n);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* Calls fn for each "key=value" line; blank lines and # comments are skipped. */
static int parse_kv(char *text, int (*fn)(struct piv_card *, const char *, char *), struct piv_card *card)
{
	char *line = text, *next, *eq;
	int r;

	for (; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return -EINVAL;
		*eq = 0;
		r = fn(card, trim(line), trim(eq + 1));
		if (r < 0)
			return r;
	}
	return 0;
}

static int conf_slots(struct piv_card *card, char *v)
{
	char *tok, *save = NULL;
	size_t i;

	for (tok = strtok_r(v, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
		for (i = 0; i < SLOT_N; i++)
			if (strcasecmp(tok, slot_defs[i].name) == 0)
				break;
		if (i == SLOT_N)
			return -EINVAL;
		card->slot[i].alg = 1; /* marks "listed"; the key sets the real id */
	}
	return 0;
}

static int conf_line(struct piv_card *card, const char *k, char *v)
{
	size_t n;

	if (strcmp(k, "atr") == 0) {
		if (hex_decode(v, card->atr, sizeof card->atr, &n) < 0 || n < 2)
			return -EINVAL;
		card->atr_len = n;
	} else if (strcmp(k, "guid") == 0) {
		if (hex_decode(v, card->guid, sizeof card->guid, &n) < 0 || n != sizeof card->guid)
			return -EINVAL;
	} else if (strcmp(k, "slots") == 0) {
		return conf_slots(card, v);
	} else if (strcmp(k, "failed_verify") == 0) {
		if (strcmp(v, "keep") != 0 && strcmp(v, "clear") != 0)
			return -EINVAL;
		card->keep_verified = strcmp(v, "keep") == 0;
	} else if (strcmp(k, "name") == 0) {
		if (strlen(v) >= sizeof card->name)
			return -EINVAL;
		memcpy(card->name, v, strlen(v) + 1);
	}
	return 0; /* unknown keys are for newer generators */
}

static int state_line(struct piv_card *card, const char *k, char *v)
{
	if (strcmp(k, "pin") == 0)
		return parse_ref(v, card->pin);
	if (strcmp(k, "puk") == 0)
		return parse_ref(v, card->puk);
	if (strcmp(k, "pin_tries") == 0)
		return parse_uint(v, TRIES_LIMIT, &card->pin_tries);
	if (strcmp(k, "pin_max") == 0)
		return parse_uint(v, TRIES_LIMIT, &card->pin_max);
	if (strcmp(k, "puk_tries") == 0)
		return parse_uint(v, TRIES_LIMIT, &card->puk_tries);
	if (strcmp(k, "puk_max") == 0)
		return parse_uint(v, TRIES_LIMIT, &card->puk_max);
	return 0;
}

static void ref_string(const uint8_t ref[REF_LEN], char out[REF_LEN + 1])
{
	size_t n = 0;

	while (n < REF_LEN && ref[n] != 0xFF) {
		out[n] = (char)ref[n];
		n++;
	}
	out[n] = 0;
}

/* Like a card's EEPROM, the counters must survive removal (a killed process):
 * a temp file renamed over the old one is atomic for that. */
static int save_state(struct piv_card *card)
{
	char path[4096], tmp[4096], pin[REF_LEN + 1], puk[REF_LEN + 1];
	FILE *f;
	int fd, r = 0;

	if (card->in_memory)
		return 0;
	if (snprintf(path, sizeof path, "%s/state", card->dir) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s/.state.XXXXXX", card->dir) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r;
	}
	ref_string(card->pin, pin);
	ref_string(card->puk, puk);
	fprintf(f, "pin=%s\npuk=%s\npin_tries=%u\npin_max=%u\npuk_tries=%u\npuk_max=%u\n", pin, puk,
	        card->pin_tries, card->pin_max, card->puk_tries, card->puk_max);
	OPENSSL_cleanse(pin, sizeof pin);
	OPENSSL_cleanse(puk, sizeof puk);
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* ---- loading ---- */

static int key_alg(EVP_PKEY *key, uint8_t *ret_alg, size_t *ret_size)
{
	char group[64];
	size_t n = 0;

	if (EVP_PKEY_is_a(key, "RSA")) {
		switch (EVP_PKEY_get_bits(key)) {
		case 1024:
			*ret_alg = ALG_RSA1024;
			break;
		case 2048:
			*ret_alg = ALG_RSA2048;
			break;
		case 3072:
			*ret_alg = ALG_RSA3072;
			break;
		case 4096:
			*ret_alg = ALG_RSA4096;
			break;
		default:
			return -ENOTSUP;
		}
		*ret_size = (size_t)EVP_PKEY_get_bits(key) / 8;
		return 0;
	}
	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &n))
		return -ENOTSUP;
	if (strcmp(group, "prime256v1") == 0) {
		*ret_alg = ALG_P256;
		*ret_size = 32;
	} else if (strcmp(group, "secp384r1") == 0) {
		*ret_alg = ALG_P384;
		*ret_size = 48;
	} else {
		return -ENOTSUP;
	}
	return 0;
}

static int load_slot(struct piv_card *card, size_t i)
{
	struct slot *s = &card->slot[i];
	char path[4096], name[16];
	uint8_t *der = NULL;
	const uint8_t *p;
	size_t der_len = 0;
	X509 *x = NULL;
	BIO *bio;
	struct wbuf w;
	int r;

	if (snprintf(path, sizeof path, "%s/%s.key.pem", card->dir, slot_defs[i].name) >= (int)sizeof path)
		return -ENAMETOOLONG;
	bio = BIO_new_file(path, "r");
	if (!bio)
		return -ENOENT;
	s->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!s->key)
		return -EINVAL;
	r = key_alg(s->key, &s->alg, &s->size);
	if (r < 0)
		return r;

	snprintf(name, sizeof name, "%s.crt.der", slot_defs[i].name);
	r = read_file(card->dir, name, CERT_MAX, &der, &der_len);
	if (r < 0)
		return r;
	p = der;
	x = d2i_X509(NULL, &p, (long)der_len);
	if (!x || p != der + der_len || EVP_PKEY_eq(X509_get0_pubkey(x), s->key) != 1) {
		r = -EINVAL; /* a certificate that is not the key's would mislead every test */
		goto out;
	}
	s->obj_len = tlv_size(0x53, tlv_size(0x70, der_len) + 3 + 2);
	s->obj = malloc(s->obj_len);
	if (!s->obj) {
		r = -ENOMEM;
		goto out;
	}
	w = (struct wbuf){.p = s->obj, .cap = s->obj_len};
	wb_head(&w, 0x53, tlv_size(0x70, der_len) + 3 + 2);
	wb_tlv(&w, 0x70, der, der_len);
	wb_tlv(&w, 0x71, "\0", 1); /* CertInfo: not compressed */
	wb_tlv(&w, 0xFE, NULL, 0);
	r = w.err || w.len != s->obj_len ? -EINVAL : 0;
out:
	X509_free(x);
	free(der);
	return r;
}

static int build_objects(struct piv_card *card)
{
	static const uint8_t pin_policy[] = {0x40, 0x00}; /* PIV PIN only, not the global PIN */
	static const uint8_t algs[] = {0x80,        0x01,        ALG_RSA1024, 0x80,        0x01,
	                               ALG_RSA2048, 0x80,        0x01,        ALG_RSA3072, 0x80,
	                               0x01,        ALG_RSA4096, 0x80,        0x01,        ALG_P256,
	                               0x80,        0x01,        ALG_P384,    0x06,        0x00};
	static const char label[] = "imza virtual PIV";
	uint8_t card_id[21] = {0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x01};
	char serial[9];
	struct wbuf w;
	bool err = false;
	size_t start;

	w = (struct wbuf){.p = card->apt.b, .cap = sizeof card->apt.b};
	wb_tlv(&w, 0x4F, piv_aid + 5, sizeof piv_aid - 5);
	start = w.len;
	wb_tlv(&w, 0x4F, piv_aid, 5);
	wb_wrap(&w, start, 0x79);
	wb_tlv(&w, 0x50, label, strlen(label));
	wb_tlv(&w, 0xAC, algs, sizeof algs);
	wb_wrap(&w, 0, 0x61);
	card->apt.len = w.len;
	err |= w.err;

	w = (struct wbuf){.p = card->discovery.b, .cap = sizeof card->discovery.b};
	wb_tlv(&w, 0x4F, piv_aid, sizeof piv_aid);
	wb_tlv(&w, 0x5F2F, pin_policy, sizeof pin_policy);
	wb_wrap(&w, 0, 0x7E);
	card->discovery.len = w.len;
	err |= w.err;

	w = (struct wbuf){.p = card->chuid.b, .cap = sizeof card->chuid.b};
	wb_tlv(&w, 0x30, fascn, sizeof fascn);
	wb_tlv(&w, 0x34, card->guid, sizeof card->guid);
	wb_tlv(&w, 0x35, "20301231", 8);
	wb_tlv(&w, 0x3E, NULL, 0);
	wb_tlv(&w, 0xFE, NULL, 0);
	wb_wrap(&w, 0, 0x53);
	card->chuid.len = w.len;
	err |= w.err;

	memcpy(card_id + 7, card->guid, 14);
	w = (struct wbuf){.p = card->ccc.b, .cap = sizeof card->ccc.b};
	wb_tlv(&w, 0xF0, card_id, sizeof card_id);
	wb_tlv(&w, 0xF1, "\x21", 1);
	wb_tlv(&w, 0xF2, "\x21", 1);
	wb_tlv(&w, 0xF3, NULL, 0);
	wb_tlv(&w, 0xF4, "\x00", 1);
	wb_tlv(&w, 0xF5, "\x10", 1);
	wb_tlv(&w, 0xF6, NULL, 0);
	wb_tlv(&w, 0xF7, NULL, 0);
	wb_tlv(&w, 0xFA, NULL, 0);
	wb_tlv(&w, 0xFB, NULL, 0);
	wb_tlv(&w, 0xFC, NULL, 0);
	wb_tlv(&w, 0xFD, NULL, 0);
	wb_tlv(&w, 0xFE, NULL, 0);
	wb_wrap(&w, 0, 0x53);
	card->ccc.len = w.len;
	err |= w.err;

	w = (struct wbuf){.p = card->keyhist.b, .cap = sizeof card->keyhist.b};
	wb_tlv(&w, 0xC1, "\x00", 1); /* no retired keys with on-card certificates */
	wb_tlv(&w, 0xC2, "\x00", 1);
	wb_tlv(&w, 0xFE, NULL, 0);
	wb_wrap(&w, 0, 0x53);
	card->keyhist.len = w.len;
	err |= w.err;

	snprintf(serial, sizeof serial, "%02X%02X%02X%02X", card->guid[12], card->guid[13], card->guid[14],
	         card->guid[15]);
	w = (struct wbuf){.p = card->printed.b, .cap = sizeof card->printed.b};
	wb_tlv(&w, 0x01, card->name, strlen(card->name));
	wb_tlv(&w, 0x02, "IMZA TEST", 9);
	wb_tlv(&w, 0x04, "2030DEC31", 9);
	wb_tlv(&w, 0x05, serial, 8);
	wb_tlv(&w, 0x06, "IMZA", 4);
	wb_tlv(&w, 0xFE, NULL, 0);
	wb_wrap(&w, 0, 0x53);
	card->printed.len = w.len;
	err |= w.err;

	return err ? -EINVAL : 0;
}

void piv_card_free(struct piv_card *card)
{
	size_t i;

	if (!card)
		return;
	for (i = 0; i < SLOT_N; i++) {
		EVP_PKEY_free(card->slot[i].key);
		free(card->slot[i].obj);
	}
	free(card->dir);
	OPENSSL_cleanse(card, sizeof *card);
	free(card);
}

int piv_card_load(struct piv_card **ret_card, const char *state_dir)
{
	struct piv_card *card;
	uint8_t *text = NULL;
	size_t n, i;
	int r;

	if (!ret_card || !state_dir)
		return -EINVAL;
	card = calloc(1, sizeof *card);
	if (!card)
		return -ENOMEM;
	card->dir = strdup(state_dir);
	if (!card->dir) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(card->name, "IMZA TEST", sizeof "IMZA TEST");

	r = read_file(state_dir, "card.conf", FILE_MAX, &text, &n);
	if (r < 0)
		goto fail;
	r = parse_kv((char *)text, conf_line, card);
	free(text);
	text = NULL;
	if (r < 0)
		goto fail;
	if (card->atr_len == 0) {
		r = -EINVAL;
		goto fail;
	}

	card->pin_max = card->puk_max = 3;
	r = read_file(state_dir, "state", FILE_MAX, &text, &n);
	if (r < 0)
		goto fail;
	r = parse_kv((char *)text, state_line, card);
	OPENSSL_cleanse(text, n);
	free(text);
	if (r < 0)
		goto fail;
	if (card->pin[0] == 0 || card->puk[0] == 0 || card->pin_tries > card->pin_max ||
	    card->puk_tries > card->puk_max) {
		r = -EINVAL;
		goto fail;
	}

	for (i = 0; i < SLOT_N; i++) {
		if (!card->slot[i].alg)
			continue;
		r = load_slot(card, i);
		if (r < 0)
			goto fail;
	}
	r = build_objects(card);
	if (r < 0)
		goto fail;
	memcpy(card->loaded_pin, card->pin, REF_LEN);
	memcpy(card->loaded_puk, card->puk, REF_LEN);
	card->loaded_pin_tries = card->pin_tries;
	card->loaded_puk_tries = card->puk_tries;
	piv_card_power(card, 1);
	*ret_card = card;
	return 0;
fail:
	piv_card_free(card);
	return r;
}

int piv_card_atr(const struct piv_card *card, const uint8_t **ret_atr, size_t *ret_len)
{
	if (!card)
		return -EINVAL;
	*ret_atr = card->atr;
	*ret_len = card->atr_len;
	return 0;
}

void piv_card_power(struct piv_card *card, int on)
{
	if (!card)
		return;
	card->selected = on != 0; /* PIV is the default application */
	card->pin_ok = false;
	card->pin_always = false;
	card->chaining = false;
	card->chain_len = 0;
	card->resp_len = card->resp_off = 0;
}

void piv_card_rewind(struct piv_card *card)
{
	if (!card)
		return;
	card->in_memory = true;
	memcpy(card->pin, card->loaded_pin, REF_LEN);
	memcpy(card->puk, card->loaded_puk, REF_LEN);
	card->pin_tries = card->loaded_pin_tries;
	card->puk_tries = card->loaded_puk_tries;
	piv_card_power(card, 1);
}

/* ---- APDU framing ---- */

/* ISO 7816-4 cases 1 to 4, short and extended length. */
static int apdu_parse(const uint8_t *b, size_t n, struct apdu *ret_apdu)
{
	struct apdu a;
	size_t x;

	if (n < 4)
		return -EINVAL;
	a = (struct apdu){.cla = b[0], .ins = b[1], .p1 = b[2], .p2 = b[3]};
	if (n == 5) {
		a.ne = b[4] ? b[4] : 256;
		a.has_le = true;
	} else if (n > 5 && b[4] != 0) {
		a.lc = b[4];
		a.data = b + 5;
		if (n == 6 + a.lc) {
			a.ne = b[n - 1] ? b[n - 1] : 256;
			a.has_le = true;
		} else if (n != 5 + a.lc) {
			return -EINVAL;
		}
	} else if (n == 7) {
		x = (size_t)b[5] << 8 | b[6];
		a.ne = x ? x : 65536;
		a.has_le = true;
	} else if (n > 7) {
		x = (size_t)b[5] << 8 | b[6];
		if (x == 0)
			return -EINVAL;
		a.lc = x;
		a.data = b + 7;
		if (n == 9 + x) {
			x = (size_t)b[n - 2] << 8 | b[n - 1];
			a.ne = x ? x : 65536;
			a.has_le = true;
		} else if (n != 7 + x) {
			return -EINVAL;
		}
	} else if (n != 4) {
		return -EINVAL;
	}
	*ret_apdu = a;
	return 0;
}

static size_t put_sw(uint8_t *r, uint16_t sw)
{
	r[0] = (uint8_t)(sw >> 8);
	r[1] = (uint8_t)sw;
	return 2;
}

/* Sends what the caller asked for of the pending response; 61xx announces the rest. */
static size_t deliver(struct piv_card *card, size_t ne, uint8_t *r, size_t rcap)
{
	size_t left = card->resp_len - card->resp_off, n = left;

	if (n > ne)
		n = ne;
	if (n > rcap - 2)
		n = rcap - 2;
	memcpy(r, card->resp + card->resp_off, n);
	card->resp_off += n;
	left -= n;
	if (left == 0) {
		card->resp_len = card->resp_off = 0;
		return n + put_sw(r + n, SW_OK);
	}
	return n + put_sw(r + n, (uint16_t)(0x6100 | (left > 0xFF ? 0 : left)));
}

static uint16_t set_resp(struct piv_card *card, const uint8_t *data, size_t n)
{
	if (n > sizeof card->resp)
		return SW_MEMORY_FAILURE;
	memcpy(card->resp, data, n);
	card->resp_len = n;
	return SW_OK;
}

/* ---- commands ---- */

static uint16_t cmd_select(struct piv_card *card, const struct apdu *a)
{
	if (a->p1 != 0x04 || (a->p2 != 0x00 && a->p2 != 0x0C))
		return SW_WRONG_P1P2;
	if (a->lc < 5 || a->lc > sizeof piv_aid || memcmp(a->data, piv_aid, a->lc) != 0) {
		/* another application now: PIV and its security status are gone */
		card->selected = false;
		card->pin_ok = false;
		return SW_NOT_FOUND;
	}
	card->selected = true;
	return a->p2 == 0x0C ? SW_OK : set_resp(card, card->apt.b, card->apt.len);
}

static struct slot *slot_by_tag(struct piv_card *card, uint32_t tag)
{
	size_t i;

	for (i = 0; i < SLOT_N; i++)
		if (slot_defs[i].tag == tag)
			return &card->slot[i];
	return NULL;
}

static struct slot *slot_by_ref(struct piv_card *card, uint8_t ref)
{
	size_t i;

	for (i = 0; i < SLOT_N; i++)
		if (slot_defs[i].ref == ref)
			return card->slot[i].key ? &card->slot[i] : NULL;
	return NULL;
}

static uint16_t cmd_get_data(struct piv_card *card, const struct apdu *a)
{
	const uint8_t *p = a->data, *v;
	size_t left = a->lc, n, i;
	uint32_t tag, id = 0;
	const struct obj *o;
	struct slot *s;

	if (a->p1 != 0x3F || a->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (tlv_next(&p, &left, &tag, &v, &n) < 0 || tag != 0x5C || left != 0 || n < 1 || n > 3)
		return SW_WRONG_DATA;
	for (i = 0; i < n; i++)
		id = id << 8 | v[i];
	switch (id) {
	case 0x7E:
		o = &card->discovery;
		break;
	case 0x5FC102:
		o = &card->chuid;
		break;
	case 0x5FC107:
		o = &card->ccc;
		break;
	case 0x5FC10C:
		o = &card->keyhist;
		break;
	case 0x5FC109:
		if (!card->pin_ok)
			return SW_SECURITY;
		o = &card->printed;
		break;
	default:
		s = slot_by_tag(card, id);
		if (!s || !s->key)
			return SW_NOT_FOUND;
		return set_resp(card, s->obj, s->obj_len);
	}
	return set_resp(card, o->b, o->len);
}

static uint16_t retries_sw(unsigned tries)
{
	return tries ? (uint16_t)(SW_RETRIES | tries) : SW_BLOCKED;
}

/* Checks 8 bytes against the PIN (ref 0x80) or PUK (0x81), counting failures. */
static uint16_t check_ref(struct piv_card *card, uint8_t ref, const uint8_t *data)
{
	const uint8_t *want = ref == 0x80 ? card->pin : card->puk;
	unsigned *tries = ref == 0x80 ? &card->pin_tries : &card->puk_tries;
	unsigned max = ref == 0x80 ? card->pin_max : card->puk_max;

	if (*tries == 0)
		return SW_BLOCKED;
	if (CRYPTO_memcmp(data, want, REF_LEN) != 0) {
		(*tries)--;
		if (ref == 0x80 && !card->keep_verified)
			card->pin_ok = false;
		if (save_state(card) < 0)
			return SW_MEMORY_FAILURE;
		/* the try that uses up the counter already reports "blocked" */
		return retries_sw(*tries);
	}
	if (*tries != max) {
		*tries = max;
		if (save_state(card) < 0)
			return SW_MEMORY_FAILURE;
	}
	return SW_OK;
}

/* New PIN or PUK: 6 to 8 digits, then FF padding (FIPS 201). */
static bool ref_format_ok(const uint8_t *p)
{
	size_t i = 0;

	while (i < REF_LEN && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i < 6)
		return false;
	for (; i < REF_LEN; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

static uint16_t cmd_verify(struct piv_card *card, const struct apdu *a)
{
	uint16_t sw;

	if (a->p2 != 0x80 || (a->p1 != 0x00 && a->p1 != 0xFF))
		return SW_WRONG_P1P2;
	if (a->p1 == 0xFF) {
		if (a->lc)
			return SW_WRONG_LENGTH;
		card->pin_ok = false;
		return SW_OK;
	}
	if (a->lc == 0)
		return card->pin_ok ? SW_OK : retries_sw(card->pin_tries);
	if (a->lc != REF_LEN)
		return SW_WRONG_LENGTH;
	sw = check_ref(card, 0x80, a->data);
	if (sw == SW_OK) {
		card->pin_ok = true;
		card->pin_always = true;
	}
	return sw;
}

static uint16_t cmd_change_ref(struct piv_card *card, const struct apdu *a)
{
	uint16_t sw;

	if (a->p1 != 0x00 || (a->p2 != 0x80 && a->p2 != 0x81))
		return SW_WRONG_P1P2;
	if (a->lc != 2 * REF_LEN)
		return SW_WRONG_LENGTH;
	if (!ref_format_ok(a->data + REF_LEN))
		return SW_WRONG_DATA;
	sw = check_ref(card, a->p2, a->data);
	if (sw != SW_OK)
		return sw;
	memcpy(a->p2 == 0x80 ? card->pin : card->puk, a->data + REF_LEN, REF_LEN);
	if (save_state(card) < 0)
		return SW_MEMORY_FAILURE;
	if (a->p2 == 0x80)
		card->pin_ok = true; /* SP 800-73-4 3.2.2: success sets the security status */
	return SW_OK;
}

static uint16_t cmd_reset_retry(struct piv_card *card, const struct apdu *a)
{
	uint16_t sw;

	if (a->p1 != 0x00 || a->p2 != 0x80)
		return SW_WRONG_P1P2;
	if (a->lc != 2 * REF_LEN)
		return SW_WRONG_LENGTH;
	if (!ref_format_ok(a->data + REF_LEN))
		return SW_WRONG_DATA;
	sw = check_ref(card, 0x81, a->data);
	if (sw != SW_OK)
		return sw;
	memcpy(card->pin, a->data + REF_LEN, REF_LEN);
	card->pin_tries = card->pin_max;
	card->pin_ok = false;
	return save_state(card) < 0 ? SW_MEMORY_FAILURE : SW_OK;
}

/* Raw RSA: the host pads for signatures and unpads after decryption. */
static int op_rsa(EVP_PKEY *key, const uint8_t *in, size_t n, uint8_t *out, size_t *outlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int r = -EINVAL;

	if (ctx && EVP_PKEY_decrypt_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0 &&
	    EVP_PKEY_decrypt(ctx, out, outlen, in, n) > 0)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* ECDSA over a hash the size of the field: longer ones are truncated and
 * shorter ones left-padded with zeros, which keeps their integer value. */
static int op_ecdsa(const struct slot *s, const uint8_t *in, size_t n, uint8_t *out, size_t *outlen)
{
	uint8_t h[48] = {0};
	EVP_PKEY_CTX *ctx;
	int r = -EINVAL;

	if (n == 0 || s->size > sizeof h)
		return -EINVAL;
	if (n >= s->size)
		memcpy(h, in, s->size);
	else
		memcpy(h + s->size - n, in, n);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL);
	if (ctx && EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_sign(ctx, out, outlen, h, s->size) > 0)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int op_ecdh(const struct slot *s, const uint8_t *pt, size_t n, uint8_t *out, size_t *outlen)
{
	char group[64];
	size_t glen = 0;
	EVP_PKEY_CTX *pctx = NULL, *ctx = NULL;
	EVP_PKEY *peer = NULL;
	OSSL_PARAM params[3];
	int r = -EINVAL;

	if (n != 1 + 2 * s->size || pt[0] != 0x04 ||
	    !EVP_PKEY_get_utf8_string_param(s->key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen))
		return -EINVAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, n);
	params[2] = OSSL_PARAM_construct_end();
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &peer, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->key, NULL);
	if (ctx && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) > 0 &&
	    EVP_PKEY_derive(ctx, out, outlen) > 0)
		r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(peer);
	return r;
}

/* 7C { 81 00 } to the management key reference: a random challenge, no auth needed. */
static uint16_t ga_challenge(struct piv_card *card, const struct apdu *a, const uint8_t *body, size_t blen)
{
	uint8_t rnd[16], buf[32];
	size_t n;
	struct wbuf w = {.p = buf, .cap = sizeof buf};

	if (a->p1 == 0x00 || a->p1 == 0x03)
		n = 8; /* 3DES block */
	else if (a->p1 == 0x08 || a->p1 == 0x0A || a->p1 == 0x0C)
		n = 16; /* AES block */
	else
		return SW_WRONG_P1P2;
	if (blen != 2 || body[0] != 0x81 || body[1] != 0x00)
		return SW_WRONG_DATA;
	if (RAND_bytes(rnd, (int)n) != 1)
		return SW_MEMORY_FAILURE;
	wb_head(&w, 0x7C, tlv_size(0x81, n));
	wb_tlv(&w, 0x81, rnd, n);
	return set_resp(card, buf, w.len);
}

static uint16_t cmd_general_auth(struct piv_card *card, const struct apdu *a, bool always)
{
	const uint8_t *p = a->data, *body, *v, *in = NULL;
	size_t left = a->lc, blen, vlen, n = 0, outlen;
	uint8_t out[512], buf[520];
	uint32_t tag, op = 0;
	bool want = false;
	struct slot *s;
	struct wbuf w = {.p = buf, .cap = sizeof buf};
	int r;

	if (tlv_next(&p, &left, &tag, &body, &blen) < 0 || tag != 0x7C || left != 0)
		return SW_WRONG_DATA;
	if (a->p2 == 0x9B)
		return ga_challenge(card, a, body, blen);
	s = slot_by_ref(card, a->p2);
	if (!s || a->p1 != s->alg)
		return SW_WRONG_P1P2;
	if ((a->p2 == 0x9A || a->p2 == 0x9D) && !card->pin_ok)
		return SW_SECURITY;
	if (a->p2 == 0x9C && !(card->pin_ok && always))
		return SW_SECURITY;
	while (blen) {
		if (tlv_next(&body, &blen, &tag, &v, &vlen) < 0)
			return SW_WRONG_DATA;
		if (tag == 0x82 && vlen == 0 && !want) {
			want = true;
		} else if ((tag == 0x81 || tag == 0x85) && !op) {
			op = tag;
			in = v;
			n = vlen;
		} else {
			return SW_WRONG_DATA;
		}
	}
	if (!want || !op)
		return SW_WRONG_DATA;

	outlen = sizeof out;
	if (alg_is_rsa(s->alg))
		r = op == 0x81 && n == s->size ? op_rsa(s->key, in, n, out, &outlen) : -EINVAL;
	else if (op == 0x81)
		r = op_ecdsa(s, in, n, out, &outlen);
	else
		r = op_ecdh(s, in, n, out, &outlen);
	if (r < 0)
		return SW_WRONG_DATA;
	wb_head(&w, 0x7C, tlv_size(0x82, outlen));
	wb_tlv(&w, 0x82, out, outlen);
	OPENSSL_cleanse(out, sizeof out);
	if (w.err)
		return SW_MEMORY_FAILURE;
	return set_resp(card, buf, w.len);
}

static uint16_t dispatch(struct piv_card *card, const struct apdu *a, bool always)
{
	if (a->ins == 0xA4)
		return cmd_select(card, a);
	if (!card->selected)
		return SW_INS;
	switch (a->ins) {
	case 0xCB:
		return cmd_get_data(card, a);
	case 0x20:
		return cmd_verify(card, a);
	case 0x24:
		return cmd_change_ref(card, a);
	case 0x2C:
		return cmd_reset_retry(card, a);
	case 0x87:
		return cmd_general_auth(card, a, always);
	case 0x47:                  /* GENERATE ASYMMETRIC KEY PAIR */
	case 0xDB:                  /* PUT DATA */
		return SW_SECURITY; /* both need the management key, which this card never accepts */
	default:
		return SW_INS;
	}
}

static size_t get_response(struct piv_card *card, const struct apdu *a, uint8_t *r, size_t rcap)
{
	uint16_t sw;

	if (a->cla & 0x10)
		sw = SW_CHAINING_UNSUPPORTED;
	else if (a->p1 || a->p2)
		sw = SW_WRONG_P1P2;
	else if (a->lc)
		sw = SW_WRONG_LENGTH;
	else if (card->resp_len == 0)
		sw = SW_CONDITIONS;
	else
		return deliver(card, a->has_le ? a->ne : 256, r, rcap);
	card->resp_len = card->resp_off = 0;
	card->pin_always = false;
	return put_sw(r, sw);
}

/* Adds one link of a command chain (CLA bit 0x10); the last link runs the command. */
static uint16_t chain_link(struct piv_card *card, const struct apdu *a)
{
	if (!card->chaining || card->chain_hdr[0] != a->ins || card->chain_hdr[1] != a->p1 ||
	    card->chain_hdr[2] != a->p2) {
		card->chaining = true;
		card->chain_hdr[0] = a->ins;
		card->chain_hdr[1] = a->p1;
		card->chain_hdr[2] = a->p2;
		card->chain_len = 0;
	}
	if (a->lc > sizeof card->chain - card->chain_len) {
		card->chaining = false;
		card->chain_len = 0;
		return SW_WRONG_LENGTH;
	}
	if (a->lc)
		memcpy(card->chain + card->chain_len, a->data, a->lc);
	card->chain_len += a->lc;
	return SW_OK;
}

size_t piv_card_apdu(struct piv_card *card, const uint8_t *capdu, size_t len, uint8_t *rapdu, size_t rcap)
{
	struct apdu a;
	uint16_t sw;
	bool always;

	if (!card || !rapdu || rcap < 2)
		return 0;
	if (!capdu)
		len = 0;
	if (len < 4 || (capdu[0] & ~0x10) != 0 || apdu_parse(capdu, len, &a) < 0) {
		card->resp_len = card->resp_off = 0;
		card->pin_always = false;
		card->chaining = false;
		return put_sw(rapdu, len >= 4 && (capdu[0] & ~0x10) != 0 ? SW_CLA : SW_WRONG_LENGTH);
	}
	if (a.ins == 0xC0)
		return get_response(card, &a, rapdu, rcap);

	card->resp_len = card->resp_off = 0;
	always = card->pin_always;
	card->pin_always = false;
	if (a.cla & 0x10) {
		sw = chain_link(card, &a);
		/* the links of a GENERAL AUTHENTICATE are one command: keep the 9C right */
		if (sw == SW_OK && a.ins == 0x87)
			card->pin_always = always;
		return put_sw(rapdu, sw);
	}
	if (card->chaining) {
		card->chaining = false;
		if (card->chain_hdr[0] == a.ins && card->chain_hdr[1] == a.p1 && card->chain_hdr[2] == a.p2) {
			if (a.lc > sizeof card->chain - card->chain_len) {
				card->chain_len = 0;
				return put_sw(rapdu, SW_WRONG_LENGTH);
			}
			if (a.lc)
				memcpy(card->chain + card->chain_len, a.data, a.lc);
			a.data = card->chain;
			a.lc = card->chain_len + a.lc;
		}
		card->chain_len = 0;
	}
	sw = dispatch(card, &a, always);
	if (sw != SW_OK || card->resp_len == 0) {
		card->resp_len = 0;
		return put_sw(rapdu, sw);
	}
	card->resp_off = 0;
	return deliver(card, a.has_le ? a.ne : 0, rapdu, rcap);
}

/* ---- logging ---- */

int piv_log_hex(const uint8_t *buf, size_t len, bool is_command, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, mask_from = len, mask_to = len;
	struct apdu a;

	if (!out || cap < 2 * len + 1 || (len && !buf))
		return -ENOBUFS;
	if (is_command && len > 4 && (buf[1] == 0x20 || buf[1] == 0x24 || buf[1] == 0x2C)) {
		/* PINs never reach a log: mask the data field, or all past the
		 * header when the length fields do not parse */
		if (apdu_parse(buf, len, &a) < 0) {
			mask_from = 4;
		} else if (a.lc) {
			mask_from = (size_t)(a.data - buf);
			mask_to = mask_from + a.lc;
		}
	}
	for (i = 0; i < len; i++) {
		bool masked = i >= mask_from && i < mask_to;
		out[2 * i] = masked ? '*' : hex[buf[i] >> 4];
		out[2 * i + 1] = masked ? '*' : hex[buf[i] & 0xF];
	}
	out[2 * len] = 0;
	return 0;
}
