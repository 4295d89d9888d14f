/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzad's side of a vendor PKCS#11 module run by imza-backend (see backend.h). */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocol/proto-frame.h"
#include "daemon/card/backend.h"
#include "daemon/card/timespec.h"
#include "daemon/log.h"

extern char **environ;

/* Once an answer has begun, the rest of its frame comes at once (the helper writes it whole): a helper
 * that drips it is cut this long after its first byte. */
#define BACKEND_TAIL_MS 2000
/* How long a helper told to end (EOF) has before it is killed. */
#define BACKEND_EXIT_MS 1000

struct backend {
	char *module, *helper;
	struct backend_callbacks cb;
	void *ud;
	pthread_t thread;
	/* Guards stopping and the thread's sleep. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	/* Whether anyone follows the slots (backend_listen), and a look asked for (at start, and when
	 * someone starts to listen). */
	bool listening, look_now;
	/* Guards the helper and every exchange with it: one call at a time per module. */
	pthread_mutex_t call_lock;
	pid_t pid;
	int fd;
	unsigned starts;
	bool dead;                /* the helper died or was killed: the thread reports its tokens gone */
	struct timespec up_since; /* when the running helper started */
	/* The causes (enum helper_end, a bit each) already logged since a helper last stayed up: the same
	 * cause again is logged at debug level only, so a helper failing in a loop writes one warning. */
	unsigned said;
	/* The back-off: no helper is started before next_start. */
	unsigned backoff_ms;
	struct timespec next_start;
	/* The last call to the helper was answered (and none failed since): a module that hangs, crashes
	 * or is in its back-off is not waited for when someone starts to listen (backend_answering). */
	atomic_bool answering;
	/* Thread only: the slots with a token, and whether each was reported present (a blank one is
	 * remembered, not reported, so that it is not asked about again at every look). */
	struct backend_token tokens[BACKEND_MAX_TOKENS];
	bool shown[BACKEND_MAX_TOKENS];
	size_t ntokens;
	bool warned_many;
	/* Thread only: the module has no working C_WaitForSlotEvent (its slots are listed at every look);
	 * when the slots were last listed. */
	bool no_wait;
	struct timespec listed_at;
};

static struct timespec now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static long ms_between(struct timespec a, struct timespec b)
{
	return (long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

/* Why a helper went. */
enum helper_end { END_QUIET = -1, END_TIMEOUT, END_HALF, END_MALFORMED, END_UNASKED, END_DIED };
static const char *const end_text[] = {
        [END_TIMEOUT] = "did not answer in time: killed",
        [END_HALF] = "sent half an answer: killed",
        [END_MALFORMED] = "sent a malformed answer: killed",
        [END_UNASKED] = "spoke unasked: killed",
        [END_DIED] = "ended",
};

/* Under call_lock: the helper is gone (or must go). Closing our end tells it to end; one that does not
 * within BACKEND_EXIT_MS (or hangs in the module) is killed. Reaped either way, no zombie left. */
static void helper_stop(struct backend *b, bool kill_now, enum helper_end why)
{
	int st;
	pid_t r = 0;

	if (b->pid <= 0)
		return;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (kill_now)
		kill(b->pid, SIGKILL);
	for (int i = 0; i < BACKEND_EXIT_MS / 20 && (r = waitpid(b->pid, &st, WNOHANG)) == 0; i++)
		usleep(20000);
	if (r == 0) {
		kill(b->pid, SIGKILL);
		r = waitpid(b->pid, &st, 0);
	}
	/* A helper that stayed up long enough was not crash-looping: the back-off starts over, and its
	 * cause is worth a warning again. */
	if (ms_between(b->up_since, now_mono()) >= BACKEND_STABLE_MS) {
		b->backoff_ms = 0;
		b->said = 0;
	}
	if (why != END_QUIET) {
		enum log_level level = b->said & 1u << why ? LOG_LVL_DEBUG : LOG_LVL_WARNING;
		const char *text = end_text[why];

		b->said |= 1u << why;
		if (r == b->pid && WIFSIGNALED(st))
			log_msg(level, "backend %s: helper %d %s (signal %d)", b->module, (int)b->pid, text,
			        WTERMSIG(st));
		else if (r == b->pid && WIFEXITED(st))
			log_msg(level, "backend %s: helper %d %s (status %d)", b->module, (int)b->pid, text,
			        WEXITSTATUS(st));
		else
			log_msg(level, "backend %s: helper %d %s", b->module, (int)b->pid, text);
	}
	b->pid = 0;
	b->dead = true;
	b->backoff_ms = b->backoff_ms == 0
	                        ? BACKEND_BACKOFF_MIN_MS
	                        : (b->backoff_ms * 2 > BACKEND_BACKOFF_MAX_MS ? BACKEND_BACKOFF_MAX_MS
	                                                                      : b->backoff_ms * 2);
	b->next_start = timespec_after_ms(now_mono(), b->backoff_ms);
}

/* Under call_lock: a new helper on one end of a socketpair (its standard input); stderr is ours, so
 * what it says reaches imzad's log. */
static int helper_start(struct backend *b)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char *argv[] = {b->helper, "--module", b->module, NULL};
	int sv[2], e;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	e = posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO) ||
	                    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) ||
	                    posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1) ||
	                    posix_spawnattr_setsigmask(&attr, &none) ||
	                    posix_spawnattr_setsigdefault(&attr, &dflt) ||
	                    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
	            ? ENOMEM
	            : 0;
	if (e == 0)
		e = posix_spawn(&pid, b->helper, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (e != 0) {
		close(sv[0]);
		return -e;
	}
	b->pid = pid;
	b->fd = sv[0];
	b->starts++;
	b->up_since = now_mono();
	/* A helper started again and again (after the same failure) is said once. */
	log_msg(b->said ? LOG_LVL_DEBUG : LOG_LVL_INFO, "backend %s: helper %d started", b->module, (int)pid);
	return 0;
}

/* Under call_lock: what the helper has sent, at least one byte and at most cap, by the deadline. */
static int read_some(int fd, uint8_t *p, size_t cap, struct timespec deadline, size_t *ret_n)
{
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		long left = ms_between(now_mono(), deadline);
		ssize_t got;
		int k;

		if (left <= 0)
			return -ETIMEDOUT;
		k = poll(&pf, 1, left > 60000 ? 60000 : (int)left);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0)
			continue;
		got = recv(fd, p, cap, MSG_DONTWAIT);
		if (got == 0)
			return -ECONNRESET;
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		*ret_n = (size_t)got;
		return 0;
	}
}

/* Under call_lock: n bytes from the helper, all by the deadline. 0, -ETIMEDOUT, -ECONNRESET (EOF) or
 * -errno. The socket is only read once poll says it holds something: no read waits past the deadline. */
static int read_by(int fd, uint8_t *p, size_t n, struct timespec deadline)
{
	while (n > 0) {
		size_t got = 0;
		int e = read_some(fd, p, n, deadline, &got);

		if (e < 0)
			return e;
		p += got;
		n -= got;
	}
	return 0;
}

/* Under call_lock: one answer, whole: its first bytes by deadline, all of it within BACKEND_TAIL_MS of
 * them, nothing after it (the helper speaks only when asked). A usual answer (a signature, an attribute)
 * comes in one receive with its header; the rest of a larger one is read exactly. The header is
 * checked against the cap before anything is allocated. Bytes that come after the answer in the same
 * receive are told here; later ones by the next call's look before it sends. 0, -ETIMEDOUT (no
 * answer), -EAGAIN (half of one), -EMSGSIZE or -EBADMSG (a bad header), -EPROTO (bytes past the
 * answer), -ECONNRESET (EOF) or -errno. */
static int recv_answer(int fd, struct proto_buf *resp, struct timespec deadline)
{
	uint8_t first[PROTO_FRAME_HEADER + PROTO_RECV_FIRST];
	struct timespec tail;
	size_t n = 0, got = 0;
	uint32_t len = 0;
	uint8_t *p;
	int e;

	proto_buf_reset(resp);
	e = read_some(fd, first, sizeof(first), deadline, &n);
	if (e < 0)
		return e;
	tail = timespec_after_ms(now_mono(), BACKEND_TAIL_MS);
	if (n < PROTO_FRAME_HEADER) {
		e = read_by(fd, first + n, PROTO_FRAME_HEADER - n, tail);
		n = PROTO_FRAME_HEADER;
	}
	if (e == 0)
		e = proto_frame_need(first, &len);
	if (n > PROTO_FRAME_HEADER)
		got = n - PROTO_FRAME_HEADER;
	if (e == 0 && got > len)
		e = -EPROTO;
	if (e == 0)
		e = proto_buf_reserve(resp, len, &p);
	if (e == 0) {
		memcpy(p, first + PROTO_FRAME_HEADER, got);
		if (got < len)
			e = read_by(fd, p + got, len - got, tail);
	}
	/* Answers carry decrypted data. */
	explicit_bzero(first, n);
	if (e < 0)
		proto_buf_reset(resp);
	return e == -ETIMEDOUT ? -EAGAIN : e;
}

int backend_call(struct backend *b, const struct proto_buf *req, struct proto_buf *resp, unsigned timeout_ms)
{
	return backend_call_from(b, req, resp, timeout_ms, NULL);
}

void backend_distrust(struct backend *b, unsigned helper)
{
	pthread_mutex_lock(&b->call_lock);
	if (b->pid > 0 && b->starts == helper)
		helper_stop(b, true, END_MALFORMED);
	pthread_mutex_unlock(&b->call_lock);
}

int backend_call_from(struct backend *b, const struct proto_buf *req, struct proto_buf *resp,
                      unsigned timeout_ms, unsigned *ret_helper)
{
	uint8_t unasked;
	int e;

	if (req->error)
		return req->error;
	pthread_mutex_lock(&b->call_lock);
	if (b->pid <= 0) {
		/* Down: in its back-off, or not started. */
		atomic_store(&b->answering, false);
		if (ms_between(now_mono(), b->next_start) > 0) {
			pthread_mutex_unlock(&b->call_lock);
			return -EAGAIN;
		}
		e = helper_start(b);
		if (e < 0) {
			log_error("backend %s: cannot start %s (%s)", b->module, b->helper, strerror(-e));
			b->dead = true;
			b->backoff_ms = BACKEND_BACKOFF_MAX_MS;
			b->next_start = timespec_after_ms(now_mono(), b->backoff_ms);
			pthread_mutex_unlock(&b->call_lock);
			return -EAGAIN;
		}
	}
	/* Bytes that wait before we ask (EOF aside: the send tells that) are no answer to anything. */
	e = recv(b->fd, &unasked, 1, MSG_PEEK | MSG_DONTWAIT) > 0 ? -EPROTO : 0;
	if (e == 0)
		e = proto_send_frame(b->fd, req->data, req->len);
	if (e == 0)
		e = recv_answer(b->fd, resp, timespec_after_ms(now_mono(), timeout_ms));
	if (e == 0 && ret_helper != NULL)
		*ret_helper = b->starts;
	atomic_store(&b->answering, e == 0);
	if (e == -ETIMEDOUT) {
		helper_stop(b, true, END_TIMEOUT);
	} else if (e == -EAGAIN) {
		e = -ETIMEDOUT;
		helper_stop(b, true, END_HALF);
	} else if (e == -EMSGSIZE || e == -EBADMSG) {
		e = -EBADMSG;
		helper_stop(b, true, END_MALFORMED);
	} else if (e == -EPROTO) {
		e = -EBADMSG;
		helper_stop(b, true, END_UNASKED);
	} else if (e < 0) {
		helper_stop(b, false, END_DIED);
		e = -ECONNRESET;
	}
	pthread_mutex_unlock(&b->call_lock);
	return e;
}

/* ---- the thread: the helper kept running, its tokens followed ---- */

static void sleep_ms(struct backend *b, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until = timespec_after_ms(until, ms);
	pthread_mutex_lock(&b->lock);
	if (!b->stopping)
		pthread_cond_timedwait(&b->cond, &b->lock, &until);
	pthread_mutex_unlock(&b->lock);
}

static void report_gone(struct backend *b, size_t i)
{
	CK_SLOT_ID slot = b->tokens[i].slot;
	bool shown = b->shown[i];

	b->ntokens--;
	b->tokens[i] = b->tokens[b->ntokens];
	b->shown[i] = b->shown[b->ntokens];
	if (shown && b->cb.token_gone)
		b->cb.token_gone(b->ud, b, slot);
}

static void all_gone(struct backend *b)
{
	while (b->ntokens > 0)
		report_gone(b, b->ntokens - 1);
}

/* A helper that died took its tokens with it. */
static void note_death(struct backend *b)
{
	bool dead;

	pthread_mutex_lock(&b->call_lock);
	dead = b->dead;
	b->dead = false;
	pthread_mutex_unlock(&b->call_lock);
	if (dead)
		all_gone(b);
}

/* One look at the module's slots: tokens that came are reported present, those that went gone. */
static void poll_tokens(struct backend *b)
{
	CK_SLOT_ID slots[BACKEND_MAX_TOKENS * 2];
	CK_ULONG n = sizeof(slots) / sizeof(slots[0]);
	CK_RV rv = CKR_OK;
	int e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetSlotList, CK_TRUE, slots, &n);

	note_death(b);
	if (e < 0 || rv != CKR_OK) {
		if (e == 0)
			log_debug("backend %s: C_GetSlotList: rv 0x%lx", b->module, (unsigned long)rv);
		return;
	}
	for (size_t i = 0; i < b->ntokens;) {
		bool still = false;

		for (CK_ULONG j = 0; j < n; j++)
			still = still || slots[j] == b->tokens[i].slot;
		if (still)
			i++;
		else
			report_gone(b, i);
	}
	for (CK_ULONG j = 0; j < n; j++) {
		struct backend_token t = {.slot = slots[j]};
		bool known = false;

		for (size_t i = 0; i < b->ntokens; i++)
			known = known || b->tokens[i].slot == slots[j];
		if (known)
			continue;
		if (b->ntokens == BACKEND_MAX_TOKENS) {
			if (!b->warned_many)
				log_warning("backend %s: more than %d tokens; the rest are not served",
				            b->module, BACKEND_MAX_TOKENS);
			b->warned_many = true;
			break;
		}
		e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetSlotInfo, t.slot, &t.slot_info);
		if (e == 0 && rv == CKR_OK)
			e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_GetTokenInfo, t.slot,
			                 &t.token_info);
		note_death(b);
		if (e < 0)
			return;
		if (rv != CKR_OK)
			continue; /* taken out between the two calls: the next look tells */
		/* A blank token (SoftHSM's free slot, a card never personalised) holds nothing to sign with. */
		b->shown[b->ntokens] = (t.token_info.flags & CKF_TOKEN_INITIALIZED) != 0;
		b->tokens[b->ntokens++] = t;
		if (b->shown[b->ntokens - 1] && b->cb.token_present)
			b->cb.token_present(b->ud, b, &t);
	}
}

/* Whether the slots may have changed since the last look. A module with a working C_WaitForSlotEvent
 * says so with CKF_DONT_BLOCK (cheap: no slot list, no token info); without it, or when its helper died
 * (a new one knows nothing of the old one's tokens), they may have. */
static bool slots_may_have_changed(struct backend *b)
{
	CK_SLOT_ID slot = 0;
	CK_RV rv = CKR_OK;
	bool died;
	int e;

	pthread_mutex_lock(&b->call_lock);
	died = b->dead;
	pthread_mutex_unlock(&b->call_lock);
	/* A module may answer CKR_NO_EVENT and never report one (SoftHSM does): the slots are listed
	 * every BACKEND_LIST_MS all the same. */
	if (b->no_wait || died || ms_between(b->listed_at, now_mono()) >= BACKEND_LIST_MS)
		return true;
	e = BACKEND_CALL(b, BACKEND_CALL_TIMEOUT_MS, &rv, C_WaitForSlotEvent, CKF_DONT_BLOCK, &slot, NULL);
	if (e < 0 || rv == CKR_OK)
		return true;
	if (rv == CKR_NO_EVENT)
		return false;
	log_info("backend %s: no C_WaitForSlotEvent (rv 0x%lx): its slots are listed at every look",
	         b->module, (unsigned long)rv);
	b->no_wait = true;
	return true;
}

/* The slots are looked at while someone listens (every BACKEND_POLL_MS), and once when asked (at start,
 * and when someone starts to listen); nobody listening, the module is left alone. */
static void *backend_main(void *arg)
{
	struct backend *b = arg;

	for (;;) {
		bool asked;

		pthread_mutex_lock(&b->lock);
		while (!b->stopping && !b->listening && !b->look_now)
			pthread_cond_wait(&b->cond, &b->lock);
		asked = b->look_now;
		b->look_now = false;
		if (b->stopping) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		pthread_mutex_unlock(&b->lock);
		if (asked || slots_may_have_changed(b)) {
			b->listed_at = now_mono();
			poll_tokens(b);
		}
		if (b->cb.tick)
			b->cb.tick(b->ud, b);
		if (asked && b->cb.looked)
			b->cb.looked(b->ud, b);
		sleep_ms(b, BACKEND_POLL_MS);
	}
	all_gone(b);
	return NULL;
}

bool backend_answering(struct backend *b)
{
	return atomic_load(&b->answering);
}

void backend_listen(struct backend *b, bool on)
{
	pthread_mutex_lock(&b->lock);
	if (on && !b->listening)
		b->look_now = true;
	b->listening = on;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

int backend_new(const char *module, const char *helper, const struct backend_callbacks *cb, void *ud,
                struct backend **ret)
{
	struct backend *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	b->module = strdup(module);
	b->helper = strdup(helper);
	b->fd = -1;
	/* Not tried yet: waited for, so that the first application finds its tokens. */
	atomic_init(&b->answering, true);
	if (cb)
		b->cb = *cb;
	b->ud = ud;
	b->next_start = now_mono();
	b->look_now = true;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_mutex_init(&b->call_lock, NULL);
	if (b->module == NULL || b->helper == NULL ||
	    pthread_create(&b->thread, NULL, backend_main, b) != 0) {
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->cond);
		pthread_mutex_destroy(&b->call_lock);
		free(b->module);
		free(b->helper);
		free(b);
		return -ENOMEM;
	}
	*ret = b;
	return 0;
}

void backend_free(struct backend *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_mutex_lock(&b->call_lock);
	helper_stop(b, false, END_QUIET);
	pthread_mutex_unlock(&b->call_lock);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->call_lock);
	free(b->module);
	free(b->helper);
	free(b);
}

const char *backend_module(const struct backend *b)
{
	return b->module;
}

pid_t backend_pid(struct backend *b)
{
	pid_t p;

	pthread_mutex_lock(&b->call_lock);
	p = b->pid;
	pthread_mutex_unlock(&b->call_lock);
	return p;
}

unsigned backend_starts(struct backend *b)
{
	unsigned n;

	pthread_mutex_lock(&b->call_lock);
	n = b->starts;
	pthread_mutex_unlock(&b->call_lock);
	return n;
}
