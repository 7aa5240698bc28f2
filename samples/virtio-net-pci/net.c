/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net: the virtio-net device model (features, configuration space) and
 * its glue between the transport (context thread) and the workers, one
 * per queue pair (net_pair.c).
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
	/* The spec's rule; and ours: the control queue sits after all the
	 * pairs, where a driver without MQ would look for pair 1's. */
	{ VIRTIO_NET_F_MQ, BIT(VIRTIO_NET_F_CTRL_VQ) },
	{ VIRTIO_NET_F_CTRL_VQ, BIT(VIRTIO_NET_F_MQ) },
};

static uint64_t features_offered(const struct vnet *n, const struct backend *be)
{
	const struct vnet_config *cfg = &n->cfg;
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
	if (n->nr_pairs > 1)
		f |= BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ);
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

bool vnet_link_up(struct vnet *n)
{
	return !atomic_load(&n->link_down) && !atomic_load(&n->carrier_down);
}

static void config_read(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct vnet *n = opaque;
	uint8_t img[VNET_CFG_SIZE] = { 0 };
	uint16_t v;

	memcpy(img + VNET_CFG_MAC, n->cfg.mac, 6);
	v = htole16(vnet_link_up(n) ? VIRTIO_NET_S_LINK_UP : 0);
	memcpy(img + VNET_CFG_STATUS, &v, 2);
	v = htole16((uint16_t)n->nr_pairs);
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

/* Queue pair @p's rings from the driver's registers @q (its two). */
static void pair_start(struct vnet_pair *p, const struct vpci_queue *q,
		       uint32_t flags)
{
	struct vnet *n = p->n;

	p->mrg_rxbuf = n->features & BIT(VIRTIO_NET_F_MRG_RXBUF);
	for (unsigned int i = 0; i < 2; i++) {
		/* Without a client (a hand-over's new process) there is no
		 * guest memory yet: the rings are checked when it comes. */
		p->reported[i] = vnet_queue_start(n, &p->vq[i], &q[i], flags,
						  2 * p->idx + i) < 0;
	}
	if (backend_hdr_len(p->be) != 0)
		(void)backend_set_offloads(p->be, guest_offloads(n->features));
}

int vnet_queue_start(struct vnet *n, struct virtqueue *vq,
		     const struct vpci_queue *q, uint32_t flags, unsigned int idx)
{
	const struct vq_layout l = { .size = q->size, .desc = q->desc,
				     .avail = q->driver, .used = q->device };
	int (*start)(struct virtqueue *, vus_ctx *, const struct vq_layout *,
		     uint32_t) = n->client_gone ? vq_start_unmapped : vq_start;

	vq_stop(vq);
	if (!q->enabled || start(vq, n->ctx, &l, flags) == 0)
		return 0;
	vnet_log_limited(n, VUS_LOG_WARNING, "queue %u: bad layout; device needs reset",
			 idx);
	vpci_needs_reset(n->pci);
	return -EINVAL;
}

static void net_start(void *opaque, uint64_t features,
		      const struct vpci_queue *q, unsigned int nr)
{
	struct vnet *n = opaque;
	uint32_t flags = 0;

	/* Only FAILED-then-DRIVER_OK can get here with a worker busy. */
	if (!vnet_pairs_parked(n) || nr != 2 * n->nr_pairs + (n->nr_pairs > 1)) {
		vpci_needs_reset(n->pci);
		return;
	}
	n->features = features;
	if (features & BIT(VIRTIO_F_EVENT_IDX))
		flags |= VQ_F_EVENT_IDX;
	if (features & BIT(VIRTIO_F_INDIRECT_DESC))
		flags |= VQ_F_INDIRECT;
	for (unsigned int i = 0; i < n->nr_pairs; i++)
		pair_start(&n->pairs[i], q + 2 * i, flags);
	vnet_ctrl_start(n, q, flags);
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
	return vnet_pairs_parked(opaque);
}

/* Parked: forget the queues and anything in flight. */
static void net_reset(void *opaque)
{
	struct vnet *n = opaque;

	for (unsigned int k = 0; k < n->nr_pairs; k++) {
		struct vnet_pair *p = &n->pairs[k];

		for (unsigned int i = 0; i < 2; i++) {
			vq_stop(&p->vq[i]);
			p->reported[i] = false;
		}
		p->mrg_rxbuf = false;
		p->rx_count = 0;
		p->rx_watch = false;
		p->tx_blocked = false;
		p->tx_more = false;
		if (backend_hdr_len(p->be) != 0)
			(void)backend_set_offloads(p->be, 0);
	}
	vnet_ctrl_reset(n);
	n->features = 0;
	n->client_gone = false; /* nothing left to wait for */
	/* Only the first pair until the driver says otherwise. */
	atomic_store(&n->active_pairs, 1);
	vnet_update_run(n);
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
	return vnet_pairs_quiesce(n);
}

static void net_client_progress(void *opaque);

static void net_resume(void *opaque)
{
	struct vnet *n = opaque;

	n->quiesced = false;
	vnet_update_run(n);
	/* A restored device (--recover) resumes after its client's memory
	 * and eventfds came back: one with nothing to bind never shows
	 * more progress, so look now. */
	net_client_progress(n);
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
 * A client granted memory or bound interrupts, or a restored device
 * resumed. It is back once the rings are all in granted memory and the
 * queues' interrupts reach it (vpci_irqs_bound: MSI-X only): a VMM
 * grants all guest memory before it binds interrupts (QEMU maps while its
 * device realizes, and binds MSI-X vectors when the guest enables them),
 * so the buffers the rings point to are there too.
 */
/* Every started queue's rings are in granted memory again. */
static bool queues_mapped(struct vnet *n)
{
	for (unsigned int k = 0; k < n->nr_pairs; k++)
		for (unsigned int i = 0; i < 2; i++)
			if (!vq_mapped(&n->pairs[k].vq[i]))
				return false;
	return vq_mapped(&n->ctrl);
}

static void net_client_progress(void *opaque)
{
	struct vnet *n = opaque;

	if (!n->client_gone || !vnet_pairs_parked(n) || !queues_mapped(n) ||
	    !vpci_irqs_bound(n->pci))
		return;
	/*
	 * The rings say how far we got; after a crash (crash recovery),
	 * only they do: what the dead process took and did not publish is
	 * taken again (a frame sent twice, a frame received lost), and an
	 * interrupt it may not have sent is sent (a spare one is harmless).
	 */
	for (unsigned int k = 0; k < n->nr_pairs; k++)
		for (unsigned int i = 0; i < 2; i++)
			(void)vq_resync(&n->pairs[k].vq[i]);
	(void)vq_resync(&n->ctrl);
	n->client_gone = false;
	vnet_log(n, VUS_LOG_INFO, "client is back: queues carry on");
	vnet_update_run(n);
	for (unsigned int k = 0; k < n->nr_pairs; k++)
		for (unsigned int i = 0; i < 2; i++)
			if (vq_ready(&n->pairs[k].vq[i]))
				vpci_notify_queue(n->pci, 2 * k + i);
	if (vq_ready(&n->ctrl))
		vpci_notify_queue(n->pci, vnet_ctrl_queue(n));
}

/* Setup. */

static int pairs_create(struct vnet *n, struct backend *const *be)
{
	int ret = 0;

	n->pairs = calloc(n->nr_pairs, sizeof(*n->pairs));
	if (n->pairs == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; ret == 0 && i < n->nr_pairs; i++) {
		n->pairs[i].n = n;
		n->pairs[i].idx = i;
		n->pairs[i].be = be[i];
		atomic_init(&n->pairs[i].detached, false);
		ret = datapath_init(&n->pairs[i], n->cfg.queue_size);
	}
	return ret;
}

int vnet_create(vus_ctx *ctx, struct backend *const *be,
		const struct vnet_config *cfg, struct vnet **out)
{
	static const struct vpci_ops ops = {
		.features_check = features_check, .config_read = config_read,
		.config_write = config_write, .start = net_start,
		.stop = net_stop, .stopped = net_stopped, .reset = net_reset,
		.quiesce = net_quiesce, .resume = net_resume,
		.client_lost = net_client_lost,
		.client_progress = net_client_progress,
		.bus_reset = net_bus_reset, .ctx_kick = vnet_ctrl_kick,
	};
	unsigned int pairs = cfg->queue_pairs ? cfg->queue_pairs : 1;
	struct vnet *n;
	int ret;

	if (cfg->queue_size < 2 || cfg->queue_size > VQ_MAX_SIZE ||
	    (cfg->queue_size & (cfg->queue_size - 1)) || pairs > VNET_MAX_PAIRS)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->ctx = ctx;
	n->nr_pairs = pairs;
	atomic_init(&n->active_pairs, 1);
	atomic_init(&n->carrier_down, !backend_carrier(be[0]));
	n->cfg = *cfg;
	n->offered = features_offered(n, be[0]);
	/* With several pairs, the control queue comes last; its doorbell
	 * is served on the context thread (net_ctrl.c). */
	const struct vpci_desc desc = {
		.device_id = 1, .class_code = 0x020000, .features = n->offered,
		.nr_queues = (uint16_t)(2 * pairs + (pairs > 1)),
		.nr_ctx_queues = pairs > 1, .queue_size = cfg->queue_size,
		.config_size = VNET_CFG_SIZE, .notify = cfg->notify,
		.ops = &ops, .opaque = n,
	};
	ret = pairs_create(n, be);
	ret = ret ? ret : vnet_ctrl_init(n);
	ret = ret ? ret : vpci_create(ctx, &desc, &n->pci);
	ret = ret ? ret : vnet_mig_setup(n);
	ret = ret ? ret : vnet_rpc_setup(n);
	ret = ret ? ret : vnet_handover_setup(n);
	ret = ret ? ret : vnet_pairs_setup(n);
	if (ret < 0) {
		vnet_destroy(n);
		return ret;
	}
	/* Parked, the unused pairs give their TAP queues up. */
	vnet_update_run(n);
	*out = n;
	return 0;
}

void vnet_shutdown(struct vnet *n)
{
	for (unsigned int i = 0; i < n->nr_pairs; i++)
		worker_stop(n->pairs[i].w);
}

void vnet_destroy(struct vnet *n)
{
	if (n == NULL)
		return;
	vnet_pairs_destroy(n);
	vpci_destroy(n->pci);
	vnet_ctrl_free(n);
	free(n);
}

unsigned int vnet_pairs(const struct vnet *n)
{
	return n->nr_pairs;
}

void vnet_get_stats(const struct vnet *n, int pair, struct vnet_stats *out)
{
	*out = (struct vnet_stats){ 0 };
	for (unsigned int i = 0; i < n->nr_pairs; i++) {
		const struct vnet_stats *s = &n->pairs[i].st;

		if (pair >= 0 && (unsigned int)pair != i)
			continue;
		out->tx_packets += s->tx_packets;
		out->tx_bytes += s->tx_bytes;
		out->tx_dropped += s->tx_dropped;
		out->rx_packets += s->rx_packets;
		out->rx_bytes += s->rx_bytes;
		out->rx_dropped += s->rx_dropped;
		out->kicks += s->kicks;
		out->interrupts += s->interrupts;
		out->queue_errors += s->queue_errors;
	}
}
