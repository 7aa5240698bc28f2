/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_run: listening, serving until SIGINT/SIGTERM, and the optional
 * seccomp sandbox around vus_ctx_run() (sample_cli.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "sample_cli.h"

/* Set while vus_ctx_run() serves, NULL once it returned: a second
 * SIGTERM (a process group's and a supervisor's both arrive) during the
 * teardown must not reach the destroyed context. */
static vus_ctx *the_ctx;

/* What on_signal() takes, on the loop's thread alone: a handler running
 * on another thread (virtio-net's worker) could be inside vus_ctx_stop()
 * while the loop's thread destroys the context. */
static const int stop_signals[] = { SIGINT, SIGTERM };

void sample_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(set, stop_signals[i]);
}

void sample_hold_stop_signals(void)
{
	sigset_t stop;

	sample_stop_signals(&stop);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
}

static void on_signal(int sig)
{
	(void)sig;
	/* async-signal-safe; NULL is a no-op */
	vus_ctx_stop(__atomic_load_n(&the_ctx, __ATOMIC_ACQUIRE));
}

int sample_cli_recovery(vus_ctx *ctx, const struct sample_cli *c)
{
	int ret;

	if (!c->recover)
		return 0;
	ret = vus_ctx_enable_recovery(ctx, NULL);
	if (ret == -ENOTCONN)
		fprintf(stderr, "--recover: no fd store ($NOTIFY_SOCKET is not set); "
			"run under vus-supervise or systemd\n");
	else if (ret < 0)
		fprintf(stderr, "--recover: %s\n", strerror(-ret));
	return ret;
}

/* The management socket first: once the vfio-user socket is there (what
 * a VMM or a script waits for), so is everything else. */
int sample_cli_listen(vus_ctx *ctx, const struct sample_cli *c)
{
	bool taking = sample_taking_over();
	int ret = 0;

	/* Taking over: both listeners come with the device. */
	if (taking)
		ret = sample_takeover_serve(ctx);
	if (ret == 0 && c->rpc_path != NULL) {
		ret = vus_ctx_rpc_listen(ctx, c->rpc_path);
		if (ret == -EEXIST && taking)
			ret = 0;
		if (ret < 0) {
			fprintf(stderr, "--rpc-path %s: %s\n", c->rpc_path,
				strerror(-ret));
			return ret;
		}
	}
	if (taking || ret < 0)
		return ret;
	ret = c->socket_path ? vus_ctx_listen(ctx, c->socket_path)
			     : vus_ctx_listen_fd(ctx, c->listen_fd);
	return ret ? ret : sample_takeover_serve(ctx);
}

int sample_allow_all(vus_sandbox *sb, const long *nrs, size_t n)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = vus_sandbox_allow(sb, nrs[i]);
	return ret;
}

static int apply_sandbox(vus_ctx *ctx, const struct sample_cli *c,
			 sample_sandbox_fn *add, void *opaque)
{
	static const enum vus_sandbox_action actions[] = {
		[SAMPLE_SANDBOX_KILL] = VUS_SANDBOX_KILL,
		[SAMPLE_SANDBOX_EPERM] = VUS_SANDBOX_EPERM,
		[SAMPLE_SANDBOX_LOG] = VUS_SANDBOX_LOG,
	};
	vus_sandbox *sb;
	int ret;

	if (c->sandbox == SAMPLE_SANDBOX_OFF)
		return 0;
	ret = vus_sandbox_create(&sb);
	if (ret < 0)
		return ret;
	ret = vus_sandbox_set_action(sb, actions[c->sandbox]);
	if (ret == 0 && add != NULL)
		ret = add(sb, opaque);
	if (ret == 0)
		ret = vus_sandbox_apply(sb, ctx);
	vus_sandbox_destroy(sb);
	return ret;
}

int sample_cli_run(vus_ctx *ctx, const struct sample_cli *c,
		   sample_sandbox_fn *add, void *opaque)
{
	sigset_t stop;
	int ret;

	__atomic_store_n(&the_ctx, ctx, __ATOMIC_RELEASE);
	/* Before the sandbox: rt_sigaction is not on its list. */
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		signal(stop_signals[i], on_signal);
	/* This thread takes them (the sample's own threads block them); one
	 * held since sample_hold_stop_signals() stops the loop at once. */
	sample_stop_signals(&stop);
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
	/* Listening: a service manager waiting for us may go on. Before the
	 * sandbox: it opens a socket. */
	(void)vus_notify("READY=1");
	ret = apply_sandbox(ctx, c, add, opaque);
	if (ret < 0)
		fprintf(stderr, "sandbox: %s\n", strerror(-ret));
	else
		ret = vus_ctx_run(ctx);
	__atomic_store_n(&the_ctx, NULL, __ATOMIC_RELEASE);
	return ret;
}
