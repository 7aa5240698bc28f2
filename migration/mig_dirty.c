/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_dirty: DMA_LOGGING_START, DMA_LOGGING_STOP and DMA_LOGGING_REPORT.
 * libvus tracks every mapping at 4 KiB whatever ranges START names (they
 * are checked, then taken as a hint), and reports at whatever page size
 * REPORT asks for. The report bitmap is sent straight from a buffer kept
 * with the migration state, not copied into the reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx.h"
#include "dma.h"
#include "mig_dirty.h"
#include "mig_priv.h"

#define MAX_RANGES 256u /* a page of ranges, as the kernel allows */
#define TRACK_PAGE 4096u

struct range { uint64_t iova, length; };

static int ranges_check(const uint8_t *p, uint32_t n, uint64_t psize)
{
	for (uint32_t i = 0; i < n; i++) {
		struct range r, q;

		memcpy(&r, p + i * sizeof(r), sizeof(r));
		if (r.length == 0 || (r.iova | r.length) & (psize - 1))
			return -EINVAL;
		if (!span_ok(r.iova, r.length))
			return -EOVERFLOW;
		for (uint32_t j = 0; j < i; j++) {
			memcpy(&q, p + j * sizeof(q), sizeof(q));
			if (r.iova <= span_last(q.iova, q.length) &&
			    q.iova <= span_last(r.iova, r.length))
				return -EINVAL;
		}
	}
	return 0;
}

static int start(struct engine *e, const struct wire_feature *f,
		 const struct msg *m, struct reply *r)
{
	const uint8_t *d = m->payload + sizeof(*f);
	uint64_t psize;
	uint32_t n;
	int ret;

	if (m->len < sizeof(*f) + 16)
		return -EINVAL;
	memcpy(&psize, d, 8);
	memcpy(&n, d + 8, 4);
	if (n > MAX_RANGES)
		return -E2BIG;
	if (m->len != sizeof(*f) + 16 + (size_t)n * sizeof(struct range))
		return -EINVAL;
	if (!is_pow2_u64(psize))
		return -EINVAL;
	ret = ranges_check(d + 16, n, psize);
	if (ret == 0)
		ret = dma_log_start(ctx_dma(e->ctx));
	if (ret < 0)
		return ret;
	/* The echo carries the granularity we track at. */
	if (f->argsz < m->len) {
		dma_log_stop(ctx_dma(e->ctx));
		return -EINVAL;
	}
	memcpy(r->buf, m->payload, m->len);
	psize = TRACK_PAGE;
	memcpy(r->buf + sizeof(*f), &psize, 8);
	((struct wire_feature *)(void *)r->buf)->argsz = m->len;
	r->len = m->len;
	return 0;
}

static int report(struct engine *e, struct migration *mg,
		  const struct wire_feature *f, const struct msg *m,
		  struct reply *r)
{
	uint64_t q[3]; /* iova, length, page_size */
	uint64_t bytes;
	struct wire_feature h;
	int ret;

	if (m->len < sizeof(*f) + sizeof(q))
		return -EINVAL;
	memcpy(q, m->payload + sizeof(*f), sizeof(q));
	if (!dma_log_active(ctx_dma(e->ctx)) || !is_pow2_u64(q[2]) ||
	    !span_ok(q[0], q[1]))
		return -EINVAL;
	/* Ours, and what the client said it takes (VERSION max_bitmap_size). */
	ret = dirty_bitmap_bytes(q[1], q[2],
				 MIN(MIG_MAX_BITMAP, e->peer.mig_max_bitmap_size),
				 &bytes);
	if (ret < 0)
		return ret;
	if (f->argsz < sizeof(h) + sizeof(q) + bytes)
		return -EINVAL;
	free(mg->report);
	mg->report = calloc(1, bytes);
	if (mg->report == NULL)
		return -ENOMEM;
	ret = dma_log_report(ctx_dma(e->ctx), q[0], q[1], q[2], mg->report);
	if (ret < 0)
		return ret;
	h = (struct wire_feature){ .argsz = (uint32_t)(sizeof(h) + sizeof(q) + bytes),
				   .flags = f->flags };
	memcpy(r->buf, &h, sizeof(h));
	memcpy(r->buf + sizeof(h), q, sizeof(q));
	r->len = sizeof(h) + sizeof(q);
	r->tail = mg->report;
	r->tail_len = (uint32_t)bytes;
	return 0;
}

int mig_dirty_feature(struct engine *e, struct migration *mg,
		      const struct wire_feature *f, const struct msg *m,
		      struct reply *r)
{
	switch (f->flags & 0xffffu) {
	case 6: /* DMA_LOGGING_START */
		return start(e, f, m, r);
	case 7: /* DMA_LOGGING_STOP */
		/* Kernel clients send the head alone; the spec's STOP has
		 * START's body, and libvfio-user's client wants it back. */
		dma_log_stop(ctx_dma(e->ctx));
		return mig_feature_echo(r, m);
	case 8: /* DMA_LOGGING_REPORT */
		return report(e, mg, f, m, r);
	default:
		return -ENOTTY;
	}
}

void mig_dirty_free(struct migration *mg)
{
	free(mg->report);
	mg->report = NULL;
}
