/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_vs: one client measuring any vfio-user server that listens on a
 * UNIX socket, so libvus (`bench_rtt --serve`) and another library
 * (libvfio-user, through tests/bench_vs.sh) are driven by the same code in
 * the same run. The server is a separate process; the client reads its
 * CPU time from /proc/PID/schedstat (nanoseconds on a CPU; set-up and the
 * connection's first requests excluded).
 *
 *   bench_vs PATH PID N PAIRS LIVE
 *       against the server PID listening on PATH: N 4-byte REGION_READs of
 *       region 0 at offset 16, one at a time, each timed; PAIRS DMA_MAP +
 *       DMA_UNMAP pairs of 2 MiB of a memfd; then up to LIVE 4 KiB grants
 *       of the same memfd (stopping at the first one refused), the
 *       server's memory areas of that memfd, one grant withdrawn again and
 *       PAIRS / 10 pairs with the rest live. Prints one line of key=value
 *       figures (times in microseconds).
 *   bench_vs PATH PID N PAIRS LIVE LIVE_PAIRS
 *       the same with LIVE_PAIRS pairs beside the live grants instead of
 *       PAIRS / 10 (profiling one kind of pair: PAIRS 10, LIVE_PAIRS many).
 *   bench_vs --floor PAIRS
 *       the least server CPU a pair can cost on this machine: a forked
 *       server that does only what a pair cannot go without (one blocking
 *       receive per message, header and body at once, an fstat and a
 *       close of the map's fd, one send per reply; no mapping, no table,
 *       no dispatch), PAIRS plain round trips then PAIRS pairs. Prints
 *       cpu_rtt= and cpu_pair= (server CPU, microseconds).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_raw.h"
#include "wire.h"

#define XFER (1u << 20)
#define FILE_SIZE (64u << 20)
#define PAIR_SIZE (2u << 20)
#define SMALL 4096u
#define IOVA_SMALL 0x100000000ull
#define IOVA_PAIR 0x80000000ull
#define WARMUP 2000u

/* Nanoseconds the server has run on a CPU (first field of schedstat). */
static double server_cpu_ns(int pid)
{
	char path[64];
	double ns = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (f == NULL || fscanf(f, "%lf", &ns) != 1)
		ns = -1;
	if (f != NULL)
		fclose(f);
	return ns;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    bench_version(fd, XFER) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

struct dist { double med, p99, mean; };

/* Sorts @v. */
static struct dist summarize(double *v, unsigned int n)
{
	double sum = 0;

	for (unsigned int i = 0; i < n; i++)
		sum += v[i];
	bench_sort(v, (int)n);
	return (struct dist){ v[n / 2], v[(size_t)n * 99 / 100], sum / n };
}

/* @n timed register reads; *cpu_us gets the server's CPU per read. */
static struct dist reads(int fd, int pid, unsigned int n, double *cpu_us)
{
	double *t = malloc(n * sizeof(*t)), c0;
	uint32_t v;
	struct dist d;

	for (unsigned int i = 0; i < WARMUP; i++)
		if (bench_read(fd, 0, 16, &v, 4) < 0)
			exit(1);
	c0 = server_cpu_ns(pid);
	for (unsigned int i = 0; i < n; i++) {
		double t0 = bench_now();

		if (bench_read(fd, 0, 16, &v, 4) < 0)
			exit(1);
		t[i] = (bench_now() - t0) * 1e6;
	}
	*cpu_us = (server_cpu_ns(pid) - c0) / n / 1e3;
	d = summarize(t, n);
	free(t);
	return d;
}

/* @n timed map+unmap pairs of 2 MiB; *cpu_us: server CPU per pair. */
static struct dist pairs(int fd, int memfd, int pid, unsigned int n,
			 double *cpu_us)
{
	double *t = malloc(n * sizeof(*t)), c0 = server_cpu_ns(pid);
	struct dist d;

	for (unsigned int i = 0; i < n; i++) {
		double t0 = bench_now();

		if (bench_map(fd, memfd, IOVA_PAIR, PAIR_SIZE, PAIR_SIZE) < 0 ||
		    bench_unmap(fd, IOVA_PAIR, PAIR_SIZE) < 0) {
			fprintf(stderr, "bench_vs: DMA pair %u refused\n", i);
			exit(1);
		}
		t[i] = (bench_now() - t0) * 1e6;
	}
	*cpu_us = (server_cpu_ns(pid) - c0) / n / 1e3;
	d = summarize(t, n);
	free(t);
	return d;
}

/* Up to @live 4 KiB grants; how many the server took. */
static unsigned int grant(int fd, int memfd, unsigned int live)
{
	unsigned int i;

	for (i = 0; i < live; i++)
		if (bench_map(fd, memfd, IOVA_SMALL + (uint64_t)i * 2 * SMALL,
			(uint64_t)i * SMALL % FILE_SIZE, SMALL) < 0)
			break;
	return i;
}

static int client(const char *path, int pid, unsigned int n,
		  unsigned int npairs, unsigned int live, unsigned int nlive)
{
	int memfd = memfd_create("bench-vs", MFD_CLOEXEC);
	int fd = connect_to(path);
	double cpu_req, cpu_pair, cpu_pair_live;
	struct dist r, p, pl;
	unsigned int got;
	int vmas;

	if (memfd < 0 || ftruncate(memfd, FILE_SIZE) < 0 || n == 0 ||
	    npairs < 10 || nlive == 0)
		return 2;
	r = reads(fd, pid, n, &cpu_req);
	p = pairs(fd, memfd, pid, npairs, &cpu_pair);
	got = grant(fd, memfd, live);
	vmas = bench_memfd_vmas(pid, "bench-vs");
	/* Room for the pair's own grant where the server has a cap. */
	if (got > 0 && bench_unmap(fd, IOVA_SMALL + (uint64_t)(got - 1) * 2 * SMALL,
			     SMALL) < 0)
		return 1;
	pl = pairs(fd, memfd, pid, nlive, &cpu_pair_live);
	printf("rtt_med=%.2f rtt_p99=%.2f rtt_mean=%.2f cpu_req=%.3f "
	       "pair_med=%.2f pair_mean=%.2f cpu_pair=%.2f live_ok=%u "
	       "vmas=%d pair_live_med=%.2f cpu_pair_live=%.2f\n",
	       r.med, r.p99, r.mean, cpu_req, p.med, p.mean, cpu_pair, got,
	       vmas, pl.med, cpu_pair_live);
	close(fd);
	close(memfd);
	return 0;
}

/* One request (with its fd, if any) in one receive; its header. */
static int floor_recv(int fd, struct wire_hdr *h, int *pass_fd)
{
	uint8_t buf[256];
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	*pass_fd = -1;
	if (c != NULL && c->cmsg_type == SCM_RIGHTS)
		memcpy(pass_fd, CMSG_DATA(c), sizeof(int));
	if (n < (ssize_t)sizeof(*h))
		return -1;
	memcpy(h, buf, sizeof(*h));
	/* The client sends one small request at a time: it came whole. */
	return h->msg_size == (uint32_t)n ? 0 : -1;
}

static void floor_serve(int fd)
{
	struct wire_hdr h;
	int pass_fd;

	while (floor_recv(fd, &h, &pass_fd) == 0) {
		if (pass_fd >= 0) {
			struct stat st;

			if (fstat(pass_fd, &st) < 0)
				break;
			close(pass_fd);
		}
		h.flags = WIRE_F_TYPE_REPLY;
		h.msg_size = sizeof(h);
		if (send(fd, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h))
			break;
	}
	_exit(0);
}

static int floor_run(unsigned int n)
{
	int sv[2], memfd = memfd_create("bench-vs-floor", MFD_CLOEXEC);
	double c0, c1, c2;
	pid_t pid;

	if (n == 0 || memfd < 0 || ftruncate(memfd, FILE_SIZE) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		floor_serve(sv[1]);
	}
	close(sv[1]);
	for (unsigned int i = 0; i < WARMUP; i++)
		if (bench_unmap(sv[0], IOVA_PAIR, PAIR_SIZE) < 0)
			return 1;
	c0 = server_cpu_ns(pid);
	for (unsigned int i = 0; i < n; i++)
		if (bench_unmap(sv[0], IOVA_PAIR, PAIR_SIZE) < 0)
			return 1;
	c1 = server_cpu_ns(pid);
	for (unsigned int i = 0; i < n; i++)
		if (bench_map(sv[0], memfd, IOVA_PAIR, PAIR_SIZE, PAIR_SIZE) < 0 ||
		    bench_unmap(sv[0], IOVA_PAIR, PAIR_SIZE) < 0)
			return 1;
	c2 = server_cpu_ns(pid);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	close(memfd);
	printf("cpu_rtt=%.2f cpu_pair=%.2f\n", (c1 - c0) / n / 1e3,
	       (c2 - c1) / n / 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--floor") == 0)
		return floor_run((unsigned int)strtoul(argv[2], NULL, 0));
	if (argc == 6 || argc == 7) {
		unsigned int npairs = (unsigned int)strtoul(argv[4], NULL, 0);

		return client(argv[1], atoi(argv[2]),
			      (unsigned int)strtoul(argv[3], NULL, 0), npairs,
			      (unsigned int)strtoul(argv[5], NULL, 0),
			      argc == 7 ? (unsigned int)strtoul(argv[6], NULL, 0)
					: npairs / 10);
	}
	fprintf(stderr, "usage: %s PATH SERVER_PID N PAIRS LIVE [LIVE_PAIRS]\n"
			"       %s --floor PAIRS\n", argv[0], argv[0]);
	return 2;
}
