/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery (internal): one context's crash recovery (vus/recovery.h): the
 * state area with the context's kept state, the fds in the service
 * manager's store, and when they are saved. The context calls in at
 * realize, after each client message and at the end of each loop turn.
 */
#ifndef VUS_RECOVERY_INTERNAL_H
#define VUS_RECOVERY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vus/recovery.h"

struct recovery;

/*
 * What a client message may change in the kept state (the command table's
 * .changes): the engine reports it once the handler has run.
 */
#define KEPT_BUS 0x1u    /* the bus adapter's sections (config, MSI-X) */
#define KEPT_ENGINE 0x2u /* negotiated capabilities, connection state */
#define KEPT_DEVICE 0x4u /* the device's sections (a reset, a load) */

/**
 * Build the area's layout from what realize froze, then adopt the area a
 * dead process kept (restoring its state) or start a new one. A refused
 * area is logged and the device starts clean; only resource errors fail.
 */
int recovery_realize(vus_ctx *ctx, struct recovery *r);

/** A message was handled (@changes: KEPT_*): save and commit. */
void recovery_message_done(struct recovery *r, uint32_t changes);

/** End of a loop turn: save and commit what devices marked changed. */
void recovery_turn_done(struct recovery *r);

void recovery_destroy(struct recovery *r);

#endif /* VUS_RECOVERY_INTERNAL_H */
