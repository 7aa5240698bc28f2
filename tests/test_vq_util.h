/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_vq_util: the virtqueue tests' fixture. Guest memory is memfds
 * granted to a real context with the DMA table; the test plays the driver
 * by writing rings and descriptors straight into its own mapping, and
 * checks afterwards which guest bytes the device wrote.
 */
#ifndef TEST_VQ_UTIL_H
#define TEST_VQ_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "vtest.h"
#include "vus.h"
#include "../samples/virtio-net-pci/virtqueue.h"

#define QSIZE 16u

/* Guest-physical layout. */
#define MAIN 0x100000ull      /* 256 KiB, read/write */
#define MAIN_SIZE 0x40000ull
#define NEXT 0x140000ull      /* 4 KiB right after MAIN, another mapping */
#define NEXT_SIZE 0x1000ull
#define HOLE 0x141000ull      /* nothing mapped up to RO */
#define RO 0x200000ull        /* 4 KiB, device may only read */
#define RO_SIZE 0x1000ull
#define PIECES 0x300000ull    /* 40 separate 4 KiB mappings, contiguous */
#define NR_PIECES 40u

#define DESC (MAIN + 0x0000)
#define AVAIL (MAIN + 0x1000)
#define USED (MAIN + 0x2000)
#define IND (MAIN + 0x3000)
#define IND2 (MAIN + 0x4000)
#define BUF(i) (MAIN + 0x10000 + (uint64_t)(i) * 0x1000)

#define F_NEXT VIRTQ_DESC_F_NEXT
#define F_WRITE VIRTQ_DESC_F_WRITE
#define F_IND VIRTQ_DESC_F_INDIRECT

struct region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *mem;  /* our view of the memfd */
	uint8_t *snap; /* its bytes when the snapshot was taken */
};

struct t {
	vus_ctx *ctx;
	struct region r[3]; /* MAIN, NEXT, RO */
	int pieces_fd;
	struct virtqueue vq;
	struct vq_elem e;
	uint16_t avail_idx; /* the driver's */
};

/* A context with the guest memory above granted, and an element. */
struct t *setup(void);
void teardown(struct t *t);

/* Our pointer to guest address @gpa (inside MAIN, NEXT or RO). */
uint8_t *gp(struct t *t, uint64_t gpa);
void put16(struct t *t, uint64_t gpa, uint16_t v);
uint16_t get16(struct t *t, uint64_t gpa);
uint32_t get32(struct t *t, uint64_t gpa);
/* Whether @p (the device's view) is guest address @gpa (ours). */
bool same_place(struct t *t, const void *p, uint64_t gpa);

/* Descriptor @i of the table at @table. */
void desc(struct t *t, uint64_t table, unsigned int i, uint64_t addr,
	  uint32_t len, uint16_t flags, uint16_t next);
/* The driver makes chain @head available. */
void offer(struct t *t, uint16_t head);
/* vq_start() of the QSIZE queue at DESC/AVAIL/USED with @flags. */
void start(struct t *t, uint32_t flags);

void snapshot(struct t *t);
/* Nothing changed since the snapshot, except [lo, hi) and, with
 * @used_ok, the used ring. */
void check_writes(struct t *t, bool used_ok, uint64_t lo, uint64_t hi);
void untouched(struct t *t);
/* A broken queue refuses everything and touches nothing, ever again. */
void assert_broken(struct t *t, enum vq_error why);
/* Pop expecting the queue to break for @why. */
void pop_breaks(struct t *t, enum vq_error why);

#endif /* TEST_VQ_UTIL_H */
