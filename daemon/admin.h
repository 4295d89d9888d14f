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
/* imzactl pin change|unblock (RPC_CALL_IMZA_PIN, admin-pin.c): imzad's dialog asks the secrets, then the
 * card job runs; the answer (proto_pin_result, tries left) goes out when it is done. 0 when started or
 * answered; -EBADMSG for a malformed request. */
int admin_pin_start(struct daemon *d, struct call *call, struct proto_reader *r);
/* imzad stops: a PIN dialog still up is left to end on its own, and nothing of it reaches the card. */
void admin_pin_stop(void);
