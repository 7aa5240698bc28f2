/* SPDX-License-Identifier: BSD-3-Clause */
/* bench_raw: a minimal blocking client and the floor server (bench_raw.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_raw.h"
#include "wire.h"

#define FLOOR_BUF ((size_t)(2u << 20) + 64)

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_now(void) { return clock_s(CLOCK_MONOTONIC); }
double bench_cpu_process(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
double bench_cpu_thread(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

/* Blocking send (@in false) or receive of exactly @len bytes. */
static int all(int fd, uint8_t *p, size_t len, bool in)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = in ? recv(fd, p + done, len - done, 0) :
			    send(fd, p + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int bench_send_all(int fd, const void *p, size_t len)
{
	return all(fd, (uint8_t *)p, len, false);
}

int bench_recv_all(int fd, void *p, size_t len)
{
	return all(fd, p, len, true);
}

static uint16_t next_id;

/* Receive one whole reply; its payload (up to @cap bytes) into @p. */
static int recv_reply(int fd, void *p, size_t cap, uint32_t *len)
{
	struct wire_hdr h;

	if (bench_recv_all(fd, &h, sizeof(h)) < 0 || h.msg_size < sizeof(h) ||
	    h.msg_size - sizeof(h) > cap || (h.flags & WIRE_F_ERROR))
		return -1;
	*len = h.msg_size - (uint32_t)sizeof(h);
	return bench_recv_all(fd, p, *len);
}

int bench_version(int fd, uint32_t xfer)
{
	char msg[256], reply[4096];
	int n = snprintf(msg + sizeof(struct wire_hdr) + 4, 200,
			 "{\"capabilities\":{\"max_msg_fds\":8,"
			 "\"max_data_xfer_size\":%u}}", xfer);
	struct wire_hdr h = { .msg_id = next_id++, .cmd = WIRE_CMD_VERSION,
			      .msg_size = (uint32_t)(sizeof(h) + 4 + (size_t)n + 1) };
	uint16_t ver[2] = { 0, 0 };
	uint32_t len;

	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), ver, sizeof(ver));
	if (bench_send_all(fd, msg, h.msg_size) < 0)
		return -1;
	return recv_reply(fd, reply, sizeof(reply), &len);
}

int bench_read(int fd, uint32_t idx, uint64_t off, void *data,
	       uint32_t count)
{
	struct {
		struct wire_hdr h;
		struct wire_region_access a;
	} __attribute__((packed)) req = {
		.h = { .msg_id = next_id++, .cmd = WIRE_CMD_REGION_READ,
		       .msg_size = sizeof(req) },
		.a = { .offset = off, .region = idx, .count = count },
	};
	struct wire_hdr h;
	struct wire_region_access a;

	if (bench_send_all(fd, &req, sizeof(req)) < 0 ||
	    bench_recv_all(fd, &h, sizeof(h)) < 0 ||
	    h.msg_size != sizeof(h) + sizeof(a) + count ||
	    bench_recv_all(fd, &a, sizeof(a)) < 0)
		return -1;
	return bench_recv_all(fd, data, count);
}

int bench_call(int fd, uint16_t cmd, const void *body, size_t len,
	       int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cb;
	struct wire_hdr h = { .msg_id = next_id++, .cmd = cmd,
			      .msg_size = (uint32_t)(sizeof(h) + len) };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	uint8_t reply[4096];
	uint32_t got;
	ssize_t n;

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	/* Small requests: a stream socket takes them whole or not at all. */
	if (n != (ssize_t)h.msg_size)
		return -1;
	return recv_reply(fd, reply, sizeof(reply), &got);
}

int bench_map(int fd, int memfd, uint64_t iova, uint64_t off, uint64_t size)
{
	struct wire_dma_map m = { .argsz = sizeof(m),
		.flags = WIRE_DMA_READ | WIRE_DMA_WRITE, .offset = off,
		.addr = iova, .size = size };

	return bench_call(fd, WIRE_CMD_DMA_MAP, &m, sizeof(m), memfd);
}

int bench_unmap(int fd, uint64_t iova, uint64_t size)
{
	struct wire_dma_unmap u = { .argsz = sizeof(u), .addr = iova,
				    .size = size };

	return bench_call(fd, WIRE_CMD_DMA_UNMAP, &u, sizeof(u), -1);
}

int bench_memfd_vmas(pid_t pid, const char *name)
{
	char path[64], line[512], want[80];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	snprintf(want, sizeof(want), "memfd:%s", name);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, want) != NULL;
	fclose(f);
	return n;
}

int bench_posted_writes(int fd, uint32_t idx, uint64_t off, unsigned int n)
{
	struct {
		struct wire_hdr h;
		struct wire_region_access a;
		uint32_t v;
	} __attribute__((packed)) req = {
		.h = { .cmd = WIRE_CMD_REGION_WRITE, .msg_size = sizeof(req),
		       .flags = WIRE_F_NO_REPLY },
		.a = { .offset = off, .region = idx, .count = 4 },
	};

	for (unsigned int i = 0; i < n; i++) {
		req.h.msg_id = next_id++;
		req.v = i;
		if (bench_send_all(fd, &req, sizeof(req)) < 0)
			return -1;
	}
	return 0;
}

/* Answer one request of @h with body @b; one sendmsg. */
static int floor_answer(int fd, struct wire_hdr h, const uint8_t *b,
			const uint8_t *mem)
{
	struct wire_region_access a;
	struct iovec iov[3] = { { &h, sizeof(h) } };
	int n = 1;

	if (h.flags & WIRE_F_NO_REPLY)
		return 0;
	h.flags = WIRE_F_TYPE_REPLY;
	if (h.cmd == WIRE_CMD_REGION_READ) {
		memcpy(&a, b, sizeof(a));
		if (a.count > FLOOR_BUF)
			return -1;
		iov[n++] = (struct iovec){ &a, sizeof(a) };
		iov[n++] = (struct iovec){ (void *)mem, a.count };
		h.msg_size = (uint32_t)(sizeof(h) + sizeof(a) + a.count);
	} else if (h.cmd == WIRE_CMD_VERSION) {
		iov[n++] = (struct iovec){ (void *)b, h.msg_size - sizeof(h) };
	} else {
		h.msg_size = sizeof(h);
	}
	return sendmsg(fd, &(struct msghdr){ .msg_iov = iov,
			.msg_iovlen = (size_t)n }, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

void bench_floor_serve(int fd)
{
	uint8_t *buf = malloc(FLOOR_BUF), *mem = malloc(FLOOR_BUF);
	size_t have = 0;

	/* Real pages, as a device's memory has (not the shared zero page). */
	memset(mem, 0xa5, FLOOR_BUF);
	bench_cpu_mark();

	for (;;) {
		ssize_t n = recv(fd, buf + have, FLOOR_BUF - have, 0);
		size_t pos = 0;

		if (n <= 0)
			break;
		have += (size_t)n;
		/* Every whole request that came. */
		while (have - pos >= sizeof(struct wire_hdr)) {
			struct wire_hdr h;

			memcpy(&h, buf + pos, sizeof(h));
			if (h.msg_size < sizeof(h) || h.msg_size > FLOOR_BUF)
				goto out;
			if (have - pos < h.msg_size)
				break;
			if (floor_answer(fd, h, buf + pos + sizeof(h), mem) < 0)
				goto out;
			pos += h.msg_size;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
out:
	free(buf);
	free(mem);
}

int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	*o = (struct bench_opts){ .repeat = 3 };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
			o->csv = argv[++i];
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			o->repeat = atoi(argv[++i]);
		else if (strcmp(argv[i], "--quick") == 0)
			o->quick = true;
		else {
			fprintf(stderr, "usage: %s [--repeat N] [--quick] [--csv FILE]\n",
				argv[0]);
			return -1;
		}
	}
	if (o->repeat < 1 || o->repeat > BENCH_MAX_REPEAT)
		o->repeat = 3;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void bench_sort(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
}

static double cpu_t0;

void bench_cpu_mark(void)
{
	cpu_t0 = bench_cpu_process();
}

int bench_fork_server(void (*serve)(int fd, void *arg), void *arg,
		      pid_t *pid, int *cpu_fd)
{
	int sv[2], pp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(pp, O_CLOEXEC) < 0)
		exit(1);
	fflush(NULL);
	*pid = fork();
	if (*pid < 0)
		exit(1);
	if (*pid == 0) {
		double used;

		close(sv[1]);
		close(pp[0]);
		bench_cpu_mark();
		serve(sv[0], arg);
		used = bench_cpu_process() - cpu_t0;
		(void)!write(pp[1], &used, sizeof(used));
		_exit(0);
	}
	close(sv[0]);
	close(pp[1]);
	*cpu_fd = pp[0];
	return sv[1];
}

double bench_join_server(int fd, pid_t pid, int cpu_fd)
{
	double used = -1;

	close(fd);
	if (read(cpu_fd, &used, sizeof(used)) != sizeof(used))
		used = -1;
	close(cpu_fd);
	(void)waitpid(pid, NULL, 0);
	return used;
}
