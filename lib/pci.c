/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci: lifecycle of the PCI adapter. vus_pci_init() attaches it to a
 * context as its bus (struct bus_ops) and reserves region indexes 0-8 and
 * interrupt indexes 0-4; BARs and the ROM become regions as soon as they
 * are described; realize freezes config space and declares the config
 * region and the interrupt indexes; reset returns emulated state to its
 * power-on values. Config space itself lives in pci_config.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "irq_table.h"
#include "log.h"
#include "pci_priv.h"
#include "region_table.h"

/* Region indexes 0-8 and interrupt indexes 0-4 belong to the adapter. */
#define PCI_NR_REGIONS 9u
#define PCI_NR_IRQS 5u

static int pci_realize(void *bus);
static void pci_reset(void *bus, enum vus_reset_reason why);
static void pci_destroy(void *bus);

const struct bus_ops pci_bus_ops = {
	.name = "pci",
	.min_regions = PCI_NR_REGIONS,
	.min_irqs = PCI_NR_IRQS,
	.realize = pci_realize,
	.reset = pci_reset,
	.destroy = pci_destroy,
	.identity = pci_identity,
	.mig_section = &pci_mig_section,
};

int pci_get(vus_ctx *ctx, struct pci **out)
{
	struct pci *p = ctx ? ctx_bus(ctx, &pci_bus_ops) : NULL;

	if (p == NULL)
		return -EINVAL;
	*out = p;
	return 0;
}

int pci_get_setup(vus_ctx *ctx, struct pci **out)
{
	int ret = pci_get(ctx, out);

	if (ret == 0 && ctx_realized(ctx))
		ret = -EBUSY;
	return ret;
}

static int info_check(vus_ctx *ctx, const struct vus_pci_info *i)
{
	if (ctx_bus_type(ctx) != VUS_BUS_PCI)
		return -EINVAL;
	/* 0xffff is what an absent function reads; 0 is not assigned. */
	if (i->vendor_id == 0 || i->vendor_id == 0xffff)
		return -EINVAL;
	if (i->interrupt_pin > 4)
		return -EINVAL;
	if (i->class_code > 0xffffff)
		return -EINVAL;
	return 0;
}

/* A region the adapter needs was already set up by hand. */
static bool regions_taken(vus_ctx *ctx)
{
	for (uint32_t i = 0; i < PCI_NR_REGIONS; i++)
		if (region_exists(ctx_regions(ctx), i))
			return true;
	return false;
}

static struct pci *pci_alloc(vus_ctx *ctx, const struct vus_pci_info *i)
{
	struct pci *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->ctx = ctx;
	p->log = ctx_log(ctx);
	p->irqs = ctx_irqs(ctx);
	p->regions = ctx_regions(ctx);
	p->info = *i;
	p->size = i->express ? PCI_EXP_SIZE : PCI_CONV_SIZE;
	pthread_mutex_init(&p->lock, NULL);
	for (unsigned int b = 0; b < PCI_NR_BARS; b++) {
		p->bars[b].pci = p;
		p->bars[b].index = b;
	}
	pci_config_init(p);
	return p;
}

VUS_EXPORT int vus_pci_init(vus_ctx *ctx, const struct vus_pci_info *info)
{
	struct vus_pci_info i;
	struct pci *p;
	int ret;

	if (ctx == NULL || copy_sized(&i, sizeof(i), info) < 0)
		return -EINVAL;
	ret = info_check(ctx, &i);
	if (ret < 0)
		return ret;
	if (ctx_realized(ctx))
		return -EBUSY;
	if (ctx_bus_ops(ctx) != NULL || regions_taken(ctx))
		return -EEXIST;
	p = pci_alloc(ctx, &i);
	if (p == NULL)
		return -ENOMEM;
	ret = ctx_set_bus(ctx, &pci_bus_ops, p);
	if (ret < 0) {
		pci_destroy(p);
		return ret;
	}
	region_reserve(p->regions, 0, PCI_NR_REGIONS);
	irq_reserve(p->irqs, 0, PCI_NR_IRQS);
	return 0;
}

static int pci_realize(void *bus)
{
	struct pci *p = bus;
	const struct vus_region_desc d = {
		.struct_size = sizeof(d),
		.size = p->size,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.ops = &pci_config_region_ops,
		.opaque = p,
		/* QEMU reads config space in runs of any length. */
		.access_flags = VUS_ACCESS_ANY,
	};
	int ret;

	/* Without it a guest never looks past 0x100 (nor at the link). */
	if (p->info.express && p->exp_cap == 0) {
		log_msg(p->log, VUS_LOG_ERR,
			"pci: an Express function needs vus_pci_add_cap_exp()");
		return -EINVAL;
	}
	if (pci_msix_doorbells_check(p) < 0) {
		log_msg(p->log, VUS_LOG_ERR,
			"pci: an ioeventfd overlaps the MSI-X table or PBA");
		return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	pci_config_finish(p);
	pthread_mutex_unlock(&p->lock);
	ret = region_add(p->regions, VUS_PCI_REGION_CONFIG, &d, p);
	if (ret == 0)
		ret = pci_irq_declare(p);
	if (ret < 0) {
		log_msg(p->log, VUS_LOG_ERR, "pci: realize failed: %d", ret);
		return ret;
	}
	/* A line raised before realize reaches the irq table now. */
	pthread_mutex_lock(&p->lock);
	(void)pci_intx_update(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void pci_reset(void *bus, enum vus_reset_reason why)
{
	struct pci *p = bus;

	(void)why;
	pthread_mutex_lock(&p->lock);
	pci_config_reset(p);
	pci_msix_reset(p);
	/* The line is the device's; Status.Interrupt follows it again. */
	(void)pci_intx_update(p);
	pthread_mutex_unlock(&p->lock);
}

static void pci_destroy(void *bus)
{
	struct pci *p = bus;

	if (p == NULL)
		return;
	pci_msix_free(p);
	free(p->rom);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* BARs and ROM. */

static int bar_check(const struct pci *p, unsigned int bar, uint32_t flags,
		     const struct vus_region_desc *d)
{
	const uint32_t known = VUS_PCI_BAR_IO | VUS_PCI_BAR_MEM64 |
			       VUS_PCI_BAR_PREFETCH;
	bool io = flags & VUS_PCI_BAR_IO;
	bool mem64 = flags & VUS_PCI_BAR_MEM64;

	if (bar >= PCI_NR_BARS || (flags & ~known))
		return -EINVAL;
	if (io && (flags & (VUS_PCI_BAR_MEM64 | VUS_PCI_BAR_PREFETCH)))
		return -EINVAL;
	/* A 64-bit BAR needs the next register for its upper half. */
	if (mem64 && bar + 1 >= PCI_NR_BARS)
		return -EINVAL;
	/* QEMU asserts power-of-two BAR sizes. */
	if (!is_pow2_u64(d->size))
		return -EINVAL;
	if (io ? d->size < 4 || d->size > 256 : d->size < 16)
		return -EINVAL;
	/* A 32-bit BAR must keep at least one writable address bit. */
	if (!io && !mem64 && d->size > (1ull << 31))
		return -EINVAL;
	/* Nothing could serve the accesses. */
	if (d->ops == NULL && d->backing == VUS_BACKING_NONE)
		return -EINVAL;
	if (p->bars[bar].size != 0 || p->bars[bar].upper)
		return -EEXIST;
	if (mem64 && (p->bars[bar + 1].size != 0 || p->bars[bar + 1].upper))
		return -EEXIST;
	return 0;
}

VUS_EXPORT int vus_pci_setup_bar(vus_ctx *ctx, unsigned int bar,
				 uint32_t bar_flags,
				 const struct vus_region_desc *desc)
{
	struct vus_region_ops ops = { 0 };
	struct vus_region_desc d;
	struct pci *p;
	int ret;

	ret = pci_get_setup(ctx, &p);
	if (ret < 0)
		return ret;
	if (copy_sized(&d, sizeof(d), desc) < 0)
		return -EINVAL;
	ret = bar_check(p, bar, bar_flags, &d);
	if (ret < 0)
		return ret;
	if (d.ops != NULL && copy_sized(&ops, sizeof(ops), d.ops) < 0)
		return -EINVAL;
	/* Every BAR goes through our wrapper so MSI-X can live in it. */
	p->bars[bar].ops = ops;
	p->bars[bar].opaque = d.opaque ? d.opaque : vus_ctx_opaque(ctx);
	d.ops = &pci_bar_region_ops;
	d.opaque = &p->bars[bar];
	if (d.flags == 0)
		d.flags = VUS_REGION_READ | VUS_REGION_WRITE;
	/* Memory (and the MSI-X structures in it) takes any length. */
	if (ops.read == NULL && ops.write == NULL)
		d.access_flags = VUS_ACCESS_ANY, d.access_min = d.access_max = 0;
	ret = region_add(p->regions, bar, &d, NULL);
	if (ret < 0)
		return ret;
	p->bars[bar].size = d.size;
	p->bars[bar].flags = bar_flags;
	if (bar_flags & VUS_PCI_BAR_MEM64)
		p->bars[bar + 1].upper = true;
	return 0;
}

static int rom_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	const struct pci *p = opaque;

	if (!range_ok(off, len, p->rom_size))
		return -EINVAL;
	memcpy(buf, p->rom + off, len);
	return 0;
}

static const struct vus_region_ops rom_ops = {
	.struct_size = sizeof(rom_ops),
	.read = rom_read,
};

VUS_EXPORT int vus_pci_setup_rom(vus_ctx *ctx, const void *image, size_t size)
{
	struct vus_region_desc d = {
		.struct_size = sizeof(d),
		.size = size,
		.flags = VUS_REGION_READ,
		.ops = &rom_ops,
		.access_flags = VUS_ACCESS_ANY, /* QEMU reads it whole */
	};
	struct pci *p;
	int ret;

	ret = pci_get_setup(ctx, &p);
	if (ret < 0)
		return ret;
	/* QEMU reads the whole ROM in one transfer. */
	if (image == NULL || size < PCI_ROM_MIN || !is_pow2_u64(size) ||
	    size > ctx_max_xfer(ctx))
		return -EINVAL;
	if (p->rom != NULL)
		return -EEXIST;
	p->rom = malloc(size);
	if (p->rom == NULL)
		return -ENOMEM;
	memcpy(p->rom, image, size);
	p->rom_size = size;
	d.opaque = p;
	ret = region_add(p->regions, VUS_PCI_REGION_ROM, &d, p);
	if (ret < 0) {
		free(p->rom);
		p->rom = NULL;
		p->rom_size = 0;
	}
	return ret;
}

/* Config callbacks and accessors. */

VUS_EXPORT int vus_pci_set_config_ops(vus_ctx *ctx,
				      const struct vus_pci_config_ops *ops,
				      void *opaque)
{
	struct vus_pci_config_ops o;
	struct pci *p;
	int ret;

	ret = pci_get_setup(ctx, &p);
	if (ret < 0)
		return ret;
	if (copy_sized(&o, sizeof(o), ops) < 0)
		return -EINVAL;
	p->cfg_ops = o;
	p->cfg_opaque = opaque ? opaque : vus_ctx_opaque(ctx);
	return 0;
}

VUS_EXPORT int vus_pci_config_read(vus_ctx *ctx, uint32_t offset, void *buf,
				   size_t len)
{
	struct pci *p;
	int ret;

	ret = pci_get(ctx, &p);
	if (ret < 0)
		return ret;
	if ((buf == NULL && len != 0) || !range_ok(offset, len, p->size))
		return -EINVAL;
	if (len == 0)
		return 0;
	pthread_mutex_lock(&p->lock);
	memcpy(buf, p->cfg + offset, len);
	pthread_mutex_unlock(&p->lock);
	return 0;
}
