/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-config: imzad's configuration file from a hostile or damaged file. config_parse must refuse
 * anything malformed with a message and an untouched configuration, and what it accepts must be in
 * range and read back the same when written out again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct imzad_config c, before, again;
	static char text[PATH_MAX + 128];
	char err[256] = "";
	int n;

	config_defaults(&c);
	before = c;
	if (config_parse((const char *)data, size, &c, err, sizeof(err)) < 0) {
		if (err[0] == '\0' || memcmp(&c, &before, sizeof(c)) != 0)
			abort();
		return 0;
	}
	if (c.https_port == 0 || c.pinentry[0] == '\0' ||
	    memchr(c.pinentry, '\0', sizeof(c.pinentry)) == NULL)
		abort();
	n = snprintf(text, sizeof(text), "https=%s\nhttps_port=%u\npinentry=%s\n", c.https ? "yes" : "no",
	             (unsigned)c.https_port, c.pinentry);
	if (n < 0 || (size_t)n >= sizeof(text))
		abort();
	config_defaults(&again);
	if (config_parse(text, (size_t)n, &again, err, sizeof(err)) < 0 || memcmp(&c, &again, sizeof(c)) != 0)
		abort();
	return 0;
}
