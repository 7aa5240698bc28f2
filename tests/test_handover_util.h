/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_util: what the hand-over tests share (test_handover_*.c):
 * two tservers in this process, the old one serving a raw peer, the new
 * one waiting, and a hand-over between them over a socketpair.
 */
#ifndef TEST_HANDOVER_UTIL_H
#define TEST_HANDOVER_UTIL_H

#include <stdint.h>

#include "tserver.h"
#include "vtest.h"

/* Guest RAM granted by grant_ram(). */
#define RAM 0x100000u
#define RAM_SIZE 0x4000u

/** The reply of the last peer call; allocated by setup(). */
extern struct peer_msg *m;
/** The old server's listening path (vtest_sock_path()'s buffer). */
extern const char *path;

/** cmocka setup/teardown: m and path, and vtest's fd check. */
int setup(void **state);
int teardown(void **state);
#define HO_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/** A takeover config that logs nothing. */
extern const struct vus_takeover_config quiet;
/** The old server's options: migration and quiesce. */
extern const struct tserver_opts old_opts;

/** The count in eventfd @fd (read, so reset), 0 if none. */
uint64_t events(int fd);
/** Guest RAM: a memfd (*fd) we map too (returned), granted at RAM. */
uint8_t *grant_ram(struct tserver *s, int *fd);
/** DEVICE_GET_INFO: 0 or the reply's errno negated. */
int get_info(struct tserver *s);

/**
 * Start @o (old_opts, listening at path, the peer connected) and @n
 * (@nopts or old_opts, not serving); @o takes @nopts' handover_ops.
 */
void start_pair(struct tserver *o, struct tserver *n,
		const struct tserver_opts *nopts);
/**
 * Hand @o's device to @n over a socketpair: @o serves the request from its
 * own thread, this thread takes it over into @n. Returns what
 * vus_ctx_take_over() (or vus_takeover_begin_fd()) said.
 */
int hand_over(struct tserver *o, struct tserver *n);
/** After a hand-over: the client is @n's; @o stopped by itself. */
void move_client(struct tserver *o, struct tserver *n);

#endif /* TEST_HANDOVER_UTIL_H */
