/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: copying guest memory through libvus's DMA helpers, against
 * plain memcpy of the same bytes. A server context runs on a thread; a
 * client on the other end of a socketpair grants it 64 MiB of memfd "guest
 * RAM" with DMA_MAP, as a VMM does. From the main thread (a device's
 * worker) we then copy blocks of 64 B .. 1 MiB between that memory and a
 * local buffer with
 *   - vus_dma_read / vus_dma_write,
 *   - vus_dma_sg (translate) + memcpy of each piece,
 *   - memcpy on the very same mapping (the pointer vus_dma_sg gave us),
 * walking the same addresses in each case: block after block through a
 * 256 KiB window (cache-hot: the harshest test of a fixed cost per
 * call), then a 32 MiB one. Each figure is the best of several runs;
 * the ratio is throughput against memcpy (1.00 = no overhead). The aim
 * is >= 0.90 from 4 KiB up. Public API only: what a device sees.
 *
 *   bench_dma_copy [MIB-PER-FIGURE]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vus.h"
#include "vus/client.h"

#define GPA 0x100000000ull
#define RAM (64u << 20)
#define REPS 5

enum method { M_MEMCPY, M_DMA, M_SG, NR_METHODS };

static vus_ctx *ctx;
static uint8_t *guest;  /* the server's mapping of the RAM */
static uint8_t *local;
static double mib_per_figure = 256;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *serve(void *arg)
{
	vus_ctx_run(arg);
	return NULL;
}

static void __attribute__((noreturn)) die(const char *what, int err)
{
	fprintf(stderr, "bench_dma_copy: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* One copy of @len bytes at @gpa, in or out, by @m. */
static void copy_one(enum method m, bool write, uint64_t gpa, size_t len)
{
	struct vus_sg sg[4];
	size_t n;
	int ret = 0;

	switch (m) {
	case M_MEMCPY:
		if (write)
			memcpy(guest + (gpa - GPA), local, len);
		else
			memcpy(local, guest + (gpa - GPA), len);
		break;
	case M_DMA:
		ret = write ? vus_dma_write(ctx, gpa, local, len)
			    : vus_dma_read(ctx, gpa, local, len);
		break;
	default:
		ret = vus_dma_sg(ctx, gpa, len, write ? VUS_DMA_WRITE : VUS_DMA_READ,
				 sg, 4, &n);
		for (size_t i = 0, off = 0; ret == 0 && i < n; off += sg[i].len, i++) {
			if (write)
				memcpy(sg[i].vaddr, local + off, sg[i].len);
			else
				memcpy(local + off, sg[i].vaddr, sg[i].len);
		}
		break;
	}
	if (ret < 0)
		die("copy", ret);
}

/*
 * ns per copy: the best of REPS runs over the same addresses, block after
 * block through @window bytes (at least two blocks).
 */
static double measure(enum method m, bool write, size_t len, size_t window)
{
	size_t iters = (size_t)(mib_per_figure * (1 << 20)) / len;
	double best = 1e30;

	if (window < 2 * len)
		window = 2 * len;

	for (int r = 0; r < REPS; r++) {
		double t0 = now_ns(), t;

		for (size_t i = 0; i < iters; i++)
			copy_one(m, write, GPA + (i * len) % window, len);
		t = (now_ns() - t0) / (double)iters;
		best = t < best ? t : best;
	}
	return best;
}

static void table(bool write, size_t window)
{
	static const size_t sizes[] = { 64, 256, 1024, 4096, 16384, 65536,
					262144, 1048576 };

	printf("\n%s: guest memory %s a local buffer, %zu KiB window\n",
	       write ? "vus_dma_write" : "vus_dma_read", write ? "from" : "into",
	       window >> 10);
	printf("%8s %10s %8s | %10s %8s %6s | %10s %8s %6s\n", "size",
	       "memcpy ns", "GB/s", "dma ns", "GB/s", "ratio", "sg+cpy ns",
	       "GB/s", "ratio");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		double t[NR_METHODS];

		/* Interleaved, so that clock changes hit all three alike. */
		for (int m = 0; m < NR_METHODS; m++)
			t[m] = measure((enum method)m, write, len, window);
		printf("%8zu %10.1f %8.2f | %10.1f %8.2f %6.2f | %10.1f %8.2f %6.2f\n",
		       len, t[M_MEMCPY], len / t[M_MEMCPY], t[M_DMA], len / t[M_DMA],
		       t[M_MEMCPY] / t[M_DMA], t[M_SG], len / t[M_SG],
		       t[M_MEMCPY] / t[M_SG]);
	}
}

/* A server on a thread, a client granting it RAM: @guest is its view. */
static void setup(vus_client **c, pthread_t *th)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_sg sg;
	void *mem;
	size_t n;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", -errno);
	ret = vus_ctx_create(&cfg, &ctx);
	if (ret == 0)
		ret = vus_ctx_realize(ctx);
	if (ret == 0)
		ret = vus_ctx_attach_fd(ctx, sv[0]);
	if (ret < 0)
		die("server", ret);
	pthread_create(th, NULL, serve, ctx);
	ret = vus_client_attach_fd(sv[1], NULL, c);
	if (ret == 0)
		ret = vus_client_dma_map_memfd(*c, GPA, RAM, VUS_CLIENT_DMA_READ |
					       VUS_CLIENT_DMA_WRITE, &mem);
	if (ret == 0)
		ret = vus_dma_sg(ctx, GPA, RAM, VUS_DMA_READ, &sg, 1, &n);
	if (ret < 0)
		die("client", ret);
	guest = sg.vaddr;
	memset(mem, 0x5a, RAM);
}

int main(int argc, char **argv)
{
	vus_client *c;
	pthread_t th;

	if (argc > 1)
		mib_per_figure = strtod(argv[1], NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup(&c, &th);
	local = aligned_alloc(4096, 1u << 20);
	if (local == NULL)
		die("aligned_alloc", -ENOMEM);
	memset(local, 0xa5, 1u << 20);
	printf("DMA copies through libvus (one fd-backed mapping of 64 MiB, "
	       "%.0f MiB per figure, best of %d)\n", mib_per_figure, REPS);
	printf("ratio = memcpy time / helper time (throughput relative to memcpy)\n");
	/* Cache-hot (the harshest for a fixed cost per call), then not. */
	table(false, 256u << 10);
	table(true, 256u << 10);
	table(false, 32u << 20);
	table(true, 32u << 20);
	vus_client_close(c);
	vus_ctx_stop(ctx);
	pthread_join(th, NULL);
	vus_ctx_destroy(ctx);
	free(local);
	return 0;
}
