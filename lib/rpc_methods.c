/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_methods: the method registry (the standard methods every context
 * answers, then the device's own from vus_rpc_register()), and the small
 * standard methods: rpc.discover, query-log-level, set-log-level,
 * device-reset. The standard methods are a table, like the engine's
 * commands: name, parameters, flags, handler, availability.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common.h"
#include "ctx_internal.h"
#include "log.h"
#include "mig.h"
#include "rpc_priv.h"

/* Log level names, VUS_LOG_ERR (3) first. */
static const char *const level_names[] = { "error", "warning", "notice",
					   "info", "debug", NULL };

static bool name_ok(const char *s, bool lib)
{
	size_t n = s ? strlen(s) : 0, dot = 0;

	if (n < 3 || n > RPC_NAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') ||
			     (s[i] >= '0' && s[i] <= '9') || s[i] == '-';

		if (s[i] == '.' && (lib || (dot++ == 0 && i + 1 < n &&
					   s[i + 1] >= 'a' && s[i + 1] <= 'z')))
			continue;
		if (!alnum)
			return false;
	}
	/* A device's method lives in its namespace; "rpc." is JSON-RPC's
	 * and "vus." the library's. */
	return lib || (dot == 1 && strncmp(s, "rpc.", 4) != 0 &&
		       strncmp(s, "vus.", 4) != 0);
}

static void method_free(struct rpc_method *m)
{
	if (m == NULL)
		return;
	rpc_params_free(m);
	free(m->summary);
	free(m);
}

const struct rpc_method *rpc_method_find(struct rpc *r, const char *name,
					 size_t len)
{
	for (unsigned int i = 0; i < r->n_methods; i++) {
		const struct rpc_method *m = r->methods[i];

		if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
			return m->available == NULL || m->available(r->ctx) ? m
									   : NULL;
	}
	return NULL;
}

static int desc_check(struct rpc *r, const struct vus_rpc_method *d, bool lib)
{
	if (!name_ok(d->name, lib) || d->handler == NULL ||
	    (d->flags & ~VUS_RPC_QUIESCE) || d->summary == NULL ||
	    strlen(d->summary) > RPC_SUMMARY_MAX ||
	    !rpc_utf8_ok(d->summary, strlen(d->summary)))
		return -EINVAL;
	for (unsigned int i = 0; i < r->n_methods; i++)
		if (strcmp(r->methods[i]->name, d->name) == 0)
			return -EEXIST;
	if (!lib && r->n_dev_methods >= RPC_MAX_DEV_METHODS)
		return -ENOSPC;
	return 0;
}

int rpc_method_add(struct rpc *r, const struct vus_rpc_method *d,
		   void *opaque, bool lib, bool (*available)(vus_ctx *ctx))
{
	struct rpc_method **arr, *m;
	int ret = desc_check(r, d, lib);

	if (ret < 0)
		return ret;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	strcpy(m->name, d->name);
	m->summary = strdup(d->summary);
	m->handler = d->handler;
	m->opaque = opaque;
	m->flags = d->flags;
	m->available = available;
	m->lib = lib;
	ret = m->summary ? rpc_params_copy(m, d->params, d->n_params) : -ENOMEM;
	arr = ret == 0 ? realloc(r->methods, (r->n_methods + 1) * sizeof(*arr))
		       : NULL;
	if (arr == NULL) {
		method_free(m);
		return ret < 0 ? ret : -ENOMEM;
	}
	r->methods = arr;
	r->methods[r->n_methods++] = m;
	r->n_dev_methods += !lib;
	return 0;
}

void rpc_methods_free(struct rpc *r)
{
	for (unsigned int i = 0; i < r->n_methods; i++)
		method_free(r->methods[i]);
	free(r->methods);
	r->methods = NULL;
	r->n_methods = r->n_dev_methods = 0;
}

static int add_public(vus_ctx *ctx, const struct vus_rpc_method *m,
		      void *opaque, bool lib)
{
	struct vus_rpc_method d;
	struct rpc *r;
	int ret;

	if (ctx == NULL || m == NULL || copy_sized(&d, sizeof(d), m) < 0)
		return -EINVAL;
	ret = rpc_of(ctx, &r);
	if (ret < 0)
		return ret;
	return rpc_method_add(r, &d, opaque ? opaque : vus_ctx_opaque(ctx),
			      lib, NULL);
}

VUS_EXPORT int vus_rpc_register(vus_ctx *ctx, const struct vus_rpc_method *m,
				void *opaque)
{
	return add_public(ctx, m, opaque, false);
}

int rpc_register_lib(vus_ctx *ctx, const struct vus_rpc_method *m,
		     void *opaque)
{
	return add_public(ctx, m, opaque, true);
}

VUS_EXPORT void vus_rpc_set_error(vus_rpc_req *req, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (req == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(req->msg, sizeof(req->msg), fmt, ap);
	va_end(ap);
	/* Truncation may have cut a character; keep the reply UTF-8. */
	n = strlen(req->msg);
	while (n > 0 && !rpc_utf8_ok(req->msg, n))
		req->msg[--n] = '\0';
}

/* rpc.discover: every method with its parameters, OpenRPC-shaped. */
static struct json_object *describe(const struct rpc_method *m)
{
	struct json_object *o = json_object_new_object();
	struct json_object *res = json_object_new_object();
	struct json_object *sch = json_object_new_object();
	int ret = o && res && sch ? 0 : -ENOMEM;

	ret = ret ? ret : json_object_object_add(o, "name", json_object_new_string(m->name));
	ret = ret ? ret : json_object_object_add(o, "summary", json_object_new_string(m->summary));
	ret = ret ? ret : json_object_object_add(o, "paramStructure", json_object_new_string("by-name"));
	ret = ret ? ret : json_object_object_add(o, "params", rpc_params_describe(m));
	ret = ret ? ret : json_object_object_add(sch, "type", json_object_new_string("object"));
	ret = ret ? ret : json_object_object_add(res, "name", json_object_new_string("result"));
	ret = ret ? ret : json_object_object_add(res, "schema", json_object_get(sch));
	ret = ret ? ret : json_object_object_add(o, "result", json_object_get(res));
	json_object_put(sch);
	json_object_put(res);
	if (ret != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int rpc_discover(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
			vus_rpc_out *res)
{
	struct rpc *r = req->rpc;
	struct json_object *methods;
	char title[64];

	snprintf(title, sizeof(title), "libvus device %s", r->log->name);
	vus_rpc_out_str(res, "openrpc", "1.2.6");
	vus_rpc_out_begin_object(res, "info");
	vus_rpc_out_str(res, "title", title);
	vus_rpc_out_str(res, "version", vus_version());
	vus_rpc_out_end(res);
	vus_rpc_out_begin_array(res, "methods");
	methods = rpc_out_cur(res);
	for (unsigned int i = 0; i < r->n_methods; i++) {
		const struct rpc_method *m = r->methods[i];
		struct json_object *d;

		if (m->available != NULL && !m->available(r->ctx))
			continue;
		d = describe(m);
		if (d == NULL || json_object_array_add(methods, d) < 0) {
			json_object_put(d);
			return -ENOMEM;
		}
	}
	return vus_rpc_out_end(res);
}

static int query_log_level(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
			   vus_rpc_out *res)
{
	int level = req->rpc->log->level;

	if (level >= VUS_LOG_ERR && level <= VUS_LOG_DEBUG)
		return vus_rpc_out_str(res, "level", level_names[level - VUS_LOG_ERR]);
	return vus_rpc_out_int(res, "level", level);
}

static int set_log_level(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
			 vus_rpc_out *res)
{
	const char *name;
	int ret = vus_rpc_get_str(req, "level", &name);

	for (int i = 0; ret == 0 && level_names[i] != NULL; i++) {
		if (strcmp(name, level_names[i]) != 0)
			continue;
		log_msg(req->rpc->log, VUS_LOG_NOTICE,
			"log level set to %s by the management plane", name);
		req->rpc->log->level = VUS_LOG_ERR + i;
		return query_log_level(ctx, opaque, req, res);
	}
	return -EINVAL; /* the schema's choices keep this from happening */
}

static int device_reset(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
			vus_rpc_out *res)
{
	int ret;

	/* A reset would throw a migration in progress back to RUNNING. */
	if (vus_mig_state(ctx) != VUS_MIG_RUNNING) {
		vus_rpc_set_error(req, "a migration is in progress");
		return -EBUSY;
	}
	ret = ctx_reset(ctx, VUS_RESET_BUS);
	if (ret < 0)
		vus_rpc_set_error(req, "the device's reset failed: %s",
				  strerror(-ret));
	return ret == -EINVAL ? -EIO : ret;
}

static bool migratable(vus_ctx *ctx)
{
	return ctx_mig(ctx) != NULL;
}

static const struct vus_rpc_param level_param[] = { {
	.struct_size = sizeof(struct vus_rpc_param), .name = "level",
	.type = VUS_RPC_STRING, .required = true, .choices = level_names,
	.summary = "the lowest level logged from now on",
} };

static const struct vus_rpc_param path_param[] = { {
	.struct_size = sizeof(struct vus_rpc_param), .name = "path",
	.type = VUS_RPC_STRING, .required = true, .max_len = 4095,
	.summary = "a file the server process can write or read",
} };

static const struct {
	struct vus_rpc_method m;
	bool (*available)(vus_ctx *ctx);
} standard[] = {
	{ .m = { .name = "query-status", .handler = rpc_query_status,
	    .summary = "the device, its client and its migration state" } },
	{ .m = { .name = "query-stats", .handler = rpc_query_stats,
	    .summary = "message, error, DMA, interrupt, quiesce and "
		       "management counters" } },
	{ .m = { .name = "query-log-level", .handler = query_log_level,
	    .summary = "the server's log level" } },
	{ .m = { .name = "set-log-level", .handler = set_log_level,
	    .params = level_param, .n_params = 1,
	    .summary = "change the server's log level" } },
	{ .m = { .name = "rpc.discover", .handler = rpc_discover,
	    .summary = "every method and its parameters (OpenRPC)" } },
	{ .m = { .name = "device-reset", .handler = device_reset,
	    .flags = VUS_RPC_QUIESCE,
	    .summary = "reset the device as a bus reset would" } },
	{ .m = { .name = "save-state", .handler = rpc_save_state,
	    .params = path_param, .n_params = 1, .flags = VUS_RPC_QUIESCE,
	    .summary = "write the device's state (a migration stream) to a "
		       "file; the device runs on" }, .available = migratable },
	{ .m = { .name = "load-state", .handler = rpc_load_state,
	    .params = path_param, .n_params = 1, .flags = VUS_RPC_QUIESCE,
	    .summary = "load a state written by save-state (no vfio-user "
		       "client connected)" }, .available = migratable },
	{ .m = { .name = "vus.handover", .handler = ho_rpc_handover,
	    .params = ho_rpc_params, .n_params = 1,
	    .summary = "hand the device over to the calling process (live "
		       "upgrade; the connection then carries the hand-over)" },
	  .available = migratable },
};

int rpc_methods_init(struct rpc *r)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(standard); i++)
		ret = rpc_method_add(r, &standard[i].m, r, true,
				     standard[i].available);
	return ret;
}
