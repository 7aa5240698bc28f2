/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Regions: the address ranges a device exposes (PCI BARs, SysBus MMIO
 * windows). A region is served by read/write callbacks, by memory the client
 * may mmap, or by both (callbacks for the parts outside the mmap areas).
 *
 * PCI devices describe BARs with vus_pci_setup_bar(), which takes the same
 * descriptor; vus_region_setup() is for other buses and extra regions.
 */
#ifndef VUS_REGION_H
#define VUS_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VUS_REGION_READ 0x1u  /**< the client may read */
#define VUS_REGION_WRITE 0x2u /**< the client may write */

/**
 * Region access callbacks. The library guarantees 0 < len, offset + len <=
 * region size, len <= the negotiated transfer limit, and that the access
 * is one the region accepts (vus_region_desc.access_min, by default a
 * naturally aligned 1, 2, 4 or 8 bytes): a callback may copy @len bytes
 * into a uint64_t. Return 0 after transferring all @len bytes, or -errno
 * (reported to the client; EIO is a fine default). Data is in device
 * byte order (little-endian for PCI).
 */
struct vus_region_ops {
	size_t struct_size; /**< sizeof(struct vus_region_ops) */
	int (*read)(vus_ctx *ctx, void *opaque, uint64_t offset, void *buf,
		    size_t len);
	int (*write)(vus_ctx *ctx, void *opaque, uint64_t offset,
		     const void *buf, size_t len);
};

/** A page-aligned part of a region the client may mmap. */
struct vus_mmap_area {
	uint64_t offset;
	uint64_t size;
};

/** Where a region's mmap-able memory comes from. */
enum vus_region_backing {
	VUS_BACKING_NONE = 0, /**< callbacks only */
	VUS_BACKING_MEM = 1,  /**< the library allocates shared memory */
	VUS_BACKING_FD = 2,   /**< the device supplies an mmap-able fd */
};

/* vus_region_desc.access_flags */
#define VUS_ACCESS_UNALIGNED 0x1u /**< offsets need not be multiples of the length */
#define VUS_ACCESS_ANY 0x2u       /**< any length at any offset reaches the callbacks */

/** Region description. Zero-initialise, then set what you need. */
struct vus_region_desc {
	size_t struct_size; /**< sizeof(struct vus_region_desc) */
	uint64_t size;      /**< bytes; must be non-zero */
	uint32_t flags;     /**< VUS_REGION_READ | VUS_REGION_WRITE */
	/**
	 * Callbacks (copied), or NULL when the whole region is memory. With
	 * backing memory, accesses that fall inside an mmap area are served
	 * from memory and never reach the callbacks.
	 */
	const struct vus_region_ops *ops;
	void *opaque; /**< for ops; NULL: the context's opaque */
	enum vus_region_backing backing;
	/**
	 * VUS_BACKING_FD: an fd the client can mmap, at @fd_offset. The
	 * library dups it: the caller keeps ownership of its own @fd.
	 */
	int fd;
	uint64_t fd_offset;
	/**
	 * The parts the client may mmap (copied; page-aligned). NULL with
	 * backing memory means the whole region when its size is a multiple
	 * of 4 KiB, and nothing (memory served by messages only) otherwise.
	 * Areas must not overlap.
	 */
	const struct vus_mmap_area *mmap_areas;
	uint32_t nr_mmap_areas;
	/**
	 * VFIO region type and subtype for the TYPE capability; 0 for none.
	 * Regions beyond a bus's fixed indexes need one.
	 */
	uint32_t type;
	uint32_t subtype;
	/**
	 * Which client accesses reach the callbacks (as QEMU's
	 * MemoryRegionOps .valid): lengths that are powers of two from
	 * @access_min to @access_max bytes (0: 1 and 8), at offsets that are
	 * a multiple of the length unless @access_flags has
	 * VUS_ACCESS_UNALIGNED. Any other access is refused with EINVAL, and
	 * logged, before a callback runs. With VUS_ACCESS_ANY every length
	 * and offset passes (the callbacks must then take any @len; @access_min
	 * and @access_max stay 0). Accesses served from memory (mmap areas, a
	 * region without callbacks) and writes that hit an ioeventfd are
	 * never refused for their size.
	 */
	uint32_t access_min;
	uint32_t access_max;
	uint32_t access_flags;
	/**
	 * Memory the library allocates (VUS_BACKING_MEM) is device state: when
	 * the device migrates (vus_mig_setup()), its contents travel in the
	 * library section "regions", copied once the device has stopped, and
	 * are in place before the device's own sections load. Set this for
	 * memory that is not state (a doorbell page, a scratch buffer). Memory
	 * from VUS_BACKING_FD is the device's to migrate.
	 */
	bool no_migrate;
};

/**
 * Describe region @index. Only before vus_ctx_realize(). Returns -EINVAL
 * (bad descriptor: zero size, unaligned areas, areas outside the region,
 * backing without areas to map, access sizes that are not powers of two
 * or have min > max, unknown access flags, an index reserved by the bus
 * adapter),
 * -EEXIST (already set up), -EBUSY (realized), -ENOMEM, or a memfd/mmap
 * errno for VUS_BACKING_MEM.
 */
int vus_region_setup(vus_ctx *ctx, uint32_t index,
		     const struct vus_region_desc *desc);

/**
 * The device's own mapping of the region's backing memory (MEM or FD), or
 * NULL if it has none. Valid until vus_ctx_destroy(). Memory the client has
 * mmap'd is shared with the guest: read each value once before checking it.
 */
void *vus_region_mem(vus_ctx *ctx, uint32_t index);

/** An ioeventfd doorbell: a client write that only signals an eventfd. */
struct vus_ioeventfd {
	size_t struct_size; /**< sizeof(struct vus_ioeventfd) */
	uint64_t offset;  /**< within the region */
	uint32_t size;    /**< access size to match: 1, 2, 4 or 8 */
	bool datamatch;   /**< match only writes of @data */
	uint64_t data;
	int fd;           /**< eventfd; dup'd by the library */
};

/**
 * Register a doorbell on region @index. A client that supports it (via
 * DEVICE_GET_REGION_IO_FDS) hands the eventfd to its hypervisor so guest
 * writes signal it directly; for clients that send REGION_WRITE instead the
 * library signals the eventfd itself and the write callback is not called.
 * Either way the device only watches the eventfd (e.g. vus_ctx_add_fd()).
 * Only before realize. -EINVAL (bad size, range, index), -EEXIST (overlap),
 * -EBUSY, -ENOMEM, dup's errno.
 */
int vus_region_add_ioeventfd(vus_ctx *ctx, uint32_t index,
			     const struct vus_ioeventfd *ioev);

#ifdef __cplusplus
}
#endif

#endif /* VUS_REGION_H */
