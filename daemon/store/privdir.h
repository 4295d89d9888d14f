/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The directories (and files) that hold imzad's secrets and decisions (the card cache with the audit log and the
 * origin grants; the local CA's keys): made 0700 when missing, refused when someone else could change
 * (or, for keys, read) what is in them. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Makes dir and any missing parents 0700 (the umask cannot loosen that), then opens it. An existing
 * dir must belong to us and have none of the `forbidden` mode bits (022: writable by others only;
 * 077: closed to everyone else): else -EPERM, logged once with `who` as prefix. 0 and *ret_fd (an
 * O_DIRECTORY descriptor), or -errno. */
int privdir_open(const char *who, const char *dir, mode_t forbidden, int *ret_fd);

/* Reads fd to its end into buf, which has room for max + 1 bytes: 0 and *ret_len, -EFBIG when the file
 * holds more than max bytes (grown since a size check, or never checked), or -errno. */
int privdir_read_all(int fd, char *buf, size_t max, size_t *ret_len);
