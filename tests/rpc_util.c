/* SPDX-License-Identifier: BSD-3-Clause */
/* rpc_util: a served test device and a line client (rpc_util.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"

static int regs_read(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	struct trpc_dev *d = o;

	memcpy(buf, (uint8_t *)d->regs + off, len);
	return 0;
}

static int regs_write(vus_ctx *ctx, void *o, uint64_t off, const void *buf, size_t len)
{
	struct trpc_dev *d = o;

	memcpy((uint8_t *)d->regs + off, buf, len);
	return 0;
}

static int dev_quiesce(vus_ctx *ctx, void *o)
{
	struct trpc_dev *d = o;

	atomic_fetch_add(&d->quiesces, 1);
	return atomic_load(&d->async_quiesce) ? -EBUSY : 0;
}

static void dev_resume(vus_ctx *ctx, void *o)
{
	atomic_fetch_add(&((struct trpc_dev *)o)->resumes, 1);
}

static int dev_reset(vus_ctx *ctx, void *o, enum vus_reset_reason why)
{
	atomic_fetch_add(&((struct trpc_dev *)o)->resets, 1);
	return 0;
}

/* test.echo: every parameter given comes back under its name. */
static int m_echo(vus_ctx *ctx, void *o, vus_rpc_req *req, vus_rpc_out *res)
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
	if (vus_rpc_get_str(req, "s", &s) == 0)
		vus_rpc_out_str(res, "s", s);
	/* Asking for what the method does not declare is refused. */
	if (vus_rpc_get_bool(req, "i", &b) != -EINVAL ||
	    vus_rpc_get_int(req, "nope", &i) != -EINVAL)
		return -EPROTO;
	return 0;
}

static int m_pick(vus_ctx *ctx, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	const char *s;
	int ret = vus_rpc_get_str(req, "color", &s);

	return ret ? ret : vus_rpc_out_str(res, "color", s);
}

static int m_fail(vus_ctx *ctx, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	const char *msg;
	uint64_t err;

	if (vus_rpc_get_uint(req, "errno", &err) < 0)
		return -EPROTO;
	if (vus_rpc_get_str(req, "msg", &msg) == 0)
		vus_rpc_set_error(req, "%s", msg);
	vus_rpc_out_str(res, "ignored", "an error reply carries no result");
	return -(int)err;
}

/* test.misuse: break the result builder's rules in one way. */
static int m_misuse(vus_ctx *ctx, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	const char *how;

	vus_rpc_get_str(req, "how", &how);
	if (strcmp(how, "end") == 0)
		vus_rpc_out_end(res);
	else if (strcmp(how, "key-in-array") == 0) {
		vus_rpc_out_begin_array(res, "a");
		vus_rpc_out_uint(res, "k", 1);
	} else if (strcmp(how, "no-key") == 0)
		vus_rpc_out_uint(res, NULL, 1);
	else if (strcmp(how, "bad-utf8") == 0)
		vus_rpc_out_str(res, "s", "\xff\xfe");
	else if (strcmp(how, "deep") == 0)
		for (int i = 0; i < 17; i++)
			vus_rpc_out_begin_object(res, "d");
	else if (strcmp(how, "unclosed") == 0) {
		/* Not a misuse: left open, closed by the library. */
		vus_rpc_out_begin_object(res, "o");
		vus_rpc_out_begin_array(res, "a");
		vus_rpc_out_uint(res, NULL, 7);
	}
	return 0;
}

static int m_hold(vus_ctx *ctx, void *o, vus_rpc_req *req, vus_rpc_out *res)
{
	struct trpc_dev *d = o;

	atomic_fetch_add(&d->held_runs, 1);
	return vus_rpc_out_bool(res, "quiesced", true);
}

#define P(...) { .struct_size = sizeof(struct vus_rpc_param), __VA_ARGS__ }

static int add_methods(struct trpc_dev *d)
{
	static const char *const colors[] = { "red", "green", NULL };
	static const char *const hows[] = { "end", "key-in-array", "no-key",
		"bad-utf8", "deep", "unclosed", NULL };
	static const struct vus_rpc_param echo[] = {
		P(.name = "b", .type = VUS_RPC_BOOL),
		P(.name = "i", .type = VUS_RPC_INT, .min = -5, .max = 5),
		P(.name = "u", .type = VUS_RPC_UINT, .umax = 1000),
		P(.name = "s", .type = VUS_RPC_STRING, .max_len = 8),
	};
	static const struct vus_rpc_param pick[] = {
		P(.name = "color", .type = VUS_RPC_STRING, .required = true,
		  .choices = colors),
	};
	static const struct vus_rpc_param fail[] = {
		P(.name = "errno", .type = VUS_RPC_UINT, .umax = 200,
		  .required = true),
		P(.name = "msg", .type = VUS_RPC_STRING),
	};
	static const struct vus_rpc_param misuse[] = {
		P(.name = "how", .type = VUS_RPC_STRING, .required = true,
		  .choices = hows),
	};
	const struct vus_rpc_method m[] = {
		{ sizeof(m[0]), "test.echo", "echo", echo, 4, m_echo, 0 },
		{ sizeof(m[0]), "test.pick", "choose", pick, 1, m_pick, 0 },
		{ sizeof(m[0]), "test.fail", "fail", fail, 2, m_fail, 0 },
		{ sizeof(m[0]), "test.misuse", "misuse", misuse, 1, m_misuse, 0 },
		{ sizeof(m[0]), "test.hold", "quiesced", NULL, 0, m_hold,
		  VUS_RPC_QUIESCE },
	};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(m) / sizeof(m[0]); i++)
		ret = vus_rpc_register(d->ctx, &m[i], d);
	return ret;
}

static int setup(struct trpc_dev *d)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = regs_read, .write = regs_write };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS, .name = "trpc" };
	struct vus_device_ops dops = { .struct_size = sizeof(dops),
		.quiesce = dev_quiesce, .resume = dev_resume, .reset = dev_reset };
	struct vus_region_desc r = { .struct_size = sizeof(r),
		.size = TRPC_REGS_SIZE, .ops = &ops, .opaque = d,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE };
	int ret = vus_ctx_create(&cfg, &d->ctx);

	if (ret < 0)
		return ret;
	vus_ctx_set_log(d->ctx, VUS_LOG_ERR, NULL, NULL);
	ret = vus_ctx_set_device_ops(d->ctx, &dops, d);
	ret = ret ? ret : vus_region_setup(d->ctx, 0, &r);
	ret = ret ? ret : vus_irq_setup(d->ctx, 0, 1, 0);
	ret = ret ? ret : add_methods(d);
	ret = ret ? ret : vus_ctx_realize(d->ctx);
	snprintf(d->rpc_path, sizeof(d->rpc_path), "%s/vus-trpc-%d-%p.rpc",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
		 (void *)d);
	return ret ? ret : vus_ctx_rpc_listen(d->ctx, d->rpc_path);
}

static void *serve(void *arg)
{
	vus_ctx_run(((struct trpc_dev *)arg)->ctx);
	return NULL;
}

int trpc_dev_start(struct trpc_dev *d)
{
	int sv[2], ret;

	memset(d, 0, sizeof(*d));
	d->vfu_fd = -1;
	ret = setup(d);
	if (ret == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		ret = -errno;
	if (ret == 0) {
		d->vfu_fd = sv[1];
		ret = vus_ctx_attach_fd(d->ctx, sv[0]);
	}
	if (ret == 0)
		ret = -pthread_create(&d->thread, NULL, serve, d);
	d->running = ret == 0;
	if (ret < 0)
		trpc_dev_stop(d);
	return ret;
}

void trpc_dev_stop(struct trpc_dev *d)
{
	if (d->running) {
		vus_ctx_stop(d->ctx);
		pthread_join(d->thread, NULL);
		d->running = false;
	}
	vus_ctx_destroy(d->ctx);
	d->ctx = NULL;
	if (d->vfu_fd >= 0)
		close(d->vfu_fd);
	d->vfu_fd = -1;
}

void trpc_dev_confirm(struct trpc_dev *d)
{
	vus_ctx_quiesced(d->ctx);
}

int trpc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int trpc_send(int fd, const char *line)
{
	size_t len = strlen(line), off = 0;
	char nl = '\n';

	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return send(fd, &nl, 1, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

char *trpc_recv_line(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf != NULL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, vtest_ms(60000)) <= 0)
			break;
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		/* A byte at a time: what follows the line stays unread. */
		n = recv(fd, buf + len, 1, 0);
		if (n <= 0)
			break;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return buf;
		}
		len++;
	}
	free(buf);
	return NULL;
}

struct json_object *trpc_call(int fd, const char *line)
{
	struct json_object *o;
	char *reply;

	if (trpc_send(fd, line) < 0)
		return NULL;
	reply = trpc_recv_line(fd);
	if (reply == NULL)
		return NULL;
	o = json_tokener_parse(reply);
	free(reply);
	return o;
}

bool trpc_has(struct json_object *arr, const char *s)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)),
			   s) == 0)
			return true;
	return false;
}

struct json_object *trpc_get(struct json_object *o, const char *path)
{
	char key[64];

	while (o != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

int64_t trpc_int(struct json_object *o, const char *path)
{
	struct json_object *v = trpc_get(o, path);

	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
						     : INT64_MIN;
}

const char *trpc_str(struct json_object *o, const char *path)
{
	struct json_object *v = trpc_get(o, path);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v)
							: "";
}

#define HAMMER_STATS "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query-stats\"}"

struct hammer_reader {
	char buf[1 << 16];
	size_t len;
};

/* Take what arrived on @fd; each whole line must be a query-stats result. */
static int take_replies(int fd, struct hammer_reader *rd, struct trpc_hammer *h)
{
	ssize_t n = recv(fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len, 0);
	char *nl;
	int lines = 0;

	if (n <= 0) {
		h->errors++;
		return 0;
	}
	rd->len += (size_t)n;
	while ((nl = memchr(rd->buf, '\n', rd->len)) != NULL) {
		struct json_object *r;

		*nl = '\0';
		r = json_tokener_parse(rd->buf);
		if (trpc_get(r, "result.vfio-user") == NULL)
			h->errors++;
		json_object_put(r);
		rd->len -= (size_t)(nl + 1 - rd->buf);
		memmove(rd->buf, nl + 1, rd->len);
		lines++;
	}
	return lines;
}

static void hammer_round(struct trpc_hammer *h, struct pollfd *p,
			 struct hammer_reader *rd, int *count)
{
	if (poll(p, (nfds_t)h->n, 1000) < 0) {
		h->errors++;
		return;
	}
	for (int i = 0; i < h->n; i++) {
		int got;

		if (!(p[i].revents & POLLIN))
			continue;
		got = take_replies(p[i].fd, &rd[i], h);
		h->replies += got;
		count[i] += got;
		if (got > 0 && trpc_send(p[i].fd, HAMMER_STATS) < 0)
			h->errors++;
	}
}

static void *hammer_thread(void *arg)
{
	struct trpc_hammer *h = arg;
	struct hammer_reader *rd = calloc((size_t)h->n, sizeof(*rd));
	struct pollfd p[TRPC_HAMMER_MAX];
	int count[TRPC_HAMMER_MAX] = { 0 };

	for (int i = 0; i < h->n; i++) {
		p[i] = (struct pollfd){ .fd = trpc_connect(h->path),
					.events = POLLIN };
		if (p[i].fd < 0 || trpc_send(p[i].fd, HAMMER_STATS) < 0)
			h->errors++;
	}
	while (rd != NULL && !atomic_load(&h->stop) && h->errors == 0)
		hammer_round(h, p, rd, count);
	h->errors += rd == NULL;
	h->min_per_client = count[0];
	for (int i = 0; i < h->n; i++) {
		h->min_per_client = count[i] < h->min_per_client ? count[i]
								 : h->min_per_client;
		if (p[i].fd >= 0)
			close(p[i].fd);
	}
	free(rd);
	return NULL;
}

int trpc_hammer_start(struct trpc_hammer *h, const char *path, int n)
{
	if (n < 1 || n > TRPC_HAMMER_MAX)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->path = path;
	h->n = n;
	return -pthread_create(&h->thread, NULL, hammer_thread, h);
}

void trpc_hammer_stop(struct trpc_hammer *h)
{
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
}
