/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gpio_rpc: the card's outside world as management methods (gpio_rpc.h).
 * The card's state is the context thread's, as the handlers are: no lock.
 */
#include "gpio_rpc.h"

#define P_SIZE sizeof(struct vus_rpc_param)

/* The card as gpio.get shows it; every setter answers the same. */
static int state_out(const struct idio16 *d, vus_rpc_out *res)
{
	vus_rpc_out_uint(res, "outputs", d->outputs);
	vus_rpc_out_uint(res, "inputs", d->inputs);
	vus_rpc_out_uint(res, "input-lines", d->wires);
	vus_rpc_out_bool(res, "irq-enabled", d->irq_enabled);
	vus_rpc_out_uint(res, "irq-status", d->status);
	vus_rpc_out_bool(res, "filters", d->filters);
	vus_rpc_out_uint(res, "irqs-raised", d->irqs_raised);
	return vus_rpc_out_bool(res, "stopped", d->stopped);
}

static int get(vus_ctx *ctx, void *opaque, vus_rpc_req *req, vus_rpc_out *res)
{
	(void)ctx;
	(void)req;
	return state_out(opaque, res);
}

static int set_inputs(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		      vus_rpc_out *res)
{
	struct idio16 *d = opaque;
	uint64_t v = 0;

	(void)ctx;
	(void)vus_rpc_get_uint(req, "inputs", &v); /* required, 0..0xffff */
	idio16_set_inputs(d, (uint16_t)v);
	return state_out(d, res);
}

static int set_input(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		     vus_rpc_out *res)
{
	struct idio16 *d = opaque;
	int64_t line = 0;
	bool level = false;
	uint16_t v;

	(void)ctx;
	(void)vus_rpc_get_int(req, "line", &line); /* required, 0..15 */
	(void)vus_rpc_get_bool(req, "level", &level);
	v = (uint16_t)(d->wires & ~(1u << line));
	idio16_set_inputs(d, (uint16_t)(v | ((unsigned int)level << line)));
	return state_out(d, res);
}

static const struct vus_rpc_param inputs_p[] = {
	{ .struct_size = P_SIZE, .name = "inputs", .type = VUS_RPC_UINT,
	  .umax = 0xffff, .required = true,
	  .summary = "the level of the 16 input lines, bit N is line N" },
};
static const struct vus_rpc_param input_p[] = {
	{ .struct_size = P_SIZE, .name = "line", .type = VUS_RPC_INT,
	  .min = 0, .max = 15, .required = true, .summary = "the input line, 0-15" },
	{ .struct_size = P_SIZE, .name = "level", .type = VUS_RPC_BOOL,
	  .required = true, .summary = "true: high" },
};

const struct vus_rpc_method gpio_rpc_methods[GPIO_RPC_N_METHODS] = {
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "gpio.get",
	  .summary = "outputs, inputs and interrupt state of the card",
	  .handler = get },
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "gpio.set-inputs",
	  .summary = "set all 16 input lines (a change interrupts the guest)",
	  .params = inputs_p, .n_params = 1, .handler = set_inputs },
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "gpio.set-input",
	  .summary = "set one input line (a change interrupts the guest)",
	  .params = input_p, .n_params = 2, .handler = set_input },
};

int gpio_rpc_setup(vus_ctx *ctx, struct idio16 *d)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < GPIO_RPC_N_METHODS; i++)
		ret = vus_rpc_register(ctx, &gpio_rpc_methods[i], d);
	return ret;
}
