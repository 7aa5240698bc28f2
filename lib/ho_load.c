/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_load: the new process installs a checked hand-over stream (record
 * formats in ho_save.c). The order is the one the device needs: without
 * a client it is told so first (client_lost), then guest memory is
 * granted again (DMA mappings, with the device's dma_map callbacks) and
 * region memory replaced by the old process's (mapped where ours was, so
 * the device's pointers stay valid), then the device takes its own fds,
 * then its sections are checked and loaded, and the interrupt state with
 * the client's eventfds comes last, so that nothing the device does while
 * loading can signal the client. Nothing here writes to the client: the
 * listener and the connection wait in @pend until the old process has
 * let go (ho_state_activate).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "engine.h"
#include "ho.h"
#include "irq_table.h"
#include "log.h"
#include "mig.h"
#include "region_table.h"
#include "rpc_internal.h"

/* A fd reference: *fd -1 for HO_NO_FD, else the fd taken from the table. */
static int get_fd(struct ho_in *in, vus_mig_in *r, uint8_t kind, int *fd)
{
	uint32_t idx;

	*fd = -1;
	if (vus_mig_get_u32(r, &idx) < 0)
		return -EBADMSG;
	return idx == HO_NO_FD ? 0 : ho_in_take_fd(in, idx, kind, fd);
}

static int fail(struct ho_in *in, int err, const char *what)
{
	if (in->why[0] == '\0')
		snprintf(in->why, sizeof(in->why), "%s: %s", what,
			 err == -EBADMSG ? "malformed record" : strerror(-err));
	return err;
}

/* A listener and the path it made (u16 length, no NUL; may be empty). */
static int load_listener(struct ho_in *in, vus_mig_in *r, int *fd,
			 char **path)
{
	uint16_t len;
	int ret = get_fd(in, r, HO_FD_LISTEN, fd);

	if (ret == 0 && (vus_mig_get_u16(r, &len) < 0 ||
			 vus_mig_remaining(r) < len))
		ret = -EBADMSG;
	if (ret == 0 && len > 0) {
		*path = calloc(1, (size_t)len + 1);
		ret = *path ? vus_mig_get(r, *path, len) : -ENOMEM;
		if (ret == 0 && strlen(*path) != len)
			ret = -EBADMSG;
	}
	return ret;
}

static int load_ctx(struct ho_in *in, struct ho_pending *pend)
{
	vus_mig_in r;
	int ret = ho_in_record(in, "ctx", &r);

	ret = ret ? ret : load_listener(in, &r, &pend->listen_fd,
					&pend->sock_path);
	/* The management listener (an old process without one: nothing). */
	if (ret == 0 && vus_mig_remaining(&r) > 0)
		ret = load_listener(in, &r, &pend->rpc_fd, &pend->rpc_path);
	if (ret == 0 && vus_mig_remaining(&r) != 0)
		ret = -EBADMSG;
	return ret < 0 ? fail(in, ret, "the listening sockets") : 0;
}

static int load_caps(vus_mig_in *r, struct caps *c)
{
	uint8_t wm = 0, twin = 0, mig = 0;
	int ret = vus_mig_get_u64(r, &c->max_msg_fds);

	ret = ret ? ret : vus_mig_get_u64(r, &c->max_data_xfer_size);
	ret = ret ? ret : vus_mig_get_u64(r, &c->pgsizes);
	ret = ret ? ret : vus_mig_get_u64(r, &c->max_dma_maps);
	ret = ret ? ret : vus_mig_get_u8(r, &wm);
	ret = ret ? ret : vus_mig_get_u8(r, &twin);
	ret = ret ? ret : vus_mig_get_u8(r, &mig);
	ret = ret ? ret : vus_mig_get_u64(r, &c->mig_pgsize);
	ret = ret ? ret : vus_mig_get_u64(r, &c->mig_max_bitmap_size);
	c->write_multiple = wm != 0;
	c->twin_socket = twin != 0;
	c->has_migration = mig != 0;
	return ret;
}

/* @n fd references into @fds (room for @max); all or none taken. */
static int load_fd_list(struct ho_in *in, vus_mig_in *r, int *fds,
			unsigned int max, unsigned int *n)
{
	uint32_t k = 0, i;
	int ret = vus_mig_get_u32(r, &k);

	if (ret == 0 && k > max)
		ret = -EBADMSG;
	for (i = 0; ret == 0 && i < k; i++) {
		ret = get_fd(in, r, VUS_FD_ANY, &fds[i]);
		if (ret == 0 && fds[i] < 0)
			ret = -EBADMSG;
	}
	if (ret < 0)
		close_fds(fds, i);
	*n = ret == 0 ? k : 0;
	return ret;
}

/* fds held for a message read ahead (save_rx_fds()); into @fds. */
static int load_rx_fds(struct ho_in *in, vus_mig_in *r, int *fds,
		       struct transport_saved_fds *f)
{
	uint32_t reject = 0;
	int ret = vus_mig_get_u32(r, &reject);

	if (ret == 0 && reject != 0 && reject != EINVAL)
		ret = -EBADMSG;
	f->reject = -(int)reject;
	f->fds = fds;
	f->n = 0;
	return ret ? ret : load_fd_list(in, r, fds, WIRE_MAX_FDS_LIMIT, &f->n);
}

/* The input read ahead (whole messages and the start of one). */
static int load_input(struct ho_in *in, vus_mig_in *r,
		      struct transport_saved_in *s, int *cur, int *next)
{
	uint32_t len = 0, next_at = 0;
	uint8_t has_next = 0;
	int ret = vus_mig_get_u64(r, &s->skip);

	ret = ret ? ret : vus_mig_get_u32(r, &len);
	if (ret == 0 && len > vus_mig_remaining(r))
		ret = -EBADMSG;
	if (ret == 0) {
		s->bytes = r->p + r->pos;
		s->len = len;
		r->pos += len;
	}
	ret = ret ? ret : load_rx_fds(in, r, cur, &s->cur);
	ret = ret ? ret : vus_mig_get_u8(r, &has_next);
	if (ret == 0 && has_next > 1)
		ret = -EBADMSG;
	s->has_next = has_next;
	if (ret == 0 && has_next) {
		ret = vus_mig_get_u32(r, &next_at);
		s->next_at = next_at;
		ret = ret ? ret : load_rx_fds(in, r, next, &s->next);
	}
	return ret;
}

/* The connection's transport: the input read ahead, its output. */
static int load_transport(struct ho_in *in, vus_mig_in *r, int conn,
			  struct ho_pending *pend)
{
	struct transport_saved_in s = { 0 };
	int fds[WIRE_MAX_FDS_LIMIT], next[WIRE_MAX_FDS_LIMIT];
	uint8_t more = 0;
	int ret = load_input(in, r, &s, fds, next);

	if (ret < 0) {
		close_fds(fds, s.cur.n);
		close_fds(next, s.next.n);
		close_fd(&conn);
		return ret;
	}
	/* Takes the connection and the fds, also on error. */
	ret = engine_transport_restore(ctx_engine(pend->ctx), conn, &s,
				       &pend->conn);
	if (ret < 0)
		return ret;
	while ((ret = vus_mig_get_u8(r, &more)) == 0 && more == 1) {
		const uint8_t *data;
		uint32_t len;
		unsigned int n = 0;

		ret = vus_mig_get_u32(r, &len);
		if (ret == 0 && len > vus_mig_remaining(r))
			ret = -EBADMSG;
		if (ret < 0)
			break;
		data = r->p + r->pos;
		r->pos += len;
		ret = load_fd_list(in, r, fds, WIRE_MAX_FDS_LIMIT, &n);
		ret = ret ? ret : transport_sock_requeue(pend->conn, data, len,
							 fds, n);
		if (ret < 0)
			break;
	}
	return ret == 0 && more == 0 ? 0 : (ret ? ret : -EBADMSG);
}

static int load_engine(struct ho_in *in, struct ho_pending *pend)
{
	struct engine_state *st = &pend->engine;
	vus_mig_in r;
	uint8_t state = 0, notify = 0;
	int conn = -1, ret = ho_in_record(in, "engine", &r);

	ret = ret ? ret : vus_mig_get_u8(&r, &state);
	st->conn = state;
	if (ret == 0 && !engine_state_valid(st))
		ret = -EBADMSG;
	if (ret == 0 && engine_state_idle(st))
		return vus_mig_remaining(&r) ? fail(in, -EBADMSG, "the connection") : 0;
	ret = ret ? ret : get_fd(in, &r, HO_FD_CONN, &conn);
	if (ret == 0 && conn < 0)
		ret = -EBADMSG;
	ret = ret ? ret : load_caps(&r, &st->peer);
	ret = ret ? ret : vus_mig_get_u32(&r, &st->peer_fds);
	ret = ret ? ret : vus_mig_get_u32(&r, &st->peer_xfer);
	ret = ret ? ret : vus_mig_get_u16(&r, &st->next_id);
	ret = ret ? ret : vus_mig_get_u8(&r, &notify);
	st->notify_connected = notify != 0;
	if (ret < 0)
		close_fd(&conn);
	ret = ret ? ret : load_transport(in, &r, conn, pend);
	if (ret == 0 && vus_mig_remaining(&r))
		ret = -EBADMSG;
	return ret < 0 ? fail(in, ret, "the connection") : 0;
}

static void dma_mapped(void *opaque, const struct vus_dma_region *r)
{
	device_dma_map(opaque, r);
}

static int load_dma(struct ho_in *in, vus_ctx *ctx)
{
	vus_mig_in r;
	uint32_t n = 0;
	int ret = ho_in_record(in, "dma", &r);

	ret = ret ? ret : vus_mig_get_u32(&r, &n);
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		struct dma_saved d = { .fd = -1 };
		struct vus_dma_region out;

		ret = vus_mig_get_u64(&r, &d.addr);
		ret = ret ? ret : vus_mig_get_u64(&r, &d.size);
		ret = ret ? ret : vus_mig_get_u32(&r, &d.prot);
		ret = ret ? ret : get_fd(in, &r, HO_FD_MEM, &d.fd);
		ret = ret ? ret : vus_mig_get_u64(&r, &d.offset);
		if (ret < 0) {
			close_fd(&d.fd);
			break;
		}
		/* dma_add() takes the fd, also on error. */
		ret = dma_add(ctx_dma(ctx), d.addr, d.size, d.prot, d.fd,
			      d.offset, &out);
		if (ret == 0)
			dma_mapped(ctx_device(ctx), &out);
	}
	if (ret == 0 && vus_mig_remaining(&r))
		ret = -EBADMSG;
	return ret < 0 ? fail(in, ret, "a DMA mapping") : 0;
}

static int load_regions(struct ho_in *in, vus_ctx *ctx)
{
	vus_mig_in r;
	uint32_t n = 0;
	int ret = ho_in_record(in, "regions", &r);

	ret = ret ? ret : vus_mig_get_u32(&r, &n);
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		uint64_t off, size;
		uint32_t index;
		int fd = -1;

		ret = vus_mig_get_u32(&r, &index);
		ret = ret ? ret : get_fd(in, &r, HO_FD_MEM, &fd);
		ret = ret ? ret : vus_mig_get_u64(&r, &off);
		ret = ret ? ret : vus_mig_get_u64(&r, &size);
		if (ret == 0 && fd < 0)
			ret = -EBADMSG;
		/* Takes the fd, also on error. */
		ret = ret ? (close_fd(&fd), ret)
			  : region_adopt_backing(ctx_regions(ctx), index, fd,
						 off, size);
	}
	if (ret == 0 && vus_mig_remaining(&r))
		ret = -EBADMSG;
	return ret < 0 ? fail(in, ret, "region memory") : 0;
}

static int load_devfds(struct ho_in *in, vus_ctx *ctx)
{
	struct vus_handover_fds *h = calloc(1, sizeof(*h));
	void *opaque;
	const struct vus_handover_ops *ops = ctx_ho_ops(ctx, &opaque);
	vus_mig_in r;
	uint32_t n = 0;
	int ret = h ? ho_in_record(in, "devfds", &r) : -ENOMEM;

	ret = ret ? ret : vus_mig_get_u32(&r, &n);
	if (ret == 0 && n > HO_DEV_FDS_MAX)
		ret = -EBADMSG;
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		uint8_t len = 0, kind = 0;

		ret = vus_mig_get_u8(&r, &len);
		if (ret == 0 && (len == 0 || len >= sizeof(h->name[0])))
			ret = -EBADMSG;
		ret = ret ? ret : vus_mig_get(&r, h->name[i], len);
		ret = ret ? ret : vus_mig_get_u8(&r, &kind);
		if (ret == 0 && kind > VUS_FD_FILE)
			ret = -EBADMSG;
		ret = ret ? ret : get_fd(in, &r, kind, &h->fd[i]);
		h->kind[i] = kind;
		h->n = i + 1;
	}
	if (ret == 0 && vus_mig_remaining(&r))
		ret = -EBADMSG;
	if (ret == 0 && ops != NULL && ops->load_fds != NULL) {
		ret = ops->load_fds(opaque, h);
		if (ret < 0)
			snprintf(in->why, sizeof(in->why),
				 "the device refused its fds: %s", strerror(-ret));
	}
	if (h != NULL)
		for (unsigned int i = 0; i < h->n; i++)
			close_fd(&h->fd[i]); /* nobody took it */
	free(h);
	return ret < 0 ? fail(in, ret, "the device's fds") : 0;
}

/* As a migration destination: RESUMING, the stream, STOP (check, load). */
static int load_sections(vus_ctx *ctx, const uint8_t *p, size_t len)
{
	struct migration *m = ctx_mig(ctx);
	int ret = ctx_quiesce_wait(ctx, HO_DEFAULT_TIMEOUT_MS);

	if (ret < 0)
		return ret;
	ret = mig_set_state(m, VUS_MIG_RESUMING);
	ret = ret ? ret : mig_data_write(m, p, len);
	ret = ret ? ret : mig_set_state(m, VUS_MIG_STOP);
	/* STOP keeps the device quiet until ho_state_activate(). */
	device_resume(ctx_device(ctx));
	return ret;
}

static int load_mig(struct ho_in *in, vus_ctx *ctx)
{
	vus_mig_in r;
	int ret = ho_in_record(in, "mig", &r);

	if (ret < 0)
		return fail(in, ret, "the device's state");
	/* Adopted memory is newer than its saved copy: a client may have
	 * stored to it since the old process saved it. */
	region_keep_adopted(ctx_regions(ctx), true);
	ret = load_sections(ctx, r.p, r.len);
	region_keep_adopted(ctx_regions(ctx), false);
	if (ret < 0)
		snprintf(in->why, sizeof(in->why),
			 "the device refused its state: %s (see the log)",
			 strerror(-ret));
	return ret;
}

static int load_vector(struct ho_in *in, vus_mig_in *r, vus_ctx *ctx,
		       uint32_t index, uint32_t v)
{
	struct irq_vec_state s = { .trigger = -1, .mask = -1, .unmask = -1 };
	uint8_t flags = 0;
	int ret = vus_mig_get_u8(r, &flags);

	if (ret == 0 && (flags & ~7u))
		ret = -EBADMSG;
	ret = ret ? ret : get_fd(in, r, HO_FD_EVENTFD, &s.trigger);
	ret = ret ? ret : get_fd(in, r, HO_FD_EVENTFD, &s.mask);
	ret = ret ? ret : get_fd(in, r, HO_FD_EVENTFD, &s.unmask);
	s.masked = flags & 1;
	s.pending = flags & 2;
	s.level = flags & 4;
	/* Takes the fds, also on error. */
	if (ret == 0)
		return irq_vec_load(ctx_irqs(ctx), index, v, &s);
	close_fd(&s.trigger);
	close_fd(&s.mask);
	close_fd(&s.unmask);
	return ret;
}

static int load_irq(struct ho_in *in, vus_ctx *ctx)
{
	vus_mig_in r;
	uint32_t n = 0;
	int ret = ho_in_record(in, "irq", &r);

	ret = ret ? ret : vus_mig_get_u32(&r, &n);
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		uint32_t index, count, ours = 0, flags;

		ret = vus_mig_get_u32(&r, &index);
		ret = ret ? ret : vus_mig_get_u32(&r, &count);
		/* The same device has the same interrupts. */
		if (ret == 0 && (irq_get_info(ctx_irqs(ctx), index, &ours,
					      &flags) < 0 || ours != count))
			ret = -EBADMSG;
		for (uint32_t v = 0; ret == 0 && v < count; v++)
			ret = load_vector(in, &r, ctx, index, v);
	}
	if (ret == 0 && vus_mig_remaining(&r))
		ret = -EBADMSG;
	return ret < 0 ? fail(in, ret, "the interrupt state") : 0;
}

/* The client's doorbell eventfds, each on the new device's doorbell. */
static int load_doorbells(struct ho_in *in, vus_ctx *ctx)
{
	vus_mig_in r;
	uint32_t n = 0;
	int ret = ho_in_record(in, "doorbells", &r);

	ret = ret ? ret : vus_mig_get_u32(&r, &n);
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		uint32_t region = 0, index = 0;
		int fd = -1;

		ret = vus_mig_get_u32(&r, &region);
		ret = ret ? ret : vus_mig_get_u32(&r, &index);
		ret = ret ? ret : get_fd(in, &r, HO_FD_EVENTFD, &fd);
		if (ret == 0 && fd < 0)
			ret = -EBADMSG;
		ret = ret ? ret : engine_doorbell_adopt(ctx_engine(ctx), region,
							index, fd);
	}
	if (ret == 0 && vus_mig_remaining(&r) != 0)
		ret = -EBADMSG;
	return ret < 0 ? fail(in, ret, "the doorbells") : 0;
}

int ho_state_load(vus_ctx *ctx, struct ho_in *in, struct ho_pending *pend)
{
	int ret;

	pend->ctx = ctx;
	ret = load_ctx(in, pend);
	ret = ret ? ret : load_engine(in, pend);
	/* A device whose client had gone learns it before its state. */
	if (ret == 0 && engine_state_idle(&pend->engine))
		device_client_lost(ctx_device(ctx));
	ret = ret ? ret : load_dma(in, ctx);
	ret = ret ? ret : load_regions(in, ctx);
	if (ret == 0)
		ho_fault("new.adopted");
	ret = ret ? ret : load_devfds(in, ctx);
	ret = ret ? ret : load_mig(in, ctx);
	ret = ret ? ret : load_irq(in, ctx);
	return ret ? ret : load_doorbells(in, ctx);
}

int ho_state_activate(vus_ctx *ctx, struct ho_pending *pend)
{
	int ret = 0;

	if (pend->listen_fd >= 0) {
		ret = ctx_adopt_listener(ctx, pend->listen_fd, pend->sock_path);
		pend->listen_fd = -1;
		pend->sock_path = NULL;
	}
	/* Past the commit: a failure here costs management, not the device. */
	if (ret == 0 && pend->rpc_fd >= 0) {
		int r = rpc_adopt_listener(ctx, pend->rpc_fd, pend->rpc_path);

		if (r < 0)
			log_msg(ctx_log(ctx), VUS_LOG_ERR, "the management "
				"socket was not taken over: %s", strerror(-r));
		pend->rpc_fd = -1;
		pend->rpc_path = NULL;
	}
	if (ret == 0 && pend->conn != NULL) {
		ret = engine_restore(ctx_engine(ctx), &pend->engine, pend->conn);
		pend->conn = NULL;
	}
	/* The device runs again where the old process stopped it. */
	if (ret == 0) {
		(void)device_quiesce(ctx_device(ctx)); /* STOP holds it quiet */
		ret = mig_set_state(ctx_mig(ctx), VUS_MIG_RUNNING);
		device_resume(ctx_device(ctx));
	}
	return ret;
}

void ho_pending_free(struct ho_pending *pend)
{
	close_fd(&pend->listen_fd);
	free(pend->sock_path);
	pend->sock_path = NULL;
	close_fd(&pend->rpc_fd);
	free(pend->rpc_path);
	pend->rpc_path = NULL;
	transport_destroy(pend->conn);
	pend->conn = NULL;
}
