/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * irq_table (internal): interrupt indexes and their vectors: trigger eventfds,
 * mask/unmask (by message or by eventfd), pending state and level. The
 * engine applies validated SET_IRQS requests here; devices and bus adapters
 * raise vectors with irq_trigger()/irq_set_level() from any thread.
 *
 * Vector semantics: raising a vector signals its eventfd unless it is
 * masked or unbound, in which case it becomes pending; an AUTOMASKED index
 * masks a vector when it fires. Unmasking or binding a pending (or
 * still-raised level) vector fires it. Disabling an index unbinds every
 * vector and clears masks and pending state; levels stay.
 */
#ifndef VUS_IRQ_INTERNAL_H
#define VUS_IRQ_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vus/irq.h"

struct log;
struct loop;
struct irq_table;

#define IRQ_MAX_INDEX 16u
#define IRQ_MAX_VECTORS 2048u

int irq_table_create(struct log *log, struct loop *loop,
		     struct irq_table **out);
void irq_table_destroy(struct irq_table *it);

/** Keep indexes [first, first + n) for a bus adapter. */
void irq_reserve(struct irq_table *it, uint32_t first, uint32_t n);
bool irq_reserved(const struct irq_table *it, uint32_t index);

/**
 * Declare an index (no reservation check: for bus adapters). @flags are
 * VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED | VUS_IRQ_NORESIZE. Only before
 * realize. -EINVAL, -EEXIST, -ENOMEM.
 */
int irq_add(struct irq_table *it, uint32_t index, uint32_t count,
	    uint32_t flags);

/** Highest index declared + 1. */
uint32_t irq_count(const struct irq_table *it);

/**
 * Count and flags (wire VFIO_IRQ_INFO_* values, EVENTFD included) of
 * @index; an undeclared index below irq_count() reports 0 vectors.
 * -EINVAL beyond the max.
 */
int irq_get_info(const struct irq_table *it, uint32_t index, uint32_t *count,
		 uint32_t *flags);

/* SET_IRQS actions; the engine validated the request beforehand. */

/**
 * Bind trigger eventfds to [start, start + count): fds[i] goes to vector
 * start + i and the table takes it (the slot is set to -1). @fds NULL
 * unbinds those vectors. Old eventfds are closed.
 */
int irq_bind(struct irq_table *it, uint32_t index, uint32_t start,
	     uint32_t count, int *fds);

/** Unbind every vector of @index; clear masks and pending state. */
int irq_disable(struct irq_table *it, uint32_t index);

/** Loop-back trigger of vectors (where @bools is NULL or bools[i] != 0). */
int irq_fire(struct irq_table *it, uint32_t index, uint32_t start,
	     uint32_t count, const uint8_t *bools);

/** Mask or unmask vectors (where @bools is NULL or bools[i] != 0). */
int irq_mask(struct irq_table *it, uint32_t index, uint32_t start,
	     uint32_t count, const uint8_t *bools, bool mask);

/**
 * Bind eventfds that mask (@unmask false) or unmask (@unmask true) a
 * vector whenever the client signals them. Taken as in irq_bind(); @fds
 * NULL unbinds.
 */
int irq_bind_mask_fds(struct irq_table *it, uint32_t index, uint32_t start,
		      uint32_t count, int *fds, bool unmask);

/**
 * The client went away: close every eventfd it gave (triggers, mask and
 * unmask fds). Masks, pending vectors and levels stay, so what is raised
 * meanwhile fires when the next client binds.
 */
void irq_drop_client(struct irq_table *it);

/** Drop every eventfd and clear masks and pending (reset on disconnect). */
void irq_reset(struct irq_table *it);

/* Hand-over: one vector's state and the client's eventfds bound to it. */
struct irq_vec_state {
	bool masked;
	bool pending;
	bool level;
	int trigger;  /* eventfds, -1 when unbound */
	int mask;
	int unmask;
};

/** The state of @vector of @index (fds borrowed). -EINVAL. */
int irq_vec_save(struct irq_table *it, uint32_t index, uint32_t vector,
		 struct irq_vec_state *out);

/**
 * Install a saved state into an unbound vector, firing nothing (the
 * client was told what it needed to know by the old process). The fds
 * are taken, also on error. -EINVAL, or loop_add's errno.
 */
int irq_vec_load(struct irq_table *it, uint32_t index, uint32_t vector,
		 struct irq_vec_state *in);

/**
 * Stop (@hold) or resume watching the client's mask and unmask eventfds:
 * during a hand-over their signals stay in the eventfds for whichever
 * process serves next.
 */
void irq_hold_mask_fds(struct irq_table *it, bool hold);

/* Device side; thread-safe. */
int irq_trigger(struct irq_table *it, uint32_t index, uint32_t vector);
int irq_set_level(struct irq_table *it, uint32_t index, uint32_t vector,
		  bool level);
bool irq_is_pending(struct irq_table *it, uint32_t index, uint32_t vector);
bool irq_is_bound(struct irq_table *it, uint32_t index, uint32_t vector);

/* Counters of one index since the context was created (query-stats). */
struct irq_stats {
	uint64_t raised;   /* by the device: triggers and rising levels */
	uint64_t signaled; /* eventfd writes to the client */
};

/** @index's counters; zeros for an index never declared. Any thread. */
void irq_get_stats(struct irq_table *it, uint32_t index,
		   struct irq_stats *out);

/** Callback after bindings of [start, start + count) changed. */
void irq_set_state_cb(struct irq_table *it, vus_irq_state_fn *fn,
		      vus_ctx *ctx, void *opaque);

#endif /* VUS_IRQ_INTERNAL_H */
