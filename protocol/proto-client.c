/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client end of the imza socket (see proto-client.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto-client.h"
#include "proto-frame.h"

int proto_client_socket_path(char *out, size_t cap)
{
	const char *env = getenv("IMZA_SOCKET");
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && env[0])
		n = snprintf(out, cap, "%s", env);
	else if (rt && rt[0] == '/')
		n = snprintf(out, cap, "%s/imza/imzad.sock", rt);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int proto_xdg_dir(const char *var, const char *home, const char *home_rel, char *out, size_t cap)
{
	const char *xdg = getenv(var);
	char tmp[PATH_MAX];
	int n;

	if (home == NULL)
		home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		n = snprintf(tmp, sizeof(tmp), "%s/imza", xdg);
	else if (home && home[0] == '/')
		n = snprintf(tmp, sizeof(tmp), "%s/%s/imza", home, home_rel);
	else
		return -ENOENT;
	/* out is written only when the whole path fits. */
	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= cap)
		return -ENAMETOOLONG;
	memcpy(out, tmp, (size_t)n + 1);
	return 0;
}

int proto_client_call(int fd, struct proto_buf *req, struct proto_buf *resp)
{
	int e = proto_frame_end(req);

	if (e < 0)
		return e;
	e = proto_send_frame(fd, req->data + PROTO_FRAME_HEADER, req->len - PROTO_FRAME_HEADER);
	if (e < 0)
		return e;
	return proto_recv_frame(fd, resp);
}

int proto_client_connect(const char *path, enum proto_client_kind kind, const char *app_name,
                         struct proto_hello_reply *ret_reply, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_hello h = {.major = PROTO_VERSION_MAJOR, .minor = PROTO_VERSION_MINOR, .kind = kind};
	struct proto_hello_reply rep;
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	h.pid = (uint32_t)getpid();
	snprintf(h.app_name, sizeof(h.app_name), "%s", app_name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	proto_frame_begin(&req);
	e = proto_hello_encode(&req, &h);
	if (e == 0)
		e = proto_client_call(fd, &req, &resp);
	if (e == 0)
		e = proto_hello_reply_decode(resp.data, resp.len, &rep);
	if (e == 0)
		e = proto_hello_reply_check(&rep, PROTO_VERSION_MAJOR, PROTO_VERSION_MINOR);
	proto_buf_free(&req);
	proto_buf_free(&resp);
	if (e < 0) {
		close(fd);
		return e;
	}
	if (ret_reply)
		*ret_reply = rep;
	*ret_fd = fd;
	return 0;
}
