/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus crash recovery: a device server that is killed (SIGKILL, a crash)
 * and restarted continues the same client session. Its fds live in a
 * service manager's fd store -- systemd's (a unit with
 * FileDescriptorStoreMax=) or tools/vus-supervise -- and its state in a
 * shared-memory area kept in that store (doc/persistence.md).
 *
 * The protocol to the service manager is systemd's notification protocol,
 * spoken directly: no libsystemd needed.
 */
#ifndef VUS_RECOVERY_H
#define VUS_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Tell the service manager about this process, as sd_notify(3): @state is
 * newline-separated "KEY=value" lines such as "READY=1" or
 * "STATUS=serving". Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset
 * (nobody to tell), -EINVAL (empty), -E2BIG (over 4095 bytes),
 * -EAFNOSUPPORT (a $NOTIFY_SOCKET that is not AF_UNIX), or the errno of
 * the socket calls. A full receiver makes it wait up to 2 s (-EAGAIN).
 * Thread-safe: each call uses its own socket.
 */
int vus_notify(const char *state);

/** Crash recovery parameters. Zero-initialise, then set what you need. */
struct vus_recovery_config {
	size_t struct_size; /**< sizeof(struct vus_recovery_config) */
	/**
	 * The most bytes any one migration section saves (the state area
	 * gives each section two slots of this size; untouched pages cost
	 * nothing). 0 selects 64 KiB. Range 4 KiB .. 64 MiB. A save that
	 * does not fit turns recovery off for this process, with a log line.
	 */
	uint32_t max_section_size;
};

/**
 * Make @ctx recoverable: its state is kept in a shared-memory area stored
 * in the service manager's fd store ($NOTIFY_SOCKET), updated at the end
 * of every client message and of every loop turn that changed it; a
 * process started with the fds of one that died continues where it left
 * off. What is kept: the migration sections (the library's own "pci"
 * section and the device's, see vus_mig_add_section(); a device without
 * vus_mig_setup() keeps only library state) and the fds named with
 * vus_ctx_keep_fd().
 *
 * Call after vus_ctx_create(), before vus_ctx_realize(). At realize the
 * inherited state area, if any, is checked (identity, compatibility
 * version, layout, checksums) and loaded through the sections' check and
 * load callbacks; if anything is refused the reason is logged and the
 * device starts clean (see vus_ctx_recovered()).
 *
 * Returns 0, -EINVAL (bad config, NULL), -EBUSY (after realize), -EEXIST
 * (already enabled), -ENOTCONN ($NOTIFY_SOCKET unset: no fd store), or
 * the errno of reading the inherited fds or opening the notify socket.
 */
int vus_ctx_enable_recovery(vus_ctx *ctx, const struct vus_recovery_config *cfg);

/**
 * After realize: 1 if this process continues a dead one's state, 0 if it
 * started clean (no area inherited, or it was refused), -EINVAL if
 * recovery is not enabled.
 */
int vus_ctx_recovered(vus_ctx *ctx);

/**
 * The device changed the state its migration section @section saves
 * (NULL: every section of the device): it is saved to the state area at
 * the end of the current client message, or of the current loop turn
 * (e.g. a back-end fd handler). A save() that returns -EBUSY (the device
 * cannot describe itself now) keeps the section's previous copy and is
 * tried again at the next commit. Context thread. 0, -ENOENT (no such
 * section of the device), -EINVAL (recovery not enabled: harmless to
 * ignore).
 */
int vus_ctx_state_changed(vus_ctx *ctx, const char *section);

/**
 * Save what changed now instead of at the end of the loop turn.
 * Context thread. 0, -EINVAL (not enabled), -EIO (recovery turned off).
 */
int vus_ctx_state_commit(vus_ctx *ctx);

/**
 * Keep a device fd (a back-end: TAP, socket, pty) in the fd store under
 * @name (1..63 of [a-z0-9._-]); the store keeps a duplicate, the caller
 * keeps @fd. After a crash, vus_ctx_take_fd() gives it back. Before or
 * after realize, context thread. 0, -EINVAL, -EEXIST (name kept), or the
 * errno of the notification.
 */
int vus_ctx_keep_fd(vus_ctx *ctx, const char *name, int fd);

/**
 * The fd a dead process kept as @name, if this process inherited one:
 * the caller owns it. -ENOENT when there is none (start afresh, then
 * vus_ctx_keep_fd()). Call after vus_ctx_enable_recovery().
 */
int vus_ctx_take_fd(vus_ctx *ctx, const char *name);

/** Stop keeping @name (the store closes its copy). 0, -ENOENT. */
int vus_ctx_drop_fd(vus_ctx *ctx, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* VUS_RECOVERY_H */
