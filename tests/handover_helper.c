/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_helper: one side of a hand-over as a process of its own, for
 * test_handover_fault.c, which kills it at a chosen step. The device is
 * tserver's (with its "regs" section).
 *
 *   handover_helper old SOCKET_PATH CHANNEL_FD GO_FD [STEP N]
 *       serve at SOCKET_PATH; when a byte arrives on GO_FD, serve the
 *       hand-over on CHANNEL_FD. Exit 0 once handed over, 3 when stopped
 *       by SIGTERM.
 *   handover_helper new CHANNEL_FD [STEP N]
 *       take the device over from CHANNEL_FD and serve it. Exit 1 if the
 *       take-over failed, 0 when stopped by SIGTERM.
 *
 * With STEP N, SIGKILL itself at the N-th time the protocol reaches STEP.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ho.h"
#include "tserver.h"

static const char *fault_step;
static int fault_left;
static vus_ctx *the_ctx;
static int chan_fd;

static void fault_at(const char *step)
{
	if (fault_step != NULL && strcmp(step, fault_step) == 0 &&
	    --fault_left == 0)
		kill(getpid(), SIGKILL);
}

static void on_term(int sig)
{
	(void)sig;
	vus_ctx_stop(the_ctx);
}

static void go(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	char c;

	(void)opaque;
	(void)events;
	if (read(fd, &c, 1) != 1)
		return;
	(void)vus_ctx_del_fd(the_ctx, fd);
	if (vus_ctx_handover_serve_fd(the_ctx, chan_fd) < 0)
		_exit(4);
}

static int run_old(const char *path, int go_fd)
{
	struct tserver s;
	int ret;

	tserver_start(&s, &(struct tserver_opts){ .listen_path = path,
		.with_migration = true, .with_quiesce = true, .no_thread = true });
	the_ctx = s.ctx;
	signal(SIGTERM, on_term);
	if (vus_ctx_add_fd(s.ctx, go_fd, EPOLLIN, go, NULL) < 0)
		return 4;
	ret = vus_ctx_run(s.ctx);
	ret = ret < 0 ? 1 : vus_ctx_handed_over(s.ctx) ? 0 : 3;
	tserver_stop(&s);
	return ret;
}

static int run_new(void)
{
	struct vus_takeover_config cfg = { .struct_size = sizeof(cfg),
					   .timeout_ms = 60000 };
	vus_takeover *tk;
	struct tserver s;
	int ret;

	tserver_start(&s, &(struct tserver_opts){ .no_serve = true,
		.with_migration = true, .with_quiesce = true });
	the_ctx = s.ctx;
	signal(SIGTERM, on_term);
	ret = vus_takeover_begin_fd(chan_fd, &cfg, &tk);
	if (ret == 0)
		ret = vus_ctx_take_over(s.ctx, tk);
	if (ret < 0) {
		fprintf(stderr, "handover_helper new: %s\n", strerror(-ret));
		tserver_stop(&s);
		return 1;
	}
	ret = vus_ctx_run(s.ctx);
	tserver_stop(&s);
	return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	int old = argc >= 5 && strcmp(argv[1], "old") == 0;
	int at = old ? 5 : 3;

	if (!old && (argc < 3 || strcmp(argv[1], "new") != 0))
		return 2;
	if (argc >= at + 2) {
		fault_step = argv[at];
		fault_left = atoi(argv[at + 1]);
		ho_fault_hook = fault_at;
	}
	chan_fd = atoi(argv[old ? 3 : 2]);
	return old ? run_old(argv[2], atoi(argv[4])) : run_new();
}
