/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_blocks: the order of the client's DMA mappings. One sorted array
 * made a grant cost a shift of every later mapping (a vIOMMU guest keeps
 * thousands live, and 10,000 made a DMA_MAP + DMA_UNMAP pair three times
 * dearer than with two). Mappings sit instead in blocks of DMA_BLOCK, each
 * sorted, listed in order by a directory that holds each block's last
 * byte. A change shifts at most one block and, when a block splits or two
 * merge, the directory (one entry per DMA_BLOCK / 4 mappings at worst);
 * translation is a binary search of the directory, then of one block.
 *
 * Readers (device threads) take no lock, as before (see dma.c): the block
 * pool and the directory never move or shrink, every field they read is
 * a relaxed atomic, and each index they read is clamped before use, so a
 * reader racing a change reads stale entries of memory that stays valid,
 * and the sequence count sends it round again.
 *
 * Bound on blocks: after every change, any two neighbouring blocks hold at
 * least DMA_BLOCK / 2 mappings together (a removal merges a block into a
 * neighbour when they hold fewer; a split leaves two halves of DMA_BLOCK /
 * 2; a block added at either end of the table has a full neighbour; an
 * emptied block goes). So n mappings use at most 4n / DMA_BLOCK + 1
 * blocks, and a pool of 4 max / DMA_BLOCK + 2 never runs out.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common.h"
#include "dma_priv.h"

#define HALF (DMA_BLOCK / 2)

int dma_blocks_init(struct dma_table *dt)
{
	dt->nblk = (uint32_t)(((uint64_t)dt->max * 4 + DMA_BLOCK - 1) /
			      DMA_BLOCK) + 2;
	/* Reserved once so it never moves; pages are touched as used. */
	dt->m_bytes = (size_t)dt->nblk * DMA_BLOCK * sizeof(struct dma_map);
	dt->m = mmap(NULL, dt->m_bytes, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (dt->m == MAP_FAILED) {
		dt->m = NULL;
		return -ENOMEM;
	}
	dt->dir = calloc(dt->nblk, sizeof(*dt->dir));
	dt->free_blk = calloc(dt->nblk, sizeof(*dt->free_blk));
	if (dt->dir == NULL || dt->free_blk == NULL) {
		dma_blocks_fini(dt);
		return -ENOMEM;
	}
	/* Low blocks first, so the pages touched follow the count. */
	for (uint32_t i = 0; i < dt->nblk; i++)
		dt->free_blk[i] = dt->nblk - 1 - i;
	dt->nfree = dt->nblk;
	return 0;
}

void dma_blocks_fini(struct dma_table *dt)
{
	if (dt->m != NULL)
		munmap(dt->m, dt->m_bytes);
	free(dt->dir);
	free(dt->free_blk);
	dt->m = NULL;
	dt->dir = NULL;
	dt->free_blk = NULL;
}

static struct dma_map *block(const struct dma_table *dt, uint32_t d)
{
	return &dt->m[(size_t)dt->dir[d].blk * DMA_BLOCK];
}

struct dma_pos dma_blocks_seek(const struct dma_table *dt, uint64_t addr)
{
	uint32_t d = interval_lower_bound(dt->dir, dt->nd, DMA_DIR_LAYOUT, addr);

	if (d >= dt->nd)
		return (struct dma_pos){ dt->nd, 0 };
	return (struct dma_pos){ d, interval_lower_bound(block(dt, d),
				 dt->dir[d].cnt, DMA_LAYOUT, addr) };
}

/* Move @k entries from @s to @d (either way round), entry by entry. */
static void move_maps(struct dma_map *d, const struct dma_map *s, uint32_t k)
{
	struct dma_map t;

	if (d < s)
		for (uint32_t i = 0; i < k; i++) {
			map_load(&s[i], &t);
			map_store(&d[i], &t);
		}
	else
		for (uint32_t i = k; i-- > 0;) {
			map_load(&s[i], &t);
			map_store(&d[i], &t);
		}
}

static void dir_store(struct dma_dir *d, const struct dma_dir *s)
{
	ST(d->last, s->last);
	ST(d->blk, s->blk);
	ST(d->cnt, s->cnt);
}

/* Directory entry @s goes in at @at. */
static void dir_insert(struct dma_table *dt, uint32_t at,
		       const struct dma_dir *s)
{
	for (uint32_t i = dt->nd; i > at; i--)
		dir_store(&dt->dir[i], &dt->dir[i - 1]);
	dir_store(&dt->dir[at], s);
	ST(dt->nd, dt->nd + 1);
}

/* Directory entry @at goes; its block returns to the pool. */
static void dir_remove(struct dma_table *dt, uint32_t at)
{
	dt->free_blk[dt->nfree++] = dt->dir[at].blk;
	for (uint32_t i = at; i + 1 < dt->nd; i++)
		dir_store(&dt->dir[i], &dt->dir[i + 1]);
	ST(dt->nd, dt->nd - 1);
}

/* Block @d holds @cnt mappings now: its entry follows. */
static void set_count(struct dma_table *dt, uint32_t d, uint32_t cnt)
{
	ST(dt->dir[d].cnt, cnt);
	if (cnt > 0)
		ST(dt->dir[d].last, LD(block(dt, d)[cnt - 1].last));
}

/* Split full block p->d in halves; *p follows its place. */
static void split(struct dma_table *dt, struct dma_pos *p)
{
	struct dma_dir e = { .blk = dt->free_blk[--dt->nfree], .cnt = HALF };

	move_maps(&dt->m[(size_t)e.blk * DMA_BLOCK], block(dt, p->d) + HALF,
		  HALF);
	e.last = dt->dir[p->d].last;
	dir_insert(dt, p->d + 1, &e);
	set_count(dt, p->d, HALF);
	if (p->j > HALF) {
		p->d++;
		p->j -= HALF;
	}
}

/* A new empty block at @d (moving blocks from @d on up one). */
static void add_block(struct dma_table *dt, uint32_t d)
{
	struct dma_dir e = { .blk = dt->free_blk[--dt->nfree] };

	dir_insert(dt, d, &e);
}

/*
 * Room at *p in a full block. Past the end of the last block or before
 * the start of the first, a new block keeps the full one full (mappings
 * granted in address order, the usual way, then fill their blocks; the
 * new block's one neighbour is full, so the bound holds). Elsewhere the
 * block splits.
 */
static void make_room(struct dma_table *dt, struct dma_pos *p)
{
	if (p->j == DMA_BLOCK && p->d + 1 == dt->nd) {
		add_block(dt, ++p->d);
		p->j = 0;
	} else if (p->j == 0 && p->d == 0) {
		add_block(dt, 0);
	} else {
		split(dt, p);
	}
}

void dma_blocks_insert(struct dma_table *dt, const struct dma_map *m)
{
	struct dma_pos p = dma_blocks_seek(dt, m->addr);
	struct dma_map *b;
	uint32_t cnt;

	write_begin(dt);
	if (dt->nd == 0) {
		add_block(dt, 0);
	} else if (p.d == dt->nd) { /* after every mapping */
		p.d = dt->nd - 1;
		p.j = dt->dir[p.d].cnt;
	}
	if (dt->dir[p.d].cnt == DMA_BLOCK)
		make_room(dt, &p);
	b = block(dt, p.d);
	cnt = dt->dir[p.d].cnt;
	move_maps(b + p.j + 1, b + p.j, cnt - p.j);
	map_store(&b[p.j], m);
	set_count(dt, p.d, cnt + 1);
	ST(dt->n, dt->n + 1);
	write_end(dt);
}

/* Append block @d + 1 to block @d, which has room for it. */
static void merge(struct dma_table *dt, uint32_t d)
{
	uint32_t a = dt->dir[d].cnt, k = dt->dir[d + 1].cnt;

	move_maps(block(dt, d) + a, block(dt, d + 1), k);
	set_count(dt, d, a + k);
	dir_remove(dt, d + 1);
}

/* Restore the bound on blocks around @d after a removal from it. */
static void rebalance(struct dma_table *dt, uint32_t d)
{
	if (dt->dir[d].cnt == 0) {
		/* Its neighbours held HALF - 1 or more each: no merge due. */
		dir_remove(dt, d);
		return;
	}
	if (d > 0 && dt->dir[d - 1].cnt + dt->dir[d].cnt < HALF)
		merge(dt, --d);
	if (d + 1 < dt->nd && dt->dir[d].cnt + dt->dir[d + 1].cnt < HALF)
		merge(dt, d);
}

void dma_blocks_remove(struct dma_table *dt, struct dma_pos p)
{
	struct dma_map *b = block(dt, p.d);
	uint32_t cnt = dt->dir[p.d].cnt;

	write_begin(dt);
	move_maps(b + p.j, b + p.j + 1, cnt - p.j - 1);
	set_count(dt, p.d, cnt - 1);
	rebalance(dt, p.d);
	ST(dt->n, dt->n - 1);
	write_end(dt);
}

/*
 * Mapping @i in address order. Callers walk i = 0, 1, ...: the last
 * answer is kept (valid while the sequence count is unchanged), so a walk
 * costs one step per mapping.
 */
bool dma_blocks_nth(struct dma_table *dt, uint32_t i, struct dma_pos *out)
{
	unsigned int seq = atomic_load_explicit(&dt->seq, memory_order_relaxed);
	struct dma_pos p = { 0, 0 };
	uint32_t at = 0;

	if (i >= dt->n)
		return false;
	if (dt->nth_seq == seq && dt->nth_i <= i) {
		p = dt->nth_pos;
		at = dt->nth_i;
	}
	/* Whole blocks first, then within the block. */
	while (i - at >= dt->dir[p.d].cnt - p.j) {
		at += dt->dir[p.d].cnt - p.j;
		p.d++;
		p.j = 0;
	}
	p.j += i - at;
	dt->nth_seq = seq;
	dt->nth_i = i;
	dt->nth_pos = p;
	*out = p;
	return true;
}
