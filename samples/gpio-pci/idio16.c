/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * idio16: the PCI-IDIO-16 register model and its libvus wiring (see
 * idio16.h). Single-threaded: everything runs on the context thread, the
 * management methods included, so the state needs no lock.
 */
#include <errno.h>
#include <string.h>

#include "idio16.h"

/* The registers changed: crash recovery keeps them (when enabled). */
static void kept_changed(struct idio16 *d)
{
	(void)vus_ctx_state_changed(d->ctx, "idio16");
}

/* INTx follows the pending latch while the interrupt is enabled. */
static void update_intx(struct idio16 *d)
{
	bool level = d->irq_enabled && (d->status & IDIO16_STATUS_PENDING);

	(void)vus_pci_intx(d->ctx, level);
}

void idio16_set_inputs(struct idio16 *d, uint16_t inputs)
{
	uint16_t changed = d->inputs ^ inputs;

	d->wires = inputs;
	if (d->stopped)
		return; /* seen when the card runs again */
	d->inputs = inputs;
	kept_changed(d);
	if (!changed || !d->irq_enabled)
		return;
	if (changed & 0x00ff)
		d->status |= IDIO16_STATUS_LOW;
	if (changed & 0xff00)
		d->status |= IDIO16_STATUS_HIGH;
	if (!(d->status & IDIO16_STATUS_PENDING))
		d->irqs_raised++;
	d->status |= IDIO16_STATUS_PENDING;
	update_intx(d);
}

uint8_t idio16_read(struct idio16 *d, unsigned int reg)
{
	switch (reg) {
	case IDIO16_REG_OUT0_7:
		return (uint8_t)d->outputs;
	case IDIO16_REG_IN0_7:
		return (uint8_t)d->inputs;
	case IDIO16_REG_IRQ_CTL:
		/* Reading this register enables the interrupt. */
		d->irq_enabled = true;
		update_intx(d);
		kept_changed(d);
		return 0;
	case IDIO16_REG_FILTER_CTL:
		d->filters = true;
		kept_changed(d);
		return 0;
	case IDIO16_REG_OUT8_15:
		return (uint8_t)(d->outputs >> 8);
	case IDIO16_REG_IN8_15:
		return (uint8_t)(d->inputs >> 8);
	case IDIO16_REG_IRQ_STATUS:
		return d->status;
	default:
		return 0;
	}
}

void idio16_write(struct idio16 *d, unsigned int reg, uint8_t val)
{
	switch (reg) {
	case IDIO16_REG_OUT0_7:
		d->outputs = (uint16_t)((d->outputs & 0xff00) | val);
		break;
	case IDIO16_REG_IN0_7:
		/* Any write clears the interrupt. */
		d->status = 0;
		update_intx(d);
		break;
	case IDIO16_REG_IRQ_CTL:
		d->irq_enabled = false;
		update_intx(d);
		break;
	case IDIO16_REG_FILTER_CTL:
		d->filters = false;
		break;
	case IDIO16_REG_OUT8_15:
		d->outputs = (uint16_t)((d->outputs & 0x00ff) | (val << 8));
		break;
	default:
		return; /* read-only or unused: ignored, as on the card */
	}
	kept_changed(d);
}

void idio16_reset(struct idio16 *d)
{
	d->outputs = 0;
	d->irq_enabled = false;
	d->filters = false;
	d->status = 0;
	update_intx(d);
	kept_changed(d);
}

/* BAR accesses arrive as the client sends them (1-4 bytes for I/O). */
static int bar_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = idio16_read(opaque, (unsigned int)(off + i));
	return 0;
}

static int bar_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		idio16_write(opaque, (unsigned int)(off + i), p[i]);
	return 0;
}

static int dev_reset(vus_ctx *ctx, void *opaque, enum vus_reset_reason why)
{
	(void)why;
	idio16_reset(opaque);
	return 0;
}

int idio16_setup(struct idio16 *d, vus_ctx *ctx)
{
	static const struct vus_region_ops bar_ops = {
		.struct_size = sizeof(bar_ops), .read = bar_read,
		.write = bar_write,
	};
	static const struct vus_device_ops dev_ops = {
		.struct_size = sizeof(dev_ops), .reset = dev_reset,
	};
	const struct vus_pci_info info = {
		.struct_size = sizeof(info),
		.vendor_id = IDIO16_VENDOR, .device_id = IDIO16_DEVICE,
		.subsys_vendor_id = IDIO16_VENDOR, .subsys_id = IDIO16_DEVICE,
		.class_code = 0xff0000, /* "device does not fit a class" */
		.interrupt_pin = 1,
	};
	const struct vus_region_desc bar = {
		.struct_size = sizeof(bar), .size = IDIO16_BAR_SIZE,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &bar_ops,
		.opaque = d,
	};
	int ret;

	memset(d, 0, sizeof(*d));
	d->ctx = ctx;
	ret = vus_pci_init(ctx, &info);
	if (ret == 0)
		ret = vus_pci_setup_bar(ctx, IDIO16_BAR, VUS_PCI_BAR_IO, &bar);
	if (ret == 0)
		ret = vus_ctx_set_device_ops(ctx, &dev_ops, d);
	return ret;
}
