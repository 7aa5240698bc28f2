/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus management plane: JSON-RPC 2.0 on a UNIX stream socket, served in
 * the context's own loop next to the vfio-user client.
 *
 * A management tool (libvirt, an agent, vus-ctl --rpc) connects, writes one
 * JSON-RPC 2.0 request (or batch) per line and reads one response (or
 * batch) per line back. Every context answers the standard methods
 * (query-status, query-stats, set-log-level, query-log-level, rpc.discover,
 * device-reset, and save-state/load-state when it migrates); a device adds
 * its own with vus_rpc_register(). doc/management.md describes the protocol,
 * the methods, the error codes and the bounds.
 *
 * Threads: everything here runs on the context thread (the one calling
 * vus_ctx_run()/vus_ctx_run_once()); handlers run there too, between
 * vfio-user messages, and must not block. No thread is started.
 */
#ifndef VUS_RPC_H
#define VUS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Serve JSON-RPC at a new listening UNIX socket at @path (mode 0600: only
 * the server's user may manage it). A stale socket file nobody listens on
 * is replaced; a live one gives -EADDRINUSE; any other file at @path is
 * left alone (-EADDRINUSE). The path is removed by vus_ctx_destroy().
 * Needs a realized context. Returns 0, -EINVAL (NULL or empty path, not
 * realized), -EEXIST (already serving RPC), -ENAMETOOLONG, -ENOMEM, or
 * the errno of socket/bind/listen.
 */
int vus_ctx_rpc_listen(vus_ctx *ctx, const char *path);

/**
 * Serve JSON-RPC on an already listening AF_UNIX stream socket, e.g. from
 * systemd socket activation. Takes ownership of @fd (closed by destroy,
 * also on error). Returns 0, -EINVAL (not realized, not a listening
 * AF_UNIX stream socket), -ENOTSOCK, -EEXIST, -ENOMEM.
 */
int vus_ctx_rpc_listen_fd(vus_ctx *ctx, int fd);

/** One call being handled: its parameters and its error message. */
typedef struct vus_rpc_req vus_rpc_req;
/** The result object a handler builds. */
typedef struct vus_rpc_out vus_rpc_out;

/** Parameter types. */
enum vus_rpc_type {
	VUS_RPC_BOOL = 1,   /**< JSON true/false */
	VUS_RPC_INT = 2,    /**< JSON integer in [min, max] (int64_t) */
	VUS_RPC_UINT = 3,   /**< JSON integer in [0, umax] (uint64_t) */
	VUS_RPC_STRING = 4, /**< JSON string, no NUL, at most max_len bytes */
};

/**
 * One named parameter of a method. Parameters are passed by name (a JSON
 * object); the library checks names, types and ranges before the handler
 * runs and answers -32602 (invalid params) itself.
 */
struct vus_rpc_param {
	/** sizeof(struct vus_rpc_param); the same for every element. */
	size_t struct_size;
	/** [a-z0-9-], 1..31 characters, unique within the method. */
	const char *name;
	enum vus_rpc_type type;
	bool required;
	/** VUS_RPC_INT: inclusive range; both 0 means any int64_t. */
	int64_t min, max;
	/** VUS_RPC_UINT: largest value; 0 means UINT64_MAX. */
	uint64_t umax;
	/** VUS_RPC_STRING: longest value in bytes; 0 means 4096. */
	size_t max_len;
	/** VUS_RPC_STRING: NULL-terminated list of the only values allowed, or NULL. */
	const char *const *choices;
	/** One line for rpc.discover, or NULL. */
	const char *summary;
};

/**
 * A method handler, called with the context and the opaque given at
 * registration. Read parameters with vus_rpc_get_*() and write the
 * result object with vus_rpc_out_*() (nothing written: an empty object).
 * Return 0 for a result, or a negative errno for an error reply: -EINVAL
 * becomes -32602 (invalid params), any other value -32000 (server error)
 * with the errno in error.data; vus_rpc_set_error() gives the human
 * message. Runs on the context thread (quiesced with VUS_RPC_QUIESCE);
 * must not block.
 */
typedef int vus_rpc_fn(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		       vus_rpc_out *res);

/** Run the handler with the device quiesced (e.g. it changes state the
 * device's threads use), as the engine does for DEVICE_RESET. */
#define VUS_RPC_QUIESCE 0x1u

/** A device method. Zero-initialise, then fill. */
struct vus_rpc_method {
	size_t struct_size; /**< sizeof(struct vus_rpc_method) */
	/**
	 * "<device>.<verb>": two parts of [a-z0-9-] joined by one '.', 3..63
	 * characters, each part starting with a letter, e.g. "gpio.set-inputs".
	 * "rpc." and "vus." are reserved. Copied.
	 */
	const char *name;
	/** One line for rpc.discover; copied. */
	const char *summary;
	/** @n_params parameter descriptions (copied), or NULL. At most 16. */
	const struct vus_rpc_param *params;
	size_t n_params;
	vus_rpc_fn *handler;
	uint32_t flags; /**< VUS_RPC_QUIESCE */
};

/**
 * Add a device method to @ctx's management plane (before or after
 * vus_ctx_rpc_listen()). Everything in @m is copied; @opaque (NULL: the
 * context's opaque) is passed to the handler. At most 64 methods per
 * context. Context thread only.
 * Returns 0, -EINVAL (a bad name, summary, parameter description or
 * flag; no handler; struct_size larger than this library knows), -EEXIST
 * (the name is taken), -ENOSPC (too many methods), -ENOMEM.
 */
int vus_rpc_register(vus_ctx *ctx, const struct vus_rpc_method *m,
		     void *opaque);

/**
 * A parameter's value, valid during the handler only (strings too).
 * Returns 0, -ENOENT (an optional parameter the caller left out), or
 * -EINVAL (the method declares no such parameter of this type).
 */
int vus_rpc_get_bool(const vus_rpc_req *req, const char *name, bool *out);
int vus_rpc_get_int(const vus_rpc_req *req, const char *name, int64_t *out);
int vus_rpc_get_uint(const vus_rpc_req *req, const char *name, uint64_t *out);
int vus_rpc_get_str(const vus_rpc_req *req, const char *name,
		    const char **out);

/**
 * The human message of the error the handler is about to return (goes to
 * error.data.message; at most 255 bytes are kept). Without it the message
 * is strerror() of the returned errno.
 */
void vus_rpc_set_error(vus_rpc_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Building the result. The handler starts inside the result object;
 * begin_object/begin_array open a member (in an object, @key names it; in
 * an array, @key must be NULL) and vus_rpc_out_end() closes it; containers
 * left open are closed when the handler returns. At most 16 levels.
 * Each returns 0, -EINVAL (a key where none belongs or the reverse, a
 * NULL string, end with nothing open, too deep) or -ENOMEM. A failure is
 * remembered: the call then answers -32603 (internal error), so a handler
 * may ignore these return values.
 */
int vus_rpc_out_bool(vus_rpc_out *o, const char *key, bool v);
int vus_rpc_out_int(vus_rpc_out *o, const char *key, int64_t v);
int vus_rpc_out_uint(vus_rpc_out *o, const char *key, uint64_t v);
int vus_rpc_out_str(vus_rpc_out *o, const char *key, const char *s);
int vus_rpc_out_begin_object(vus_rpc_out *o, const char *key);
int vus_rpc_out_begin_array(vus_rpc_out *o, const char *key);
int vus_rpc_out_end(vus_rpc_out *o);

#ifdef __cplusplus
}
#endif

#endif /* VUS_RPC_H */
