/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctx_priv: the context struct, shared by ctx.c (lifecycle, accessors) and
 * ctx_serve.c (sockets, the run loop, device fd handlers) only.
 */
#ifndef VUS_CTX_PRIV_H
#define VUS_CTX_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "device.h"
#include "log.h"
#include "loop.h"
#include "vus/ctx.h"
#include "vus/handover.h"

struct fd_handler {
	struct watch w;
	vus_fd_fn *fn;
	vus_ctx *ctx;
	void *opaque;
	struct fd_handler *next;
};

struct vus_ctx {
	struct log log;
	enum vus_bus bus_type;
	uint32_t flags;        /* VUS_CTX_* */
	void *opaque;
	uint32_t max_xfer;
	bool realized;
	struct loop *loop;
	struct region_table *regions;
	struct irq_table *irqs;
	struct dma_table *dma;
	struct device dev;
	struct engine *engine;
	struct migration *mig;
	struct rpc *rpc;
	uint64_t created_ms;
	bool sandboxed;
	const struct bus_ops *bus_ops;
	void *bus;
	struct watch listen_w; /* fd -1 without a listener */
	char *sock_path;       /* removed on destroy */
	struct watch wake_w;   /* eventfd for stop and quiesce confirmations */
	bool kicked;           /* wake_w written for work left (run_turn) */
	atomic_bool stop;
	pthread_t thread;
	atomic_bool thread_known;
	struct fd_handler *handlers;
	struct recovery *rec;  /* crash recovery, NULL when off */
	/* Hand-over (ctx_handover.c). */
	struct ho_serve *ho;   /* the one being served, or NULL */
	struct vus_handover_ops ho_ops;
	void *ho_opaque;
	char *ho_config;       /* for the new process; NULL: "" */
	uint32_t ho_timeout_ms;
	bool listen_held;      /* clients wait in the backlog meanwhile */
	bool handed_over;      /* another process serves the device now */
	vus_trace_fn *trace_fn;
	void *trace_opaque;
};

/* ctx_serve.c */
void ctx_listen_cb(struct watch *w, uint32_t events);
void ctx_engine_idle(void *opaque);

#endif /* VUS_CTX_PRIV_H */
