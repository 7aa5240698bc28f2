/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_raw: the least a vfio-user client can do, for benchmarks that
 * compare servers: blocking sends of whole requests, blocking receives of
 * whole replies, no checks beyond framing. The same client drives every
 * server measured, so differences are the servers'. Also the floor
 * server (one receive per request, one send per reply, nothing else) and
 * a few helpers (CPU clocks, pinning, CSV output).
 */
#ifndef BENCH_RAW_H
#define BENCH_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Monotonic seconds. */
double bench_now(void);
/* CPU seconds used by this process / this thread. */
double bench_cpu_process(void);
double bench_cpu_thread(void);

/* What every benchmark takes: --repeat N (1..15), --quick, --csv FILE. */
#define BENCH_MAX_REPEAT 15
struct bench_opts {
	int repeat;      /* runs per figure, default 3 */
	bool quick;      /* fewer operations per run */
	const char *csv; /* figures also written there, or NULL */
};

/* Parse them; 0, or -1 after printing the usage of @argv[0]. */
int bench_parse(int argc, char **argv, struct bench_opts *o);

/* Sort @n figures in place, smallest first (median: v[n / 2]). */
void bench_sort(double *v, int n);

/* Blocking I/O of exactly @len bytes: 0 or -1. */
int bench_send_all(int fd, const void *p, size_t len);
int bench_recv_all(int fd, void *p, size_t len);

/* VERSION with max_data_xfer_size @xfer; reads the reply. 0 or -1. */
int bench_version(int fd, uint32_t xfer);

/*
 * REGION_READ of @count bytes at @off of region @idx; the data lands in
 * @data (room for @count). 0, or -1 on a broken stream or error reply.
 */
int bench_read(int fd, uint32_t idx, uint64_t off, void *data,
	       uint32_t count);

/*
 * One request @cmd with @len bytes of @body and, if @pass_fd >= 0, that fd
 * (borrowed); reads the whole reply. 0, or -1 on a broken stream or an
 * error reply.
 */
int bench_call(int fd, uint16_t cmd, const void *body, size_t len,
	       int pass_fd);

/* DMA_MAP of @size bytes at @off of @memfd (passed along) to @iova, read
 * and write; DMA_UNMAP of it. 0, or -1 on a broken stream or refusal. */
int bench_map(int fd, int memfd, uint64_t iova, uint64_t off, uint64_t size);
int bench_unmap(int fd, uint64_t iova, uint64_t size);

/* Lines of /proc/@pid/maps that map the memfd named @name, or -1. */
int bench_memfd_vmas(pid_t pid, const char *name);

/* @n posted (NO_REPLY) 4-byte REGION_WRITEs at @off of region @idx. */
int bench_posted_writes(int fd, uint32_t idx, uint64_t off, unsigned int n);

/*
 * The floor: serve @fd until EOF, reading whatever has come with one
 * recv() and answering each request with one sendmsg(): VERSION echoed,
 * REGION_READ answered from a zeroed buffer, REGION_WRITE acknowledged
 * unless posted. No checks, no dispatch table, no event loop.
 */
void bench_floor_serve(int fd);

/*
 * Fork a server process on one end of a new socketpair: @serve(fd, arg)
 * runs in the child, which then writes its CPU seconds to a pipe and
 * exits. Returns the client's end; *pid and *cpu_fd are set.
 */
int bench_fork_server(void (*serve)(int fd, void *arg), void *arg,
		      pid_t *pid, int *cpu_fd);

/* In a forked server: count its CPU from now on (after its set-up). */
void bench_cpu_mark(void);

/* Close @fd, reap @pid, return the child's CPU seconds (or -1). */
double bench_join_server(int fd, pid_t pid, int cpu_fd);

#endif /* BENCH_RAW_H */
