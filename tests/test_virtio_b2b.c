/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two vus-virtio-net-pci processes wired back to back through their
 * datagram backends (each one's --peer is the other's --bind), each driven
 * by the client-side virtio driver of test_virtio_util.c: rings and
 * buffers in memfds granted with DMA_MAP, interrupts on MSI-X eventfds,
 * doorbells through the ioeventfds of DEVICE_GET_REGION_IO_FDS, through
 * REGION_WRITE (acknowledged and posted) or through the mmap'd
 * notification page.
 *
 * Thousands of frames go both ways at once; every frame carries its
 * stream and sequence number and a pattern derived from them, and the
 * receiving driver checks every byte, the order, and that nothing is
 * missing. At the end the drivers' counts are compared with the counters
 * each server prints when it stops (SIGTERM, exit 0). One side is reset
 * (status 0, or DEVICE_RESET) or reconnected in the middle of the
 * traffic: the other side keeps working and holds its frames back
 * (backpressure, no loss), and traffic resumes once the first side is
 * initialised again. Losses are allowed only where a reset may really
 * drop a frame, and are bounded. One side's server is also replaced by a
 * new process mid-traffic (live upgrade): nothing may be lost then.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_util.h"

#define F(b) (1ull << (b))
#define VERSION_1 F(32)
#define MAC F(5)
#define STATUS_F F(16)
#define MRG_RXBUF F(15)
#define EVENT_IDX F(29)
#define INDIRECT F(28)
#define ALL_FEATURES (VERSION_1 | MAC | STATUS_F | MRG_RXBUF | EVENT_IDX | INDIRECT)

/* A driver that sleeps this long without an interrupt has lost one. */
#define STALL_MS 5000
#define DEADLINE_MS 60000
/* Frames the sample reads from its link with one call and holds until
 * its ring takes them (VNET_RX_BATCH in samples/virtio-net-pci). */
#define RX_BATCH 32u

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

/* Frames from one driver to the other. */
struct flow {
	struct tvd *tx, *rx;
	const uint8_t *src, *dst;
	uint8_t stream;
	uint32_t total;      /* frames to send */
	uint32_t next;       /* next sequence number to send */
	uint32_t expect;     /* next sequence number the receiver wants */
	uint32_t received;
	uint32_t lost;       /* skipped at a reset (allowed up to max_loss) */
	uint32_t max_loss;
	uint32_t min_len, max_len;
	bool jumbo;          /* every 50th frame TVD_MAX_FRAME bytes */
	bool held;           /* the sender queues nothing new for now */
	uint64_t rx_bytes;
};

struct rig {
	struct tv a, b;
	struct tvd da, db;
	struct flow ab, ba;
};

static uint8_t txbuf[TVD_MAX_FRAME], rxbuf[TVD_MAX_FRAME];

/* Deterministic sizes: both ends, the smallest and largest often. */
static uint32_t frame_len(const struct flow *f, uint32_t seq)
{
	uint32_t h = seq * 2246822519u + f->stream * 3266489917u;

	h ^= h >> 15;
	if (f->jumbo && seq % 50 == 7)
		return TVD_MAX_FRAME;
	if (seq % 64 == 0)
		return f->max_len;
	if (seq % 64 == 1)
		return f->min_len;
	return f->min_len + h % (f->max_len - f->min_len + 1);
}

/* Reap completions and queue new frames; true if anything moved. */
static bool pump_tx(struct flow *f)
{
	bool moved = tvd_reap_tx(f->tx) > 0;

	while (!f->tx->down && !f->held && f->next < f->total) {
		uint32_t len = frame_len(f, f->next);

		tv_frame_make(txbuf, len, f->dst, f->src, f->stream, f->next);
		if (!tvd_tx(f->tx, txbuf, len, f->next))
			break;
		f->next++;
		moved = true;
	}
	tvd_flush(f->tx);
	return moved;
}

/* Take received frames and check each one; true if any came. */
static bool pump_rx(struct flow *f)
{
	bool moved = false;
	ssize_t n;

	while (!f->rx->rx_paused &&
	       (n = tvd_rx(f->rx, rxbuf, sizeof(rxbuf))) >= 0) {
		uint32_t seq;

		if (!tv_frame_check(rxbuf, (size_t)n, f->stream, true, &seq))
			fail_msg("stream %u: frame after %u (%zd bytes) is corrupt",
				 f->stream, f->expect, n);
		if (seq < f->expect || seq - f->expect > f->max_loss - f->lost)
			fail_msg("stream %u: frame %u came after %u (lost %u of %u allowed)",
				 f->stream, seq, f->expect - 1, f->lost, f->max_loss);
		if ((uint32_t)n != frame_len(f, seq))
			fail_msg("stream %u: frame %u is %zd bytes, sent %u",
				 f->stream, seq, n, frame_len(f, seq));
		f->lost += seq - f->expect;
		f->expect = seq + 1;
		f->received++;
		f->rx_bytes += (uint64_t)n;
		moved = true;
	}
	tvd_flush(f->rx);
	return moved;
}

static bool all_delivered(const struct rig *r)
{
	return r->ab.expect == r->ab.total && r->ba.expect == r->ba.total &&
	       tvd_tx_inflight(&r->da) == 0 && tvd_tx_inflight(&r->db) == 0;
}

static bool halfway(const struct rig *r)
{
	return r->ab.expect >= r->ab.total / 3 && r->ba.expect >= r->ba.total / 3;
}

static void dump(const struct rig *r)
{
	tvd_dump(&r->da, "A");
	tvd_dump(&r->db, "B");
	fprintf(stderr, "A->B next %u expect %u; B->A next %u expect %u\n",
		r->ab.next, r->ab.expect, r->ba.next, r->ba.expect);
}

/*
 * Move traffic until @done. With @quiet_ms, return instead once nothing
 * has happened for that long; otherwise that is a lost interrupt or kick.
 */
static void run(struct rig *r, bool (*done)(const struct rig *), int quiet_ms)
{
	struct tvd *ds[2] = { &r->da, &r->db };
	long long deadline = vtest_deadline(DEADLINE_MS);

	while (done == NULL || !done(r)) {
		bool moved = pump_tx(&r->ab);

		moved |= pump_tx(&r->ba);
		moved |= pump_rx(&r->ab);
		moved |= pump_rx(&r->ba);
		if (moved)
			continue;
		if (!tvd_wait(ds, 2, quiet_ms ? quiet_ms : STALL_MS)) {
			if (quiet_ms)
				return;
			dump(r);
			fail_msg("no interrupt for %d ms with work pending",
				 vtest_ms(STALL_MS));
		}
		if (vtest_expired(deadline)) {
			dump(r);
			fail_msg("traffic did not finish in time");
		}
	}
}

struct side {
	const char *notify;          /* --notify */
	struct tvd_config cfg;
};

/* A's --rpc-path for rig_start(), or NULL. */
static const char *rpc_a;

static void flow_init(struct flow *f, struct tvd *tx, struct tvd *rx,
		      uint8_t stream, uint32_t total, uint32_t min_len,
		      uint32_t max_len)
{
	*f = (struct flow){ .tx = tx, .rx = rx, .stream = stream,
			    .total = total, .min_len = min_len,
			    .max_len = max_len };
	f->src = stream == 1 ? mac_a : mac_b;
	f->dst = stream == 1 ? mac_b : mac_a;
}

static void rig_start(struct rig *r, const struct side *sa,
		      const struct side *sb, uint32_t frames, uint32_t min_len,
		      uint32_t max_len)
{
	const char *ea[] = { "--mac", "02:00:00:00:00:0a", "--notify",
			     sa->notify, rpc_a ? "--rpc-path" : NULL, rpc_a,
			     NULL };
	const char *eb[] = { "--mac", "02:00:00:00:00:0b", "--notify",
			     sb->notify, NULL };

	tv_start_pair(&r->a, &r->b, ea, eb);
	tvd_init(&r->da, &r->a, &sa->cfg);
	tvd_init(&r->db, &r->b, &sb->cfg);
	flow_init(&r->ab, &r->da, &r->db, 1, frames, min_len, max_len);
	flow_init(&r->ba, &r->db, &r->da, 2, frames, min_len, max_len);
}

static void rig_stop(struct rig *r, struct tv_dev_stats *sa,
		     struct tv_dev_stats *sb)
{
	/* Neither device ever asked for a reset. */
	assert_int_equal(r->da.st.config_irqs, 0);
	assert_int_equal(r->db.st.config_irqs, 0);
	tvd_fini(&r->da);
	tvd_fini(&r->db);
	tv_stop_stats(&r->a, sa);
	tv_stop_stats(&r->b, sb);
	assert_int_equal(sa->tx_dropped + sa->rx_dropped + sa->queue_errors, 0);
	assert_int_equal(sb->tx_dropped + sb->rx_dropped + sb->queue_errors, 0);
}

/* A server's kicks and interrupts against what its driver saw. */
static void check_signals(const struct tv_dev_stats *s, const struct tvd *d)
{
	/*
	 * Doorbells and interrupts coalesce on eventfds, never multiply. (A
	 * device may see no kick at all: it also looks at its rings when it
	 * starts, and when the backend wakes it.)
	 */
	assert_true(s->kicks <= d->st.kicks);
	assert_true(d->st.irqs <= s->interrupts);
}

/* Nothing lost: each server sent and received exactly the frames. */
static void check_exact(const struct rig *r, const struct tv_dev_stats *sa,
			const struct tv_dev_stats *sb)
{
	assert_int_equal(r->ab.received, r->ab.total);
	assert_int_equal(r->ba.received, r->ba.total);
	assert_int_equal(sa->tx_packets, r->ab.total);
	assert_int_equal(sb->rx_packets, r->ab.total);
	assert_int_equal(sb->tx_packets, r->ba.total);
	assert_int_equal(sa->rx_packets, r->ba.total);
	assert_int_equal(sa->tx_bytes, r->ab.rx_bytes);
	assert_int_equal(sb->rx_bytes, r->ab.rx_bytes);
	assert_int_equal(sb->tx_bytes, r->ba.rx_bytes);
	assert_int_equal(sa->rx_bytes, r->ba.rx_bytes);
	assert_int_equal(r->da.st.tx_done, r->ab.total);
	assert_int_equal(r->db.st.tx_done, r->ba.total);
	check_signals(sa, &r->da);
	check_signals(sb, &r->db);
}

static void stream_both_ways(const struct side *sa, const struct side *sb,
			     uint32_t frames, uint32_t min_len, uint32_t max_len,
			     bool jumbo)
{
	struct tv_dev_stats a, b;
	struct rig r;

	rig_start(&r, sa, sb, frames, min_len, max_len);
	r.ab.jumbo = r.ba.jumbo = jumbo;
	run(&r, all_delivered, 0);
	rig_stop(&r, &a, &b);
	check_exact(&r, &a, &b);
	printf("A->B %u frames %llu bytes, B->A %u frames %llu bytes; "
	       "A: %llu kicks %llu irqs, B: %llu kicks %llu irqs\n",
	       r.ab.received, (unsigned long long)r.ab.rx_bytes, r.ba.received,
	       (unsigned long long)r.ba.rx_bytes,
	       (unsigned long long)r.da.st.kicks, (unsigned long long)r.da.st.irqs,
	       (unsigned long long)r.db.st.kicks, (unsigned long long)r.db.st.irqs);
}

static const struct side ioeventfd_side = {
	"ioeventfd", { ALL_FEATURES, 256, TV_KICK_IOEVENTFD, 0 } };
static const struct side mmap_side = {
	"mmap", { ALL_FEATURES, 256, TV_KICK_MMAP, 0 } };

static void frames_both_ways_ioeventfd_doorbells(void **state)
{
	stream_both_ways(&ioeventfd_side, &ioeventfd_side, 4000, 60, 1514, false);
}

/*
 * Kicks as REGION_WRITE messages (acknowledged on A, posted on B), and
 * the simplest driver: no event index (the NO_NOTIFY flag and interrupts
 * on every batch), no indirect tables, one buffer per frame, and 32-entry
 * rings that wrap every few frames.
 */
static void frames_both_ways_region_write_doorbells(void **state)
{
	const uint64_t f = VERSION_1 | MAC | STATUS_F;
	const struct side a = { "ioeventfd", { f, 32, TV_KICK_REGION_WRITE, 0 } };
	const struct side b = { "ioeventfd", { f, 32, TV_KICK_POSTED, 0 } };

	stream_both_ways(&a, &b, 2500, 60, 1514, false);
}

/* Frames larger than one receive buffer, up to 64 KiB: joined again. */
static void mergeable_buffer_sizes_both_ways(void **state)
{
	struct side s = ioeventfd_side;

	s.cfg.rx_buf_len = 1536;
	stream_both_ways(&s, &s, 800, 1515, 9014, true);
}

/* Receive buffers of 100 bytes: a 1514-byte frame takes 16 of them. */
static void tiny_mergeable_buffers(void **state)
{
	struct side s = ioeventfd_side;

	s.cfg.rx_buf_len = 100;
	stream_both_ways(&s, &s, 1500, 60, 1514, false);
}

static void frames_both_ways_mmap_doorbells(void **state)
{
	stream_both_ways(&mmap_side, &mmap_side, 4000, 60, 1514, false);
}

/* One device on each kind of doorbell. */
static void frames_between_mmap_and_ioeventfd_devices(void **state)
{
	stream_both_ways(&mmap_side, &ioeventfd_side, 2000, 60, 4000, false);
}

/* One end of the link: its server, its driver, its flows out and in. */
struct end {
	struct tv *t;
	struct tvd *d;
	struct flow *out, *in;
	struct tv_dev_stats *st;
};

static void ends(struct rig *r, struct tv_dev_stats st[2], bool a_first,
		 struct end *first, struct end *second)
{
	struct end a = { &r->a, &r->da, &r->ab, &r->ba, &st[0] };
	struct end b = { &r->b, &r->db, &r->ba, &r->ab, &st[1] };

	*first = a_first ? a : b;
	*second = a_first ? b : a;
}

static const struct flow *watched;

static bool watched_all_arrived(const struct rig *r)
{
	return watched->expect == watched->next;
}

/*
 * The other end alone moves traffic while @down is down: with @from_down
 * until it has every frame @down's device sent, then until nothing more
 * happens. Its own frames must then be held back in its ring (nobody
 * reads them), not dropped, and its device must not need a reset.
 */
static void other_end_keeps_working(struct rig *r, struct end *live,
				    const struct flow *from_down)
{
	if (from_down != NULL) {
		watched = from_down;
		run(r, watched_all_arrived, 0);
	}
	run(r, NULL, 100);
	assert_int_equal(tv_status(live->t), 0x0f);
	assert_true(tvd_tx_inflight(live->d) > 0);
	assert_true(live->out->next < live->out->total);
}

/*
 * Every frame exactly once from the end that was reset (what it had in
 * flight was sent again); the other end's frames all arrived but the one
 * the reset device may have held. The servers agree.
 */
static void check_after_reset(const struct rig *r, const struct end *down,
			      const struct end *live)
{
	assert_int_equal(down->out->lost, 0);
	assert_int_equal(down->out->received, down->out->total);
	assert_int_equal(down->st->tx_packets, down->out->total);
	assert_int_equal(live->st->rx_packets, down->out->total);
	assert_int_equal(live->st->tx_packets, live->out->total);
	assert_int_equal(down->st->rx_packets, down->in->received);
	assert_int_equal(down->in->received + down->in->lost, down->in->total);
	check_signals(down->st, down->d);
	check_signals(live->st, live->d);
}

/*
 * Pump until A's receive ring is full and B has frames it could not send,
 * each look after 100 ms without an interrupt (traffic settled). Once was
 * not enough: a loaded machine can stop a device for longer than that
 * half-way there.
 */
static void run_until_backed_up(struct rig *r)
{
	long long deadline = vtest_deadline(DEADLINE_MS);

	for (;;) {
		run(r, NULL, 100);
		if ((uint16_t)(tv_used_idx(&r->a, 0) - r->da.rx_used) ==
			    r->da.cfg.qsize &&
		    tvd_tx_inflight(&r->db) > 0)
			return;
		if (vtest_expired(deadline)) {
			dump(r);
			fail_msg("A's ring never filled with B's frames backed up");
		}
	}
}

/*
 * A stops taking frames until its receive ring is full: its device holds
 * one frame, B's frames back up in A's socket and B's transmit path
 * blocks. Then one end is reset (status 0, or DEVICE_RESET): A, whose
 * ring is full, or B (@reset_sender), whose transmissions are blocked.
 */
static void reset_mid_traffic(const struct side *s, bool device_reset,
			      bool reset_sender)
{
	struct tv_dev_stats st[2];
	struct end down, live;
	struct rig r;
	uint32_t resume, first_again;

	rig_start(&r, s, s, 3000, 60, 1514);
	ends(&r, st, !reset_sender, &down, &live);
	run(&r, halfway, 0);
	r.da.rx_paused = true;
	/* A keeps frames for B to send while B is down. */
	r.ab.held = reset_sender;
	run_until_backed_up(&r);
	/* The one frame a device may hold when its ring is full. */
	down.in->max_loss = 1;
	if (!reset_sender)
		r.da.rx_paused = false;
	tvd_reset(down.d, device_reset);
	/*
	 * The device published everything it did before the reset completed:
	 * what it received is in the used ring, what it sent is marked used
	 * and nothing else was sent. Take both, then send the rest again.
	 */
	pump_rx(down.in);
	tvd_reap_tx(down.d);
	resume = tvd_min_inflight_tag(down.d);
	down.out->next = resume < down.out->next ? resume : down.out->next;
	first_again = down.out->next;
	r.da.rx_paused = false;
	r.ab.held = false;
	other_end_keeps_working(&r, &live, down.out);
	tvd_reinit(down.d);
	run(&r, all_delivered, 0);
	rig_stop(&r, &st[0], &st[1]);
	check_after_reset(&r, &down, &live);
	printf("reset of %s after %u/%u frames: lost %u on its way in\n",
	       reset_sender ? "B" : "A", first_again, down.out->total,
	       down.in->lost);
}

static void status_reset_of_a_full_receiver(void **state)
{
	reset_mid_traffic(&ioeventfd_side, false, false);
}

static void status_reset_of_a_blocked_sender(void **state)
{
	reset_mid_traffic(&ioeventfd_side, false, true);
}

static void device_reset_of_a_full_receiver_mmap(void **state)
{
	reset_mid_traffic(&mmap_side, true, false);
}

static void device_reset_of_a_blocked_sender_mmap(void **state)
{
	reset_mid_traffic(&mmap_side, true, true);
}

/* What a fresh device shows a new client: nothing of the old driver. */
static void check_power_on_state(struct tv *t)
{
	assert_int_equal(tv_status(t), 0);
	assert_int_equal(tv_rd(t, 0x10, 2), 0xffff); /* msix_config */
	for (uint32_t q = 0; q < 2; q++) {
		tv_wr(t, 0x16, 2, q);
		assert_int_equal(tv_rd(t, 0x1c, 2), 0);      /* queue_enable */
		assert_int_equal(tv_rd(t, 0x18, 2), 256);    /* queue_size */
		assert_int_equal(tv_rd(t, 0x1a, 2), 0xffff); /* queue vector */
		assert_int_equal(tv_rd(t, 0x20, 4), 0);      /* queue_desc */
	}
	assert_int_equal(tv_device_features(t) & ALL_FEATURES, ALL_FEATURES);
}

static void reconnect_mid_traffic(const struct side *s)
{
	struct tv_dev_stats a, b, st[2];
	struct end down, live;
	struct rig r;
	uint32_t first;

	rig_start(&r, s, s, 3000, 60, 1514);
	ends(&r, st, true, &down, &live);
	run(&r, halfway, 0);
	/*
	 * A's frames in flight may or may not have left; the new driver
	 * goes on after them. B->A loses what A's device put into the old
	 * client's memory that we had not read, and the batch it had read
	 * from the link for the old ring's free chains but not yet placed
	 * when it parked (the reset drops it).
	 */
	first = tvd_min_inflight_tag(&r.da);
	r.ab.max_loss = first == UINT32_MAX ? 0 : r.ab.next - first;
	r.ba.max_loss = r.da.cfg.qsize + RX_BATCH;
	tvd_detach(&r.da);
	tv_reconnect(&r.a);
	check_power_on_state(&r.a);
	other_end_keeps_working(&r, &live, NULL);
	tvd_reattach(&r.da);
	run(&r, all_delivered, 0);
	rig_stop(&r, &a, &b);
	assert_int_equal(a.tx_packets, r.ab.received);
	assert_int_equal(b.rx_packets, r.ab.received);
	assert_int_equal(r.ab.received + r.ab.lost, r.ab.total);
	assert_int_equal(b.tx_packets, r.ba.total);
	assert_true(a.rx_packets >= r.ba.received && a.rx_packets <= r.ba.total);
	assert_true(r.ba.total - a.rx_packets <= RX_BATCH);
	assert_int_equal(r.ba.received + r.ba.lost, r.ba.total);
	check_signals(&b, &r.db);
	printf("reconnect of A: A->B lost %u (of %u in flight), B->A lost %u "
	       "(%llu dropped at the reset)\n", r.ab.lost, r.ab.max_loss,
	       r.ba.lost, (unsigned long long)(r.ba.total - a.rx_packets));
}

/*
 * The client of A goes away mid-traffic and the same VM's client comes
 * back (same memory, same addresses, no reset): A's device kept its queues
 * parked and carries on. Nothing is lost either way and the driver never
 * saw a reset.
 */
static void reconnect_of_the_same_vm(const struct side *s)
{
	struct tv_dev_stats a, b;
	struct rig r;

	rig_start(&r, s, s, 3000, 60, 1514);
	run(&r, halfway, 0);
	tvd_reconnect_same_vm(&r.da);
	assert_int_equal(tv_status(&r.a), 0x0f); /* still DRIVER_OK */
	run(&r, all_delivered, 0);
	rig_stop(&r, &a, &b);
	assert_int_equal(r.ab.lost, 0);
	assert_int_equal(r.ba.lost, 0);
	assert_int_equal(a.tx_packets, r.ab.total);
	assert_int_equal(b.rx_packets, r.ab.total);
	assert_int_equal(b.tx_packets, r.ba.total);
	assert_int_equal(a.rx_packets, r.ba.total);
	assert_int_equal(a.queue_errors, 0);
	check_signals(&b, &r.db);
}

static void reconnect_keeps_the_device(void **state)
{
	reconnect_of_the_same_vm(&ioeventfd_side);
}

static void reconnect_keeps_the_device_mmap(void **state)
{
	reconnect_of_the_same_vm(&mmap_side);
}

static void reconnect_comes_back_reset(void **state)
{
	reconnect_mid_traffic(&ioeventfd_side);
}

static void reconnect_comes_back_reset_mmap(void **state)
{
	reconnect_mid_traffic(&mmap_side);
}

/* A's old server, while a take-over runs (0 once it has exited). */
static pid_t old_pid;
static int old_status;

static bool old_gone_or_near_end(const struct rig *r)
{
	if (waitpid(old_pid, &old_status, WNOHANG) == old_pid) {
		old_pid = 0;
		return true;
	}
	/* Keep traffic for after the hand-over. */
	return r->ab.next + 300 >= r->ab.total || r->ba.next + 300 >= r->ba.total;
}

/*
 * Replace A's server by a new process that takes it over through A's
 * management socket at @rpc, while the traffic runs. The old one must
 * exit 0; the counters it printed are added to @sum.
 */
static void take_over_a(struct rig *r, const char *rpc,
			struct tv_dev_stats *sum)
{
	struct tv_dev_stats old;
	pid_t n = fork();

	assert_true(n >= 0);
	if (n == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(r->a.log_fd, 2);
		execl(vnet_exe, vnet_exe, "--take-over", rpc, (char *)NULL);
		_exit(127);
	}
	old_pid = r->a.pid;
	run(r, old_gone_or_near_end, 0);
	if (old_pid != 0) {
		/* Near the end: the rest waits for the new process. */
		assert_int_equal(waitpid(old_pid, &old_status, 0), old_pid);
		old_pid = 0;
	}
	assert_true(WIFEXITED(old_status));
	assert_int_equal(WEXITSTATUS(old_status), 0);
	r->a.pid = n;
	tv_log_stats(r->a.log_fd, &old);
	printf("take-over: the old process sent %llu frames, received %llu\n",
	       (unsigned long long)old.tx_packets,
	       (unsigned long long)old.rx_packets);
	tv_stats_add(sum, &old);
}

/*
 * A's server is replaced twice by a new process (--take-over its
 * management socket) in the middle of the traffic: each one takes the
 * client, its memory, interrupt eventfds and doorbells, the notification
 * page the client mapped, the datagram back-end and the queue positions.
 * Not one frame is lost or duplicated either way (the three processes'
 * counters add up to exactly the traffic), and the driver never sees a
 * reset.
 */
static void take_over_mid_traffic(const struct side *s)
{
	struct tv_dev_stats a = { 0 }, last, b;
	char rpc[256];
	struct rig r;

	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("vnet-rpc"));
	rpc_a = rpc;
	rig_start(&r, s, s, 3000, 60, 1514);
	rpc_a = NULL;
	run(&r, halfway, 0);
	take_over_a(&r, rpc, &a);
	assert_int_equal(tv_status(&r.a), 0x0f); /* still DRIVER_OK */
	take_over_a(&r, rpc, &a);
	run(&r, all_delivered, 0);
	rig_stop(&r, &last, &b);
	tv_stats_add(&a, &last);
	assert_int_equal(r.ab.lost + r.ba.lost, 0);
	/* Each new process kicks its queues itself (a ring the old one took
	 * in but never served is looked at again): A's kicks are no longer
	 * the driver's alone. */
	a.kicks = 0;
	check_exact(&r, &a, &b);
	assert_int_equal(access(rpc, F_OK), -1);
}

static void take_over_keeps_the_traffic(void **state)
{
	take_over_mid_traffic(&ioeventfd_side);
}

static void take_over_keeps_the_traffic_mmap(void **state)
{
	take_over_mid_traffic(&mmap_side);
}

/*
 * The servers of a take-over write into one log at the same moment (the
 * old one its counters as it stops, the new one that it serves), and the
 * counters are read back from it: no line may be written over. Two
 * processes append LOG_LINES lines each at once. (Without O_APPEND a
 * memfd lost a fifth to a third of them; a counters line lost that way
 * makes the take-over tests read another process's counters in its
 * place, as once under load: 5777 frames counted of 3000.)
 */
#define LOG_LINES 20000

static void a_shared_log_keeps_every_line(void **state)
{
	static const char line[] = "vus-virtio-net-pci: tx 0 frames\n";
	int fd = tv_log_create(), status;
	pid_t kids[2];
	struct stat st;

	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] != 0)
			continue;
		for (int k = 0; k < LOG_LINES; k++)
			if (write(fd, line, sizeof(line) - 1) != sizeof(line) - 1)
				_exit(1);
		_exit(0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 2 * LOG_LINES * (sizeof(line) - 1));
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(frames_both_ways_ioeventfd_doorbells),
		VTEST(frames_both_ways_region_write_doorbells),
		VTEST(mergeable_buffer_sizes_both_ways),
		VTEST(tiny_mergeable_buffers),
		VTEST(frames_both_ways_mmap_doorbells),
		VTEST(frames_between_mmap_and_ioeventfd_devices),
		VTEST(status_reset_of_a_full_receiver),
		VTEST(status_reset_of_a_blocked_sender),
		VTEST(device_reset_of_a_full_receiver_mmap),
		VTEST(device_reset_of_a_blocked_sender_mmap),
		VTEST(reconnect_comes_back_reset),
		VTEST(reconnect_comes_back_reset_mmap),
		VTEST(reconnect_keeps_the_device),
		VTEST(reconnect_keeps_the_device_mmap),
		VTEST(take_over_keeps_the_traffic),
		VTEST(take_over_keeps_the_traffic_mmap),
		VTEST(a_shared_log_keeps_every_line),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	return vtest_run("virtio_b2b", tests, argc - 1, argv + 1);
}
