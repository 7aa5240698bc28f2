/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_stats: what the client's DMA_MAP and DMA_UNMAP messages cost this
 * device, counted with libvus's trace hook. Behind a vIOMMU with strict
 * invalidation a guest maps and unmaps every buffer it hands us, and QEMU
 * waits for each reply with the vCPU stopped, so the time from a request
 * to its reply (an unmap includes parking the worker) is what the guest
 * pays per buffer.
 *
 * Threads: the hook runs on the context thread; read the figures once
 * the context has stopped.
 */
#ifndef DMA_STATS_H
#define DMA_STATS_H

#include <stdint.h>
#include <stdio.h>

#include <vus.h>

/* Requests waiting for their reply that we time; more go uncounted. */
#define DMA_STATS_PENDING 64

struct dma_stats {
	uint64_t maps, unmaps;       /**< replies sent */
	uint64_t map_ns, unmap_ns;   /**< request to reply, summed */
	uint64_t untimed;            /**< replies we had no start time for */
	int64_t first_ns, last_ns;   /**< first request, last reply */
	struct {
		uint16_t id, cmd;
		int64_t t0;          /* 0: free */
	} pending[DMA_STATS_PENDING];
};

/** Count @ctx's DMA messages into @st (zeroed here). Replaces any hook. */
void dma_stats_attach(vus_ctx *ctx, struct dma_stats *st);

/** One line: counts, mean cost of a map, an unmap and a pair. */
void dma_stats_print(const struct dma_stats *st, FILE *f);

#endif /* DMA_STATS_H */
