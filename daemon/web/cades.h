/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CAdES-BES signatures (CMS SignedData, ETSI EN 319 122-1) for the HTTPS endpoint's `cades-bes` format:
 * the daemon builds the structure, the card does only the private-key operation through a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The private-key operation, on the card. */
struct cades_signer {
	/* Signs digest (len bytes: the SHA-256 of the DER of the signed attributes) and writes into sig (cap
	 * bytes) the signature in the form CMS carries it: for RSA the PKCS#1 v1.5 signature (the card is
	 * given, or builds, the DigestInfo for SHA-256; exactly the modulus size), for EC a DER
	 * ECDSA-Sig-Value. Returns 0 and sets *ret_len, or a negative errno that cades_sign passes on.
	 * Called synchronously from cades_sign, on the caller's thread (a reader's worker). */
	int (*sign_digest)(void *ud, const uint8_t *digest, size_t len, uint8_t *sig, size_t cap,
	                   size_t *ret_len);
	void *ud;
};

/* Builds a CAdES-BES SignedData over content (len bytes; content may be NULL when len is 0) with SHA-256
 * and the signed attributes content-type (id-data), message-digest, signing-time (now) and
 * signing-certificate-v2 (SHA-256 of cert_der, with issuer and serial). detached leaves the content out
 * of the structure. cert_der is the signer's X.509 certificate (RSA or EC key); it is included in the
 * SignedData. The card's signature is checked against the certificate's public key before it is used.
 * On success *ret_der is the DER of the ContentInfo, to be freed with OPENSSL_free, and *ret_len its
 * length.
 * Errors: -EINVAL (bad arguments or certificate), -E2BIG (content over INT_MAX bytes), -EOPNOTSUPP (key
 * neither RSA nor EC), -EBADMSG (the signature from the callback has the wrong size or does not verify),
 * -ENOMEM (OpenSSL failed), or the callback's own negative error (-EIO if it returned a positive one). */
int cades_sign(const uint8_t *content, size_t len, bool detached, const uint8_t *cert_der, size_t cert_len,
               const struct cades_signer *signer, uint8_t **ret_der, size_t *ret_len);
