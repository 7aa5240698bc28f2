/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the socket transport: framing over a real socketpair, with
 * the awkward deliveries real peers produce (pieces, fds in the wrong place,
 * oversized messages, EOF anywhere).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"
#include "vtest.h"

struct pair {
	struct transport *t;
	int peer;
};

static void pair_open_mode(struct pair *p, uint32_t max_msg,
			   unsigned int max_fds, bool peek)
{
	struct transport_limits lim = { .max_msg_size = max_msg,
					.max_fds = max_fds, .peek = peek };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(transport_sock_create(sv[0], &lim, &p->t), 0);
	p->peer = sv[1];
}

static void pair_open(struct pair *p, uint32_t max_msg, unsigned int max_fds)
{
	pair_open_mode(p, max_msg, max_fds, false);
}

static void pair_close(struct pair *p)
{
	transport_destroy(p->t);
	close(p->peer);
}

/* Raw sendmsg of @len bytes with @nfds fds. */
static void raw_send(int fd, const void *buf, size_t len, const int *fds,
		     unsigned int nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	assert_int_equal(transport_sendmsg(fd, &iov, 1, fds, nfds), (ssize_t)len);
}

static size_t build(uint8_t *buf, uint16_t id, uint32_t payload_len)
{
	struct wire_hdr h = { .msg_id = id, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = WIRE_HDR_SIZE + payload_len };

	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < payload_len; i++)
		buf[sizeof(h) + i] = (uint8_t)(i * 7 + id);
	return sizeof(h) + payload_len;
}

static void whole_message_with_fd(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	int efd = eventfd(0, EFD_CLOEXEC);
	size_t n = build(buf, 5, 20);

	(void)state;
	pair_open(&p, 4096, 4);
	raw_send(p.peer, buf, n, &efd, 1);
	close(efd);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 5);
	assert_int_equal(m.len, 20);
	assert_memory_equal(m.payload, buf + 16, 20);
	assert_int_equal(m.nfds, 1);
	assert_int_equal(m.reject, 0);
	efd = msg_take_fd(&m, 0);
	assert_true(efd >= 0);
	assert_int_equal(eventfd_write(efd, 1), 0); /* a working eventfd */
	close(efd);
	msg_release(&m);
	assert_int_equal(transport_recv(p.t, &m), -EAGAIN);
	pair_close(&p);
}

static void header_and_body_in_single_bytes(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	size_t n = build(buf, 9, 30);

	(void)state;
	pair_open(&p, 4096, 4);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(transport_recv(p.t, &m), -EAGAIN);
		raw_send(p.peer, buf + i, 1, NULL, 0);
	}
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.len, 30);
	assert_memory_equal(m.payload, buf + 16, 30);
	msg_release(&m);
	pair_close(&p);
}

static void too_many_fds_are_closed_and_rejected(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	int fds[6], before;
	size_t n = build(buf, 1, 8);

	(void)state;
	pair_open(&p, 4096, 4);
	for (int i = 0; i < 6; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	raw_send(p.peer, buf, n, fds, 6);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	before = vtest_count_fds();
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.reject, -EINVAL);
	msg_release(&m);
	/* All six, kept or not, are closed again. */
	assert_int_equal(vtest_count_fds(), before);
	/* The stream is still in step. */
	n = build(buf, 2, 4);
	raw_send(p.peer, buf, n, NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 2);
	assert_int_equal(m.reject, 0);
	msg_release(&m);
	pair_close(&p);
}

/* The receive limit is max_fds: that many arrive, one more is refused. */
static void fds_up_to_the_limit_and_one_more(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	int fds[5];
	size_t n = build(buf, 1, 8);

	(void)state;
	pair_open(&p, 4096, 4);
	for (int i = 0; i < 5; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	raw_send(p.peer, buf, n, fds, 4);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.reject, 0);
	assert_int_equal(m.nfds, 4);
	msg_release(&m);
	n = build(buf, 2, 8);
	raw_send(p.peer, buf, n, fds, 5);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.reject, -EINVAL);
	msg_release(&m);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	pair_close(&p);
}

static void fds_on_the_body_are_refused(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	int efd = eventfd(0, EFD_CLOEXEC);
	size_t n = build(buf, 3, 24);

	(void)state;
	pair_open(&p, 4096, 4);
	raw_send(p.peer, buf, 16, NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), -EAGAIN);
	raw_send(p.peer, buf + 16, n - 16, &efd, 1);
	close(efd);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.reject, -EINVAL);
	assert_int_equal(m.nfds, 0);
	msg_release(&m);
	pair_close(&p);
}

static void oversized_message_is_refused_at_its_header_then_drained(void **state)
{
	struct pair p;
	uint8_t *buf = malloc(200000);
	struct msg m;
	size_t n = build(buf, 4, 150000);
	unsigned int got = 0;

	(void)state;
	pair_open(&p, 4096, 4);
	n += build(buf + n, 5, 10);
	/* Feed it in chunks while receiving, as a stream would. The refusal
	 * comes with the first chunk, before the body is in. */
	for (size_t off = 0; off < n;) {
		size_t chunk = n - off < 30000 ? n - off : 30000;
		int ret;

		raw_send(p.peer, buf + off, chunk, NULL, 0);
		off += chunk;
		while ((ret = transport_recv(p.t, &m)) == 0) {
			if (got++ == 0) {
				assert_int_equal(off, 30000);
				assert_int_equal(m.hdr.msg_id, 4);
				assert_int_equal(m.reject, -EMSGSIZE);
				assert_null(m.payload);
			} else {
				assert_int_equal(m.hdr.msg_id, 5);
				assert_int_equal(m.len, 10);
			}
			msg_release(&m);
		}
		assert_int_equal(ret, -EAGAIN);
	}
	assert_int_equal(got, 2);
	free(buf);
	pair_close(&p);
}

static void large_body_in_pieces(void **state)
{
	const uint32_t len = 1u << 20;
	uint8_t *buf = malloc(len + 16);
	struct pair p;
	struct msg m;
	size_t n = build(buf, 6, len), off = 0;
	int ret = -EAGAIN;

	(void)state;
	pair_open(&p, len + 64, 4);
	while (off < n) {
		size_t chunk = n - off < 65536 ? n - off : 65536;

		raw_send(p.peer, buf + off, chunk, NULL, 0);
		off += chunk;
		ret = transport_recv(p.t, &m);
		if (off < n)
			assert_int_equal(ret, -EAGAIN);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(m.len, len);
	assert_memory_equal(m.payload, buf + 16, len);
	msg_release(&m);
	free(buf);
	pair_close(&p);
}

static void eof_between_and_inside_messages(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;

	(void)state;
	pair_open(&p, 4096, 4);
	close(p.peer);
	assert_int_equal(transport_recv(p.t, &m), -EPIPE);
	transport_destroy(p.t);

	pair_open(&p, 4096, 4);
	build(buf, 1, 20);
	raw_send(p.peer, buf, 20, NULL, 0); /* header and 4 of 20 bytes */
	close(p.peer);
	assert_int_equal(transport_recv(p.t, &m), -EPROTO);
	transport_destroy(p.t);
}

static void short_msg_size_breaks_framing(void **state)
{
	struct pair p;
	struct wire_hdr h = { .msg_size = 8 };
	struct msg m;

	(void)state;
	pair_open(&p, 4096, 4);
	raw_send(p.peer, &h, sizeof(h), NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), -EPROTO);
	pair_close(&p);
}

static void send_queues_when_the_peer_is_slow(void **state)
{
	const size_t len = 256 * 1024;
	uint8_t *data = calloc(1, len), *got = malloc(len + 16);
	struct wire_hdr h = { .msg_id = 1, .msg_size = (uint32_t)(16 + len) };
	struct iovec iov = { .iov_base = data, .iov_len = len };
	int efd = eventfd(0, EFD_CLOEXEC), sndbuf = 4096;
	struct pair p;
	size_t have = 0;

	(void)state;
	pair_open(&p, 4096, 4);
	setsockopt(transport_fd(p.t), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)i;
	assert_int_equal(transport_send(p.t, &h, &iov, 1, &efd, 1), 0);
	close(efd);
	assert_true(transport_out_pending(p.t) > 0);
	/* Our buffers may be reused at once: the transport copied them. */
	memset(data, 0xee, len);
	while (have < len + 16) {
		ssize_t n = recv(p.peer, got + have, len + 16 - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
		int ret = transport_flush(p.t);
		assert_true(ret == 0 || ret == -EAGAIN);
	}
	assert_int_equal(transport_out_pending(p.t), 0);
	for (size_t i = 0; i < len; i++)
		if (got[16 + i] != (uint8_t)i)
			fail_msg("byte %zu differs", i);
	free(data);
	free(got);
	pair_close(&p);
}

/* Bytes waiting in our end of the socket. */
static int inq(const struct pair *p)
{
	int v = -1;

	assert_int_equal(ioctl(transport_fd(p->t), SIOCINQ, &v), 0);
	return v;
}

/*
 * Messages sent one by one before we read arrive with one read, each
 * delivered whole; once a read found the socket empty, recv_more() does
 * not try it again (what arrives meanwhile waits for recv(), which the
 * loop calls when the socket is readable).
 */
static void messages_sent_together_come_in_one_read(void **state)
{
	struct pair p;
	uint8_t buf[3][64];
	size_t n[3];
	struct msg m;

	(void)state;
	pair_open(&p, 4096, 4);
	for (int i = 0; i < 3; i++) {
		n[i] = build(buf[i], (uint16_t)(10 + i), (uint32_t)(8 + 4 * i));
		raw_send(p.peer, buf[i], n[i], NULL, 0);
	}
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(inq(&p), 0); /* all three are in */
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			assert_true(transport_buffered(p.t));
			assert_int_equal(transport_recv_more(p.t, &m), 0);
		}
		assert_int_equal(m.hdr.msg_id, 10 + i);
		assert_int_equal(m.len, n[i] - 16);
		assert_memory_equal(m.payload, buf[i] + 16, m.len);
		msg_release(&m);
	}
	assert_false(transport_buffered(p.t));
	/* That read was short: recv_more() leaves the socket alone now. */
	raw_send(p.peer, buf[0], n[0], NULL, 0);
	assert_int_equal(transport_recv_more(p.t, &m), -EAGAIN);
	assert_int_equal(inq(&p), (int)n[0]);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 10);
	msg_release(&m);
	pair_close(&p);
}

/*
 * The kernel ends a read after the piece that carried fds: they go to
 * the message that began in that read, the ones before it get none, and
 * recv_more() reads on, as the socket may hold more.
 */
static void fds_go_to_the_message_they_came_with(void **state)
{
	struct pair p;
	uint8_t buf[3][64];
	size_t n[3];
	struct msg m;
	int efd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	pair_open(&p, 4096, 4);
	for (int i = 0; i < 3; i++) {
		n[i] = build(buf[i], (uint16_t)(10 + i), 8);
		raw_send(p.peer, buf[i], n[i], i == 1 ? &efd : NULL, i == 1);
	}
	close(efd);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(inq(&p), (int)n[2]); /* stopped after the fds */
	assert_int_equal(m.hdr.msg_id, 10);
	assert_int_equal(m.nfds, 0);
	msg_release(&m);
	assert_int_equal(transport_recv_more(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 11);
	assert_int_equal(m.nfds, 1);
	assert_int_equal(m.reject, 0);
	efd = msg_take_fd(&m, 0);
	assert_int_equal(eventfd_write(efd, 1), 0); /* a working eventfd */
	close(efd);
	msg_release(&m);
	assert_int_equal(transport_recv_more(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 12);
	assert_int_equal(m.nfds, 0);
	msg_release(&m);
	assert_int_equal(transport_recv_more(p.t, &m), -EAGAIN);
	pair_close(&p);
}

/* A refused message, then one with an fd, all in one read: the body is
 * skipped in the buffer and the fd goes to the message it came with. */
static void refused_message_then_fds_in_one_read(void **state)
{
	struct pair p;
	uint8_t *big = malloc(5000), buf[64];
	size_t nb = build(big, 20, 5000 - 16), n = build(buf, 21, 8);
	int efd = eventfd(0, EFD_CLOEXEC);
	struct msg m;

	(void)state;
	pair_open(&p, 4096, 4);
	raw_send(p.peer, big, nb, NULL, 0);
	raw_send(p.peer, buf, n, &efd, 1);
	close(efd);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 20);
	assert_int_equal(m.reject, -EMSGSIZE);
	assert_null(m.payload);
	msg_release(&m);
	assert_int_equal(transport_recv_more(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 21);
	assert_int_equal(m.reject, 0);
	assert_int_equal(m.nfds, 1);
	assert_memory_equal(m.payload, buf + 16, 8);
	msg_release(&m);
	free(big);
	pair_close(&p);
}

/* A kept message keeps its payload while the messages read with it are
 * delivered and more are read. */
static void kept_message_outlives_the_reads_after_it(void **state)
{
	struct pair p;
	uint8_t buf[3][64];
	size_t n[3];
	struct msg m, k;
	const uint8_t *payload;

	(void)state;
	pair_open(&p, 4096, 4);
	for (int i = 0; i < 3; i++)
		n[i] = build(buf[i], (uint16_t)(30 + i), 40);
	raw_send(p.peer, buf[0], n[0], NULL, 0);
	raw_send(p.peer, buf[1], n[1], NULL, 0);
	assert_int_equal(transport_recv(p.t, &k), 0);
	payload = k.payload;
	assert_int_equal(transport_keep(p.t, &k), 0);
	assert_ptr_equal(k.payload, payload); /* not copied: kept in place */
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 31);
	msg_release(&m);
	raw_send(p.peer, buf[2], n[2], NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 32);
	assert_memory_equal(m.payload, buf[2] + 16, 40);
	msg_release(&m);
	assert_memory_equal(k.payload, buf[0] + 16, 40);
	msg_release(&k);
	pair_close(&p);
}

/* Small messages, then one larger than the buffer, arriving in pieces:
 * the buffer grows and the large one comes whole, in order. */
static void buffer_grows_for_a_large_message(void **state)
{
	const uint32_t len = 300 * 1024;
	uint8_t *big = malloc(len + 16), small[64];
	size_t nb = build(big, 41, len), ns = build(small, 40, 8), off = 0;
	struct pair p;
	struct msg m;
	int ret;

	(void)state;
	pair_open(&p, len + 16, 4);
	raw_send(p.peer, small, ns, NULL, 0);
	raw_send(p.peer, big, 40000, NULL, 0);
	off = 40000;
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 40);
	msg_release(&m);
	while ((ret = transport_recv(p.t, &m)) == -EAGAIN) {
		size_t chunk = MIN(nb - off, (size_t)60000);

		assert_true(chunk > 0);
		raw_send(p.peer, big + off, chunk, NULL, 0);
		off += chunk;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(off, nb);
	assert_int_equal(m.hdr.msg_id, 41);
	assert_int_equal(m.len, len);
	assert_memory_equal(m.payload, big + 16, len);
	msg_release(&m);
	free(big);
	pair_close(&p);
}

/*
 * Peek mode (crash recovery): a message stays in the socket until
 * consumed, so a transport made anew on the same socket -- the restarted
 * process -- gets it again; its fds come with consume().
 */
static void peeked_message_stays_until_consumed(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	int efd = eventfd(0, EFD_CLOEXEC), keep, fd;
	struct transport_limits lim = { .max_msg_size = 4096, .max_fds = 4,
					.peek = true };
	struct transport *t2;
	size_t n = build(buf, 7, 24);

	(void)state;
	pair_open_mode(&p, 4096, 4, true);
	raw_send(p.peer, buf, n, &efd, 1);
	raw_send(p.peer, buf, build(buf, 8, 8), NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_true(m.peeked);
	assert_int_equal(m.hdr.msg_id, 7);
	assert_int_equal(m.nfds, 0); /* not before consume() */
	msg_release(&m);
	/* Not consumed: the next is not delivered. */
	assert_int_equal(transport_recv(p.t, &m), -EBUSY);
	/* "Killed" here: a new transport on the same socket sees it again. */
	keep = dup(transport_fd(p.t));
	transport_destroy(p.t);
	assert_int_equal(transport_sock_create(keep, &lim, &t2), 0);
	assert_int_equal(transport_recv(t2, &m), 0);
	assert_int_equal(m.hdr.msg_id, 7);
	assert_int_equal(transport_consume(t2, &m, true), 0);
	assert_false(m.peeked);
	assert_int_equal(m.nfds, 1);
	fd = msg_take_fd(&m, 0);
	assert_int_equal(eventfd_write(fd, 3), 0);
	assert_int_equal(eventfd_read(efd, &(eventfd_t){ 0 }), 0); /* same eventfd */
	close(fd);
	msg_release(&m);
	assert_int_equal(transport_recv(t2, &m), 0);
	assert_int_equal(m.hdr.msg_id, 8);
	assert_int_equal(transport_consume(t2, &m, true), 0);
	assert_int_equal(m.nfds, 0);
	msg_release(&m);
	assert_int_equal(transport_recv(t2, &m), -EAGAIN);
	transport_destroy(t2);
	close(p.peer);
	close(efd);
}

/*
 * The kernel peeks on into the next piece and returns its fds: a message
 * without fds followed by one with an fd must not get the other's fd
 * (seen as DMA_UNMAPs refused under QEMU, which sends DMA_UNMAP then
 * DMA_MAP back to back).
 */
static void fds_of_the_next_message_stay_with_it(void **state)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct pair p;
	uint8_t buf[64];
	struct msg m;

	(void)state;
	pair_open_mode(&p, 4096, 4, true);
	raw_send(p.peer, buf, build(buf, 1, 24), NULL, 0);
	raw_send(p.peer, buf, build(buf, 2, 32), &efd, 1);
	close(efd);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 1);
	assert_int_equal(transport_consume(p.t, &m, true), 0);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(m.reject, 0);
	msg_release(&m);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(m.hdr.msg_id, 2);
	assert_int_equal(transport_consume(p.t, &m, true), 0);
	assert_int_equal(m.nfds, 1);
	msg_release(&m);
	pair_close(&p);
}

/* Deferred (kept past the next receive) before its fds were taken:
 * consume() gives the message fds it owns. */
static void detached_peeked_message_takes_its_fds(void **state)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct pair p;
	uint8_t buf[64];
	struct msg m;

	(void)state;
	pair_open_mode(&p, 4096, 4, true);
	raw_send(p.peer, buf, build(buf, 1, 24), &efd, 1);
	close(efd);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(msg_detach(&m), 0);
	assert_int_equal(transport_consume(p.t, &m, true), 0);
	assert_int_equal(m.nfds, 1);
	assert_true(m.fds[0] >= 0);
	msg_release(&m); /* frees its own array, closes the fd */
	pair_close(&p);
}

static void partial_message_stalls_without_taking_bytes(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	size_t n = build(buf, 9, 40);

	(void)state;
	pair_open_mode(&p, 4096, 4, true);
	raw_send(p.peer, buf, 10, NULL, 0); /* part of the header */
	assert_int_equal(transport_recv(p.t, &m), -EAGAIN);
	assert_true(transport_stalled(p.t));
	raw_send(p.peer, buf + 10, 20, NULL, 0); /* header and some body */
	assert_int_equal(transport_recv(p.t, &m), -EAGAIN);
	assert_true(transport_stalled(p.t));
	raw_send(p.peer, buf + 30, n - 30, NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_false(transport_stalled(p.t));
	assert_memory_equal(m.payload, buf + 16, 40);
	assert_int_equal(transport_consume(p.t, &m, false), 0);
	msg_release(&m);
	pair_close(&p);
}

static void eof_inside_a_peeked_message(void **state)
{
	struct pair p;
	uint8_t buf[64];
	struct msg m;

	(void)state;
	pair_open_mode(&p, 4096, 4, true);
	build(buf, 1, 20);
	raw_send(p.peer, buf, 20, NULL, 0);
	close(p.peer);
	assert_int_equal(transport_recv(p.t, &m), -EPROTO);
	transport_destroy(p.t);
	pair_open_mode(&p, 4096, 4, true);
	close(p.peer);
	assert_int_equal(transport_recv(p.t, &m), -EPIPE);
	transport_destroy(p.t);
}

/* Past TRANSPORT_PEEK_MAX a message is read as it comes (and one byte
 * less is still peeked whole). */
static void peek_limit_at_and_past(void **state)
{
	const uint32_t at = TRANSPORT_PEEK_MAX - WIRE_HDR_SIZE;
	uint8_t *buf = malloc(TRANSPORT_PEEK_MAX + 16);
	struct pair p;
	struct msg m;

	(void)state;
	pair_open_mode(&p, 1u << 20, 4, true);
	raw_send(p.peer, buf, build(buf, 1, at), NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_true(m.peeked);
	assert_int_equal(transport_consume(p.t, &m, false), 0);
	msg_release(&m);
	raw_send(p.peer, buf, build(buf, 2, at + 1), NULL, 0);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_false(m.peeked);
	assert_int_equal(m.len, at + 1);
	assert_memory_equal(m.payload, buf + 16, at + 1);
	msg_release(&m);
	free(buf);
	pair_close(&p);
}

static void peeked_fds_over_the_limit_are_refused(void **state)
{
	int efd[5];
	struct pair p;
	uint8_t buf[64];
	struct msg m;
	size_t n = build(buf, 3, 8);

	(void)state;
	for (int i = 0; i < 5; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	pair_open_mode(&p, 4096, 4, true);
	raw_send(p.peer, buf, n, efd, 5);
	close_fds(efd, 5);
	assert_int_equal(transport_recv(p.t, &m), 0);
	assert_int_equal(transport_consume(p.t, &m, true), 0);
	assert_int_equal(m.reject, -EINVAL);
	assert_int_equal(m.nfds, 4); /* all closed already */
	msg_release(&m);
	pair_close(&p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(whole_message_with_fd),
		VTEST(header_and_body_in_single_bytes),
		VTEST(too_many_fds_are_closed_and_rejected),
		VTEST(fds_up_to_the_limit_and_one_more),
		VTEST(fds_on_the_body_are_refused),
		VTEST(oversized_message_is_refused_at_its_header_then_drained),
		VTEST(large_body_in_pieces),
		VTEST(eof_between_and_inside_messages),
		VTEST(short_msg_size_breaks_framing),
		VTEST(send_queues_when_the_peer_is_slow),
		VTEST(messages_sent_together_come_in_one_read),
		VTEST(fds_go_to_the_message_they_came_with),
		VTEST(refused_message_then_fds_in_one_read),
		VTEST(kept_message_outlives_the_reads_after_it),
		VTEST(buffer_grows_for_a_large_message),
		VTEST(peeked_message_stays_until_consumed),
		VTEST(fds_of_the_next_message_stay_with_it),
		VTEST(detached_peeked_message_takes_its_fds),
		VTEST(partial_message_stalls_without_taking_bytes),
		VTEST(eof_inside_a_peeked_message),
		VTEST(peek_limit_at_and_past),
		VTEST(peeked_fds_over_the_limit_are_refused),
	};

	return vtest_run("transport", tests, argc, argv);
}
