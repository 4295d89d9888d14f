/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* imzactl pin change|unblock (see admin.h): imzad asks the secrets in its own dialog on a thread of its
 * own, then gives them to the card job C_SetPIN and C_InitPIN use (p11_pin_admin), and answers imzactl
 * with the outcome in words it can print. The PINs never cross imzactl's socket. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/admin.h"
#include "daemon/card/card.h"
#include "daemon/log.h"
#include "daemon/ui/dialog.h"
#include "daemon/web/sign.h"
#include "protocol/proto-admin.h"

#define PIN_DIALOG_TIMEOUT_S 120

struct pin_task {
	pthread_mutex_t mu;
	bool orphan;      /* imzad is stopping: the thread frees the task */
	bool thread_done; /* the dialog's thread ended (its done event is active) */
	struct daemon *d;
	struct call *call; /* NULL once imzactl went away: nothing is answered, nothing reaches the card */
	CK_SLOT_ID slot;
	uint64_t card_seq;
	bool unblock;
	char program[PATH_MAX];
	char origin[320];
	char label[33];
	struct dialog_request rq;
	int result;
	struct pin_secret old, new;
	struct event *done;
};

/* One PIN dialog of imzactl's at a time: two would race each other on the same counter. */
static struct pin_task *current;

static void task_free(struct pin_task *t)
{
	pin_secret_wipe(&t->old);
	pin_secret_wipe(&t->new);
	if (t->done)
		event_free(t->done);
	pthread_mutex_destroy(&t->mu);
	if (current == t)
		current = NULL;
	free(t);
}

static void reply(struct call *call, enum proto_pin_result res, int tries)
{
	struct proto_buf w = PROTO_BUF_INIT(PROTO_FRAME_BUF_MAX);

	proto_frame_begin(&w);
	proto_put_u32(&w, RPC_CALL_IMZA_PIN);
	proto_put_u64(&w, CKR_OK);
	proto_put_u32(&w, (uint32_t)res);
	proto_put_u32(&w, (uint32_t)(int32_t)tries);
	call_reply(call, &w);
}

static void on_cancel(struct call *call)
{
	struct pin_task *t = call->priv;

	/* The dialog may still be up or the card at work: the task stays until they end, then goes
	 * without an answer. */
	if (t != NULL)
		t->call = NULL;
	call_release(call);
}

/* The card answered (on the main loop). */
static void on_card_done(void *ud, int r, const struct pin_change *c)
{
	struct pin_task *t = ud;
	bool puk = c->done == PIN_OP_UNBLOCK;
	enum proto_pin_result res;
	int tries = -1;

	switch (r) {
	case 0:
		res = PROTO_PIN_R_OK;
		break;
	case CARD_E_PIN_INCORRECT:
		res = puk ? PROTO_PIN_R_WRONG_PUK : PROTO_PIN_R_WRONG_PIN;
		tries = c->tries;
		break;
	case CARD_E_PIN_LOCKED:
		res = puk ? PROTO_PIN_R_PUK_LOCKED : PROTO_PIN_R_PIN_LOCKED;
		tries = 0;
		break;
	case CARD_E_PIN_FORMAT:
	case CARD_E_PIN_INVALID:
		res = PROTO_PIN_R_FORMAT;
		break;
	case CARD_E_REMOVED:
		res = PROTO_PIN_R_NO_CARD;
		break;
	case -ENOTSUP:
		res = PROTO_PIN_R_NOT_SUPPORTED;
		break;
	default:
		res = PROTO_PIN_R_FAILED;
		break;
	}
	log_info("imzactl: pin %s on slot %lu: %s (tries left %d)", t->unblock ? "unblock" : "change",
	         (unsigned long)t->slot, r == 0 ? "done" : strerror(-r), tries);
	if (t->call != NULL) {
		t->call->priv = NULL;
		reply(t->call, res, tries);
	}
	task_free(t);
}

/* The dialog ended (on the main loop): its secrets go to the card, or its reason to imzactl. */
static void on_dialog_done(evutil_socket_t fd, short what, void *arg)
{
	struct pin_task *t = arg;
	struct slot *s = slot_get(t->d, t->slot);
	enum proto_pin_result res = PROTO_PIN_R_FAILED;
	int e;

	(void)fd;
	(void)what;
	/* The thread activated us holding the lock: its unlock comes before the task is ours. */
	pthread_mutex_lock(&t->mu);
	pthread_mutex_unlock(&t->mu);
	if (t->call == NULL) {
		log_info("imzactl went away during the PIN dialog: nothing sent to the card");
		task_free(t);
		return;
	}
	if (t->result == 0 && (s == NULL || s->token == NULL || s->card_seq != t->card_seq)) {
		t->result = CARD_E_REMOVED;
		res = PROTO_PIN_R_NO_CARD;
	} else if (t->result == -ECANCELED || t->result == -ETIMEDOUT) {
		res = PROTO_PIN_R_CANCELLED;
	} else if (t->result == DIALOG_E_MISMATCH) {
		res = PROTO_PIN_R_MISMATCH;
	} else if (t->result == -E2BIG || t->result == -EINVAL) {
		res = PROTO_PIN_R_FORMAT;
	}
	if (t->result == 0) {
		e = p11_pin_admin(t->d, s, t->unblock ? PIN_OP_UNBLOCK : PIN_OP_CHANGE, &t->old, &t->new,
		                  on_card_done, t);
		if (e == 0)
			return;
		res = e == -ENOTSUP ? PROTO_PIN_R_NOT_SUPPORTED : PROTO_PIN_R_FAILED;
	}
	log_info("imzactl: pin %s on slot %lu: nothing sent to the card (%s)",
	         t->unblock ? "unblock" : "change", (unsigned long)t->slot,
	         strerror(-(t->result ? t->result : EIO)));
	t->call->priv = NULL;
	reply(t->call, res, -1);
	task_free(t);
}

static void *dialog_thread(void *arg)
{
	struct pin_task *t = arg;
	struct pin_secret old = {0}, new = {0};
	bool free_it;
	int r = dialog_pin_new(&t->rq, t->unblock, &old, &new);

	pthread_mutex_lock(&t->mu);
	t->result = r;
	t->old = old;
	t->new = new;
	t->thread_done = true;
	free_it = t->orphan;
	if (!free_it)
		event_active(t->done, 0, 0);
	pthread_mutex_unlock(&t->mu);
	if (free_it)
		task_free(t);
	return NULL;
}

/* The slot the request names, or the only one that holds a card. */
static struct slot *find_slot(struct daemon *d, uint64_t id, enum proto_pin_result *ret_res)
{
	struct slot *found = NULL;

	if (id != PROTO_PIN_ANY_SLOT) {
		found = slot_get(d, (CK_SLOT_ID)id);
		if (found == NULL || found->reader == NULL || found->token == NULL) {
			*ret_res = PROTO_PIN_R_NO_CARD;
			return NULL;
		}
		return found;
	}
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		struct slot *s = slot_by_index(d, i);

		if (s == NULL || s->reader == NULL || s->token == NULL)
			continue;
		if (found != NULL) {
			*ret_res = PROTO_PIN_R_SEVERAL;
			return NULL;
		}
		found = s;
	}
	if (found == NULL)
		*ret_res = PROTO_PIN_R_NO_CARD;
	return found;
}

int admin_pin_start(struct daemon *d, struct call *call, struct proto_reader *r)
{
	enum proto_pin_result res = PROTO_PIN_R_FAILED;
	struct app *a = call->app;
	pthread_attr_t attr;
	struct pin_task *t;
	struct slot *s;
	pthread_t th;
	uint64_t slot = 0;
	uint8_t op = 0;
	int tries, e;

	proto_get_u8(r, &op);
	proto_get_u64(r, &slot);
	if (proto_reader_end(r) < 0 || (op != PROTO_PIN_OP_CHANGE && op != PROTO_PIN_OP_UNBLOCK))
		return -EBADMSG;
	s = find_slot(d, slot, &res);
	if (s == NULL)
		goto answer;
	if (current != NULL) {
		res = PROTO_PIN_R_BUSY;
		goto answer;
	}
	/* What the card said last: a locked PIN is not asked for, a locked PUK cannot unblock. */
	if (op == PROTO_PIN_OP_CHANGE && s->token->pin_tries_left == 0) {
		res = PROTO_PIN_R_PIN_LOCKED;
		tries = 0;
		goto answer_tries;
	}
	if (op == PROTO_PIN_OP_UNBLOCK && s->token->puk_known && s->token->puk_tries_left == 0) {
		res = PROTO_PIN_R_PUK_LOCKED;
		tries = 0;
		goto answer_tries;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto answer;
	pthread_mutex_init(&t->mu, NULL);
	t->d = d;
	t->call = call;
	t->slot = s->id;
	t->card_seq = s->card_seq;
	t->unblock = op == PROTO_PIN_OP_UNBLOCK;
	snprintf(t->program, sizeof(t->program), "%s", signsvc_pinentry(d->signsvc));
	/* Cut to fit: the name is the client's claim, the pid and executable are what the kernel says. */
	snprintf(t->origin, sizeof(t->origin), "%.60s (pid %d, %.200s)",
	         a && a->name[0] ? a->name : "local program", a ? (int)a->pid : -1,
	         a && a->exe[0] ? a->exe : "?");
	snprintf(t->label, sizeof(t->label), "%.*s", (int)token_text_len(s->token->label, 32),
	         s->token->label);
	t->rq = (struct dialog_request){
	        .program = t->program,
	        .origin = t->origin,
	        .card_label = t->label,
	        .tries_left = t->unblock ? (s->token->puk_known ? s->token->puk_tries_left : -1)
	                                 : s->token->pin_tries_left,
	        .timeout_s = PIN_DIALOG_TIMEOUT_S,
	};
	t->done = event_new(d->base, -1, 0, on_dialog_done, t);
	if (t->done == NULL) {
		task_free(t);
		goto answer;
	}
	call->priv = t;
	call->on_cancel = on_cancel;
	current = t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&th, &attr, dialog_thread, t);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		call->priv = NULL;
		call->on_cancel = NULL;
		task_free(t);
		goto answer;
	}
	log_info("imzactl: pin %s on slot %lu: asking in a dialog", t->unblock ? "unblock" : "change",
	         (unsigned long)t->slot);
	return 0;
answer:
	tries = -1;
answer_tries:
	reply(call, res, tries);
	return 0;
}

void admin_pin_stop(void)
{
	struct pin_task *t = current;
	bool free_it;

	if (t == NULL)
		return;
	current = NULL;
	pthread_mutex_lock(&t->mu);
	/* A thread still in its dialog frees the task when it ends; one that ended left it to us. */
	free_it = t->thread_done;
	t->orphan = true;
	/* Its event goes with the loop's base, which is freed next. */
	event_free(t->done);
	t->done = NULL;
	pthread_mutex_unlock(&t->mu);
	if (free_it)
		task_free(t);
}
