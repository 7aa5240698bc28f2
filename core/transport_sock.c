/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_sock: vfio-user framing over an AF_UNIX stream socket.
 *
 * Receiving (transport_rx.c) reads as much as the socket holds and
 * delivers whole messages from its buffer; peek mode (transport_peek.c)
 * leaves each message in the socket until it is consumed.
 *
 * Sending writes header + payload + fds with one sendmsg(); whatever the
 * socket does not take is copied to an output queue (fds dup'd if none of
 * the message went out) and written by flush(). Small replies sent with
 * "more to follow" (send_more) are held back in a batch buffer and go out
 * in front of the next message, or at flush, in the same sendmsg(): a
 * client with requests in flight gets its replies in one write per batch
 * (and reads them with one receive), not one per reply. A message with
 * fds never shares a write with the batch: the fds arrive with the first
 * byte of a write, which must be that message's. The batch's bytes are
 * newer than everything queued and older than any message not yet given,
 * so while the socket is full a batch becomes one queue entry, not one
 * per reply.
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

static int sock_recv(struct transport *t, struct msg *m)
{
	struct sock_transport *s = to_sock(t);

	/* Peek mode, unless a message is already being read as it comes. */
	if (s->lim.peek && s->ipos == s->iend && s->skip == 0) {
		int ret = sock_peek_recv(s, m);

		if (ret <= 0)
			return ret;
	}
	return sock_rx_next(s, m, true);
}

static int sock_recv_more(struct transport *t, struct msg *m)
{
	struct sock_transport *s = to_sock(t);

	if (s->lim.peek)
		return sock_recv(t, m);
	return sock_rx_next(s, m, !s->dry);
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

		if (pos + len <= skip || len == 0) { /* an empty one may be NULL */
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

/* The held-back replies as @v, to be written or queued next, after the
 * queue (0 if none). They no longer count as held. */
static int take_batch(struct sock_transport *s, struct iovec *v)
{
	if (s->blen == 0)
		return 0;
	*v = (struct iovec){ .iov_base = s->batch, .iov_len = s->blen };
	s->out_bytes -= s->blen;
	s->blen = 0;
	return 1;
}

/* Write the held-back replies now; what the socket does not take is queued. */
static int flush_batch(struct sock_transport *s)
{
	struct iovec v;
	ssize_t n = 0;

	if (take_batch(s, &v) == 0)
		return 0;
	if (s->head == NULL) {
		n = tx(s, &v, 1, NULL, 0);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0 || (size_t)n == v.iov_len)
			return n < 0 ? (int)n : 0;
	}
	return enqueue(s, &v, 1, (size_t)n, NULL, 0, NULL, 0);
}

/*
 * Send now what the socket takes, queue the rest; @own is ours either
 * way. Held-back replies go first, in the same write unless @fds.
 */
static int send_parts(struct sock_transport *s, const struct wire_hdr *h,
		      const struct iovec *iov, int iovcnt, const int *fds,
		      unsigned int nfds, void *own, size_t own_len)
{
	struct iovec v[10];
	size_t total;
	ssize_t n = 0;
	int ret = 0, b;

	if (iovcnt < 0 || iovcnt > 7 || nfds > WIRE_MAX_FDS_LIMIT)
		ret = -EINVAL;
	else if (nfds > 0)
		ret = flush_batch(s);
	if (ret < 0) {
		free(own);
		return ret;
	}
	b = take_batch(s, v);
	v[b] = (struct iovec){ .iov_base = (void *)h, .iov_len = WIRE_HDR_SIZE };
	if (iovcnt > 0) /* iov may be NULL then */
		memcpy(v + b + 1, iov, (size_t)iovcnt * sizeof(*iov));
	v[b + iovcnt + 1] = (struct iovec){ .iov_base = own, .iov_len = own_len };
	total = iov_bytes(v, b + iovcnt + 2);
	if (s->head == NULL) {
		n = tx(s, v, b + iovcnt + 2, fds, nfds);
		if (n == -EAGAIN)
			n = 0;
		if (n < 0 || (size_t)n == total) {
			free(own);
			return n < 0 ? (int)n : 0;
		}
	}
	ret = enqueue(s, v, b + iovcnt + 1, (size_t)n, fds, nfds, own, own_len);
	if (ret < 0)
		free(own);
	return ret;
}

static int sock_send_more(struct transport *t, const struct wire_hdr *h,
			  const struct iovec *iov, int iovcnt, bool more)
{
	struct sock_transport *s = to_sock(t);
	size_t len = iovcnt >= 0 && iovcnt <= 7
		     ? WIRE_HDR_SIZE + iov_bytes(iov, iovcnt) : SIZE_MAX;

	if (!more || len > TRANSPORT_BATCH_MAX - s->blen)
		return send_parts(s, h, iov, iovcnt, NULL, 0, NULL, 0);
	if (s->batch == NULL && (s->batch = malloc(TRANSPORT_BATCH_MAX)) == NULL)
		return send_parts(s, h, iov, iovcnt, NULL, 0, NULL, 0);
	memcpy(s->batch + s->blen, h, WIRE_HDR_SIZE);
	len = s->blen + WIRE_HDR_SIZE;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0) /* an empty one may be NULL */
			memcpy(s->batch + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	s->out_bytes += len - s->blen;
	s->blen = len;
	return 0;
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
	int ret = flush_batch(s);

	if (ret < 0)
		return ret;
	while (s->head != NULL) {
		struct outq *q = s->head;
		struct iovec v[2] = {
			{ .iov_base = q->data + q->off, .iov_len = q->len - q->off },
			/* own may be NULL: no arithmetic on it then */
			{ .iov_base = q->own ? q->own + q->own_off : NULL,
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
	free(s->batch);
	sock_rx_destroy(s);
	close_fd(&s->fd);
	free(s);
}

/* Hand-over: the connection's state beyond its fd (transport.h). */

int transport_sock_save_out(struct transport *t, transport_out_fn *fn,
			    void *opaque)
{
	int ret = 0;

	for (struct outq *q = to_sock(t)->head; ret == 0 && q != NULL;
	     q = q->next)
		ret = fn(opaque, q->data + q->off, q->len - q->off,
			 q->own ? q->own + q->own_off : NULL,
			 q->own_len - q->own_off, q->fds, q->nfds);
	/* Held back: the newest bytes. */
	if (ret == 0 && to_sock(t)->blen > 0)
		ret = fn(opaque, to_sock(t)->batch, to_sock(t)->blen, NULL, 0,
			 NULL, 0);
	return ret;
}

int transport_sock_restore(int fd, const struct transport_limits *lim,
			   const struct transport_saved_in *in,
			   struct transport **out)
{
	int ret = transport_sock_create(fd, lim, out);

	if (ret < 0) {
		close_fds((int *)in->cur.fds, in->cur.n);
		close_fds((int *)in->next.fds, in->next.n);
		return ret;
	}
	ret = sock_rx_restore(to_sock(*out), in);
	if (ret < 0) {
		transport_destroy(*out);
		*out = NULL;
	}
	return ret;
}

int transport_sock_requeue(struct transport *t, const uint8_t *data,
			   size_t len, int *fds, unsigned int nfds)
{
	struct iovec v = { .iov_base = (void *)data, .iov_len = len };
	int ret = len > 0 && nfds <= WIRE_MAX_FDS_LIMIT
		  ? enqueue(to_sock(t), &v, 1, 0, fds, nfds, NULL, 0) : -EINVAL;

	/* enqueue() keeps duplicates: the originals are ours to close. */
	close_fds(fds, nfds);
	return ret;
}

static const struct transport_ops sock_ops = {
	.recv = sock_recv,
	.recv_more = sock_recv_more,
	.buffered = sock_rx_buffered,
	.send = sock_send,
	.send_more = sock_send_more,
	.send_owned = sock_send_owned,
	.keep = sock_rx_keep,
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
