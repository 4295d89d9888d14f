/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* p11hold: N applications holding connections to imzad at once. Forks N processes; each loads the
 * module, lists the slots with a token and keeps its connection open until all have answered. Prints
 * how many saw the card, how many got zero slots, how many an error, then ends every process by pid.
 *   p11hold MODULE N [SESSIONS]
 * With SESSIONS, one process instead opens that many sessions on the first slot and prints
 * C_GetTokenInfo's ulMaxSessionCount and the first failing C_OpenSession's CK_RV.
 * For measuring imzad while they are all held: with P11HOLD_SESSION=1 each process also opens a
 * session on the first slot it lists, and P11HOLD_AT_PEAK names a command run (by the shell) once all
 * have answered, before they are released. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define DEADLINE_S 50

static CK_FUNCTION_LIST_PTR f;

static void on_alarm(int sig)
{
	(void)sig;
}

static int sessions(unsigned long want)
{
	CK_SLOT_ID slot;
	CK_ULONG n = 1, opened = 0;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE h;
	CK_RV rv = CKR_OK;

	if (f->C_Initialize(NULL) != CKR_OK || f->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK || n < 1 ||
	    f->C_GetTokenInfo(slot, &ti) != CKR_OK) {
		printf("no token\n");
		return 1;
	}
	for (opened = 0; opened < want; opened++) {
		rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
		if (rv != CKR_OK)
			break;
	}
	printf("max_sessions=%lu opened=%lu rv=0x%lx\n", (unsigned long)ti.ulMaxSessionCount,
	       (unsigned long)opened, (unsigned long)rv);
	f->C_Finalize(NULL);
	return 0;
}

/* One application: its answer as "rv n" on the report pipe, then it waits for the release. */
static void child(int report, int release)
{
	CK_SLOT_ID list[16];
	CK_ULONG n = 16;
	CK_RV rv;
	char line[64], b;
	int len;

	rv = f->C_Initialize(NULL);
	if (rv == CKR_OK)
		rv = f->C_GetSlotList(CK_TRUE, list, &n);
	if (rv == CKR_OK && n > 0 && getenv("P11HOLD_SESSION")) {
		CK_SESSION_HANDLE h;

		rv = f->C_OpenSession(list[0], CKF_SERIAL_SESSION, NULL, NULL, &h);
	}
	len = snprintf(line, sizeof(line), "%lx %lu\n", (unsigned long)rv,
	               rv == CKR_OK ? (unsigned long)n : 0);
	/* Shorter than PIPE_BUF: lines of different children never mix. */
	if (write(report, line, (size_t)len) != len)
		_exit(3);
	while (read(release, &b, 1) < 0 && errno == EINTR)
		;
	f->C_Finalize(NULL);
	_exit(0);
}

int main(int argc, char **argv)
{
	CK_C_GetFunctionList get;
	unsigned long want, card = 0, zero = 0, err = 0, got = 0, first_err = 0;
	int rep[2], rel[2];
	pid_t *pids;
	void *dl;
	FILE *in;
	char line[64];
	time_t end;

	if (argc < 3 || (want = strtoul(argv[2], NULL, 10)) == 0 || want > 100000) {
		fprintf(stderr, "usage: p11hold MODULE N [SESSIONS]\n");
		return 2;
	}
	dl = dlopen(argv[1], RTLD_NOW);
	get = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (get == NULL || get(&f) != CKR_OK) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 2;
	}
	if (argc > 3)
		return sessions(strtoul(argv[3], NULL, 10));
	pids = calloc(want, sizeof(*pids));
	if (pids == NULL || pipe(rep) < 0 || pipe(rel) < 0)
		return 2;
	for (unsigned long i = 0; i < want; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "fork %lu: %s\n", i, strerror(errno));
			want = i;
			break;
		}
		if (pids[i] == 0) {
			close(rep[0]);
			close(rel[1]);
			child(rep[1], rel[0]);
		}
	}
	close(rep[1]);
	close(rel[0]);
	in = fdopen(rep[0], "r");
	/* A child that never answers must not hold the test: the alarm ends the blocking read. */
	sigaction(SIGALRM, &(struct sigaction){.sa_handler = on_alarm}, NULL);
	alarm(DEADLINE_S);
	while (in && got < want && fgets(line, sizeof(line), in)) {
		unsigned long rv, n;

		if (sscanf(line, "%lx %lu", &rv, &n) != 2)
			continue;
		got++;
		if (rv != CKR_OK) {
			if (err++ == 0)
				first_err = rv;
		} else if (n == 0) {
			zero++;
		} else {
			card++;
		}
	}
	alarm(0);
	if (getenv("P11HOLD_AT_PEAK") && system(getenv("P11HOLD_AT_PEAK")) != 0)
		fprintf(stderr, "p11hold: the command at the peak failed\n");
	/* Every process holds its connection until here; now they all go, each reaped by its pid, and
	 * any still there after 10 s is killed by its pid. */
	close(rel[1]);
	end = time(NULL) + 10;
	for (unsigned long left = want; left > 0;) {
		left = 0;
		for (unsigned long i = 0; i < want; i++) {
			int st;

			if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i])
				pids[i] = 0;
			else if (pids[i] > 0)
				left++;
		}
		if (left > 0 && time(NULL) >= end) {
			for (unsigned long i = 0; i < want; i++)
				if (pids[i] > 0) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
					pids[i] = 0;
				}
			fprintf(stderr, "killed %lu processes that did not end\n", left);
			left = 0;
		}
		if (left > 0) {
			struct timespec ts = {0, 20000000L};

			nanosleep(&ts, NULL);
		}
	}
	printf("clients=%lu answered=%lu card=%lu zero=%lu error=%lu first_error=0x%lx\n", want, got, card,
	       zero, err, first_err);
	free(pids);
	return 0;
}
