/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_sock: vfio-user framing over an AF_UNIX stream socket.
 *
 * Receiving reads exactly the 16-byte header, then exactly the body, so a
 * read never runs into the next message (whose fds travel with its first
 * byte). fds are accepted only with the header bytes; each read uses a
 * control buffer large enough for the kernel's per-message maximum, so
 * excess fds are seen and closed rather than silently lost. A message
 * larger than the limit is delivered, refused, as soon as its header is
 * in (so the peer hears why at once, not after gigabytes), and its body
 * is then read and discarded before the next header, keeping the stream
 * in step.
 *
 * Peek mode (transport_peek.c) leaves each message in the socket until
 * it is consumed.
 *
 * Sending writes header + payload + fds with one sendmsg(); whatever the
 * socket does not take is copied to an output queue (fds dup'd if none of
 * the message went out) and written by flush().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "transport.h"
#include "transport_sock_priv.h"

#define DISCARD_CHUNK (64u * 1024u)

/* Keep fds from one control message; close the ones we cannot accept. */
void sock_take_cmsg_fds(struct sock_transport *s, struct cmsghdr *c,
			bool with_header)
{
	size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	int *p = (int *)CMSG_DATA(c);

	for (size_t i = 0; i < n; i++) {
		int fd;

		memcpy(&fd, p + i, sizeof(fd));
		/* With a refused body: its message was answered already. */
		if (s->skip > 0) {
			close_fd(&fd);
			continue;
		}
		if (with_header && s->nfds < s->lim.max_fds) {
			s->fds[s->nfds++] = fd;
			continue;
		}
		/* Too many, or not attached to the header: refuse them all. */
		close_fd(&fd);
		s->reject = -EINVAL;
	}
}

static ssize_t rx(struct sock_transport *s, void *p, size_t len,
		  bool with_header)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS_LIMIT)];
	} cbuf;
	struct iovec iov = { .iov_base = p, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	do {
		n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			sock_take_cmsg_fds(s, c, with_header);
	/* fds were lost in the kernel: we cannot tell whose they were. */
	if (mh.msg_flags & MSG_CTRUNC)
		return -EPROTO;
	return n;
}

int sock_grow_buf(struct sock_transport *s, size_t need)
{
	uint8_t *nb;

	if (need <= s->buf_cap)
		return 0;
	nb = realloc(s->buf, need);
	if (nb == NULL)
		return -ENOMEM;
	s->buf = nb;
	s->buf_cap = need;
	return 0;
}

/* The header is complete: decide how to take the body. */
static int start_body(struct sock_transport *s)
{
	if (s->hdr.msg_size < WIRE_HDR_SIZE)
		return -EPROTO;
	s->body_len = s->hdr.msg_size - WIRE_HDR_SIZE;
	s->body_got = 0;
	if (s->hdr.msg_size > s->lim.max_msg_size ||
	    sock_grow_buf(s, s->body_len) < 0) {
		/* Refused now; the body is drained before the next header. */
		s->reject = -EMSGSIZE;
		s->skip = s->body_len;
		s->body_len = 0;
	}
	return 0;
}

/* Read and drop what is left of a refused message's body. */
static int drain(struct sock_transport *s)
{
	int ret = s->skip > 0 ? sock_grow_buf(s, DISCARD_CHUNK) : 0;

	while (ret == 0 && s->skip > 0) {
		ssize_t n = rx(s, s->buf, MIN(s->skip, s->buf_cap), false);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPROTO; /* EOF inside a message */
		s->skip -= (size_t)n;
	}
	return ret;
}

static int recv_header(struct sock_transport *s)
{
	int ret = drain(s);

	if (ret < 0)
		return ret;
	while (s->hdr_got < WIRE_HDR_SIZE) {
		ssize_t n = rx(s, (uint8_t *)&s->hdr + s->hdr_got,
			       WIRE_HDR_SIZE - s->hdr_got, true);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return s->hdr_got == 0 ? -EPIPE : -EPROTO;
		s->hdr_got += (size_t)n;
		if (s->hdr_got == WIRE_HDR_SIZE) {
			int ret = start_body(s);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int recv_body(struct sock_transport *s)
{
	while (s->body_got < s->body_len) {
		ssize_t n = rx(s, s->buf + s->body_got, s->body_len - s->body_got,
			       false);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPROTO;
		s->body_got += (size_t)n;
	}
	return 0;
}

static int sock_recv(struct transport *t, struct msg *m)
{
	struct sock_transport *s = to_sock(t);
	int ret;

	/* Peek mode, unless a message is already being read as it comes. */
	if (s->lim.peek && s->hdr_got == 0 && s->skip == 0) {
		ret = sock_peek_recv(s, m);
		if (ret <= 0)
			return ret;
	}
	ret = recv_header(s);
	if (ret == 0)
		ret = recv_body(s);
	if (ret < 0)
		return ret;

	memset(m, 0, sizeof(*m));
	m->hdr = s->hdr;
	m->payload = s->reject == -EMSGSIZE ? NULL : s->buf;
	m->len = (uint32_t)s->body_len;
	memcpy(s->dfds, s->fds, s->nfds * sizeof(int));
	m->fds = s->dfds;
	m->nfds = s->nfds;
	m->reject = s->reject;
	if (m->reject)
		close_fds(m->fds, m->nfds);

	s->hdr_got = 0;
	s->body_len = 0;
	s->body_got = 0;
	s->nfds = 0;
	s->reject = 0;
	return 0;
}

/* Hand the receive buffer and a copy of the fd array over to @m. */
static int sock_keep(struct transport *t, struct msg *m)
{
	struct sock_transport *s = to_sock(t);
	int *fds = NULL;

	if (m->owned)
		return 0;
	if (m->payload != NULL && m->payload != s->buf)
		return msg_detach(m); /* not from our buffer: copy it */
	if (m->nfds > 0) {
		fds = malloc(m->nfds * sizeof(int));
		if (fds == NULL)
			return -ENOMEM;
		memcpy(fds, m->fds, m->nfds * sizeof(int));
	}
	if (m->payload != NULL) {
		/* The next message gets a new buffer. */
		s->buf = NULL;
		s->buf_cap = 0;
	}
	m->fds = fds;
	m->owned = true;
	return 0;
}

ssize_t transport_sendmsg(int fd, const struct iovec *iov, int iovcnt,
			  const int *fds, unsigned int nfds)
{
	if (nfds > WIRE_MAX_FDS_LIMIT)
		return -EINVAL;
	return sendmsg_fds(fd, iov, iovcnt, fds, nfds, MSG_DONTWAIT);
}

static size_t iov_bytes(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

static ssize_t tx(struct sock_transport *s, const struct iovec *iov,
		  int iovcnt, const int *fds, unsigned int nfds)
{
	return transport_sendmsg(s->fd, iov, iovcnt, fds, nfds);
}

/*
 * Queue what is left after @skip bytes went out: the unsent bytes of
 * @iov copied, and @own (the message's last @own_len bytes, owned by the
 * transport from now on) kept as it is. fds are dup'd if nothing went
 * out; otherwise the kernel has them with the first byte.
 */
static int enqueue(struct sock_transport *s, const struct iovec *iov,
		   int iovcnt, size_t skip, const int *fds, unsigned int nfds,
		   uint8_t *own, size_t own_len)
{
	unsigned int qfds = skip == 0 ? nfds : 0;
	struct outq *q = calloc(1, sizeof(*q) + qfds * sizeof(int));
	size_t pos = 0, w = 0, total = iov_bytes(iov, iovcnt);

	if (q == NULL)
		return -ENOMEM;
	q->len = skip < total ? total - skip : 0;
	q->data = q->len ? malloc(q->len) : NULL;
	if (q->len && q->data == NULL) {
		free(q);
		return -ENOMEM;
	}
	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len, from = 0;

		if (pos + len <= skip) {
			pos += len;
			continue;
		}
		if (pos < skip)
			from = skip - pos;
		memcpy(q->data + w, (const uint8_t *)iov[i].iov_base + from,
		       len - from);
		w += len - from;
		pos += len;
	}
	for (unsigned int i = 0; i < qfds; i++) {
		q->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (q->fds[i] < 0) {
			int err = -errno;
			close_fds(q->fds, i);
			free(q->data);
			free(q);
			return err;
		}
	}
	q->nfds = qfds;
	q->own = own;
	q->own_off = skip > total ? skip - total : 0;
	q->own_len = own_len;
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	s->out_bytes += q->len + (own_len - q->own_off);
	s->out_fds += qfds;
	return 0;
}

/* Send now what the socket takes, queue the rest; @own is ours either way. */
static int send_parts(struct sock_transport *s, const struct wire_hdr *h,
		      const struct iovec *iov, int iovcnt, const int *fds,
		      unsigned int nfds, void *own, size_t own_len)
{
	struct iovec v[9];
	size_t total;
	ssize_t n = 0;
	int ret;

	if (iovcnt < 0 || iovcnt > 7 || nfds > WIRE_MAX_FDS_LIMIT) {
		free(own);
		return -EINVAL;
	}
	v[0] = (struct iovec){ .iov_base = (void *)h, .iov_len = WIRE_HDR_SIZE };
	if (iovcnt > 0) /* iov may be NULL then */
		memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*iov));
	v[iovcnt + 1] = (struct iovec){ .iov_base = own, .iov_len = own_len };
	total = iov_bytes(v, iovcnt + 2);
	if (s->head == NULL) {
		n = tx(s, v, iovcnt + 2, fds, nfds);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0 || (size_t)n == total) {
			free(own);
			return n < 0 ? (int)n : 0;
		}
	}
	ret = enqueue(s, v, iovcnt + 1, (size_t)n, fds, nfds, own, own_len);
	if (ret < 0)
		free(own);
	return ret;
}

static int sock_send(struct transport *t, const struct wire_hdr *h,
		     const struct iovec *iov, int iovcnt, const int *fds,
		     unsigned int nfds)
{
	return send_parts(to_sock(t), h, iov, iovcnt, fds, nfds, NULL, 0);
}

static int sock_send_owned(struct transport *t, const struct wire_hdr *h,
			   const struct iovec *iov, int iovcnt, const int *fds,
			   unsigned int nfds, void *own, size_t own_len)
{
	return send_parts(to_sock(t), h, iov, iovcnt, fds, nfds, own, own_len);
}

static void outq_free(struct outq *q)
{
	close_fds(q->fds, q->nfds);
	free(q->data);
	free(q->own);
	free(q);
}

/* Account @n bytes of the head entry as written. */
static void consumed(struct sock_transport *s, struct outq *q, size_t n)
{
	size_t from_data = MIN(n, q->len - q->off);

	if (n > 0 && q->nfds > 0) {
		close_fds(q->fds, q->nfds); /* the kernel has its copies */
		s->out_fds -= q->nfds;
		q->nfds = 0;
	}
	q->off += from_data;
	q->own_off += n - from_data;
	s->out_bytes -= n;
}

static int sock_flush(struct transport *t)
{
	struct sock_transport *s = to_sock(t);

	while (s->head != NULL) {
		struct outq *q = s->head;
		struct iovec v[2] = {
			{ .iov_base = q->data + q->off, .iov_len = q->len - q->off },
			{ .iov_base = q->own + q->own_off,
			  .iov_len = q->own_len - q->own_off },
		};
		ssize_t n = tx(s, v, 2, q->fds, q->nfds);

		if (n < 0)
			return (int)n;
		consumed(s, q, (size_t)n);
		if (q->off < q->len || q->own_off < q->own_len)
			return -EAGAIN;
		s->head = q->next;
		if (s->head == NULL)
			s->tail = NULL;
		outq_free(q);
	}
	return 0;
}

static size_t sock_out_fds(const struct transport *t)
{
	return ((const struct sock_transport *)t)->out_fds;
}

static size_t sock_out_pending(const struct transport *t)
{
	return ((const struct sock_transport *)t)->out_bytes;
}

static int sock_fd(const struct transport *t)
{
	return ((const struct sock_transport *)t)->fd;
}

static void sock_destroy(struct transport *t)
{
	struct sock_transport *s = to_sock(t);

	while (s->head != NULL) {
		struct outq *q = s->head;

		s->head = q->next;
		outq_free(q);
	}
	close_fds(s->fds, s->nfds);
	close_fd(&s->fd);
	free(s->buf);
	free(s);
}

static const struct transport_ops sock_ops = {
	.recv = sock_recv,
	.send = sock_send,
	.send_owned = sock_send_owned,
	.keep = sock_keep,
	.flush = sock_flush,
	.out_pending = sock_out_pending,
	.out_fds = sock_out_fds,
	.fd = sock_fd,
	.destroy = sock_destroy,
	.consume = sock_consume,
	.stalled = sock_stalled,
};

int transport_sock_create(int fd, const struct transport_limits *lim,
			  struct transport **out)
{
	struct sock_transport *s;
	int fl;

	if (fd < 0 || lim->max_msg_size < WIRE_HDR_SIZE ||
	    lim->max_fds > WIRE_MAX_FDS_LIMIT) {
		close_fd(&fd);
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int err = -errno;
		close_fd(&fd);
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	s->base.ops = &sock_ops;
	s->fd = fd;
	s->lim = *lim;
	*out = &s->base;
	return 0;
}
