/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Migration: a device describes its state as named, versioned sections;
 * libvus does the rest. It runs VFIO migration v2 over vfio-user
 * (DEVICE_FEATURE: MIGRATION, MIG_DEVICE_STATE, DMA logging; MIG_DATA_READ
 * and MIG_DATA_WRITE), quiesces the device before it stops, frames the
 * sections into a stream with the device's identity, a compatibility
 * version and an integrity check, and logs the guest pages the device
 * writes through vus_dma_*.
 *
 * A destination refuses a stream from another kind of device, another
 * compatibility version, or a truncated or corrupted one, and leaves the
 * device untouched: every section is checked before any is loaded.
 *
 * Call order: after the bus adapter is set up, vus_mig_setup(), then
 * vus_mig_add_section() for each part of the device's state, then
 * vus_ctx_realize(). Library-owned state (PCI config space, the MSI-X table
 * and pending bits) travels in sections of its own.
 */
#ifndef VUS_MIGRATION_H
#define VUS_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Where save callbacks write a section's bytes. */
typedef struct vus_mig_out vus_mig_out;
/** Where check and load callbacks read them. */
typedef struct vus_mig_in vus_mig_in;

/**
 * Append bytes to the section being saved: they are copied, so @data may
 * change or go once it returns. Integers are written little-endian. 0, or
 * -ENOMEM / -EFBIG (the stream limit).
 */
int vus_mig_put(vus_mig_out *out, const void *data, size_t len);
/**
 * Append bytes that stay where they are, unchanged, until the save ends:
 * in a save() for STOP_COPY, a block of 64 KiB or more is not copied; the
 * stream refers to it and the client's reads are sent straight from it
 * (for large state, e.g. device memory, this saves a buffer of the
 * state's size and the page faults of filling it). So @data must stay
 * valid and unchanged until the client leaves STOP_COPY, resets or
 * disconnects, or the context is destroyed; the device is stopped all that
 * time. Bytes changed anyway make the destination refuse the stream (its
 * check sum is taken when save() returns). Elsewhere (save_live, smaller
 * blocks) it is vus_mig_put(). 0, -ENOMEM, -EFBIG, -EINVAL.
 */
int vus_mig_put_ref(vus_mig_out *out, const void *data, size_t len);
int vus_mig_put_u8(vus_mig_out *out, uint8_t v);
int vus_mig_put_u16(vus_mig_out *out, uint16_t v);
int vus_mig_put_u32(vus_mig_out *out, uint32_t v);
int vus_mig_put_u64(vus_mig_out *out, uint64_t v);

/**
 * Take bytes from the section being checked or loaded. -EBADMSG when the
 * section has fewer left (nothing is taken then); -EIO (or another
 * errno of reading) if the section was spilled to disk and reading it
 * back failed.
 */
int vus_mig_get(vus_mig_in *in, void *data, size_t len);
int vus_mig_get_u8(vus_mig_in *in, uint8_t *v);
int vus_mig_get_u16(vus_mig_in *in, uint16_t *v);
int vus_mig_get_u32(vus_mig_in *in, uint32_t *v);
int vus_mig_get_u64(vus_mig_in *in, uint64_t *v);

/** Bytes of the section not taken yet. */
size_t vus_mig_remaining(const vus_mig_in *in);

/**
 * From a check or load callback: refuse the stream and say why, e.g.
 * `return vus_mig_refuse(in, -EINVAL, "outputs 0x%x: no such lines", v);`.
 * Returns @err (a negative errno; else -EINVAL). The text (one line, at
 * most 159 bytes kept) is logged with the section's name and kept, with
 * the section and errno, as the management socket's last load error
 * (query-status, doc/management.md), so the VMM's side can show it: the
 * vfio-user reply carries only the errno.
 */
int vus_mig_refuse(vus_mig_in *in, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Callbacks of one state section. Run on the context thread. */
struct vus_mig_section_ops {
	size_t struct_size; /**< sizeof(struct vus_mig_section_ops) */
	/**
	 * Write the section's state. The device is quiesced and stopped.
	 * For a section with save_live, write what changed since the last
	 * save_live call. 0 or -errno (the migration fails: ERROR state).
	 */
	int (*save)(vus_ctx *ctx, void *opaque, vus_mig_out *out);
	/**
	 * Check a section written by save() of version @version (at most
	 * the version registered here) without changing anything: sizes,
	 * ranges, consistency. 0 or -errno refuses the whole stream.
	 */
	int (*check)(vus_ctx *ctx, void *opaque, vus_mig_in *in,
		     uint32_t version);
	/**
	 * Apply a section check() accepted (the device is stopped). Only
	 * called once every section of the stream passed its check.
	 */
	int (*load)(vus_ctx *ctx, void *opaque, vus_mig_in *in,
		    uint32_t version);
	/**
	 * Optional, for pre-copy of large state: while the device still
	 * runs, write the next part of the state (or what changed since the
	 * previous call). Return 1 when there is nothing more to send
	 * until the device stops, 0 when more remains, or -errno. Whatever
	 * save_live wrote reaches check()/load() on the destination ahead of
	 * what save() writes, as one section.
	 */
	int (*save_live)(vus_ctx *ctx, void *opaque, vus_mig_out *out);
};

/** Migration parameters. Zero-initialise, then fill. */
struct vus_mig_config {
	size_t struct_size; /**< sizeof(struct vus_mig_config) */
	/**
	 * The guest-visible version of the device (the samples' option
	 * --compat-version). A destination only accepts a stream with the
	 * same identity and compatibility version.
	 */
	uint32_t compat_version;
	/** Offer PRE_COPY (needs a section with save_live to be useful). */
	bool pre_copy;
	/** Offer the P2P states (the device initiates no peer-to-peer DMA). */
	bool p2p;
	/**
	 * Largest section staged in memory while RESUMING (its records
	 * together): the destination stages each section, not the stream,
	 * so a stream may be longer. A longer section is spilled to
	 * @stage_dir if there is one, else refused (EFBIG). The library's
	 * region section is bounded by the memory it migrates instead,
	 * wherever it is staged. 0: 64 MiB.
	 */
	uint64_t max_stream_size;
	/**
	 * Where a destination spills sections that do not fit in memory
	 * (@stage_mem_max, max_stream_size): a directory, opened by
	 * vus_mig_setup() (so before a sandbox confines the process); each
	 * spilled section is an unnamed file in it (O_TMPFILE, gone when
	 * the load ends or the process dies). Prefer a disk (e.g.
	 * /var/tmp): on tmpfs spilling still takes memory (logged). The
	 * string is copied. NULL: no spilling.
	 */
	const char *stage_dir;
	/**
	 * Most bytes a destination stages in memory, all sections of one
	 * stream together (what it allocates for them). A section that
	 * would pass it is spilled, or without @stage_dir refused (EFBIG).
	 * 0: 256 MiB with @stage_dir; without, no total bound (each
	 * section's alone).
	 */
	uint64_t stage_mem_max;
	/**
	 * Most bytes a destination spills to @stage_dir for one stream, so
	 * a client cannot fill the disk: a stream needing more is refused
	 * (EFBIG; a full disk: ENOSPC), its files dropped, the device left
	 * as it was. 0: 4 GiB.
	 */
	uint64_t stage_disk_max;
};

/**
 * Make the device migratable: the client then sees the MIGRATION feature.
 * Once, after vus_pci_init()/vus_sysbus_init() and before realize.
 * -EINVAL, -EEXIST, -EBUSY, -ENOMEM, or the errno of opening
 * @cfg->stage_dir (e.g. -ENOENT, -ENOTDIR, -EACCES).
 */
int vus_mig_setup(vus_ctx *ctx, const struct vus_mig_config *cfg);

/**
 * Add a state section. @name: 1-63 characters [a-z0-9._-], unique;
 * @version: what save() writes (>= 1). Sections are saved in the order
 * they were added. Only before realize. -EINVAL, -EEXIST, -EBUSY, -ENOMEM.
 */
int vus_mig_add_section(vus_ctx *ctx, const char *name, uint32_t version,
			const struct vus_mig_section_ops *ops, void *opaque);

/** VFIO migration device states (enum vfio_device_mig_state values). */
enum vus_mig_state {
	VUS_MIG_ERROR = 0,
	VUS_MIG_STOP = 1,
	VUS_MIG_RUNNING = 2,
	VUS_MIG_STOP_COPY = 3,
	VUS_MIG_RESUMING = 4,
	VUS_MIG_RUNNING_P2P = 5,
	VUS_MIG_PRE_COPY = 6,
	VUS_MIG_PRE_COPY_P2P = 7,
};

/** The current migration state (VUS_MIG_RUNNING when not migrating). */
enum vus_mig_state vus_mig_state(vus_ctx *ctx);

/**
 * Whether a device in @state must stand still -- no DMA, no interrupts,
 * no input taken in: STOP, STOP_COPY, RESUMING and ERROR. In the others
 * (RUNNING, PRE_COPY and their P2P forms) it runs.
 */
bool vus_mig_state_stopped(enum vus_mig_state state);

/**
 * Called on the context thread after each state change, e.g. to stop a
 * backend in STOP and restart it in RUNNING (the device was quiesced for
 * the change and is resumed afterwards). A reset (DEVICE_RESET, or the
 * client leaving) from a state other than RUNNING reports a change to
 * RUNNING too, ahead of the device's reset callback.
 * vus_mig_set_state_cb(): after vus_mig_setup(), before realize; @opaque
 * NULL means the context's opaque. 0, -EINVAL or -EBUSY.
 */
typedef void vus_mig_state_fn(vus_ctx *ctx, void *opaque,
			      enum vus_mig_state from, enum vus_mig_state to);
int vus_mig_set_state_cb(vus_ctx *ctx, vus_mig_state_fn *fn, void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* VUS_MIGRATION_H */
