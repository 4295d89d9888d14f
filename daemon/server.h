/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's RPC server: the Unix socket, one connection per client, frames in and out, the HELLO,
 * and dispatch of each call to the PKCS#11 layer (p11.c), which may answer at once or later. */
#pragma once

#include <stdbool.h>

#include "daemon/daemon.h"

struct server;
struct event_base;

/* Event priorities of imzad's loop: everything at the default (the middle one) runs before the
 * clients' requests, which are served round-robin between applications (server.c). */
#define SERVER_PRIORITIES 7
/* imzad's event loop: SERVER_PRIORITIES priorities, and a look for new events after a few client
 * requests, however many are ready. server_new needs a loop made by this. */
int server_event_base_new(struct event_base **ret);

/* Serves on listen_fd (already bound and listening), at most max_clients connections at once; one
 * more is closed before its HELLO. */
struct app;
struct call;
struct proto_reader;
struct proto_buf;
struct rpc_server_ops;

/* What the server hands its clients' requests to (daemon/wiring.c: the applications, PKCS#11,
 * imzactl's calls). The server calls none of them by name. */
struct server_handlers {
	struct app *(*attach)(struct daemon *d, pid_t pid, uid_t uid, int kind, const char *name,
	                      const char *exe);
	void (*detach)(struct daemon *d, struct app *a);
	void (*call_start)(struct app *a);
	void (*call_done)(struct app *a);
	void (*call_cancel)(struct app *a, struct call *c);
	const struct rpc_server_ops *p11;
	int (*admin)(struct daemon *d, struct app *a, uint32_t id, struct proto_reader *r,
	             struct proto_buf *w);
	int (*admin_async)(struct daemon *d, struct call *call, uint32_t id, struct proto_reader *r);
};

int server_new(struct daemon *d, const struct server_handlers *h, int listen_fd, size_t max_clients,
               struct server **ret);
/* Raises the soft open-file limit to the hard one and gives how many clients fit in it, leaving
 * room for cards, databases, HTTPS and dialogs; cap > 0 lowers that (imzad's --max-clients). */
int server_max_clients(size_t cap, size_t *ret);
void server_free(struct server *s);
/* Binds a Unix socket at path: its directory is created 0700 if missing and must be ours and not
 * writable by others (private_dir: not open to others at all), the socket is 0600. */
int server_bind(const char *path, bool private_dir, int *ret_fd);
/* The default socket: $XDG_RUNTIME_DIR/imza/imzad.sock, or NULL without XDG_RUNTIME_DIR. */
int server_default_path(char *out, size_t cap);
