/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci_config: configuration space emulation. Every byte has an owner (the
 * header, a capability, or the device) and two masks: the bits a client
 * write may change and the bits a client write of 1 clears. A client access
 * is split into naturally aligned 1/2/4-byte pieces that never cross an
 * owner; library-owned pieces are served from the image under the lock
 * (then the owner's write hook runs), device-owned pieces go to the
 * device's config callbacks without the lock held. Read-only bits ignore
 * writes, as hardware does. The type-0 header's rules are set here.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "common.h"
#include "pci_priv.h"

void pci_reg_init(struct pci *p, uint32_t off, unsigned int size,
		  uint32_t value, uint32_t wmask, uint32_t w1c)
{
	for (unsigned int i = 0; i < size; i++) {
		p->cfg[off + i] = (uint8_t)(value >> (8 * i));
		p->wmask[off + i] = (uint8_t)(wmask >> (8 * i));
		p->w1c[off + i] = (uint8_t)(w1c >> (8 * i));
	}
}

int pci_owner_add(struct pci *p, uint16_t start, uint16_t len,
		  enum pci_kind kind, uint16_t id)
{
	unsigned int n = p->nr_owners;

	if (n >= PCI_MAX_OWNERS || !range_ok(start, len, p->size))
		return -ENOSPC;
	p->owners[n] = (struct pci_owner){
		.start = start, .len = len, .kind = (uint8_t)kind, .id = id,
	};
	memset(p->owner + start, (int)n, len);
	p->nr_owners = n + 1;
	return (int)n;
}

/*
 * The header fields that do not depend on BARs or capabilities. Command
 * masks, BARs and the ROM BAR follow at realize (pci_config_finish).
 */
void pci_config_init(struct pci *p)
{
	const struct vus_pci_info *i = &p->info;

	(void)pci_owner_add(p, 0, 0, PCI_KIND_DEVICE, 0);
	(void)pci_owner_add(p, 0, PCI_HDR_END, PCI_KIND_HEADER, 0);
	pci_reg_init(p, PCI_REG_VENDOR, 2, i->vendor_id, 0, 0);
	pci_reg_init(p, PCI_REG_DEVICE, 2, i->device_id, 0, 0);
	/* Error bits are RW1C; Interrupt and Capabilities List are ours. */
	pci_reg_init(p, PCI_REG_STATUS, 2, 0, 0, PCI_STS_W1C);
	pci_reg_init(p, PCI_REG_REVISION, 1, i->revision, 0, 0);
	pci_reg_init(p, PCI_REG_CLASS, 3, i->class_code, 0, 0);
	pci_reg_init(p, PCI_REG_CACHE_LINE, 1, 0, 0xff, 0);
	/* The latency timer does not apply to PCI Express (RO 0). */
	pci_reg_init(p, PCI_REG_LATENCY, 1, 0, i->express ? 0 : 0xff, 0);
	pci_reg_init(p, PCI_REG_SUBSYS_VENDOR, 2, i->subsys_vendor_id, 0, 0);
	pci_reg_init(p, PCI_REG_SUBSYS, 2, i->subsys_id, 0, 0);
	pci_reg_init(p, PCI_REG_INT_LINE, 1, 0, 0xff, 0);
	pci_reg_init(p, PCI_REG_INT_PIN, 1, i->interrupt_pin, 0, 0);
	p->cap_free = PCI_HDR_END;
	p->ext_free = PCI_EXT_START;
	/* No extended capability reads as a zero header, whatever the device. */
	if (i->express)
		(void)pci_owner_add(p, PCI_EXT_START, 4, PCI_KIND_EXT, 0);
}

/* Type bits read-only; address bits above the size writable. */
static void bar_init(struct pci *p, const struct pci_bar *b)
{
	uint32_t off = PCI_REG_BAR0 + 4 * b->index;
	uint64_t addr = ~(b->size - 1);
	uint32_t type = 0;

	if (b->flags & VUS_PCI_BAR_IO) {
		pci_reg_init(p, off, 4, PCI_BAR_IO, (uint32_t)addr & ~3u, 0);
		return;
	}
	if (b->flags & VUS_PCI_BAR_PREFETCH)
		type |= PCI_BAR_PREFETCH;
	if (b->flags & VUS_PCI_BAR_MEM64)
		type |= PCI_BAR_MEM64;
	pci_reg_init(p, off, 4, type, (uint32_t)addr & ~0xfu, 0);
	if (b->flags & VUS_PCI_BAR_MEM64)
		pci_reg_init(p, off + 4, 4, 0, (uint32_t)(addr >> 32), 0);
}

void pci_config_finish(struct pci *p)
{
	uint32_t cmd = PCI_CMD_MASTER | PCI_CMD_PARITY | PCI_CMD_SERR |
		       PCI_CMD_INTX_DISABLE;

	for (unsigned int b = 0; b < PCI_NR_BARS; b++) {
		const struct pci_bar *bar = &p->bars[b];

		if (bar->size == 0)
			continue;
		/* Decode enables exist only for resources the function has. */
		cmd |= bar->flags & VUS_PCI_BAR_IO ? PCI_CMD_IO : PCI_CMD_MEM;
		bar_init(p, bar);
	}
	/* Without a ROM the ROM BAR reads 0 even after a sizing write. */
	if (p->rom_size != 0) {
		cmd |= PCI_CMD_MEM;
		pci_reg_init(p, PCI_REG_ROM, 4, 0,
			     ~(uint32_t)(p->rom_size - 1) | PCI_ROM_ENABLE, 0);
	}
	pci_reg_init(p, PCI_REG_COMMAND, 2, 0, cmd, 0);
	memcpy(p->reset, p->cfg, p->size);
}

void pci_config_reset(struct pci *p)
{
	memcpy(p->cfg, p->reset, p->size);
}

/* Header: Command.INTx-Disable gates the INTx output. Lock held. */
static void header_written(struct pci *p, uint32_t off, uint32_t len,
			   const uint8_t *old)
{
	(void)old;
	if (off < PCI_REG_COMMAND + 2 && off + len > PCI_REG_COMMAND)
		(void)pci_intx_update(p);
}

typedef void pci_written_fn(struct pci *p, uint32_t off, uint32_t len,
			    const uint8_t *old);

/* What else a write to an owner's bytes does, beyond the masks. */
static pci_written_fn *const written_hooks[PCI_KIND_COUNT] = {
	[PCI_KIND_HEADER] = header_written,
	[PCI_KIND_PM] = pci_pm_written,
	[PCI_KIND_MSI] = pci_msi_written,
	[PCI_KIND_MSIX] = pci_msix_written,
};

static bool same_owner(const struct pci *p, uint32_t off, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p->owner[off + i] != p->owner[off])
			return false;
	return true;
}

/* Largest naturally aligned piece at @off within @len and one owner. */
static size_t piece_len(const struct pci *p, uint32_t off, size_t len)
{
	for (size_t n = 4; n > 1; n /= 2)
		if (off % n == 0 && n <= len && same_owner(p, off, n))
			return n;
	return 1;
}

static int piece_read(struct pci *p, uint32_t off, uint8_t *buf, size_t n)
{
	const struct pci_owner *o = &p->owners[p->owner[off]];

	pthread_mutex_lock(&p->lock);
	memcpy(buf, p->cfg + off, n);
	pthread_mutex_unlock(&p->lock);
	/* The device sees our image (zeros, or a vendor body) prefilled. */
	if (o->kind == PCI_KIND_DEVICE && p->cfg_ops.read != NULL)
		return p->cfg_ops.read(p->ctx, p->cfg_opaque, off, buf, n);
	return 0;
}

static int piece_write(struct pci *p, uint32_t off, const uint8_t *val,
		       size_t n)
{
	const struct pci_owner *o = &p->owners[p->owner[off]];
	pci_written_fn *hook = written_hooks[o->kind];
	uint8_t old[4];
	bool changed;

	if (o->kind == PCI_KIND_DEVICE)
		return p->cfg_ops.write ? p->cfg_ops.write(p->ctx, p->cfg_opaque,
							   off, val, n) : 0;
	pthread_mutex_lock(&p->lock);
	memcpy(old, p->cfg + off, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t w = p->wmask[off + i];
		uint8_t v = (uint8_t)((old[i] & ~w) | (val[i] & w));

		p->cfg[off + i] = (uint8_t)(v & ~(val[i] & p->w1c[off + i]));
	}
	if (hook != NULL)
		hook(p, off, (uint32_t)n, old);
	changed = memcmp(old, p->cfg + off, n) != 0;
	pthread_mutex_unlock(&p->lock);
	if (changed && p->cfg_ops.changed != NULL)
		p->cfg_ops.changed(p->ctx, p->cfg_opaque, off, (uint32_t)n);
	return 0;
}

int pci_config_access(struct pci *p, uint64_t off, void *buf, size_t len,
		      bool is_write)
{
	uint8_t *b = buf;

	if (!range_ok(off, len, p->size))
		return -EINVAL;
	while (len > 0) {
		uint32_t o = (uint32_t)off;
		size_t n = piece_len(p, o, len);
		int ret = is_write ? piece_write(p, o, b, n)
				   : piece_read(p, o, b, n);

		if (ret < 0)
			return ret;
		off += n;
		b += n;
		len -= n;
	}
	return 0;
}

static int config_region_read(vus_ctx *ctx, void *opaque, uint64_t off,
			      void *buf, size_t len)
{
	return pci_config_access(opaque, off, buf, len, false);
}

static int config_region_write(vus_ctx *ctx, void *opaque, uint64_t off,
			       const void *buf, size_t len)
{
	/* Pieces are only read from: the cast drops const for the loop. */
	return pci_config_access(opaque, off, (void *)buf, len, true);
}

const struct vus_region_ops pci_config_region_ops = {
	.struct_size = sizeof(pci_config_region_ops),
	.read = config_region_read,
	.write = config_region_write,
};
