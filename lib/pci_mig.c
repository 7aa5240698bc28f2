/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci_mig: the PCI adapter's emulated state as a migration section, so
 * the destination comes up with the source's config space (BAR addresses,
 * command register, interrupt line, capability state), MSI-X table and
 * pending bits, INTx level and the sources vus_pci_irq_raise() holds up.
 * QEMU's own restore writes back little more than the command register, so
 * this is what makes a PCI device migrate.
 *
 * Section "pci" version 2 (little-endian):
 *   u32 config size | config bytes | u32 MSI-X vectors | table (16 each) |
 *   PBA (u64 per 64 vectors) | u8 table written | u8 INTx level |
 *   u32 sources | raised sources (u64 per 64)
 *
 * Identity and layout must match: a check refuses a stream whose
 * read-only config bits differ from ours (another device, or another
 * capability layout), so loading can only set what a guest could set.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "pci_priv.h"
#include "vus/migration.h"

#define PCI_MIG_VERSION 2u

static uint32_t pba_bytes(uint32_t nr)
{
	return (nr + 63) / 64 * 8;
}

/* Bits the library changes itself although guests cannot write them. */
static void dynamic_mask(const struct pci *p, uint8_t *dyn)
{
	memset(dyn, 0, p->size);
	dyn[PCI_REG_STATUS] |= PCI_STS_INTX & 0xff;
	if (p->msi.cap && p->msi.pvm)
		memset(dyn + p->msi.pend_reg, 0xff, 4);
}

static int pci_save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct pci *p = opaque;
	int ret;

	pthread_mutex_lock(&p->lock);
	ret = vus_mig_put_u32(out, p->size);
	ret = ret ? ret : vus_mig_put(out, p->cfg, p->size);
	ret = ret ? ret : vus_mig_put_u32(out, p->msix.cap ? p->msix.nr : 0);
	if (ret == 0 && p->msix.cap) {
		ret = vus_mig_put(out, p->msix.table, p->msix.nr * 16u);
		for (uint32_t w = 0; ret == 0 && w < pba_bytes(p->msix.nr) / 8; w++)
			ret = vus_mig_put_u64(out, p->msix.pba[w]);
		ret = ret ? ret : vus_mig_put_u8(out, p->msix.table_written);
	}
	ret = ret ? ret : vus_mig_put_u8(out, p->intx_level);
	ret = ret ? ret : vus_mig_put_u32(out, pci_irq_sources(p));
	for (uint32_t w = 0; ret == 0 && w < pba_bytes(pci_irq_sources(p)) / 8; w++)
		ret = vus_mig_put_u64(out, p->src[w]);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/*
 * A bit array of @nr bits with no bit set past the last one: the model
 * never sets one, and pci_msix_flush() indexes the table by the PBA's bits,
 * so such a bit would read past the end of the MSI-X table.
 */
static int bits_check(vus_mig_in *in, uint32_t nr)
{
	uint64_t w = 0;

	for (uint32_t i = 0; i < pba_bytes(nr) / 8; i++)
		if (vus_mig_get_u64(in, &w) < 0)
			return -EBADMSG;
	/* The last word holds bits from (words - 1) * 64 up. */
	if (nr % 64 && (w >> (nr % 64)) != 0)
		return -EBADMSG;
	return 0;
}

/* MSI-X table and PBA, table-written flag, INTx level and sources. */
static int tail_check(struct pci *p, vus_mig_in *in, uint32_t nr)
{
	uint8_t entry[16], b;
	uint32_t src;

	for (uint32_t i = 0; i < nr; i++)
		if (vus_mig_get(in, entry, sizeof(entry)) < 0)
			return -EBADMSG;
	if (nr && (bits_check(in, nr) < 0 || vus_mig_get_u8(in, &b) < 0))
		return -EBADMSG;
	if (vus_mig_get_u8(in, &b) < 0 || vus_mig_get_u32(in, &src) < 0 ||
	    src != pci_irq_sources(p) || bits_check(in, src) < 0)
		return -EBADMSG;
	return vus_mig_remaining(in) == 0 ? 0 : -EBADMSG;
}

/* The incoming config image differs from ours only where it may. */
static bool layout_matches(struct pci *p, const uint8_t *cfg)
{
	uint8_t dyn[PCI_EXP_SIZE];

	dynamic_mask(p, dyn);
	for (uint32_t i = 0; i < p->size; i++) {
		uint8_t may = p->wmask[i] | p->w1c[i] | dyn[i];

		if ((cfg[i] & ~may) != (p->reset[i] & ~may))
			return false;
	}
	return true;
}

static int pci_check(vus_ctx *ctx, void *opaque, vus_mig_in *in,
		     uint32_t version)
{
	struct pci *p = opaque;
	uint8_t cfg[PCI_EXP_SIZE];
	uint32_t size, nr;

	if (version != PCI_MIG_VERSION)
		return -EPROTONOSUPPORT;
	if (vus_mig_get_u32(in, &size) < 0 || size != p->size ||
	    vus_mig_get(in, cfg, size) < 0 || !layout_matches(p, cfg))
		return -EBADMSG;
	if (vus_mig_get_u32(in, &nr) < 0 || nr != (p->msix.cap ? p->msix.nr : 0))
		return -EBADMSG;
	return tail_check(p, in, nr);
}

static int pci_load(vus_ctx *ctx, void *opaque, vus_mig_in *in,
		    uint32_t version)
{
	struct pci *p = opaque;
	uint32_t size, nr;
	uint8_t flag = 0, level = 0;
	int ret;

	(void)version;
	pthread_mutex_lock(&p->lock);
	ret = vus_mig_get_u32(in, &size);
	ret = ret ? ret : vus_mig_get(in, p->cfg, size);
	ret = ret ? ret : vus_mig_get_u32(in, &nr);
	if (ret == 0 && nr) {
		ret = vus_mig_get(in, p->msix.table, nr * 16u);
		for (uint32_t w = 0; ret == 0 && w < pba_bytes(nr) / 8; w++)
			ret = vus_mig_get_u64(in, &p->msix.pba[w]);
		ret = ret ? ret : vus_mig_get_u8(in, &flag);
		p->msix.table_written = flag != 0;
	}
	ret = ret ? ret : vus_mig_get_u8(in, &level);
	ret = ret ? ret : vus_mig_get_u32(in, &nr);
	p->nr_src_up = 0;
	for (uint32_t w = 0; ret == 0 && w < pba_bytes(nr) / 8; w++) {
		ret = vus_mig_get_u64(in, &p->src[w]);
		p->nr_src_up += (uint32_t)__builtin_popcountll(p->src[w]);
	}
	if (ret == 0) {
		p->intx_level = level != 0;
		(void)pci_intx_update(p);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static const struct vus_mig_section_ops pci_mig_ops = {
	.struct_size = sizeof(pci_mig_ops), .save = pci_save,
	.check = pci_check, .load = pci_load,
};

const struct bus_mig_section pci_mig_section = {
	.name = "pci", .version = PCI_MIG_VERSION, .ops = &pci_mig_ops,
};

int pci_identity(void *bus, char *buf, size_t len)
{
	const struct pci *p = bus;
	int n = snprintf(buf, len, "pci:%04x:%04x:%04x:%04x:%02x",
			 p->info.vendor_id, p->info.device_id,
			 p->info.subsys_vendor_id, p->info.subsys_id,
			 p->info.revision);

	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}
