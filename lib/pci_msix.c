/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci_msix: the MSI-X table and pending-bit array, emulated inside the
 * BARs the capability names, and the access wrapper every BAR region goes
 * through. An access to a BAR is cut at the table and PBA boundaries: the
 * parts inside them are served here under pci->lock, the rest goes to the
 * device's region callbacks (or its backing memory) unchanged.
 *
 * QEMU emulates the table in its own memory and never forwards table
 * accesses, so our table is only authoritative once a client has written
 * to it (msix.table_written); see pci_msix_vector_masked().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "irq_table.h"
#include "pci_priv.h"
#include "region_table.h"


static uint32_t pba_words(uint32_t nr)
{
	return (nr + 63) / 64;
}

int pci_msix_alloc(struct pci *p, uint32_t nr)
{
	p->msix.table = calloc(nr, PCI_MSIX_ENTRY_SIZE);
	p->msix.pba = calloc(pba_words(nr), sizeof(uint64_t));
	if (p->msix.table == NULL || p->msix.pba == NULL) {
		pci_msix_free(p);
		return -ENOMEM;
	}
	p->msix.nr = nr;
	pci_msix_reset(p);
	return 0;
}

void pci_msix_free(struct pci *p)
{
	free(p->msix.table);
	free(p->msix.pba);
	p->msix.table = NULL;
	p->msix.pba = NULL;
	p->msix.nr = 0;
}

void pci_msix_reset(struct pci *p)
{
	if (p->msix.table == NULL)
		return;
	/* Power-on: address and data 0, every vector masked, none pending. */
	memset(p->msix.table, 0, (size_t)p->msix.nr * PCI_MSIX_ENTRY_SIZE);
	for (uint32_t v = 0; v < p->msix.nr; v++)
		p->msix.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_CTRL] =
			PCI_MSIX_ENTRY_MASKED;
	memset(p->msix.pba, 0, pba_words(p->msix.nr) * sizeof(uint64_t));
	p->msix.table_written = false;
}

/*
 * The per-vector mask applies only after the client wrote our table: a
 * client that emulates the table itself (QEMU) leaves ours at its reset
 * value, all masked, which would otherwise hold every interrupt forever.
 */
bool pci_msix_vector_masked(const struct pci *p, uint32_t v)
{
	const uint8_t *ctrl =
		&p->msix.table[v * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_CTRL];

	return p->msix.table_written && (*ctrl & PCI_MSIX_ENTRY_MASKED);
}

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > (long)PAGE_4K ? (size_t)ps : PAGE_4K;
}

/* Whether an mmap area of region @bar overlaps the pages of a range. */
static bool areas_hit(const struct pci *p, unsigned int bar, uint64_t off,
		      uint64_t len)
{
	uint64_t ps = page_size();
	uint64_t start = off & ~(ps - 1);
	uint64_t end = satadd_u64(off + len, ps - 1) & ~(ps - 1);
	struct region_info ri;

	if (region_get_info(p->regions, bar, &ri) < 0)
		return true;
	for (uint32_t i = 0; i < ri.nr_areas; i++) {
		const struct vus_mmap_area *a = &ri.areas[i];

		if (a->offset < end && start < satadd_u64(a->offset, a->size))
			return true;
	}
	return false;
}

int pci_msix_areas_check(const struct pci *p,
			 const struct vus_pci_msix_desc *d)
{
	uint64_t tlen = (uint64_t)d->nr_vectors * PCI_MSIX_ENTRY_SIZE;
	uint64_t plen = (uint64_t)pba_words(d->nr_vectors) * 8;

	/* A client mapping those pages would bypass our emulation. */
	if (areas_hit(p, d->table_bar, d->table_offset, tlen) ||
	    areas_hit(p, d->pba_bar, d->pba_offset, plen))
		return -EINVAL;
	return 0;
}

/* Table writes: address and data RW, vector control bit 0 RW. Lock held. */
static void table_write(struct pci *p, uint64_t off, const uint8_t *buf,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t o = off + i;
		unsigned int e = (unsigned int)(o % PCI_MSIX_ENTRY_SIZE);

		if (e < PCI_MSIX_ENTRY_CTRL)
			p->msix.table[o] = buf[i];
		else if (e == PCI_MSIX_ENTRY_CTRL)
			p->msix.table[o] = buf[i] & PCI_MSIX_ENTRY_MASKED;
	}
	p->msix.table_written = true;
	/* Unmasking a vector releases what it held. */
	pci_msix_flush(p);
}

/* PBA bits: ours, or raised while no eventfd was bound. Lock held. */
static void pba_read(struct pci *p, uint64_t off, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t byte = off + i;
		uint8_t bits = (uint8_t)(p->msix.pba[byte / 8] >> (byte % 8 * 8));

		for (unsigned int j = 0; j < 8; j++) {
			uint64_t v = byte * 8 + j;

			if (v < p->msix.nr &&
			    irq_is_pending(p->irqs, VUS_PCI_IRQ_MSIX, (uint32_t)v))
				bits |= (uint8_t)(1u << j);
		}
		buf[i] = bits;
	}
}

enum span_kind { SPAN_TABLE, SPAN_PBA };

struct span {
	uint64_t start;
	uint64_t end;
	enum span_kind kind;
};

/* The MSI-X structures inside BAR @b. */
static unsigned int bar_spans(const struct pci *p, const struct pci_bar *b,
			      struct span s[2])
{
	unsigned int n = 0;

	if (p->msix.cap == 0)
		return 0;
	if (p->msix.table_bar == b->index)
		s[n++] = (struct span){ p->msix.table_off, p->msix.table_off +
			(uint64_t)p->msix.nr * PCI_MSIX_ENTRY_SIZE, SPAN_TABLE };
	if (p->msix.pba_bar == b->index)
		s[n++] = (struct span){ p->msix.pba_off, p->msix.pba_off +
			(uint64_t)pba_words(p->msix.nr) * 8, SPAN_PBA };
	return n;
}

int pci_msix_doorbells_check(const struct pci *p)
{
	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		const struct region_ioev *ev;
		unsigned int n = region_ioeventfds(p->regions, i, &ev);
		struct span s[2];
		unsigned int ns = bar_spans(p, &p->bars[i], s);

		/* A write there must reach the table emulation. */
		for (unsigned int e = 0; e < n; e++)
			for (unsigned int k = 0; k < ns; k++)
				if (ev[e].offset < s[k].end &&
				    s[k].start < ev[e].offset + ev[e].size)
					return -EINVAL;
	}
	return 0;
}

static int span_access(struct pci *p, const struct span *s, uint64_t off,
		       uint8_t *buf, size_t n, bool is_write)
{
	uint64_t rel = off - s->start;

	pthread_mutex_lock(&p->lock);
	if (s->kind == SPAN_TABLE && is_write)
		table_write(p, rel, buf, n);
	else if (s->kind == SPAN_TABLE)
		memcpy(buf, p->msix.table + rel, n);
	else if (!is_write)
		pba_read(p, rel, buf, n);
	/* PBA writes are dropped: the array is read-only. */
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* The device's part of a BAR: its callbacks, else its backing memory. */
static int device_access(struct pci_bar *b, uint64_t off, uint8_t *buf,
			 size_t n, bool is_write)
{
	uint8_t *mem;

	if (is_write && b->ops.write != NULL)
		return b->ops.write(b->pci->ctx, b->opaque, off, buf, n);
	if (!is_write && b->ops.read != NULL)
		return b->ops.read(b->pci->ctx, b->opaque, off, buf, n);
	mem = region_mem(b->pci->regions, b->index);
	if (mem == NULL)
		return -EINVAL;
	if (is_write)
		memcpy(mem + off, buf, n);
	else
		memcpy(buf, mem + off, n);
	return 0;
}

/* Bytes from @off up to the next span boundary; *hit is the span @off is in. */
static size_t next_cut(const struct span *s, unsigned int ns, uint64_t off,
		       size_t len, const struct span **hit)
{
	uint64_t n = len;

	*hit = NULL;
	for (unsigned int i = 0; i < ns; i++) {
		if (off >= s[i].start && off < s[i].end) {
			*hit = &s[i];
			return (size_t)MIN(n, s[i].end - off);
		}
		if (s[i].start > off)
			n = MIN(n, s[i].start - off);
	}
	return (size_t)n;
}

static int bar_access(struct pci_bar *b, uint64_t off, uint8_t *buf,
		      size_t len, bool is_write)
{
	struct span s[2];
	unsigned int ns = bar_spans(b->pci, b, s);

	if (!range_ok(off, len, b->size))
		return -EINVAL;
	while (len > 0) {
		const struct span *hit;
		size_t n = next_cut(s, ns, off, len, &hit);
		int ret = hit ? span_access(b->pci, hit, off, buf, n, is_write)
			      : device_access(b, off, buf, n, is_write);

		if (ret < 0)
			return ret;
		off += n;
		buf += n;
		len -= n;
	}
	return 0;
}

static int bar_region_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
			   size_t len)
{
	return bar_access(opaque, off, buf, len, false);
}

static int bar_region_write(vus_ctx *ctx, void *opaque, uint64_t off,
			    const void *buf, size_t len)
{
	/* Written bytes are only read from; the cast serves both directions. */
	return bar_access(opaque, off, (void *)buf, len, true);
}

const struct vus_region_ops pci_bar_region_ops = {
	.struct_size = sizeof(pci_bar_region_ops),
	.read = bar_region_read,
	.write = bar_region_write,
};
