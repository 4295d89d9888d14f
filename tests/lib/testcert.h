/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A self-signed certificate for a fresh key, made in-process for the tests that need token objects
 * without a card (object model, cache, the PKCS#11 layer's fuzz target). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* type: "RSA" (2048 bits), "RSA-<bits>" ("RSA-3072") or a curve name ("P-256", "P-384"); key_usage in
 * openssl.cnf syntax.
 * Returns the DER length (OPENSSL_free the DER) and, if ret_key is not NULL, the key; aborts on
 * failure, as a test fixture may. */
size_t testcert_make(const char *type, const char *key_usage, uint8_t **ret_der, EVP_PKEY **ret_key);
