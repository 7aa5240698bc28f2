/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_mig: the network device's migration. The rings and buffers are in
 * guest memory, which the VMM copies (with the dirty page log libvus
 * keeps: the data path reports every receive-buffer write); the transport
 * carries the driver's registers ("virtio-pci"); this section carries the
 * rest of what the guest can observe: the MAC it was shown, how far each
 * queue had got, its link status, and the received frames still waiting
 * for ring space.
 *
 * Section "virtio-net" version 2, little-endian:
 *   u8 mac[6] | u16 mtu | u8 nr_queues (2) |
 *   nr_queues x (u16 last_avail | u16 used_idx | u16 signalled |
 *                u8 signalled_valid | u8 error) |
 *   u8 link (0 up, 1 down) |
 *   u8 nr_frames (0..VNET_RX_BATCH) | nr_frames x u32 len |
 *   the frames' bytes, one after the other (each: virtio-net header +
 *   frame, len bytes)
 * Version 1 (still loaded) has no link byte and was read by a version
 * that held at most one frame; a stream of version 2 is refused by a
 * version 1 destination, which could not have taken its link status or
 * more than one held frame.
 *
 * The worker is parked whenever the migration state is not a running one
 * (STOP, STOP_COPY, RESUMING, ERROR): libvus quiesces the device for every
 * state change, and the state callback keeps it parked. Frames the
 * backend holds at the stop stay there; a real network drops them too.
 */
#include <errno.h>
#include <string.h>

#include "net_priv.h"

#define SECTION_VERSION 2u

struct image {
	uint8_t mac[6];
	uint16_t mtu;
	struct vq_state q[2];
	uint8_t link_down; /* 0 or 1; version 1: the destination's own */
	uint8_t nr_frames;
	uint32_t len[VNET_RX_BATCH];
};

/* The frames held: the slots from rx_head, less the ones dropped. */
static int save_frames(const struct vnet_pair *n, vus_mig_out *out)
{
	unsigned int nr = 0;
	int ret;

	for (unsigned int i = n->rx_head; i < n->rx_head + n->rx_count; i++)
		nr += n->rx_len[i] != 0;
	ret = vus_mig_put_u8(out, (uint8_t)nr);
	for (unsigned int i = n->rx_head; ret == 0 && i < n->rx_head + n->rx_count; i++)
		if (n->rx_len[i] != 0)
			ret = vus_mig_put_u32(out, n->rx_len[i]);
	for (unsigned int i = n->rx_head; ret == 0 && i < n->rx_head + n->rx_count; i++)
		if (n->rx_len[i] != 0)
			ret = vus_mig_put(out, n->rx_buf + (size_t)i * n->rx_buf_size,
					  n->rx_len[i]);
	return ret;
}

/* The held frames' count and lengths; their bytes must be all that is
 * left, each frame at least a header and an Ethernet header long. */
static int parse_frames(const struct vnet_pair *n, vus_mig_in *in,
			struct image *m)
{
	uint64_t total = 0;

	if (vus_mig_get_u8(in, &m->nr_frames) < 0 || m->nr_frames > VNET_RX_BATCH)
		return -EBADMSG;
	for (unsigned int i = 0; i < m->nr_frames; i++) {
		if (vus_mig_get_u32(in, &m->len[i]) < 0 ||
		    m->len[i] < VNET_HDR_LEN + VNET_ETH_HLEN ||
		    m->len[i] > n->rx_buf_size)
			return -EBADMSG;
		total += m->len[i];
	}
	return vus_mig_remaining(in) == total ? 0 : -EBADMSG;
}

static int save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct vnet *n = opaque;
	struct vnet_pair *p = &n->pairs[0];
	int ret;

	/* Only a parked worker has no chain half done. */
	if (!worker_parked(p->w))
		return -EBUSY;
	ret = vus_mig_put(out, n->cfg.mac, 6);
	ret = ret ? ret : vus_mig_put_u16(out, n->cfg.mtu);
	ret = ret ? ret : vus_mig_put_u8(out, 2);
	for (unsigned int i = 0; ret == 0 && i < 2; i++) {
		struct vq_state s;

		vq_get_state(&p->vq[i], &s);
		ret = vus_mig_put_u16(out, s.last_avail);
		ret = ret ? ret : vus_mig_put_u16(out, s.used_idx);
		ret = ret ? ret : vus_mig_put_u16(out, s.signalled);
		ret = ret ? ret : vus_mig_put_u8(out, s.signalled_valid);
		ret = ret ? ret : vus_mig_put_u8(out, s.error);
	}
	ret = ret ? ret : vus_mig_put_u8(out, atomic_load(&n->link_down));
	return ret ? ret : save_frames(p, out);
}

/* Parse everything but the frame bytes, which are left in @in. */
static int parse(const struct vnet *n, vus_mig_in *in, uint32_t version,
		 struct image *m)
{
	uint8_t nr = 0, valid = 0;
	int ret;

	ret = vus_mig_get(in, m->mac, 6);
	ret = ret ? ret : vus_mig_get_u16(in, &m->mtu);
	ret = ret ? ret : vus_mig_get_u8(in, &nr);
	if (ret == 0 && (nr != 2 || n->nr_pairs != 1))
		return -ENODEV;
	for (unsigned int i = 0; ret == 0 && i < 2; i++) {
		struct vq_state *s = &m->q[i];

		ret = vus_mig_get_u16(in, &s->last_avail);
		ret = ret ? ret : vus_mig_get_u16(in, &s->used_idx);
		ret = ret ? ret : vus_mig_get_u16(in, &s->signalled);
		ret = ret ? ret : vus_mig_get_u8(in, &valid);
		ret = ret ? ret : vus_mig_get_u8(in, &s->error);
		if (ret == 0 && (valid > 1 || s->error > VQ_ERR_MAX))
			return -EBADMSG;
		s->signalled_valid = valid;
	}
	m->link_down = atomic_load(&n->link_down);
	if (ret == 0 && version >= 2) {
		ret = vus_mig_get_u8(in, &m->link_down);
		if (ret == 0 && m->link_down > 1)
			return -EBADMSG;
	}
	ret = ret ? ret : parse_frames(&n->pairs[0], in, m);
	if (ret < 0)
		return ret;
	/* A station address is unicast (as --mac requires). */
	if (m->mac[0] & 1)
		return -EBADMSG;
	/* The MTU was shown to the guest: this device must show the same. */
	return m->mtu == n->cfg.mtu ? 0 : -ENODEV;
}

static int check(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct image m;

	return parse(opaque, in, version, &m);
}

static int load(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct vnet *n = opaque;
	struct vnet_pair *p = &n->pairs[0];
	struct image m;
	int ret = parse(n, in, version, &m);

	if (ret < 0)
		return ret;
	if (memcmp(m.mac, n->cfg.mac, 6) != 0)
		vnet_log(n, VUS_LOG_NOTICE,
			 "taking the migrated MAC %02x:%02x:%02x:%02x:%02x:%02x",
			 m.mac[0], m.mac[1], m.mac[2], m.mac[3], m.mac[4], m.mac[5]);
	memcpy(n->cfg.mac, m.mac, 6);
	/* The guest saw this status on the source (and its change interrupt
	 * there): no interrupt here. */
	atomic_store(&n->link_down, m.link_down != 0);
	/*
	 * The transport's section, loaded before this one, restarted the
	 * queues a running driver had (worker parked): carry on where the
	 * source stopped instead of from index 0.
	 */
	for (unsigned int i = 0; i < 2; i++) {
		if (!vq_ready(&p->vq[i]))
			continue;
		if (vq_set_state(&p->vq[i], &m.q[i]) < 0) {
			/* More in flight than this ring holds: the source's
			 * queue size differs from what the transport said. */
			vnet_log(n, VUS_LOG_WARNING,
				 "queue %u: migrated state does not fit; device needs reset",
				 i);
			vq_stop(&p->vq[i]);
			vpci_needs_reset(n->pci);
		}
	}
	p->rx_head = 0;
	p->rx_count = m.nr_frames;
	for (unsigned int i = 0; i < m.nr_frames; i++) {
		p->rx_len[i] = m.len[i];
		(void)vus_mig_get(in, p->rx_buf + (size_t)i * p->rx_buf_size,
				  m.len[i]);
	}
	return 0;
}

/* Park the worker in the stopped states; let it run in the others. */
static void state_changed(vus_ctx *ctx, void *opaque, enum vus_mig_state from,
			  enum vus_mig_state to)
{
	struct vnet *n = opaque;

	(void)from;
	n->mig_stopped = vus_mig_state_stopped(to);
	vnet_update_run(n);
}

int vnet_mig_setup(struct vnet *n)
{
	static const struct vus_mig_section_ops ops = {
		.struct_size = sizeof(ops), .save = save, .check = check,
		.load = load,
	};
	const struct vus_mig_config mc = {
		.struct_size = sizeof(mc),
		.compat_version = n->cfg.compat_version ? n->cfg.compat_version : 1,
	};
	int ret = vus_mig_setup(n->ctx, &mc);

	/* Order matters: the transport's section is loaded first. */
	ret = ret ? ret : vpci_mig_setup(n->pci);
	ret = ret ? ret : vus_mig_add_section(n->ctx, "virtio-net",
					      SECTION_VERSION, &ops, n);
	return ret ? ret : vus_mig_set_state_cb(n->ctx, state_changed, n);
}
