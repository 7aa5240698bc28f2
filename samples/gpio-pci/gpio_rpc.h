/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gpio_rpc: the card's "outside world" on the management plane
 * (doc/management.md): a person, a test or a tool changes the input lines
 * and looks at the outputs while a guest drives the card.
 *
 *   gpio.get                                  -> the card's state
 *   gpio.set-inputs {"inputs": 0..65535}      -> the card's state
 *   gpio.set-input  {"line": 0..15, "level": bool}
 *
 * The state: outputs, inputs (what the card shows), input-lines (the
 * wires' level: while the card is stopped for migration, a change waits
 * there and inputs keeps the latched value), irq-enabled, irq-status,
 * filters, irqs-raised, stopped.
 */
#ifndef GPIO_RPC_H
#define GPIO_RPC_H

#include "idio16.h"

/** The methods, for --print-capabilities too. */
#define GPIO_RPC_N_METHODS 3
extern const struct vus_rpc_method gpio_rpc_methods[GPIO_RPC_N_METHODS];

/** Register the methods on @ctx for card @d. 0 or -errno. */
int gpio_rpc_setup(vus_ctx *ctx, struct idio16 *d);

#endif /* GPIO_RPC_H */
