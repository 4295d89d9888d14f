/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-prompt's certificate choice (docs/PROMPT.md): SETCERTS keeps the certificates imzad offers (by
 * INQUIRE CERTIFICATES, within choices.h's caps), CHOOSE shows them in a list window (qualified ones
 * marked, "Görüntüle" and "Seç" on each row, "İptal") and answers with the index chosen. */
#pragma once

#include <assuan.h>

#include "prompt/window.h"

/* SETCERTS N L1 … LN */
gpg_error_t choose_setcerts(assuan_context_t c, char *line);
/* CHOOSE: D lines with the index (decimal), then OK; ERR canceled / timeout. */
gpg_error_t choose_command(const struct prompt *p, assuan_context_t c, char *line);
/* Forgets the certificates. */
void choose_free(void);
