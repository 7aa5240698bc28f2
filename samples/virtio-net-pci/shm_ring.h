/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shm_ring: the shared-memory link's layout and its two single-producer,
 * single-consumer frame rings, with no fds and no device in them (the
 * back-end in backend_shm.c, and the tests and benchmark as its peer).
 *
 * One sealed memfd of SHM_MAP_SIZE bytes: a control page, then ring 0
 * (listener to connector), then ring 1 (connector to listener), each
 * SHM_SLOTS fixed slots of SHM_SLOT_SIZE bytes: a u32 length, 4 bytes
 * reserved, then the frame (at most SHM_FRAME_MAX bytes: the device's
 * largest frame). Indices are free-running u32s; slot = index %
 * SHM_SLOTS.
 *
 * Notifications: a consumer about to sleep sets `cons_sleeping`, a full
 * fence, and looks at `prod` again; a producer publishes `prod`, a full
 * fence, and kicks the consumer's eventfd only if it finds the flag set
 * (taking it back to 0, so one kick per sleep). The same for a producer
 * waiting for room (`prod_waiting`, `cons`). Either side sees the other's
 * store, so no wakeup is lost.
 *
 * Trust: the peer can write anything anywhere in the map at any time.
 * Our own indices live in struct shm_ring (private memory); what we read
 * from the map (the peer's index, a slot's length) is read once and
 * checked before use: an index more than SHM_SLOTS from ours, or a length
 * past the slot, is the peer's error (-EPROTO), never an access outside
 * the map. Frame bytes are copied once; what the peer changes during the
 * copy only garbles that frame.
 */
#ifndef SHM_RING_H
#define SHM_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SHM_MAGIC 0x766e6574u /* "vnet" */
#define SHM_VERSION 1u
#define SHM_SLOTS 256u
/* The device's largest frame (VNET_MAX_FRAME): 64 KiB of IP plus
 * Ethernet header and a VLAN tag. */
#define SHM_FRAME_MAX (65535u + 14u + 4u)
#define SHM_SLOT_HDR 8u
/* Whole pages: a small frame touches one page of its slot. */
#define SHM_SLOT_SIZE ((SHM_SLOT_HDR + SHM_FRAME_MAX + 4095u) & ~4095u)
#define SHM_CTL_SIZE 4096u
#define SHM_RING_BYTES ((size_t)SHM_SLOTS * SHM_SLOT_SIZE)
#define SHM_MAP_SIZE (SHM_CTL_SIZE + 2 * SHM_RING_BYTES)

/* Ring 0 carries the listener's frames, ring 1 the connector's. */
#define SHM_RING_L2C 0u
#define SHM_RING_C2L 1u

/* One direction's indices and flags; producer and consumer each write
 * their own cache line. */
struct shm_ctl {
	_Alignas(64) _Atomic uint32_t prod;
	_Atomic uint32_t prod_waiting; /* producer: kick me when there is room */
	_Alignas(64) _Atomic uint32_t cons;
	_Atomic uint32_t cons_sleeping; /* consumer: kick me when frames come */
};

/* The control page. The listener writes the geometry before any peer
 * sees the map; nobody reads it back for sizes (the constants rule). */
struct shm_hdr {
	uint32_t magic, version, slots, slot_size;
	_Alignas(64) struct shm_ctl ring[2];
};

_Static_assert(sizeof(struct shm_hdr) <= SHM_CTL_SIZE, "control page");

/* Our end of one ring, in private memory. */
struct shm_ring {
	struct shm_ctl *ctl;
	uint8_t *slots;
	uint32_t prod, cons; /* ours: the side we own is authoritative */
	bool producer;
};

/** Our end of ring @r (SHM_RING_*) of @map, producing or consuming. */
void shm_ring_attach(struct shm_ring *ring, void *map, unsigned int r,
		     bool producer);

/** Fill a fresh control page: geometry, indices and flags zero. */
void shm_ring_format(void *map);

/**
 * Producer: append the frame gathered from @iov[0, @iovcnt) (@len bytes,
 * at most SHM_FRAME_MAX). Not visible to the consumer until
 * shm_ring_publish(). 1 appended, 0 full, -EPROTO (the consumer's index
 * is impossible), -EMSGSIZE (too long: nothing appended).
 */
int shm_ring_put(struct shm_ring *ring, const struct iovec *iov, int iovcnt,
		 size_t len);

/**
 * Producer: make the frames put visible. true if the consumer was asleep
 * and must be kicked (its flag is taken back).
 */
bool shm_ring_publish(struct shm_ring *ring);

/**
 * Producer, full: ask to be kicked when room comes, and look again. true
 * if there is room after all (the flag is withdrawn), false to sleep.
 */
bool shm_ring_wait_room(struct shm_ring *ring);

/**
 * Consumer: take the next frame into @buf (room @size). Returns its
 * length as the peer wrote it (more than @size: cut short, only @size
 * bytes copied; more than SHM_FRAME_MAX: a bad record, -EPROTO is not
 * returned for it but the length says so), -EAGAIN (empty), or -EPROTO
 * (the producer's index is impossible). Not released to the producer
 * until shm_ring_release().
 */
long shm_ring_get(struct shm_ring *ring, void *buf, size_t size);

/**
 * Consumer: give the slots taken back. true if the producer waits for
 * room and must be kicked (its flag is taken back).
 */
bool shm_ring_release(struct shm_ring *ring);

/**
 * Consumer, empty: ask to be kicked when frames come, and look again.
 * true if frames came after all (the flag is withdrawn), false to sleep.
 */
bool shm_ring_sleep(struct shm_ring *ring);

/** Whether the peer's index (the producer's for a consumer, and the other
 * way round) is impossible: more than SHM_SLOTS from ours. */
bool shm_ring_broken(const struct shm_ring *ring);

/** Frames the consumer may take now (0 if the index is impossible). */
uint32_t shm_ring_ready(const struct shm_ring *ring);

/** Room the producer has now (0 if the index is impossible). */
uint32_t shm_ring_room(const struct shm_ring *ring);

#endif /* SHM_RING_H */
