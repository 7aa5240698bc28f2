/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * datapath: frames between the virtqueues and the backend, on the worker.
 *
 * Transmit: pop a chain, copy the 12-byte virtio-net header out (it may be
 * split across descriptors), and hand the rest to the backend with one
 * writev/sendmsg straight from guest memory (zero copy). If the backend
 * is full the chain goes back to the ring and we wait for EPOLLOUT.
 *
 * Receive: one frame at a time is read into a local buffer, then copied
 * into as many receive buffers as it needs (mergeable buffers) or into
 * one. The backend is read only while the ring has room: when a frame does
 * not fit, we keep it, stop watching the backend and ask the driver to
 * kick when it adds buffers -- the kernel's socket queue holds the rest,
 * so our memory stays bounded at one frame.
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
static void check_queue(struct vnet *n, unsigned int q)
{
	struct virtqueue *vq = &n->vq[q];

	if (vq_ready(vq) || vq->error == VQ_OK || n->reported[q])
		return;
	n->reported[q] = true;
	n->st.queue_errors++;
	vnet_log_limited(n, VUS_LOG_WARNING, "%s queue stopped: %s; device needs reset",
		 q == VNET_RXQ ? "receive" : "transmit", vq_error_str(vq->error));
	vpci_needs_reset(n->pci);
}

static void publish(struct vnet *n, unsigned int q)
{
	if (vq_publish(&n->vq[q])) {
		vpci_notify_queue(n->pci, q);
		n->st.interrupts++;
	}
	check_queue(n, q);
}

void datapath_update_events(struct vnet *n)
{
	uint32_t ev = (n->rx_watch ? EPOLLIN : 0u) | (n->tx_blocked ? EPOLLOUT : 0u);

	if (ev == n->be_events || n->be_failed)
		return;
	if (worker_set_events(n->w, backend_fd(n->be), ev) == 0)
		n->be_events = ev;
}

/* Send one chain. 0 (sent or dropped), or -EAGAIN (backend full). */
static int tx_one(struct vnet *n, struct vq_elem *e)
{
	struct virtio_net_hdr_v1 hdr;
	uint64_t frame = e->out_len - (e->out_len >= VNET_HDR_LEN ? VNET_HDR_LEN : 0);
	unsigned int cnt = 0;
	int ret;

	/* A chain without header and frame is the driver's error: drop it. */
	if (e->out_len < VNET_HDR_LEN + VNET_ETH_HLEN || frame > VNET_MAX_FRAME) {
		n->st.tx_dropped++;
		return 0;
	}
	/* Only a vnet-header back-end takes the header (a copy: the guest
	 * may change it under us). */
	if (backend_hdr_len(n->be) != 0) {
		vq_elem_read(&n->vq[VNET_TXQ], e, 0, &hdr, VNET_HDR_LEN);
		hdr.num_buffers = 0;
		n->tx_iov[cnt].iov_base = &hdr;
		n->tx_iov[cnt++].iov_len = VNET_HDR_LEN;
	}
	cnt += iov_skip(e->iov, e->out_num, VNET_HDR_LEN, n->tx_iov + cnt,
			n->tx_iov_max - cnt);
	ret = backend_send(n->be, n->tx_iov, (int)cnt);
	if (ret == -EAGAIN)
		return -EAGAIN;
	if (ret < 0) {
		n->st.tx_dropped++;
		vnet_log(n, VUS_LOG_DEBUG, "frame dropped by the backend: %s",
			 strerror(-ret));
		return 0;
	}
	n->st.tx_packets++;
	n->st.tx_bytes += frame;
	return 0;
}

/* One budget of transmit chains; false when the queue is drained. */
static bool tx_batch(struct vnet *n)
{
	struct virtqueue *vq = &n->vq[VNET_TXQ];
	struct vq_elem *e = &n->tx_elem;

	for (unsigned int done = 0; done < TX_BUDGET; done++) {
		int r;

		/* Asked to park: stop here; the run after it goes on. */
		if (worker_park_requested(n->w))
			return false;
		r = vq_pop(vq, e);
		if (r <= 0)
			return false;
		n->busy = true;
		if (tx_one(n, e) == -EAGAIN) {
			vq_unpop(vq, 1);
			n->tx_blocked = true;
			return false;
		}
		if (vq_push(vq, e->head, 0) < 0)
			return false;
	}
	return true;
}

void datapath_tx(struct vnet *n)
{
	struct virtqueue *vq = &n->vq[VNET_TXQ];

	n->tx_more = false;
	if (!vq_ready(vq) || n->tx_blocked) {
		datapath_update_events(n);
		return;
	}
	(void)vq_kick_enable(vq, false);
	for (;;) {
		if (tx_batch(n)) {
			n->tx_more = true; /* yield; the poll hook continues */
			break;
		}
		if (n->tx_blocked || !vq_ready(vq) ||
		    worker_park_requested(n->w))
			break;
		/* Drained: ask for kicks, unless more came meanwhile. */
		if (vq_kick_enable(vq, true) != 1)
			break;
	}
	publish(n, VNET_TXQ);
	datapath_update_events(n);
}

/* Deliver into a single buffer (no mergeable buffers). 0, -EAGAIN, -EIO. */
static int rx_one(struct vnet *n)
{
	struct virtqueue *vq = &n->vq[VNET_RXQ];
	struct vq_elem *e = &n->rx_elem[0];
	uint16_t one = htole16(1);
	int r = vq_pop(vq, e);

	if (r <= 0)
		return r == 0 ? -EAGAIN : -EIO;
	if (e->in_len < n->rx_len) {
		/* This buffer can never hold the frame: drop the frame. */
		vq_unpop(vq, 1);
		n->st.rx_dropped++;
		return 0;
	}
	memcpy(n->rx_buf + offsetof(struct virtio_net_hdr_v1, num_buffers),
	       &one, sizeof(one));
	vq_elem_write(vq, e, 0, n->rx_buf, n->rx_len);
	return vq_push(vq, e->head, (uint32_t)n->rx_len) < 0 ? -EIO : 1;
}

/*
 * Descriptors one received frame may make us read: two per byte it
 * carries (chains of 1-byte descriptors, an indirect head per 12-byte
 * buffer) plus one whole chain. A driver whose receive chains hold
 * zero-length or device-readable descriptors could otherwise make a
 * frame cost queue size x queue size reads (2^30 at 32768); past this it
 * loses the frame instead.
 */
static uint64_t rx_desc_max(const struct vnet *n)
{
	return 2 * (uint64_t)n->rx_len + n->vq[VNET_RXQ].l.size + 1;
}

/* Give back the @nbufs buffers a frame took (and one more just popped). */
static void rx_give_back(struct virtqueue *vq, uint16_t nbufs, bool popped)
{
	vq_unpush(vq, nbufs);
	vq_unpop(vq, (uint16_t)(nbufs + popped));
}

/* Deliver across as many buffers as needed. 1 delivered, 0 dropped,
 * -EAGAIN (no room yet), -EINTR (asked to park: try again later), -EIO. */
static int rx_merged(struct vnet *n)
{
	struct virtqueue *vq = &n->vq[VNET_RXQ];
	struct vq_elem *e = &n->rx_elem[0];
	uint16_t nbufs = 0, nb;
	uint64_t cost = 0;
	size_t off = 0;

	while (off < n->rx_len) {
		int r = 0;
		size_t chunk;

		if (worker_park_requested(n->w)) {
			rx_give_back(vq, nbufs, false);
			return -EINTR;
		}
		if (nbufs < vq->l.size && (r = vq_pop(vq, e)) > 0)
			cost += e->ndesc;
		if (r > 0 && cost > rx_desc_max(n)) {
			rx_give_back(vq, nbufs, true);
			vnet_log_limited(n, VUS_LOG_WARNING, "receive buffers cost "
					 "over %llu descriptor reads: frame dropped",
					 (unsigned long long)rx_desc_max(n));
			n->st.rx_dropped++;
			return 0;
		}
		if (r <= 0 || (nbufs == 0 && e->in_len < VNET_HDR_LEN)) {
			/* Not enough room (yet): take it all back. */
			rx_give_back(vq, nbufs, r > 0);
			if (r < 0)
				return -EIO;
			/* Never enough, or a first buffer too small for the header. */
			if (r > 0 || nbufs == vq->l.size) {
				n->st.rx_dropped++;
				return 0;
			}
			return -EAGAIN;
		}
		chunk = e->in_len < n->rx_len - off ? (size_t)e->in_len
						     : n->rx_len - off;
		vq_elem_write(vq, e, 0, n->rx_buf + off, chunk);
		if (vq_push(vq, e->head, (uint32_t)chunk) < 0)
			return -EIO;
		off += chunk;
		nbufs++;
		e = &n->rx_elem[1];
	}
	nb = htole16(nbufs);
	e = &n->rx_elem[0];
	vq_elem_write(vq, e, offsetof(struct virtio_net_hdr_v1, num_buffers),
		      &nb, sizeof(nb));
	return 1;
}

/* Read the next frame from the backend into rx_buf. 1, 0 (none), -errno. */
static int rx_read(struct vnet *n)
{
	size_t hl = backend_hdr_len(n->be);
	uint8_t *dst = n->rx_buf + (hl ? 0 : VNET_HDR_LEN);
	ssize_t len = backend_recv(n->be, dst, n->rx_buf_size - VNET_HDR_LEN + hl);

	if (len == -EAGAIN)
		return 0;
	if (len < 0 || (size_t)len < hl + VNET_ETH_HLEN) {
		n->st.rx_dropped++;
		return len < 0 ? (int)len : -EINVAL;
	}
	/* A header of our own (zeros: nothing offloaded), or the TAP's. */
	if (hl == 0)
		memset(n->rx_buf, 0, VNET_HDR_LEN);
	memset(n->rx_buf + offsetof(struct virtio_net_hdr_v1, num_buffers), 0, 2);
	n->rx_len = (size_t)len + (hl ? 0 : VNET_HDR_LEN);
	n->rx_pending = true;
	return 1;
}

/* Deliver the pending frame. 0 done (delivered or dropped), -EAGAIN,
 * -EINTR (asked to park; still pending), -EIO. */
static int rx_deliver(struct vnet *n)
{
	int r = n->mrg_rxbuf ? rx_merged(n) : rx_one(n);

	if (r < 0)
		return r;
	n->rx_pending = false;
	n->busy = true;
	if (r == 1) {
		n->st.rx_packets++;
		n->st.rx_bytes += n->rx_len - VNET_HDR_LEN;
	}
	return 0;
}

/* Out of buffers: ask for a kick. true if buffers came meanwhile. */
static bool rx_more_came(struct vnet *n)
{
	return vq_kick_enable(&n->vq[VNET_RXQ], true) == 1;
}

void datapath_rx(struct vnet *n)
{
	struct virtqueue *vq = &n->vq[VNET_RXQ];
	bool starved = false;

	if (vq_ready(vq))
		(void)vq_kick_enable(vq, false);
	for (unsigned int budget = RX_BUDGET; budget > 0 && vq_ready(vq); budget--) {
		int r;

		if (worker_park_requested(n->w))
			break; /* the run after the park reads on */
		if (!n->rx_pending) {
			r = rx_read(n);
			if (r == 0)
				break; /* backend empty: keep watching it */
			if (r < 0)
				continue; /* bad frame, dropped */
		}
		r = rx_deliver(n);
		if (r == -EINTR)
			break;
		if (r == -EAGAIN && !rx_more_came(n)) {
			starved = true;
			break;
		}
	}
	/* Read the backend only while the ring has room (backpressure). */
	n->rx_watch = vq_ready(vq) && !starved;
	publish(n, VNET_RXQ);
	datapath_update_events(n);
}

/* The backend is gone for good: stop watching it (EPOLLERR never ends). */
static void backend_failed(struct vnet *n, int err)
{
	vnet_log_limited(n, VUS_LOG_ERR, "backend failed: %s; frames are dropped",
			 strerror(-err));
	(void)worker_unwatch(n->w, backend_fd(n->be));
	n->be_failed = true;
	n->tx_blocked = false;
	n->rx_watch = false;
}

void datapath_backend_event(struct vnet *n, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		int err = backend_take_error(n->be);

		if (err < 0 || (events & EPOLLHUP)) {
			backend_failed(n, err < 0 ? err : -EPIPE);
			return;
		}
	}
	if ((events & EPOLLOUT) && n->tx_blocked) {
		n->tx_blocked = false;
		datapath_tx(n);
	}
	if (events & EPOLLIN)
		datapath_rx(n);
	datapath_update_events(n);
}

int datapath_init(struct vnet *n)
{
	unsigned int qs = n->cfg.queue_size;

	n->rx_buf_size = VNET_HDR_LEN + VNET_MAX_FRAME;
	n->rx_buf = malloc(n->rx_buf_size);
	n->tx_iov_max = 2 * qs + 1;
	n->tx_iov = calloc(n->tx_iov_max, sizeof(*n->tx_iov));
	if (n->rx_buf == NULL || n->tx_iov == NULL ||
	    vq_elem_init(&n->tx_elem, qs) < 0 ||
	    vq_elem_init(&n->rx_elem[0], qs) < 0 ||
	    vq_elem_init(&n->rx_elem[1], qs) < 0)
		return -ENOMEM;
	return 0;
}

void datapath_free(struct vnet *n)
{
	vq_elem_free(&n->tx_elem);
	vq_elem_free(&n->rx_elem[0]);
	vq_elem_free(&n->rx_elem[1]);
	free(n->tx_iov);
	free(n->rx_buf);
}
