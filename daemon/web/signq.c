/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* signq (see signq.h): a small table of sites, searched linearly (a few dozen entries at most). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon/web/signq.h"

double signq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void signq_site_of(bool web, const char *origin, char ret[SITE_MAX])
{
	if (!web)
		snprintf(ret, SITE_MAX, "%s", SIGNQ_LOCAL_SITE);
	else if (origin == NULL || origin[0] == '\0')
		snprintf(ret, SITE_MAX, "%s", SIGNQ_NO_ORIGIN_SITE);
	else if (site_of_origin(origin, ret, SITE_MAX) < 0)
		snprintf(ret, SITE_MAX, "%s", origin);
}

static struct signq_site *find(struct signq *q, const char *site)
{
	for (size_t i = 0; i < SIGNQ_SITES; i++)
		if (q->sites[i].site[0] && strcmp(q->sites[i].site, site) == 0)
			return &q->sites[i];
	return NULL;
}

/* The site's entry, made if need be: a free slot, else the least recently served one whose back-off is
 * over, else the one whose back-off ends first. */
static struct signq_site *get(struct signq *q, const char *site, double now)
{
	struct signq_site *s = find(q, site), *victim = NULL;

	if (s)
		return s;
	for (size_t i = 0; i < SIGNQ_SITES; i++) {
		struct signq_site *c = &q->sites[i];

		if (c->site[0] == '\0') {
			victim = c;
			break;
		}
		if (victim == NULL ||
		    (c->until <= now && (victim->until > now || c->served < victim->served)) ||
		    (c->until > now && victim->until > now && c->until < victim->until))
			victim = c;
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->site, sizeof(victim->site), "%s", site);
	return victim;
}

int signq_pick(struct signq *q, const char *const *sites, const bool *backs_off, size_t n, double now,
               double *ret_wake)
{
	int best = -1;
	uint64_t best_served = 0;
	double wake = 0;

	for (size_t i = 0; i < n; i++) {
		const struct signq_site *s = find(q, sites[i]);
		uint64_t served = s ? s->served : 0;

		if (backs_off[i] && s && s->until > now) {
			if (wake == 0 || s->until < wake)
				wake = s->until;
			continue;
		}
		/* Queue order within a site and between sites served as long ago. */
		if (best < 0 || served < best_served) {
			best = (int)i;
			best_served = served;
		}
	}
	if (best < 0 && ret_wake)
		*ret_wake = wake;
	return best;
}

void signq_started(struct signq *q, const char *site, double now)
{
	get(q, site, now)->served = ++q->turn;
}

unsigned signq_cancelled(struct signq *q, const char *site, double now)
{
	struct signq_site *s = get(q, site, now);

	s->backoff_s = s->backoff_s == 0 ? SIGNQ_BACKOFF_FIRST_S
	                                 : (s->backoff_s >= SIGNQ_BACKOFF_MAX_S / 2 ? SIGNQ_BACKOFF_MAX_S
	                                                                            : s->backoff_s * 2);
	s->until = now + s->backoff_s;
	return s->backoff_s;
}

void signq_signed(struct signq *q, const char *site)
{
	struct signq_site *s = find(q, site);

	if (s) {
		s->backoff_s = 0;
		s->until = 0;
	}
}
