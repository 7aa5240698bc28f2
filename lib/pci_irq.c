/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci_irq: INTx, MSI and MSI-X routed onto interrupt indexes 0, 1 and 2.
 * Config space decides what may fire (INTx Disable, MSI/MSI-X Enable,
 * Bus Master Enable for messages, enabled vector count, function and
 * vector masks); what is held back by
 * a mask is kept pending (MSI pending bits, the MSI-X PBA) and released
 * when a config or table write unmasks it. The irq table then delivers to
 * the client's eventfd or keeps the vector pending while nothing is bound.
 * All state here is guarded by pci->lock; the irq table has its own lock,
 * always taken after ours.
 */
#include <errno.h>
#include <pthread.h>

#include "common.h"
#include "irq_table.h"
#include "pci_priv.h"

int pci_irq_declare(struct pci *p)
{
	/* Counts and flags per index: INTx, MSI, MSI-X, ERR, REQ. */
	const struct {
		uint32_t count;
		uint32_t flags;
	} idx[] = {
		{ p->info.interrupt_pin ? 1 : 0,
		  VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED },
		{ p->msi.cap ? p->msi.nr : 0, VUS_IRQ_NORESIZE },
		{ p->msix.cap ? p->msix.nr : 0, 0 },
		{ 0, 0 },
		{ 0, 0 },
	};

	for (uint32_t i = 0; i < ARRAY_SIZE(idx); i++) {
		int ret = irq_add(p->irqs, i, idx[i].count, idx[i].flags);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool msi_on(const struct pci *p);
static bool msix_on(const struct pci *p);

int pci_intx_update(struct pci *p)
{
	uint16_t sts = pci_get16(p, PCI_REG_STATUS) & ~PCI_STS_INTX;
	/* A function sending messages does not use its pin at all. */
	bool pin = p->intx_level && !msi_on(p) && !msix_on(p);
	bool out = pin &&
		   !(pci_get16(p, PCI_REG_COMMAND) & PCI_CMD_INTX_DISABLE);
	int ret;

	if (pin)
		sts |= PCI_STS_INTX;
	pci_put16(p, PCI_REG_STATUS, sts);
	if (p->info.interrupt_pin == 0 || out == p->intx_out)
		return 0;
	ret = irq_set_level(p->irqs, VUS_PCI_IRQ_INTX, 0, out);
	/* Before realize the index does not exist yet: retry later. */
	if (ret >= 0)
		p->intx_out = out;
	return ret;
}

VUS_EXPORT int vus_pci_intx(vus_ctx *ctx, bool level)
{
	struct pci *p;
	int ret;

	ret = pci_get(ctx, &p);
	if (ret < 0)
		return ret;
	if (p->info.interrupt_pin == 0)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->intx_level = level;
	ret = pci_intx_update(p);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* Vectors the client enabled: 1 << Multiple Message Enable. 0 if off. */
static uint32_t msi_enabled(const struct pci *p)
{
	uint16_t ctrl;

	if (p->msi.cap == 0)
		return 0;
	ctrl = pci_get16(p, p->msi.cap + PCI_MSI_CTRL);
	if (!(ctrl & PCI_MSI_CTRL_ENABLE))
		return 0;
	return MIN(1u << ((ctrl & PCI_MSI_CTRL_MME_MASK) >>
			  PCI_MSI_CTRL_MME_SHIFT), p->msi.nr);
}

void pci_msi_flush(struct pci *p)
{
	uint32_t n = msi_enabled(p);
	uint32_t pend, mask;

	if (!p->msi.pvm || n == 0)
		return;
	pend = pci_get32(p, p->msi.pend_reg);
	mask = pci_get32(p, p->msi.mask_reg);
	for (uint32_t v = 0; v < n; v++) {
		if (!(pend & (1u << v)) || (mask & (1u << v)))
			continue;
		pend &= ~(1u << v);
		(void)irq_trigger(p->irqs, VUS_PCI_IRQ_MSI, v);
	}
	pci_put32(p, p->msi.pend_reg, pend);
}

/* An MSI is a memory write: no Bus Master Enable, no message. */
static bool bus_master(const struct pci *p)
{
	return pci_get16(p, PCI_REG_COMMAND) & PCI_CMD_MASTER;
}

static int msi_raise(struct pci *p, uint32_t v)
{
	if (v >= msi_enabled(p) || !bus_master(p))
		return 0;
	if (p->msi.pvm && (pci_get32(p, p->msi.mask_reg) & (1u << v))) {
		pci_put32(p, p->msi.pend_reg,
			  pci_get32(p, p->msi.pend_reg) | 1u << v);
		return 0;
	}
	return irq_trigger(p->irqs, VUS_PCI_IRQ_MSI, v);
}

VUS_EXPORT int vus_pci_msi(vus_ctx *ctx, uint32_t vector)
{
	struct pci *p;
	int ret;

	ret = pci_get(ctx, &p);
	if (ret < 0)
		return ret;
	if (p->msi.cap == 0 || vector >= p->msi.nr)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	ret = msi_raise(p, vector);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static bool msi_on(const struct pci *p)
{
	return msi_enabled(p) != 0;
}

static uint16_t msix_ctrl(const struct pci *p)
{
	return pci_get16(p, p->msix.cap + PCI_MSIX_CTRL);
}

static bool msix_on(const struct pci *p)
{
	return p->msix.cap && (msix_ctrl(p) & PCI_MSIX_CTRL_ENABLE);
}

void pci_msix_flush(struct pci *p)
{
	uint16_t ctrl = msix_ctrl(p);

	if (!(ctrl & PCI_MSIX_CTRL_ENABLE) || (ctrl & PCI_MSIX_CTRL_MASKALL))
		return;
	for (uint32_t w = 0; w < (p->msix.nr + 63) / 64; w++) {
		uint64_t bits = p->msix.pba[w];

		while (bits != 0) {
			unsigned int b = (unsigned int)__builtin_ctzll(bits);
			uint32_t v = w * 64 + b;

			bits &= bits - 1;
			/* A pending bit past the table (only a stream could
			 * set one) names no vector: drop it. */
			if (v >= p->msix.nr) {
				p->msix.pba[w] &= ~(1ull << b);
				continue;
			}
			if (pci_msix_vector_masked(p, v))
				continue;
			p->msix.pba[w] &= ~(1ull << b);
			(void)irq_trigger(p->irqs, VUS_PCI_IRQ_MSIX, v);
		}
	}
}

void pci_msix_written(struct pci *p, uint32_t off, uint32_t len,
		      const uint8_t *old)
{
	(void)off;
	(void)len;
	(void)old;
	/* Enabling or clearing Function Mask releases held vectors. */
	pci_msix_flush(p);
	/* MSI-X Enable takes the pin away, or gives it back. */
	(void)pci_intx_update(p);
}

static int msix_raise(struct pci *p, uint32_t v)
{
	uint16_t ctrl = msix_ctrl(p);

	if (!(ctrl & PCI_MSIX_CTRL_ENABLE) || !bus_master(p))
		return 0;
	/* Function Mask always applies: QEMU forwards config writes. */
	if ((ctrl & PCI_MSIX_CTRL_MASKALL) || pci_msix_vector_masked(p, v)) {
		p->msix.pba[v / 64] |= 1ull << (v % 64);
		return 0;
	}
	return irq_trigger(p->irqs, VUS_PCI_IRQ_MSIX, v);
}

VUS_EXPORT int vus_pci_msix(vus_ctx *ctx, uint32_t vector)
{
	struct pci *p;
	int ret;

	ret = pci_get(ctx, &p);
	if (ret < 0)
		return ret;
	if (p->msix.cap == 0 || vector >= p->msix.nr)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	ret = msix_raise(p, vector);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* The mode in use. Lock held. */
static enum vus_pci_irq_mode mode_of(const struct pci *p)
{
	if (msix_on(p))
		return VUS_PCI_IRQ_MODE_MSIX;
	if (msi_on(p))
		return VUS_PCI_IRQ_MODE_MSI;
	if (p->info.interrupt_pin != 0)
		return VUS_PCI_IRQ_MODE_INTX;
	return VUS_PCI_IRQ_MODE_NONE;
}

VUS_EXPORT enum vus_pci_irq_mode vus_pci_irq_mode(vus_ctx *ctx)
{
	enum vus_pci_irq_mode mode;
	struct pci *p;

	if (pci_get(ctx, &p) < 0)
		return VUS_PCI_IRQ_MODE_NONE;
	pthread_mutex_lock(&p->lock);
	mode = mode_of(p);
	pthread_mutex_unlock(&p->lock);
	return mode;
}

uint32_t pci_irq_sources(const struct pci *p)
{
	uint32_t n = p->info.interrupt_pin ? 1 : 0;

	n = MAX(n, p->msi.cap ? p->msi.nr : 0);
	return MAX(n, p->msix.cap ? p->msix.nr : 0);
}

/* Mark source @v raised or lowered; the INTx line is their OR. Lock held. */
static int source_set(struct pci *p, uint32_t v, bool up)
{
	uint64_t bit = 1ull << (v % 64);
	bool was = p->src[v / 64] & bit;

	if (up && !was) {
		p->src[v / 64] |= bit;
		p->nr_src_up++;
	} else if (!up && was) {
		p->src[v / 64] &= ~bit;
		p->nr_src_up--;
	}
	if (p->info.interrupt_pin == 0)
		return 0;
	p->intx_level = p->nr_src_up > 0;
	return pci_intx_update(p);
}

static int source_change(vus_ctx *ctx, uint32_t vector, bool up)
{
	enum vus_pci_irq_mode mode;
	struct pci *p;
	int ret;

	ret = pci_get(ctx, &p);
	if (ret < 0)
		return ret;
	if (vector >= pci_irq_sources(p))
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	ret = source_set(p, vector, up);
	mode = mode_of(p);
	/* Messages are edges: one per raise, on a vector the guest has. */
	if (up && mode == VUS_PCI_IRQ_MODE_MSIX)
		ret = msix_raise(p, vector % p->msix.nr);
	else if (up && mode == VUS_PCI_IRQ_MODE_MSI)
		ret = msi_raise(p, vector % msi_enabled(p));
	pthread_mutex_unlock(&p->lock);
	return ret;
}

VUS_EXPORT int vus_pci_irq_raise(vus_ctx *ctx, uint32_t vector)
{
	return source_change(ctx, vector, true);
}

VUS_EXPORT int vus_pci_irq_lower(vus_ctx *ctx, uint32_t vector)
{
	int ret = source_change(ctx, vector, false);

	return ret < 0 ? ret : 0;
}
