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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
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

/* A register write at 0x300 makes the device raise IRQ index 1 vector 0. */
static int irq_on_write(struct tdev *d, uint64_t off, const void *buf,
			size_t len)
{
	if (off == 0x300)
		return vus_irq_trigger(d->ctx, 1, 0);
	memcpy(d->regs + off, buf, len);
	return 0;
}

static void *trigger_thread(void *arg)
{
	(void)vus_irq_trigger(arg, 1, 0);
	return NULL;
}

/*
 * Red team, issue 10: a client gave a *blocking* eventfd with its counter
 * at 0xfffffffffffffffe; the next interrupt blocked the context thread in
 * eventfd_write() for good (SIGTERM could not stop it), and on a device
 * thread the same happened under the IRQ lock. Both come back now, and
 * the client's counter is full, not wrapped. If they do not, the test
 * empties the counter so the server can go on, and fails.
 */
static void full_blocking_interrupt_eventfd_stalls_nothing(void **state)
{
	struct wire_irq_set q = { .argsz = 20, .index = 1, .start = 0,
		.count = 1,
		.flags = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD };
	uint8_t w[16 + 4] = { 0 };
	struct wire_region_access a = { .offset = 0x300, .region = 0, .count = 4 };
	int efd = eventfd(0, EFD_CLOEXEC); /* blocking, as the client chose */
	struct timespec ts;
	pthread_t th;
	eventfd_t v;
	int ret;

	(void)state;
	start(NULL);
	s.dev.write_hook = irq_on_write;
	assert_int_equal(eventfd_write(efd, 0xfffffffffffffffeull), 0);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_SET_IRQS, &q, sizeof(q),
				   &efd, 1, m), 0);
	/* On the context thread: a REGION_WRITE whose callback raises it. */
	memcpy(w, &a, sizeof(a));
	(void)peer_send(&s, WIRE_CMD_REGION_WRITE, 0, w, sizeof(w), NULL, 0);
	ret = peer_recv(&s, m, 5000);
	if (ret < 0)
		(void)eventfd_read(efd, &v); /* let the server go on */
	assert_int_equal(ret, 0);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	/* On a device thread. */
	assert_int_equal(pthread_create(&th, NULL, trigger_thread, s.ctx), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += vtest_ms(5000) / 1000 + 1;
	ret = pthread_timedjoin_np(th, NULL, &ts);
	if (ret != 0) {
		(void)eventfd_read(efd, &v);
		pthread_join(th, NULL);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(eventfd_read(efd, &v), 0);
	assert_true(v >= 0xfffffffffffffffeull);
	assert_serves();
	close(efd);
}

/*
 * Red team, issue 10: the doorbell fd GET_REGION_IO_FDS handed out was
 * the device's own file description. A client cleared O_NONBLOCK on it,
 * filled its counter and went; the next, well-behaved client's
 * REGION_WRITE to the doorbell (which the server passes to that eventfd)
 * never got its reply. Each client now gets eventfds of its own, whose
 * rings the server passes on: what it does to them stays with them.
 */
static void tampered_doorbell_fd_costs_the_next_client_nothing(void **state)
{
	const char *path = vtest_sock_path("doorbell");
	struct wire_io_fds_req q = { .argsz = 16 + 40, .index = 0 };
	struct wire_region_access a = { .offset = 0x100, .region = 0, .count = 4 };
	uint8_t w[16 + 4] = { 0 };
	eventfd_t v = 0;
	int fd, ret;

	(void)state;
	start(&(struct tserver_opts){ .listen_path = path });
	peer_connect(&s, path, true);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), 0);
	assert_int_equal(m->nfds, 1);
	fd = m->fds[0];
	assert_true(fd != s.dev.ioev_fd);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
	assert_int_equal(eventfd_write(fd, 0xfffffffffffffffeull), 0);
	close(fd);
	/* The device's description kept its mode. */
	assert_true(fcntl(s.dev.ioev_fd, F_GETFL) & O_NONBLOCK);
	peer_connect(&s, path, true);
	memcpy(w, &a, sizeof(a));
	(void)peer_send(&s, WIRE_CMD_REGION_WRITE, 0, w, sizeof(w), NULL, 0);
	ret = peer_recv(&s, m, 5000);
	if (ret < 0)
		(void)eventfd_read(s.dev.ioev_fd, &v); /* let the server go on */
	assert_int_equal(ret, 0);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	/* Rung by the write (and once by the first client's ring, if the
	 * server passed that on before it went), not left full. */
	assert_int_equal(eventfd_read(s.dev.ioev_fd, &v), 0);
	assert_true(v >= 1 && v <= 2);
	assert_serves();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			io_fds_reply_past_the_reply_buffer_is_e2big,
			vtest_setup, teardown),
		cmocka_unit_test_setup_teardown(
			full_blocking_interrupt_eventfd_stalls_nothing,
			vtest_setup, teardown),
		cmocka_unit_test_setup_teardown(
			tampered_doorbell_fd_costs_the_next_client_nothing,
			vtest_setup, teardown),
	};

	return vtest_run("hostile_fds", tests, argc, argv);
}
