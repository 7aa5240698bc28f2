/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TAP back-end with several queue pairs (--queues N: a multi-queue
 * TAP, one queue per pair), where /dev/net/tun can make an interface
 * (root; skipped elsewhere), the test as the far end through AF_PACKET:
 * the control queue's commands, good and bad; frames on pair 1 both ways
 * (the kernel spreads UDP flows over the TAP's attached queues by hash),
 * none on it before the driver asks for two pairs or after it goes back
 * to one; the bound on N, and what --queues N > 1 refuses at start; its
 * state through a migration (all pairs' queues, the control queue, the
 * pairs in use), a crash (--recover under vus-supervise) and a take-over.
 *
 *   test_virtio_tap_mq VUS-VIRTIO-NET-PCI [--supervise=VUS-SUPERVISE] [TEST]
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_stream.h"
#include "test_virtio_tap_util.h"
#include "test_virtio_util.h"

#define F_CTRL_VQ F(17)
#define F_MQ F(22)
#define MAX_PAIRS 63u

/* vus-supervise (--supervise=PATH), or NULL: crash recovery skipped. */
static const char *supervise_exe;

/* Control buffers and pair 1's receive buffers, apart from the others. */
#define CTRL_BUF(i) TV_TXBUF(200 + (i))
#define RX1_SLOT 64u

struct piece {
	const void *data; /* NULL: device-writable, 0xee-filled */
	uint32_t len;
};

/* Start a device with --queues @queues on TAP @name (ours, named after
 * @tag) and option @extra (or NULL), its output kept with @logged;
 * skipped without a TAP. */
static void mq_start(struct tv *t, char *name, char tag, const char *queues,
		     const char *extra, bool logged)
{
	const char *const args[] = { "--tap", name, "--queues", queues, extra,
				     NULL };

	if (!ttap_usable())
		skip();
	snprintf(name, IFNAMSIZ, "vusm%d%c", (int)(getpid() % 100000), tag);
	if (logged)
		tv_start_logged(t, args);
	else
		tv_start(t, args);
}

/* DRIVER_OK with MQ and CTRL_VQ: pairs' queues 0..2*@layout-1 of 64
 * entries, the control queue at 2 * @pairs. */
static void mq_init(struct tv *t, unsigned int pairs, unsigned int layout)
{
	assert_int_equal(tv_negotiate(t, FEATURES | F_MQ | F_CTRL_VQ), 0x0b);
	for (unsigned int q = 0; q < 2 * layout; q++)
		tv_setup_queue(t, q, 64, TV_RAM + q * 0x10000ull);
	tv_setup_queue(t, 2 * pairs, 64, TV_RAM + 2 * layout * 0x10000ull);
	tv_set_status(t, 0x0f);
	assert_int_equal(tv_status(t), 0x0f);
}

/* Post chain @pc[0, n) on control queue @cq and kick. */
static void ctrl_post(struct tv *t, unsigned int cq, const struct piece *pc,
		      unsigned int n)
{
	struct tvq *v = &t->q[cq];
	uint16_t base = (uint16_t)((v->avail_idx * 4u) % v->size);

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = tv_gp(t, CTRL_BUF(i));
		uint16_t flags = (pc[i].data ? 0 : 2) | (i + 1 < n ? 1 : 0);

		if (pc[i].data != NULL)
			memcpy(p, pc[i].data, pc[i].len);
		else
			memset(p, 0xee, pc[i].len);
		tv_desc(t, cq, (uint16_t)(base + i), CTRL_BUF(i), pc[i].len, flags,
			(uint16_t)(base + i + 1));
	}
	tv_offer(t, cq, base);
	tv_kick(t, cq);
}

/* A command the device answers: its ack (the used length must be 1). */
static int ctrl_cmd(struct tv *t, unsigned int cq, const struct piece *pc,
		    unsigned int n)
{
	uint16_t used = tv_used_idx(t, cq);
	uint32_t id, len;
	int ack = -1;

	ctrl_post(t, cq, pc, n);
	assert_true(tv_wait_used(t, cq, (uint16_t)(used + 1), 5000));
	tv_used_elem(t, cq, used, &id, &len);
	assert_int_equal(len, 1);
	for (unsigned int i = 0; i < n && ack < 0; i++)
		if (pc[i].data == NULL)
			ack = tv_gp(t, CTRL_BUF(i))[0];
	return ack;
}

/* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET @pairs, as Linux sends it (header,
 * data, ack in three pieces). */
static int pairs_set(struct tv *t, unsigned int cq, uint16_t pairs)
{
	const uint8_t hdr[2] = { 4, 0 }, data[2] = { (uint8_t)pairs,
						     (uint8_t)(pairs >> 8) };
	const struct piece pc[] = { { hdr, 2 }, { data, 2 }, { NULL, 1 } };

	return ctrl_cmd(t, cq, pc, 3);
}

static void wait_needs_reset(struct tv *t)
{
	long long end = tv_now_ns() + vtest_ms(5000) * 1000000ll;

	while (!(tv_status(t) & 0x40)) {
		assert_true(tv_now_ns() < end);
		usleep(200);
	}
}

static uint16_t max_pairs(struct tv *t)
{
	uint16_t v = 0;

	assert_int_equal(vus_client_region_read(t->c, TV_BAR, TV_DEVCFG + 8,
						&v, 2), 0);
	return le16toh(v);
}

static void mq_control_queue(void **state)
{
	static const uint8_t one[4] = { 4, 0, 1, 0 }, zero[4] = { 4, 0, 0, 0 },
			     three[4] = { 4, 0, 3, 0 }, rx_class[3] = { 0, 0, 1 },
			     rss[4] = { 4, 1, 2, 0 }, longer[5] = { 4, 0, 2, 0, 0 };
	const struct piece good[] = { { one, 4 }, { NULL, 1 } },
			   pairs0[] = { { zero, 4 }, { NULL, 1 } },
			   pairs3[] = { { three, 4 }, { NULL, 1 } },
			   unknown[] = { { rx_class, 3 }, { NULL, 1 } },
			   cmd1[] = { { rss, 4 }, { NULL, 1 } },
			   shorter[] = { { one, 1 }, { NULL, 1 } },
			   ack_only[] = { { NULL, 1 } },
			   too_long[] = { { longer, 5 }, { NULL, 1 } };
	char name[IFNAMSIZ];
	struct tv t;

	(void)state;
	mq_start(&t, name, 'c', "2", NULL, false);
	assert_true((tv_device_features(&t) & (F_MQ | F_CTRL_VQ)) ==
		    (F_MQ | F_CTRL_VQ));
	assert_int_equal(tv_rd(&t, 0x12, 2), 5); /* num_queues */
	assert_int_equal(max_pairs(&t), 2);
	/* MQ needs the control queue; the control queue needs MQ here. */
	assert_int_equal(tv_negotiate(&t, FEATURES | F_MQ) & 0x08, 0);
	assert_int_equal(tv_negotiate(&t, FEATURES | F_CTRL_VQ) & 0x08, 0);
	mq_init(&t, 2, 2);
	assert_int_equal(pairs_set(&t, 4, 2), 0);
	assert_int_equal(ctrl_cmd(&t, 4, good, 2), 0);    /* in one piece */
	assert_int_equal(pairs_set(&t, 4, 0), 1);         /* below MIN */
	assert_int_equal(ctrl_cmd(&t, 4, pairs0, 2), 1);
	assert_int_equal(pairs_set(&t, 4, 3), 1);         /* N + 1 */
	assert_int_equal(ctrl_cmd(&t, 4, pairs3, 2), 1);
	assert_int_equal(pairs_set(&t, 4, 0x8000), 1);    /* the spec's MAX */
	assert_int_equal(ctrl_cmd(&t, 4, unknown, 2), 1); /* VIRTIO_NET_CTRL_RX */
	assert_int_equal(ctrl_cmd(&t, 4, cmd1, 2), 1);    /* MQ, not PAIRS_SET */
	assert_int_equal(ctrl_cmd(&t, 4, shorter, 2), 1); /* class only */
	assert_int_equal(ctrl_cmd(&t, 4, ack_only, 1), 1);
	assert_int_equal(ctrl_cmd(&t, 4, too_long, 2), 1);
	assert_int_equal(pairs_set(&t, 4, 1), 0);
	/* Refusals are answers: the device is still fine. */
	assert_int_equal(tv_status(&t), 0x0f);
	tv_stop(&t);
}

/* Chains the device cannot answer stop the queue: DEVICE_NEEDS_RESET,
 * and a reset brings it back. */
static void mq_control_queue_broken(void **state)
{
	static const uint8_t cmd[4] = { 4, 0, 2, 0 };
	const struct piece no_ack[] = { { cmd, 4 } },
			   backwards[] = { { NULL, 1 }, { cmd, 4 } };
	char name[IFNAMSIZ];
	struct tv t;

	(void)state;
	mq_start(&t, name, 'b', "2", NULL, false);
	mq_init(&t, 2, 2);
	ctrl_post(&t, 4, no_ack, 1);
	wait_needs_reset(&t);
	mq_init(&t, 2, 2); /* a reset first */
	assert_int_equal(pairs_set(&t, 4, 2), 0);
	ctrl_post(&t, 4, backwards, 2);
	wait_needs_reset(&t);
	mq_init(&t, 2, 2);
	assert_int_equal(pairs_set(&t, 4, 2), 0);
	tv_stop(&t);
}

/* An IPv4/UDP frame of flow @flow (its source port): the kernel's TAP
 * picks a queue by the flow's hash. */
static void udp_frame(uint8_t *f, uint16_t flow)
{
	static const uint8_t head[34] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2,
		0x08, 0x00, 0x45, 0, 0, FRAME_LEN - 14, 0, 0, 0, 0, 64, 17, 0, 0,
		10, 9, 0, 2, 10, 9, 0, 1 };

	memset(f, 0, FRAME_LEN);
	memcpy(f, head, sizeof(head));
	f[34] = (uint8_t)(flow >> 8);
	f[35] = (uint8_t)flow;
	f[37] = 9;
	f[39] = FRAME_LEN - 34;
	f[FRAME_LEN - 1] = (uint8_t)flow;
}

/* Receive buffers on queue @q in slots [first, first + n), ring entries
 * from @head; one kick. */
static void post_rx_on(struct tv *t, unsigned int q, uint16_t first,
		       uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(t->q[q].avail_idx % t->q[q].size);

		tv_desc(t, q, head, TV_RXBUF(first + i), TV_BUF_SIZE, 2, 0);
		tv_offer(t, q, head);
	}
	tv_kick(t, q);
}

/* Send flows [first, first + n) into the interface; wait until queues 0
 * and 2 together used @total entries. */
static void inject_flows(struct tv *t, int pfd, uint16_t first, uint16_t n,
			 uint16_t total)
{
	long long end = tv_now_ns() + vtest_ms(10000) * 1000000ll;
	uint8_t frame[FRAME_LEN];

	for (uint16_t i = first; i < first + n; i++) {
		udp_frame(frame, (uint16_t)(1000 + i));
		assert_int_equal(send(pfd, frame, FRAME_LEN, 0), FRAME_LEN);
	}
	while ((uint16_t)(tv_used_idx(t, 0) + tv_used_idx(t, 2)) != total) {
		assert_true(tv_now_ns() < end);
		usleep(200);
	}
}

/* Transmit @n frames on pair @pair's transmit queue; each reaches the
 * interface. */
static void send_on_pair(struct tv *t, int pfd, unsigned int pair, uint8_t n)
{
	unsigned int q = 2 * pair + 1;
	uint16_t used = tv_used_idx(t, q);
	uint8_t frame[FRAME_LEN], got[2048];

	for (uint8_t i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(t->q[q].avail_idx % t->q[q].size);
		uint64_t buf = TV_TXBUF(8 * pair + i);

		ttap_frame_make(frame, (uint8_t)(40 * pair + i));
		memset(tv_gp(t, buf), 0, 12);
		memcpy(tv_gp(t, buf) + 12, frame, FRAME_LEN);
		tv_desc(t, q, head, buf, 12 + FRAME_LEN, 0, 0);
		tv_offer(t, q, head);
	}
	tv_kick(t, q);
	for (uint8_t i = 0; i < n; i++) {
		ttap_frame_make(frame, (uint8_t)(40 * pair + i));
		assert_int_equal(ttap_packet_recv(pfd, got, sizeof(got)), FRAME_LEN);
		assert_memory_equal(got, frame, FRAME_LEN);
	}
	assert_true(tv_wait_used(t, q, (uint16_t)(used + n), 5000));
}

/* The counters of pair @pair the server printed at its end. */
static void pair_stats(int log_fd, unsigned int pair, unsigned long long *tx,
		       unsigned long long *rx)
{
	char out[8192], key[48];
	ssize_t n = pread(log_fd, out, sizeof(out) - 1, 0);
	const char *p;

	assert_true(n > 0);
	out[n] = '\0';
	snprintf(key, sizeof(key), "pair %u: ", pair);
	p = strstr(out, key);
	assert_non_null(p);
	assert_int_equal(sscanf(p + strlen(key), "tx %llu frames, rx %llu frames",
				tx, rx), 2);
}

static void mq_frames_on_both_pairs(void **state)
{
	char name[IFNAMSIZ];
	unsigned long long tx[2], rx[2];
	struct tv_dev_stats st;
	uint16_t rx1;
	struct tv t;
	int pfd, log;

	(void)state;
	mq_start(&t, name, 'f', "2", NULL, true);
	pfd = ttap_packet_open(ttap_up(name));
	mq_init(&t, 2, 2);
	post_rx_on(&t, 0, 0, 64);
	post_rx_on(&t, 2, RX1_SLOT, 32);
	/* One pair until the driver asks for more: pair 1's TAP queue is
	 * detached, so every flow reaches queue 0. */
	inject_flows(&t, pfd, 0, 16, 16);
	assert_int_equal(tv_used_idx(&t, 2), 0);
	assert_int_equal(pairs_set(&t, 4, 2), 0);
	inject_flows(&t, pfd, 16, 32, 48);
	rx1 = tv_used_idx(&t, 2);
	assert_true(rx1 > 0 && rx1 < 32);
	send_on_pair(&t, pfd, 1, 3);
	send_on_pair(&t, pfd, 0, 2);
	/* Back to one pair: nothing more on pair 1. */
	assert_int_equal(pairs_set(&t, 4, 1), 0);
	inject_flows(&t, pfd, 48, 16, 64);
	assert_int_equal(tv_used_idx(&t, 2), rx1);
	close(pfd);
	log = dup(t.log_fd);
	assert_true(log >= 0);
	tv_stop_stats(&t, &st);
	pair_stats(log, 0, &tx[0], &rx[0]);
	pair_stats(log, 1, &tx[1], &rx[1]);
	close(log);
	assert_int_equal(tx[0], 2);
	assert_int_equal(tx[1], 3);
	assert_int_equal(rx[1], rx1);
	assert_int_equal(rx[0], 64 - rx1);
	assert_int_equal(st.tx_packets, 5);
	assert_int_equal(st.rx_packets, 64);
}

/* 63 pairs (127 queues, 128 MSI-X vectors): all usable, 64 not. */
static void mq_pairs_at_the_bound(void **state)
{
	char name[IFNAMSIZ], n[8];
	struct tv t;

	(void)state;
	snprintf(n, sizeof(n), "%u", MAX_PAIRS);
	mq_start(&t, name, 'm', n, NULL, false);
	assert_int_equal(tv_rd(&t, 0x12, 2), 2 * MAX_PAIRS + 1);
	assert_int_equal(max_pairs(&t), MAX_PAIRS);
	mq_init(&t, MAX_PAIRS, 1);
	assert_int_equal(pairs_set(&t, 2 * MAX_PAIRS, MAX_PAIRS), 0);
	assert_int_equal(pairs_set(&t, 2 * MAX_PAIRS, MAX_PAIRS + 1), 1);
	assert_int_equal(pairs_set(&t, 2 * MAX_PAIRS, 1), 0);
	tv_stop(&t);
}

static int stream_memfd(void)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* A saved stream of device @t into @s (room @cap); its length. */
static size_t save_stream(struct tv *t, uint8_t *s, size_t cap)
{
	uint64_t size;
	int fd = stream_memfd();
	ssize_t len;

	assert_int_equal(vus_client_mig_save(t->c, fd, &size), 0);
	len = pread(fd, s, cap, 0);
	assert_true(len > 0 && (size_t)len < cap);
	close(fd);
	return (size_t)len;
}

/* Two pairs in use, receive buffers on both, 32 flows in through @pfd
 * (the interface's far end): how many reached pair 1. */
static uint16_t two_pairs_busy(struct tv *t, int pfd)
{
	mq_init(t, 2, 2);
	assert_int_equal(pairs_set(t, 4, 2), 0);
	post_rx_on(t, 0, 0, 64);
	post_rx_on(t, 2, RX1_SLOT, 32);
	inject_flows(t, pfd, 0, 32, 32);
	return tv_used_idx(t, 2);
}

/*
 * Migration with two pairs (section virtio-net version 3): every queue's
 * progress, the control queue's and the pairs in use travel. The guest's
 * memory and the driver's view are copied to a second device, which
 * carries on: flows arrive on both pairs after the used entries the
 * source made, both transmit queues and the control queue go on.
 */
static void mq_state_travels(void **state)
{
	static uint8_t s[8192];
	char na[IFNAMSIZ], nb[IFNAMSIZ];
	struct tv a, b;
	uint16_t rx1, used;
	uint32_t id, ulen;
	size_t len;
	int pa, pb, fd;

	(void)state;
	mq_start(&a, na, 'a', "2", NULL, false);
	pa = ttap_packet_open(ttap_up(na));
	rx1 = two_pairs_busy(&a, pa);
	send_on_pair(&a, pa, 1, 3);
	len = save_stream(&a, s, sizeof(s));
	close(pa);
	mq_start(&b, nb, 'd', "2", NULL, false);
	memcpy(b.ram, a.ram, TV_RAM_SIZE);
	memcpy(b.q, a.q, sizeof(a.q));
	tv_stop(&a);
	/* Refused by a device of one pair: it reads version 2 at most. */
	tv_start(&a, NULL);
	assert_int_equal(tv_load_stream(&a, s, len), -EPROTONOSUPPORT);
	tv_stop(&a);
	fd = stream_memfd();
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	close(fd);
	pb = ttap_packet_open(ttap_up(nb));
	used = tv_used_idx(&b, 0);
	assert_int_equal((uint16_t)(used + tv_used_idx(&b, 2)), 32);
	post_rx_on(&b, 2, RX1_SLOT + 32, 32);
	inject_flows(&b, pb, 100, 32, 64);
	assert_true(tv_used_idx(&b, 2) > rx1 && tv_used_idx(&b, 0) > used);
	send_on_pair(&b, pb, 1, 2);
	send_on_pair(&b, pb, 0, 2);
	/* The control queue goes on after the source's command, which it
	 * must not run again: its used entry stays as we scribble it. */
	memset(tv_gp(&b, b.q[4].used + 4), 0xff, 8);
	assert_int_equal(pairs_set(&b, 4, 1), 0);
	tv_used_elem(&b, 4, 0, &id, &ulen);
	assert_int_equal(id, 0xffffffffu);
	assert_int_equal(tv_status(&b), 0x0f);
	close(pb);
	tv_stop(&b);
}

/* The pairs in use in a version 3 section: 1..N load, 0 and N + 1 not;
 * a one-pair stream does not load into two pairs, nor the reverse. */
static void mq_state_pairs_at_the_bound(void **state)
{
	static uint8_t s[8192], one[8192];
	/* MAC, MTU, queue count, 5 queues, link byte: then the pairs. */
	const size_t pairs_off = 6 + 2 + 1 + 5 * 8 + 1;
	char na[IFNAMSIZ];
	size_t len, len1, at;
	struct tv a;
	uint32_t dl;

	(void)state;
	tv_start(&a, NULL);
	len1 = save_stream(&a, one, sizeof(one));
	tv_stop(&a);
	mq_start(&a, na, 'p', "2", NULL, false);
	mq_init(&a, 2, 2);
	assert_int_equal(pairs_set(&a, 4, 2), 0);
	len = save_stream(&a, s, sizeof(s));
	at = tv_section_at(s, len, "virtio-net", &dl);
	assert_int_equal(dl, pairs_off + 2 + 2); /* + a frame count per pair */
	assert_int_equal(s[at + pairs_off], 2);
	/* libvus's "pci" section objects first (another MSI-X table). */
	assert_int_equal(tv_load_stream(&a, one, len1), -EBADMSG);
	for (uint8_t k = 0; k <= 3; k++) {
		s[at + pairs_off] = k;
		tv_fix_crc(s, len);
		assert_int_equal(tv_load_stream(&a, s, len),
				 k >= 1 && k <= 2 ? 0 : -EBADMSG);
	}
	tv_stop(&a);
}

/* After two_pairs_busy() (@rx1 frames on pair 1) and a new process: 32
 * more flows reach both pairs, pair 1 transmits, the control queue
 * answers. */
static void still_two_pairs(struct tv *t, int pfd, uint16_t rx1)
{
	post_rx_on(t, 2, RX1_SLOT + 32, 32);
	inject_flows(t, pfd, 100, 32, 64);
	assert_true(tv_used_idx(t, 2) > rx1);
	send_on_pair(t, pfd, 1, 2);
	assert_int_equal(pairs_set(t, 4, 1), 0);
}

/*
 * Crash recovery (--recover under vus-supervise): the pairs in use and
 * every TAP queue survive a SIGKILL. The restarted device carries on with
 * two pairs without being asked again: new flows reach both, pair 1 still
 * transmits, the control queue answers.
 */
static void mq_pairs_survive_a_crash(void **state)
{
	static const uint8_t rx_class[3] = { 0, 0, 1 };
	const struct piece unknown[] = { { rx_class, 3 }, { NULL, 1 } };
	char name[IFNAMSIZ];
	uint16_t rx1;
	struct tv t;
	int pfd;

	(void)state;
	if (supervise_exe == NULL)
		skip();
	vus_supervise = supervise_exe;
	mq_start(&t, name, 'r', "2", "--recover", false);
	pfd = ttap_packet_open(ttap_up(name));
	/* The restarted device runs once every queue's vector is bound. */
	tv_enable_msix(&t);
	rx1 = two_pairs_busy(&t, pfd);
	vtest_kill_child(t.pid);
	/* Answered by the restarted process: it is serving. */
	assert_int_equal(ctrl_cmd(&t, 4, unknown, 2), 1);
	still_two_pairs(&t, pfd, rx1);
	close(pfd);
	tv_stop(&t);
	vus_supervise = NULL;
}

/*
 * A take-over (--take-over RPC_PATH) with two pairs in use: the new
 * process gets every TAP queue and the pairs in use, the old one exits 0,
 * and the new one carries on with both pairs (flows reach pair 1, it
 * transmits, the control queue answers after the old one's commands).
 */
static void mq_taken_over(void **state)
{
	char name[IFNAMSIZ], rpc[256];
	uint16_t rx1;
	struct tv t;
	int pfd, status;
	pid_t n;

	(void)state;
	snprintf(rpc, sizeof(rpc), "--rpc-path=%s", vtest_sock_path("mq-rpc"));
	mq_start(&t, name, 't', "2", rpc, false);
	pfd = ttap_packet_open(ttap_up(name));
	rx1 = two_pairs_busy(&t, pfd);
	n = fork();
	assert_true(n >= 0);
	if (n == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* should the test fail */
		execl(vnet_exe, vnet_exe, "--take-over", rpc + strlen("--rpc-path="),
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(t.pid, &status, 0), t.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	t.pid = n;
	still_two_pairs(&t, pfd, rx1);
	close(pfd);
	tv_stop(&t);
}

/* Run the server with @args; its exit status, its stderr in @out. */
static int run_server(const char *const *args, char *out, size_t len)
{
	const char *argv[16] = { vnet_exe, "--socket-path",
				 vtest_sock_path("vnet-refused") };
	unsigned int k = 3;
	int p[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	for (; *args != NULL && k < 15; args++)
		argv[k++] = *args;
	argv[k] = NULL;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while ((size_t)got < len - 1 && (n = read(p[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void mq_refused_at_start(void **state)
{
	static const struct {
		const char *args[8];
		const char *says;
	} cases[] = {
		{ { "--tap", "vusmr0", "--queues", "64" }, "--queues 64: from 1 to 63" },
		{ { "--tap", "vusmr0", "--queues", "0" }, "--queues 0: from 1 to 63" },
		{ { "--peer", "/tmp/vus-no-peer", "--queues", "2" }, "needs --tap" },
		{ { "--shm-listen", "/tmp/vus-no-shm", "--queues", "2" }, "needs --tap" },
		{ { "--tap", "vusmr0", "--queues", "2", "--notify", "mmap" },
		  "needs --notify ioeventfd" },
	};
	char out[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run_server(cases[i].args, out, sizeof(out)), 2);
		if (strstr(out, cases[i].says) == NULL)
			fail_msg("case %zu: \"%s\" not in: %s", i, cases[i].says, out);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(mq_control_queue),
		VTEST(mq_control_queue_broken),
		VTEST(mq_frames_on_both_pairs),
		VTEST(mq_pairs_at_the_bound),
		VTEST(mq_state_travels),
		VTEST(mq_state_pairs_at_the_bound),
		VTEST(mq_pairs_survive_a_crash),
		VTEST(mq_taken_over),
		VTEST(mq_refused_at_start),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [--supervise=VUS-SUPERVISE] "
			"[TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	/* --supervise=PATH: vus-supervise, for the crash recovery case. */
	if (argc > 2 && strncmp(argv[2], "--supervise=", 12) == 0) {
		supervise_exe = argv[2] + 12;
		argv[2] = argv[1];
		return vtest_run("test_virtio_tap_mq", tests, argc - 2, argv + 2);
	}
	return vtest_run("test_virtio_tap_mq", tests, argc - 1, argv + 1);
}
