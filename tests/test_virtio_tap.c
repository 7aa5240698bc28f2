/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net-pci sample's TAP back-end, where /dev/net/tun can make an
 * interface (root, CAP_NET_ADMIN; skipped elsewhere). The device creates
 * the interface; the test turns IPv6 off on it (so that the kernel sends
 * nothing of its own), brings it up and is the far end through an
 * AF_PACKET socket bound to it. Frames go both ways, several per batch,
 * a bad transmit chain among them dropped alone: with the virtio-net header
 * on the TAP (IFF_VNET_HDR, --offload on) and without it.
 *
 *   test_virtio_tap VUS-VIRTIO-NET-PCI [TEST]
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_util.h"

#define F(b) (1ull << (b))
/* VERSION_1, MAC, STATUS, MRG_RXBUF, EVENT_IDX: no offloads taken. */
#define FEATURES (F(32) | F(5) | F(16) | F(15) | F(29))
#define FRAME_LEN 100u

/* Whether this process may create a TAP interface. */
static bool tap_usable(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, IFNAMSIZ, "vusq%d", (int)(getpid() % 100000));
	ok = ioctl(fd, TUNSETIFF, &ifr) == 0;
	close(fd);
	return ok;
}

/* IPv6 off, the interface up; its index. */
static int tap_up(const char *name)
{
	struct ifreq ifr = { 0 };
	char path[96];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 name);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("1", f);
		fclose(f);
	}
	assert_true(s >= 0);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	assert_int_equal(ioctl(s, SIOCGIFINDEX, &ifr), 0);
	close(s);
	return ifr.ifr_ifindex;
}

static int packet_open(int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* The next frame the interface received (not one it sent), or -1. */
static ssize_t packet_recv(int fd, uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&pfd, 1, vtest_ms(5000)) <= 0)
			return -1;
		n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&from, &fl);
		if (n < 0 || from.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
}

/* Our test frames: unicast between two local addresses, ethertype 0x88b5. */
static void frame_make(uint8_t *f, uint8_t seed)
{
	static const uint8_t head[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2,
					  0x88, 0xb5 };

	memcpy(f, head, sizeof(head));
	for (size_t i = sizeof(head); i < FRAME_LEN; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

static void frames_both_ways(const char *offload)
{
	uint8_t frame[FRAME_LEN], got[2048];
	char name[IFNAMSIZ];
	const char *const args[] = { "--tap", name, "--offload", offload, NULL };
	struct tv_dev_stats st;
	uint32_t id, len;
	struct tv t;
	int pfd;

	if (!tap_usable())
		skip();
	snprintf(name, sizeof(name), "vust%d%c", (int)(getpid() % 100000),
		 offload[1]);
	tv_start_logged(&t, args);
	pfd = packet_open(tap_up(name));
	assert_int_equal(tv_init(&t, FEATURES, 64), 0x0f);
	/* Five chains with one kick, the middle one too short: dropped. */
	for (uint16_t i = 0; i < 5; i++) {
		frame_make(frame, (uint8_t)i);
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
		frame_make(frame, i);
		assert_int_equal(packet_recv(pfd, got, sizeof(got)), FRAME_LEN);
		assert_memory_equal(got, frame, FRAME_LEN);
	}
	assert_true(tv_wait_used(&t, 1, 5, 5000));
	/* Five frames into the interface, each into a buffer of its own. */
	tv_post_rx(&t, 0, 8);
	for (uint8_t i = 0; i < 5; i++) {
		frame_make(frame, (uint8_t)(10 + i));
		assert_int_equal(send(pfd, frame, FRAME_LEN, 0), FRAME_LEN);
	}
	assert_true(tv_wait_used(&t, 0, 5, 5000));
	for (uint16_t k = 0; k < 5; k++) {
		tv_used_elem(&t, 0, k, &id, &len);
		assert_int_equal(id, k);
		assert_int_equal(len, 12 + FRAME_LEN);
		assert_int_equal(tv_gp(&t, TV_RXBUF(k))[10], 1); /* num_buffers */
		frame_make(frame, (uint8_t)(10 + k));
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
