/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctx: the device context. Owns one object per layer (regions, IRQs, DMA,
 * device callbacks, engine, bus adapter), the epoll loop that makes the
 * whole context one pollable fd, the listening socket and device fd
 * handlers. One client at a time: while a client (or its teardown) is
 * active the listener is not polled, so further clients wait in the
 * kernel's backlog.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "engine.h"
#include "ho.h"
#include "irq_table.h"
#include "log.h"
#include "loop.h"
#include "mig.h"
#include "recovery.h"
#include "region_table.h"
#include "rpc_internal.h"
#include "ctx_priv.h"
#include "wire.h"

struct log *ctx_log(vus_ctx *ctx) { return &ctx->log; }
struct loop *ctx_loop(vus_ctx *ctx) { return ctx->loop; }
struct region_table *ctx_regions(vus_ctx *ctx) { return ctx->regions; }
struct irq_table *ctx_irqs(vus_ctx *ctx) { return ctx->irqs; }
struct dma_table *ctx_dma(vus_ctx *ctx) { return ctx->dma; }
struct device *ctx_device(vus_ctx *ctx) { return &ctx->dev; }
struct engine *ctx_engine(vus_ctx *ctx) { return ctx->engine; }
struct migration *ctx_mig(vus_ctx *ctx) { return ctx->mig; }
void ctx_set_mig(vus_ctx *ctx, struct migration *m) { ctx->mig = m; }
struct rpc *ctx_rpc(vus_ctx *ctx) { return ctx->rpc; }
void ctx_set_rpc(vus_ctx *ctx, struct rpc *r) { ctx->rpc = r; }
void ctx_set_sandboxed(vus_ctx *ctx) { ctx->sandboxed = true; }
bool ctx_sandboxed(const vus_ctx *ctx) { return ctx->sandboxed; }

uint64_t ctx_uptime_ms(const vus_ctx *ctx)
{
	return now_ms() - ctx->created_ms;
}

struct recovery *ctx_recovery(vus_ctx *ctx) { return ctx->rec; }
void ctx_set_recovery(vus_ctx *ctx, struct recovery *r) { ctx->rec = r; }

enum vus_bus ctx_bus_type(const vus_ctx *ctx) { return ctx->bus_type; }
bool ctx_realized(const vus_ctx *ctx) { return ctx->realized; }
uint32_t ctx_max_xfer(const vus_ctx *ctx) { return ctx->max_xfer; }
const struct bus_ops *ctx_bus_ops(vus_ctx *ctx) { return ctx->bus_ops; }

bool ctx_on_thread(const vus_ctx *ctx)
{
	return atomic_load(&ctx->thread_known) &&
	       pthread_equal(ctx->thread, pthread_self());
}

void ctx_trace(vus_ctx *ctx, const struct vus_trace_event *ev)
{
	if (ctx->trace_fn != NULL)
		ctx->trace_fn(ctx->trace_opaque, ev);
}

int ctx_set_bus(vus_ctx *ctx, const struct bus_ops *ops, void *bus)
{
	if (ctx->realized)
		return -EBUSY;
	if (ctx->bus_ops != NULL)
		return -EEXIST;
	ctx->bus_ops = ops;
	ctx->bus = bus;
	return 0;
}

void *ctx_bus(vus_ctx *ctx, const struct bus_ops *ops)
{
	return ctx->bus_ops == ops ? ctx->bus : NULL;
}

int ctx_reset(vus_ctx *ctx, enum vus_reset_reason why)
{
	/* A reset leaves any migration state (ERROR included) for RUNNING. */
	mig_reset(ctx->mig);
	if (ctx->bus_ops != NULL && ctx->bus_ops->reset != NULL)
		ctx->bus_ops->reset(ctx->bus, why);
	return device_reset(&ctx->dev, why);
}

int ctx_client_gone(vus_ctx *ctx)
{
	if (ctx->flags & VUS_CTX_RESET_ON_DISCONNECT) {
		irq_reset(ctx->irqs);
		return ctx_reset(ctx, VUS_RESET_DISCONNECT);
	}
	/* A session of a VMM that is gone ends; the device state stays. */
	mig_reset(ctx->mig);
	irq_drop_client(ctx->irqs);
	device_client_lost(&ctx->dev);
	return 0;
}

static void wake_cb(struct watch *w, uint32_t events)
{
	vus_ctx *ctx = (vus_ctx *)((char *)w - offsetof(vus_ctx, wake_w));
	eventfd_t v;

	(void)events;
	(void)eventfd_read(w->fd, &v);
	ctx->kicked = false;
	dma_fault_report(ctx->dma);
	engine_wakeup(ctx->engine);
	rpc_wakeup(ctx->rpc);
}


static int check_limits(const struct vus_ctx_config *c)
{
	if (c->bus != VUS_BUS_PCI && c->bus != VUS_BUS_SYSBUS)
		return -EINVAL;
	if (c->max_data_xfer_size &&
	    (c->max_data_xfer_size < WIRE_MIN_XFER ||
	     c->max_data_xfer_size > WIRE_MAX_XFER))
		return -EINVAL;
	if (c->max_msg_fds > WIRE_MAX_FDS_LIMIT)
		return -EINVAL;
	if (c->max_dma_maps > 65535)
		return -EINVAL;
	if (c->flags & ~(VUS_CTX_RESET_ON_DISCONNECT | VUS_CTX_DMA_MESSAGES))
		return -EINVAL;
	return 0;
}

/*
 * Each fd-backed DMA mapping is an mmap, and the kernel refuses every
 * mmap of the process past vm.max_map_count (65530 by default): a client
 * allowed 65535 maps made the process's own mallocs and thread stacks
 * fail. Leave 4096 for the process and half the rest for others.
 */
static uint32_t default_max_dma_maps(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long limit = 0;
	bool ok;

	if (f == NULL)
		return 1024;
	ok = fscanf(f, "%lu", &limit) == 1;
	fclose(f);
	if (!ok)
		return 1024;
	if (limit < 4096 + 2)
		return 1;
	return (uint32_t)MIN((limit - 4096) / 2, 65535ul);
}

static int create_layers(vus_ctx *ctx, const struct vus_ctx_config *c)
{
	struct engine_limits lim = {
		.max_xfer = ctx->max_xfer,
		.max_fds = c->max_msg_fds ? c->max_msg_fds : 16,
		.max_dma_maps = c->max_dma_maps ? c->max_dma_maps
						: default_max_dma_maps(),
	};
	int ret, fd;

	ret = loop_create(&ctx->loop);
	if (ret == 0)
		ret = region_table_create(ctx, &ctx->log, &ctx->regions);
	if (ret == 0)
		ret = irq_table_create(&ctx->log, ctx->loop, &ctx->irqs);
	if (ret == 0)
		ret = dma_table_create(&ctx->log, lim.max_dma_maps, &ctx->dma);
	if (ret == 0)
		dma_set_messages_only(ctx->dma, c->flags & VUS_CTX_DMA_MESSAGES);
	if (ret == 0)
		ret = engine_create(ctx, &lim, &ctx->engine);
	if (ret < 0)
		return ret;
	engine_set_idle_cb(ctx->engine, ctx_engine_idle, ctx);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	ctx->wake_w = (struct watch){ .fd = fd, .events = EPOLLIN, .cb = wake_cb };
	dma_fault_set_wake(ctx->dma, fd);
	return loop_add(ctx->loop, &ctx->wake_w);
}

VUS_EXPORT int vus_ctx_create(const struct vus_ctx_config *cfg, vus_ctx **out)
{
	struct vus_ctx_config c;
	vus_ctx *ctx;
	int ret;

	if (out == NULL || copy_sized(&c, sizeof(c), cfg) < 0)
		return -EINVAL;
	ret = check_limits(&c);
	if (ret < 0)
		return ret;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	log_init(&ctx->log, c.name);
	ctx->created_ms = now_ms();
	ctx->bus_type = c.bus;
	ctx->flags = c.flags;
	ctx->opaque = c.opaque;
	ctx->max_xfer = c.max_data_xfer_size ? c.max_data_xfer_size
					     : WIRE_DEFAULT_XFER;
	ctx->listen_w = (struct watch){ .fd = -1, .cb = ctx_listen_cb };
	ctx->wake_w.fd = -1;
	device_init(&ctx->dev, ctx, c.opaque);
	ret = create_layers(ctx, &c);
	if (ret < 0) {
		vus_ctx_destroy(ctx);
		return ret;
	}
	*out = ctx;
	return 0;
}

VUS_EXPORT void vus_ctx_destroy(vus_ctx *ctx)
{
	if (ctx == NULL)
		return;
	/* First: management calls may hold a quiesce on the device. */
	rpc_destroy(ctx->rpc);
	ho_serve_destroy(ctx);
	if (ctx->engine != NULL) {
		engine_set_idle_cb(ctx->engine, NULL, NULL);
		/* Handed over: the connection is the new process's. */
		if (ctx->handed_over)
			engine_forget(ctx->engine);
		engine_destroy(ctx->engine);
	}
	while (ctx->handlers != NULL) {
		struct fd_handler *h = ctx->handlers;

		ctx->handlers = h->next;
		loop_del(&h->w);
		free(h);
	}
	loop_del(&ctx->listen_w);
	close_fd(&ctx->listen_w.fd);
	if (ctx->sock_path != NULL) {
		if (!ctx->handed_over)
			(void)unlink(ctx->sock_path);
		free(ctx->sock_path);
	}
	free(ctx->ho_config);
	loop_del(&ctx->wake_w);
	if (ctx->dma != NULL)
		dma_fault_set_wake(ctx->dma, -1);
	close_fd(&ctx->wake_w.fd);
	recovery_destroy(ctx->rec);
	mig_destroy(ctx->mig);
	if (ctx->bus_ops != NULL && ctx->bus_ops->destroy != NULL)
		ctx->bus_ops->destroy(ctx->bus);
	dma_table_destroy(ctx->dma);
	irq_table_destroy(ctx->irqs);
	region_table_destroy(ctx->regions);
	loop_destroy(ctx->loop);
	log_fini(&ctx->log);
	free(ctx);
}

VUS_EXPORT void *vus_ctx_opaque(const vus_ctx *ctx)
{
	return ctx ? ctx->opaque : NULL;
}

VUS_EXPORT void vus_ctx_set_log(vus_ctx *ctx, int level, vus_log_fn *fn,
				void *opaque)
{
	if (ctx != NULL)
		log_set(&ctx->log, level, fn, opaque);
}

VUS_EXPORT void vus_ctx_set_trace(vus_ctx *ctx, vus_trace_fn *fn, void *opaque)
{
	if (ctx == NULL)
		return;
	ctx->trace_fn = fn;
	ctx->trace_opaque = opaque;
}

VUS_EXPORT int vus_ctx_set_device_ops(vus_ctx *ctx,
				      const struct vus_device_ops *ops,
				      void *opaque)
{
	if (ctx == NULL || ops == NULL)
		return -EINVAL;
	if (ctx->realized)
		return -EBUSY;
	if (copy_sized(&ctx->dev.ops, sizeof(ctx->dev.ops), ops) < 0)
		return -EINVAL;
	ctx->dev.opaque = opaque ? opaque : ctx->opaque;
	return 0;
}

VUS_EXPORT void vus_ctx_quiesced(vus_ctx *ctx)
{
	if (ctx == NULL)
		return;
	atomic_store(&ctx->dev.quiesce_confirmed, true);
	(void)eventfd_write(ctx->wake_w.fd, 1);
}

/* The adapter's own state migrates with the device, ahead of its sections. */
static int add_bus_section(vus_ctx *ctx)
{
	const struct bus_mig_section *s = ctx->bus_ops->mig_section;

	if (ctx->mig == NULL || s == NULL)
		return 0;
	return mig_add_lib_section(ctx->mig, s->name, s->version, s->ops,
				   ctx->bus, 0);
}

/* Region memory the guest wrote through its mapping is state too. */
static int add_region_section(vus_ctx *ctx)
{
	uint64_t size;

	if (ctx->mig == NULL)
		return 0;
	for (uint32_t i = 0; i < REGION_MAX_INDEX; i++)
		if (region_migrates(ctx->regions, i, &size))
			return mig_add_lib_section(ctx->mig, REGION_MIG_SECTION,
						   REGION_MIG_VERSION,
						   &region_mig_ops, ctx->regions,
						   region_mig_bytes(ctx->regions));
	return 0;
}

VUS_EXPORT int vus_ctx_realize(vus_ctx *ctx)
{
	int ret;

	if (ctx == NULL)
		return -EINVAL;
	if (ctx->realized)
		return -EBUSY;
	if (ctx->bus_type == VUS_BUS_PCI && ctx->bus_ops == NULL) {
		log_msg(&ctx->log, VUS_LOG_ERR,
			"a PCI context needs vus_pci_init() before realize");
		return -EINVAL;
	}
	if (ctx->bus_ops != NULL && ctx->bus_ops->realize != NULL) {
		ret = ctx->bus_ops->realize(ctx->bus);
		if (ret == 0)
			ret = add_bus_section(ctx);
		if (ret < 0) {
			log_msg(&ctx->log, VUS_LOG_ERR, "%s realize failed: %s",
				ctx->bus_ops->name, strerror(-ret));
			return ret;
		}
	}
	ret = add_region_section(ctx);
	if (ret < 0) {
		log_msg(&ctx->log, VUS_LOG_ERR, "realize failed: %s",
			strerror(-ret));
		return ret;
	}
	ctx->realized = true;
	if (ctx->rec != NULL) {
		/* The layout is frozen now: kept state can be restored. */
		ret = recovery_realize(ctx, ctx->rec);
		if (ret < 0) {
			log_msg(&ctx->log, VUS_LOG_ERR, "recovery: %s",
				strerror(-ret));
			ctx->realized = false;
			return ret;
		}
	}
	return 0;
}

VUS_EXPORT const char *vus_version(void)
{
	return VUS_VERSION_STRING;
}
