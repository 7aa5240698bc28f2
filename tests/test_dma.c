/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DMA table's lock-free readers: device threads translate and copy
 * while the context thread inserts mappings all around theirs; every
 * translation must find its mapping and read the right bytes (a reader
 * that raced an insert retries instead of seeing a half-moved array).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
#include "vtest.h"
#include "vus.h"

#define READERS 3
#define INSERTS 3000

struct reader {
	vus_ctx *ctx;
	atomic_bool *stop;
	atomic_ulong reads;
	unsigned long bad;
};

/* The watched mapping sits in the middle of the DMA address space. */
#define WATCHED 0x800000000ull

static void *read_loop(void *arg)
{
	struct reader *r = arg;

	while (!atomic_load(r->stop)) {
		uint64_t v = 0;
		struct vus_sg sg;
		size_t n;

		if (vus_dma_read64(r->ctx, WATCHED + 8, &v) != 0 ||
		    v != 0x0123456789abcdefull)
			r->bad++;
		if (vus_dma_sg(r->ctx, WATCHED, 16, VUS_DMA_READ, &sg, 1, &n) != 0 ||
		    memcmp((uint8_t *)sg.vaddr + 8, &v, 8) != 0)
			r->bad++;
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

static unsigned long total_reads(struct reader *rd)
{
	unsigned long t = 0;

	for (int i = 0; i < READERS; i++)
		t += atomic_load(&rd[i].reads);
	return t;
}

static void readers_never_see_a_moving_table(void **state)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct reader rd[READERS];
	pthread_t th[READERS];
	atomic_bool stop = false;
	struct vus_dma_region r;
	uint64_t magic = 0x0123456789abcdefull;
	int fd = memfd_create("dma-test", MFD_CLOEXEC);
	vus_ctx *ctx;

	(void)state;
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_equal(pwrite(fd, &magic, 8, 8), 8);
	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	assert_int_equal(dma_add(ctx_dma(ctx), WATCHED, 4096,
				 VUS_DMA_READ | VUS_DMA_WRITE, dup(fd), 0, &r), 0);
	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){ .ctx = ctx, .stop = &stop };
		atomic_init(&rd[i].reads, 0);
		assert_int_equal(pthread_create(&th[i], NULL, read_loop, &rd[i]), 0);
	}
	/* Inserts below and above shift the watched entry back and forth;
	 * every batch waits for the readers to make progress, so they run
	 * in between even where threads are serialised (valgrind). */
	for (uint64_t i = 0; i < INSERTS; i++) {
		uint64_t addr = (i % 2 ? WATCHED + 0x100000000ull : 0) + i * 0x1000;

		if (i % 100 == 0) {
			unsigned long seen = total_reads(rd);

			while (total_reads(rd) < seen + READERS)
				sched_yield();
		}
		assert_int_equal(dma_add(ctx_dma(ctx), addr, 0x1000, VUS_DMA_READ,
					 -1, 0, &r), 0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rd[i].bad, 0);
	}
	assert_int_equal(vus_dma_nr_regions(ctx), INSERTS + 1);
	vus_ctx_destroy(ctx);
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(readers_never_see_a_moving_table),
	};

	return vtest_run("dma", tests, argc, argv);
}
