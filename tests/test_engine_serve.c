/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How a context meets clients: a listening socket served one client at a
 * time, clients that connect and vanish, socket activation, stale socket
 * files, a user's own poll loop around vus_ctx_run_once(), and a 1 MiB
 * write arriving in pieces.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"

static struct peer_msg *newmsg(void)
{
	struct peer_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

static int get_info(struct tserver *s, struct peer_msg *m)
{
	struct wire_device_info di = { .argsz = 16 };

	return peer_call(s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, m);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void clients_that_vanish_at_once(void **state)
{
	const char *path = strdup(vtest_sock_path("vanish"));
	struct peer_msg *m = newmsg();
	struct tserver s;

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .listen_path = path });
	for (int i = 0; i < 20; i++)
		close(raw_connect(path));
	/* Half a header, then gone. */
	for (int i = 0; i < 5; i++) {
		int fd = raw_connect(path);
		assert_int_equal(write(fd, "\1\0\1\0", 4), 4);
		close(fd);
	}
	peer_connect(&s, path, true);
	assert_int_equal(get_info(&s, m), 0);
	tserver_stop(&s);
	/* The socket file goes with the context. */
	assert_int_equal(access(path, F_OK), -1);
	free((void *)path);
	free(m);
}

static void one_client_at_a_time(void **state)
{
	const char *path = strdup(vtest_sock_path("serial"));
	struct peer_msg *m = newmsg();
	struct tserver s;
	struct pollfd pf;
	int second;

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .listen_path = path });
	peer_connect(&s, path, true);
	assert_int_equal(get_info(&s, m), 0);
	s.dev.regs[0] = 0x55;
	/* A second client connects (the backlog takes it) but is not served. */
	second = raw_connect(path);
	{
		struct tserver other = s;
		other.peer = second;
		peer_send(&other, WIRE_CMD_VERSION, 0, "\0\0\0\0", 4, NULL, 0);
	}
	pf = (struct pollfd){ .fd = second, .events = POLLIN };
	assert_int_equal(poll(&pf, 1, vtest_ms(300)), 0);
	/* The first leaves; the device is told; the second is served. */
	close(s.peer);
	s.peer = second;
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_VERSION);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(s.dev.client_losts, 1);
	assert_int_equal(s.dev.resets, 0);
	assert_int_equal(get_info(&s, m), 0);
	tserver_stop(&s);
	free((void *)path);
	free(m);
}

static void socket_activation(void **state)
{
	const char *path = vtest_sock_path("activated");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct peer_msg *m = newmsg();
	struct tserver s;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	tserver_start(&s, &(struct tserver_opts){ .listen_fd = lfd });
	peer_connect(&s, sa.sun_path, true);
	assert_int_equal(get_info(&s, m), 0);
	tserver_stop(&s);
	/* An inherited socket's file is the owner's business. */
	assert_int_equal(access(sa.sun_path, F_OK), 0);
	unlink(sa.sun_path);
	free(m);
}

static vus_ctx *realized_ctx(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_region_desc r = { .struct_size = sizeof(r), .size = 4096,
		.flags = VUS_REGION_READ, .backing = VUS_BACKING_MEM };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_region_setup(ctx, 0, &r), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	return ctx;
}

static void stale_live_and_foreign_socket_paths(void **state)
{
	char path[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	vus_ctx *a = realized_ctx(), *b = realized_ctx();
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s", vtest_sock_path("stale"));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A socket file nobody listens on is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(vus_ctx_listen(a, path), 0);
	/* A live one is not. */
	assert_int_equal(vus_ctx_listen(b, path), -EADDRINUSE);
	vus_ctx_destroy(a);
	/* Nor is a file that is not a socket. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	assert_int_equal(vus_ctx_listen(b, path), -EADDRINUSE);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	/* Unrealized contexts, bad fds and bad paths. */
	assert_int_equal(vus_ctx_listen(b, ""), -EINVAL);
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(vus_ctx_listen(b, path), -ENAMETOOLONG);
	assert_int_equal(vus_ctx_listen_fd(b, open("/dev/null", O_RDONLY | O_CLOEXEC)),
			 -ENOTSOCK);
	vus_ctx_destroy(b);
}

static void users_own_poll_loop(void **state)
{
	struct peer_msg *m = newmsg();
	struct wire_device_info di = { .argsz = 16 };
	struct tserver s;
	struct pollfd pf;
	uint16_t id;
	int got = 0;

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_thread = true,
						  .no_negotiate = true });
	pf = (struct pollfd){ .fd = vus_ctx_get_poll_fd(s.ctx), .events = POLLIN };
	/* Nothing to do: run_once(0) returns at once. */
	assert_int_equal(vus_ctx_run_once(s.ctx, 0), 0);
	peer_send(&s, WIRE_CMD_VERSION, 0, "\0\0\0\0", 4, NULL, 0);
	id = peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0);
	while (got < 2) {
		assert_int_equal(poll(&pf, 1, vtest_ms(2000)), 1);
		assert_true(vus_ctx_run_once(s.ctx, 0) >= 0);
		while (got < 2 && peer_recv(&s, m, 0) == 0)
			got++;
	}
	assert_int_equal(m->hdr.msg_id, id);
	assert_true(vus_ctx_has_client(s.ctx));
	tserver_stop(&s);
	free(m);
}

/*
 * More messages than one turn handles (ENGINE_BUDGET), all read from the
 * socket at once: the rest wait in the transport's buffer, where the
 * socket cannot announce them, so the poll fd must. A user's loop that
 * polls it sees every message handled, the read behind them last.
 */
static void messages_read_ahead_wake_the_users_loop(void **state)
{
	enum { N = 150 }; /* > ENGINE_BUDGET; what the socket holds unread */
	struct peer_msg *m = newmsg();
	struct {
		struct wire_region_access a;
		uint32_t v;
	} __attribute__((packed)) w = { .a = { .offset = 0x10, .count = 4 } };
	struct wire_region_access r = { .offset = 0x10, .count = 4 };
	struct tserver s;
	struct pollfd pf;
	uint16_t id;

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_thread = true,
						  .no_negotiate = true });
	pf = (struct pollfd){ .fd = vus_ctx_get_poll_fd(s.ctx), .events = POLLIN };
	peer_send(&s, WIRE_CMD_VERSION, 0, "\0\0\0\0", 4, NULL, 0);
	for (uint32_t i = 0; i < N; i++) {
		w.v = i;
		peer_send(&s, WIRE_CMD_REGION_WRITE, WIRE_F_NO_REPLY, &w,
			  sizeof(w), NULL, 0);
	}
	id = peer_send(&s, WIRE_CMD_REGION_READ, 0, &r, sizeof(r), NULL, 0);
	for (bool done = false; !done;) {
		assert_int_equal(poll(&pf, 1, vtest_ms(2000)), 1);
		assert_true(vus_ctx_run_once(s.ctx, 0) >= 0);
		while (!done && peer_recv(&s, m, 0) == 0)
			done = m->hdr.msg_id == id;
	}
	assert_int_equal(s.dev.writes, N);
	assert_int_equal(m->len, sizeof(r) + 4);
	assert_int_equal(*(uint32_t *)(m->payload + sizeof(r)), N - 1);
	tserver_stop(&s);
	free(m);
}

/* Drive a thread-less server until it has nothing left to do. */
static void drain(struct tserver *s)
{
	while (vus_ctx_run_once(s->ctx, 50) > 0)
		;
}

/*
 * Regression: connected() was signalled after the batch of messages in
 * which VERSION arrived, so a client that negotiated and hung up in one
 * batch lost it and the next client got it (even without negotiating), and
 * messages after VERSION reached the device first.
 */
static void connected_belongs_to_the_client_that_negotiated(void **state)
{
	const char *path = strdup(vtest_sock_path("connected"));
	struct wire_region_access a = { .offset = 0, .region = 0, .count = 4 };
	struct peer_msg *m = newmsg();
	struct tserver s;

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .listen_path = path,
						  .no_thread = true });
	/* Client 1 negotiates and leaves before the server runs. */
	peer_connect(&s, path, false);
	peer_send(&s, WIRE_CMD_VERSION, 0, "\0\0\0\0", 4, NULL, 0);
	close(s.peer);
	s.peer = -1;
	drain(&s);
	assert_int_equal(s.dev.connects, 0);
	/* Client 2 only sends a bad message: still nobody connected. */
	peer_connect(&s, path, false);
	peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, "xxxx", 4, NULL, 0);
	drain(&s);
	assert_int_equal(peer_recv(&s, m, 1000), 0);
	assert_int_equal(s.dev.connects, 0);
	/* It negotiates with a read right behind: connected() comes first. */
	peer_send(&s, WIRE_CMD_VERSION, 0, "\0\0\0\0", 4, NULL, 0);
	peer_send(&s, WIRE_CMD_REGION_READ, 0, &a, sizeof(a), NULL, 0);
	drain(&s);
	assert_int_equal(s.dev.connects, 1);
	assert_int_equal(s.dev.reads, 1);
	assert_int_equal(s.dev.early_accesses, 0);
	tserver_stop(&s);
	free((void *)path);
	free(m);
}

static unsigned int fd_events;

static void count_event(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	uint64_t v;

	(void)opaque;
	fd_events++;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
}

/* Device fds on the context loop: watched, paused, resumed, removed. */
static void device_fd_handlers(void **state)
{
	struct tserver s;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_thread = true,
						  .no_negotiate = true });
	fd_events = 0;
	assert_int_equal(vus_ctx_add_fd(s.ctx, efd, EPOLLIN, count_event, NULL), 0);
	assert_int_equal(vus_ctx_add_fd(s.ctx, efd, EPOLLIN, count_event, NULL), -EEXIST);
	assert_int_equal(eventfd_write(efd, 1), 0);
	assert_true(vus_ctx_run_once(s.ctx, 1000) >= 1);
	assert_int_equal(fd_events, 1);
	/* Paused: the event waits. */
	assert_int_equal(vus_ctx_mod_fd(s.ctx, efd, 0), 0);
	assert_int_equal(eventfd_write(efd, 1), 0);
	assert_int_equal(vus_ctx_run_once(s.ctx, 50), 0);
	assert_int_equal(fd_events, 1);
	assert_int_equal(vus_ctx_mod_fd(s.ctx, efd, EPOLLIN), 0);
	assert_true(vus_ctx_run_once(s.ctx, 1000) >= 1);
	assert_int_equal(fd_events, 2);
	assert_int_equal(vus_ctx_del_fd(s.ctx, efd), 0);
	assert_int_equal(vus_ctx_del_fd(s.ctx, efd), -ENOENT);
	assert_int_equal(vus_ctx_mod_fd(s.ctx, efd, EPOLLIN), -ENOENT);
	tserver_stop(&s);
	close(efd);
}

static void one_mib_write_in_pieces(void **state)
{
	const uint32_t len = 1u << 20;
	struct peer_msg *m = newmsg();
	uint8_t *buf = malloc(32 + len), *mem;
	struct wire_hdr h = { .msg_id = 9, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = 32 + len };
	struct wire_region_access a = { .offset = 4096, .region = 2, .count = len };
	struct wire_region_access rd = { .offset = 4096 + 12345, .region = 2,
					 .count = len - 12345 };
	struct tserver s;

	(void)state;
	tserver_start(&s, NULL);
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &a, 16);
	for (uint32_t i = 0; i < len; i++)
		buf[32 + i] = (uint8_t)(i ^ (i >> 8));
	for (size_t off = 0; off < h.msg_size;) {
		size_t n = h.msg_size - off < 65521 ? h.msg_size - off : 65521;
		peer_send_raw(&s, buf + off, n, NULL, 0);
		off += n;
	}
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, 9);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	mem = vus_region_mem(s.ctx, 2);
	assert_memory_equal(mem + 4096, buf + 32, len);
	/* And read most of it back in one reply. */
	assert_int_equal(peer_call(&s, WIRE_CMD_REGION_READ, &rd, sizeof(rd),
				   NULL, 0, m), 0);
	assert_int_equal(m->len, 16 + rd.count);
	assert_memory_equal(m->payload + 16, buf + 32 + 12345, rd.count);
	tserver_stop(&s);
	free(buf);
	free(m);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(clients_that_vanish_at_once),
		VTEST(one_client_at_a_time),
		VTEST(socket_activation),
		VTEST(stale_live_and_foreign_socket_paths),
		VTEST(users_own_poll_loop),
		VTEST(messages_read_ahead_wake_the_users_loop),
		VTEST(connected_belongs_to_the_client_that_negotiated),
		VTEST(device_fd_handlers),
		VTEST(one_mib_write_in_pieces),
	};

	return vtest_run("engine_serve", tests, argc, argv);
}
