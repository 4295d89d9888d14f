/* imzad's answers to imzactl's own calls (status, certificates), from the slot table and the token
 * models: nothing here touches a card. */
#pragma once

#include "daemon/daemon.h"
#include "protocol/proto-buf.h"

/* Appends the response for call id to w; a malformed request is a negative errno. */
int admin_handle(struct daemon *d, struct app *a, uint32_t id, struct proto_reader *r, struct proto_buf *w);
