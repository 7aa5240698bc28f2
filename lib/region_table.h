/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region_table (internal): the table of regions, access dispatch (ioeventfds,
 * backing memory, callbacks) and what GET_REGION_INFO / GET_REGION_IO_FDS
 * need to know. Knows nothing of messages or buses; bus adapters reserve
 * their indexes and add their regions with region_add().
 */
#ifndef VUS_REGION_INTERNAL_H
#define VUS_REGION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vus/region.h"

struct log;
struct region_table;
struct vus_mig_section_ops;

/* Upper bound on region indexes (the wire allows 32 bits; we do not). */
#define REGION_MAX_INDEX 64u
#define REGION_MAX_AREAS 64u
#define REGION_MAX_IOEVENTFDS 256u

/** What the engine reports about a region. */
struct region_info {
	uint64_t size;         /* 0: no region at this index */
	uint32_t flags;        /* VUS_REGION_READ | VUS_REGION_WRITE */
	int fd;                /* mmap-able fd (borrowed), or -1 */
	uint64_t fd_offset;    /* where the region starts in @fd */
	const struct vus_mmap_area *areas;
	uint32_t nr_areas;
	bool sparse;           /* areas are not simply the whole region */
	uint32_t type;         /* TYPE capability, 0 for none */
	uint32_t subtype;
};

/** An ioeventfd as stored (fd owned by the table). */
struct region_ioev {
	uint64_t offset;
	uint32_t size;
	bool datamatch;
	uint64_t data;
	int fd;
};

int region_table_create(vus_ctx *ctx, struct log *log,
			struct region_table **out);
void region_table_destroy(struct region_table *rt);

/** Keep indexes [first, first + n) for a bus adapter. */
void region_reserve(struct region_table *rt, uint32_t first, uint32_t n);
bool region_reserved(const struct region_table *rt, uint32_t index);

/**
 * Add a region (no reservation check: for bus adapters). @default_opaque
 * replaces a NULL desc->opaque. Errors as vus_region_setup().
 */
int region_add(struct region_table *rt, uint32_t index,
	       const struct vus_region_desc *desc, void *default_opaque);

/** Whether a region exists at @index. */
bool region_exists(const struct region_table *rt, uint32_t index);

/** Highest index in use + 1 (0 if none). */
uint32_t region_count(const struct region_table *rt);

/** Fill @out; an unused index gives size 0. -EINVAL beyond the max. */
int region_get_info(const struct region_table *rt, uint32_t index,
		    struct region_info *out);

/**
 * Serve a client access: checks the region exists, has the READ/WRITE
 * flag, and [offset, +len) fits (all -EINVAL); a write matching an
 * ioeventfd signals it; an access inside an mmap area of backed memory is
 * a memcpy; anything else goes to the callbacks (-EINVAL without them, or
 * when the region's access rule refuses its length or alignment).
 * Returns 0 or the callback's -errno.
 */
int region_access(struct region_table *rt, uint32_t index, uint64_t offset,
		  void *buf, size_t len, bool is_write);

/**
 * Where a client read of [offset, +len) would be served straight from
 * backing memory (checks as region_access(); the memory path only), or
 * NULL when it goes to callbacks or is refused. Lets a reply be sent from
 * the memory itself instead of a copy.
 */
const void *region_read_ptr(struct region_table *rt, uint32_t index,
			    uint64_t offset, size_t len);

/** The device's mapping of the backing memory, or NULL. */
void *region_mem(struct region_table *rt, uint32_t index);

/**
 * Whether @index's memory migrates: VUS_BACKING_MEM without no_migrate.
 * Sets *size to the region's size when it does.
 */
bool region_migrates(const struct region_table *rt, uint32_t index,
		     uint64_t *size);

/** The "regions" section: migrating memory (region_mig.c). */
#define REGION_MIG_SECTION "regions"
#define REGION_MIG_VERSION 1u
extern const struct vus_mig_section_ops region_mig_ops;
/** The "regions" section's exact size: the bound a destination stages. */
uint64_t region_mig_bytes(const struct region_table *rt);

/**
 * Hand-over: the file behind region @index's memory (borrowed), where the
 * region starts in it and its size. Any pointer may be NULL. -ENOENT if
 * the region has no backing memory.
 */
int region_backing(const struct region_table *rt, uint32_t index, int *fd,
		   uint64_t *offset, uint64_t *size);

/**
 * Hand-over: make @fd (taken, also on error) the region's backing, mapped
 * at the address of ours (so the device's pointers stay valid) with the
 * same protection; our file is closed. The client's mappings of the old
 * process's file then are the region again. -EINVAL: no backing, another
 * size or offset, not a regular file large enough, or (library memory)
 * not sealed against shrinking; or mmap's errno.
 */
int region_adopt_backing(struct region_table *rt, uint32_t index, int fd,
			 uint64_t offset, uint64_t size);

/**
 * Hand-over: while @keep, loading the "regions" section leaves memory
 * adopted with region_adopt_backing() alone: it is the very memory the
 * old process saved, and the client may have stored to it since. Turning
 * it off forgets which regions were adopted.
 */
void region_keep_adopted(struct region_table *rt, bool keep);

/** Whether loading must leave region @index's memory alone (above). */
bool region_load_skips(const struct region_table *rt, uint32_t index);

/** Add an ioeventfd (fd dup'd). Errors as vus_region_add_ioeventfd(). */
int region_ioeventfd_add(struct region_table *rt, uint32_t index,
			 const struct vus_ioeventfd *io);

/** The ioeventfds of @index: sets *out, returns how many. */
unsigned int region_ioeventfds(const struct region_table *rt, uint32_t index,
			       const struct region_ioev **out);

#endif /* VUS_REGION_INTERNAL_H */
