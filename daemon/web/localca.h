/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza's local certificate authority for the HTTPS endpoint. In the config dir (0700):
 *   ca.crt      the CA certificate (public; what `imzactl trust` installs)
 *   ca.key      its private key (0600; never leaves the directory)
 *   server.crt  server certificate for localhost, 127.0.0.1 and ::1, signed by the CA
 *   server.key  its key (0600)
 * Made on first start; the server certificate is renewed when it has less than 30 days left (or does
 * not match the CA), the CA when it has less than a year left (then the server certificate too). */
#pragma once

#include <time.h>

#include <openssl/ssl.h>

#define LOCALCA_CA_FILE "ca.crt"

/* Creates or renews what is missing, then returns a server SSL_CTX (TLS 1.2 and later) with the server
 * certificate and key loaded. -EPERM when dir or a key file is not ours alone (logged), -errno else. */
int localca_server_ctx(const char *dir, SSL_CTX **ret);
/* What start-up needs, without OpenSSL when it can: the directory and the four files are there, ours,
 * and the keys closed to others (checks that need no parsing; -EPERM logged, as localca_server_ctx's).
 * Missing files are made now (localca_ensure). Validity and renewal wait for localca_server_ctx. */
int localca_prepare(const char *dir);
/* What localca_server_ctx does to the files, as if the time were now (tests move the clock). 0 when
 * the four files are in place and good at now, with the same errors as localca_server_ctx. */
int localca_ensure(const char *dir, time_t now);
