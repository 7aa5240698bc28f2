/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: message round trips through libvus. A libvus server on a
 * thread and the libvus client in the main thread, a real socketpair
 * between them, measure
 *   - 4-byte REGION_READ round trips (a guest's register read),
 *   - 4-byte posted REGION_WRITEs (NO_REPLY, as QEMU sends MMIO writes),
 *   - 1 MiB REGION_READs of memory-backed region data;
 * and the same message sizes handled by a bare blocking loop (read header,
 * read body, write reply; no checks, no dispatch): the floor that the
 * kernel's socket path sets. Ratios above 1 are libvus's overhead.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vus.h"
#include "vus/client.h"

#define SMALL_OPS 200000
#define POSTED_OPS 500000
#define BIG_OPS 400
#define BIG (1u << 20)

static uint32_t regs[1024];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rd(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, (uint8_t *)regs + off, len);
	return 0;
}

static int wr(vus_ctx *ctx, void *o, uint64_t off, const void *buf, size_t len)
{
	memcpy((uint8_t *)regs + off, buf, len);
	return 0;
}

static void *serve(void *arg)
{
	vus_ctx_run(arg);
	return NULL;
}

static vus_ctx *make_server(int fd)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = rd, .write = wr };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_region_desc r0 = { .struct_size = sizeof(r0), .size = 4096,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops };
	struct vus_region_desc r1 = { .struct_size = sizeof(r1), .size = 2 * BIG,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM };
	vus_ctx *ctx;

	if (vus_ctx_create(&cfg, &ctx) < 0 || vus_region_setup(ctx, 0, &r0) < 0 ||
	    vus_region_setup(ctx, 1, &r1) < 0 || vus_ctx_realize(ctx) < 0 ||
	    vus_ctx_attach_fd(ctx, fd) < 0)
		exit(1);
	return ctx;
}

struct figures { double small_us, posted_mps, big_gbs; };

static void bench_libvus(struct figures *f)
{
	uint8_t *big = malloc(BIG);
	uint32_t v = 1;
	vus_client *c;
	pthread_t th;
	vus_ctx *ctx;
	double t0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	ctx = make_server(sv[0]);
	pthread_create(&th, NULL, serve, ctx);
	if (vus_client_attach_fd(sv[1], NULL, &c) < 0)
		exit(1);
	t0 = now_s();
	for (int i = 0; i < SMALL_OPS; i++)
		if (vus_client_region_read(c, 0, 16, &v, 4) < 0)
			exit(1);
	f->small_us = (now_s() - t0) / SMALL_OPS * 1e6;
	t0 = now_s();
	for (int i = 0; i < POSTED_OPS; i++)
		if (vus_client_region_write_posted(c, 0, 16, &i, 4) < 0)
			exit(1);
	/* A read behind them: the server has applied every write. */
	if (vus_client_region_read(c, 0, 16, &v, 4) < 0 || v != POSTED_OPS - 1)
		exit(1);
	f->posted_mps = POSTED_OPS / (now_s() - t0) / 1e6;
	t0 = now_s();
	for (int i = 0; i < BIG_OPS; i++)
		if (vus_client_region_read(c, 1, 0, big, BIG) < 0)
			exit(1);
	f->big_gbs = (double)BIG * BIG_OPS / (now_s() - t0) / 1e9;
	vus_client_close(c);
	pthread_join(th, NULL);
	vus_ctx_destroy(ctx);
	free(big);
}

/* The floor: a blocking loop that frames messages and does nothing else. */
struct bare { int fd; uint8_t *mem; };

static int full(int fd, void *p, size_t len, bool in)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = in ? recv(fd, (uint8_t *)p + done, len - done, 0)
			       : send(fd, (uint8_t *)p + done, len - done, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static void *bare_server(void *arg)
{
	struct bare *b = arg;
	uint8_t hdr[16], body[32];

	while (full(b->fd, hdr, 16, true) == 0) {
		uint32_t size, count;
		struct iovec iov[3];

		memcpy(&size, hdr + 4, 4);
		if (size > 16 + sizeof(body) || full(b->fd, body, size - 16, true) < 0)
			break;
		memcpy(&count, body + 12, 4);
		if (hdr[8] & 0x10)
			continue; /* posted */
		iov[0] = (struct iovec){ hdr, 16 };
		iov[1] = (struct iovec){ body, 16 };
		iov[2] = (struct iovec){ b->mem, hdr[2] == 9 ? count : 0 };
		size = 32 + (hdr[2] == 9 ? count : 0);
		memcpy(hdr + 4, &size, 4);
		if (writev(b->fd, iov, 3) < 0)
			break;
	}
	return NULL;
}

static void bare_call(int fd, uint16_t cmd, uint32_t flags, uint32_t count,
		      uint8_t *reply, size_t reply_len)
{
	uint8_t msg[36] = { 0 };
	uint32_t size = cmd == 10 ? 36 : 32;

	memcpy(msg + 2, &cmd, 2);
	memcpy(msg + 4, &size, 4);
	memcpy(msg + 8, &flags, 4);
	memcpy(msg + 28, &count, 4);
	if (full(fd, msg, size, false) < 0 ||
	    (!(flags & 0x10) && full(fd, reply, reply_len, true) < 0))
		exit(1);
}

static void bench_bare(struct figures *f)
{
	struct bare b = { .mem = calloc(1, BIG) };
	uint8_t *reply = malloc(BIG + 32);
	pthread_t th;
	double t0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	b.fd = sv[0];
	pthread_create(&th, NULL, bare_server, &b);
	t0 = now_s();
	for (int i = 0; i < SMALL_OPS; i++)
		bare_call(sv[1], 9, 0, 4, reply, 36);
	f->small_us = (now_s() - t0) / SMALL_OPS * 1e6;
	t0 = now_s();
	for (int i = 0; i < POSTED_OPS; i++)
		bare_call(sv[1], 10, 0x10, 4, reply, 0);
	bare_call(sv[1], 9, 0, 4, reply, 36);
	f->posted_mps = POSTED_OPS / (now_s() - t0) / 1e6;
	t0 = now_s();
	for (int i = 0; i < BIG_OPS; i++)
		bare_call(sv[1], 9, 0, BIG, reply, BIG + 32);
	f->big_gbs = (double)BIG * BIG_OPS / (now_s() - t0) / 1e9;
	close(sv[1]);
	pthread_join(th, NULL);
	close(sv[0]);
	free(b.mem);
	free(reply);
}

int main(void)
{
	struct figures v, b;

	bench_libvus(&v);
	bench_bare(&b);
	printf("message round trips, client and server in one process, one socketpair\n");
	printf("%-28s %12s %12s %8s\n", "", "libvus", "bare loop", "ratio");
	printf("%-28s %9.2f us %9.2f us %7.2fx\n", "4-byte REGION_READ",
	       v.small_us, b.small_us, v.small_us / b.small_us);
	printf("%-28s %7.2f Mmsg/s %7.2f Mmsg/s %7.2fx\n", "4-byte posted REGION_WRITE",
	       v.posted_mps, b.posted_mps, b.posted_mps / v.posted_mps);
	printf("%-28s %8.2f GB/s %8.2f GB/s %7.2fx\n", "1 MiB REGION_READ",
	       v.big_gbs, b.big_gbs, b.big_gbs / v.big_gbs);
	return 0;
}
