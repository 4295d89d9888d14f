/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock: see lock.h. Errors of the application's lock callbacks can't be reported anywhere useful
 * (the module never prints), so they are ignored: the callbacks are the application's promise. */
#include "lock.h"

#include <errno.h>
#include <string.h>
#include <time.h>

CK_RV p11_lock_init(struct p11_lock *l, const CK_C_INITIALIZE_ARGS *args)
{
	pthread_condattr_t ca;
	int n = 0;

	memset(l, 0, sizeof(*l));
	if (args) {
		n = (args->CreateMutex != NULL) + (args->DestroyMutex != NULL) + (args->LockMutex != NULL) +
		    (args->UnlockMutex != NULL);
		if (n != 0 && n != 4)
			return CKR_ARGUMENTS_BAD;
	}
	/* Callbacks without CKF_OS_LOCKING_OK: the application wants its own mutexes used. With the
	 * flag, the choice is ours and pthreads can wait properly. */
	if (n == 4 && !(args->flags & CKF_OS_LOCKING_OK)) {
		CK_RV rv;

		l->app = true;
		l->cb = *args;
		rv = l->cb.CreateMutex(&l->app_mutex);
		if (rv != CKR_OK)
			return rv;
		if (l->app_mutex == NULL)
			return CKR_CANT_LOCK;
		return CKR_OK;
	}
	if (pthread_mutex_init(&l->m, NULL) != 0)
		return CKR_CANT_LOCK;
	if (pthread_condattr_init(&ca) != 0) {
		pthread_mutex_destroy(&l->m);
		return CKR_CANT_LOCK;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&l->c, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&l->m);
		return CKR_CANT_LOCK;
	}
	pthread_condattr_destroy(&ca);
	return CKR_OK;
}

void p11_lock_destroy(struct p11_lock *l)
{
	if (l->app) {
		if (l->app_mutex)
			l->cb.DestroyMutex(l->app_mutex);
		l->app_mutex = NULL;
		return;
	}
	pthread_cond_destroy(&l->c);
	pthread_mutex_destroy(&l->m);
}

void p11_lock(struct p11_lock *l)
{
	if (l->app)
		l->cb.LockMutex(l->app_mutex);
	else
		pthread_mutex_lock(&l->m);
}

void p11_unlock(struct p11_lock *l)
{
	if (l->app)
		l->cb.UnlockMutex(l->app_mutex);
	else
		pthread_mutex_unlock(&l->m);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void p11_lock_wait(struct p11_lock *l, int ms)
{
	struct timespec ts;

	if (l->app) {
		/* No condition variable: poll, at most a few milliseconds at a time. */
		l->cb.UnlockMutex(l->app_mutex);
		sleep_ms(ms < 2 ? ms : 2);
		l->cb.LockMutex(l->app_mutex);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&l->c, &l->m, &ts);
}

void p11_lock_broadcast(struct p11_lock *l)
{
	if (!l->app)
		pthread_cond_broadcast(&l->c);
}
