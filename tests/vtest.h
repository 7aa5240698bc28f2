/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vtest: what every libvus test shares. Wrap each cmocka test with
 * VTEST(fn) so that it fails if it leaves a file descriptor open, and run
 * the group with vtest_run(); an optional argv[1] selects tests by name
 * (cmocka glob). Timeouts come from meson (each executable has one).
 *
 * Every wall-clock deadline in a test goes through vtest_ms(): one
 * multiplier for the whole suite, so a loaded or instrumented machine
 * gets more time instead of a failure (doc/testing.md).
 */
#ifndef VTEST_H
#define VTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

/** Count open fds of this process (via /proc/self/fd). */
int vtest_count_fds(void);

/** Entries of directory @path besides . and .. (asserts it opens). */
unsigned int vtest_dir_entries(const char *path);

/** cmocka setup/teardown pair that fails a test leaking fds. */
int vtest_setup(void **state);
int vtest_teardown(void **state);

#define VTEST(fn) cmocka_unit_test_setup_teardown(fn, vtest_setup, vtest_teardown)

/** Run @tests (filtered by argv[1] if given). Returns cmocka's result. */
#define vtest_run(name, tests, argc, argv)                                  \
	vtest_run_group(name, tests, sizeof(tests) / sizeof((tests)[0]),   \
			argc, argv)
int vtest_run_group(const char *name, const struct CMUnitTest *tests,
		    size_t n, int argc, char **argv);

/**
 * The deadline multiplier: $VUS_TEST_TIME_SCALE (a number >= 1, default
 * 1), times 3 in an ASan build, times 10 under valgrind, times whatever
 * a shim linked in that slows the code down asked for with
 * vtest_time_scale_raise().
 */
double vtest_time_scale(void);

/** @ms milliseconds of deadline, scaled (at most INT_MAX); a negative
 * value (wait forever) and 0 (do not wait) stay as they are. */
int vtest_ms(int ms);

/** CLOCK_MONOTONIC milliseconds at which vtest_ms(@ms) from now ends. */
long long vtest_deadline(int ms);

/** Whether @deadline (from vtest_deadline) has passed. */
bool vtest_expired(long long deadline);

/** Whether valgrind runs us (its memory makes RSS figures meaningless). */
bool vtest_under_valgrind(void);

/** For a shim (from a constructor): multiply the scale by @factor >= 1. */
void vtest_time_scale_raise(double factor);

/*
 * Client library connection settings for tests: its reply deadline
 * (default 5 s) scaled. Use where vus/client.h is included.
 */
#define VTEST_CLIENT_CFG                                                     \
	(&(const struct vus_client_config){                                  \
		.struct_size = sizeof(struct vus_client_config),             \
		.timeout_ms = vtest_ms(5000) })

/** The first child of @parent found in /proc (e.g. a supervised server), or 0. */
pid_t vtest_child_of(pid_t parent);

/**
 * SIGKILL the child of @supervisor (waited for, up to vtest_ms(10000));
 * returns once the supervisor has started another. Fails the test else.
 */
void vtest_kill_child(pid_t supervisor);

/** A unique socket path under $TMPDIR (or /tmp) for this process. */
const char *vtest_sock_path(const char *tag);

#endif /* VTEST_H */
