/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_mig: the migration commands as engine handlers: DEVICE_FEATURE
 * (MIGRATION, MIG_DEVICE_STATE, DMA logging, MIG_DATA_SIZE, with PROBE),
 * MIG_DATA_READ and MIG_DATA_WRITE. The payloads (wire.h) are checked
 * here and migration/ is called with plain values; the DMA logging
 * features go to the DMA table's dirty log directly. Layouts and errnos
 * follow the protocol reference (vfio-user-wire.md 15-16): unknown
 * features give ENOTTY (what QEMU reads as "not supported"), a known
 * feature asked for an operation it lacks gives EINVAL.
 *
 * libvus tracks every mapping at 4 KiB whatever ranges DMA_LOGGING_START
 * names (they are checked, then taken as a hint), and reports at whatever
 * page size DMA_LOGGING_REPORT asks for. The report bitmap is built in a
 * buffer the reply owns and handed to the transport: never copied, freed
 * once written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "dma_table.h"
#include "engine_priv.h"
#include "mig.h"

#define MAX_RANGES 256u /* a page of ranges, as the kernel allows */
/* Largest report bitmap (the spec's default max_bitmap_size). */
#define MAX_REPORT_BITMAP (256u << 20)

/* The operations each feature supports. */
static uint32_t feature_ops(uint32_t feature)
{
	switch (feature) {
	case WIRE_FEAT_MIGRATION: return WIRE_FEAT_GET;
	case WIRE_FEAT_MIG_DEVICE_STATE: return WIRE_FEAT_GET | WIRE_FEAT_SET;
	case WIRE_FEAT_DMA_LOGGING_START: return WIRE_FEAT_SET;
	case WIRE_FEAT_DMA_LOGGING_STOP: return WIRE_FEAT_SET;
	case WIRE_FEAT_DMA_LOGGING_REPORT: return WIRE_FEAT_GET;
	case WIRE_FEAT_MIG_DATA_SIZE: return WIRE_FEAT_GET;
	default: return 0;
	}
}

bool engine_mig_needs_quiesce(const struct msg *m)
{
	struct wire_feature f;
	uint32_t feature;

	if (m->len < sizeof(f))
		return false;
	memcpy(&f, m->payload, sizeof(f));
	feature = f.flags & WIRE_FEAT_MASK;
	/* State changes may stop the device; logging changes what its
	 * threads mark. Probes and reads need nothing. */
	return (f.flags & WIRE_FEAT_SET) && !(f.flags & WIRE_FEAT_PROBE) &&
	       (feature == WIRE_FEAT_MIG_DEVICE_STATE ||
		feature == WIRE_FEAT_DMA_LOGGING_START ||
		feature == WIRE_FEAT_DMA_LOGGING_STOP);
}

/* Flags, feature and the operations asked for: 0 or the errno. */
static int feature_check(struct migration *mg, const struct wire_feature *f)
{
	uint32_t feature = f->flags & WIRE_FEAT_MASK;
	uint32_t ops = f->flags & (WIRE_FEAT_GET | WIRE_FEAT_SET);
	bool probe = f->flags & WIRE_FEAT_PROBE;

	if (f->flags & ~(WIRE_FEAT_MASK | WIRE_FEAT_GET | WIRE_FEAT_SET |
			 WIRE_FEAT_PROBE))
		return -EINVAL;
	if (mg == NULL || feature_ops(feature) == 0)
		return -ENOTTY;
	if (!probe && ops != WIRE_FEAT_GET && ops != WIRE_FEAT_SET)
		return -EINVAL; /* exactly one of GET and SET, unless probing */
	if ((ops & feature_ops(feature)) != ops || (ops == 0 && !probe))
		return -EINVAL;
	return 0;
}

/* Reply head + @len data bytes; -EINVAL if the client's argsz is smaller. */
static int reply(struct reply *r, const struct wire_feature *req,
		 const void *data, uint32_t len)
{
	struct wire_feature h = { .argsz = (uint32_t)sizeof(h) + len,
				  .flags = req->flags };

	if (req->argsz < h.argsz)
		return -EINVAL;
	memcpy(r->buf, &h, sizeof(h));
	if (len)
		memcpy(r->buf + sizeof(h), data, len);
	r->len = h.argsz;
	return 0;
}

/* A SET's reply: the request payload as it came. */
static int echo(struct reply *r, const struct msg *m)
{
	memcpy(r->buf, m->payload, m->len);
	r->len = m->len;
	return 0;
}

static int device_state(struct migration *mg, const struct wire_feature *f,
			const struct msg *m, struct reply *r)
{
	/* No fd in vfio-user: data_fd is -1, as the kernel says. */
	struct wire_feature_mig_state st = { .data_fd = -1 };
	int ret;

	if (f->argsz < sizeof(*f) + sizeof(st))
		return -EINVAL;
	if (!(f->flags & WIRE_FEAT_SET)) {
		st.device_state = mig_state(mg);
		return reply(r, f, &st, sizeof(st));
	}
	if (m->len < sizeof(*f) + sizeof(st))
		return -EINVAL;
	memcpy(&st, m->payload + sizeof(*f), sizeof(st));
	ret = mig_set_state(mg, st.device_state);
	if (ret < 0)
		return ret;
	return echo(r, m);
}

static int ranges_check(const uint8_t *p, uint32_t n, uint64_t psize)
{
	for (uint32_t i = 0; i < n; i++) {
		struct wire_feature_dma_range a, b;

		memcpy(&a, p + i * sizeof(a), sizeof(a));
		if (a.length == 0 || (a.iova | a.length) & (psize - 1))
			return -EINVAL;
		if (!span_ok(a.iova, a.length))
			return -EOVERFLOW;
		for (uint32_t j = 0; j < i; j++) {
			memcpy(&b, p + j * sizeof(b), sizeof(b));
			if (a.iova <= span_last(b.iova, b.length) &&
			    b.iova <= span_last(a.iova, a.length))
				return -EINVAL;
		}
	}
	return 0;
}

static int log_start(struct engine *e, const struct wire_feature *f,
		     const struct msg *m, struct reply *r)
{
	struct wire_feature_dma_logging lc;
	const uint8_t *ranges = m->payload + sizeof(*f) + sizeof(lc);
	struct dma_table *dma = ctx_dma(e->ctx);
	int ret;

	if (m->len < sizeof(*f) + sizeof(lc))
		return -EINVAL;
	memcpy(&lc, m->payload + sizeof(*f), sizeof(lc));
	if (lc.num_ranges > MAX_RANGES)
		return -E2BIG;
	if (m->len != sizeof(*f) + sizeof(lc) +
		      (size_t)lc.num_ranges * sizeof(struct wire_feature_dma_range))
		return -EINVAL;
	if (!is_pow2_u64(lc.page_size))
		return -EINVAL;
	ret = ranges_check(ranges, lc.num_ranges, lc.page_size);
	if (ret == 0)
		ret = dma_log_start(dma);
	if (ret < 0)
		return ret;
	/* The echo carries the granularity we track at. */
	if (f->argsz < m->len) {
		dma_log_stop(dma);
		return -EINVAL;
	}
	echo(r, m);
	lc.page_size = PAGE_4K;
	memcpy(r->buf + sizeof(*f), &lc, sizeof(lc));
	((struct wire_feature *)(void *)r->buf)->argsz = m->len;
	return 0;
}

static int log_report(struct engine *e, const struct wire_feature *f,
		      const struct msg *m, struct reply *r)
{
	struct wire_feature_dma_report q;
	struct dma_table *dma = ctx_dma(e->ctx);
	struct wire_feature h;
	uint64_t bytes, *bitmap;
	int ret;

	if (m->len < sizeof(*f) + sizeof(q))
		return -EINVAL;
	memcpy(&q, m->payload + sizeof(*f), sizeof(q));
	if (!dma_log_active(dma) || !is_pow2_u64(q.page_size) ||
	    !span_ok(q.iova, q.length))
		return -EINVAL;
	/* Ours, and what the client said it takes (VERSION max_bitmap_size). */
	ret = dirty_bitmap_bytes(q.length, q.page_size,
				 MIN(MAX_REPORT_BITMAP,
				     e->peer.mig_max_bitmap_size), &bytes);
	if (ret < 0)
		return ret;
	if (f->argsz < sizeof(h) + sizeof(q) + bytes)
		return -EINVAL;
	bitmap = engine_reply_tail(r, (size_t)bytes);
	if (bitmap == NULL)
		return -ENOMEM;
	ret = dma_log_report(dma, q.iova, q.length, q.page_size, bitmap);
	if (ret < 0)
		return ret;
	h = (struct wire_feature){
		.argsz = (uint32_t)(sizeof(h) + sizeof(q) + bytes),
		.flags = f->flags };
	memcpy(r->buf, &h, sizeof(h));
	memcpy(r->buf + sizeof(h), &q, sizeof(q));
	r->len = sizeof(h) + sizeof(q);
	return 0;
}

int handle_device_feature(struct engine *e, struct msg *m, struct reply *r)
{
	struct migration *mg = ctx_mig(e->ctx);
	struct wire_feature f;
	uint64_t v;
	int ret;

	memcpy(&f, m->payload, sizeof(f));
	ret = feature_check(mg, &f);
	if (ret < 0)
		return ret;
	if (f.flags & WIRE_FEAT_PROBE)
		return reply(r, &f, NULL, 0);
	switch (f.flags & WIRE_FEAT_MASK) {
	case WIRE_FEAT_MIGRATION:
		v = mig_flags(mg);
		return reply(r, &f, &v, sizeof(struct wire_feature_migration));
	case WIRE_FEAT_MIG_DEVICE_STATE:
		return device_state(mg, &f, m, r);
	case WIRE_FEAT_MIG_DATA_SIZE:
		v = mig_data_size(mg);
		return reply(r, &f, &v,
			     sizeof(struct wire_feature_mig_data_size));
	case WIRE_FEAT_DMA_LOGGING_START:
		return log_start(e, &f, m, r);
	case WIRE_FEAT_DMA_LOGGING_STOP:
		/* Kernel clients send the head alone; the spec's STOP has
		 * START's body, and libvfio-user's client wants it back. */
		dma_log_stop(ctx_dma(e->ctx));
		return echo(r, m);
	case WIRE_FEAT_DMA_LOGGING_REPORT:
		return log_report(e, &f, m, r);
	default:
		return -ENOTTY;
	}
}

/*
 * The rest of a read whose pieces did not fit the reply (many referenced
 * blocks in one read): copied into @buf after the head, then, for a short
 * piece, zeros up to the size asked for (libvfio-user's client requires
 * that; argsz and size say how much is data). Sent as the last piece.
 */
static int read_rest(struct migration *mg, struct reply *r, uint8_t *buf,
		     size_t want, size_t *got)
{
	size_t more = 0;
	int ret = 0;

	if (r->iovcnt == REPLY_IOV_MAX - 1)
		ret = mig_data_read(mg, buf, want, &more);
	if (ret < 0)
		return ret;
	memset(buf + more, 0, want - more);
	r->iov[r->iovcnt++] = (struct iovec){ buf, want };
	*got += more;
	return 0;
}

int handle_mig_data_read(struct engine *e, struct msg *m, struct reply *r)
{
	struct migration *mg = ctx_mig(e->ctx);
	const uint32_t head = sizeof(struct wire_mig_data);
	struct wire_mig_data q;
	uint32_t asked;
	size_t got;
	int ret;

	memcpy(&q, m->payload, sizeof(q));
	if (mg == NULL)
		return -ENOTSUP;
	/* No more than the client takes, and its buffer must hold it. */
	if (q.size > e->peer_xfer || q.argsz < head || q.argsz - head < q.size)
		return -EINVAL;
	asked = q.size;
	/* Sent from where the stream's bytes are: nothing changes them
	 * before this reply is out, and what the socket does not take is
	 * copied to the output queue. */
	ret = mig_data_gather(mg, asked, r->iov, REPLY_IOV_MAX - 1,
			      &r->iovcnt, &got);
	if (ret == 0 && got < asked)
		ret = read_rest(mg, r, r->buf + head, asked - got, &got);
	if (ret < 0)
		return ret;
	q = (struct wire_mig_data){ .argsz = (uint32_t)(head + got),
				    .size = (uint32_t)got };
	memcpy(r->buf, &q, sizeof(q));
	r->len = head;
	return 0;
}

int handle_mig_data_write(struct engine *e, struct msg *m, struct reply *r)
{
	struct migration *mg = ctx_mig(e->ctx);
	struct wire_mig_data q;

	memcpy(&q, m->payload, sizeof(q));
	if (mg == NULL)
		return -ENOTSUP;
	if (m->len - sizeof(q) != q.size)
		return -EINVAL;
	return mig_data_write(mg, m->payload + sizeof(q), q.size);
}
