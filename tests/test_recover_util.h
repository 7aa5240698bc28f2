/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_recover_util: what the crash recovery tests of the vus-gpio-pci
 * sample share: the sample under vus-supervise (or started by the test),
 * a client session with it, the card programmed as a guest would, and
 * views of what the supervisor's fd store holds.
 *
 * Each test executable takes: VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER].
 */
#ifndef TEST_RECOVER_UTIL_H
#define TEST_RECOVER_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "vtest.h"
#include "vus/client.h"

/* The binaries under test, from the command line (recover_main()). */
extern const char *sup_bin, *gpio_bin;

struct server {
	pid_t pid;          /* vus-supervise, or the sample itself */
	char sock[256], rpc[256];
	vus_client *c;
};

/** Run @tests with the command line above; cmocka's result, or 2. */
#define recover_main(name, tests, argc, argv)                              \
	recover_run(name, tests, sizeof(tests) / sizeof((tests)[0]), argc, argv)
int recover_run(const char *name, const struct CMUnitTest *tests, size_t n,
		int argc, char **argv);

/** Connect s->c to s->sock, retried until the server listens. */
void connect_client(struct server *s);
/** The same, through the raw client (the test speaks the protocol). */
void connect_raw(struct server *s);

/**
 * Start vus-supervise around vus-gpio-pci --recover (not connected);
 * @kill_at (or NULL) goes to $VUS_TEST_KILL_AT (see lib/recovery_fds.c).
 */
void supervised_start_env(struct server *s, const char *kill_at);
/** supervised_start_env() without a kill point, and connect. */
void supervised_start(struct server *s);
/** Close the client, SIGTERM the server: it must exit 0. */
void stop(struct server *s);
/** SIGKILL the supervised server; returns once a new one runs. */
void crash(struct server *s);

/** Register @r of the card (one byte) and writing it; failures fail. */
uint8_t reg(struct server *s, unsigned int r);
void set_reg(struct server *s, unsigned int r, uint8_t v);
/** Set the card's inputs through its management socket. */
void set_inputs(struct server *s, const char *params);
/** The guest's view: BAR placed, I/O on, outputs, IRQ armed and latched. */
void program_card(struct server *s);
/** Everything program_card() set reads back. */
void expect_programmed(struct server *s);

/**
 * DMA_MAP of a new memfd of @size at @addr, by message (past the client
 * library's own overlap check): 0 or the reply's -errno. @file (if not
 * NULL) gets the memfd's identity.
 */
int raw_dma_map_file(vus_client *c, uint64_t addr, uint64_t size,
		     struct stat *file);
int raw_dma_map(vus_client *c, uint64_t addr, uint64_t size);

/** DMA_UNMAP of [@addr, @addr + @size), by message: 0 or the reply's -errno. */
int raw_dma_unmap(vus_client *c, uint64_t addr, uint64_t size);

/** How many of process @pid's fds are open on @file. */
int fds_on(pid_t pid, const struct stat *file);

/**
 * How many client fds ("vus.gpio-pci.fd.<id>") the supervisor @sup handed
 * its running child, which must have answered a request (so it runs the
 * sample): its $LISTEN_FDNAMES, as the supervisor set it from its store
 * once it had taken the dead child's last messages.
 */
int client_fds_handed_over(pid_t sup);

#endif /* TEST_RECOVER_UTIL_H */
