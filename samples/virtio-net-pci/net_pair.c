/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_pair: the queue pairs and their workers. Pair i (receive queue 2i,
 * transmit queue 2i + 1) has a worker thread of its own, with its own
 * epoll set: its two doorbells and its backend fd (with --queues N, a TAP
 * queue of its own: the kernel spreads flows over the queues by hash),
 * so that N guest vCPUs can keep N host CPUs busy. The library never
 * spawns threads; the sample does.
 *
 * Only the pairs the driver uses run: pair 0 from a reset, the first k
 * after VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET k. An unused pair's TAP queue is
 * detached from the interface (TUNSETQUEUE), so the kernel steers no flow
 * to it; a detached queue polls EPOLLERR, so it is detached only while
 * its worker cannot look: by the worker itself as it parks, or by the
 * context thread while the worker is parked; and attached again before
 * the worker runs (by the worker's run hook, or by the context thread
 * before it lets a worker that never noticed the park go on).
 *
 * A quiesce parks every worker: the last one to park says so to libvus.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "net_priv.h"

/* Idle polling in mmap mode: from this interval, doubling up to the max. */
#define POLL_IDLE_MIN_NS 20000

static bool pair_active(const struct vnet_pair *p)
{
	return p->idx < atomic_load(&p->n->active_pairs);
}

/* Attach or detach @p's TAP queue (a multi-queue TAP only), once. */
static void tap_queue(struct vnet_pair *p, bool attach)
{
	int ret;

	/* Taking over, the fd comes later, in the state the old one left. */
	if (p->n->nr_pairs == 1 || backend_fd(p->be) < 0 ||
	    atomic_exchange(&p->detached, !attach) == !attach)
		return;
	ret = backend_tap_queue(p->be, attach);
	/* EINVAL: detached already (a dead process's queue, --recover). */
	if (ret < 0 && !(ret == -EINVAL && !attach))
		vnet_log_limited(p->n, VUS_LOG_WARNING, "pair %u: %s the TAP queue: %d",
				 p->idx, attach ? "attaching" : "detaching", ret);
}

/* Worker hooks (worker thread). */

static void worker_started(void *opaque)
{
	struct vnet_pair *p = opaque;

	tap_queue(p, true);
	/* Whatever was kicked while we were parked: look at everything. */
	if (p->idx == 0)
		vpci_kick_clear(p->n->pci);
	p->idle_ns = POLL_IDLE_MIN_NS;
	p->last_busy_ns = worker_now_ns();
	datapath_tx(p);
	datapath_rx(p);
}

static void worker_parking(void *opaque)
{
	struct vnet_pair *p = opaque;

	/*
	 * Nothing to drop: no guest pointer outlives a batch, used entries
	 * are published at the end of each, and a held receive frame is in
	 * our own buffer. Backend readiness simply waits in epoll. A pair
	 * the driver stopped using gives its TAP queue up.
	 */
	if (!pair_active(p))
		tap_queue(p, false);
}

static void worker_has_parked(void *opaque)
{
	struct vnet_pair *p = opaque;

	if (atomic_fetch_sub(&p->n->parking, 1) == 1)
		vus_ctx_quiesced(p->n->ctx);
}

static void kick(struct vnet_pair *p, unsigned int q)
{
	p->st.kicks++;
	if (q == VNET_TXQ)
		datapath_tx(p);
	else
		datapath_rx(p);
}

/* Next wait: spin while busy lately, then back off towards the maximum. */
static int64_t poll_interval(struct vnet_pair *p)
{
	int64_t now = worker_now_ns(), max;

	if (p->busy) {
		p->busy = false;
		p->last_busy_ns = now;
		p->idle_ns = POLL_IDLE_MIN_NS;
	}
	if (now - p->last_busy_ns < (int64_t)p->n->cfg.poll_spin_us * 1000)
		return 0;
	max = (int64_t)p->n->cfg.poll_max_us * 1000;
	p->idle_ns = p->idle_ns * 2 > max ? max : p->idle_ns * 2;
	return p->idle_ns > 0 ? p->idle_ns : 1000;
}

static int64_t worker_poll(void *opaque)
{
	struct vnet_pair *p = opaque;
	bool mmap = p->n->cfg.notify == VPCI_NOTIFY_MMAP;

	for (unsigned int q = 0; mmap && q < 2; q++)
		if (vpci_kick_poll(p->n->pci, 2 * p->idx + q)) {
			p->busy = true;
			kick(p, q);
		}
	if (p->tx_more)
		datapath_tx(p);
	if (!mmap)
		return p->tx_more ? 0 : -1;
	return p->tx_more ? 0 : poll_interval(p);
}

static void kick_event(struct vnet_pair *p, unsigned int q)
{
	eventfd_t v;

	(void)eventfd_read(vpci_kick_fd(p->n->pci, 2 * p->idx + q), &v);
	kick(p, q);
}

static void rx_kick_event(void *opaque, uint32_t events)
{
	kick_event(opaque, VNET_RXQ);
}

static void tx_kick_event(void *opaque, uint32_t events)
{
	kick_event(opaque, VNET_TXQ);
}

static void backend_event(void *opaque, uint32_t events)
{
	datapath_backend_event(opaque, events);
}

int vnet_watch_backend(struct vnet_pair *p)
{
	return worker_watch(p->w, backend_fd(p->be),
			    backend_poll_events(p->be, 0), backend_event, p);
}

/* Context thread. */

void vnet_update_run(struct vnet *n)
{
	bool run = n->started && !n->quiesced && !n->mig_stopped &&
		   !n->client_gone;

	for (unsigned int i = 0; i < n->nr_pairs; i++) {
		struct vnet_pair *p = &n->pairs[i];

		if (run && pair_active(p)) {
			/* It may go on without its run hook (worker.h). */
			if (worker_parked(p->w))
				tap_queue(p, true);
			worker_run(p->w);
			continue;
		}
		/* Parked at once (asleep): it cannot look, detach now. */
		if (worker_park(p->w, false) == 0 && !pair_active(p))
			tap_queue(p, false);
	}
}

int vnet_pairs_quiesce(struct vnet *n)
{
	/* One count for us, so that no worker ends it before we are done. */
	atomic_store(&n->parking, 1);
	for (unsigned int i = 0; i < n->nr_pairs; i++) {
		atomic_fetch_add(&n->parking, 1);
		if (worker_park(n->pairs[i].w, true) == 0)
			atomic_fetch_sub(&n->parking, 1);
	}
	return atomic_fetch_sub(&n->parking, 1) == 1 ? 0 : -EBUSY;
}

bool vnet_pairs_parked(struct vnet *n)
{
	for (unsigned int i = 0; i < n->nr_pairs; i++)
		if (!worker_parked(n->pairs[i].w))
			return false;
	return true;
}

static int setup_worker(struct vnet_pair *p)
{
	static const struct worker_ops ops = {
		.run = worker_started, .park = worker_parking,
		.parked = worker_has_parked, .poll = worker_poll,
	};
	struct vpci *pci = p->n->pci;
	int ret = worker_create(&ops, p, &p->w);

	if (ret == 0 && p->n->cfg.notify == VPCI_NOTIFY_IOEVENTFD) {
		ret = worker_watch(p->w, vpci_kick_fd(pci, 2 * p->idx + VNET_RXQ),
				   EPOLLIN, rx_kick_event, p);
		if (ret == 0)
			ret = worker_watch(p->w, vpci_kick_fd(pci, 2 * p->idx + VNET_TXQ),
					   EPOLLIN, tx_kick_event, p);
	}
	/* Taking over, the backend's fd comes later (net_handover.c). */
	if (ret == 0 && backend_fd(p->be) >= 0)
		ret = vnet_watch_backend(p);
	return ret;
}

int vnet_pairs_setup(struct vnet *n)
{
	int ret = 0;

	for (unsigned int i = 0; ret == 0 && i < n->nr_pairs; i++)
		ret = setup_worker(&n->pairs[i]);
	return ret;
}

void vnet_pairs_destroy(struct vnet *n)
{
	for (unsigned int i = 0; n->pairs != NULL && i < n->nr_pairs; i++) {
		worker_destroy(n->pairs[i].w);
		datapath_free(&n->pairs[i]);
	}
	free(n->pairs);
}
