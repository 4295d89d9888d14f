/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock: the module's mutex, made from pthreads or from the application's mutex callbacks, as
 * CK_C_INITIALIZE_ARGS asks (PKCS#11 2.40 §5.4). The application's callbacks have no condition
 * variable, so waiting with them drops the lock for a short sleep instead. */
#ifndef IMZA_P11_LOCK_H
#define IMZA_P11_LOCK_H

#include <pthread.h>
#include <stdbool.h>

#include "pkcs11-3.h"

struct p11_lock {
	bool app; /* the application's callbacks */
	CK_C_INITIALIZE_ARGS cb;
	void *app_mutex;
	pthread_mutex_t m;
	pthread_cond_t c;
};

/* Checks the locking part of C_Initialize's arguments (NULL: pthreads) and makes the lock:
 * CKR_OK, CKR_ARGUMENTS_BAD (some callbacks but not all), CKR_CANT_LOCK or what the
 * application's CreateMutex returned. */
CK_RV p11_lock_init(struct p11_lock *l, const CK_C_INITIALIZE_ARGS *args);
void p11_lock_destroy(struct p11_lock *l);
void p11_lock(struct p11_lock *l);
void p11_unlock(struct p11_lock *l);
/* With the lock held: waits for p11_lock_broadcast or at most ms milliseconds. */
void p11_lock_wait(struct p11_lock *l, int ms);
void p11_lock_broadcast(struct p11_lock *l);

#endif
