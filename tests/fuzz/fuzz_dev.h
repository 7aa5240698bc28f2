/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_dev: the devices the engine fuzz targets serve. Both use the
 * register map of fuzz_input.h in region 0 (BAR 0 for PCI): plain
 * registers, two doorbells, and registers that make the device do DMA
 * (through messages for fd-less mappings) and raise interrupts from
 * inside a region-write callback.
 *
 * SysBus-style: region 0 callbacks, region 1 memory with sparse mmap areas
 * and callbacks for the rest, region 2 plain memory, region 3 read-only
 * with a TYPE capability, region 4 memory that is not whole pages; IRQ
 * index 0 one level line (maskable, automasked), 1 four edge vectors,
 * 2 empty, 3 two maskable NORESIZE vectors.
 *
 * PCI (Express, INTA#): BAR0 registers, BAR1 I/O, BAR2 64-bit memory with
 * the MSI-X table and PBA and mmap areas, a ROM, PM, MSI (4 vectors,
 * per-vector masks), MSI-X (61 vectors), Express, vendor, DSN and another
 * extended capability; config callbacks for device-owned bytes.
 *
 * Both migrate (fuzz_dev_mig.c): pre-copy, two sections of their own and,
 * for PCI, the library's "pci" section.
 */
#ifndef FUZZ_DEV_H
#define FUZZ_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vus.h"

struct fdev {
	vus_ctx *ctx;
	bool pci;
	bool busy;           /* quiesce answers -EBUSY */
	bool quiesce_asked;  /* a -EBUSY not yet confirmed */
	uint8_t regs[4096];
	uint8_t io[256];
	uint8_t cfg[4096];   /* device-owned config bytes */
	int doorbell[2];     /* our copies of the ioeventfds */
	unsigned int maps, unmaps, resets;
	/* Migration (fuzz_dev_mig.c). */
	uint8_t mig_mode;    /* the "fz.ctrl" section's mode (< 4) */
	uint8_t page_dirty;  /* register pages written since sent */
	unsigned int live_next;  /* next page save_live sends */
	unsigned int pages_sent; /* in this save session */
	unsigned int mig_changes; /* state callback calls */
};

struct fdev_opts {
	bool pci;
	bool quiesce;        /* register quiesce/resume */
	bool busy;
	uint32_t max_xfer;   /* 0: defaults */
	uint32_t max_fds;
	uint32_t max_dma_maps;
};

/** Create, describe and realize the device's context. 0 or -errno. */
int fdev_create(struct fdev *d, const struct fdev_opts *o);

/** Destroy the context and close the device's own fds. */
void fdev_destroy(struct fdev *d);

/** Raise or lower interrupts as @bits say (as the IRQ register does). */
void fdev_irqs(struct fdev *d, uint64_t bits);

/** Make the device migratable: its sections and state callback. */
int fdev_mig_setup(struct fdev *d);

/** Forget the save session in progress (reset, or a new session). */
void fdev_mig_restart(struct fdev *d);

#endif /* FUZZ_DEV_H */
