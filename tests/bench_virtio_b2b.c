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
 * The same with the shared-memory link between the devices
 * (--shm-listen/--shm-connect), ioeventfd doorbells: frames/s one way and
 * both ways, CPU per frame, the ratio to 1 Mpps and to the datagram link.
 *
 * Then, with ioeventfd doorbells, 64- to 1500-byte frames one way against
 * the floor: the link alone, two processes moving the same frames over a
 * connected AF_UNIX datagram pair with sendmmsg/recvmmsg in the devices'
 * batch sizes and nothing else; and the shm link at each size (--csv PATH
 * writes these rows for tests/bench_report.py's plot).
 *
 *   bench_virtio_b2b VUS-VIRTIO-NET-PCI [SECONDS-PER-RUN] [--csv PATH]
 *
 * BENCH_B2B_ONLY=ioeventfd|posted|region_write|mmap runs one mode;
 * BENCH_B2B_LINK=dgram|shm one link. Three processes (driver, two
 * devices): run it on every CPU, not pinned to one.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
static const char *csv_path;
/* The link between the devices: false the datagram link, true the
 * shared-memory rings (--shm-listen on A, --shm-connect on B). */
static bool link_shm;

/* Whether the link @name ("dgram", "shm") is to be measured. */
static bool link_selected(const char *name)
{
	const char *only = getenv("BENCH_B2B_LINK");

	return only == NULL || strcmp(only, name) == 0;
}

/* The floor's batches: what the device sends and reads with one call
 * (VNET_TX_BATCH, VNET_RX_BATCH in samples/virtio-net-pci/net_priv.h). */
#define FLOOR_TX_BATCH 64
#define FLOOR_RX_BATCH 32

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
	char shm[256];
	const char *args[] = { "--notify", m->notify, "--log-level", "error",
			       NULL, NULL, NULL };
	const char *args_b[] = { "--notify", m->notify, "--log-level", "error",
				 NULL, NULL, NULL };
	const struct tvd_config cfg = { FEATURES, QSIZE, m->kick, 0 };

	snprintf(shm, sizeof(shm), "%s", vtest_sock_path("shm-link"));
	if (link_shm) {
		args[4] = "--shm-listen";
		args_b[4] = "--shm-connect";
		args[5] = args_b[5] = shm;
	}
	tv_start_pair(&p->a, &p->b, args, args_b);
	tvd_init(&p->da, &p->a, &cfg);
	tvd_init(&p->db, &p->b, &cfg);
	/* A shm link comes up once both devices run and have met. */
	tv_wait_link(&p->a, true);
	tv_wait_link(&p->b, true);
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

/* CPU seconds process @pid has used (0: this one). */
static double cpu_secs(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	struct timespec ts;
	ssize_t n;
	int fd;

	if (pid == 0) {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
		return ts.tv_sec + ts.tv_nsec / 1e9;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = 0;
	p = strrchr(buf, ')');
	assert_non_null(p);
	/* After the name: state and 10 fields, then utime and stime. */
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				"%*u %llu %llu", &ut, &st), 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* What a run moved: frames/s, and CPU microseconds per frame of the
 * driver thread and both devices together. */
struct rate {
	double fps, cpu_us;
};

/* Stream for run_secs, then let what is in flight arrive; print rates. */
static struct rate stream(const struct mode *m, uint32_t len, bool both)
{
	struct dir dirs[2];
	unsigned int nd = both ? 2 : 1;
	uint64_t kicks, irqs, frames = 0;
	struct pair p;
	struct rate r;
	long long t0, t1;
	double c0, c1;
	bool busy = true;

	pair_start(&p, m);
	dir_init(&dirs[0], &p.da, &p.db, 1, len);
	dir_init(&dirs[1], &p.db, &p.da, 2, len);
	t0 = tv_now_ns();
	c0 = cpu_secs(0) + cpu_secs(p.a.pid) + cpu_secs(p.b.pid);
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
	c1 = cpu_secs(0) + cpu_secs(p.a.pid) + cpu_secs(p.b.pid);
	for (unsigned int i = 0; i < nd; i++)
		frames += dirs[i].expect;
	kicks = p.da.st.kicks + p.db.st.kicks;
	irqs = p.da.st.irqs + p.db.st.irqs;
	r.fps = frames / ((t1 - t0) / 1e9);
	r.cpu_us = (c1 - c0) * 1e6 / frames;
	printf("%-12s %-5s %5u  %-8s %9.0f %7.2f %11.3f %10.3f %9.2f\n", m->name,
	       link_shm ? "shm" : "dgram", len,
	       both ? "both" : "one way", r.fps,
	       frames * (double)len * 8 / ((t1 - t0) / 1e9) / 1e9,
	       (double)kicks / frames, (double)irqs / frames, r.cpu_us);
	pair_stop(&p);
	return r;
}

/* The floor's receiver: count frames until the 1-byte end mark; write the
 * count, the nanoseconds from the first frame to the mark and its CPU
 * nanoseconds to @out. */
static void floor_receiver(int fd, int out)
{
	static uint8_t bufs[FLOOR_RX_BATCH][2048];
	struct mmsghdr msgs[FLOOR_RX_BATCH];
	struct iovec iov[FLOOR_RX_BATCH];
	long long res[3] = { 0, 0, 0 }, t0 = 0;

	for (;;) {
		int got;

		for (int i = 0; i < FLOOR_RX_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msgs[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		got = recvmmsg(fd, msgs, FLOOR_RX_BATCH, MSG_WAITFORONE, NULL);
		if (got <= 0)
			_exit(1);
		if (t0 == 0)
			t0 = tv_now_ns();
		for (int i = 0; i < got; i++) {
			if (msgs[i].msg_len == 1) {
				res[1] = tv_now_ns() - t0;
				res[2] = (long long)(cpu_secs(0) * 1e9);
				_exit(write(out, res, sizeof(res)) == sizeof(res) ? 0 : 1);
			}
			res[0]++;
		}
	}
}

/*
 * The floor: frames of @len bytes from one process to another over a
 * connected AF_UNIX datagram pair (as two devices connected to each
 * other), sendmmsg of FLOOR_TX_BATCH and recvmmsg of FLOOR_RX_BATCH,
 * blocking, for run_secs: what the link costs with nothing else to do.
 */
static struct rate link_floor(uint32_t len)
{
	static uint8_t frame[1514];
	struct mmsghdr msgs[FLOOR_TX_BATCH];
	struct iovec iov = { frame, len };
	long long res[3], end;
	int sv[2], pfd[2], status;
	double c0 = cpu_secs(0);
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		floor_receiver(sv[1], pfd[1]);
	}
	close(sv[1]);
	close(pfd[1]);
	for (int i = 0; i < FLOOR_TX_BATCH; i++)
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov,
							 .msg_iovlen = 1 } };
	end = tv_now_ns() + (long long)(run_secs * 1e9);
	while (tv_now_ns() < end)
		assert_true(sendmmsg(sv[0], msgs, FLOOR_TX_BATCH, 0) > 0);
	iov.iov_len = 1;
	assert_int_equal(sendmmsg(sv[0], msgs, 1, 0), 1);
	assert_int_equal(read(pfd[0], res, sizeof(res)), sizeof(res));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);
	close(pfd[0]);
	return (struct rate){ .fps = res[0] / (res[1] / 1e9),
		.cpu_us = ((cpu_secs(0) - c0) * 1e9 + res[2]) / 1e3 / res[0] };
}

/*
 * ioeventfd doorbells, one way, by frame size, against the floor: frames/s
 * (the machine's other load weighs on both alike), CPU per frame of all
 * the processes involved, and the frames/s that CPU cost allows on 2
 * otherwise idle CPUs.
 */
static void by_size(void)
{
	static const uint32_t sizes[] = { 64, 128, 256, 512, 1024, 1500 };
	FILE *csv = NULL;

	printf("\none way by frame size (ioeventfd) against the floor: the link "
	       "alone, sendmmsg %d / recvmmsg %d between two processes\n"
	       "(cpu = us of CPU per frame, driver and both devices or both "
	       "floor processes; 2-CPU = 2 s / cpu per frame)\n",
	       FLOOR_TX_BATCH, FLOOR_RX_BATCH);
	if (csv_path != NULL) {
		csv = fopen(csv_path, "w");
		assert_non_null(csv);
		fprintf(csv, "size,fps,cpu_us,floor_fps,floor_cpu_us,shm_fps,"
			"shm_cpu_us\n");
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct rate dev = stream(&modes[0], sizes[i], false), shm = { 0, 0 };
		struct rate fl = link_floor(sizes[i]);

		if (link_selected("shm")) {
			link_shm = true;
			shm = stream(&modes[0], sizes[i], false);
			link_shm = false;
		}
		/* stream() printed its line; the comparison follows it. */
		printf("  %5u: %.0f frames/s (%.2f of 1 Mpps), floor %.0f (ratio %.2f); "
		       "cpu %.2f us, floor %.2f us (ratio %.2f); 2-CPU %.0f, floor %.0f\n",
		       sizes[i], dev.fps, dev.fps / 1e6, fl.fps, dev.fps / fl.fps,
		       dev.cpu_us, fl.cpu_us, dev.cpu_us / fl.cpu_us,
		       2e6 / dev.cpu_us, 2e6 / fl.cpu_us);
		if (shm.fps > 0)
			printf("         shm link: %.0f frames/s (%.2f of 1 Mpps, %.2f of "
			       "the floor), cpu %.2f us (%.2f of the floor's)\n",
			       shm.fps, shm.fps / 1e6, shm.fps / fl.fps, shm.cpu_us,
			       shm.cpu_us / fl.cpu_us);
		if (csv != NULL)
			fprintf(csv, "%u,%.0f,%.3f,%.0f,%.3f,%.0f,%.3f\n", sizes[i],
				dev.fps, dev.cpu_us, fl.fps, fl.cpu_us, shm.fps,
				shm.cpu_us);
	}
	if (csv != NULL)
		fclose(csv);
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
	printf("%-12s %-5s %10.1f %10.1f %10.1f\n", m->name,
	       link_shm ? "shm" : "dgram", rtt[RTT_ROUNDS / 2] / 1e3,
	       rtt[RTT_ROUNDS * 9 / 10] / 1e3, rtt[RTT_ROUNDS * 99 / 100] / 1e3);
	pair_stop(&p);
}

static bool selected(const struct mode *m)
{
	const char *only = getenv("BENCH_B2B_ONLY");

	return only == NULL || strcmp(only, m->name) == 0;
}

/*
 * The shm link against the datagram link, ioeventfd doorbells, the same
 * run: 64 and 1500 bytes, one way and both ways.
 */
static void shm_vs_dgram(void)
{
	static const uint32_t sizes[] = { 64, 1500 };

	printf("\nshared-memory link (--shm-listen/--shm-connect) against the "
	       "datagram link, ioeventfd doorbells\n");
	for (size_t s = 0; s < 2; s++)
		for (int both = 0; both < 2; both++) {
			struct rate d, m;

			link_shm = false;
			d = stream(&modes[0], sizes[s], both);
			link_shm = true;
			m = stream(&modes[0], sizes[s], both);
			link_shm = false;
			printf("  %4u %-8s shm %.0f frames/s (%.2f of 1 Mpps), "
			       "cpu %.2f us/frame; dgram %.0f (%.2f), cpu %.2f; "
			       "shm/dgram %.2f fps, %.2f cpu\n", sizes[s],
			       both ? "both" : "one way", m.fps, m.fps / 1e6,
			       m.cpu_us, d.fps, d.fps / 1e6, d.cpu_us,
			       m.fps / d.fps, m.cpu_us / d.cpu_us);
		}
}

static void benchmark(void **state)
{
	static const uint32_t sizes[] = { 64, 1500 };
	const size_t nm = sizeof(modes) / sizeof(modes[0]);

	printf("virtio-net back to back: two devices, a datagram link (or the "
	       "shm link) between them, one driver thread for both; %.1f s per run\n"
	       "(frame = Ethernet frame without FCS; Gbit/s of frame bytes; "
	       "'both' counts both directions)\n\n", run_secs);
	printf("%-12s %-5s %5s  %-8s %9s %7s %11s %10s %9s\n", "doorbell",
	       "link", "frame",
	       "traffic", "frames/s", "Gbit/s", "kicks/frame", "irqs/frame",
	       "cpu us");
	for (size_t i = 0; i < nm && link_selected("dgram"); i++)
		for (size_t s = 0; s < 2 && selected(&modes[i]); s++) {
			stream(&modes[i], sizes[s], false);
			stream(&modes[i], sizes[s], true);
		}
	if (selected(&modes[0]) && link_selected("shm") && link_selected("dgram"))
		shm_vs_dgram();
	/* The shm link alone (BENCH_B2B_LINK=shm): its own lines. */
	for (size_t s = 0; s < 2 && selected(&modes[0]) && !link_selected("dgram");
	     s++) {
		link_shm = true;
		stream(&modes[0], sizes[s], false);
		stream(&modes[0], sizes[s], true);
		link_shm = false;
	}
	printf("\nround trip of a 64-byte frame A -> B -> A (us), sleeping on "
	       "interrupts, %d rounds\n", RTT_ROUNDS);
	printf("%-12s %-5s %10s %10s %10s\n", "doorbell", "link", "median", "p90",
	       "p99");
	for (size_t i = 0; i < nm; i++)
		if (selected(&modes[i]) && link_selected("dgram"))
			round_trip(&modes[i]);
	if (selected(&modes[0]) && link_selected("shm")) {
		link_shm = true;
		round_trip(&modes[0]);
		link_shm = false;
	}
	if (selected(&modes[0]) && link_selected("dgram"))
		by_size();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = { VTEST(benchmark) };

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [SECONDS] "
			"[--csv PATH]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
			csv_path = argv[++i];
		else
			run_secs = strtod(argv[i], NULL);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return vtest_run("bench_virtio_b2b", tests, 1, argv);
}
