/* The characters no dialog shows as they are, and their markers (see visible.h). One definition for the
 * pinentry text and imza-prompt's document view, so both mark exactly the same characters. */
#include <stdio.h>

#include "daemon/ui/visible.h"

bool visible_hidden(uint32_t cp)
{
	return (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f) || cp == 0xad ||
	       cp == 0x61c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff;
}

size_t visible_next(const uint8_t *s, size_t n, int32_t *ret_cp)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len = s[0] < 0x80             ? 1
	             : (s[0] & 0xe0) == 0xc0 ? 2
	             : (s[0] & 0xf0) == 0xe0 ? 3
	             : (s[0] & 0xf8) == 0xf0 ? 4
	                                     : 0;
	uint32_t cp;

	*ret_cp = -1;
	if (len == 0 || len > n)
		return 1;
	cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 1;
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
