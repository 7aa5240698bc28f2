/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctx_internal: what the layers may ask of a context. The context struct
 * itself is private to ctx.c; each layer keeps its own state in its own
 * object and reaches the others through these accessors.
 */
#ifndef VUS_CTX_INTERNAL_H
#define VUS_CTX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vus/ctx.h"

struct log;
struct loop;
struct region_table;
struct irq_table;
struct dma_table;
struct device;
struct engine;
struct migration;
struct vus_mig_section_ops;
struct recovery;
struct rpc;
struct ho_serve;
struct vus_handover_ops;

struct log *ctx_log(vus_ctx *ctx);
struct loop *ctx_loop(vus_ctx *ctx);
struct region_table *ctx_regions(vus_ctx *ctx);
struct irq_table *ctx_irqs(vus_ctx *ctx);
struct dma_table *ctx_dma(vus_ctx *ctx);
struct device *ctx_device(vus_ctx *ctx);
struct engine *ctx_engine(vus_ctx *ctx);
/** The migration module's state, or NULL if the device does not migrate. */
struct migration *ctx_mig(vus_ctx *ctx);
void ctx_set_mig(vus_ctx *ctx, struct migration *m);
/** The management plane (RPC), or NULL before its first use. */
struct rpc *ctx_rpc(vus_ctx *ctx);
void ctx_set_rpc(vus_ctx *ctx, struct rpc *r);
/** Milliseconds since the context was created (query-status uptime). */
uint64_t ctx_uptime_ms(const vus_ctx *ctx);
/** vus_sandbox_apply() confined the process: no more opening files. */
void ctx_set_sandboxed(vus_ctx *ctx);
bool ctx_sandboxed(const vus_ctx *ctx);
enum vus_bus ctx_bus_type(const vus_ctx *ctx);
bool ctx_realized(const vus_ctx *ctx);
/** Negotiable limit on data transfers (our own, from the config). */
uint32_t ctx_max_xfer(const vus_ctx *ctx);
/** Crash recovery (lib/recovery.c), or NULL when not enabled. */
struct recovery *ctx_recovery(vus_ctx *ctx);
void ctx_set_recovery(vus_ctx *ctx, struct recovery *r);
/** Report a message to the trace hook, if one is set. */
void ctx_trace(vus_ctx *ctx, const struct vus_trace_event *ev);

/**
 * A listening AF_UNIX stream socket at @path, created atomically (bound
 * under a temporary name, renamed into place once it listens) after a
 * stale socket there was cleared; a live one, or any other file, gives
 * -EADDRINUSE. @mode (e.g. 0600), if not 0, is applied before the
 * rename. *out: the non-blocking, close-on-exec fd. 0 or -errno.
 */
int ctx_listen_path(const char *path, unsigned int mode, int *out);

/** Whether the caller runs on the thread serving the context. */
bool ctx_on_thread(const vus_ctx *ctx);

/*
 * A bus adapter's own migration section: its emulated state, saved and
 * loaded before the device's sections, with the adapter's state as opaque.
 */
struct bus_mig_section {
	const char *name;
	uint32_t version;
	const struct vus_mig_section_ops *ops;
};

/*
 * Bus adapters (PCI, SysBus) plug in here, in bus terms only: no wire
 * flags, no migration internals. The engine asks the adapter for the
 * minimum numbers of regions and IRQ indexes (the device flags follow from
 * the context's bus); the context calls realize/reset/destroy at the right
 * moments and registers the adapter's migration section.
 */
struct bus_ops {
	const char *name;
	uint32_t min_regions; /* num_regions is at least this */
	uint32_t min_irqs;    /* num_irqs is at least this */
	/** Check and freeze the bus configuration. -errno fails realize. */
	int (*realize)(void *bus);
	/**
	 * Return emulated bus state (config space, MSI-X table...) to
	 * power-on values. Runs quiesced, before the device's reset callback.
	 */
	void (*reset)(void *bus, enum vus_reset_reason why);
	void (*destroy)(void *bus);
	/**
	 * The device's identity in migration streams, e.g.
	 * "pci:1af4:1041:1af4:0001:01". 0 or -errno; may be NULL.
	 */
	int (*identity)(void *bus, char *buf, size_t len);
	/** Registered at realize when the device migrates; may be NULL. */
	const struct bus_mig_section *mig_section;
};

/** Attach a bus adapter. -EEXIST if one is attached, -EBUSY if realized. */
int ctx_set_bus(vus_ctx *ctx, const struct bus_ops *ops, void *bus);

/** The attached adapter's private state if it is @ops, else NULL. */
void *ctx_bus(vus_ctx *ctx, const struct bus_ops *ops);

/** The attached adapter's ops, or NULL. */
const struct bus_ops *ctx_bus_ops(vus_ctx *ctx);

/**
 * Reset emulated state: bus adapter first, then the device's callback.
 * The caller has quiesced the device. Returns the device's result.
 */
int ctx_reset(vus_ctx *ctx, enum vus_reset_reason why);

/**
 * The client is gone and its DMA mappings removed; the caller has
 * quiesced the device. Drops the client's eventfds and ends a migration
 * session. With VUS_CTX_RESET_ON_DISCONNECT it also resets the interrupt
 * state, the bus and the device (returning the device's result);
 * otherwise every piece of device state stays and the device's
 * client_lost callback runs (0).
 */
int ctx_client_gone(vus_ctx *ctx);

/*
 * Hand-over (ctx_handover.c): what lib/ho_*.c needs of the context. The
 * old side serves one hand-over at a time (ctx_ho); the new side installs
 * the old process's listener.
 */
struct ho_serve *ctx_ho(vus_ctx *ctx);
void ctx_ho_set(vus_ctx *ctx, struct ho_serve *s);
const struct vus_handover_ops *ctx_ho_ops(vus_ctx *ctx, void **opaque);
/** The configuration text for the new process ("" if none was set). */
const char *ctx_ho_config(vus_ctx *ctx);
uint32_t ctx_ho_timeout(vus_ctx *ctx);
/** The listening socket (-1: none) and the path listen() created (or NULL). */
int ctx_listen_fd(vus_ctx *ctx);
const char *ctx_sock_path(vus_ctx *ctx);
/** Stop (@hold) or resume taking clients from the backlog. */
void ctx_listen_hold(vus_ctx *ctx, bool hold);
/**
 * New side: serve the old process's listening socket @fd (taken); @path
 * (taken, may be NULL) is the file to remove on destroy, as listen()'s.
 */
int ctx_adopt_listener(vus_ctx *ctx, int fd, char *path);
/**
 * Old side, committed: another process serves the device. vus_ctx_run()
 * returns 0; destroy touches nothing the new process uses (the socket
 * file, the connection, the client's eventfds); the device is told.
 */
void ctx_handed_over(vus_ctx *ctx);
/**
 * Quiesce the device for an operation of our own, waiting up to
 * @timeout_ms for a device that answers -EBUSY (the new side, before it
 * serves). 0 (match with device_resume()) or -ETIMEDOUT.
 */
int ctx_quiesce_wait(vus_ctx *ctx, uint32_t timeout_ms);

#endif /* VUS_CTX_INTERNAL_H */
