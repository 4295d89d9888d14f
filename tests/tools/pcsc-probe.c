/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcsc-probe: a small PC/SC client the tests and the harness use to watch readers, time APDU round
 * trips and throw random APDUs at a card, all through the private pcscd named by PCSCLITE_CSOCK_NAME.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "protocol/proto-hex.h"

#define MAX_READERS 16
#define RBUF_MAX (65536 + 2)

static const uint8_t piv_select[] = {0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00};

static int usage(void)
{
	fprintf(stderr, "usage: pcsc-probe list\n"
	                "       pcsc-probe wait present|absent [-r N] [-t SECONDS]\n"
	                "       pcsc-probe rtt [-r N] [-n COUNT]\n"
	                "       pcsc-probe random [-r N] [-n COUNT] [-s SEED]\n"
	                "       pcsc-probe sign9e [-r N] HASHFILE SIGFILE\n"
	                "       pcsc-probe apdu [-r N] HEX...\n");
	return 2;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Fills names[] with pointers into buf; returns the reader count or -1. */
static int list_readers(SCARDCONTEXT ctx, char *buf, DWORD buflen, const char *names[MAX_READERS])
{
	DWORD len = buflen;
	LONG rv = SCardListReaders(ctx, NULL, buf, &len);
	int n = 0;

	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return 0;
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "pcsc-probe: SCardListReaders: %s\n", pcsc_stringify_error(rv));
		return -1;
	}
	for (char *p = buf; p < buf + len && *p != '\0' && n < MAX_READERS; p += strlen(p) + 1)
		names[n++] = p;
	return n;
}

static int reader_state(SCARDCONTEXT ctx, const char *name, DWORD *ret_state)
{
	SCARD_READERSTATE rs = {.szReader = name, .dwCurrentState = SCARD_STATE_UNAWARE};
	LONG rv = SCardGetStatusChange(ctx, 0, &rs, 1);

	if (rv != SCARD_S_SUCCESS)
		return -1;
	*ret_state = rs.dwEventState;
	return 0;
}

static int cmd_list(SCARDCONTEXT ctx)
{
	char buf[4096];
	const char *names[MAX_READERS];
	int n = list_readers(ctx, buf, sizeof(buf), names);

	if (n < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		DWORD st = 0;

		if (reader_state(ctx, names[i], &st) < 0)
			return 1;
		printf("%d %s %s\n", i, (st & SCARD_STATE_PRESENT) ? "present" : "absent", names[i]);
	}
	return 0;
}

static int cmd_wait(SCARDCONTEXT ctx, int want_present, unsigned long reader, unsigned long timeout_s)
{
	double deadline = now_us() + (double)timeout_s * 1e6;

	for (;;) {
		char buf[4096];
		const char *names[MAX_READERS];
		int n = list_readers(ctx, buf, sizeof(buf), names);
		DWORD st = 0;

		if (n > (int)reader && reader_state(ctx, names[reader], &st) == 0) {
			int present = (st & SCARD_STATE_PRESENT) != 0;

			if (present == want_present)
				return 0;
		}
		if (now_us() > deadline) {
			fprintf(stderr, "pcsc-probe: timeout waiting for card %s\n",
			        want_present ? "present" : "absent");
			return 1;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int connect_reader(SCARDCONTEXT ctx, unsigned long reader, SCARDHANDLE *ret)
{
	char buf[4096];
	const char *names[MAX_READERS];
	int n = list_readers(ctx, buf, sizeof(buf), names);
	DWORD proto;
	LONG rv;

	if (n <= (int)reader) {
		fprintf(stderr, "pcsc-probe: no reader %lu\n", reader);
		return -1;
	}
	rv = SCardConnect(ctx, names[reader], SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, ret,
	                  &proto);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "pcsc-probe: SCardConnect: %s\n", pcsc_stringify_error(rv));
		return -1;
	}
	return 0;
}

/* Sends one APDU; returns the response length (>= 0) or -1 on a transport error. */
static long transmit(SCARDHANDLE h, const uint8_t *cmd, size_t len, uint8_t *resp, size_t cap)
{
	DWORD rlen = (DWORD)cap;
	LONG rv = SCardTransmit(h, SCARD_PCI_T1, cmd, (DWORD)len, NULL, resp, &rlen);

	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "pcsc-probe: SCardTransmit: %s\n", pcsc_stringify_error(rv));
		return -1;
	}
	return (long)rlen;
}

static int cmd_rtt(SCARDHANDLE h, unsigned long count)
{
	static uint8_t resp[RBUF_MAX];
	double t0, t1;

	if (transmit(h, piv_select, sizeof(piv_select), resp, sizeof(resp)) < 2)
		return 1;
	t0 = now_us();
	for (unsigned long i = 0; i < count; i++) {
		long r = transmit(h, piv_select, sizeof(piv_select), resp, sizeof(resp));

		if (r < 2 || resp[r - 2] != 0x90) {
			fprintf(stderr, "pcsc-probe: bad answer to SELECT\n");
			return 1;
		}
	}
	t1 = now_us();
	printf("bench apdu_rtt %.1f us\n", (t1 - t0) / (double)count);
	return 0;
}

/* A random APDU, sometimes well-formed enough to reach deep into the applet's parsers. */
static size_t random_apdu(uint8_t *out, size_t cap)
{
	static const uint8_t ins[] = {0xA4, 0xCB, 0x20, 0x24, 0x2C, 0x87, 0xC0, 0x47, 0xDB, 0xFE, 0x00, 0xFF};
	size_t len;

	if (rand() % 4 == 0) {
		len = 4 + (size_t)(rand() % 8);
		for (size_t i = 0; i < len; i++)
			out[i] = (uint8_t)rand();
		return len;
	}
	out[0] = (rand() % 3 == 0) ? 0x10 : (uint8_t)((rand() % 4 == 0) ? rand() : 0x00);
	out[1] = ins[(size_t)rand() % sizeof(ins)];
	out[2] = (uint8_t)((rand() % 2) ? rand() : 0x3F);
	out[3] = (uint8_t)((rand() % 2) ? rand() : 0xFF);
	len = 4;
	if (rand() % 4 != 0) {
		size_t lc = (size_t)(rand() % 300);

		if (lc > 255 || rand() % 8 == 0) {
			if (lc + 9 > cap)
				lc = cap - 9;
			out[len++] = 0;
			out[len++] = (uint8_t)(lc >> 8);
			out[len++] = (uint8_t)lc;
		} else {
			if (lc == 0)
				lc = 1;
			out[len++] = (uint8_t)lc;
		}
		for (size_t i = 0; i < lc; i++)
			out[len++] = (uint8_t)((rand() % 3 == 0) ? (0x5C + (rand() % 40)) : rand());
	}
	if (rand() % 2)
		out[len++] = (uint8_t)rand();
	return len;
}

static int cmd_random(SCARDHANDLE h, unsigned long count, unsigned long seed)
{
	static uint8_t resp[RBUF_MAX];
	uint8_t cmd[600];
	unsigned long with_sw = 0, ok = 0;

	srand((unsigned)seed);
	for (unsigned long i = 0; i < count; i++) {
		size_t len = random_apdu(cmd, sizeof(cmd));
		long r = transmit(h, cmd, len, resp, sizeof(resp));

		if (r < 0) {
			fprintf(stderr, "pcsc-probe: APDU %lu got no answer\n", i);
			return 1;
		}
		if (r >= 2)
			with_sw++;
		if (r >= 2 && resp[r - 2] == 0x90 && resp[r - 1] == 0x00)
			ok++;
	}
	printf("random apdus=%lu answered=%lu sw9000=%lu\n", count, with_sw, ok);
	return with_sw == count ? 0 : 1;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -errno;
	n = fread(buf, 1, cap, f);
	fclose(f);
	*ret_len = n;
	return 0;
}

/* Signs a 48-byte hash with the 9E card-authentication key (P-384, no PIN) and writes the DER signature. */
static int cmd_sign9e(SCARDHANDLE h, const char *hashfile, const char *sigfile)
{
	static uint8_t resp[RBUF_MAX];
	uint8_t hash[48], cmd[5 + 4 + 2 + 48 + 1];
	size_t hlen = 0, p = 0;
	long r;
	FILE *f;

	if (read_file(hashfile, hash, sizeof(hash), &hlen) < 0 || hlen != sizeof(hash)) {
		fprintf(stderr, "pcsc-probe: %s must hold 48 bytes\n", hashfile);
		return 1;
	}
	if (transmit(h, piv_select, sizeof(piv_select), resp, sizeof(resp)) < 2)
		return 1;
	cmd[p++] = 0x00, cmd[p++] = 0x87, cmd[p++] = 0x14, cmd[p++] = 0x9E;
	cmd[p++] = 2 + 2 + 2 + 48; /* Lc: 7C L { 82 00, 81 30 hash } */
	cmd[p++] = 0x7C, cmd[p++] = 2 + 2 + 48, cmd[p++] = 0x82, cmd[p++] = 0x00;
	cmd[p++] = 0x81, cmd[p++] = 48;
	memcpy(cmd + p, hash, 48);
	p += 48;
	cmd[p++] = 0x00;
	r = transmit(h, cmd, p, resp, sizeof(resp));
	if (r < 2 || resp[r - 2] != 0x90 || resp[r - 1] != 0x00) {
		fprintf(stderr, "pcsc-probe: GENERAL AUTHENTICATE failed\n");
		return 1;
	}
	/* 7C L 82 L sig, with one-byte or 81-prefixed lengths. */
	size_t i = 0, n = (size_t)r - 2;
	if (n < 4 || resp[i++] != 0x7C)
		return 1;
	if (resp[i] == 0x81)
		i++;
	i++;
	if (i + 2 > n || resp[i++] != 0x82)
		return 1;
	size_t slen = resp[i];
	if (resp[i] == 0x81)
		slen = resp[++i];
	i++;
	if (i + slen != n)
		return 1;
	f = fopen(sigfile, "wb");
	if (f == NULL || fwrite(resp + i, 1, slen, f) != slen) {
		if (f != NULL)
			fclose(f);
		return 1;
	}
	return fclose(f) == 0 ? 0 : 1;
}

/* Sends each argument as one APDU and prints the answer in hex, one line each. */
static int cmd_apdu(SCARDHANDLE h, int argc, char **argv)
{
	static uint8_t resp[RBUF_MAX];
	uint8_t cmd[4096];

	for (int a = 0; a < argc; a++) {
		size_t len = 0;
		const char *s = argv[a];
		long r;

		for (; *s != '\0'; s++) {
			int hi, lo;

			if (*s == ' ' || *s == ':')
				continue;
			hi = proto_hex_digit(s[0]);
			lo = s[1] ? proto_hex_digit(s[1]) : -1;
			if (hi < 0 || lo < 0 || len >= sizeof(cmd)) {
				fprintf(stderr, "pcsc-probe: bad hex APDU\n");
				return 2;
			}
			cmd[len++] = (uint8_t)(hi << 4 | lo);
			s++;
		}
		r = transmit(h, cmd, len, resp, sizeof(resp));
		if (r < 0)
			return 1;
		for (long i = 0; i < r; i++)
			printf("%02X", resp[i]);
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long reader = 0, count = 1000, seed = 1, timeout = 10;
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
	const char *cmd;
	int opt, rc;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	/* Options may stand anywhere after the command; GNU getopt moves the operands to the end. */
	optind = 2;
	while ((opt = getopt(argc, argv, "r:n:s:t:")) != -1) {
		unsigned long *dst = opt == 'r'   ? &reader
		                     : opt == 'n' ? &count
		                     : opt == 's' ? &seed
		                                  : &timeout;

		if (opt == '?' || parse_ulong(optarg, 10000000, dst) < 0)
			return usage();
	}
	/* `wait` may run while pcscd is still starting: keep trying for its timeout. */
	for (double until = now_us() + (strcmp(cmd, "wait") == 0 ? (double)timeout * 1e6 : 0);;) {
		if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS)
			break;
		if (now_us() >= until) {
			fprintf(stderr, "pcsc-probe: no PC/SC service\n");
			return 1;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (strcmp(cmd, "list") == 0) {
		rc = cmd_list(ctx);
	} else if (strcmp(cmd, "wait") == 0 && optind < argc) {
		int present = strcmp(argv[optind], "present") == 0;

		if (!present && strcmp(argv[optind], "absent") != 0)
			rc = usage();
		else
			rc = cmd_wait(ctx, present, reader, timeout);
	} else if (strcmp(cmd, "rtt") == 0 || strcmp(cmd, "random") == 0 || strcmp(cmd, "sign9e") == 0 ||
	           strcmp(cmd, "apdu") == 0) {
		if (connect_reader(ctx, reader, &h) < 0) {
			rc = 1;
		} else {
			if (strcmp(cmd, "rtt") == 0)
				rc = cmd_rtt(h, count);
			else if (strcmp(cmd, "random") == 0)
				rc = cmd_random(h, count, seed);
			else if (strcmp(cmd, "apdu") == 0)
				rc = cmd_apdu(h, argc - optind, argv + optind);
			else if (argc - optind == 2)
				rc = cmd_sign9e(h, argv[optind], argv[optind + 1]);
			else
				rc = usage();
			SCardDisconnect(h, SCARD_LEAVE_CARD);
		}
	} else {
		rc = usage();
	}
	SCardReleaseContext(ctx);
	return rc;
}
