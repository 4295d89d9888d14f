/* PIN pages (see pin.h). A page per PIN, so unlocking it never unlocks anything else. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/card.h"
#include "daemon/log.h"
#include "daemon/pin.h"

int pin_secret_set(struct pin_secret *s, const uint8_t *pin, size_t len)
{
	static int warned;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	if (len > PIN_MAX_LEN)
		return -EINVAL;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	if (mlock(p, page) < 0 && !warned) {
		/* RLIMIT_MEMLOCK too small: go on, the page is still wiped right after use. */
		log_warning("cannot lock PIN memory (%s)", strerror(errno));
		warned = 1;
	}
	madvise(p, page, MADV_DONTDUMP);
	memcpy(p, pin, len);
	s->page = p;
	s->len = len;
	return 0;
}

void pin_secret_wipe(struct pin_secret *s)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (s->page == NULL)
		return;
	explicit_bzero(s->page, page);
	munlock(s->page, page);
	munmap(s->page, page);
	s->page = NULL;
	s->len = 0;
}

int pin_verify_on_card(const struct card_driver *drv, struct apdu_transport *t, bool reset_first,
                       struct pin_secret *pin, int *ret_tries)
{
	int r = 0;

	*ret_tries = -1;
	if (reset_first)
		r = drv->logout(t);
	if (r == 0)
		r = drv->verify(t, pin->page, pin->len, ret_tries);
	pin_secret_wipe(pin);
	return r;
}
