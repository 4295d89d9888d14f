/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The certificate choice's rules that need no window (SETCERTS and CHOOSE, docs/PROMPT.md): the caps on
 * what imzad may send, the parse of SETCERTS' line and the split of the DERs it inquired. Shared by
 * imza-prompt (which refuses anything past them) and imzad (which never sends past them). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "prompt/util.h"

/* At most this many certificates, each at most PROMPT_CERT_MAX bytes, all of them at most
 * PROMPT_CERTS_TOTAL_MAX: sixteen real certificates (1 to 3 KiB each) fit with room to spare. */
#define PROMPT_CHOICES_MAX 16
#define PROMPT_CERTS_TOTAL_MAX (128 * 1024)

/* "N L1 … LN": N in 1..PROMPT_CHOICES_MAX, exactly N lengths in 1..PROMPT_CERT_MAX (decimal, no sign,
 * no leading zero, one space apart), whose sum is at most PROMPT_CERTS_TOTAL_MAX. 0 with *ret_n, lens[]
 * and *ret_total set; -EINVAL otherwise. */
int prompt_certs_header(const char *line, size_t *ret_n, size_t lens[PROMPT_CHOICES_MAX], size_t *ret_total);
/* The inquired bytes: exactly the total of lens, and each part one whole certificate (certinfo_parse).
 * 0 with the parts' starts in ret_ders; -EINVAL (short, long, or not a certificate). */
int prompt_certs_split(const uint8_t *buf, size_t len, const size_t *lens, size_t n,
                       const uint8_t *ret_ders[PROMPT_CHOICES_MAX]);
