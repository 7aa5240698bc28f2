/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection: a hand-over between two processes (handover_helper)
 * with one of them SIGKILLed after every step of the protocol, the test
 * being the client. The client has a session worth keeping: negotiated,
 * 250 memfds mapped (so the fds travel in two batches), interrupt
 * eventfds bound, registers and region memory written.
 *
 * What the protocol promises, checked each time:
 *   - the new process dies, or anything goes wrong before the old one has
 *     read READY: the old one resumes and serves the same session;
 *   - the old process dies once it has sent everything (END, READY read,
 *     ACK sent): the new one serves the same session;
 *   - the old process dies before that: the new one fails (exit 1) and
 *     nobody serves; the new process dies after READY: the old one has
 *     committed and exits 0. Both are crashes, for crash recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"

#define NR_MAPS 250u

static const char *helper;
static struct peer_msg *m;

enum outcome { OLD_SERVES, NEW_SERVES, NOBODY_OLD_DONE, NOBODY };

struct fault_case {
	const char *side;  /* "old" or "new": the one killed */
	const char *step;
	int nth;
	enum outcome expect;
};

static const struct fault_case cases[] = {
	{ "new", "new.info", 1, OLD_SERVES },
	{ "new", "new.start", 1, OLD_SERVES },
	{ "new", "new.data", 1, OLD_SERVES },
	{ "new", "new.data", 2, OLD_SERVES },
	{ "new", "new.end", 1, OLD_SERVES },
	{ "new", "new.loaded", 1, OLD_SERVES },
	{ "new", "new.ready", 1, NOBODY_OLD_DONE },
	{ "new", "new.ack", 1, NOBODY_OLD_DONE },
	{ "old", "old.hello", 1, NOBODY },
	{ "old", "old.start", 1, NOBODY },
	{ "old", "old.saved", 1, NOBODY },
	{ "old", "old.data", 1, NOBODY },
	{ "old", "old.data", 2, NOBODY },
	{ "old", "old.end", 1, NEW_SERVES },
	{ "old", "old.ready", 1, NEW_SERVES },
	{ "old", "old.ack", 1, NEW_SERVES },
	{ NULL, NULL, 0, NEW_SERVES }, /* no fault: the hand-over happens */
};

/* Start the helper with @keep (close-on-exec otherwise) inherited. */
static pid_t spawn(char *const argv[], const int *keep, unsigned int n)
{
	pid_t pid;

	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(fcntl(keep[i], F_SETFD, 0), 0);
	assert_int_equal(posix_spawn(&pid, helper, NULL, NULL, argv, environ), 0);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(fcntl(keep[i], F_SETFD, FD_CLOEXEC), 0);
	return pid;
}

static int wait_status(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* A session worth keeping. */
static void build_session(struct tserver *c, int *trig)
{
	struct wire_dma_map q = { .argsz = sizeof(q), .flags = 3, .size = 0x1000 };
	struct wire_irq_set set = { .argsz = sizeof(set), .index = 1, .count = 4,
		.flags = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD };

	for (unsigned int i = 0; i < NR_MAPS; i++) {
		int fd = memfd_create("fault-ram", MFD_CLOEXEC);

		assert_int_equal(ftruncate(fd, 0x1000), 0);
		q.addr = 0x100000 + (uint64_t)i * 0x1000;
		assert_int_equal(peer_call(c, WIRE_CMD_DMA_MAP, &q, sizeof(q),
					   &fd, 1, m), 0);
		close(fd);
	}
	for (int i = 0; i < 4; i++)
		trig[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(peer_call(c, WIRE_CMD_DEVICE_SET_IRQS, &set, sizeof(set),
				   trig, 4, m), 0);
	assert_int_equal(peer_region_rw(c, 0, 0, "session!", 8, true, m), 0);
	assert_int_equal(peer_region_rw(c, 1, 0x9000, "mem!", 4, true, m), 0);
}

/* Whoever serves now serves the same session. */
static void assert_session(struct tserver *c)
{
	struct wire_device_info di = { .argsz = sizeof(di) };
	uint8_t buf[8];

	assert_int_equal(peer_call(c, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), 0);
	assert_int_equal(peer_region_rw(c, 0, 0, buf, 8, false, m), 0);
	assert_memory_equal(buf, "session!", 8);
	assert_int_equal(peer_region_rw(c, 1, 0x9000, buf, 4, false, m), 0);
	assert_memory_equal(buf, "mem!", 4);
}

static void run_case(const struct fault_case *fc, const char *path)
{
	char chan_s[16], go_s[16], nth[16];
	struct tserver c = { .peer = -1 };
	int ch[2], go[2], trig[4];
	pid_t old_pid, new_pid;
	int so, sn;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	snprintf(chan_s, sizeof(chan_s), "%d", ch[0]);
	snprintf(go_s, sizeof(go_s), "%d", go[0]);
	snprintf(nth, sizeof(nth), "%d", fc->nth);
	{
		char *argv[] = { (char *)helper, "old", (char *)path, chan_s, go_s,
				 fc->side && !strcmp(fc->side, "old") ? (char *)fc->step : NULL,
				 nth, NULL };
		const int keep[] = { ch[0], go[0] };

		old_pid = spawn(argv, keep, 2);
	}
	close(ch[0]);
	close(go[0]);
	while (access(path, F_OK) != 0) {
		assert_int_equal(waitpid(old_pid, &so, WNOHANG), 0);
		usleep(2000);
	}
	peer_connect(&c, path, true);
	build_session(&c, trig);
	snprintf(chan_s, sizeof(chan_s), "%d", ch[1]);
	{
		char *argv[] = { (char *)helper, "new", chan_s,
				 fc->side && !strcmp(fc->side, "new") ? (char *)fc->step : NULL,
				 nth, NULL };

		new_pid = spawn(argv, &ch[1], 1);
	}
	close(ch[1]);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	switch (fc->expect) {
	case OLD_SERVES:
		sn = wait_status(new_pid);
		assert_true(WIFSIGNALED(sn) && WTERMSIG(sn) == SIGKILL);
		assert_session(&c);
		kill(old_pid, SIGTERM);
		so = wait_status(old_pid);
		assert_true(WIFEXITED(so) && WEXITSTATUS(so) == 3);
		break;
	case NEW_SERVES:
		so = wait_status(old_pid);
		assert_true(fc->side ? WIFSIGNALED(so) :
			    WIFEXITED(so) && WEXITSTATUS(so) == 0);
		assert_session(&c);
		kill(new_pid, SIGTERM);
		sn = wait_status(new_pid);
		assert_true(WIFEXITED(sn) && WEXITSTATUS(sn) == 0);
		break;
	case NOBODY_OLD_DONE:
	case NOBODY:
		so = wait_status(old_pid);
		sn = wait_status(new_pid);
		if (fc->expect == NOBODY_OLD_DONE) {
			assert_true(WIFEXITED(so) && WEXITSTATUS(so) == 0);
			assert_true(WIFSIGNALED(sn));
		} else {
			assert_true(WIFSIGNALED(so));
			assert_true(WIFEXITED(sn) && WEXITSTATUS(sn) == 1);
		}
		assert_true(peer_eof(&c, vtest_ms(10000)));
		break;
	}
	close(c.peer);
	for (int i = 0; i < 4; i++)
		close(trig[i]);
	unlink(path);
}

static void sigkill_after_every_step(void **state)
{
	const char *path = vtest_sock_path("fault");

	(void)state;
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("kill %s at %s #%d\n", cases[i].side ? cases[i].side : "nobody",
		       cases[i].step ? cases[i].step : "-", cases[i].nth);
		fflush(stdout);
		run_case(&cases[i], path);
	}
	free(m);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(sigkill_after_every_step),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s HANDOVER_HELPER [TEST]\n", argv[0]);
		return 2;
	}
	helper = argv[1];
	return vtest_run("handover_fault", tests, argc - 1, argv + 1);
}
