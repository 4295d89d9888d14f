/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl: imza's command-line tool. Asks imzad (over the same socket and protocol the module uses)
 * for its status and the certificates of the cards it sees. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "protocol/proto-admin.h"
#include "protocol/proto-ck.h"
#include "protocol/proto-client.h"
#include "protocol/proto-frame.h"
#include "protocol/proto-hex.h"
#include "protocol/rpc.h"
#include "tools/imzactl.h"
#include "tools/setup.h"
#include "tools/trust.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: imzactl [--socket PATH] status [--verbose]\n"
	           "       imzactl [--socket PATH] certs\n"
	           "       imzactl [--socket PATH] cache list|clear\n"
	           "       imzactl [--socket PATH] cache forget DRIVER:HEXID\n"
	           "       imzactl [--socket PATH] sign --cert ID --in FILE --out FILE.p7s [--detached] "
	           "[--raw]\n"
	           "               [--text] [--wait SECONDS]\n"
	           "       imzactl [--socket PATH] log [--last N | --export]\n"
	           "       imzactl [--socket PATH] grants [allow|deny|forget ORIGIN]\n"
	           "       imzactl [--socket PATH] records check\n"
	           "       imzactl [--socket PATH] pin change|unblock [--card SLOT]\n"
	           "       imzactl trust [--config-dir DIR]\n"
	           "       imzactl untrust\n"
	           "       imzactl setup [--module PATH] [--config-dir DIR] [--dry-run]\n"
	           "       imzactl setup --undo [--dry-run]\n");
}

int admin_call_args(const char *path, uint32_t id, const struct proto_buf *args, struct proto_buf *resp,
                    struct proto_reader *r)
{
	struct proto_buf req = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);
	struct proto_hello_reply rep;
	uint32_t rid;
	CK_RV rv = 0;
	int fd, e;

	e = proto_client_connect(path, PROTO_CLIENT_CLI, "imzactl", &rep, &fd);
	if (e < 0) {
		fprintf(stderr, "imzactl: cannot reach imzad at %s: %s\n", path, strerror(-e));
		return e;
	}
	proto_frame_begin(&req);
	proto_put_u32(&req, id);
	if (args)
		proto_put_raw(&req, args->data, args->len);
	e = proto_client_call(fd, &req, resp);
	proto_buf_free(&req);
	close(fd);
	if (e < 0) {
		fprintf(stderr, "imzactl: imzad did not answer: %s\n", strerror(-e));
		return e;
	}
	proto_reader_init(r, resp->data, resp->len);
	proto_get_u32(r, &rid);
	proto_get_ulong(r, &rv);
	if (r->error == 0 && rid == id && rv == PROTO_ADMIN_RECORDS_UNAVAILABLE) {
		fprintf(stderr,
		        "imzactl: imzad cannot use its records file (audit log, answers for web origins);"
		        " `imzactl records check` says why\n");
		return -ENXIO;
	}
	if (r->error || rid != id || rv != CKR_OK) {
		fprintf(stderr, "imzactl: imzad refused the request\n");
		return -EPROTO;
	}
	return 0;
}

static int admin_call(const char *path, uint32_t id, struct proto_buf *resp, struct proto_reader *r)
{
	return admin_call_args(path, id, NULL, resp, r);
}

static int cmd_cache(const char *path, int argc, char **argv)
{
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX), args = PROTO_BUF_INIT(4096);
	static struct proto_cache_list l;
	struct proto_reader r;
	int e = -EINVAL;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		e = admin_call(path, RPC_CALL_IMZA_CACHE_LIST, &resp, &r);
		if (e == 0 && (proto_cache_list_decode(&r, &l) < 0 || proto_reader_end(&r) < 0))
			e = -EBADMSG;
		for (uint32_t i = 0; e == 0 && i < l.n; i++) {
			char when[64] = "";
			time_t t = (time_t)l.cards[i].last_seen;
			struct tm tm;

			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
			printf("%s:", l.cards[i].driver);
			for (uint32_t j = 0; j < l.cards[i].id_len; j++)
				printf("%02x", l.cards[i].id[j]);
			printf("  %s  serial %s  %u objects  last seen %s\n", l.cards[i].label,
			       l.cards[i].serial, l.cards[i].nobjs, when);
		}
		if (e == 0)
			printf("%u card%s cached\n", l.n, l.n == 1 ? "" : "s");
	} else if (argc == 1 && strcmp(argv[0], "clear") == 0) {
		e = admin_call(path, RPC_CALL_IMZA_CACHE_CLEAR, &resp, &r);
		if (e == 0)
			printf("cache cleared\n");
	} else if (argc == 2 && strcmp(argv[0], "forget") == 0) {
		const char *colon = strchr(argv[1], ':'), *hex;
		uint8_t id[32];
		size_t n = 0;

		if (colon == NULL || colon == argv[1] || (size_t)(colon - argv[1]) >= 16) {
			usage(stderr);
			return 2;
		}
		for (hex = colon + 1; hex[0] && hex[1] && n < sizeof(id); hex += 2) {
			int hi = proto_hex_digit(hex[0]), lo = proto_hex_digit(hex[1]);

			if (hi < 0 || lo < 0)
				break;
			id[n++] = (uint8_t)(hi << 4 | lo);
		}
		if (*hex != '\0' || n == 0) {
			fprintf(stderr,
			        "imzactl: a card is DRIVER:HEXID, as `imzactl cache list` shows it\n");
			return 2;
		}
		proto_put_bytes(&args, argv[1], (size_t)(colon - argv[1]));
		proto_put_bytes(&args, id, n);
		e = admin_call_args(path, RPC_CALL_IMZA_CACHE_FORGET, &args, &resp, &r);
		if (e == 0)
			printf("forgot %s\n", argv[1]);
	} else {
		usage(stderr);
		return 2;
	}
	proto_buf_free(&args);
	proto_buf_free(&resp);
	return e == 0 ? 0 : 1;
}

static const char *plural_tries(int n)
{
	return n == 1 ? "try" : "tries";
}

/* imzactl pin change|unblock [--card SLOT]: imzad asks the PIN (or PUK) and the new PIN in its own
 * dialog; nothing secret passes through here. The outcome is said in words; the exit status is 0 only
 * when the card took the new PIN. */
static int cmd_pin(const char *path, int argc, char **argv)
{
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX), args = PROTO_BUF_INIT(64);
	struct proto_reader r;
	uint64_t slot = PROTO_PIN_ANY_SLOT;
	uint32_t res = 0, tries_u = 0;
	uint8_t op;
	int tries, e, rc = 1;

	if (argc == 2 && strcmp(argv[1], "change") == 0)
		op = PROTO_PIN_OP_CHANGE;
	else if (argc == 2 && strcmp(argv[1], "unblock") == 0)
		op = PROTO_PIN_OP_UNBLOCK;
	else if (argc == 4 && (strcmp(argv[1], "change") == 0 || strcmp(argv[1], "unblock") == 0) &&
	         strcmp(argv[2], "--card") == 0) {
		char *end;
		unsigned long long v;

		op = strcmp(argv[1], "change") == 0 ? PROTO_PIN_OP_CHANGE : PROTO_PIN_OP_UNBLOCK;
		errno = 0;
		v = strtoull(argv[3], &end, 10);
		if (argv[3][0] < '0' || argv[3][0] > '9' || *end != '\0' || errno != 0 ||
		    v >= PROTO_PIN_ANY_SLOT) {
			fprintf(stderr,
			        "imzactl: --card takes a slot number, as `imzactl status` shows it\n");
			return 2;
		}
		slot = v;
	} else {
		usage(stderr);
		return 2;
	}
	proto_put_u8(&args, op);
	proto_put_u64(&args, slot);
	e = admin_call_args(path, RPC_CALL_IMZA_PIN, &args, &resp, &r);
	if (e == 0 && (proto_get_u32(&r, &res) < 0 || proto_get_u32(&r, &tries_u) < 0 ||
	               proto_reader_end(&r) < 0 || res >= PROTO_PIN_R_MAX))
		e = -EBADMSG;
	proto_buf_free(&args);
	proto_buf_free(&resp);
	if (e == -EBADMSG)
		fprintf(stderr, "imzactl: imzad's answer could not be read\n");
	if (e < 0)
		return 1;
	tries = (int)(int32_t)tries_u;
	switch ((enum proto_pin_result)res) {
	case PROTO_PIN_R_OK:
		printf(op == PROTO_PIN_OP_CHANGE ? "PIN changed\n" : "PIN unblocked and changed\n");
		rc = 0;
		break;
	case PROTO_PIN_R_WRONG_PIN:
		if (tries >= 0)
			printf("wrong PIN: %d %s left; nothing changed\n", tries, plural_tries(tries));
		else
			printf("wrong PIN; nothing changed\n");
		break;
	case PROTO_PIN_R_PIN_LOCKED:
		printf("PIN locked: use `imzactl pin unblock`\n");
		break;
	case PROTO_PIN_R_WRONG_PUK:
		if (tries >= 0)
			printf("wrong PUK: %d %s left; nothing changed\n", tries, plural_tries(tries));
		else
			printf("wrong PUK; nothing changed\n");
		break;
	case PROTO_PIN_R_PUK_LOCKED:
		printf("PUK locked: the card cannot be unblocked any more\n");
		break;
	case PROTO_PIN_R_CANCELLED:
		printf("cancelled: nothing changed\n");
		break;
	case PROTO_PIN_R_MISMATCH:
		printf("the two entries of the new PIN differ: nothing changed\n");
		break;
	case PROTO_PIN_R_FORMAT:
		printf("a PIN or PUK of the wrong form (6 to 8 digits): no try used, nothing changed\n");
		break;
	case PROTO_PIN_R_NO_CARD:
		printf("no card%s\n", slot == PROTO_PIN_ANY_SLOT ? "" : " in that slot");
		break;
	case PROTO_PIN_R_SEVERAL:
		printf("several cards: name one with --card SLOT (see `imzactl status`)\n");
		break;
	case PROTO_PIN_R_NOT_SUPPORTED:
		printf("this card's PIN cannot be changed through imza (its driver or module has no way "
		       "to)\n");
		break;
	case PROTO_PIN_R_BUSY:
		printf("another PIN dialog is open: finish it first\n");
		break;
	default:
		printf("failed: the dialog or the card did not answer; see imzad's log\n");
		break;
	}
	return rc;
}

static int cmd_status(const char *path, int verbose)
{
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	static struct proto_status st;
	struct proto_reader r;
	int e = admin_call(path, RPC_CALL_IMZA_STATUS, &resp, &r);

	if (e == 0 && (proto_status_decode(&r, &st) < 0 || proto_reader_end(&r) < 0))
		e = -EBADMSG;
	if (e < 0) {
		proto_buf_free(&resp);
		return 1;
	}
	printf("daemon: %s\n", st.server);
	printf("clients: %u\n", st.nclients);
	if (verbose)
		printf("apdus: %llu\n", (unsigned long long)st.apdus_total);
	printf("readers: %u\n", st.nslots);
	for (uint32_t i = 0; i < st.nslots; i++) {
		const struct proto_status_slot *s = &st.slots[i];

		printf("slot %llu: %s%s\n", (unsigned long long)s->id, s->reader,
		       s->reader_present ? "" : " (unplugged)");
		if (s->token_present) {
			printf("  card: %s (serial %s)\n", s->label, s->serial);
			if (s->driver[0])
				printf("  driver: %s\n", s->driver);
			if (s->pin_tries >= 0)
				printf("  pin tries left: %d\n", s->pin_tries);
			else if (s->pin_tries == PROTO_PIN_TRIES_LOW)
				printf("  pin tries left: fewer than all (a wrong PIN was given; the card "
				       "does not "
				       "say how many)\n");
		} else {
			printf("  card: none\n");
		}
		if (verbose)
			printf("  apdus: %llu\n", (unsigned long long)s->apdus);
	}
	proto_buf_free(&resp);
	return 0;
}

static void print_name(const char *what, const X509_NAME *n)
{
	char buf[512];

	X509_NAME_oneline(n, buf, sizeof(buf));
	printf("  %s: %s\n", what, buf);
}

static void print_time(const char *what, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[64];

	if (t && ASN1_TIME_to_tm(t, &tm) == 1 && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
		printf("  %s: %s\n", what, buf);
}

static void print_key(const X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char group[64];

	if (k == NULL)
		return;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		printf("  key: RSA %d\n", EVP_PKEY_get_bits(k));
	else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	         EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1)
		printf("  key: EC %s\n", group);
	else
		printf("  key: %s\n", OBJ_nid2sn(EVP_PKEY_get_base_id(k)));
}

static int cmd_certs(const char *path)
{
	struct proto_buf resp = PROTO_BUF_INIT(PROTO_FRAME_MAX);
	static struct proto_cert_list l;
	struct proto_reader r;
	int e = admin_call(path, RPC_CALL_IMZA_LIST_CERTS, &resp, &r);

	if (e == 0 && (proto_certs_decode(&r, &l) < 0 || proto_reader_end(&r) < 0))
		e = -EBADMSG;
	if (e < 0) {
		proto_buf_free(&resp);
		return 1;
	}
	for (uint32_t i = 0; i < l.n; i++) {
		const struct proto_cert_entry *c = &l.certs[i];
		const unsigned char *p = c->der;
		X509 *x = d2i_X509(NULL, &p, c->der_len);
		char serial[128] = "";

		printf("%s\n  slot: %llu (%s)\n  id: ", c->label, (unsigned long long)c->slot, c->reader);
		for (uint32_t j = 0; j < c->id_len; j++)
			printf("%02x", c->id[j]);
		printf("\n  sign id: ");
		{
			uint8_t h[32];

			if (c->der && EVP_Digest(c->der, c->der_len, h, NULL, EVP_sha256(), NULL) == 1)
				for (size_t j = 0; j < sizeof(h); j++)
					printf("%02x", h[j]);
		}
		printf("\n");
		if (x == NULL) {
			printf("  (certificate could not be parsed)\n");
			continue;
		}
		print_name("subject", X509_get_subject_name(x));
		print_name("issuer", X509_get_issuer_name(x));
		{
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;

			if (hex)
				snprintf(serial, sizeof(serial), "%s", hex);
			OPENSSL_free(hex);
			BN_free(bn);
		}
		printf("  serial: %s\n", serial);
		print_time("not before", X509_get0_notBefore(x));
		print_time("not after", X509_get0_notAfter(x));
		print_key(x);
		X509_free(x);
	}
	printf("%u certificate%s\n", l.n, l.n == 1 ? "" : "s");
	proto_buf_free(&resp);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	char path[PATH_MAX];
	const char *sock = NULL;
	int opt, verbose = 0;

	/* trust/untrust work on NSS databases, not through imzad: their own options, no socket. */
	if (argc > 1 && trust_is_command(argv[1]))
		return trust_main(argc - 1, argv + 1);
	if (argc > 1 && setup_is_command(argv[1]))
		return setup_main(argc - 1, argv + 1);
	while ((opt = getopt_long(argc, argv, "+s:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (sock == NULL) {
		if (proto_client_socket_path(path, sizeof(path)) < 0) {
			fprintf(stderr, "imzactl: no IMZA_SOCKET or XDG_RUNTIME_DIR; give --socket PATH\n");
			return 1;
		}
		sock = path;
	}
	/* Options stop at the command ("+"): each command parses its own. */
	if (strcmp(argv[optind], "status") == 0 && argc - optind == 2 &&
	    (strcmp(argv[optind + 1], "--verbose") == 0 || strcmp(argv[optind + 1], "-v") == 0))
		return cmd_status(sock, 1);
	if (strcmp(argv[optind], "status") == 0 && argc - optind == 1)
		return cmd_status(sock, verbose);
	if (strcmp(argv[optind], "certs") == 0 && argc - optind == 1)
		return cmd_certs(sock);
	if (strcmp(argv[optind], "cache") == 0)
		return cmd_cache(sock, argc - optind - 1, argv + optind + 1);
	if (strcmp(argv[optind], "sign") == 0)
		return cmd_sign(sock, argc - optind, argv + optind);
	if (strcmp(argv[optind], "log") == 0)
		return cmd_log(sock, argc - optind, argv + optind);
	if (strcmp(argv[optind], "grants") == 0)
		return cmd_grants(sock, argc - optind, argv + optind);
	if (strcmp(argv[optind], "pin") == 0)
		return cmd_pin(sock, argc - optind, argv + optind);
	if (strcmp(argv[optind], "records") == 0)
		return cmd_records(sock, argc - optind, argv + optind);
	usage(stderr);
	return 2;
}
