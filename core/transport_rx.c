/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport_rx: the socket transport's receiving side.
 *
 * A read takes as many bytes as the socket holds (up to the room in the
 * input buffer) and messages are delivered from that buffer in place: a
 * header and its body come in one read, and a client that sends several
 * messages back to back (posted writes, requests in flight) costs one
 * read for all of them. The buffer starts at RX_BUF, grows once to the
 * largest message seen (never past the limit), and its unread tail is
 * moved to the front only when the next message would not fit behind it.
 *
 * fds: the kernel ends a read right after the piece of data that carried
 * fds, so they came with the last piece read, which from a well-behaved
 * peer begins a message. They are given to the last message that begins
 * in the bytes of that read; when none begins there, they came with a
 * body: that message is refused with EINVAL and they are closed. Each
 * read has a control buffer for the kernel's per-message maximum (253
 * fds), so surplus fds are seen and closed, never lost; truncated control
 * data (fds lost in the kernel) breaks the connection.
 *
 * A message larger than the limit is delivered, refused, as soon as its
 * header is in; its body is skipped as it comes, keeping the stream in
 * step.
 *
 * The last read says whether the socket is empty: when it returned less
 * than it asked for, with no fds, recv_more() reports -EAGAIN without a
 * system call once the buffer holds no whole message (the caller's
 * level-triggered poll says when more comes).
 *
 * Peek mode (transport_peek.c, crash recovery) reads nothing ahead: each
 * read stops at the end of the current message, which must stay in the
 * socket until it is handled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common.h"
#include "transport.h"
#include "transport_sock_priv.h"

#define RX_BUF (64u * 1024u)     /* the input buffer to begin with */
#define RX_MIN_ROOM (4u * 1024u) /* move the tail forward below this room */

void sock_cmsg_fds(struct msghdr *mh, int *fds, unsigned int *n)
{
	*n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const uint8_t *p = CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, p + i * sizeof(int), sizeof(fd));
			if (*n < WIRE_MAX_FDS_LIMIT)
				fds[(*n)++] = fd;
			else
				close_fd(&fd);
		}
	}
}

void sock_add_fds(struct sock_transport *s, struct rx_fds *to, int *fds,
		  unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (to->n < s->lim.max_fds && to->reject == 0) {
			to->fds[to->n++] = fds[i];
			continue;
		}
		close_fd(&fds[i]);
		to->reject = -EINVAL;
	}
}

void sock_clear_fds(struct rx_fds *f)
{
	close_fds(f->fds, f->n);
	f->n = 0;
	f->reject = 0;
}

/* Move the unread bytes to the front of the buffer. */
static void compact(struct sock_transport *s)
{
	size_t shift = s->ipos;

	if (shift == 0)
		return;
	memmove(s->ib, s->ib + shift, s->iend - shift);
	s->iend -= shift;
	s->ipos = 0;
	if (s->has_next)
		s->next_at -= shift;
}

int sock_rx_room(struct sock_transport *s, size_t total)
{
	size_t cap;
	uint8_t *nb;

	if (s->ipos == s->iend && !s->has_next)
		s->ipos = s->iend = 0; /* empty: start over, nothing to move */
	if (s->ipos + total > s->icap ||
	    (s->ipos > 0 && s->icap - s->iend < RX_MIN_ROOM))
		compact(s);
	if (total <= s->icap && s->ib != NULL)
		return 0;
	cap = MAX(total, (size_t)RX_BUF);
	nb = realloc(s->ib, cap);
	if (nb == NULL)
		return -ENOMEM;
	s->ib = nb;
	s->icap = cap;
	return 0;
}

/* ipos moved on: the fds held for the message there become current. */
static void reached(struct sock_transport *s)
{
	if (!s->has_next || s->skip > 0 || s->next_at != s->ipos)
		return;
	s->cur = s->next;
	s->next.n = 0;
	s->next.reject = 0;
	s->has_next = false;
}

/* Consume what the buffer holds of a refused message's body. */
static void skip_buffered(struct sock_transport *s)
{
	size_t n = (size_t)MIN(s->skip, (uint64_t)(s->iend - s->ipos));

	s->ipos += n;
	s->skip -= n;
	reached(s);
}

/*
 * Where the last message that begins in ib[@from, iend) begins, or
 * SIZE_MAX when none does (the bytes from @from on continue the message
 * at ipos, or a refused body). Steps over whole messages by their sizes.
 */
static size_t last_start(const struct sock_transport *s, size_t from)
{
	size_t last = SIZE_MAX;
	uint64_t p = s->ipos + s->skip;

	while (p < s->iend) {
		struct wire_hdr h;

		if (p >= from)
			last = (size_t)p;
		if (s->iend - p < WIRE_HDR_SIZE)
			break;
		memcpy(&h, s->ib + p, sizeof(h));
		if (h.msg_size < WIRE_HDR_SIZE)
			break; /* broken framing: found when it is reached */
		p += h.msg_size;
	}
	return last;
}

/* The fds of a read of ib[@from, iend) (see the top of the file). */
static int place_fds(struct sock_transport *s, size_t from, int *fds,
		     unsigned int n)
{
	size_t at = last_start(s, from);

	if (at == SIZE_MAX) {
		/* Within a refused body: its message was answered already. */
		if (s->skip == 0)
			s->cur.reject = -EINVAL;
		close_fds(fds, n);
		return 0;
	}
	if (at == s->ipos) {
		sock_add_fds(s, &s->cur, fds, n);
		return 0;
	}
	/* Reads happen only while the message at ipos is incomplete, so
	 * one with fds further on can have no second one pending. */
	if (s->has_next) {
		close_fds(fds, n);
		return -EPROTO;
	}
	s->has_next = true;
	s->next_at = at;
	sock_add_fds(s, &s->next, fds, n);
	return 0;
}

/* How much one read may take: in peek mode, no byte past this message. */
static size_t read_want(const struct sock_transport *s)
{
	size_t room = s->icap - s->iend, have = s->iend - s->ipos;
	struct wire_hdr h;

	if (!s->lim.peek)
		return room;
	if (s->skip > 0)
		return (size_t)MIN((uint64_t)room, s->skip);
	if (have < WIRE_HDR_SIZE)
		return MIN(room, WIRE_HDR_SIZE - have);
	memcpy(&h, s->ib + s->ipos, sizeof(h));
	return MIN(room, h.msg_size - have);
}

/* One read into the buffer: 0, -EAGAIN, -EPIPE, -EPROTO or -errno. */
static int fill(struct sock_transport *s)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS_LIMIT)];
	} cbuf;
	size_t from = s->iend, want = read_want(s);
	struct iovec iov = { .iov_base = s->ib + from, .iov_len = want };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	int fds[WIRE_MAX_FDS_LIMIT];
	unsigned int nfds;
	ssize_t n;

	if (want == 0)
		return -ENOBUFS; /* room is made before every read */
	do {
		n = recvmsg(s->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		s->dry = errno == EWOULDBLOCK;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	sock_cmsg_fds(&mh, fds, &nfds);
	/* fds were lost in the kernel: we cannot tell whose they were. */
	if (mh.msg_flags & MSG_CTRUNC) {
		close_fds(fds, nfds);
		return -EPROTO;
	}
	if (n == 0) {
		close_fds(fds, nfds);
		return s->ipos == s->iend && s->skip == 0 ? -EPIPE : -EPROTO;
	}
	s->iend += (size_t)n;
	s->dry = (size_t)n < want && nfds == 0;
	return nfds > 0 ? place_fds(s, from, fds, nfds) : 0;
}

/* Hand the message at ipos over to @m and step past it. */
static void deliver(struct sock_transport *s, const struct wire_hdr *h,
		    int reject, struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->hdr = *h;
	m->len = reject ? 0 : h->msg_size - WIRE_HDR_SIZE;
	m->reject = reject ? reject : s->cur.reject;
	m->payload = reject ? NULL : s->ib + s->ipos + WIRE_HDR_SIZE;
	memcpy(s->dfds, s->cur.fds, s->cur.n * sizeof(int));
	m->fds = s->dfds;
	m->nfds = s->cur.n;
	if (m->reject)
		close_fds(m->fds, m->nfds);
	s->cur.n = 0;
	s->cur.reject = 0;
	if (reject) {
		/* Refused at its header: the body is skipped as it comes. */
		s->ipos += WIRE_HDR_SIZE;
		s->skip = h->msg_size - WIRE_HDR_SIZE;
		skip_buffered(s);
	} else {
		s->ipos += h->msg_size;
		reached(s);
	}
}

/* Deliver the message at ipos if it is in: 0, -EAGAIN, -EPROTO. */
static int take(struct sock_transport *s, struct msg *m)
{
	struct wire_hdr h;

	skip_buffered(s);
	if (s->skip > 0 || s->iend - s->ipos < WIRE_HDR_SIZE)
		return sock_rx_room(s, WIRE_HDR_SIZE) < 0 ? -ENOMEM : -EAGAIN;
	memcpy(&h, s->ib + s->ipos, sizeof(h));
	if (h.msg_size < WIRE_HDR_SIZE)
		return -EPROTO;
	/* Too large, or no memory to take it: refused now. */
	if (h.msg_size > s->lim.max_msg_size ||
	    sock_rx_room(s, h.msg_size) < 0) {
		deliver(s, &h, -EMSGSIZE, m);
		return 0;
	}
	if (s->iend - s->ipos < h.msg_size)
		return -EAGAIN;
	deliver(s, &h, 0, m);
	return 0;
}

int sock_rx_next(struct sock_transport *s, struct msg *m, bool may_read)
{
	for (;;) {
		int ret = take(s, m);

		if (ret != -EAGAIN || !may_read)
			return ret;
		/* Part of a message: read on until it is whole or the
		 * socket says EAGAIN (or EOF inside it). */
		ret = fill(s);
		if (ret < 0)
			return ret;
	}
}

bool sock_rx_buffered(const struct transport *t)
{
	const struct sock_transport *s = (const struct sock_transport *)t;
	size_t have = s->iend - s->ipos;
	struct wire_hdr h;

	if (s->skip > 0 || have < WIRE_HDR_SIZE)
		return false;
	memcpy(&h, s->ib + s->ipos, sizeof(h));
	/* A broken or refused one is "delivered" at once, too. */
	return h.msg_size < WIRE_HDR_SIZE || h.msg_size > s->lim.max_msg_size ||
	       have >= h.msg_size;
}

/*
 * The input buffer goes with @m (its payload lies in it, and pointers a
 * handler holds must stay valid); the unread bytes behind it move to a
 * new buffer. Other payloads are copied.
 */
int sock_rx_keep(struct transport *t, struct msg *m)
{
	struct sock_transport *s = to_sock(t);
	uint8_t *nb = NULL;
	int *fds = NULL;

	if (m->owned)
		return 0;
	if (m->payload != NULL &&
	    (m->payload < s->ib || m->payload >= s->ib + s->icap))
		return msg_detach(m); /* not from our buffer: copy it */
	if (m->payload != NULL) {
		nb = malloc(s->icap);
		if (nb == NULL)
			return -ENOMEM;
	}
	if (m->nfds > 0) {
		fds = malloc(m->nfds * sizeof(int));
		if (fds == NULL) {
			free(nb);
			return -ENOMEM;
		}
		memcpy(fds, m->fds, m->nfds * sizeof(int));
	}
	if (nb != NULL) {
		memcpy(nb, s->ib + s->ipos, s->iend - s->ipos);
		m->store = s->ib;
		s->ib = nb;
		s->iend -= s->ipos;
		if (s->has_next)
			s->next_at -= s->ipos;
		s->ipos = 0;
	}
	m->fds = fds;
	m->owned = true;
	return 0;
}

void sock_rx_destroy(struct sock_transport *s)
{
	sock_clear_fds(&s->cur);
	sock_clear_fds(&s->next);
	free(s->ib);
	s->ib = NULL;
}

/* Hand-over (transport.h): the input at a message boundary, borrowed. */
void transport_sock_save(struct transport *t, struct transport_saved_in *in)
{
	struct sock_transport *s = to_sock(t);

	*in = (struct transport_saved_in){
		.bytes = s->ib + s->ipos, .len = s->iend - s->ipos,
		.skip = s->skip, .has_next = s->has_next,
		.next_at = s->has_next ? s->next_at - s->ipos : 0,
		.cur = { s->cur.fds, s->cur.n, s->cur.reject },
		.next = { s->next.fds, s->next.n, s->next.reject },
	};
}

static bool saved_fds_ok(const struct sock_transport *s,
			 const struct transport_saved_fds *f)
{
	return f->n <= s->lim.max_fds && (f->reject == 0 || f->reject == -EINVAL);
}

static void restore_fds(struct rx_fds *to, const struct transport_saved_fds *f)
{
	if (f->n > 0) /* memcpy() takes no NULL, even for 0 bytes */
		memcpy(to->fds, f->fds, f->n * sizeof(int));
	to->n = f->n;
	to->reject = f->reject;
}

/*
 * Continue from @in on a fresh transport; its fds are taken, also on
 * error. Only what this side could hold at a boundary is accepted: no
 * more bytes than its buffer grows to, nothing buffered while a body is
 * skipped, later fds strictly inside the bytes.
 */
int sock_rx_restore(struct sock_transport *s, const struct transport_saved_in *in)
{
	size_t cap = MAX((size_t)RX_BUF, (size_t)s->lim.max_msg_size);
	bool ok = saved_fds_ok(s, &in->cur) && saved_fds_ok(s, &in->next) &&
		  in->len <= cap && in->skip <= UINT32_MAX &&
		  (in->skip == 0 || in->len == 0) &&
		  (in->has_next ? in->next_at > 0 && in->next_at < in->len
				: in->next.n == 0) &&
		  (!s->lim.peek || (in->len == 0 && in->skip == 0));

	if (!ok || sock_rx_room(s, in->len) < 0) {
		close_fds((int *)in->cur.fds, in->cur.n);
		close_fds((int *)in->next.fds, in->next.n);
		return ok ? -ENOMEM : -EBADMSG;
	}
	if (in->len > 0)
		memcpy(s->ib, in->bytes, in->len);
	s->ipos = 0;
	s->iend = in->len;
	s->skip = in->skip;
	s->dry = false;
	restore_fds(&s->cur, &in->cur);
	restore_fds(&s->next, &in->next);
	s->has_next = in->has_next;
	s->next_at = in->next_at;
	return 0;
}
