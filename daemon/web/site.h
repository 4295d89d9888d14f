/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The site of a web origin: its registrable domain by the Public Suffix List (libpsl, with the
 * distribution's list when it is newer than the built-in one). The user judges a page by its site, and
 * standing answers that must not be dodged by a fresh subdomain (deny, queue places, dialogs) are kept
 * per site. Pure functions over a list loaded once; safe from any thread after site_init. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Room for any site: an origin's host is at most 253 bytes. */
#define SITE_MAX 256

/* Loads the list; later calls do nothing. 0, or -ENOMEM when libpsl has no list at all. */
int site_init(void);

/* The host part of an origin ("https://a.b.example:8443" -> "a.b.example", "http://[::1]:80" ->
 * "[::1]"). 0, or -EINVAL when origin is not scheme://host[:port], -ENAMETOOLONG when it does not fit. */
int site_host(const char *origin, char *ret, size_t cap);

/* The origin's site: the registrable domain of its host ("portal.kamusm.gov.tr" -> "kamusm.gov.tr",
 * "s1.evil.example" -> "evil.example"). A host that has none (an IP address, "localhost", a public suffix
 * itself, a single label) is its own site. 0, -EINVAL, -ENAMETOOLONG as site_host. */
int site_of_origin(const char *origin, char *ret, size_t cap);

/* Whether an origin's grant may be stored ("always"): https origins, and http only for the local
 * development hosts localhost, 127.0.0.1 and [::1]. A plain-http page elsewhere can be rewritten by
 * anyone on its path, so it gets "once" only. */
bool site_may_remember(const char *origin);
