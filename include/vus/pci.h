/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCI adapter: turns a context into a PCI function. The library emulates
 * configuration space (header, BAR sizing, command/status, capabilities and
 * their write semantics), the MSI-X table and PBA, and routes INTx, MSI and
 * MSI-X onto the vfio-user interrupt indexes. The device supplies identity,
 * BARs (regions) and, if it wants, device-specific config registers.
 *
 * Call order: vus_ctx_create(bus = VUS_BUS_PCI) -> vus_pci_init() ->
 * vus_pci_setup_bar() / vus_pci_add_cap_*() -> vus_ctx_realize().
 * PCI region indexes: 0-5 BARs, 6 ROM, 7 config space, 8 VGA (never used).
 * PCI interrupt indexes: 0 INTx, 1 MSI, 2 MSI-X, 3 ERR, 4 REQ.
 */
#ifndef VUS_PCI_H
#define VUS_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "region.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Region index of BAR n, the ROM and config space. */
#define VUS_PCI_REGION_BAR(n) ((uint32_t)(n))
#define VUS_PCI_REGION_ROM 6u
#define VUS_PCI_REGION_CONFIG 7u

/** Interrupt indexes. */
#define VUS_PCI_IRQ_INTX 0u
#define VUS_PCI_IRQ_MSI 1u
#define VUS_PCI_IRQ_MSIX 2u
#define VUS_PCI_IRQ_ERR 3u
#define VUS_PCI_IRQ_REQ 4u

/** Identity and header of the function. Zero-initialise, then fill. */
struct vus_pci_info {
	size_t struct_size; /**< sizeof(struct vus_pci_info) */
	uint16_t vendor_id;
	uint16_t device_id;
	uint16_t subsys_vendor_id;
	uint16_t subsys_id;
	uint8_t revision;
	uint32_t class_code;   /**< base class << 16 | subclass << 8 | prog-if */
	uint8_t interrupt_pin; /**< 0 none, 1 INTA# .. 4 INTD#; 1 enables INTx */
	/** PCI Express: 4 KiB config space with extended capabilities. */
	bool express;
};

/**
 * Make the context a PCI function. Once, before any other vus_pci_* call.
 * Region indexes 0-8 and interrupt indexes 0-4 then belong to the adapter
 * (vus_region_setup() and vus_irq_setup() refuse them). @info is copied.
 * -EINVAL (not a PCI context, vendor 0 or 0xffff, pin > 4, class code
 * wider than 24 bits), -EEXIST (already a bus adapter, or a region 0-8 was
 * set up by hand), -EBUSY (realized), -ENOMEM.
 */
int vus_pci_init(vus_ctx *ctx, const struct vus_pci_info *info);

/* BAR type flags for vus_pci_setup_bar(). */
#define VUS_PCI_BAR_IO 0x1u       /**< I/O space (default: memory) */
#define VUS_PCI_BAR_MEM64 0x2u    /**< 64-bit memory BAR (uses bar + 1 too) */
#define VUS_PCI_BAR_PREFETCH 0x4u /**< prefetchable memory */

/**
 * Describe BAR @bar (0-5); the region is set up at once. desc->size must be
 * a power of two, >= 16 for memory (<= 2 GiB unless 64-bit) and >= 4
 * (<= 256) for I/O BARs. A 64-bit BAR occupies @bar and @bar + 1 (so @bar
 * <= 4). desc->flags 0 means VUS_REGION_READ | VUS_REGION_WRITE. Without
 * desc->ops the BAR needs backing memory, which then also serves accesses
 * outside the mmap areas. Region callbacks of BARs receive the accesses
 * desc->access_min/max/flags admit (by default 1, 2, 4 or 8 bytes,
 * naturally aligned, which is what QEMU sends for guest accesses; the rest
 * are refused with EINVAL); a BAR without callbacks takes any length. MSI-X
 * table and PBA ranges are handled by the library and never reach them (an
 * access straddling them is cut at their edges).
 * -EINVAL, -EEXIST (this BAR or its upper half is taken), -EBUSY, -ENOMEM,
 * or as vus_region_setup().
 */
int vus_pci_setup_bar(vus_ctx *ctx, unsigned int bar, uint32_t bar_flags,
		      const struct vus_region_desc *desc);

/**
 * Give the function an expansion ROM (copied; region 6, read-only). @size
 * must be a power of two >= 2 KiB and no larger than the context's
 * max_data_xfer_size (QEMU reads the ROM in one transfer). Without a ROM
 * the ROM BAR reads 0 whatever is written to it. -EINVAL, -EEXIST, -EBUSY,
 * -ENOMEM.
 */
int vus_pci_setup_rom(vus_ctx *ctx, const void *image, size_t size);

/*
 * Capabilities. Each vus_pci_add_cap_*() appends to the capability list
 * (conventional space from 0x40, extended space from 0x100) and returns the
 * capability's config-space offset (> 0), or -EINVAL (bad parameters, or
 * an extended capability on a conventional function), -EEXIST (added
 * twice), -ENOSPC (no room left), -EBUSY (after realize).
 */

/** Power management: D0 and D3hot, no PME. */
int vus_pci_add_cap_pm(vus_ctx *ctx);

/** MSI capability parameters. */
struct vus_pci_msi_desc {
	size_t struct_size;   /**< sizeof(struct vus_pci_msi_desc) */
	uint32_t nr_vectors;  /**< 1, 2, 4, 8, 16 or 32 */
	bool addr64;          /**< 64-bit message address */
	bool per_vector_mask; /**< mask and pending bits per vector */
};

/** MSI capability; the interrupt index 1 gets @nr_vectors vectors. */
int vus_pci_add_cap_msi(vus_ctx *ctx, const struct vus_pci_msi_desc *d);

/** MSI-X capability parameters. */
struct vus_pci_msix_desc {
	size_t struct_size;    /**< sizeof(struct vus_pci_msix_desc) */
	uint32_t nr_vectors;   /**< 1 .. 2048 */
	unsigned int table_bar; /**< BAR holding the table (16 bytes/vector) */
	uint32_t table_offset; /**< 8-byte aligned */
	unsigned int pba_bar;  /**< BAR holding the pending-bit array */
	uint32_t pba_offset;   /**< 8-byte aligned, not overlapping the table */
};

/**
 * MSI-X capability. The library emulates the table (address, data, vector
 * mask) and the PBA inside the given BARs, which must be memory BARs set up
 * before this call and large enough; their mmap areas must not touch the
 * (host) pages holding the table or the PBA. Interrupt index 2 gets
 * @nr_vectors.
 *
 * Vector masks: QEMU emulates the MSI-X table itself and never forwards
 * table accesses, so the library's table keeps its reset value (every
 * vector masked). The per-vector masks of the library's table therefore
 * apply only once the client has written to the table through the server
 * (until the next reset); the Function Mask in config space always applies,
 * since config writes are always forwarded. PBA reads return the vectors
 * held by a mask or raised while the client had no eventfd bound.
 */
int vus_pci_add_cap_msix(vus_ctx *ctx, const struct vus_pci_msix_desc *d);

/** PCI Express device/port types for vus_pci_exp_desc.type. */
#define VUS_PCI_EXP_ENDPOINT 0x0u
#define VUS_PCI_EXP_LEGACY_ENDPOINT 0x1u
#define VUS_PCI_EXP_RC_ENDPOINT 0x9u /**< root-complex integrated endpoint */

/** PCI Express capability parameters. */
struct vus_pci_exp_desc {
	size_t struct_size;   /**< sizeof(struct vus_pci_exp_desc) */
	uint8_t type;         /**< VUS_PCI_EXP_* */
	uint16_t max_payload; /**< bytes: 128 .. 4096, power of two; 0: 128 */
	uint8_t link_speed;   /**< 1 = 2.5 GT/s .. 5; 0: 1 (not for RC endpoints) */
	uint8_t link_width;   /**< lanes: 1, 2, 4, 8, 16, 32; 0: 1 */
};

/**
 * PCI Express capability (version 2). Needs info.express; an Express
 * function without it fails vus_ctx_realize(). Link speed and width are
 * ignored for VUS_PCI_EXP_RC_ENDPOINT (no link registers).
 */
int vus_pci_add_cap_exp(vus_ctx *ctx, const struct vus_pci_exp_desc *d);

/**
 * Vendor-specific capability (ID 0x09) with @len (<= 252) bytes of body
 * after the 3-byte header (id, next, length). The body is device-owned:
 * with config ops, reads reach ops->read with @body prefilled in the buffer
 * (the callback may leave it or change it) and writes reach ops->write;
 * without them the body is read-only data.
 */
int vus_pci_add_cap_vendor(vus_ctx *ctx, const void *body, size_t len);

/** Device Serial Number extended capability. Needs info.express. */
int vus_pci_add_ext_cap_dsn(vus_ctx *ctx, uint64_t serial);

/**
 * Any other extended capability: @id, @version and @len bytes (multiple of
 * 4) of read-only body after the 4-byte header. Needs info.express.
 */
int vus_pci_add_ext_cap(vus_ctx *ctx, uint16_t id, uint8_t version,
			const void *body, size_t len);

/**
 * Device-specific configuration registers. The library owns the standard
 * header and every capability it built; the device owns the rest of config
 * space (and vendor-specific capability bodies). Accesses to device-owned
 * bytes reach these callbacks in naturally aligned pieces of 1, 2 or 4 bytes
 * that never cross into library-owned bytes; a read's buffer arrives
 * prefilled with the library's image of those bytes (zeros, or a vendor
 * body). Without callbacks, device-owned bytes read as that image and
 * ignore writes. Callbacks run on the context thread without library locks
 * held; a -errno return fails the client's access.
 */
struct vus_pci_config_ops {
	size_t struct_size; /**< sizeof(struct vus_pci_config_ops) */
	int (*read)(vus_ctx *ctx, void *opaque, uint32_t offset, void *buf,
		    size_t len);
	int (*write)(vus_ctx *ctx, void *opaque, uint32_t offset,
		     const void *buf, size_t len);
	/**
	 * After a client write changed the value of library-owned bytes
	 * [offset, +len) (one piece, as above), e.g. the command register or
	 * a BAR. Writes that change nothing are not reported. May be NULL.
	 */
	void (*changed)(vus_ctx *ctx, void *opaque, uint32_t offset,
			uint32_t len);
};

/**
 * Set config callbacks (copied). @opaque NULL means the context's opaque.
 * Only before realize. -EINVAL, -EBUSY.
 */
int vus_pci_set_config_ops(vus_ctx *ctx, const struct vus_pci_config_ops *ops,
			   void *opaque);

/**
 * Read the library's current config image (what the client reads, except
 * that device-owned bytes come from the image, not from the device's
 * callbacks), e.g. the command register. -EINVAL for a range outside
 * config space or without the adapter. Thread-safe.
 */
int vus_pci_config_read(vus_ctx *ctx, uint32_t offset, void *buf, size_t len);

/** Interrupt mode the client has enabled. */
enum vus_pci_irq_mode {
	VUS_PCI_IRQ_MODE_NONE = 0,
	VUS_PCI_IRQ_MODE_INTX = 1,
	VUS_PCI_IRQ_MODE_MSI = 2,
	VUS_PCI_IRQ_MODE_MSIX = 3,
};

/**
 * The mode in use: MSI-X or MSI if enabled in config space, else INTx
 * (NONE without an interrupt pin). Thread-safe.
 */
enum vus_pci_irq_mode vus_pci_irq_mode(vus_ctx *ctx);

/**
 * Raise interrupt source @vector in whatever mode the guest enabled, so a
 * device need not care which: with MSI-X, MSI-X vector @vector; with MSI, MSI
 * vector @vector, folded onto the vectors the guest enabled (vector modulo
 * their count, so one enabled vector takes every source); with INTx (or
 * neither enabled) the INTx line, which stays asserted while any source is
 * raised and not lowered. Under MSI and MSI-X a raise is an edge: each call
 * sends one message (masked: held pending, see vus_pci_msi/msix()).
 * Sources are device state: they survive a reset (lower them in your reset
 * callback when your reset clears their cause) and migrate with the "pci"
 * section. @vector ranges over the widest mode the function has (1 for
 * INTx only). Returns 1 if an eventfd was signalled, 0 if held or dropped,
 * -EINVAL (not a PCI function, @vector out of range, or before realize:
 * the source is kept). Thread-safe. Use these or the mode-specific calls
 * below, not both.
 */
int vus_pci_irq_raise(vus_ctx *ctx, uint32_t vector);

/**
 * Lower interrupt source @vector: under INTx the line drops once no source
 * is raised; under MSI and MSI-X nothing is sent (the guest acknowledged
 * the edge already). 0, or -EINVAL as vus_pci_irq_raise(). Thread-safe.
 */
int vus_pci_irq_lower(vus_ctx *ctx, uint32_t vector);

/**
 * Set the INTx line level. While raised and neither MSI nor MSI-X is
 * enabled (a function sending messages does not use its pin), the line
 * is asserted: Status.Interrupt reads 1 and the client is signalled unless
 * Command.INTx-Disable is set (clearing it, or disabling MSI/MSI-X,
 * delivers a line still raised), and (INTx being automasked) again after
 * each unmask while still raised. A reset (DEVICE_RESET, the client
 * leaving) leaves the level as the device set it: lower it in your reset
 * callback. Returns as vus_irq_set_level() (0 when
 * the level did not change). -EINVAL without an interrupt pin, or before
 * realize (the level is kept and delivered at realize). Thread-safe.
 */
int vus_pci_intx(vus_ctx *ctx, bool level);

/**
 * Raise MSI vector @vector. With per-vector masking a masked vector sets its
 * pending bit and fires when unmasked. Returns 1 if signalled, 0 if held
 * pending (by a mask, or because no eventfd is bound yet) or dropped (MSI
 * disabled, Bus Master Enable clear, vector beyond the enabled count),
 * -EINVAL (no MSI capability,
 * @vector >= nr_vectors). Thread-safe.
 */
int vus_pci_msi(vus_ctx *ctx, uint32_t vector);

/**
 * Raise MSI-X vector @vector. While the function or the vector is masked
 * (see vus_pci_add_cap_msix() for when vector masks apply) the PBA bit is
 * set and the message is sent on unmask. Returns 1 if signalled, 0 if
 * pending or dropped (MSI-X disabled or Bus Master Enable clear), -EINVAL
 * (no MSI-X capability,
 * @vector >= nr_vectors). Thread-safe.
 */
int vus_pci_msix(vus_ctx *ctx, uint32_t vector);

#ifdef __cplusplus
}
#endif

#endif /* VUS_PCI_H */
