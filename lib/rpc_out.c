/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_out: how a handler builds its result (vus_rpc_out_*) without seeing
 * json-c: a stack of open containers over the result object. The first
 * failure sticks, so a handler can write a whole result and let the
 * library turn a failure into an internal error.
 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "common.h"
#include "rpc_priv.h"

void rpc_out_init(struct vus_rpc_out *o, struct json_object *root)
{
	memset(o, 0, sizeof(*o));
	o->stack[0] = root;
}

struct json_object *rpc_out_cur(struct vus_rpc_out *o)
{
	return o->stack[o->depth];
}

static int fail(struct vus_rpc_out *o, int err)
{
	if (o->err == 0)
		o->err = err;
	return err;
}

/* Add @v (taken, NULL: out of memory) under @key or at the array's end. */
static int add(struct vus_rpc_out *o, const char *key, struct json_object *v)
{
	struct json_object *cur;
	bool in_array;

	if (o == NULL) {
		json_object_put(v);
		return -EINVAL;
	}
	cur = rpc_out_cur(o);
	in_array = json_object_is_type(cur, json_type_array);
	if (o->err != 0 || v == NULL || (key == NULL) != in_array) {
		json_object_put(v);
		return fail(o, o->err ? o->err : v == NULL ? -ENOMEM : -EINVAL);
	}
	if ((in_array ? json_object_array_add(cur, v)
		      : json_object_object_add(cur, key, v)) < 0) {
		json_object_put(v);
		return fail(o, -ENOMEM);
	}
	return 0;
}

VUS_EXPORT int vus_rpc_out_bool(vus_rpc_out *o, const char *key, bool v)
{
	return add(o, key, json_object_new_boolean(v));
}

VUS_EXPORT int vus_rpc_out_int(vus_rpc_out *o, const char *key, int64_t v)
{
	return add(o, key, json_object_new_int64(v));
}

VUS_EXPORT int vus_rpc_out_uint(vus_rpc_out *o, const char *key, uint64_t v)
{
	return add(o, key, json_object_new_uint64(v));
}

VUS_EXPORT int vus_rpc_out_str(vus_rpc_out *o, const char *key, const char *s)
{
	/* The reply must stay valid JSON text: UTF-8 only. */
	if (s == NULL || !rpc_utf8_ok(s, strlen(s)))
		return o ? fail(o, -EINVAL) : -EINVAL;
	return add(o, key, json_object_new_string(s));
}

static int begin(vus_rpc_out *o, const char *key, struct json_object *v)
{
	int ret;

	if (o != NULL && o->depth >= RPC_OUT_DEPTH) {
		json_object_put(v);
		return fail(o, -EINVAL);
	}
	/* The container stays ours to fill after the parent took it. */
	ret = add(o, key, v);
	if (ret == 0)
		o->stack[++o->depth] = v;
	return ret;
}

VUS_EXPORT int vus_rpc_out_begin_object(vus_rpc_out *o, const char *key)
{
	return begin(o, key, json_object_new_object());
}

VUS_EXPORT int vus_rpc_out_begin_array(vus_rpc_out *o, const char *key)
{
	return begin(o, key, json_object_new_array());
}

VUS_EXPORT int vus_rpc_out_end(vus_rpc_out *o)
{
	if (o == NULL)
		return -EINVAL;
	if (o->err != 0)
		return o->err;
	if (o->depth == 0)
		return fail(o, -EINVAL);
	o->depth--;
	return 0;
}
