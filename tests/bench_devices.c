/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: many devices in one process. A server process holds D
 * contexts (a SysBus device with one 4 KiB register region served by a
 * callback), each with its own client connection, and serves them from T
 * threads: one loop per thread (epoll over the contexts' poll fds, then
 * vus_ctx_run_once(ctx, 0) for each ready one), the contexts dealt out
 * round-robin. The library starts no thread; this program does.
 *
 * The clients live in the parent process, two threads, each with half the
 * connections: every round sends a batch of B 4-byte REGION_READs on each
 * of its connections (one send each), then takes the B replies of each. So
 * the client's cost per request stays small next to the server's and all
 * D devices have work at once. Printed per (D, T): aggregate requests/s
 * (median of --repeat runs, range), the server's CPU per request, and for
 * D = 64 the ratio of two threads to one; the resident memory per idle
 * device (after VERSION on every connection, before the load: the
 * server's RSS growth from before the contexts existed, divided by D).
 *
 * The ratio needs two free CPUs for the server plus some for the clients:
 * on a shared 2-CPU machine it shows the machine, so the load average is
 * printed with it.
 *
 *   bench_devices [--repeat N] [--quick] [--csv FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_raw.h"
#include "vus.h"
#include "wire.h"

#define MAX_DEV 64
#define BATCH 8u
#define CLIENT_THREADS 2

static uint32_t regs[1024];

static int rd(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	memcpy(buf, (uint8_t *)regs + off, len);
	return 0;
}

static vus_ctx *make_ctx(int fd)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = rd };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_region_desc r0 = { .struct_size = sizeof(r0), .size = 4096,
		.flags = VUS_REGION_READ, .ops = &ops };
	vus_ctx *ctx;

	if (vus_ctx_create(&cfg, &ctx) < 0 || vus_region_setup(ctx, 0, &r0) < 0 ||
	    vus_ctx_realize(ctx) < 0 || vus_ctx_attach_fd(ctx, fd) < 0)
		exit(1);
	vus_ctx_set_log(ctx, VUS_LOG_ERR, NULL, NULL);
	return ctx;
}

/* Resident bytes of this process. */
static long rss_bytes(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL || fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	if (f)
		fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

/* One server thread's contexts: its own loop over them. */
struct share {
	vus_ctx *ctx[MAX_DEV];
	int n;
	pthread_t th;
};

static void *serve_loop(void *arg)
{
	struct share *s = arg;
	struct epoll_event ev[MAX_DEV];
	int ep = epoll_create1(EPOLL_CLOEXEC), live = s->n;

	for (int i = 0; i < s->n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = s->ctx[i] };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, vus_ctx_get_poll_fd(s->ctx[i]), &e) < 0)
			exit(1);
	}
	while (live > 0) {
		int n = epoll_wait(ep, ev, MAX_DEV, -1);

		for (int i = 0; i < n; i++) {
			vus_ctx *ctx = ev[i].data.ptr;

			if (vus_ctx_run_once(ctx, 0) == -ENOTCONN) {
				epoll_ctl(ep, EPOLL_CTL_DEL,
					  vus_ctx_get_poll_fd(ctx), NULL);
				live--;
			}
		}
	}
	close(ep);
	return NULL;
}

/*
 * The server process: D contexts on @fds, T threads. Waits for a byte on
 * @ctl (the clients have negotiated), reports its RSS growth, serves
 * until every client is gone, reports its CPU seconds since the byte.
 */
static void server(const int *fds, int d, int t, int ctl, int out)
{
	static struct share sh[2];
	vus_ctx *ctx[MAX_DEV];
	long rss0 = rss_bytes(), rss1;
	struct timespec c0, c1;
	double cpu;
	char b;

	memset(sh, 0, sizeof(sh));
	for (int i = 0; i < d; i++) {
		ctx[i] = make_ctx(fds[i]);
		sh[i % t].ctx[sh[i % t].n++] = ctx[i];
	}
	for (int k = 0; k < t; k++)
		if (sh[k].n > 0 && pthread_create(&sh[k].th, NULL, serve_loop, &sh[k]))
			exit(1);
	if (read(ctl, &b, 1) != 1)
		exit(1);
	rss1 = rss_bytes();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	if (write(out, &(double){ (double)(rss1 - rss0) }, sizeof(double)) < 0)
		exit(1);
	for (int k = 0; k < t; k++)
		if (sh[k].n > 0)
			pthread_join(sh[k].th, NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	if (write(out, &cpu, sizeof(cpu)) < 0)
		exit(1);
	for (int i = 0; i < d; i++)
		vus_ctx_destroy(ctx[i]);
}

/* One client thread: @n connections, @rounds rounds of BATCH reads each. */
struct load {
	int fds[MAX_DEV];
	int n;
	unsigned int rounds;
	pthread_t th;
	int failed;
};

struct rd_req {
	struct wire_hdr h;
	struct wire_region_access a;
} __attribute__((packed));

struct rd_reply {
	struct wire_hdr h;
	struct wire_region_access a;
	uint32_t v;
} __attribute__((packed));

static void *client_loop(void *arg)
{
	struct load *l = arg;
	struct rd_req q[BATCH];
	struct rd_reply r[BATCH];

	for (unsigned int i = 0; i < BATCH; i++)
		q[i] = (struct rd_req){
			.h = { .msg_id = (uint16_t)i, .cmd = WIRE_CMD_REGION_READ,
			       .msg_size = sizeof(q[i]) },
			.a = { .offset = 16, .region = 0, .count = 4 } };
	for (unsigned int k = 0; k < l->rounds && !l->failed; k++) {
		for (int c = 0; c < l->n; c++)
			l->failed |= bench_send_all(l->fds[c], q, sizeof(q)) < 0;
		for (int c = 0; c < l->n && !l->failed; c++) {
			l->failed |= bench_recv_all(l->fds[c], r, sizeof(r)) < 0;
			for (unsigned int i = 0; i < BATCH; i++)
				l->failed |= (r[i].h.flags & WIRE_F_ERROR) ||
					     r[i].h.msg_size != sizeof(r[i]);
		}
	}
	return NULL;
}

struct figure {
	double rate, cpu_us, rss_per_dev;
};

/* One run: D devices, T server threads, @total requests or so. */
static struct figure run(int d, int t, unsigned int total)
{
	static struct load ld[CLIENT_THREADS];
	int fds[MAX_DEV], ctl[2], out[2], sv[2], nl = d < CLIENT_THREADS ? d : CLIENT_THREADS;
	unsigned int rounds = total / ((unsigned int)d * BATCH) + 1;
	double t0, rss, cpu;
	struct figure f;
	pid_t pid;

	memset(ld, 0, sizeof(ld));
	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		exit(1);
	for (int i = 0; i < d; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			exit(1);
		fds[i] = sv[0];
		ld[i % nl].fds[ld[i % nl].n++] = sv[1];
	}
	pid = fork();
	if (pid < 0)
		exit(1);
	if (pid == 0) {
		for (int k = 0; k < nl; k++)
			for (int c = 0; c < ld[k].n; c++)
				close(ld[k].fds[c]);
		server(fds, d, t, ctl[0], out[1]);
		_exit(0);
	}
	for (int i = 0; i < d; i++)
		close(fds[i]);
	for (int k = 0; k < nl; k++)
		for (int c = 0; c < ld[k].n; c++)
			if (bench_version(ld[k].fds[c], 4096) < 0)
				exit(1);
	if (write(ctl[1], "m", 1) != 1 || read(out[0], &rss, sizeof(rss)) != sizeof(rss))
		exit(1);
	t0 = bench_now();
	for (int k = 0; k < nl; k++) {
		ld[k].rounds = rounds;
		if (pthread_create(&ld[k].th, NULL, client_loop, &ld[k]))
			exit(1);
	}
	for (int k = 0; k < nl; k++)
		pthread_join(ld[k].th, NULL);
	f.rate = (double)rounds * d * BATCH / (bench_now() - t0);
	for (int k = 0; k < nl; k++) {
		if (ld[k].failed)
			exit(1);
		for (int c = 0; c < ld[k].n; c++)
			close(ld[k].fds[c]);
	}
	if (read(out[0], &cpu, sizeof(cpu)) != sizeof(cpu) ||
	    waitpid(pid, NULL, 0) != pid)
		exit(1);
	close(ctl[0]);
	close(ctl[1]);
	close(out[0]);
	close(out[1]);
	f.cpu_us = cpu / ((double)rounds * d * BATCH) * 1e6;
	f.rss_per_dev = rss / d;
	return f;
}

static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f == NULL || fscanf(f, "%lf", &l) != 1)
		l = -1;
	if (f)
		fclose(f);
	return l;
}

int main(int argc, char **argv)
{
	static const int devs[] = { 1, 4, 16, 64 };
	struct bench_opts o;
	double med[2] = { 0, 0 }, rss16 = 0, rss64 = 0;
	FILE *csv;

	if (bench_parse(argc, argv, &o) < 0)
		return 2;
	csv = o.csv ? fopen(o.csv, "w") : NULL;
	if (o.csv && csv == NULL) {
		perror(o.csv);
		return 1;
	}
	if (csv)
		fprintf(csv, "devices,threads,rate,rate_lo,rate_hi,cpu_us,rss_kib_per_device\n");
	printf("%d CPUs online, load average %.2f before the runs\n",
	       (int)sysconf(_SC_NPROCESSORS_ONLN), loadavg());
	printf("4-byte REGION_READs, batches of %u per connection, %d client "
	       "threads; median of %d runs (range)\n", BATCH, CLIENT_THREADS,
	       o.repeat);
	printf("%8s %8s %28s %14s %16s\n", "devices", "threads",
	       "requests/s (range)", "server CPU us", "RSS/idle device");
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		for (int t = 1; t <= 2; t++) {
			double rate[BENCH_MAX_REPEAT], cpu[BENCH_MAX_REPEAT];
			struct figure f = { 0 };

			for (int k = 0; k < o.repeat; k++) {
				f = run(devs[i], t, o.quick ? 20000 : 200000);
				rate[k] = f.rate;
				cpu[k] = f.cpu_us;
			}
			bench_sort(rate, o.repeat);
			bench_sort(cpu, o.repeat);
			printf("%8d %8d %10.0f (%7.0f-%7.0f) %14.2f %12.1f KiB\n",
			       devs[i], t, rate[o.repeat / 2], rate[0],
			       rate[o.repeat - 1], cpu[o.repeat / 2],
			       f.rss_per_dev / 1024);
			if (csv)
				fprintf(csv, "%d,%d,%.0f,%.0f,%.0f,%.3f,%.1f\n",
					devs[i], t, rate[o.repeat / 2], rate[0],
					rate[o.repeat - 1], cpu[o.repeat / 2],
					f.rss_per_dev / 1024);
			if (devs[i] == MAX_DEV)
				med[t - 1] = rate[o.repeat / 2];
			if (t == 1 && devs[i] == 16)
				rss16 = f.rss_per_dev * 16;
			if (t == 1 && devs[i] == MAX_DEV)
				rss64 = f.rss_per_dev * MAX_DEV;
		}
	printf("64 devices: two threads / one thread = %.2fx (goal >= 1.8x); "
	       "load average %.2f after the runs\n", med[1] / med[0], loadavg());
	printf("resident memory per idle device: %.1f KiB with 64 (the process's "
	       "shared costs included), %.1f KiB each from 16 to 64 (goal <= 256 KiB)\n",
	       rss64 / MAX_DEV / 1024, (rss64 - rss16) / (MAX_DEV - 16) / 1024);
	if (csv)
		fclose(csv);
	return 0;
}
