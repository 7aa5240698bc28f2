/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_virtio_tap_util: what the TAP back-end tests share: whether a TAP
 * can be made here, bringing one up (IPv6 off, so that the kernel sends
 * nothing of its own), an AF_PACKET socket as its far end, test frames.
 */
#ifndef TEST_VIRTIO_TAP_UTIL_H
#define TEST_VIRTIO_TAP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define F(b) (1ull << (b))
/* VERSION_1, MAC, STATUS, MRG_RXBUF, EVENT_IDX: no offloads taken. */
#define FEATURES (F(32) | F(5) | F(16) | F(15) | F(29))
#define FRAME_LEN 100u

/** Whether this process may create a TAP interface. */
bool ttap_usable(void);
/** IPv6 off, interface @name up; its index. */
int ttap_up(const char *name);
/** An AF_PACKET socket bound to interface @ifindex (all protocols). */
int ttap_packet_open(int ifindex);
/** The next frame the interface received (not one it sent), or -1 after
 * vtest_ms(5000). */
ssize_t ttap_packet_recv(int fd, uint8_t *buf, size_t len);
/** A test frame of FRAME_LEN bytes (ethertype 0x88b5) from @seed. */
void ttap_frame_make(uint8_t *f, uint8_t seed);

#endif /* TEST_VIRTIO_TAP_UTIL_H */
