/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_rpc: the management plane's line handling. The input is text; each
 * line of it (split at '\n', as the server frames) is one received line,
 * answered by the JSON-RPC layer of a real context that has the standard
 * methods (no migration, so no state files) and device methods with every
 * parameter type, a choice list and an errno-returning handler.
 *
 * Properties checked on every input, beyond "no crash, leak, hang":
 *   - the strict parser: what it accepts serialises and parses back to
 *     an equal document; what it refuses comes with a message;
 *   - every reply line is strict JSON (the same parser accepts it) and
 *     valid UTF-8: a JSON-RPC 2.0 response object (jsonrpc "2.0", an id,
 *     exactly one of result and error, an error with an integer code and
 *     a message) or a non-empty array of them;
 *   - a line the parser refuses gets exactly one reply: -32700, id null;
 *     a blank line (JSON whitespace only) gets none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "rpc_priv.h"
#include "vus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_rpc: %s:%d: %s\n", __FILE__,   \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static vus_ctx *ctx;
static struct rpc *rpc;

static int m_echo(vus_ctx *c, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	const char *s;
	uint64_t u;
	int64_t i;
	bool b;

	if (vus_rpc_get_bool(req, "b", &b) == 0)
		vus_rpc_out_bool(res, "b", b);
	if (vus_rpc_get_int(req, "i", &i) == 0)
		vus_rpc_out_int(res, "i", i);
	if (vus_rpc_get_uint(req, "u", &u) == 0)
		vus_rpc_out_uint(res, "u", u);
	if (vus_rpc_get_str(req, "s", &s) == 0) {
		vus_rpc_out_begin_array(res, "s");
		vus_rpc_out_str(res, NULL, s);
		vus_rpc_out_end(res);
	}
	return 0;
}

static int m_fail(vus_ctx *c, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	const char *msg;
	uint64_t err = 0;

	(void)vus_rpc_get_uint(req, "errno", &err);
	if (vus_rpc_get_str(req, "msg", &msg) == 0)
		vus_rpc_set_error(req, "%s", msg);
	return err == 0 ? 0 : -(int)err;
}

#define P(...) { .struct_size = sizeof(struct vus_rpc_param), __VA_ARGS__ }

static int add_methods(void)
{
	static const char *const colors[] = { "red", "green", NULL };
	static const struct vus_rpc_param echo[] = {
		P(.name = "b", .type = VUS_RPC_BOOL),
		P(.name = "i", .type = VUS_RPC_INT, .min = -5, .max = 5),
		P(.name = "u", .type = VUS_RPC_UINT),
		P(.name = "s", .type = VUS_RPC_STRING, .max_len = 64),
		P(.name = "c", .type = VUS_RPC_STRING, .choices = colors),
	};
	static const struct vus_rpc_param fail[] = {
		P(.name = "errno", .type = VUS_RPC_UINT, .umax = 4095,
		  .required = true),
		P(.name = "msg", .type = VUS_RPC_STRING),
	};
	static const struct vus_rpc_method m[] = {
		{ sizeof(m[0]), "fz.echo", "echo", echo, 5, m_echo, 0 },
		{ sizeof(m[0]), "fz.fail", "fail", fail, 2, m_fail, 0 },
		{ sizeof(m[0]), "fz.quiet", "quiesced", NULL, 0, m_echo,
		  VUS_RPC_QUIESCE },
	};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(m) / sizeof(m[0]); i++)
		ret = vus_rpc_register(ctx, &m[i], NULL);
	return ret;
}

static void quiet_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS, .name = "fz" };

	(void)argc;
	(void)argv;
	CHECK(vus_ctx_create(&cfg, &ctx) == 0);
	vus_ctx_set_log(ctx, VUS_LOG_ERR, quiet_log, NULL);
	CHECK(vus_irq_setup(ctx, 0, 1, 0) == 0);
	CHECK(add_methods() == 0);
	CHECK(vus_ctx_realize(ctx) == 0);
	CHECK(rpc_of(ctx, &rpc) == 0);
	return 0;
}

/* Accepted text prints and parses back to the same document. */
static void check_parse(const char *text, size_t len, bool *ok)
{
	struct json_object *o = NULL, *back = NULL;
	char msg[RPC_MSG_MAX] = "";
	const char *s;
	int ret = rpc_json_parse(text, len, &o, msg, sizeof(msg));

	*ok = ret == 0;
	if (ret < 0) {
		CHECK(ret == -EINVAL || ret == -ENOMEM);
		CHECK(ret == -ENOMEM || msg[0] != '\0');
		return;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	CHECK(s != NULL);
	CHECK(rpc_json_parse(s, strlen(s), &back, msg, sizeof(msg)) == 0);
	CHECK(json_object_equal(o, back));
	json_object_put(back);
	json_object_put(o);
}

static void check_response(struct json_object *r)
{
	struct json_object *v, *e;
	bool has_result, has_error;

	CHECK(json_object_is_type(r, json_type_object));
	CHECK(json_object_object_get_ex(r, "jsonrpc", &v));
	CHECK(strcmp(json_object_get_string(v), "2.0") == 0);
	CHECK(json_object_object_get_ex(r, "id", NULL));
	has_result = json_object_object_get_ex(r, "result", NULL);
	has_error = json_object_object_get_ex(r, "error", &e);
	CHECK(has_result != has_error);
	if (has_error) {
		CHECK(json_object_object_get_ex(e, "code", &v));
		CHECK(json_object_is_type(v, json_type_int));
		CHECK(json_object_object_get_ex(e, "message", &v));
		CHECK(json_object_is_type(v, json_type_string));
	}
}

/* The replies queued on @c: each line a response or a batch of them. */
static unsigned int check_replies(struct rpc_conn *c, bool parse_error)
{
	const char *p, *end;
	unsigned int lines = 0;

	if (c->out == NULL) /* nothing was ever queued */
		return 0;
	p = c->out + c->out_head;
	end = c->out + c->out_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct json_object *r = NULL, *v;
		char msg[RPC_MSG_MAX];

		CHECK(nl != NULL);
		CHECK(rpc_utf8_ok(p, (size_t)(nl - p)));
		CHECK(rpc_json_parse(p, (size_t)(nl - p), &r, msg, sizeof(msg)) == 0);
		if (json_object_is_type(r, json_type_array)) {
			CHECK(json_object_array_length(r) > 0);
			for (size_t i = 0; i < json_object_array_length(r); i++)
				check_response(json_object_array_get_idx(r, i));
		} else {
			check_response(r);
		}
		if (parse_error) {
			CHECK(json_object_object_get_ex(r, "id", &v) && v == NULL);
			CHECK(json_object_object_get_ex(r, "error", &v) &&
			      json_object_object_get_ex(v, "code", &v) &&
			      json_object_get_int(v) == RPC_PARSE_ERROR);
		}
		json_object_put(r);
		lines++;
		p = nl + 1;
	}
	c->out_head = c->out_len = 0;
	return lines;
}

/* Only spaces, tabs and CRs: what the server skips. */
static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct rpc_conn *c = rpc_conn_new(rpc, -1);

	CHECK(c != NULL);
	while (p < end && !c->closing && !c->overflow) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		unsigned int lines;
		bool ok;

		if (len > 0) {
			check_parse(p, len, &ok);
			rpc_proto_line(c, p, len);
			CHECK(!c->has_job); /* nothing here waits for a quiesce */
			lines = check_replies(c, !ok);
			/* Blank lines (JSON whitespace only) are ignored. */
			if (blank(p, len))
				CHECK(lines == 0);
			else if (!ok)
				CHECK(lines == 1);
			CHECK(lines <= 1);
		}
		p += len + 1;
	}
	rpc_conn_free(c);
	return 0;
}
