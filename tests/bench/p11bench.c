/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* p11bench: times PKCS#11 calls through any module (imza's, OpenSC's, p11-kit's client) for make bench,
 * and the raw AF_UNIX request/reply round trip that bounds what any socket-based module can do.
 *   p11bench unix N                          raw round trip over a socketpair to another process
 *   p11bench unix-thread N                   the same to a thread of this process (cheaper: see below)
 *   p11bench MODULE getinfo N                C_GetInfo
 *   p11bench MODULE getattr N                C_GetAttributeValue (a certificate's CKA_VALUE)
 * These four time each call apart and print `bench NAME P50 us p99 P99 mean MEAN`: an application
 * sees single calls, and on a shared machine a few preempted ones move a mean but not a median.
 *   p11bench MODULE sign N PIN ID            C_SignInit [+ context login] + C_Sign, SHA256-RSA-PKCS
 *   p11bench MODULE sign1 PIN ID             one login and one signature from this fresh process
 *   p11bench MODULE coldlist                 a browser's start: load, initialize, list every object
 *                                            with its attributes, in this fresh process
 * Prints one `bench NAME VALUE UNIT` line. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Per-call times t[0..n) (sorted here) as one line: median, 99th percentile, mean. */
static void report(const char *name, double *t, long n)
{
	double sum = 0;

	for (long i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("bench %s %.2f us p99 %.2f mean %.2f\n", name, t[(n - 1) / 2], t[(n * 99 - 1) / 100],
	       sum / (double)n);
}

static double *times_new(long n)
{
	double *t = calloc((size_t)n, sizeof(*t));

	if (t == NULL)
		fprintf(stderr, "p11bench: out of memory\n");
	return t;
}

static void echo(int fd)
{
	char buf[64];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
}

static void *echo_thread(void *arg)
{
	echo(*(int *)arg);
	return NULL;
}

/* A request/reply of the size of a C_GetInfo request, one write and one read on each side: the
 * least any module over a socket can do. `process`: the peer is another process, as imzad and
 * p11-kit's server are. A thread of the same process is cheaper to wake (no switch of address
 * space), so a floor measured that way understates what a daemon costs at the least. */
static int bench_unix(long n, bool process)
{
	int sv[2];
	pthread_t t;
	pid_t pid = -1;
	char req[16] = {0}, rep[16];
	double *ts = times_new(n), t0;

	if (ts == NULL || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	if (process) {
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			close(sv[0]);
			echo(sv[1]);
			_exit(0);
		}
		close(sv[1]);
	} else if (pthread_create(&t, NULL, echo_thread, &sv[1]) != 0) {
		return 1;
	}
	for (long i = 0; i < n; i++) {
		t0 = now_us();
		if (write(sv[0], req, sizeof(req)) != sizeof(req) ||
		    read(sv[0], rep, sizeof(rep)) != sizeof(rep))
			return 1;
		ts[i] = now_us() - t0;
	}
	report(process ? "unix_rtt" : "unix_rtt_thread", ts, n);
	close(sv[0]);
	if (process) {
		waitpid(pid, NULL, 0);
	} else {
		pthread_join(t, NULL);
		close(sv[1]);
	}
	free(ts);
	return 0;
}

/* What a PKCS#11 host does when it starts: every slot's token, every object's common attributes. */
static int list_all(CK_FUNCTION_LIST_PTR f)
{
	CK_SLOT_ID slots[16];
	CK_ULONG ns = 16;

	if (f->C_GetSlotList(CK_TRUE, slots, &ns) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < ns; i++) {
		CK_TOKEN_INFO ti;
		CK_SESSION_HANDLE s;
		CK_OBJECT_HANDLE objs[64];
		CK_ULONG n = 0;

		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
		    f->C_FindObjectsInit(s, NULL, 0) != CKR_OK || f->C_FindObjects(s, objs, 64, &n) != CKR_OK)
			return -1;
		f->C_FindObjectsFinal(s);
		for (CK_ULONG j = 0; j < n; j++) {
			CK_BYTE label[256], id[64], value[4096];
			CK_OBJECT_CLASS cls;
			CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof(cls)},
			                    {CKA_LABEL, label, sizeof(label)},
			                    {CKA_ID, id, sizeof(id)},
			                    {CKA_VALUE, value, sizeof(value)}};

			f->C_GetAttributeValue(s, objs[j], a, 4);
		}
		f->C_CloseSession(s);
	}
	return 0;
}

static CK_FUNCTION_LIST_PTR load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST_PTR f = NULL;

	if (h == NULL) {
		fprintf(stderr, "p11bench: %s\n", dlerror());
		return NULL;
	}
	gfl = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
	if (gfl == NULL || gfl(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
		return NULL;
	return f;
}

/* The first slot with an initialised token (SoftHSM lists a blank one for the next token too). */
static int first_slot(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID *ret)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	CK_TOKEN_INFO ti;

	if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++)
		if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED)) {
			*ret = slots[i];
			return 0;
		}
	return -1;
}

static CK_OBJECT_HANDLE find(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                             const CK_BYTE *id)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, (void *)id, 1}};
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	if (f->C_FindObjectsInit(s, t, id ? 2 : 1) != CKR_OK)
		return CK_INVALID_HANDLE;
	f->C_FindObjects(s, &o, 1, &n);
	f->C_FindObjectsFinal(s);
	return n == 1 ? o : CK_INVALID_HANDLE;
}

static int sign_once(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const char *pin)
{
	CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_BYTE data[] = "imza bench", sig[512];
	CK_ULONG siglen = sizeof(sig);
	CK_BBOOL always = CK_FALSE;
	CK_ATTRIBUTE a = {CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always)};

	f->C_GetAttributeValue(s, key, &a, 1);
	if (f->C_SignInit(s, &m, key) != CKR_OK)
		return -1;
	if (always && f->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK)
		return -1;
	return f->C_Sign(s, data, sizeof(data) - 1, sig, &siglen) == CKR_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_INFO info;
	double t0;
	long n;

	if (argc == 3 && (strcmp(argv[1], "unix") == 0 || strcmp(argv[1], "unix-thread") == 0))
		return bench_unix(strtol(argv[2], NULL, 10) > 0 ? strtol(argv[2], NULL, 10) : 1,
		                  strcmp(argv[1], "unix") == 0);
	if (argc == 3 && strcmp(argv[2], "coldlist") == 0) {
		double t1 = now_us();

		if ((f = load(argv[1])) == NULL || list_all(f) < 0)
			return 1;
		printf("bench coldlist %.0f us\n", now_us() - t1);
		return 0;
	}
	if (argc < 3 || (f = load(argv[1])) == NULL) {
		fprintf(stderr, "usage: see the head of p11bench.c\n");
		return 2;
	}
	n = argc > 3 ? strtol(argv[3], NULL, 10) : 1;
	if (n < 1)
		n = 1;
	if (strcmp(argv[2], "getinfo") == 0) {
		double *ts = times_new(n);

		if (ts == NULL)
			return 1;
		f->C_GetInfo(&info);
		for (long i = 0; i < n; i++) {
			t0 = now_us();
			if (f->C_GetInfo(&info) != CKR_OK)
				return 1;
			ts[i] = now_us() - t0;
		}
		report("getinfo", ts, n);
		free(ts);
		return 0;
	}
	if (first_slot(f, &slot) < 0 || f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return 1;
	if (strcmp(argv[2], "getattr") == 0) {
		CK_OBJECT_HANDLE cert = find(f, s, CKO_CERTIFICATE, NULL);
		CK_BYTE buf[4096];
		CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
		double *ts = times_new(n);

		if (cert == CK_INVALID_HANDLE || ts == NULL)
			return 1;
		for (long i = 0; i < n; i++) {
			a.ulValueLen = sizeof(buf);
			t0 = now_us();
			if (f->C_GetAttributeValue(s, cert, &a, 1) != CKR_OK)
				return 1;
			ts[i] = now_us() - t0;
		}
		report("getattr", ts, n);
		free(ts);
		return 0;
	}
	if ((strcmp(argv[2], "sign") == 0 && argc == 6) || (strcmp(argv[2], "sign1") == 0 && argc == 5)) {
		const char *pin = argv[argc - 2];
		CK_BYTE id = (CK_BYTE)strtol(argv[argc - 1], NULL, 16);
		CK_OBJECT_HANDLE key;

		if (strcmp(argv[2], "sign1") == 0)
			n = 1;
		if (f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK)
			return 1;
		key = find(f, s, CKO_PRIVATE_KEY, &id);
		if (key == CK_INVALID_HANDLE)
			return 1;
		t0 = now_us();
		for (long i = 0; i < n; i++)
			if (sign_once(f, s, key, pin) < 0)
				return 1;
		printf("bench sign %.1f us\n", (now_us() - t0) / (double)n);
		return 0;
	}
	return 2;
}
