/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_mig: the network device's migration. The rings and buffers are in
 * guest memory, which the VMM copies (with the dirty page log libvus
 * keeps: the data path reports every receive-buffer write); the transport
 * carries the driver's registers ("virtio-pci"); this section carries the
 * rest of what the guest can observe: the MAC it was shown, how far each
 * queue had got, its link status, the queue pairs in use, and the
 * received frames still waiting for ring space.
 *
 * Section "virtio-net" version 2 (one queue pair), little-endian:
 *   u8 mac[6] | u16 mtu | u8 nr_queues (2) |
 *   nr_queues x (u16 last_avail | u16 used_idx | u16 signalled |
 *                u8 signalled_valid | u8 error) |
 *   u8 link (0 up, 1 down) |
 *   u8 nr_frames (0..VNET_RX_BATCH) | nr_frames x u32 len |
 *   the frames' bytes, one after the other (each: virtio-net header +
 *   frame, len bytes)
 * Version 3 (a device with N > 1 pairs) has 2N + 1 queues (the pairs',
 * then the control queue), then after the link byte u16 pairs in use
 * (1..N), then for each pair its u8 nr_frames and their lengths, then all
 * the pairs' frame bytes, pair 0's first. A device of one pair still
 * writes version 2, byte for byte as before; a device of N pairs takes
 * only a version 3 stream of N pairs (-ENODEV otherwise).
 * Version 1 (still loaded) has no link byte and was read by a version
 * that held at most one frame; a stream of version 2 is refused by a
 * version 1 destination, which could not have taken its link status or
 * more than one held frame.
 *
 * The workers are parked whenever the migration state is not a running
 * one (STOP, STOP_COPY, RESUMING, ERROR): libvus quiesces the device for
 * every state change, and the state callback keeps them parked. Frames
 * the backend holds at the stop stay there; a real network drops them too.
 */
#include <errno.h>
#include <string.h>

#include "net_priv.h"

#define SECTION_VERSION 2u    /* one pair */
#define SECTION_VERSION_MQ 3u /* several */

struct image {
	uint8_t mac[6];
	uint16_t mtu;
	struct vq_state q[VPCI_MAX_QUEUES];
	uint8_t link_down; /* 0 or 1; version 1: the destination's own */
	uint16_t pairs;    /* in use; version 3 only */
	uint8_t nr_frames[VNET_MAX_PAIRS];
	uint32_t len[VNET_MAX_PAIRS][VNET_RX_BATCH];
};

/* Queues in the section: the pairs', and the control queue if any. */
static unsigned int section_queues(const struct vnet *n)
{
	return 2 * n->nr_pairs + (n->nr_pairs > 1);
}

static struct virtqueue *queue_at(struct vnet *n, unsigned int q)
{
	return q < 2 * n->nr_pairs ? &n->pairs[q / 2].vq[q % 2] : &n->ctrl;
}

/* The frames pair @p holds: the slots from rx_head, less the ones
 * dropped. Their count and lengths, or (@bytes) their bytes. */
static int save_frames(const struct vnet_pair *p, vus_mig_out *out, bool bytes)
{
	unsigned int nr = 0, end = p->rx_head + p->rx_count;
	int ret = 0;

	for (unsigned int i = p->rx_head; i < end; i++)
		nr += p->rx_len[i] != 0;
	if (!bytes)
		ret = vus_mig_put_u8(out, (uint8_t)nr);
	for (unsigned int i = p->rx_head; ret == 0 && i < end; i++) {
		if (p->rx_len[i] == 0)
			continue;
		ret = bytes ? vus_mig_put(out, p->rx_buf + (size_t)i * p->rx_buf_size,
					  p->rx_len[i])
			    : vus_mig_put_u32(out, p->rx_len[i]);
	}
	return ret;
}

/* Pair @k's held frames' count and lengths, each frame at least a header
 * and an Ethernet header long; their total added to @total. */
static int parse_frames(const struct vnet_pair *p, vus_mig_in *in,
			struct image *m, uint64_t *total)
{
	unsigned int k = p->idx;

	if (vus_mig_get_u8(in, &m->nr_frames[k]) < 0 ||
	    m->nr_frames[k] > VNET_RX_BATCH)
		return -EBADMSG;
	for (unsigned int i = 0; i < m->nr_frames[k]; i++) {
		if (vus_mig_get_u32(in, &m->len[k][i]) < 0 ||
		    m->len[k][i] < VNET_HDR_LEN + VNET_ETH_HLEN ||
		    m->len[k][i] > p->rx_buf_size)
			return -EBADMSG;
		*total += m->len[k][i];
	}
	return 0;
}

static int save_queue(struct virtqueue *vq, vus_mig_out *out)
{
	struct vq_state s;
	int ret;

	vq_get_state(vq, &s);
	ret = vus_mig_put_u16(out, s.last_avail);
	ret = ret ? ret : vus_mig_put_u16(out, s.used_idx);
	ret = ret ? ret : vus_mig_put_u16(out, s.signalled);
	ret = ret ? ret : vus_mig_put_u8(out, s.signalled_valid);
	return ret ? ret : vus_mig_put_u8(out, s.error);
}

static int save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct vnet *n = opaque;
	int ret;

	/* Only parked workers have no chain half done. */
	if (!vnet_pairs_parked(n))
		return -EBUSY;
	ret = vus_mig_put(out, n->cfg.mac, 6);
	ret = ret ? ret : vus_mig_put_u16(out, n->cfg.mtu);
	ret = ret ? ret : vus_mig_put_u8(out, (uint8_t)section_queues(n));
	for (unsigned int i = 0; ret == 0 && i < section_queues(n); i++)
		ret = save_queue(queue_at(n, i), out);
	ret = ret ? ret : vus_mig_put_u8(out, atomic_load(&n->link_down));
	if (ret == 0 && n->nr_pairs > 1)
		ret = vus_mig_put_u16(out, (uint16_t)atomic_load(&n->active_pairs));
	for (unsigned int k = 0; ret == 0 && k < n->nr_pairs; k++)
		ret = save_frames(&n->pairs[k], out, false);
	for (unsigned int k = 0; ret == 0 && k < n->nr_pairs; k++)
		ret = save_frames(&n->pairs[k], out, true);
	return ret;
}

static int parse_queue(vus_mig_in *in, struct vq_state *s)
{
	uint8_t valid = 0;
	int ret;

	ret = vus_mig_get_u16(in, &s->last_avail);
	ret = ret ? ret : vus_mig_get_u16(in, &s->used_idx);
	ret = ret ? ret : vus_mig_get_u16(in, &s->signalled);
	ret = ret ? ret : vus_mig_get_u8(in, &valid);
	ret = ret ? ret : vus_mig_get_u8(in, &s->error);
	if (ret == 0 && (valid > 1 || s->error > VQ_ERR_MAX))
		return -EBADMSG;
	s->signalled_valid = valid;
	return ret;
}

/* After the queues: the link, the pairs in use, the frames' lengths. */
static int parse_tail(const struct vnet *n, vus_mig_in *in, uint32_t version,
		      struct image *m)
{
	uint64_t total = 0;
	int ret = 0;

	m->link_down = atomic_load(&n->link_down);
	if (version >= 2) {
		ret = vus_mig_get_u8(in, &m->link_down);
		if (ret == 0 && m->link_down > 1)
			return -EBADMSG;
	}
	m->pairs = 1;
	if (ret == 0 && version >= SECTION_VERSION_MQ) {
		ret = vus_mig_get_u16(in, &m->pairs);
		if (ret == 0 && (m->pairs < 1 || m->pairs > n->nr_pairs))
			return -EBADMSG;
	}
	for (unsigned int k = 0; ret == 0 && k < n->nr_pairs; k++)
		ret = parse_frames(&n->pairs[k], in, m, &total);
	if (ret < 0)
		return ret;
	return vus_mig_remaining(in) == total ? 0 : -EBADMSG;
}

/* Parse everything but the frame bytes, which are left in @in. */
static int parse(const struct vnet *n, vus_mig_in *in, uint32_t version,
		 struct image *m)
{
	uint8_t nr = 0;
	int ret;

	ret = vus_mig_get(in, m->mac, 6);
	ret = ret ? ret : vus_mig_get_u16(in, &m->mtu);
	ret = ret ? ret : vus_mig_get_u8(in, &nr);
	/* A stream of as many pairs, in the version that can say so. */
	if (ret == 0 && (nr != section_queues(n) ||
			 (version >= SECTION_VERSION_MQ) != (n->nr_pairs > 1)))
		return -ENODEV;
	for (unsigned int i = 0; ret == 0 && i < nr; i++)
		ret = parse_queue(in, &m->q[i]);
	ret = ret ? ret : parse_tail(n, in, version, m);
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
	struct image m; /* ~9 KiB */

	return parse(opaque, in, version, &m);
}

/* Carry queue @i on where the source stopped. */
static void load_queue(struct vnet *n, unsigned int i, const struct vq_state *s)
{
	struct virtqueue *vq = queue_at(n, i);

	if (!vq_ready(vq) || vq_set_state(vq, s) == 0)
		return;
	/* More in flight than this ring holds: the source's queue size
	 * differs from what the transport said. */
	vnet_log(n, VUS_LOG_WARNING,
		 "queue %u: migrated state does not fit; device needs reset", i);
	vq_stop(vq);
	vpci_needs_reset(n->pci);
}

static void load_frames(struct vnet_pair *p, vus_mig_in *in,
			const struct image *m)
{
	p->rx_head = 0;
	p->rx_count = m->nr_frames[p->idx];
	for (unsigned int i = 0; i < p->rx_count; i++) {
		p->rx_len[i] = m->len[p->idx][i];
		(void)vus_mig_get(in, p->rx_buf + (size_t)i * p->rx_buf_size,
				  p->rx_len[i]);
	}
}

static int load(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct vnet *n = opaque;
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
	 * queues a running driver had (workers parked): carry on where the
	 * source stopped instead of from index 0.
	 */
	for (unsigned int i = 0; i < section_queues(n); i++)
		load_queue(n, i, &m.q[i]);
	for (unsigned int k = 0; k < n->nr_pairs; k++)
		load_frames(&n->pairs[k], in, &m);
	/* The pairs the driver asked for; the others' TAP queues detached. */
	atomic_store(&n->active_pairs, m.pairs);
	vnet_update_run(n);
	return 0;
}

/*
 * Section "virtio-net-pairs" version 1 (several pairs only): u16 pairs in
 * use. Version 3 of "virtio-net" carries them too, but that section is
 * saved only with the workers parked; crash recovery saves this one as
 * soon as the driver asks for other pairs, whatever the workers do.
 */
static int pairs_save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct vnet *n = opaque;

	return vus_mig_put_u16(out, (uint16_t)atomic_load(&n->active_pairs));
}

static int pairs_parse(const struct vnet *n, vus_mig_in *in, uint16_t *pairs)
{
	if (vus_mig_get_u16(in, pairs) < 0 || vus_mig_remaining(in) != 0 ||
	    *pairs < 1 || *pairs > n->nr_pairs)
		return -EBADMSG;
	return 0;
}

static int pairs_check(vus_ctx *ctx, void *opaque, vus_mig_in *in,
		       uint32_t version)
{
	uint16_t pairs;

	return pairs_parse(opaque, in, &pairs);
}

static int pairs_load(vus_ctx *ctx, void *opaque, vus_mig_in *in,
		      uint32_t version)
{
	struct vnet *n = opaque;
	uint16_t pairs;
	int ret = pairs_parse(n, in, &pairs);

	if (ret < 0)
		return ret;
	atomic_store(&n->active_pairs, pairs);
	vnet_update_run(n);
	return 0;
}

/* Park the workers in the stopped states; let them run in the others. */
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
	static const struct vus_mig_section_ops pairs_ops = {
		.struct_size = sizeof(pairs_ops), .save = pairs_save,
		.check = pairs_check, .load = pairs_load,
	};
	const struct vus_mig_config mc = {
		.struct_size = sizeof(mc),
		.compat_version = n->cfg.compat_version ? n->cfg.compat_version : 1,
		.stage_dir = n->cfg.mig_stage_dir,
		.stage_mem_max = n->cfg.mig_stage_mem,
	};
	int ret = vus_mig_setup(n->ctx, &mc);

	/* Order matters: the transport's section is loaded first. */
	ret = ret ? ret : vpci_mig_setup(n->pci);
	ret = ret ? ret : vus_mig_add_section(n->ctx, "virtio-net",
					      n->nr_pairs > 1 ? SECTION_VERSION_MQ
							      : SECTION_VERSION,
					      &ops, n);
	if (ret == 0 && n->nr_pairs > 1)
		ret = vus_mig_add_section(n->ctx, VNET_PAIRS_SECTION, 1,
					  &pairs_ops, n);
	return ret ? ret : vus_mig_set_state_cb(n->ctx, state_changed, n);
}
