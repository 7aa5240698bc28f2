/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_peek: the socket transport's peek mode, for crash recovery. A
 * message is delivered while it is still in the socket (MSG_PEEK) and
 * taken out only by consume(), after the engine committed what handling
 * it changed: a process killed in between leaves it at the head of the
 * socket, where the next process reads it again.
 *
 * fds come only with consume(): a peek that ends where a piece without
 * fds ends goes on to look at the next piece and returns that one's fds
 * (the next message's), so a peek cannot tell whose fds it got. The
 * engine takes a message that may carry fds out of the socket before it
 * handles it (and journals that it did); the others leave after.
 *
 * A message is peeked whole or not at all. Until it is all there the
 * transport reports itself stalled and the engine waits for new bytes
 * (edge-triggered), not for readability, which would spin. A message
 * larger than TRANSPORT_PEEK_MAX, or one split into pieces by fds (the
 * kernel stops a read after a piece with fds), is read as it comes
 * instead, as without peek mode.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common.h"
#include "transport.h"
#include "transport_sock_priv.h"

#define CONSUME_CHUNK 4096u

/*
 * Look at @len bytes at the head, without a control buffer: the kernel
 * keeps peeking past our bytes into the next piece and would hand us its
 * fds, so fds are taken by consume() only.
 */
static ssize_t peek(struct sock_transport *s, void *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do {
		n = recvmsg(s->fd, &mh, MSG_PEEK | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? (errno == EWOULDBLOCK ? -EAGAIN : -errno) : n;
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

/* Bytes queued in the socket (0 if the kernel does not say). */
static size_t queued(int fd)
{
	int v = 0;

	return ioctl(fd, FIONREAD, &v) == 0 && v > 0 ? (size_t)v : 0;
}

int sock_peek_recv(struct sock_transport *s, struct msg *m)
{
	struct wire_hdr h;
	ssize_t n;

	if (s->peeked > 0)
		return -EBUSY;
	n = peek(s, &h, sizeof(h));
	if (n <= 0)
		return n == 0 ? -EPIPE : (int)n;
	if ((size_t)n < sizeof(h))
		return stall(s);
	if (h.msg_size < WIRE_HDR_SIZE)
		return -EPROTO;
	/* Nothing is buffered (the caller checked): peeked at the front. */
	if (h.msg_size > TRANSPORT_PEEK_MAX || h.msg_size > s->lim.max_msg_size ||
	    sock_rx_room(s, h.msg_size) < 0)
		return 1;
	n = peek(s, s->ib, h.msg_size);
	if (n < 0)
		return (int)n;
	/* Short although all there: a piece with fds ends the peek early. */
	if ((size_t)n < h.msg_size)
		return queued(s->fd) >= h.msg_size ? 1 : stall(s);
	memset(m, 0, sizeof(*m));
	m->hdr = h;
	m->payload = s->ib + WIRE_HDR_SIZE;
	m->len = h.msg_size - WIRE_HDR_SIZE;
	m->fds = s->dfds;
	m->peeked = true;
	s->peeked = h.msg_size;
	s->stalled = false;
	return 0;
}

/* fds of one control message read by consume(): kept for @m or closed. */
static void consume_fds(struct sock_transport *s, struct msg *m,
			struct cmsghdr *c, bool take)
{
	unsigned int n = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	int *p = (int *)CMSG_DATA(c);

	for (unsigned int i = 0; i < n; i++) {
		int fd;

		memcpy(&fd, p + i, sizeof(fd));
		if (take && m->reject == 0 && m->nfds < s->lim.max_fds) {
			s->dfds[m->nfds++] = fd;
			continue;
		}
		if (take)
			m->reject = -EINVAL; /* too many, or not with the header */
		close_fd(&fd);
	}
}

/* A message kept past the next receive owns its fd array: copy them. */
static int own_fds(struct msg *m)
{
	int *fds;

	if (!m->owned || m->fds == NULL)
		return 0;
	fds = malloc((m->nfds ? m->nfds : 1) * sizeof(int));
	if (fds == NULL) {
		close_fds(m->fds, m->nfds);
		m->fds = NULL;
		m->nfds = 0;
		return -ENOMEM;
	}
	memcpy(fds, m->fds, m->nfds * sizeof(int));
	m->fds = fds;
	return 0;
}

int sock_consume(struct transport *t, struct msg *m, bool take_fds)
{
	struct sock_transport *s = to_sock(t);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS_LIMIT)];
	} cbuf;
	uint8_t sink[CONSUME_CHUNK];
	bool first = true;

	if (!m->peeked || s->peeked == 0)
		return -EINVAL;
	if (m->owned)
		free(m->fds); /* none: a peeked message has no fds yet */
	m->fds = s->dfds;
	m->nfds = 0;
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
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				consume_fds(s, m, c, take_fds && first);
		if (take_fds && (mh.msg_flags & MSG_CTRUNC))
			m->reject = -EINVAL; /* fds were lost: whose? */
		first = false;
		s->peeked -= (size_t)n;
	}
	if (m->reject)
		close_fds(m->fds, m->nfds);
	m->peeked = false;
	return own_fds(m);
}

bool sock_stalled(const struct transport *t)
{
	return ((const struct sock_transport *)t)->stalled;
}
