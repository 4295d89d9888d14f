/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's answers to imzactl's own calls (status, certificates), from the slot table and the token
 * models: nothing here touches a card. */
#pragma once

#include "daemon/daemon.h"
#include "protocol/proto-buf.h"

/* Appends the response for call id to w; a malformed request is a negative errno. */
int admin_handle(struct daemon *d, struct app *a, uint32_t id, struct proto_reader *r, struct proto_buf *w);
/* Starts an admin call that answers later (RPC_CALL_IMZA_SIGN): 0 when started (the reply goes out
 * through call_reply, maybe before this returns), -EBADMSG for a malformed request (nothing started). */
int admin_start(struct daemon *d, struct call *call, uint32_t id, struct proto_reader *r);
