/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_log: dirty logging of the device's writes into client memory. While
 * logging is on, every mapping has a bitmap with one bit per 4 KiB page.
 * A write through the DMA API sets its pages' bits with an atomic OR
 * *after* the bytes are written; a report takes and clears exactly the
 * bits it reports with an atomic AND. So a write racing a report is seen
 * by that report or by the next one, never lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dma_priv.h"

static uint64_t map_base(const struct dma_map *m)
{
	return m->addr & ~(uint64_t)(PAGE_4K - 1);
}

static uint64_t bitmap_words(const struct dma_map *m)
{
	uint64_t pages = ((m->last - map_base(m)) >> PAGE_4K_SHIFT) + 1;

	return (pages + 63) / 64;
}

int dma_log_attach(struct dma_table *dt, struct dma_map *m)
{
	uint64_t w = bitmap_words(m);

	/*
	 * Bounded like everything a client makes us allocate: a mapping
	 * without an fd may be any size, and its bitmap would follow.
	 */
	if (w > DMA_LOG_MAX_WORDS - dt->log_words)
		return -E2BIG;
	m->dirty = calloc((size_t)w, sizeof(uint64_t));
	if (m->dirty == NULL)
		return -ENOMEM;
	dt->log_words += w;
	return 0;
}

void dma_log_detach(struct dma_table *dt, struct dma_map *m)
{
	if (m->dirty == NULL)
		return;
	dt->log_words -= bitmap_words(m);
	free(m->dirty);
	m->dirty = NULL;
}

/* The bits of bitmap word @w that lie in bit range [first, last]. */
static uint64_t word_mask(uint64_t first, uint64_t last, uint64_t w)
{
	uint64_t lo = first > w * 64 ? first - w * 64 : 0;
	uint64_t hi = last < w * 64 + 63 ? last - w * 64 : 63;
	uint64_t n = hi - lo + 1;

	return (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
}

void dma_log_mark(const struct dma_map *m, uint64_t addr, uint64_t len)
{
	uint64_t base, first, last;

	if (m->dirty == NULL || len == 0)
		return;
	base = map_base(m);
	first = (addr - base) >> PAGE_4K_SHIFT;
	last = (addr + (len - 1) - base) >> PAGE_4K_SHIFT;
	for (uint64_t w = first / 64; w <= last / 64; w++)
		/* Release: the bytes written are visible before the bit. */
		__atomic_fetch_or(&m->dirty[w], word_mask(first, last, w),
				  __ATOMIC_RELEASE);
}

bool dma_log_active(const struct dma_table *dt)
{
	return dt->logging;
}

int dma_log_start(struct dma_table *dt)
{
	struct dma_map *mp;
	uint64_t **bms;
	uint32_t i = 0;
	int ret = 0;

	if (dt->logging)
		return -EBUSY;
	bms = calloc(dt->n ? dt->n : 1, sizeof(*bms));
	if (bms == NULL)
		return -ENOMEM;
	/* Only writable mappings: the device cannot write the others. */
	DMA_EACH(dt, p, mp) {
		struct dma_map m = *mp;

		if (ret == 0 && (m.prot & VUS_DMA_WRITE))
			ret = dma_log_attach(dt, &m);
		bms[i++] = m.dirty;
	}
	i = 0;
	if (ret == 0) {
		write_begin(dt);
		DMA_EACH(dt, p, mp)
			ST(mp->dirty, bms[i++]);
		write_end(dt);
		dt->logging = true;
	} else {
		for (i = 0; i < dt->n; i++)
			free(bms[i]);
		dt->log_words = 0;
	}
	free(bms);
	return ret;
}

void dma_log_stop(struct dma_table *dt)
{
	if (!dt->logging)
		return;
	dt->logging = false;
	struct dma_map *m;

	/* The device is quiesced: nobody marks the bitmaps now. */
	write_begin(dt);
	DMA_EACH(dt, p, m) {
		uint64_t *old = m->dirty;

		ST(m->dirty, NULL);
		free(old);
	}
	write_end(dt);
	dt->log_words = 0;
}

static void set_out(uint64_t *out, uint64_t k0, uint64_t k1)
{
	for (uint64_t w = k0 / 64; w <= k1 / 64; w++)
		out[w] |= word_mask(k0, k1, w);
}

/* Take the dirty pages of mapping @m inside [lo, hi] into @out; returns
 * how many 4 KiB pages it took. */
static uint64_t report_map(const struct dma_map *m, uint64_t lo, uint64_t hi,
			   uint64_t iova, uint64_t end, uint64_t psize,
			   uint64_t *out)
{
	uint64_t base = map_base(m);
	uint64_t first = (lo - base) >> PAGE_4K_SHIFT, last = (hi - base) >> PAGE_4K_SHIFT;
	uint64_t taken = 0;

	for (uint64_t w = first / 64; w <= last / 64; w++) {
		uint64_t mask = word_mask(first, last, w);
		uint64_t bits;

		/* Most words are clean: no locked operation for those. A bit
		 * set after this load is the next report's. */
		if (!(__atomic_load_n(&m->dirty[w], __ATOMIC_RELAXED) & mask))
			continue;
		/* Acquire: pairs with the marker's release. */
		bits = __atomic_fetch_and(&m->dirty[w], ~mask,
					  __ATOMIC_ACQUIRE) & mask;
		taken += (uint64_t)__builtin_popcountll(bits);

		while (bits != 0) {
			uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(bits);
			uint64_t pa = base + (page << PAGE_4K_SHIFT);
			uint64_t s = MAX(pa, iova), e = MIN(pa + (PAGE_4K - 1), end);

			bits &= bits - 1;
			set_out(out, (s - iova) / psize, (e - iova) / psize);
		}
	}
	return taken;
}

int dma_log_report(struct dma_table *dt, uint64_t iova, uint64_t len,
		   uint64_t page_size, uint64_t *out)
{
	uint64_t end;

	if (!dt->logging)
		return -EINVAL;
	if (!span_ok(iova, len) || !is_pow2_u64(page_size))
		return -EINVAL;
	end = span_last(iova, len);
	for (struct dma_pos p = dma_blocks_seek(dt, iova);
	     dma_pos_ok(dt, p) && dma_at(dt, p)->addr <= end;
	     p = dma_pos_next(dt, p)) {
		const struct dma_map *m = dma_at(dt, p);

		if (m->dirty != NULL)
			dt->dirty_reported +=
				report_map(m, MAX(iova, m->addr), MIN(end, m->last),
					   iova, end, page_size, out);
	}
	return 0;
}
