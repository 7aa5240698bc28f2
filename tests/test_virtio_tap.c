/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net-pci sample's TAP back-end, where /dev/net/tun can make an
 * interface (root, CAP_NET_ADMIN; skipped elsewhere). The device creates
 * the interface; the test turns IPv6 off on it (so that the kernel sends
 * nothing of its own), brings it up and is the far end through an
 * AF_PACKET socket bound to it. Frames go both ways, several per batch,
 * a bad transmit chain among them dropped alone: with the virtio-net header
 * on the TAP (IFF_VNET_HDR, --offload on) and without it. Several queue
 * pairs: test_virtio_tap_mq.c.
 *
 *   test_virtio_tap VUS-VIRTIO-NET-PCI [TEST]
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_tap_util.h"
#include "test_virtio_util.h"

static void frames_both_ways(const char *offload)
{
	uint8_t frame[FRAME_LEN], got[2048];
	char name[IFNAMSIZ];
	const char *const args[] = { "--tap", name, "--offload", offload, NULL };
	struct tv_dev_stats st;
	uint32_t id, len;
	struct tv t;
	int pfd;

	if (!ttap_usable())
		skip();
	snprintf(name, sizeof(name), "vust%d%c", (int)(getpid() % 100000),
		 offload[1]);
	tv_start_logged(&t, args);
	pfd = ttap_packet_open(ttap_up(name));
	assert_int_equal(tv_init(&t, FEATURES, 64), 0x0f);
	/* Five chains with one kick, the middle one too short: dropped. */
	for (uint16_t i = 0; i < 5; i++) {
		ttap_frame_make(frame, (uint8_t)i);
		memset(tv_gp(&t, TV_TXBUF(i)), 0, 12);
		memcpy(tv_gp(&t, TV_TXBUF(i)) + 12, frame, FRAME_LEN);
		tv_desc(&t, 1, i, TV_TXBUF(i), 12 + (i == 2 ? 13 : FRAME_LEN),
			0, 0);
		tv_offer(&t, 1, i);
	}
	tv_kick(&t, 1);
	for (uint8_t i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		ttap_frame_make(frame, i);
		assert_int_equal(ttap_packet_recv(pfd, got, sizeof(got)), FRAME_LEN);
		assert_memory_equal(got, frame, FRAME_LEN);
	}
	assert_true(tv_wait_used(&t, 1, 5, 5000));
	/* Five frames into the interface, each into a buffer of its own. */
	tv_post_rx(&t, 0, 8);
	for (uint8_t i = 0; i < 5; i++) {
		ttap_frame_make(frame, (uint8_t)(10 + i));
		assert_int_equal(send(pfd, frame, FRAME_LEN, 0), FRAME_LEN);
	}
	assert_true(tv_wait_used(&t, 0, 5, 5000));
	for (uint16_t k = 0; k < 5; k++) {
		tv_used_elem(&t, 0, k, &id, &len);
		assert_int_equal(id, k);
		assert_int_equal(len, 12 + FRAME_LEN);
		assert_int_equal(tv_gp(&t, TV_RXBUF(k))[10], 1); /* num_buffers */
		ttap_frame_make(frame, (uint8_t)(10 + k));
		assert_memory_equal(tv_gp(&t, TV_RXBUF(k)) + 12, frame, FRAME_LEN);
	}
	close(pfd);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.tx_packets, 4);
	assert_int_equal(st.tx_dropped, 1);
	assert_int_equal(st.rx_packets, 5);
	assert_int_equal(st.rx_dropped, 0);
}

static void frames_with_the_vnet_header(void **state)
{
	(void)state;
	frames_both_ways("on");
}

static void frames_without_a_header(void **state)
{
	(void)state;
	frames_both_ways("off");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(frames_with_the_vnet_header),
		VTEST(frames_without_a_header),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	return vtest_run("test_virtio_tap", tests, argc - 1, argv + 1);
}
