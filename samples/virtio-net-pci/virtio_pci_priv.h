/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio_pci_priv: the transport's state, shared by virtio_pci.c (PCI
 * wiring, doorbells, interrupts) and virtio_pci_common.c (common
 * configuration, status). Nothing outside the transport includes it.
 */
#ifndef VIRTIO_PCI_PRIV_H
#define VIRTIO_PCI_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "virtio_pci.h"

#define VPCI_VENDOR 0x1af4u
#define VPCI_DEVICE_BASE 0x1040u /* modern device ID = 0x1040 + type */
#define VPCI_SUBSYS_BASE 0x0040u /* non-transitional: 0x40 and up */

#define VPCI_ISR_QUEUE 0x1u
#define VPCI_ISR_CONFIG 0x2u

/* Per-queue registers, as the driver wrote them. */
struct vpci_q {
	uint16_t size;
	atomic_ushort vector; /* read by the worker to interrupt */
	bool enabled;
	uint64_t desc;
	uint64_t driver;
	uint64_t device;
};

struct vpci {
	vus_ctx *ctx;
	struct vpci_desc d;
	struct vpci_ops ops;

	/* Common configuration: context thread only, except as marked. */
	uint32_t dfselect;
	uint32_t gfselect;
	uint64_t driver_features;
	uint8_t status;
	bool reset_pending; /* 0 written, data path not stopped yet */
	uint16_t queue_select;
	atomic_ushort msix_config;
	struct vpci_q *q;
	atomic_bool needs_reset;    /* set by the worker too */
	atomic_uchar generation;

	/* ISR and the INTx line follow each other under this lock. */
	pthread_mutex_t isr_lock;
	uint8_t isr;

	/* Doorbells: one eventfd per queue, or the mmap-able page. */
	int *kick_fds;
	uint16_t *notify_mem;

	/* PCI configuration access capability: its offset and image. */
	uint32_t pcicfg_off;
	uint8_t pcicfg[20];
};

/* virtio_pci_common.c */
void vpci_common_init(struct vpci *vp);
void vpci_common_read(struct vpci *vp, uint32_t off, uint8_t *buf, size_t len);
void vpci_common_write(struct vpci *vp, uint32_t off, const uint8_t *buf,
		       size_t len);
/** Power-on state of the virtio registers; the data path is stopped. */
void vpci_reset(struct vpci *vp);
/** Complete a reset the driver asked for once the data path has stopped:
 * whether none is pending any more. */
bool vpci_reset_try_finish(struct vpci *vp);
/** Hand the queues to the device type (DRIVER_OK). */
void vpci_start(struct vpci *vp);
/* Status bits a driver writes (NEEDS_RESET is the device's). */
#define STATUS_DRIVER_BITS                                                  \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |                  \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |               \
	 VIRTIO_STATUS_FAILED)

/** Whether the driver may accept features @f: 0, -ENODEV (not offered),
 * -EBADMSG (no VERSION_1, or the device type's rules refuse them). */
int vpci_features_check(const struct vpci *vp, uint64_t f);

/** Whether a driver can reach status @s (bits set in the spec's order). */
bool vpci_status_reachable(uint8_t s);

/** Whether @v is an MSI-X vector of ours or NO_VECTOR. */
bool vpci_vector_valid(const struct vpci *vp, uint32_t v);

/* virtio_pci.c */
void vpci_config_irq(struct vpci *vp);
/** Clear the ISR and lower INTx. */
void vpci_irq_reset(struct vpci *vp);

#endif /* VIRTIO_PCI_PRIV_H */
