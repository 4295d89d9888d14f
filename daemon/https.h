/* The HTTPS signing endpoint (docs/API.md): evhttp over OpenSSL bufferevents on 127.0.0.1 and ::1. */
#pragma once

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
void https_server_free(struct https_server *h);
/* The port it serves (the passed sockets' own, when systemd gave them). */
uint16_t https_server_port(const struct https_server *h);
