/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-gpio-pci: serve an emulated ACCES PCI-IDIO-16 card over vfio-user.
 *
 *   vus-gpio-pci --socket-path /tmp/gpio.sock [--control-path /tmp/gpio.ctl]
 *                [--inputs 0x00ff] [--compat-version N] [--log-level info]
 *   vus-gpio-pci --fd 3 ...               (an inherited listening socket)
 *   vus-gpio-pci ctl --control-path /tmp/gpio.ctl inputs 0x1234
 *
 * Attach it to QEMU with
 *   -device '{"driver":"vfio-user-pci","socket":{"type":"unix","path":"/tmp/gpio.sock"}}'
 * and Linux's gpio-pci-idio-16 driver binds to it (doc/qemu.md).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control.h"
#include "idio16.h"

struct opts {
	const char *socket_path;
	int listen_fd;
	const char *control_path;
	unsigned long inputs;
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
		"usage: vus-gpio-pci (--socket-path PATH | --fd N) [options]\n"
		"       vus-gpio-pci ctl --control-path PATH COMMAND...\n"
		"options:\n"
		"  --socket-path PATH   listen for a vfio-user client at PATH\n"
		"  --fd N               serve clients of an inherited listening socket\n"
		"  --control-path PATH  socket to change inputs at run time\n"
		"                       (commands: get, inputs VALUE, input N 0|1)\n"
		"  --inputs VALUE       initial level of the 16 input lines\n"
		"  --compat-version N   guest-visible version for migration (default 1):\n"
		"                       a destination accepts only the same version\n"
		"  --log-level LEVEL    error, warning, notice, info or debug\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "control-path", required_argument, NULL, 'c' },
		{ "inputs", required_argument, NULL, 'i' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "compat-version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	*o = (struct opts){ .listen_fd = -1, .log_level = VUS_LOG_NOTICE,
			    .compat_version = 1 };
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->socket_path = optarg; break;
		case 'c': o->control_path = optarg; break;
		case 'f':
			o->listen_fd = (int)strtol(optarg, &end, 10);
			if (*end || o->listen_fd < 0)
				return -EINVAL;
			break;
		case 'i':
			o->inputs = strtoul(optarg, &end, 0);
			if (*end || o->inputs > 0xffff)
				return -EINVAL;
			break;
		case 'v': {
			unsigned long v = strtoul(optarg, &end, 0);

			if (*end || v == 0 || v > UINT32_MAX)
				return -EINVAL;
			o->compat_version = (uint32_t)v;
			break;
		}
		case 'l':
			o->log_level = parse_level(optarg);
			if (o->log_level < 0)
				return -EINVAL;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	/* --socket-path and --fd are mutually exclusive (vfio-user convention). */
	if ((o->socket_path == NULL) == (o->listen_fd < 0))
		return -EINVAL;
	return 0;
}

static int serve(const struct opts *o)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI, .name = "gpio-pci" };
	struct control *ctl = NULL;
	struct idio16 dev;
	int ret;

	ret = vus_ctx_create(&cfg, &the_ctx);
	if (ret < 0)
		return ret;
	vus_ctx_set_log(the_ctx, o->log_level, log_sink, NULL);
	ret = idio16_setup(&dev, the_ctx);
	if (ret == 0)
		ret = idio16_mig_setup(&dev, o->compat_version);
	if (ret == 0)
		ret = vus_ctx_realize(the_ctx);
	dev.inputs = dev.wires = (uint16_t)o->inputs;
	if (ret == 0 && o->control_path)
		ret = control_open(&ctl, the_ctx, &dev, o->control_path);
	if (ret == 0)
		ret = o->socket_path ? vus_ctx_listen(the_ctx, o->socket_path)
				     : vus_ctx_listen_fd(the_ctx, o->listen_fd);
	if (ret == 0) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		fprintf(stderr, "vus-gpio-pci: serving PCI-IDIO-16 (494f:0dc8) on %s\n",
			o->socket_path ? o->socket_path : "inherited fd");
		ret = vus_ctx_run(the_ctx);
	}
	control_close(ctl);
	vus_ctx_destroy(the_ctx);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	int ret;

	if (argc > 1 && strcmp(argv[1], "ctl") == 0) {
		if (argc < 5 || strcmp(argv[2], "--control-path") != 0) {
			usage(stderr);
			return 2;
		}
		ret = control_send(argv[3], argc - 4, argv + 4);
		if (ret < 0)
			fprintf(stderr, "vus-gpio-pci ctl: %s: %s\n", argv[3],
				strerror(-ret));
		return ret == 0 ? 0 : 1;
	}
	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	ret = serve(&o);
	if (ret < 0) {
		fprintf(stderr, "vus-gpio-pci: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
