/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backend-link: imzad's side of a vendor module (daemon/card/backend.c) against imza-backend running the
 * quirky module over SoftHSM, printing "ok - ..." / "not ok - ..." lines for
 * tests/integration/backend-link.sh. Built with a 1 s call deadline and a back-off of at most 2 s.
 *
 *   backend-link BACKEND MODULE LABEL DIR
 * DIR is where the triggers go (IMZA_QUIRK_HANG=DIR/hang, IMZA_QUIRK_CRASH=DIR/crash,
 * IMZA_QUIRK_REMOVED=DIR/removed, set by the script). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/card/backend.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned presents, gones;
static char label[33];
static const char *dir;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void on_present(void *ud, struct backend *b, const struct backend_token *t)
{
	(void)ud;
	(void)b;
	pthread_mutex_lock(&lock);
	presents++;
	memcpy(label, t->token_info.label, 32);
	label[32] = 0;
	for (int i = 31; i >= 0 && label[i] == ' '; i--)
		label[i] = 0;
	pthread_mutex_unlock(&lock);
}

static void on_gone(void *ud, struct backend *b, CK_SLOT_ID slot)
{
	(void)ud;
	(void)b;
	(void)slot;
	pthread_mutex_lock(&lock);
	gones++;
	pthread_mutex_unlock(&lock);
}

static unsigned count(unsigned *what)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = *what;
	pthread_mutex_unlock(&lock);
	return n;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waits up to s seconds for *what to reach n; the seconds it took, or -1. */
static double wait_count(unsigned *what, unsigned n, double s)
{
	double t0 = now_s();

	while (now_s() - t0 < s) {
		if (count(what) >= n)
			return now_s() - t0;
		usleep(20000);
	}
	return -1;
}

static void trigger(const char *name, int on)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (on) {
		FILE *f = fopen(p, "w");

		if (f)
			fclose(f);
	} else {
		unlink(p);
	}
}

static int alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0;
}

int main(int argc, char **argv)
{
	static const struct backend_callbacks cb = {.token_present = on_present, .token_gone = on_gone};
	struct backend *b = NULL;
	CK_INFO info;
	CK_RV rv = 0;
	pid_t pid;
	double t0, t;
	int e;

	if (argc != 5)
		return 2;
	dir = argv[4];
	signal(SIGPIPE, SIG_IGN);
	if (backend_new(argv[2], argv[1], &cb, NULL, &b) < 0)
		return 1;
	/* This program follows the token throughout, as an application waiting for slot events does. */
	backend_listen(b, true);

	/* Start: the helper comes up and the token is reported. */
	t = wait_count(&presents, 1, 10);
	check(t >= 0, "the token is reported present (%.2f s after start)", t);
	check(strcmp(label, argv[3]) == 0, "with its label (%s)", label);
	pid = backend_pid(b);
	check(alive(pid) && pid != getpid(), "the module runs in a helper process of its own (pid %d)",
	      (int)pid);
	e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetInfo, &info);
	check(e == 0 && rv == CKR_OK && info.cryptokiVersion.major >= 2, "a call goes through (C_GetInfo)");

	/* A module that hangs: the call ends at its deadline, the helper is killed, the token goes. */
	trigger("hang", 1);
	t0 = now_s();
	e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetInfo, &info);
	t = now_s() - t0;
	/* (The thread's look at the slots may meet the hang first: this call then finds the back-off.) */
	check((e == -ETIMEDOUT || e == -EAGAIN) && t < 2.5,
	      "a hung module: the call ends after %.2f s (deadline %.1f s): %s", t,
	      BACKEND_CALL_TIMEOUT_MS / 1000.0, e == -ETIMEDOUT ? "timed out" : "in the back-off");
	check(!alive(pid), "the hung helper %d was killed and reaped", (int)pid);
	t = wait_count(&gones, 1, 5);
	check(t >= 0, "its token is reported gone (%.2f s)", t);
	trigger("hang", 0);
	t = wait_count(&presents, 2, 10);
	check(t >= 0 && backend_starts(b) >= 2,
	      "the module answers again: a new helper (%u started), the token is back (%.2f s)",
	      backend_starts(b), t);
	check(alive(backend_pid(b)) && backend_pid(b) != pid, "the new helper has a pid of its own (%d)",
	      (int)backend_pid(b));

	/* A module that crashes: the call ends at once, the token goes and comes back. */
	pid = backend_pid(b);
	trigger("crash", 1);
	t0 = now_s();
	e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetInfo, &info);
	t = now_s() - t0;
	check((e == -ECONNRESET || e == -EAGAIN) && t < 0.9,
	      "a crashing module: the call ends at once (%.2f s, no wait for the deadline): %s", t,
	      e == -ECONNRESET ? "connection ended" : "in the back-off");
	check(!alive(pid), "the crashed helper %d was reaped", (int)pid);
	t = wait_count(&gones, 2, 5);
	check(t >= 0, "its token is reported gone (%.2f s)", t);

	/* While it keeps crashing, helpers are started with a back-off, not in a loop. */
	{
		unsigned s0 = backend_starts(b);

		sleep(4);
		unsigned s1 = backend_starts(b);
		check(s1 - s0 <= 5 && s1 - s0 >= 2,
		      "a module that crashes on every call: %u helpers in 4 s (back-off from %d ms, doubling "
		      "to %d ms)",
		      s1 - s0, BACKEND_BACKOFF_MIN_MS, BACKEND_BACKOFF_MAX_MS);
	}
	e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetInfo, &info);
	check(e == -EAGAIN || e == -ECONNRESET, "a call in the back-off fails at once, it does not wait (%d)",
	      e);
	trigger("crash", 0);
	t = wait_count(&presents, 3, 10);
	check(t >= 0, "the crash trigger gone, the token is back (%.2f s)", t);

	/* A token taken out and put back: the same helper, the token gone and back. */
	pid = backend_pid(b);
	{
		unsigned g = count(&gones), p = count(&presents);

		trigger("removed", 1);
		t = wait_count(&gones, g + 1, 5);
		check(t >= 0 && t < 2, "a token taken out is reported gone within 2 s (%.2f s)", t);
		trigger("removed", 0);
		t = wait_count(&presents, p + 1, 5);
		check(t >= 0 && t < 2, "and back within 2 s of being put back (%.2f s)", t);
		check(backend_pid(b) == pid, "by the same helper");
	}

	backend_free(b);
	check(!alive(pid), "backend_free ends the helper");
	check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "and leaves no child behind");

	/* A helper that cannot be started: calls fail at once, nothing crashes. */
	if (backend_new(argv[2], "/nonexistent/imza-backend", &cb, NULL, &b) == 0) {
		usleep(300000);
		e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetInfo, &info);
		check(e == -EAGAIN, "a helper program that is not there: calls fail at once (%d)", e);
		backend_free(b);
	}
	return 0;
}
