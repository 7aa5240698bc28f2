/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_dma: DMA_MAP, DMA_UNMAP, and the server's own DMA_READ/DMA_WRITE
 * requests for memory the client mapped without an fd.
 *
 * A server request is sent and then the socket is pumped until its reply
 * arrives: client commands that come in meanwhile are queued (bounded) and
 * handled afterwards, in order, so replies keep the client's order.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "engine_priv.h"
#include "log.h"

int handle_dma_map(struct engine *e, struct msg *m, struct reply *r)
{
	struct wire_dma_map mp;
	struct vus_dma_region region;
	int fd, ret;

	memcpy(&mp, m->payload, sizeof(mp));
	if (mp.flags & ~(WIRE_DMA_READ | WIRE_DMA_WRITE))
		return -EINVAL;
	/* Without an fd there is nothing to map at an offset. */
	if (m->nfds == 0 && mp.offset != 0)
		return -EINVAL;
	fd = m->nfds ? msg_take_fd(m, 0) : -1;
	ret = dma_add(ctx_dma(e->ctx), mp.addr, mp.size, mp.flags, fd,
		      mp.offset, &region);
	if (ret < 0)
		return ret;
	device_dma_map(ctx_device(e->ctx), &region);
	return 0;
}

/*
 * GET_DIRTY_BITMAP (the spec's, from migration v1, still sent by some
 * clients): the pages the device wrote in the range while logging, one
 * bit per @pgsize page, in exactly the bytes the count needs. Sets *bytes.
 */
static int unmap_bitmap_check(struct engine *e, const struct msg *m,
			      const struct wire_dma_unmap *u, uint64_t *bytes)
{
	struct wire_dma_unmap_bitmap b;
	int ret;

	if (m->len != sizeof(*u) + sizeof(b))
		return -EINVAL;
	memcpy(&b, m->payload + sizeof(*u), sizeof(b));
	if (!dma_log_active(ctx_dma(e->ctx)) || !is_pow2_u64(b.pgsize) ||
	    !span_ok(u->addr, u->size))
		return -EINVAL;
	ret = dirty_bitmap_bytes(u->size, b.pgsize,
				 MIN(WIRE_MAX_DIRTY_BITMAP,
				     e->peer.mig_max_bitmap_size), bytes);
	if (ret < 0)
		return ret;
	if (b.size != *bytes)
		return -EINVAL;
	/* argsz: room for the reply the client expects. */
	return u->argsz >= sizeof(*u) + sizeof(b) + *bytes ? 0 : -EINVAL;
}

int dma_unmap_check(struct engine *e, const struct msg *m)
{
	struct wire_dma_unmap u;
	uint64_t bytes;
	int ret;

	memcpy(&u, m->payload, sizeof(u));
	if (u.flags & ~(WIRE_DMA_UNMAP_ALL | WIRE_DMA_UNMAP_GET_DIRTY_BITMAP))
		return -EINVAL;
	if (u.flags & WIRE_DMA_UNMAP_ALL)
		return u.addr == 0 && u.size == 0 && m->len == sizeof(u) &&
		       !(u.flags & WIRE_DMA_UNMAP_GET_DIRTY_BITMAP) ? 0 : -EINVAL;
	if (u.flags & WIRE_DMA_UNMAP_GET_DIRTY_BITMAP)
		ret = unmap_bitmap_check(e, m, &u, &bytes);
	else
		ret = m->len == sizeof(u) ? 0 : -EINVAL;
	return ret < 0 ? ret : dma_remove_check(ctx_dma(e->ctx), u.addr, u.size);
}

static void unmap_notify(void *opaque, const struct vus_dma_region *r)
{
	device_dma_unmap(opaque, r);
}

/* Build the bitmap reply: entry (filled by the caller), header, bitmap. */
static int unmap_bitmap(struct engine *e, const struct msg *m,
			struct wire_dma_unmap *u, struct reply *r)
{
	struct wire_dma_unmap_bitmap b;
	int ret;

	uint64_t *bitmap;

	memcpy(&b, m->payload + sizeof(*u), sizeof(b));
	bitmap = engine_reply_tail(r, (size_t)b.size);
	if (bitmap == NULL)
		return -ENOMEM;
	ret = dma_log_report(ctx_dma(e->ctx), u->addr, u->size, b.pgsize,
			     bitmap);
	if (ret < 0)
		return ret;
	u->argsz = (uint32_t)(sizeof(*u) + sizeof(b) + b.size);
	memcpy(r->buf + sizeof(*u), &b, sizeof(b));
	r->len = sizeof(*u) + sizeof(b);
	return 0;
}

int handle_dma_unmap(struct engine *e, struct msg *m, struct reply *r)
{
	struct device *dev = ctx_device(e->ctx);
	struct wire_dma_unmap u;
	int ret = 0;

	memcpy(&u, m->payload, sizeof(u));
	/* The bitmap first: the device is quiesced, nothing writes meanwhile. */
	if (u.flags & WIRE_DMA_UNMAP_GET_DIRTY_BITMAP) {
		ret = unmap_bitmap(e, m, &u, r);
		if (ret < 0)
			return ret;
	}
	if (u.flags & WIRE_DMA_UNMAP_ALL)
		dma_remove_all(ctx_dma(e->ctx), unmap_notify, dev);
	else
		ret = dma_remove(ctx_dma(e->ctx), u.addr, u.size, unmap_notify,
				 dev);
	if (ret < 0)
		return ret;
	/* The reply starts with the request's entry (argsz >= 24 was checked). */
	memcpy(r->buf, &u, sizeof(u));
	if (r->len == 0)
		r->len = sizeof(u);
	return 0;
}

/* Queue a client command that arrived while we await our reply. */
int engine_defer(struct engine *e, struct msg *m)
{
	struct deferred *d;

	if (e->dq_count >= ENGINE_DEFER_MAX_MSGS ||
	    e->dq_bytes + m->len > ENGINE_DEFER_MAX_BYTES ||
	    e->dq_fds + m->nfds > ENGINE_DEFER_MAX_FDS)
		return -ENOBUFS;
	d = calloc(1, sizeof(*d));
	if (d == NULL || msg_detach(m) < 0) {
		free(d);
		return -ENOMEM;
	}
	d->m = *m;
	if (e->dq_tail)
		e->dq_tail->next = d;
	else
		e->dq_head = d;
	e->dq_tail = d;
	e->dq_count++;
	e->dq_bytes += m->len;
	e->dq_fds += m->nfds;
	return 0;
}

/*
 * QEMU 10.2 reads and writes DMA_READ/DMA_WRITE payloads as {u64 offset;
 * u32 count; data}, with 4 bytes of padding after the data counted in
 * the length (its struct's size, 16, is); the spec's layout is {u64
 * address; u64 count; data}. Our request head reads the same either way
 * (count's high half is 0); a DMA_WRITE's data does not, and a DMA_READ
 * reply has the same length in both. So the first transfer of a
 * connection is preceded by a DMA_WRITE of no bytes: QEMU answers it with
 * a bare header, a spec client echoes address and count (or refuses the
 * count with an error).
 */
static int qemu_read_reply(const struct msg *m, uint64_t addr, void *buf,
			   size_t len)
{
	uint64_t a;
	uint32_t count;

	if (m->len != WIRE_DMA_QEMU_HEAD + len + WIRE_DMA_QEMU_PAD)
		return -EPROTO;
	memcpy(&a, m->payload, sizeof(a));
	memcpy(&count, m->payload + sizeof(a), sizeof(count));
	if (a != addr || count != len)
		return -EPROTO;
	memcpy(buf, m->payload + WIRE_DMA_QEMU_HEAD, len);
	return 0;
}

/* Check a reply to our request and copy DMA_READ data out. */
static int take_reply(struct engine *e, const struct msg *m, bool write,
		      uint64_t addr, void *buf, size_t len)
{
	struct wire_dma_access a;

	if (e->dma_layout == ENGINE_DMA_LAYOUT_UNKNOWN) {
		/* The probe's answer (see above). */
		e->dma_layout = m->len == 0 && !(m->hdr.flags & WIRE_F_ERROR) ?
				ENGINE_DMA_LAYOUT_QEMU : ENGINE_DMA_LAYOUT_SPEC;
		return 0;
	}
	if (m->hdr.flags & WIRE_F_ERROR)
		return m->hdr.error > 0 && m->hdr.error < 4096 ?
		       -(int)m->hdr.error : -EIO;
	if (write) {
		/* Clients answer with nothing (QEMU), 12 (the spec's table) or
		 * 16 bytes (libvfio-user); whatever they echo must match. */
		uint32_t count32;

		if (m->len == 0)
			return 0;
		if (m->len != 12 && m->len != 16)
			return -EPROTO;
		memcpy(&a.addr, m->payload, sizeof(a.addr));
		if (m->len == 12) {
			memcpy(&count32, m->payload + 8, sizeof(count32));
			a.count = count32;
		} else {
			memcpy(&a.count, m->payload + 8, sizeof(a.count));
		}
		return a.addr == addr && a.count == len ? 0 : -EPROTO;
	}
	if (e->dma_layout == ENGINE_DMA_LAYOUT_QEMU)
		return qemu_read_reply(m, addr, buf, len);
	if (m->len != sizeof(a) + len)
		return -EPROTO;
	memcpy(&a, m->payload, sizeof(a));
	if (a.addr != addr || a.count != len)
		return -EPROTO;
	memcpy(buf, m->payload + sizeof(a), len);
	return 0;
}

static int wait_readable(struct engine *e, uint64_t deadline)
{
	struct pollfd p = { .fd = transport_fd(e->t), .events = POLLIN };
	uint64_t now = now_ms();
	int n;

	if (now >= deadline)
		return -ETIMEDOUT;
	if (transport_out_pending(e->t) > 0)
		p.events |= POLLOUT;
	n = poll(&p, 1, (int)(deadline - now));
	if (n < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* Pump the socket until the reply to @id arrives. */
static int await_reply(struct engine *e, uint16_t id, bool write,
		       uint64_t addr, void *buf, size_t len)
{
	uint64_t deadline = now_ms() + ENGINE_REQUEST_TIMEOUT_MS;

	for (;;) {
		struct msg m;
		int ret = transport_flush(e->t);

		if (ret == 0 || ret == -EAGAIN)
			ret = transport_recv(e->t, &m);
		if (ret == -EAGAIN) {
			ret = wait_readable(e, deadline);
			if (ret < 0)
				return ret;
			continue;
		}
		if (ret < 0) {
			e->broken = true;
			return -ENOTCONN;
		}
		if (wire_is_reply(&m.hdr) && m.hdr.msg_id == id) {
			engine_trace(e, VUS_TRACE_RX, &m.hdr, m.nfds);
			ret = take_reply(e, &m, write, addr, buf, len);
			msg_release(&m);
			return ret;
		}
		if (wire_is_reply(&m.hdr)) {
			msg_release(&m); /* stale: a request we gave up on */
			continue;
		}
		ret = engine_defer(e, &m);
		if (ret < 0) {
			msg_release(&m);
			e->broken = true;
			return ret;
		}
	}
}

static int one_request(struct engine *e, bool write, uint64_t addr,
		       void *buf, size_t len)
{
	static const uint8_t pad[WIRE_DMA_QEMU_PAD];
	struct wire_dma_access a = { .addr = addr, .count = len };
	bool qemu = e->dma_layout == ENGINE_DMA_LAYOUT_QEMU;
	size_t head = qemu && write ? WIRE_DMA_QEMU_HEAD : sizeof(a);
	struct iovec iov[3] = {
		{ .iov_base = &a, .iov_len = head },
		{ .iov_base = buf, .iov_len = len },
		{ .iov_base = (void *)pad, .iov_len = WIRE_DMA_QEMU_PAD },
	};
	/* No data: a read, or the layout probe (a write of 0 bytes). */
	int n = !write || len == 0 ? 1 : qemu ? 3 : 2;
	struct wire_hdr h = {
		.msg_id = e->next_id++,
		.cmd = write ? WIRE_CMD_DMA_WRITE : WIRE_CMD_DMA_READ,
		.msg_size = WIRE_HDR_SIZE,
		.flags = WIRE_F_TYPE_CMD,
	};
	int ret;

	for (int i = 0; i < n; i++)
		h.msg_size += (uint32_t)iov[i].iov_len;
	ret = transport_send(e->t, &h, iov, n, NULL, 0);
	engine_trace(e, VUS_TRACE_TX, &h, 0);
	if (ret < 0) {
		e->broken = true;
		return -ENOTCONN;
	}
	e->in_request = true;
	ret = await_reply(e, h.msg_id, write, addr, buf, len);
	e->in_request = false;
	return ret;
}

int engine_dma_msg(void *opaque, bool write, uint64_t addr, void *buf,
		   size_t len)
{
	struct engine *e = opaque;
	uint8_t *p = buf;

	if (e->state != CONN_READY || e->broken || e->t == NULL)
		return -ENOTCONN;
	/* Awaiting the reply would take client messages out of the socket
	 * before they are handled, which a kept connection must not. */
	if (e->kept)
		return -EOPNOTSUPP;
	/* One request at a time: a nested one could not tell replies apart
	 * from the outer one's stream position. */
	if (e->in_request)
		return -EBUSY;
	/*
	 * Awaiting the reply receives more messages into the transport's
	 * buffer, where the message being handled lies (and the data a region
	 * callback was handed): that message must keep its own storage.
	 */
	if (e->cur != NULL && transport_keep(e->t, e->cur) < 0)
		return -ENOMEM;
	if (e->dma_layout == ENGINE_DMA_LAYOUT_UNKNOWN) {
		int ret = one_request(e, true, addr, NULL, 0);

		if (ret < 0)
			return ret;
		log_msg(e->log, VUS_LOG_INFO, "message DMA in %s layout",
			e->dma_layout == ENGINE_DMA_LAYOUT_QEMU ?
			"QEMU 10.2's (data at +12)" : "the specification's");
	}
	while (len > 0) {
		size_t chunk = MIN(len, (size_t)e->peer_xfer);
		int ret = one_request(e, write, addr, p, chunk);

		if (ret < 0)
			return ret;
		len -= chunk;
		addr += chunk;
		p += chunk;
	}
	return 0;
}
