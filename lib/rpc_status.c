/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_status: query-status (what the device is, who its client is and
 * what it negotiated, the migration state) and query-stats (the counters
 * the engine, the interrupt table, the DMA table, the dirty log, the
 * quiesce handshake and the management plane keep). Everything is read on
 * the context thread; the interrupt counters, which device threads bump,
 * with relaxed loads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "caps.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "engine.h"
#include "irq_table.h"
#include "log.h"
#include "mig.h"
#include "pci_priv.h"
#include "rpc_priv.h"
#include "sysbus_priv.h"
#include "vus/migration.h"

static const char *const mig_names[] = {
	[VUS_MIG_ERROR] = "error", [VUS_MIG_STOP] = "stop",
	[VUS_MIG_RUNNING] = "running", [VUS_MIG_STOP_COPY] = "stop-copy",
	[VUS_MIG_RESUMING] = "resuming", [VUS_MIG_RUNNING_P2P] = "running-p2p",
	[VUS_MIG_PRE_COPY] = "pre-copy", [VUS_MIG_PRE_COPY_P2P] = "pre-copy-p2p",
};

static void pci_status(vus_ctx *ctx, vus_rpc_out *res)
{
	struct pci *p = ctx_bus(ctx, &pci_bus_ops);

	if (p == NULL)
		return;
	vus_rpc_out_begin_object(res, "pci");
	vus_rpc_out_uint(res, "vendor-id", p->info.vendor_id);
	vus_rpc_out_uint(res, "device-id", p->info.device_id);
	vus_rpc_out_uint(res, "subsystem-vendor-id", p->info.subsys_vendor_id);
	vus_rpc_out_uint(res, "subsystem-id", p->info.subsys_id);
	vus_rpc_out_uint(res, "revision", p->info.revision);
	vus_rpc_out_uint(res, "class-code", p->info.class_code);
	vus_rpc_out_bool(res, "express", p->info.express);
	vus_rpc_out_end(res);
}

static void sysbus_status(vus_ctx *ctx, vus_rpc_out *res)
{
	const struct bus_ops *ops = ctx_bus_ops(ctx);
	struct sysbus *sb = ops ? ctx_bus(ctx, ops) : NULL;

	if (sb == NULL)
		return;
	vus_rpc_out_begin_object(res, "sysbus");
	vus_rpc_out_begin_array(res, "compatible");
	for (unsigned int i = 0; i < sb->nr_compat; i++)
		vus_rpc_out_str(res, NULL, sb->compatible[i]);
	vus_rpc_out_end(res);
	if (sb->name != NULL)
		vus_rpc_out_str(res, "name", sb->name);
	vus_rpc_out_end(res);
}

static void device_status(vus_ctx *ctx, vus_rpc_out *res)
{
	const struct bus_ops *ops = ctx_bus_ops(ctx);
	char id[160];

	vus_rpc_out_begin_object(res, "device");
	vus_rpc_out_str(res, "name", ctx_log(ctx)->name);
	vus_rpc_out_str(res, "bus", ctx_bus_type(ctx) == VUS_BUS_PCI ? "pci"
								      : "sysbus");
	if (ops != NULL && ops->identity != NULL &&
	    ops->identity(ctx_bus(ctx, ops), id, sizeof(id)) == 0)
		vus_rpc_out_str(res, "identity", id);
	if (ctx_bus_type(ctx) == VUS_BUS_PCI)
		pci_status(ctx, res);
	else
		sysbus_status(ctx, res);
	vus_rpc_out_end(res);
}

static void client_status(vus_ctx *ctx, vus_rpc_out *res)
{
	struct engine *e = ctx_engine(ctx);
	struct caps c;
	bool ready = engine_negotiated(e, &c);
	bool connected = engine_connected(e);

	vus_rpc_out_begin_object(res, "client");
	vus_rpc_out_bool(res, "connected", connected);
	vus_rpc_out_str(res, "state", ready ? "ready" : connected ? "negotiating"
				      : engine_busy(e) ? "teardown" : "idle");
	if (ready) {
		vus_rpc_out_begin_object(res, "caps");
		vus_rpc_out_uint(res, "max-msg-fds", c.max_msg_fds);
		vus_rpc_out_uint(res, "max-data-xfer-size", c.max_data_xfer_size);
		vus_rpc_out_uint(res, "pgsizes", c.pgsizes);
		vus_rpc_out_uint(res, "max-dma-maps", c.max_dma_maps);
		vus_rpc_out_bool(res, "write-multiple", c.write_multiple);
		if (c.has_migration) {
			vus_rpc_out_begin_object(res, "migration");
			vus_rpc_out_uint(res, "pgsize", c.mig_pgsize);
			vus_rpc_out_uint(res, "max-bitmap-size",
					 c.mig_max_bitmap_size);
			vus_rpc_out_end(res);
		}
		vus_rpc_out_end(res);
	}
	vus_rpc_out_end(res);
}

/* Why the last stream was refused (the vfio-user reply had the errno). */
static void load_error(vus_ctx *ctx, vus_rpc_out *res)
{
	const struct mig_refusal *r = ctx_mig(ctx) ? mig_last_refusal(ctx_mig(ctx))
						   : NULL;
	char buf[32];

	if (r == NULL || r->err == 0)
		return;
	vus_rpc_out_begin_object(res, "last-load-error");
	vus_rpc_out_str(res, "phase", r->phase);
	if (r->section[0] != '\0')
		vus_rpc_out_str(res, "section", r->section);
	vus_rpc_out_str(res, "errno", rpc_errno_name(-r->err, buf, sizeof(buf)));
	vus_rpc_out_str(res, "reason", r->reason);
	vus_rpc_out_end(res);
}

/* What the current or last load staged in memory and spilled to disk. */
static void load_staged(vus_ctx *ctx, vus_rpc_out *res)
{
	uint64_t mem, disk;

	if (ctx_mig(ctx) == NULL)
		return;
	mig_stage_stats(ctx_mig(ctx), &mem, &disk);
	if (mem == 0 && disk == 0)
		return;
	vus_rpc_out_begin_object(res, "staged");
	vus_rpc_out_uint(res, "memory-bytes", mem);
	vus_rpc_out_uint(res, "disk-bytes", disk);
	vus_rpc_out_end(res);
}

int rpc_query_status(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		     vus_rpc_out *res)
{
	enum vus_mig_state st = vus_mig_state(ctx);

	device_status(ctx, res);
	client_status(ctx, res);
	vus_rpc_out_begin_object(res, "migration");
	vus_rpc_out_bool(res, "supported", ctx_mig(ctx) != NULL);
	vus_rpc_out_str(res, "state", (unsigned int)st < ARRAY_SIZE(mig_names)
				      ? mig_names[st] : "unknown");
	load_error(ctx, res);
	load_staged(ctx, res);
	vus_rpc_out_end(res);
	vus_rpc_out_begin_object(res, "management");
	vus_rpc_out_uint(res, "clients", req->rpc->nconns);
	vus_rpc_out_end(res);
	vus_rpc_out_bool(res, "sandboxed", ctx_sandboxed(ctx));
	vus_rpc_out_str(res, "version", vus_version());
	return vus_rpc_out_uint(res, "uptime-s", ctx_uptime_ms(ctx) / 1000);
}

static void engine_stats(vus_ctx *ctx, vus_rpc_out *res)
{
	const struct engine_stats *st = engine_get_stats(ctx_engine(ctx));
	char buf[32];

	vus_rpc_out_begin_object(res, "vfio-user");
	vus_rpc_out_uint(res, "clients", st->clients);
	vus_rpc_out_uint(res, "messages-in", st->msgs_in);
	vus_rpc_out_uint(res, "messages-out", st->msgs_out);
	vus_rpc_out_uint(res, "bytes-in", st->bytes_in);
	vus_rpc_out_uint(res, "bytes-out", st->bytes_out);
	vus_rpc_out_begin_object(res, "commands");
	for (uint32_t i = 1; i < WIRE_CMD_MAX; i++)
		if (strcmp(wire_cmd_name(i), "?") != 0)
			vus_rpc_out_uint(res, wire_cmd_name(i), st->cmds[i]);
	vus_rpc_out_uint(res, "unknown", st->cmds[0]);
	vus_rpc_out_end(res);
	/* Only the errno values that occurred: there are 133 of them. */
	vus_rpc_out_begin_object(res, "error-replies");
	for (uint32_t i = 1; i < ENGINE_ERRNO_MAX; i++)
		if (st->errors[i] != 0)
			vus_rpc_out_uint(res, rpc_errno_name((int)i, buf, sizeof(buf)),
					 st->errors[i]);
	if (st->errors[0] != 0)
		vus_rpc_out_uint(res, "other", st->errors[0]);
	vus_rpc_out_end(res);
	vus_rpc_out_end(res);
}

static void dma_irq_stats(vus_ctx *ctx, vus_rpc_out *res)
{
	struct irq_table *it = ctx_irqs(ctx);
	struct dma_stats ds;

	dma_get_stats(ctx_dma(ctx), &ds);
	vus_rpc_out_begin_object(res, "dma");
	vus_rpc_out_uint(res, "maps-live", ds.maps_live);
	vus_rpc_out_uint(res, "maps-total", ds.maps_total);
	vus_rpc_out_uint(res, "unmaps-total", ds.unmaps_total);
	vus_rpc_out_uint(res, "dirty-pages-reported", ds.dirty_pages_reported);
	vus_rpc_out_end(res);
	vus_rpc_out_begin_array(res, "interrupts");
	for (uint32_t i = 0; i < irq_count(it); i++) {
		struct irq_stats is;
		uint32_t count, flags;

		if (irq_get_info(it, i, &count, &flags) < 0 || count == 0)
			continue;
		irq_get_stats(it, i, &is);
		vus_rpc_out_begin_object(res, NULL);
		vus_rpc_out_uint(res, "index", i);
		vus_rpc_out_uint(res, "vectors", count);
		vus_rpc_out_uint(res, "raised", is.raised);
		vus_rpc_out_uint(res, "signaled", is.signaled);
		vus_rpc_out_end(res);
	}
	vus_rpc_out_end(res);
}

int rpc_query_stats(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		    vus_rpc_out *res)
{
	struct rpc *r = req->rpc;
	const struct device *d = ctx_device(r->ctx);

	engine_stats(r->ctx, res);
	dma_irq_stats(r->ctx, res);
	vus_rpc_out_begin_object(res, "quiesce");
	vus_rpc_out_uint(res, "count", d->quiesces);
	vus_rpc_out_uint(res, "wait-us-total", d->quiesce_wait_ns / 1000);
	vus_rpc_out_uint(res, "wait-us-max", d->quiesce_max_ns / 1000);
	vus_rpc_out_end(res);
	vus_rpc_out_begin_object(res, "management");
	vus_rpc_out_uint(res, "requests", r->st.requests);
	vus_rpc_out_uint(res, "errors", r->st.errors);
	vus_rpc_out_uint(res, "clients", r->nconns);
	vus_rpc_out_uint(res, "clients-total", r->st.clients_total);
	vus_rpc_out_uint(res, "clients-refused", r->st.clients_refused);
	vus_rpc_out_uint(res, "clients-cut-off", r->st.clients_cut);
	return vus_rpc_out_end(res);
}
