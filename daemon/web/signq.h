/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The signing queue's fairness rules (used by sign.c, pure so they can be tested alone): requests are
 * grouped by site (the registrable domain of a web origin; all local programs are one site of their
 * own), at most SIGNQ_PER_SITE of a site wait at once, sites are served in turn, and after a cancelled PIN
 * dialog a site's next signature waits a growing back-off. Times are CLOCK_MONOTONIC seconds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/web/site.h"

#define SIGNQ_PER_SITE 2
#define SIGNQ_BACKOFF_FIRST_S 5
#define SIGNQ_BACKOFF_MAX_S 300
/* Sites remembered for turns and back-offs; past this the least recently served one without a running
 * back-off is forgotten. */
#define SIGNQ_SITES 32
/* The site of local programs (never a registrable domain: those have no parentheses). */
#define SIGNQ_LOCAL_SITE "(local)"
/* Web requests without an Origin (programs that are not browsers). */
#define SIGNQ_NO_ORIGIN_SITE "(no origin)"

struct signq_site {
	char site[SITE_MAX]; /* "" for a free slot */
	uint64_t served;     /* turn of its last start: the least recent goes first */
	double until;        /* no signature of it starts before this */
	unsigned backoff_s;  /* the last back-off; 0 after a signature */
};

struct signq {
	struct signq_site sites[SIGNQ_SITES];
	uint64_t turn;
};

double signq_now(void);

/* The site a request counts against: web origin → its registrable domain (the origin itself when libpsl
 * cannot say), web without Origin → SIGNQ_NO_ORIGIN_SITE, local → SIGNQ_LOCAL_SITE. */
void signq_site_of(bool web, const char *origin, char ret[SITE_MAX]);

/* Which of n waiting requests starts now: sites[i] is the i-th one's site in queue order, backs_off[i]
 * whether a back-off holds it (signatures do; consent questions do not). The index, or -1 when every
 * one is held: then *ret_wake is when the first hold ends. */
int signq_pick(struct signq *q, const char *const *sites, const bool *backs_off, size_t n, double now,
               double *ret_wake);
/* The request of site starts: the site's turn is now. */
void signq_started(struct signq *q, const char *site, double now);
/* A PIN dialog of site was cancelled (or left to time out): its next signature waits 5 s, then 10, 20…
 * up to 5 min. Returns the back-off in seconds. */
unsigned signq_cancelled(struct signq *q, const char *site, double now);
/* A signature of site was made: no back-off any more. */
void signq_signed(struct signq *q, const char *site);
