/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtqueue: split rings over the DMA API (see virtqueue.h for the rules).
 * Ring fields are read with untorn 16-bit loads; descriptors are copied
 * whole into a local struct before any field is looked at. Ordering with
 * the driver: an acquire fence after reading the available index (ring
 * entries and descriptors are read after it), a release fence before the
 * used index is stored, and a full fence between that store and reading
 * the driver's interrupt suppression (and between re-enabling kicks and
 * re-reading the available index).
 */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "virtqueue.h"

/* A descriptor as it lies in guest memory (little-endian). */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct vq_desc) == VIRTQ_DESC_SIZE, "descriptor layout");

static const char *const error_names[] = {
	[VQ_OK] = "ok",
	[VQ_ERR_LAYOUT] = "bad ring layout",
	[VQ_ERR_AVAIL_IDX] = "available index out of range",
	[VQ_ERR_HEAD] = "head index out of range",
	[VQ_ERR_NEXT] = "next index out of range",
	[VQ_ERR_CHAIN_LEN] = "descriptor loop or chain too long",
	[VQ_ERR_INDIRECT] = "bad indirect descriptor",
	[VQ_ERR_ORDER] = "readable descriptor after a writable one",
	[VQ_ERR_BUFFER] = "buffer outside granted memory",
	[VQ_ERR_TOO_MANY_SG] = "buffer in too many pieces",
	[VQ_ERR_RING_ACCESS] = "ring not accessible",
	[VQ_ERR_USED] = "used id out of range",
};

const char *vq_error_str(enum vq_error e)
{
	if ((unsigned int)e >= sizeof(error_names) / sizeof(error_names[0]))
		return "unknown";
	return error_names[e];
}

/* Stop using the queue for good: nothing touches guest memory after this. */
static int vq_break(struct virtqueue *vq, enum vq_error e)
{
	vq->ready = false;
	vq->error = e;
	return -EIO;
}

/* Offsets inside the driver and device areas. */
static uint64_t avail_ring_addr(const struct virtqueue *vq, uint16_t i)
{
	return vq->l.avail + 4 + 2 * (uint64_t)(i & (vq->l.size - 1));
}

static uint64_t used_event_addr(const struct virtqueue *vq)
{
	return vq->l.avail + 4 + 2 * (uint64_t)vq->l.size;
}

static uint64_t used_elem_addr(const struct virtqueue *vq, uint16_t i)
{
	return vq->l.used + 4 + 8 * (uint64_t)(i & (vq->l.size - 1));
}

static uint64_t avail_event_addr(const struct virtqueue *vq)
{
	return vq->l.used + 4 + 8 * (uint64_t)vq->l.size;
}

/* Whether [addr, addr + len) is granted with @prot, in any number of pieces. */
static bool mapped(vus_ctx *ctx, uint64_t addr, uint64_t len, uint32_t prot)
{
	struct vus_sg sg[4];
	size_t n;
	int ret = vus_dma_sg(ctx, addr, len, prot, sg, 4, &n);

	/* -ENOSPC: all of it is mapped, just in more than four pieces. */
	return ret == 0 || ret == -ENOSPC;
}

static int layout_check(vus_ctx *ctx, const struct vq_layout *l,
			uint32_t flags)
{
	uint64_t n = l->size;
	uint64_t extra = (flags & VQ_F_EVENT_IDX) ? 2 : 0;

	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	/* Alignment the spec requires, which also keeps our loads untorn. */
	if (l->desc % 16 || l->avail % 2 || l->used % 4)
		return -EINVAL;
	if (!mapped(ctx, l->desc, 16 * n, VUS_DMA_READ))
		return -EINVAL;
	if (!mapped(ctx, l->avail, 4 + 2 * n + extra, VUS_DMA_READ))
		return -EINVAL;
	if (!mapped(ctx, l->used, 4 + 8 * n + extra,
		    VUS_DMA_READ | VUS_DMA_WRITE))
		return -EINVAL;
	return 0;
}

int vq_start(struct virtqueue *vq, vus_ctx *ctx, const struct vq_layout *l,
	     uint32_t flags)
{
	memset(vq, 0, sizeof(*vq));
	vq->ctx = ctx;
	vq->l = *l;
	vq->flags = flags;
	vq->max_chain = l->size;
	if (layout_check(ctx, l, flags) < 0) {
		vq_break(vq, VQ_ERR_LAYOUT);
		return -EINVAL;
	}
	vq->ready = true;
	return 0;
}

int vq_start_unmapped(struct virtqueue *vq, vus_ctx *ctx,
		      const struct vq_layout *l, uint32_t flags)
{
	uint64_t n = l->size;

	memset(vq, 0, sizeof(*vq));
	vq->ctx = ctx;
	vq->l = *l;
	vq->flags = flags;
	vq->max_chain = l->size;
	/* What can be checked without guest memory is checked now. */
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)) || l->desc % 16 ||
	    l->avail % 2 || l->used % 4) {
		vq_break(vq, VQ_ERR_LAYOUT);
		return -EINVAL;
	}
	vq->ready = true;
	return 0;
}

bool vq_mapped(const struct virtqueue *vq)
{
	return !vq->ready || layout_check(vq->ctx, &vq->l, vq->flags) == 0;
}

void vq_stop(struct virtqueue *vq)
{
	memset(vq, 0, sizeof(*vq));
}

void vq_get_state(const struct virtqueue *vq, struct vq_state *s)
{
	*s = (struct vq_state){
		.last_avail = vq->last_avail, .used_idx = vq->published,
		.signalled = vq->signalled,
		.signalled_valid = vq->signalled_valid,
		.error = (uint8_t)vq->error,
	};
}

int vq_resync(struct virtqueue *vq)
{
	uint16_t used;

	if (!vq->ready || vq->error != VQ_OK)
		return 0;
	if (vus_dma_read16(vq->ctx, vq->l.used + 2, &used) < 0)
		return vq_break(vq, VQ_ERR_RING_ACCESS);
	used = le16toh(used);
	vq->last_avail = vq->avail_idx = used;
	vq->used_idx = vq->published = used;
	vq->signalled_valid = false;
	return 0;
}

int vq_set_state(struct virtqueue *vq, const struct vq_state *s)
{
	if (s->error > VQ_ERR_MAX ||
	    (uint16_t)(s->last_avail - s->used_idx) > vq->l.size)
		return -EINVAL;
	if (s->error != VQ_OK) {
		vq_break(vq, (enum vq_error)s->error);
		return 0;
	}
	vq->last_avail = vq->avail_idx = s->last_avail;
	vq->used_idx = vq->published = s->used_idx;
	vq->signalled = s->signalled;
	vq->signalled_valid = s->signalled_valid;
	return 0;
}

/*
 * Copy between @buf and bytes [off, off + len) of @e's readable part
 * (@to_guest false) or writable part (true). Writes are reported to the
 * dirty page log piece by piece, each after its bytes landed.
 */
static size_t elem_copy(const struct virtqueue *vq, const struct vq_elem *e,
			bool to_guest, size_t off, void *buf, size_t len)
{
	unsigned int first = to_guest ? e->out_num : 0;
	unsigned int end = to_guest ? e->out_num + e->in_num : e->out_num;
	uint8_t *b = buf;
	size_t done = 0;

	for (unsigned int i = first; i < end && done < len; i++) {
		size_t l = e->iov[i].iov_len;
		uint8_t *p = e->iov[i].iov_base;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		if (to_guest) {
			memcpy(p + off, b + done, l);
			(void)vus_dma_mark_dirty(vq->ctx, e->sg[i].addr + off, l);
		} else {
			memcpy(b + done, p + off, l);
		}
		done += l;
		off = 0;
	}
	return done;
}

size_t vq_elem_read(const struct virtqueue *vq, const struct vq_elem *e,
		    size_t off, void *dst, size_t len)
{
	return elem_copy(vq, e, false, off, dst, len);
}

size_t vq_elem_write(const struct virtqueue *vq, const struct vq_elem *e,
		     size_t off, const void *src, size_t len)
{
	return elem_copy(vq, e, true, off, (void *)src, len);
}

int vq_elem_init(struct vq_elem *e, unsigned int queue_size)
{
	unsigned int n = 2 * (queue_size ? queue_size : 1);

	memset(e, 0, sizeof(*e));
	e->iov = calloc(n, sizeof(*e->iov));
	e->sg = calloc(n, sizeof(*e->sg));
	if (e->iov == NULL || e->sg == NULL) {
		vq_elem_free(e);
		return -ENOMEM;
	}
	e->max_iov = n;
	return 0;
}

void vq_elem_free(struct vq_elem *e)
{
	free(e->iov);
	free(e->sg);
	memset(e, 0, sizeof(*e));
}

/* Read the driver's available index and check how far it moved. */
static int read_avail_idx(struct virtqueue *vq)
{
	uint16_t idx;

	if (vus_dma_read16(vq->ctx, vq->l.avail + 2, &idx) < 0)
		return vq_break(vq, VQ_ERR_RING_ACCESS);
	idx = le16toh(idx);
	/* More entries than the ring holds: the driver is lying. */
	if ((uint16_t)(idx - vq->last_avail) > vq->l.size)
		return vq_break(vq, VQ_ERR_AVAIL_IDX);
	vq->avail_idx = idx;
	/* Entries and descriptors are read after the index that covers them. */
	atomic_thread_fence(memory_order_acquire);
	return 0;
}

int vq_avail(struct virtqueue *vq)
{
	if (!vq->ready)
		return -EIO;
	if (read_avail_idx(vq) < 0)
		return -EIO;
	return (uint16_t)(vq->avail_idx - vq->last_avail);
}

/* Copy descriptor @i of the table at @table into @d (host byte order). */
static int read_desc(struct virtqueue *vq, uint64_t table, uint32_t i,
		     struct vq_desc *d)
{
	struct vq_desc raw;

	if (vus_dma_read(vq->ctx, table + (uint64_t)i * VIRTQ_DESC_SIZE, &raw,
			 sizeof(raw)) < 0)
		return -EFAULT;
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
	return 0;
}

/* Translate one data descriptor (already copied) into the element. */
static int add_buf(struct virtqueue *vq, struct vq_elem *e,
		   const struct vq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	unsigned int used = e->out_num + e->in_num;
	size_t n;
	int ret;

	/* Device-readable buffers all come before device-writable ones. */
	if (!writable && e->in_num > 0)
		return vq_break(vq, VQ_ERR_ORDER);
	if (d->len == 0)
		return 0; /* nothing to transfer; harmless */
	/* d->len < 2^32, so only the address can make the range wrap. */
	if (d->addr > UINT64_MAX - (d->len - 1))
		return vq_break(vq, VQ_ERR_BUFFER);
	/* sg[] parallels iov[]: guest addresses for the dirty page log. */
	ret = vus_dma_sg(vq->ctx, d->addr, d->len,
			 writable ? VUS_DMA_WRITE : VUS_DMA_READ, e->sg + used,
			 e->max_iov - used, &n);
	if (ret == -ENOSPC)
		return vq_break(vq, VQ_ERR_TOO_MANY_SG);
	if (ret < 0)
		return vq_break(vq, VQ_ERR_BUFFER);
	for (size_t k = 0; k < n; k++) {
		e->iov[used + k].iov_base = e->sg[used + k].vaddr;
		e->iov[used + k].iov_len = (size_t)e->sg[used + k].len;
	}
	if (writable) {
		e->in_num += (unsigned int)n;
		e->in_len += d->len;
	} else {
		e->out_num += (unsigned int)n;
		e->out_len += d->len;
	}
	return 0;
}

/* Count one more descriptor of the chain against the queue's limit. */
static int count_desc(struct virtqueue *vq, unsigned int *count)
{
	if (++*count > vq->max_chain)
		return vq_break(vq, VQ_ERR_CHAIN_LEN);
	return 0;
}

/* Read descriptor @i of @table for @e, counting what the walk cost. */
static int elem_read_desc(struct virtqueue *vq, struct vq_elem *e,
			  uint64_t table, uint32_t i, struct vq_desc *d)
{
	e->ndesc++;
	return read_desc(vq, table, i, d);
}

/* Walk the indirect table that @ind (copied, checked by the caller) names. */
static int walk_indirect(struct virtqueue *vq, struct vq_elem *e,
			 const struct vq_desc *ind, unsigned int *count)
{
	uint32_t n = ind->len / VIRTQ_DESC_SIZE, i = 0, steps = 0;
	struct vq_desc d;

	if (!(vq->flags & VQ_F_INDIRECT) || (ind->flags & VIRTQ_DESC_F_NEXT))
		return vq_break(vq, VQ_ERR_INDIRECT);
	if (ind->len == 0 || ind->len % VIRTQ_DESC_SIZE || n > vq->max_chain)
		return vq_break(vq, VQ_ERR_INDIRECT);
	if (ind->addr > UINT64_MAX - (ind->len - 1))
		return vq_break(vq, VQ_ERR_BUFFER);
	for (;;) {
		/* Each entry at most once: more steps than entries is a loop. */
		if (++steps > n)
			return vq_break(vq, VQ_ERR_CHAIN_LEN);
		if (count_desc(vq, count) < 0)
			return -EIO;
		if (elem_read_desc(vq, e, ind->addr, i, &d) < 0)
			return vq_break(vq, VQ_ERR_BUFFER);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return vq_break(vq, VQ_ERR_INDIRECT);
		if (add_buf(vq, e, &d) < 0)
			return -EIO;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return vq_break(vq, VQ_ERR_NEXT);
		i = d.next;
	}
}

/* Walk the chain starting at @head into @e. */
static int walk_chain(struct virtqueue *vq, struct vq_elem *e, uint16_t head)
{
	unsigned int count = 0, steps = 0;
	uint16_t i = head;
	struct vq_desc d;

	e->head = head;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	e->ndesc = 0;
	for (;;) {
		/* The table has size entries: more steps than that is a loop. */
		if (++steps > vq->l.size)
			return vq_break(vq, VQ_ERR_CHAIN_LEN);
		if (elem_read_desc(vq, e, vq->l.desc, i, &d) < 0)
			return vq_break(vq, VQ_ERR_RING_ACCESS);
		/* Normal descriptors, then at most one indirect one, last. */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(vq, e, &d, &count);
		if (count_desc(vq, &count) < 0 || add_buf(vq, e, &d) < 0)
			return -EIO;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->l.size)
			return vq_break(vq, VQ_ERR_NEXT);
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_elem *e)
{
	uint16_t head;

	if (!vq->ready)
		return -EIO;
	if (vq->last_avail == vq->avail_idx) {
		if (read_avail_idx(vq) < 0)
			return -EIO;
		if (vq->last_avail == vq->avail_idx)
			return 0;
	}
	if (vus_dma_read16(vq->ctx, avail_ring_addr(vq, vq->last_avail),
			   &head) < 0)
		return vq_break(vq, VQ_ERR_RING_ACCESS);
	head = le16toh(head);
	if (head >= vq->l.size)
		return vq_break(vq, VQ_ERR_HEAD);
	if (walk_chain(vq, e, head) < 0)
		return -EIO;
	vq->last_avail++;
	return 1;
}

void vq_unpop(struct virtqueue *vq, uint16_t n)
{
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	uint32_t elem[2] = { htole32(head), htole32(len) };

	if (!vq->ready)
		return -EIO;
	if (head >= vq->l.size)
		return vq_break(vq, VQ_ERR_USED);
	/* Invisible to the driver until the used index covers it. */
	if (vus_dma_write(vq->ctx, used_elem_addr(vq, vq->used_idx), elem,
			  sizeof(elem)) < 0)
		return vq_break(vq, VQ_ERR_RING_ACCESS);
	vq->used_idx++;
	return 0;
}

void vq_unpush(struct virtqueue *vq, uint16_t n)
{
	uint16_t pending = (uint16_t)(vq->used_idx - vq->published);

	vq->used_idx = (uint16_t)(vq->used_idx - (n < pending ? n : pending));
}

/* Whether the driver asked to hear about used entries up to @new. */
static bool need_interrupt(struct virtqueue *vq, uint16_t old, uint16_t new)
{
	uint16_t v;

	if (!(vq->flags & VQ_F_EVENT_IDX)) {
		if (vus_dma_read16(vq->ctx, vq->l.avail, &v) < 0) {
			vq_break(vq, VQ_ERR_RING_ACCESS);
			return false;
		}
		return !(le16toh(v) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (vus_dma_read16(vq->ctx, used_event_addr(vq), &v) < 0) {
		vq_break(vq, VQ_ERR_RING_ACCESS);
		return false;
	}
	v = le16toh(v);
	/* Since the last interrupt, unless that is too long ago to compare. */
	if (vq->signalled_valid &&
	    (uint16_t)(new - vq->signalled) >= (uint16_t)(new - old))
		old = vq->signalled;
	/* Interrupt if used_event lies in [old, new). */
	return (uint16_t)(new - v - 1) < (uint16_t)(new - old);
}

bool vq_publish(struct virtqueue *vq)
{
	uint16_t old = vq->published, new = vq->used_idx;
	bool need;

	if (!vq->ready || old == new)
		return false;
	/* The elements must be visible before the index that covers them. */
	atomic_thread_fence(memory_order_release);
	if (vus_dma_write16(vq->ctx, vq->l.used + 2, htole16(new)) < 0) {
		vq_break(vq, VQ_ERR_RING_ACCESS);
		return false;
	}
	vq->published = new;
	/* Our index store before the load of the driver's suppression. */
	atomic_thread_fence(memory_order_seq_cst);
	need = need_interrupt(vq, old, new);
	if (need) {
		vq->signalled = new;
		vq->signalled_valid = true;
	} else if ((uint16_t)(new - vq->signalled) >= 0x8000) {
		vq->signalled_valid = false;
	}
	return need;
}

int vq_kick_enable(struct virtqueue *vq, bool enable)
{
	uint16_t seen = vq->avail_idx;
	int ret;

	if (!vq->ready)
		return -EIO;
	if (vq->flags & VQ_F_EVENT_IDX) {
		/* Kick me once the driver publishes past what I have seen. */
		ret = enable ? vus_dma_write16(vq->ctx, avail_event_addr(vq),
					       htole16(seen))
			     : 0;
	} else {
		ret = vus_dma_write16(vq->ctx, vq->l.used,
				      htole16(enable ? 0 : VIRTQ_USED_F_NO_NOTIFY));
	}
	if (ret < 0)
		return vq_break(vq, VQ_ERR_RING_ACCESS);
	if (!enable)
		return 0;
	/* Our flag store before the load of the driver's index. */
	atomic_thread_fence(memory_order_seq_cst);
	if (read_avail_idx(vq) < 0)
		return -EIO;
	return vq->avail_idx != seen;
}
