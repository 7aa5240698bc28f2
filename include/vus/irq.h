/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Interrupt indexes: groups of vectors (PCI INTx/MSI/MSI-X, SysBus lines)
 * that the client binds to eventfds with SET_IRQS. The device raises a
 * vector with vus_irq_trigger() (edge) or vus_irq_set_level() (level); the
 * library signals the eventfd, or keeps the vector pending while it is
 * masked or unbound.
 *
 * PCI devices use vus_pci_irq_*() instead: the PCI adapter owns indexes 0-4.
 */
#ifndef VUS_IRQ_H
#define VUS_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Index flags, with VFIO_IRQ_INFO_* values. EVENTFD is always implied. */
#define VUS_IRQ_MASKABLE 0x2u   /**< MASK/UNMASK supported */
#define VUS_IRQ_AUTOMASKED 0x4u /**< firing masks it; client unmasks (level) */
#define VUS_IRQ_NORESIZE 0x8u   /**< vectors cannot be added while enabled */

/**
 * Declare interrupt index @index with @count vectors (count 0: present but
 * empty). Only before vus_ctx_realize(). -EINVAL (flags, count > 2048, an
 * index reserved by the bus adapter), -EEXIST, -EBUSY, -ENOMEM.
 */
int vus_irq_setup(vus_ctx *ctx, uint32_t index, uint32_t count,
		  uint32_t flags);

/**
 * Raise an edge interrupt on @vector of @index. Returns 1 if an eventfd was
 * signalled, 0 if the vector is masked or unbound (it is then pending and
 * fires on unmask/bind where the index semantics allow), -EINVAL for a bad
 * index or vector. Thread-safe.
 */
int vus_irq_trigger(vus_ctx *ctx, uint32_t index, uint32_t vector);

/**
 * Set the level of a level-triggered line. Raising it signals the eventfd
 * (and, with VUS_IRQ_AUTOMASKED, masks the vector until the client
 * unmasks, when a still-raised line fires again). Returns as
 * vus_irq_trigger(); lowering returns 0. Thread-safe.
 */
int vus_irq_set_level(vus_ctx *ctx, uint32_t index, uint32_t vector,
		      bool level);

/** Whether the client has bound an eventfd to @vector of @index. Thread-safe. */
bool vus_irq_is_bound(vus_ctx *ctx, uint32_t index, uint32_t vector);

/**
 * Called on the context thread after the client changed the bindings of
 * vectors [start, start + count) of @index (bound, unbound, disabled).
 */
typedef void vus_irq_state_fn(vus_ctx *ctx, void *opaque, uint32_t index,
			      uint32_t start, uint32_t count);

/** Set the binding-change callback. Only before realize. */
int vus_irq_set_state_cb(vus_ctx *ctx, vus_irq_state_fn *fn, void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* VUS_IRQ_H */
