/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_cmds: every vfio-user command described once, as data: payload
 * bounds, fds, argsz, the connection states it is legal in, whether it
 * needs the device quiesced, and its handler. The engine's generic check
 * reads this table before any handler runs; the fuzz target reads it too.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "engine_priv.h"
#include "recovery.h"

#define READY CONN_BIT(CONN_READY)
#define NEGOTIATING CONN_BIT(CONN_NEGOTIATING)
#define FDS_NEGOTIATED 0xff

/* DMA_READ/DMA_WRITE go from server to client only: a client that sends
 * one gets a clean refusal. */
static int handle_wrong_direction(struct engine *e, struct msg *m,
				  struct reply *r)
{
	return -EINVAL;
}


/* Payload lengths are the wire structs' sizes. */
#define SZ(t) ((uint32_t)sizeof(struct wire_##t))

static const struct cmd_desc cmds[WIRE_CMD_MAX] = {
	[WIRE_CMD_VERSION] = {
		.min_len = SZ(version), .max_len = WIRE_MAX_CONTROL_MSG,
		.states = NEGOTIATING, .handler = handle_version,
		.changes = KEPT_ENGINE,
	},
	[WIRE_CMD_DMA_MAP] = {
		.min_len = SZ(dma_map), .max_len = SZ(dma_map), .max_fds = 1,
		.argsz_min = SZ(dma_map), .states = READY,
		.handler = handle_dma_map, .changes = KEPT_DMA,
	},
	[WIRE_CMD_DMA_UNMAP] = {
		/* The entry, and a bitmap head with GET_DIRTY_BITMAP. */
		.min_len = SZ(dma_unmap),
		.max_len = SZ(dma_unmap) + SZ(dma_unmap_bitmap),
		.argsz_min = SZ(dma_unmap), .states = READY, .quiesce = true,
		.check = dma_unmap_check, .handler = handle_dma_unmap,
		.changes = KEPT_DMA,
	},
	[WIRE_CMD_DEVICE_GET_INFO] = {
		.min_len = SZ(device_info), .max_len = SZ(device_info),
		.argsz_min = SZ(device_info), .states = READY,
		.handler = handle_device_get_info,
	},
	[WIRE_CMD_DEVICE_GET_REGION_INFO] = {
		/* libvfio-user's client sends argsz bytes; QEMU sends 32. */
		.min_len = SZ(region_info), .max_len = WIRE_MAX_CONTROL_MSG,
		.argsz_min = SZ(region_info), .states = READY,
		.handler = handle_device_get_region_info,
	},
	[WIRE_CMD_DEVICE_GET_REGION_IO_FDS] = {
		.min_len = SZ(io_fds_req), .max_len = SZ(io_fds_req),
		.argsz_min = SZ(io_fds_req), .states = READY,
		.handler = handle_device_get_region_io_fds,
		.changes = KEPT_DOORBELL,
	},
	[WIRE_CMD_DEVICE_GET_IRQ_INFO] = {
		.min_len = SZ(irq_info), .max_len = SZ(irq_info),
		.argsz_min = SZ(irq_info), .states = READY,
		.handler = handle_device_get_irq_info,
	},
	[WIRE_CMD_DEVICE_SET_IRQS] = {
		/* DATA_BOOL: a byte per vector. */
		.min_len = SZ(irq_set),
		.max_len = SZ(irq_set) + WIRE_MAX_IRQ_COUNT,
		.max_fds = FDS_NEGOTIATED, .argsz_min = SZ(irq_set),
		.states = READY, .handler = handle_device_set_irqs,
	},
	[WIRE_CMD_REGION_READ] = {
		.min_len = SZ(region_access), .max_len = SZ(region_access),
		.states = READY, .handler = handle_region_read,
	},
	[WIRE_CMD_REGION_WRITE] = {
		.min_len = SZ(region_access), .data_max = true,
		.states = READY, .handler = handle_region_write,
		.changes = KEPT_BUS,
	},
	[WIRE_CMD_DMA_READ] = {
		.min_len = 0, .max_len = WIRE_MAX_CONTROL_MSG,
		.states = READY | NEGOTIATING,
		.handler = handle_wrong_direction,
	},
	[WIRE_CMD_DMA_WRITE] = {
		.min_len = 0, .data_max = true,
		.states = READY | NEGOTIATING,
		.handler = handle_wrong_direction,
	},
	[WIRE_CMD_DEVICE_RESET] = {
		.min_len = 0, .max_len = 0,
		.states = READY, .quiesce = true,
		.handler = handle_device_reset,
		.changes = KEPT_BUS | KEPT_DEVICE,
	},
	[WIRE_CMD_REGION_WRITE_MULTI] = {
		.min_len = SZ(write_multi),
		.max_len = SZ(write_multi) + SZ(write_one) * WIRE_WRITE_MULTI_MAX,
		.states = READY, .handler = handle_region_write_multi,
		.changes = KEPT_BUS,
	},
	[WIRE_CMD_DEVICE_FEATURE] = {
		/* Device state changes stop the device: quiesce for those. */
		.min_len = SZ(feature), .max_len = WIRE_MAX_CONTROL_MSG,
		.argsz_min = SZ(feature), .states = READY,
		.quiesce_if = engine_mig_needs_quiesce,
		.handler = handle_device_feature,
		.changes = KEPT_BUS | KEPT_DEVICE,
	},
	[WIRE_CMD_MIG_DATA_READ] = {
		.min_len = SZ(mig_data), .max_len = SZ(mig_data),
		.states = READY, .handler = handle_mig_data_read,
	},
	[WIRE_CMD_MIG_DATA_WRITE] = {
		.min_len = SZ(mig_data), .data_max = true,
		.states = READY, .handler = handle_mig_data_write,
	},
};

const struct cmd_desc *engine_cmd(uint32_t cmd)
{
	if (cmd >= WIRE_CMD_MAX || cmds[cmd].handler == NULL)
		return NULL;
	return &cmds[cmd];
}

uint32_t engine_argsz(const struct msg *m)
{
	uint32_t argsz;

	memcpy(&argsz, m->payload, sizeof(argsz));
	return argsz;
}

uint32_t engine_cmd_max_fds(const struct engine *e, const struct cmd_desc *d)
{
	return d->max_fds == FDS_NEGOTIATED ? e->lim.max_fds : d->max_fds;
}

int engine_cmd_check(const struct engine *e, const struct cmd_desc *d,
		     const struct msg *m)
{
	uint32_t max_len = d->data_max ? d->min_len + e->lim.max_xfer
				       : d->max_len;
	unsigned int max_fds = engine_cmd_max_fds(e, d);

	/* Nothing but VERSION before negotiation; VERSION only once. */
	if (!(d->states & CONN_BIT(e->state)))
		return -EINVAL;
	/* Length before content. */
	if (m->len < d->min_len || m->len > max_len)
		return -EINVAL;
	if (m->nfds > max_fds)
		return -EINVAL;
	if (d->argsz_min && engine_argsz(m) < d->argsz_min)
		return -EINVAL;
	return 0;
}
