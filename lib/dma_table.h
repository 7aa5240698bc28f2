/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_table (internal): the client's DMA mappings. Sorted blocks
 * (dma_blocks.c) searched by binary search without a lock (a sequence
 * count makes readers retry while the context thread inserts): device threads translate while the context
 * thread adds mappings. Removing a mapping happens only after the engine
 * has quiesced the device, so readers never race a removal. Mappings with
 * an fd point into one mmap of their whole file, shared by all mappings of
 * that file, and one fd per distinct file is kept (at most DMA_MAX_FILES)
 * so the mappings can be handed to another process; mappings without one
 * are reached through a message hook the engine installs.
 */
#ifndef VUS_DMA_INTERNAL_H
#define VUS_DMA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vus/dma.h"

struct log;
struct dma_table;

/* Most distinct files whose fd is kept for the client's mappings. A
 * mapping of a further file works but cannot be handed over. */
#define DMA_MAX_FILES 256u

int dma_table_create(struct log *log, uint32_t max_maps,
		     struct dma_table **out);
void dma_table_destroy(struct dma_table *dt);

/*
 * A SIGBUS in a mapping (its client shrank the file, or it has a hole
 * that cannot be filled) replaces the mapping with anonymous memory of
 * its size, and the access goes on (dma_fault.c). The handler writes 1
 * to @fd (a private non-blocking eventfd; -1: none) so that the context
 * thread calls dma_fault_report(), which logs what happened.
 */
void dma_fault_set_wake(struct dma_table *dt, int fd);
void dma_fault_report(struct dma_table *dt);

/**
 * Whether a new mapping could be added: 0, -EINVAL (size 0, wraps past
 * 2^64, prot not READ/WRITE), -EEXIST (overlaps), -ENOSPC (too many).
 * Pure.
 */
int dma_map_check(struct dma_table *dt, uint64_t addr, uint64_t size,
		  uint32_t prot);

/**
 * Add a mapping. @fd (taken in all cases) is mapped at @offset for @size
 * bytes (a regular file's mmap is shared with the other mappings of the
 * same file and protection), and kept open if no fd of its file is
 * (closed otherwise); -1 makes a message-only mapping. An fd whose file is too
 * small for [offset, offset + size) gives -EINVAL (touching it would
 * SIGBUS). Fills *out. Errors as dma_map_check(), plus -ENOMEM or the
 * errno of fstat/mmap.
 */
int dma_add(struct dma_table *dt, uint64_t addr, uint64_t size, uint32_t prot,
	    int fd, uint64_t offset, struct vus_dma_region *out);

/*
 * Dirty logging (for migration). Start and stop on the context thread with
 * the device quiesced. While on, every mapping, also later ones, tracks
 * its 4 KiB pages the device writes through vus_dma_* and
 * vus_dma_mark_dirty().
 */
/* -EBUSY if on, -ENOMEM, -E2BIG past DMA_LOG_MAX_WORDS of bitmap */
int dma_log_start(struct dma_table *dt);
void dma_log_stop(struct dma_table *dt);
bool dma_log_active(const struct dma_table *dt);

/**
 * Report and clear the pages written in [iova, iova + len): bit k of
 * @out (uint64_t words, little-endian bit order, zeroed by the caller,
 * ceil(len / page_size / 64) of them) covers [iova + k * page_size, +
 * page_size). -EINVAL if logging is off, the range wraps or @page_size is
 * not a power of two. Context thread.
 */
int dma_log_report(struct dma_table *dt, uint64_t iova, uint64_t len,
		   uint64_t page_size, uint64_t *out);

typedef void dma_region_fn(void *opaque, const struct vus_dma_region *r);

/**
 * Whether removing [addr, addr + size) is possible, as the kernel's type1
 * IOMMU rules it: 0 for a range covering whole mappings (any number, none
 * included), -EINVAL for one that would split a mapping (or wraps). Pure.
 */
int dma_remove_check(struct dma_table *dt, uint64_t addr, uint64_t size);

/**
 * Remove mappings in the range checked by dma_remove_check(); @fn runs for
 * each before it is unmapped. Returns the number removed (0 for a range
 * without any) or -errno.
 */
int dma_remove(struct dma_table *dt, uint64_t addr, uint64_t size,
	       dma_region_fn *fn, void *opaque);

/** Remove everything, calling @fn for each mapping. */
void dma_remove_all(struct dma_table *dt, dma_region_fn *fn, void *opaque);

/* Counters since the context was created (query-stats). */
struct dma_stats {
	uint32_t maps_live;
	uint64_t maps_total;
	uint64_t unmaps_total;
	uint64_t dirty_pages_reported; /* 4 KiB pages taken out of the log */
};

/** The counters (context thread). */
void dma_get_stats(const struct dma_table *dt, struct dma_stats *out);

/**
 * Message transfer hook for message-only mappings: read (@write false) or
 * write @len bytes at @addr. Returns 0 or -errno.
 */
typedef int dma_msg_fn(void *opaque, bool write, uint64_t addr, void *buf,
		       size_t len);
void dma_set_msg_fn(struct dma_table *dt, dma_msg_fn *fn, void *opaque);
/** Map no fd: every mapping is reached by messages (VUS_CTX_DMA_MESSAGES). */
void dma_set_messages_only(struct dma_table *dt, bool on);

/* Hand-over: a mapping as another process re-creates it with dma_add(). */
struct dma_saved {
	uint64_t addr;
	uint64_t size;
	uint32_t prot;
	int fd;          /* the kept fd of its file (borrowed), -1: no fd */
	uint64_t offset;
	/* Which file that is (crash recovery keeps one fd per file). */
	uint64_t file_dev;
	uint64_t file_ino;
	int file_accmode;
};

/** Number of mappings. */
uint32_t dma_count(const struct dma_table *dt);

/**
 * Mapping @i in address order (a walk from 0 up costs one step a
 * mapping). -EMFILE if it has an fd whose file was not
 * kept (more than DMA_MAX_FILES distinct files), -ENOENT past the end.
 */
int dma_save(struct dma_table *dt, uint32_t i, struct dma_saved *out);

/** The most mappings the table holds. */
uint32_t dma_max_maps(const struct dma_table *dt);

/** Open fds kept for mappings (tests, the fd count bound). */
uint32_t dma_kept_files(const struct dma_table *dt);

#endif /* VUS_DMA_INTERNAL_H */
