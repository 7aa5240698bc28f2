/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net-pci sample as a real process, driven by a minimal virtio
 * driver over the client library (test_virtio_util.c), with the test as
 * the far end of its datagram link: the PCI face a guest driver probes,
 * feature negotiation and status rules, frames both ways, backpressure,
 * a hostile chain that stops one queue (DEVICE_NEEDS_RESET) while the
 * other keeps working, resets, quiesce while the worker runs, INTx, and
 * doorbells through an mmap'd page.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"

#include "test_virtio_util.h"

#define F(b) (1ull << (b))
#define VERSION_1 F(32)
#define MAC F(5)
#define STATUS_F F(16)
#define MRG_RXBUF F(15)
#define EVENT_IDX F(29)
#define INDIRECT F(28)
#define BASE_FEATURES (VERSION_1 | MAC | STATUS_F | MRG_RXBUF)

#define S_FEATURES_OK 0x08
#define S_DRIVER_OK 0x04
#define S_NEEDS_RESET 0x40

static const char *const fixed_mac[] = { "--mac", "02:00:00:12:34:56", NULL };

static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

static void pci_face_of_a_virtio_net_card(void **state)
{
	struct tv t;
	uint8_t cfg[256], types = 0;
	unsigned int p, steps = 0;

	tv_start(&t, NULL);
	assert_int_equal(vus_client_region_read(t.c, VUS_PCI_REGION_CONFIG, 0,
						cfg, sizeof(cfg)), 0);
	assert_int_equal(cfg[0] | cfg[1] << 8, 0x1af4);
	assert_int_equal(cfg[2] | cfg[3] << 8, 0x1041);
	assert_int_equal(cfg[8], 1);                         /* revision */
	assert_int_equal(cfg[9] | cfg[10] << 8 | cfg[11] << 16, 0x020000);
	assert_int_equal(cfg[0x2c] | cfg[0x2d] << 8, 0x1af4); /* subsystem */
	assert_true((cfg[0x2e] | cfg[0x2f] << 8) >= 0x40);
	assert_int_equal(cfg[0x3d], 1);                      /* INTA# */
	assert_int_equal(cfg[0x10 + 4 * 4] & 0x7, 0x4);      /* BAR 4: mem64 */
	for (p = cfg[0x34]; p != 0 && steps < 48; p = cfg[p + 1], steps++) {
		if (cfg[p] == 0x11) {
			assert_int_equal(cfg[p + 2] | cfg[p + 3] << 8, 2); /* 3 vectors */
			assert_int_equal(cfg[p + 4] & 7, 1);              /* BAR 1 */
			continue;
		}
		assert_int_equal(cfg[p], 0x09);
		types |= (uint8_t)(1u << cfg[p + 3]);
		if (cfg[p + 3] != 5)
			assert_int_equal(cfg[p + 4], 4);
		if (cfg[p + 3] == 2) {
			assert_int_equal(cfg[p + 2], 20);
			assert_int_equal(cfg[p + 8] | cfg[p + 9] << 8, TV_NOTIFY);
			assert_int_equal(cfg[p + 16], 4); /* notify_off_multiplier */
		}
	}
	assert_int_equal(types, 0x3e); /* common, notify, isr, device, pci_cfg */
	tv_stop(&t);
}

/* Config space access to the PCI_CFG capability at @cap (1, 2 or 4 bytes). */
static void cfg_put(struct tv *t, uint32_t off, uint32_t v, size_t len)
{
	v = htole32(v);
	assert_int_equal(vus_client_region_write(t->c, VUS_PCI_REGION_CONFIG, off,
						 &v, len), 0);
}

static uint32_t cfg_get(struct tv *t, uint32_t off, size_t len)
{
	uint32_t v = 0;

	assert_int_equal(vus_client_region_read(t->c, VUS_PCI_REGION_CONFIG, off,
						&v, len), 0);
	return le32toh(v);
}

static void bar_through_the_pci_cfg_capability(void **state)
{
	static const char *const args[] = { "--mac", "02:00:00:12:34:56",
					    "--mtu", "1400", NULL };
	uint8_t cfg[256];
	unsigned int p, steps = 0;
	struct tv t;

	tv_start(&t, args);
	assert_int_equal(vus_client_region_read(t.c, VUS_PCI_REGION_CONFIG, 0,
						cfg, sizeof(cfg)), 0);
	for (p = cfg[0x34]; p != 0 && steps < 48; p = cfg[p + 1], steps++)
		if (cfg[p] == 0x09 && cfg[p + 3] == 5)
			break;
	assert_true(p != 0);
	/* Read the device configuration (the MAC) through config space. */
	cfg_put(&t, p + 4, 4, 1);
	cfg_put(&t, p + 8, TV_DEVCFG, 4);
	cfg_put(&t, p + 12, 4, 4);
	assert_int_equal(cfg_get(&t, p + 16, 4), 0x12000002);
	/* MTU offered with --mtu, in the configuration at offset 10. */
	cfg_put(&t, p + 8, TV_DEVCFG + 10, 4);
	cfg_put(&t, p + 12, 2, 4);
	assert_int_equal(cfg_get(&t, p + 16, 2), 1400);
	assert_true(tv_device_features(&t) & F(3));
	/* Write a common register (queue_select) and read it back. */
	cfg_put(&t, p + 8, TV_COMMON + 0x16, 4);
	cfg_put(&t, p + 16, 1, 2);
	assert_int_equal(tv_rd(&t, 0x16, 2), 1);
	/* A length the capability does not allow does nothing. */
	cfg_put(&t, p + 12, 3, 4);
	cfg_put(&t, p + 16, 0, 2);
	assert_int_equal(tv_rd(&t, 0x16, 2), 1);
	tv_stop(&t);
}

static void negotiation_and_status_rules(void **state)
{
	struct tv t;
	uint64_t f;
	uint8_t mac[6];

	tv_start(&t, fixed_mac);
	f = tv_device_features(&t);
	assert_int_equal(f & (BASE_FEATURES | EVENT_IDX | INDIRECT),
			 BASE_FEATURES | EVENT_IDX | INDIRECT);
	/* Without VERSION_1, or with a bit never offered: no FEATURES_OK. */
	assert_false(tv_init(&t, MAC, 64) & S_FEATURES_OK);
	assert_false(tv_init(&t, VERSION_1 | F(22), 64) & S_FEATURES_OK);
	/* DRIVER_OK before FEATURES_OK does not stick. */
	tv_set_status(&t, 0);
	tv_set_status(&t, 0x03);
	tv_set_status(&t, 0x07);
	assert_int_equal(tv_status(&t), 0x03);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_read_mac(&t, mac);
	assert_memory_equal(mac, "\x02\x00\x00\x12\x34\x56", 6);
	uint16_t link;
	assert_int_equal(vus_client_region_read(t.c, TV_BAR, TV_DEVCFG + 6, &link, 2), 0);
	assert_int_equal(le16toh(link), 1); /* LINK_UP */
	/* Features are frozen after FEATURES_OK; a reset clears everything. */
	tv_wr(&t, 0x08, 4, 0);
	tv_wr(&t, 0x0c, 4, 0);
	assert_int_equal(tv_rd(&t, 0x0c, 4), (uint32_t)BASE_FEATURES);
	tv_set_status(&t, 0);
	tv_wr(&t, 0x16, 2, 1);
	assert_int_equal(tv_rd(&t, 0x1c, 2), 0);  /* queue_enable */
	assert_int_equal(tv_rd(&t, 0x18, 2), 256); /* queue_size back to max */
	assert_int_equal(tv_rd(&t, 0x1a, 2), 0xffff);
	/* A vector the device does not have reads back as NO_VECTOR. */
	tv_wr(&t, 0x1a, 2, 7);
	assert_int_equal(tv_rd(&t, 0x1a, 2), 0xffff);
	tv_stop(&t);
}

/*
 * The common configuration at its edges: the last queue and the first
 * past it (absent: size 0, writes dropped), the last MSI-X vector (the
 * device has one per queue and one for configuration) and the first past
 * it (reads back as NO_VECTOR), feature select words 0 and 1 and the
 * first past them (its writes dropped).
 */
static void common_config_at_its_edges(void **state)
{
	struct tv t;

	tv_start(&t, fixed_mac);
	tv_wr(&t, 0x16, 2, 1);                     /* the last queue */
	assert_int_equal(tv_rd(&t, 0x18, 2), 256);
	tv_wr(&t, 0x1a, 2, 2);                     /* the last vector */
	assert_int_equal(tv_rd(&t, 0x1a, 2), 2);
	tv_wr(&t, 0x1a, 2, 3);
	assert_int_equal(tv_rd(&t, 0x1a, 2), 0xffff);
	tv_wr(&t, 0x10, 2, 2);                     /* config vector too */
	assert_int_equal(tv_rd(&t, 0x10, 2), 2);
	tv_wr(&t, 0x10, 2, 3);
	assert_int_equal(tv_rd(&t, 0x10, 2), 0xffff);
	tv_wr(&t, 0x16, 2, 2);                     /* no third queue */
	assert_int_equal(tv_rd(&t, 0x18, 2), 0);
	tv_wr(&t, 0x18, 2, 64);
	tv_wr(&t, 0x1c, 2, 1);
	assert_int_equal(tv_rd(&t, 0x18, 2), 0);
	assert_int_equal(tv_rd(&t, 0x1c, 2), 0);
	assert_int_equal(tv_rd(&t, 0x1a, 2), 0xffff);
	tv_set_status(&t, 0x03);                   /* features: words 0, 1 */
	tv_wr(&t, 0x08, 4, 1);
	tv_wr(&t, 0x0c, 4, 1);                     /* VERSION_1 */
	tv_wr(&t, 0x08, 4, 2);
	tv_wr(&t, 0x0c, 4, 0x20);                  /* a word that is not there */
	tv_wr(&t, 0x08, 4, 0);
	assert_int_equal(tv_rd(&t, 0x0c, 4), 0);
	tv_wr(&t, 0x08, 4, 1);
	assert_int_equal(tv_rd(&t, 0x0c, 4), 1);
	tv_stop(&t);
}

static void frames_both_ways(void **state)
{
	uint8_t frame[1514], got[2048];
	struct tv t;
	uint32_t id, len;

	tv_start(&t, NULL);
	tv_enable_msix(&t);
	assert_int_equal(tv_init(&t, BASE_FEATURES | EVENT_IDX | INDIRECT, 64), 0x0f);
	/* Transmit: the frame reaches the peer as one datagram, no header. */
	make_frame(frame, sizeof(frame), 1);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_true(tv_wait_used(&t, 1, 1, 5000));
	assert_true(vus_client_irq_wait(t.c, VUS_PCI_IRQ_MSIX, TV_VEC_TX, vtest_ms(5000)) >= 1);
	/* Receive: header with num_buffers 1, then the frame. */
	tv_post_rx(&t, 0, 8);
	make_frame(frame, 60, 9);
	tv_peer_send(&t, frame, 60);
	assert_true(tv_wait_used(&t, 0, 1, 5000));
	tv_used_elem(&t, 0, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 12 + 60);
	assert_int_equal(tv_gp(&t, TV_RXBUF(0))[10], 1);
	assert_memory_equal(tv_gp(&t, TV_RXBUF(0)) + 12, frame, 60);
	assert_true(vus_client_irq_wait(t.c, VUS_PCI_IRQ_MSIX, TV_VEC_RX, vtest_ms(5000)) >= 1);
	tv_stop(&t);
}

static void big_frame_spans_mergeable_buffers(void **state)
{
	static uint8_t frame[5000];
	struct tv t;
	uint32_t id, len, total = 0;

	tv_start(&t, NULL);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_post_rx(&t, 0, 8);
	make_frame(frame, sizeof(frame), 3);
	tv_peer_send(&t, frame, sizeof(frame));
	/* 12 + 5000 bytes in 2 KiB buffers: three of them. */
	assert_true(tv_wait_used(&t, 0, 3, 5000));
	assert_int_equal(tv_gp(&t, TV_RXBUF(0))[10], 3);
	for (uint16_t i = 0; i < 3; i++) {
		tv_used_elem(&t, 0, i, &id, &len);
		assert_int_equal(id, i);
		total += len;
	}
	assert_int_equal(total, 12 + sizeof(frame));
	assert_memory_equal(tv_gp(&t, TV_RXBUF(0)) + 12, frame, TV_BUF_SIZE - 12);
	assert_memory_equal(tv_gp(&t, TV_RXBUF(1)), frame + TV_BUF_SIZE - 12,
			    TV_BUF_SIZE);
	tv_stop(&t);
}

static void receive_waits_for_buffers(void **state)
{
	uint8_t frame[100];
	struct tv t;
	uint16_t sent = 0;

	tv_start(&t, NULL);
	assert_int_equal(tv_init(&t, BASE_FEATURES | EVENT_IDX, 64), 0x0f);
	/*
	 * No buffers yet: the device stops reading, frames wait in its
	 * socket until that is full and the peer is pushed back (EAGAIN).
	 * Once the device has read a frame it connects back to the peer,
	 * and the kernel bounds what waits by the peer's send buffer (not
	 * by net.unix.max_dgram_qlen): a small one, so that it fits the ring
	 * twice.
	 */
	assert_int_equal(setsockopt(t.peer_fd, SOL_SOCKET, SO_SNDBUF,
				    &(int){ 8192 }, sizeof(int)), 0);
	while (sent < 200) {
		make_frame(frame, sizeof(frame), (uint8_t)sent);
		if (!tv_peer_try_send(&t, frame, sizeof(frame)))
			break;
		sent++;
		usleep(sent < 8 ? 20000 : 0);
	}
	assert_true(sent > 0 && sent < 200);
	assert_int_equal(tv_used_idx(&t, 0), 0);
	/* Buffers come in two rounds; no frame is lost or reordered. */
	tv_post_rx(&t, 0, sent / 2);
	assert_true(tv_wait_used(&t, 0, sent / 2, 5000));
	usleep((useconds_t)vtest_ms(50) * 1000);
	assert_int_equal(tv_used_idx(&t, 0), sent / 2);
	tv_post_rx(&t, sent / 2, (uint16_t)(sent - sent / 2));
	assert_true(tv_wait_used(&t, 0, sent, 5000));
	for (uint16_t i = 0; i < sent; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		assert_memory_equal(tv_gp(&t, TV_RXBUF(i)) + 12, frame, sizeof(frame));
	}
	tv_stop(&t);
}

/*
 * A batch each way with bad frames among good ones: each bad one is
 * dropped alone and the good ones around it go through, in order.
 * Transmit: five chains offered with one kick (one batch), the middle one
 * too short for a header and an Ethernet header (the driver's error).
 * Receive: five datagrams waiting, one too short for an Ethernet header
 * and one longer than any frame (65,553 bytes); buffers come after them,
 * so they are read in one or two batches.
 */
static void bad_frames_in_a_batch_are_dropped_alone(void **state)
{
	static uint8_t big[70000];
	uint8_t frame[100], got[2048];
	struct tv_dev_stats st;
	struct tv t;
	uint32_t id, len;

	tv_start_logged(&t, NULL);
	assert_int_equal(tv_init(&t, BASE_FEATURES | EVENT_IDX, 64), 0x0f);
	for (uint16_t i = 0; i < 5; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		memset(tv_gp(&t, TV_TXBUF(i)), 0, 12);
		memcpy(tv_gp(&t, TV_TXBUF(i)) + 12, frame, sizeof(frame));
		tv_desc(&t, 1, i, TV_TXBUF(i), 12 + (i == 2 ? 13 : sizeof(frame)),
			0, 0);
		tv_offer(&t, 1, i);
	}
	tv_kick(&t, 1);
	for (uint8_t i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		make_frame(frame, sizeof(frame), i);
		assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000),
				 sizeof(frame));
		assert_memory_equal(got, frame, sizeof(frame));
	}
	assert_true(tv_wait_used(&t, 1, 5, 5000));

	make_frame(frame, sizeof(frame), 10);
	tv_peer_send(&t, frame, sizeof(frame));
	tv_peer_send(&t, frame, 13);
	tv_peer_send(&t, big, sizeof(big));
	for (uint8_t i = 11; i < 13; i++) {
		make_frame(frame, sizeof(frame), i);
		tv_peer_send(&t, frame, sizeof(frame));
	}
	tv_post_rx(&t, 0, 8);
	assert_true(tv_wait_used(&t, 0, 3, 5000));
	for (uint16_t k = 0; k < 3; k++) {
		tv_used_elem(&t, 0, k, &id, &len);
		assert_int_equal(id, k);
		assert_int_equal(len, 12 + sizeof(frame));
		make_frame(frame, sizeof(frame), (uint8_t)(10 + k));
		assert_memory_equal(tv_gp(&t, TV_RXBUF(k)) + 12, frame,
				    sizeof(frame));
	}
	/* No frame went out twice (one given back by mistake, say). */
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 0), -1);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.tx_packets, 4);
	assert_int_equal(st.tx_dropped, 1);
	assert_int_equal(st.rx_packets, 3);
	assert_int_equal(st.rx_dropped, 2);
}

static void hostile_chain_stops_only_its_queue(void **state)
{
	uint8_t frame[64], got[128];
	struct tv t;

	tv_start(&t, NULL);
	tv_enable_msix(&t);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	/* A transmit chain that loops. */
	tv_desc(&t, 1, 0, TV_TXBUF(0), 100, 1 /* NEXT */, 1);
	tv_desc(&t, 1, 1, TV_TXBUF(1), 100, 1, 0);
	tv_offer(&t, 1, 0);
	tv_kick(&t, 1);
	assert_true(vus_client_irq_wait(t.c, VUS_PCI_IRQ_MSIX, TV_VEC_CONFIG,
					vtest_ms(5000)) >= 1);
	assert_int_equal(tv_status(&t), 0x0f | S_NEEDS_RESET);
	assert_int_equal(tv_used_idx(&t, 1), 0);
	/* Receiving goes on. */
	tv_post_rx(&t, 0, 4);
	make_frame(frame, sizeof(frame), 5);
	tv_peer_send(&t, frame, sizeof(frame));
	assert_true(tv_wait_used(&t, 0, 1, 5000));
	/* A reset repairs it. */
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	tv_stop(&t);
}

static void queue_changed_after_driver_ok_needs_reset(void **state)
{
	struct tv t;

	tv_start(&t, NULL);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_wr(&t, 0x16, 2, 1);
	tv_wr(&t, 0x20, 4, 0x123000); /* queue_desc of a running queue */
	assert_int_equal(tv_status(&t), 0x0f | S_NEEDS_RESET);
	assert_int_equal(tv_rd(&t, 0x20, 4), (uint32_t)t.q[1].desc);
	tv_stop(&t);
}

static void quiesce_and_reset_while_running(void **state)
{
	uint8_t frame[200], got[256];
	struct tv t;
	void *extra;

	tv_start(&t, NULL);
	assert_int_equal(tv_init(&t, BASE_FEATURES | EVENT_IDX, 64), 0x0f);
	assert_int_equal(vus_client_dma_map_memfd(t.c, 0x40000000, 0x10000,
						  VUS_CLIENT_DMA_READ, &extra), 0);
	for (uint16_t i = 0; i < 32; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		tv_send(&t, i, frame, sizeof(frame));
		if (i == 16) /* DMA_UNMAP: the device quiesces its worker */
			assert_int_equal(vus_client_dma_unmap(t.c, 0x40000000,
							      0x10000), 0);
	}
	for (int i = 0; i < 32; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000),
				 sizeof(frame));
		assert_memory_equal(got, frame, sizeof(frame));
	}
	assert_true(tv_wait_used(&t, 1, 32, 5000));
	/* DEVICE_RESET while the worker runs: back to power-on state. */
	assert_int_equal(vus_client_reset(t.c), 0);
	assert_int_equal(tv_status(&t), 0);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	tv_stop(&t);
}

static void intx_and_isr_without_msix(void **state)
{
	uint8_t frame[64], got[128], isr = 0xee;
	struct tv t;

	tv_start(&t, NULL);
	assert_int_equal(vus_client_irq_enable(t.c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	make_frame(frame, sizeof(frame), 2);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	assert_true(vus_client_irq_wait(t.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(5000)) >= 1);
	/* Read-to-clear: queue interrupt once, then nothing. */
	assert_int_equal(vus_client_region_read(t.c, TV_BAR, TV_ISR, &isr, 1), 0);
	assert_int_equal(isr, 1);
	assert_int_equal(vus_client_region_read(t.c, TV_BAR, TV_ISR, &isr, 1), 0);
	assert_int_equal(isr, 0);
	tv_stop(&t);
}

static void doorbells_in_an_mmap_page(void **state)
{
	static const char *const mmap_mode[] = { "--notify", "mmap", NULL };
	uint8_t frame[300], got[512];
	struct tv t;

	tv_start(&t, mmap_mode);
	assert_non_null(t.notify);
	assert_int_equal(tv_init(&t, BASE_FEATURES | EVENT_IDX, 64), 0x0f);
	for (uint16_t i = 0; i < 20; i++) {
		make_frame(frame, sizeof(frame), (uint8_t)i);
		tv_send(&t, i, frame, sizeof(frame));
		assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000),
				 sizeof(frame));
		assert_memory_equal(got, frame, sizeof(frame));
	}
	tv_post_rx(&t, 0, 4);
	tv_peer_send(&t, frame, 100);
	assert_true(tv_wait_used(&t, 0, 1, 5000));
	tv_stop(&t);
}

/*
 * The driver may lower the queue size the device offers, never raise it:
 * a larger size would stretch every walk and budget of the device's (the
 * migration check already refused what a driver could write here).
 */
static void queue_size_above_the_offer_is_refused(void **state)
{
	static const uint32_t sizes[] = { 257, 512, 32768, 0 };
	struct tv t;

	tv_start(&t, NULL); /* offers 256 */
	tv_set_status(&t, 0x03);
	tv_wr(&t, 0x16, 2, 0);
	assert_int_equal(tv_rd(&t, 0x18, 2), 256);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		tv_wr(&t, 0x18, 2, sizes[i]);
		assert_int_equal(tv_rd(&t, 0x18, 2), 256);
	}
	tv_wr(&t, 0x18, 2, 256); /* the offer itself */
	assert_int_equal(tv_rd(&t, 0x18, 2), 256);
	tv_wr(&t, 0x18, 2, 128);
	assert_int_equal(tv_rd(&t, 0x18, 2), 128);
	tv_wr(&t, 0x16, 2, 1);
	tv_wr(&t, 0x18, 2, 512);
	assert_int_equal(tv_rd(&t, 0x18, 2), 256);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 256), 0x0f);
	tv_stop(&t);
}

/*
 * The red team's DMA_UNMAP stall: a 32768-entry receive queue whose
 * buffers after the first are chains of 32767 zero-length descriptors.
 * Each frame popped every chain of the ring, 2^30 descriptor reads, and
 * a quiesce waited for four such frames: 62 s where QEMU gives up after
 * 5 s. Now a frame that costs more reads than it could legitimately is
 * dropped, and long walks stop when the worker is asked to park.
 */
static void long_receive_chains_do_not_stall_quiesce(void **state)
{
	static const char *const big[] = { "--queue-size", "32768", NULL };
	const uint32_t sizes[2] = { 32768, 64 };
	const uint64_t bases[2] = { TV_RAM + 0x20000, TV_RAM + 0x10000 };
	struct tv_dev_stats st;
	uint8_t frame[60], got[128];
	struct tv t;
	void *extra;

	tv_start_logged(&t, big);
	assert_int_equal(tv_init_layout(&t, BASE_FEATURES, sizes, bases), 0x0f);
	/* Entry 0: room for the header; every other entry: the long chain. */
	tv_desc(&t, 0, 0, TV_RXBUF(0), 12, 2 /* WRITE */, 0);
	for (uint32_t i = 1; i < 32768; i++)
		tv_desc(&t, 0, (uint16_t)i, TV_RXBUF(1), 0,
			i < 32767 ? 3 /* WRITE|NEXT */ : 2, (uint16_t)(i + 1));
	tv_offer(&t, 0, 0);
	for (uint32_t i = 1; i < 32768; i++)
		tv_offer(&t, 0, 1);
	tv_kick(&t, 0);
	assert_int_equal(vus_client_dma_map_memfd(t.c, 0x40000000, 0x10000,
						  VUS_CLIENT_DMA_READ, &extra), 0);
	for (uint8_t i = 0; i < 4; i++) {
		make_frame(frame, sizeof(frame), i);
		tv_peer_send(&t, frame, sizeof(frame));
	}
	/* Let the worker get into the rings (it used to stay there). */
	usleep((useconds_t)vtest_ms(200) * 1000);
	/* DMA_UNMAP quiesces the worker: answered within the client's 5 s. */
	assert_int_equal(vus_client_dma_unmap(t.c, 0x40000000, 0x10000), 0);
	assert_int_equal(tv_used_idx(&t, 0), 0);
	assert_int_equal(tv_status(&t), 0x0f); /* no error: just dropped */
	/* Transmit still works. */
	make_frame(frame, sizeof(frame), 9);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	tv_stop_stats(&t, &st);
	assert_int_equal(st.rx_dropped, 4);
	assert_int_equal(st.rx_packets, 0);
}

/* Our end of the link, bound at the device's --peer path again. */
static void rebind_peer(struct tv *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, t->peer);
	t->peer_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(t->peer_fd >= 0);
	assert_int_equal(bind(t->peer_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/*
 * The far end resets a two-way link with a frame of ours unread: the
 * kernel reports ECONNRESET on the device's socket (EPOLLERR), which the
 * device takes with getsockopt(SO_ERROR) and goes on. Then the far end
 * goes away (frames are dropped, the device disconnects) and comes back
 * at the same path (the device connects again). Run sandboxed as well
 * (virtio_net_sandboxed): getsockopt was not on the list (SIGSYS), and
 * connect() is pinned to the configured peer's address.
 */
static void link_reset_and_peer_restart_are_survived(void **state)
{
	struct sockaddr_un dev = { .sun_family = AF_UNIX };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	uint8_t frame[100], got[256];
	struct tv t;

	tv_start(&t, NULL);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_post_rx(&t, 0, 4);
	strcpy(dev.sun_path, t.bind);
	assert_int_equal(connect(t.peer_fd, (struct sockaddr *)&dev, sizeof(dev)), 0);
	make_frame(frame, sizeof(frame), 1);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_true(tv_wait_used(&t, 1, 1, 5000)); /* sent, unread here */
	assert_int_equal(connect(t.peer_fd, &unspec, sizeof(unspec)), 0);
	/*
	 * A frame for the device: readable only after the error is pending,
	 * so the worker sees EPOLLERR with it, or before (a send of its own
	 * meanwhile would have taken the error instead: hence receive first).
	 */
	tv_peer_send(&t, frame, 60);
	assert_true(tv_wait_used(&t, 0, 1, 5000));
	/* Sending works too. */
	make_frame(frame, sizeof(frame), 2);
	tv_send(&t, 1, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	/* The far end restarts: a frame meanwhile is dropped, the next one
	 * reaches the new socket. */
	close(t.peer_fd);
	unlink(t.peer);
	tv_send(&t, 2, frame, sizeof(frame));
	assert_true(tv_wait_used(&t, 1, 3, 5000));
	rebind_peer(&t);
	make_frame(frame, sizeof(frame), 4);
	tv_send(&t, 3, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	tv_stop(&t);
}

/*
 * --bind naming somebody's live socket of another type (here a listening
 * stream socket): the server refuses to start and the file stays. It once
 * took any failed datagram probe for a stale socket and removed the file.
 */
static void bind_never_removes_a_live_socket(void **state)
{
	char live[108], sock[108];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, status;
	pid_t pid;

	(void)state;
	snprintf(live, sizeof(live), "%s", vtest_sock_path("live"));
	snprintf(sock, sizeof(sock), "%s", vtest_sock_path("vnet"));
	strcpy(sa.sun_path, live);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(vnet_exe, vnet_exe, "--socket-path", sock, "--bind", live,
		      "--peer", "/nonexistent", "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	/* It must give up at once, not serve on a path it took over. */
	for (long long end = vtest_deadline(5000);
	     waitpid(pid, &status, WNOHANG) == 0 && !vtest_expired(end);)
		usleep(10000);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		unlink(live);
		fail_msg("the server started on another socket's path");
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
		    WEXITSTATUS(status) != 127);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(sock, F_OK), -1);
	close(fd);
	unlink(live);
}

/* The operator pulls the cable: the driver sees the link down through a
 * configuration-change interrupt and the status field; per-queue counters
 * over the management plane (quiesced while the worker runs). */
static void link_and_stats_over_the_management_plane(void **state)
{
	char rpc[256];
	const char *const extra[] = { "--rpc-path", rpc, NULL };
	uint8_t frame[64], got[128], isr = 0;
	struct json_object *r;
	uint16_t link = 0xffff;
	uint32_t gen;
	struct tv t;
	int m;

	/* Our copy: the rig takes socket paths from the same buffer. */
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("netrpc"));
	tv_start(&t, extra);
	m = trpc_connect(rpc);
	assert_true(m >= 0);
	assert_int_equal(vus_client_irq_enable(t.c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	gen = tv_rd(&t, 0x15, 1);
	r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"net.set-link\","
			 "\"params\":{\"up\":false}}");
	assert_true(json_object_get_boolean(trpc_get(r, "result.changed")));
	json_object_put(r);
	assert_true(vus_client_irq_wait(t.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(5000)) >= 1);
	assert_int_equal(vus_client_region_read(t.c, TV_BAR, TV_ISR, &isr, 1), 0);
	assert_int_equal(isr & 2, 2); /* configuration change */
	assert_int_equal(tv_rd(&t, 0x15, 1), (gen + 1) & 0xff);
	assert_int_equal(vus_client_region_read(t.c, TV_BAR, TV_DEVCFG + 6, &link, 2), 0);
	assert_int_equal(le16toh(link), 0);
	/* The same again changes nothing and interrupts nobody. */
	r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"net.set-link\","
			 "\"params\":{\"up\":false}}");
	assert_false(json_object_get_boolean(trpc_get(r, "result.changed")));
	json_object_put(r);
	assert_int_equal(tv_rd(&t, 0x15, 1), (gen + 1) & 0xff);
	r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"net.set-link\","
			 "\"params\":{\"up\":true}}");
	assert_true(json_object_get_boolean(trpc_get(r, "result.changed")));
	json_object_put(r);
	assert_int_equal(vus_client_region_read(t.c, TV_BAR, TV_DEVCFG + 6, &link, 2), 0);
	assert_int_equal(le16toh(link), 1);
	r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"net.set-link\","
			 "\"params\":{\"up\":1}}");
	assert_int_equal(trpc_int(r, "error.code"), -32602);
	json_object_put(r);

	make_frame(frame, sizeof(frame), 3);
	tv_send(&t, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"net.query-stats\"}");
	assert_string_equal(trpc_str(r, "result.queues.1.name"), "tx");
	assert_int_equal(trpc_int(r, "result.queues.1.frames"), 1);
	assert_int_equal(trpc_int(r, "result.queues.1.bytes"), sizeof(frame));
	assert_int_equal(trpc_int(r, "result.queues.0.frames"), 0);
	json_object_put(r);
	/* The data path carries on after the quiesced call. */
	tv_send(&t, 1, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(frame));
	close(m);
	tv_stop(&t);
	assert_int_equal(access(rpc, F_OK), -1);
}

static void set_link(int m, bool up)
{
	char line[128];
	struct json_object *r;

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		 "\"net.set-link\",\"params\":{\"up\":%s}}", up ? "true" : "false");
	r = trpc_call(m, line);
	assert_true(json_object_get_boolean(trpc_get(r, "result.changed")));
	json_object_put(r);
}

/* net.query-stats' @path (e.g. "result.queues.0.dropped"). */
static int64_t stat_of(int m, const char *path)
{
	struct json_object *r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":2,"
					     "\"method\":\"net.query-stats\"}");
	int64_t v = trpc_int(r, path);

	json_object_put(r);
	return v;
}

/*
 * With the link down nothing flows, as on a pulled cable: what the driver
 * sends is given back unsent and counted dropped; what the peer sends is
 * read and dropped, so it does not arrive once the link is back.
 */
static void a_pulled_cable_carries_nothing(void **state)
{
	char rpc[256];
	const char *const extra[] = { "--rpc-path", rpc, NULL };
	uint8_t lost[60], late[60], got[128];
	long long end;
	struct tv t;
	int m;

	(void)state;
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("netrpc"));
	tv_start(&t, extra);
	m = trpc_connect(rpc);
	assert_true(m >= 0);
	assert_int_equal(tv_init(&t, BASE_FEATURES, 64), 0x0f);
	tv_post_rx(&t, 0, 8);
	set_link(m, false);
	make_frame(lost, sizeof(lost), 5);
	make_frame(late, sizeof(late), 6);
	tv_send(&t, 0, lost, sizeof(lost));
	assert_true(tv_wait_used(&t, 1, 1, 5000)); /* given back */
	tv_peer_send(&t, lost, sizeof(lost));
	end = vtest_deadline(5000);
	while (stat_of(m, "result.queues.0.dropped") < 1 && !vtest_expired(end))
		usleep(1000);
	assert_int_equal(stat_of(m, "result.queues.0.dropped"), 1);
	assert_int_equal(tv_used_idx(&t, 0), 0);
	set_link(m, true);
	/* The first frame each way after the link came back is the new one. */
	tv_send(&t, 1, late, sizeof(late));
	assert_int_equal(tv_peer_recv(&t, got, sizeof(got), 5000), sizeof(late));
	assert_memory_equal(got, late, sizeof(late));
	tv_peer_send(&t, late, sizeof(late));
	assert_true(tv_wait_used(&t, 0, 1, 5000));
	assert_memory_equal(tv_gp(&t, TV_RXBUF(0)) + 12, late, sizeof(late));
	assert_int_equal(stat_of(m, "result.queues.1.dropped"), 1);
	assert_int_equal(stat_of(m, "result.queues.1.frames"), 1);
	assert_int_equal(stat_of(m, "result.queues.0.frames"), 1);
	assert_int_equal(stat_of(m, "result.queues.0.dropped"), 1);
	close(m);
	tv_stop(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(pci_face_of_a_virtio_net_card),
		VTEST(bar_through_the_pci_cfg_capability),
		VTEST(negotiation_and_status_rules),
		VTEST(common_config_at_its_edges),
		VTEST(frames_both_ways),
		VTEST(big_frame_spans_mergeable_buffers),
		VTEST(receive_waits_for_buffers),
		VTEST(bad_frames_in_a_batch_are_dropped_alone),
		VTEST(hostile_chain_stops_only_its_queue),
		VTEST(queue_changed_after_driver_ok_needs_reset),
		VTEST(quiesce_and_reset_while_running),
		VTEST(intx_and_isr_without_msix),
		VTEST(doorbells_in_an_mmap_page),
		VTEST(bind_never_removes_a_live_socket),
		VTEST(queue_size_above_the_offer_is_refused),
		VTEST(long_receive_chains_do_not_stall_quiesce),
		VTEST(link_reset_and_peer_restart_are_survived),
		VTEST(link_and_stats_over_the_management_plane),
		VTEST(a_pulled_cable_carries_nothing),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	return vtest_run("virtio_net", tests, argc - 1, argv + 1);
}
