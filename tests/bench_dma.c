/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: DMA address translation. A device translates guest addresses
 * on every descriptor it touches; with many client mappings (virtio-mem,
 * vIOMMU) a linear search would dominate. Prints ns per translation for
 * 1..16384 mappings with libvus's table (vus_dma_sg: a binary search with
 * no lock, safe while the client maps more), and the same lookups done the
 * simple thread-safe way: a linear scan under a read lock. Also the cost
 * of such a lock alone. Each figure includes reading the 8 bytes, so with
 * several mappings part of it is the TLB and cache misses both pay.
 * Then what the table itself costs a grant: a mapping (no fd, so no mmap)
 * added and removed below all the others, where a table that shifts its
 * later entries shifts them all.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
#include "vus.h"

#define MAP_SIZE 4096u
#define GAP 4096u
#define LOOKUPS 2000000u

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct lin { uint64_t addr, last; uint8_t *vaddr; };

static pthread_rwlock_t lin_lock = PTHREAD_RWLOCK_INITIALIZER;

/* What a simple thread-safe implementation would do: walk the list. */
static uint8_t *linear(const struct lin *l, size_t n, uint64_t addr)
{
	uint8_t *p = NULL;

	pthread_rwlock_rdlock(&lin_lock);
	for (size_t i = 0; i < n && p == NULL; i++)
		if (addr >= l[i].addr && addr <= l[i].last)
			p = l[i].vaddr + (addr - l[i].addr);
	pthread_rwlock_unlock(&lin_lock);
	return p;
}

/* The lock alone, for scale. */
static double lock_ns(void)
{
	double t0 = now_ns();

	for (unsigned int k = 0; k < LOOKUPS; k++) {
		pthread_rwlock_rdlock(&lin_lock);
		pthread_rwlock_unlock(&lin_lock);
	}
	return (now_ns() - t0) / LOOKUPS;
}

#define PAIRS 4000u

/* The table's cost of a grant added and withdrawn below every mapping. */
static double pair_ns(vus_ctx *ctx)
{
	struct vus_dma_region r;
	double t0 = now_ns();

	for (unsigned int k = 0; k < PAIRS; k++)
		if (dma_add(ctx_dma(ctx), 0x1000, MAP_SIZE, VUS_DMA_READ, -1, 0,
			    &r) < 0 ||
		    dma_remove(ctx_dma(ctx), 0x1000, MAP_SIZE, NULL, NULL) != 1)
			return -1;
	return (now_ns() - t0) / PAIRS;
}

static int run(size_t n, int memfd)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS, .max_dma_maps = 65535 };
	struct lin *l = calloc(n, sizeof(*l));
	uint64_t seed = 88172645463325252ull, sum = 0;
	double t0, t_vus, t_lin;
	vus_ctx *ctx;

	if (vus_ctx_create(&cfg, &ctx) < 0 || vus_ctx_realize(ctx) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct vus_dma_region r;
		uint64_t addr = 0x100000000ull + i * (MAP_SIZE + GAP);
		int ret = dma_add(ctx_dma(ctx), addr, MAP_SIZE,
				  VUS_DMA_READ | VUS_DMA_WRITE, dup(memfd),
				  (i % 256) * MAP_SIZE, &r);
		if (ret < 0) {
			fprintf(stderr, "dma_add %zu: %s\n", i, strerror(-ret));
			return -1;
		}
		l[i] = (struct lin){ addr, addr + MAP_SIZE - 1, r.vaddr };
	}
	t0 = now_ns();
	for (unsigned int k = 0; k < LOOKUPS; k++) {
		uint64_t i = rnd(&seed) % n, v;
		uint64_t addr = l[i].addr + (rnd(&seed) % (MAP_SIZE / 8)) * 8;
		struct vus_sg sg;
		size_t nsg;

		if (vus_dma_sg(ctx, addr, 8, VUS_DMA_READ, &sg, 1, &nsg) < 0)
			return -1;
		memcpy(&v, sg.vaddr, 8);
		sum += v;
	}
	t_vus = (now_ns() - t0) / LOOKUPS;
	seed = 88172645463325252ull;
	t0 = now_ns();
	for (unsigned int k = 0; k < LOOKUPS / (n > 1024 ? 64 : 1); k++) {
		uint64_t i = rnd(&seed) % n, v;
		uint64_t addr = l[i].addr + (rnd(&seed) % (MAP_SIZE / 8)) * 8;

		memcpy(&v, linear(l, n, addr), 8);
		sum += v;
	}
	t_lin = (now_ns() - t0) / (LOOKUPS / (n > 1024 ? 64 : 1));
	printf("%6zu mappings: libvus %7.1f ns/translation, locked linear scan %9.1f ns, "
	       "speed-up %6.1fx%s; add+remove below them %7.0f ns\n", n, t_vus,
	       t_lin, t_lin / t_vus, sum == 42 ? " " : "", pair_ns(ctx));
	vus_ctx_destroy(ctx);
	free(l);
	return 0;
}

int main(void)
{
	static const size_t sizes[] = { 1, 4, 64, 1024, 16384 };
	int memfd = memfd_create("bench-ram", MFD_CLOEXEC);

	if (memfd < 0 || ftruncate(memfd, 256 * MAP_SIZE) < 0)
		return 1;
	printf("DMA translation (vus_dma_sg of 8 bytes at a random mapped address)\n");
	printf("uncontended read lock + unlock alone: %.1f ns\n", lock_ns());
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (run(sizes[i], memfd) < 0)
			return 1;
	close(memfd);
	return 0;
}
