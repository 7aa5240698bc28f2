/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma: the client's DMA mappings and the device's access to them.
 *
 * Mappings live in an array sorted by address, searched by binary search
 * under a reader/writer lock (device threads translate while the context
 * thread maps). An fd-backed mapping is mmap'd once and its fd closed, so
 * a client cannot make us hold thousands of fds. Unmapping runs only after
 * the engine has quiesced the device, so pointers handed out stay valid
 * until the device has been told to stop using them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ctx.h"
#include "dma.h"
#include "log.h"

#define PAGE 4096u
#define DMA_PROT_ALL (VUS_DMA_READ | VUS_DMA_WRITE)

struct dma_map {
	uint64_t addr;
	uint64_t last; /* inclusive: a mapping may end at 2^64 */
	uint32_t prot;
	void *map;     /* our mmap, NULL for message-only mappings */
	size_t map_len;
	uint8_t *vaddr; /* the byte at @addr */
};

struct dma_table {
	struct log *log;
	pthread_rwlock_t lock;
	struct dma_map *m;
	uint32_t n;
	uint32_t cap;
	uint32_t max;
	dma_msg_fn *msg_fn;
	void *msg_opaque;
};

int dma_table_create(struct log *log, uint32_t max_maps,
		     struct dma_table **out)
{
	struct dma_table *dt = calloc(1, sizeof(*dt));

	if (dt == NULL)
		return -ENOMEM;
	dt->log = log;
	dt->max = max_maps;
	pthread_rwlock_init(&dt->lock, NULL);
	*out = dt;
	return 0;
}

static void unmap_one(struct dma_map *m)
{
	if (m->map != NULL)
		munmap(m->map, m->map_len);
}

void dma_table_destroy(struct dma_table *dt)
{
	if (dt == NULL)
		return;
	for (uint32_t i = 0; i < dt->n; i++)
		unmap_one(&dt->m[i]);
	free(dt->m);
	pthread_rwlock_destroy(&dt->lock);
	free(dt);
}

/* Index of the first mapping whose last byte is >= @addr (may be n). */
static uint32_t lower_bound(const struct dma_table *dt, uint64_t addr)
{
	uint32_t lo = 0, hi = dt->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (dt->m[mid].last < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Below this many mappings a scan beats the binary search's branches. */
#define DMA_SCAN_MAX 8u

/* The mapping containing @addr, or NULL. Lock held. */
static const struct dma_map *find(const struct dma_table *dt, uint64_t addr)
{
	uint32_t i;

	if (dt->n <= DMA_SCAN_MAX) {
		for (i = 0; i < dt->n; i++)
			if (dt->m[i].last >= addr)
				return dt->m[i].addr <= addr ? &dt->m[i] : NULL;
		return NULL;
	}
	i = lower_bound(dt, addr);

	if (i < dt->n && dt->m[i].addr <= addr)
		return &dt->m[i];
	return NULL;
}

static int map_check_locked(const struct dma_table *dt, uint64_t addr,
			    uint64_t size, uint32_t prot)
{
	uint32_t i;

	if (!span_ok(addr, size))
		return -EINVAL;
	if (prot == 0 || (prot & ~DMA_PROT_ALL))
		return -EINVAL;
	i = lower_bound(dt, addr);
	if (i < dt->n && dt->m[i].addr <= span_last(addr, size))
		return -EEXIST;
	if (dt->n >= dt->max)
		return -ENOSPC;
	return 0;
}

int dma_map_check(struct dma_table *dt, uint64_t addr, uint64_t size,
		  uint32_t prot)
{
	int ret;

	pthread_rwlock_rdlock(&dt->lock);
	ret = map_check_locked(dt, addr, size, prot);
	pthread_rwlock_unlock(&dt->lock);
	return ret;
}

/* mmap [offset, offset + size) of @fd, refusing ranges past its end. */
static int map_fd(int fd, uint64_t offset, uint64_t size, uint32_t prot,
		  struct dma_map *m)
{
	uint64_t align = PAGE, lead, len;
	struct stat st;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		/* Touching a mapping beyond the file's end raises SIGBUS. */
		if (!range_ok(offset, size, (uint64_t)st.st_size))
			return -EINVAL;
		/* hugetlbfs reports its page size here and needs it. */
		if (is_pow2_u64((uint64_t)st.st_blksize) && st.st_blksize > PAGE)
			align = (uint64_t)st.st_blksize;
	}
	lead = offset & (align - 1);
	if (size > UINT64_MAX - lead - align || lead + size > SIZE_MAX - align)
		return -EINVAL;
	len = (lead + size + align - 1) & ~(align - 1);
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
	return 0;
}

static int insert_locked(struct dma_table *dt, const struct dma_map *m)
{
	uint32_t i = lower_bound(dt, m->addr);

	if (dt->n == dt->cap) {
		uint32_t cap = dt->cap ? dt->cap * 2 : 16;
		struct dma_map *n = realloc(dt->m, (size_t)cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		dt->m = n;
		dt->cap = cap;
	}
	memmove(&dt->m[i + 1], &dt->m[i], (dt->n - i) * sizeof(*m));
	dt->m[i] = *m;
	dt->n++;
	return 0;
}

int dma_add(struct dma_table *dt, uint64_t addr, uint64_t size, uint32_t prot,
	    int fd, uint64_t offset, struct vus_dma_region *out)
{
	struct dma_map m = { .addr = addr, .prot = prot };
	int ret = dma_map_check(dt, addr, size, prot);

	if (ret == 0 && fd >= 0)
		ret = map_fd(fd, offset, size, prot, &m);
	close_fd(&fd);
	if (ret < 0)
		return ret;
	m.last = span_last(addr, size);
	pthread_rwlock_wrlock(&dt->lock);
	/* Only the context thread adds, so the check still holds. */
	ret = insert_locked(dt, &m);
	pthread_rwlock_unlock(&dt->lock);
	if (ret < 0) {
		unmap_one(&m);
		return ret;
	}
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

int dma_remove_check(struct dma_table *dt, uint64_t addr, uint64_t size)
{
	uint64_t last;
	uint32_t i;
	int ret = -ENOENT;

	if (!span_ok(addr, size))
		return -EINVAL;
	last = span_last(addr, size);
	pthread_rwlock_rdlock(&dt->lock);
	for (i = lower_bound(dt, addr); i < dt->n && dt->m[i].addr <= last; i++) {
		/* A range may cover whole mappings but never split one. */
		if (dt->m[i].addr < addr || dt->m[i].last > last) {
			ret = -EINVAL;
			break;
		}
		ret = 0;
	}
	pthread_rwlock_unlock(&dt->lock);
	return ret;
}

/* Remove mapping @i: tell the device, drop it, then unmap. */
static void remove_at(struct dma_table *dt, uint32_t i, dma_region_fn *fn,
		      void *opaque)
{
	struct dma_map m = dt->m[i];
	struct vus_dma_region r = to_region(&m);

	/* The device is quiesced; the callback runs without our lock. */
	if (fn != NULL)
		fn(opaque, &r);
	pthread_rwlock_wrlock(&dt->lock);
	memmove(&dt->m[i], &dt->m[i + 1], (dt->n - i - 1) * sizeof(m));
	dt->n--;
	pthread_rwlock_unlock(&dt->lock);
	unmap_one(&m);
}

int dma_remove(struct dma_table *dt, uint64_t addr, uint64_t size,
	       dma_region_fn *fn, void *opaque)
{
	int ret = dma_remove_check(dt, addr, size);
	int removed = 0;
	uint32_t i;

	if (ret < 0)
		return ret;
	/* Only the context thread removes: indexes are stable here. */
	while ((i = lower_bound(dt, addr)) < dt->n &&
	       dt->m[i].addr <= span_last(addr, size)) {
		remove_at(dt, i, fn, opaque);
		removed++;
	}
	return removed;
}

void dma_remove_all(struct dma_table *dt, dma_region_fn *fn, void *opaque)
{
	while (dt->n > 0)
		remove_at(dt, dt->n - 1, fn, opaque);
}

void dma_set_msg_fn(struct dma_table *dt, dma_msg_fn *fn, void *opaque)
{
	dt->msg_fn = fn;
	dt->msg_opaque = opaque;
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

static int sg_locked(struct dma_table *dt, uint64_t addr, uint64_t len,
		     uint32_t prot, struct vus_sg *sg, size_t max_sg,
		     size_t *nr_sg)
{
	size_t n = 0;

	while (len > 0) {
		const struct dma_map *m = find(dt, addr);
		uint64_t piece;

		if (m == NULL)
			return -EFAULT;
		if ((m->prot & prot) != prot)
			return -EACCES;
		if (m->vaddr == NULL)
			return -EOPNOTSUPP;
		piece = piece_len(m, addr, len);
		if (n < max_sg)
			sg[n] = (struct vus_sg){ .addr = addr, .len = piece,
						 .vaddr = m->vaddr + (addr - m->addr) };
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
	struct dma_table *dt;
	size_t n = 0;
	int ret;

	if (ctx == NULL || nr_sg == NULL || (sg == NULL && max_sg > 0))
		return -EINVAL;
	ret = prot_args_check(addr, len, prot);
	if (ret < 0)
		return ret;
	dt = ctx_dma(ctx);
	pthread_rwlock_rdlock(&dt->lock);
	ret = sg_locked(dt, addr, len, prot, sg, max_sg, &n);
	pthread_rwlock_unlock(&dt->lock);
	*nr_sg = n;
	return ret;
}

/* Copy one piece; message-only mappings go through the engine. */
static int xfer(vus_ctx *ctx, struct dma_table *dt, bool write, uint64_t addr,
		uint8_t *buf, uint64_t len)
{
	while (len > 0) {
		const struct dma_map *m;
		uint64_t piece;
		uint8_t *p = NULL;
		int ret = 0;

		pthread_rwlock_rdlock(&dt->lock);
		m = find(dt, addr);
		if (m == NULL)
			ret = -EFAULT;
		else if (!(m->prot & (write ? VUS_DMA_WRITE : VUS_DMA_READ)))
			ret = -EACCES;
		if (ret == 0) {
			piece = piece_len(m, addr, len);
			if (m->vaddr != NULL) {
				p = m->vaddr + (addr - m->addr);
				if (write)
					memcpy(p, buf, piece);
				else
					memcpy(buf, p, piece);
			}
		}
		pthread_rwlock_unlock(&dt->lock);
		if (ret == 0 && p == NULL) {
			/* Without an fd only messages reach this memory. */
			if (!ctx_on_thread(ctx) || dt->msg_fn == NULL)
				ret = -EOPNOTSUPP;
			else
				ret = dt->msg_fn(dt->msg_opaque, write, addr,
						 buf, piece);
		}
		if (ret < 0)
			return ret;
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
	struct dma_table *dt;
	const struct dma_map *m;
	uint32_t prot = write ? VUS_DMA_WRITE : VUS_DMA_READ;
	int ret = 0;

	if (ctx == NULL || val == NULL || (addr & (size - 1)))
		return -EINVAL;
	dt = ctx_dma(ctx);
	pthread_rwlock_rdlock(&dt->lock);
	m = find(dt, addr);
	if (m == NULL || m->last - addr < size - 1)
		ret = -EFAULT;
	else if (!(m->prot & prot))
		ret = -EACCES;
	else if (m->vaddr == NULL)
		ret = -EOPNOTSUPP;
	if (ret == 0)
		load_store(m->vaddr + (addr - m->addr), val, size, write);
	pthread_rwlock_unlock(&dt->lock);
	return ret;
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

VUS_EXPORT size_t vus_dma_nr_regions(vus_ctx *ctx)
{
	struct dma_table *dt;
	size_t n;

	if (ctx == NULL)
		return 0;
	dt = ctx_dma(ctx);
	pthread_rwlock_rdlock(&dt->lock);
	n = dt->n;
	pthread_rwlock_unlock(&dt->lock);
	return n;
}
