/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rpc: the management plane's JSON-RPC 2.0 over a real socket, with
 * a device served on a thread: the standard methods, ids, notifications,
 * batches, every standard error code, parameter schemas, handler errors
 * and result-builder misuse, method registration rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"
#include "vus/client.h"

static struct trpc_dev dev;
static int mfd = -1;

static int up(void **state)
{
	vtest_setup(state);
	assert_int_equal(trpc_dev_start(&dev), 0);
	mfd = trpc_connect(dev.rpc_path);
	assert_true(mfd >= 0);
	return 0;
}

static int down(void **state)
{
	close(mfd);
	trpc_dev_stop(&dev);
	return vtest_teardown(state); /* no fd left open */
}

/* One call; the reply is checked to be a JSON-RPC 2.0 reply. */
static struct json_object *call(const char *line)
{
	struct json_object *r = trpc_call(mfd, line);
	size_t n = json_object_is_type(r, json_type_array)
		? json_object_array_length(r) : 1;

	assert_non_null(r);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_is_type(r, json_type_array)
			? json_object_array_get_idx(r, i) : r;

		assert_string_equal(trpc_str(e, "jsonrpc"), "2.0");
		assert_true(json_object_object_get_ex(e, "id", NULL));
		assert_true((trpc_get(e, "result") != NULL) !=
			    (trpc_get(e, "error") != NULL));
	}
	return r;
}

/* The reply's id is JSON null (json-c reads null as NULL: look twice). */
static bool id_is_null(struct json_object *r)
{
	struct json_object *id;

	return json_object_object_get_ex(r, "id", &id) && id == NULL;
}

static void expect_error(const char *line, int code)
{
	struct json_object *r = call(line);

	if (trpc_int(r, "error.code") != code)
		fail_msg("%s -> %s", line, json_object_to_json_string(r));
	/* Every error carries a human message. */
	assert_true(strlen(trpc_str(r, "error.data.message")) > 0);
	json_object_put(r);
}

#define REQ(method, rest) \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\"" rest "}"

static void status_shows_the_device_and_its_client(void **state)
{
	struct json_object *r = call(REQ("query-status", ""));
	vus_client *c;

	assert_string_equal(trpc_str(r, "result.device.bus"), "sysbus");
	assert_string_equal(trpc_str(r, "result.device.name"), "trpc");
	/* The socketpair is attached but has not negotiated yet. */
	assert_string_equal(trpc_str(r, "result.client.state"), "negotiating");
	assert_null(trpc_get(r, "result.client.caps"));
	assert_string_equal(trpc_str(r, "result.migration.state"), "running");
	assert_false(json_object_get_boolean(trpc_get(r, "result.migration.supported")));
	assert_int_equal(trpc_int(r, "result.management.clients"), 1);
	assert_true(trpc_int(r, "result.uptime-s") >= 0);
	json_object_put(r);

	assert_int_equal(vus_client_attach_fd(dev.vfu_fd, NULL, &c), 0);
	dev.vfu_fd = -1;
	r = call(REQ("query-status", ""));
	assert_string_equal(trpc_str(r, "result.client.state"), "ready");
	assert_true(json_object_get_boolean(trpc_get(r, "result.client.connected")));
	assert_true(trpc_int(r, "result.client.caps.max-data-xfer-size") > 0);
	json_object_put(r);
	vus_client_close(c);
}

static void stats_count_what_the_client_did(void **state)
{
	struct json_object *r;
	uint8_t b[4];
	vus_client *c;

	assert_int_equal(vus_client_attach_fd(dev.vfu_fd, NULL, &c), 0);
	dev.vfu_fd = -1;
	for (int i = 0; i < 10; i++)
		assert_int_equal(vus_client_region_read(c, 0, 4 * i, b, 4), 0);
	/* Out of the region: one EINVAL error reply. */
	assert_int_equal(vus_client_region_read(c, 0, TRPC_REGS_SIZE, b, 4),
			 -EINVAL);
	assert_int_equal(vus_irq_trigger(dev.ctx, 0, 0), 0);
	r = call(REQ("query-stats", ""));
	assert_int_equal(trpc_int(r, "result.vfio-user.commands.REGION_READ"), 11);
	assert_int_equal(trpc_int(r, "result.vfio-user.commands.VERSION"), 1);
	assert_int_equal(trpc_int(r, "result.vfio-user.error-replies.EINVAL"), 1);
	assert_int_equal(trpc_int(r, "result.vfio-user.clients"), 1);
	assert_true(trpc_int(r, "result.vfio-user.bytes-in") >= 11 * 32);
	assert_true(trpc_int(r, "result.vfio-user.bytes-out") >= 10 * 36);
	assert_int_equal(trpc_int(r, "result.interrupts.0.index"), 0);
	assert_int_equal(trpc_int(r, "result.interrupts.0.raised"), 1);
	/* No eventfd bound: raised, not signaled. */
	assert_int_equal(trpc_int(r, "result.interrupts.0.signaled"), 0);
	assert_int_equal(trpc_int(r, "result.dma.maps-live"), 0);
	assert_int_equal(trpc_int(r, "result.management.requests"), 1);
	json_object_put(r);
	vus_client_close(c);
}

static void ids_come_back_exactly(void **state)
{
	static const char *const ids[] = {
		"\"abc\"", "0", "-9223372036854775808", "18446744073709551615",
		"1e400", "1.5", "null", "\"\\u00e9\\n\"",
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char line[256], *reply, want[64];

		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%s,"
			 "\"method\":\"query-log-level\"}", ids[i]);
		assert_int_equal(trpc_send(mfd, line), 0);
		reply = trpc_recv_line(mfd);
		assert_non_null(reply);
		/* The id's text itself, not a value json-c rounded. */
		snprintf(want, sizeof(want), "\"id\":%s,", ids[i]);
		if (strcmp(ids[i], "\"\\u00e9\\n\"") == 0)
			snprintf(want, sizeof(want), "\"id\":\"\xc3\xa9\\n\"");
		if (strstr(reply, want) == NULL)
			fail_msg("id %s came back in %s", ids[i], reply);
		free(reply);
	}
}

static void notifications_get_no_reply_even_failing(void **state)
{
	struct json_object *r;

	assert_int_equal(trpc_send(mfd, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}"), 0);
	assert_int_equal(trpc_send(mfd, "{\"jsonrpc\":\"2.0\",\"method\":"
				   "\"test.fail\",\"params\":{\"errno\":5}}"), 0);
	assert_int_equal(trpc_send(mfd, "{\"jsonrpc\":\"2.0\",\"method\":"
				   "\"set-log-level\",\"params\":{\"level\":\"info\"}}"), 0);
	/* The next line on the wire answers this call, and the notification
	 * before it did run. */
	r = call(REQ("query-log-level", ""));
	assert_string_equal(trpc_str(r, "result.level"), "info");
	json_object_put(r);
}

static void batch_replies_in_order_without_notifications(void **state)
{
	struct json_object *r = call(
		"[" REQ("test.echo", ",\"params\":{\"u\":7}") ","
		"{\"jsonrpc\":\"2.0\",\"method\":\"query-status\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"nope\"},"
		"42]");

	assert_true(json_object_is_type(r, json_type_array));
	assert_int_equal(json_object_array_length(r), 3);
	assert_int_equal(trpc_int(r, "0.result.u"), 7);
	assert_string_equal(trpc_str(r, "1.id"), "b");
	assert_int_equal(trpc_int(r, "1.error.code"), -32601);
	assert_int_equal(trpc_int(r, "2.error.code"), -32600);
	assert_true(id_is_null(json_object_array_get_idx(r, 2)));
	json_object_put(r);
}

static void batch_bounds(void **state)
{
	char line[64 * 64 + 16];
	size_t n = 0;
	struct json_object *r;

	expect_error("[]", -32600);
	/* 64 calls are answered, 65 are refused as a whole. */
	n += (size_t)sprintf(line, "[");
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(line + n, "%s{\"jsonrpc\":\"2.0\",\"id\":%d,"
				     "\"method\":\"x\"}", i ? "," : "", i);
	strcpy(line + n, "]");
	r = trpc_call(mfd, line);
	assert_int_equal(json_object_array_length(r), 64);
	json_object_put(r);
	strcpy(line + n, ",1]");
	expect_error(line, -32600);
	/* Notifications only: nothing comes back at all. */
	assert_int_equal(trpc_send(mfd, "[{\"jsonrpc\":\"2.0\",\"method\":\"x\"},"
				   "{\"jsonrpc\":\"2.0\",\"method\":\"query-stats\"}]"), 0);
	r = call(REQ("query-log-level", ""));
	assert_int_equal(trpc_int(r, "id"), 1);
	json_object_put(r);
}

static void bad_json_is_a_parse_error_and_the_line_after_is_served(void **state)
{
	static const char *const bad[] = {
		"{", "{\"jsonrpc\":\"2.0\",}", "{'jsonrpc':'2.0'}", "[NaN]",
		"[Infinity]", "[-Infinity]", "[01]", "[1.]", "[.5]", "[+1]",
		"[1e]", "{\"a\":1} {\"b\":2}", "[\"\xff\"]", "tru", "[true1]",
		"[123456789012345678901234567890]", "[18446744073709551616]",
		"[-9223372036854775809]", "\"unterminated",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *r = call(bad[i]);

		if (trpc_int(r, "error.code") != -32700)
			fail_msg("%s -> %s", bad[i], json_object_to_json_string(r));
		assert_true(id_is_null(r));
		json_object_put(r);
	}
	expect_error(REQ("nope", ""), -32601);
}

static void nesting_limit_at_the_boundary(void **state)
{
	char line[200];
	struct json_object *r;

	/* 32 levels parse (and are no request); 33 do not. */
	memset(line, '[', 32);
	memset(line + 32, ']', 32);
	line[64] = '\0';
	r = call(line);
	assert_int_equal(trpc_int(r, "0.error.code"), -32600);
	json_object_put(r);
	memset(line, '[', 33);
	memset(line + 33, ']', 33);
	line[66] = '\0';
	expect_error(line, -32700);
}

static void invalid_requests(void **state)
{
	static const char *const bad[] = {
		"null", "42", "\"s\"", "[1]",
		"{\"id\":1,\"method\":\"query-status\"}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"query-status\"}",
		"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"query-status\"}",
		"{\"jsonrpc\":\"2.0\\u0000\",\"id\":1,\"method\":\"query-status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query-status\",\"params\":\"x\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query-status\",\"params\":null}",
		"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"query-status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"query-status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"query-status\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query-status\",\"extra\":1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *r = call(bad[i]);
		struct json_object *e = json_object_is_type(r, json_type_array)
			? json_object_array_get_idx(r, 0) : r;

		if (trpc_int(e, "error.code") != -32600)
			fail_msg("%s -> %s", bad[i], json_object_to_json_string(r));
		json_object_put(r);
	}
}

static void unknown_methods(void **state)
{
	expect_error(REQ("nope", ""), -32601);
	expect_error(REQ("query-status\\u0000x", ""), -32601);
	expect_error(REQ("QUERY-STATUS", ""), -32601);
	/* Not migratable: its save-state is not there. */
	expect_error(REQ("save-state", ",\"params\":{\"path\":\"/tmp/x\"}"), -32601);
}

static void params_are_checked_against_the_schema(void **state)
{
	static const char *const bad[] = {
		",\"params\":{\"b\":1}", ",\"params\":{\"b\":\"true\"}",
		",\"params\":{\"i\":6}", ",\"params\":{\"i\":-6}",
		",\"params\":{\"i\":1.0}", ",\"params\":{\"i\":\"1\"}",
		",\"params\":{\"u\":-1}", ",\"params\":{\"u\":1001}",
		",\"params\":{\"u\":18446744073709551615}",
		",\"params\":{\"u\":1e3}",
		",\"params\":{\"s\":\"123456789\"}", ",\"params\":{\"s\":\"a\\u0000b\"}",
		",\"params\":{\"s\":null}", ",\"params\":{\"x\":1}",
		",\"params\":[1]",
	};
	struct json_object *r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[256];

		snprintf(line, sizeof(line), REQ("test.echo", "%s"), bad[i]);
		expect_error(line, -32602);
	}
	/* The edges of every range pass. */
	r = call(REQ("test.echo", ",\"params\":{\"b\":false,\"i\":-5,\"u\":1000,"
		     "\"s\":\"12345678\"}"));
	assert_false(json_object_get_boolean(trpc_get(r, "result.b")));
	assert_int_equal(trpc_int(r, "result.i"), -5);
	assert_int_equal(trpc_int(r, "result.u"), 1000);
	assert_string_equal(trpc_str(r, "result.s"), "12345678");
	json_object_put(r);
	r = call(REQ("test.echo", ",\"params\":{\"i\":5,\"u\":0}"));
	assert_int_equal(trpc_int(r, "result.i"), 5);
	json_object_put(r);
	expect_error(REQ("test.pick", ""), -32602);
	expect_error(REQ("test.pick", ",\"params\":{\"color\":\"blue\"}"), -32602);
	r = call(REQ("test.pick", ",\"params\":{\"color\":\"green\"}"));
	assert_string_equal(trpc_str(r, "result.color"), "green");
	json_object_put(r);
	expect_error(REQ("set-log-level", ",\"params\":{\"level\":\"loud\"}"), -32602);
}

static void handler_errors_carry_errno_and_message(void **state)
{
	struct json_object *r;

	r = call(REQ("test.fail", ",\"params\":{\"errno\":16,\"msg\":\"busy now\"}"));
	assert_int_equal(trpc_int(r, "error.code"), -32000);
	assert_string_equal(trpc_str(r, "error.data.errno"), "EBUSY");
	assert_string_equal(trpc_str(r, "error.data.message"), "busy now");
	assert_null(trpc_get(r, "result"));
	json_object_put(r);
	/* EINVAL is the caller's fault: invalid params. */
	r = call(REQ("test.fail", ",\"params\":{\"errno\":22}"));
	assert_int_equal(trpc_int(r, "error.code"), -32602);
	assert_string_equal(trpc_str(r, "error.data.message"), strerror(EINVAL));
	json_object_put(r);
}

static void result_builder_misuse_is_an_internal_error(void **state)
{
	static const char *const hows[] = { "end", "key-in-array", "no-key",
					    "bad-utf8", "deep" };
	struct json_object *r;

	for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), REQ("test.misuse",
			 ",\"params\":{\"how\":\"%s\"}"), hows[i]);
		expect_error(line, -32603);
	}
	r = call(REQ("test.misuse", ",\"params\":{\"how\":\"unclosed\"}"));
	assert_int_equal(trpc_int(r, "result.o.a.0"), 7);
	json_object_put(r);
}

static void discover_lists_every_method_with_its_params(void **state)
{
	struct json_object *r = call(REQ("rpc.discover", ""));
	struct json_object *ms = trpc_get(r, "result.methods");
	bool echo = false, status = false;

	assert_non_null(ms);
	for (size_t i = 0; i < json_object_array_length(ms); i++) {
		struct json_object *m = json_object_array_get_idx(ms, i);

		assert_true(strlen(trpc_str(m, "summary")) > 0);
		if (strcmp(trpc_str(m, "name"), "query-status") == 0)
			status = true;
		if (strcmp(trpc_str(m, "name"), "test.echo") != 0)
			continue;
		echo = true;
		assert_string_equal(trpc_str(m, "params.1.name"), "i");
		assert_string_equal(trpc_str(m, "params.1.schema.type"), "integer");
		assert_int_equal(trpc_int(m, "params.1.schema.minimum"), -5);
		assert_int_equal(trpc_int(m, "params.2.schema.maximum"), 1000);
		/* Only what this device has: it does not migrate. */
		assert_string_not_equal(trpc_str(m, "name"), "save-state");
	}
	assert_true(echo && status);
	json_object_put(r);
}

static int noop(vus_ctx *ctx, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	return 0;
}

static void register_checks_names_and_limits(void **state)
{
	static const char *const bad[] = { "nodot", "rpc.x", "vus.x", "Gpio.x",
		"a.b.c", "gpio.", ".x", "gpio.9x", "gpio.x y", "gpio.x_y",
		"x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	struct vus_rpc_param p = { .struct_size = sizeof(p), .name = "x",
				   .type = VUS_RPC_BOOL };
	struct vus_rpc_method m = { .struct_size = sizeof(m), .name = "a.b",
				    .summary = "s", .handler = noop };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	char name[32];
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m.name = bad[i];
		if (vus_rpc_register(ctx, &m, NULL) != -EINVAL)
			fail_msg("%s accepted", bad[i]);
	}
	m.name = "query-status";
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	m.name = "a.b";
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), 0);
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EEXIST);
	m.struct_size = sizeof(m) + 8;
	m.name = "a.c";
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	m.struct_size = sizeof(m);
	m.name = "a.p";
	m.handler = NULL;
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	m.handler = noop;
	m.flags = 2;
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	m.flags = 0;
	m.params = &p;
	m.n_params = 17;
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	p.name = "X";
	m.n_params = 1;
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	p.name = "x";
	p.type = 9;
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -EINVAL);
	m.params = NULL;
	m.n_params = 0;
	/* a.b is there; 63 more fill the 64, the next is refused. */
	for (int i = 0; i < 63; i++) {
		snprintf(name, sizeof(name), "fill.m%d", i);
		m.name = name;
		assert_int_equal(vus_rpc_register(ctx, &m, NULL), 0);
	}
	m.name = "fill.last";
	assert_int_equal(vus_rpc_register(ctx, &m, NULL), -ENOSPC);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, up, down)
	const struct CMUnitTest tests[] = {
		T(status_shows_the_device_and_its_client),
		T(stats_count_what_the_client_did),
		T(ids_come_back_exactly),
		T(notifications_get_no_reply_even_failing),
		T(batch_replies_in_order_without_notifications),
		T(batch_bounds),
		T(bad_json_is_a_parse_error_and_the_line_after_is_served),
		T(nesting_limit_at_the_boundary),
		T(invalid_requests),
		T(unknown_methods),
		T(params_are_checked_against_the_schema),
		T(handler_errors_carry_errno_and_message),
		T(result_builder_misuse_is_an_internal_error),
		T(discover_lists_every_method_with_its_params),
		VTEST(register_checks_names_and_limits),
	};

	return vtest_run("rpc", tests, argc, argv);
}
