/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_uart_util: a real vus-sysbus-uart process for the UART integration
 * tests, with a unix-listen: backend whose peer is the test, a vfio-user
 * client connected to it, and the helpers the cases share (registers by
 * index, the peer's end of the line, the server's memory use).
 */
#ifndef TEST_UART_UTIL_H
#define TEST_UART_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vus.h"
#include "vus/client.h"

#include "../samples/sysbus-uart/uart16550.h"

/** The server binary, from argv[1]. */
extern const char *uart_exe;
/** When set (crash recovery tests): the server runs under this
 * vus-supervise with --recover; struct rig's pid is the supervisor's. */
extern const char *uart_supervise;

struct rig {
	pid_t pid;
	char sock[256];    /* vfio-user socket */
	char line[256];    /* the backend's listening socket */
	unsigned int shift; /* reg-shift the server runs with */
	vus_client *c;
	int peer;          /* our end of the line (socket, pty, pipe), or -1 */
};

/**
 * Start the server with @extra arguments (NULL-terminated, may be NULL),
 * connect the peer and the client, and make sure the server has accepted
 * the peer (a byte sent through and read back from RBR).
 */
void rig_start(struct rig *r, const char *const *extra);

/**
 * Start the server with another @backend; @stdio (may be NULL) gives fds
 * to become its stdin, stdout and stderr (-1: inherit). Connects the
 * client only.
 */
void rig_spawn(struct rig *r, const char *backend, const int stdio[3]);

/** Close client and peer, SIGTERM the server; it must exit with 0. */
void rig_stop(struct rig *r);

/** Connect a (new) peer to the backend socket and sync with it. */
void rig_peer_connect(struct rig *r);

/** Connect a (new) client. */
void rig_client_connect(struct rig *r);

/** One-byte register access by index (reg-shift applied). */
uint8_t rd(struct rig *r, unsigned int reg);
void wr(struct rig *r, unsigned int reg, uint8_t val);

/** Poll LSR until DR (or fail after vtest_ms(@timeout_ms)); returns LSR. */
uint8_t wait_dr(struct rig *r, int timeout_ms);

/** Program the divisor latch, leaving LCR at 8N1. */
void set_divisor(struct rig *r, uint16_t div);

/** Send all of @buf from the peer (blocking; SIGPIPE is ignored). */
void peer_send(struct rig *r, const void *buf, size_t len);

/** Receive up to @len bytes on the peer within vtest_ms(@timeout_ms); returns count. */
size_t peer_recv(struct rig *r, void *buf, size_t len, int timeout_ms);

/** Server's resident memory in KiB (/proc/PID/status VmRSS). */
long server_rss_kib(const struct rig *r);

/** CPU time the server has used so far, in milliseconds. */
long server_cpu_ms(const struct rig *r);

/** Fail if the server burns CPU while idle for @ms (a busy loop). */
void assert_server_idle(const struct rig *r, int ms);

/** Monotonic milliseconds. */
long long now_ms(void);

#endif /* TEST_UART_UTIL_H */
