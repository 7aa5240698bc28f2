/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma: the client's DMA mappings and the device's access to them.
 *
 * Mappings live in sorted blocks listed by a sorted directory
 * (dma_blocks.c), searched by binary search. Device threads translate
 * without a lock: both have a fixed capacity (they never move) and a
 * sequence count is odd while the context thread changes them; a reader
 * that saw it change retries. Entries
 * are read and written with relaxed atomic accesses, so a reader racing a
 * change sees stale or mixed fields but never uses them unchecked. Removal
 * runs only after the engine has quiesced the device, so a pointer a
 * reader validated stays mapped until the device was told to stop using
 * it. An fd-backed mapping points into one mmap of its whole file, shared
 * by every mapping of that file (dma_share.c), and of its fds one per
 * distinct file is kept open (dma_files.c: a hand-over re-maps from it),
 * so a client can make us hold neither thousands of fds nor of mmaps.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "dma_table.h"
#include "dma_priv.h"
#include "log.h"

int dma_table_create(struct log *log, uint32_t max_maps,
		     struct dma_table **out)
{
	struct dma_table *dt = calloc(1, sizeof(*dt));

	if (dt == NULL)
		return -ENOMEM;
	dt->log = log;
	dt->max = max_maps ? max_maps : 1;
	if (dma_blocks_init(dt) < 0) {
		free(dt);
		return -ENOMEM;
	}
	atomic_init(&dt->seq, 0);
	dma_files_init(dt);
	dma_fault_register(dt);
	*out = dt;
	return 0;
}

static void unmap_one(struct dma_table *dt, struct dma_map *m)
{
	if (m->share >= 0)
		dma_share_put(dt, m->share);
	else if (m->map != NULL)
		munmap(m->map, m->map_len);
}

void dma_table_destroy(struct dma_table *dt)
{
	if (dt == NULL)
		return;
	struct dma_map *m;

	dma_fault_unregister(dt);
	DMA_EACH(dt, p, m) {
		unmap_one(dt, m);
		free(m->dirty);
	}
	dma_share_drop_idle(dt);
	dma_files_close(dt);
	dma_blocks_fini(dt);
	free(dt);
}

/* A consistent copy of the mapping containing @addr; false if none. */
bool dma_find(const struct dma_table *dt, uint64_t addr, struct dma_map *out)
{
	for (;;) {
		unsigned int s1 = atomic_load_explicit(&dt->seq,
						       memory_order_acquire);
		bool found;

		if (s1 & 1) {
			cpu_relax(); /* the context thread is mid-change */
			continue;
		}
		found = dma_blocks_find_racy(dt, addr, out);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&dt->seq, memory_order_relaxed) == s1)
			return found;
	}
}

/*
 * The functions below run on the context thread, the only writer: they
 * read the array directly (nothing else changes it) and bracket their
 * changes with write_begin/write_end for the readers.
 */

int dma_map_check(struct dma_table *dt, uint64_t addr, uint64_t size,
		  uint32_t prot)
{
	struct dma_pos p;

	if (!span_ok(addr, size))
		return -EINVAL;
	if (prot == 0 || (prot & ~DMA_PROT_ALL))
		return -EINVAL;
	/* The first mapping ending at or after @addr must start past us. */
	p = dma_blocks_seek(dt, addr);
	if (dma_pos_ok(dt, p) && dma_at(dt, p)->addr <= span_last(addr, size))
		return -EEXIST;
	/* The pool always has a block then (dma_blocks.c); checked anyway. */
	if (dt->n >= dt->max || dt->nfree == 0)
		return -ENOSPC;
	return 0;
}

/* /dev/zero: every shared mmap of it is new zeroed memory of its own. */
static bool is_dev_zero(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 &&
	       minor(st->st_rdev) == 5;
}

/*
 * Point @m at an mmap of [offset, offset + size) of @fd alone, @align
 * aligned. *@rdwr: as for map_fd.
 */
static int map_range(int fd, const struct stat *st, uint64_t offset,
		     uint64_t size, uint32_t prot, uint64_t align,
		     struct dma_map *m, bool *rdwr)
{
	uint64_t lead = offset & (align - 1), len;
	void *p;

	if (size > UINT64_MAX - lead - align || lead + size > SIZE_MAX - align)
		return -EINVAL;
	len = (lead + size + align - 1) & ~(align - 1);
	/* That memory is sized to the mapping and starts at its offset 0:
	 * mapped at a later offset, the first touch would raise SIGBUS. Its
	 * content is zeros at any offset, so the grant's is mapped at 0. */
	if (is_dev_zero(st))
		offset = lead = 0;
	dma_fault_arm();
	p = mmap(NULL, (size_t)len,
		 ((prot & VUS_DMA_READ) ? PROT_READ : 0) |
		 ((prot & VUS_DMA_WRITE) ? PROT_WRITE : 0),
		 MAP_SHARED, fd, (off_t)(offset - lead));
	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM has no place in our core dumps. */
	(void)madvise(p, (size_t)len, MADV_DONTDUMP);
	m->map = p;
	m->map_len = (size_t)len;
	m->vaddr = (uint8_t *)p + lead;
	*rdwr = prot & VUS_DMA_WRITE;
	return 0;
}

/*
 * Point @m at [offset, offset + size) of @fd (whose fstat is @st): into
 * the mmap of its whole file, or an mmap of that range alone. Ranges past
 * the end are refused. *@rdwr: a shared writable mmap of @fd was made,
 * which the kernel allows only for an fd open read-write.
 */
static int map_fd(struct dma_table *dt, int fd, const struct stat *st,
		  uint64_t offset, uint64_t size, uint32_t prot,
		  struct dma_map *m, bool *rdwr)
{
	uint64_t align = PAGE_4K;
	bool mapped = false;

	if (S_ISREG(st->st_mode)) {
		/* Touching a mapping beyond the file's end raises SIGBUS. */
		if (!range_ok(offset, size, (uint64_t)st->st_size))
			return -EINVAL;
		/* hugetlbfs reports its page size here and needs it. */
		if (is_pow2_u64((uint64_t)st->st_blksize) && st->st_blksize > PAGE_4K)
			align = (uint64_t)st->st_blksize;
		m->share = dma_share_get(dt, fd, st, align, prot, offset + size,
					 &mapped);
		*rdwr = mapped && (prot & VUS_DMA_WRITE);
		if (m->share >= 0) {
			m->map = dt->shares[m->share].map;
			m->map_len = dt->shares[m->share].len;
			m->vaddr = (uint8_t *)m->map + offset;
			return 0;
		}
	}
	return map_range(fd, st, offset, size, prot, align, m, rdwr);
}

int dma_add(struct dma_table *dt, uint64_t addr, uint64_t size, uint32_t prot,
	    int fd, uint64_t offset, struct vus_dma_region *out)
{
	struct dma_map m = { .addr = addr, .prot = prot, .share = -1,
			     .offset = offset, .file = -1 };
	int ret = dma_map_check(dt, addr, size, prot);
	bool rdwr = false;
	struct stat st;

	/* One fstat serves the mapping and the kept fd. */
	if (ret == 0 && fd >= 0 && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0 && fd >= 0 && !dt->messages_only)
		ret = map_fd(dt, fd, &st, offset, size, prot, &m, &rdwr);
	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	m.last = span_last(addr, size);
	/* A mapping made while logging is tracked from the start. */
	if (dt->logging && (m.prot & VUS_DMA_WRITE) &&
	    (ret = dma_log_attach(dt, &m)) < 0) {
		unmap_one(dt, &m);
		close_fd(&fd);
		return ret;
	}
	if (fd >= 0) {
		m.file = dma_file_keep(dt, fd, &st, rdwr);
		dt->unkept += m.file < 0;
	}
	/* Only the context thread adds, so the check still holds. */
	dma_blocks_insert(dt, &m);
	dt->maps_total++;
	*out = (struct vus_dma_region){ .addr = addr, .size = size,
					.prot = prot, .vaddr = m.vaddr };
	return 0;
}

static struct vus_dma_region to_region(const struct dma_map *m)
{
	return (struct vus_dma_region){ .addr = m->addr,
					.size = m->last - m->addr + 1,
					.prot = m->prot, .vaddr = m->vaddr };
}

/*
 * The rules of the kernel's type1 IOMMU, which QEMU's vIOMMU code was
 * written against: its IOTLB invalidations become unmaps of whatever range
 * the guest flushed, which may hold several mappings or none at all.
 */
int dma_remove_check(struct dma_table *dt, uint64_t addr, uint64_t size)
{
	uint64_t last;
	struct dma_pos p;

	if (!span_ok(addr, size))
		return -EINVAL;
	last = span_last(addr, size);
	for (p = dma_blocks_seek(dt, addr);
	     dma_pos_ok(dt, p) && dma_at(dt, p)->addr <= last;
	     p = dma_pos_next(dt, p))
		/* A range may cover whole mappings but never split one. */
		if (dma_at(dt, p)->addr < addr || dma_at(dt, p)->last > last)
			return -EINVAL;
	return 0; /* also when it covers none: nothing to do */
}

/* Remove the mapping at @p: tell the device, drop it, then unmap. */
static void remove_at(struct dma_table *dt, struct dma_pos p,
		      dma_region_fn *fn, void *opaque)
{
	struct dma_map m = *dma_at(dt, p);
	struct vus_dma_region r = to_region(&m);

	/* The device is quiesced: no reader holds a pointer into @m. */
	if (fn != NULL)
		fn(opaque, &r);
	dma_blocks_remove(dt, p);
	unmap_one(dt, &m);
	dma_file_drop(dt, &m);
	dma_log_detach(dt, &m);
	dt->unmaps_total++;
}

int dma_remove(struct dma_table *dt, uint64_t addr, uint64_t size,
	       dma_region_fn *fn, void *opaque)
{
	int ret = dma_remove_check(dt, addr, size);
	int removed = 0;
	struct dma_pos p;

	if (ret < 0)
		return ret;
	/* Only the context thread removes: positions are stable here. */
	while (p = dma_blocks_seek(dt, addr), dma_pos_ok(dt, p) &&
	       dma_at(dt, p)->addr <= span_last(addr, size)) {
		remove_at(dt, p, fn, opaque);
		removed++;
	}
	return removed;
}

void dma_remove_all(struct dma_table *dt, dma_region_fn *fn, void *opaque)
{
	/* From the end, so that no block shifts. */
	while (dt->nd > 0) {
		uint32_t d = dt->nd - 1;

		remove_at(dt, (struct dma_pos){ d, dt->dir[d].cnt - 1 }, fn,
			  opaque);
	}
	/* The client withdrew everything (or is gone): keep none idle. */
	dma_share_drop_idle(dt);
}

void dma_get_stats(const struct dma_table *dt, struct dma_stats *out)
{
	*out = (struct dma_stats){ .maps_live = dt->n,
				   .maps_total = dt->maps_total,
				   .unmaps_total = dt->unmaps_total,
				   .dirty_pages_reported = dt->dirty_reported };
}

void dma_set_msg_fn(struct dma_table *dt, dma_msg_fn *fn, void *opaque)
{
	dt->msg_fn = fn;
	dt->msg_opaque = opaque;
}

void dma_set_messages_only(struct dma_table *dt, bool on)
{
	dt->messages_only = on;
}

/* Bytes from @x to the end of @m, capped at @left (both non-zero). */
static uint64_t piece_len(const struct dma_map *m, uint64_t x, uint64_t left)
{
	uint64_t avail_m1 = m->last - x;

	return left - 1 <= avail_m1 ? left : avail_m1 + 1;
}

static int prot_args_check(uint64_t addr, uint64_t len, uint32_t prot)
{
	if (len == 0 || !span_ok(addr, len))
		return -EINVAL;
	if (prot == 0 || (prot & ~DMA_PROT_ALL))
		return -EINVAL;
	return 0;
}

static int sg_fill(const struct dma_table *dt, uint64_t addr, uint64_t len,
		   uint32_t prot, struct vus_sg *sg, size_t max_sg,
		   size_t *nr_sg)
{
	size_t n = 0;

	while (len > 0) {
		struct dma_map m;
		uint64_t piece;

		if (!dma_find(dt, addr, &m))
			return -EFAULT;
		if ((m.prot & prot) != prot)
			return -EACCES;
		if (m.vaddr == NULL)
			return -EOPNOTSUPP;
		piece = piece_len(&m, addr, len);
		if (prot & VUS_DMA_WRITE)
			dma_log_mark(&m, addr, piece);
		if (n < max_sg)
			sg[n] = (struct vus_sg){ .addr = addr, .len = piece,
						 .vaddr = m.vaddr + (addr - m.addr) };
		n++;
		*nr_sg = n;
		/* Stop at 2^64: piece == len there, so the loop ends. */
		len -= piece;
		addr += piece;
	}
	return n > max_sg ? -ENOSPC : 0;
}

VUS_EXPORT int vus_dma_sg(vus_ctx *ctx, uint64_t addr, uint64_t len,
			  uint32_t prot, struct vus_sg *sg, size_t max_sg,
			  size_t *nr_sg)
{
	size_t n = 0;
	int ret;

	if (ctx == NULL || nr_sg == NULL || (sg == NULL && max_sg > 0))
		return -EINVAL;
	ret = prot_args_check(addr, len, prot);
	if (ret < 0)
		return ret;
	ret = sg_fill(ctx_dma(ctx), addr, len, prot, sg, max_sg, &n);
	*nr_sg = n;
	return ret;
}

/* Whether all of [addr, addr + len) is mapped with @prot. */
static int range_check(const struct dma_table *dt, uint64_t addr, uint64_t len,
		       uint32_t prot)
{
	while (len > 0) {
		struct dma_map m;
		uint64_t piece;

		if (!dma_find(dt, addr, &m))
			return -EFAULT;
		if (!(m.prot & prot))
			return -EACCES;
		piece = piece_len(&m, addr, len);
		len -= piece;
		addr += piece;
	}
	return 0;
}

/* Copy piece by piece; message-only mappings go through the engine. */
static int xfer(vus_ctx *ctx, struct dma_table *dt, bool write, uint64_t addr,
		uint8_t *buf, uint64_t len)
{
	uint32_t prot = write ? VUS_DMA_WRITE : VUS_DMA_READ;
	bool first = true;

	while (len > 0) {
		struct dma_map m;
		uint64_t piece;
		int ret = 0;

		if (!dma_find(dt, addr, &m))
			return -EFAULT;
		if (!(m.prot & prot))
			return -EACCES;
		piece = piece_len(&m, addr, len);
		/* Across mappings, the rest is checked before a byte moves: a
		 * refused transfer writes nothing and sends no message. */
		if (first && piece < len &&
		    (ret = range_check(dt, addr + piece, len - piece, prot)) < 0)
			return ret;
		first = false;
		if (m.vaddr != NULL) {
			uint8_t *p = m.vaddr + (addr - m.addr);

			if (write)
				memcpy(p, buf, piece);
			else
				memcpy(buf, p, piece);
		} else if (!ctx_on_thread(ctx) || dt->msg_fn == NULL) {
			/* Without an fd only messages reach this memory. */
			ret = -EOPNOTSUPP;
		} else {
			ret = dt->msg_fn(dt->msg_opaque, write, addr, buf, piece);
		}
		if (ret < 0)
			return ret;
		/* After the bytes landed; DMA_WRITE'd pages too, so a VMM that
		 * does not log its own writes loses none. */
		if (write)
			dma_log_mark(&m, addr, piece);
		len -= piece;
		addr += piece;
		buf += piece;
	}
	return 0;
}

VUS_EXPORT int vus_dma_read(vus_ctx *ctx, uint64_t addr, void *buf, size_t len)
{
	if (ctx == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (!span_ok(addr, len))
		return -EINVAL;
	return xfer(ctx, ctx_dma(ctx), false, addr, buf, len);
}

VUS_EXPORT int vus_dma_write(vus_ctx *ctx, uint64_t addr, const void *buf,
			     size_t len)
{
	if (ctx == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (!span_ok(addr, len))
		return -EINVAL;
	return xfer(ctx, ctx_dma(ctx), true, addr, (uint8_t *)buf, len);
}

/* A single load or store of @size bytes at @p (relaxed atomics). */
static void load_store(uint8_t *p, void *val, unsigned int size, bool write)
{
	/* Only a misaligned local mapping (an fd offset not congruent with
	 * the DMA address) prevents a single access; copy bytes then. */
	if ((uintptr_t)p & (size - 1)) {
		if (write)
			memcpy(p, val, size);
		else
			memcpy(val, p, size);
		return;
	}
#define LS(T)                                                              \
	do {                                                               \
		if (write)                                                 \
			__atomic_store_n((T *)(void *)p, *(T *)val,        \
					 __ATOMIC_RELAXED);                \
		else                                                       \
			*(T *)val = __atomic_load_n((T *)(void *)p,        \
						    __ATOMIC_RELAXED);     \
	} while (0)
	switch (size) {
	case 1: LS(uint8_t); break;
	case 2: LS(uint16_t); break;
	case 4: LS(uint32_t); break;
	default: LS(uint64_t); break;
	}
#undef LS
}

/*
 * One naturally aligned access of @size bytes, done as a single load or
 * store so that a guest writing concurrently never sees it torn.
 */
static int access_untorn(vus_ctx *ctx, uint64_t addr, void *val,
			 unsigned int size, bool write)
{
	uint32_t prot = write ? VUS_DMA_WRITE : VUS_DMA_READ;
	struct dma_map m;

	if (ctx == NULL || val == NULL || (addr & (size - 1)))
		return -EINVAL;
	if (!dma_find(ctx_dma(ctx), addr, &m) || m.last - addr < size - 1)
		return -EFAULT;
	if (!(m.prot & prot))
		return -EACCES;
	if (m.vaddr == NULL)
		return -EOPNOTSUPP;
	load_store(m.vaddr + (addr - m.addr), val, size, write);
	if (write)
		dma_log_mark(&m, addr, size);
	return 0;
}

VUS_EXPORT int vus_dma_read8(vus_ctx *ctx, uint64_t addr, uint8_t *val)
{
	return access_untorn(ctx, addr, val, 1, false);
}

VUS_EXPORT int vus_dma_read16(vus_ctx *ctx, uint64_t addr, uint16_t *val)
{
	return access_untorn(ctx, addr, val, 2, false);
}

VUS_EXPORT int vus_dma_read32(vus_ctx *ctx, uint64_t addr, uint32_t *val)
{
	return access_untorn(ctx, addr, val, 4, false);
}

VUS_EXPORT int vus_dma_read64(vus_ctx *ctx, uint64_t addr, uint64_t *val)
{
	return access_untorn(ctx, addr, val, 8, false);
}

VUS_EXPORT int vus_dma_write8(vus_ctx *ctx, uint64_t addr, uint8_t val)
{
	return access_untorn(ctx, addr, &val, 1, true);
}

VUS_EXPORT int vus_dma_write16(vus_ctx *ctx, uint64_t addr, uint16_t val)
{
	return access_untorn(ctx, addr, &val, 2, true);
}

VUS_EXPORT int vus_dma_write32(vus_ctx *ctx, uint64_t addr, uint32_t val)
{
	return access_untorn(ctx, addr, &val, 4, true);
}

VUS_EXPORT int vus_dma_write64(vus_ctx *ctx, uint64_t addr, uint64_t val)
{
	return access_untorn(ctx, addr, &val, 8, true);
}

VUS_EXPORT int vus_dma_mark_dirty(vus_ctx *ctx, uint64_t addr, uint64_t len)
{
	struct dma_table *dt;

	if (ctx == NULL || len == 0 || !span_ok(addr, len))
		return -EINVAL;
	dt = ctx_dma(ctx);
	while (len > 0) {
		struct dma_map m;
		uint64_t piece;

		if (!dma_find(dt, addr, &m))
			return -EFAULT;
		piece = piece_len(&m, addr, len);
		dma_log_mark(&m, addr, piece);
		len -= piece;
		addr += piece;
	}
	return 0;
}

VUS_EXPORT size_t vus_dma_nr_regions(vus_ctx *ctx)
{
	return ctx ? LD(ctx_dma(ctx)->n) : 0;
}
