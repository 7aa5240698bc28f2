/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtqueue: the device side of a virtio 1.x split virtqueue, over libvus's
 * DMA API. The rings live in guest memory, which the guest shares with us
 * and may change at any time: every descriptor (and every indirect table
 * entry) is copied into local memory once and checked there, every walk is
 * bounded, and every guest address is translated with vus_dma_sg(), so
 * nothing outside memory the client granted is ever touched.
 *
 * Any violation (an index out of range, a loop, a chain longer than the
 * queue, an indirect table inside an indirect table, a length that wraps,
 * a buffer outside granted memory, a device-readable descriptor after a
 * device-writable one, the available index running ahead by more than the
 * queue size, a ring that is no longer mapped) makes the queue *broken*:
 * every later call fails with -EIO without touching guest memory, and the
 * owner sets DEVICE_NEEDS_RESET. Only vq_start() makes it usable again.
 *
 * Threads: a virtqueue belongs to one thread at a time (the data-path
 * worker); the functions are thread-safe with respect to libvus because
 * they use only vus_dma_*() on fd-backed memory.
 */
#ifndef VIRTQUEUE_H
#define VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vus.h>

/* Virtio 1.x split ring constants. */
#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u
#define VIRTQ_DESC_SIZE 16u
#define VIRTQ_USED_ELEM_SIZE 8u

/** Largest queue size the virtio spec allows for split rings. */
#define VQ_MAX_SIZE 32768u

/** Where a queue lives, as the driver configured it. */
struct vq_layout {
	uint16_t size;  /**< power of two, 1 .. VQ_MAX_SIZE (0 means 32768) */
	uint64_t desc;  /**< descriptor table, 16-byte aligned */
	uint64_t avail; /**< driver area, 2-byte aligned */
	uint64_t used;  /**< device area, 4-byte aligned */
};

#define VQ_F_EVENT_IDX 0x1u /**< VIRTIO_F_EVENT_IDX negotiated */
#define VQ_F_INDIRECT 0x2u  /**< VIRTIO_F_INDIRECT_DESC negotiated */

/**
 * One popped descriptor chain, translated: iov[0, out_num) are the
 * device-readable pieces, iov[out_num, out_num + in_num) the
 * device-writable ones, as pointers into guest memory. The pointers are
 * valid only until the worker parks (quiesce, reset): never keep them.
 */
struct vq_elem {
	uint16_t head;     /**< id to return with vq_push() */
	unsigned int out_num;
	unsigned int in_num;
	uint64_t out_len;  /**< bytes readable */
	uint64_t in_len;   /**< bytes writable */
	unsigned int ndesc; /**< descriptors read to walk it: its cost */
	struct iovec *iov; /**< room for max_iov entries */
	unsigned int max_iov;
	struct vus_sg *sg; /**< sg[i]: where iov[i] lies in guest memory */
};

/** Why a queue broke (for logs and tests). */
enum vq_error {
	VQ_OK = 0,
	VQ_ERR_LAYOUT,       /**< misaligned or unmapped ring, bad size */
	VQ_ERR_AVAIL_IDX,    /**< available index moved by more than the size */
	VQ_ERR_HEAD,         /**< head index out of range */
	VQ_ERR_NEXT,         /**< next index out of range */
	VQ_ERR_CHAIN_LEN,    /**< loop, or chain longer than the queue */
	VQ_ERR_INDIRECT,     /**< nested, not negotiated, with NEXT, bad size */
	VQ_ERR_ORDER,        /**< readable descriptor after a writable one */
	VQ_ERR_BUFFER,       /**< buffer wraps or lies outside granted memory */
	VQ_ERR_TOO_MANY_SG,  /**< more pieces than an element holds */
	VQ_ERR_RING_ACCESS,  /**< a ring access failed (unmapped, read-only) */
	VQ_ERR_USED,         /**< vq_push() of an id not popped */
};

struct virtqueue {
	vus_ctx *ctx;
	struct vq_layout l;
	uint32_t flags;         /**< VQ_F_* */
	bool ready;             /**< started and not broken */
	enum vq_error error;
	uint16_t last_avail;    /**< next available entry to consume */
	uint16_t avail_idx;     /**< driver's index as last read */
	uint16_t used_idx;      /**< next used entry to fill */
	uint16_t published;     /**< used index the driver can see */
	uint16_t signalled;     /**< used index at the last interrupt */
	bool signalled_valid;
	unsigned int max_chain; /**< descriptors per chain (queue size) */
};

/**
 * Start using a queue: checks the layout (size a power of two, rings
 * aligned and inside granted memory with the right permissions) and
 * resets the indexes to 0 (a freshly enabled queue). -EINVAL and a broken
 * queue (VQ_ERR_LAYOUT) if the layout is bad.
 */
int vq_start(struct virtqueue *vq, vus_ctx *ctx, const struct vq_layout *l,
	     uint32_t flags);

/**
 * vq_start() for a queue whose memory is not granted yet (the client went
 * away and a new one has still to map it): the layout is taken with what
 * can be checked without memory; vq_mapped() must say yes before the
 * queue is used.
 */
int vq_start_unmapped(struct virtqueue *vq, vus_ctx *ctx,
		      const struct vq_layout *l, uint32_t flags);

/**
 * Whether a started queue's rings are all in granted memory again (true
 * for a queue that is not ready: nothing to look at).
 */
bool vq_mapped(const struct virtqueue *vq);

/** Forget the queue (not ready, no error). */
void vq_stop(struct virtqueue *vq);

/** Whether the queue can be used (started, not broken). */
static inline bool vq_ready(const struct virtqueue *vq)
{
	return vq->ready;
}

/**
 * Allocate an element's arrays for chains of a queue of @queue_size
 * (each descriptor may span two mappings). 0 or -ENOMEM.
 */
int vq_elem_init(struct vq_elem *e, unsigned int queue_size);
void vq_elem_free(struct vq_elem *e);

/**
 * Take the next available chain into @e. Returns 1 with a chain, 0 when
 * none is available, -EIO when the queue is (or just became) broken.
 */
int vq_pop(struct virtqueue *vq, struct vq_elem *e);

/**
 * Give back the last @n popped chains that were not pushed (they will be
 * popped again, re-read from guest memory).
 */
void vq_unpop(struct virtqueue *vq, uint16_t n);

/**
 * Return chain @head with @len bytes written into it: fills the next used
 * element, invisible to the driver until vq_publish(). -EIO if broken.
 */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t len);

/**
 * Take back the last @n pushed, unpublished used elements (a frame that
 * did not fit after all). Pair with vq_unpop().
 */
void vq_unpush(struct virtqueue *vq, uint16_t n);

/**
 * Make pushed elements visible: stores the used index after the elements
 * (release ordering). Returns whether the driver wants an interrupt for
 * what was published (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with
 * EVENT_IDX); false if nothing new, or broken.
 */
bool vq_publish(struct virtqueue *vq);

/**
 * Ask the driver to kick (@enable true) or not to bother (false) when it
 * adds buffers: used.flags without EVENT_IDX, avail_event with it. After
 * enabling, returns 1 if buffers arrived meanwhile (process them before
 * sleeping), 0 if not, -EIO if broken.
 */
int vq_kick_enable(struct virtqueue *vq, bool enable);

/**
 * Number of chains the driver has made available and we have not popped,
 * reading the available index again. -EIO if broken.
 */
int vq_avail(struct virtqueue *vq);

/** What a stopped queue carries across a migration (its rings travel in
 * guest memory). */
struct vq_state {
	uint16_t last_avail;    /**< next available entry to consume */
	uint16_t used_idx;      /**< used index the driver sees */
	uint16_t signalled;     /**< used index at the last interrupt */
	bool signalled_valid;
	uint8_t error;          /**< enum vq_error: VQ_OK unless broken */
};

/** Highest enum vq_error value (for checking migrated state). */
#define VQ_ERR_MAX VQ_ERR_USED

/**
 * The state of a queue whose user is stopped (nothing popped and not
 * pushed, nothing pushed and not published).
 */
void vq_get_state(const struct virtqueue *vq, struct vq_state *s);

/**
 * Carry on from the used index in guest memory, the driver's view: what
 * was taken and not yet published is taken again, the next interrupt is
 * not suppressed. For a queue whose user stopped without telling us how
 * far it got (a crashed process); on a parked queue it changes nothing
 * else. 0, or -EIO (the used ring is not mapped: the queue breaks).
 */
int vq_resync(struct virtqueue *vq);

/**
 * After vq_start(): carry on from @s (a migrated queue) instead of from a
 * freshly enabled one. A broken source queue stays broken. -EINVAL if @s
 * is impossible: an unknown error, or more entries in flight than the
 * queue holds.
 */
int vq_set_state(struct virtqueue *vq, const struct vq_state *s);

/**
 * Copy bytes [off, off + len) of @e's device-readable part into @dst.
 * Returns how many there were.
 */
size_t vq_elem_read(const struct virtqueue *vq, const struct vq_elem *e,
		    size_t off, void *dst, size_t len);

/**
 * Copy @len bytes of @src into @e's device-writable part at @off and tell
 * libvus, for the dirty page log of a migration. Returns how many fitted.
 */
size_t vq_elem_write(const struct virtqueue *vq, const struct vq_elem *e,
		     size_t off, const void *src, size_t len);

/** Name of an error, for logs. */
const char *vq_error_str(enum vq_error e);

#endif /* VIRTQUEUE_H */
