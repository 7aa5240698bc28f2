/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shm_ring: single-producer, single-consumer frame rings in a map the
 * peer shares and may scribble on (see shm_ring.h for layout and trust).
 */
#include <errno.h>
#include <string.h>

#include "shm_ring.h"

void shm_ring_format(void *map)
{
	struct shm_hdr *h = map;

	memset(h, 0, sizeof(*h));
	h->magic = SHM_MAGIC;
	h->version = SHM_VERSION;
	h->slots = SHM_SLOTS;
	h->slot_size = SHM_SLOT_SIZE;
}

void shm_ring_attach(struct shm_ring *ring, void *map, unsigned int r,
		     bool producer)
{
	struct shm_hdr *h = map;

	ring->ctl = &h->ring[r];
	ring->slots = (uint8_t *)map + SHM_CTL_SIZE + r * SHM_RING_BYTES;
	ring->prod = 0;
	ring->cons = 0;
	ring->producer = producer;
}

static uint8_t *slot(const struct shm_ring *ring, uint32_t idx)
{
	return ring->slots + (size_t)(idx % SHM_SLOTS) * SHM_SLOT_SIZE;
}

/* Producer: slots in use, from our index and the consumer's; more than
 * SHM_SLOTS means the consumer wrote an impossible index. */
static uint32_t in_use(const struct shm_ring *ring)
{
	uint32_t cons = atomic_load_explicit(&ring->ctl->cons, memory_order_acquire);

	return ring->prod - cons;
}

uint32_t shm_ring_room(const struct shm_ring *ring)
{
	uint32_t used = in_use(ring);

	return used > SHM_SLOTS ? 0 : SHM_SLOTS - used;
}

bool shm_ring_broken(const struct shm_ring *ring)
{
	uint32_t prod = atomic_load_explicit(&ring->ctl->prod, memory_order_acquire);

	return ring->producer ? in_use(ring) > SHM_SLOTS
			      : prod - ring->cons > SHM_SLOTS;
}

uint32_t shm_ring_ready(const struct shm_ring *ring)
{
	uint32_t prod = atomic_load_explicit(&ring->ctl->prod, memory_order_acquire);
	uint32_t n = prod - ring->cons;

	return n > SHM_SLOTS ? 0 : n;
}

int shm_ring_put(struct shm_ring *ring, const struct iovec *iov, int iovcnt,
		 size_t len)
{
	uint32_t used = in_use(ring), len32 = (uint32_t)len;
	uint8_t *s, *p;

	if (used > SHM_SLOTS)
		return -EPROTO;
	if (len > SHM_FRAME_MAX)
		return -EMSGSIZE;
	if (used == SHM_SLOTS)
		return 0;
	s = slot(ring, ring->prod);
	p = s + SHM_SLOT_HDR;
	for (int i = 0; i < iovcnt && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(p, iov[i].iov_base, n);
		p += n;
		len -= n;
	}
	memcpy(s, &len32, sizeof(len32));
	ring->prod++;
	return 1;
}

/*
 * The Dekker pair: we store (our index or our flag), a full fence, then
 * load the other side's (flag or index). The peer does the mirror image,
 * so at least one of us sees the other's store.
 */
static bool take_flag(_Atomic uint32_t *flag)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(flag, memory_order_relaxed) == 0)
		return false;
	return atomic_exchange_explicit(flag, 0, memory_order_relaxed) != 0;
}

bool shm_ring_publish(struct shm_ring *ring)
{
	atomic_store_explicit(&ring->ctl->prod, ring->prod, memory_order_release);
	return take_flag(&ring->ctl->cons_sleeping);
}

bool shm_ring_release(struct shm_ring *ring)
{
	atomic_store_explicit(&ring->ctl->cons, ring->cons, memory_order_release);
	return take_flag(&ring->ctl->prod_waiting);
}

bool shm_ring_wait_room(struct shm_ring *ring)
{
	atomic_store_explicit(&ring->ctl->prod_waiting, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (shm_ring_room(ring) == 0 && in_use(ring) <= SHM_SLOTS)
		return false;
	atomic_store_explicit(&ring->ctl->prod_waiting, 0, memory_order_relaxed);
	return true;
}

bool shm_ring_sleep(struct shm_ring *ring)
{
	uint32_t prod;

	atomic_store_explicit(&ring->ctl->cons_sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	prod = atomic_load_explicit(&ring->ctl->prod, memory_order_acquire);
	if (prod == ring->cons)
		return false;
	atomic_store_explicit(&ring->ctl->cons_sleeping, 0, memory_order_relaxed);
	return true;
}

long shm_ring_get(struct shm_ring *ring, void *buf, size_t size)
{
	uint32_t prod = atomic_load_explicit(&ring->ctl->prod, memory_order_acquire);
	uint32_t n = prod - ring->cons, len;
	const uint8_t *s;

	if (n > SHM_SLOTS)
		return -EPROTO;
	if (n == 0)
		return -EAGAIN;
	s = slot(ring, ring->cons);
	/* Read once: the peer may change it after our check. */
	len = atomic_load_explicit((_Atomic uint32_t *)(void *)s,
				   memory_order_relaxed);
	ring->cons++;
	if (len <= SHM_FRAME_MAX)
		memcpy(buf, s + SHM_SLOT_HDR, len < size ? len : size);
	return (long)len;
}
