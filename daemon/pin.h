/* A PIN on its way to the card: copied into a page of its own that is locked in memory and kept out
 * of core dumps, then wiped and unmapped as soon as the card has it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PIN_MAX_LEN 64

struct pin_secret {
	uint8_t *page;
	size_t len;
};

int pin_secret_set(struct pin_secret *s, const uint8_t *pin, size_t len);
void pin_secret_wipe(struct pin_secret *s);
