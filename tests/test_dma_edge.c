/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA at the exact edge of every mapping, through every entry point
 * (vus_dma_read/write, the untorn accessors, vus_dma_sg,
 * vus_dma_mark_dirty, and the DMA_READ/DMA_WRITE messages that reach
 * fd-less memory): an access ending on a mapping's last byte is served,
 * one byte more is refused if it runs into a gap (nothing moved) and
 * served in two pieces if it runs into an adjacent mapping (the untorn
 * accessors, single accesses by contract, refuse it). Mappings sit at
 * both ends of the 64-bit address space. Then the dirty page log at page
 * edges: unaligned writes across two and three pages and writes ending on
 * a page's last byte, through every write path, and reports of ranges
 * that start or end inside a mapping.
 *
 * Real memfds, mmap'd by the DMA table as a DMA_MAP would have them; the
 * messages for fd-less memory go to a recording stand-in for the engine
 * (tests/test_engine_dma.c and test_client_proto.c cover the wire).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
#include "dma_priv.h"
#include "vtest.h"
#include "vus.h"

#define RW (VUS_DMA_READ | VUS_DMA_WRITE)
#define PG 4096ull

/* The address space, bottom to top. */
#define LOW 0x0ull              /* IOVA 0, two pages */
#define LOW_SIZE 0x2000ull
#define ADJ 0x2000ull           /* right after LOW: another mapping */
#define ADJ_SIZE 0x1000ull
#define ISLAND 0x10000ull       /* a gap on either side */
#define ISLAND_SIZE 0x1000ull
#define ODD 0x20000ull          /* 7 bytes, then ODD2: unaligned ends */
#define ODD_SIZE 7ull
#define ODD2 0x20007ull
#define ODD2_SIZE 0xff9ull
/* For each access size 2, 4, 8: a mapping of exactly that many bytes and
 * one of a byte less, aligned, each with a gap after it. */
#define EXACT(size) (0x30000ull + (size) * 0x1000ull)
#define SHORT(size) (0x60000ull + (size) * 0x1000ull)
#define LOG 0x40000ull          /* eight pages for the dirty log */
#define LOG_SIZE 0x8000ull
#define LOGU 0x50800ull         /* starts and ends in the middle of a page */
#define LOGU_SIZE 0x3000ull
#define MSG_A 0x100000ull       /* fd-less, then fd-less MSG_B adjacent */
#define MSG_SIZE 0x2000ull
#define MSG_A_SIZE MSG_SIZE
#define MSG_B (MSG_A + MSG_SIZE)
#define MSG_B_SIZE MSG_SIZE
#define TOP (0ull - 0x2000ull)  /* the last two pages: ends at 2^64 */
#define TOP_SIZE 0x2000ull

#define END(m) ((m) + m##_SIZE) /* first byte past a mapping */

struct map {
	uint64_t addr, size;
	uint8_t *mem; /* our view of its memfd */
};

/* One DMA_READ/DMA_WRITE the library asked the engine for. */
struct msg_call {
	bool write;
	uint64_t addr, len;
};

struct t {
	vus_ctx *ctx;
	struct map m[13];
	unsigned int nr;
	uint8_t client[2 * MSG_SIZE]; /* the client's memory behind MSG_A/B */
	struct msg_call calls[8];
	unsigned int nr_calls;
};

static uint8_t pattern(uint64_t addr)
{
	return (uint8_t)(addr * 7 + (addr >> 12) + 1);
}

/* The engine's stand-in: serves DMA_READ/DMA_WRITE from t->client. */
static int fake_msg(void *opaque, bool write, uint64_t addr, void *buf,
		    size_t len)
{
	struct t *t = opaque;

	assert_true(addr >= MSG_A && len <= END(MSG_B) - addr);
	assert_true(t->nr_calls < 8);
	t->calls[t->nr_calls++] = (struct msg_call){ write, addr, len };
	if (write)
		memcpy(t->client + (addr - MSG_A), buf, len);
	else
		memcpy(buf, t->client + (addr - MSG_A), len);
	return 0;
}

/*
 * Map a memfd of @size bytes at @addr, filled with the pattern: as one
 * mapping, or (@split > 0) as two adjacent ones meeting @split bytes in.
 */
static void add_fd_map(struct t *t, uint64_t addr, uint64_t size,
		       uint64_t split)
{
	struct map *m = &t->m[t->nr++];
	struct vus_dma_region out;
	int fd = memfd_create("dma-edge", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	*m = (struct map){ .addr = addr, .size = size,
			   .mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, fd, 0) };
	assert_true(m->mem != MAP_FAILED);
	for (uint64_t i = 0; i < size; i++)
		m->mem[i] = pattern(addr + i);
	if (split > 0)
		assert_int_equal(dma_add(ctx_dma(t->ctx), addr, split, RW, dup(fd),
					 0, &out), 0);
	assert_int_equal(dma_add(ctx_dma(t->ctx), addr + split, size - split, RW,
				 fd, split, &out), 0);
}

static struct t *setup(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_dma_region out;
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_int_equal(vus_ctx_create(&cfg, &t->ctx), 0);
	add_fd_map(t, LOW, LOW_SIZE, 0);
	add_fd_map(t, ADJ, ADJ_SIZE, 0);
	add_fd_map(t, ISLAND, ISLAND_SIZE, 0);
	add_fd_map(t, LOG, LOG_SIZE, 0);
	add_fd_map(t, LOGU, LOGU_SIZE, 0);
	add_fd_map(t, TOP, TOP_SIZE, 0);
	add_fd_map(t, ODD, ODD_SIZE + ODD2_SIZE, ODD_SIZE);
	for (uint64_t size = 2; size <= 8; size *= 2) {
		add_fd_map(t, EXACT(size), size, 0);
		add_fd_map(t, SHORT(size), size - 1, 0);
	}
	assert_int_equal(dma_add(ctx_dma(t->ctx), MSG_A, MSG_SIZE, RW, -1, 0,
				 &out), 0);
	assert_int_equal(dma_add(ctx_dma(t->ctx), MSG_B, MSG_SIZE, RW, -1, 0,
				 &out), 0);
	for (uint64_t i = 0; i < sizeof(t->client); i++)
		t->client[i] = pattern(MSG_A + i);
	/* Message DMA runs on the context thread only: become it. */
	assert_int_equal(vus_ctx_realize(t->ctx), 0);
	(void)vus_ctx_run_once(t->ctx, 0);
	dma_set_msg_fn(ctx_dma(t->ctx), fake_msg, t);
	return t;
}

static void teardown(struct t *t)
{
	vus_ctx_destroy(t->ctx);
	for (unsigned int i = 0; i < t->nr; i++)
		munmap(t->m[i].mem, t->m[i].size);
	free(t);
}

/* Our view of DMA address @a (fd-backed mappings only). */
static uint8_t *at(struct t *t, uint64_t a)
{
	for (unsigned int i = 0; i < t->nr; i++)
		if (a - t->m[i].addr < t->m[i].size)
			return t->m[i].mem + (a - t->m[i].addr);
	fail_msg("no mapping at %#llx", (unsigned long long)a);
	return NULL;
}

/* Whether the library's pointer @p is DMA address @a (seen through ours). */
static bool same_place(struct t *t, const void *p, uint64_t a)
{
	uint8_t *ours = at(t, a), old = *ours, mark = (uint8_t)(old ^ 0xff);
	bool same;

	*ours = mark;
	same = *(const volatile uint8_t *)p == mark;
	*ours = old;
	return same;
}

/* Every fd-backed byte still holds its pattern (nothing was written). */
static void untouched(struct t *t)
{
	for (unsigned int i = 0; i < t->nr; i++)
		for (uint64_t o = 0; o < t->m[i].size; o++)
			if (t->m[i].mem[o] != pattern(t->m[i].addr + o))
				fail_msg("byte at %#llx written",
					 (unsigned long long)(t->m[i].addr + o));
	for (uint64_t o = 0; o < sizeof(t->client); o++)
		if (t->client[o] != pattern(MSG_A + o))
			fail_msg("client byte at %#llx written",
				 (unsigned long long)(MSG_A + o));
}

/* Read [a, a + n) and expect every byte to be its pattern. */
static void read_ok(struct t *t, uint64_t a, size_t n)
{
	uint8_t buf[64];

	assert_true(n <= sizeof(buf));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(vus_dma_read(t->ctx, a, buf, n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf[i], pattern(a + i));
}

/* Write [a, a + n) with 0xee and expect it there, then restore it. */
static void write_ok(struct t *t, uint64_t a, size_t n)
{
	uint8_t buf[64];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(vus_dma_write(t->ctx, a, buf, n), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = a + i >= MSG_A && a + i < END(MSG_B)
				     ? &t->client[a + i - MSG_A] : at(t, a + i);

		assert_int_equal(*p, 0xee);
		*p = pattern(a + i);
	}
}

/* A read and a write of [a, a + n) both refused with @err, nothing moved. */
static void refused(struct t *t, uint64_t a, size_t n, int err)
{
	uint8_t buf[64];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(vus_dma_write(t->ctx, a, buf, n), err);
	assert_int_equal(vus_dma_read(t->ctx, a, buf, n), err);
	assert_int_equal(t->nr_calls, 0);
	untouched(t);
}

/* --- Copies: vus_dma_read / vus_dma_write. --- */

static void copies_ending_on_the_last_byte_are_served(void **state)
{
	struct t *t = setup();
	const uint64_t ends[] = { END(LOW), END(ADJ), END(ISLAND), END(ODD2),
				  END(LOG), END(LOGU), END(TOP) };

	(void)state;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		read_ok(t, ends[i] - 16, 16);
		read_ok(t, ends[i] - 1, 1);
		write_ok(t, ends[i] - 16, 16);
		write_ok(t, ends[i] - 1, 1);
	}
	/* The first bytes of the address space and of the top mapping. */
	read_ok(t, 0, 16);
	write_ok(t, 0, 1);
	read_ok(t, TOP, 16);
	/* The very last byte of the address space. */
	read_ok(t, UINT64_MAX, 1);
	write_ok(t, UINT64_MAX, 1);
	untouched(t);
	teardown(t);
}

static void copies_one_byte_into_a_gap_are_refused(void **state)
{
	struct t *t = setup();

	(void)state;
	/* One byte past the end, into nothing. */
	refused(t, END(ADJ) - 16, 17, -EFAULT);
	refused(t, END(ISLAND) - 16, 17, -EFAULT);
	refused(t, END(LOGU) - 1, 2, -EFAULT);
	refused(t, END(ADJ), 1, -EFAULT);
	/* One byte before the start, from nothing. */
	refused(t, ISLAND - 1, 17, -EFAULT);
	refused(t, TOP - 1, 2, -EFAULT);
	refused(t, LOGU - 1, 1, -EFAULT);
	/* Past the top of the address space: the range wraps. */
	refused(t, END(TOP) - 16, 17, -EINVAL);
	refused(t, UINT64_MAX, 2, -EINVAL);
	teardown(t);
}

static void copies_one_byte_into_the_next_mapping_are_served(void **state)
{
	struct t *t = setup();

	(void)state;
	read_ok(t, END(LOW) - 16, 17);
	write_ok(t, END(LOW) - 16, 17);
	read_ok(t, END(ODD) - 1, 2);
	write_ok(t, END(ODD) - 1, 2);
	untouched(t);
	teardown(t);
}

/* --- Scatter-gather: vus_dma_sg, and vus_dma_mark_dirty's walk. --- */

static void sg_at_the_edges(void **state)
{
	struct t *t = setup();
	struct vus_sg sg[2];
	size_t n;

	(void)state;
	/* Ending on the last byte: one piece, pointing at the right byte. */
	assert_int_equal(vus_dma_sg(t->ctx, END(ISLAND) - 16, 16, RW, sg, 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sg[0].len, 16);
	assert_true(same_place(t, sg[0].vaddr, END(ISLAND) - 16));
	assert_int_equal(vus_dma_sg(t->ctx, END(TOP) - 1, 1, RW, sg, 2, &n), 0);
	assert_true(same_place(t, sg[0].vaddr, UINT64_MAX));
	/* One byte into the next mapping: two pieces split at its start. */
	assert_int_equal(vus_dma_sg(t->ctx, END(LOW) - 16, 17, RW, sg, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sg[0].addr, END(LOW) - 16);
	assert_int_equal(sg[0].len, 16);
	assert_int_equal(sg[1].addr, ADJ);
	assert_int_equal(sg[1].len, 1);
	assert_true(same_place(t, sg[0].vaddr, END(LOW) - 16));
	assert_true(same_place(t, sg[1].vaddr, ADJ));
	/* ...which need room for two. */
	assert_int_equal(vus_dma_sg(t->ctx, END(LOW) - 16, 17, RW, sg, 1, &n),
			 -ENOSPC);
	assert_int_equal(n, 2);
	/* One byte into a gap, before a start, past 2^64. */
	assert_int_equal(vus_dma_sg(t->ctx, END(ISLAND) - 16, 17, RW, sg, 2, &n),
			 -EFAULT);
	assert_int_equal(vus_dma_sg(t->ctx, ISLAND - 1, 2, VUS_DMA_READ, sg, 2,
				    &n), -EFAULT);
	assert_int_equal(vus_dma_sg(t->ctx, END(TOP) - 16, 17, RW, sg, 2, &n),
			 -EINVAL);
	/* fd-less memory has no pointer, even when it ends exactly. */
	assert_int_equal(vus_dma_sg(t->ctx, END(MSG_A) - 16, 16, VUS_DMA_READ,
				    sg, 2, &n), -EOPNOTSUPP);
	teardown(t);
}

static void mark_dirty_at_the_edges(void **state)
{
	struct t *t = setup();

	(void)state;
	assert_int_equal(vus_dma_mark_dirty(t->ctx, END(ISLAND) - 16, 16), 0);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, END(LOW) - 16, 17), 0);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, END(TOP) - 16, 16), 0);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, END(ISLAND) - 16, 17), -EFAULT);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, ISLAND - 1, 2), -EFAULT);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, END(TOP) - 16, 17), -EINVAL);
	teardown(t);
}

/* A new mapping may touch an old one but not share a byte with it. */
static void maps_touching_and_overlapping_by_one_byte(void **state)
{
	struct t *t = setup();
	struct dma_table *dt = ctx_dma(t->ctx);

	(void)state;
	assert_int_equal(dma_map_check(dt, ISLAND - 0x1000, 0x1000, RW), 0);
	assert_int_equal(dma_map_check(dt, ISLAND - 0x1000, 0x1001, RW), -EEXIST);
	assert_int_equal(dma_map_check(dt, END(ISLAND), 0x1000, RW), 0);
	assert_int_equal(dma_map_check(dt, END(ISLAND) - 1, 0x1000, RW), -EEXIST);
	assert_int_equal(dma_map_check(dt, TOP - 0x1000, 0x1000, RW), 0);
	assert_int_equal(dma_map_check(dt, TOP - 0x1000, 0x1001, RW), -EEXIST);
	/* And at the very top: up to 2^64, not one byte further. */
	assert_int_equal(dma_map_check(dt, UINT64_MAX, 1, RW), -EEXIST);
	assert_int_equal(dma_map_check(dt, UINT64_MAX, 2, RW), -EINVAL);
	teardown(t);
}

/*
 * The dirty bitmaps stop at DMA_LOG_MAX_WORDS words in all: a mapping
 * (fd-less, so any size) needing one word more is refused when logging
 * starts and when it is mapped while logging. The mapping that needs
 * exactly the maximum is not made here: its bitmap is 256 MiB.
 */
static void dirty_bitmaps_one_word_past_the_limit(void **state)
{
	const uint64_t huge = (DMA_LOG_MAX_WORDS + 1) * 64 * PG;
	struct vus_dma_region out;
	struct dma_table *dt;

	(void)state;
	assert_int_equal(dma_table_create(NULL, 4, &dt), 0);
	assert_int_equal(dma_add(dt, 0, huge, RW, -1, 0, &out), 0);
	assert_int_equal(dma_log_start(dt), -E2BIG);
	dma_table_destroy(dt);
	assert_int_equal(dma_table_create(NULL, 4, &dt), 0);
	assert_int_equal(dma_log_start(dt), 0);
	assert_int_equal(dma_add(dt, 0, huge, RW, -1, 0, &out), -E2BIG);
	/* Read-only memory has no bitmap: the device cannot write it. */
	assert_int_equal(dma_add(dt, 0, huge, VUS_DMA_READ, -1, 0, &out), 0);
	dma_table_destroy(dt);
}

/* --- Untorn accessors: one access, inside one mapping. --- */

static int untorn_read(vus_ctx *c, uint64_t a, unsigned int size, uint64_t *v)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	int ret;

	switch (size) {
	case 1: ret = vus_dma_read8(c, a, &v8); *v = v8; return ret;
	case 2: ret = vus_dma_read16(c, a, &v16); *v = v16; return ret;
	case 4: ret = vus_dma_read32(c, a, &v32); *v = v32; return ret;
	default: return vus_dma_read64(c, a, v);
	}
}

static int untorn_write(vus_ctx *c, uint64_t a, unsigned int size, uint64_t v)
{
	switch (size) {
	case 1: return vus_dma_write8(c, a, (uint8_t)v);
	case 2: return vus_dma_write16(c, a, (uint16_t)v);
	case 4: return vus_dma_write32(c, a, (uint32_t)v);
	default: return vus_dma_write64(c, a, v);
	}
}

/* A read and a write of @size at @a both give @err, nothing written. */
static void untorn_refused(struct t *t, uint64_t a, unsigned int size, int err)
{
	uint64_t v = 0;

	assert_int_equal(untorn_write(t->ctx, a, size, ~0ull), err);
	assert_int_equal(untorn_read(t->ctx, a, size, &v), err);
	untouched(t);
}

static void untorn_ending_on_the_last_byte_is_served(void **state)
{
	struct t *t = setup();
	const uint64_t ends[] = { END(LOW), END(ADJ), END(ISLAND), END(TOP) };

	(void)state;
	for (unsigned int size = 1; size <= 8; size *= 2)
		for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
			uint64_t a = ends[i] - size, v = 0, want;

			memcpy(&want, at(t, a), size);
			want &= size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
			assert_int_equal(untorn_read(t->ctx, a, size, &v), 0);
			assert_int_equal(v, want);
			assert_int_equal(untorn_write(t->ctx, a, size, 0xeeeeeeeeeeeeeeeeull), 0);
			for (unsigned int k = 0; k < size; k++) {
				assert_int_equal(at(t, a)[k], 0xee);
				at(t, a)[k] = pattern(a + k);
			}
		}
	/* Mappings of exactly the access, and ones ending off alignment. */
	uint64_t v;

	for (unsigned int size = 2; size <= 8; size *= 2) {
		assert_int_equal(untorn_read(t->ctx, EXACT(size), size, &v), 0);
		assert_int_equal(untorn_write(t->ctx, EXACT(size), size, v), 0);
	}
	assert_int_equal(untorn_read(t->ctx, ODD + 6, 1, &v), 0);
	assert_int_equal(untorn_read(t->ctx, ODD + 4, 2, &v), 0);
	assert_int_equal(untorn_read(t->ctx, ODD + 8, 8, &v), 0);
	untouched(t);
	teardown(t);
}

static void untorn_one_byte_past_the_end_is_refused(void **state)
{
	struct t *t = setup();

	(void)state;
	for (unsigned int size = 1; size <= 8; size *= 2) {
		/* Starting right past the end, or right before the start. */
		untorn_refused(t, END(ISLAND), size, -EFAULT);
		untorn_refused(t, ISLAND - size, size, -EFAULT);
		untorn_refused(t, TOP - size, size, -EFAULT);
		/* fd-less memory: no single access possible. */
		untorn_refused(t, END(MSG_A) - size, size, -EOPNOTSUPP);
	}
	/* Aligned, but the mapping ends one byte short: into a gap... */
	for (unsigned int size = 2; size <= 8; size *= 2)
		untorn_refused(t, SHORT(size), size, -EFAULT);
	/* ...or into the next mapping: one access cannot span two. */
	untorn_refused(t, ODD, 8, -EFAULT);
	untorn_refused(t, ODD + 4, 4, -EFAULT);
	untorn_refused(t, ODD + 6, 2, -EFAULT);
	teardown(t);
}

/* --- fd-less memory: DMA_READ/DMA_WRITE messages. --- */

static void messages_at_the_edges(void **state)
{
	struct t *t = setup();

	(void)state;
	/* Ending on the last byte: one message for exactly those bytes. */
	read_ok(t, END(MSG_A) - 8, 8);
	assert_int_equal(t->nr_calls, 1);
	assert_int_equal(t->calls[0].addr, END(MSG_A) - 8);
	assert_int_equal(t->calls[0].len, 8);
	/* One byte into the adjacent mapping: two messages, split there. */
	t->nr_calls = 0;
	write_ok(t, END(MSG_A) - 8, 9);
	assert_int_equal(t->nr_calls, 2);
	assert_true(t->calls[0].write && t->calls[1].write);
	assert_int_equal(t->calls[0].addr, END(MSG_A) - 8);
	assert_int_equal(t->calls[0].len, 8);
	assert_int_equal(t->calls[1].addr, MSG_B);
	assert_int_equal(t->calls[1].len, 1);
	/* One byte into the gap after MSG_B: no message at all. */
	t->nr_calls = 0;
	refused(t, END(MSG_B) - 8, 9, -EFAULT);
	refused(t, END(MSG_B) - 1, 2, -EFAULT);
	refused(t, MSG_A - 1, 2, -EFAULT);
	teardown(t);
}

/* --- The dirty page log at page edges. --- */

/* Report [iova, iova + len) at 4 KiB pages into @bm (cleared first). */
static void report(struct t *t, uint64_t iova, uint64_t len, uint64_t *bm,
		   size_t words)
{
	memset(bm, 0, words * 8);
	assert_int_equal(dma_log_report(ctx_dma(t->ctx), iova, len, PG, bm), 0);
}

/* The pages of [iova, iova + len) reported dirty are exactly @want. */
static void dirty_is(struct t *t, uint64_t iova, uint64_t len, uint64_t want)
{
	uint64_t bm[2];

	assert_true(len / PG <= 64);
	report(t, iova, len, bm, 2);
	if (bm[0] != want)
		fail_msg("pages of %#llx: %#llx reported, %#llx written",
			 (unsigned long long)iova, (unsigned long long)bm[0],
			 (unsigned long long)want);
	/* Reported means taken: the next report is clean. */
	report(t, iova, len, bm, 2);
	assert_int_equal(bm[0], 0);
}

static struct t *setup_logging(void)
{
	struct t *t = setup();

	assert_int_equal(dma_log_start(ctx_dma(t->ctx)), 0);
	return t;
}

static void dirty_writes_across_page_edges(void **state)
{
	struct t *t = setup_logging();
	uint8_t buf[0x1010];

	(void)state;
	memset(buf, 0x5a, sizeof(buf));
	/* Eight bytes over the edge of pages 1 and 2. */
	assert_int_equal(vus_dma_write(t->ctx, LOG + 0x1ffc, buf, 8), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x6);
	/* Unaligned, from the end of page 0 to the start of page 2. */
	assert_int_equal(vus_dma_write(t->ctx, LOG + 0x0ffc, buf, 0x1008), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x7);
	/* Ending on the last byte of page 3: page 4 stays clean. */
	assert_int_equal(vus_dma_write(t->ctx, LOG + 0x3ff0, buf, 16), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x8);
	/* Starting on the first byte of page 5, one byte. */
	assert_int_equal(vus_dma_write(t->ctx, LOG + 0x5000, buf, 1), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x20);
	/* The last page of the mapping, and its very last byte. */
	assert_int_equal(vus_dma_write(t->ctx, END(LOG) - 1, buf, 1), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x80);
	/* From one mapping into the next: pages of both. */
	assert_int_equal(vus_dma_write(t->ctx, END(LOW) - 4, buf, 8), 0);
	dirty_is(t, LOW, LOW_SIZE + ADJ_SIZE, 0x6);
	teardown(t);
}

static void dirty_untorn_writes_at_page_edges(void **state)
{
	struct t *t = setup_logging();

	(void)state;
	/* Each ends on the last byte of its page; the next stays clean. */
	for (unsigned int size = 1, pg = 0; size <= 8; size *= 2, pg++)
		assert_int_equal(untorn_write(t->ctx, LOG + (pg + 1) * PG - size,
					      size, 1), 0);
	dirty_is(t, LOG, LOG_SIZE, 0xf);
	/* Each on the first byte of its page. */
	for (unsigned int size = 1, pg = 4; size <= 8; size *= 2, pg++)
		assert_int_equal(untorn_write(t->ctx, LOG + pg * PG, size, 1), 0);
	dirty_is(t, LOG, LOG_SIZE, 0xf0);
	teardown(t);
}

static void dirty_sg_and_mark_across_page_edges(void **state)
{
	struct t *t = setup_logging();
	struct vus_sg sg[2];
	size_t n;

	(void)state;
	/* vus_dma_sg for writing marks the range it hands out... */
	assert_int_equal(vus_dma_sg(t->ctx, LOG + 0x2ffe, 4, VUS_DMA_WRITE, sg, 2,
				    &n), 0);
	dirty_is(t, LOG, LOG_SIZE, 0xc);
	/* ...for reading it does not. */
	assert_int_equal(vus_dma_sg(t->ctx, LOG + 0x2ffe, 4, VUS_DMA_READ, sg, 2,
				    &n), 0);
	dirty_is(t, LOG, LOG_SIZE, 0);
	/* The device's own mark after writing through the pointer: three
	 * pages from an unaligned start, and one ending on a page's end. */
	memset(sg[0].vaddr, 0x11, 4);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, LOG + 0x4fff, 0x1002), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x70);
	assert_int_equal(vus_dma_mark_dirty(t->ctx, LOG + 0x7000, 0x1000), 0);
	dirty_is(t, LOG, LOG_SIZE, 0x80);
	teardown(t);
}

static void dirty_message_writes_across_page_edges(void **state)
{
	struct t *t = setup_logging();
	uint8_t buf[8];

	(void)state;
	memset(buf, 0x33, sizeof(buf));
	/* DMA_WRITE messages: the client applies them, the log has them
	 * too (a VMM that does not log its own writes loses nothing). */
	assert_int_equal(vus_dma_write(t->ctx, END(MSG_A) - 4, buf, 8), 0);
	assert_int_equal(t->nr_calls, 2);
	dirty_is(t, MSG_A, 2 * MSG_SIZE, 0x6);
	/* Across a page edge inside one mapping; ending on a page's end. */
	assert_int_equal(vus_dma_write(t->ctx, MSG_A + PG - 4, buf, 8), 0);
	dirty_is(t, MSG_A, 2 * MSG_SIZE, 0x3);
	assert_int_equal(vus_dma_write(t->ctx, END(MSG_B) - 8, buf, 8), 0);
	dirty_is(t, MSG_A, 2 * MSG_SIZE, 0x8);
	teardown(t);
}

static void dirty_reports_of_part_of_a_mapping(void **state)
{
	struct t *t = setup_logging();
	uint64_t bm[2];

	(void)state;
	/* Pages 1, 2, 3 and 6 written. */
	assert_int_equal(vus_dma_mark_dirty(t->ctx, LOG + 0x1800, 0x2001), 0);
	assert_int_equal(vus_dma_write8(t->ctx, LOG + 0x6000, 1), 0);
	/* A range starting at page 2 and ending with page 3: bits 0 and 1,
	 * and pages 1 and 6 (outside it) stay for a later report. */
	report(t, LOG + 0x2000, 0x2000, bm, 2);
	assert_int_equal(bm[0], 0x3);
	report(t, LOG, 0x2000, bm, 2);
	assert_int_equal(bm[0], 0x2);
	report(t, LOG + 0x4000, 0x4000, bm, 2);
	assert_int_equal(bm[0], 0x4);
	report(t, LOG, LOG_SIZE, bm, 2);
	assert_int_equal(bm[0], 0);
	/* A mapping that starts and ends inside pages: its first and last
	 * bytes dirty the pages that hold them, reported where they lie. */
	assert_int_equal(vus_dma_write8(t->ctx, LOGU, 1), 0);
	assert_int_equal(vus_dma_write8(t->ctx, END(LOGU) - 1, 1), 0);
	dirty_is(t, LOGU & ~(PG - 1), 0x4000, 0x9);
	/* A range from the middle of the mapping to its end. */
	assert_int_equal(vus_dma_write8(t->ctx, END(LOGU) - 1, 1), 0);
	dirty_is(t, LOGU + 0x800, 0x2800, 0x4);
	/* A range that covers the mapping and memory beyond. */
	assert_int_equal(vus_dma_write(t->ctx, LOGU + 0x7ff, "ab", 2), 0);
	dirty_is(t, LOGU - 0x800, 0x8000, 0x3);
	teardown(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(copies_ending_on_the_last_byte_are_served),
		VTEST(copies_one_byte_into_a_gap_are_refused),
		VTEST(copies_one_byte_into_the_next_mapping_are_served),
		VTEST(sg_at_the_edges),
		VTEST(mark_dirty_at_the_edges),
		VTEST(maps_touching_and_overlapping_by_one_byte),
		VTEST(dirty_bitmaps_one_word_past_the_limit),
		VTEST(untorn_ending_on_the_last_byte_is_served),
		VTEST(untorn_one_byte_past_the_end_is_refused),
		VTEST(messages_at_the_edges),
		VTEST(dirty_writes_across_page_edges),
		VTEST(dirty_untorn_writes_at_page_edges),
		VTEST(dirty_sg_and_mark_across_page_edges),
		VTEST(dirty_message_writes_across_page_edges),
		VTEST(dirty_reports_of_part_of_a_mapping),
	};

	return vtest_run("dma_edge", tests, argc, argv);
}
