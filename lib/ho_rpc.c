/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_rpc: how a new process finds the hand-over: it asks the running
 * server's management socket (JSON-RPC 2.0, one request per line) with
 * the library method "vus.handover". The server answers, then the same
 * connection carries the binary hand-over channel (ho.h): the management
 * plane reads a line at a time and never past its newline, so the first
 * byte after the request is the channel's. An error answer (another
 * hand-over running, ...) ends it there. The old side's method is one of
 * the management plane's standard ones (lib/rpc_methods.c lists it).
 */
#include <errno.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "common.h"
#include "ctx_internal.h"
#include "ho.h"
#include "log.h"
#include "rpc_internal.h"

#define HO_RPC_REQUEST \
	"{\"jsonrpc\":\"2.0\",\"method\":\"vus.handover\",\"params\":{\"protocol\":1},\"id\":1}\n"
#define HO_RPC_LINE_MAX 4096u

/* One line, a byte at a time: nothing after the newline is taken. */
static int read_line(int fd, char *buf, size_t cap, uint64_t deadline)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct timeval tv;
		uint64_t now = now_ms();
		ssize_t r;

		if (now >= deadline)
			return -ETIMEDOUT;
		tv = (struct timeval){ .tv_sec = (time_t)((deadline - now) / 1000),
				       .tv_usec = (long)((deadline - now) % 1000 * 1000) };
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (r == 0)
			return -ECONNRESET;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -EPROTO;
}

/* The errno names the management plane reports for a refusal. */
static int errno_of(const char *name)
{
	static const struct {
		const char *name;
		int err;
	} known[] = {
		{ "EBUSY", EBUSY }, { "EOPNOTSUPP", EOPNOTSUPP },
		{ "EINVAL", EINVAL }, { "ENOMEM", ENOMEM },
		{ "EPROTONOSUPPORT", EPROTONOSUPPORT },
	};

	for (size_t i = 0; name != NULL && i < ARRAY_SIZE(known); i++)
		if (strcmp(name, known[i].name) == 0)
			return known[i].err;
	return EPROTO;
}

/* The answer: a result (go on), or an error with its errno and message. */
static int answer(const char *line, char *why, size_t len)
{
	struct json_object *o = NULL, *err, *v;
	int ret = caps_json_parse(line, strlen(line), &o);

	if (ret < 0 || !json_object_is_type(o, json_type_object)) {
		snprintf(why, len, "not a JSON-RPC answer");
		ret = -EPROTO;
	} else if (json_object_object_get_ex(o, "result", &v)) {
		ret = 0;
	} else if (json_object_object_get_ex(o, "error", &err)) {
		const char *msg = "refused";
		int e = EPROTO;

		if (json_object_object_get_ex(err, "data", &v)) {
			struct json_object *x;

			if (json_object_object_get_ex(v, "message", &x))
				msg = json_object_get_string(x);
			if (json_object_object_get_ex(v, "errno", &x))
				e = errno_of(json_object_get_string(x));
		} else if (json_object_object_get_ex(err, "message", &v)) {
			msg = json_object_get_string(v); /* method not found... */
		}
		snprintf(why, len, "%s", msg ? msg : "refused");
		ret = e > 0 && e < 4096 ? -e : -EPROTO;
	} else {
		snprintf(why, len, "not a JSON-RPC answer");
		ret = -EPROTO;
	}
	json_object_put(o);
	return ret;
}

static void say(const struct vus_takeover_config *c, const char *fmt, ...)
	PRINTF_LIKE(2, 3);

static void say(const struct vus_takeover_config *c, const char *fmt, ...)
{
	char msg[HO_WHY_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c != NULL && c->log != NULL)
		c->log(c->log_opaque, VUS_LOG_ERR, msg);
	else
		fprintf(stderr, "take-over: %s\n", msg);
}

VUS_EXPORT int vus_takeover_begin(const char *rpc_path,
				  const struct vus_takeover_config *cfg,
				  vus_takeover **out)
{
	uint32_t timeout = cfg && cfg->timeout_ms ? cfg->timeout_ms
						  : HO_DEFAULT_TIMEOUT_MS;
	char line[HO_RPC_LINE_MAX], why[HO_WHY_MAX] = "";
	int fd = -1, ret;

	if (rpc_path == NULL || out == NULL)
		return -EINVAL;
	ret = unix_connect(rpc_path, &fd);
	if (ret < 0) {
		say(cfg, "%s: %s", rpc_path, strerror(-ret));
		return ret;
	}
	if (sendmsg_fds(fd, &(struct iovec){ .iov_base = (void *)HO_RPC_REQUEST,
		.iov_len = strlen(HO_RPC_REQUEST) }, 1, NULL, 0, 0) !=
	    (long)strlen(HO_RPC_REQUEST))
		ret = -EPIPE;
	ret = ret ? ret : read_line(fd, line, sizeof(line), now_ms() + timeout);
	if (ret == 0)
		ret = answer(line, why, sizeof(why));
	if (ret < 0) {
		say(cfg, "%s: %s", rpc_path, why[0] ? why : strerror(-ret));
		close_fd(&fd);
		return ret;
	}
	return vus_takeover_begin_fd(fd, cfg, out);
}

/* Old side: "vus.handover". */

const struct vus_rpc_param ho_rpc_params[1] = { {
	.struct_size = sizeof(struct vus_rpc_param), .name = "protocol",
	.type = VUS_RPC_UINT, .required = true, .umax = UINT32_MAX,
	.summary = "the hand-over protocol the calling process speaks",
} };

/* The reply is out: the connection now carries the hand-over. */
static void ho_rpc_detached(void *opaque, int fd)
{
	vus_ctx *ctx = opaque;
	int ret;

	if (fd < 0)
		return; /* the new process went away first */
	ret = ctx_handover_serve(ctx, fd);
	if (ret < 0)
		log_msg(ctx_log(ctx), VUS_LOG_ERR, "hand-over refused: %s",
			strerror(-ret));
}

int ho_rpc_handover(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		    vus_rpc_out *res)
{
	uint64_t proto = 0;
	int ret;

	(void)opaque;
	(void)vus_rpc_get_uint(req, "protocol", &proto);
	if (proto != HO_PROTOCOL) {
		vus_rpc_set_error(req, "hand-over protocol %llu asked, this "
				  "server speaks %u", (unsigned long long)proto,
				  HO_PROTOCOL);
		return -EPROTONOSUPPORT;
	}
	if (ctx_ho(ctx) != NULL || vus_ctx_handed_over(ctx)) {
		vus_rpc_set_error(req, "another hand-over is running");
		return -EBUSY;
	}
	ret = rpc_detach_conn(req, ho_rpc_detached, ctx);
	if (ret < 0) {
		vus_rpc_set_error(req, "a hand-over is a call of its own (not "
				  "a notification, not in a batch)");
		return ret;
	}
	(void)vus_rpc_out_uint(res, "protocol", HO_PROTOCOL);
	return 0;
}
