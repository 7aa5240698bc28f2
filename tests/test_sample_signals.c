/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The samples' stop signals: SIGINT and SIGTERM stop the context from
 * their handler (samples/common/sample_run.c), which must not run on
 * another thread while the loop's thread destroys the context. So the
 * virtio-net sample's worker is born blocking them, and the loop's thread
 * unblocks them even when its parent had them blocked. Read from
 * /proc/PID/task/TID/status; the race itself is not reproduced (the masks
 * are what rule it out).
 *
 *   test_sample_signals VUS-VIRTIO-NET-PCI [TEST]
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#include "test_virtio_util.h"

/* SigBlk of thread @tid of @pid. */
static unsigned long long sig_blocked(pid_t pid, const char *tid)
{
	char path[64], buf[128];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "SigBlk:", 7) == 0)
			mask = strtoull(buf + 7, NULL, 16);
	fclose(f);
	return mask;
}

/* Start the server with @blocked blocked (inherited through exec): only
 * its main thread takes SIGINT and SIGTERM; SIGTERM stops it (exit 0). */
static void check_stop_masks(const sigset_t *blocked)
{
	const unsigned long long stop = 1ull << (SIGINT - 1) | 1ull << (SIGTERM - 1);
	struct dirent *e;
	unsigned int others = 0;
	char dir[64];
	sigset_t old;
	struct tv t;
	DIR *d;

	assert_int_equal(pthread_sigmask(SIG_BLOCK, blocked, &old), 0);
	tv_start(&t, NULL);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)t.pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (atoi(e->d_name) == t.pid) {
			assert_int_equal(sig_blocked(t.pid, e->d_name) & stop, 0);
			continue;
		}
		assert_int_equal(sig_blocked(t.pid, e->d_name) & stop, stop);
		others++;
	}
	closedir(d);
	assert_true(others >= 1); /* the worker */
	tv_stop(&t);
}

static void worker_never_takes_the_stop_signals(void **state)
{
	sigset_t none;

	(void)state;
	sigemptyset(&none);
	check_stop_masks(&none);
}

static void loop_thread_takes_them_though_inherited_blocked(void **state)
{
	sigset_t stop;

	(void)state;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	check_stop_masks(&stop);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(worker_never_takes_the_stop_signals),
		VTEST(loop_thread_takes_them_though_inherited_blocked),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	return vtest_run("sample_signals", tests, argc - 1, argv + 1);
}
