/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_sock_priv: the socket transport's state, shared by
 * transport_sock.c (set-up, sending), transport_rx.c (receiving) and
 * transport_peek.c (peek mode for crash recovery) only.
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

/* fds that came with a message's first bytes, held until it is delivered. */
struct rx_fds {
	unsigned int n;
	int reject;   /* -EINVAL: refused (too many, or not on a header) */
	int fds[WIRE_MAX_FDS_LIMIT];
};

struct sock_transport {
	struct transport base;
	int fd;
	struct transport_limits lim;
	/*
	 * Input (transport_rx.c): bytes read and not yet delivered are
	 * ib[ipos, iend); the message at ipos is the next one delivered.
	 */
	uint8_t *ib;
	size_t icap;
	size_t ipos;
	size_t iend;
	uint64_t skip;    /* body bytes of a refused message not yet read */
	bool dry;         /* the last read found the socket empty */
	struct rx_fds cur;   /* for the message at ipos */
	struct rx_fds next;  /* for the message at next_at, if has_next */
	size_t next_at;
	bool has_next;
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
	/* Replies held back by send_more: newer than the queue, they go
	 * after it and before the next message. */
	uint8_t *batch; /* TRANSPORT_BATCH_MAX bytes, allocated on first use */
	size_t blen;
};

static inline struct sock_transport *to_sock(struct transport *t)
{
	return (struct sock_transport *)t;
}

/* transport_rx.c */

/**
 * Collect the fds of every SCM_RIGHTS control message of @mh into @fds
 * (room for WIRE_MAX_FDS_LIMIT); sets *n. Surplus ones are closed.
 */
void sock_cmsg_fds(struct msghdr *mh, int *fds, unsigned int *n);

/**
 * Give @n fds (taken) to the message @to collects for: past the limit,
 * the surplus is closed and the message refused with EINVAL.
 */
void sock_add_fds(struct sock_transport *s, struct rx_fds *to, int *fds,
		  unsigned int n);

/** Close the fds of @f and forget them. */
void sock_clear_fds(struct rx_fds *f);

/**
 * Make the input buffer hold @total bytes of the message at ipos (moving
 * it to the front, growing the buffer): 0 or -ENOMEM.
 */
int sock_rx_room(struct sock_transport *s, size_t total);

/** Receive (transport_ops.recv); @may_read false: only what is buffered. */
int sock_rx_next(struct sock_transport *s, struct msg *m, bool may_read);

/** Whether a message can be delivered without reading (ops.buffered). */
bool sock_rx_buffered(const struct transport *t);

/** ops.keep: let @m own its storage past the next receive. */
int sock_rx_keep(struct transport *t, struct msg *m);

/** Free the input side (fds held, buffer). */
void sock_rx_destroy(struct sock_transport *s);

/** Hand-over: continue from @in on a fresh transport (transport.h). */
int sock_rx_restore(struct sock_transport *s,
		    const struct transport_saved_in *in);

/* transport_peek.c */

/** Peek mode's receive: 0 (a whole message, peeked), -EAGAIN (stalled or
 * nothing), -EPIPE, -EPROTO, -EBUSY (the last one not consumed), or 1:
 * receive this one as it comes (too large, or fds past its first piece). */
int sock_peek_recv(struct sock_transport *s, struct msg *m);

int sock_consume(struct transport *t, struct msg *m, bool take_fds);
bool sock_stalled(const struct transport *t);

#endif /* VUS_TRANSPORT_SOCK_PRIV_H */
