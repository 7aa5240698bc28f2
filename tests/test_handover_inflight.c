/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade, what is in flight on the sockets: a message the old
 * process had half read, replies the client has not read, a client
 * waiting in the listener's backlog, input read ahead; and the management
 * socket, through which the hand-over is asked for, moving too. Both
 * contexts are in this process (test_handover_util.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ho.h"
#include "test_handover_util.h"

/* Bytes the peer sent that the server has not read yet. */
static int unread(struct tserver *s)
{
	int n = 0;

	assert_int_equal(ioctl(s->peer, SIOCOUTQ, &n), 0);
	return n;
}

/*
 * A message the old process had half read when it stopped: its header
 * and part of its body were in its buffer. The new process finishes
 * reading it and answers it, under its id.
 */
static void a_half_read_message_is_finished_by_the_new_process(void **state)
{
	struct wire_region_access a = { .offset = 0, .region = 0, .count = 8 };
	uint8_t req[sizeof(a) + 8], buf[8];
	struct wire_hdr h = { .msg_id = 77, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = WIRE_HDR_SIZE + sizeof(req) };
	struct tserver o, n;

	(void)state;
	start_pair(&o, &n, NULL);
	memcpy(req, &a, sizeof(a));
	memcpy(req + sizeof(a), "finished", 8);
	peer_send_raw(&o, &h, sizeof(h), NULL, 0);
	peer_send_raw(&o, req, 10, NULL, 0);
	/* Wait (on the socket, not the clock) until the server took them. */
	while (unread(&o) > 0)
		usleep(1000);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	peer_send_raw(&n, req + 10, sizeof(req) - 10, NULL, 0);
	assert_int_equal(peer_recv(&n, m, vtest_ms(5000)), 0);
	assert_int_equal(m->hdr.msg_id, 77);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(peer_region_rw(&n, 0, 0, buf, 8, false, m), 0);
	assert_memory_equal(buf, "finished", 8);
	tserver_stop(&o);
	tserver_stop(&n);
}

/*
 * Replies the client has not read yet (more than the old process would
 * buffer: it stopped taking requests) reach it from the new process, in
 * order and whole.
 */
static void unread_replies_move_too(void **state)
{
	enum { N = 96, LEN = 64 << 10 };
	struct wire_region_access a = { .region = 2, .count = LEN };
	struct tserver o, n;
	uint8_t *mem;

	(void)state;
	start_pair(&o, &n, NULL);
	tserver_pause(&o);
	mem = vus_region_mem(o.ctx, 2);
	for (uint32_t i = 0; i < (2u << 20); i++)
		mem[i] = (uint8_t)(i * 13 + i / 4096);
	tserver_resume(&o);
	for (uint32_t i = 0; i < N; i++) {
		a.offset = (uint64_t)(i % 32) * LEN;
		(void)peer_send(&o, WIRE_CMD_REGION_READ, 0, &a, sizeof(a), NULL, 0);
	}
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	mem = vus_region_mem(n.ctx, 2);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(peer_recv(&n, m, vtest_ms(5000)), 0);
		assert_int_equal(m->hdr.msg_id, (uint16_t)(o.next_id - N + i));
		assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
		assert_int_equal(m->len, sizeof(a) + LEN);
		assert_memory_equal(m->payload + sizeof(a),
				    mem + (uint64_t)(i % 32) * LEN, LEN);
	}
	assert_int_equal(get_info(&n), 0);
	tserver_stop(&o);
	tserver_stop(&n);
}

/* A client that comes during the hand-over waits, and the new one serves it. */
static void the_backlog_moves_with_the_listener(void **state)
{
	struct tserver o, n, second = { .peer = -1 };

	(void)state;
	start_pair(&o, &n, NULL);
	peer_connect(&second, path, false); /* waits: one client at a time */
	(void)peer_send(&second, WIRE_CMD_VERSION, 0, "\0\0\0\0{}", 7, NULL, 0);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	assert_int_equal(get_info(&n), 0);
	close(n.peer);
	n.peer = second.peer;
	n.next_id = second.next_id;
	assert_int_equal(peer_recv(&n, m, vtest_ms(5000)), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_VERSION);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(get_info(&n), 0);
	tserver_stop(&o);
	tserver_stop(&n);
}

/* A 20-byte message (header + 4 bytes) with id @id. */
static void small_msg(uint8_t *p, uint16_t id)
{
	struct wire_hdr h = { .msg_id = id, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = WIRE_HDR_SIZE + 4 };

	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), "body", 4);
}

static void expect_msg(struct transport *t, uint16_t id, unsigned int nfds)
{
	struct msg msg;

	assert_int_equal(transport_recv(t, &msg), 0);
	assert_int_equal(msg.hdr.msg_id, id);
	assert_int_equal(msg.nfds, nfds);
	assert_int_equal(msg.reject, 0);
	for (unsigned int i = 0; i < nfds; i++)
		assert_int_equal(write(msg.fds[i], &(uint64_t){ 1 }, 8), 8);
	msg_release(&msg);
}

/* Restore @in on a dup of @fd with its next fd dup'd: the result. */
static int restore_dup(int fd, const struct transport_limits *lim,
		       struct transport_saved_in in, struct transport **out)
{
	int next = in.next.n ? dup(in.next.fds[0]) : -1;

	in.next.fds = &next;
	return transport_sock_restore(dup(fd), lim, &in, out);
}

/*
 * Input read ahead moves whole: two messages and a third that brought an
 * fd came in one read; the first was handled. The new transport delivers
 * the second and the third with its fd. A saved input this side could
 * not hold at a message boundary is refused, its fds closed.
 */
static void input_read_ahead_moves_whole(void **state)
{
	struct transport_limits lim = { .max_msg_size = 4096, .max_fds = 8 };
	uint8_t two[40], third[20];
	struct iovec v = { .iov_base = third, .iov_len = sizeof(third) };
	struct transport_saved_in in, bad;
	struct transport *a, *b;
	int sv[2], efd = eventfd(0, EFD_CLOEXEC), before;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(transport_sock_create(sv[0], &lim, &a), 0);
	small_msg(two, 1);
	small_msg(two + 20, 2);
	small_msg(third, 3);
	assert_int_equal(write(sv[1], two, sizeof(two)), (ssize_t)sizeof(two));
	assert_int_equal(transport_sendmsg(sv[1], &v, 1, &efd, 1), (ssize_t)sizeof(third));
	expect_msg(a, 1, 0);
	transport_sock_save(a, &in);
	assert_int_equal(in.len, 40);
	assert_true(in.has_next);
	assert_int_equal(in.next_at, 20);
	assert_int_equal(in.next.n, 1);
	before = vtest_count_fds();
	bad = in;
	bad.next_at = 0;
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	bad.next_at = in.len;
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	bad = in;
	bad.skip = 1;
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	bad = in;
	bad.len = 64 * 1024 + 1; /* past the buffer (4096 < 64 KiB) */
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	assert_int_equal(vtest_count_fds(), before);
	assert_int_equal(restore_dup(sv[0], &lim, in, &b), 0);
	transport_destroy(a);
	expect_msg(b, 2, 0);
	expect_msg(b, 3, 1);
	assert_int_equal(events(efd), 1);
	transport_destroy(b);
	close(sv[1]);
	close(efd);
}

/* One JSON-RPC call on a new connection to @rpc: the reply line. */
static void rpc_line(const char *rpc, const char *req, char *buf, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", rpc);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < cap && (n == 0 || buf[n - 1] != '\n') &&
	       read(fd, buf + n, 1) == 1)
		n++;
	buf[n] = '\0';
	close(fd);
}

#define HO_REQ(proto) "{\"jsonrpc\":\"2.0\",\"method\":\"vus.handover\"," \
	"\"params\":{\"protocol\":" #proto "},\"id\":7}\n"
#define STATUS_REQ "{\"jsonrpc\":\"2.0\",\"method\":\"query-status\",\"id\":8}\n"

/*
 * Through the management socket, as the samples' --take-over does: the
 * new process calls "vus.handover" at the old one's RPC path, and the
 * management socket moves with the device, so the next process finds it
 * at the same path. The old context's destroy leaves that path; the new
 * one's removes it. A caller speaking another hand-over protocol is
 * refused and the old process serves on.
 */
static void the_management_socket_hands_over_and_moves(void **state)
{
	struct vus_takeover_config cfg = quiet;
	struct tserver o, n;
	vus_takeover *tk;
	char rpc[256], line[4096];

	(void)state;
	/* Not vtest_sock_path(): @path lives in its buffer. */
	snprintf(rpc, sizeof(rpc), "%s.rpc", path);
	start_pair(&o, &n, NULL);
	tserver_pause(&o);
	assert_int_equal(vus_ctx_rpc_listen(o.ctx, rpc), 0);
	tserver_resume(&o);
	rpc_line(rpc, HO_REQ(2), line, sizeof(line));
	assert_non_null(strstr(line, "EPROTONOSUPPORT"));
	assert_int_equal(get_info(&o), 0);
	cfg.timeout_ms = (uint32_t)vtest_ms(10000);
	assert_int_equal(vus_takeover_begin(rpc, &cfg, &tk), 0);
	assert_int_equal(vus_ctx_take_over(n.ctx, tk), 0);
	move_client(&o, &n);
	assert_int_equal(get_info(&n), 0);
	/* The management socket answers from the new context. */
	rpc_line(rpc, STATUS_REQ, line, sizeof(line));
	assert_non_null(strstr(line, "\"result\""));
	tserver_stop(&o);
	assert_int_equal(access(rpc, F_OK), 0);
	rpc_line(rpc, STATUS_REQ, line, sizeof(line));
	assert_non_null(strstr(line, "\"result\""));
	tserver_stop(&n);
	assert_int_equal(access(rpc, F_OK), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		HO_TEST(a_half_read_message_is_finished_by_the_new_process),
		HO_TEST(unread_replies_move_too),
		HO_TEST(the_backlog_moves_with_the_listener),
		HO_TEST(input_read_ahead_moves_whole),
		HO_TEST(the_management_socket_hands_over_and_moves),
	};

	return vtest_run("handover_inflight", tests, argc, argv);
}
