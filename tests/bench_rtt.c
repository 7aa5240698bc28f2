/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: message round trips, and the server's CPU per request.
 *
 * One raw client (bench_raw.c: blocking send of the request, blocking
 * receive of the reply) drives, in turn, a libvus server process and the
 * floor: a bare server process that takes whatever came with one recv()
 * and answers each request with one sendmsg(), checking nothing. For
 * REGION_READ replies from 4 bytes (a register read, served by a
 * callback) to 1 MiB (region memory), and for posted 4-byte writes, it
 * prints the round trip (or rate) and the server's CPU time per request
 * (CLOCK_PROCESS_CPUTIME_ID of the server process, set-up excluded), each
 * as the median of --repeat runs with the range, and libvus / floor.
 * Run it pinned to one CPU (taskset -c 1) to measure the path rather
 * than the scheduler.
 *
 *   bench_rtt [--repeat N] [--quick] [--csv FILE]
 *   bench_rtt --serve PATH      one libvus server on PATH, one client;
 *                               for `strace -c -f` and tests/bench_vs.sh
 *                               (doc/performance.md)
 *   bench_rtt --client PATH N   N 4-byte register reads against PATH
 *   bench_rtt --posted PATH N   N posted 4-byte writes, then one read
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_raw.h"
#include "vus.h"

#define MEM_SIZE (2u << 20)
#define XFER (1u << 20)
#define POSTED 100000u

static uint32_t regs[1024];

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

/* Region 0: 4 KiB of registers (callbacks); region 1: 2 MiB of memory. */
static vus_ctx *make_ctx(void)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = rd, .write = wr };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS,
				      .max_data_xfer_size = XFER,
				      /* --serve takes bench_vs's 10,000 grants */
				      .max_dma_maps = 65535 };
	struct vus_region_desc r0 = { .struct_size = sizeof(r0), .size = 4096,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops };
	struct vus_region_desc r1 = { .struct_size = sizeof(r1),
		.size = MEM_SIZE, .flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM };
	vus_ctx *ctx;

	if (vus_ctx_create(&cfg, &ctx) < 0 || vus_region_setup(ctx, 0, &r0) < 0 ||
	    vus_region_setup(ctx, 1, &r1) < 0 || vus_ctx_realize(ctx) < 0)
		exit(1);
	return ctx;
}

static void serve_libvus(int fd, void *arg)
{
	vus_ctx *ctx = make_ctx();

	(void)arg;
	if (vus_ctx_attach_fd(ctx, fd) < 0)
		exit(1);
	bench_cpu_mark();
	(void)vus_ctx_run(ctx); /* until the client goes: -ENOTCONN */
	vus_ctx_destroy(ctx);
}

static void serve_floor(int fd, void *arg)
{
	(void)arg;
	bench_floor_serve(fd);
}

typedef void serve_fn(int fd, void *arg);

struct figure { double rtt_us, cpu_us; };

/* @ops reads of @size bytes (region 0 when @reg, else memory). */
static struct figure reads(serve_fn *serve, bool reg, uint32_t size,
			   unsigned int ops)
{
	uint8_t *data = malloc(size);
	struct figure f;
	pid_t pid;
	int cpu_fd, fd = bench_fork_server(serve, NULL, &pid, &cpu_fd);
	double t0;

	if (bench_version(fd, XFER) < 0)
		exit(1);
	t0 = bench_now();
	for (unsigned int i = 0; i < ops; i++)
		if (bench_read(fd, reg ? 0 : 1, reg ? 16 : 0, data, size) < 0)
			exit(1);
	f.rtt_us = (bench_now() - t0) / ops * 1e6;
	f.cpu_us = bench_join_server(fd, pid, cpu_fd) / ops * 1e6;
	free(data);
	return f;
}

/* Posted writes, then one read that comes back after all of them. */
static struct figure posted(serve_fn *serve, unsigned int ops)
{
	struct figure f;
	pid_t pid;
	int cpu_fd, fd = bench_fork_server(serve, NULL, &pid, &cpu_fd);
	uint32_t v;
	double t0;

	if (bench_version(fd, XFER) < 0)
		exit(1);
	t0 = bench_now();
	if (bench_posted_writes(fd, 0, 16, ops) < 0 ||
	    bench_read(fd, 0, 16, &v, 4) < 0)
		exit(1);
	f.rtt_us = (bench_now() - t0) / ops * 1e6; /* per write */
	f.cpu_us = bench_join_server(fd, pid, cpu_fd) / ops * 1e6;
	return f;
}

struct stat3 { double med, lo, hi; };

static struct stat3 summarize(double *v, int n)
{
	bench_sort(v, n);
	return (struct stat3){ v[n / 2], v[0], v[n - 1] };
}

struct row {
	const char *name;
	bool reg;      /* register (callback) region */
	bool is_posted;
	uint32_t size;
	unsigned int ops;
};

static void run_row(const struct row *r, int repeat, bool quick, FILE *csv)
{
	double rtt[2][BENCH_MAX_REPEAT], cpu[2][BENCH_MAX_REPEAT];
	serve_fn *servers[2] = { serve_libvus, serve_floor };
	unsigned int ops = quick ? (r->ops + 9) / 10 : r->ops;
	struct stat3 s[2][2];

	for (int k = 0; k < repeat; k++)
		for (int w = 0; w < 2; w++) {
			struct figure f = r->is_posted ? posted(servers[w], ops) :
					  reads(servers[w], r->reg, r->size, ops);
			rtt[w][k] = f.rtt_us;
			cpu[w][k] = f.cpu_us;
		}
	for (int w = 0; w < 2; w++) {
		s[w][0] = summarize(rtt[w], repeat);
		s[w][1] = summarize(cpu[w], repeat);
	}
	printf("%-22s %8.2f (%6.2f-%6.2f) %8.2f %6.2fx | %7.3f (%6.3f-%6.3f) %7.3f %6.2fx\n",
	       r->name, s[0][0].med, s[0][0].lo, s[0][0].hi, s[1][0].med,
	       s[0][0].med / s[1][0].med, s[0][1].med, s[0][1].lo, s[0][1].hi,
	       s[1][1].med, s[0][1].med / s[1][1].med);
	if (csv != NULL)
		fprintf(csv, "%s,%u,%d,%.3f,%.3f,%.3f,%.4f,%.4f,%.4f,%.3f,%.4f\n",
			r->is_posted ? "posted" : (r->reg ? "register" : "memory"),
			r->size, repeat, s[0][0].med, s[0][0].lo, s[0][0].hi,
			s[0][1].med, s[0][1].lo, s[0][1].hi, s[1][0].med,
			s[1][1].med);
}

static void run_all(int repeat, bool quick, const char *csv_path)
{
	static const struct row rows[] = {
		{ "4 B register read", true, false, 4, 20000 },
		{ "4 B memory read", false, false, 4, 20000 },
		{ "64 B memory read", false, false, 64, 20000 },
		{ "512 B memory read", false, false, 512, 20000 },
		{ "4 KiB memory read", false, false, 4096, 10000 },
		{ "64 KiB memory read", false, false, 65536, 2000 },
		{ "1 MiB memory read", false, false, 1u << 20, 200 },
		{ "4 B posted write", true, true, 4, POSTED },
	};
	FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;

	if (csv_path && csv == NULL) {
		perror(csv_path);
		exit(1);
	}
	if (csv)
		fprintf(csv, "kind,size,repeat,rtt_us,rtt_lo,rtt_hi,cpu_us,cpu_lo,cpu_hi,floor_rtt_us,floor_cpu_us\n");
	printf("round trip (posted: time per write) and server CPU per request, raw blocking client;\n"
	       "median of %d runs (range); floor: one recv() and one sendmsg() per request\n", repeat);
	printf("%-22s %-26s %8s %7s | %-27s %7s %7s\n", "", "libvus us (range)",
	       "floor us", "ratio", "libvus CPU us (range)", "floor", "ratio");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i], repeat, quick, csv);
	if (csv)
		fclose(csv);
}

/* --serve PATH: one libvus server, one client, then exit. */
static int serve_path(const char *path)
{
	vus_ctx *ctx = make_ctx();
	bool seen = false;

	if (vus_ctx_listen(ctx, path) < 0)
		return 1;
	for (;;) {
		if (vus_ctx_run_once(ctx, -1) < 0)
			break;
		if (vus_ctx_has_client(ctx))
			seen = true;
		else if (seen)
			break;
	}
	vus_ctx_destroy(ctx);
	return 0;
}

static int client_path(const char *path, unsigned int n, bool post)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint32_t v;
	double t0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    bench_version(fd, XFER) < 0)
		return 1;
	t0 = bench_now();
	if (post && (bench_posted_writes(fd, 0, 16, n) < 0 ||
		     bench_read(fd, 0, 16, &v, 4) < 0))
		return 1;
	for (unsigned int i = 0; !post && i < n; i++)
		if (bench_read(fd, 0, 16, &v, 4) < 0)
			return 1;
	printf("%u %s: %.2f us each\n", n,
	       post ? "posted writes" : "register reads",
	       (bench_now() - t0) / n * 1e6);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;

	if (argc == 3 && strcmp(argv[1], "--serve") == 0)
		return serve_path(argv[2]);
	if (argc == 4 && (strcmp(argv[1], "--client") == 0 ||
			  strcmp(argv[1], "--posted") == 0))
		return client_path(argv[2], (unsigned int)strtoul(argv[3], NULL, 0),
				   argv[1][2] == 'p');
	if (bench_parse(argc, argv, &o) < 0) {
		fprintf(stderr, "   or: %s --serve PATH | --client|--posted PATH N\n",
			argv[0]);
		return 2;
	}
	run_all(o.repeat, o.quick, o.csv);
	return 0;
}
