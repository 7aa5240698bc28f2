/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: two vus-virtio-net-pci processes back to back (datagram
 * link), each driven by the client-side virtio driver of
 * test_virtio_util.c, one thread driving both. For each way of ringing
 * doorbells -- ioeventfds from DEVICE_GET_REGION_IO_FDS, posted
 * REGION_WRITEs (what QEMU sends), acknowledged REGION_WRITEs, and the
 * mmap'd notification page -- it prints frames/s and Gbit/s of 64- and
 * 1500-byte frames one way (A to B) and both ways at once, with kicks
 * and interrupts per frame, and the round trip of one 64-byte frame
 * bounced off the far driver. Receivers check each frame's header,
 * sequence and length (not every byte: the tests do that). Figures, no
 * verdict.
 *
 *   bench_virtio_b2b VUS-VIRTIO-NET-PCI [SECONDS-PER-RUN]
 *
 * BENCH_B2B_ONLY=ioeventfd|posted|region_write|mmap runs one mode.
 */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#include "test_virtio_util.h"

#define FEATURES ((1ull << 32) | (1ull << 5) | (1ull << 16) | (1ull << 15) | \
		  (1ull << 29) | (1ull << 28))
#define QSIZE 256u
#define RTT_ROUNDS 4000

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

struct mode {
	const char *name;
	const char *notify;
	enum tv_kick_mode kick;
};

static const struct mode modes[] = {
	{ "ioeventfd", "ioeventfd", TV_KICK_IOEVENTFD },
	{ "posted", "ioeventfd", TV_KICK_POSTED },
	{ "region_write", "ioeventfd", TV_KICK_REGION_WRITE },
	{ "mmap", "mmap", TV_KICK_MMAP },
};

static double run_secs = 1.0;

/* One direction: a template frame whose sequence number we patch. */
struct dir {
	struct tvd *tx, *rx;
	uint8_t stream;
	uint8_t frame[1514];
	uint32_t len;
	uint32_t next, expect;
	bool sending;
};

struct pair {
	struct tv a, b;
	struct tvd da, db;
};

static uint8_t rxbuf[TVD_MAX_FRAME];

static void pair_start(struct pair *p, const struct mode *m)
{
	const char *args[] = { "--notify", m->notify, "--log-level", "error",
			       NULL };
	const struct tvd_config cfg = { FEATURES, QSIZE, m->kick, 0 };

	tv_start_pair(&p->a, &p->b, args, args);
	tvd_init(&p->da, &p->a, &cfg);
	tvd_init(&p->db, &p->b, &cfg);
}

static void pair_stop(struct pair *p)
{
	struct tv_dev_stats sa, sb;

	tvd_fini(&p->da);
	tvd_fini(&p->db);
	tv_stop_stats(&p->a, &sa);
	tv_stop_stats(&p->b, &sb);
	assert_int_equal(sa.tx_dropped + sa.rx_dropped + sa.queue_errors, 0);
	assert_int_equal(sb.tx_dropped + sb.rx_dropped + sb.queue_errors, 0);
}

static void dir_init(struct dir *d, struct tvd *tx, struct tvd *rx,
		     uint8_t stream, uint32_t len)
{
	*d = (struct dir){ .tx = tx, .rx = rx, .stream = stream, .len = len,
			   .sending = true };
	tv_frame_make(d->frame, len, stream == 1 ? mac_b : mac_a,
		      stream == 1 ? mac_a : mac_b, stream, 0);
}

static bool pump(struct dir *d)
{
	bool moved = tvd_reap_tx(d->tx) > 0;
	ssize_t n;

	while (d->sending) {
		uint32_t seq = htole32(d->next);

		memcpy(d->frame + 16, &seq, 4);
		if (!tvd_tx(d->tx, d->frame, d->len, d->next))
			break;
		d->next++;
		moved = true;
	}
	tvd_flush(d->tx);
	while ((n = tvd_rx(d->rx, rxbuf, sizeof(rxbuf))) >= 0) {
		uint32_t seq;

		if (!tv_frame_check(rxbuf, (size_t)n, d->stream, false, &seq) ||
		    seq != d->expect)
			fail_msg("stream %u: bad frame %u (expected %u)",
				 d->stream, seq, d->expect);
		d->expect++;
		moved = true;
	}
	tvd_flush(d->rx);
	return moved;
}

static void wait_or_fail(struct pair *p)
{
	struct tvd *ds[2] = { &p->da, &p->db };

	if (!tvd_wait(ds, 2, 5000)) {
		tvd_dump(&p->da, "A");
		tvd_dump(&p->db, "B");
		fail_msg("no interrupt for 5 s");
	}
}

/* Stream for run_secs, then let what is in flight arrive; print rates. */
static void stream(const struct mode *m, uint32_t len, bool both)
{
	struct dir dirs[2];
	unsigned int nd = both ? 2 : 1;
	uint64_t kicks, irqs, frames = 0;
	struct pair p;
	long long t0, t1;
	bool busy = true;

	pair_start(&p, m);
	dir_init(&dirs[0], &p.da, &p.db, 1, len);
	dir_init(&dirs[1], &p.db, &p.da, 2, len);
	t0 = tv_now_ns();
	t1 = t0 + (long long)(run_secs * 1e9);
	while (busy) {
		bool moved = false;

		busy = false;
		for (unsigned int i = 0; i < nd; i++) {
			moved |= pump(&dirs[i]);
			if (dirs[i].sending && tv_now_ns() > t1)
				dirs[i].sending = false;
			busy |= dirs[i].expect != dirs[i].next ||
				dirs[i].sending;
		}
		if (busy && !moved)
			wait_or_fail(&p);
	}
	t1 = tv_now_ns();
	for (unsigned int i = 0; i < nd; i++)
		frames += dirs[i].expect;
	kicks = p.da.st.kicks + p.db.st.kicks;
	irqs = p.da.st.irqs + p.db.st.irqs;
	printf("%-12s %5u  %-8s %9.0f %7.2f %11.3f %10.3f\n", m->name, len,
	       both ? "both" : "one way", frames / ((t1 - t0) / 1e9),
	       frames * (double)len * 8 / ((t1 - t0) / 1e9) / 1e9,
	       (double)kicks / frames, (double)irqs / frames);
	pair_stop(&p);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Wait for one frame on @d, sleeping on interrupts. */
static void recv_one(struct pair *p, struct tvd *d, uint8_t stream,
		     uint32_t seq)
{
	ssize_t n;
	uint32_t got;

	while ((n = tvd_rx(d, rxbuf, sizeof(rxbuf))) < 0) {
		tvd_reap_tx(&p->da);
		tvd_reap_tx(&p->db);
		wait_or_fail(p);
	}
	tvd_flush(d);
	if (!tv_frame_check(rxbuf, (size_t)n, stream, false, &got) || got != seq)
		fail_msg("round trip %u: bad frame", seq);
}

/* A sends 64 bytes, B's driver sends them back: the round trip. */
static void round_trip(const struct mode *m)
{
	static long long rtt[RTT_ROUNDS];
	struct dir ab, ba;
	struct pair p;

	pair_start(&p, m);
	dir_init(&ab, &p.da, &p.db, 1, 64);
	dir_init(&ba, &p.db, &p.da, 2, 64);
	for (uint32_t i = 0; i < RTT_ROUNDS; i++) {
		long long t0 = tv_now_ns();
		uint32_t seq = htole32(i);

		memcpy(ab.frame + 16, &seq, 4);
		memcpy(ba.frame + 16, &seq, 4);
		tvd_reap_tx(&p.da);
		assert_true(tvd_tx(&p.da, ab.frame, 64, i));
		tvd_flush(&p.da);
		recv_one(&p, &p.db, 1, i);
		tvd_reap_tx(&p.db);
		assert_true(tvd_tx(&p.db, ba.frame, 64, i));
		tvd_flush(&p.db);
		recv_one(&p, &p.da, 2, i);
		rtt[i] = tv_now_ns() - t0;
	}
	qsort(rtt, RTT_ROUNDS, sizeof(rtt[0]), cmp_ll);
	printf("%-12s %10.1f %10.1f %10.1f\n", m->name, rtt[RTT_ROUNDS / 2] / 1e3,
	       rtt[RTT_ROUNDS * 9 / 10] / 1e3, rtt[RTT_ROUNDS * 99 / 100] / 1e3);
	pair_stop(&p);
}

static bool selected(const struct mode *m)
{
	const char *only = getenv("BENCH_B2B_ONLY");

	return only == NULL || strcmp(only, m->name) == 0;
}

static void benchmark(void **state)
{
	static const uint32_t sizes[] = { 64, 1500 };
	const size_t nm = sizeof(modes) / sizeof(modes[0]);

	printf("virtio-net back to back: two devices, a datagram link between "
	       "them, one driver thread for both; %.1f s per run\n"
	       "(frame = Ethernet frame without FCS; Gbit/s of frame bytes; "
	       "'both' counts both directions)\n\n", run_secs);
	printf("%-12s %5s  %-8s %9s %7s %11s %10s\n", "doorbell", "frame",
	       "traffic", "frames/s", "Gbit/s", "kicks/frame", "irqs/frame");
	for (size_t i = 0; i < nm; i++)
		for (size_t s = 0; s < 2 && selected(&modes[i]); s++) {
			stream(&modes[i], sizes[s], false);
			stream(&modes[i], sizes[s], true);
		}
	printf("\nround trip of a 64-byte frame A -> B -> A (us), sleeping on "
	       "interrupts, %d rounds\n", RTT_ROUNDS);
	printf("%-12s %10s %10s %10s\n", "doorbell", "median", "p90", "p99");
	for (size_t i = 0; i < nm; i++)
		if (selected(&modes[i]))
			round_trip(&modes[i]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = { VTEST(benchmark) };

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [SECONDS]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	if (argc > 2)
		run_secs = strtod(argv[2], NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return vtest_run("bench_virtio_b2b", tests, 1, argv);
}
