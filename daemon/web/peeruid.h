/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is at the other end of a loopback TCP connection: the uid that owns the client's socket, asked of
 * the kernel through sock_diag (NETLINK_SOCK_DIAG, inet_diag). Loopback TCP is open to every local user
 * and to containers on the host network; the HTTPS endpoint serves only its own user. */
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

/* The owner of the TCP socket whose local end is remote and whose peer is local (the 4-tuple of an
 * accepted connection seen from the server: local = our address, remote = the client's). Both of one
 * family, AF_INET or AF_INET6. 0; -ENOENT when no such socket exists (it closed meanwhile), -EPROTO for
 * an answer that does not fit, other -errno from the netlink socket. */
int peer_tcp_uid(const struct sockaddr *local, const struct sockaddr *remote, uid_t *ret_uid);

/* The same for an accepted TCP socket: its getsockname and getpeername. */
int peer_fd_uid(int fd, uid_t *ret_uid);
