/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA: access to the client's memory (guest RAM) that the client granted
 * with DMA_MAP. Mappings with an fd are mmap'd into this process and
 * accessed directly; mappings without an fd can only be reached with
 * DMA_READ/DMA_WRITE messages to the client.
 *
 * Guest memory is shared with an untrusted guest: copy a structure once into
 * local memory, then check the copy. Naturally aligned 1/2/4/8-byte accesses
 * through vus_dma_read/write{8,16,32,64} are single, untorn accesses.
 *
 * Threads: all functions here are thread-safe for fd-backed mappings. A
 * pointer obtained from vus_dma_sg() stays valid until the device is asked
 * to quiesce for an unmap (or, without a quiesce callback, until control
 * returns to the library on the context thread).
 */
#ifndef VUS_DMA_H
#define VUS_DMA_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VUS_DMA_READ 0x1u  /**< the device may read this memory */
#define VUS_DMA_WRITE 0x2u /**< the device may write this memory */

/** A client mapping, as reported to vus_device_ops.dma_map/dma_unmap. */
struct vus_dma_region {
	uint64_t addr;  /**< DMA (guest-physical / IOVA) address */
	uint64_t size;
	uint32_t prot;  /**< VUS_DMA_READ | VUS_DMA_WRITE */
	void *vaddr;    /**< local mapping, or NULL if reachable by messages only */
};

/** One contiguous piece of a translated DMA range. */
struct vus_sg {
	uint64_t addr; /**< DMA address of this piece */
	uint64_t len;
	void *vaddr;   /**< local address */
};

/**
 * Translate [addr, addr + len) into at most @max_sg directly accessible
 * pieces, each inside one mapping that allows @prot. Sets *nr_sg to the
 * number of pieces used (or, with -ENOSPC, needed). Returns 0, -EINVAL
 * (len 0, range wraps, prot 0), -EFAULT (part of the range is not mapped),
 * -EACCES (a mapping lacks @prot), -EOPNOTSUPP (part is mapped without an
 * fd: use vus_dma_read/write), -ENOSPC (more than @max_sg pieces).
 */
int vus_dma_sg(vus_ctx *ctx, uint64_t addr, uint64_t len, uint32_t prot,
	       struct vus_sg *sg, size_t max_sg, size_t *nr_sg);

/**
 * Copy @len bytes from client memory at @addr into @buf. Mappings without
 * an fd are read with DMA_READ messages; that is only possible on the
 * context thread (-EOPNOTSUPP elsewhere) and needs a client that serves
 * server requests while it waits for its own replies. A range may span
 * adjacent mappings (copied piece by piece); a range that is not wholly
 * mapped with the permission is refused before a byte moves or a message
 * is sent. Returns 0, -EFAULT (not mapped), -EACCES, -EINVAL (wraps past
 * 2^64), -ETIMEDOUT / -ENOTCONN / the client's errno for message DMA.
 */
int vus_dma_read(vus_ctx *ctx, uint64_t addr, void *buf, size_t len);

/** Copy @len bytes from @buf to client memory at @addr. As vus_dma_read(). */
int vus_dma_write(vus_ctx *ctx, uint64_t addr, const void *buf, size_t len);

/**
 * Untorn naturally aligned loads and stores of client memory (-EINVAL if
 * @addr is not aligned to the size; otherwise as vus_dma_read/write, but
 * only for fd-backed memory: -EOPNOTSUPP for message-only mappings; and
 * a single access, so -EFAULT if it does not lie inside one mapping).
 * Values are in host byte order, as the bytes lie in memory.
 */
int vus_dma_read8(vus_ctx *ctx, uint64_t addr, uint8_t *val);
int vus_dma_read16(vus_ctx *ctx, uint64_t addr, uint16_t *val);
int vus_dma_read32(vus_ctx *ctx, uint64_t addr, uint32_t *val);
int vus_dma_read64(vus_ctx *ctx, uint64_t addr, uint64_t *val);
int vus_dma_write8(vus_ctx *ctx, uint64_t addr, uint8_t val);
int vus_dma_write16(vus_ctx *ctx, uint64_t addr, uint16_t val);
int vus_dma_write32(vus_ctx *ctx, uint64_t addr, uint32_t val);
int vus_dma_write64(vus_ctx *ctx, uint64_t addr, uint64_t val);

/**
 * Tell the library that the device wrote [addr, addr + len) of client
 * memory, for migration's dirty page log. Writes through vus_dma_write*()
 * are logged already; a device writing through pointers from vus_dma_sg()
 * must call this after the bytes are written (vus_dma_sg() marks the
 * range too, but before the write, which a log report can overtake).
 * Returns 0, -EINVAL, -EFAULT (not mapped). Thread-safe.
 */
int vus_dma_mark_dirty(vus_ctx *ctx, uint64_t addr, uint64_t len);

/** Number of current client mappings. Thread-safe. */
size_t vus_dma_nr_regions(vus_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* VUS_DMA_H */
