/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * idio16_mig: the card's migration. Everything a guest can observe lives
 * in a few registers, so one small section carries it; libvus carries the
 * PCI side (BAR address, command register, INTx level) in its own.
 *
 * Section "idio16" version 1: u16 outputs | u16 inputs | u8 flags
 * (bit 0 interrupt enabled, bit 1 filters) | u8 interrupt status.
 *
 * While stopped the card must not interrupt: input changes from the
 * management methods wait until it runs again (idio16_set_inputs()).
 */
#include <errno.h>

#include "idio16.h"

#define SECTION_VERSION 1u
#define FLAG_IRQ_ENABLED 0x1
#define FLAG_FILTERS 0x2
#define STATUS_BITS (IDIO16_STATUS_LOW | IDIO16_STATUS_HIGH | IDIO16_STATUS_PENDING)

static int save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct idio16 *d = opaque;
	uint8_t flags = (d->irq_enabled ? FLAG_IRQ_ENABLED : 0) |
			(d->filters ? FLAG_FILTERS : 0);
	int ret;

	ret = vus_mig_put_u16(out, d->outputs);
	ret = ret ? ret : vus_mig_put_u16(out, d->inputs);
	ret = ret ? ret : vus_mig_put_u8(out, flags);
	return ret ? ret : vus_mig_put_u8(out, d->status);
}

struct image {
	uint16_t outputs, inputs;
	uint8_t flags, status;
};

/* Refusals say why: the management socket shows it to the VMM's side. */
static int parse(vus_mig_in *in, struct image *m)
{
	size_t len = vus_mig_remaining(in);
	int ret;

	ret = vus_mig_get_u16(in, &m->outputs);
	ret = ret ? ret : vus_mig_get_u16(in, &m->inputs);
	ret = ret ? ret : vus_mig_get_u8(in, &m->flags);
	ret = ret ? ret : vus_mig_get_u8(in, &m->status);
	if (ret < 0 || vus_mig_remaining(in) != 0)
		return vus_mig_refuse(in, -EBADMSG, "%zu bytes, the card's "
				      "state is 6", len);
	if (m->flags & ~(FLAG_IRQ_ENABLED | FLAG_FILTERS))
		return vus_mig_refuse(in, -EBADMSG, "flags 0x%02x: unknown "
				      "bits", m->flags);
	if (m->status & ~STATUS_BITS)
		return vus_mig_refuse(in, -EBADMSG, "interrupt status 0x%02x: "
				      "unknown bits", m->status);
	return 0;
}

static int check(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct image m;

	(void)opaque;
	(void)version; /* only version 1 exists */
	return parse(in, &m);
}

static int load(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct idio16 *d = opaque;
	struct image m;
	int ret;

	(void)version;
	ret = parse(in, &m);
	if (ret < 0)
		return ret;
	d->outputs = m.outputs;
	d->inputs = d->wires = m.inputs;
	d->irq_enabled = m.flags & FLAG_IRQ_ENABLED;
	d->filters = m.flags & FLAG_FILTERS;
	d->status = m.status;
	/* The INTx level itself travels in libvus's "pci" section. */
	return 0;
}

static void state_changed(vus_ctx *ctx, void *opaque, enum vus_mig_state from,
			  enum vus_mig_state to)
{
	struct idio16 *d = opaque;

	(void)from;
	d->stopped = vus_mig_state_stopped(to);
	if (!d->stopped && d->wires != d->inputs)
		idio16_set_inputs(d, d->wires);
}

int idio16_mig_setup(struct idio16 *d, const struct vus_mig_config *cfg)
{
	static const struct vus_mig_section_ops ops = {
		.struct_size = sizeof(ops), .save = save, .check = check,
		.load = load,
	};
	int ret;

	ret = vus_mig_setup(d->ctx, cfg);
	ret = ret ? ret : vus_mig_add_section(d->ctx, "idio16", SECTION_VERSION,
					      &ops, d);
	return ret ? ret : vus_mig_set_state_cb(d->ctx, state_changed, d);
}
