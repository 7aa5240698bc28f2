/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_util: what the management-plane tests and benchmark share: a small
 * SysBus device (a 4 KiB register region, one interrupt, methods of its
 * own, a quiesce that can be made to wait) served by a real context on a
 * thread, with its JSON-RPC socket listening and a vfio-user client's
 * socket attached; a raw line client for the management socket; and
 * busy management clients on a thread (trpc_hammer).
 * Public API only; no assertions here (the benchmark links it too).
 */
#ifndef RPC_UTIL_H
#define RPC_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vus.h"

#define TRPC_REGS_SIZE 4096u

struct trpc_dev {
	vus_ctx *ctx;
	pthread_t thread;
	bool running;
	char rpc_path[256];
	uint32_t regs[TRPC_REGS_SIZE / 4];
	int vfu_fd;               /* the vfio-user client's end, or -1 */
	/* Quiesce: answer -EBUSY and wait for trpc_dev_confirm(). */
	atomic_bool async_quiesce;
	atomic_int quiesces;      /* quiesce callbacks so far */
	atomic_int resumes;
	atomic_int resets;
	atomic_int held_runs;     /* test.hold handlers run */
};

/**
 * Create the device, register its methods (test.echo, test.pick,
 * test.fail, test.misuse, test.hold), realize, listen for JSON-RPC at a
 * fresh path, attach one end of a socketpair as its vfio-user client
 * (d->vfu_fd is the other) and serve on a thread. 0 or -errno.
 */
int trpc_dev_start(struct trpc_dev *d);

/** Stop the thread, destroy the context, close d->vfu_fd if still open. */
void trpc_dev_stop(struct trpc_dev *d);

/** Confirm a quiesce answered -EBUSY (any thread). */
void trpc_dev_confirm(struct trpc_dev *d);

/** A blocking connection to the management socket at @path, or -errno. */
int trpc_connect(const char *path);

/** Write @line and a newline. 0 or -errno. */
int trpc_send(int fd, const char *line);

/**
 * The next line (no newline; caller frees), or NULL at EOF or on an
 * error. Waits at most vtest_ms(60000): a guard against hangs, not a
 * timing check.
 */
char *trpc_recv_line(int fd);

/** Send @line, read one reply line, parse it: a new reference or NULL. */
struct json_object *trpc_call(int fd, const char *line);

/** The object at a dotted @path ("error.data.message") of @o, or NULL. */
struct json_object *trpc_get(struct json_object *o, const char *path);

/** trpc_get() as an integer (INT64_MIN when absent). */
int64_t trpc_int(struct json_object *o, const char *path);

/** trpc_get() as a string ("" when absent). */
const char *trpc_str(struct json_object *o, const char *path);

/** Whether the array @arr (may be NULL) holds the string @s. */
bool trpc_has(struct json_object *arr, const char *s);

#define TRPC_HAMMER_MAX 64

/**
 * Busy management clients: @n (1..TRPC_HAMMER_MAX) connections to @path
 * from a thread of their own, each sending query-stats again as soon as
 * its reply came; every reply must be a query-stats result (else an
 * error is counted and the hammering stops).
 */
struct trpc_hammer {
	pthread_t thread;
	const char *path;
	int n;
	atomic_bool stop;
	long replies;        /* results received */
	long errors;         /* failed connects, sends, bad replies */
	int min_per_client;  /* results of the least served client */
};

/** Start hammering. 0 or -errno (-EINVAL: a bad @n). */
int trpc_hammer_start(struct trpc_hammer *h, const char *path, int n);

/** Stop, join, close the connections; the figures are final then. */
void trpc_hammer_stop(struct trpc_hammer *h);

#endif /* RPC_UTIL_H */
