/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * device: the device-wide callbacks (reset, quiesce/resume, DMA
 * notifications) and the quiesce handshake. Knows nothing of messages.
 */
#ifndef VUS_DEVICE_H
#define VUS_DEVICE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "vus/ctx.h"
#include "vus/dma.h"

struct device {
	struct vus_device_ops ops;
	vus_ctx *ctx; /* passed to every callback */
	void *opaque;
	/* Set by vus_ctx_quiesced() from any thread. */
	atomic_bool quiesce_confirmed;
	bool quiesced;         /* the device is known to be quiet */
	unsigned int holds;    /* quiesce references: one operation, or a
				* migration state that keeps it stopped */
	/* Counters for query-stats (context thread). */
	uint64_t quiesces;        /* times the device was asked to be quiet */
	uint64_t quiesce_wait_ns; /* from asking to quiet, summed */
	uint64_t quiesce_max_ns;  /* the longest of those */
	uint64_t quiesce_start_ns; /* when the one in progress was asked */
};

void device_init(struct device *d, vus_ctx *ctx, void *opaque);

/** Whether the device has threads that must be quiesced. */
bool device_needs_quiesce(const struct device *d);

/**
 * Take a quiesce reference; the first one asks the device to quiesce.
 * 0: quiet now (or nothing to ask), -EBUSY: wait for device_quiesce_done()
 * to become true. Every call is matched by one device_resume().
 */
int device_quiesce(struct device *d);

/** Consume a confirmation from vus_ctx_quiesced(); true if the device is quiet. */
bool device_quiesce_done(struct device *d);

/** Drop a quiesce reference; the last one resumes the device. */
void device_resume(struct device *d);

int device_reset(struct device *d, enum vus_reset_reason why);
void device_dma_map(struct device *d, const struct vus_dma_region *r);
void device_dma_unmap(struct device *d, const struct vus_dma_region *r);
void device_connected(struct device *d);
void device_client_lost(struct device *d);

#endif /* VUS_DEVICE_H */
