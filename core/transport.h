/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport: moves whole vfio-user messages and their fds. Knows the
 * 16-byte header (for framing) and nothing about commands. Non-blocking:
 * receive returns -EAGAIN until a whole message is in, send buffers what
 * the socket does not take. Behind an ops table so that a socketpair in
 * tests, or a future vsock transport, can slot in.
 */
#ifndef VUS_TRANSPORT_H
#define VUS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "wire.h"

/*
 * A received message. @payload has hdr.msg_size - 16 bytes. The fds belong
 * to the message: a handler takes one with msg_take_fd(); msg_release()
 * closes whatever nobody took.
 */
struct msg {
	struct wire_hdr hdr;
	uint8_t *payload;
	uint32_t len;
	int *fds;
	unsigned int nfds;
	/*
	 * Non-zero when the transport rejected the message but kept the
	 * stream in step: -EMSGSIZE (body discarded, payload NULL) or
	 * -EINVAL (more fds than allowed, or fds not on the header; all
	 * closed). The message must still get an error reply.
	 */
	int reject;
	/* Whether payload/fds are owned by the message (msg_detach()). */
	bool owned;
	/* When owned: the block @payload lies in, freed instead of it
	 * (NULL: @payload itself). */
	uint8_t *store;
	/*
	 * Peek mode: the message is still in the socket, delivered without
	 * its fds; transport_consume() takes it out (and its fds, if asked).
	 */
	bool peeked;
};

/** Take fd @i out of the message; the caller owns it. -1 if none. */
int msg_take_fd(struct msg *m, unsigned int i);

/** Close untaken fds and free owned storage. */
void msg_release(struct msg *m);

/**
 * Make @m independent of the transport's buffers (copy the payload and fd
 * array) so it can be kept while more messages are received. -ENOMEM.
 */
int msg_detach(struct msg *m);

struct transport;

struct transport_ops {
	/**
	 * Receive the next whole message into @m without blocking. Returns
	 * 0, -EAGAIN (nothing complete yet), -EPIPE (peer closed between
	 * messages), -EPROTO (peer broke framing: EOF inside a message,
	 * msg_size < 16, lost fds), or another -errno from the socket.
	 * @m stays valid until the next recv (unless kept) or
	 * msg_release/msg_detach.
	 */
	int (*recv)(struct transport *t, struct msg *m);
	/**
	 * As recv, but without a system call when the last read found the
	 * socket empty: -EAGAIN then, and the caller waits for readability
	 * (level-triggered) before recv. What a busy loop calls between
	 * messages, so that it never probes an empty socket.
	 */
	int (*recv_more)(struct transport *t, struct msg *m);
	/** Whether recv_more would deliver a message without reading. */
	bool (*buffered)(const struct transport *t);
	/**
	 * Send header + @iov with @fds (borrowed) on the first byte. What
	 * cannot be written now is copied (fds dup'd) and written by flush.
	 * Returns 0, -EPIPE/-ECONNRESET, -ENOMEM.
	 */
	int (*send)(struct transport *t, const struct wire_hdr *h,
		    const struct iovec *iov, int iovcnt, const int *fds,
		    unsigned int nfds);
	/**
	 * As send without fds, for a reply with more to follow (@more: the
	 * next request is in already): with @more its bytes may wait, up to
	 * TRANSPORT_BATCH_MAX bytes of such replies, and go out with the
	 * next send or flush in one system call, so requests in flight cost
	 * one send per batch, not per reply. Held bytes count in
	 * out_pending; the caller flushes when its batch ends.
	 */
	int (*send_more)(struct transport *t, const struct wire_hdr *h,
			 const struct iovec *iov, int iovcnt, bool more);
	/**
	 * As send, with @own (malloc'd, @own_len bytes) as the message's
	 * last part: the transport owns it from the call on and frees it
	 * once written (at once if the socket took everything, also on
	 * error), so a large reply tail is never copied or kept twice.
	 */
	int (*send_owned)(struct transport *t, const struct wire_hdr *h,
			  const struct iovec *iov, int iovcnt, const int *fds,
			  unsigned int nfds, void *own, size_t own_len);
	/**
	 * Let @m (delivered by this transport's recv) keep its payload and
	 * fds past the next recv: ownership of the receive buffer moves to
	 * the message, without a copy, so pointers into the payload that a
	 * handler already holds stay valid. 0 or -ENOMEM.
	 */
	int (*keep)(struct transport *t, struct msg *m);
	/** Write buffered output: 0 when all is out, -EAGAIN, -errno. */
	int (*flush)(struct transport *t);
	/** Bytes buffered for output (owned tails included). */
	size_t (*out_pending)(const struct transport *t);
	/** fds held for output (dup'd for queued messages not yet begun). */
	size_t (*out_fds)(const struct transport *t);
	int (*fd)(const struct transport *t);
	void (*destroy)(struct transport *t);
	/**
	 * Peek mode: take the message @m (delivered peeked, without fds)
	 * out of the socket. With @take_fds the fds that came with its
	 * first bytes go to @m (more than allowed, or fds on later bytes:
	 * m->reject = -EINVAL, all closed); without, any fds are closed.
	 * Until then recv returns -EBUSY. 0, or -EPROTO when the socket no
	 * longer holds it.
	 */
	int (*consume)(struct transport *t, struct msg *m, bool take_fds);
	/**
	 * Peek mode: the last recv found only part of a message; wait for
	 * new bytes (edge-triggered) rather than for readability.
	 */
	bool (*stalled)(const struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
};

struct transport_limits {
	uint32_t max_msg_size; /* largest message accepted, header included */
	unsigned int max_fds;  /* most fds accepted with one message */
	/*
	 * Peek mode (crash recovery): a message up to TRANSPORT_PEEK_MAX
	 * bytes is delivered while it is still in the socket and leaves it
	 * only by transport_consume(), so a process killed while handling it
	 * leaves it there for the next. Its fds come only with consume():
	 * a peek cannot tell a message's fds from the next one's (the kernel
	 * peeks on into the next piece and returns its fds). Larger messages
	 * (and one split into pieces by fds) are read as they come, as
	 * without peek mode.
	 */
	bool peek;
};

/*
 * Peek mode handles messages whole up to this size: well below what a
 * peer's socket buffer holds in flight (208 KiB by default), so a message
 * this size can always be complete in our queue before we take any of it.
 */
#define TRANSPORT_PEEK_MAX (64u * 1024u)

/* Replies held back by send_more: a batch of small ones (64 4-byte reads
 * take 2.8 KiB); a larger reply goes out at once, with the batch. */
#define TRANSPORT_BATCH_MAX (8u * 1024u)

/**
 * A transport over a connected AF_UNIX stream socket. Takes ownership of
 * @fd (closed on error too) and makes it non-blocking.
 */
int transport_sock_create(int fd, const struct transport_limits *lim,
			  struct transport **out);

/*
 * Hand-over (lib/ho_*.c): what a socket transport holds beyond its fd, so
 * another process can continue the connection where this one stopped.
 * Taken at a message boundary: the bytes read and not yet delivered (whole
 * messages read ahead, then the start of one), the fds held for the first
 * of them and, when a later one brought fds, those and where it begins.
 * While a refused body is skipped, nothing is buffered and @skip bytes of
 * it are still to come.
 */
struct transport_saved_fds {
	const int *fds;      /* borrowed */
	unsigned int n;
	int reject;          /* 0, or -EINVAL: they came refused */
};

struct transport_saved_in {
	const uint8_t *bytes; /* @len bytes, borrowed */
	size_t len;
	uint64_t skip;
	struct transport_saved_fds cur;  /* the message at bytes[0] */
	bool has_next;
	size_t next_at;                  /* 0 < next_at < len */
	struct transport_saved_fds next;
};

/** The partly received message of a socket transport (views, borrowed). */
void transport_sock_save(struct transport *t, struct transport_saved_in *in);

/** Each output entry not yet written, in order (fds borrowed). */
typedef int transport_out_fn(void *opaque, const uint8_t *data, size_t len,
			     const uint8_t *tail, size_t tail_len,
			     const int *fds, unsigned int nfds);
int transport_sock_save_out(struct transport *t, transport_out_fn *fn,
			    void *opaque);

/**
 * A socket transport over @fd (taken, also on error) that continues from
 * the input @in describes; its fds are taken too. -EBADMSG when @in is not
 * a state this transport could be in at a message boundary (with @lim).
 */
int transport_sock_restore(int fd, const struct transport_limits *lim,
			   const struct transport_saved_in *in,
			   struct transport **out);

/** Queue @len bytes (and @fds, taken) as output not yet written. */
int transport_sock_requeue(struct transport *t, const uint8_t *data,
			   size_t len, int *fds, unsigned int nfds);

/**
 * One non-blocking sendmsg() of @iov with @fds (borrowed) attached to its
 * first byte. Returns the bytes sent, -EAGAIN, or -errno. For the socket
 * transport and for raw senders (the client's hostile-test interface).
 */
ssize_t transport_sendmsg(int fd, const struct iovec *iov, int iovcnt,
			  const int *fds, unsigned int nfds);

static inline int transport_recv(struct transport *t, struct msg *m)
{
	return t->ops->recv(t, m);
}

static inline int transport_recv_more(struct transport *t, struct msg *m)
{
	return t->ops->recv_more(t, m);
}

static inline bool transport_buffered(const struct transport *t)
{
	return t->ops->buffered(t);
}

static inline int transport_send(struct transport *t, const struct wire_hdr *h,
				 const struct iovec *iov, int iovcnt,
				 const int *fds, unsigned int nfds)
{
	return t->ops->send(t, h, iov, iovcnt, fds, nfds);
}

static inline int transport_send_more(struct transport *t,
				      const struct wire_hdr *h,
				      const struct iovec *iov, int iovcnt,
				      bool more)
{
	return t->ops->send_more(t, h, iov, iovcnt, more);
}

static inline int transport_send_owned(struct transport *t,
				       const struct wire_hdr *h,
				       const struct iovec *iov, int iovcnt,
				       const int *fds, unsigned int nfds,
				       void *own, size_t own_len)
{
	return t->ops->send_owned(t, h, iov, iovcnt, fds, nfds, own, own_len);
}

static inline size_t transport_out_fds(const struct transport *t)
{
	return t->ops->out_fds(t);
}

static inline int transport_keep(struct transport *t, struct msg *m)
{
	return t->ops->keep(t, m);
}

static inline int transport_flush(struct transport *t)
{
	return t->ops->flush(t);
}

static inline size_t transport_out_pending(const struct transport *t)
{
	return t->ops->out_pending(t);
}

static inline int transport_fd(const struct transport *t)
{
	return t->ops->fd(t);
}

static inline int transport_consume(struct transport *t, struct msg *m,
				    bool take_fds)
{
	return t->ops->consume(t, m, take_fds);
}

static inline bool transport_stalled(const struct transport *t)
{
	return t->ops->stalled(t);
}

static inline void transport_destroy(struct transport *t)
{
	if (t != NULL)
		t->ops->destroy(t);
}

#endif /* VUS_TRANSPORT_H */
