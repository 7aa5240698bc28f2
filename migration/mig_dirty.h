/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_dirty: the DMA logging features of DEVICE_FEATURE
 * (DMA_LOGGING_START, _STOP, _REPORT) on top of the DMA table's dirty log.
 */
#ifndef VUS_MIG_DIRTY_H
#define VUS_MIG_DIRTY_H

#include "engine_priv.h"
#include "mig.h"

/** Largest report bitmap (the spec's default max_bitmap_size). */
#define MIG_MAX_BITMAP (256u << 20)

/**
 * DMA_LOGGING_START/STOP (SET) or REPORT (GET), checked for flags already.
 * Fills @r; the report's bitmap goes out as the reply's tail.
 */
int mig_dirty_feature(struct engine *e, struct migration *mg,
		      const struct wire_feature *f, const struct msg *m,
		      struct reply *r);

/** Drop the report buffer (context destroy). */
void mig_dirty_free(struct migration *mg);

/** Whether DEVICE_FEATURE @m changes the device's state or logging. */
bool mig_feature_needs_quiesce(const struct msg *m);

/**
 * Reply with the request payload exactly as it came (the spec's SET rule:
 * "the same as the request payload"). The engine's scratch holds any
 * DEVICE_FEATURE payload. Returns 0.
 */
int mig_feature_echo(struct reply *r, const struct msg *m);

/* mig_proto.c handlers for the engine's command table. */
int handle_device_feature(struct engine *e, struct msg *m, struct reply *r);
int handle_mig_data_read(struct engine *e, struct msg *m, struct reply *r);
int handle_mig_data_write(struct engine *e, struct msg *m, struct reply *r);

#endif /* VUS_MIG_DIRTY_H */
