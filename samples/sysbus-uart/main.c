/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-sysbus-uart: serve a 16550A-compatible UART ("ns16550a") as a
 * vfio-user platform device.
 *
 *   vus-sysbus-uart --socket-path /tmp/uart.sock [--backend pty]
 *                   [--reg-shift 0|2] [--clock HZ] [--speed BAUD]
 *                   [--base ADDR] [--compat-version N] [--log-level info]
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
#include <strings.h>

#include "backend.h"
#include "port.h"

struct opts {
	const char *socket_path;
	int listen_fd;
	const char *backend;
	struct port_config port;
	int log_level;
	uint32_t compat_version;
};

static vus_ctx *the_ctx;

static void on_signal(int sig)
{
	(void)sig;
	vus_ctx_stop(the_ctx); /* async-signal-safe */
}

static void log_sink(void *opaque, int level, const char *msg)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };

	(void)opaque;
	fprintf(stderr, "[%s] %s\n", names[level & 7], msg);
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "error", "warning", "notice",
					     "info", "debug" };

	for (int i = 0; i < 5; i++)
		if (strcasecmp(s, names[i]) == 0)
			return VUS_LOG_ERR + i;
	if (s[0] >= '3' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vus-sysbus-uart (--socket-path PATH | --fd N) [options]\n"
		"options:\n"
		"  --socket-path PATH  listen for a vfio-user client at PATH\n"
		"  --fd N              serve clients of an inherited listening socket\n"
		"  --backend B         stdio (default), pty, unix:PATH, unix-listen:PATH\n"
		"  --reg-shift 0|2     register spacing: 1 byte (default) or 4 bytes\n"
		"  --clock HZ          input clock, default 1843200\n"
		"  --speed BAUD        baud rate at reset, default 115200\n"
		"  --base ADDR         suggested guest-physical base address\n"
		"  --compat-version N  guest-visible version for migration (default 1):\n"
		"                      a destination accepts only the same version\n"
		"  --log-level LEVEL   error, warning, notice, info or debug\n");
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return s[0] != '\0' && s[0] != '-' && *end == '\0' && errno == 0 &&
	       *out <= max;
}

/* One option with an argument; false if the value is bad. */
static bool set_opt(struct opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case 's': o->socket_path = arg; return true;
	case 'b': o->backend = arg; return true;
	case 'l': return (o->log_level = parse_level(arg)) >= 0;
	case 'a': return parse_u64(arg, UINT64_MAX - 1, &o->port.base);
	case 'f':
		if (!parse_u64(arg, 1 << 20, &v))
			return false;
		o->listen_fd = (int)v;
		return true;
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
	case 'v':
		if (!parse_u64(arg, UINT32_MAX, &v) || v == 0)
			return false;
		o->compat_version = (uint32_t)v;
		return true;
	default:
		return false;
	}
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "backend", required_argument, NULL, 'b' },
		{ "reg-shift", required_argument, NULL, 'r' },
		{ "clock", required_argument, NULL, 'c' },
		{ "speed", required_argument, NULL, 'p' },
		{ "base", required_argument, NULL, 'a' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "compat-version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t div;
	int c;

	*o = (struct opts){ .listen_fd = -1, .backend = "stdio",
			    .log_level = VUS_LOG_NOTICE, .compat_version = 1,
			    .port = { .clock_hz = 1843200, .speed = 115200,
				      .base = VUS_SYSBUS_NO_BASE } };
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (!set_opt(o, c, optarg))
			return -EINVAL;
	}
	/* --socket-path and --fd are mutually exclusive (vfio-user convention). */
	if (optind != argc || (o->socket_path == NULL) == (o->listen_fd < 0))
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
static int start(const struct opts *o, struct port *port, struct backend **be)
{
	struct backend_config bc = { .spec = o->backend,
				     .log_level = o->log_level,
				     .kick = port_sync, .opaque = port };
	const char *what = "device set-up";
	int ret = port_setup(port, the_ctx, &o->port);

	if (ret == 0)
		ret = port_mig_setup(port, o->compat_version);
	if (ret == 0)
		ret = vus_ctx_realize(the_ctx);
	if (ret == 0) {
		what = "backend";
		ret = backend_open(be, the_ctx, &bc);
	}
	if (ret == 0) {
		port_attach(port, *be);
		what = o->socket_path ? o->socket_path : "--fd";
		ret = o->socket_path ? vus_ctx_listen(the_ctx, o->socket_path)
				     : vus_ctx_listen_fd(the_ctx, o->listen_fd);
	}
	if (ret < 0)
		fprintf(stderr, "vus-sysbus-uart: %s: %s\n", what,
			ret == -EINVAL && strcmp(what, "backend") == 0
				? "unknown kind or bad path" : strerror(-ret));
	return ret;
}

static int serve(const struct opts *o)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS,
				      .name = "sysbus-uart" };
	struct backend *be = NULL;
	struct port port = { .timer_fd = -1 };
	int ret;

	ret = vus_ctx_create(&cfg, &the_ctx);
	if (ret < 0) {
		fprintf(stderr, "vus-sysbus-uart: %s\n", strerror(-ret));
		return ret;
	}
	vus_ctx_set_log(the_ctx, o->log_level, log_sink, NULL);
	ret = start(o, &port, &be);
	if (ret == 0) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		if (o->log_level >= VUS_LOG_NOTICE)
			fprintf(stderr, "vus-sysbus-uart: serving ns16550a on %s, backend %s\n",
				o->socket_path ? o->socket_path : "inherited fd",
				o->backend);
		ret = vus_ctx_run(the_ctx);
		if (ret < 0)
			fprintf(stderr, "vus-sysbus-uart: %s\n", strerror(-ret));
	}
	backend_close(be);
	port_teardown(&port);
	vus_ctx_destroy(the_ctx);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	/* A backend peer that leaves must not kill us on the next write. */
	signal(SIGPIPE, SIG_IGN);
	return serve(&o) < 0 ? 1 : 0;
}
