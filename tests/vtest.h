/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vtest: what every libvus test shares. Wrap each cmocka test with
 * VTEST(fn) so that it fails if it leaves a file descriptor open, and run
 * the group with vtest_run(); an optional argv[1] selects tests by name
 * (cmocka glob). Timeouts come from meson (each executable has one).
 */
#ifndef VTEST_H
#define VTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/** Count open fds of this process (via /proc/self/fd). */
int vtest_count_fds(void);

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

/** A unique socket path under $TMPDIR (or /tmp) for this process. */
const char *vtest_sock_path(const char *tag);

#endif /* VTEST_H */
