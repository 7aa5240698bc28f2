/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_virtio_tap_util: TAP helpers for the TAP back-end tests
 * (test_virtio_tap_util.h).
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

#include "test_virtio_tap_util.h"

/* Whether this process may create a TAP interface. */
bool ttap_usable(void)
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
int ttap_up(const char *name)
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

int ttap_packet_open(int ifindex)
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
ssize_t ttap_packet_recv(int fd, uint8_t *buf, size_t len)
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
void ttap_frame_make(uint8_t *f, uint8_t seed)
{
	static const uint8_t head[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2,
					  0x88, 0xb5 };

	memcpy(f, head, sizeof(head));
	for (size_t i = sizeof(head); i < FRAME_LEN; i++)
		f[i] = (uint8_t)(seed + i * 7);
}
