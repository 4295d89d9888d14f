/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* p11stress: many applications at once through one module and one daemon. P processes with T threads
 * each list slots, read the token info, open sessions, find objects and read every object's value in a loop, while one more
 * process logs in and signs in a loop, for S seconds. Prints per-call latency percentiles and the
 * error count; exits 1 on any error or if a worker hangs past the deadline.
 * Every worker connects (and the signer logs in) first; the clock starts when all are ready, so the
 * figures are of the load, not of 200 processes starting at once, and the listers go on a little past
 * the signer's end, so that its last calls are under the same load too.
 *   p11stress MODULE PIN PROCESSES THREADS SECONDS  (PROCESSES 0: the signer alone, idle)
 * P11STRESS_SIGNER_MODULE=PATH: the signer loads that module instead (a baseline: another module on the
 * same card, signing beside the listers). */
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

enum { K_SLOTS, K_TOKEN, K_OPEN, K_FIND, K_ATTR, K_SIGN, K_COUNT };
static const char *kind_names[K_COUNT] = {"C_GetSlotList", "C_GetTokenInfo",      "C_OpenSession",
                                          "C_FindObjects", "C_GetAttributeValue", "C_Sign"};
#define MAX_SAMPLES 200000

struct sample {
	unsigned char kind;
	float us;
};

static CK_FUNCTION_LIST_PTR f;
static const char *pin;
static int secs;
/* A worker writes a byte to ready_fd once set up, then waits for go_fd's end (main closes it). */
static int ready_fd = -1, go_fd = -1;
#define LISTERS_GO_ON 0.25 /* seconds past the signer's end */

struct worker {
	pthread_t t;
	struct sample *s;
	size_t n;
	unsigned long errors;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note(struct worker *w, int kind, double t0, CK_RV rv)
{
	if (rv != CKR_OK)
		w->errors++;
	if (w->n < MAX_SAMPLES)
		w->s[w->n++] = (struct sample){(unsigned char)kind, (float)((now() - t0) * 1e6)};
}

/* Says this worker is set up, waits for every other, and gives its deadline. */
static double ready_go(double extra)
{
	char b = 1;
	ssize_t r;

	if (write(ready_fd, &b, 1) != 1)
		return 0;
	do
		r = read(go_fd, &b, 1);
	while (r > 0);
	return now() + secs + extra;
}

static void *lister(void *arg)
{
	struct worker *w = arg;
	CK_ULONG n0 = 0;
	double deadline;

	/* Connected before the clock starts. */
	f->C_GetSlotList(CK_TRUE, NULL, &n0);
	deadline = ready_go(LISTERS_GO_ON);
	while (now() < deadline) {
		CK_SLOT_ID slots[8];
		CK_ULONG n = 8, found = 0;
		CK_TOKEN_INFO ti;
		CK_SESSION_HANDLE s;
		CK_OBJECT_HANDLE objs[32];
		double t0 = now();
		CK_RV rv = f->C_GetSlotList(CK_TRUE, slots, &n);

		note(w, K_SLOTS, t0, rv == CKR_OK && n > 0 ? CKR_OK : CKR_GENERAL_ERROR);
		if (rv != CKR_OK || n == 0)
			continue;
		t0 = now();
		rv = f->C_GetTokenInfo(slots[0], &ti);
		note(w, K_TOKEN, t0, rv);
		t0 = now();
		rv = f->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &s);
		note(w, K_OPEN, t0, rv);
		if (rv != CKR_OK)
			continue;
		t0 = now();
		rv = f->C_FindObjectsInit(s, NULL, 0);
		if (rv == CKR_OK)
			rv = f->C_FindObjects(s, objs, 32, &found);
		if (rv == CKR_OK)
			rv = f->C_FindObjectsFinal(s);
		note(w, K_FIND, t0, rv);
		for (CK_ULONG i = 0; i < found; i++) {
			CK_BYTE buf[4096];
			CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};

			t0 = now();
			rv = f->C_GetAttributeValue(s, objs[i], &a, 1);
			/* Public keys have no CKA_VALUE, and a private key listed before login (PIV's 9E) keeps
			 * its own: those answers are correct, not errors. */
			note(w, K_ATTR, t0,
			     rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ? CKR_OK : rv);
		}
		f->C_CloseSession(s);
	}
	return NULL;
}

static void *signer(void *arg)
{
	struct worker *w = arg;
	CK_SLOT_ID slot;
	CK_ULONG n = 1, found = 0;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BYTE id = 1;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, &id, 1}};
	CK_OBJECT_HANDLE key;
	CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
	double deadline;

	if (f->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK ||
	    f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
	    f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK ||
	    f->C_FindObjectsInit(s, t, 2) != CKR_OK || f->C_FindObjects(s, &key, 1, &found) != CKR_OK ||
	    found != 1) {
		w->errors++;
		ready_go(0);
		return NULL;
	}
	f->C_FindObjectsFinal(s);
	deadline = ready_go(0);
	while (now() < deadline) {
		CK_BYTE sig[128];
		CK_ULONG len = sizeof(sig);
		double t0 = now();
		CK_RV rv = f->C_SignInit(s, &m, key);

		if (rv == CKR_OK)
			rv = f->C_Sign(s, (CK_BYTE_PTR) "imza", 4, sig, &len);
		note(w, K_SIGN, t0, rv);
	}
	return NULL;
}

/* One process: its threads run, then it writes its samples and error count to fd. */
static int run_process(const char *module, int threads, int sign, int fd)
{
	void *h = dlopen(module, RTLD_NOW);
	CK_C_GetFunctionList gfl = h ? (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList") : NULL;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	unsigned long errors = 0;

	if (gfl == NULL || gfl(&f) != CKR_OK || f->C_Initialize(&args) != CKR_OK || w == NULL) {
		for (int i = 0; i < threads; i++)
			ready_go(0);
		return 1;
	}
	for (int i = 0; i < threads; i++) {
		w[i].s = malloc(sizeof(struct sample) * MAX_SAMPLES);
		pthread_create(&w[i].t, NULL, sign ? signer : lister, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		errors += w[i].errors;
		if (write(fd, w[i].s, w[i].n * sizeof(struct sample)) < 0)
			return 1;
		free(w[i].s);
	}
	f->C_Finalize(NULL);
	if (errors)
		fprintf(stderr, "p11stress: pid %d: %lu errors\n", (int)getpid(), errors);
	return errors ? 1 : 0;
}

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int procs, threads, fds[2], ready[2], go[2], failed = 0, want;
	const char *signer_module;
	size_t cap = 1 << 20, n[K_COUNT] = {0};
	float *v[K_COUNT];
	pid_t *pids;

	if (argc != 6)
		return 2;
	pin = argv[2];
	procs = (int)strtol(argv[3], NULL, 10);
	threads = (int)strtol(argv[4], NULL, 10);
	secs = (int)strtol(argv[5], NULL, 10);
	if (procs < 0 || procs > 200 || threads < 1 || threads > 64 || secs < 1 || secs > 600)
		return 2;
	signer_module = getenv("P11STRESS_SIGNER_MODULE");
	pids = calloc((size_t)procs + 1, sizeof(*pids));
	if (pipe(fds) < 0 || pipe(ready) < 0 || pipe(go) < 0 || pids == NULL)
		return 1;
	ready_fd = ready[1];
	go_fd = go[0];
	for (int i = 0; i <= procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[0]);
			close(ready[0]);
			close(go[1]);
			_exit(run_process(i == procs && signer_module ? signer_module : argv[1],
			                  i == procs ? 1 : threads, i == procs, fds[1]));
		}
	}
	close(fds[1]);
	close(ready[1]);
	close(go[0]);
	/* Every worker's byte, or a minute without one (a worker that cannot say it: its error counts). */
	want = procs * threads + 1;
	while (want > 0) {
		struct pollfd p = {.fd = ready[0], .events = POLLIN};
		char b[256];
		ssize_t r;

		if (poll(&p, 1, 60000) <= 0 || (r = read(ready[0], b, sizeof(b))) <= 0)
			break;
		want -= (int)r;
	}
	close(go[1]);
	for (int k = 0; k < K_COUNT; k++)
		v[k] = malloc(cap * sizeof(float));
	for (;;) {
		struct sample s;
		ssize_t r = read(fds[0], &s, sizeof(s));

		if (r != sizeof(s))
			break;
		if (s.kind < K_COUNT && n[s.kind] < cap)
			v[s.kind][n[s.kind]++] = s.us;
	}
	for (int i = 0; i <= procs; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	for (int k = 0; k < K_COUNT; k++) {
		if (n[k] == 0)
			continue;
		qsort(v[k], n[k], sizeof(float), cmp);
		printf("bench stress_%s_p50 %.1f us\nbench stress_%s_p99 %.1f us\nbench stress_%s_calls %zu "
		       "calls\n",
		       kind_names[k], v[k][n[k] / 2], kind_names[k], v[k][n[k] * 99 / 100], kind_names[k],
		       n[k]);
	}
	printf("stress processes=%d threads=%d seconds=%d failed_processes=%d\n", procs + 1, threads, secs,
	       failed);
	return failed ? 1 : 0;
}
