/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci_caps: the capability chain builder. Conventional capabilities are
 * appended from 0x40 on dword boundaries and linked through their next
 * pointers from the Capabilities Pointer (0x34); extended capabilities
 * from 0x100, linked through bits 31:20 of their headers. Each builder sets
 * the power-on value and the write masks of every register it lays out;
 * the few rules masks cannot express (PM power states, MSI enable count)
 * are the write hooks at the end of this file.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "pci_priv.h"

/* Claim, lay out and link a conventional capability of @len bytes. */
static int cap_alloc(struct pci *p, uint8_t id, unsigned int len,
		     enum pci_kind kind)
{
	unsigned int size = (len + 3) & ~3u;
	uint16_t off = p->cap_free;
	int ret;

	if (size > PCI_CONV_SIZE - off)
		return -ENOSPC;
	ret = pci_owner_add(p, off, (uint16_t)size, kind, id);
	if (ret < 0)
		return ret;
	pci_reg_init(p, off, 2, id, 0, 0); /* id, next = 0 */
	if (p->cap_last != 0) {
		p->cfg[p->cap_last + 1] = (uint8_t)off;
	} else {
		p->cfg[PCI_REG_CAP_PTR] = (uint8_t)off;
		pci_put16(p, PCI_REG_STATUS,
			  pci_get16(p, PCI_REG_STATUS) | PCI_STS_CAP_LIST);
	}
	p->cap_last = off;
	p->cap_free = (uint16_t)(off + size);
	return off;
}

/* Claim, lay out and link an extended capability of @len bytes. */
static int ext_alloc(struct pci *p, uint16_t id, uint8_t version,
		     unsigned int len)
{
	uint16_t off = p->ext_free;
	int ret;

	if (!p->info.express)
		return -EINVAL;
	if (len > PCI_EXP_SIZE - off)
		return -ENOSPC;
	ret = pci_owner_add(p, off, (uint16_t)len, PCI_KIND_EXT, id);
	if (ret < 0)
		return ret;
	pci_reg_init(p, off, 4, (uint32_t)id | (uint32_t)version << 16, 0, 0);
	if (p->ext_last != 0)
		pci_put32(p, p->ext_last, (pci_get32(p, p->ext_last) & 0xfffffu) |
			  (uint32_t)off << 20);
	p->ext_last = off;
	p->ext_free = (uint16_t)(off + len);
	return off;
}

static bool ext_present(const struct pci *p, uint16_t id)
{
	/* Extended owners carry their ID (0: the empty 0x100 header). */
	for (unsigned int i = 0; i < p->nr_owners; i++)
		if (p->owners[i].kind == PCI_KIND_EXT && p->owners[i].id == id)
			return true;
	return false;
}

VUS_EXPORT int vus_pci_add_cap_pm(vus_ctx *ctx)
{
	struct pci *p;
	int off;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	if (p->pm_cap != 0)
		return -EEXIST;
	off = cap_alloc(p, PCI_CAPID_PM, PCI_PM_LEN, PCI_KIND_PM);
	if (off < 0)
		return off;
	/* Version 3; no PME, no D1/D2, no auxiliary current. */
	pci_reg_init(p, off + PCI_PM_PMC, 2, 0x0003, 0, 0);
	/* D0/D3hot RW; No_Soft_Reset: D3hot->D0 keeps our state. */
	pci_reg_init(p, off + PCI_PM_PMCSR, 2, PCI_PM_NO_SOFT_RESET,
		     PCI_PM_STATE_MASK, 0);
	p->pm_cap = (uint16_t)off;
	return off;
}

static int msi_check(const struct pci *p, const struct vus_pci_msi_desc *d)
{
	if (d == NULL)
		return -EINVAL;
	if (!is_pow2_u64(d->nr_vectors) || d->nr_vectors > PCI_MSI_MAX_VECTORS)
		return -EINVAL;
	if (p->msi.cap != 0)
		return -EEXIST;
	return 0;
}

static void msi_layout(struct pci *p, uint16_t off,
		       const struct vus_pci_msi_desc *d)
{
	unsigned int mmc = (unsigned int)__builtin_ctz(d->nr_vectors);
	uint16_t data = (uint16_t)(off + (d->addr64 ? 12 : 8));
	uint32_t ctrl = mmc << PCI_MSI_CTRL_MMC_SHIFT;

	if (d->addr64)
		ctrl |= PCI_MSI_CTRL_64BIT;
	if (d->per_vector_mask)
		ctrl |= PCI_MSI_CTRL_PVM;
	pci_reg_init(p, off + PCI_MSI_CTRL, 2, ctrl,
		     PCI_MSI_CTRL_ENABLE | PCI_MSI_CTRL_MME_MASK, 0);
	/* The address is dword aligned: bits 1:0 read 0. */
	pci_reg_init(p, off + PCI_MSI_ADDR, 4, 0, 0xfffffffcu, 0);
	if (d->addr64)
		pci_reg_init(p, off + PCI_MSI_ADDR + 4, 4, 0, 0xffffffffu, 0);
	pci_reg_init(p, data, 2, 0, 0xffff, 0);
	p->msi.nr = d->nr_vectors;
	p->msi.addr64 = d->addr64;
	p->msi.pvm = d->per_vector_mask;
	if (!d->per_vector_mask)
		return;
	p->msi.mask_reg = (uint16_t)(data + 4);
	p->msi.pend_reg = (uint16_t)(data + 8);
	/* Mask bits exist for implemented vectors; pending bits are ours. */
	pci_reg_init(p, p->msi.mask_reg, 4, 0,
		     d->nr_vectors == 32 ? 0xffffffffu
					 : (1u << d->nr_vectors) - 1, 0);
	pci_reg_init(p, p->msi.pend_reg, 4, 0, 0, 0);
}

VUS_EXPORT int vus_pci_add_cap_msi(vus_ctx *ctx,
				   const struct vus_pci_msi_desc *desc)
{
	struct vus_pci_msi_desc dc;
	const struct vus_pci_msi_desc *d = &dc;
	struct pci *p;
	unsigned int len;
	int off;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	/* An older, smaller struct: what it lacks is zero. */
	if (copy_sized(&dc, sizeof(dc), desc) < 0)
		return -EINVAL;
	off = msi_check(p, d);
	if (off < 0)
		return off;
	/* 10 bytes, +4 for a 64-bit address, +10 for mask and pending. */
	len = 10 + (d->addr64 ? 4 : 0) + (d->per_vector_mask ? 10 : 0);
	off = cap_alloc(p, PCI_CAPID_MSI, len, PCI_KIND_MSI);
	if (off < 0)
		return off;
	msi_layout(p, (uint16_t)off, d);
	p->msi.cap = (uint16_t)off;
	return off;
}

static bool mem_bar(const struct pci *p, unsigned int bar)
{
	return bar < PCI_NR_BARS && p->bars[bar].size != 0 &&
	       !(p->bars[bar].flags & VUS_PCI_BAR_IO);
}

static int msix_check(const struct pci *p, const struct vus_pci_msix_desc *d)
{
	uint64_t tlen, plen;

	if (d == NULL || d->nr_vectors == 0 ||
	    d->nr_vectors > PCI_MSIX_MAX_VECTORS)
		return -EINVAL;
	if (d->table_offset % 8 || d->pba_offset % 8)
		return -EINVAL;
	if (!mem_bar(p, d->table_bar) || !mem_bar(p, d->pba_bar))
		return -EINVAL;
	tlen = (uint64_t)d->nr_vectors * PCI_MSIX_ENTRY_SIZE;
	plen = ((uint64_t)d->nr_vectors + 63) / 64 * 8;
	if (!range_ok(d->table_offset, tlen, p->bars[d->table_bar].size) ||
	    !range_ok(d->pba_offset, plen, p->bars[d->pba_bar].size))
		return -EINVAL;
	if (d->table_bar == d->pba_bar &&
	    d->table_offset < d->pba_offset + plen &&
	    d->pba_offset < d->table_offset + tlen)
		return -EINVAL;
	if (p->msix.cap != 0)
		return -EEXIST;
	return pci_msix_areas_check(p, d);
}

VUS_EXPORT int vus_pci_add_cap_msix(vus_ctx *ctx,
				    const struct vus_pci_msix_desc *desc)
{
	struct vus_pci_msix_desc dc;
	const struct vus_pci_msix_desc *d = &dc;
	struct pci *p;
	int off, ret;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	if (copy_sized(&dc, sizeof(dc), desc) < 0)
		return -EINVAL;
	ret = msix_check(p, d);
	if (ret < 0)
		return ret;
	if (PCI_MSIX_LEN > PCI_CONV_SIZE - p->cap_free)
		return -ENOSPC;
	ret = pci_msix_alloc(p, d->nr_vectors);
	if (ret < 0)
		return ret;
	off = cap_alloc(p, PCI_CAPID_MSIX, PCI_MSIX_LEN, PCI_KIND_MSIX);
	if (off < 0) {
		pci_msix_free(p);
		return off;
	}
	pci_reg_init(p, off + PCI_MSIX_CTRL, 2, d->nr_vectors - 1,
		     PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_MASKALL, 0);
	pci_reg_init(p, off + PCI_MSIX_TABLE, 4,
		     d->table_offset | d->table_bar, 0, 0);
	pci_reg_init(p, off + PCI_MSIX_PBA, 4, d->pba_offset | d->pba_bar, 0, 0);
	p->msix.table_bar = d->table_bar;
	p->msix.table_off = d->table_offset;
	p->msix.pba_bar = d->pba_bar;
	p->msix.pba_off = d->pba_offset;
	p->msix.cap = (uint16_t)off;
	return off;
}

struct exp_params {
	uint32_t type, mps, speed, width;
};

static int exp_check(const struct pci *p, const struct vus_pci_exp_desc *d,
		     struct exp_params *e)
{
	if (d == NULL || !p->info.express)
		return -EINVAL;
	if (d->type != VUS_PCI_EXP_ENDPOINT &&
	    d->type != VUS_PCI_EXP_LEGACY_ENDPOINT &&
	    d->type != VUS_PCI_EXP_RC_ENDPOINT)
		return -EINVAL;
	e->type = d->type;
	e->mps = d->max_payload ? d->max_payload : 128;
	if (!is_pow2_u64(e->mps) || e->mps < 128 || e->mps > 4096)
		return -EINVAL;
	e->mps = (uint32_t)__builtin_ctz(e->mps) - 7; /* 128 bytes: 0 */
	e->speed = d->link_speed ? d->link_speed : 1;
	if (e->speed > 5)
		return -EINVAL;
	e->width = d->link_width ? d->link_width : 1;
	if (!is_pow2_u64(e->width) || e->width > 32)
		return -EINVAL;
	if (p->exp_cap != 0)
		return -EEXIST;
	return 0;
}

/* Link registers (an RC-integrated endpoint has no link: all zero). */
static void exp_link(struct pci *p, uint16_t off, const struct exp_params *e)
{
	uint32_t link = e->speed | e->width << 4;

	pci_reg_init(p, off + PCI_EXP_LNKCAP, 4, link, 0, 0);
	/* RCB, Common Clock Configuration, Extended Synch; no ASPM. */
	pci_reg_init(p, off + PCI_EXP_LNKCTL, 2, 0, 0x00c8, 0);
	pci_reg_init(p, off + PCI_EXP_LNKSTA, 2, link, 0, 0);
	/* Supported Link Speeds vector: every speed up to the maximum. */
	pci_reg_init(p, off + PCI_EXP_LNKCAP2, 4, ((1u << e->speed) - 1) << 1,
		     0, 0);
	pci_reg_init(p, off + PCI_EXP_LNKCTL2, 2, e->speed, 0, 0);
}

VUS_EXPORT int vus_pci_add_cap_exp(vus_ctx *ctx,
				   const struct vus_pci_exp_desc *desc)
{
	struct vus_pci_exp_desc d;
	struct exp_params e;
	struct pci *p;
	int off;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	if (copy_sized(&d, sizeof(d), desc) < 0)
		return -EINVAL;
	off = exp_check(p, &d, &e);
	if (off < 0)
		return off;
	off = cap_alloc(p, PCI_CAPID_EXP, PCI_EXP_LEN, PCI_KIND_EXP);
	if (off < 0)
		return off;
	/* Capability version 2 and the device/port type. */
	pci_reg_init(p, off + PCI_EXP_FLAGS, 2, 2 | e.type << 4, 0, 0);
	/* Max Payload Size Supported; Role-Based Error Reporting. */
	pci_reg_init(p, off + PCI_EXP_DEVCAP, 4, e.mps | 1u << 15, 0, 0);
	/*
	 * Error reporting enables, Relaxed Ordering, Max Payload Size, No
	 * Snoop, Max Read Request Size are RW; power-on Relaxed Ordering and
	 * No Snoop on, 512-byte read requests.
	 */
	pci_reg_init(p, off + PCI_EXP_DEVCTL, 2, 0x2810, 0x78ff, 0);
	/* Error detected bits are RW1C. */
	pci_reg_init(p, off + PCI_EXP_DEVSTA, 2, 0, 0, 0x000f);
	if (e.type != VUS_PCI_EXP_RC_ENDPOINT)
		exp_link(p, (uint16_t)off, &e);
	p->exp_cap = (uint16_t)off;
	return off;
}

VUS_EXPORT int vus_pci_add_cap_vendor(vus_ctx *ctx, const void *body,
				      size_t len)
{
	struct pci *p;
	int off, ret;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	/* The length byte counts the 3-byte header too. */
	if ((body == NULL && len != 0) || len > 0xff - 3)
		return -EINVAL;
	if (len + 3 > PCI_CONV_SIZE - p->cap_free)
		return -ENOSPC;
	if (p->nr_owners + 2 > PCI_MAX_OWNERS)
		return -ENOSPC;
	off = cap_alloc(p, PCI_CAPID_VNDR, (unsigned int)len + 3,
			PCI_KIND_VENDOR);
	if (off < 0)
		return off;
	pci_reg_init(p, off + 2, 1, (uint32_t)len + 3, 0, 0);
	if (len == 0)
		return off;
	/* The body belongs to the device's config callbacks, if any. */
	memcpy(p->cfg + off + 3, body, len);
	ret = pci_owner_add(p, (uint16_t)(off + 3), (uint16_t)len,
			    PCI_KIND_DEVICE, PCI_CAPID_VNDR);
	return ret < 0 ? ret : off;
}

VUS_EXPORT int vus_pci_add_ext_cap_dsn(vus_ctx *ctx, uint64_t serial)
{
	struct pci *p;
	int off;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	if (!p->info.express)
		return -EINVAL;
	if (ext_present(p, PCI_EXTID_DSN))
		return -EEXIST;
	off = ext_alloc(p, PCI_EXTID_DSN, 1, PCI_DSN_LEN);
	if (off < 0)
		return off;
	pci_reg_init(p, off + 4, 4, (uint32_t)serial, 0, 0);
	pci_reg_init(p, off + 8, 4, (uint32_t)(serial >> 32), 0, 0);
	return off;
}

VUS_EXPORT int vus_pci_add_ext_cap(vus_ctx *ctx, uint16_t id, uint8_t version,
				   const void *body, size_t len)
{
	struct pci *p;
	int off;

	off = pci_get_setup(ctx, &p);
	if (off < 0)
		return off;
	if (!p->info.express || id == 0 || id == 0xffff || version > 0xf)
		return -EINVAL;
	if (len % 4 || (body == NULL && len != 0) || len > PCI_EXP_SIZE)
		return -EINVAL;
	/* Vendor-specific ones may repeat; other IDs appear once. */
	if (id != PCI_EXTID_VSEC && id != PCI_EXTID_DVSEC && ext_present(p, id))
		return -EEXIST;
	off = ext_alloc(p, id, version, (unsigned int)len + 4);
	if (off < 0)
		return off;
	if (len != 0)
		memcpy(p->cfg + off + 4, body, len);
	return off;
}

/* Write rules masks cannot express. Lock held. */

static bool touches(uint32_t off, uint32_t len, uint32_t reg)
{
	return off <= reg && reg < off + len;
}

/* D1 and D2 are not supported: such a write leaves the state alone. */
void pci_pm_written(struct pci *p, uint32_t off, uint32_t len,
		    const uint8_t *old)
{
	uint32_t reg = p->pm_cap + PCI_PM_PMCSR;
	uint8_t state = p->cfg[reg] & PCI_PM_STATE_MASK;

	if (!touches(off, len, reg) || state == 0 || state == PCI_PM_D3HOT)
		return;
	p->cfg[reg] = (uint8_t)((p->cfg[reg] & ~PCI_PM_STATE_MASK) |
				(old[reg - off] & PCI_PM_STATE_MASK));
}

/* Multiple Message Enable never exceeds Multiple Message Capable. */
void pci_msi_written(struct pci *p, uint32_t off, uint32_t len,
		     const uint8_t *old)
{
	uint32_t reg = p->msi.cap + PCI_MSI_CTRL;
	uint16_t ctrl = pci_get16(p, reg);
	uint16_t mmc = (ctrl >> PCI_MSI_CTRL_MMC_SHIFT) & 7;
	uint16_t mme = (ctrl >> PCI_MSI_CTRL_MME_SHIFT) & 7;

	(void)old;
	if (touches(off, len, reg) && mme > mmc)
		pci_put16(p, reg, (uint16_t)((ctrl & ~PCI_MSI_CTRL_MME_MASK) |
					     mmc << PCI_MSI_CTRL_MME_SHIFT));
	/* Enabling, raising the count or unmasking may release vectors. */
	pci_msi_flush(p);
	/* MSI Enable takes the pin away, or gives it back. */
	(void)pci_intx_update(p);
}
