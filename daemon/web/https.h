/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTPS signing endpoint (docs/API.md): evhttp over OpenSSL bufferevents on 127.0.0.1 and ::1. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct daemon;
struct signsvc;
struct https_server;

/* Listens on 127.0.0.1:port and [::1]:port (fds: sockets systemd passed instead, nfds of them, which
 * must listen on loopback and on one port, which then replaces port; an address family the host lacks is
 * skipped with a log line, but one of the two must work). ctx is referenced, not owned. */
int https_server_new(struct daemon *d, struct signsvc *svc, SSL_CTX *ctx, uint16_t port, const int *fds,
                     size_t nfds, struct https_server **ret);
/* The same with the TLS context made by make_ctx(arg, ...) at the first connection rather than now: OpenSSL
 * stays out of an idle imzad. A connection that comes while make_ctx fails is refused (logged), and the
 * next one tries again. */
int https_server_new_lazy(struct daemon *d, struct signsvc *svc, int (*make_ctx)(void *arg, SSL_CTX **ret),
                          void *arg, uint16_t port, const int *fds, size_t nfds, struct https_server **ret);
/* Whether its TLS context is made (always, for https_server_new). */
bool https_server_has_tls(const struct https_server *h);
void https_server_free(struct https_server *h);
/* The port it serves (the passed sockets' own, when systemd gave them). */
uint16_t https_server_port(const struct https_server *h);
