/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PIN pages (see pin.h). A page per PIN, so unlocking it never unlocks anything else. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/card/card.h"
#include "daemon/log.h"
#include "daemon/card/pin.h"
#include "protocol/proto-arena.h"

void *pin_pages_new(size_t size)
{
	static atomic_bool warned;
	bool locked = true;
	void *p;

	if (size == 0 || size % (size_t)sysconf(_SC_PAGESIZE) != 0)
		return NULL;
	p = proto_secret_pages_new(size, &locked);
	/* RLIMIT_MEMLOCK too small: go on, the pages are still wiped right after use. */
	if (p && !locked && !atomic_exchange(&warned, true))
		log_warning("cannot lock PIN memory (RLIMIT_MEMLOCK): it is still wiped after use");
	return p;
}

void pin_pages_free(void *p, size_t size)
{
	proto_secret_pages_free(p, size);
}

int pin_secret_set(struct pin_secret *s, const uint8_t *pin, size_t len)
{
	uint8_t *p;

	if (len > PIN_MAX_LEN)
		return -EINVAL;
	p = pin_pages_new((size_t)sysconf(_SC_PAGESIZE));
	if (p == NULL)
		return -ENOMEM;
	memcpy(p, pin, len);
	s->page = p;
	s->len = len;
	return 0;
}

void pin_secret_wipe(struct pin_secret *s)
{
	pin_pages_free(s->page, (size_t)sysconf(_SC_PAGESIZE));
	s->page = NULL;
	s->len = 0;
}

void pin_note_result(struct token *t, int r, int tries)
{
	if (r == 0) {
		t->pin_tries_left = t->pin_tries_max;
		t->pin_count_low = false;
	} else if (r == CARD_E_PIN_INCORRECT) {
		t->pin_count_low = true;
		if (tries >= 0)
			t->pin_tries_left = tries;
	} else if (r == CARD_E_PIN_LOCKED) {
		t->pin_count_low = true;
		t->pin_tries_left = 0;
	}
}

int pin_format(const struct card_driver *drv, bool puk, const uint8_t *p, size_t len)
{
	bool (*ok)(const uint8_t *, size_t) = puk ? drv->puk_ok : drv->pin_ok;
	size_t min = puk ? drv->puk_min : drv->pin_min, max = puk ? drv->puk_max : drv->pin_max;

	if (puk && ok == NULL)
		return -ENOTSUP;
	if (len == 0 || len > PIN_MAX_LEN || (min && len < min) || (max && len > max))
		return CARD_E_PIN_FORMAT;
	if (ok != NULL && !ok(p, len))
		return CARD_E_PIN_INVALID;
	return 0;
}

void pin_note_status(struct token *t, const struct card_pin_status *ps)
{
	t->pin_tries_max = ps->tries_max;
	t->pin_tries_left = ps->verified ? ps->tries_max : ps->tries_left;
	t->pin_count_low = t->pin_tries_left >= 0 && t->pin_tries_left < t->pin_tries_max;
}

void pin_note_change(struct token *t, const struct pin_change *c, int r)
{
	if (c->pin_tries_seen >= 0) {
		t->pin_tries_left = c->pin_tries_seen;
		t->pin_count_low = t->pin_tries_left < t->pin_tries_max;
	}
	if (r == CARD_E_PIN_FORMAT || r == CARD_E_PIN_INVALID || r == -ENOTSUP)
		return;
	if (c->done == PIN_OP_CHANGE) {
		pin_note_result(t, r, c->tries);
		return;
	}
	/* The PUK was used: a right one fills the PIN's counter too (unblock), a wrong one is the PUK's. */
	if (r == 0) {
		t->puk_known = false;
		if (c->done == PIN_OP_UNBLOCK)
			pin_note_result(t, 0, -1);
	} else if (r == CARD_E_PIN_INCORRECT || r == CARD_E_PIN_LOCKED) {
		t->puk_known = true;
		t->puk_tries_left = r == CARD_E_PIN_LOCKED ? 0 : c->tries;
	}
}

static int change_on_card(const struct card_driver *drv, struct apdu_transport *t, struct pin_change *c)
{
	bool old_is_puk, new_is_puk;
	int r;

	c->done = c->op;
	c->tries = -1;
	c->pin_tries_seen = -1;
	if (drv->change_ref == NULL || drv->unblock_pin == NULL)
		return -ENOTSUP;
	new_is_puk = c->op == PIN_OP_CHANGE_PUK;
	if ((r = pin_format(drv, new_is_puk, c->new.page, c->new.len)) < 0)
		return r;
	if (c->op == PIN_OP_CHANGE_OR_UNBLOCK) {
		struct card_pin_status ps;

		/* An empty VERIFY: it costs no try and says whether the PIN is locked. */
		if ((r = drv->pin_status(t, &ps)) < 0)
			return r;
		c->pin_tries_seen = ps.verified ? ps.tries_max : ps.tries_left;
		c->done = ps.tries_left == 0 && !ps.verified ? PIN_OP_UNBLOCK : PIN_OP_CHANGE;
	}
	old_is_puk = c->done != PIN_OP_CHANGE;
	if ((r = pin_format(drv, old_is_puk, c->old.page, c->old.len)) < 0)
		return r;
	if (c->done != PIN_OP_CHANGE_PUK && c->reset_first && (r = drv->logout(t)) < 0)
		return r;
	if (c->done == PIN_OP_UNBLOCK)
		r = drv->unblock_pin(t, c->old.page, c->old.len, c->new.page, c->new.len, &c->tries);
	else
		r = drv->change_ref(t, new_is_puk ? CARD_REF_PUK : CARD_REF_PIN, c->old.page, c->old.len,
		                    c->new.page, c->new.len, &c->tries);
	/* PIV's CHANGE REFERENCE DATA leaves the PIN verified: not for an application that has no login. */
	if (c->done != PIN_OP_CHANGE_PUK && c->forget_after) {
		int r2 = drv->logout(t);

		if (r == 0)
			r = r2;
	}
	return r;
}

int pin_change_on_card(const struct card_driver *drv, struct apdu_transport *t, struct pin_change *c)
{
	int r = change_on_card(drv, t, c);

	pin_secret_wipe(&c->old);
	pin_secret_wipe(&c->new);
	return r;
}

int pin_verify_on_card(const struct card_driver *drv, struct apdu_transport *t, bool reset_first,
                       struct pin_secret *pin, int *ret_tries)
{
	int r = 0;

	*ret_tries = -1;
	/* Before anything reaches the card, the reset included: a PIN the card cannot hold would cost a
	 * try and could never be right. */
	if (drv->pin_ok != NULL && !drv->pin_ok(pin->page, pin->len))
		r = CARD_E_PIN_FORMAT;
	if (r == 0 && reset_first)
		r = drv->logout(t);
	if (r == 0)
		r = drv->verify(t, pin->page, pin->len, ret_tries);
	pin_secret_wipe(pin);
	return r;
}
