/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PIV driver (see piv.h). Object sizes and template shapes come from the card; each is checked before
 * use, and a card that answers outside the standard gets -EPROTO, never a crash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "daemon/card/card.h"
#include "daemon/card/piv.h"
#include "daemon/card/tlv.h"

static const uint8_t piv_aid[] = {0xA0, 0x00, 0x00, 0x03, 0x08};

const struct piv_slot piv_slots[4] = {
        {0x9A, 0x5FC105, 0x01, false, true, "PIV AUTH key", "Certificate for PIV Authentication"},
        {0x9C, 0x5FC10A, 0x02, true, true, "SIGN key", "Certificate for Digital Signature"},
        {0x9D, 0x5FC10B, 0x03, false, true, "KEY MAN key", "Certificate for Key Management"},
        {0x9E, 0x5FC101, 0x04, false, false, "CARD AUTH key", "Certificate for Card Authentication"},
};

const struct piv_slot *piv_slot_by_keyref(uint8_t keyref)
{
	for (size_t i = 0; i < sizeof(piv_slots) / sizeof(piv_slots[0]); i++)
		if (piv_slots[i].keyref == keyref)
			return &piv_slots[i];
	return NULL;
}

static int sw_to_err(uint16_t sw)
{
	if (sw == 0x9000)
		return 0;
	if (sw == 0x6A82)
		return PIV_E_NOT_FOUND;
	if (sw == 0x6982)
		return PIV_E_NOT_LOGGED_IN;
	if (sw == 0x6983 || sw == 0x63C0)
		return PIV_E_PIN_LOCKED;
	if ((sw & 0xFFF0) == 0x63C0)
		return PIV_E_PIN_INCORRECT;
	return -EIO;
}

int piv_select(struct apdu_transport *t)
{
	uint8_t resp[256];
	size_t len;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0xA4, .p1 = 0x04, .data = piv_aid, .lc = sizeof(piv_aid), .le = 256};
	int r = apdu_exchange(t, &c, resp, sizeof(resp), &len, &sw);

	if (r < 0)
		return r;
	return sw_to_err(sw);
}

#define OBJECT_BUF_MAX (PIV_OBJECT_MAX + 16)

static int get_object_in(struct apdu_transport *t, uint32_t tag, uint8_t *buf, uint8_t *out, size_t cap,
                         size_t *ret_len)
{
	uint8_t q[5] = {0x5C, 0x03, (uint8_t)(tag >> 16), (uint8_t)(tag >> 8), (uint8_t)tag};
	struct apdu_cmd c = {.ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .data = q, .lc = 5, .le = APDU_LE_MAX};
	const uint8_t *p = buf;
	size_t len, left;
	struct tlv obj;
	uint16_t sw;
	int r;

	if (tag <= 0xFF) {
		/* One-byte tags (7E Discovery, 7F61 BIT group is two bytes) are asked for as such. */
		q[1] = 0x01;
		q[2] = (uint8_t)tag;
		c.lc = 3;
	}
	r = apdu_exchange(t, &c, buf, OBJECT_BUF_MAX, &len, &sw);
	if (r < 0)
		return r;
	r = sw_to_err(sw);
	if (r < 0)
		return r;
	left = len;
	if (tlv_next(&p, &left, &obj) < 0 || (tag > 0xFF && obj.tag != 0x53) ||
	    (tag <= 0xFF && obj.tag != tag))
		return -EPROTO;
	if (obj.len > cap)
		return -EMSGSIZE;
	memcpy(out, obj.value, obj.len);
	*ret_len = obj.len;
	return 0;
}

/* In heap rather than a buffer per thread: see apdu.c's exchange. */
int piv_get_object(struct apdu_transport *t, uint32_t tag, uint8_t *out, size_t cap, size_t *ret_len)
{
	uint8_t *buf = malloc(OBJECT_BUF_MAX);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	r = get_object_in(t, tag, buf, out, cap, ret_len);
	explicit_bzero(buf, OBJECT_BUF_MAX);
	free(buf);
	return r;
}

int piv_read_guid(struct apdu_transport *t, uint8_t ret_guid[PIV_GUID_LEN])
{
	uint8_t chuid[PIV_OBJECT_MAX];
	struct tlv guid;
	size_t len;
	int r = piv_get_object(t, 0x5FC102, chuid, sizeof(chuid), &len);

	if (r < 0)
		return r;
	if (tlv_find(chuid, len, 0x34, &guid) < 0 || guid.len != PIV_GUID_LEN)
		return -EPROTO;
	memcpy(ret_guid, guid.value, PIV_GUID_LEN);
	return 0;
}

int piv_read_cert(struct apdu_transport *t, const struct piv_slot *slot, uint8_t *out, size_t cap,
                  size_t *ret_len)
{
	uint8_t obj[PIV_OBJECT_MAX];
	struct tlv cert, info;
	size_t len;
	int r = piv_get_object(t, slot->cert_tag, obj, sizeof(obj), &len);

	if (r < 0)
		return r;
	if (len == 0)
		return PIV_E_NOT_FOUND;
	if (tlv_find(obj, len, 0x70, &cert) < 0 || cert.len == 0)
		return -EPROTO;
	/* CertInfo bit 0 set means gzip-compressed: not something this driver accepts. */
	if (tlv_find(obj, len, 0x71, &info) == 0 && info.len == 1 && (info.value[0] & 0x01))
		return -EOPNOTSUPP;
	if (cert.len > cap)
		return -EMSGSIZE;
	memcpy(out, cert.value, cert.len);
	*ret_len = cert.len;
	return 0;
}

/* Sends c, whose data is the secret buf (len bytes), wipes buf whatever happens, and reads the answer: a
 * wrong or blocked value gives the tries left in *ret_tries; *ret_sw is the status word. */
static int exchange_secret(struct apdu_transport *t, const struct apdu_cmd *c, uint8_t *buf, size_t len,
                           int *ret_tries, uint16_t *ret_sw)
{
	uint8_t resp[8];
	size_t rlen;
	uint16_t sw = 0;
	int r = apdu_exchange(t, c, resp, sizeof(resp), &rlen, &sw);

	explicit_bzero(buf, len);
	*ret_sw = sw;
	if (r < 0)
		return r;
	r = sw_to_err(sw);
	if (r == PIV_E_PIN_INCORRECT || r == PIV_E_PIN_LOCKED)
		*ret_tries = (sw & 0xFFF0) == 0x63C0 ? (sw & 0x0F) : 0;
	return r;
}

int piv_verify(struct apdu_transport *t, const uint8_t *pin, size_t len, int *ret_tries)
{
	uint8_t buf[PIV_PIN_MAX];
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x20, .p2 = PIV_PIN_REF, .data = buf, .lc = PIV_PIN_MAX};

	if (len == 0 || len > PIV_PIN_MAX)
		return -EINVAL;
	memset(buf, 0xFF, sizeof(buf));
	memcpy(buf, pin, len);
	return exchange_secret(t, &c, buf, sizeof(buf), ret_tries, &sw);
}

/* CHANGE REFERENCE DATA (ref 80: the PIN, 81: the PUK) and RESET RETRY COUNTER (the PIN, with the PUK):
 * both carry two values of 8 bytes, each padded with FF (SP 800-73-4 §3.2.2, §3.2.3). */
static int piv_two_refs(struct apdu_transport *t, uint8_t ins, uint8_t ref, const uint8_t *a, size_t alen,
                        const uint8_t *b, size_t blen, int *ret_tries)
{
	uint8_t buf[2 * PIV_PIN_MAX];
	uint16_t sw;
	struct apdu_cmd c = {.ins = ins, .p2 = ref, .data = buf, .lc = sizeof(buf)};
	int r;

	if (alen == 0 || alen > PIV_PIN_MAX || blen == 0 || blen > PIV_PIN_MAX)
		return -EINVAL;
	memset(buf, 0xFF, sizeof(buf));
	memcpy(buf, a, alen);
	memcpy(buf + PIV_PIN_MAX, b, blen);
	r = exchange_secret(t, &c, buf, sizeof(buf), ret_tries, &sw);
	/* 6A80: the card refuses the new value's format (a check of ours let it through). */
	if (sw == 0x6A80)
		r = -ERANGE;
	return r;
}

int piv_change_reference(struct apdu_transport *t, uint8_t ref, const uint8_t *old, size_t oldlen,
                         const uint8_t *new, size_t newlen, int *ret_tries)
{
	if (ref != PIV_PIN_REF && ref != PIV_PUK_REF)
		return -EINVAL;
	return piv_two_refs(t, 0x24, ref, old, oldlen, new, newlen, ret_tries);
}

int piv_reset_retry(struct apdu_transport *t, const uint8_t *puk, size_t puklen, const uint8_t *pin,
                    size_t pinlen, int *ret_tries)
{
	return piv_two_refs(t, 0x2C, PIV_PIN_REF, puk, puklen, pin, pinlen, ret_tries);
}

int piv_pin_status(struct apdu_transport *t, bool *ret_verified, int *ret_tries)
{
	uint8_t resp[8];
	size_t rlen;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x20, .p2 = PIV_PIN_REF};
	int r = apdu_exchange(t, &c, resp, sizeof(resp), &rlen, &sw);

	if (r < 0)
		return r;
	if (sw == 0x9000) {
		*ret_verified = true;
		*ret_tries = -1;
		return 0;
	}
	if ((sw & 0xFFF0) == 0x63C0 || sw == 0x6983) {
		*ret_verified = false;
		*ret_tries = sw == 0x6983 ? 0 : (sw & 0x0F);
		return 0;
	}
	return -EIO;
}

int piv_reset_security(struct apdu_transport *t)
{
	uint8_t resp[8];
	size_t rlen;
	uint16_t sw;
	struct apdu_cmd c = {.ins = 0x20, .p1 = 0xFF, .p2 = PIV_PIN_REF};
	int r = apdu_exchange(t, &c, resp, sizeof(resp), &rlen, &sw);

	return r < 0 ? r : sw_to_err(sw);
}

int piv_general_auth(struct apdu_transport *t, uint8_t alg, uint8_t keyref, const uint8_t *in, size_t inlen,
                     uint8_t *out, size_t cap, size_t *ret_len)
{
	return piv_general_auth_tag(t, alg, keyref, 0x81, in, inlen, out, cap, ret_len);
}

int piv_general_auth_tag(struct apdu_transport *t, uint8_t alg, uint8_t keyref, uint8_t tag,
                         const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *ret_len)
{
	uint8_t cmd[16 + 512], resp[1024], inner[8 + 512];
	size_t n = 0, clen, rlen, left;
	const uint8_t *p = resp;
	struct tlv tmpl, res;
	uint16_t sw;
	int r;

	if (inlen == 0 || inlen > 512)
		return -EINVAL;
	inner[n++] = 0x82;
	inner[n++] = 0x00;
	clen = tlv_put(inner + n, sizeof(inner) - n, tag, in, inlen);
	if (clen == 0)
		return -EINVAL;
	n += clen;
	clen = tlv_put(cmd, sizeof(cmd), 0x7C, inner, n);
	if (clen == 0)
		return -EINVAL;
	struct apdu_cmd c = {
	        .ins = 0x87, .p1 = alg, .p2 = keyref, .data = cmd, .lc = clen, .le = APDU_LE_MAX};
	r = apdu_exchange(t, &c, resp, sizeof(resp), &rlen, &sw);
	if (r < 0)
		return r;
	r = sw_to_err(sw);
	if (r < 0)
		return r;
	left = rlen;
	if (tlv_next(&p, &left, &tmpl) < 0 || tmpl.tag != 0x7C ||
	    tlv_find(tmpl.value, tmpl.len, 0x82, &res) < 0 || res.len == 0)
		return -EPROTO;
	if (res.len > cap)
		return -EMSGSIZE;
	memcpy(out, res.value, res.len);
	*ret_len = res.len;
	return 0;
}

/* Random bytes from the card: GENERAL AUTHENTICATE to the card management key (9B) asking for a
 * challenge, 7C { 81 00 }, as OpenSC does; each answer gives one block (8 bytes for 3DES, 16 for AES).
 * The algorithm of 9B is the card's own: 00 (3DES, what OpenSC sends) first, and on "wrong P1/P2" the
 * next one, for cards whose management key is AES. */
int piv_challenge(struct apdu_transport *t, uint8_t *out, size_t len)
{
	static const uint8_t algs[] = {0x00, 0x03, 0x0A, 0x08, 0x0C};
	static const uint8_t cmd[] = {0x7C, 0x02, 0x81, 0x00};
	uint8_t resp[64];
	size_t done = 0, ai = 0, rlen, left;
	const uint8_t *p;
	struct tlv tmpl, ch;
	uint16_t sw;
	int r;

	while (done < len) {
		struct apdu_cmd c = {
		        .ins = 0x87, .p1 = algs[ai], .p2 = 0x9B, .data = cmd, .lc = sizeof(cmd), .le = 256};

		r = apdu_exchange(t, &c, resp, sizeof(resp), &rlen, &sw);
		if (r < 0)
			goto out;
		if (sw == 0x6A86 && ++ai < sizeof(algs))
			continue;
		if ((r = sw_to_err(sw)) < 0)
			goto out;
		p = resp;
		left = rlen;
		if (tlv_next(&p, &left, &tmpl) < 0 || tmpl.tag != 0x7C ||
		    tlv_find(tmpl.value, tmpl.len, 0x81, &ch) < 0 || ch.len == 0) {
			r = -EPROTO;
			goto out;
		}
		if (ch.len > len - done)
			ch.len = len - done;
		memcpy(out + done, ch.value, ch.len);
		done += ch.len;
	}
	r = 0;
out:
	explicit_bzero(resp, sizeof(resp));
	return r;
}

/* The card_driver face of PIV. */

static int drv_probe(struct apdu_transport *t)
{
	int r = piv_select(t);

	return r == PIV_E_NOT_FOUND || r == -EIO ? -ENOENT : r;
}

/* The token label: the signer's name from the first certificate that has a CN, as a person reads it. */
static void label_from_cert(const uint8_t *der, size_t len, char *out, size_t cap)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x != NULL)
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)cap);
	X509_free(x);
}

/* The card's GUID and the certificates of its four key slots, as raw DER (len 0: no certificate). */
static int read_objects(struct apdu_transport *t, uint8_t guid[PIV_GUID_LEN], uint8_t (*der)[PIV_OBJECT_MAX],
                        size_t len[4])
{
	int r;

	r = piv_read_guid(t, guid);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 4; i++) {
		r = piv_read_cert(t, &piv_slots[i], der[i], PIV_OBJECT_MAX, &len[i]);
		if (r == PIV_E_NOT_FOUND) {
			len[i] = 0;
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* The token made from what read_objects found: this is where the certificates are parsed. */
static int build_token(const uint8_t guid[PIV_GUID_LEN], uint8_t (*der)[PIV_OBJECT_MAX], const size_t len[4],
                       struct token **ret_token)
{
	char label[65] = "";
	struct token *tok;
	int r;

	for (size_t i = 0; i < 4 && label[0] == '\0'; i++)
		if (len[i] > 0)
			label_from_cert(der[i], len[i], label, sizeof(label));
	tok = token_new(label[0] ? label : "PIV card", guid);
	if (tok == NULL)
		return -ENOMEM;
	snprintf(tok->driver, sizeof(tok->driver), "piv");
	memcpy(tok->id, guid, PIV_GUID_LEN);
	tok->id_len = PIV_GUID_LEN;
	for (size_t i = 0; i < 4; i++) {
		const struct piv_slot *s = &piv_slots[i];
		struct token_slot_desc d = {.id = s->id,
		                            .keyref = s->keyref,
		                            .pin_always = s->pin_always,
		                            .needs_pin = s->needs_pin,
		                            .key_label = s->label,
		                            .cert_label = s->cert_label};

		if (len[i] == 0)
			continue;
		r = token_add_slot(tok, &d, der[i], len[i]);
		/* A slot we cannot drive (another key type) is left out; the rest of the card still works. */
		if (r < 0 && r != -EOPNOTSUPP && r != -EBADMSG) {
			token_free(tok);
			return r;
		}
	}
	*ret_token = tok;
	return 0;
}

static int drv_read_token(struct apdu_transport *t, struct token **ret_token)
{
	uint8_t(*der)[PIV_OBJECT_MAX] = malloc(4 * sizeof(*der));
	size_t len[4] = {0};
	uint8_t guid[PIV_GUID_LEN];
	int r;

	if (der == NULL)
		return -ENOMEM;
	r = read_objects(t, guid, der, len);
	if (r == 0)
		r = build_token(guid, der, len, ret_token);
	free(der);
	return r;
}

/* Whether the cached token holds exactly this slot's certificate (or none, when the card has none). */
static bool same_cert(const struct token *cached, uint8_t id, const uint8_t *der, size_t len)
{
	for (size_t i = 0; i < cached->nobjs; i++) {
		const struct token_object *o = &cached->objs[i];
		const struct token_attr *a = token_attr(o, CKA_ID), *v;

		if (o->cls != CKO_CERTIFICATE || a == NULL || a->len != 1 || *(const uint8_t *)a->value != id)
			continue;
		v = token_attr(o, CKA_VALUE);
		return v && len > 0 && v->len == len && memcmp(v->value, der, len) == 0;
	}
	return len == 0;
}

/* A token is made from the GUID and the certificates alone: when the card holds the same bytes as the
 * cached token was made from, that token is the card's, and no certificate needs parsing (which would
 * bring most of libcrypto into an idle imzad's memory). */
static int drv_check_token(struct apdu_transport *t, const struct token *cached, struct token **ret_fresh)
{
	uint8_t(*der)[PIV_OBJECT_MAX] = malloc(4 * sizeof(*der));
	size_t len[4] = {0};
	uint8_t guid[PIV_GUID_LEN];
	bool same;
	int r;

	if (der == NULL)
		return -ENOMEM;
	r = read_objects(t, guid, der, len);
	if (r < 0)
		goto out;
	same = strcmp(cached->driver, "piv") == 0 && cached->id_len == PIV_GUID_LEN &&
	       memcmp(cached->id, guid, PIV_GUID_LEN) == 0;
	for (size_t i = 0; i < 4 && same; i++)
		same = same_cert(cached, piv_slots[i].id, der[i], len[i]);
	if (same)
		*ret_fresh = NULL;
	else
		r = build_token(guid, der, len, ret_fresh);
out:
	free(der);
	return r;
}

static int drv_read_identity(struct apdu_transport *t, uint8_t *id, size_t cap, size_t *ret_len)
{
	int r;

	if (cap < PIV_GUID_LEN)
		return -ENOBUFS;
	r = piv_read_guid(t, id);
	if (r == 0)
		*ret_len = PIV_GUID_LEN;
	return r;
}

static int drv_pin_status(struct apdu_transport *t, struct card_pin_status *ret)
{
	bool verified;
	int tries, r = piv_pin_status(t, &verified, &tries);

	if (r < 0)
		return r;
	ret->verified = verified;
	ret->tries_left = tries;
	ret->tries_max = 3;
	return 0;
}

/* SP 800-73-4 §2.4.3: the PIV Card Application PIN is 6 to 8 digits (the card pads it with 0xFF). */
#define PIV_PIN_MIN 6

static bool piv_pin_ok(const uint8_t *pin, size_t len)
{
	if (pin == NULL || len < PIV_PIN_MIN || len > PIV_PIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (pin[i] < '0' || pin[i] > '9')
			return false;
	return true;
}

/* The PUK is 8 bytes of any value (SP 800-73-4 §2.4.3); cards and tools (FIPS 201, OpenSC, YubiKey) take
 * 6 to 8 and pad it with FF as a PIN, so FF itself cannot be in one. */
static bool piv_puk_ok(const uint8_t *puk, size_t len)
{
	if (puk == NULL || len < PIV_PIN_MIN || len > PIV_PIN_MAX)
		return false;
	return memchr(puk, 0xFF, len) == NULL;
}

static int drv_change_ref(struct apdu_transport *t, enum card_ref ref, const uint8_t *old, size_t oldlen,
                          const uint8_t *new, size_t newlen, int *ret_tries)
{
	return piv_change_reference(t, ref == CARD_REF_PUK ? PIV_PUK_REF : PIV_PIN_REF, old, oldlen, new,
	                            newlen, ret_tries);
}

/* pin is not needed: a 9C key's VERIFY came right before, as its own job. */
static int drv_private_op(struct apdu_transport *t, const struct token_key_info *key,
                          const struct pin_secret *pin, const uint8_t *in, size_t inlen, uint8_t *out,
                          size_t cap, size_t *ret_len)
{
	return piv_general_auth(t, key->card_alg, key->keyref, in, inlen, out, cap, ret_len);
}

/* ECDH (SP 800-73-4 §3.2.4, key agreement): the peer's point in 85, the shared x-coordinate back in 82.
 * Like 9D's decryption, it needs the login only. */
static int drv_derive_op(struct apdu_transport *t, const struct token_key_info *key, const uint8_t *point,
                         size_t plen, uint8_t *out, size_t cap, size_t *ret_len)
{
	return piv_general_auth_tag(t, key->card_alg, key->keyref, 0x85, point, plen, out, cap, ret_len);
}

const struct card_driver piv_driver = {
        .name = "piv",
        .probe = drv_probe,
        .read_identity = drv_read_identity,
        .read_token = drv_read_token,
        .check_token = drv_check_token,
        .pin_ok = piv_pin_ok,
        .puk_ok = piv_puk_ok,
        .pin_min = PIV_PIN_MIN,
        .pin_max = PIV_PIN_MAX,
        .puk_min = PIV_PIN_MIN,
        .puk_max = PIV_PIN_MAX,
        .change_ref = drv_change_ref,
        .unblock_pin = piv_reset_retry,
        .verify = piv_verify,
        .pin_status = drv_pin_status,
        .logout = piv_reset_security,
        .private_op = drv_private_op,
        .derive_op = drv_derive_op,
        .random = piv_challenge,
};
