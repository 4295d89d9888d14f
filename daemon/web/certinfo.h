/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a person (and the HTTPS API) needs to know of an X.509 certificate: names, serial, validity,
 * key, key usage and whether it is a qualified certificate. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CERTINFO_KU_DIGITAL_SIGNATURE 0x001
#define CERTINFO_KU_NON_REPUDIATION 0x002
#define CERTINFO_KU_KEY_ENCIPHERMENT 0x004
#define CERTINFO_KU_DATA_ENCIPHERMENT 0x008
#define CERTINFO_KU_KEY_AGREEMENT 0x010
#define CERTINFO_KU_KEY_CERT_SIGN 0x020
#define CERTINFO_KU_CRL_SIGN 0x040

/* The certificate policies kept (dotted OIDs); more are left out. */
#define CERTINFO_POLICIES_MAX 8

struct certinfo {
	char subject[512]; /* RFC 2253 style, UTF-8: "CN=...,O=...,C=TR" */
	char issuer[512];
	char common_name[256]; /* subject CN, "" if none */
	char serial[130];      /* hex, upper case, no separators */
	time_t not_before, not_after;
	char key_type[4]; /* "RSA" or "EC" */
	unsigned key_bits;
	unsigned key_usage; /* CERTINFO_KU_*; 0 when the extension is absent */
	bool has_key_usage;
	bool qualified;         /* QcCompliance statement, or a qualified policy (docs/API.md) */
	char serial_number[65]; /* the subject's serialNumber attribute, UTF-8 with controls as '?': on a
	                         * Turkish person's certificate the TC kimlik no; "" if none */
	char policies[CERTINFO_POLICIES_MAX][64]; /* certificatePolicies, dotted, in the order given */
	size_t n_policies;
};

/* 0, or -EBADMSG for DER OpenSSL cannot parse, -EOPNOTSUPP for a key neither RSA nor EC. */
int certinfo_parse(const uint8_t *der, size_t len, struct certinfo *ret);
/* Whether the certificate's key is for signatures a person makes: keyUsage present with nonRepudiation
 * (contentCommitment). The only keys the web API signs with: on a PIV card the digital-signature key (9C),
 * on a Turkish card the qualified certificate; never an authentication or key-management key, never an
 * RSA key under 2048 bits. */
bool certinfo_for_signatures(const struct certinfo *ci);
/* The same from the DER: false for DER that does not parse. */
bool certinfo_der_for_signatures(const uint8_t *der, size_t len);
/* The names of the bits set, in order, for JSON ("digitalSignature", "nonRepudiation", ...). */
size_t certinfo_key_usage_names(unsigned ku, const char **names, size_t cap);
/* "YYYY-MM-DDTHH:MM:SSZ" */
void certinfo_time(time_t t, char out[21]);
