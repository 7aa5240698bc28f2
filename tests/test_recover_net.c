/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery of the virtio-net sample as a real process: under
 * vus-supervise with --recover, it is killed with SIGKILL while frames
 * flow both ways, and the restarted process goes on with the same client
 * session -- the client does nothing but go on driving: its DMA mapping,
 * MSI-X eventfds, doorbell eventfds (or the mmap'd notification page),
 * the datagram backend and the frames waiting in it all survive, and the
 * queues continue from the indexes in guest memory.
 *
 * What may be lost is bounded and checked: frames the device had sent and
 * not yet marked used are sent again (duplicates, at most a transmit
 * budget per crash, none lost); frames it had received and not yet
 * published are lost (at most a receive budget plus the batch read ahead
 * that it holds, per crash). Frames keep their order.
 *
 * A driver on INTx without an eventfd (it polls) has nothing to bind
 * again: the restarted device carries on for it too.
 *
 *   test_recover_net VUS_SUPERVISE VUS_VIRTIO_NET_PCI [TEST]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_util.h"

#define F(b) (1ull << (b))
#define FEATURES (F(32) | F(5) | F(16) | F(15) | F(29) | F(28))

#define FRAMES 3000u
#define CRASHES 3u
#define FRAME_LEN 200u
/* The sample's batch budgets (samples/virtio-net-pci/datapath.c). */
#define TX_BUDGET 256u
#define RX_BUDGET 256u
#define RX_BATCH 32u /* VNET_RX_BATCH: frames read with one call, held */

static const uint8_t mac_dev[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_peer[6] = { 0x02, 0, 0, 0, 0, 0x0b };

/* One direction: what was sent, what arrived, in which order. */
struct dir {
	uint32_t next;      /* next sequence number to send */
	uint32_t got;       /* distinct frames that arrived */
	uint32_t dups;
	uint32_t last;      /* highest sequence number seen + 1 */
	bool seen[FRAMES + 64];
};

static struct dir tx, rx; /* device -> peer, peer -> device */
static uint8_t buf[4096];

static void note(struct dir *d, const uint8_t *f, ssize_t len, uint8_t stream)
{
	uint32_t seq;

	assert_true(tv_frame_check(f, (size_t)len, stream, true, &seq));
	assert_true(seq < FRAMES + 64);
	if (d->seen[seq]) {
		d->dups++;
		return;
	}
	/* In order: a frame sent again comes before anything newer. */
	assert_true(seq >= d->last || d->seen[seq] == false);
	d->seen[seq] = true;
	d->got++;
	if (seq + 1 > d->last)
		d->last = seq + 1;
}

/* One turn of the driver and the far end; true if anything moved. */
static bool pump(struct tv *t, struct tvd *d, uint32_t limit)
{
	bool moved = false;
	ssize_t n;

	while (tx.next < limit) {
		tv_frame_make(buf, FRAME_LEN, mac_peer, mac_dev, 1, tx.next);
		if (!tvd_tx(d, buf, FRAME_LEN, tx.next))
			break;
		tx.next++;
		moved = true;
	}
	tvd_flush(d);
	while (rx.next < limit) {
		tv_frame_make(buf, FRAME_LEN, mac_dev, mac_peer, 2, rx.next);
		if (!tv_peer_try_send(t, buf, FRAME_LEN))
			break;
		rx.next++;
		moved = true;
	}
	moved |= tvd_reap_tx(d) > 0;
	while ((n = tvd_rx(d, buf, sizeof(buf))) >= 0) {
		note(&rx, buf, n, 2);
		moved = true;
	}
	while ((n = tv_peer_recv(t, buf, sizeof(buf), 0)) >= 0) {
		note(&tx, buf, n, 1);
		moved = true;
	}
	return moved;
}

static void traffic_survives(const char *notify, enum tv_kick_mode kick)
{
	const char *extra[] = { "--recover", "--notify", notify, "--mac",
				"02:00:00:00:00:0a", NULL };
	const struct tvd_config cfg = { FEATURES, 256, kick, 0 };
	long long end = vtest_deadline(120000);
	struct tvd *ds[1];
	unsigned int crashes = 0;
	uint64_t irqs_before = 0;
	struct tv t;
	struct tvd d;

	memset(&tx, 0, sizeof(tx));
	memset(&rx, 0, sizeof(rx));
	tv_start(&t, extra);
	tvd_init(&d, &t, &cfg);
	ds[0] = &d;
	/* Frames both ways; killed at 1/4, 2/4 and 3/4 of them sent. */
	while (tx.got < FRAMES || rx.next < FRAMES) {
		if (crashes < CRASHES &&
		    tx.next >= (crashes + 1) * FRAMES / (CRASHES + 1) &&
		    rx.next >= (crashes + 1) * FRAMES / (CRASHES + 1)) {
			irqs_before = d.st.irqs;
			vtest_kill_child(t.pid);
			crashes++;
		}
		if (!pump(&t, &d, FRAMES))
			(void)tvd_wait(ds, 1, 50);
		if (vtest_expired(end)) {
			tvd_dump(&d, "device");
			fail_msg("stalled: tx %u/%u sent %u arrived, rx %u/%u",
				 tx.next, FRAMES, tx.got, rx.next, rx.got);
		}
	}
	/* The restarted device interrupts through the eventfds bound
	 * before the crash. */
	assert_true(d.st.irqs > irqs_before);
	/* Markers after the last frame: once one is in, every frame before
	 * it has arrived or is lost for good (each direction is in order). */
	while (!rx.seen[FRAMES] && !vtest_expired(end)) {
		if (rx.next == FRAMES) {
			tv_frame_make(buf, FRAME_LEN, mac_dev, mac_peer, 2, FRAMES);
			rx.next += tv_peer_try_send(&t, buf, FRAME_LEN);
		}
		if (!pump(&t, &d, FRAMES))
			(void)tvd_wait(ds, 1, 50);
	}
	assert_true(rx.seen[FRAMES]);
	rx.got--; /* the marker */
	printf("%s doorbells, %u SIGKILLs: device->peer %u/%u frames (%u sent twice), "
	       "peer->device %u/%u frames (%u lost), %llu interrupts\n",
	       notify, crashes, tx.got, FRAMES, tx.dups, rx.got, FRAMES,
	       FRAMES - rx.got, (unsigned long long)d.st.irqs);
	assert_int_equal(crashes, CRASHES);
	assert_int_equal(tx.got, FRAMES);
	assert_true(tx.dups <= CRASHES * TX_BUDGET);
	assert_true(FRAMES - rx.got <= CRASHES * (RX_BUDGET + RX_BATCH));
	assert_int_equal(rx.dups, 0);
	tvd_fini(&d);
	tv_stop(&t);
}

/* Read-to-clear ISR until its queue bit shows (raised just after the
 * device publishes); false if it never does. */
static bool isr_queue_raised(struct tv *t)
{
	long long end = vtest_deadline(20000);
	uint8_t isr = 0;

	for (;;) {
		assert_int_equal(vus_client_region_read(t->c, TV_BAR, TV_ISR,
							&isr, 1), 0);
		if ((isr & 1) || vtest_expired(end))
			return isr & 1;
		usleep(1000);
	}
}

/*
 * A driver on INTx that never binds an eventfd to it: it polls its rings
 * and ISR. The restarted device has no interrupt to wait for and must
 * carry on: a frame each way before the kill and after it, each raising
 * the line the driver polls.
 */
static void intx_without_an_eventfd_survives_sigkill(void **state)
{
	const char *extra[] = { "--recover", "--mac", "02:00:00:00:00:0a", NULL };
	struct tv t;

	(void)state;
	tv_start(&t, extra);
	assert_int_equal(tv_init(&t, F(32) | F(5), 64), 0x0f);
	tv_post_rx(&t, 0, 8);
	for (uint16_t k = 1; k <= 2; k++) {
		if (k == 2)
			vtest_kill_child(t.pid);
		tv_frame_make(buf, FRAME_LEN, mac_peer, mac_dev, 1, k);
		tv_send(&t, k, buf, FRAME_LEN);
		assert_int_equal(tv_peer_recv(&t, buf, sizeof(buf), 20000),
				 FRAME_LEN);
		assert_true(tv_wait_used(&t, 1, k, 20000));
		assert_true(isr_queue_raised(&t));
		tv_frame_make(buf, FRAME_LEN, mac_dev, mac_peer, 2, k);
		tv_peer_send(&t, buf, FRAME_LEN);
		assert_true(tv_wait_used(&t, 0, k, 20000));
		assert_true(isr_queue_raised(&t));
	}
	tv_stop(&t);
}

static void traffic_survives_sigkill_ioeventfd(void **state)
{
	(void)state;
	traffic_survives("ioeventfd", TV_KICK_IOEVENTFD);
}

static void traffic_survives_sigkill_mmap(void **state)
{
	(void)state;
	traffic_survives("mmap", TV_KICK_MMAP);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(traffic_survives_sigkill_ioeventfd),
		VTEST(traffic_survives_sigkill_mmap),
		VTEST(intx_without_an_eventfd_survives_sigkill),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VUS_SUPERVISE VUS_VIRTIO_NET_PCI [TEST]\n",
			argv[0]);
		return 2;
	}
	vus_supervise = argv[1];
	vnet_exe = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	return vtest_run("recover_net", tests, argc - 2, argv + 2);
}
