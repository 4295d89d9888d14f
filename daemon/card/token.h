/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The object model of one token: certificates, public and private keys with the attributes that NSS,
 * OpenSSL and p11-kit read, built from what the card driver found (certificates per key slot).
 * Attribute values are kept in host form (CK_ULONG, CK_BBOOL) ready for C_GetAttributeValue. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#define TOKEN_MAX_OBJECTS 32
#define TOKEN_ID_MAX 64
/* The signing and decryption mechanisms a vendor module's token keeps (the first ones it lists). */
#define TOKEN_MECH_MAX 64

/* One mechanism of a vendor module's token, as the module's C_GetMechanismInfo gave it (its flags cut to
 * TOKEN_MECH_FLAGS). */
struct token_mech {
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_INFO info;
};
/* The flags of a module's mechanism that imza passes on: the hardware, signing and decryption, and the
 * EC ones (CKF_EC_F_P .. CKF_EC_CURVENAME). */
#define TOKEN_MECH_EC_FLAGS 0x07f00000UL
#define TOKEN_MECH_FLAGS (CKF_HW | CKF_SIGN | CKF_DECRYPT | TOKEN_MECH_EC_FLAGS)

struct token_attr {
	CK_ATTRIBUTE_TYPE type;
	void *value;
	size_t len;
};

struct token_key_info {
	CK_KEY_TYPE type; /* CKK_RSA or CKK_EC */
	size_t size;      /* RSA: modulus bytes; EC: field bytes */
	uint8_t card_alg; /* driver's algorithm id (PIV 06, 07, 05, 16, 11, 14) */
	uint8_t keyref;   /* driver's key reference (PIV 9A ...) */
	bool pin_always;
	bool needs_pin;
};

struct token_object {
	CK_OBJECT_HANDLE handle;
	CK_OBJECT_CLASS cls;
	bool is_private; /* CKA_PRIVATE: visible only to a logged-in application */
	struct token_key_info key;
	struct token_attr *attrs;
	size_t nattrs;
};

struct token {
	char label[33]; /* space padded, NUL after */
	char serial[17];
	uint8_t guid[16];
	struct token_object objs[TOKEN_MAX_OBJECTS];
	size_t nobjs;
	/* The PIN counter as last seen on the card (-1: unknown). */
	int pin_tries_left, pin_tries_max;
	/* A wrong PIN was given since the last right one, however many tries are left (PKCS#11's
	 * CKF_USER_PIN_COUNT_LOW: a vendor module may say only that). Not stored. */
	bool pin_count_low;
	/* The PUK's count as its last wrong use left it (puk_known; PIV cannot ask for it without using it),
	 * for the token's SO PIN flags. Zero (a token made anywhere, e.g. read back from the cache) is
	 * "nothing known". */
	bool puk_known;
	int puk_tries_left;
	/* The card's identity as its driver defines it (PIV: the GUID), the key of the card cache. */
	char driver[16];
	uint8_t id[32];
	size_t id_len;
	/* Served from the cache and not yet checked against the card. Not stored. */
	bool unchecked;
	/* The vendor module that serves the token (its path), empty for imza's own drivers. Not stored. */
	char module[240];
	/* A module's token: its signing and decryption mechanisms as the module lists them (at most
	 * TOKEN_MECH_MAX, each type once, each with CKF_SIGN or CKF_DECRYPT). Served for the token instead
	 * of imza's own table (mech-module.h). imza's own drivers keep none. */
	struct token_mech mechs[TOKEN_MECH_MAX];
	size_t nmechs;
};

/* Whether a token's mechanisms are its module's (mechs above), not imza's own table. */
bool token_module_mechs(const struct token *t);
/* Whether a token keeps a module's mechanism with these flags: one that signs or decrypts, a standard
 * one of the key types imza serves (RSA, ECDSA; MD2- and MD5-based ones left out) or a vendor's. */
bool token_mech_kept(CK_MECHANISM_TYPE type, CK_FLAGS flags);
/* The module's mechanism of this type on the token, or NULL. */
const struct token_mech *token_mech(const struct token *t, CK_MECHANISM_TYPE type);

/* Per key slot: what the driver knows before the certificate is parsed. */
struct token_slot_desc {
	uint8_t id; /* CKA_ID byte */
	uint8_t keyref;
	bool pin_always;
	bool needs_pin;
	const char *key_label;
	const char *cert_label;
};

struct token *token_new(const char *label, const uint8_t guid[16]);
void token_free(struct token *t);
/* Adds the certificate, public key and private key of one slot from its certificate DER.
 * -EBADMSG for a certificate OpenSSL cannot parse, -EOPNOTSUPP for a key type we do not drive. */
int token_add_slot(struct token *t, const struct token_slot_desc *slot, const uint8_t *der, size_t len);
/* The same with a CKA_ID of id_len bytes (a vendor module's, at most TOKEN_ID_MAX) instead of slot->id;
 * with TOKEN_ANY_RSA, RSA keys of any size up to TOKEN_RSA_BYTES_MAX; without it, the RSA sizes PIV defines
 * (1024, 2048, 3072, 4096 bits). */
#define TOKEN_ANY_RSA 1u
#define TOKEN_RSA_BYTES_MAX 512
int token_add_slot_id(struct token *t, const struct token_slot_desc *slot, const uint8_t *id, size_t id_len,
                      unsigned flags, const uint8_t *der, size_t len);

/* The length of a space-padded PKCS#11 text (a label, a serial) without its padding: at most max bytes,
 * ending at a NUL if there is one. */
size_t token_text_len(const char *s, size_t max);
/* A vendor module's text (a space-padded PKCS#11 field of n bytes, or a label) as a C string fit for a
 * reader's name, a log line or imzactl: padding (spaces, NULs) trimmed; each control character (C0,
 * DEL, C1), each invisible format character (bidi overrides, zero-width) and each byte that is not part
 * of valid UTF-8 replaced by '?'; a character the field's end cut in two dropped. Valid UTF-8 (Turkish
 * letters) is kept. At most cap - 1 bytes, never a character cut; cap > 0. Returns the length. */
size_t token_text_clean(char *out, size_t cap, const void *in, size_t n);

/* A secret key imza made for one application (C_DeriveKey's result): a session object, never stored. */
#define TOKEN_SECRET_USES 7
/* CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE: uses[] in this order. */
extern const CK_ATTRIBUTE_TYPE token_secret_uses[TOKEN_SECRET_USES];
struct token_secret_desc {
	CK_KEY_TYPE key_type;
	const uint8_t *value;
	size_t len;
	const void *label, *id; /* the caller's bytes (not NUL-terminated) */
	size_t label_len, id_len;
	bool is_private, sensitive, extractable;
	bool uses[TOKEN_SECRET_USES];
};
/* Fills o (its attributes allocated, the value copied) as the secret key d describes, with handle. */
int token_secret_make(struct token_object *o, CK_OBJECT_HANDLE handle, const struct token_secret_desc *d);
/* Frees o's attributes, their values wiped first. */
void token_object_clear(struct token_object *o);

const struct token_attr *token_attr(const struct token_object *o, CK_ATTRIBUTE_TYPE type);
struct token_object *token_object(struct token *t, CK_OBJECT_HANDLE h);
/* The private key of keyref needs the PIN at each use (its card said so only after the login): its
 * pin_always and CKA_ALWAYS_AUTHENTICATE become true. */
void token_set_pin_always(struct token *t, uint8_t keyref);
/* True for attributes that a private key never reveals, and a secret key's value when it is sensitive or
 * not extractable (CKR_ATTRIBUTE_SENSITIVE). */
bool token_attr_sensitive(const struct token_object *o, CK_ATTRIBUTE_TYPE type);
/* Whether an object matches a search template given in host form. */
bool token_match(const struct token_object *o, const CK_ATTRIBUTE *tmpl, size_t n);
