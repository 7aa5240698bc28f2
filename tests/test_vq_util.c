/* SPDX-License-Identifier: BSD-3-Clause */
/* test_vq_util: the virtqueue tests' fixture (see the header). */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
#include "test_vq_util.h"

static void add_region(struct t *t, struct region *r, uint64_t gpa,
		       uint64_t size, uint32_t prot)
{
	struct vus_dma_region out;
	int fd = memfd_create("vq-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	r->gpa = gpa;
	r->size = size;
	r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(r->mem != MAP_FAILED);
	r->snap = malloc(size);
	assert_non_null(r->snap);
	assert_int_equal(dma_add(ctx_dma(t->ctx), gpa, size, prot, fd, 0, &out), 0);
}

struct t *setup(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_dma_region out;
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(vus_ctx_create(&cfg, &t->ctx), 0);
	add_region(t, &t->r[0], MAIN, MAIN_SIZE, VUS_DMA_READ | VUS_DMA_WRITE);
	add_region(t, &t->r[1], NEXT, NEXT_SIZE, VUS_DMA_READ | VUS_DMA_WRITE);
	add_region(t, &t->r[2], RO, RO_SIZE, VUS_DMA_READ);
	/* One memfd, mapped page by page: a range over it comes in pieces. */
	t->pieces_fd = memfd_create("vq-pieces", MFD_CLOEXEC);
	assert_int_equal(ftruncate(t->pieces_fd, NR_PIECES * 4096), 0);
	for (unsigned int i = 0; i < NR_PIECES; i++)
		assert_int_equal(dma_add(ctx_dma(t->ctx), PIECES + i * 4096ull,
					 4096, VUS_DMA_READ | VUS_DMA_WRITE,
					 dup(t->pieces_fd), i * 4096ull, &out), 0);
	assert_int_equal(vq_elem_init(&t->e, QSIZE), 0);
	return t;
}

void teardown(struct t *t)
{
	vq_elem_free(&t->e);
	vus_ctx_destroy(t->ctx);
	for (int i = 0; i < 3; i++) {
		munmap(t->r[i].mem, t->r[i].size);
		free(t->r[i].snap);
	}
	close(t->pieces_fd);
	free(t);
}

/* Our pointer to guest address @gpa (inside MAIN, NEXT or RO). */
uint8_t *gp(struct t *t, uint64_t gpa)
{
	for (int i = 0; i < 3; i++)
		if (gpa >= t->r[i].gpa && gpa < t->r[i].gpa + t->r[i].size)
			return t->r[i].mem + (gpa - t->r[i].gpa);
	fail_msg("no test mapping at %#llx", (unsigned long long)gpa);
	return NULL;
}

void put16(struct t *t, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(gp(t, gpa), &v, 2);
}

uint16_t get16(struct t *t, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, gp(t, gpa), 2);
	return le16toh(v);
}

uint32_t get32(struct t *t, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, gp(t, gpa), 4);
	return le32toh(v);
}

/* Whether @p (the device's view) is guest address @gpa (ours). */
bool same_place(struct t *t, const void *p, uint64_t gpa)
{
	static uint8_t mark;
	uint8_t *ours = gp(t, gpa), old = *ours;
	bool same;

	*ours = ++mark;
	same = *(const volatile uint8_t *)p == mark;
	*ours = old;
	return same;
}

/* Descriptor @i of the table at @table. */
void desc(struct t *t, uint64_t table, unsigned int i, uint64_t addr,
		 uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = gp(t, table + 16ull * i);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

/* The driver makes chain @head available. */
void offer(struct t *t, uint16_t head)
{
	put16(t, AVAIL + 4 + 2 * (t->avail_idx % QSIZE), head);
	t->avail_idx++;
	put16(t, AVAIL + 2, t->avail_idx);
}

void start(struct t *t, uint32_t flags)
{
	const struct vq_layout l = { .size = QSIZE, .desc = DESC,
				     .avail = AVAIL, .used = USED };

	assert_int_equal(vq_start(&t->vq, t->ctx, &l, flags), 0);
}

void snapshot(struct t *t)
{
	for (int i = 0; i < 3; i++)
		memcpy(t->r[i].snap, t->r[i].mem, t->r[i].size);
}

/*
 * Nothing changed since the snapshot, except [lo, hi) and, with @used_ok,
 * the used ring.
 */
void check_writes(struct t *t, bool used_ok, uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < 3; i++)
		for (uint64_t o = 0; o < t->r[i].size; o++) {
			uint64_t gpa = t->r[i].gpa + o;

			if (gpa >= lo && gpa < hi)
				continue;
			if (used_ok && gpa >= USED && gpa < USED + 6 + 8 * QSIZE)
				continue;
			if (t->r[i].mem[o] != t->r[i].snap[o])
				fail_msg("byte at %#llx written",
					 (unsigned long long)gpa);
		}
}

void untouched(struct t *t)
{
	check_writes(t, false, 0, 0);
}

/* A broken queue refuses everything and touches nothing, ever again. */
void assert_broken(struct t *t, enum vq_error why)
{
	assert_false(vq_ready(&t->vq));
	assert_int_equal(t->vq.error, why);
	untouched(t);
	offer(t, 0);
	snapshot(t);
	assert_int_equal(vq_pop(&t->vq, &t->e), -EIO);
	assert_int_equal(vq_push(&t->vq, 0, 1), -EIO);
	assert_false(vq_publish(&t->vq));
	assert_int_equal(vq_kick_enable(&t->vq, true), -EIO);
	assert_int_equal(vq_avail(&t->vq), -EIO);
	untouched(t);
}

/* Pop expecting the queue to break for @why. */
void pop_breaks(struct t *t, enum vq_error why)
{
	snapshot(t);
	assert_int_equal(vq_pop(&t->vq, &t->e), -EIO);
	assert_broken(t, why);
}

