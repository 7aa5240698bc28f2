/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rpc_detach: the hand-over hook (lib/rpc_internal.h, rpc_detach_conn()) that
 * live upgrade builds on: a method takes its management connection out of
 * the RPC module once its reply is out, and the fd it gets starts exactly
 * after the request's line. One thread: the test pumps the context.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc_internal.h"
#include "vtest.h"

struct taken {
	int calls;
	int fd;          /* what the callback got */
	int detach_ret;  /* rpc_detach_conn()'s return in the handler */
};

static struct taken tk;

static void got_fd(void *opaque, int fd)
{
	struct taken *t = opaque;

	t->calls++;
	t->fd = fd;
}

static int take(vus_ctx *ctx, void *opaque, vus_rpc_req *req, vus_rpc_out *res)
{
	tk.detach_ret = rpc_detach_conn(req, got_fd, &tk);
	/* Twice is refused: one hand-over per call. */
	if (tk.detach_ret == 0 && rpc_detach_conn(req, got_fd, &tk) != -EINVAL)
		return -EPROTO;
	return vus_rpc_out_bool(res, "taken", tk.detach_ret == 0);
}

static vus_ctx *make(const char *path)
{
	static const struct vus_rpc_method m = { .struct_size = sizeof(m),
		.name = "vus.take-over", .summary = "hand the connection over",
		.handler = take };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_ERR, NULL, NULL);
	/* Library methods may use "vus."; a device may not. */
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	assert_int_equal(rpc_register_lib(ctx, &m, NULL), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(vus_ctx_rpc_listen(ctx, path), 0);
	memset(&tk, 0, sizeof(tk));
	tk.fd = -1;
	return ctx;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Run the context until @done or nothing is left to do. */
static void pump(vus_ctx *ctx, const int *done)
{
	for (int i = 0; i < 1000 && (done == NULL || *done == 0); i++)
		if (vus_ctx_run_once(ctx, done ? vtest_ms(100) : 0) == 0 &&
		    done == NULL)
			break;
}

/* A line from @fd (the test's blocking end). */
static void read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap && recv(fd, buf + n, 1, 0) == 1 && buf[n] != '\n')
		n++;
	buf[n] = '\0';
}

static void the_fd_starts_right_after_the_request(void **state)
{
	const char *path = vtest_sock_path("detach");
	vus_ctx *ctx = make(path);
	int c = dial(path);
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
		"\"vus.take-over\"}\n{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":"
		"\"query-status\"}\nBINARY\x00\x01";
	char line[256], raw[64];
	ssize_t n;

	/* The request, a second request and binary bytes in one write. */
	assert_int_equal(send(c, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	pump(ctx, &tk.calls);
	assert_int_equal(tk.calls, 1);
	assert_int_equal(tk.detach_ret, 0);
	assert_true(tk.fd >= 0);
	read_line(c, line, sizeof(line));
	assert_non_null(strstr(line, "\"id\":9"));
	assert_non_null(strstr(line, "\"taken\":true"));
	/* Nothing after the request's newline was read by the RPC module. */
	n = recv(tk.fd, raw, sizeof(raw), MSG_DONTWAIT);
	assert_int_equal(n, sizeof(req) - 1 - strlen(
		"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"vus.take-over\"}\n"));
	assert_memory_equal(raw, "{\"jsonrpc\":\"2.0\",\"id\":10,", 25);
	assert_memory_equal(raw + n - 8, "BINARY\x00\x01", 8);
	/* Ours now, both ways; the RPC module answers nothing more on it. */
	assert_int_equal(send(tk.fd, "ok", 2, MSG_NOSIGNAL), 2);
	assert_int_equal(recv(c, raw, 2, 0), 2);
	assert_memory_equal(raw, "ok", 2);
	pump(ctx, NULL);
	assert_int_equal(recv(c, raw, sizeof(raw), MSG_DONTWAIT), -1);
	close(tk.fd);
	close(c);
	vus_ctx_destroy(ctx);
	assert_int_equal(tk.calls, 1);
}

static void no_hand_over_in_a_batch_or_a_notification(void **state)
{
	const char *path = vtest_sock_path("detach");
	vus_ctx *ctx = make(path);
	int c = dial(path);
	char line[512];
	static const char batch[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		"\"vus.take-over\"}]\n";
	static const char notif[] = "{\"jsonrpc\":\"2.0\",\"method\":"
		"\"vus.take-over\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
		"\"query-log-level\"}\n";

	assert_int_equal(send(c, batch, sizeof(batch) - 1, 0), sizeof(batch) - 1);
	pump(ctx, NULL);
	read_line(c, line, sizeof(line));
	assert_non_null(strstr(line, "\"taken\":false"));
	assert_int_equal(tk.detach_ret, -EINVAL);
	assert_int_equal(send(c, notif, sizeof(notif) - 1, 0), sizeof(notif) - 1);
	pump(ctx, NULL);
	read_line(c, line, sizeof(line));
	assert_non_null(strstr(line, "\"id\":2"));
	assert_int_equal(tk.detach_ret, -EINVAL);
	assert_int_equal(tk.calls, 0);
	close(c);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(the_fd_starts_right_after_the_request),
		VTEST(no_hand_over_in_a_batch_or_a_notification),
	};

	return vtest_run("rpc_detach", tests, argc, argv);
}
