/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_proto: JSON-RPC 2.0 on a received line. A line holds one call or a
 * batch; each call is checked (a request object with "jsonrpc": "2.0", a
 * method name, params by name, an id of the allowed types, nothing else),
 * its method looked up and its params checked against the method's
 * schema before its handler runs. A call without an id is a notification
 * and gets no reply, even when it fails; anything unusable as a request
 * gets an error with id null. A method flagged VUS_RPC_QUIESCE waits for
 * the device to be quiet: the line's job is held (the connection reads
 * nothing more) and carried on from rpc_wakeup().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "log.h"
#include "rpc_priv.h"

enum { CALL_DONE, CALL_HELD, CALL_NOMEM };

/* A request object that passed request_check(). */
struct call {
	bool has_id;
	bool id_ok;              /* an id of an allowed type (null included) */
	struct json_object *id;  /* borrowed; NULL is JSON null */
	const char *method;
	size_t method_len;
	struct json_object *params; /* an object or NULL */
	bool positional;            /* params was a non-empty array */
};

const char *rpc_errno_name(int err, char *buf, size_t cap)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	const char *n = strerrorname_np(err);

	if (n != NULL)
		return n;
#endif
	snprintf(buf, cap, "errno %d", err);
	return buf;
}

const char *rpc_quote(const char *s, size_t len, char *buf, size_t cap)
{
	bool plain = len > 0 && len + 3 <= cap;

	for (size_t i = 0; plain && i < len; i++)
		plain = s[i] >= 0x20 && s[i] < 0x7f;
	if (plain)
		snprintf(buf, cap, "'%.*s'", (int)len, s);
	else
		snprintf(buf, cap, "(a long or non-ASCII name)");
	return buf;
}

static const char *code_message(int code)
{
	switch (code) {
	case RPC_PARSE_ERROR: return "Parse error";
	case RPC_INVALID_REQUEST: return "Invalid Request";
	case RPC_METHOD_NOT_FOUND: return "Method not found";
	case RPC_INVALID_PARAMS: return "Invalid params";
	case RPC_INTERNAL_ERROR: return "Internal error";
	default: return "Server error";
	}
}

static int put(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *reply_new(struct json_object *id)
{
	struct json_object *r = json_object_new_object();

	if (r != NULL && (put(r, "jsonrpc", json_object_new_string("2.0")) < 0 ||
			  put(r, "id", json_object_get(id)) < 0)) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

struct json_object *rpc_error_reply(struct json_object *id, int code,
				    const char *data_msg, int err)
{
	struct json_object *r = reply_new(id);
	struct json_object *e = json_object_new_object();
	struct json_object *d = json_object_new_object();
	char buf[32];
	int ret;

	if (r == NULL || e == NULL || d == NULL) {
		json_object_put(r);
		json_object_put(e);
		json_object_put(d);
		return NULL;
	}
	ret = put(r, "error", e);
	ret |= put(e, "code", json_object_new_int(code));
	ret |= put(e, "message", json_object_new_string(code_message(code)));
	ret |= put(e, "data", d);
	ret |= put(d, "message", json_object_new_string(data_msg));
	if (err > 0)
		ret |= put(d, "errno", json_object_new_string(
					       rpc_errno_name(err, buf, sizeof(buf))));
	if (ret != 0) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

static struct json_object *error_reply(struct rpc *r, struct json_object *id,
				       int code, const char *msg, int err)
{
	r->st.errors++;
	return rpc_error_reply(id, code, msg, err);
}

/* The id member: its presence and whether its type is allowed. */
static void check_id(struct json_object *o, struct call *k)
{
	struct json_object *id;

	k->has_id = json_object_object_get_ex(o, "id", &id);
	k->id_ok = !k->has_id || id == NULL ||
		   json_object_is_type(id, json_type_string) ||
		   json_object_is_type(id, json_type_int) ||
		   json_object_is_type(id, json_type_double);
	k->id = k->has_id && k->id_ok ? id : NULL;
}

static int check_members(struct json_object *o, char *msg, size_t cap)
{
	static const char *const known[] = { "jsonrpc", "method", "params", "id" };
	char q[48];

	json_object_object_foreach(o, key, val) {
		bool ok = false;

		(void)val;
		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			ok = ok || strcmp(key, known[i]) == 0;
		if (!ok) {
			snprintf(msg, cap, "unknown member %s",
				 rpc_quote(key, strlen(key), q, sizeof(q)));
			return -EINVAL;
		}
	}
	return 0;
}

static int check_params(struct json_object *o, struct call *k, char *msg,
			size_t cap)
{
	struct json_object *p;

	if (!json_object_object_get_ex(o, "params", &p))
		return 0;
	if (json_object_is_type(p, json_type_object)) {
		k->params = p;
		return 0;
	}
	if (json_object_is_type(p, json_type_array)) {
		/* [] is "no parameters"; others are positional. */
		k->positional = json_object_array_length(p) > 0;
		return 0;
	}
	snprintf(msg, cap, "\"params\" must be an object or an array");
	return -EINVAL;
}

/* Is @o a JSON-RPC 2.0 request? Fills @k; the reason goes to @msg. */
static int request_check(struct json_object *o, struct call *k, char *msg,
			 size_t cap)
{
	struct json_object *v;

	memset(k, 0, sizeof(*k));
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(msg, cap, "a request must be a JSON object");
		return -EINVAL;
	}
	check_id(o, k);
	if (!k->id_ok) {
		snprintf(msg, cap, "\"id\" must be a string, a number or null");
		return -EINVAL;
	}
	if (check_members(o, msg, cap) < 0)
		return -EINVAL;
	if (!json_object_object_get_ex(o, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) != 3 ||
	    memcmp(json_object_get_string(v), "2.0", 3) != 0) {
		snprintf(msg, cap, "\"jsonrpc\" must be \"2.0\"");
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		snprintf(msg, cap, "\"method\" must be a string");
		return -EINVAL;
	}
	k->method = json_object_get_string(v);
	k->method_len = (size_t)json_object_get_string_len(v);
	return check_params(o, k, msg, cap);
}

/* Build the reply of a handler that returned @ret with @result. */
static struct json_object *result_reply(struct rpc *r, const struct call *k,
					struct vus_rpc_req *req, int ret,
					struct json_object *result)
{
	struct json_object *rep;

	if (ret < 0) {
		json_object_put(result);
		return error_reply(r, k->id, ret == -EINVAL ? RPC_INVALID_PARAMS
							    : RPC_SERVER_ERROR,
				   req->msg[0] ? req->msg : strerror(-ret),
				   ret == -EINVAL ? 0 : -ret);
	}
	rep = reply_new(k->id);
	if (rep == NULL || put(rep, "result", result) < 0) {
		json_object_put(rep);
		return NULL;
	}
	return rep;
}

/* Run @m's handler for the checked call @k (quiesced if it asked). */
static struct json_object *invoke(struct rpc_conn *c, const struct call *k,
				  const struct rpc_method *m, bool in_batch)
{
	struct vus_rpc_req req = { .rpc = c->rpc, .m = m, .params = k->params,
				   .conn = in_batch || !k->has_id ? NULL : c };
	struct json_object *result = json_object_new_object();
	struct vus_rpc_out out;
	int ret;

	if (result == NULL)
		return k->has_id ? error_reply(c->rpc, k->id, RPC_INTERNAL_ERROR,
					       "out of memory", ENOMEM) : NULL;
	rpc_out_init(&out, result);
	ret = m->handler(c->rpc->ctx, m->opaque, &req, &out);
	if (ret >= 0 && out.err != 0) {
		snprintf(req.msg, sizeof(req.msg), "the result could not be "
			 "built: %s", strerror(-out.err));
		json_object_put(result);
		return k->has_id ? error_reply(c->rpc, k->id, RPC_INTERNAL_ERROR,
					       req.msg, -out.err) : NULL;
	}
	if (!k->has_id) {
		json_object_put(result);
		return NULL;
	}
	return result_reply(c->rpc, k, &req, ret < 0 ? ret : 0, result);
}

/* Check and run one call; *reply is NULL when none is due. */
static int run_call(struct rpc_conn *c, struct json_object *o, bool in_batch,
		    bool resumed, struct json_object **reply)
{
	struct rpc *r = c->rpc;
	const struct rpc_method *m;
	char msg[RPC_MSG_MAX], q[80];
	struct call k;
	bool quiesced = resumed;

	*reply = NULL;
	if (!resumed)
		r->st.requests++;
	if (request_check(o, &k, msg, sizeof(msg)) < 0) {
		*reply = error_reply(r, k.id, RPC_INVALID_REQUEST, msg, 0);
		return *reply ? CALL_DONE : CALL_NOMEM;
	}
	m = rpc_method_find(r, k.method, k.method_len);
	if (m == NULL || k.positional ||
	    rpc_params_check(m, k.params, msg, sizeof(msg)) < 0) {
		if (m == NULL)
			snprintf(msg, sizeof(msg), "no method %s", rpc_quote(
					 k.method, k.method_len, q, sizeof(q)));
		else if (k.positional)
			snprintf(msg, sizeof(msg), "parameters go by name: "
				 "\"params\" must be an object");
		if (k.has_id)
			*reply = error_reply(r, k.id, m ? RPC_INVALID_PARAMS
						      : RPC_METHOD_NOT_FOUND, msg, 0);
		return *reply || !k.has_id ? CALL_DONE : CALL_NOMEM;
	}
	if ((m->flags & VUS_RPC_QUIESCE) && !quiesced) {
		if (device_quiesce(ctx_device(r->ctx)) == -EBUSY)
			return CALL_HELD;
		quiesced = true;
	}
	*reply = invoke(c, &k, m, in_batch);
	if (quiesced)
		device_resume(ctx_device(r->ctx));
	return *reply || !k.has_id ? CALL_DONE : CALL_NOMEM;
}

static void job_free(struct rpc_conn *c)
{
	json_object_put(c->job.root);
	json_object_put(c->job.replies);
	memset(&c->job, 0, sizeof(c->job));
	c->has_job = false;
}

static void job_finish(struct rpc_conn *c)
{
	struct json_object *rep = c->job.replies;

	/* A batch of notifications only gets nothing at all. */
	if (rep != NULL && (!c->job.batch || json_object_array_length(rep) > 0))
		rpc_conn_emit(c, rep);
	job_free(c);
}

/* Run the job's calls from job.next on, until done or held. */
static void job_run(struct rpc_conn *c)
{
	struct rpc_job *j = &c->job;
	size_t n = j->batch ? json_object_array_length(j->root) : 1;

	while (j->next < n) {
		struct json_object *o = j->batch
			? json_object_array_get_idx(j->root, j->next) : j->root;
		struct json_object *rep;
		bool resumed = j->held;

		if (j->held) {
			j->held = false;
			c->rpc->nheld--;
		}
		switch (run_call(c, o, j->batch, resumed, &rep)) {
		case CALL_HELD:
			j->held = true;
			c->rpc->nheld++;
			return;
		case CALL_NOMEM:
			c->overflow = true; /* a reply is due and cannot be built */
			break;
		default:
			break;
		}
		if (rep != NULL && j->batch &&
		    json_object_array_add(j->replies, rep) < 0) {
			json_object_put(rep);
			c->overflow = true;
		} else if (rep != NULL && !j->batch) {
			j->replies = rep;
		}
		j->next++;
	}
	job_finish(c);
}

static void emit_error(struct rpc_conn *c, int code, const char *msg)
{
	struct json_object *e = error_reply(c->rpc, NULL, code, msg, 0);

	if (e == NULL)
		c->overflow = true;
	else
		rpc_conn_emit(c, e);
	json_object_put(e);
}

/* A parsed line: one call, or a batch of 1..RPC_BATCH_MAX calls. */
static void job_start(struct rpc_conn *c, struct json_object *root)
{
	char msg[RPC_MSG_MAX];
	size_t n;

	if (json_object_is_type(root, json_type_array)) {
		n = json_object_array_length(root);
		if (n == 0 || n > RPC_BATCH_MAX) {
			snprintf(msg, sizeof(msg), "a batch holds 1 to %u calls, "
				 "not %zu", RPC_BATCH_MAX, n);
			emit_error(c, RPC_INVALID_REQUEST, msg);
			json_object_put(root);
			return;
		}
		c->job.replies = json_object_new_array();
		if (c->job.replies == NULL) {
			c->overflow = true;
			json_object_put(root);
			return;
		}
		c->job.batch = true;
	}
	c->job.root = root;
	c->has_job = true;
	job_run(c);
}

void rpc_proto_line(struct rpc_conn *c, const char *line, size_t len)
{
	struct json_object *root;
	char msg[RPC_MSG_MAX];
	int ret;

	/* Blank lines (and CR before LF) are harmless: skip them. */
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
			   line[len - 1] == '\r'))
		len--;
	if (len == 0 || c->has_job)
		return;
	ret = rpc_json_parse(line, len, &root, msg, sizeof(msg));
	if (ret < 0) {
		if (ret == -ENOMEM)
			snprintf(msg, sizeof(msg), "out of memory");
		emit_error(c, RPC_PARSE_ERROR, msg);
		return;
	}
	job_start(c, root);
}

void rpc_proto_resume(struct rpc_conn *c)
{
	if (c->has_job && c->job.held)
		job_run(c);
}

void rpc_proto_drop(struct rpc_conn *c)
{
	if (!c->has_job)
		return;
	if (c->job.held) {
		c->rpc->nheld--;
		device_resume(ctx_device(c->rpc->ctx));
	}
	job_free(c);
}
