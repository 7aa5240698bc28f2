/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile clients and the fds the server shares with them (issue 10): a
 * GET_REGION_IO_FDS reply larger than the reply buffer, eventfds a client
 * made blocking and saturated, and doorbells a client tampers with.
 * Each attack runs against a real server over a real socket, then a
 * well-behaved request proves the server still serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine_priv.h"
#include "tserver.h"
#include "vtest.h"

static struct peer_msg *m;
static struct tserver s;

static int teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

static void start(const struct tserver_opts *o)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	tserver_start(&s, o);
}

/* VERSION announcing that we take @fds fds per message. */
static void negotiate_fds(unsigned int fds)
{
	char json[128];
	uint8_t buf[4 + sizeof(json)];
	int n = snprintf(json, sizeof(json),
			 "{\"capabilities\":{\"max_msg_fds\":%u}}", fds);

	memset(buf, 0, 4);
	memcpy(buf + 4, json, (size_t)n + 1);
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf, 4 + (size_t)n + 1,
				   NULL, 0, m), 0);
}

static void assert_serves(void)
{
	struct wire_device_info di = { .argsz = sizeof(di) };

	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di,
				   sizeof(di), NULL, 0, m), 0);
}

/*
 * Red team, issue 10: with max_data_xfer_size 4096 the reply buffer is
 * 8,208 bytes, and 206 doorbells on one region made GET_REGION_IO_FDS
 * write 16 + 40 * 206 = 8,256 bytes into it (ASan: heap-buffer-overflow).
 * A reply that does not fit one message is E2BIG; one that fits is sent.
 */
static void io_fds_reply_past_the_reply_buffer_is_e2big(void **state)
{
	/* The reply buffer (8,208 bytes) holds the head and 204 entries. */
	const unsigned int fits = (8208 - 16) / 40;
	struct wire_io_fds_req q = { .argsz = UINT32_MAX, .index = 0 }, head;

	(void)state;
	start(&(struct tserver_opts){ .max_xfer = 4096, .no_negotiate = true,
				      .extra_doorbells = fits });
	negotiate_fds(WIRE_MAX_FDS_LIMIT);
	/* The device's first doorbell plus @fits: one entry too many. */
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), -E2BIG);
	assert_serves();
	tserver_stop(&s);
	/* One fewer fits exactly; a small argsz still learns the size. */
	tserver_start(&s, &(struct tserver_opts){ .max_xfer = 4096,
		.no_negotiate = true, .extra_doorbells = fits - 1 });
	negotiate_fds(WIRE_MAX_FDS_LIMIT);
	q.argsz = sizeof(q);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), 0);
	memcpy(&head, m->payload, sizeof(head));
	assert_int_equal(head.count, fits);
	assert_int_equal(head.argsz, 16 + 40 * fits);
	q.argsz = head.argsz;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), 0);
	assert_int_equal(m->len, head.argsz);
	peer_msg_close_fds(m);
	assert_serves();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			io_fds_reply_past_the_reply_buffer_is_e2big,
			vtest_setup, teardown),
	};

	return vtest_run("hostile_fds", tests, argc, argv);
}
