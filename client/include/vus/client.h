/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus client: the VMM side of vfio-user, for tests, tools and VMMs
 * written in C. Connects to a device server, negotiates, and offers the
 * operations a VMM needs: device/region/IRQ info, region access, DMA
 * mappings (memfd-backed, or served by messages), interrupt eventfds, reset.
 * Its own library: link with `pkg-config --libs libvus-client`; it shares
 * nothing with the device side's API. vus/client_mig.h (migration, dirty
 * logging) and vus/client_sysbus.h (platform device descriptions) are
 * included below.
 *
 * Calls block until the server replies or the timeout passes. While a call
 * waits, server requests (DMA_READ/DMA_WRITE into fd-less mappings) are
 * served from the client's memory; vus_client_process() serves them when
 * idle. A client object is used from one thread at a time.
 *
 * Versioned structs: the info structs the library fills start with
 * size_t struct_size, which the caller sets to sizeof the struct before
 * the call. A smaller one (a program built against an older header) gets
 * the fields it has; a size larger than this library knows is -EINVAL.
 * Structs the caller fills (vus_client_config) work the same way: a smaller
 * one is accepted, what it lacks counting as zero. Arrays
 * (vus_client_ioeventfd, vus_client_range) have a fixed layout.
 *
 * Errors: 0 or a non-negative count on success, a negative errno on
 * failure. An error reply from the server returns its errno negated.
 * -ETIMEDOUT when no reply came in time (the connection stays usable: a
 * late reply is recognised by its message id and dropped); -ENOTCONN once
 * the connection is gone (every later call fails the same way); -EPROTO
 * for a reply that breaks the protocol (wrong size, unexpected fds, a
 * malformed capability chain...), whose fds are closed.
 *
 * The server is not trusted: replies are checked against what was asked
 * before they are used, and DMA_READ/DMA_WRITE requests are checked
 * against the mappings (range, permission, transfer limit) before a byte
 * of client memory is touched; a bad request gets an error reply.
 */
#ifndef VUS_CLIENT_H
#define VUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

#ifndef VUS_CLIENT_TYPEDEF
#define VUS_CLIENT_TYPEDEF
/** Opaque client connection. */
typedef struct vus_client vus_client;
#endif

/** Connection parameters. Zero-initialise, then set what you need. */
struct vus_client_config {
	size_t struct_size;          /**< sizeof(struct vus_client_config) */
	/**
	 * Largest DMA transfer we accept from the server; also bounds the
	 * pieces REGION_READ replies come in. 0: 1 MiB. 4 KiB .. 64 MiB.
	 */
	uint32_t max_data_xfer_size;
	/** Most fds we accept in one message. 0: 16. At most 16. */
	uint32_t max_msg_fds;
	/** Wait for each reply at most this long. 0: 5000 ms. Not negative. */
	int timeout_ms;
};

/**
 * Connect to the server listening at @path and negotiate VERSION.
 * @cfg may be NULL for defaults. On success *out owns the connection.
 * Errors: -EINVAL (a config field out of range), -ENAMETOOLONG, connect's
 * errno, -EPROTO (the server's VERSION reply is malformed, has fds, or
 * answers another major or a higher minor), the server's errno for a
 * refused VERSION, -ETIMEDOUT.
 */
int vus_client_connect(const char *path, const struct vus_client_config *cfg,
		       vus_client **out);

/** As vus_client_connect() on a connected socket @fd (taken, also on error). */
int vus_client_attach_fd(int fd, const struct vus_client_config *cfg,
			 vus_client **out);

/**
 * Close the connection, unmap every DMA mapping this client made and close
 * every eventfd it created. No message is sent: the server forgets the
 * client's mappings and eventfds when the socket closes. NULL is ignored.
 */
void vus_client_close(vus_client *c);

/** The socket, e.g. to poll for server requests. */
int vus_client_fd(const vus_client *c);

/**
 * What the server announced in its VERSION reply (the spec's defaults for
 * keys it left out), as this client uses it: max_msg_fds clamped to 253
 * and max_data_xfer_size to 64 MiB.
 */
struct vus_client_caps {
	/** sizeof(struct vus_client_caps), set before the call */
	size_t struct_size;
	uint16_t major;
	uint16_t minor;
	uint64_t max_msg_fds;
	uint64_t max_data_xfer_size;
	uint64_t pgsizes;
	uint64_t max_dma_maps;
	bool write_multiple;
};

/**
 * The server's negotiated capabilities. -EINVAL for an out->struct_size
 * this library does not know, -ENOTCONN before negotiation and once the
 * connection is gone.
 */
int vus_client_server_caps(const vus_client *c, struct vus_client_caps *out);

/* Device flags (VFIO_DEVICE_FLAGS_*). */
#define VUS_CLIENT_DEV_RESET 0x1u
#define VUS_CLIENT_DEV_PCI 0x2u
#define VUS_CLIENT_DEV_PLATFORM 0x4u

struct vus_client_device_info {
	/** sizeof(struct vus_client_device_info), set before the call */
	size_t struct_size;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};

int vus_client_device_info(vus_client *c, struct vus_client_device_info *out);

/* Region flags (VFIO_REGION_INFO_FLAG_*). */
#define VUS_CLIENT_REGION_READ 0x1u
#define VUS_CLIENT_REGION_WRITE 0x2u
#define VUS_CLIENT_REGION_MMAP 0x4u

#define VUS_CLIENT_MAX_AREAS 64

/** A part of a region the client may mmap. */
struct vus_client_area {
	uint64_t offset; /**< from the start of the region */
	uint64_t size;
};

struct vus_client_region_info {
	/** sizeof(struct vus_client_region_info), set before the call */
	size_t struct_size;
	uint32_t index;
	uint32_t flags;    /**< VUS_CLIENT_REGION_* */
	uint64_t size;     /**< 0: no region at this index */
	uint64_t offset;   /**< mmap offset in @fd */
	/** Areas the client may mmap; with MMAP and no sparse capability,
	 * one area covering the region. */
	uint32_t nr_areas;
	struct vus_client_area areas[VUS_CLIENT_MAX_AREAS];
	bool has_type;     /**< a TYPE capability was present */
	uint32_t type;
	uint32_t subtype;
	/** The region's fd (with MMAP), owned by the caller; -1 if none. */
	int fd;
};

/**
 * Describe region @index: asks with argsz 32 as QEMU does, and again with
 * the argsz the server needs for its capability chain (at most 8 KiB, a
 * few times). The chain is walked within the reply, a bounded number of
 * steps; sparse areas must lie inside the region (empty ones are dropped).
 * The caller owns out->fd (close it, or hand it to
 * vus_client_region_mmap()); an fd the server sends without MMAP is
 * closed. -EPROTO for a malformed reply, -E2BIG for more than
 * VUS_CLIENT_MAX_AREAS areas, or the server's errno.
 */
int vus_client_region_info(vus_client *c, uint32_t index,
			   struct vus_client_region_info *out);

/**
 * mmap every area of a region described by @ri (MAP_SHARED, protection
 * from the READ/WRITE flags): *base is the start of a reservation of the
 * region's size in which only the areas are accessible. Release with
 * munmap(*base, ri->size). @ri->fd stays the caller's and may be closed
 * once mapped. -EINVAL without MMAP or areas, or for areas that are not
 * page-aligned or lie outside the region; -EBADF without an fd; mmap's
 * errno.
 */
int vus_client_region_mmap(const struct vus_client_region_info *ri,
			   void **base);

/**
 * Read/write @len bytes of region @index at @offset, split into transfers
 * the server accepts (and, for reads, our own max_data_xfer_size); pieces
 * go in order and the first failure ends the call. @len 0 sends nothing.
 * -EINVAL for a range that wraps past 2^64, -EIO when the server moved
 * fewer bytes than asked, -EPROTO for a reply that does not echo the
 * request, or the server's errno. A posted write is sent with NO_REPLY and
 * not waited for (errors are invisible, as for a VMM's posted MMIO
 * writes); it returns once the socket has taken the bytes, and the server
 * applies it before any later request.
 */
int vus_client_region_read(vus_client *c, uint32_t index, uint64_t offset,
			   void *buf, size_t len);
int vus_client_region_write(vus_client *c, uint32_t index, uint64_t offset,
			    const void *buf, size_t len);
int vus_client_region_write_posted(vus_client *c, uint32_t index,
				   uint64_t offset, const void *buf,
				   size_t len);

/** A doorbell from DEVICE_GET_REGION_IO_FDS. */
struct vus_client_ioeventfd {
	uint64_t offset;
	uint64_t size;
	bool datamatch;
	uint64_t data;
	int fd; /**< owned by the caller */
};

/**
 * Fetch the ioeventfds of region @index: fills at most @max entries and
 * returns how many the server has (@max 0 only counts them). The server
 * sends all entries or none, so with fewer wanted than there are all are
 * fetched and the rest dropped. Each filled entry owns its own fd (entries
 * sharing an fd on the wire get dups). Entries must lie inside the region
 * (learnt with a region info request first) and use the spec's 40-byte
 * ioeventfd layout: -EPROTO otherwise; -E2BIG if they cannot fit one
 * control message.
 */
int vus_client_region_io_fds(vus_client *c, uint32_t index,
			     struct vus_client_ioeventfd *out, unsigned int max);

/**
 * Find capability @id of a PCI device by walking its list in config space
 * (region 7) with REGION_READ: a conventional capability (@ext false, @id
 * 0x01-0xff, e.g. 0x05 MSI, 0x11 MSI-X) or an extended one (@ext true,
 * e.g. 0x0003 Device Serial Number). @after 0 finds the first; the offset
 * of an earlier match finds the next one with that id. Returns the
 * capability's offset in config space (> 0), -ENOENT (none, or no list),
 * -ELOOP (the list loops or points outside its space), -EINVAL (bad @id
 * or @after), or a region read's errno.
 */
int vus_client_pci_find_cap(vus_client *c, uint16_t id, bool ext,
			    uint32_t after);

/* IRQ info flags (VFIO_IRQ_INFO_*). */
#define VUS_CLIENT_IRQ_EVENTFD 0x1u
#define VUS_CLIENT_IRQ_MASKABLE 0x2u
#define VUS_CLIENT_IRQ_AUTOMASKED 0x4u
#define VUS_CLIENT_IRQ_NORESIZE 0x8u

struct vus_client_irq_info {
	/** sizeof(struct vus_client_irq_info), set before the call */
	size_t struct_size;
	uint32_t flags;
	uint32_t count;
};

int vus_client_irq_info(vus_client *c, uint32_t index,
			struct vus_client_irq_info *out);

/**
 * Bind eventfds to vectors [start, start + count) of @index: fds[i] to
 * vector start + i (borrowed; the server gets its own copies). Entries of
 * -1 unbind, and @fds NULL unbinds the whole range. Runs of valid and -1
 * entries go in separate messages, each within the server's max_msg_fds,
 * as QEMU sends them; the first failing message ends the call. -EINVAL for
 * count 0 or a range past 2^32, -E2BIG for fds to a server that takes none.
 */
int vus_client_irq_bind(vus_client *c, uint32_t index, uint32_t start,
			uint32_t count, const int *fds);

/**
 * Disable @index (unbind all vectors). Eventfds made for it by
 * vus_client_irq_enable() are closed.
 */
int vus_client_irq_disable(vus_client *c, uint32_t index);

/**
 * Ask the server to raise vectors (loop-back test of the eventfds).
 * -EINVAL for count 0 (that would mean "disable").
 */
int vus_client_irq_trigger(vus_client *c, uint32_t index, uint32_t start,
			   uint32_t count);

/** Mask (@mask true) or unmask vectors by message. */
int vus_client_irq_mask(vus_client *c, uint32_t index, uint32_t start,
			uint32_t count, bool mask);

/**
 * Bind an eventfd (borrowed) that unmasks (@unmask true) or masks
 * @vector whenever the client signals it, as KVM's INTx resample fd does.
 * @fd -1 unbinds.
 */
int vus_client_irq_bind_mask_fd(vus_client *c, uint32_t index,
				uint32_t vector, int fd, bool unmask);

/**
 * Convenience: create one eventfd per vector [0, count) of @index, owned
 * by the client, and bind them. vus_client_irq_wait() then waits on them.
 * Enabling an index again replaces (closes) its earlier eventfds. -EINVAL
 * for count 0 or above 2048, or as vus_client_irq_bind().
 */
int vus_client_irq_enable(vus_client *c, uint32_t index, uint32_t count);

/**
 * Wait up to @timeout_ms (-1: forever) for @vector of an index enabled with
 * vus_client_irq_enable(), serving server requests meanwhile. Returns the
 * number of signals since the last wait or poll (>= 1), -ETIMEDOUT,
 * -ENOENT (index not enabled), -EINVAL (no such vector), -ENOTCONN.
 */
int vus_client_irq_wait(vus_client *c, uint32_t index, uint32_t vector,
			int timeout_ms);

/** Signals on @vector so far without waiting (0 if none); as irq_wait. */
int vus_client_irq_poll(vus_client *c, uint32_t index, uint32_t vector);

/* DMA protection (VFIO_DMA_MAP_FLAG_*). */
#define VUS_CLIENT_DMA_READ 0x1u
#define VUS_CLIENT_DMA_WRITE 0x2u

/**
 * Create @size bytes of shared memory (a memfd, zeroed, sealed against
 * resizing), map it here at *mem and grant it to the server at DMA address
 * @addr with the fd. The memory belongs to the client until unmapped or
 * closed. -EINVAL (size 0, range past 2^64, @prot not READ/WRITE),
 * -EEXIST (overlaps a mapping of ours), -ENOSPC (the server's max_dma_maps
 * reached); these are checked before anything is sent. Or memfd/mmap's
 * errno, or the server's.
 */
int vus_client_dma_map_memfd(vus_client *c, uint64_t addr, uint64_t size,
			     uint32_t prot, void **mem);

/**
 * Grant [@offset, @offset + @size) of the caller's @fd (a regular file, a
 * memfd, hugetlbfs; anything the server can mmap) to the server at DMA
 * address @addr. The fd stays the caller's: it is sent with DMA_MAP (the
 * server gets its own copy) and may be closed once this returns. The range
 * is mapped here too, readable, and writable when @fd was opened O_RDWR;
 * if @mem is not NULL, *mem is our view of the byte at @offset (valid until
 * the mapping is withdrawn or the client closed). @offset need not be page
 * aligned. Writes through either side reach the file (MAP_SHARED).
 * Errors: -EBADF (@fd < 0, or not open), -EACCES (@prot asks for WRITE on
 * a read-only fd, or the fd is write-only), -EINVAL (as
 * vus_client_dma_map_memfd(), or the range passes a regular file's end),
 * -EEXIST, -ENOSPC; all checked before anything is sent. Or mmap's
 * errno, or the server's.
 */
int vus_client_dma_map_fd(vus_client *c, uint64_t addr, uint64_t size,
			  uint32_t prot, int fd, uint64_t offset, void **mem);

/**
 * Grant @size bytes at @mem (the caller's, kept valid until unmapped)
 * without an fd: the server reaches it with DMA_READ/DMA_WRITE messages,
 * which this client serves while it waits (for a reply, an interrupt, or
 * in vus_client_process()) as far as @prot allows. Errors as
 * vus_client_dma_map_memfd().
 */
int vus_client_dma_map_mem(vus_client *c, uint64_t addr, uint64_t size,
			   uint32_t prot, void *mem);

/**
 * Withdraw a mapping made with one of the calls above: exactly its address
 * and size, else -ENOENT (nothing sent). The memory is served until the
 * server confirms; a memfd mapping is then munmap'd here.
 */
int vus_client_dma_unmap(vus_client *c, uint64_t addr, uint64_t size);

/**
 * Withdraw a mapping as vus_client_dma_unmap() does and get the pages the
 * device wrote in it while dirty logging was on (DMA_UNMAP with
 * GET_DIRTY_BITMAP): bit k of @bitmap (@words uint64_t, at least
 * ceil(size / page_size / 64)) is page addr + k * page_size; the server
 * clears what it reports. -EINVAL (logging off, @page_size not a power of
 * two, @words too small), -ENOENT, or the server's errno.
 */
int vus_client_dma_unmap_dirty(vus_client *c, uint64_t addr, uint64_t size,
			       uint64_t page_size, uint64_t *bitmap,
			       size_t words);

/** Withdraw every mapping (DMA_UNMAP with the ALL flag). */
int vus_client_dma_unmap_all(vus_client *c);

/** DEVICE_RESET. */
int vus_client_reset(vus_client *c);

/**
 * Serve server requests: wait up to @timeout_ms (0: not at all, -1:
 * forever) for the first, then serve whatever else is already there, and
 * flush the answers. Returns the number served (0 on timeout), or
 * -ENOTCONN. Replies nobody waits for are dropped.
 */
int vus_client_process(vus_client *c, int timeout_ms);

#ifdef __cplusplus
}
#endif

#include "vus/client_mig.h"
#include "vus/client_sysbus.h"

#endif /* VUS_CLIENT_H */
