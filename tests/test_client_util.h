/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_client_util: what the client integration tests share: a SysBus test
 * device served by a real context on its own thread (over a socketpair or
 * a listening socket), with counters for everything the client should
 * reach, a command register that makes the device do DMA from the server
 * thread, and a trace of the messages the server saw. Public API only.
 */
#ifndef TEST_CLIENT_UTIL_H
#define TEST_CLIENT_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vus.h"
#include "vus/client.h"

/* Region layout of the test device. */
#define TC_RAM 0u             /* callbacks over bytes */
#define TC_RAM_SIZE (2u << 20)
#define TC_CTL 1u             /* command register, DMA buffer, doorbells */
#define TC_CTL_SIZE (256u << 10)
#define TC_CTL_CMD 0x0u       /* write a struct tc_cmd here to run it */
#define TC_CTL_KICK_CMD 0x20u /* a struct tc_cmd run when the kick rings */
#define TC_CTL_RESULT 0x100u  /* u32: the last command's result (int) */
#define TC_CTL_DOORBELL 0x200u    /* 4-byte ioeventfd, datamatch 0x1234 */
#define TC_CTL_DOORBELL2 0x208u   /* 8-byte ioeventfd, any data */
/* 4-byte ioeventfd the device watches: runs the kick command on the
 * server thread, then raises TC_IRQ_EDGE vector 0. */
#define TC_CTL_KICK 0x210u
#define TC_CTL_BUF 0x10000u   /* DMA buffer */
#define TC_CTL_BUF_SIZE (192u << 10)
#define TC_SPARSE 2u          /* backing memory, two areas, TYPE cap */
#define TC_SPARSE_SIZE (64u << 10)
#define TC_SPARSE_TYPE 0x80001af4u
#define TC_SPARSE_SUBTYPE 7u
#define TC_WHOLE 3u           /* backing memory, mmap-able whole */
#define TC_WHOLE_SIZE (16u << 10)
#define TC_NUM_REGIONS 4u

/* Interrupt indexes. */
#define TC_IRQ_LEVEL 0u /* 1 vector, MASKABLE | AUTOMASKED */
#define TC_IRQ_EDGE 1u  /* 8 vectors */
#define TC_IRQ_EDGE_N 8u
#define TC_NUM_IRQS 2u

/* Server limits, small enough that the client must split. */
#define TC_SRV_XFER (64u << 10)
#define TC_SRV_FDS 4u

/* Commands for the device (run on the server thread). */
enum tc_op {
	TC_OP_DMA_READ = 1,  /* client memory -> DMA buffer */
	TC_OP_DMA_WRITE = 2, /* DMA buffer -> client memory */
	TC_OP_SG_FILL = 3,   /* vus_dma_sg(WRITE), fill with buf[0]; result nr */
};

struct tc_cmd {
	uint32_t op;
	uint32_t len;
	uint64_t addr;
} __attribute__((packed));

#define TC_TRACE_MAX 512u

struct tc_dev {
	vus_ctx *ctx;
	pthread_t thread;
	bool running;
	int run_ret;
	const char *path; /* listening path, or NULL */
	uint8_t *ram;
	uint8_t ctl[TC_CTL_SIZE];
	int doorbell_fd; /* the device's end of both doorbells */
	int kick_fd;     /* the device's end of the kick */
	atomic_uint ram_accesses;
	atomic_uint ram_max_len;
	atomic_int result;
	atomic_int resets;
	atomic_int last_reset;
	atomic_int maps;
	atomic_int unmaps;
	atomic_int connects;
	atomic_int client_losts;
	atomic_uint_least64_t last_unmap_addr;
	atomic_uint_least64_t last_unmap_size;
	/* Messages the server saw, in order. */
	pthread_mutex_t lock;
	unsigned int nr_trace;
	struct vus_trace_event trace[TC_TRACE_MAX];
};

/* Create and realize the device. */
void tc_dev_init(struct tc_dev *d);
/* The same with VUS_CTX_* flags in the context's config. */
void tc_dev_init_flags(struct tc_dev *d, uint32_t ctx_flags);

/*
 * Serve it on a thread: over a socketpair (returns the client's end) or,
 * with @listen, on a listening socket at d->path (returns -1).
 */
int tc_dev_start(struct tc_dev *d, bool listen);

/* Stop the thread, destroy the context, free everything. */
void tc_dev_fini(struct tc_dev *d);

/* tc_dev_init + tc_dev_start + a negotiated client over a socketpair. */
vus_client *tc_setup(struct tc_dev *d);
vus_client *tc_setup_flags(struct tc_dev *d, uint32_t ctx_flags);
void tc_teardown(struct tc_dev *d, vus_client *c);

/*
 * Any realized @ctx (the tests' own devices): serve it on a new thread
 * (*@th runs vus_ctx_run) over a new socketpair and return the client's end
 * (tc_serve_fd), or a negotiated client on it (tc_serve). The loop has no
 * listener, so it ends when that client goes: tc_serve_end closes @c and
 * joins @th; @ctx stays the caller's, and may serve again.
 */
int tc_serve_fd(vus_ctx *ctx, pthread_t *th);
vus_client *tc_serve(vus_ctx *ctx, pthread_t *th);
void tc_serve_end(vus_client *c, pthread_t th);

/*
 * Read the stream a migrating device has for now (PRE_COPY: until it has
 * nothing more; STOP_COPY: to its end) in 1 MiB reads and append it to
 * @fd: the bytes read.
 */
size_t tc_mig_read_all(vus_client *c, int fd);

/* Run a device command through the command register; returns its result. */
int tc_run(vus_client *c, uint32_t op, uint64_t addr, uint32_t len);

/* Count traced messages with @cmd in direction @dir since @from. */
unsigned int tc_count(struct tc_dev *d, unsigned int from, uint16_t cmd,
		      enum vus_trace_dir dir);
/* Number of traced messages so far (a mark for tc_count). */
unsigned int tc_mark(struct tc_dev *d);
/* Copy traced RX messages of @cmd since @from into @out; returns count. */
unsigned int tc_find(struct tc_dev *d, unsigned int from, uint16_t cmd,
		     struct vus_trace_event *out, unsigned int max);

/* Wait (up to 5 s) until @cond(d) is true; returns it. */
bool tc_wait_for(struct tc_dev *d, bool (*cond)(struct tc_dev *d));

/* Signals counted on an eventfd since the last call (non-blocking read). */
uint64_t tc_eventfd_count(int fd);
/** As tc_eventfd_count(), once @fd is signalled (or 5 s, scaled). */
uint64_t tc_eventfd_wait(int fd);

/* A fresh non-blocking eventfd. */
int tc_eventfd(void);

#endif /* TEST_CLIENT_UTIL_H */
