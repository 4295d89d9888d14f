/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session: the module's session handles. The daemon numbers each application's sessions from 1,
 * so after it restarts a new session may carry an old one's number; the module's handles are
 * its own, never reused, and each remembers the epoch of the daemon that made it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

/* Never reset, not even by C_Finalize: a handle from before stays invalid for good. */
static CK_SESSION_HANDLE next_handle;
/* Maps a forked child set aside (kept reachable, never freed: they may be inconsistent). */
struct abandoned {
	struct p11_sess *sess;
	struct abandoned *prev;
};
static struct abandoned *abandoned;

static struct p11_sess *find(CK_SESSION_HANDLE handle)
{
	for (size_t i = 0; i < p11_g.nsess; i++)
		if (p11_g.sess[i].handle == handle)
			return &p11_g.sess[i];
	return NULL;
}

int p11_sess_add(uint64_t epoch, CK_SESSION_HANDLE dh, CK_SLOT_ID slot, CK_SESSION_HANDLE *ret_handle)
{
	CK_SESSION_HANDLE h;

	if (p11_g.nsess == p11_g.capsess) {
		size_t cap = p11_g.capsess ? 2 * p11_g.capsess : 16;
		struct p11_sess *n;

		if (cap > SIZE_MAX / sizeof(*n))
			return -ENOMEM;
		n = realloc(p11_g.sess, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p11_g.sess = n;
		p11_g.capsess = cap;
	}
	/* CK_INVALID_HANDLE (0) is never a session; after a wrap (32-bit CK_ULONG), skip live ones. */
	do
		h = ++next_handle;
	while (h == CK_INVALID_HANDLE || find(h));
	p11_g.sess[p11_g.nsess++] = (struct p11_sess){h, epoch, dh, slot};
	*ret_handle = h;
	return 0;
}

int p11_sess_get(CK_SESSION_HANDLE handle, struct p11_sess *ret)
{
	struct p11_sess *s = find(handle);

	if (!s || s->epoch != p11_g.epoch)
		return -ENOENT;
	*ret = *s;
	return 0;
}

static void remove_at(size_t i)
{
	p11_g.sess[i] = p11_g.sess[--p11_g.nsess];
}

void p11_sess_forget(CK_SESSION_HANDLE handle)
{
	struct p11_sess *s = find(handle);

	if (s)
		remove_at((size_t)(s - p11_g.sess));
}

void p11_sess_forget_slot(uint64_t epoch, CK_SLOT_ID slot)
{
	for (size_t i = 0; i < p11_g.nsess;) {
		if (p11_g.sess[i].epoch == epoch && p11_g.sess[i].slot == slot)
			remove_at(i);
		else
			i++;
	}
}

void p11_sess_clear(void)
{
	free(p11_g.sess);
	p11_g.sess = NULL;
	p11_g.nsess = p11_g.capsess = 0;
}

void p11_sess_abandon(void)
{
	struct abandoned *a;

	if (p11_g.sess) {
		a = malloc(sizeof(*a));
		if (a) {
			a->sess = p11_g.sess;
			a->prev = abandoned;
			abandoned = a;
		}
	}
	p11_g.sess = NULL;
	p11_g.nsess = p11_g.capsess = 0;
}
