/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pci_util: what the PCI adapter tests share: a PCI context, config
 * and BAR accesses through the region table exactly as the engine makes
 * them for a client, a byte-array BAR backend that logs its accesses,
 * eventfds bound to interrupt vectors, and bounded capability walks.
 * Deliberately free of lib/pci_priv.h so that test_pci_libpci.c can include
 * libpci's headers next to it.
 */
#ifndef TEST_PCI_UTIL_H
#define TEST_PCI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vus/pci.h"

/* Test identity: vendor 0x1af4, device 0x10f0, class 0x028000 ... */
struct vus_pci_info tp_info(bool express, uint8_t pin);

/* A PCI context after vus_pci_init(@info); fails the test otherwise. */
vus_ctx *tp_new(const struct vus_pci_info *info);

/* Access region @index as the engine would for REGION_READ/WRITE. */
int tp_access(vus_ctx *ctx, uint32_t index, uint64_t off, void *buf,
	      size_t len, bool is_write);

/* Config space (region 7) register reads/writes of 1, 2 or 4 bytes. */
uint32_t tp_rd(vus_ctx *ctx, uint32_t off, size_t len);
void tp_wr(vus_ctx *ctx, uint32_t off, uint32_t val, size_t len);

/* ctx_reset() as DEVICE_RESET does it. */
void tp_reset(vus_ctx *ctx);

/* A BAR backend: bytes plus a log of what reached the callbacks. */
#define TP_BAR_MEM 8192u
#define TP_BAR_LOG 64u
struct tp_access_rec {
	uint64_t off;
	size_t len;
	bool write;
};
struct tp_bar {
	uint8_t mem[TP_BAR_MEM];
	unsigned int nr;
	struct tp_access_rec log[TP_BAR_LOG];
};
extern const struct vus_region_ops tp_bar_ops;

/* vus_pci_setup_bar() with tp_bar_ops over @b. */
int tp_setup_bar(vus_ctx *ctx, unsigned int bar, uint32_t flags,
		 uint64_t size, struct tp_bar *b);

/* Bind a new eventfd to @vector of @index; returns our end (non-blocking). */
int tp_bind(vus_ctx *ctx, uint32_t index, uint32_t vector);
/* Signals counted on @fd since the last call; 0 if none. */
uint64_t tp_events(int fd);

/* Walk conventional / extended capabilities (bounded). Returns the count. */
unsigned int tp_walk_caps(vus_ctx *ctx, uint8_t *ids, uint16_t *offs,
			  unsigned int max);
unsigned int tp_walk_ext(vus_ctx *ctx, uint16_t *ids, uint16_t *offs,
			 unsigned int max);

#endif /* TEST_PCI_UTIL_H */
