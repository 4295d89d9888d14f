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
