/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_sock_priv: the socket transport's state, shared by
 * transport_sock.c (framing, sending) and transport_peek.c (peek mode
 * for crash recovery) only.
 */
#ifndef VUS_TRANSPORT_SOCK_PRIV_H
#define VUS_TRANSPORT_SOCK_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "transport.h"

struct outq {
	struct outq *next;
	uint8_t *data;   /* copied bytes, written first */
	size_t len;
	size_t off;
	uint8_t *own;    /* then these, owned by the queue (may be NULL) */
	size_t own_len;
	size_t own_off;
	unsigned int nfds; /* fds still to go with the first byte */
	int fds[];
};

struct sock_transport {
	struct transport base;
	int fd;
	struct transport_limits lim;
	/* Message being received. */
	struct wire_hdr hdr;
	size_t hdr_got;
	size_t body_len;
	size_t body_got;
	size_t skip;      /* body bytes of a refused message still to drain */
	int reject;
	uint8_t *buf;
	size_t buf_cap;
	int fds[WIRE_MAX_FDS_LIMIT];
	unsigned int nfds;
	/* fds of the message last delivered (owned by that message). */
	int dfds[WIRE_MAX_FDS_LIMIT];
	/* Peek mode: bytes of the delivered message still in the socket,
	 * and whether the last look found only part of one. */
	size_t peeked;
	bool stalled;
	/* Output queue. */
	struct outq *head;
	struct outq *tail;
	size_t out_bytes;
	size_t out_fds;
};

static inline struct sock_transport *to_sock(struct transport *t)
{
	return (struct sock_transport *)t;
}

/** Keep fds from one control message (@with_header: the message's first
 * bytes); those that cannot be accepted are closed and refuse it. */
void sock_take_cmsg_fds(struct sock_transport *s, struct cmsghdr *c,
			bool with_header);

/** Grow the receive buffer to @need bytes. 0 or -ENOMEM. */
int sock_grow_buf(struct sock_transport *s, size_t need);

/* transport_peek.c */

/** Peek mode's receive: 0 (a whole message, peeked), -EAGAIN (stalled or
 * nothing), -EPIPE, -EPROTO, -EBUSY (the last one not consumed), or 1:
 * receive this one as it comes (too large, or fds past its first piece). */
int sock_peek_recv(struct sock_transport *s, struct msg *m);

int sock_consume(struct transport *t, struct msg *m, bool take_fds);
bool sock_stalled(const struct transport *t);

#endif /* VUS_TRANSPORT_SOCK_PRIV_H */
