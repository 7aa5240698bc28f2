/* SPDX-License-Identifier: BSD-3-Clause */
/* fuzz_dev: the devices behind the engine fuzz targets (see fuzz_dev.h). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz_dev.h"
#include "fuzz_input.h"

/* DMA length register: 1..256 bytes. */
static size_t dma_len(const struct fdev *d)
{
	return (size_t)d->regs[FZ_REG_DMA_LEN] + 1;
}

/* Translate and touch every byte, as a device reading a buffer would. */
static int dma_sg_touch(struct fdev *d, uint64_t addr)
{
	struct vus_sg sg[4];
	size_t nr = 0;
	uint8_t sum = 0;
	int ret = vus_dma_sg(d->ctx, addr, dma_len(d), VUS_DMA_READ, sg, 4, &nr);

	if (ret < 0)
		return ret;
	for (size_t i = 0; i < nr; i++)
		for (uint64_t j = 0; j < sg[i].len; j++)
			sum = (uint8_t)(sum + ((volatile uint8_t *)sg[i].vaddr)[j]);
	d->regs[0x2ff] = sum;
	/* As a device that wrote through the pointers would (logging). */
	return vus_dma_mark_dirty(d->ctx, addr, dma_len(d));
}

static int dma_untorn(struct fdev *d, uint64_t addr)
{
	uint64_t v64 = 0;
	uint16_t v16 = 0;
	uint8_t v8 = 0;
	int ret = vus_dma_read64(d->ctx, addr, &v64);

	if (ret == 0)
		ret = vus_dma_write32(d->ctx, addr, (uint32_t)v64);
	if (ret == 0)
		ret = vus_dma_read16(d->ctx, addr + 2, &v16);
	if (ret == 0)
		ret = vus_dma_read8(d->ctx, addr + 1, &v8);
	return ret;
}

void fdev_irqs(struct fdev *d, uint64_t bits)
{
	if (d->pci) {
		uint16_t cmd;

		(void)vus_pci_irq_mode(d->ctx);
		(void)vus_pci_config_read(d->ctx, 4, &cmd, sizeof(cmd));
		(void)vus_pci_intx(d->ctx, bits & 0x4);
		(void)vus_pci_msi(d->ctx, (uint32_t)(bits & 0x3));
		(void)vus_pci_msix(d->ctx, (uint32_t)((bits >> 3) & 0x3f));
		return;
	}
	(void)vus_irq_set_level(d->ctx, 0, 0, bits & 0x4);
	(void)vus_irq_trigger(d->ctx, 1, (uint32_t)(bits & 0x3));
	(void)vus_irq_trigger(d->ctx, 3, (uint32_t)((bits >> 3) & 0x1));
	(void)vus_irq_trigger(d->ctx, 2, 0); /* empty index: refused */
}

static int regs_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	struct fdev *d = opaque;

	memcpy(buf, d->regs + off, len);
	return 0;
}

/* Act on an 8-byte write to a command register; 0 or -errno. */
static int command(struct fdev *d, uint64_t off, uint64_t v)
{
	switch (off) {
	case FZ_REG_DMA_READ:
		return vus_dma_read(d->ctx, v, d->regs + 0x300, dma_len(d));
	case FZ_REG_DMA_WRITE:
		return vus_dma_write(d->ctx, v, d->regs + 0x400, dma_len(d));
	case FZ_REG_DMA_SG:
		return dma_sg_touch(d, v);
	case FZ_REG_DMA_UNTORN:
		return dma_untorn(d, v);
	case FZ_REG_IRQ:
		fdev_irqs(d, v);
		return 0;
	default:
		return 0;
	}
}

static int regs_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		      size_t len)
{
	struct fdev *d = opaque;
	uint64_t v;
	int ret = 0;

	if (len == 8) {
		memcpy(&v, buf, 8);
		ret = command(d, off, v);
	}
	/* Pages written since pre-copy sent them go again at the stop. */
	for (uint64_t p = off / 1024; p <= (off + len - 1) / 1024; p++)
		d->page_dirty |= (uint8_t)(1u << p);
	/* A device may look at the written bytes after acting on them. */
	memcpy(d->regs + off, buf, len);
	return ret;
}

static int io_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		   size_t len)
{
	struct fdev *d = opaque;

	memcpy(buf, d->io + off, len);
	return 0;
}

static int io_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		    size_t len)
{
	struct fdev *d = opaque;

	memcpy(d->io + off, buf, len);
	return off == 0 ? -EIO : 0; /* a device error, reported to the client */
}

/* Region 1's bytes outside its mmap areas: the same memory. */
static int mem_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct fdev *d = opaque;

	memcpy(buf, (uint8_t *)vus_region_mem(d->ctx, 1) + off, len);
	return 0;
}

static int mem_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	struct fdev *d = opaque;

	memcpy((uint8_t *)vus_region_mem(d->ctx, 1) + off, buf, len);
	return 0;
}

static const struct vus_region_ops regs_ops = {
	.struct_size = sizeof(regs_ops), .read = regs_read, .write = regs_write,
};
static const struct vus_region_ops io_ops = {
	.struct_size = sizeof(io_ops), .read = io_read, .write = io_write,
};
static const struct vus_region_ops mem_ops = {
	.struct_size = sizeof(mem_ops), .read = mem_read, .write = mem_write,
};
static const struct vus_region_ops ro_ops = {
	.struct_size = sizeof(ro_ops), .read = io_read,
};

/* A callback that reads guest memory, if the hooks register says so. */
static void hook_dma(struct fdev *d, uint8_t hook)
{
	uint64_t addr;
	uint8_t buf[16];

	if (!(d->regs[FZ_REG_HOOKS] & hook))
		return;
	memcpy(&addr, d->regs + FZ_REG_HOOK_ADDR, sizeof(addr));
	(void)vus_dma_read(d->ctx, addr, buf, sizeof(buf));
}

static int dev_reset(vus_ctx *ctx, void *opaque, enum vus_reset_reason why)
{
	struct fdev *d = opaque;

	d->resets++;
	hook_dma(d, FZ_HOOK_RESET);
	memset(d->regs, 0, sizeof(d->regs));
	fdev_mig_restart(d);
	return why == VUS_RESET_CLIENT && d->io[1] == 0xee ? -EIO : 0;
}

static int dev_quiesce(vus_ctx *ctx, void *opaque)
{
	struct fdev *d = opaque;

	d->quiesce_asked = d->busy;
	return d->busy ? -EBUSY : 0;
}

static void dev_resume(vus_ctx *ctx, void *opaque)
{
	((struct fdev *)opaque)->quiesce_asked = false;
}

/* Touch the first and last byte of a new mapping: it must be mapped. */
static void dev_map(vus_ctx *ctx, void *opaque, const struct vus_dma_region *r)
{
	struct fdev *d = opaque;

	d->maps++;
	hook_dma(d, FZ_HOOK_MAP);
	if (r->vaddr != NULL && (r->prot & VUS_DMA_READ))
		d->regs[0x2fe] = (uint8_t)(((volatile uint8_t *)r->vaddr)[0] +
			((volatile uint8_t *)r->vaddr)[r->size - 1]);
}

static void dev_unmap(vus_ctx *ctx, void *opaque,
		      const struct vus_dma_region *r)
{
	struct fdev *d = opaque;

	d->unmaps++;
	hook_dma(d, FZ_HOOK_UNMAP);
	if (r->vaddr != NULL && (r->prot & VUS_DMA_READ))
		d->regs[0x2fd] = ((volatile uint8_t *)r->vaddr)[r->size - 1];
}

static void irq_state(vus_ctx *ctx, void *opaque, uint32_t index,
		      uint32_t start, uint32_t count)
{
	struct fdev *d = opaque;

	d->regs[0x2fc] = (uint8_t)(index + start + count);
	hook_dma(d, FZ_HOOK_IRQ_STATE);
}

static int doorbells(struct fdev *d)
{
	struct vus_ioeventfd a = { .struct_size = sizeof(a),
		.offset = FZ_REG_DOORBELL, .size = 4 };
	struct vus_ioeventfd b = { .struct_size = sizeof(b),
		.offset = FZ_REG_DOORBELL_DM, .size = 8,
		.datamatch = true, .data = FZ_DOORBELL_DATA };
	int ret;

	d->doorbell[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->doorbell[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->doorbell[0] < 0 || d->doorbell[1] < 0)
		return -errno;
	a.fd = d->doorbell[0];
	b.fd = d->doorbell[1];
	ret = vus_region_add_ioeventfd(d->ctx, 0, &a);
	if (ret == 0)
		ret = vus_region_add_ioeventfd(d->ctx, 0, &b);
	return ret;
}

static int setup_sysbus(struct fdev *d)
{
	static const struct vus_mmap_area areas[] = {
		{ .offset = 0x0000, .size = 0x4000 },
		{ .offset = 0x8000, .size = 0x4000 },
	};
	const uint32_t rw = VUS_REGION_READ | VUS_REGION_WRITE;
	struct vus_region_desc r[5] = {
		{ .size = 4096, .flags = rw, .ops = &regs_ops },
		{ .size = 0x10000, .flags = rw, .ops = &mem_ops,
		  .backing = VUS_BACKING_MEM, .mmap_areas = areas,
		  .nr_mmap_areas = 2 },
		{ .size = 0x10000, .flags = rw, .backing = VUS_BACKING_MEM },
		{ .size = 256, .flags = VUS_REGION_READ, .ops = &ro_ops,
		  .type = 0x80001af4u, .subtype = 7 },
		{ .size = 100, .flags = rw, .backing = VUS_BACKING_MEM },
	};
	int ret = 0;

	for (uint32_t i = 0; i < 5 && ret == 0; i++) {
		r[i].struct_size = sizeof(r[i]);
		ret = vus_region_setup(d->ctx, i, &r[i]);
	}
	if (ret == 0)
		ret = vus_irq_setup(d->ctx, 0, 1, VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED);
	if (ret == 0)
		ret = vus_irq_setup(d->ctx, 1, 4, 0);
	if (ret == 0)
		ret = vus_irq_setup(d->ctx, 2, 0, 0);
	if (ret == 0)
		ret = vus_irq_setup(d->ctx, 3, 2, VUS_IRQ_MASKABLE | VUS_IRQ_NORESIZE);
	if (ret == 0)
		ret = vus_irq_set_state_cb(d->ctx, irq_state, d);
	return ret;
}

static int cfg_read(vus_ctx *ctx, void *opaque, uint32_t off, void *buf,
		    size_t len)
{
	struct fdev *d = opaque;

	/* Leave a vendor body prefilled; device bytes come from cfg[]. */
	if (d->cfg[off] != 0)
		memcpy(buf, d->cfg + off, len);
	return 0;
}

static int cfg_write(vus_ctx *ctx, void *opaque, uint32_t off, const void *buf,
		     size_t len)
{
	struct fdev *d = opaque;

	memcpy(d->cfg + off, buf, len);
	return 0;
}

static void cfg_changed(vus_ctx *ctx, void *opaque, uint32_t off, uint32_t len)
{
	struct fdev *d = opaque;

	/* Command register changes re-evaluate the INTx line. */
	if (off <= 4 && off + len > 4)
		(void)vus_pci_intx(d->ctx, d->regs[0x228] & 0x4);
}

static int pci_caps(struct fdev *d)
{
	static const uint8_t vendor[8] = { 'f', 'u', 'z', 'z', 1, 2, 3, 4 };
	static const uint8_t ext[8] = { 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4 };
	const struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 4, .addr64 = true,
		.per_vector_mask = true };
	/* Not a multiple of 64: the last PBA word has bits past the end. */
	const struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 61, .table_bar = 2, .table_offset = 0,
		.pba_bar = 2, .pba_offset = 0x1000,
	};
	const struct vus_pci_exp_desc exp = { .struct_size = sizeof(exp),
		.type = VUS_PCI_EXP_ENDPOINT };
	int ret = vus_pci_add_cap_pm(d->ctx);

	if (ret >= 0)
		ret = vus_pci_add_cap_msi(d->ctx, &msi);
	if (ret >= 0)
		ret = vus_pci_add_cap_msix(d->ctx, &msix);
	if (ret >= 0)
		ret = vus_pci_add_cap_exp(d->ctx, &exp);
	if (ret >= 0)
		ret = vus_pci_add_cap_vendor(d->ctx, vendor, sizeof(vendor));
	if (ret >= 0)
		ret = vus_pci_add_ext_cap_dsn(d->ctx, 0x0123456789abcdefull);
	if (ret >= 0)
		ret = vus_pci_add_ext_cap(d->ctx, 0x000b, 1, ext, sizeof(ext));
	return ret < 0 ? ret : 0;
}

static int setup_pci(struct fdev *d)
{
	static const struct vus_mmap_area bar2_areas[] = {
		{ .offset = 0x2000, .size = 0xe000 },
	};
	static const uint8_t rom[4096] = { 0x55, 0xaa };
	const struct vus_pci_info info = {
		.struct_size = sizeof(info), .vendor_id = 0x1af4,
		.device_id = 0x10f5, .class_code = 0xff0000,
		.interrupt_pin = 1, .express = true,
	};
	const struct vus_pci_config_ops cops = {
		.struct_size = sizeof(cops), .read = cfg_read,
		.write = cfg_write, .changed = cfg_changed,
	};
	struct vus_region_desc bar0 = { .struct_size = sizeof(bar0),
					.size = 4096, .ops = &regs_ops };
	struct vus_region_desc bar1 = { .struct_size = sizeof(bar1),
					.size = 256, .ops = &io_ops };
	struct vus_region_desc bar2 = {
		.struct_size = sizeof(bar2), .size = 0x10000,
		.backing = VUS_BACKING_MEM, .mmap_areas = bar2_areas,
		.nr_mmap_areas = 1,
	};
	int ret = vus_pci_init(d->ctx, &info);

	if (ret == 0)
		ret = vus_pci_setup_bar(d->ctx, 0, 0, &bar0);
	if (ret == 0)
		ret = vus_pci_setup_bar(d->ctx, 1, VUS_PCI_BAR_IO, &bar1);
	if (ret == 0)
		ret = vus_pci_setup_bar(d->ctx, 2, VUS_PCI_BAR_MEM64 |
					VUS_PCI_BAR_PREFETCH, &bar2);
	if (ret == 0)
		ret = vus_pci_setup_rom(d->ctx, rom, sizeof(rom));
	if (ret == 0)
		ret = pci_caps(d);
	if (ret == 0)
		ret = vus_pci_set_config_ops(d->ctx, &cops, d);
	return ret;
}

static void discard_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

int fdev_create(struct fdev *d, const struct fdev_opts *o)
{
	struct vus_ctx_config cfg = {
		.struct_size = sizeof(cfg), .name = "fuzz", .opaque = d,
		.bus = o->pci ? VUS_BUS_PCI : VUS_BUS_SYSBUS,
		.max_data_xfer_size = o->max_xfer, .max_msg_fds = o->max_fds,
		.max_dma_maps = o->max_dma_maps,
	};
	struct vus_device_ops ops = {
		.struct_size = sizeof(ops), .reset = dev_reset,
		.dma_map = dev_map, .dma_unmap = dev_unmap,
	};
	int ret;

	memset(d, 0, sizeof(*d));
	d->pci = o->pci;
	d->busy = o->busy;
	d->doorbell[0] = d->doorbell[1] = -1;
	if (o->quiesce) {
		ops.quiesce = dev_quiesce;
		ops.resume = dev_resume;
	}
	ret = vus_ctx_create(&cfg, &d->ctx);
	if (ret < 0)
		return ret;
	/* Everything, formatted and thrown away: log paths run too. */
	vus_ctx_set_log(d->ctx, VUS_LOG_DEBUG, discard_log, NULL);
	ret = d->pci ? setup_pci(d) : setup_sysbus(d);
	if (ret == 0)
		ret = fdev_mig_setup(d);
	if (ret == 0)
		ret = doorbells(d);
	if (ret == 0)
		ret = vus_ctx_set_device_ops(d->ctx, &ops, d);
	if (ret == 0)
		ret = vus_ctx_realize(d->ctx);
	if (ret < 0)
		fdev_destroy(d);
	return ret;
}

void fdev_destroy(struct fdev *d)
{
	vus_ctx_destroy(d->ctx);
	d->ctx = NULL;
	for (int i = 0; i < 2; i++) {
		if (d->doorbell[i] >= 0)
			close(d->doorbell[i]);
		d->doorbell[i] = -1;
	}
}
