/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rpc_bounds: what a management client cannot make the server do,
 * over a real socket: hold more than one line (1 MiB, at the boundary and
 * past it, and a 100 MiB line), hold a slot beyond the 64 clients (1,000
 * connects that never send), pile up replies it never reads, or disturb
 * the vfio-user client (region I/O in a loop while 64 management clients
 * hammer query-stats). And calls that wait for the device to quiesce:
 * held without blocking anyone else, run once it confirms, also when
 * their client left meanwhile. The limits are the documented ones
 * (doc/management.md), written here, not read from the code.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"
#include "vus/client.h"

#define DOC_LINE_MAX (1u << 20)
#define DOC_MAX_CLIENTS 64
#define STATS "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query-stats\"}"
#define STATUS "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"query-status\"}"

static struct trpc_dev dev;
static vus_client *vc;

static int up(void **state)
{
	vtest_setup(state);
	assert_int_equal(trpc_dev_start(&dev), 0);
	assert_int_equal(vus_client_attach_fd(dev.vfu_fd, NULL, &vc), 0);
	dev.vfu_fd = -1;
	return 0;
}

static int down(void **state)
{
	vus_client_close(vc);
	trpc_dev_stop(&dev);
	return vtest_teardown(state);
}

/* The vfio-user client still works: write a register, read it back. */
static void region_round_trip(uint32_t v)
{
	uint32_t got = 0;

	assert_int_equal(vus_client_region_write(vc, 0, 8, &v, 4), 0);
	assert_int_equal(vus_client_region_read(vc, 0, 8, &got, 4), 0);
	assert_int_equal(got, v);
}

/* A fresh management client gets an answer. */
static void served(void)
{
	int fd = trpc_connect(dev.rpc_path);
	struct json_object *r;

	assert_true(fd >= 0);
	r = trpc_call(fd, STATUS);
	assert_non_null(trpc_get(r, "result"));
	json_object_put(r);
	close(fd);
}

/* Send @len bytes of padding and @tail, stopping at the first error. */
static size_t send_line(int fd, size_t len, const char *tail)
{
	static char pad[1 << 16];
	size_t sent = 0;

	memset(pad, ' ', sizeof(pad));
	while (sent < len) {
		size_t n = len - sent < sizeof(pad) ? len - sent : sizeof(pad);
		ssize_t w = send(fd, pad, n, MSG_NOSIGNAL);

		if (w <= 0)
			return sent;
		sent += (size_t)w;
	}
	if (tail != NULL && send(fd, tail, strlen(tail), MSG_NOSIGNAL) > 0)
		sent += strlen(tail);
	return sent;
}

static void line_of_exactly_the_limit_is_answered(void **state)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":7,"
				  "\"method\":\"query-log-level\"}";
	int fd = trpc_connect(dev.rpc_path);
	struct json_object *r;
	char *line;

	/* Leading blanks are JSON whitespace: one 1 MiB request. */
	send_line(fd, DOC_LINE_MAX - strlen(req), NULL);
	assert_int_equal(trpc_send(fd, req), 0);
	line = trpc_recv_line(fd);
	assert_non_null(line);
	r = json_tokener_parse(line);
	assert_int_equal(trpc_int(r, "id"), 7);
	assert_non_null(trpc_get(r, "result"));
	json_object_put(r);
	free(line);
	/* And the connection goes on. */
	r = trpc_call(fd, STATUS);
	assert_non_null(trpc_get(r, "result"));
	json_object_put(r);
	close(fd);
}

static void one_byte_more_is_refused_and_closed(void **state)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":7,"
				  "\"method\":\"query-log-level\"}\n";
	int fd = trpc_connect(dev.rpc_path);
	struct json_object *r;
	char *line;

	send_line(fd, DOC_LINE_MAX + 1 - (sizeof(req) - 2), req);
	line = trpc_recv_line(fd);
	assert_non_null(line);
	r = json_tokener_parse(line);
	assert_int_equal(trpc_int(r, "error.code"), -32600);
	assert_true(json_object_object_get_ex(r, "id", NULL) &&
		    trpc_get(r, "id") == NULL); /* id null */
	json_object_put(r);
	free(line);
	assert_null(trpc_recv_line(fd)); /* closed */
	close(fd);
	served();
}

static void a_100_mib_line_is_cut_off_early(void **state)
{
	int fd = trpc_connect(dev.rpc_path);
	struct json_object *r;
	size_t sent;
	char *line;

	region_round_trip(1);
	sent = send_line(fd, 100u << 20, NULL);
	/* The server stopped taking it a little past the limit. */
	assert_true(sent < 8u * DOC_LINE_MAX);
	line = trpc_recv_line(fd);
	assert_non_null(line);
	r = json_tokener_parse(line);
	assert_int_equal(trpc_int(r, "error.code"), -32600);
	json_object_put(r);
	free(line);
	close(fd);
	region_round_trip(2);
	served();
}

static bool enough_fds(int n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return false;
	if (rl.rlim_cur >= (rlim_t)n)
		return true;
	if (rl.rlim_max < (rlim_t)n)
		return false;
	rl.rlim_cur = (rlim_t)n;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static void thousand_silent_connects(void **state)
{
	enum { N = 1000 };
	static int fds[N];
	struct json_object *r;
	int fd = -1, tries;

	if (!enough_fds(N + 100))
		skip();
	for (int i = 0; i < N; i++) {
		fds[i] = trpc_connect(dev.rpc_path);
		assert_true(fds[i] >= 0);
	}
	/* Accepted in order: the first 64 keep a slot, the others are told
	 * why and closed. */
	for (int i = DOC_MAX_CLIENTS; i < N; i++) {
		char *line = trpc_recv_line(fds[i]);

		assert_non_null(line);
		r = json_tokener_parse(line);
		assert_int_equal(trpc_int(r, "error.code"), -32000);
		assert_string_equal(trpc_str(r, "error.data.errno"), "EUSERS");
		json_object_put(r);
		free(line);
		assert_null(trpc_recv_line(fds[i]));
		close(fds[i]);
	}
	for (int i = 0; i < DOC_MAX_CLIENTS; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		assert_int_equal(poll(&p, 1, 0), 0);
	}
	region_round_trip(3);
	for (int i = 0; i < DOC_MAX_CLIENTS; i++)
		close(fds[i]);
	/* Their slots come back once the server has seen them go. */
	for (tries = 0, r = NULL; tries < 100000; tries++) {
		fd = trpc_connect(dev.rpc_path);
		r = trpc_call(fd, STATS);
		if (trpc_get(r, "result") != NULL)
			break;
		json_object_put(r);
		r = NULL;
		close(fd);
		sched_yield();
	}
	assert_non_null(r);
	assert_true(trpc_int(r, "result.management.clients-refused") >= N - 64);
	json_object_put(r);
	close(fd);
}

static void a_client_that_never_reads_is_cut_off(void **state)
{
	int fd = trpc_connect(dev.rpc_path), other;
	struct json_object *r;
	long calls = 0;

	/* query-stats replies are about 1.5 KB: 1 MiB is a few hundred. */
	while (calls < 1000000 && trpc_send(fd, STATS) == 0)
		calls++;
	assert_true(calls < 1000000);
	close(fd);
	other = trpc_connect(dev.rpc_path);
	r = trpc_call(other, STATS);
	assert_int_equal(trpc_int(r, "result.management.clients-cut-off"), 1);
	json_object_put(r);
	close(other);
	region_round_trip(4);
}

static void region_io_beside_64_busy_managers(void **state)
{
	struct trpc_hammer h;

	assert_int_equal(trpc_hammer_start(&h, dev.rpc_path, DOC_MAX_CLIENTS), 0);
	for (uint32_t i = 0; i < 20000; i++)
		region_round_trip(i * 2654435761u);
	trpc_hammer_stop(&h);
	printf("%ld query-stats answered beside 20000 region round trips, "
	       "at least %d per client\n", h.replies, h.min_per_client);
	assert_int_equal(h.errors, 0);
	assert_true(h.replies > 0);
}

/* Wait (bounded by count, as a hang guard) for the device's quiesce. */
static void wait_quiesces(int n)
{
	long long end = vtest_deadline(60000);

	while (atomic_load(&dev.quiesces) < n) {
		assert_false(vtest_expired(end));
		usleep(1000);
	}
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void a_quiesced_call_waits_without_blocking_others(void **state)
{
	int a = trpc_connect(dev.rpc_path), b = trpc_connect(dev.rpc_path);
	struct json_object *r;
	char *line;

	atomic_store(&dev.async_quiesce, true);
	assert_int_equal(trpc_send(a, "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"test.hold\"}"), 0);
	wait_quiesces(1);
	/* Others are answered meanwhile; the vfio-user client too. */
	r = trpc_call(b, STATUS);
	assert_non_null(trpc_get(r, "result"));
	json_object_put(r);
	region_round_trip(5);
	assert_false(readable(a));
	assert_int_equal(atomic_load(&dev.held_runs), 0);
	trpc_dev_confirm(&dev);
	line = trpc_recv_line(a);
	r = json_tokener_parse(line);
	assert_true(json_object_get_boolean(trpc_get(r, "result.quiesced")));
	json_object_put(r);
	free(line);
	assert_int_equal(atomic_load(&dev.held_runs), 1);
	assert_int_equal(atomic_load(&dev.resumes), 1);
	close(a);
	close(b);
}

static void a_held_call_runs_although_its_client_left(void **state)
{
	int a = trpc_connect(dev.rpc_path), b = trpc_connect(dev.rpc_path);
	struct json_object *r;

	atomic_store(&dev.async_quiesce, true);
	assert_int_equal(trpc_send(a, "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"device-reset\"}"), 0);
	wait_quiesces(1);
	close(a);
	/* Its slot is given back at once, before the call ran. */
	for (long i = 0;; i++) {
		r = trpc_call(b, STATS);
		if (trpc_int(r, "result.management.clients") == 1)
			break;
		json_object_put(r);
		assert_true(i < 100000);
	}
	json_object_put(r);
	assert_int_equal(atomic_load(&dev.resets), 0);
	trpc_dev_confirm(&dev);
	/* The reset ran, the device was resumed, nothing leaked. */
	for (long long end = vtest_deadline(60000); atomic_load(&dev.resumes) < 1;) {
		assert_false(vtest_expired(end));
		usleep(1000);
	}
	assert_int_equal(atomic_load(&dev.resets), 1);
	r = trpc_call(b, STATUS);
	assert_non_null(trpc_get(r, "result"));
	json_object_put(r);
	close(b);
}

static void destroy_with_a_held_call(void **state)
{
	int a = trpc_connect(dev.rpc_path);

	atomic_store(&dev.async_quiesce, true);
	assert_int_equal(trpc_send(a, "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"test.hold\"}"), 0);
	wait_quiesces(1);
	vus_client_close(vc);
	vc = NULL;
	trpc_dev_stop(&dev);
	assert_int_equal(atomic_load(&dev.held_runs), 0);
	assert_null(trpc_recv_line(a)); /* closed without a reply */
	close(a);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, up, down)
	const struct CMUnitTest tests[] = {
		T(line_of_exactly_the_limit_is_answered),
		T(one_byte_more_is_refused_and_closed),
		T(a_100_mib_line_is_cut_off_early),
		T(thousand_silent_connects),
		T(a_client_that_never_reads_is_cut_off),
		T(region_io_beside_64_busy_managers),
		T(a_quiesced_call_waits_without_blocking_others),
		T(a_held_call_runs_although_its_client_left),
		T(destroy_with_a_held_call),
	};

	return vtest_run("rpc_bounds", tests, argc, argv);
}
