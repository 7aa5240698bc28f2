/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio_pci_mig: the transport's migration section. What the driver
 * wrote into the common configuration (feature selectors and features,
 * status, queue registers, vectors), the ISR, the generation and
 * DEVICE_NEEDS_RESET. libvus carries the PCI side (config space, MSI-X
 * table, INTx level) in its own section; the device type carries its
 * queue progress in a section added after this one.
 *
 * Section "virtio-pci" version 1, little-endian:
 *   u16 nr_queues | u32 dfselect | u32 gfselect | u64 driver_features |
 *   u8 status | u8 needs_reset | u8 generation | u8 isr |
 *   u16 queue_select | u16 msix_config |
 *   nr_queues x (u16 size | u16 vector | u8 enabled | u64 desc |
 *                u64 driver | u64 device)
 *
 * The stream comes from a peer we do not trust more than a driver: values
 * a driver could not have produced are refused (-EBADMSG), and so are
 * values this device, configured differently, cannot honour (-ENODEV:
 * another number of queues, a larger queue, features it does not offer).
 */
#include <errno.h>
#include <string.h>

#include "virtio_pci_priv.h"

#define SECTION_VERSION 1u

#define ISR_BITS (VPCI_ISR_QUEUE | VPCI_ISR_CONFIG)

/* The registers as they travel; parsed whole before anything changes. */
struct image {
	uint16_t nr_queues;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint8_t status, needs_reset, generation, isr;
	uint16_t queue_select, msix_config;
	struct {
		uint16_t size, vector;
		uint8_t enabled;
		uint64_t desc, driver, device;
	} q[VPCI_MAX_QUEUES];
};

static int save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct vpci *vp = opaque;
	int ret;

	/* A reset the driver asked for completes now: the data path is stopped. */
	if (!vpci_reset_try_finish(vp))
		return -EBUSY;
	ret = vus_mig_put_u16(out, vp->d.nr_queues);
	ret = ret ? ret : vus_mig_put_u32(out, vp->dfselect);
	ret = ret ? ret : vus_mig_put_u32(out, vp->gfselect);
	ret = ret ? ret : vus_mig_put_u64(out, vp->driver_features);
	ret = ret ? ret : vus_mig_put_u8(out, vp->status);
	ret = ret ? ret : vus_mig_put_u8(out, atomic_load(&vp->needs_reset));
	ret = ret ? ret : vus_mig_put_u8(out, atomic_load(&vp->generation));
	pthread_mutex_lock(&vp->isr_lock);
	ret = ret ? ret : vus_mig_put_u8(out, vp->isr);
	pthread_mutex_unlock(&vp->isr_lock);
	ret = ret ? ret : vus_mig_put_u16(out, vp->queue_select);
	ret = ret ? ret : vus_mig_put_u16(out, atomic_load(&vp->msix_config));
	for (unsigned int i = 0; ret == 0 && i < vp->d.nr_queues; i++) {
		const struct vpci_q *q = &vp->q[i];

		ret = vus_mig_put_u16(out, q->size);
		ret = ret ? ret : vus_mig_put_u16(out, atomic_load(&q->vector));
		ret = ret ? ret : vus_mig_put_u8(out, q->enabled);
		ret = ret ? ret : vus_mig_put_u64(out, q->desc);
		ret = ret ? ret : vus_mig_put_u64(out, q->driver);
		ret = ret ? ret : vus_mig_put_u64(out, q->device);
	}
	return ret;
}

static int parse_queues(const struct vpci *vp, vus_mig_in *in, struct image *m)
{
	int ret = 0;

	for (unsigned int i = 0; ret == 0 && i < m->nr_queues; i++) {
		ret = vus_mig_get_u16(in, &m->q[i].size);
		ret = ret ? ret : vus_mig_get_u16(in, &m->q[i].vector);
		ret = ret ? ret : vus_mig_get_u8(in, &m->q[i].enabled);
		ret = ret ? ret : vus_mig_get_u64(in, &m->q[i].desc);
		ret = ret ? ret : vus_mig_get_u64(in, &m->q[i].driver);
		ret = ret ? ret : vus_mig_get_u64(in, &m->q[i].device);
		if (ret < 0)
			return ret;
		if (m->q[i].enabled > 1 || !vpci_vector_valid(vp, m->q[i].vector))
			return -EBADMSG;
		/* The driver may only lower the size we offer. */
		if (m->q[i].size > vp->d.queue_size)
			return -ENODEV;
	}
	return ret;
}

static int parse(const struct vpci *vp, vus_mig_in *in, struct image *m)
{
	int ret;

	ret = vus_mig_get_u16(in, &m->nr_queues);
	if (ret == 0 && m->nr_queues != vp->d.nr_queues)
		return -ENODEV;
	ret = ret ? ret : vus_mig_get_u32(in, &m->dfselect);
	ret = ret ? ret : vus_mig_get_u32(in, &m->gfselect);
	ret = ret ? ret : vus_mig_get_u64(in, &m->driver_features);
	ret = ret ? ret : vus_mig_get_u8(in, &m->status);
	ret = ret ? ret : vus_mig_get_u8(in, &m->needs_reset);
	ret = ret ? ret : vus_mig_get_u8(in, &m->generation);
	ret = ret ? ret : vus_mig_get_u8(in, &m->isr);
	ret = ret ? ret : vus_mig_get_u16(in, &m->queue_select);
	ret = ret ? ret : vus_mig_get_u16(in, &m->msix_config);
	ret = ret ? ret : parse_queues(vp, in, m);
	if (ret < 0)
		return ret;
	if (vus_mig_remaining(in) != 0 || !vpci_status_reachable(m->status) ||
	    m->needs_reset > 1 || (m->isr & ~ISR_BITS) ||
	    !vpci_vector_valid(vp, m->msix_config))
		return -EBADMSG;
	/* Accepted features: ours to honour, and the device type's rules. */
	if (m->status & VIRTIO_STATUS_FEATURES_OK)
		return vpci_features_check(vp, m->driver_features);
	return 0;
}

static int check(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct image m; /* ~4 KiB at most */

	(void)version; /* only version 1 exists */
	return parse(opaque, in, &m);
}

static int load(vus_ctx *ctx, void *opaque, vus_mig_in *in, uint32_t version)
{
	struct image m;
	struct vpci *vp = opaque;
	int ret = parse(vp, in, &m);

	(void)version;
	if (ret < 0)
		return ret;
	/* From power-on state: the data path is stopped while RESUMING. */
	vpci_reset(vp);
	vp->dfselect = m.dfselect;
	vp->gfselect = m.gfselect;
	vp->driver_features = m.driver_features;
	vp->status = m.status;
	vp->queue_select = m.queue_select;
	atomic_store(&vp->msix_config, m.msix_config);
	atomic_store(&vp->needs_reset, m.needs_reset != 0);
	atomic_store(&vp->generation, m.generation);
	/*
	 * libvus's "pci" section restored the INTx level, and vpci_reset()
	 * just lowered it again: raise it from the ISR, the state it
	 * follows (set with the line, cleared with it by a read).
	 */
	pthread_mutex_lock(&vp->isr_lock);
	vp->isr = m.isr;
	if (m.isr != 0)
		(void)vus_pci_intx(vp->ctx, true);
	pthread_mutex_unlock(&vp->isr_lock);
	for (unsigned int i = 0; i < vp->d.nr_queues; i++) {
		struct vpci_q *q = &vp->q[i];

		q->size = m.q[i].size;
		atomic_store(&q->vector, m.q[i].vector);
		q->enabled = m.q[i].enabled;
		q->desc = m.q[i].desc;
		q->driver = m.q[i].driver;
		q->device = m.q[i].device;
	}
	/*
	 * A running device gets its queues back; it stays parked until the
	 * migration state is RUNNING, and its own section sets where the
	 * queues had got to.
	 */
	if ((m.status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(m.status & VIRTIO_STATUS_FAILED))
		vpci_start(vp);
	return 0;
}

int vpci_mig_setup(struct vpci *vp)
{
	static const struct vus_mig_section_ops ops = {
		.struct_size = sizeof(ops), .save = save, .check = check,
		.load = load,
	};

	return vus_mig_add_section(vp->ctx, "virtio-pci", SECTION_VERSION, &ops,
				   vp);
}
