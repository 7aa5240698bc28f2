/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-sysbus-uart: serve a 16550A-compatible UART ("ns16550a") as a
 * vfio-user platform device.
 *
 *   vus-sysbus-uart --socket-path /tmp/uart.sock [--backend pty]
 *                   [--reg-shift 0|2] [--clock HZ] [--speed BAUD]
 *                   [--base ADDR] [--compat-version N] [--log-level info]
 *                   [--sandbox[=kill|eperm|log]]
 *   vus-sysbus-uart --fd 3 ...             (an inherited listening socket)
 *
 * Backends: stdio (default), pty, unix:PATH, unix-listen:PATH (see
 * backend.h). A VMM learns the device-tree node it needs (compatible,
 * window, line, clock-frequency, reg-shift, reg-io-width, current-speed)
 * from the device's description (doc/sysbus.md); Linux's 8250 driver
 * drives it unchanged.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "backend.h"
#include "port.h"
#include "sample_caps.h"
#include "sample_cli.h"

struct opts {
	struct sample_cli cli;
	const char *backend;
	struct port_config port;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vus-sysbus-uart (--socket-path PATH | --fd N) [options]\n"
		"options:\n"
		"  --backend B         stdio (default), pty, unix:PATH, unix-listen:PATH\n"
		"  --reg-shift 0|2     register spacing: 1 byte (default) or 4 bytes\n"
		"  --clock HZ          input clock, default 1843200\n"
		"  --speed BAUD        baud rate at reset, default 115200\n"
		"  --base ADDR         suggested guest-physical base address\n");
	sample_cli_usage(f, 22);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return s[0] != '\0' && s[0] != '-' && *end == '\0' && errno == 0 &&
	       *out <= max;
}

/* One option of this sample; false if the value is bad. */
static bool set_opt(struct opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case 'b': o->backend = arg; return true;
	case 'a': return parse_u64(arg, UINT64_MAX - 1, &o->port.base);
	case 'r':
		if (!parse_u64(arg, 2, &v) || v == 1)
			return false;
		o->port.reg_shift = (unsigned int)v;
		return true;
	case 'c':
	case 'p':
		if (!parse_u64(arg, UINT32_MAX, &v) || v == 0)
			return false;
		*(c == 'c' ? &o->port.clock_hz : &o->port.speed) = (uint32_t)v;
		return true;
	default:
		return false;
	}
}

static const char *const features[] = { "migration", "recovery",
					"take-over", "rpc", "sandbox", "pty",
					NULL };
static const struct sample_caps caps = {
	.type = "sysbus-uart", .bus = VUS_BUS_SYSBUS, .compatible = "ns16550a",
	.features = features, .methods = port_rpc_methods,
	.n_methods = PORT_RPC_N_METHODS,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		SAMPLE_CLI_LONGOPTS,
		{ "backend", required_argument, NULL, 'b' },
		{ "reg-shift", required_argument, NULL, 'r' },
		{ "clock", required_argument, NULL, 'c' },
		{ "speed", required_argument, NULL, 'p' },
		{ "base", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t div;
	int c, ret;

	*o = (struct opts){ .backend = "stdio",
			    .port = { .clock_hz = 1843200, .speed = 115200,
				      .base = VUS_SYSBUS_NO_BASE } };
	sample_cli_init(&o->cli);
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		ret = sample_cli_option(&o->cli, c, optarg);
		if (ret < 0 || (ret == 0 && !set_opt(o, c, optarg)))
			return -EINVAL;
	}
	if (o->cli.print_caps) {
		sample_caps_print(stdout, &caps, lo);
		exit(0);
	}
	if (optind != argc || sample_cli_check(&o->cli) < 0)
		return -EINVAL;
	div = o->port.clock_hz / (16ull * o->port.speed);
	if (div == 0 || div > 0xffff) {
		fprintf(stderr, "vus-sysbus-uart: %u baud is out of reach of a "
			"%u Hz clock\n", o->port.speed, o->port.clock_hz);
		return -EINVAL;
	}
	return 0;
}

/* Describe, realize, open the backend, listen. Errors say which step. */
static int start(const struct opts *o, vus_ctx *ctx, struct port *port,
		 struct backend **be)
{
	struct backend_config bc = { .spec = o->backend,
				     .log_level = o->cli.log_level,
				     .kick = port_sync, .opaque = port };
	const char *what = "device set-up";
	struct vus_mig_config mc;
	int ret = port_setup(port, ctx, &o->port);

	sample_cli_mig_config(&o->cli, &mc);
	if (ret == 0)
		ret = port_mig_setup(port, &mc);
	if (ret == 0)
		ret = port_rpc_setup(port);
	if (ret == 0)
		ret = sample_cli_recovery(ctx, &o->cli);
	if (ret == 0)
		ret = vus_ctx_realize(ctx);
	if (ret == 0) {
		what = "backend";
		/* Taking over, its fds come with the running server's state;
		 * after a crash (--recover) they are in the fd store. */
		if (sample_taking_over() || vus_ctx_recovered(ctx) == 1)
			ret = backend_prepare(be, ctx, &bc);
		else
			ret = backend_open(be, ctx, &bc);
		if (ret == 0 && vus_ctx_recovered(ctx) == 1 &&
		    backend_take_kept_fds(*be) < 0) {
			/* Kept state, but not its line: a new one. */
			backend_close(*be);
			*be = NULL;
			ret = backend_open(be, ctx, &bc);
		}
		if (ret == 0 && o->cli.recover && vus_ctx_recovered(ctx) != 1)
			ret = backend_keep_fds(*be);
	}
	if (ret == 0) {
		port_attach(port, *be);
		what = o->cli.socket_path ? o->cli.socket_path : "--fd";
		ret = sample_cli_listen(ctx, &o->cli);
	}
	if (ret < 0)
		fprintf(stderr, "vus-sysbus-uart: %s: %s\n", what,
			ret == -EINVAL && strcmp(what, "backend") == 0
				? "unknown kind or bad path" : strerror(-ret));
	return ret;
}

/*
 * The back-ends once open: send() to a socket peer, FIONREAD on the
 * input, a new peer for unix-listen (accept4 is libvus's already); the
 * character timer. tcsetattr() at exit restores the terminal (TCSETS).
 */
static int sandbox_calls(vus_sandbox *sb, void *opaque)
{
	static const long calls[] = { SYS_sendto, SYS_timerfd_settime };
	int ret = sample_allow_all(sb, calls, sizeof(calls) / sizeof(calls[0]));

	(void)opaque;
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_ioctl, 1, FIONREAD);
	if (ret == 0)
		ret = vus_sandbox_allow_if(sb, SYS_ioctl, 1, TCSETS);
	return ret;
}

static int serve(const struct opts *o)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS,
				      .name = "sysbus-uart",
				      .flags = sample_cli_ctx_flags(&o->cli) };
	struct backend *be = NULL;
	struct port port = { .timer_fd = -1 };
	vus_ctx *ctx;
	int ret;

	ret = vus_ctx_create(&cfg, &ctx);
	if (ret < 0) {
		fprintf(stderr, "vus-sysbus-uart: %s\n", strerror(-ret));
		return ret;
	}
	vus_ctx_set_log(ctx, o->cli.log_level, sample_log_sink, NULL);
	ret = start(o, ctx, &port, &be);
	if (ret == 0) {
		if (o->cli.log_level >= VUS_LOG_NOTICE)
			fprintf(stderr, "vus-sysbus-uart: serving ns16550a on %s, backend %s\n",
				o->cli.socket_path ? o->cli.socket_path : "inherited fd",
				o->backend);
		ret = sample_cli_run(ctx, &o->cli, sandbox_calls, NULL);
		if (ret < 0)
			fprintf(stderr, "vus-sysbus-uart: %s\n", strerror(-ret));
	}
	/* vus_ctx_destroy() may still reset the device (a client connected,
	 * --reset-on-disconnect): the port must not read a closed backend. */
	port_attach(&port, NULL);
	backend_close(be);
	port_teardown(&port);
	vus_ctx_destroy(ctx);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	int ret;

	sample_hold_stop_signals();
	if (sample_takeover_prepare(&argc, &argv) < 0)
		return 1;
	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		sample_takeover_free();
		return 2;
	}
	/* A backend peer that leaves must not kill us on the next write. */
	signal(SIGPIPE, SIG_IGN);
	ret = serve(&o);
	sample_takeover_free();
	return ret < 0 ? 1 : 0;
}
