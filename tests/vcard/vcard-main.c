/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imza-vcard: puts the virtual PIV card of a card directory into a vsmartcard vpcd
 * reader by connecting to its TCP port; the connection is the inserted card and
 * closing it removes the card. Wire: 2-byte big-endian length, then payload. */
#include "piv.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_WAIT_MS 10000
#define CONNECT_STEP_MS 100

enum { CTRL_OFF = 0, CTRL_ON = 1, CTRL_RESET = 2, CTRL_ATR = 4 };

static volatile sig_atomic_t stop;

struct vcard {
	struct piv_card *card;
	int fd;
	int log_fd;            /* -1: no APDU log */
	char stall_path[4096]; /* a file holding milliseconds to wait before a GENERAL AUTHENTICATE answer */
	bool quickack;
	sigset_t waitmask; /* the mask during ppoll: SIGTERM/SIGINT let through */
	uint8_t in[PIV_CAPDU_MAX];
	uint8_t out[2 + PIV_RAPDU_MAX];
	char line[2 * PIV_CAPDU_MAX + 4];
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: imza-vcard --state DIR --port PORT [--host 127.0.0.1] "
	                "[--no-quickack] [--apdu-log FILE]\n");
}

static int parse_port(const char *s, unsigned short *ret_port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*ret_port = (unsigned short)v;
	return 0;
}

static int connect_once(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL, *ai;
	int fd = -ECONNREFUSED, r;

	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		r = -errno;
		close(fd);
		fd = r;
	}
	freeaddrinfo(res);
	return fd;
}

/* vpcd may still be starting (pcscd loads the driver lazily): keep trying. */
static int connect_vpcd(const char *host, const char *port)
{
	struct timespec step = {0, CONNECT_STEP_MS * 1000000L};
	int waited, fd = -ECONNREFUSED;

	for (waited = 0; waited <= CONNECT_WAIT_MS && !stop; waited += CONNECT_STEP_MS) {
		fd = connect_once(host, port);
		if (fd >= 0 || fd == -EHOSTUNREACH)
			return fd;
		nanosleep(&step, NULL);
	}
	return stop ? -EINTR : fd;
}

/* Reads exactly n bytes. 0 at EOF before the first byte (vpcd closed), -EINTR
 * on SIGTERM/SIGINT, -EPIPE at EOF inside a message. */
static int read_full(struct vcard *v, uint8_t *buf, size_t n, bool *ret_eof)
{
	struct pollfd pfd = {.fd = v->fd, .events = POLLIN};
	size_t got = 0;
	ssize_t r;
	int one = 1;

	*ret_eof = false;
	while (got < n) {
		if (ppoll(&pfd, 1, NULL, &v->waitmask) < 0 && errno != EINTR)
			return -errno;
		if (stop)
			return -EINTR;
		/* Debian's vpcd waits for our ACK before its next write: without
		 * QUICKACK the kernel delays it ~40 ms, on every APDU. */
		if (v->quickack)
			setsockopt(v->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		r = recv(v->fd, buf + got, n - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (got)
				return -EPIPE;
			*ret_eof = true;
			return 0;
		}
		got += (size_t)r;
	}
	return 0;
}

static int send_msg(struct vcard *v, const uint8_t *data, size_t n)
{
	size_t sent = 0;
	ssize_t r;

	if (n > PIV_RAPDU_MAX)
		return -EMSGSIZE;
	v->out[0] = (uint8_t)(n >> 8);
	v->out[1] = (uint8_t)n;
	if (data != v->out + 2)
		memcpy(v->out + 2, data, n);
	while (sent < n + 2) {
		r = send(v->fd, v->out + sent, n + 2 - sent, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		sent += (size_t)r;
	}
	return 0;
}

static void log_apdu(struct vcard *v, const uint8_t *buf, size_t n, bool is_command)
{
	size_t len;

	if (v->log_fd < 0)
		return;
	v->line[0] = is_command ? '>' : '<';
	v->line[1] = ' ';
	if (piv_log_hex(buf, n, is_command, v->line + 2, sizeof v->line - 3) < 0)
		return;
	len = strlen(v->line);
	v->line[len++] = '\n';
	/* one write per line: readers counting APDUs never see half a line */
	if (write(v->log_fd, v->line, len) < 0)
		fprintf(stderr, "imza-vcard: apdu log: %s\n", strerror(errno));
}

/* Tests make the card slow on demand (a signature that takes seconds, to pull the card meanwhile or to
 * see that other clients are not held up): the stall file's number of milliseconds, read per APDU. */
/* Returns false when the card was pulled (SIGTERM) while stalling: it then never answers. */
static bool maybe_stall(struct vcard *v, const uint8_t *apdu, size_t n)
{
	char buf[16] = "";
	unsigned long ms;
	FILE *f;

	if (n < 2 || apdu[1] != 0x87 || (f = fopen(v->stall_path, "r")) == NULL)
		return true;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		ms = strtoul(buf, NULL, 10);
		if (ms > 0 && ms <= 60000) {
			struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

			/* SIGTERM is blocked outside ppoll: sleep in one, so that pulling the card interrupts. */
			ppoll(NULL, 0, &ts, &v->waitmask);
		}
	}
	fclose(f);
	return !stop;
}

static int serve(struct vcard *v)
{
	const uint8_t *atr;
	size_t n, atr_len;
	bool eof;
	int r;

	for (;;) {
		r = read_full(v, v->in, 2, &eof);
		if (r < 0 || eof)
			return r == -EINTR ? 0 : r;
		n = (size_t)v->in[0] << 8 | v->in[1];
		r = read_full(v, v->in, n, &eof);
		if (r < 0 || eof)
			return r == -EINTR ? 0 : r < 0 ? r : -EPIPE;
		if (n == 0)
			continue;
		if (n == 1) {
			switch (v->in[0]) {
			case CTRL_OFF:
				piv_card_power(v->card, 0);
				break;
			case CTRL_ON:
			case CTRL_RESET:
				piv_card_power(v->card, 1);
				break;
			case CTRL_ATR:
				piv_card_atr(v->card, &atr, &atr_len);
				r = send_msg(v, atr, atr_len);
				if (r < 0)
					return r;
				break;
			}
			continue;
		}
		log_apdu(v, v->in, n, true);
		if (!maybe_stall(v, v->in, n))
			return 0;
		n = piv_card_apdu(v->card, v->in, n, v->out + 2, PIV_RAPDU_MAX);
		log_apdu(v, v->out + 2, n, false);
		r = send_msg(v, v->out + 2, n);
		if (r < 0)
			return r;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"state", required_argument, NULL, 's'},
	        {"port", required_argument, NULL, 'p'},
	        {"host", required_argument, NULL, 'H'},
	        {"no-quickack", no_argument, NULL, 'q'},
	        {"apdu-log", required_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *state = NULL, *port = NULL, *host = "127.0.0.1", *log_path = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned short port_num;
	struct vcard *v;
	sigset_t block;
	int c, r, one = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			state = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'q':
			one = 0;
			break;
		case 'l':
			log_path = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!state || !port || optind != argc || parse_port(port, &port_num) < 0) {
		usage();
		return 2;
	}

	v = calloc(1, sizeof *v);
	if (!v) {
		fprintf(stderr, "imza-vcard: out of memory\n");
		return 1;
	}
	v->quickack = one;
	v->fd = v->log_fd = -1;

	/* SIGTERM/SIGINT are only delivered inside ppoll, so none is lost between
	 * checking the flag and blocking */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &v->waitmask);
	sigdelset(&v->waitmask, SIGTERM);
	sigdelset(&v->waitmask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	snprintf(v->stall_path, sizeof(v->stall_path), "%s/stall", state);
	r = piv_card_load(&v->card, state);
	if (r < 0) {
		fprintf(stderr, "imza-vcard: cannot load card from %s: %s\n", state, strerror(-r));
		goto out;
	}
	if (log_path) {
		v->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (v->log_fd < 0) {
			r = -errno;
			fprintf(stderr, "imza-vcard: %s: %s\n", log_path, strerror(errno));
			goto out;
		}
	}
	/* connecting is the one slow step: signals may interrupt it */
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	v->fd = connect_vpcd(host, port);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (v->fd < 0) {
		r = v->fd;
		if (r != -EINTR)
			fprintf(stderr, "imza-vcard: cannot connect to vpcd at %s:%s: %s\n", host, port,
			        strerror(-r));
		else
			r = 0;
		goto out;
	}
	one = 1;
	/* vpcd waits for each whole R-APDU: never let Nagle hold one back */
	setsockopt(v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	r = serve(v);
	if (r < 0)
		fprintf(stderr, "imza-vcard: vpcd connection: %s\n", strerror(-r));
out:
	if (v->fd >= 0)
		close(v->fd);
	if (v->log_fd >= 0)
		close(v->log_fd);
	piv_card_free(v->card);
	free(v);
	return r < 0 ? 1 : 0;
}
