/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: what busy management clients cost the vfio-user client. A
 * served device (rpc_util: a context on a thread, its JSON-RPC socket, a
 * vfio-user client on a socketpair) answers 4-byte REGION_READ round
 * trips, timed one by one, alone and with 64 management clients
 * connected, each sending query-stats again as soon as its reply arrives
 * (from one thread of ours). The two conditions alternate in 5 rounds, so
 * a machine whose load drifts meanwhile weighs on both alike. Prints the
 * median, 99th percentile and maximum of each and the ratios busy/alone.
 * On a machine with fewer cores than the three busy threads (server,
 * client, managers) the ratio includes the CPU the managers' thread takes
 * from the other two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vus/client.h"

#define OPS 20000 /* per condition */
#define ROUNDS 5
#define MANAGERS 64

static double alone_us[OPS], busy_us[OPS];

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct figures {
	double median, p99, max;
};

static void figures_of(double *lat, struct figures *f)
{
	qsort(lat, OPS, sizeof(lat[0]), cmp_double);
	*f = (struct figures){ .median = lat[OPS / 2], .p99 = lat[OPS * 99 / 100],
			       .max = lat[OPS - 1] };
}

/* @n timed REGION_READs of 4 bytes into @lat; -1 on an error. */
static int round_trips(vus_client *c, double *lat, int n)
{
	uint32_t v;

	for (int i = 0; i < n; i++) {
		double t0 = now_us();

		if (vus_client_region_read(c, 0, (uint64_t)(i % 64) * 4, &v, 4) < 0)
			return -1;
		lat[i] = now_us() - t0;
	}
	return 0;
}

static void print(const char *what, const struct figures *f)
{
	printf("  %-34s median %7.1f us  p99 %7.1f us  max %8.1f us\n", what,
	       f->median, f->p99, f->max);
}

int main(void)
{
	const int per = OPS / ROUNDS;
	struct figures alone, busy;
	struct trpc_hammer h;
	struct trpc_dev dev;
	long replies = 0;
	int least = -1;
	vus_client *c;

	if (trpc_dev_start(&dev) < 0 ||
	    vus_client_attach_fd(dev.vfu_fd, NULL, &c) < 0) {
		fprintf(stderr, "bench_rpc: cannot start the device\n");
		return 1;
	}
	dev.vfu_fd = -1;
	for (int r = 0; r < ROUNDS; r++) {
		if (round_trips(c, alone_us + r * per, per) < 0 ||
		    trpc_hammer_start(&h, dev.rpc_path, MANAGERS) < 0)
			return 1;
		if (round_trips(c, busy_us + r * per, per) < 0)
			return 1;
		trpc_hammer_stop(&h);
		if (h.errors != 0)
			return 1;
		replies += h.replies;
		least = least < 0 || h.min_per_client < least ? h.min_per_client
							       : least;
	}
	figures_of(alone_us, &alone);
	figures_of(busy_us, &busy);
	printf("REGION_READ round trips (4 bytes, %d each, %d rounds), "
	       "with and without %d busy management clients:\n", OPS, ROUNDS,
	       MANAGERS);
	print("alone", &alone);
	print("beside 64 busy managers", &busy);
	printf("  management: %ld query-stats answered meanwhile, at least %d "
	       "per client per round\n", replies, least);
	printf("  ratio busy/alone: median %.2f, p99 %.2f\n",
	       busy.median / alone.median, busy.p99 / alone.p99);
	vus_client_close(c);
	trpc_dev_stop(&dev);
	return 0;
}
