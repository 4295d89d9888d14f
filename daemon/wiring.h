/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How imzad's parts are put together at start, so that none calls another that calls it back: the RPC
 * server hands requests to the table below, the slots publish their events to listeners, and the
 * applications release a card's login through a hook (docs/LAYOUT.md). */
#pragma once

#include "daemon/daemon.h"
#include "daemon/server.h"

/* The server's table: the applications, PKCS#11 and imzactl's calls. */
extern const struct server_handlers imzad_handlers;
/* The applications follow the slots, and PKCS#11 releases the login of an application that went.
 * 0, or -ENOSPC. */
int imzad_wire(struct daemon *d);
