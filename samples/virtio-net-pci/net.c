/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net: the virtio-net device model (features, configuration space) and
 * its glue between the transport (context thread) and the worker.
 *
 * The worker runs while the driver has set DRIVER_OK and libvus has not
 * asked us to quiesce. Everything the worker uses is handed over while it
 * is parked: at DRIVER_OK the context thread starts the queues and then
 * lets the worker run; for a reset (status 0, DEVICE_RESET, a client that
 * went away) it asks the worker to park and drops the queues only once it
 * has. A quiesce is answered -EBUSY and confirmed by the worker itself
 * (vus_ctx_quiesced) when it parks, so the context thread never blocks.
 * A migration keeps it parked while stopped (net_mig.c).
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "net_priv.h"

#define BIT(b) (1ull << (b))

/* At most this many guest-triggered log lines per window. */
#define LOG_PER_WINDOW 5
#define LOG_WINDOW_S 10

/* Idle polling in mmap mode: from this interval, doubling up to the max. */
#define POLL_IDLE_MIN_NS 20000

void vnet_log(const struct vnet *n, int level, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error",
					     "warning", "notice", "info", "debug" };
	char msg[256];
	va_list ap;

	if (level > n->cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "[%s] virtio-net: %s\n", names[level & 7], msg);
}

void vnet_log_limited(struct vnet *n, int level, const char *fmt, ...)
{
	long long sec = worker_now_ns() / 1000000000 / LOG_WINDOW_S;
	char msg[256];
	va_list ap;

	/* Lines filtered out must not use up the window's quota. */
	if (level > n->cfg.log_level)
		return;
	if (atomic_exchange(&n->log_window, sec) != sec)
		atomic_store(&n->log_count, 0);
	if (atomic_fetch_add(&n->log_count, 1) >= LOG_PER_WINDOW)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vnet_log(n, level, "%s", msg);
}

/* Features. */

/* A feature the driver may take only together with one of @needs. */
static const struct {
	uint8_t bit;
	uint64_t needs;
} feature_deps[] = {
	{ VIRTIO_NET_F_GUEST_TSO4, BIT(VIRTIO_NET_F_GUEST_CSUM) },
	{ VIRTIO_NET_F_GUEST_TSO6, BIT(VIRTIO_NET_F_GUEST_CSUM) },
	{ VIRTIO_NET_F_GUEST_ECN,
	  BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) },
	{ VIRTIO_NET_F_HOST_TSO4, BIT(VIRTIO_NET_F_CSUM) },
	{ VIRTIO_NET_F_HOST_TSO6, BIT(VIRTIO_NET_F_CSUM) },
	{ VIRTIO_NET_F_HOST_ECN,
	  BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) },
};

static uint64_t features_offered(const struct vnet_config *cfg,
				 const struct backend *be)
{
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MAC) |
		     BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     BIT(VIRTIO_F_EVENT_IDX) | BIT(VIRTIO_F_INDIRECT_DESC) |
		     BIT(VIRTIO_F_ACCESS_PLATFORM);

	if (cfg->mtu != 0)
		f |= BIT(VIRTIO_NET_F_MTU);
	/* Offloads need the header on the wire: only a vnet-header TAP. */
	if (cfg->offloads && backend_hdr_len(be) != 0)
		f |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		     BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
		     BIT(VIRTIO_NET_F_HOST_ECN) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		     BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_ECN);
	return f;
}

static int features_check(void *opaque, uint64_t f)
{
	for (size_t i = 0; i < sizeof(feature_deps) / sizeof(feature_deps[0]); i++)
		if ((f & BIT(feature_deps[i].bit)) && !(f & feature_deps[i].needs))
			return -EINVAL;
	return 0;
}

/* What the backend may hand the guest: only what the guest accepted. */
static unsigned int guest_offloads(uint64_t f)
{
	unsigned int o = 0;

	if (f & BIT(VIRTIO_NET_F_GUEST_CSUM))
		o |= BACKEND_OFF_CSUM;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= BACKEND_OFF_TSO4;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= BACKEND_OFF_TSO6;
	if (f & BIT(VIRTIO_NET_F_GUEST_ECN))
		o |= BACKEND_OFF_TSO_ECN;
	return o;
}

/* Configuration space: mac, status, max_virtqueue_pairs, mtu. */

static void config_read(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct vnet *n = opaque;
	uint8_t img[VNET_CFG_SIZE] = { 0 };
	uint16_t v;

	memcpy(img + VNET_CFG_MAC, n->cfg.mac, 6);
	v = htole16(atomic_load(&n->link_down) || atomic_load(&n->carrier_down)
		    ? 0 : VIRTIO_NET_S_LINK_UP);
	memcpy(img + VNET_CFG_STATUS, &v, 2);
	v = htole16(1);
	memcpy(img + VNET_CFG_MAX_PAIRS, &v, 2);
	v = htole16(n->cfg.mtu);
	memcpy(img + VNET_CFG_MTU, &v, 2);
	if (off < sizeof(img))
		memcpy(buf, img + off, len < sizeof(img) - off ? len : sizeof(img) - off);
}

static void config_write(void *opaque, uint32_t off, const void *buf,
			 uint32_t len)
{
	/* Read-only for a virtio 1.x driver (the MAC is only legacy-writable). */
}

/* Data path control (context thread). */

void vnet_update_run(struct vnet *n)
{
	if (n->started && !n->quiesced && !n->mig_stopped && !n->client_gone)
		worker_run(n->w);
	else
		(void)worker_park(n->w, false);
}

static void net_start(void *opaque, uint64_t features,
		      const struct vpci_queue *q, unsigned int nr)
{
	struct vnet *n = opaque;
	uint32_t flags = 0;

	/* Only FAILED-then-DRIVER_OK can get here with the worker busy. */
	if (!worker_parked(n->w)) {
		vpci_needs_reset(n->pci);
		return;
	}
	n->features = features;
	n->mrg_rxbuf = features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (features & BIT(VIRTIO_F_EVENT_IDX))
		flags |= VQ_F_EVENT_IDX;
	if (features & BIT(VIRTIO_F_INDIRECT_DESC))
		flags |= VQ_F_INDIRECT;
	for (unsigned int i = 0; i < nr && i < VNET_NR_QUEUES; i++) {
		const struct vq_layout l = { .size = q[i].size, .desc = q[i].desc,
					     .avail = q[i].driver,
					     .used = q[i].device };
		/* Without a client (a hand-over's new process) there is no
		 * guest memory yet: the rings are checked when it comes. */
		int (*start)(struct virtqueue *, vus_ctx *,
			     const struct vq_layout *, uint32_t) =
			n->client_gone ? vq_start_unmapped : vq_start;

		n->reported[i] = false;
		vq_stop(&n->vq[i]);
		if (q[i].enabled && start(&n->vq[i], n->ctx, &l, flags) < 0) {
			vnet_log_limited(n, VUS_LOG_WARNING,
					 "queue %u: bad layout; device needs reset", i);
			n->reported[i] = true;
			vpci_needs_reset(n->pci);
		}
	}
	if (backend_hdr_len(n->be) != 0)
		(void)backend_set_offloads(n->be, guest_offloads(features));
	vnet_log(n, VUS_LOG_INFO, "driver ready: features %#llx",
		 (unsigned long long)features);
	n->started = true;
	vnet_update_run(n);
}

static void net_stop(void *opaque)
{
	struct vnet *n = opaque;

	n->started = false;
	vnet_update_run(n);
}

static bool net_stopped(void *opaque)
{
	struct vnet *n = opaque;

	return worker_parked(n->w);
}

/* Parked: forget the queues and anything in flight. */
static void net_reset(void *opaque)
{
	struct vnet *n = opaque;

	for (unsigned int i = 0; i < VNET_NR_QUEUES; i++) {
		vq_stop(&n->vq[i]);
		n->reported[i] = false;
	}
	n->features = 0;
	n->mrg_rxbuf = false;
	n->client_gone = false; /* nothing left to wait for */
	n->rx_count = 0;
	n->rx_watch = false;
	n->tx_blocked = false;
	n->tx_more = false;
	if (backend_hdr_len(n->be) != 0)
		(void)backend_set_offloads(n->be, 0);
}

/* Resets from outside the driver are rare and worth a line in the log. */
static void net_bus_reset(void *opaque, enum vus_reset_reason why)
{
	static const char *const reasons[] = {
		[VUS_RESET_CLIENT] = "DEVICE_RESET from the client",
		[VUS_RESET_DISCONNECT] = "the client went away",
		[VUS_RESET_BUS] = "a bus reset",
	};
	struct vnet *n = opaque;

	vnet_log(n, VUS_LOG_INFO, "reset: %s%s",
		 (unsigned int)why < sizeof(reasons) / sizeof(reasons[0]) &&
		 reasons[why] ? reasons[why] : "unknown reason",
		 n->started ? " (the driver was running)" : "");
}

static int net_quiesce(void *opaque)
{
	struct vnet *n = opaque;

	n->quiesced = true;
	return worker_park(n->w, true);
}

static void net_resume(void *opaque)
{
	struct vnet *n = opaque;

	n->quiesced = false;
	vnet_update_run(n);
}

/*
 * The client went away (quiesced, its memory already unmapped): keep the
 * queues and their progress, park until a new client has granted every
 * ring again. Frames from the backend wait in its socket meanwhile.
 */
static void net_client_lost(void *opaque)
{
	struct vnet *n = opaque;

	n->client_gone = true;
	vnet_update_run(n);
}

/*
 * A client granted memory or bound interrupts. It is back once the rings
 * are all in granted memory and the queues' interrupts reach it: a VMM
 * grants all guest memory before it binds interrupts (QEMU maps while its
 * device realizes, and binds MSI-X vectors when the guest enables them),
 * so the buffers the rings point to are there too.
 */
static void net_client_progress(void *opaque)
{
	struct vnet *n = opaque;

	if (!n->client_gone || !worker_parked(n->w))
		return;
	for (unsigned int i = 0; i < VNET_NR_QUEUES; i++)
		if (!vq_mapped(&n->vq[i]))
			return;
	if (!vpci_irqs_bound(n->pci))
		return;
	/*
	 * The rings say how far we got; after a crash (crash recovery),
	 * only they do: what the dead process took and did not publish is
	 * taken again (a frame sent twice, a frame received lost), and an
	 * interrupt it may not have sent is sent (a spare one is harmless).
	 */
	for (unsigned int i = 0; i < VNET_NR_QUEUES; i++)
		(void)vq_resync(&n->vq[i]);
	n->client_gone = false;
	vnet_log(n, VUS_LOG_INFO, "client is back: queues carry on");
	vnet_update_run(n);
	for (unsigned int i = 0; i < VNET_NR_QUEUES; i++)
		if (vq_ready(&n->vq[i]))
			vpci_notify_queue(n->pci, i);
}

/* Worker hooks (worker thread). */

static void worker_started(void *opaque)
{
	struct vnet *n = opaque;

	/* Whatever was kicked while we were parked: look at everything. */
	vpci_kick_clear(n->pci);
	n->idle_ns = POLL_IDLE_MIN_NS;
	n->last_busy_ns = worker_now_ns();
	datapath_tx(n);
	datapath_rx(n);
}

static void worker_parking(void *opaque)
{
	/*
	 * Nothing to drop: no guest pointer outlives a batch, used entries
	 * are published at the end of each, and a held receive frame is in
	 * our own buffer. Backend readiness simply waits in epoll.
	 */
}

static void worker_has_parked(void *opaque)
{
	struct vnet *n = opaque;

	vus_ctx_quiesced(n->ctx);
}

static void kick(struct vnet *n, unsigned int q)
{
	n->st.kicks++;
	if (q == VNET_TXQ)
		datapath_tx(n);
	else
		datapath_rx(n);
}

/* Next wait: spin while busy lately, then back off towards the maximum. */
static int64_t poll_interval(struct vnet *n)
{
	int64_t now = worker_now_ns(), max;

	if (n->busy) {
		n->busy = false;
		n->last_busy_ns = now;
		n->idle_ns = POLL_IDLE_MIN_NS;
	}
	if (now - n->last_busy_ns < (int64_t)n->cfg.poll_spin_us * 1000)
		return 0;
	max = (int64_t)n->cfg.poll_max_us * 1000;
	n->idle_ns = n->idle_ns * 2 > max ? max : n->idle_ns * 2;
	return n->idle_ns > 0 ? n->idle_ns : 1000;
}

static int64_t worker_poll(void *opaque)
{
	struct vnet *n = opaque;

	if (n->cfg.notify == VPCI_NOTIFY_MMAP)
		for (unsigned int q = 0; q < VNET_NR_QUEUES; q++)
			if (vpci_kick_poll(n->pci, q)) {
				n->busy = true;
				kick(n, q);
			}
	if (n->tx_more)
		datapath_tx(n);
	if (n->cfg.notify != VPCI_NOTIFY_MMAP)
		return n->tx_more ? 0 : -1;
	return n->tx_more ? 0 : poll_interval(n);
}

static void kick_event(struct vnet *n, unsigned int q)
{
	eventfd_t v;

	(void)eventfd_read(vpci_kick_fd(n->pci, q), &v);
	kick(n, q);
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

int vnet_watch_backend(struct vnet *n)
{
	return worker_watch(n->w, backend_fd(n->be),
			    backend_poll_events(n->be, 0), backend_event, n);
}

/* Setup. */

static int setup_worker(struct vnet *n)
{
	static const struct worker_ops ops = {
		.run = worker_started, .park = worker_parking,
		.parked = worker_has_parked, .poll = worker_poll,
	};
	int ret = worker_create(&ops, n, &n->w);

	if (ret == 0 && n->cfg.notify == VPCI_NOTIFY_IOEVENTFD) {
		ret = worker_watch(n->w, vpci_kick_fd(n->pci, VNET_RXQ), EPOLLIN,
				   rx_kick_event, n);
		if (ret == 0)
			ret = worker_watch(n->w, vpci_kick_fd(n->pci, VNET_TXQ),
					   EPOLLIN, tx_kick_event, n);
	}
	/* Taking over, the backend's fd comes later (net_handover.c). */
	if (ret == 0 && backend_fd(n->be) >= 0)
		ret = vnet_watch_backend(n);
	return ret;
}

int vnet_create(vus_ctx *ctx, struct backend *be, const struct vnet_config *cfg,
		struct vnet **out)
{
	static const struct vpci_ops ops = {
		.features_check = features_check, .config_read = config_read,
		.config_write = config_write, .start = net_start,
		.stop = net_stop, .stopped = net_stopped, .reset = net_reset,
		.quiesce = net_quiesce, .resume = net_resume,
		.client_lost = net_client_lost,
		.client_progress = net_client_progress,
		.bus_reset = net_bus_reset,
	};
	struct vnet *n;
	int ret;

	if (cfg->queue_size < 2 || cfg->queue_size > VQ_MAX_SIZE ||
	    (cfg->queue_size & (cfg->queue_size - 1)))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->ctx = ctx;
	n->be = be;
	atomic_init(&n->carrier_down, !backend_carrier(be));
	n->cfg = *cfg;
	n->offered = features_offered(cfg, be);
	const struct vpci_desc desc = {
		.device_id = 1, .class_code = 0x020000, .features = n->offered,
		.nr_queues = VNET_NR_QUEUES, .queue_size = cfg->queue_size,
		.config_size = VNET_CFG_SIZE, .notify = cfg->notify,
		.ops = &ops, .opaque = n,
	};
	ret = datapath_init(n);
	if (ret == 0)
		ret = vpci_create(ctx, &desc, &n->pci);
	if (ret == 0)
		ret = vnet_mig_setup(n);
	if (ret == 0)
		ret = vnet_rpc_setup(n);
	if (ret == 0)
		ret = vnet_handover_setup(n);
	if (ret == 0)
		ret = setup_worker(n);
	if (ret < 0) {
		vnet_destroy(n);
		return ret;
	}
	*out = n;
	return 0;
}

void vnet_shutdown(struct vnet *n)
{
	worker_stop(n->w);
}

void vnet_destroy(struct vnet *n)
{
	if (n == NULL)
		return;
	worker_destroy(n->w);
	vpci_destroy(n->pci);
	datapath_free(n);
	free(n);
}

void vnet_get_stats(const struct vnet *n, struct vnet_stats *out)
{
	*out = n->st;
}
