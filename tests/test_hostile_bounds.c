/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile clients that try to make the server hold memory: one that
 * pipelines requests without ever reading the replies (the engine stops
 * reading above 4 MiB of queued replies), one that floods commands while
 * the server awaits the reply to its own DMA request (the defer queue
 * holds at most 1024 messages or 16 MiB, then the connection is dropped),
 * and one that announces a 4 GiB message and hangs up halfway.
 *
 * Each test counts what the server took in and measures the process's
 * VmRSS (the server runs on a thread of this process); under valgrind,
 * whose own memory makes RSS meaningless, only the counts are checked.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_priv.h"
#include "tserver.h"
#include "vtest.h"

static struct peer_msg *m;
static struct tserver s;
static atomic_uint rx_reads; /* requests of rx_cmd the server received */
static _Atomic uint16_t rx_cmd = WIRE_CMD_REGION_READ;

static void count_rx(void *opaque, const struct vus_trace_event *ev)
{
	(void)opaque;
	if (ev->dir == VUS_TRACE_RX && ev->cmd == rx_cmd)
		atomic_fetch_add(&rx_reads, 1);
}

static void *server_main(void *arg)
{
	(void)arg;
	s.run_ret = vus_ctx_run(s.ctx);
	return NULL;
}

/* tserver with a trace hook installed before its thread starts. */
static int setup_traced(void **state)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	vtest_setup(state);
	atomic_store(&rx_reads, 0);
	atomic_store(&rx_cmd, WIRE_CMD_REGION_READ);
	tserver_start(&s, &(struct tserver_opts){ .no_thread = true,
						   .no_negotiate = true });
	vus_ctx_set_trace(s.ctx, count_rx, NULL);
	assert_int_equal(pthread_create(&s.thread, NULL, server_main, NULL), 0);
	s.running = true;
	peer_negotiate(&s);
	return 0;
}

static int setup(void **state)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	vtest_setup(state);
	tserver_start(&s, NULL);
	return 0;
}

static int teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

/* This process's resident memory in KiB. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

static void assert_rss_grew_less_than(long before_kib, long limit_mib)
{
	long grown = rss_kib() - before_kib;

	if (vtest_under_valgrind())
		return;
	if (grown > limit_mib * 1024)
		fail_msg("server memory grew by %ld KiB (limit %ld MiB)", grown,
			 limit_mib);
}

/*
 * Write @len bytes without blocking for longer than vtest_ms(@stall_ms) at
 * a time.
 * Returns the bytes written: short when the server stopped taking them or
 * hung up (EPIPE, ECONNRESET).
 */
static size_t write_until_stalled(const uint8_t *p, size_t len, int stall_ms)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pf = { .fd = s.peer, .events = POLLOUT };
		ssize_t n = send(s.peer, p + done, len - done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			break;
		if (poll(&pf, 1, vtest_ms(stall_ms)) <= 0)
			break;
	}
	return done;
}

/* @n requests of @len payload bytes each, ids from @id, in one buffer. */
static uint8_t *requests(uint16_t cmd, const void *payload, size_t len,
			 unsigned int n, uint16_t id)
{
	size_t one = WIRE_HDR_SIZE + len;
	uint8_t *buf = malloc(one * n);

	assert_non_null(buf);
	for (unsigned int i = 0; i < n; i++) {
		struct wire_hdr h = { .msg_id = (uint16_t)(id + i), .cmd = cmd,
				      .msg_size = (uint32_t)one };

		memcpy(buf + i * one, &h, sizeof(h));
		memcpy(buf + i * one + sizeof(h), payload, len);
	}
	return buf;
}

/* The server's count of REGION_READs once it stopped changing (300 ms). */
static unsigned int settled_rx_reads(void)
{
	unsigned int last = atomic_load(&rx_reads), same = 0;

	for (int i = 0; i < 200 && same < 6; i++) {
		unsigned int now;

		usleep((useconds_t)vtest_ms(50) * 1000);
		now = atomic_load(&rx_reads);
		same = now == last ? same + 1 : 0;
		last = now;
	}
	return last;
}

static void client_that_never_reads_costs_bounded_memory(void **state)
{
	const uint32_t count = 256 * 1024;
	const unsigned int n = 512;
	/* 4 MiB of queued replies, plus one batch of the engine's loop. */
	const unsigned int bound = (ENGINE_OUT_HIGH / count) + ENGINE_BUDGET + 2;
	struct wire_region_access a = { .offset = 0, .region = 2, .count = count };
	uint8_t *buf = requests(WIRE_CMD_REGION_READ, &a, sizeof(a), n, 1000);
	size_t len = n * (WIRE_HDR_SIZE + sizeof(a)), sent;
	long before = rss_kib();
	unsigned int taken;

	(void)state;
	sent = write_until_stalled(buf, len, 500);
	taken = settled_rx_reads();
	/* The client got far ahead; the server stopped reading. */
	assert_true(sent / (WIRE_HDR_SIZE + sizeof(a)) > 2 * bound);
	if (taken > bound)
		fail_msg("server took %u requests without the client reading "
			 "(bound %u)", taken, bound);
	assert_rss_grew_less_than(before, 48);
	/* Reading the replies lets the server go on: all arrive, in order. */
	for (unsigned int i = 0; i < n; i++) {
		size_t need = (i + 1) * (WIRE_HDR_SIZE + sizeof(a));

		if (need > sent) {
			/* A few requests ahead of what we read, no more. */
			size_t upto = MIN(len, need + 8 * (WIRE_HDR_SIZE + sizeof(a)));

			sent += write_until_stalled(buf + sent, upto - sent, 5000);
			assert_true(sent >= need);
		}
		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, 1000 + i);
		assert_int_equal(m->len, sizeof(a) + count);
	}
	assert_int_equal(sent, len);
	free(buf);
}

/*
 * Red team, issue 10: the output queue dup()s the fds of replies it could
 * not send and was bounded by bytes only, so pipelined requests whose
 * replies carry an fd, never read, took the server to 19,904 fds. The
 * engine now stops reading at ENGINE_OUT_HIGH_FDS queued fds (64), which
 * one reply past the check may exceed by its own fds (here one).
 */
static void fd_replies_never_read_hold_bounded_fds(void **state)
{
	const unsigned int n = 1000;
	struct wire_region_info q = { .argsz = sizeof(q), .index = 2 };
	uint8_t *buf;
	size_t one = WIRE_HDR_SIZE + sizeof(q), sent;
	int before = vtest_count_fds();

	(void)state;
	atomic_store(&rx_cmd, WIRE_CMD_DEVICE_GET_REGION_INFO);
	buf = requests(WIRE_CMD_DEVICE_GET_REGION_INFO, &q, sizeof(q), n, 1000);
	sent = write_until_stalled(buf, n * one, 500);
	(void)settled_rx_reads();
	/* The socket holds some replies (their fds are the kernel's); what
	 * the server queued itself holds at most 64 + 1 fds. */
	if (vtest_count_fds() - before > 64 + 1)
		fail_msg("the server holds %d fds for unread replies (bound 65)",
			 vtest_count_fds() - before);
	for (unsigned int i = 0; i < n; i++) {
		if ((i + 8) * one > sent && sent < n * one)
			sent += write_until_stalled(buf + sent,
						    MIN(n * one, (i + 16) * one) - sent,
						    5000);
		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, 1000 + i);
		assert_int_equal(m->nfds, 1);
		peer_msg_close_fds(m);
	}
	assert_int_equal(sent, n * one);
	assert_int_equal(vtest_count_fds(), before);
	free(buf);
}

static unsigned long max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long n = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu", &n), 1);
	fclose(f);
	return n;
}

/*
 * Red team, issue 10: the default max_dma_maps, 65535, was above
 * vm.max_map_count (65530): 39 of a client's maps failed with ENOMEM, and
 * meanwhile every other mmap of the process failed too. The default now
 * leaves room: a client mapping (a memfd each) until refused meets our
 * bound (ENOSPC), never the kernel's (ENOMEM), and the process can still
 * map memory of its own while those maps stand.
 */
static void dma_maps_until_refused_leave_the_process_room(void **state)
{
	struct wire_dma_map q = { .argsz = sizeof(q),
				  .flags = WIRE_DMA_READ | WIRE_DMA_WRITE,
				  .size = 4096 };
	unsigned long limit = max_map_count();
	void *mine[64];
	uint32_t n;
	int ret;

	(void)state;
	if (vtest_under_valgrind()) {
		print_message("skipped under valgrind (its own mapping limits)\n");
		return;
	}
	for (n = 0;; n++) {
		int fd = memfd_create("map", MFD_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 4096), 0);
		q.addr = (uint64_t)n << 12;
		ret = peer_call(&s, WIRE_CMD_DMA_MAP, &q, sizeof(q), &fd, 1, m);
		close(fd);
		if (ret < 0)
			break;
		assert_true(n < limit);
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true(n + 4096 < limit);
	/* Alternating protections: 64 separate mappings of our own. */
	for (int i = 0; i < 64; i++) {
		mine[i] = mmap(NULL, 4096, i % 2 ? PROT_READ : PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(mine[i] != MAP_FAILED);
	}
	for (int i = 0; i < 64; i++)
		munmap(mine[i], 4096);
}

/* The device reads 64 bytes of fd-less memory on a write at 0x200. */
static int dma_on_write(struct tdev *d, uint64_t off, const void *buf,
			size_t len)
{
	uint64_t addr;

	memcpy(&addr, buf, sizeof(addr));
	if (off == 0x200 && len == 8)
		return vus_dma_read(d->ctx, addr, d->regs + 0x300, 64);
	memcpy(d->regs + off, buf, len);
	return 0;
}

/* Make the server wait for a DMA_READ reply it will never get. */
static uint16_t start_server_dma(void)
{
	struct wire_dma_map q = { .argsz = 32, .flags = WIRE_DMA_READ,
				  .addr = 0x40000, .size = 0x1000 };
	uint8_t w[24];
	struct wire_region_access a = { .offset = 0x200, .region = 0, .count = 8 };
	uint64_t addr = 0x40000;
	uint16_t id;

	s.dev.write_hook = dma_on_write;
	assert_int_equal(peer_call(&s, WIRE_CMD_DMA_MAP, &q, sizeof(q), NULL, 0, m), 0);
	memcpy(w, &a, 16);
	memcpy(w + 16, &addr, 8);
	id = peer_send(&s, WIRE_CMD_REGION_WRITE, 0, w, sizeof(w), NULL, 0);
	/* First the server asks for our DMA layout (a DMA_WRITE of no
	 * bytes): a spec client's answer echoes address and count. */
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_WRITE);
	{
		struct wire_hdr h = { .msg_id = m->hdr.msg_id,
				      .cmd = WIRE_CMD_DMA_WRITE, .msg_size = 32,
				      .flags = WIRE_F_TYPE_REPLY };
		uint8_t r[32];

		memcpy(r, &h, 16);
		memcpy(r + 16, m->payload, 16);
		peer_send_raw(&s, r, sizeof(r), NULL, 0);
	}
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_READ);
	assert_int_equal(m->hdr.flags & WIRE_F_TYPE_MASK, WIRE_F_TYPE_CMD);
	return id;
}

/*
 * The server closed the connection: EOF, or ECONNRESET when it closed
 * with requests of ours still unread.
 */
static bool peer_closed(int timeout_ms)
{
	struct pollfd pf = { .fd = s.peer, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&pf, 1, vtest_ms(timeout_ms)) <= 0)
		return false;
	n = recv(s.peer, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* The server gave up: the write failed with ENOBUFS, then the hang-up,
 * and the device was cleaned up for the next client. */
static void assert_dropped_after_enobufs(uint16_t id)
{
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.error, ENOBUFS);
	assert_true(peer_closed(5000));
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	assert_int_equal(s.dev.client_losts, 1);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
}

/* @n DEVICE_GET_INFO requests with 16 eventfds each, ids from 100. */
static void send_with_fds(unsigned int n)
{
	struct wire_device_info di = { .argsz = 16 };
	int fds[16];

	for (int i = 0; i < 16; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	s.next_id = 100;
	for (unsigned int i = 0; i < n; i++)
		(void)peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di),
				fds, 16);
	for (int i = 0; i < 16; i++)
		close(fds[i]);
}

/*
 * Red team, issue 10: commands queued while the server awaits its own
 * DMA reply could hold 1024 x 16 fds. The queue now holds at most 256:
 * 16 messages with 16 fds each wait, and are answered (refused: this
 * command takes no fds) once the DMA is done...
 */
static void fds_deferred_during_server_dma_up_to_the_bound(void **state)
{
	uint16_t id, dma_id;
	uint8_t r[16 + 64] = { 0 };

	(void)state;
	id = start_server_dma();
	dma_id = m->hdr.msg_id;
	memcpy(r, m->payload, 16); /* address and count, as asked */
	send_with_fds(ENGINE_DEFER_MAX_FDS / 16);
	{
		struct wire_hdr h = { .msg_id = dma_id, .cmd = WIRE_CMD_DMA_READ,
				      .msg_size = 16 + sizeof(r),
				      .flags = WIRE_F_TYPE_REPLY };
		uint8_t msg[16 + sizeof(r)];

		memcpy(msg, &h, 16);
		memcpy(msg + 16, r, sizeof(r));
		peer_send_raw(&s, msg, sizeof(msg), NULL, 0);
	}
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	for (unsigned int i = 0; i < ENGINE_DEFER_MAX_FDS / 16; i++) {
		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, 100 + i);
		assert_int_equal(m->hdr.error, EINVAL);
	}
}

/* ... and one more message's fds get ENOBUFS and the connection dropped. */
static void fds_deferred_during_server_dma_past_the_bound(void **state)
{
	uint16_t id;

	(void)state;
	id = start_server_dma();
	send_with_fds(ENGINE_DEFER_MAX_FDS / 16 + 1);
	assert_dropped_after_enobufs(id);
}

static void flood_during_server_dma_hits_the_message_limit(void **state)
{
	const unsigned int n = ENGINE_DEFER_MAX_MSGS + 100;
	struct wire_device_info di = { .argsz = 16 };
	uint8_t *buf = requests(WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di), n, 1);
	long before = rss_kib();
	uint16_t id;

	(void)state;
	id = start_server_dma();
	(void)write_until_stalled(buf, n * (WIRE_HDR_SIZE + sizeof(di)), 5000);
	assert_dropped_after_enobufs(id);
	assert_rss_grew_less_than(before, 16);
	free(buf);
}

static void flood_during_server_dma_hits_the_byte_limit(void **state)
{
	const uint32_t count = 1u << 20;
	const unsigned int n = 48; /* 48 MiB offered, 16 MiB may be held */
	uint8_t *one = calloc(1, sizeof(struct wire_region_access) + count);
	struct wire_region_access a = { .offset = 0, .region = 2, .count = count };
	long before = rss_kib();
	uint16_t id;
	size_t sent = 0;

	(void)state;
	assert_non_null(one);
	memcpy(one, &a, sizeof(a));
	id = start_server_dma();
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *msg = requests(WIRE_CMD_REGION_WRITE, one,
					sizeof(a) + count, 1, (uint16_t)(100 + i));
		size_t len = WIRE_HDR_SIZE + sizeof(a) + count;
		size_t done = write_until_stalled(msg, len, 5000);

		free(msg);
		sent += done;
		if (done < len)
			break; /* hung up on us */
	}
	assert_true(sent < (size_t)n * count);
	assert_dropped_after_enobufs(id);
	assert_rss_grew_less_than(before, 64);
	free(one);
}

static void four_gib_message_then_hang_up(void **state)
{
	const size_t body = 8u << 20;
	uint8_t *buf = calloc(1, WIRE_HDR_SIZE + body);
	struct wire_hdr h = { .msg_id = 1, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = UINT32_MAX };
	long before = rss_kib();

	(void)state;
	assert_non_null(buf);
	memcpy(buf, &h, sizeof(h));
	/* Refused as soon as the header is in, not after 4 GiB. */
	peer_send_raw(&s, &h, sizeof(h), NULL, 0);
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, 1);
	assert_int_equal(m->hdr.error, EMSGSIZE);
	assert_int_equal(write_until_stalled(buf + WIRE_HDR_SIZE, body, 5000),
			 body);
	/* Drained in small pieces, never allocated. */
	assert_rss_grew_less_than(before, 16);
	shutdown(s.peer, SHUT_WR);
	assert_true(peer_closed(5000));
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	assert_int_equal(s.dev.client_losts, 1);
	free(buf);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			client_that_never_reads_costs_bounded_memory,
			setup_traced, teardown),
		cmocka_unit_test_setup_teardown(
			flood_during_server_dma_hits_the_message_limit,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			flood_during_server_dma_hits_the_byte_limit,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			four_gib_message_then_hang_up, setup, teardown),
		cmocka_unit_test_setup_teardown(
			fd_replies_never_read_hold_bounded_fds, setup_traced,
			teardown),
		cmocka_unit_test_setup_teardown(
			fds_deferred_during_server_dma_up_to_the_bound, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			fds_deferred_during_server_dma_past_the_bound, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			dma_maps_until_refused_leave_the_process_room, setup,
			teardown),
	};

	return vtest_run("hostile_bounds", tests, argc, argv);
}
