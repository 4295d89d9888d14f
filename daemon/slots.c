/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Slots (see daemon.h): one per reader, numbered by reader name so that a reader unplugged and plugged
 * back, or seen again after pcscd restarts, keeps its slot id. The reader layer's callbacks land here. */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include <event2/event.h>

#include "daemon/card/backend-card.h"
#include "daemon/store/cache.h"
#include "daemon/daemon.h"
#include "daemon/store/known.h"
#include "daemon/log.h"
#include "daemon/web/sign.h"
#include "daemon/store/token-store.h"

struct slot *slot_get(struct daemon *d, CK_SLOT_ID id)
{
	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++)
		if (d->slots[i].used && d->slots[i].id == id)
			return &d->slots[i];
	return NULL;
}

struct slot *slot_by_index(struct daemon *d, size_t i)
{
	return i < DAEMON_MAX_SLOTS && d->slots[i].used ? &d->slots[i] : NULL;
}

static struct slot *slot_for_reader(struct daemon *d, const char *name, bool create)
{
	struct slot *free_slot = NULL;

	for (size_t i = 0; i < DAEMON_MAX_SLOTS; i++) {
		if (d->slots[i].used && strcmp(d->slots[i].reader_name, name) == 0)
			return &d->slots[i];
		if (!d->slots[i].used && free_slot == NULL)
			free_slot = &d->slots[i];
	}
	if (!create)
		return NULL;
	if (free_slot == NULL) {
		/* Reuse the entry of a reader that is gone for good rather than refuse a new one. */
		for (size_t i = 0; i < DAEMON_MAX_SLOTS && free_slot == NULL; i++)
			if (d->slots[i].reader == NULL)
				free_slot = &d->slots[i];
		if (free_slot == NULL)
			return NULL;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->id = d->next_slot_id++;
	snprintf(free_slot->reader_name, sizeof(free_slot->reader_name), "%s", name);
	return free_slot;
}

static void publish(struct daemon *d, CK_SLOT_ID id, enum slot_event ev)
{
	for (size_t i = 0; i < d->nlisteners; i++)
		d->listeners[i].on(d->listeners[i].ud, d, id, ev);
}

int slots_listen(struct daemon *d, void (*on)(void *ud, struct daemon *d, CK_SLOT_ID id, enum slot_event ev),
                 void *ud)
{
	if (d->nlisteners == SLOTS_LISTENERS_MAX)
		return -ENOSPC;
	d->listeners[d->nlisteners++] = (struct slot_listener){on, ud};
	return 0;
}

static void forget_card(struct daemon *d, struct slot *s)
{
	if (s->token == NULL && s->card_seq == 0)
		return;
	token_free(s->token);
	s->token = NULL;
	s->pin_known = false;
	s->owner_app = 0;
	publish(d, s->id, SLOT_EV_CARD_GONE);
}

static void on_reader_added(void *ud, struct reader *r)
{
	struct daemon *d = ud;
	struct slot *s = slot_for_reader(d, reader_name(r), true);

	if (s == NULL) {
		log_warning("reader %s: no free slot", reader_name(r));
		return;
	}
	s->reader = r;
	log_info("reader %s is slot %lu", reader_name(r), (unsigned long)s->id);
	publish(d, s->id, SLOT_EV_CHANGED);
}

static void on_reader_removed(void *ud, struct reader *r)
{
	struct daemon *d = ud;
	struct slot *s = slot_for_reader(d, reader_name(r), false);

	if (s == NULL || s->reader != r)
		return;
	d->apdus_total += reader_apdu_count(r);
	forget_card(d, s);
	s->card_seq = 0;
	s->reader = NULL;
	log_info("reader %s gone", reader_name(r));
	publish(d, s->id, SLOT_EV_CHANGED);
}

/* A token read in full goes to the cache and its in-memory mirror. */
static void remember(struct daemon *d, const struct token *tok)
{
	int e;

	if (tok->id_len == 0)
		return;
	if (d->known)
		known_put(d->known, tok);
	if (d->cache && (e = cache_put_token(d->cache, tok->driver, tok->id, tok->id_len, tok)) < 0)
		log_warning("card cache: cannot store the card (%s)", strerror(-e));
}

static void on_card_ready(void *ud, struct reader *r, uint64_t seq, struct token *tok)
{
	struct daemon *d = ud;
	struct slot *s = slot_for_reader(d, reader_name(r), false);

	if (s == NULL || s->reader != r) {
		token_free(tok);
		return;
	}
	forget_card(d, s);
	s->token = tok;
	s->card_seq = seq;
	log_info("slot %lu: card \"%.32s\" (%zu objects%s)", (unsigned long)s->id, tok->label, tok->nobjs,
	         tok->unchecked ? ", from the cache" : "");
	if (!tok->unchecked)
		remember(d, tok);
	publish(d, s->id, SLOT_EV_CARD);
}

/* The same objects? The PIN counter and the check flag are not part of what a token is. */
static bool same_token(const struct token *a, const struct token *b)
{
	struct proto_buf wa = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB), wb = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB);
	struct token ca = *a, cb = *b;
	bool same;

	ca.pin_tries_left = cb.pin_tries_left = ca.pin_tries_max = cb.pin_tries_max = 0;
	same = token_serialize(&ca, &wa) == 0 && token_serialize(&cb, &wb) == 0 && wa.len == wb.len &&
	       memcmp(wa.data, wb.data, wa.len) == 0;
	proto_buf_free(&wa);
	proto_buf_free(&wb);
	return same;
}

static void on_card_checked(void *ud, struct reader *r, uint64_t seq, struct token *fresh)
{
	struct daemon *d = ud;
	struct slot *s = slot_for_reader(d, reader_name(r), false);

	if (s == NULL || s->reader != r || s->token == NULL || s->card_seq != seq) {
		token_free(fresh);
		return;
	}
	if (same_token(s->token, fresh)) {
		s->token->pin_tries_left = fresh->pin_tries_left;
		s->token->pin_tries_max = fresh->pin_tries_max;
		s->token->pin_count_low = fresh->pin_count_low;
		s->token->unchecked = false;
		remember(d, s->token);
		token_free(fresh);
		return;
	}
	/* Changed behind the cache's back (same identity, other objects): the new contents replace the
	 * old, and nothing opened or logged in on the old ones carries over. */
	log_info("slot %lu: the card's contents changed; serving what it holds now", (unsigned long)s->id);
	publish(d, s->id, SLOT_EV_CARD_GONE);
	for (struct app *a = d->apps; a; a = a->next)
		a->login_seq[s - d->slots] = 0;
	s->owner_app = 0;
	token_free(s->token);
	s->token = fresh;
	remember(d, fresh);
	publish(d, s->id, SLOT_EV_CARD);
}

static struct token *on_known(void *ud, const char *driver, const uint8_t *id, size_t id_len)
{
	struct daemon *d = ud;

	return d->known ? known_get(d->known, driver, id, id_len) : NULL;
}

struct id_list {
	char driver[16];
	uint8_t id[32];
	size_t id_len;
};

static int collect(void *ud, const struct cache_entry *e)
{
	struct id_list **pp = ud;
	struct id_list *l = *pp;

	if (e->id_len > sizeof(l->id) || strlen(e->driver) >= sizeof(l->driver))
		return 0;
	snprintf(l->driver, sizeof(l->driver), "%s", e->driver);
	memcpy(l->id, e->id, e->id_len);
	l->id_len = e->id_len;
	(*pp)++;
	return 0;
}

void slots_load_known(struct daemon *d)
{
	static struct id_list ids[256];
	struct id_list *end = ids;
	size_t n = 0;

	if (d->cache == NULL || d->known == NULL)
		return;
	/* cache_list's callback may not call into the cache: collect first, then load. */
	if (cache_list(d->cache, collect, &end) < 0)
		return;
	for (struct id_list *p = ids; p < end && p < ids + 256; p++) {
		struct token *t;

		if (cache_get_token(d->cache, p->driver, p->id, p->id_len, &t) < 0)
			continue;
		memcpy(t->driver, p->driver, sizeof(t->driver));
		memcpy(t->id, p->id, p->id_len);
		t->id_len = p->id_len;
		if (known_put(d->known, t) == 0)
			n++;
		token_free(t);
	}
	log_info("card cache: %zu known card%s", n, n == 1 ? "" : "s");
}

/* The modules looked as asked, or the wait for them ran out (a module busy with a long signature). */
static void looked(struct daemon *d)
{
	if (!d->look_pending)
		return;
	d->look_pending = false;
	if (d->look_timer)
		event_del(d->look_timer);
	publish(d, 0, SLOT_EV_LOOKED);
}

static void on_look_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	log_debug("the vendor modules did not look at their slots within %d ms", SLOTS_LOOK_WAIT_MS);
	looked(arg);
}

static void on_modules_looked(void *ud)
{
	looked(ud);
}

void slots_listeners_changed(struct daemon *d)
{
	struct timeval tv = {SLOTS_LOOK_WAIT_MS / 1000, (SLOTS_LOOK_WAIT_MS % 1000) * 1000};
	bool on = d->apps != NULL || d->sign_requests > 0;

	if (on == d->listening)
		return;
	d->listening = on;
	if (!backend_set_listen(d->backends, on))
		return;
	if (d->look_timer == NULL)
		d->look_timer = evtimer_new(d->base, on_look_timeout, d);
	d->look_pending = d->look_timer != NULL;
	if (d->look_timer)
		evtimer_add(d->look_timer, &tv);
}

static void on_card_removed(void *ud, struct reader *r, uint64_t seq, int err)
{
	struct daemon *d = ud;
	struct slot *s = slot_for_reader(d, reader_name(r), false);

	if (s == NULL || s->reader != r)
		return;
	forget_card(d, s);
	s->card_seq = 0;
	if (err < 0 && err != CARD_E_REMOVED)
		log_info("slot %lu: card could not be used", (unsigned long)s->id);
	publish(d, s->id, SLOT_EV_CHANGED);
}

const struct reader_callbacks slot_callbacks = {
        .reader_added = on_reader_added,
        .reader_removed = on_reader_removed,
        .card_ready = on_card_ready,
        .card_removed = on_card_removed,
        .known = on_known,
        .card_checked = on_card_checked,
        .modules_looked = on_modules_looked,
};
