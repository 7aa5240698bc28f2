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
 * Context thread only: readers never look at this table.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"
#include "dma_priv.h"

/* The slot mapping @st with @prot and covering [0, @end), or -1. */
static int32_t find(const struct dma_table *dt, const struct stat *st,
		    uint32_t prot, uint64_t end)
{
	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++) {
		const struct dma_share *s = &dt->shares[i];

		if (s->refs > 0 && s->dev == (uint64_t)st->st_dev &&
		    s->ino == (uint64_t)st->st_ino && s->prot == prot &&
		    end <= s->len)
			return (int32_t)i;
	}
	return -1;
}

static int32_t free_slot(const struct dma_table *dt)
{
	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		if (dt->shares[i].refs == 0)
			return (int32_t)i;
	return -1;
}

int32_t dma_share_get(struct dma_table *dt, int fd, const struct stat *st,
		      uint64_t align, uint32_t prot, uint64_t end)
{
	uint64_t len = ((uint64_t)st->st_size + align - 1) & ~(align - 1);
	int32_t i = find(dt, st, prot, end);
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
	};
	dt->share_va += len;
	return i;
}

void dma_share_put(struct dma_table *dt, int32_t i)
{
	struct dma_share *s = &dt->shares[i];

	if (--s->refs > 0)
		return;
	munmap(s->map, s->len);
	dt->share_va -= s->len;
	*s = (struct dma_share){ 0 };
}

uint32_t dma_share_count(const struct dma_table *dt)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < DMA_MAX_SHARES; i++)
		n += dt->shares[i].refs > 0;
	return n;
}
