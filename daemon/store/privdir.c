/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private directories (privdir.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/store/privdir.h"

static int make_parents(const char *who, const char *dir)
{
	char *p = strdup(dir);

	if (p == NULL)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			int r = -errno;

			log_error("%s: cannot make %s: %s", who, p, strerror(-r));
			free(p);
			return r;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

int privdir_open(const char *who, const char *dir, mode_t forbidden, int *ret_fd)
{
	bool made = false;
	struct stat st;
	int fd, r;

	if (dir == NULL || dir[0] == '\0')
		return -EINVAL;
	r = make_parents(who, dir);
	if (r < 0)
		return r;
	if (mkdir(dir, 0700) == 0)
		made = true;
	else if (errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Exactly 0700 for a directory we made, whatever the umask took away. */
	if ((made && fchmod(fd, 0700) < 0) || fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (st.st_uid != geteuid()) {
		log_error("%s: %s belongs to uid %u, not to us (uid %u)", who, dir, (unsigned)st.st_uid,
		          (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if (st.st_mode & forbidden) {
		log_error("%s: %s is %s to group or others (mode %04o): chmod 700 it", who, dir,
		          (forbidden & 044) ? "open" : "writable", (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

int privdir_read_all(int fd, char *buf, size_t max, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	*ret_len = len;
	return 0;
}
