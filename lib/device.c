/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * device: calls into the device's callbacks and the quiesce handshake.
 * A device without a quiesce callback has no threads that touch DMA, so it
 * counts as quiet whenever the context thread is in the library. Quiesce
 * is reference-counted: an operation holds it for its duration, a
 * migration state such as STOP holds it until the device runs again.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "device.h"

void device_init(struct device *d, vus_ctx *ctx, void *opaque)
{
	memset(&d->ops, 0, sizeof(d->ops));
	d->ctx = ctx;
	d->opaque = opaque;
	atomic_init(&d->quiesce_confirmed, false);
	d->quiesced = false;
	d->holds = 0;
}

bool device_needs_quiesce(const struct device *d)
{
	return d->ops.quiesce != NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The device became quiet: account for how long that took. */
static void quiet_now(struct device *d)
{
	uint64_t took = now_ns() - d->quiesce_start_ns;

	d->quiesced = true;
	d->quiesce_wait_ns += took;
	d->quiesce_max_ns = MAX(d->quiesce_max_ns, took);
}

int device_quiesce(struct device *d)
{
	int ret;

	if (d->holds++ > 0)
		return device_quiesce_done(d) ? 0 : -EBUSY;
	if (d->quiesced)
		return 0;
	d->quiesces++;
	if (d->ops.quiesce == NULL) {
		d->quiesced = true;
		return 0;
	}
	d->quiesce_start_ns = now_ns();
	atomic_store(&d->quiesce_confirmed, false);
	ret = d->ops.quiesce(d->ctx, d->opaque);
	if (ret == -EBUSY)
		return -EBUSY;
	/* Any other answer means the device is quiet now (errors cannot
	 * leave DMA running: the library proceeds either way). */
	quiet_now(d);
	return 0;
}

bool device_quiesce_done(struct device *d)
{
	if (d->quiesced)
		return true;
	if (atomic_exchange(&d->quiesce_confirmed, false))
		quiet_now(d);
	return d->quiesced;
}

void device_resume(struct device *d)
{
	if (d->holds == 0 || --d->holds > 0)
		return;
	if (!d->quiesced)
		return;
	d->quiesced = false;
	if (d->ops.quiesce != NULL && d->ops.resume != NULL)
		d->ops.resume(d->ctx, d->opaque);
}

int device_reset(struct device *d, enum vus_reset_reason why)
{
	if (d->ops.reset == NULL)
		return 0;
	return d->ops.reset(d->ctx, d->opaque, why);
}

void device_dma_map(struct device *d, const struct vus_dma_region *r)
{
	if (d->ops.dma_map != NULL)
		d->ops.dma_map(d->ctx, d->opaque, r);
}

void device_dma_unmap(struct device *d, const struct vus_dma_region *r)
{
	if (d->ops.dma_unmap != NULL)
		d->ops.dma_unmap(d->ctx, d->opaque, r);
}

void device_connected(struct device *d)
{
	if (d->ops.connected != NULL)
		d->ops.connected(d->ctx, d->opaque);
}

void device_client_lost(struct device *d)
{
	if (d->ops.client_lost != NULL)
		d->ops.client_lost(d->ctx, d->opaque);
}
