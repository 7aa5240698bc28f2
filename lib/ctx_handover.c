/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctx_handover: the context's side of a hand-over (vus/handover.h): the
 * device's callbacks and configuration text, the listener held while a
 * hand-over runs, the listener the new process takes over, and what
 * "handed over" means for the old context (it stops, and destroy leaves
 * alone what the new process now uses). The protocol is lib/ho_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "common.h"
#include "ctx_internal.h"
#include "ctx_priv.h"
#include "device.h"
#include "engine.h"
#include "ho.h"
#include "log.h"
#include "rpc_internal.h"

struct ho_serve *ctx_ho(vus_ctx *ctx) { return ctx->ho; }
void ctx_ho_set(vus_ctx *ctx, struct ho_serve *s) { ctx->ho = s; }
const char *ctx_ho_config(vus_ctx *ctx) { return ctx->ho_config ? ctx->ho_config : ""; }
int ctx_listen_fd(vus_ctx *ctx) { return ctx->listen_w.fd; }
const char *ctx_sock_path(vus_ctx *ctx) { return ctx->sock_path; }

uint32_t ctx_ho_timeout(vus_ctx *ctx)
{
	return ctx->ho_timeout_ms ? ctx->ho_timeout_ms : HO_DEFAULT_TIMEOUT_MS;
}

const struct vus_handover_ops *ctx_ho_ops(vus_ctx *ctx, void **opaque)
{
	*opaque = ctx->ho_opaque;
	return &ctx->ho_ops;
}

void ctx_listen_hold(vus_ctx *ctx, bool hold)
{
	ctx->listen_held = hold;
	if (ctx->listen_w.loop == NULL)
		return;
	if (hold)
		(void)loop_mod(&ctx->listen_w, 0);
	else if (!engine_busy(ctx->engine))
		(void)loop_mod(&ctx->listen_w, EPOLLIN);
}

void ctx_handed_over(vus_ctx *ctx)
{
	ctx->handed_over = true;
	rpc_let_go(ctx);
	if (ctx->ho_ops.handed_over != NULL)
		ctx->ho_ops.handed_over(ctx->ho_opaque);
	vus_ctx_stop(ctx);
}

int ctx_quiesce_wait(vus_ctx *ctx, uint32_t timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	struct pollfd pf = { .fd = ctx->wake_w.fd, .events = POLLIN };

	if (device_quiesce(&ctx->dev) == 0)
		return 0;
	/* vus_ctx_quiesced() writes the wake eventfd. */
	while (!device_quiesce_done(&ctx->dev)) {
		uint64_t now = now_ms();
		eventfd_t v;

		if (now >= end)
			return -ETIMEDOUT;
		if (poll(&pf, 1, (int)MIN(end - now, 1000u)) > 0)
			(void)eventfd_read(pf.fd, &v);
	}
	return 0;
}

VUS_EXPORT int vus_ctx_set_handover_ops(vus_ctx *ctx,
					const struct vus_handover_ops *ops,
					void *opaque)
{
	struct vus_handover_ops o;

	if (ctx == NULL || ops == NULL || copy_sized(&o, sizeof(o), ops) < 0)
		return -EINVAL;
	if (ctx->realized)
		return -EBUSY;
	ctx->ho_ops = o;
	ctx->ho_opaque = opaque ? opaque : ctx->opaque;
	return 0;
}

VUS_EXPORT int vus_ctx_set_handover_config(vus_ctx *ctx, const char *config)
{
	char *c;

	if (ctx == NULL || config == NULL)
		return -EINVAL;
	if (strlen(config) > HO_CONFIG_MAX)
		return -E2BIG;
	c = strdup(config);
	if (c == NULL)
		return -ENOMEM;
	free(ctx->ho_config);
	ctx->ho_config = c;
	return 0;
}

VUS_EXPORT int vus_ctx_set_handover_timeout(vus_ctx *ctx, uint32_t ms)
{
	if (ctx == NULL || ms == 0 || ms > 600000)
		return -EINVAL;
	ctx->ho_timeout_ms = ms;
	return 0;
}

int ctx_handover_serve(vus_ctx *ctx, int fd)
{
	if (ctx == NULL || !ctx->realized || ctx->handed_over) {
		close_fd(&fd);
		return -EINVAL;
	}
	return ho_serve_start(ctx, fd);
}

VUS_EXPORT int vus_ctx_handover_serve_fd(vus_ctx *ctx, int fd)
{
	int ret = unix_stream_check(fd, false);

	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	return ctx_handover_serve(ctx, fd);
}

VUS_EXPORT int vus_handover_put_fd(vus_handover_fds *h, const char *name,
				   int fd, enum vus_fd_kind kind)
{
	unsigned int i;
	int dup;

	if (h == NULL || fd < 0 || !token_name_ok(name, sizeof(h->name[0]) - 1) ||
	    (unsigned int)kind > VUS_FD_FILE || ho_fd_check(fd, kind) < 0)
		return -EINVAL;
	for (i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0)
			return -EEXIST;
	if (h->n >= HO_DEV_FDS_MAX)
		return -ENOSPC;
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return -errno;
	strcpy(h->name[h->n], name);
	h->fd[h->n] = dup;
	h->kind[h->n++] = (uint8_t)kind;
	return 0;
}

VUS_EXPORT int vus_handover_take_fd(vus_handover_fds *h, const char *name)
{
	if (h == NULL || name == NULL)
		return -EINVAL;
	for (unsigned int i = 0; i < h->n; i++) {
		if (strcmp(h->name[i], name) != 0 || h->fd[i] < 0)
			continue;
		int fd = h->fd[i];

		h->fd[i] = -1;
		return fd;
	}
	return -ENOENT;
}

VUS_EXPORT bool vus_ctx_handed_over(const vus_ctx *ctx)
{
	return ctx != NULL && ctx->handed_over;
}
