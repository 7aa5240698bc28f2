/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The samples' stop signals: SIGINT and SIGTERM stop the context from
 * their handler (samples/common/sample_run.c), which must not run on
 * another thread while the loop's thread destroys the context. So the
 * virtio-net sample's worker is born blocking them, and the loop's thread
 * unblocks them even when its parent had them blocked. Read from
 * /proc/PID/task/TID/status; the race itself is not reproduced (the masks
 * are what rule it out). And one sent while the sample sets up waits for
 * that handler instead of killing the process halfway.
 *
 *   test_sample_signals VUS-VIRTIO-NET-PCI [TEST]
 */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_util.h"

#define STOP_MASK (1ull << (SIGINT - 1) | 1ull << (SIGTERM - 1))

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
	const unsigned long long stop = STOP_MASK;
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

/*
 * Setup held in a take-over whose old process (the test) never answers:
 * the sample blocks SIGTERM from its first line, so the signal stays
 * pending, and the sample ends by its own error (exit 1: the take-over
 * failed) once the test hangs up, not by the signal.
 */
static void a_stop_signal_during_setup_waits_for_the_loop(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, cfd, status;
	char tid[16];
	pid_t pid;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", vtest_sock_path("old"));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(vnet_exe, vnet_exe, "--take-over", sa.sun_path, (char *)NULL);
		_exit(127);
	}
	/* Connected: it waits for our answer. */
	assert_int_equal(poll(&(struct pollfd){ .fd = lfd, .events = POLLIN },
			      1, vtest_ms(10000)), 1);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(cfd >= 0);
	snprintf(tid, sizeof(tid), "%d", (int)pid);
	assert_int_equal(sig_blocked(pid, tid) & STOP_MASK, STOP_MASK);
	assert_int_equal(kill(pid, SIGTERM), 0);
	close(cfd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	close(lfd);
	unlink(sa.sun_path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(worker_never_takes_the_stop_signals),
		VTEST(loop_thread_takes_them_though_inherited_blocked),
		VTEST(a_stop_signal_during_setup_waits_for_the_loop),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	return vtest_run("sample_signals", tests, argc - 1, argv + 1);
}
