/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl's pieces: the admin call to imzad, shared by the command files. */
#pragma once

#include <stdint.h>

#include "protocol/proto-buf.h"

/* One admin call (id, then the optional argument bytes): its response body is left in resp, read
 * through *r, after the call id and a CKR_OK (anything else is reported and is -EPROTO). */
int admin_call_args(const char *path, uint32_t id, const struct proto_buf *args, struct proto_buf *resp,
                    struct proto_reader *r);

/* imzactl sign | log | grants (tools/sign.c) */
int cmd_sign(const char *path, int argc, char **argv);
int cmd_log(const char *path, int argc, char **argv);
int cmd_grants(const char *path, int argc, char **argv);
int cmd_records(const char *path, int argc, char **argv);
