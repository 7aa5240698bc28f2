/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * idio16: an ACCES PCI-IDIO-16 isolated digital I/O card (16 FET outputs,
 * 16 isolated inputs, change-of-state interrupt) as a libvus PCI device.
 * Register layout and semantics are those Linux's gpio-pci-idio-16 driver
 * programs (PCI 494f:0dc8, an 8-byte I/O BAR 2):
 *
 *   off  read                      write
 *   0    outputs 0-7               outputs 0-7
 *   1    inputs 0-7                clear interrupt
 *   2    enable interrupt          disable interrupt
 *   3    activate input filters    deactivate input filters
 *   4    outputs 8-15              outputs 8-15
 *   5    inputs 8-15               -
 *   6    interrupt status          -
 *   7    -                         -
 *
 * Interrupt status: bit 0 inputs 0-7 changed, bit 1 inputs 8-15 changed,
 * bit 2 interrupt pending (the driver checks (status & 3) && (status & 4)).
 * While the interrupt is enabled, an input change latches the status and
 * raises INTx until a write to offset 1 clears it.
 */
#ifndef IDIO16_H
#define IDIO16_H

#include <stdbool.h>
#include <stdint.h>

#include "vus.h"

#define IDIO16_VENDOR 0x494f
#define IDIO16_DEVICE 0x0dc8
#define IDIO16_BAR 2
#define IDIO16_BAR_SIZE 8

#define IDIO16_REG_OUT0_7 0
#define IDIO16_REG_IN0_7 1
#define IDIO16_REG_IRQ_CTL 2
#define IDIO16_REG_FILTER_CTL 3
#define IDIO16_REG_OUT8_15 4
#define IDIO16_REG_IN8_15 5
#define IDIO16_REG_IRQ_STATUS 6

#define IDIO16_STATUS_LOW 0x1
#define IDIO16_STATUS_HIGH 0x2
#define IDIO16_STATUS_PENDING 0x4

struct idio16 {
	vus_ctx *ctx;
	uint16_t outputs;
	uint16_t inputs;
	bool irq_enabled;
	bool filters;
	uint8_t status;
	unsigned long irqs_raised; /* statistics for gpio.get */
	/*
	 * Stopped for migration: the card must not interrupt, so input
	 * changes wait in @wires until it runs again.
	 */
	bool stopped;
	uint16_t wires;
};

/**
 * Describe the card on a new PCI context (identity, BAR 2, INTx, reset
 * callback). @d must live as long as the context. 0 or -errno.
 */
int idio16_setup(struct idio16 *d, vus_ctx *ctx);

/** Change the 16 input lines as the outside world would. */
void idio16_set_inputs(struct idio16 *d, uint16_t inputs);

/** Register access from the bus (one byte at a time). */
uint8_t idio16_read(struct idio16 *d, unsigned int reg);
void idio16_write(struct idio16 *d, unsigned int reg, uint8_t val);

/** Power-on state; input lines keep their level (they are wires). */
void idio16_reset(struct idio16 *d);

/**
 * Make the card migratable (section "idio16": registers and latches) with
 * the migration parameters @cfg (guest-visible version, where a load
 * stages). Before realize. 0 or -errno.
 */
int idio16_mig_setup(struct idio16 *d, const struct vus_mig_config *cfg);

#endif /* IDIO16_H */
