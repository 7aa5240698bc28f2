/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SysBus adapter: a platform (memory-mapped, non-PCI) device such as a UART,
 * a GPIO block or a timer. The device is a set of MMIO windows and
 * interrupt lines; DEVICE_GET_INFO reports VFIO's platform flag.
 *
 * A VMM learns what the device is and where it would like to live from a
 * description the adapter publishes through the protocol: a read-only
 * region after the MMIO windows, marked with a VFIO TYPE capability
 * (VUS_SYSBUS_DESC_TYPE / VUS_SYSBUS_DESC_SUBTYPE), holding a JSON document
 * with the compatible strings, the windows (index, size, suggested base),
 * the lines (index, trigger) and device-tree style properties. doc/sysbus.md
 * specifies it for VMM authors; libvus-client reads it (vus/client_sysbus.h).
 *
 * Call order: vus_ctx_create(bus = VUS_BUS_SYSBUS) -> vus_sysbus_init() ->
 * vus_sysbus_add_mmio() / vus_sysbus_add_irq() / vus_sysbus_set_prop_*() ->
 * vus_ctx_realize(). Window n is region index n; line n is IRQ index n.
 * The generic facilities (vus_dma_*, vus_ctx_set_device_ops, quiesce,
 * reset) are the same as for PCI devices.
 */
#ifndef VUS_SYSBUS_H
#define VUS_SYSBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "region.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The description region's VFIO region type: the vendor-specific type space
 * (0x80000000 | vendor) with vendor 0xffff, an ID no PCI vendor can hold.
 */
#define VUS_SYSBUS_DESC_TYPE 0x8000ffffu
/** Subtype: a platform device description, JSON, NUL-terminated. */
#define VUS_SYSBUS_DESC_SUBTYPE 1u

/** Identity of the device. Zero-initialise, then fill. */
struct vus_sysbus_info {
	size_t struct_size; /**< sizeof(struct vus_sysbus_info) */
	/**
	 * Device-tree "compatible" strings, most specific first, ending with
	 * NULL (e.g. {"ns16550a", NULL}); at least one; copied.
	 */
	const char *const *compatible;
	/** A name for people (log lines, vus-ctl), e.g. "uart0"; may be NULL. */
	const char *name;
};

/**
 * Make the context a platform device. Once, before the other vus_sysbus_*
 * calls. -EINVAL (not a SysBus context, no compatible string, a string
 * over 127 bytes or with control characters), -EEXIST, -EBUSY, -ENOMEM.
 */
int vus_sysbus_init(vus_ctx *ctx, const struct vus_sysbus_info *info);

/** vus_sysbus_add_mmio() base value for "no preference". */
#define VUS_SYSBUS_NO_BASE UINT64_MAX

/**
 * Add the next MMIO window, described as any region (callbacks, memory,
 * mmap areas, ioeventfds with vus_region_add_ioeventfd()). @base is the
 * guest-physical address the device would like (published in the
 * description; the VMM decides), or VUS_SYSBUS_NO_BASE. Returns the
 * window's index (= region index), or as vus_region_setup().
 */
int vus_sysbus_add_mmio(vus_ctx *ctx, const struct vus_region_desc *desc,
			uint64_t base);

/** Interrupt line trigger types (as device trees describe them). */
enum vus_sysbus_trigger {
	VUS_SYSBUS_LEVEL_HIGH = 0, /**< level; automasked, client unmasks */
	VUS_SYSBUS_LEVEL_LOW = 1,
	VUS_SYSBUS_EDGE_RISING = 2, /**< edge; raised with vus_sysbus_irq_pulse() */
	VUS_SYSBUS_EDGE_FALLING = 3,
};

/**
 * Add the next interrupt line. Level lines are MASKABLE|AUTOMASKED (INTx
 * semantics: the client unmasks after handling, a still-raised line fires
 * again); edge lines carry events only. Returns the line's index (= IRQ
 * index) or -EINVAL, -EBUSY, -ENOMEM, -ENOSPC.
 */
int vus_sysbus_add_irq(vus_ctx *ctx, enum vus_sysbus_trigger trigger);

/**
 * Set the level of a level line (true = asserted, whatever its polarity
 * on the guest's side). Returns as vus_irq_set_level(); -EINVAL for an
 * edge line or a bad index. Thread-safe.
 */
int vus_sysbus_irq_set(vus_ctx *ctx, unsigned int line, bool asserted);

/** Send one event on an edge line. As vus_irq_trigger(). Thread-safe. */
int vus_sysbus_irq_pulse(vus_ctx *ctx, unsigned int line);

/**
 * Device-tree style properties published in the description, e.g.
 * "clock-frequency", "reg-shift", "reg-io-width", "current-speed". Keys
 * are 1-63 characters of [a-z0-9,.+_-]; setting a key again replaces it.
 * Only before realize. -EINVAL, -EBUSY, -ENOMEM, -ENOSPC (more than 64).
 */
int vus_sysbus_set_prop_u64(vus_ctx *ctx, const char *key, uint64_t value);
int vus_sysbus_set_prop_str(vus_ctx *ctx, const char *key, const char *value);

#ifdef __cplusplus
}
#endif

#endif /* VUS_SYSBUS_H */
