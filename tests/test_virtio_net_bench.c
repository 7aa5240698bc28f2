/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark of the virtio-net-pci sample through the client library: the
 * test is both the driver (rings in memfd "guest RAM", kicks as the spec's
 * event index asks) and the far end of the datagram link. It prints
 * transmit and receive rates and the latency of a single kicked frame,
 * for doorbells as ioeventfds (a REGION_WRITE message per kick) and as an
 * mmap'd page the device polls (a store per kick). Figures, no verdict.
 *
 *   test_virtio_net_bench VUS-VIRTIO-NET-PCI [FRAMES]
 *
 * VNET_BENCH_ONLY=tx|rx|idle|lat runs one part; VNET_BENCH_POLL_US=N
 * passes --poll-us N to the device in mmap mode.
 */
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_util.h"

#define QSIZE 256u
#define FEATURES ((1ull << 32) | (1ull << 5) | (1ull << 15) | (1ull << 29))
#define FRAME 1514u

static unsigned int nr_frames = 200000;

/* Whether the device asked for a kick for entries [old, new). */
static bool kick_needed(struct tv *t, unsigned int q, uint16_t old, uint16_t new)
{
	uint16_t ev;

	memcpy(&ev, tv_gp(t, t->q[q].used + 4 + 8ull * t->q[q].size), 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = le16toh(ev);
	return (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
}

/* No interrupts wanted: used_event far behind. */
static void no_interrupts(struct tv *t, unsigned int q)
{
	uint16_t ev = htole16(0x8000);

	memcpy(tv_gp(t, t->q[q].avail + 4 + 2ull * t->q[q].size), &ev, 2);
}

static double secs(long long ns)
{
	return (double)ns / 1e9;
}

static void tx_rate(const char *mode, const char *const *args)
{
	static uint8_t buf[2048];
	struct tv t;
	unsigned int got = 0, kicks = 0;
	long long t0;

	tv_start(&t, args);
	assert_int_equal(tv_init(&t, FEATURES, QSIZE), 0x0f);
	no_interrupts(&t, 1);
	for (uint16_t i = 0; i < QSIZE; i++) {
		memset(tv_gp(&t, TV_TXBUF(i)), 0, 12);
		memset(tv_gp(&t, TV_TXBUF(i)) + 12, i, FRAME);
		tv_desc(&t, 1, i, TV_TXBUF(i), 12 + FRAME, 0, 0);
	}
	t0 = tv_now_ns();
	while (got < nr_frames) {
		uint16_t old = t.q[1].avail_idx;

		while ((uint16_t)(t.q[1].avail_idx - tv_used_idx(&t, 1)) < QSIZE)
			tv_offer(&t, 1, t.q[1].avail_idx % QSIZE);
		if (old != t.q[1].avail_idx && kick_needed(&t, 1, old, t.q[1].avail_idx)) {
			tv_kick(&t, 1);
			kicks++;
		}
		while (recv(t.peer_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
		/* Like a real receiver: sleep until the next frame comes. */
		if (got < nr_frames && tv_peer_recv(&t, buf, sizeof(buf), 1) > 0)
			got++;
	}
	t0 = tv_now_ns() - t0;
	printf("tx  %-9s %8.0f frames/s %7.1f MB/s  %.3f kicks/frame\n", mode,
	       got / secs(t0), got * (double)FRAME / secs(t0) / 1e6,
	       (double)kicks / got);
	tv_stop(&t);
}

static void rx_rate(const char *mode, const char *const *args)
{
	static uint8_t frame[FRAME];
	struct tv t;
	unsigned int sent = 0, kicks = 0;
	uint16_t done = 0;
	unsigned int delivered = 0;
	long long t0;

	tv_start(&t, args);
	assert_int_equal(tv_init(&t, FEATURES, QSIZE), 0x0f);
	no_interrupts(&t, 0);
	tv_post_rx(&t, 0, QSIZE);
	memset(frame, 0x5a, sizeof(frame));
	t0 = tv_now_ns();
	while (delivered < nr_frames) {
		uint16_t used = tv_used_idx(&t, 0), old = t.q[0].avail_idx;

		delivered += (uint16_t)(used - done);
		/* Give every used buffer back. */
		for (; done != used; done++)
			tv_offer(&t, 0, done % QSIZE);
		if (old != t.q[0].avail_idx && kick_needed(&t, 0, old, t.q[0].avail_idx)) {
			tv_kick(&t, 0);
			kicks++;
		}
		unsigned int before = sent;

		while (sent < nr_frames + QSIZE && tv_peer_try_send(&t, frame, FRAME))
			sent++;
		/* The device's socket is full: let it run. */
		if (sent == before && used == done)
			sched_yield();
	}
	t0 = tv_now_ns() - t0;
	printf("rx  %-9s %8.0f frames/s %7.1f MB/s  %.3f kicks/frame\n", mode,
	       delivered / secs(t0), delivered * (double)FRAME / secs(t0) / 1e6,
	       (double)kicks / delivered);
	tv_stop(&t);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* One frame at a time: kick, wait until the peer has it. */
static void latency(const char *mode, const char *const *args, int gap_us)
{
	enum { N = 2000 };
	static long long lat[N];
	uint8_t frame[64], buf[128];
	struct tv t;

	tv_start(&t, args);
	assert_int_equal(tv_init(&t, FEATURES, QSIZE), 0x0f);
	no_interrupts(&t, 1);
	memset(frame, 1, sizeof(frame));
	for (int i = 0; i < N; i++) {
		long long t0 = tv_now_ns();

		tv_send(&t, (uint16_t)(i % QSIZE), frame, sizeof(frame));
		assert_int_equal(tv_peer_recv(&t, buf, sizeof(buf), 5000),
				 sizeof(frame));
		lat[i] = tv_now_ns() - t0;
		if (gap_us)
			usleep((useconds_t)gap_us);
	}
	qsort(lat, N, sizeof(lat[0]), cmp_ll);
	printf("lat %-9s gap %5d us: median %6.1f us, p99 %7.1f us\n", mode,
	       gap_us, lat[N / 2] / 1e3, lat[N * 99 / 100] / 1e3);
	tv_stop(&t);
}

/* CPU time of @pid so far, in milliseconds. */
static long cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				"%*u %lu %lu", &ut, &st), 2);
	return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* What a running but idle device costs. */
static void idle_cpu(const char *mode, const char *const *args)
{
	struct tv t;
	long before;

	tv_start(&t, args);
	assert_int_equal(tv_init(&t, FEATURES, QSIZE), 0x0f);
	usleep(200000);
	before = cpu_ms(t.pid);
	sleep(2);
	printf("idle %-9s %5.1f%% of a CPU\n", mode,
	       (double)(cpu_ms(t.pid) - before) / 20.0);
	tv_stop(&t);
}

static void benchmark(void **state)
{
	static const char *const eventfd_args[] = { "--log-level", "error", NULL };
	const char *poll_us = getenv("VNET_BENCH_POLL_US");
	const char *mmap_args[] = { "--notify", "mmap", "--log-level", "error",
				    poll_us ? "--poll-us" : NULL, poll_us, NULL };

	const char *only = getenv("VNET_BENCH_ONLY");

	if (only == NULL || strcmp(only, "tx") == 0) {
		tx_rate("ioeventfd", eventfd_args);
		tx_rate("mmap", mmap_args);
	}
	if (only == NULL || strcmp(only, "rx") == 0) {
		rx_rate("ioeventfd", eventfd_args);
		rx_rate("mmap", mmap_args);
	}
	if (only == NULL || strcmp(only, "idle") == 0) {
		idle_cpu("ioeventfd", eventfd_args);
		idle_cpu("mmap", mmap_args);
	}
	if (only == NULL || strcmp(only, "lat") == 0) {
		latency("ioeventfd", eventfd_args, 0);
		latency("mmap", mmap_args, 0);
		latency("ioeventfd", eventfd_args, 2000);
		latency("mmap", mmap_args, 2000);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = { VTEST(benchmark) };

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [FRAMES]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	if (argc > 2)
		nr_frames = (unsigned int)strtoul(argv[2], NULL, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return vtest_run("virtio_net_bench", tests, 1, argv);
}
