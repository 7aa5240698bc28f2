/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_share: one mmap per file for the client's mappings. QEMU grants
 * guest RAM from a few memfds, and a vIOMMU guest makes it grant and
 * withdraw thousands of small ranges of the same memfd: each DMA_MAP
 * costing an mmap (and each a VMA of its own, against vm.max_map_count)
 * would make translation-heavy guests pay a system call and a TLB entry
 * per grant. So the whole file is mapped once, when the first range of it
 * is granted, and every later range of it points into that mapping; each
 * mapping holds a reference, the last one's removal unmaps it.
 *
 * A file is its (st_dev, st_ino): while we map it the inode stays
 * allocated, so its number cannot name another file meanwhile. The page
 * protection is part of the key: a read-only grant never points into a
 * writable mapping. Only regular files are shared (their size is known);
 * other fds, a full table, a file past the address-space budget, or an
 * mmap that fails for a whole file fall back to mapping just the range.
 * A SIGBUS repair (dma_fault.c) replaces a shared mmap whole: every grant
 * of a file that shrank loses its memory together, as they share it.
 *
 * The last grant's withdrawal leaves its file mapped, idle, for the next
 * grant of it: a guest whose IOMMU maps and unmaps one buffer at a time
 * (nothing else granted) would otherwise pay an mmap, a munmap and their
 * companions per grant, and a munmap of a large mapping the device has
 * touched is not cheap. Bounded: one idle file at most (the next one to
 * go idle replaces it), dropped when a slot is needed, when a larger
 * mapping of its file exists, at DMA_UNMAP_ALL, reset, disconnection and
 * hand-over, and not kept when a SIGBUS was repaired on the table since it
 * was mapped. Nothing points into an idle
 * mapping, so nothing can fault in it; a grant that reuses it has its
 * range checked against the file's size now, as any grant.
 * Context thread only: readers never look at this table.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"
#include "dma_priv.h"

/* No SIGBUS repair on the table since @s was mapped. */
static bool intact(struct dma_table *dt, const struct dma_share *s)
{
	return s->repairs == atomic_load(&dt->repairs);
}

/*
 * The slot (live or idle) mapping @dev/@ino with @prot and covering
 * [0, @end), or -1; not @skip. A repair may have made any mapping of the
 * table anonymous memory (the handler does not say which): those mapped
 * before one serve the grants they have, never a new one.
 */
static int32_t find(struct dma_table *dt, uint64_t dev, uint64_t ino,
		    uint32_t prot, uint64_t end, int32_t skip)
{
	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++) {
		const struct dma_share *s = &dt->shares[i];

		if (s->map != NULL && s->dev == dev && s->ino == ino &&
		    s->prot == prot && end <= s->len && (int32_t)i != skip &&
		    intact(dt, s))
			return (int32_t)i;
	}
	return -1;
}

static void unmap_slot(struct dma_table *dt, struct dma_share *s)
{
	munmap(s->map, s->len);
	dt->share_va -= s->len;
	*s = (struct dma_share){ 0 };
}

void dma_share_drop_idle(struct dma_table *dt)
{
	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		if (dt->shares[i].map != NULL && dt->shares[i].refs == 0)
			unmap_slot(dt, &dt->shares[i]);
}

/* A free slot; the idle mapping's if there is no other. */
static int32_t free_slot(struct dma_table *dt)
{
	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		if (dt->shares[i].map == NULL)
			return (int32_t)i;
	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		if (dt->shares[i].refs == 0) {
			unmap_slot(dt, &dt->shares[i]);
			return (int32_t)i;
		}
	return -1;
}

int32_t dma_share_get(struct dma_table *dt, int fd, const struct stat *st,
		      uint64_t align, uint32_t prot, uint64_t end, bool *mapped)
{
	uint64_t len = ((uint64_t)st->st_size + align - 1) & ~(align - 1);
	int32_t i = find(dt, (uint64_t)st->st_dev, (uint64_t)st->st_ino, prot,
			 end, -1);
	void *p;

	if (i >= 0) {
		dt->shares[i].refs++;
		return i;
	}
	i = free_slot(dt);
	if (i < 0 || len > DMA_SHARE_MAX_VA - dt->share_va || len > SIZE_MAX)
		return -1;
	/* A new mmap of client memory: our SIGBUS handler must be in front
	 * (grants into this one need not ask again). */
	dma_fault_arm();
	p = mmap(NULL, (size_t)len,
		 ((prot & VUS_DMA_READ) ? PROT_READ : 0) |
		 ((prot & VUS_DMA_WRITE) ? PROT_WRITE : 0),
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	/* Guest RAM has no place in our core dumps. */
	(void)madvise(p, (size_t)len, MADV_DONTDUMP);
	dt->shares[i] = (struct dma_share){
		.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino,
		.prot = prot, .map = p, .len = (size_t)len, .refs = 1,
		.repairs = atomic_load(&dt->repairs),
	};
	dt->share_va += len;
	*mapped = true;
	/* The file grew: an idle smaller mapping of it will not serve. */
	for (uint32_t j = 0; j < DMA_MAX_SHARES; j++) {
		struct dma_share *o = &dt->shares[j];

		if (o->map != NULL && o->refs == 0 && o->dev == (uint64_t)st->st_dev &&
		    o->ino == (uint64_t)st->st_ino && o->prot == prot)
			unmap_slot(dt, o);
	}
	return i;
}

void dma_share_put(struct dma_table *dt, int32_t i)
{
	struct dma_share *s = &dt->shares[i];

	if (--s->refs > 0)
		return;
	/* After a repair it may be anonymous memory; a larger mapping of
	 * the file serves its grants instead. */
	if (!intact(dt, s) || find(dt, s->dev, s->ino, s->prot, s->len, i) >= 0) {
		unmap_slot(dt, s);
		return;
	}
	/* One idle file at most: it replaces the one before. */
	for (uint32_t j = 0; j < DMA_MAX_SHARES; j++)
		if ((int32_t)j != i && dt->shares[j].map != NULL &&
		    dt->shares[j].refs == 0)
			unmap_slot(dt, &dt->shares[j]);
}

uint32_t dma_share_count(const struct dma_table *dt)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		n += dt->shares[i].refs > 0;
	return n;
}

uint32_t dma_share_idle(const struct dma_table *dt)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		n += dt->shares[i].map != NULL && dt->shares[i].refs == 0;
	return n;
}
