/* Slots (see daemon.h): one per reader, numbered by reader name so that a reader unplugged and plugged
 * back, or seen again after pcscd restarts, keeps its slot id. The reader layer's callbacks land here. */
#include <stdio.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/log.h"

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

static void forget_card(struct daemon *d, struct slot *s)
{
	if (s->token == NULL && s->card_seq == 0)
		return;
	token_free(s->token);
	s->token = NULL;
	s->pin_known = false;
	s->owner_app = 0;
	app_drop_slot(d, s->id);
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
	app_slot_event(d, s->id);
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
	app_slot_event(d, s->id);
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
	log_info("slot %lu: card \"%.32s\" (%zu objects)", (unsigned long)s->id, tok->label, tok->nobjs);
	app_slot_event(d, s->id);
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
	app_slot_event(d, s->id);
}

const struct reader_callbacks slot_callbacks = {
        .reader_added = on_reader_added,
        .reader_removed = on_reader_removed,
        .card_ready = on_card_ready,
        .card_removed = on_card_removed,
};
