/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Starting a dialog program (see dialog-spawn.h). glibc runs posix_spawn as clone(CLONE_VM|CLONE_VFORK)
 * and exec: no page tables of the daemon are copied and the daemon waits only until the exec, while a
 * fork of imzad (its OpenSSL, SQLite and thread stacks) and one close() per descriptor number cost
 * milliseconds per dialog. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ui/dialog-spawn.h"

extern char **environ;

#define PID_VAR "_assuan_pipe_connect_pid="
#define FD_VAR "_assuan_connection_fd="

/* Ours, with what libassuan's child sets up after its fork: the client's pid, and never a connection fd
 * variable, which would make the server expect a socket instead of the pipes. */
static char **child_env(char *pid_var, size_t cap)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; *e != NULL; e++)
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (env == NULL)
		return NULL;
	snprintf(pid_var, cap, PID_VAR "%lu", (unsigned long)getpid());
	env[k++] = pid_var;
	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, PID_VAR, strlen(PID_VAR)) != 0 && strncmp(*e, FD_VAR, strlen(FD_VAR)) != 0)
			env[k++] = *e;
	env[k] = NULL;
	return env;
}

/* Pipes that no other program started meanwhile (another thread's dialog, a backend helper) inherits:
 * the child's ends lose close-on-exec where they are put on its stdin and stdout. */
static int spawn_pipe(assuan_context_t ctx, assuan_fd_t fd[2], int inherit_idx)
{
	(void)ctx;
	(void)inherit_idx;
	return pipe2(fd, O_CLOEXEC);
}

static int spawn(assuan_context_t ctx, pid_t *ret_pid, const char *name, const char **argv, assuan_fd_t fd_in,
                 assuan_fd_t fd_out, assuan_fd_t *fd_child_list, void (*atfork)(void *opaque, int reserved),
                 void *atforkvalue, unsigned int flags)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char pid_var[64];
	char **env;
	int in = fd_in, out = fd_out, e;
	pid_t pid;

	(void)ctx;
	(void)flags;
	/* libassuan's atfork only sets the two variables child_env sets (dialog.c passes none of its own).
	 * Only what dialog.c asks is done: a program on both pipes, no descriptor passed on. */
	(void)atfork;
	(void)atforkvalue;
	if (name == NULL || argv == NULL || fd_child_list != NULL || fd_in < 0 || fd_out < 0) {
		errno = EINVAL;
		return -1;
	}
	/* The child's dup2 onto 0 and 1 run in order: an end that is itself 0 or 1 moves out of the way. */
	if (in <= STDERR_FILENO)
		in = fcntl(fd_in, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (out <= STDERR_FILENO)
		out = fcntl(fd_out, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	env = child_env(pid_var, sizeof(pid_var));
	e = in < 0 || out < 0 ? errno : env == NULL ? ENOMEM : 0;
	if (e == 0) {
		posix_spawn_file_actions_init(&fa);
		posix_spawnattr_init(&attr);
		sigemptyset(&none);
		sigemptyset(&dflt);
		sigaddset(&dflt, SIGPIPE); /* imzad ignores it; a fresh program starts with the default */
		if (posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO) != 0 ||
		    posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO) != 0 ||
		    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0) != 0 ||
		    posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1) != 0 ||
		    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
		    posix_spawnattr_setsigdefault(&attr, &dflt) != 0 ||
		    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) != 0)
			e = ENOMEM;
		if (e == 0)
			e = posix_spawn(&pid, name, &fa, &attr, (char *const *)argv, env);
		posix_spawnattr_destroy(&attr);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(env);
	if (in != fd_in && in >= 0)
		close(in);
	if (out != fd_out && out >= 0)
		close(out);
	if (e != 0) {
		errno = e;
		return -1;
	}
	*ret_pid = pid;
	return 0;
}

assuan_system_hooks_t dialog_spawn_hooks(void)
{
	static struct assuan_system_hooks hooks = {
	        .version = ASSUAN_SYSTEM_HOOKS_VERSION,
	        .usleep = __assuan_usleep,
	        .pipe = spawn_pipe,
	        .close = __assuan_close,
	        .read = __assuan_read,
	        .write = __assuan_write,
	        .recvmsg = __assuan_recvmsg,
	        .sendmsg = __assuan_sendmsg,
	        .spawn = spawn,
	        .waitpid = __assuan_waitpid,
	        .socketpair = __assuan_socketpair,
	        .socket = __assuan_socket,
	        .connect = __assuan_connect,
	};

	return &hooks;
}
