/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The characters no dialog shows as they are, and their markers (see visible.h). One definition for the
 * pinentry text and imza-prompt's document view, so both mark exactly the same characters. */
#include <stdio.h>

#include "daemon/ui/visible.h"
#include "daemon/utf8.h"

bool visible_hidden(uint32_t cp)
{
	return cp != '\n' && cp != '\t' && utf8_hidden(cp);
}

size_t visible_next(const uint8_t *s, size_t n, int32_t *ret_cp)
{
	uint32_t cp = 0;
	size_t len = utf8_next(s, n, &cp);

	if (len == 0 || len > n) {
		*ret_cp = -1;
		return 1;
	}
	*ret_cp = (int32_t)cp;
	return len;
}

size_t visible_marker(const uint8_t *s, int32_t cp, char out[static VISIBLE_MARKER_MAX + 1])
{
	int n;

	if (cp < 0)
		n = snprintf(out, VISIBLE_MARKER_MAX + 1,
		             "\xe2\x9f\xa8"
		             "0x%02X\xe2\x9f\xa9",
		             s[0]);
	else
		n = snprintf(out, VISIBLE_MARKER_MAX + 1,
		             "\xe2\x9f\xa8"
		             "U+%04X\xe2\x9f\xa9",
		             (unsigned)cp);
	return n > 0 ? (size_t)n : 0;
}
