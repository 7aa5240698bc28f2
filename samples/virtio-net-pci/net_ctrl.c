/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_ctrl: the control queue (VIRTIO_NET_F_CTRL_VQ), offered with
 * several queue pairs together with VIRTIO_NET_F_MQ. It is the last queue
 * (2 x pairs). Its doorbell has no eventfd: the kick reaches the register
 * BAR's write handler, and the commands are served there, on the context
 * thread, which owns what they change (which workers run). A command is
 * a chain: class and command (one byte each) and the command's data,
 * device-readable, then one device-writable byte for the ack.
 *
 * Only VIRTIO_NET_CTRL_MQ / VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET is known:
 * le16 virtqueue_pairs, 1 .. max_virtqueue_pairs. The first that many
 * pairs carry frames from then on (net_pair.c). Anything else (another
 * class or command, data of another size, a pair count out of range) is
 * answered VIRTIO_NET_ERR and changes nothing; a chain without room for
 * the ack cannot be answered: DEVICE_NEEDS_RESET, as for a queue the
 * driver broke (a descriptor out of range, a readable one after a
 * writable one: the virtqueue's checks).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "net_priv.h"

#define VIRTIO_NET_OK 0u
#define VIRTIO_NET_ERR 1u
#define VIRTIO_NET_CTRL_MQ 4u
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0u
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1u

/* Class, command, le16 pairs. */
#define PAIRS_SET_LEN 4u

int vnet_ctrl_init(struct vnet *n)
{
	return n->nr_pairs > 1 ? vq_elem_init(&n->ctrl_elem, n->cfg.queue_size) : 0;
}

void vnet_ctrl_free(struct vnet *n)
{
	if (n->nr_pairs > 1)
		vq_elem_free(&n->ctrl_elem);
}

void vnet_ctrl_start(struct vnet *n, const struct vpci_queue *q, uint32_t flags)
{
	unsigned int idx = vnet_ctrl_queue(n);

	vq_stop(&n->ctrl);
	n->ctrl_reported = false;
	if (n->nr_pairs > 1 && (n->features & (1ull << VIRTIO_NET_F_CTRL_VQ)))
		n->ctrl_reported = vnet_queue_start(n, &n->ctrl, &q[idx], flags,
						    idx) < 0;
}

void vnet_ctrl_reset(struct vnet *n)
{
	vq_stop(&n->ctrl);
	n->ctrl_reported = false;
}

/* VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET in chain @e. */
static uint8_t pairs_set(struct vnet *n, const struct vq_elem *e)
{
	uint16_t pairs;

	if (e->out_len != PAIRS_SET_LEN)
		return VIRTIO_NET_ERR;
	vq_elem_read(&n->ctrl, e, 2, &pairs, sizeof(pairs));
	pairs = le16toh(pairs);
	if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > n->nr_pairs) {
		vnet_log_limited(n, VUS_LOG_WARNING, "control: %u queue pairs "
				 "asked for, of %u: refused", pairs, n->nr_pairs);
		return VIRTIO_NET_ERR;
	}
	if (pairs != atomic_load(&n->active_pairs))
		vnet_log(n, VUS_LOG_INFO, "the driver uses %u queue pairs", pairs);
	atomic_store(&n->active_pairs, pairs);
	vnet_update_run(n);
	/* Crash recovery keeps it (a restarted device must use them too). */
	(void)vus_ctx_state_changed(n->ctx, VNET_PAIRS_SECTION);
	return VIRTIO_NET_OK;
}

/* Serve one command: 0, or -EIO when the queue cannot go on. */
static int ctrl_one(struct vnet *n, const struct vq_elem *e)
{
	uint8_t hdr[2] = { 0xff, 0xff }, ack = VIRTIO_NET_ERR;

	if (e->in_len == 0) {
		vnet_log_limited(n, VUS_LOG_WARNING, "control: a command without "
				 "room for its ack; device needs reset");
		return -EIO;
	}
	if (vq_elem_read(&n->ctrl, e, 0, hdr, sizeof(hdr)) == sizeof(hdr) &&
	    hdr[0] == VIRTIO_NET_CTRL_MQ && hdr[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		ack = pairs_set(n, e);
	else
		vnet_log_limited(n, VUS_LOG_INFO, "control: class %u command %u "
				 "not supported", hdr[0], hdr[1]);
	vq_elem_write(&n->ctrl, e, 0, &ack, 1);
	return vq_push(&n->ctrl, e->head, 1);
}

/* Stop the queue for good (until a reset), once. */
static void ctrl_broken(struct vnet *n)
{
	if (n->ctrl.error != VQ_OK && !n->ctrl_reported)
		vnet_log_limited(n, VUS_LOG_WARNING, "control queue stopped: %s; "
				 "device needs reset", vq_error_str(n->ctrl.error));
	n->ctrl_reported = true;
	vq_stop(&n->ctrl);
	vpci_needs_reset(n->pci);
}

void vnet_ctrl_kick(void *opaque, unsigned int q)
{
	struct vnet *n = opaque;
	struct virtqueue *vq = &n->ctrl;
	unsigned int budget = vq->l.size; /* a kick's worth at most */
	bool broken = false;

	if (q != vnet_ctrl_queue(n) || !vq_ready(vq))
		return;
	(void)vq_kick_enable(vq, false);
	while (!broken) {
		int r = budget > 0 ? vq_pop(vq, &n->ctrl_elem) : 0;

		if (r > 0) {
			broken = ctrl_one(n, &n->ctrl_elem) < 0;
			budget--;
			continue;
		}
		broken = r < 0;
		/* Drained (or done for this kick): ask for kicks, unless
		 * more came meanwhile. */
		if (!broken && (vq_kick_enable(vq, true) != 1 || budget == 0))
			break;
	}
	if (vq_publish(vq))
		vpci_notify_queue(n->pci, q);
	if (broken || !vq_ready(vq))
		ctrl_broken(n);
}
