/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-memory known cards (see known.h). Entries are blobs from token-store, so a reader thread always
 * gets a private copy and never shares pointers with the main loop. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store/known.h"
#include "daemon/store/token-store.h"

#define KNOWN_MAX 256

struct known_entry {
	char driver[16];
	uint8_t id[32];
	size_t id_len;
	uint8_t *blob;
	size_t len;
};

struct known {
	pthread_mutex_t m;
	struct known_entry e[KNOWN_MAX];
	size_t n;
};

int known_new(struct known **ret)
{
	struct known *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return -ENOMEM;
	pthread_mutex_init(&k->m, NULL);
	*ret = k;
	return 0;
}

static void entry_drop(struct known *k, size_t i)
{
	free(k->e[i].blob);
	k->e[i] = k->e[--k->n];
}

void known_clear(struct known *k)
{
	pthread_mutex_lock(&k->m);
	while (k->n > 0)
		entry_drop(k, k->n - 1);
	pthread_mutex_unlock(&k->m);
}

void known_free(struct known *k)
{
	if (k == NULL)
		return;
	known_clear(k);
	pthread_mutex_destroy(&k->m);
	free(k);
}

static bool same(const struct known_entry *e, const char *driver, const uint8_t *id, size_t id_len)
{
	return strcmp(e->driver, driver) == 0 && e->id_len == id_len && memcmp(e->id, id, id_len) == 0;
}

static ssize_t find_locked(struct known *k, const char *driver, const uint8_t *id, size_t id_len)
{
	for (size_t i = 0; i < k->n; i++)
		if (same(&k->e[i], driver, id, id_len))
			return (ssize_t)i;
	return -1;
}

int known_put(struct known *k, const struct token *t)
{
	struct proto_buf w = PROTO_BUF_INIT(TOKEN_STORE_MAX_BLOB);
	struct known_entry e = {.id_len = t->id_len, .len = 0};
	ssize_t i;
	int r;

	if (t->id_len == 0 || t->id_len > sizeof(e.id) || strlen(t->driver) >= sizeof(e.driver))
		return -EINVAL;
	r = token_serialize(t, &w);
	if (r < 0) {
		proto_buf_free(&w);
		return r;
	}
	e.blob = malloc(w.len);
	if (e.blob == NULL) {
		proto_buf_free(&w);
		return -ENOMEM;
	}
	memcpy(e.blob, w.data, w.len);
	e.len = w.len;
	proto_buf_free(&w);
	snprintf(e.driver, sizeof(e.driver), "%s", t->driver);
	memcpy(e.id, t->id, t->id_len);
	pthread_mutex_lock(&k->m);
	i = find_locked(k, e.driver, e.id, e.id_len);
	if (i >= 0) {
		free(k->e[i].blob);
		k->e[i] = e;
	} else if (k->n < KNOWN_MAX) {
		k->e[k->n++] = e;
	} else {
		/* Full: the oldest entry makes room (the SQLite cache still has it). */
		free(k->e[0].blob);
		k->e[0] = e;
	}
	pthread_mutex_unlock(&k->m);
	return 0;
}

struct token *known_get(struct known *k, const char *driver, const uint8_t *id, size_t id_len)
{
	struct token *t = NULL;
	uint8_t *copy = NULL;
	size_t len = 0;
	ssize_t i;

	pthread_mutex_lock(&k->m);
	i = find_locked(k, driver, id, id_len);
	if (i >= 0 && (copy = malloc(k->e[i].len)) != NULL) {
		memcpy(copy, k->e[i].blob, k->e[i].len);
		len = k->e[i].len;
	}
	pthread_mutex_unlock(&k->m);
	if (copy == NULL)
		return NULL;
	if (token_deserialize(copy, len, &t) < 0)
		t = NULL;
	free(copy);
	if (t != NULL) {
		snprintf(t->driver, sizeof(t->driver), "%s", driver);
		memcpy(t->id, id, id_len);
		t->id_len = id_len;
	}
	return t;
}

void known_forget(struct known *k, const char *driver, const uint8_t *id, size_t id_len)
{
	ssize_t i;

	pthread_mutex_lock(&k->m);
	i = find_locked(k, driver, id, id_len);
	if (i >= 0)
		entry_drop(k, (size_t)i);
	pthread_mutex_unlock(&k->m);
}
