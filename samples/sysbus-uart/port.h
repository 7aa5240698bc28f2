/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port: the 16550A model served as a libvus SysBus device. Owns the MMIO
 * window (reg-shift applied here), the interrupt line, the character
 * timeout timer and the wiring between the model and a backend.
 *
 * After every event (a register access, backend readiness, the timer, a
 * reset) port_sync() moves bytes between the FIFOs and the backend, tells
 * the backend whether to listen for input, restarts or stops the timer and
 * sets the line. Everything runs on the context thread.
 *
 * The line follows the 16550A's INTR output; MCR.OUT2 does not gate it.
 * OUT2 gating is PC board logic (the ISA card's IRQ driver enabled by
 * OUT2), not part of the chip, and SoC "ns16550a" nodes wire INTR straight
 * to the interrupt controller. Linux sets OUT2 whenever it uses the IRQ
 * anyway, so either choice works for its 8250 driver.
 */
#ifndef UART_PORT_H
#define UART_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <vus.h>

#include "backend.h"
#include "uart16550.h"

struct port_config {
	unsigned int reg_shift; /* 0: byte registers; 2: 32-bit registers */
	uint32_t clock_hz;      /* UART input clock */
	uint32_t speed;         /* baud rate at power-on and reset */
	uint64_t base;          /* suggested base or VUS_SYSBUS_NO_BASE */
};

struct port {
	vus_ctx *ctx;
	struct uart16550 uart;
	struct backend *be;
	unsigned int shift;
	int timer_fd;
	bool timer_armed;
	uint32_t timer_epoch; /* RX activity count when the timer started */
	bool line;            /* level last given to the line */
	bool stopped;         /* for migration: frozen, see port_mig.c */
};

/**
 * Describe the device on @ctx (a SysBus context, before realize): identity
 * "ns16550a", the window, the line, the properties, the reset callback and
 * the timer. -EINVAL for a bad config, or the libvus errors.
 */
int port_setup(struct port *p, vus_ctx *ctx, const struct port_config *cfg);

/** Connect the backend (opened with port_sync as its kick); NULL detaches it. */
void port_attach(struct port *p, struct backend *be);

/** Bring everything in line with the model (a backend_kick_fn). */
void port_sync(void *opaque);

/**
 * Make the port migratable (section "uart16550": registers, latches and
 * both FIFOs) with the migration parameters @cfg (guest-visible
 * version, where a load stages). After
 * port_setup(), before realize. 0 or -errno.
 */
int port_mig_setup(struct port *p, const struct vus_mig_config *cfg);

/** The management methods (port_rpc.c), for --print-capabilities too. */
#define PORT_RPC_N_METHODS 1
extern const struct vus_rpc_method port_rpc_methods[PORT_RPC_N_METHODS];

/** Register uart.query-line for @p (after port_setup()). 0 or -errno. */
int port_rpc_setup(struct port *p);

/** Stop the timer; the backend is closed by its owner. */
void port_teardown(struct port *p);

#endif /* UART_PORT_H */
