/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of daemon/web/peeruid.c over real loopback connections: the kernel's sock_diag names the owner of
 * the client's socket, ours or, made in a child that dropped to uid 65534, that other uid. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/web/peeruid.h"

#define OTHER_UID 65534

static int listen_on(int family, uint16_t *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		sl = sizeof(*in6);
	}
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd);
		return -1;
	}
	*ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int connect_to(int family, uint16_t port)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 in6 = {
	        .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if ((family == AF_INET ? connect(fd, (struct sockaddr *)&in, sizeof(in))
	                       : connect(fd, (struct sockaddr *)&in6, sizeof(in6))) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void own_uid_for(int family)
{
	uint16_t port;
	int l = listen_on(family, &port), c, a;
	uid_t uid = (uid_t)-1;

	if (l < 0 && family == AF_INET6) {
		print_message("# no IPv6 loopback here: IPv6 case not run\n");
		return;
	}
	assert_true(l >= 0);
	c = connect_to(family, port);
	assert_true(c >= 0);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(peer_fd_uid(a, &uid), 0);
	assert_int_equal(uid, geteuid());
	close(a);
	close(c);
	close(l);
}

static void test_own_uid_is_found(void **state)
{
	own_uid_for(AF_INET);
	own_uid_for(AF_INET6);
}

/* The client socket is made by a child after setresuid: the kernel names that uid, not ours. */
static void test_other_uid_peer_is_reported_as_that_uid(void **state)
{
	uint16_t port;
	int l, a, st;
	uid_t uid = 0;
	pid_t pid;
	char ch;

	if (geteuid() != 0)
		skip();
	l = listen_on(AF_INET, &port);
	assert_true(l >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c;

		if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
		    setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
			_exit(2);
		c = connect_to(AF_INET, port);
		if (c < 0)
			_exit(3);
		/* Holds the connection until the parent has asked. */
		(void)!read(c, &ch, 1);
		_exit(0);
	}
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(peer_fd_uid(a, &uid), 0);
	assert_int_equal(uid, OTHER_UID);
	close(a);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(l);
}

/* A 4-tuple no socket has: nothing to vouch for. */
static void test_unknown_tuple_is_enoent(void **state)
{
	struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(1)};
	struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons(2)};
	uid_t uid = 4242;

	local.sin_addr.s_addr = remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(peer_tcp_uid((struct sockaddr *)&local, (struct sockaddr *)&remote, &uid), -ENOENT);
	assert_int_equal(uid, 4242);
	/* Mixed families and a non-socket. */
	{
		struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};

		assert_int_equal(peer_tcp_uid((struct sockaddr *)&local, (struct sockaddr *)&v6, &uid),
		                 -EINVAL);
	}
	assert_true(peer_fd_uid(0 /* stdin: not a TCP socket */, &uid) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_own_uid_is_found),
	        cmocka_unit_test(test_other_uid_peer_is_reported_as_that_uid),
	        cmocka_unit_test(test_unknown_tuple_is_enoent),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
