/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_peek: the socket transport's peek mode, for crash recovery. A
 * message is delivered while it is still in the socket (MSG_PEEK; its
 * fds arrive as duplicates) and taken out only by consume(), after the
 * engine committed what handling it changed: a process killed in between
 * leaves it at the head of the socket, where the next process reads it
 * again, with its fds.
 *
 * A message is peeked whole or not at all. Until it is all there the
 * transport reports itself stalled and the engine waits for new bytes
 * (edge-triggered), not for readability, which would spin. A message
 * larger than TRANSPORT_PEEK_MAX, or one whose fds do not ride on its
 * first piece (the kernel stops a read after a piece with fds), is read
 * as it comes instead, as without peek mode.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common.h"
#include "transport.h"
#include "transport_sock_priv.h"

#define CONSUME_CHUNK 4096u

/* Look at @len bytes at the head; with @fds, take the fds that come. */
static ssize_t peek(struct sock_transport *s, void *p, size_t len, bool fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS_LIMIT)];
	} cbuf;
	struct iovec iov = { .iov_base = p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/* Without a control buffer the fds stay in the socket untouched. */
	if (fds) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
	}
	do {
		n = recvmsg(s->fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (!fds)
		return n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			sock_take_cmsg_fds(s, c, true);
	return (mh.msg_flags & MSG_CTRUNC) ? -EPROTO : n;
}

/* Only part of a message is there: wait, unless the peer has gone. */
static int stall(struct sock_transport *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLRDHUP };

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return -EPROTO; /* EOF inside a message */
	s->stalled = true;
	return -EAGAIN;
}

static void drop_fds(struct sock_transport *s)
{
	close_fds(s->fds, s->nfds);
	s->nfds = 0;
	s->reject = 0;
}

/* Bytes queued in the socket (0 if the kernel does not say). */
static size_t queued(int fd)
{
	int v = 0;

	return ioctl(fd, FIONREAD, &v) == 0 && v > 0 ? (size_t)v : 0;
}

static void deliver(struct sock_transport *s, const struct wire_hdr *h,
		    struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr = *h;
	m->payload = s->buf + WIRE_HDR_SIZE;
	m->len = h->msg_size - WIRE_HDR_SIZE;
	memcpy(s->dfds, s->fds, s->nfds * sizeof(int));
	m->fds = s->dfds;
	m->nfds = s->nfds;
	m->reject = s->reject;
	m->peeked = true;
	if (m->reject)
		close_fds(m->fds, m->nfds);
	s->nfds = 0;
	s->reject = 0;
	s->peeked = h->msg_size;
	s->stalled = false;
}

int sock_peek_recv(struct sock_transport *s, struct msg *m)
{
	struct wire_hdr h;
	ssize_t n;

	if (s->peeked > 0)
		return -EBUSY;
	n = peek(s, &h, sizeof(h), false);
	if (n <= 0)
		return n == 0 ? -EPIPE : (int)n;
	if ((size_t)n < sizeof(h))
		return stall(s);
	if (h.msg_size < WIRE_HDR_SIZE)
		return -EPROTO;
	if (h.msg_size > TRANSPORT_PEEK_MAX || h.msg_size > s->lim.max_msg_size ||
	    sock_grow_buf(s, h.msg_size) < 0)
		return 1;
	n = peek(s, s->buf, h.msg_size, true);
	if (n < 0) {
		drop_fds(s);
		return (int)n;
	}
	if ((size_t)n < h.msg_size) {
		/* The peeked fds are copies: the socket keeps its own. */
		drop_fds(s);
		return queued(s->fd) >= h.msg_size ? 1 : stall(s);
	}
	deliver(s, &h, m);
	return 0;
}

int sock_consume(struct transport *t, struct msg *m)
{
	struct sock_transport *s = to_sock(t);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS_LIMIT)];
	} cbuf;
	uint8_t sink[CONSUME_CHUNK];

	if (!m->peeked || s->peeked == 0)
		return -EINVAL;
	while (s->peeked > 0) {
		struct iovec iov = { .iov_base = sink,
				     .iov_len = MIN(s->peeked, sizeof(sink)) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.buf,
				     .msg_controllen = sizeof(cbuf.buf) };
		ssize_t n;

		do {
			n = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		} while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n == 0 ? -EPROTO : -errno;
		/* Second copies of fds the peek already delivered. */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				close_fds((int *)CMSG_DATA(c),
					  (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)));
		}
		s->peeked -= (size_t)n;
	}
	m->peeked = false;
	return 0;
}

bool sock_stalled(const struct transport *t)
{
	return ((const struct sock_transport *)t)->stalled;
}
