/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_save: the old process writes the library's state into the hand-over
 * stream, one record per layer (formats below; integers little-endian,
 * fds as indexes into the stream's fd table, HO_NO_FD for none). The
 * device is stopped and the engine holds still at a message boundary, so
 * nothing changes while this runs; every fd stays open (borrowed) until
 * the stream is sent, because the old process may still resume.
 *
 *   ctx      u32 listener | u16 len | socket path (empty if inherited) |
 *            u32 management listener | u16 len | its path
 *   engine   u8 state | [state != IDLE: u32 connection | caps | u32
 *            peer_fds | u32 peer_xfer | u16 next_id | u8 notify |
 *            input: u32 header bytes | header (16) | u64 body bytes to
 *            drain | u32 -reject | u32 body bytes | body | fds |
 *            output: (u8 1 | u32 len | bytes | fds)* | u8 0]
 *            (fds: u32 n | n fd references)
 *   dma      u32 n | n x (u64 addr | u64 size | u32 prot | u32 fd |
 *            u64 offset)
 *   regions  u32 n | n x (u32 index | u32 fd | u64 offset | u64 size)
 *   irq      u32 n | n x (u32 index | u32 count | count x (u8 flags |
 *            u32 trigger | u32 mask | u32 unmask))
 *   devfds   u32 n | n x (u8 len | name | u8 kind | u32 fd)
 *   doorbells u32 n | n x (u32 region | u32 index | u32 fd)
 *   mig      the device's migration stream, as STOP_COPY produced it
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "dma_table.h"
#include "engine.h"
#include "ho.h"
#include "irq_table.h"
#include "region_table.h"
#include "rpc_internal.h"

static int put_fd(struct ho_out *o, vus_mig_out *r, int fd, uint8_t kind)
{
	uint32_t idx = HO_NO_FD;
	int ret = fd >= 0 ? ho_out_fd(o, fd, kind, &idx) : 0;

	return ret ? ret : vus_mig_put_u32(r, idx);
}

/* What one hand-over saves. */
struct saving {
	vus_ctx *ctx;
	struct ho_out *o;
	const struct vus_handover_fds *devfds;
	const uint8_t *mig;
	size_t mig_len;
};

typedef int rec_fn(const struct saving *s, vus_mig_out *r);

static int record(const struct saving *s, const char *name, rec_fn *fn)
{
	vus_mig_out r = { .buf = &s->o->b };
	size_t at;
	int ret = mig_stream_record_begin(&s->o->b, name, 1, &at);

	ret = ret ? ret : fn(s, &r);
	return ret ? ret : mig_stream_record_end(&s->o->b, at);
}

static int save_ctx(const struct saving *s, vus_mig_out *r)
{
	vus_ctx *ctx = s->ctx;
	struct ho_out *o = s->o;
	const char *path = ctx_sock_path(ctx);
	size_t len = path ? strlen(path) : 0;
	int ret = put_fd(o, r, ctx_listen_fd(ctx), HO_FD_LISTEN);
	const char *rpc_path;
	int rpc_fd = rpc_listener(ctx, &rpc_path);

	ret = ret ? ret : vus_mig_put_u16(r, (uint16_t)len);
	ret = ret ? ret : vus_mig_put(r, path, len);
	len = rpc_path ? strlen(rpc_path) : 0;
	ret = ret ? ret : put_fd(o, r, rpc_fd, HO_FD_LISTEN);
	ret = ret ? ret : vus_mig_put_u16(r, (uint16_t)len);
	return ret ? ret : vus_mig_put(r, rpc_path, len);
}

static int save_caps(vus_mig_out *r, const struct caps *c)
{
	int ret = vus_mig_put_u64(r, c->max_msg_fds);

	ret = ret ? ret : vus_mig_put_u64(r, c->max_data_xfer_size);
	ret = ret ? ret : vus_mig_put_u64(r, c->pgsizes);
	ret = ret ? ret : vus_mig_put_u64(r, c->max_dma_maps);
	ret = ret ? ret : vus_mig_put_u8(r, c->write_multiple);
	ret = ret ? ret : vus_mig_put_u8(r, c->twin_socket);
	ret = ret ? ret : vus_mig_put_u8(r, c->has_migration);
	ret = ret ? ret : vus_mig_put_u64(r, c->mig_pgsize);
	return ret ? ret : vus_mig_put_u64(r, c->mig_max_bitmap_size);
}

/* Client fds in a message not handled yet, or in our unsent output. */
static int save_fds(struct ho_out *o, vus_mig_out *r, const int *fds,
		    unsigned int n)
{
	int ret = vus_mig_put_u32(r, n);

	for (unsigned int i = 0; ret == 0 && i < n; i++)
		ret = put_fd(o, r, fds[i], VUS_FD_ANY);
	return ret;
}

/* fds held for a message read ahead, and whether they came refused. */
static int save_rx_fds(struct ho_out *o, vus_mig_out *r,
		       const struct transport_saved_fds *f)
{
	int ret = vus_mig_put_u32(r, (uint32_t)-f->reject);

	return ret ? ret : save_fds(o, r, f->fds, f->n);
}

struct out_ctx {
	struct ho_out *o;
	vus_mig_out *r;
};

static int save_out_entry(void *opaque, const uint8_t *data, size_t len,
			  const uint8_t *tail, size_t tail_len, const int *fds,
			  unsigned int nfds)
{
	struct out_ctx *c = opaque;
	int ret = vus_mig_put_u8(c->r, 1);

	ret = ret ? ret : vus_mig_put_u32(c->r, (uint32_t)(len + tail_len));
	ret = ret ? ret : vus_mig_put(c->r, data, len);
	ret = ret ? ret : vus_mig_put(c->r, tail, tail_len);
	return ret ? ret : save_fds(c->o, c->r, fds, nfds);
}

static int save_transport(struct ho_out *o, vus_mig_out *r,
			  struct transport *t)
{
	struct transport_saved_in in;
	struct out_ctx c = { o, r };
	int ret;

	transport_sock_save(t, &in);
	ret = vus_mig_put_u64(r, in.skip);
	ret = ret ? ret : vus_mig_put_u32(r, (uint32_t)in.len);
	ret = ret ? ret : vus_mig_put(r, in.bytes, in.len);
	ret = ret ? ret : save_rx_fds(o, r, &in.cur);
	ret = ret ? ret : vus_mig_put_u8(r, in.has_next);
	if (ret == 0 && in.has_next) {
		ret = vus_mig_put_u32(r, (uint32_t)in.next_at);
		ret = ret ? ret : save_rx_fds(o, r, &in.next);
	}
	ret = ret ? ret : transport_sock_save_out(t, save_out_entry, &c);
	return ret ? ret : vus_mig_put_u8(r, 0);
}

static int save_engine(const struct saving *s, vus_mig_out *r)
{
	vus_ctx *ctx = s->ctx;
	struct ho_out *o = s->o;
	struct engine_state st;
	struct transport *t;
	int ret;

	engine_save(ctx_engine(ctx), &st, &t);
	ret = vus_mig_put_u8(r, (uint8_t)st.conn);
	if (ret < 0 || t == NULL)
		return ret;
	ret = put_fd(o, r, transport_fd(t), HO_FD_CONN);
	ret = ret ? ret : save_caps(r, &st.peer);
	ret = ret ? ret : vus_mig_put_u32(r, st.peer_fds);
	ret = ret ? ret : vus_mig_put_u32(r, st.peer_xfer);
	ret = ret ? ret : vus_mig_put_u16(r, st.next_id);
	ret = ret ? ret : vus_mig_put_u8(r, st.notify_connected);
	return ret ? ret : save_transport(o, r, t);
}

/* The eventfds the client rings the device's doorbells with. */
static int save_doorbells(const struct saving *s, vus_mig_out *r)
{
	struct engine *e = ctx_engine(s->ctx);
	uint32_t region, n = 0;
	unsigned int index;
	int fd, ret;

	while (engine_doorbell_get(e, n, &region, &index, &fd) == 0)
		n++;
	ret = vus_mig_put_u32(r, n);
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		(void)engine_doorbell_get(e, i, &region, &index, &fd);
		ret = vus_mig_put_u32(r, region);
		ret = ret ? ret : vus_mig_put_u32(r, (uint32_t)index);
		ret = ret ? ret : put_fd(s->o, r, fd, HO_FD_EVENTFD);
	}
	return ret;
}

static int save_dma(const struct saving *s, vus_mig_out *r)
{
	vus_ctx *ctx = s->ctx;
	struct ho_out *o = s->o;
	struct dma_table *dt = ctx_dma(ctx);
	uint32_t n = dma_count(dt);
	int ret = vus_mig_put_u32(r, n);

	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		struct dma_saved d;

		ret = dma_save(dt, i, &d);
		ret = ret ? ret : vus_mig_put_u64(r, d.addr);
		ret = ret ? ret : vus_mig_put_u64(r, d.size);
		ret = ret ? ret : vus_mig_put_u32(r, d.prot);
		ret = ret ? ret : put_fd(o, r, d.fd, HO_FD_MEM);
		ret = ret ? ret : vus_mig_put_u64(r, d.offset);
	}
	return ret;
}

static int save_regions(const struct saving *s, vus_mig_out *r)
{
	vus_ctx *ctx = s->ctx;
	struct ho_out *o = s->o;
	struct region_table *rt = ctx_regions(ctx);
	uint32_t n = 0;
	int ret = 0;

	for (uint32_t i = 0; i < REGION_MAX_INDEX; i++)
		n += region_backing(rt, i, NULL, NULL, NULL) == 0;
	ret = vus_mig_put_u32(r, n);
	for (uint32_t i = 0; ret == 0 && i < REGION_MAX_INDEX; i++) {
		uint64_t off, size;
		int fd;

		if (region_backing(rt, i, &fd, &off, &size) < 0)
			continue;
		ret = vus_mig_put_u32(r, i);
		ret = ret ? ret : put_fd(o, r, fd, HO_FD_MEM);
		ret = ret ? ret : vus_mig_put_u64(r, off);
		ret = ret ? ret : vus_mig_put_u64(r, size);
	}
	return ret;
}

static int save_vector(struct ho_out *o, vus_mig_out *r,
		       const struct irq_vec_state *v)
{
	int ret = vus_mig_put_u8(r, (uint8_t)(v->masked | v->pending << 1 |
					      v->level << 2));

	ret = ret ? ret : put_fd(o, r, v->trigger, HO_FD_EVENTFD);
	ret = ret ? ret : put_fd(o, r, v->mask, HO_FD_EVENTFD);
	return ret ? ret : put_fd(o, r, v->unmask, HO_FD_EVENTFD);
}

static int save_irq(const struct saving *s, vus_mig_out *r)
{
	vus_ctx *ctx = s->ctx;
	struct ho_out *o = s->o;
	struct irq_table *it = ctx_irqs(ctx);
	uint32_t count, flags, n = 0;
	int ret;

	for (uint32_t i = 0; i < IRQ_MAX_INDEX; i++)
		n += irq_get_info(it, i, &count, &flags) == 0 && count > 0;
	ret = vus_mig_put_u32(r, n);
	for (uint32_t i = 0; ret == 0 && i < IRQ_MAX_INDEX; i++) {
		if (irq_get_info(it, i, &count, &flags) < 0 || count == 0)
			continue;
		ret = vus_mig_put_u32(r, i);
		ret = ret ? ret : vus_mig_put_u32(r, count);
		for (uint32_t v = 0; ret == 0 && v < count; v++) {
			struct irq_vec_state s;

			ret = irq_vec_save(it, i, v, &s);
			ret = ret ? ret : save_vector(o, r, &s);
		}
	}
	return ret;
}

static int save_devfds(const struct saving *s, vus_mig_out *r)
{
	const struct vus_handover_fds *h = s->devfds;
	int ret = vus_mig_put_u32(r, h->n);

	for (unsigned int i = 0; ret == 0 && i < h->n; i++) {
		size_t len = strlen(h->name[i]);

		ret = vus_mig_put_u8(r, (uint8_t)len);
		ret = ret ? ret : vus_mig_put(r, h->name[i], len);
		ret = ret ? ret : vus_mig_put_u8(r, h->kind[i]);
		ret = ret ? ret : put_fd(s->o, r, h->fd[i], h->kind[i]);
	}
	return ret;
}

static int save_mig(const struct saving *s, vus_mig_out *r)
{
	return vus_mig_put(r, s->mig, s->mig_len);
}

int ho_state_save(vus_ctx *ctx, struct ho_out *o, const uint8_t *mig,
		  size_t mig_len, struct vus_handover_fds *devfds, char *why,
		  size_t why_len)
{
	static const struct {
		const char *name;
		rec_fn *fn;
	} recs[] = {
		{ "ctx", save_ctx }, { "engine", save_engine },
		{ "dma", save_dma }, { "regions", save_regions },
		{ "irq", save_irq }, { "devfds", save_devfds },
		{ "mig", save_mig }, { "doorbells", save_doorbells },
	};
	const struct saving s = { .ctx = ctx, .o = o, .devfds = devfds,
				  .mig = mig, .mig_len = mig_len };
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(recs); i++) {
		ret = record(&s, recs[i].name, recs[i].fn);
		if (ret < 0)
			snprintf(why, why_len, "saving %s: %s", recs[i].name,
				 ret == -EMFILE ? "a DMA mapping's file was not kept "
						  "(more distinct files than the bound)"
						: strerror(-ret));
	}
	return ret ? ret : ho_out_end(o);
}
