/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc (internal): the management plane as the rest of the library sees it:
 * the context creates and destroys it and forwards quiesce wake-ups; the
 * live upgrade (persistence) takes a management connection over with
 * rpc_detach_conn() and adds methods outside the device namespaces with
 * rpc_register_lib(). Public API: include/vus/rpc.h.
 */
#ifndef VUS_RPC_INTERNAL_H
#define VUS_RPC_INTERNAL_H

#include "vus/rpc.h"

struct rpc;

/** The context's management plane, created on first use. 0 or -ENOMEM. */
int rpc_of(vus_ctx *ctx, struct rpc **out);

/**
 * Close every management connection and the listener (its path is
 * removed), drop quiesce holds, free. Pending detach callbacks run with
 * -ECANCELED. NULL is a no-op.
 */
void rpc_destroy(struct rpc *r);

/** The context's wake eventfd fired: run calls held for a quiesce. */
void rpc_wakeup(struct rpc *r);

/**
 * Called once per rpc_detach_conn(): @fd >= 0 is the management
 * connection, now the callee's (non-blocking, close-on-exec, no longer
 * watched by anyone); a negative errno says it was lost first: -EPIPE
 * or -ECONNRESET (the client went away before the reply was out),
 * -ECANCELED (the context is being destroyed). Runs on the context
 * thread, outside any handler; it may add watches (vus_ctx_add_fd) but
 * must not destroy the context.
 */
typedef void rpc_detach_fn(void *opaque, int fd);

/**
 * The hand-over hook. From inside a method handler: once the reply to this
 * call has been written out entirely, take the management connection out
 * of the RPC module and give its fd to @fn. From then on the connection
 * carries whatever the two sides agree (e.g. a binary hand-over stream
 * with SCM_RIGHTS). Nothing the client sent after the request's line has
 * been read: the RPC module reads a line at a time and never past its
 * newline, so the next byte on the fd is the client's first byte after
 * the request. Meanwhile nothing more is read from the connection.
 * Returns 0, or -EINVAL: not inside a handler, the call is a notification
 * (no reply to wait for) or part of a batch, or a detach is already
 * pending for this call. If the handler then fails, the error reply goes
 * out and the detach still happens.
 */
int rpc_detach_conn(vus_rpc_req *req, rpc_detach_fn *fn, void *opaque);

/**
 * vus_rpc_register() for the library's own methods: any name of
 * [a-z0-9.-] (the "vus." namespace is meant for these), not counted
 * against the device's limit.
 */
int rpc_register_lib(vus_ctx *ctx, const struct vus_rpc_method *m,
		     void *opaque);

/*
 * Live upgrade: the management socket moves with the device, so the new
 * process answers at the same path.
 */

/** The listener's fd (borrowed; -1: none) and the path it made (or NULL). */
int rpc_listener(vus_ctx *ctx, const char **path);

/** Old process, committed: stop accepting and close the listener, and
 * leave its path to the new process (destroy removes nothing). */
void rpc_let_go(vus_ctx *ctx);

/** New process: serve the old process's listener @fd (taken) made at
 * @path (taken, may be NULL; removed on destroy). 0 or -errno. */
int rpc_adopt_listener(vus_ctx *ctx, int fd, char *path);

/* The hand-over method (lib/ho_rpc.c), one of the standard methods. */
extern const struct vus_rpc_param ho_rpc_params[1];
int ho_rpc_handover(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		    vus_rpc_out *res);

#endif /* VUS_RPC_INTERNAL_H */
