/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A vendor module's token as an imza card: the card driver that speaks to a token through its backend
 * (daemon/card/backend.h), and the set of backends imzad runs, whose tokens become readers with a card
 * (reader_ext_add), so that the slots, the applications, the cache, the signing service and the audit
 * serve them as they serve a PIV card, without knowing which driver is underneath.
 *
 * The token is modelled as a PIV card is: each certificate with a private key of the same CKA_ID gives a
 * certificate, a public key and a private key object (the CKA_ID kept whole). The module's login is one
 * per helper process, as PKCS#11 defines it; imzad keeps logins of different applications apart as it
 * does on a card (the application that logs in makes the module forget the previous one's login first).
 * Private-key operations are raw, as the driver interface defines them: RSA through CKM_RSA_X_509 when
 * the module has it, else PKCS#1 v1.5 signatures through CKM_RSA_PKCS; ECDSA through CKM_ECDSA. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/card/card.h"

struct reader_monitor;
struct backend_set;

extern const struct card_driver backend_card_driver;

/* Starts one backend per module (helper: the imza-backend program); their tokens reach m's callbacks.
 * prefer (NULL: none) marks the modules preferred over imza's own drivers: a card both serve is the
 * module's (reader_monitor_claim). 0, or -ENOMEM. */
int backend_set_new(struct reader_monitor *m, const char *helper, char (*modules)[PATH_MAX],
                    const bool *prefer, size_t n, struct backend_set **ret);
/* At most this many modules (imzad.conf's CONFIG_MODULES_MAX). */
#define CONFIG_BACKENDS_MAX 8
/* Whether anyone follows the slots (an application, a web request): the modules' slots are looked at
 * only then. Turned on, every module looks at once, and the reader monitor's modules_looked callback
 * runs once all have (true is returned then; false when no module runs or on is false). */
bool backend_set_listen(struct backend_set *s, bool on);
/* Stops every backend and removes their readers; before reader_monitor_free. */
void backend_set_free(struct backend_set *s);
