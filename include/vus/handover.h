/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade: a running device hands everything to a freshly started
 * process (possibly a newer build of the same device) without its client
 * noticing: the listening socket, the live vfio-user connection at a
 * message boundary, the client's DMA mappings, interrupt eventfds and
 * doorbells, region memory the client has mapped, the device's own fds
 * (back-ends) and its state (the migration sections: saved in the old
 * process, checked and then loaded in the new one).
 *
 * The old process serves the hand-over from its loop: on its management
 * socket (the "handover" method, see doc/management.md) or on any connected
 * socket given to vus_ctx_handover_serve_fd(). The new process:
 *
 *   vus_takeover_begin(rpc_path, NULL, &t)   ask; learn the old config
 *   ... build the device from vus_takeover_config(t) ...
 *   vus_ctx_realize(ctx)                   (do not listen)
 *   vus_ctx_take_over(ctx, t)              receive, check, load, commit
 *   vus_ctx_run(ctx)
 *
 * Until the new process has checked and loaded everything and said so,
 * the old one can resume as if nothing happened, and does on any failure:
 * the new process refuses (another device, another compatibility version,
 * a section's check() fails, a fd of the wrong kind, a damaged stream),
 * dies, or does not answer in time. Once the old process has read the new
 * one's confirmation it never serves again; its vus_ctx_run() returns 0
 * and the device's handed_over callback has run. doc/persistence.md has
 * the protocol and every failure case.
 *
 * Requirements: the device is migratable (vus_mig_setup(): its state
 * travels in its sections) and no migration is in progress.
 */
#ifndef VUS_HANDOVER_H
#define VUS_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a device's own fd must be; the new process checks it. */
enum vus_fd_kind {
	VUS_FD_ANY = 0,     /**< not checked */
	VUS_FD_SOCKET = 1,  /**< a socket of any family */
	VUS_FD_TTY = 2,     /**< a terminal (a pty master, a serial line) */
	VUS_FD_CHAR = 3,    /**< a character device (e.g. /dev/net/tun) */
	VUS_FD_EVENTFD = 4,
	VUS_FD_FILE = 5,    /**< a regular file or memfd */
};

/** The device's own fds travelling with a hand-over. */
typedef struct vus_handover_fds vus_handover_fds;

/**
 * Old process (save_fds): hand @fd over under @name (1-63 characters
 * [a-z0-9._-], unique). The library dups it; the caller keeps its own.
 * 0, -EINVAL (name, kind, fd), -EEXIST, -ENOSPC (more than 64), -ENOMEM,
 * or dup's errno.
 */
int vus_handover_put_fd(vus_handover_fds *h, const char *name, int fd,
			enum vus_fd_kind kind);

/**
 * New process (load_fds): take the fd the old device put under @name; the
 * caller owns it (it was checked to be of the kind given there). -ENOENT
 * if the old device put none by that name, -EINVAL.
 */
int vus_handover_take_fd(vus_handover_fds *h, const char *name);

/** A device's part in a hand-over. Every member may be NULL. */
struct vus_handover_ops {
	size_t struct_size; /**< sizeof(struct vus_handover_ops) */
	/**
	 * Old process: the device is stopped (as in the migration state
	 * STOP) and its sections are saved. Put the fds the new process
	 * needs (back-end sockets, a pty) with vus_handover_put_fd().
	 * 0 or -errno (the hand-over is refused; the device runs on).
	 */
	int (*save_fds)(void *opaque, vus_handover_fds *h);
	/**
	 * New process, in vus_ctx_take_over(), before the device's sections
	 * are checked and loaded: take the fds with vus_handover_take_fd().
	 * Fds nobody takes are closed. 0 or -errno (the hand-over fails and
	 * the old process resumes).
	 */
	int (*load_fds)(void *opaque, vus_handover_fds *h);
	/**
	 * Old process: the new process has everything and serves from now
	 * on; this context stops (vus_ctx_run() returns 0). Close your fds
	 * but remove nothing the new process uses (a bound socket's path,
	 * files). The device is still stopped and stays so.
	 */
	void (*handed_over)(void *opaque);
};

/**
 * Set the device's hand-over callbacks (copied). Before realize.
 * @opaque NULL means the context's opaque. -EINVAL, -EBUSY.
 */
int vus_ctx_set_handover_ops(vus_ctx *ctx, const struct vus_handover_ops *ops,
			     void *opaque);

/**
 * The text a new process receives with vus_takeover_config() to build the
 * same device (the samples: their command line as a JSON array). Copied;
 * at most 64 KiB. Any time on the context thread. -EINVAL, -E2BIG,
 * -ENOMEM.
 */
int vus_ctx_set_handover_config(vus_ctx *ctx, const char *config);

/**
 * How long a hand-over may keep the device stopped before the old process
 * gives up and resumes (default 10000 ms; 1 .. 600000). Also bounds the
 * wait for the new process's first messages. -EINVAL.
 */
int vus_ctx_set_handover_timeout(vus_ctx *ctx, uint32_t ms);

/**
 * Serve one hand-over request arriving on @fd, a connected AF_UNIX stream
 * socket (taken, also on error), from the context's loop. One at a time:
 * -EBUSY while another runs. Needs a realized context. The management
 * socket's "handover" method does this with its own connection.
 */
int vus_ctx_handover_serve_fd(vus_ctx *ctx, int fd);

/**
 * Whether this context has handed its device over (old process): it
 * serves nothing any more; destroy it (vus_ctx_run_once() says -ENOTCONN).
 */
bool vus_ctx_handed_over(const vus_ctx *ctx);

/** A hand-over being taken, in the new process. */
typedef struct vus_takeover vus_takeover;

/** Parameters of a take-over. Zero-initialise, then set what you need. */
struct vus_takeover_config {
	size_t struct_size; /**< sizeof(struct vus_takeover_config) */
	/** Most time to wait for each step of the old process. 0: 10000. */
	uint32_t timeout_ms;
	/** Where the reasons for a failure go; NULL: stderr. */
	vus_log_fn *log;
	void *log_opaque;
};

/**
 * Ask the server whose management socket is @rpc_path for a hand-over:
 * connects, sends the request and waits for the old process's device
 * identity and configuration. The old process keeps serving meanwhile.
 * @cfg may be NULL. On success *out owns the request (pass it to
 * vus_ctx_take_over() or vus_takeover_abort()). -ECONNREFUSED, -ENOENT
 * (nobody there), -EPROTO (not a libvus server, or one that speaks
 * another hand-over protocol), -EBUSY (it is busy with another hand-over
 * or a migration), -ETIMEDOUT, or another -errno; the reason is logged.
 */
int vus_takeover_begin(const char *rpc_path,
		       const struct vus_takeover_config *cfg,
		       vus_takeover **out);

/**
 * As vus_takeover_begin() on an already connected socket @fd (taken, also
 * on error) whose far end was given to vus_ctx_handover_serve_fd().
 */
int vus_takeover_begin_fd(int fd, const struct vus_takeover_config *cfg,
			  vus_takeover **out);

/** The old process's configuration text ("" if it set none). */
const char *vus_takeover_config(const vus_takeover *t);

/**
 * Take the device over into @ctx (realized, not listening, no client):
 * checks that @ctx is the same kind of device with the same compatibility
 * version, receives everything, checks it whole (integrity, every fd's
 * kind, every section's check()), installs the library's state, calls
 * the device's load_fds, loads the sections, then confirms. On success
 * @ctx serves the old process's listening socket and client from its next
 * vus_ctx_run_once(). Frees @t in every case. On failure the old process
 * resumes (it was told why, or notices), the reason is logged, and @ctx
 * may only be destroyed. Errors: -EINVAL (ctx not ready), -ENODEV (another
 * kind of device), -EPROTONOSUPPORT (another compatibility version),
 * -EBADMSG (a damaged stream, a wrong fd), -ETIMEDOUT, -ECONNRESET (the
 * old process went away before everything arrived), a section's -errno.
 */
int vus_ctx_take_over(vus_ctx *ctx, vus_takeover *t);

/**
 * Give up before vus_ctx_take_over() (e.g. the configuration cannot be
 * used): the old process is told @why and carries on. Frees @t.
 */
void vus_takeover_abort(vus_takeover *t, const char *why);

#ifdef __cplusplus
}
#endif

#endif /* VUS_HANDOVER_H */
