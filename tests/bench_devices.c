/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: many devices in one process. A server process holds D
 * contexts (a SysBus device with one 4 KiB register region served by a
 * callback), each with its own client connection, and serves them from T
 * threads: one loop per thread (epoll over the contexts' poll fds, then
 * vus_ctx_run_once(ctx, 0) for each ready one), the contexts dealt out
 * round-robin. The library starts no thread; this program does.
 *
 * What it measures is the server, so the clients must cost little next to
 * it: on a 2-CPU machine two server threads reach 1.8x one only if the
 * clients take less than a ninth of the server's CPU per request.
 *
 * Pipelined (the throughput figure): one client thread keeps WINDOW
 * requests in flight on every connection, as the protocol allows (the
 * server answers in order, by message id). It sweeps its connections:
 * one non-blocking recv takes every reply there, each is checked (id,
 * size, offset, the register's value), and one send tops the window up
 * again; then it sleeps, adjusting the sleep so that about half of what
 * is in flight comes back per sweep (the server never runs dry, and the
 * client's system calls are spread over many requests). This is
 * throughput, not latency: a request waits behind up to WINDOW others.
 *
 * Closed loop (kept for comparison): two client threads, each connection
 * with one request outstanding: a send on each connection, then the
 * reply of each. Every request costs the client a send and a receive.
 *
 * Printed per (mode, D, T): aggregate requests/s (median of --repeat runs,
 * range); the server threads' CPU per request and the share of the run
 * they waited for a CPU (run-queue delay), from their schedstat; the
 * client's CPU per request; the ideal, what the server's CPU per request
 * allows on the CPUs the clients leave: min(T, CPUs - client CPUs) / server
 * CPU per request; how many CPUs the server threads and every other
 * process on the machine used during the run (/proc/stat); for D = 64 the
 * ratio of two threads to one. And the
 * resident memory per idle device (after VERSION on every connection,
 * before the load: the server's RSS growth from before the contexts
 * existed, divided by D).
 *
 *   bench_devices [--repeat N] [--quick] [--csv FILE] [--only MODE:D]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_raw.h"
#include "vus.h"
#include "wire.h"

#define MAX_DEV 64
#define NREGS 1024u
/* In flight per pipelined connection: enough that half a window per
 * sweep spreads the client's two system calls per connection thin. */
#define WINDOW 512u
#define CLOSED_THREADS 2

enum mode { PIPELINED, CLOSED };
static const char *const mode_name[] = { "pipelined", "closed" };

static uint32_t regs[NREGS];

/* What register @i holds: every reply's value is checked against it. */
static uint32_t reg_value(uint32_t i)
{
	return (i + 1) * 0x9e3779b9u;
}

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

/* A thread's schedstat: ns on a CPU, ns runnable but waiting for one. */
struct sched {
	double run_ns, wait_ns;
};

static struct sched schedstat(const char *path)
{
	struct sched s = { 0, 0 };
	FILE *f = fopen(path, "r");

	if (f == NULL || fscanf(f, "%lf %lf", &s.run_ns, &s.wait_ns) != 2)
		exit(1);
	fclose(f);
	return s;
}

/* One server thread's contexts: its own loop over them. */
struct share {
	vus_ctx *ctx[MAX_DEV];
	int n;
	pthread_t th;
	volatile pid_t tid;
	struct sched at_mark, at_end;
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
	s->tid = (pid_t)syscall(SYS_gettid);
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
	s->at_end = schedstat("/proc/thread-self/schedstat");
	close(ep);
	return NULL;
}

/* What the server process reports: its RSS growth, then its threads'
 * CPU and run-queue wait (seconds, summed) from the mark to their end. */
struct server_report {
	double rss, cpu, wait;
};

/*
 * The server process: D contexts on @fds, T threads. Waits for a byte on
 * @ctl (the clients have negotiated), reports its RSS growth, serves
 * until every client is gone, reports its threads' CPU since the byte.
 */
static void server(const int *fds, int d, int t, int ctl, int out)
{
	static struct share sh[2];
	struct server_report rep = { 0, 0, 0 };
	vus_ctx *ctx[MAX_DEV];
	long rss0 = rss_bytes();
	char b, path[64];

	memset(sh, 0, sizeof(sh));
	for (int i = 0; i < d; i++) {
		ctx[i] = make_ctx(fds[i]);
		sh[i % t].ctx[sh[i % t].n++] = ctx[i];
	}
	for (int k = 0; k < t; k++)
		if (pthread_create(&sh[k].th, NULL, serve_loop, &sh[k]))
			exit(1);
	if (read(ctl, &b, 1) != 1)
		exit(1);
	rep.rss = (double)(rss_bytes() - rss0);
	for (int k = 0; k < t; k++) {
		while (sh[k].tid == 0)
			sched_yield();
		snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat",
			 (int)sh[k].tid);
		sh[k].at_mark = schedstat(path);
	}
	if (write(out, &rep.rss, sizeof(rep.rss)) < 0)
		exit(1);
	for (int k = 0; k < t; k++) {
		pthread_join(sh[k].th, NULL);
		rep.cpu += (sh[k].at_end.run_ns - sh[k].at_mark.run_ns) / 1e9;
		rep.wait += (sh[k].at_end.wait_ns - sh[k].at_mark.wait_ns) / 1e9;
	}
	if (write(out, &rep, sizeof(rep)) < 0)
		exit(1);
	for (int i = 0; i < d; i++)
		vus_ctx_destroy(ctx[i]);
}

struct rd_req {
	struct wire_hdr h;
	struct wire_region_access a;
} __attribute__((packed));

struct rd_reply {
	struct wire_hdr h;
	struct wire_region_access a;
	uint32_t v;
} __attribute__((packed));

/* Request number @seq of a connection: id @seq, register seq % NREGS. */
static void make_req(struct rd_req *q, uint32_t seq)
{
	*q = (struct rd_req){
		.h = { .msg_id = (uint16_t)seq, .cmd = WIRE_CMD_REGION_READ,
		       .msg_size = sizeof(*q) },
		.a = { .offset = (seq % NREGS) * 4, .region = 0, .count = 4 } };
}

/* Whether @r is the right answer to request @seq. */
static bool reply_ok(const struct rd_reply *r, uint32_t seq)
{
	return r->h.msg_id == (uint16_t)seq && r->h.cmd == WIRE_CMD_REGION_READ &&
	       r->h.flags == WIRE_F_TYPE_REPLY && r->h.msg_size == sizeof(*r) &&
	       r->a.offset == (seq % NREGS) * 4 && r->a.count == 4 &&
	       r->a.region == 0 && r->v == reg_value(seq % NREGS);
}

/*
 * Every request a connection sends and the reply it must get, by
 * sequence number modulo the message id's range: built once, so a sweep
 * sends a slice of one table and compares what came back with a slice of
 * the other, byte for byte (id, flags, errno, size, offset, value).
 */
#define IDS 65536u
static struct rd_req req_tab[IDS];
static struct rd_reply rep_tab[IDS];

static void make_tables(void)
{
	for (uint32_t i = 0; i < IDS; i++) {
		make_req(&req_tab[i], i);
		rep_tab[i] = (struct rd_reply){
			.h = { .msg_id = (uint16_t)i, .cmd = WIRE_CMD_REGION_READ,
			       .msg_size = sizeof(rep_tab[i]),
			       .flags = WIRE_F_TYPE_REPLY },
			.a = req_tab[i].a, .v = reg_value(i % NREGS) };
		if (!reply_ok(&rep_tab[i], i))
			abort();
	}
}

/* One client connection: requests sent and replies checked so far. */
struct conn {
	int fd;
	uint32_t sent, got, quota;
	size_t have; /* bytes of a partial reply in buf */
	uint8_t buf[WINDOW * sizeof(struct rd_reply)];
};

/* Take and check what replies are there; -1 on a wrong or lost one. */
static int take_replies(struct conn *c, uint32_t *n)
{
	ssize_t got = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have,
			   MSG_DONTWAIT);
	uint32_t k, done = 0;

	if (got < 0)
		return errno == EAGAIN ? 0 : -1;
	if (got == 0)
		return -1;
	c->have += (size_t)got;
	k = (uint32_t)(c->have / sizeof(struct rd_reply));
	if (k > c->sent - c->got)
		return -1; /* more replies than requests */
	while (done < k) {
		uint32_t at = (c->got + done) % IDS;
		uint32_t run = k - done < IDS - at ? k - done : IDS - at;

		if (memcmp(c->buf + done * sizeof(struct rd_reply), &rep_tab[at],
			   run * sizeof(struct rd_reply)) != 0)
			return -1;
		done += run;
	}
	c->got += k;
	*n += k;
	c->have -= k * sizeof(struct rd_reply);
	memmove(c->buf, c->buf + k * sizeof(struct rd_reply), c->have);
	return 0;
}

/* Fill @c's window up: one send (two where the ids wrap around). */
static int top_up(struct conn *c)
{
	uint32_t room = WINDOW - (c->sent - c->got), rest = c->quota - c->sent;
	uint32_t k = room < rest ? room : rest, at = c->sent % IDS;
	uint32_t run = k < IDS - at ? k : IDS - at;

	c->sent += k;
	if (run > 0 && bench_send_all(c->fd, &req_tab[at], run * sizeof(req_tab[0])) < 0)
		return -1;
	return k > run ? bench_send_all(c->fd, req_tab, (k - run) * sizeof(req_tab[0])) : 0;
}

static void nap(double s)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(s * 1e9) };

	nanosleep(&ts, NULL);
}

/*
 * The pipelined client: sweeps until every connection got its quota.
 * Between sweeps it sleeps for about half the time the server takes to
 * answer what is in flight, at the rate the last sweep saw; if all of it
 * came back (the server may have run dry), half as long as before.
 */
static int pipelined(struct conn *c, int n, double *sweeps)
{
	double sleep_s = 100e-6, last = bench_now();
	uint32_t inflight = 0, left = 0;

	for (int i = 0; i < n; i++)
		left += c[i].quota;
	prctl(PR_SET_TIMERSLACK, 1000UL); /* sleeps of tens of us */
	for (*sweeps = 0; left > 0; (*sweeps)++) {
		uint32_t back = 0, before = inflight;
		double now = bench_now();

		for (int i = 0; i < n; i++)
			if (take_replies(&c[i], &back) < 0 || top_up(&c[i]) < 0)
				return -1;
		left -= back;
		inflight = 0;
		for (int i = 0; i < n; i++)
			inflight += c[i].sent - c[i].got;
		if (back >= before)
			sleep_s /= 2;
		else if (back > 0)
			sleep_s = 0.5 * inflight * (now - last) / back;
		sleep_s = sleep_s < 2e-6 ? 2e-6 : sleep_s > 50e-3 ? 50e-3 : sleep_s;
		last = now;
		if (left > 0)
			nap(sleep_s);
	}
	return 0;
}

/* A closed-loop client thread: one request outstanding per connection. */
struct closed {
	struct conn *c;
	int n;
	pthread_t th;
	int failed;
};

static void *closed_loop(void *arg)
{
	struct closed *l = arg;

	while (!l->failed && l->c[0].got < l->c[0].quota) {
		for (int i = 0; i < l->n; i++) {
			struct rd_req q;

			make_req(&q, l->c[i].sent++);
			l->failed |= bench_send_all(l->c[i].fd, &q, sizeof(q)) < 0;
		}
		for (int i = 0; i < l->n && !l->failed; i++) {
			struct rd_reply r;

			l->failed |= bench_recv_all(l->c[i].fd, &r, sizeof(r)) < 0 ||
				     !reply_ok(&r, l->c[i].got++);
		}
	}
	return NULL;
}

static int closed(struct conn *c, int n)
{
	static struct closed cl[CLOSED_THREADS];
	int nt = n < CLOSED_THREADS ? n : CLOSED_THREADS, failed = 0;

	for (int k = 0; k < nt; k++) {
		int from = n * k / nt, to = n * (k + 1) / nt;

		cl[k] = (struct closed){ .c = c + from, .n = to - from };
		if (pthread_create(&cl[k].th, NULL, closed_loop, &cl[k]))
			exit(1);
	}
	for (int k = 0; k < nt; k++) {
		pthread_join(cl[k].th, NULL);
		failed |= cl[k].failed;
	}
	return failed ? -1 : 0;
}

struct figure {
	double rate, cpu_us, client_us, wait_share, ideal, rss_per_dev, per_sweep;
	double server_cpus, other_cpus; /* CPUs used on average during the run */
};

/* CPU seconds the whole machine has spent busy (all CPUs), /proc/stat. */
static double machine_busy(void)
{
	unsigned long long v[8];
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
				&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
				&v[7]) != 8)
		exit(1);
	fclose(f);
	/* user, nice, system, irq, softirq, steal: not idle or iowait */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
	       (double)sysconf(_SC_CLK_TCK);
}

/* Fork the server with @d contexts on @t threads; negotiate every
 * connection (VERSION) and report the server's RSS growth. */
static pid_t start(int d, int t, struct conn *c, int *ctl, int *out, double *rss)
{
	int fds[MAX_DEV], sv[2];
	pid_t pid;

	if (pipe2(ctl, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		exit(1);
	for (int i = 0; i < d; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			exit(1);
		fds[i] = sv[0];
		c[i].fd = sv[1];
	}
	pid = fork();
	if (pid < 0)
		exit(1);
	if (pid == 0) {
		for (int i = 0; i < d; i++)
			close(c[i].fd);
		server(fds, d, t, ctl[0], out[1]);
		_exit(0);
	}
	close(ctl[0]);
	close(out[1]); /* a server that dies is seen as EOF */
	for (int i = 0; i < d; i++) {
		close(fds[i]);
		if (bench_version(c[i].fd, 4096) < 0)
			exit(1);
	}
	if (write(ctl[1], "m", 1) != 1 || read(out[0], rss, sizeof(*rss)) != sizeof(*rss))
		exit(1);
	return pid;
}

/* One run: D devices, T server threads, @total requests or so. */
static struct figure run(enum mode m, int d, int t, unsigned int total)
{
	static struct conn c[MAX_DEV];
	int ctl[2], out[2], ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct server_report rep;
	double t0, c0, b0, wall, client, sweeps = 0, n, rss, others;
	struct figure f;
	pid_t pid;

	memset(c, 0, sizeof(c));
	t = t < d ? t : d; /* a thread with no device is not started */
	pid = start(d, t, c, ctl, out, &rss);
	for (int i = 0; i < d; i++)
		c[i].quota = total / (unsigned int)d + 1;
	t0 = bench_now();
	c0 = bench_cpu_process();
	b0 = machine_busy();
	if ((m == PIPELINED ? pipelined(c, d, &sweeps) : closed(c, d)) < 0) {
		fprintf(stderr, "bench_devices: a wrong or missing reply\n");
		exit(1);
	}
	wall = bench_now() - t0;
	client = bench_cpu_process() - c0;
	for (int i = 0; i < d; i++)
		close(c[i].fd);
	if (read(out[0], &rep, sizeof(rep)) != sizeof(rep) ||
	    waitpid(pid, NULL, 0) != pid)
		exit(1);
	/* Everyone else's CPU meanwhile (ticks: about +-0.01 s). */
	others = machine_busy() - b0 - rep.cpu - client;
	close(ctl[1]);
	close(out[0]);
	n = (double)c[0].quota * d;
	f.rate = n / wall;
	f.cpu_us = rep.cpu / n * 1e6;
	f.client_us = client / n * 1e6;
	f.wait_share = rep.wait / wall / t;
	/* The CPUs the clients leave, at most T of them, at the server's
	 * measured cost per request. */
	f.ideal = (ncpu - client / wall < t ? ncpu - client / wall : t) /
		  (rep.cpu / n);
	f.rss_per_dev = rss / d;
	f.per_sweep = sweeps > 0 ? n / sweeps : 0;
	f.server_cpus = rep.cpu / wall;
	f.other_cpus = others > 0 ? others / wall : 0;
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

/* The medians of --repeat runs of one configuration (the rate's range). */
static struct figure measure(enum mode m, int d, int t, const struct bench_opts *o,
			     double *lo, double *hi)
{
	double v[9][BENCH_MAX_REPEAT];
	struct figure f[BENCH_MAX_REPEAT], r;

	for (int k = 0; k < o->repeat; k++) {
		f[k] = run(m, d, t, m == CLOSED ? (o->quick ? 20000 : 100000)
						 : (o->quick ? 300000 : 2000000));
		v[0][k] = f[k].rate;
		v[1][k] = f[k].cpu_us;
		v[2][k] = f[k].client_us;
		v[3][k] = f[k].wait_share;
		v[4][k] = f[k].ideal;
		v[5][k] = f[k].rss_per_dev;
		v[6][k] = f[k].per_sweep;
		v[7][k] = f[k].server_cpus;
		v[8][k] = f[k].other_cpus;
	}
	for (int i = 0; i < 9; i++)
		bench_sort(v[i], o->repeat);
	*lo = v[0][0];
	*hi = v[0][o->repeat - 1];
	r = (struct figure){ v[0][o->repeat / 2], v[1][o->repeat / 2],
			     v[2][o->repeat / 2], v[3][o->repeat / 2],
			     v[4][o->repeat / 2], v[5][o->repeat / 2],
			     v[6][o->repeat / 2], v[7][o->repeat / 2],
			     v[8][o->repeat / 2] };
	return r;
}

/* One configuration: measured, printed, written to @csv. */
static struct figure report(enum mode m, int d, int t,
			    const struct bench_opts *o, FILE *csv)
{
	double lo, hi;
	struct figure f = measure(m, d, t, o, &lo, &hi);

	printf("%-9s %4d %3d %10.0f (%7.0f-%7.0f) %7.2f %6.2f %6.0f%% %5.2f %5.2f "
	       "%9.0f %5.1f KiB %7.0f\n", mode_name[m], d, t, f.rate, lo, hi,
	       f.cpu_us, f.client_us, f.wait_share * 100, f.server_cpus,
	       f.other_cpus, f.ideal, f.rss_per_dev / 1024, f.per_sweep);
	fflush(stdout);
	if (csv)
		fprintf(csv, "%s,%d,%d,%.0f,%.0f,%.0f,%.3f,%.3f,%.3f,%.0f,%.1f,%.3f,%.3f\n",
			mode_name[m], d, t, f.rate, lo, hi, f.cpu_us,
			f.client_us, f.wait_share, f.ideal, f.rss_per_dev / 1024,
			f.server_cpus, f.other_cpus);
	return f;
}

static void header(const struct bench_opts *o)
{
	printf("%d CPUs online, load average %.2f before the runs\n",
	       (int)sysconf(_SC_NPROCESSORS_ONLN), loadavg());
	printf("4-byte REGION_READs, every reply checked; median of %d runs (range)\n"
	       "pipelined: %u requests in flight per connection, one client thread "
	       "(throughput, not latency)\nclosed: one request outstanding per "
	       "connection, %d client threads\n", o->repeat, WINDOW, CLOSED_THREADS);
	printf("srv/cli us: server threads' / client's CPU per request; srv wait: "
	       "share of the run the server threads waited for a CPU; srv/other "
	       "CPUs: CPUs used on average by the server threads / by every "
	       "other process\n");
	printf("%-9s %4s %3s %28s %7s %6s %7s %5s %5s %9s %9s %7s\n", "mode",
	       "devs", "thr", "requests/s (range)", "srv us", "cli us", "srv wait",
	       "srv", "other", "ideal/s", "RSS/dev", "/sweep");
}

/* "--only MODE:D" (pipelined:64, closed:64), taken out of argv: that
 * configuration alone, for strace. 1 if given, 0 if not, -1 if wrong. */
static int take_only(int *argc, char **argv, int *m, int *d)
{
	for (int i = 1; i + 1 < *argc; i++) {
		char name[16];

		if (strcmp(argv[i], "--only") != 0)
			continue;
		if (sscanf(argv[i + 1], "%15[a-z]:%d", name, d) != 2 ||
		    *d < 1 || *d > MAX_DEV)
			return -1;
		*m = strcmp(name, "closed") == 0 ? CLOSED : PIPELINED;
		if (*m == PIPELINED && strcmp(name, "pipelined") != 0)
			return -1;
		memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 1) * sizeof(*argv));
		*argc -= 2;
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct { enum mode m; int d; } cfg[] = {
		{ PIPELINED, 1 }, { PIPELINED, 4 }, { PIPELINED, 16 },
		{ PIPELINED, 64 }, { CLOSED, 64 } };
	struct figure at64[2][2];
	struct bench_opts o;
	double rss16 = 0, rss64 = 0;
	int only_m = 0, only_d = 0, only = take_only(&argc, argv, &only_m, &only_d);
	FILE *csv;

	if (only < 0 || bench_parse(argc, argv, &o) < 0) {
		fprintf(stderr, "also: --only pipelined:D | closed:D (1 <= D <= %d)\n",
			MAX_DEV);
		return 2;
	}
	for (uint32_t i = 0; i < NREGS; i++)
		regs[i] = reg_value(i);
	make_tables();
	csv = o.csv ? fopen(o.csv, "w") : NULL;
	if (o.csv && csv == NULL) {
		perror(o.csv);
		return 1;
	}
	if (csv)
		fprintf(csv, "mode,devices,threads,rate,rate_lo,rate_hi,cpu_us,"
			"client_us,server_wait,ideal,rss_kib_per_device,server_cpus,"
			"other_cpus\n");
	header(&o);
	if (only) {
		for (int t = 1; t <= 2; t++)
			report((enum mode)only_m, only_d, t, &o, csv);
		printf("load average %.2f after the runs\n", loadavg());
		if (csv)
			fclose(csv);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++)
		for (int t = 1; t <= 2; t++) {
			struct figure f = report(cfg[i].m, cfg[i].d, t, &o, csv);

			if (cfg[i].d == MAX_DEV)
				at64[cfg[i].m][t - 1] = f;
			if (cfg[i].m == PIPELINED && t == 1 && cfg[i].d == 16)
				rss16 = f.rss_per_dev * 16;
			if (cfg[i].m == PIPELINED && t == 1 && cfg[i].d == MAX_DEV)
				rss64 = f.rss_per_dev * MAX_DEV;
		}
	printf("64 devices, pipelined: two threads / one = %.2fx (goal >= 1.8x); "
	       "ideal two / ideal one = %.2fx (what the server's and the "
	       "client's CPU per request allow on these CPUs)\n",
	       at64[PIPELINED][1].rate / at64[PIPELINED][0].rate,
	       at64[PIPELINED][1].ideal / at64[PIPELINED][0].ideal);
	printf("64 devices, closed loop: two threads / one = %.2fx\n",
	       at64[CLOSED][1].rate / at64[CLOSED][0].rate);
	printf("load average %.2f after the runs\n", loadavg());
	printf("resident memory per idle device: %.1f KiB with 64 (the process's "
	       "shared costs included), %.1f KiB each from 16 to 64 (goal <= 256 KiB)\n",
	       rss64 / MAX_DEV / 1024, (rss64 - rss16) / (MAX_DEV - 16) / 1024);
	if (csv)
		fclose(csv);
	return 0;
}
