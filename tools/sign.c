/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl sign, log, grants and records: a signature through imzad (its PIN dialog, its audit log), the
 * audit log itself (and its export), the web origins' standing answers, and the records file's check. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "protocol/proto-admin.h"
#include "protocol/proto-frame.h"
#include "protocol/proto-hex.h"
#include "protocol/rpc.h"
#include "tools/imzactl.h"

static int parse_id(const char *s, uint8_t out[32])
{
	return strlen(s) == 64 ? proto_hex_decode(s, out, 32) : -EINVAL;
}

/* The whole file, at most max bytes. */
static int read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL)
		return -errno;
	buf = malloc(max + 1);
	if (buf == NULL) {
		if (f != stdin)
			fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		int e = ferror(f) ? -EIO : -EFBIG;

		if (f != stdin)
			fclose(f);
		free(buf);
		return e;
	}
	if (f != stdin)
		fclose(f);
	*ret = buf;
	*ret_len = n;
	return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = strcmp(path, "-") == 0 ? STDOUT_FILENO
	                                : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? -errno : -EIO;

			if (fd != STDOUT_FILENO)
				close(fd);
			return e;
		}
		off += (size_t)w;
	}
	if (fd != STDOUT_FILENO && close(fd) < 0)
		return -errno;
	return 0;
}

int cmd_sign(const char *path, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"cert", required_argument, NULL, 'c'}, {"in", required_argument, NULL, 'i'},
	        {"out", required_argument, NULL, 'o'},  {"detached", no_argument, NULL, 'd'},
	        {"raw", no_argument, NULL, 'r'},        {"text", no_argument, NULL, 't'},
	        {"wait", required_argument, NULL, 'w'}, {NULL, 0, NULL, 0},
	};
	struct proto_sign_request q = {0};
	struct proto_sign_reply a;
	struct proto_buf args = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX), resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_reader r;
	const char *cert = NULL, *in = NULL, *out = NULL;
	uint8_t *content = NULL;
	size_t len = 0;
	unsigned long wait_s = 0;
	char *end;
	int opt, e, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cert = optarg;
			break;
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'd':
			q.detached = 1;
			break;
		case 'r':
			q.format = 1;
			break;
		case 't':
			q.is_text = 1;
			break;
		case 'w':
			errno = 0;
			wait_s = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || wait_s > 300) {
				fprintf(stderr, "imzactl: --wait takes 0 to 300 seconds\n");
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (cert == NULL || in == NULL || out == NULL || optind != argc || (q.detached && q.format == 1)) {
		fprintf(stderr,
		        "usage: imzactl sign --cert ID --in FILE --out FILE [--detached | --raw] [--text] "
		        "[--wait SECONDS]\n  ID: the sign id `imzactl certs` shows\n");
		return 2;
	}
	if (parse_id(cert, q.cert_id) < 0) {
		fprintf(stderr, "imzactl: the certificate id is 64 hex digits (`imzactl certs` shows it)\n");
		return 2;
	}
	e = read_file(in, PROTO_SIGN_CONTENT_MAX, &content, &len);
	if (e < 0) {
		fprintf(stderr, "imzactl: %s: %s\n", in,
		        e == -EFBIG ? "larger than imzactl sign takes (100 KiB)" : strerror(-e));
		return 1;
	}
	q.wait_s = (uint32_t)wait_s;
	q.content = content;
	q.len = (uint32_t)len;
	if (proto_sign_request_encode(&args, &q) < 0 ||
	    admin_call_args(path, RPC_CALL_IMZA_SIGN, &args, &resp, &r) < 0)
		goto out;
	if (proto_sign_reply_decode(&r, &a) < 0) {
		fprintf(stderr, "imzactl: imzad's answer is malformed\n");
		goto out;
	}
	if (a.err != 0) {
		if (a.tries_left >= 0 && strcmp(a.code, "pin_incorrect") == 0)
			fprintf(stderr, "imzactl: not signed: %s (%s; %d tries left)\n", a.message, a.code,
			        (int)a.tries_left);
		else
			fprintf(stderr, "imzactl: not signed: %s (%s)\n", a.message, a.code);
		goto out;
	}
	e = write_file(out, a.sig, a.sig_len);
	if (e < 0) {
		fprintf(stderr, "imzactl: %s: %s\n", out, strerror(-e));
		goto out;
	}
	if (strcmp(out, "-") != 0)
		printf("signed %zu bytes: %s (%u bytes, %s)\n", len, out, a.sig_len,
		       q.format == 1 ? "raw signature"
		       : q.detached  ? "CAdES-BES, detached"
		                     : "CAdES-BES");
	rc = 0;
out:
	free(content);
	proto_buf_free(&args);
	proto_buf_free(&resp);
	return rc;
}

/* "2026-11-26T13:51:40Z", or "?" */
static void iso_time(int64_t when, char out[32])
{
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "?");
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* A JSON string: quotes, backslashes and control bytes escaped; other bytes as the records hold them. */
static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void json_hex(const uint8_t *p, size_t n, bool present)
{
	if (!present) {
		printf("null");
		return;
	}
	putchar('"');
	print_hex(p, n);
	putchar('"');
}

/* One audit row as a JSON object on one line (the format docs/API.md names for `imzactl log --export`). */
static void export_entry(const struct proto_audit_entry *e)
{
	char when[32];

	iso_time(e->time, when);
	printf("{\"seq\":%llu,\"time\":%lld,\"utc\":\"%s\",\"origin\":", (unsigned long long)e->seq,
	       (long long)e->time, when);
	/* A PKCS#11 row names the application instead of an origin. */
	if (e->exe[0]) {
		printf("null,\"app_exe\":");
		json_str(e->exe);
		printf(",\"app_pid\":%lld", (long long)e->pid);
	} else {
		json_str(e->origin);
		printf(",\"app_exe\":null,\"app_pid\":null");
	}
	printf(",\"certificate_sha256\":");
	json_hex(e->cert_sha256, 32, e->has_cert);
	printf(",\"key_id\":");
	json_hex(e->key_id, e->key_id_len, e->key_id_len > 0);
	printf(",\"content_sha256\":");
	json_hex(e->content_sha256, 32, e->has_content);
	printf(",\"result\":");
	json_str(e->result);
	printf("}\n");
}

/* Every row, oldest first, page by page: imzad answers PROTO_AUDIT_MAX rows after a seq at a time. */
static int export_log(const char *path)
{
	static struct proto_audit_list l;
	struct proto_buf args = PROTO_BUF_INIT(64), resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_reader r;
	uint64_t after = 0;
	int rc = 1;

	for (;;) {
		args.len = 0;
		resp.len = 0;
		proto_put_u64(&args, after);
		if (admin_call_args(path, RPC_CALL_IMZA_AUDIT_PAGE, &args, &resp, &r) < 0)
			goto out;
		if (proto_audit_decode(&r, &l) < 0) {
			fprintf(stderr, "imzactl: imzad's answer is malformed\n");
			goto out;
		}
		if (l.n == 0)
			break;
		for (uint32_t i = 0; i < l.n; i++) {
			if (l.e[i].seq <= after) {
				fprintf(stderr, "imzactl: imzad's answer is out of order\n");
				goto out;
			}
			export_entry(&l.e[i]);
			after = l.e[i].seq;
		}
	}
	rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
out:
	proto_buf_free(&args);
	proto_buf_free(&resp);
	return rc;
}

int cmd_log(const char *path, int argc, char **argv)
{
	static struct proto_audit_list l;
	struct proto_buf args = PROTO_BUF_INIT(64), resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_reader r;
	unsigned long last = PROTO_AUDIT_MAX;
	char *end;
	int rc = 1;

	if (argc == 2 && strcmp(argv[1], "--export") == 0)
		return export_log(path);
	if (argc == 3 && strcmp(argv[1], "--last") == 0) {
		errno = 0;
		last = strtoul(argv[2], &end, 10);
		if (errno || *end || end == argv[2] || last == 0 || last > PROTO_AUDIT_MAX) {
			fprintf(stderr, "imzactl: --last takes 1 to %d\n", PROTO_AUDIT_MAX);
			return 2;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: imzactl log [--last N | --export]\n");
		return 2;
	}
	proto_put_u32(&args, (uint32_t)last);
	if (admin_call_args(path, RPC_CALL_IMZA_AUDIT, &args, &resp, &r) < 0)
		goto out;
	if (proto_audit_decode(&r, &l) < 0) {
		fprintf(stderr, "imzactl: imzad's answer is malformed\n");
		goto out;
	}
	for (uint32_t i = 0; i < l.n; i++) {
		const struct proto_audit_entry *e = &l.e[i];
		char when[32];

		iso_time(e->time, when);
		if (e->exe[0]) {
			/* A PKCS#11 operation: the application and the key, not an origin. */
			printf("%s  %s  %s (pid %lld)\n  key id: ", when, e->result, e->exe,
			       (long long)e->pid);
			print_hex(e->key_id, e->key_id_len);
			printf("\n  input sha256: ");
			if (e->has_content)
				print_hex(e->content_sha256, 32);
			printf("\n");
			continue;
		}
		printf("%s  %s  %s\n  certificate: ", when, e->result, e->origin);
		if (e->has_cert)
			print_hex(e->cert_sha256, 32);
		printf("\n  content sha256: ");
		if (e->has_content)
			print_hex(e->content_sha256, 32);
		printf("\n");
	}
	printf("%u entr%s\n", l.n, l.n == 1 ? "y" : "ies");
	rc = 0;
out:
	proto_buf_free(&args);
	proto_buf_free(&resp);
	return rc;
}

int cmd_grants(const char *path, int argc, char **argv)
{
	static struct proto_grant_list l;
	struct proto_buf args = PROTO_BUF_INIT(1024), resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_reader r;
	unsigned allows = 0;
	uint8_t done = 0;
	int rc = 1;

	if (argc == 1 || (argc == 2 && strcmp(argv[1], "list") == 0)) {
		if (admin_call_args(path, RPC_CALL_IMZA_GRANTS, NULL, &resp, &r) < 0)
			goto out;
		if (proto_grants_decode(&r, &l) < 0) {
			fprintf(stderr, "imzactl: imzad's answer is malformed\n");
			goto out;
		}
		for (uint32_t i = 0; i < l.n; i++) {
			char when[32];

			iso_time(l.g[i].time, when);
			/* Allows name an origin, denials a site: every origin under it is denied. */
			if (l.g[i].allow)
				printf("allow  %s  since %s\n", l.g[i].origin, when);
			else
				printf("deny   %s (site: every origin under it)  since %s\n", l.g[i].origin,
				       when);
			allows += l.g[i].allow;
		}
		printf("%u allowed origin%s, %u denied site%s\n", allows, allows == 1 ? "" : "s",
		       l.n - allows, l.n - allows == 1 ? "" : "s");
		rc = 0;
		goto out;
	}
	if (argc == 3 && (strcmp(argv[1], "allow") == 0 || strcmp(argv[1], "deny") == 0 ||
	                  strcmp(argv[1], "forget") == 0)) {
		uint8_t op = strcmp(argv[1], "forget") == 0 ? 0 : strcmp(argv[1], "allow") == 0 ? 1 : 2;

		proto_put_bytes(&args, argv[2], strlen(argv[2]));
		proto_put_u8(&args, op);
		if (admin_call_args(path, RPC_CALL_IMZA_GRANT_SET, &args, &resp, &r) < 0)
			goto out;
		if (proto_get_u8(&r, &done) < 0 || proto_reader_end(&r) < 0) {
			fprintf(stderr, "imzactl: imzad's answer is malformed\n");
			goto out;
		}
		if (done & PROTO_GRANT_ALLOW_STORED)
			printf("%s: allowed\n", argv[2]);
		if (done & PROTO_GRANT_DENY_STORED)
			printf("%s: denied, with every origin of its site\n", argv[2]);
		if (done & PROTO_GRANT_ALLOW_REMOVED)
			printf("%s: its allow is forgotten\n", argv[2]);
		if (done & PROTO_GRANT_DENY_REMOVED)
			printf("%s: its site's denial is forgotten\n", argv[2]);
		if (op == 0 && done == 0)
			printf("%s: nothing was stored for it or its site\n", argv[2]);
		rc = 0;
		goto out;
	}
	fprintf(stderr, "usage: imzactl grants [list]\n       imzactl grants allow|deny|forget ORIGIN\n");
	rc = 2;
out:
	proto_buf_free(&args);
	proto_buf_free(&resp);
	return rc;
}

/* imzactl records check: what SQLite's integrity check and the schema version say; exit 0 only when
 * the records are sound. */
int cmd_records(const char *path, int argc, char **argv)
{
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	struct proto_records_check c;
	struct proto_reader r;
	int rc = 1;

	if (argc != 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: imzactl records check\n");
		return 2;
	}
	if (admin_call_args(path, RPC_CALL_IMZA_RECORDS_CHECK, NULL, &resp, &r) < 0)
		goto out;
	if (proto_records_check_decode(&r, &c) < 0) {
		fprintf(stderr, "imzactl: imzad's answer is malformed\n");
		goto out;
	}
	printf("records: %s\n%s\nschema version: %lld (this imzad writes %lld)\n", c.ok ? "ok" : "damaged",
	       c.detail, (long long)c.version, (long long)c.known);
	rc = c.ok ? 0 : 1;
out:
	proto_buf_free(&resp);
	return rc;
}
