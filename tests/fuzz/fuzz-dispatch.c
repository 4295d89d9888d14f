/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-dispatch: imzad's PKCS#11 layer (daemon/p11.c, app.c, slots.c) as a hostile client drives it.
 * Input: byte 0 chooses what the card answers to every job (ok, wrong PIN, locked, removed, not logged
 * in), the rest is a stream of request frames. Each frame is decoded, dispatched into the real
 * operations against a token built from two generated certificates, and answered; card jobs complete
 * after the call returns, as the reader's worker would. The reader layer and the socket server are
 * replaced by the small fakes below. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/daemon.h"
#include "daemon/card/backend-card.h"
#include "daemon/card/reader.h"
#include "protocol/proto-frame.h"
#include "tests/lib/testcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon d;
static struct reader_job *queued[64];
static size_t nqueued;
static int card_answer;

/* ---- fakes for the reader layer and the server ---- */

const char *reader_name(const struct reader *r)
{
	return "fuzz reader";
}

unsigned long reader_apdu_count(const struct reader *r)
{
	return 0;
}

void reader_submit(struct reader *r, struct reader_job *job)
{
	if (nqueued < sizeof(queued) / sizeof(queued[0]))
		queued[nqueued++] = job;
	else
		job->done(job, CARD_E_REMOVED);
}

bool backend_set_listen(struct backend_set *s, bool on)
{
	return false;
}

struct daemon *call_daemon(const struct call *c)
{
	return &d;
}

void call_complete(struct call *c, CK_RV rv)
{
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);

	if (c->app)
		app_call_done(c->app);
	proto_frame_begin(&w);
	/* Whatever the operations did to the arguments must still encode. */
	if (rpc_response_encode(c->desc, c->args, rv, &w) < 0 && rv == CKR_OK)
		abort();
	proto_buf_free(&w);
	proto_arena_free(&c->arena);
	free(c);
}

/* ---- the token ---- */

static struct token *token;

static void setup(void)
{
	static const uint8_t guid[16] = {1};
	const struct token_slot_desc sign = {2,    0x9C,       true,
	                                     true, "SIGN key", "Certificate for Digital Signature"};
	const struct token_slot_desc auth = {1,    0x9A,           false,
	                                     true, "PIV AUTH key", "Certificate for PIV Authentication"};
	const struct token_slot_desc km = {3,    0x9D,          false,
	                                   true, "KEY MAN key", "Certificate for Key Management"};
	uint8_t *der;
	size_t len;

	token = token_new("FUZZ", guid);
	len = testcert_make("RSA", "nonRepudiation", &der, NULL);
	token_add_slot(token, &sign, der, len);
	OPENSSL_free(der);
	len = testcert_make("P-256", "digitalSignature,keyAgreement", &der, NULL);
	token_add_slot(token, &auth, der, len);
	OPENSSL_free(der);
	len = testcert_make("RSA", "keyEncipherment", &der, NULL);
	token_add_slot(token, &km, der, len);
	OPENSSL_free(der);
	token->pin_tries_left = token->pin_tries_max = 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int answers[] = {0, CARD_E_PIN_INCORRECT, CARD_E_PIN_LOCKED, CARD_E_REMOVED,
	                              CARD_E_NOT_LOGGED_IN};
	const uint8_t *payload;
	uint32_t len;
	size_t used;
	struct app *a;

	if (token == NULL)
		setup();
	if (size < 1)
		return 0;
	card_answer = answers[data[0] % 5];
	data++;
	size--;
	memset(&d, 0, sizeof(d));
	d.next_slot_id = 2;
	d.slots[0] = (struct slot){
	        .used = true, .id = 1, .reader = (struct reader *)&d, .token = token, .card_seq = 1};
	snprintf(d.slots[0].reader_name, sizeof(d.slots[0].reader_name), "fuzz reader");
	d.slots[1] = (struct slot){.used = true, .id = 7, .reader = (struct reader *)&d};
	a = app_attach(&d, 42, 0, 1, "fuzz", "/fuzz");
	while (proto_frame_split(data, size, &payload, &len, &used) == 0) {
		struct proto_reader r;
		struct call *c;
		uint32_t id;
		CK_RV rv;

		data += used;
		size -= used;
		proto_reader_init(&r, payload, len);
		if (proto_get_u32(&r, &id) < 0 || rpc_call_find(id) == NULL)
			continue;
		c = calloc(1, sizeof(*c));
		c->desc = rpc_call_find(id);
		c->app = a;
		proto_arena_init(&c->arena, PROTO_ARENA_MAX);
		if (rpc_request_decode(c->desc, &r, &c->arena, c->args) < 0) {
			proto_arena_free(&c->arena);
			free(c);
			break;
		}
		app_call_start(a);
		rv = rpc_server_invoke(&p11_ops, c, c->desc, c->args);
		if (rv != CKR_IMZA_PENDING)
			call_complete(c, rv);
		/* The worker answers after the call has returned, never inside it. */
		while (nqueued > 0) {
			struct reader_job *j = queued[--nqueued];

			j->done(j, card_answer);
		}
	}
	/* The client goes: a pending wait ends, the application with its sessions is freed. */
	if (a->waiting)
		app_call_cancel(a, a->waiting);
	app_detach(&d, a);
	/* The card forgets a departed application's login: that job runs too. */
	while (nqueued > 0) {
		struct reader_job *j = queued[--nqueued];

		j->done(j, card_answer);
	}
	if (d.apps != NULL)
		abort();
	return 0;
}
