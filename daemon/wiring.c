/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How imzad's parts are put together at start (see wiring.h). */
#include <errno.h>

#include "daemon/wiring.h"
#include "daemon/admin.h"
#include "daemon/card/backend-card.h"

const struct server_handlers imzad_handlers = {
        .attach = app_attach,
        .detach = app_detach,
        .call_start = app_call_start,
        .call_done = app_call_done,
        .call_cancel = app_call_cancel,
        .p11 = &p11_ops,
        .admin = admin_handle,
        .admin_async = admin_start,
};

int imzad_wire(struct daemon *d)
{
	d->release_card = p11_release_card;
	d->module_driver = &backend_card_driver;
	if (slots_listen(d, p11_on_slot, NULL) < 0)
		return -ENOSPC;
	return slots_listen(d, app_on_slot, NULL);
}
