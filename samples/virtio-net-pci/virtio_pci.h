/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio_pci: the virtio 1.x "modern" PCI transport on libvus's PCI
 * adapter, for any virtio device type. It owns the PCI identity, the
 * virtio capabilities, the register BAR (common configuration, ISR,
 * device configuration window, notification area), MSI-X and INTx, the
 * feature negotiation and the device status state machine. The device type
 * (net.c) supplies features, its configuration bytes and a data path that
 * the transport starts at DRIVER_OK and stops for a reset.
 *
 * Layout (see README): BAR 4, 64-bit memory, 16 KiB, not mmap-able except
 * for the notification page in --notify=mmap mode:
 *   0x0000 common configuration   0x1000 ISR status
 *   0x2000 device configuration   0x3000 notifications (4 bytes per queue)
 * BAR 1, 32-bit memory, 4 KiB: MSI-X table at 0, PBA at 0x800; one vector
 * per queue plus one for configuration changes.
 *
 * Threads: everything runs on the context thread except the functions
 * marked thread-safe, which the data-path worker calls.
 */
#ifndef VIRTIO_PCI_H
#define VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <vus.h>

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER 0x02u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* Transport feature bits. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
/* Our addresses are the client's DMA addresses (an IOVA behind a vIOMMU),
 * not the guest's physical ones: the driver must use its DMA API. */
#define VIRTIO_F_ACCESS_PLATFORM 33

#define VIRTIO_MSI_NO_VECTOR 0xffffu

/* The register BAR. */
#define VPCI_BAR 4u
#define VPCI_BAR_SIZE 0x4000u
#define VPCI_COMMON_OFF 0x0000u
#define VPCI_COMMON_LEN 0x38u
#define VPCI_ISR_OFF 0x1000u
#define VPCI_ISR_LEN 4u
#define VPCI_DEVCFG_OFF 0x2000u
#define VPCI_NOTIFY_OFF 0x3000u
#define VPCI_NOTIFY_LEN 0x1000u
#define VPCI_NOTIFY_MULT 4u
#define VPCI_MSIX_BAR 1u

/** Most queues: one MSI-X vector each plus one, in a 2 KiB table. */
#define VPCI_MAX_QUEUES 127u

/** How doorbells reach the device. */
enum vpci_notify_mode {
	/** ioeventfds (also signalled by libvus for REGION_WRITE kicks). */
	VPCI_NOTIFY_IOEVENTFD = 0,
	/** A shared page the client may mmap; the device polls it. */
	VPCI_NOTIFY_MMAP = 1,
};

/** A queue as the driver configured it, handed to start(). */
struct vpci_queue {
	bool enabled;
	uint16_t size;
	uint64_t desc;
	uint64_t driver; /* available ring */
	uint64_t device; /* used ring */
};

/**
 * What the device type provides. All run on the context thread.
 */
struct vpci_ops {
	/** 0 if the driver's feature set is acceptable (FEATURES_OK). */
	int (*features_check)(void *opaque, uint64_t features);
	/** Device configuration bytes [off, off + len), inside config_size. */
	void (*config_read)(void *opaque, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(void *opaque, uint32_t off, const void *buf,
			     uint32_t len);
	/** DRIVER_OK: start the data path with these queues. */
	void (*start)(void *opaque, uint64_t features,
		      const struct vpci_queue *q, unsigned int nr_queues);
	/** Stop the data path (a reset is coming); may finish later. */
	void (*stop)(void *opaque);
	/** Whether the data path has stopped (no thread uses the queues). */
	bool (*stopped)(void *opaque);
	/** Drop all queue and data-path state; runs stopped. */
	void (*reset)(void *opaque);
	/** libvus quiesce/resume, as in struct vus_device_ops. */
	int (*quiesce)(void *opaque);
	void (*resume)(void *opaque);
	/** libvus client_lost: the client went away, state kept. */
	void (*client_lost)(void *opaque);
	/**
	 * A client granted memory (DMA_MAP) or bound interrupt eventfds: a
	 * client coming back may be ready now (vpci_irqs_bound()).
	 */
	void (*client_progress)(void *opaque);
	/** Optional: libvus resets the function (@why), before reset(). */
	void (*bus_reset)(void *opaque, enum vus_reset_reason why);
	/**
	 * The driver kicked queue @q, one of the last nr_ctx_queues: those
	 * have no eventfd and are served here, on the context thread.
	 */
	void (*ctx_kick)(void *opaque, unsigned int q);
};

/** Transport description. */
struct vpci_desc {
	uint16_t device_id;     /**< virtio device type (1 = net) */
	uint32_t class_code;
	uint64_t features;      /**< offered, VERSION_1 included */
	uint16_t nr_queues;     /**< 1 .. VPCI_MAX_QUEUES */
	/** The last this many queues are kicked through ops->ctx_kick
	 * (ioeventfd mode only; < nr_queues). */
	uint16_t nr_ctx_queues;
	uint16_t queue_size;    /**< maximum, power of two */
	uint32_t config_size;   /**< device configuration bytes, <= 0x1000 */
	enum vpci_notify_mode notify;
	const struct vpci_ops *ops;
	void *opaque;
};

struct vpci;

/**
 * Make @ctx (a fresh PCI context) a virtio PCI function: identity, BARs,
 * capabilities, MSI-X, doorbells, device callbacks. Call before realize.
 * 0 or -errno; on success *out belongs to the caller (vpci_destroy() after
 * vus_ctx_destroy()).
 */
int vpci_create(vus_ctx *ctx, const struct vpci_desc *d, struct vpci **out);
void vpci_destroy(struct vpci *vp);

/**
 * Make the transport's registers migrate (section "virtio-pci"): after
 * vus_mig_setup(), before the device type adds its own sections. Loading
 * it resets the function, takes the driver's registers and, for a driver
 * that had set DRIVER_OK, hands the queues to ops->start() again; the
 * device type then restores their progress from its own section. 0 or
 * -errno from vus_mig_add_section().
 */
int vpci_mig_setup(struct vpci *vp);

/** Eventfd that kicks of queue @q signal (ioeventfd mode), else -1. */
int vpci_kick_fd(const struct vpci *vp, unsigned int q);

/**
 * Poll the doorbell of queue @q in mmap mode: whether the driver kicked
 * it since the last call (the word is swapped back to "no kick"). Returns
 * false in ioeventfd mode. Thread-safe.
 */
bool vpci_kick_poll(struct vpci *vp, unsigned int q);

/** Forget all kicks pending in the mmap page. Thread-safe. */
void vpci_kick_clear(struct vpci *vp);

/** Used-buffer notification for queue @q (MSI-X vector or INTx). Thread-safe. */
void vpci_notify_queue(struct vpci *vp, unsigned int q);

/** The device configuration changed: new generation, config interrupt. Thread-safe. */
void vpci_config_changed(struct vpci *vp);

/**
 * The device hit an error it cannot recover from without a reset: sets
 * DEVICE_NEEDS_RESET and raises the configuration interrupt (once until
 * the next reset). Thread-safe.
 */
void vpci_needs_reset(struct vpci *vp);

/**
 * Whether every enabled queue's interrupt reaches the client: under MSI-X,
 * the vector it uses is bound (no vector: nothing to bind). Under INTx (or
 * none) always: a line raised while unbound fires on binding, and a driver
 * without an eventfd polls. Context thread.
 */
bool vpci_irqs_bound(struct vpci *vp);

/** Whether DEVICE_NEEDS_RESET is set. Thread-safe. */
bool vpci_needs_reset_set(struct vpci *vp);

#endif /* VIRTIO_PCI_H */
