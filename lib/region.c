/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region: the region table and access dispatch. A client access goes, in
 * this order, to a matching ioeventfd (writes only), to backing memory
 * (inside an mmap area, or anywhere when the region has no callbacks), or
 * to the device's callbacks. Everything about a region is fixed before
 * realize, so lookups need no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "efd.h"
#include "log.h"
#include "region_table.h"
#include "vus/region.h"


struct region {
	bool used;
	uint64_t size;
	uint32_t flags;
	bool has_ops;
	struct vus_region_ops ops;
	void *opaque;
	enum vus_region_backing backing;
	int fd;
	uint64_t fd_offset;
	void *map;       /* our mapping of the backing, page-aligned */
	size_t map_len;
	int map_prot;
	uint8_t *mem;    /* the region's first byte inside @map */
	struct vus_mmap_area *areas;
	uint32_t nr_areas;
	bool sparse;
	uint32_t type;
	uint32_t subtype;
	struct region_ioev *ioevs;
	unsigned int nr_ioevs;
	bool migrates;       /* VUS_BACKING_MEM, not opted out */
	bool adopted;        /* memory taken over from the old process */
	uint32_t access_min; /* the callbacks' accesses, resolved */
	uint32_t access_max;
	uint32_t access_flags;
};

struct region_table {
	vus_ctx *ctx; /* passed to the callbacks */
	struct log *log;
	uint64_t reserved;
	bool keep_adopted; /* region_keep_adopted() */
	struct region r[REGION_MAX_INDEX];
};

_Static_assert(REGION_MAX_INDEX <= 64, "reserved is a 64-bit mask");

int region_table_create(vus_ctx *ctx, struct log *log,
			struct region_table **out)
{
	struct region_table *rt = calloc(1, sizeof(*rt));

	if (rt == NULL)
		return -ENOMEM;
	rt->ctx = ctx;
	rt->log = log;
	for (unsigned int i = 0; i < REGION_MAX_INDEX; i++)
		rt->r[i].fd = -1;
	*out = rt;
	return 0;
}

static void region_free(struct region *r)
{
	for (unsigned int i = 0; i < r->nr_ioevs; i++)
		close_fd(&r->ioevs[i].fd);
	free(r->ioevs);
	free(r->areas);
	if (r->map != NULL)
		munmap(r->map, r->map_len);
	close_fd(&r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

void region_table_destroy(struct region_table *rt)
{
	if (rt == NULL)
		return;
	for (unsigned int i = 0; i < REGION_MAX_INDEX; i++)
		region_free(&rt->r[i]);
	free(rt);
}

void region_reserve(struct region_table *rt, uint32_t first, uint32_t n)
{
	for (uint32_t i = first; i < first + n && i < REGION_MAX_INDEX; i++)
		rt->reserved |= 1ull << i;
}

bool region_reserved(const struct region_table *rt, uint32_t index)
{
	return index < REGION_MAX_INDEX && (rt->reserved & (1ull << index));
}

static int area_cmp(const void *a, const void *b)
{
	const struct vus_mmap_area *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Areas: page-aligned, non-empty, inside the region, not overlapping. */
static int areas_check(const struct vus_mmap_area *a, uint32_t n,
		       uint64_t size)
{
	for (uint32_t i = 0; i < n; i++) {
		if (a[i].size == 0 || a[i].offset % PAGE_4K || a[i].size % PAGE_4K)
			return -EINVAL;
		if (!range_ok(a[i].offset, a[i].size, size))
			return -EINVAL;
		if (i > 0 && a[i - 1].offset + a[i - 1].size > a[i].offset)
			return -EINVAL;
	}
	return 0;
}

static int set_areas(struct region *r, const struct vus_region_desc *d)
{
	uint32_t n = d->mmap_areas ? d->nr_mmap_areas : 1;
	int ret;

	/* Memory that is not whole pages is served, but not offered for mmap. */
	if (d->mmap_areas == NULL && r->size % PAGE_4K != 0)
		return 0;
	if (n == 0 || n > REGION_MAX_AREAS)
		return -EINVAL;
	r->areas = calloc(n, sizeof(*r->areas));
	if (r->areas == NULL)
		return -ENOMEM;
	if (d->mmap_areas != NULL) {
		memcpy(r->areas, d->mmap_areas, n * sizeof(*r->areas));
		qsort(r->areas, n, sizeof(*r->areas), area_cmp);
	} else {
		r->areas[0].size = r->size;
	}
	r->nr_areas = n;
	ret = areas_check(r->areas, n, r->size);
	if (ret == 0)
		r->sparse = !(n == 1 && r->areas[0].offset == 0 &&
			      r->areas[0].size == r->size);
	return ret;
}

/* Map [fd_offset, fd_offset + size) for the device's own use. */
static int map_backing(struct region *r)
{
	size_t len = (size_t)((r->size + PAGE_4K - 1) & ~(uint64_t)(PAGE_4K - 1));
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		 (off_t)r->fd_offset);
	r->map_prot = PROT_READ | PROT_WRITE;
	if (p == MAP_FAILED) {
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd,
			 (off_t)r->fd_offset);
		r->map_prot = PROT_READ;
	}
	if (p == MAP_FAILED)
		return -errno;
	r->map = p;
	r->map_len = len;
	r->mem = p;
	return 0;
}

static int make_memfd(struct region *r)
{
	/* The client gets this fd: it must not be able to resize it. */
	r->fd_offset = 0;
	return sealed_memfd("vus-region", r->size, &r->fd);
}

static int set_backing(struct region *r, const struct vus_region_desc *d)
{
	int ret;

	r->backing = d->backing;
	switch (d->backing) {
	case VUS_BACKING_NONE:
		return d->mmap_areas == NULL && d->nr_mmap_areas == 0 && r->has_ops
		       ? 0 : -EINVAL;
	case VUS_BACKING_MEM:
		ret = make_memfd(r);
		break;
	case VUS_BACKING_FD:
		if (d->fd < 0 || d->fd_offset % PAGE_4K)
			return -EINVAL;
		r->fd = fcntl(d->fd, F_DUPFD_CLOEXEC, 0);
		ret = r->fd < 0 ? -errno : 0;
		r->fd_offset = d->fd_offset;
		break;
	default:
		return -EINVAL;
	}
	if (ret == 0)
		ret = set_areas(r, d);
	if (ret == 0)
		ret = map_backing(r);
	return ret;
}

/* Resolve the defaults; sizes powers of two, min <= max, known flags. */
static int set_access(struct region *r, const struct vus_region_desc *d)
{
	uint32_t min = d->access_min ? d->access_min : 1;
	uint32_t max = d->access_max ? d->access_max : 8;

	if (d->access_flags & ~(VUS_ACCESS_UNALIGNED | VUS_ACCESS_ANY))
		return -EINVAL;
	if ((d->access_flags & VUS_ACCESS_ANY) &&
	    (d->access_min != 0 || d->access_max != 0))
		return -EINVAL;
	if (!is_pow2_u64(min) || !is_pow2_u64(max) || min > max)
		return -EINVAL;
	r->access_min = min;
	r->access_max = max;
	r->access_flags = d->access_flags;
	return 0;
}

/* Whether the callbacks accept [off, +len) (len > 0). */
static bool access_valid(const struct region *r, uint64_t off, size_t len)
{
	if (r->access_flags & VUS_ACCESS_ANY)
		return true;
	if (len < r->access_min || len > r->access_max || !is_pow2_u64(len))
		return false;
	return (r->access_flags & VUS_ACCESS_UNALIGNED) || off % len == 0;
}

int region_add(struct region_table *rt, uint32_t index,
	       const struct vus_region_desc *desc, void *default_opaque)
{
	struct vus_region_desc d;
	struct region *r;
	int ret;

	if (index >= REGION_MAX_INDEX || copy_sized(&d, sizeof(d), desc) < 0)
		return -EINVAL;
	r = &rt->r[index];
	if (r->used)
		return -EEXIST;
	if (d.size == 0 || d.flags == 0 ||
	    (d.flags & ~(VUS_REGION_READ | VUS_REGION_WRITE)))
		return -EINVAL;
	r->size = d.size;
	r->flags = d.flags;
	r->opaque = d.opaque ? d.opaque : default_opaque;
	r->type = d.type;
	r->subtype = d.subtype;
	ret = set_access(r, &d);
	if (ret < 0)
		goto fail;
	if (d.ops != NULL) {
		ret = copy_sized(&r->ops, sizeof(r->ops), d.ops);
		if (ret < 0)
			goto fail;
		r->has_ops = r->ops.read != NULL || r->ops.write != NULL;
	}
	ret = set_backing(r, &d);
	if (ret < 0)
		goto fail;
	r->migrates = d.backing == VUS_BACKING_MEM && !d.no_migrate;
	r->used = true;
	return 0;
fail:
	region_free(r);
	return ret;
}

bool region_exists(const struct region_table *rt, uint32_t index)
{
	return index < REGION_MAX_INDEX && rt->r[index].used;
}

uint32_t region_count(const struct region_table *rt)
{
	for (uint32_t i = REGION_MAX_INDEX; i > 0; i--)
		if (rt->r[i - 1].used)
			return i;
	return 0;
}

int region_get_info(const struct region_table *rt, uint32_t index,
		    struct region_info *out)
{
	const struct region *r;

	if (index >= REGION_MAX_INDEX)
		return -EINVAL;
	r = &rt->r[index];
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!r->used)
		return 0;
	out->size = r->size;
	out->flags = r->flags;
	/* The client only gets an fd for something it may map. */
	out->fd = r->nr_areas > 0 ? r->fd : -1;
	out->fd_offset = r->fd_offset;
	out->areas = r->areas;
	out->nr_areas = r->nr_areas;
	out->sparse = r->sparse;
	out->type = r->type;
	out->subtype = r->subtype;
	return 0;
}

static uint64_t le_value(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t v = 0;

	for (size_t i = len; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

/* A write that is exactly a registered doorbell signals it instead. */
static bool ioeventfd_hit(struct region *r, uint64_t off, const void *buf,
			  size_t len)
{
	for (unsigned int i = 0; i < r->nr_ioevs; i++) {
		const struct region_ioev *e = &r->ioevs[i];

		if (e->offset != off || e->size != len)
			continue;
		if (e->datamatch && e->data != le_value(buf, len))
			continue;
		(void)efd_signal(e->fd);
		return true;
	}
	return false;
}

static bool in_area(const struct region *r, uint64_t off, size_t len)
{
	for (uint32_t i = 0; i < r->nr_areas; i++) {
		const struct vus_mmap_area *a = &r->areas[i];

		if (off >= a->offset && off - a->offset < a->size &&
		    len <= a->size - (off - a->offset))
			return true;
	}
	return false;
}

int region_access(struct region_table *rt, uint32_t index, uint64_t offset,
		  void *buf, size_t len, bool is_write)
{
	struct region *r;

	if (!region_exists(rt, index))
		return -EINVAL;
	r = &rt->r[index];
	if (!(r->flags & (is_write ? VUS_REGION_WRITE : VUS_REGION_READ)))
		return -EINVAL;
	if (!range_ok(offset, len, r->size))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (is_write && ioeventfd_hit(r, offset, buf, len))
		return 0;
	if (r->mem != NULL && (!r->has_ops || in_area(r, offset, len))) {
		if (is_write)
			memcpy(r->mem + offset, buf, len);
		else
			memcpy(buf, r->mem + offset, len);
		return 0;
	}
	/* Callbacks never see a length they did not declare (a uint64_t
	 * copied from a 16-byte read would leak or overflow). */
	if (!access_valid(r, offset, len)) {
		log_client(rt->log, VUS_LOG_WARNING,
			   "region %u: %zu-byte %s at 0x%" PRIx64 " refused "
			   "(accepts %u to %u bytes%s)", index, len,
			   is_write ? "write" : "read", offset, r->access_min,
			   r->access_max, r->access_flags & VUS_ACCESS_UNALIGNED
			   ? "" : ", naturally aligned");
		return -EINVAL;
	}
	if (is_write)
		return r->ops.write ? r->ops.write(rt->ctx, r->opaque, offset,
						  buf, len)
				    : -EINVAL;
	return r->ops.read ? r->ops.read(rt->ctx, r->opaque, offset, buf, len)
			    : -EINVAL;
}

const void *region_read_ptr(struct region_table *rt, uint32_t index,
			    uint64_t offset, size_t len)
{
	struct region *r;

	if (!region_exists(rt, index))
		return NULL;
	r = &rt->r[index];
	if (!(r->flags & VUS_REGION_READ) || !range_ok(offset, len, r->size) ||
	    len == 0 || r->mem == NULL)
		return NULL;
	if (r->has_ops && !in_area(r, offset, len))
		return NULL;
	return r->mem + offset;
}

void *region_mem(struct region_table *rt, uint32_t index)
{
	return region_exists(rt, index) ? rt->r[index].mem : NULL;
}

bool region_migrates(const struct region_table *rt, uint32_t index,
		     uint64_t *size)
{
	if (!region_exists(rt, index) || !rt->r[index].migrates)
		return false;
	*size = rt->r[index].size;
	return true;
}

int region_backing(const struct region_table *rt, uint32_t index, int *fd,
		   uint64_t *offset, uint64_t *size)
{
	const struct region *r;

	if (!region_exists(rt, index) || rt->r[index].map == NULL)
		return -ENOENT;
	r = &rt->r[index];
	if (fd != NULL)
		*fd = r->fd;
	if (offset != NULL)
		*offset = r->fd_offset;
	if (size != NULL)
		*size = r->size;
	return 0;
}

/* The old process's file must serve our mapping as ours did. */
static int adopt_check(const struct region *r, int fd, uint64_t offset,
		       uint64_t size)
{
	struct stat st;
	int seals;

	if (r->map == NULL || size != r->size || offset != r->fd_offset)
		return -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !range_ok(offset, r->map_len, (uint64_t)st.st_size))
		return -EINVAL;
	/* Memory we made was sealed; what replaces it must be as well. */
	seals = fcntl(fd, F_GET_SEALS);
	if (r->backing == VUS_BACKING_MEM &&
	    (seals < 0 || !(seals & F_SEAL_SHRINK)))
		return -EINVAL;
	return 0;
}

int region_adopt_backing(struct region_table *rt, uint32_t index, int fd,
			 uint64_t offset, uint64_t size)
{
	struct region *r = region_exists(rt, index) ? &rt->r[index] : NULL;
	int ret = r ? adopt_check(r, fd, offset, size) : -EINVAL;

	/* At our address: pointers the device took stay valid. */
	if (ret == 0 && mmap(r->map, r->map_len, r->map_prot,
			     MAP_SHARED | MAP_FIXED, fd, (off_t)offset) == MAP_FAILED)
		ret = -errno;
	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	close_fd(&r->fd);
	r->fd = fd;
	r->adopted = true;
	return 0;
}

void region_keep_adopted(struct region_table *rt, bool keep)
{
	rt->keep_adopted = keep;
	if (!keep)
		for (unsigned int i = 0; i < REGION_MAX_INDEX; i++)
			rt->r[i].adopted = false;
}

bool region_load_skips(const struct region_table *rt, uint32_t index)
{
	return rt->keep_adopted && index < REGION_MAX_INDEX &&
	       rt->r[index].adopted;
}

static int ioev_check(const struct region *r, const struct vus_ioeventfd *io)
{
	if (io->size != 1 && io->size != 2 && io->size != 4 && io->size != 8)
		return -EINVAL;
	if (!range_ok(io->offset, io->size, r->size) || io->fd < 0)
		return -EINVAL;
	if (r->nr_ioevs >= REGION_MAX_IOEVENTFDS)
		return -ENOSPC;
	for (unsigned int i = 0; i < r->nr_ioevs; i++) {
		const struct region_ioev *e = &r->ioevs[i];
		bool same = e->offset == io->offset && e->size == io->size;

		/* Several doorbells may share an address, told apart by data. */
		if (same && e->datamatch && io->datamatch && e->data != io->data)
			continue;
		if (io->offset < e->offset + e->size &&
		    e->offset < io->offset + io->size)
			return -EEXIST;
	}
	return 0;
}

int region_ioeventfd_add(struct region_table *rt, uint32_t index,
			 const struct vus_ioeventfd *io)
{
	struct region_ioev *n;
	struct region *r;
	int ret, fd;

	if (!region_exists(rt, index))
		return -EINVAL;
	r = &rt->r[index];
	ret = ioev_check(r, io);
	if (ret < 0)
		return ret;
	fd = fcntl(io->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = realloc(r->ioevs, (r->nr_ioevs + 1) * sizeof(*n));
	if (n == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	r->ioevs = n;
	n[r->nr_ioevs++] = (struct region_ioev){
		.offset = io->offset, .size = io->size,
		.datamatch = io->datamatch, .data = io->data, .fd = fd,
	};
	return 0;
}

unsigned int region_ioeventfds(const struct region_table *rt, uint32_t index,
			       const struct region_ioev **out)
{
	*out = NULL;
	if (!region_exists(rt, index))
		return 0;
	*out = rt->r[index].ioevs;
	return rt->r[index].nr_ioevs;
}

/* Public API. */

VUS_EXPORT int vus_region_setup(vus_ctx *ctx, uint32_t index,
				const struct vus_region_desc *desc)
{
	struct region_table *rt;

	if (ctx == NULL || desc == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	rt = ctx_regions(ctx);
	if (region_reserved(rt, index))
		return -EINVAL;
	return region_add(rt, index, desc, vus_ctx_opaque(ctx));
}

VUS_EXPORT void *vus_region_mem(vus_ctx *ctx, uint32_t index)
{
	return ctx ? region_mem(ctx_regions(ctx), index) : NULL;
}

VUS_EXPORT int vus_region_add_ioeventfd(vus_ctx *ctx, uint32_t index,
					const struct vus_ioeventfd *ioev)
{
	struct vus_ioeventfd io;

	if (ctx == NULL || ioev == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	/* An older, smaller struct: what it lacks is zero. */
	if (copy_sized(&io, sizeof(io), ioev) < 0)
		return -EINVAL;
	return region_ioeventfd_add(ctx_regions(ctx), index, &io);
}
