/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_hostile_util: what the hostile-client suites share: a tserver per
 * test (negotiated, or not), a raw call that checks the reply's framing,
 * one well-formed payload per command, fds of every kind, and the checks
 * that a connection still serves and that the process holds no extra fd.
 */
#ifndef TEST_HOSTILE_UTIL_H
#define TEST_HOSTILE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tserver.h"
#include "vtest.h"

#define NCMDS 21            /* command numbers tried: 0..20 */
#define MAX_XFER (1u << 20) /* tserver's default transfer limit */
/* The engine's receive limit for that transfer limit (engine_create()). */
#define MAX_MSG MAX(WIRE_HDR_SIZE + 16u + MAX_XFER, \
		    WIRE_HDR_SIZE + WIRE_MAX_CONTROL_MSG)

extern struct peer_msg *m;
extern struct tserver s;

/* cmocka fixtures: a negotiated server with 8 DMA maps at most, or one
 * waiting for VERSION. */
int hostile_setup(void **state);
int hostile_setup_raw(void **state);
int hostile_teardown(void **state);
/* The same with a server started with @o. */
int hostile_setup_opts(void **state, const struct tserver_opts *o);

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, hostile_setup, hostile_teardown)
#define RAW_CASE(fn) \
	cmocka_unit_test_setup_teardown(fn, hostile_setup_raw, hostile_teardown)

/**
 * A well-formed payload for @cmd into @buf (64 bytes); unknown numbers get
 * 8 bytes of junk. Good messages leave no state behind but a mapping,
 * which undo() removes. Returns the length.
 */
size_t good(uint16_t cmd, uint8_t *buf);
/** What the well-formed message gets after negotiation: 0 or -errno. */
int good_answer(uint16_t cmd);
/** Undo what a good message of @cmd answered with @ret did. */
void undo(uint16_t cmd, int ret);

/** Send @cmd and return the reply's -errno or 0 (framing checked). */
int call(uint16_t cmd, uint32_t flags, const void *p, size_t len,
	 const int *fds, unsigned int nfds);
/** The connection still serves: a well-formed request right after. */
void assert_serves(void);

/* fd kinds the server must not take for an eventfd or guest RAM. */
enum fd_kind { FD_EVENTFD, FD_PIPE, FD_MEMFD, FD_SOCKET, FD_FILE, FD_KINDS };
int make_fd(enum fd_kind k);
void close_all(int *fds, unsigned int n);
/** After a round trip, the process has exactly @before fds open again. */
void assert_fds_back_to(int before);

#endif /* TEST_HOSTILE_UTIL_H */
