/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * datapath: frames between the virtqueues and the backend, on the worker.
 *
 * Transmit: pop a batch of chains, copy each one's 12-byte virtio-net
 * header out (it may be split across descriptors) when the backend takes
 * it, and hand the frames to the backend with one call (sendmmsg on a
 * datagram link) straight from guest memory (zero copy). If the backend
 * fills up, the chains it did not take go back to the ring and we wait
 * for EPOLLOUT.
 *
 * Receive: a batch of frames is read with one call (recvmmsg) into local
 * slots -- at most as many as the ring has chains -- then each is copied
 * into as many receive buffers as it needs (mergeable buffers) or into
 * one. The backend is read only while the ring has room: when a frame
 * does not fit, we keep it and the rest of its batch, stop watching the
 * backend and ask the driver to kick when it adds buffers -- the kernel's
 * socket queue holds the rest, so our memory stays bounded at one batch.
 *
 * Batches are bounded (budgets); used entries are published and the
 * driver interrupted once per batch, as its suppression allows. The
 * descriptors one received frame may make us read are bounded too (see
 * rx_desc_max), and every walk over many chains stops as soon as the
 * worker is asked to park, so a quiesce (DMA_UNMAP, reset) never waits
 * for a driver's long rings. Bytes
 * copied into receive buffers are reported to libvus's dirty page log
 * once written (ring updates go through vus_dma_write*, logged already).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "net_priv.h"

#define TX_BUDGET 256u
#define RX_BUDGET 256u

_Static_assert(sizeof(struct virtio_net_hdr_v1) == 12, "virtio-net header");

/* The pieces of @iov after its first @skip bytes, into @out (room @max). */
static unsigned int iov_skip(const struct iovec *iov, unsigned int n,
			     size_t skip, struct iovec *out, unsigned int max)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && k < max; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = iov[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

/* A queue that broke is reported once: NEEDS_RESET and a log line. */
static void check_queue(struct vnet_pair *p, unsigned int q)
{
	struct virtqueue *vq = &p->vq[q];

	if (vq_ready(vq) || vq->error == VQ_OK || p->reported[q])
		return;
	p->reported[q] = true;
	p->st.queue_errors++;
	vnet_log_limited(p->n, VUS_LOG_WARNING, "%s queue stopped: %s; device needs reset",
		 q == VNET_RXQ ? "receive" : "transmit", vq_error_str(vq->error));
	vpci_needs_reset(p->n->pci);
}

static void publish(struct vnet_pair *p, unsigned int q)
{
	if (vq_publish(&p->vq[q])) {
		vpci_notify_queue(p->n->pci, 2 * p->idx + q);
		p->st.interrupts++;
	}
	check_queue(p, q);
}

/* The link's peer came or went: the status's LINK_UP follows. */
static void check_carrier(struct vnet_pair *p)
{
	bool down = !backend_carrier(p->be);

	if (down == atomic_load(&p->n->carrier_down))
		return;
	atomic_store(&p->n->carrier_down, down);
	vnet_log_limited(p->n, VUS_LOG_INFO, "link %s (peer)", down ? "down" : "up");
	vpci_config_changed(p->n->pci);
}

void datapath_update_events(struct vnet_pair *p)
{
	uint32_t ev = (p->rx_watch ? EPOLLIN : 0u) | (p->tx_blocked ? EPOLLOUT : 0u);

	if (p->be_failed)
		return;
	check_carrier(p);
	/* A shm link's peer kicks only one that said it sleeps. */
	backend_arm(p->be, ev);
	if (ev == p->be_events)
		return;
	if (worker_set_events(p->w, backend_fd(p->be),
			      backend_poll_events(p->be, ev)) == 0)
		p->be_events = ev;
}

/*
 * Message @m for chain @e: its frame, after the virtio-net header, which
 * only a vnet-header back-end takes (a copy into @hdr: the guest may
 * change it under us). Pieces go to @iov (room: 1 + e->out_num). Returns
 * the frame's length, or 0 for a chain without header and frame: the
 * driver's error, dropped.
 */
static uint32_t tx_msg(struct vnet_pair *p, const struct vq_elem *e,
		       struct mmsghdr *m, struct iovec *iov,
		       struct virtio_net_hdr_v1 *hdr)
{
	uint64_t frame = e->out_len - (e->out_len >= VNET_HDR_LEN ? VNET_HDR_LEN : 0);
	unsigned int cnt = 0;

	if (e->out_len < VNET_HDR_LEN + VNET_ETH_HLEN || frame > VNET_MAX_FRAME)
		return 0;
	if (backend_hdr_len(p->be) != 0) {
		vq_elem_read(&p->vq[VNET_TXQ], e, 0, hdr, VNET_HDR_LEN);
		hdr->num_buffers = 0;
		iov[cnt].iov_base = hdr;
		iov[cnt++].iov_len = VNET_HDR_LEN;
	}
	cnt += iov_skip(e->iov, e->out_num, VNET_HDR_LEN, iov + cnt, e->out_num);
	*m = (struct mmsghdr){ .msg_hdr = { .msg_iov = iov, .msg_iovlen = cnt } };
	return (uint32_t)frame;
}

/*
 * Pop up to VNET_TX_BATCH chains into tx_elem, their pieces into the
 * shared pool: a chain is popped only while the pool has room for the
 * longest one, so a batch never breaks a queue a single chain would not.
 */
static unsigned int tx_fill(struct vnet_pair *p)
{
	struct virtqueue *vq = &p->vq[VNET_TXQ];
	unsigned int k = 0, used = 0;

	while (k < VNET_TX_BATCH && used + p->tx_chain_max <= p->tx_pool_max) {
		struct vq_elem *e = &p->tx_elem[k];

		/* Asked to park: stop here; the run after it goes on. */
		if (worker_park_requested(p->w))
			break;
		e->iov = p->tx_pool + used;
		e->sg = p->tx_sg + used;
		e->max_iov = p->tx_chain_max;
		if (vq_pop(vq, e) <= 0)
			break;
		used += e->out_num + e->in_num;
		k++;
	}
	return k;
}

/* Count chain @i of the batch: sent (@sent) or dropped. */
static void tx_count(struct vnet_pair *p, unsigned int i, bool sent)
{
	if (!sent) {
		p->st.tx_dropped++;
		if (p->tx_len[i] != 0)
			vnet_log(p->n, VUS_LOG_DEBUG, "frame dropped by the backend");
		return;
	}
	p->st.tx_packets++;
	p->st.tx_bytes += p->tx_len[i];
}

/*
 * Send the @k chains popped with one backend call; push those sent or
 * dropped, give the others back (the backend is full: wait for
 * EPOLLOUT). false if the backend filled up or the queue broke.
 */
static bool tx_send(struct vnet_pair *p, unsigned int k)
{
	struct virtqueue *vq = &p->vq[VNET_TXQ];
	unsigned int m = 0, iovs = 0, taken, i;

	for (i = 0; i < k; i++) {
		p->tx_len[i] = tx_msg(p, &p->tx_elem[i], &p->tx_msgs[m],
				      p->tx_iov + iovs, &p->tx_hdr[m]);
		if (p->tx_len[i] != 0)
			iovs += (unsigned int)p->tx_msgs[m++].msg_hdr.msg_iovlen;
	}
	if (atomic_load(&p->n->link_down)) {
		/* A pulled cable: what the driver sends goes nowhere. */
		for (i = 0; i < m; i++)
			p->tx_msgs[i].msg_len = 0;
		taken = m;
	} else {
		taken = backend_send_batch(p->be, p->tx_msgs, m);
	}
	for (i = 0, m = 0; i < k; i++) {
		if (p->tx_len[i] != 0 && m == taken)
			break; /* the first frame the backend did not take */
		tx_count(p, i, p->tx_len[i] != 0 && p->tx_msgs[m++].msg_len != 0);
		if (vq_push(vq, p->tx_elem[i].head, 0) < 0)
			return false;
	}
	if (i == k)
		return true;
	vq_unpop(vq, (uint16_t)(k - i));
	p->tx_blocked = true;
	return false;
}

/* One budget of transmit chains; false when the queue is drained. */
static bool tx_batch(struct vnet_pair *p)
{
	for (unsigned int done = 0; done < TX_BUDGET;) {
		unsigned int k = tx_fill(p);

		if (k == 0)
			return false;
		p->busy = true;
		if (!tx_send(p, k))
			return false;
		done += k;
	}
	return true;
}

void datapath_tx(struct vnet_pair *p)
{
	struct virtqueue *vq = &p->vq[VNET_TXQ];

	p->tx_more = false;
	if (!vq_ready(vq) || p->tx_blocked) {
		datapath_update_events(p);
		return;
	}
	(void)vq_kick_enable(vq, false);
	for (;;) {
		if (tx_batch(p)) {
			p->tx_more = true; /* yield; the poll hook continues */
			break;
		}
		if (p->tx_blocked || !vq_ready(vq) ||
		    worker_park_requested(p->w))
			break;
		/* Drained: ask for kicks, unless more came meanwhile. */
		if (vq_kick_enable(vq, true) != 1)
			break;
	}
	publish(p, VNET_TXQ);
	datapath_update_events(p);
}

/* Deliver @buf (@len bytes, header included) into a single buffer (no
 * mergeable buffers). 1 delivered, 0 dropped, -EAGAIN, -EIO. */
static int rx_one(struct vnet_pair *p, uint8_t *buf, size_t len)
{
	struct virtqueue *vq = &p->vq[VNET_RXQ];
	struct vq_elem *e = &p->rx_elem[0];
	uint16_t one = htole16(1);
	int r = vq_pop(vq, e);

	if (r <= 0)
		return r == 0 ? -EAGAIN : -EIO;
	if (e->in_len < len) {
		/* This buffer can never hold the frame: drop the frame. */
		vq_unpop(vq, 1);
		p->st.rx_dropped++;
		return 0;
	}
	memcpy(buf + offsetof(struct virtio_net_hdr_v1, num_buffers), &one,
	       sizeof(one));
	vq_elem_write(vq, e, 0, buf, len);
	return vq_push(vq, e->head, (uint32_t)len) < 0 ? -EIO : 1;
}

/*
 * Descriptors one received frame may make us read: two per byte it
 * carries (chains of 1-byte descriptors, an indirect head per 12-byte
 * buffer) plus one whole chain. A driver whose receive chains hold
 * zero-length or device-readable descriptors could otherwise make a
 * frame cost queue size x queue size reads (2^30 at 32768); past this it
 * loses the frame instead.
 */
static uint64_t rx_desc_max(const struct vnet_pair *p, size_t len)
{
	return 2 * (uint64_t)len + p->vq[VNET_RXQ].l.size + 1;
}

/* Give back the @nbufs buffers a frame took (and one more just popped). */
static void rx_give_back(struct virtqueue *vq, uint16_t nbufs, bool popped)
{
	vq_unpush(vq, nbufs);
	vq_unpop(vq, (uint16_t)(nbufs + popped));
}

/* Deliver @buf (@len bytes) across as many buffers as needed. 1
 * delivered, 0 dropped, -EAGAIN (no room yet), -EINTR (asked to park: try
 * again later), -EIO. */
static int rx_merged(struct vnet_pair *p, const uint8_t *buf, size_t len)
{
	struct virtqueue *vq = &p->vq[VNET_RXQ];
	struct vq_elem *e = &p->rx_elem[0];
	uint16_t nbufs = 0, nb;
	uint64_t cost = 0;
	size_t off = 0;

	while (off < len) {
		int r = 0;
		size_t chunk;

		if (worker_park_requested(p->w)) {
			rx_give_back(vq, nbufs, false);
			return -EINTR;
		}
		if (nbufs < vq->l.size && (r = vq_pop(vq, e)) > 0)
			cost += e->ndesc;
		if (r > 0 && cost > rx_desc_max(p, len)) {
			rx_give_back(vq, nbufs, true);
			vnet_log_limited(p->n, VUS_LOG_WARNING, "receive buffers cost "
					 "over %llu descriptor reads: frame dropped",
					 (unsigned long long)rx_desc_max(p, len));
			p->st.rx_dropped++;
			return 0;
		}
		if (r <= 0 || (nbufs == 0 && e->in_len < VNET_HDR_LEN)) {
			/* Not enough room (yet): take it all back. */
			rx_give_back(vq, nbufs, r > 0);
			if (r < 0)
				return -EIO;
			/* Never enough, or a first buffer too small for the header. */
			if (r > 0 || nbufs == vq->l.size) {
				p->st.rx_dropped++;
				return 0;
			}
			return -EAGAIN;
		}
		chunk = e->in_len < len - off ? (size_t)e->in_len : len - off;
		vq_elem_write(vq, e, 0, buf + off, chunk);
		if (vq_push(vq, e->head, (uint32_t)chunk) < 0)
			return -EIO;
		off += chunk;
		nbufs++;
		e = &p->rx_elem[1];
	}
	nb = htole16(nbufs);
	e = &p->rx_elem[0];
	vq_elem_write(vq, e, offsetof(struct virtio_net_hdr_v1, num_buffers),
		      &nb, sizeof(nb));
	return 1;
}

/* Slot @i of the receive batch. */
static uint8_t *rx_slot(const struct vnet_pair *p, unsigned int i)
{
	return p->rx_buf + (size_t)i * p->rx_buf_size;
}

/* Frames worth reading now: as many as the ring has chains for (each
 * frame takes at least one), at least one, at most @budget. */
static unsigned int rx_want(struct vnet_pair *p, unsigned int budget)
{
	int avail = vq_avail(&p->vq[VNET_RXQ]);
	unsigned int want = avail > 1 ? (unsigned int)avail : 1;

	want = want < VNET_RX_BATCH ? want : VNET_RX_BATCH;
	return want < budget ? want : budget;
}

/* Check received frame @i and give it our header. Its length, or 0 if
 * it is dropped (cut short: too long for the slot; too short; or the
 * link is down: a pulled cable hears nothing). */
static uint32_t rx_check(struct vnet_pair *p, unsigned int i, size_t hl, size_t room)
{
	uint8_t *slot = rx_slot(p, i);
	size_t len = p->rx_msgs[i].msg_len;

	if (len > room || len < hl + VNET_ETH_HLEN || atomic_load(&p->n->link_down)) {
		p->st.rx_dropped++;
		return 0;
	}
	/* A header of our own (zeros: nothing offloaded), or the TAP's. */
	if (hl == 0)
		memset(slot, 0, VNET_HDR_LEN);
	memset(slot + offsetof(struct virtio_net_hdr_v1, num_buffers), 0, 2);
	return (uint32_t)(len + (hl ? 0 : VNET_HDR_LEN));
}

/* Read up to @want frames from the backend into the slots, with one call.
 * How many came (dropped ones included), 0 (none), -errno. */
static int rx_read(struct vnet_pair *p, unsigned int want)
{
	size_t hl = backend_hdr_len(p->be);
	size_t room = p->rx_buf_size - VNET_HDR_LEN + hl;
	int got;

	for (unsigned int i = 0; i < want; i++) {
		p->rx_iov[i].iov_base = rx_slot(p, i) + (hl ? 0 : VNET_HDR_LEN);
		p->rx_iov[i].iov_len = room;
		p->rx_msgs[i] = (struct mmsghdr){ .msg_hdr = {
			.msg_iov = &p->rx_iov[i], .msg_iovlen = 1 } };
	}
	got = backend_recv_batch(p->be, p->rx_msgs, want);
	if (got == -EAGAIN)
		return 0;
	if (got < 0) {
		p->st.rx_dropped++;
		return got;
	}
	for (int i = 0; i < got; i++)
		p->rx_len[i] = rx_check(p, (unsigned int)i, hl, room);
	p->rx_head = 0;
	p->rx_count = (unsigned int)got;
	return got;
}

/* Deliver the next frame held. 0 done (delivered or dropped), -EAGAIN,
 * -EINTR (asked to park; still held), -EIO. */
static int rx_deliver(struct vnet_pair *p)
{
	uint8_t *buf = rx_slot(p, p->rx_head);
	size_t len = p->rx_len[p->rx_head];
	int r = 0;

	if (len != 0)
		r = p->mrg_rxbuf ? rx_merged(p, buf, len) : rx_one(p, buf, len);
	if (r < 0)
		return r;
	p->rx_head++;
	p->rx_count--;
	p->busy = true;
	if (r == 1) {
		p->st.rx_packets++;
		p->st.rx_bytes += len - VNET_HDR_LEN;
	}
	return 0;
}

/* Out of buffers: ask for a kick. true if buffers came meanwhile. */
static bool rx_more_came(struct vnet_pair *p)
{
	return vq_kick_enable(&p->vq[VNET_RXQ], true) == 1;
}

void datapath_rx(struct vnet_pair *p)
{
	struct virtqueue *vq = &p->vq[VNET_RXQ];
	bool starved = false;

	if (vq_ready(vq))
		(void)vq_kick_enable(vq, false);
	for (unsigned int budget = RX_BUDGET; budget > 0 && vq_ready(vq); budget--) {
		int r;

		if (worker_park_requested(p->w))
			break; /* the run after the park reads on */
		if (p->rx_count == 0) {
			r = rx_read(p, rx_want(p, budget));
			if (r == 0)
				break; /* backend empty: keep watching it */
			if (r < 0)
				continue; /* bad frame, dropped */
		}
		r = rx_deliver(p);
		if (r == -EINTR)
			break;
		if (r == -EAGAIN && !rx_more_came(p)) {
			starved = true;
			break;
		}
	}
	/* Read the backend only while the ring has room (backpressure). */
	p->rx_watch = vq_ready(vq) && !starved;
	publish(p, VNET_RXQ);
	datapath_update_events(p);
}

/* The backend is gone for good: stop watching it (EPOLLERR never ends). */
static void backend_failed(struct vnet_pair *p, int err)
{
	vnet_log_limited(p->n, VUS_LOG_ERR, "backend failed: %s; frames are dropped",
			 strerror(-err));
	(void)worker_unwatch(p->w, backend_fd(p->be));
	p->be_failed = true;
	p->tx_blocked = false;
	p->rx_watch = false;
}

void datapath_backend_event(struct vnet_pair *p, uint32_t events)
{
	/* Only what we wait for: a shm link says what it is ready for. */
	events = backend_ready(p->be, events) &
		 (p->be_events | EPOLLERR | EPOLLHUP);
	if (events & (EPOLLERR | EPOLLHUP)) {
		int err = backend_take_error(p->be);

		if (err < 0 || (events & EPOLLHUP)) {
			backend_failed(p, err < 0 ? err : -EPIPE);
			return;
		}
	}
	if ((events & EPOLLOUT) && p->tx_blocked) {
		p->tx_blocked = false;
		datapath_tx(p);
	}
	if (events & EPOLLIN)
		datapath_rx(p);
	datapath_update_events(p);
}

int datapath_init(struct vnet_pair *p, unsigned int qs)
{
	/* Room for the longest chain (each descriptor may span two
	 * mappings), and then some for the rest of a batch of short ones. */
	p->tx_chain_max = 2 * qs;
	p->tx_pool_max = p->tx_chain_max + 4 * VNET_TX_BATCH;
	p->tx_pool = calloc(p->tx_pool_max, sizeof(*p->tx_pool));
	p->tx_sg = calloc(p->tx_pool_max, sizeof(*p->tx_sg));
	p->tx_iov = calloc(p->tx_pool_max + VNET_TX_BATCH, sizeof(*p->tx_iov));
	/* Untouched slots cost address space only. */
	p->rx_buf_size = VNET_HDR_LEN + VNET_MAX_FRAME;
	p->rx_buf = malloc(VNET_RX_BATCH * p->rx_buf_size);
	if (p->rx_buf == NULL || p->tx_pool == NULL || p->tx_sg == NULL ||
	    p->tx_iov == NULL || vq_elem_init(&p->rx_elem[0], qs) < 0 ||
	    vq_elem_init(&p->rx_elem[1], qs) < 0)
		return -ENOMEM;
	return 0;
}

void datapath_free(struct vnet_pair *p)
{
	vq_elem_free(&p->rx_elem[0]);
	vq_elem_free(&p->rx_elem[1]);
	free(p->tx_pool);
	free(p->tx_sg);
	free(p->tx_iov);
	free(p->rx_buf);
}
