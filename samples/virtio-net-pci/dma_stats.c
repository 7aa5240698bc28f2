/* SPDX-License-Identifier: BSD-3-Clause */
/* dma_stats: DMA_MAP/DMA_UNMAP counts and service times (dma_stats.h). */
#include <string.h>
#include <time.h>

#include "dma_stats.h"

/* vfio-user command numbers; the message type in the header flags. */
#define CMD_DMA_MAP 2u
#define CMD_DMA_UNMAP 3u
#define FLAGS_TYPE(f) ((f) & 0xfu)
#define TYPE_COMMAND 0u
#define TYPE_REPLY 1u

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void started(struct dma_stats *st, const struct vus_trace_event *ev)
{
	int64_t t = now_ns();

	if (st->first_ns == 0)
		st->first_ns = t;
	for (unsigned int i = 0; i < DMA_STATS_PENDING; i++)
		if (st->pending[i].t0 == 0) {
			st->pending[i].id = ev->msg_id;
			st->pending[i].cmd = ev->cmd;
			st->pending[i].t0 = t;
			return;
		}
}

static void answered(struct dma_stats *st, const struct vus_trace_event *ev)
{
	int64_t t = now_ns(), dt = -1;

	for (unsigned int i = 0; i < DMA_STATS_PENDING; i++)
		if (st->pending[i].t0 != 0 && st->pending[i].id == ev->msg_id &&
		    st->pending[i].cmd == ev->cmd) {
			dt = t - st->pending[i].t0;
			st->pending[i].t0 = 0;
			break;
		}
	st->last_ns = t;
	if (dt < 0)
		st->untimed++;
	if (ev->cmd == CMD_DMA_MAP) {
		st->maps++;
		st->map_ns += dt > 0 ? (uint64_t)dt : 0;
	} else {
		st->unmaps++;
		st->unmap_ns += dt > 0 ? (uint64_t)dt : 0;
	}
}

static void hook(void *opaque, const struct vus_trace_event *ev)
{
	if (ev->cmd != CMD_DMA_MAP && ev->cmd != CMD_DMA_UNMAP)
		return;
	if (ev->dir == VUS_TRACE_RX && FLAGS_TYPE(ev->flags) == TYPE_COMMAND)
		started(opaque, ev);
	else if (ev->dir == VUS_TRACE_TX && FLAGS_TYPE(ev->flags) == TYPE_REPLY)
		answered(opaque, ev);
}

void dma_stats_attach(vus_ctx *ctx, struct dma_stats *st)
{
	memset(st, 0, sizeof(*st));
	vus_ctx_set_trace(ctx, hook, st);
}

static double mean_us(uint64_t ns, uint64_t n)
{
	return n ? (double)ns / (double)n / 1000.0 : 0.0;
}

void dma_stats_print(const struct dma_stats *st, FILE *f)
{
	fprintf(f, "vus-virtio-net-pci: dma %llu maps %.1f us, %llu unmaps "
		"%.1f us, %.1f us per pair, over %.1f s\n",
		(unsigned long long)st->maps, mean_us(st->map_ns, st->maps),
		(unsigned long long)st->unmaps,
		mean_us(st->unmap_ns, st->unmaps),
		mean_us(st->map_ns, st->maps) + mean_us(st->unmap_ns, st->unmaps),
		st->last_ns > st->first_ns
			? (double)(st->last_ns - st->first_ns) / 1e9 : 0.0);
}
