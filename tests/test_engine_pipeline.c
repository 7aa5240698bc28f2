/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests in flight on one connection: a client may write many requests
 * before it reads a reply, and the server answers each, in order, with
 * its id (replies to requests already read go out together, in one
 * write per batch). Windows around the engine's per-turn budget; a
 * thousand and twenty thousand requests written before any reply is
 * read; a client that reads nothing, which stops the server reading at
 * its output bound (no deadlock, no crash), then reads everything and
 * loses nothing; a reply with an fd among batched ones keeps its fd.
 *
 * The bound and budget cases drive a thread-less server step by step
 * (vus_ctx_run_once(ctx, 0) until it has nothing to do), so "the server
 * stopped" is a state reached, not a timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_priv.h"
#include "tserver.h"
#include "vtest.h"

#define REQ (WIRE_HDR_SIZE + (uint32_t)sizeof(struct wire_region_access))
#define REP (REQ + 4u)
#define NREGS 1024u

/* The register file gets a pattern, so a reply's value says which
 * register was read. */
static void fill_regs(struct tserver *s)
{
	for (unsigned int i = 0; i < sizeof(s->dev.regs); i++)
		s->dev.regs[i] = (uint8_t)(i * 7 + 3);
}

/* @n 4-byte REGION_READs, request i with id @id0 + i, of register i. */
static uint8_t *requests(unsigned int n, uint16_t id0)
{
	uint8_t *buf = malloc((size_t)n * REQ);

	assert_non_null(buf);
	for (unsigned int i = 0; i < n; i++) {
		struct wire_hdr h = { .msg_id = (uint16_t)(id0 + i),
				      .cmd = WIRE_CMD_REGION_READ, .msg_size = REQ };
		struct wire_region_access a = {
			.offset = (i % NREGS) * 4, .region = 0, .count = 4 };

		memcpy(buf + (size_t)i * REQ, &h, sizeof(h));
		memcpy(buf + (size_t)i * REQ + sizeof(h), &a, sizeof(a));
	}
	return buf;
}

/* Whether @p holds the right reply to request @i of requests(@id0). */
static void check_reply(const struct tserver *s, const uint8_t *p,
			unsigned int i, uint16_t id0)
{
	struct wire_hdr h;
	struct wire_region_access a;

	memcpy(&h, p, sizeof(h));
	memcpy(&a, p + sizeof(h), sizeof(a));
	if (h.msg_id != (uint16_t)(id0 + i))
		fail_msg("reply %u has id %u, not %u", i, h.msg_id,
			 (uint16_t)(id0 + i));
	assert_int_equal(h.cmd, WIRE_CMD_REGION_READ);
	assert_int_equal(h.flags, WIRE_F_TYPE_REPLY);
	assert_int_equal(h.msg_size, REP);
	assert_int_equal(a.offset, (i % NREGS) * 4);
	assert_int_equal(a.count, 4);
	assert_memory_equal(p + REQ, s->dev.regs + (i % NREGS) * 4, 4);
}

/* Serve until the server has nothing to do; whether it did anything. */
static bool step(struct tserver *s)
{
	bool did = false;
	int n;

	while ((n = vus_ctx_run_once(s->ctx, 0)) > 0)
		did = true;
	assert_true(n == 0);
	return did;
}

/* A thread-less server, negotiated by stepping it. */
static void start_stepped(struct tserver *s)
{
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":16}}";
	uint8_t v[4 + sizeof(json)] = { 0 };
	struct peer_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	tserver_start(s, &(struct tserver_opts){ .no_thread = true,
						 .no_negotiate = true });
	fill_regs(s);
	memcpy(v + 4, json, sizeof(json));
	peer_send(s, WIRE_CMD_VERSION, 0, v, sizeof(v), NULL, 0);
	assert_true(step(s));
	assert_int_equal(peer_recv(s, m, 0), 0);
	assert_int_equal(m->hdr.flags, WIRE_F_TYPE_REPLY);
	free(m);
}

/* The replies in the socket now, checked: how many (@got so far). */
static unsigned int take(struct tserver *s, uint8_t *buf, size_t cap,
			 size_t *have, unsigned int got, uint16_t id0)
{
	unsigned int k = 0;
	ssize_t n;

	while ((n = recv(s->peer, buf + *have, cap - *have, MSG_DONTWAIT)) > 0) {
		size_t at = 0;

		*have += (size_t)n;
		for (; *have - at >= REP; at += REP, k++)
			check_reply(s, buf + at, got + k, id0);
		memmove(buf, buf + at, *have - at);
		*have -= at;
	}
	assert_true(n < 0 && errno == EAGAIN);
	return k;
}

static bool poll_fd_readable(struct tserver *s)
{
	struct pollfd p = { .fd = vus_ctx_get_poll_fd(s->ctx), .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/*
 * A turn handles a budget of messages (ENGINE_BUDGET per wake-up): windows
 * around it. After one turn every request the device has seen has its
 * reply in the socket (the last reply of a batch is never left held
 * back), and if some are left, the context's poll fd says so; the next
 * turns answer the rest.
 */
static void windows_around_the_budget(void **state)
{
	const unsigned int sizes[] = { ENGINE_BUDGET - 1, ENGINE_BUDGET,
				       ENGINE_BUDGET + 1, 2 * ENGINE_BUDGET,
				       2 * ENGINE_BUDGET + 1, 4 * ENGINE_BUDGET };
	uint8_t rbuf[4 * ENGINE_BUDGET * REP];

	(void)state;
	for (unsigned int c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
		unsigned int n = sizes[c], got;
		uint8_t *buf = requests(n, 100);
		struct tserver s;
		size_t have = 0;

		start_stepped(&s);
		peer_send_raw(&s, buf, (size_t)n * REQ, NULL, 0);
		assert_true(vus_ctx_run_once(s.ctx, 0) > 0);
		got = take(&s, rbuf, sizeof(rbuf), &have, 0, 100);
		assert_int_equal(have, 0);
		assert_true(got > 0);
		if (got != s.dev.reads)
			fail_msg("window %u: %u requests seen, %u answered after "
				 "one turn", n, s.dev.reads, got);
		assert_int_equal(poll_fd_readable(&s), got < n);
		step(&s);
		got += take(&s, rbuf, sizeof(rbuf), &have, got, 100);
		assert_int_equal(got, n);
		assert_int_equal(s.dev.reads, n);
		assert_false(poll_fd_readable(&s));
		tserver_stop(&s);
		free(buf);
	}
}

/*
 * A threaded server; the client writes all its requests, then reads: a
 * thousand, and twenty thousand (880 KB of replies, more than the socket
 * holds: the server queues while the client writes and sends the queue
 * while it reads, so queued and batched replies meet, in order).
 */
static void requests_written_before_any_reply_is_read(void **state)
{
	const unsigned int counts[] = { 1000, 20000 };
	struct peer_msg *m = calloc(1, sizeof(*m));

	(void)state;
	assert_non_null(m);
	for (unsigned int c = 0; c < 2; c++) {
		unsigned int n = counts[c];
		uint8_t *buf = requests(n, 65000); /* the ids wrap around */
		struct tserver s;

		tserver_start(&s, &(struct tserver_opts){ 0 });
		fill_regs(&s);
		peer_send_raw(&s, buf, (size_t)n * REQ, NULL, 0);
		for (unsigned int i = 0; i < n; i++) {
			uint8_t whole[REP];

			assert_int_equal(peer_recv(&s, m, 5000), 0);
			assert_int_equal(m->nfds, 0);
			memcpy(whole, &m->hdr, sizeof(m->hdr));
			assert_int_equal(m->len, REP - WIRE_HDR_SIZE);
			memcpy(whole + WIRE_HDR_SIZE, m->payload, m->len);
			check_reply(&s, whole, i, 65000);
		}
		assert_int_equal(s.dev.reads, n);
		tserver_stop(&s);
		free(buf);
	}
	free(m);
}

/*
 * A client that writes and never reads: the server answers until ENGINE_OUT_HIGH
 * bytes of replies wait for the client (besides what the socket holds),
 * then stops reading; the client's writes then stall. Nothing hangs: the
 * client reads, the server goes on, every request is answered in order.
 */
static void a_client_that_reads_nothing_stops_the_server_at_its_bound(void **state)
{
	/* Room for twice the bound: never reached if the server stops. */
	const unsigned int n = 2 * ENGINE_OUT_HIGH / REP;
	uint8_t *buf = requests(n, 0), *rbuf = malloc(64 * 1024);
	size_t sent = 0, have = 0, len = (size_t)n * REQ;
	unsigned int taken, got = 0, asked;
	int sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);
	struct tserver s;

	(void)state;
	assert_non_null(rbuf);
	start_stepped(&s);
	assert_int_equal(getsockopt(s.peer, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl), 0);
	for (bool moved = true; moved;) {
		ssize_t w = send(s.peer, buf + sent, len - sent, MSG_DONTWAIT);

		assert_true(w > 0 || errno == EAGAIN);
		sent += w > 0 ? (size_t)w : 0;
		moved = step(&s) || w > 0;
		if (sent == len)
			fail_msg("the server read %zu requests from a client that "
				 "reads nothing", len / REQ);
	}
	/* It took at least what fills its output bound, and no more than
	 * that, one reply past the check, the socket's buffer and one turn. */
	taken = s.dev.reads;
	assert_true((size_t)taken * REP >= ENGINE_OUT_HIGH);
	if ((size_t)taken * REP > ENGINE_OUT_HIGH + (size_t)sndbuf +
				  (ENGINE_BUDGET + 1) * REP)
		fail_msg("the server took %u requests (%zu bytes of replies) "
			 "from a client that reads nothing", taken,
			 (size_t)taken * REP);
	assert_true(sent > (size_t)taken * REQ); /* the client was ahead */
	/* Now read everything; finish the request cut in two, if any. */
	asked = (unsigned int)((sent + REQ - 1) / REQ);
	while (got < asked) {
		bool moved = false;
		unsigned int k;

		if (sent % REQ) {
			ssize_t w = send(s.peer, buf + sent, REQ - sent % REQ,
					 MSG_DONTWAIT);

			sent += w > 0 ? (size_t)w : 0;
			moved = w > 0;
		}
		k = take(&s, rbuf, 64 * 1024, &have, got, 0);
		got += k;
		moved |= step(&s) || k > 0;
		if (!moved)
			fail_msg("stuck: %u of %u requests answered", got, asked);
	}
	assert_int_equal(have, 0);
	assert_int_equal(s.dev.reads, asked);
	tserver_stop(&s);
	free(rbuf);
	free(buf);
}

/*
 * Batched replies and one that carries an fd (the region info of the
 * mappable region 1): the fd arrives with its own reply, never with a
 * batched one written before it.
 */
static void an_fd_among_batched_replies_keeps_to_its_reply(void **state)
{
	struct wire_region_info ri = { .argsz = 512, .index = 1 };
	struct wire_hdr h = { .msg_id = 2, .cmd = WIRE_CMD_DEVICE_GET_REGION_INFO,
			      .msg_size = WIRE_HDR_SIZE + sizeof(ri) };
	uint8_t *reads = requests(4, 0), buf[4 * REQ + sizeof(h) + sizeof(ri)];
	struct peer_msg *m = calloc(1, sizeof(*m));
	struct tserver s;
	size_t at = 0;

	(void)state;
	assert_non_null(m);
	start_stepped(&s);
	/* read 0, read 1, region info (id 2), read 3 (ids 0, 1, 3 of reads) */
	memcpy(buf, reads, 2 * REQ);
	at = 2 * REQ;
	memcpy(buf + at, &h, sizeof(h));
	memcpy(buf + at + sizeof(h), &ri, sizeof(ri));
	at += sizeof(h) + sizeof(ri);
	memcpy(buf + at, reads + 3 * REQ, REQ);
	at += REQ;
	peer_send_raw(&s, buf, at, NULL, 0);
	step(&s);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, i);
		assert_int_equal(m->hdr.flags, WIRE_F_TYPE_REPLY);
		assert_int_equal(m->nfds, i == 2 ? 1 : 0);
		peer_msg_close_fds(m);
	}
	tserver_stop(&s);
	free(m);
	free(reads);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(windows_around_the_budget),
		VTEST(requests_written_before_any_reply_is_read),
		VTEST(a_client_that_reads_nothing_stops_the_server_at_its_bound),
		VTEST(an_fd_among_batched_replies_keeps_to_its_reply),
	};

	return vtest_run("engine_pipeline", tests, argc, argv);
}
