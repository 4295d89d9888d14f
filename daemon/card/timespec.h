/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Deadlines for the card layer's threads (condition waits, call deadlines): a time plus milliseconds. */
#pragma once

#include <time.h>

static inline struct timespec timespec_after_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}
