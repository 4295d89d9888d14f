/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-client: the client end of a connection to imzad (blocking): connect to the socket, HELLO, and
 * one request/response exchange. Used by imzactl; the module keeps its own pool on top of it. */
#ifndef IMZA_PROTO_CLIENT_H
#define IMZA_PROTO_CLIENT_H

#include <stddef.h>

#include "proto-buf.h"
#include "proto-hello.h"

/* The daemon's socket: $IMZA_SOCKET, else $XDG_RUNTIME_DIR/imza/imzad.sock. */
int proto_client_socket_path(char *out, size_t cap);
/* imza's directory under an XDG base directory, as imzad and imzactl both find it: $var/imza when var
 * (XDG_CONFIG_HOME, XDG_STATE_HOME) is absolute (the spec ignores a relative one), else
 * home/home_rel/imza (home NULL: $HOME). -ENOENT without either, -ENAMETOOLONG past cap. */
int proto_xdg_dir(const char *var, const char *home, const char *home_rel, char *out, size_t cap);
/* Connects to path and runs the HELLO; *ret_fd is a blocking, close-on-exec socket. */
int proto_client_connect(const char *path, enum proto_client_kind kind, const char *app_name,
                         struct proto_hello_reply *ret_reply, int *ret_fd);
/* Sends the payload in req (built after proto_frame_begin) and receives the response payload. */
int proto_client_call(int fd, struct proto_buf *req, struct proto_buf *resp);

#endif
