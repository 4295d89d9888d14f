/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-frame: frame header checks and blocking frame I/O (see proto-frame.h). */
#include "proto-frame.h"

#include "proto-arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int proto_frame_need(const uint8_t hdr[PROTO_FRAME_HEADER], uint32_t *ret_len)
{
	uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];

	if (len > PROTO_FRAME_MAX)
		return -EMSGSIZE;
	if (len == 0)
		return -EBADMSG;
	*ret_len = len;
	return 0;
}

void proto_frame_put_header(uint8_t hdr[PROTO_FRAME_HEADER], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

int proto_frame_split(const uint8_t *data, size_t avail, const uint8_t **ret_payload, uint32_t *ret_len,
                      size_t *ret_consumed)
{
	uint32_t len;
	int r;

	if (avail < PROTO_FRAME_HEADER)
		return -EAGAIN;
	r = proto_frame_need(data, &len);
	if (r < 0)
		return r;
	if (avail - PROTO_FRAME_HEADER < len)
		return -EAGAIN;
	*ret_payload = data + PROTO_FRAME_HEADER;
	*ret_len = len;
	*ret_consumed = PROTO_FRAME_HEADER + (size_t)len;
	return 0;
}

int proto_frame_begin(struct proto_buf *b)
{
	uint8_t *hdr;

	proto_buf_reset(b);
	return proto_buf_reserve(b, PROTO_FRAME_HEADER, &hdr);
}

int proto_frame_end(struct proto_buf *b)
{
	size_t len;

	if (b->error)
		return b->error;
	if (b->len < PROTO_FRAME_HEADER)
		return -EINVAL;
	len = b->len - PROTO_FRAME_HEADER;
	if (len == 0 || len > PROTO_FRAME_MAX)
		return -EMSGSIZE;
	proto_frame_put_header(b->data, (uint32_t)len);
	return 0;
}

/* One sendmsg/writev over what is left of iov; 0 or -errno, *ret_n bytes written. */
static int send_some(int fd, struct iovec *iov, int iovcnt, size_t *ret_n)
{
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	for (;;) {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = writev(fd, iov, iovcnt);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	*ret_n = (size_t)n;
	return 0;
}

int proto_send_frame(int fd, const void *payload, size_t len)
{
	uint8_t hdr[PROTO_FRAME_HEADER];
	struct iovec iov[2];
	size_t n = 0;
	int i = 0, r;

	if (len == 0 || len > PROTO_FRAME_MAX)
		return -EMSGSIZE;
	proto_frame_put_header(hdr, (uint32_t)len);
	iov[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof(hdr)};
	iov[1] = (struct iovec){.iov_base = (void *)payload, .iov_len = len};

	while (i < 2) {
		r = send_some(fd, iov + i, 2 - i, &n);
		if (r < 0)
			return r;
		if (n == 0)
			return -EPIPE;
		for (; i < 2 && n >= iov[i].iov_len; i++)
			n -= iov[i].iov_len;
		if (i < 2) {
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + n;
			iov[i].iov_len -= n;
		}
	}
	return 0;
}

static int read_full(int fd, uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One receive of up to `cap` bytes; 0 or -errno, *ret_n bytes. */
static int recv_first(int fd, uint8_t *p, size_t cap, size_t *ret_n)
{
	ssize_t n;

	for (;;) {
		n = recv(fd, p, cap, 0);
		if (n < 0 && errno == ENOTSOCK)
			n = read(fd, p, cap);
		if (n > 0)
			break;
		if (n == 0)
			return -ECONNRESET;
		if (errno != EINTR)
			return -errno;
	}
	*ret_n = (size_t)n;
	return 0;
}

int proto_recv_frame(int fd, struct proto_buf *b)
{
	uint8_t hdr[PROTO_FRAME_HEADER];
	uint32_t len;
	uint8_t *p;
	int r;

	proto_buf_reset(b);
	r = read_full(fd, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	r = proto_frame_need(hdr, &len);
	if (r < 0)
		return r;
	r = proto_buf_reserve(b, len, &p);
	if (r < 0)
		return r;
	r = read_full(fd, p, len);
	if (r < 0) {
		proto_buf_reset(b);
		return r;
	}
	return 0;
}

int proto_recv_answer(int fd, struct proto_buf *b)
{
	/* The header and the payload's start (all of a usual answer) come in one receive, here: b
	 * grows only once the header was checked against the cap. */
	uint8_t first[PROTO_FRAME_HEADER + PROTO_RECV_FIRST];
	size_t n = 0, got = 0;
	uint32_t len = 0;
	uint8_t *p;
	int r;

	proto_buf_reset(b);
	r = recv_first(fd, first, sizeof(first), &n);
	if (r == 0 && n < PROTO_FRAME_HEADER)
		r = read_full(fd, first + n, PROTO_FRAME_HEADER - n);
	if (r == 0)
		r = proto_frame_need(first, &len);
	if (n > PROTO_FRAME_HEADER)
		got = n - PROTO_FRAME_HEADER;
	/* Bytes past the frame: the peer said something it was not asked. */
	if (r == 0 && got > len)
		r = -EBADMSG;
	if (r == 0)
		r = proto_buf_reserve(b, len, &p);
	if (r == 0) {
		memcpy(p, first + PROTO_FRAME_HEADER, got);
		/* The rest of a frame larger than the first receive, or one that came in pieces: exactly. */
		if (got < len)
			r = read_full(fd, p + got, len - got);
	}
	explicit_bzero(first, n); /* answers carry decrypted data */
	if (r < 0)
		proto_buf_reset(b);
	return r;
}

/* ---- event-loop receive (see proto-frame.h) ---- */

int proto_rx_shared_init(struct proto_rx_shared *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->page = proto_secret_pages_new(PROTO_RX_LOCKED_MAX, NULL);
	return sh->page ? 0 : -ENOMEM;
}

void proto_rx_shared_free(struct proto_rx_shared *sh)
{
	proto_secret_pages_free(sh->page, PROTO_RX_LOCKED_MAX);
	sh->page = NULL;
	sh->busy = false;
}

void proto_rx_init(struct proto_rx *rx, struct proto_rx_shared *shared)
{
	memset(rx, 0, sizeof(*rx));
	rx->shared = shared;
}

bool proto_rx_idle(const struct proto_rx *rx)
{
	return rx->have == 0 && rx->big == NULL;
}

static bool on_shared(const struct proto_rx *rx)
{
	return rx->page != NULL && rx->shared != NULL && rx->page == rx->shared->page;
}

/* A page to receive into: the loop's when no one else's bytes are in it, else one of our own. */
static int take_page(struct proto_rx *rx)
{
	if (rx->shared && rx->shared->page && !rx->shared->busy) {
		rx->shared->busy = true;
		rx->page = rx->shared->page;
		return 0;
	}
	rx->page = proto_secret_pages_new(PROTO_RX_LOCKED_MAX, NULL);
	return rx->page ? 0 : -ENOMEM;
}

/* The page's bytes are handled or moved: wiped, and the page given back. */
static void drop_page(struct proto_rx *rx)
{
	if (rx->page == NULL)
		return;
	if (on_shared(rx)) {
		explicit_bzero(rx->page, rx->have);
		rx->shared->busy = false;
	} else {
		proto_secret_pages_free(rx->page, PROTO_RX_LOCKED_MAX);
	}
	rx->page = NULL;
	rx->have = 0;
}

/* Bytes that must wait for a next receive leave the shared page for one of this connection's own. */
static int keep_own(struct proto_rx *rx)
{
	uint8_t *own;

	if (!on_shared(rx))
		return 0;
	if (rx->have == 0) {
		drop_page(rx);
		return 0;
	}
	own = proto_secret_pages_new(PROTO_RX_LOCKED_MAX, NULL);
	if (own == NULL) {
		drop_page(rx);
		return -ENOMEM;
	}
	memcpy(own, rx->page, rx->have);
	explicit_bzero(rx->page, rx->have);
	rx->shared->busy = false;
	rx->page = own;
	return 0;
}

static int recv_some(int fd, uint8_t *p, size_t n, size_t *ret_n)
{
	ssize_t r = recv(fd, p, n, 0);

	if (r == 0)
		return -ECONNRESET;
	if (r < 0)
		return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	*ret_n = (size_t)r;
	return 0;
}

/* What the page holds: 0 with a whole small frame, 1 when the frame goes on past the page, -EAGAIN
 * when more is needed, or a bad header's error. */
static int page_frame(struct proto_rx *rx)
{
	int r;

	if (rx->page == NULL || rx->have < PROTO_FRAME_HEADER)
		return -EAGAIN;
	/* The cap is checked before anything is allocated for the frame. */
	r = proto_frame_need(rx->page, &rx->len);
	if (r < 0)
		return r;
	if (rx->len > PROTO_RX_LOCKED_MAX - PROTO_FRAME_HEADER)
		return 1;
	return rx->have - PROTO_FRAME_HEADER >= rx->len ? 0 : -EAGAIN;
}

bool proto_rx_ready(const struct proto_rx *rx)
{
	struct proto_rx copy = *rx;
	int r;

	if (rx->out || rx->big || rx->page == NULL)
		return false;
	r = page_frame(&copy);
	return r != -EAGAIN && r != 1;
}

/* Fills the page with one receive, if what it holds is not a whole frame already: page_frame's
 * answer, or the socket's error. */
static int page_read(struct proto_rx *rx, int fd)
{
	size_t n = 0;
	int r = page_frame(rx);

	if (r != -EAGAIN)
		return r;
	if (rx->page == NULL && (r = take_page(rx)) < 0)
		return r;
	/* Whatever is there, up to the page: a usual request whole, in this one receive. */
	r = recv_some(fd, rx->page + rx->have, PROTO_RX_LOCKED_MAX - rx->have, &n);
	if (r < 0)
		return r;
	rx->have += n;
	return page_frame(rx);
}

int proto_rx_read(struct proto_rx *rx, int fd, const uint8_t **ret_msg, uint32_t *ret_len, bool *ret_locked)
{
	size_t n = 0;
	int r, e;

	if (rx->out)
		return -EINVAL;
	if (rx->big == NULL) {
		r = page_read(rx, fd);
		if (r == -EMSGSIZE || r == -EBADMSG) {
			/* The connection ends: nothing of it stays in a page. */
			drop_page(rx);
			return r;
		}
		/* A frame that came in pieces waits in a page of ours; the shared one is for whole frames. */
		if (r < 0) {
			e = keep_own(rx);
			return e < 0 ? e : r;
		}
		if (r == 0 && rx->have > PROTO_FRAME_HEADER + (size_t)rx->len) {
			/* The start of the next request came too: it must outlive this frame's turn. */
			e = keep_own(rx);
			if (e < 0)
				return e;
		}
		if (r == 1) {
			/* Larger than the page: the payload so far moves to heap, the rest comes there. */
			rx->big = malloc(rx->len);
			if (rx->big == NULL) {
				drop_page(rx);
				return -ENOMEM;
			}
			rx->got = rx->have - PROTO_FRAME_HEADER;
			memcpy(rx->big, rx->page + PROTO_FRAME_HEADER, rx->got);
			drop_page(rx);
		}
	}
	if (rx->big && rx->got < rx->len) {
		r = recv_some(fd, rx->big + rx->got, rx->len - rx->got, &n);
		if (r < 0)
			return r;
		rx->got += n;
		if (rx->got < rx->len)
			return -EAGAIN;
	}
	rx->out = true;
	*ret_msg = rx->big ? rx->big : rx->page + PROTO_FRAME_HEADER;
	*ret_len = rx->len;
	*ret_locked = rx->big == NULL;
	return 0;
}

void proto_rx_done(struct proto_rx *rx)
{
	size_t used, rest;

	if (rx->big) {
		explicit_bzero(rx->big, rx->len);
		free(rx->big);
		rx->big = NULL;
		rx->got = 0;
	} else if (rx->out) {
		/* A next frame's bytes that came along move to the front; the rest of the page is wiped. */
		used = PROTO_FRAME_HEADER + (size_t)rx->len;
		rest = rx->have - used;
		memmove(rx->page, rx->page + used, rest);
		explicit_bzero(rx->page + rest, rx->have - rest);
		rx->have = rest;
		if (rest == 0)
			drop_page(rx);
	}
	rx->out = false;
	rx->len = 0;
}

void proto_rx_free(struct proto_rx *rx)
{
	proto_rx_done(rx);
	drop_page(rx);
}
