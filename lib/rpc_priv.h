/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_priv: the management plane's state, shared by its files only:
 * rpc_server.c (listener, connections, line framing, output), rpc_proto.c
 * (JSON-RPC 2.0: requests, batches, errors, dispatch), rpc_json.c (the
 * strict parser), rpc_params.c (parameter schemas), rpc_out.c (result
 * building), rpc_methods.c (the method registry and the simple standard
 * methods), rpc_status.c (query-status, query-stats), rpc_state.c
 * (save-state, load-state).
 *
 * Bounds (doc/management.md): RPC_MAX_CONNS clients, a line of at most
 * RPC_LINE_MAX bytes, RPC_OUT_MAX bytes of replies waiting for a client
 * that does not read, RPC_BATCH_MAX calls per batch, RPC_JSON_DEPTH levels
 * of nesting, RPC_BUDGET connection events per turn of the context loop.
 */
#ifndef VUS_RPC_PRIV_H
#define VUS_RPC_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "rpc_internal.h"

struct json_object;

#define RPC_MAX_CONNS 64u
#define RPC_LINE_MAX (1u << 20)
#define RPC_OUT_MAX (1u << 20)
#define RPC_BATCH_MAX 64u
#define RPC_JSON_DEPTH 32
/* Events of management connections handled per turn of the context's
 * loop: the vfio-user client never waits behind more than these. One, as
 * bench_rpc measured: with 4, a REGION_READ beside 64 busy managers took
 * twice as long (doc/management.md). */
#define RPC_BUDGET 1
/* Bytes looked at per peek, and read per event while a line is long. */
#define RPC_PEEK 4096u
#define RPC_READ_BUDGET (64u << 10)
#define RPC_ACCEPT_BUDGET 16u
#define RPC_MAX_DEV_METHODS 64u
#define RPC_MAX_PARAMS 16u
#define RPC_NAME_MAX 63u
#define RPC_PARAM_NAME_MAX 31u
#define RPC_SUMMARY_MAX 200u
#define RPC_STRING_DEFAULT_MAX 4096u
#define RPC_MSG_MAX 256u
#define RPC_OUT_DEPTH 16u

/* JSON-RPC 2.0 error codes. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603
#define RPC_SERVER_ERROR -32000 /* a handler's errno */

/* A parameter as registered (copied from struct vus_rpc_param). */
struct rpc_param {
	char name[RPC_PARAM_NAME_MAX + 1];
	enum vus_rpc_type type;
	bool required;
	int64_t min, max;
	uint64_t umax;
	size_t max_len;
	char **choices; /* NULL-terminated, or NULL */
	char *summary;  /* or NULL */
};

struct rpc_method {
	char name[RPC_NAME_MAX + 1];
	char *summary;
	struct rpc_param *params;
	unsigned int n_params;
	vus_rpc_fn *handler;
	void *opaque;
	uint32_t flags;
	/* Standard methods that exist only for some devices (save-state
	 * needs migration); NULL: always. */
	bool (*available)(vus_ctx *ctx);
	bool lib; /* the library's, not the device's */
};

/* One call being handled (the public vus_rpc_req). */
struct vus_rpc_req {
	struct rpc *rpc;
	struct rpc_conn *conn; /* NULL in a batch or a notification */
	const struct rpc_method *m;
	struct json_object *params; /* an object, or NULL for none */
	char msg[RPC_MSG_MAX];      /* vus_rpc_set_error() */
};

struct vus_rpc_out {
	struct json_object *stack[RPC_OUT_DEPTH + 1];
	unsigned int depth;
	int err; /* the first failure, sticky */
};

/* A line being answered: a call or a batch, perhaps held for a quiesce. */
struct rpc_job {
	struct json_object *root;
	bool batch;
	size_t next;                 /* the next call of the batch */
	struct json_object *replies; /* batch replies so far, or the reply */
	bool held;                   /* call @next waits for the quiesce */
};

struct rpc_conn {
	struct watch w;
	struct rpc *rpc;
	struct rpc_conn *next;
	char *in;         /* the line so far (no newline) */
	size_t in_len, in_cap;
	char *out;        /* replies not yet written */
	size_t out_head, out_len, out_cap;
	bool eof;         /* the client will send nothing more */
	bool closing;     /* answered with a fatal error: hang up when out */
	bool overflow;    /* the client does not read: cut it off */
	bool dead;        /* socket closed; kept only for a held call */
	bool has_job;
	struct rpc_job job;
	rpc_detach_fn *detach_fn; /* non-NULL: hand the fd over once out */
	void *detach_opaque;
};

struct rpc_stats {
	uint64_t requests;      /* calls and notifications */
	uint64_t errors;        /* error replies */
	uint64_t clients_total;
	uint64_t clients_refused; /* over RPC_MAX_CONNS */
	uint64_t clients_cut;     /* line too long or replies not read */
};

struct rpc {
	vus_ctx *ctx;
	struct log *log;
	struct loop *loop;    /* management sockets, nested in the ctx loop */
	struct watch outer_w; /* @loop's fd in the context's loop */
	struct watch listen_w;
	char *path;           /* removed on destroy */
	struct rpc_conn *conns;
	unsigned int nconns;  /* live ones */
	unsigned int nheld;   /* connections with a held call */
	struct rpc_method **methods;
	unsigned int n_methods;
	unsigned int n_dev_methods;
	struct rpc_stats st;
};

/* rpc_server.c */
/**
 * A connection on @fd (taken); -1 makes one with no socket whose replies
 * stay in c->out (the fuzz target). NULL when out of memory.
 */
struct rpc_conn *rpc_conn_new(struct rpc *r, int fd);
/** Free a connection made with fd -1 (others close through the loop). */
void rpc_conn_free(struct rpc_conn *c);
/** Queue @reply (a reply object or batch array) as one line. */
void rpc_conn_emit(struct rpc_conn *c, struct json_object *reply);

/* rpc_proto.c */
/** Answer one received line (no newline) on @c. */
void rpc_proto_line(struct rpc_conn *c, const char *line, size_t len);
/** Carry on a job held for a quiesce, now confirmed. */
void rpc_proto_resume(struct rpc_conn *c);
/** Drop a job (its held quiesce included). */
void rpc_proto_drop(struct rpc_conn *c);
/** The symbolic name of errno @err ("EBUSY"), or "errno N" in @buf. */
const char *rpc_errno_name(int err, char *buf, size_t cap);
/**
 * @s[0..len) quoted for a message ('name') when it is short printable
 * ASCII, else a placeholder: client text must not break the reply's UTF-8.
 */
const char *rpc_quote(const char *s, size_t len, char *buf, size_t cap);
/** An error reply object; @data_msg and @err (an errno, 0: none) go to data. */
struct json_object *rpc_error_reply(struct json_object *id, int code,
				    const char *data_msg, int err);

/* rpc_json.c */
/**
 * Parse a received line: strict JSON (RFC 8259: no NaN, no single
 * quotes, integers within 64 bits), valid UTF-8, at most RPC_JSON_DEPTH
 * levels, one document. 0 with *out a new reference (NULL for the text
 * "null"); -EINVAL with a human message in @msg, or -ENOMEM.
 */
int rpc_json_parse(const char *text, size_t len, struct json_object **out,
		   char *msg, size_t msg_cap);
/** Whether @s[0..len) is valid UTF-8. */
bool rpc_utf8_ok(const char *s, size_t len);

/* rpc_params.c */
/** Copy and check a method's parameter descriptions. 0, -EINVAL, -ENOMEM. */
int rpc_params_copy(struct rpc_method *m, const struct vus_rpc_param *p,
		    size_t n);
void rpc_params_free(struct rpc_method *m);
/**
 * Check a call's params (an object, or NULL for none) against @m:
 * 0, or -EINVAL with the reason in @msg.
 */
int rpc_params_check(const struct rpc_method *m, struct json_object *params,
		     char *msg, size_t msg_cap);
/** @m's parameters as OpenRPC content descriptors (a new array). */
struct json_object *rpc_params_describe(const struct rpc_method *m);

/* rpc_out.c */
void rpc_out_init(struct vus_rpc_out *o, struct json_object *root);

/* rpc_methods.c */
/** Register the standard methods (at creation). 0 or -errno. */
int rpc_methods_init(struct rpc *r);
void rpc_methods_free(struct rpc *r);
/** The method called @name (@len bytes), if @r's device has it. */
const struct rpc_method *rpc_method_find(struct rpc *r, const char *name,
					 size_t len);
/** Add a method; @lib: the library's own (no namespace rules). */
int rpc_method_add(struct rpc *r, const struct vus_rpc_method *m,
		   void *opaque, bool lib, bool (*available)(vus_ctx *ctx));

/* rpc_status.c, rpc_state.c: standard method handlers. */
int rpc_query_status(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		     vus_rpc_out *res);
int rpc_query_stats(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		    vus_rpc_out *res);
int rpc_save_state(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		   vus_rpc_out *res);
int rpc_load_state(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		   vus_rpc_out *res);
/** The current container of the result being built (for json-c users). */
struct json_object *rpc_out_cur(struct vus_rpc_out *o);

#endif /* VUS_RPC_PRIV_H */
