/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* peeruid (see peeruid.h): one inet_diag request for the exact 4-tuple, not a dump of every socket. The
 * kernel finds the socket a packet from local to remote would reach, i.e. the client's own socket, and
 * answers with its owner's uid. */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon/web/peeruid.h"

/* One address as inet_diag carries it (network order, IPv4 in the first word), and its port. */
static int to_diag(const struct sockaddr *sa, __be32 addr[4], __be16 *ret_port)
{
	memset(addr, 0, 4 * sizeof(addr[0]));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		addr[0] = in->sin_addr.s_addr;
		*ret_port = in->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(addr, &in6->sin6_addr, 16);
		*ret_port = in6->sin6_port;
		return 0;
	}
	return -EAFNOSUPPORT;
}

int peer_tcp_uid(const struct sockaddr *local, const struct sockaddr *remote, uid_t *ret_uid)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct timeval tv = {2, 0};
	union {
		struct nlmsghdr nh;
		uint8_t raw[8192];
	} buf;
	const struct inet_diag_msg *m;
	struct inet_diag_sockid want;
	ssize_t n;
	int fd, e;

	if (local == NULL || remote == NULL || ret_uid == NULL || local->sa_family != remote->sa_family)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.r.sdiag_family = (uint8_t)remote->sa_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	/* The client's socket: its local end is the remote address we see. */
	e = to_diag(remote, req.r.id.idiag_src, &req.r.id.idiag_sport);
	if (e == 0)
		e = to_diag(local, req.r.id.idiag_dst, &req.r.id.idiag_dport);
	if (e < 0)
		return e;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	want = req.r.id;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* The kernel answers at once; the timeout only keeps a broken netlink from stalling the loop. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) !=
	    (ssize_t)sizeof(req)) {
		e = -errno;
		close(fd);
		return e ? e : -EIO;
	}
	do
		n = recv(fd, &buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	e = n < 0 ? -errno : 0;
	close(fd);
	if (e < 0)
		return e;
	if (!NLMSG_OK(&buf.nh, (size_t)n) || buf.nh.nlmsg_seq != 1)
		return -EPROTO;
	if (buf.nh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *err = NLMSG_DATA(&buf.nh);

		if (buf.nh.nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
			return -EPROTO;
		return err->error < 0 ? err->error : -EPROTO;
	}
	if (buf.nh.nlmsg_type != SOCK_DIAG_BY_FAMILY || buf.nh.nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	m = NLMSG_DATA(&buf.nh);
	/* A socket in TIME_WAIT (its owner closed it) reports uid 0: no one is there to serve. */
	if (m->idiag_state == TCP_TIME_WAIT)
		return -ENOENT;
	/* Exactly the socket asked for, and a connection: never a listener that holds that port. */
	if (m->idiag_family != remote->sa_family || m->idiag_state == TCP_LISTEN ||
	    m->id.idiag_sport != want.idiag_sport || m->id.idiag_dport != want.idiag_dport ||
	    memcmp(m->id.idiag_src, want.idiag_src, sizeof(want.idiag_src)) != 0 ||
	    memcmp(m->id.idiag_dst, want.idiag_dst, sizeof(want.idiag_dst)) != 0)
		return -EPROTO;
	*ret_uid = (uid_t)m->idiag_uid;
	return 0;
}

/* An IPv4 peer of a dual-stack IPv6 socket (::ffff:a.b.c.d) owns an IPv4 socket: ask for that. */
static void unmap_v4(struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_in in = {.sin_family = AF_INET};

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return;
	in.sin_port = in6->sin6_port;
	memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &in, sizeof(in));
}

int peer_fd_uid(int fd, uid_t *ret_uid)
{
	struct sockaddr_storage local, remote;
	socklen_t ll = sizeof(local), rl = sizeof(remote);

	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rl) < 0)
		return -errno;
	unmap_v4(&local);
	unmap_v4(&remote);
	return peer_tcp_uid((struct sockaddr *)&local, (struct sockaddr *)&remote, ret_uid);
}
