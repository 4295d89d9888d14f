/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto-frame: the framing of the imza socket protocol (DESIGN §2): a 4-byte big-endian payload
 * length, then the payload. The length is checked against the cap before anything is allocated;
 * a bad frame ends that connection only. Event-loop users peek the header and call
 * proto_frame_need(); blocking users (the module, the CLI) use proto_send_frame/proto_recv_frame. */
#ifndef IMZA_PROTO_FRAME_H
#define IMZA_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto-buf.h"

#define PROTO_FRAME_MAX (256u * 1024u) /* payload bytes */
#define PROTO_FRAME_HEADER 4u
/* Max for a proto_buf that holds a whole frame, header included. */
#define PROTO_FRAME_BUF_MAX (PROTO_FRAME_MAX + PROTO_FRAME_HEADER)

/* Payload length announced by a header: -EMSGSIZE over the cap, -EBADMSG for an empty frame
 * (every message has at least a call id or a magic). */
int proto_frame_need(const uint8_t hdr[PROTO_FRAME_HEADER], uint32_t *ret_len);
void proto_frame_put_header(uint8_t hdr[PROTO_FRAME_HEADER], uint32_t len);

/* Splits the first frame off a contiguous byte range: 0 with the payload view and the total
 * bytes consumed, -EAGAIN when more bytes are needed, or proto_frame_need's errors. */
int proto_frame_split(const uint8_t *data, size_t avail, const uint8_t **ret_payload, uint32_t *ret_len,
                      size_t *ret_consumed);

/* Encoding a message straight into a frame: begin resets b and reserves the header, end writes
 * the payload length into it (-EMSGSIZE if the payload is empty or over the cap). b->max should
 * be PROTO_FRAME_BUF_MAX. */
int proto_frame_begin(struct proto_buf *b);
int proto_frame_end(struct proto_buf *b);

/* Blocking I/O on a stream socket (or pipe): whole frames, retried on EINTR and short
 * transfers; sockets are written with MSG_NOSIGNAL so a dead peer gives -EPIPE, not SIGPIPE
 * (the module must never disturb the host's signals; plain pipes can't offer that).
 * A receive timeout set with SO_RCVTIMEO surfaces as -EAGAIN. */
int proto_send_frame(int fd, const void *payload, size_t len);
/* Receives one frame's payload into b (reset first). EOF before a whole frame is -ECONNRESET;
 * an oversized header is -EMSGSIZE and nothing is allocated for it. b->max must be at least
 * PROTO_FRAME_MAX. */
int proto_recv_frame(int fd, struct proto_buf *b);
/* The same for the answer of a peer that sends one frame per request and never speaks unasked (imzad,
 * to the module): one receive takes the header and up to PROTO_RECV_FIRST payload bytes (every usual
 * answer); only a larger frame needs more, read exactly. Bytes past the frame in that first receive
 * are -EBADMSG: such a peer is not trusted. */
#define PROTO_RECV_FIRST 4096u
int proto_recv_answer(int fd, struct proto_buf *b);

/* Receiving frames on a non-blocking socket, for an event loop (imzad's server). A frame whose header
 * and payload fit PROTO_RX_LOCKED_MAX (every request that carries a PIN does) is received whole with
 * one receive into a locked page kept out of core dumps, and wiped by proto_rx_done; a larger one goes
 * on into heap, exactly to its end, and is wiped and freed by proto_rx_done.
 * The page is the loop's, shared by all its connections (struct proto_rx_shared): the loop handles one
 * frame at a time, so one page serves a thousand idle connections. A connection takes a page of its own
 * (locked too) only while bytes wait between two of its receives: a frame that came in pieces, or the
 * start of a next request that came with this one (proto_rx_ready); it gives the page back once they
 * are handled. The shared page is wiped as soon as its bytes are handled or moved. */
#define PROTO_RX_LOCKED_MAX 4096u
struct proto_rx_shared {
	uint8_t *page; /* PROTO_RX_LOCKED_MAX bytes of locked, no-dump memory */
	bool busy;     /* a connection's bytes are in it (only while its frame is handed out) */
};
struct proto_rx {
	struct proto_rx_shared *shared;
	uint8_t *page; /* where this connection's bytes are: shared->page, a page of its own, or NULL */
	size_t have;   /* bytes in page: the current frame's from offset 0, then maybe the next one's */
	uint8_t *big;  /* the payload of a frame larger than the page, in heap; NULL otherwise */
	size_t got;    /* bytes of it received */
	uint32_t len;  /* the current frame's payload length, once its header is in */
	bool out;      /* a whole frame was handed out and is not done yet */
};
/* 0, or -ENOMEM when no page could be mapped. */
int proto_rx_shared_init(struct proto_rx_shared *sh);
/* Wipes and unmaps the page; every proto_rx using it must be freed first. */
void proto_rx_shared_free(struct proto_rx_shared *sh);
/* A connection's receiver, on the loop's page (allocates nothing). */
void proto_rx_init(struct proto_rx *rx, struct proto_rx_shared *shared);
/* Reads what is there (nothing when a whole frame waits in the page already). 0 with a whole frame
 * (*ret_msg, *ret_len; *ret_locked when it is in a locked page): the caller uses it, then calls
 * proto_rx_done before this or any other proto_rx of the same page reads again. -EAGAIN: not yet.
 * -ECONNRESET: EOF (proto_rx_idle says whether it came between frames). -EMSGSIZE/-EBADMSG a bad
 * header, -ENOMEM, or the socket's -errno. */
int proto_rx_read(struct proto_rx *rx, int fd, const uint8_t **ret_msg, uint32_t *ret_len, bool *ret_locked);
/* Whether an EOF now would be between frames (a clean close). */
bool proto_rx_idle(const struct proto_rx *rx);
/* Whether proto_rx_read has a whole frame (or a bad header) without receiving: a peer sent its next
 * request with the last one. The socket will not say so again: the caller reads it by itself. */
bool proto_rx_ready(const struct proto_rx *rx);
/* Wipes the frame just handled (and frees it when it was in heap). */
void proto_rx_done(struct proto_rx *rx);
/* Wipes and unmaps everything of this connection's. */
void proto_rx_free(struct proto_rx *rx);

#endif
