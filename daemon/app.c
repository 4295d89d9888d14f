/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Applications (see daemon.h): every connection of one client process shares one application, so
 * that a module's pool of connections, and the one it keeps for C_WaitForSlotEvent, see one login
 * state and one set of sessions, as PKCS#11 defines them for an application. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

#define MAX_APPS 256

struct app *app_attach(struct daemon *d, pid_t pid, uid_t uid, int kind, const char *name, const char *exe)
{
	struct app *a;
	size_t n = 0;

	for (a = d->apps; a; a = a->next, n++) {
		if (a->pid == pid && a->uid == uid && a->kind == kind && a->nconn > 0) {
			a->nconn++;
			return a;
		}
	}
	if (n >= (d->max_apps ? d->max_apps : MAX_APPS))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->d = d;
	a->id = ++d->next_app_id;
	a->pid = pid;
	a->uid = uid;
	a->kind = kind;
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->exe, sizeof(a->exe), "%s", exe);
	a->nconn = 1;
	a->next_handle = 1;
	a->next = d->apps;
	d->apps = a;
	slots_listeners_changed(d);
	return a;
}

CK_RV app_get_session(struct app *a, CK_SESSION_HANDLE h, struct session **ret_sess, struct slot **ret_slot)
{
	struct session *sess = app_session(a, h);
	struct slot *s;

	if (sess == NULL)
		return CKR_SESSION_HANDLE_INVALID;
	s = slot_get(a->d, sess->slot);
	if (s == NULL || s->token == NULL || s->card_seq != sess->card_seq) {
		app_close_session(a, h);
		return CKR_DEVICE_REMOVED;
	}
	*ret_sess = sess;
	*ret_slot = s;
	return CKR_OK;
}

bool app_logged_in(const struct app *a, const struct slot *s)
{
	return s->token && a->login_seq[(size_t)(s - a->d->slots)] == s->card_seq;
}

int op_begin(struct op **slot, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return -ENOMEM;
	op_end(slot);
	op->kind = kind;
	*slot = op;
	return 0;
}

void op_end(struct op **slot)
{
	struct op *op = *slot;

	if (op == NULL)
		return;
	if (op->md_ctx)
		EVP_MD_CTX_free(op->md_ctx);
	pin_secret_wipe(&op->context_pin);
	/* Data to be signed and decrypted results. */
	explicit_bzero(op, sizeof(*op));
	free(op);
	*slot = NULL;
}

void session_obj_free(struct session_obj *so)
{
	token_object_clear(&so->o);
	free(so);
}

static void session_free(struct session *s)
{
	op_end(&s->op);
	op_end(&s->find);
	while (s->objs) {
		struct session_obj *next = s->objs->next;

		session_obj_free(s->objs);
		s->objs = next;
	}
	free(s);
}

void app_so_logout(struct app *a, size_t idx)
{
	a->so_seq[idx] = 0;
	pin_secret_wipe(&a->so_puk[idx]);
}

/* PKCS#11 3.0 §5.6: the login state ends with the application's last session on the token. The SO's
 * ends here (its PUK wiped), and the user's: the card forgets the PIN if it holds this application's. */
static void logout_if_last(struct app *a, CK_SLOT_ID id)
{
	struct daemon *d = a->d;
	size_t idx;

	for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
		if (a->sessions[i] && a->sessions[i]->slot == id)
			return;
	for (idx = 0; idx < DAEMON_MAX_SLOTS; idx++) {
		struct slot *s = &d->slots[idx];

		if (!s->used || s->id != id)
			continue;
		app_so_logout(a, idx);
		if (a->login_seq[idx] == 0)
			continue;
		a->login_seq[idx] = 0;
		if (s->owner_app == a->id && d->release_card)
			d->release_card(d, s, a->id);
	}
}

static void app_maybe_free(struct app *a)
{
	struct daemon *d = a->d;
	struct app **pp;

	if (a->nconn > 0 || a->ncalls > 0)
		return;
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
		if (a->sessions[i])
			session_free(a->sessions[i]);
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++)
		app_so_logout(a, i);
	/* Its login must not outlive it: the card forgets the PIN, for imza's clients and any other
	 * PC/SC application alike. */
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++)
		if (d->slots[i].owner_app == a->id)
			if (d->release_card)
				d->release_card(d, &d->slots[i], a->id);
	for (pp = &d->apps; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	free(a);
	slots_listeners_changed(d);
}

void app_detach(struct daemon *d, struct app *a)
{
	(void)d;
	a->nconn--;
	app_maybe_free(a);
}

void app_call_start(struct app *a)
{
	a->ncalls++;
}

void app_call_done(struct app *a)
{
	a->ncalls--;
	app_maybe_free(a);
}

struct session *app_session(struct app *a, CK_SESSION_HANDLE h)
{
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++)
		if (a->sessions[i] && a->sessions[i]->handle == h)
			return a->sessions[i];
	return NULL;
}

void app_close_session(struct app *a, CK_SESSION_HANDLE h)
{
	for (size_t i = 0; i < APP_MAX_SESSIONS; i++) {
		if (a->sessions[i] && a->sessions[i]->handle == h) {
			CK_SLOT_ID id = a->sessions[i]->slot;

			session_free(a->sessions[i]);
			a->sessions[i] = NULL;
			logout_if_last(a, id);
		}
	}
}

void app_drop_slot(struct daemon *d, CK_SLOT_ID id)
{
	for (struct app *a = d->apps; a; a = a->next) {
		for (size_t i = 0; i < APP_MAX_SESSIONS; i++) {
			if (a->sessions[i] && a->sessions[i]->slot == id) {
				session_free(a->sessions[i]);
				a->sessions[i] = NULL;
			}
		}
		logout_if_last(a, id);
	}
}

/* A slot changed: each application learns it from C_WaitForSlotEvent, now or at its next call. */
void app_slot_event(struct daemon *d, CK_SLOT_ID id)
{
	struct slot *s = slot_get(d, id);
	size_t idx;

	if (s == NULL)
		return;
	idx = (size_t)(s - d->slots);
	for (struct app *a = d->apps; a; a = a->next) {
		struct call *w = a->waiting;

		if (w) {
			a->waiting = NULL;
			*w->args[1].pul = id;
			call_complete(w, CKR_OK);
		} else {
			a->event[idx] = true;
		}
	}
}

void app_call_cancel(struct app *a, struct call *c)
{
	if (a->waiting == c) {
		a->waiting = NULL;
		call_complete(c, CKR_FUNCTION_CANCELED);
	}
}

void app_on_slot(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev)
{
	(void)ud;
	if (ev == SLOT_EV_CARD_GONE)
		app_drop_slot(d, id);
	else if (ev != SLOT_EV_LOOKED)
		app_slot_event(d, id);
}
