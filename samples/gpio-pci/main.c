/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-gpio-pci: serve an emulated ACCES PCI-IDIO-16 card over vfio-user.
 *
 *   vus-gpio-pci --socket-path /tmp/gpio.sock [--rpc-path /tmp/gpio.rpc]
 *                [--inputs 0x00ff] [--compat-version N] [--log-level info]
 *                [--sandbox[=kill|eperm|log]]
 *   vus-gpio-pci --fd 3 ...               (an inherited listening socket)
 *   vus-ctl --rpc /tmp/gpio.rpc gpio.set-inputs inputs=0x1234
 *
 * Attach it to QEMU with
 *   -device '{"driver":"vfio-user-pci","socket":{"type":"unix","path":"/tmp/gpio.sock"}}'
 * and Linux's gpio-pci-idio-16 driver binds to it (doc/qemu.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_rpc.h"
#include "idio16.h"
#include "sample_caps.h"
#include "sample_cli.h"

struct opts {
	struct sample_cli cli;
	unsigned long inputs;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vus-gpio-pci (--socket-path PATH | --fd N) [options]\n"
		"options:\n"
		"  --inputs VALUE       initial level of the 16 input lines\n"
		"  --control-path PATH  older name of --rpc-path (the inputs are\n"
		"                       the gpio.* methods there)\n");
	sample_cli_usage(f, 23);
}

static const char *const features[] = { "migration", "recovery",
					"take-over", "rpc", "sandbox", "intx",
					NULL };
static const struct sample_caps caps = {
	.type = "gpio-pci", .bus = VUS_BUS_PCI, .vendor_id = IDIO16_VENDOR,
	.device_id = IDIO16_DEVICE, .class_code = 0xff0000,
	.features = features, .methods = gpio_rpc_methods,
	.n_methods = GPIO_RPC_N_METHODS,
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		SAMPLE_CLI_LONGOPTS,
		{ "control-path", required_argument, NULL, 'c' },
		{ "inputs", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, ret;

	*o = (struct opts){ 0 };
	sample_cli_init(&o->cli);
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		ret = sample_cli_option(&o->cli, c, optarg);
		if (ret < 0)
			return ret;
		if (ret == 1)
			continue;
		switch (c) {
		case 'c': o->cli.rpc_path = optarg; break;
		case 'i':
			o->inputs = strtoul(optarg, &end, 0);
			if (*end || o->inputs > 0xffff)
				return -EINVAL;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (o->cli.print_caps) {
		sample_caps_print(stdout, &caps, lo);
		exit(0);
	}
	return sample_cli_check(&o->cli);
}

static int serve(const struct opts *o)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI, .name = "gpio-pci",
				      .flags = sample_cli_ctx_flags(&o->cli) };
	const char *what = "device set-up"; /* names what failed */
	struct idio16 dev;
	struct vus_mig_config mc;
	vus_ctx *ctx;
	int ret;

	ret = vus_ctx_create(&cfg, &ctx);
	if (ret < 0) {
		fprintf(stderr, "vus-gpio-pci: %s: %s\n", what, strerror(-ret));
		return ret;
	}
	vus_ctx_set_log(ctx, o->cli.log_level, sample_log_sink, NULL);
	ret = sample_cli_recovery(ctx, &o->cli);
	if (ret == 0)
		ret = idio16_setup(&dev, ctx);
	sample_cli_mig_config(&o->cli, &mc);
	if (ret == 0)
		ret = idio16_mig_setup(&dev, &mc);
	if (ret == 0)
		ret = gpio_rpc_setup(ctx, &dev);
	/* Before realize: state a crashed process kept replaces it there. */
	dev.inputs = dev.wires = (uint16_t)o->inputs;
	if (ret == 0)
		ret = vus_ctx_realize(ctx);
	if (ret == 0) {
		what = o->cli.socket_path ? o->cli.socket_path : "--fd";
		ret = sample_cli_listen(ctx, &o->cli);
	}
	if (ret == 0) {
		fprintf(stderr, "vus-gpio-pci: serving PCI-IDIO-16 (494f:0dc8) on %s\n",
			o->cli.socket_path ? o->cli.socket_path : "inherited fd");
		what = "serving";
		ret = sample_cli_run(ctx, &o->cli, NULL, NULL);
	}
	if (ret < 0)
		fprintf(stderr, "vus-gpio-pci: %s: %s\n", what, strerror(-ret));
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
	ret = serve(&o);
	sample_takeover_free();
	return ret < 0 ? 1 : 0; /* serve() said why */
}
