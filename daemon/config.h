/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's configuration file ($XDG_CONFIG_HOME/imza/imzad.conf, or --config FILE): lines of
 * `key = value`, `#` comments, blank lines. Unknown keys and bad values are errors with the line
 * number: imzad refuses to start on a broken file rather than guess. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE_MAX (64 * 1024)
#define IMZA_HTTPS_PORT_DEFAULT 38443
#define CONFIG_MODULES_MAX 8

struct imzad_config {
	bool https;              /* https = yes|no (default yes) */
	uint16_t https_port;     /* https_port = 1..65535 */
	char pinentry[PATH_MAX]; /* pinentry = program (default "pinentry") */
	char prompt[PATH_MAX];   /* prompt = imza-prompt|pinentry|/path (default "imza-prompt"): imza's own
	                          * window on a display, the pinentry above otherwise (daemon/ui/prompt.h) */
	/* module = /absolute/path/to/vendor-pkcs11.so, once per vendor module (at most CONFIG_MODULES_MAX),
	 * each run by a helper process of its own (daemon/card/backend.h). With none, imzad looks where vendor
	 * packages put theirs (daemon/card/modules.h). */
	char module[CONFIG_MODULES_MAX][PATH_MAX];
	size_t nmodules;
	/* prefer = native|module (default native), said of the module line above it: with module, a card
	 * that imza's own driver and this module both serve is served by the module (the native driver
	 * leaves that reader's card). */
	bool prefer_module[CONFIG_MODULES_MAX];
	/* native = yes|no (default yes): imza's own card drivers (PIV) serve the cards they know; a card
	 * of theirs keeps its reader, and a module's token in the same reader is not shown. With no, every
	 * card is left to the modules. */
	bool native;
};

void config_defaults(struct imzad_config *c);
/* Parses text (len bytes, need not be NUL-terminated) over c. 0, or -EINVAL with a message in err
 * ("line 3: unknown key 'foo'"). */
int config_parse(const char *text, size_t len, struct imzad_config *c, char *err, size_t errcap);
/* Reads and parses path: -ENOENT when it does not exist (the defaults stand), -EFBIG over
 * CONFIG_FILE_MAX, -EINVAL (err says why), other -errno from reading. */
int config_load(const char *path, struct imzad_config *c, char *err, size_t errcap);
/* $XDG_CONFIG_HOME/imza, else ~/.config/imza. */
int config_dir_default(char *out, size_t cap);
