/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: DMA grants. A VMM maps guest RAM from one memfd (QEMU) and a
 * vIOMMU guest makes it map and unmap thousands of small ranges of that
 * same memfd, so what a DMA_MAP + DMA_UNMAP pair costs, and what live
 * mappings of one file cost, matter. The raw client of bench_raw.c drives
 * a libvus server process (max_dma_maps 65535) and the floor, which
 * answers the same two messages without acting on them (the fd the map
 * carries is dropped by its recv()). Prints, with L live 4 KiB mappings
 * of the memfd already granted (L = 1, 10, 100, 1000, 10000; the pair's
 * address is below them all, so a table that shifts its later entries
 * shifts all L):
 *   - the time per map of setting up those L mappings,
 *   - the server's virtual memory areas of that memfd (/proc/PID/maps):
 *     one mmap per file means one (or a few, where the kernel splits it),
 *   - a DMA_MAP + DMA_UNMAP pair of 2 MiB of the same memfd: both round
 *     trips, against the floor's,
 *   - the server's CPU per DMA message (the set-up maps included),
 * each pair figure the median of --repeat runs. Figures, not a test.
 *
 *   bench_dma_map [--repeat N] [--quick] [--csv FILE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_raw.h"
#include "vus.h"
#include "wire.h"

#define FILE_SIZE (64u << 20)
#define PAIR_SIZE (2u << 20)
#define SMALL 4096u
#define IOVA_SMALL 0x100000000ull
#define IOVA_PAIR 0x80000000ull

static int memfd = -1;

static void serve_libvus(int fd, void *arg)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS,
				      .max_dma_maps = 65535 };
	vus_ctx *ctx;

	(void)arg;
	close(memfd); /* the server has only what the client grants */
	if (vus_ctx_create(&cfg, &ctx) < 0 || vus_ctx_realize(ctx) < 0 ||
	    vus_ctx_attach_fd(ctx, fd) < 0)
		exit(1);
	bench_cpu_mark();
	(void)vus_ctx_run(ctx); /* until the client goes */
	vus_ctx_destroy(ctx);
}

static void serve_floor(int fd, void *arg)
{
	(void)arg;
	close(memfd);
	bench_floor_serve(fd);
}

static int map(int fd, uint64_t iova, uint64_t off, uint64_t size)
{
	return bench_map(fd, memfd, iova, off, size);
}

struct figure { double setup_us, pair_us, cpu_us; int vmas; };

/* One server: @live small maps, then @pairs map+unmap pairs. */
static struct figure run(void (*serve)(int, void *), unsigned int live,
			 unsigned int pairs)
{
	struct figure f;
	pid_t pid;
	int cpu_fd, fd = bench_fork_server(serve, NULL, &pid, &cpu_fd);
	double t0;

	if (bench_version(fd, 1u << 20) < 0)
		exit(1);
	t0 = bench_now();
	for (unsigned int i = 0; i < live; i++)
		if (map(fd, IOVA_SMALL + (uint64_t)i * 2 * SMALL,
			(uint64_t)i * SMALL % FILE_SIZE, SMALL) < 0)
			exit(1);
	f.setup_us = live ? (bench_now() - t0) / live * 1e6 : 0;
	f.vmas = bench_memfd_vmas(pid, "bench-dma-map");
	t0 = bench_now();
	for (unsigned int i = 0; i < pairs; i++)
		if (map(fd, IOVA_PAIR, PAIR_SIZE, PAIR_SIZE) < 0 ||
		    bench_unmap(fd, IOVA_PAIR, PAIR_SIZE) < 0)
			exit(1);
	f.pair_us = (bench_now() - t0) / pairs * 1e6;
	f.cpu_us = bench_join_server(fd, pid, cpu_fd) / (live + 2.0 * pairs) * 1e6;
	return f;
}

static double median(double *v, int n)
{
	bench_sort(v, n);
	return v[n / 2];
}

static void row(unsigned int live, int repeat, bool quick, FILE *csv)
{
	unsigned int pairs = quick ? 1000 : 10000;
	double pair[2][BENCH_MAX_REPEAT], cpu[2][BENCH_MAX_REPEAT];
	double setup[BENCH_MAX_REPEAT];
	int vmas = 0;

	for (int k = 0; k < repeat; k++) {
		struct figure v = run(serve_libvus, live, pairs);
		struct figure fl = run(serve_floor, 0, pairs);

		pair[0][k] = v.pair_us;
		cpu[0][k] = v.cpu_us;
		setup[k] = v.setup_us;
		vmas = v.vmas;
		pair[1][k] = fl.pair_us;
		cpu[1][k] = fl.cpu_us;
	}
	double p0 = median(pair[0], repeat), p1 = median(pair[1], repeat);
	double c0 = median(cpu[0], repeat), c1 = median(cpu[1], repeat);
	double s = median(setup, repeat);

	printf("%10u %14.2f %10d | %9.2f %9.2f %6.2fx | %9.2f %9.2f %6.2fx\n",
	       live, s, vmas, p0, p1, p0 / p1, c0, c1, c0 / c1);
	if (csv != NULL)
		fprintf(csv, "%u,%.3f,%d,%.3f,%.3f,%.3f,%.3f\n", live, s, vmas,
			p0, p1, c0, c1);
}

int main(int argc, char **argv)
{
	static const unsigned int lives[] = { 1, 10, 100, 1000, 10000 };
	struct bench_opts o;
	FILE *csv = NULL;

	if (bench_parse(argc, argv, &o) < 0)
		return 2;
	memfd = memfd_create("bench-dma-map", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, FILE_SIZE) < 0)
		return 1;
	if (o.csv != NULL && (csv = fopen(o.csv, "w")) == NULL) {
		perror(o.csv);
		return 1;
	}
	if (csv != NULL)
		fprintf(csv, "live,setup_us,vmas,pair_us,floor_pair_us,cpu_us,floor_cpu_us\n");
	printf("DMA_MAP + DMA_UNMAP of 2 MiB of a memfd, with L live 4 KiB maps of the same memfd;\n"
	       "median of %d runs; floor: the same messages answered without acting on them;\n"
	       "server CPU per DMA message (the set-up maps included)\n", o.repeat);
	printf("%10s %14s %10s | %9s %9s %7s | %9s %9s %7s\n", "live maps L",
	       "set-up us/map", "memfd VMAs", "pair us", "floor us", "ratio",
	       "CPU us/msg", "floor", "ratio");
	for (size_t i = 0; i < sizeof(lives) / sizeof(lives[0]); i++)
		row(lives[i], o.repeat, o.quick, csv);
	if (csv != NULL)
		fclose(csv);
	close(memfd);
	return 0;
}
