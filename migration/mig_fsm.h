/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_fsm: the VFIO migration v2 state machine as tables: which direct
 * arcs exist (some only with PRE_COPY or P2P support), and, derived from
 * them once, the next step on the shortest path between any two states
 * that does not pass through a saving state (PRE_COPY, STOP_COPY,
 * PRE_COPY_P2P), as the VFIO UAPI specifies.
 */
#ifndef VUS_MIG_FSM_H
#define VUS_MIG_FSM_H

#include <stdbool.h>
#include <stdint.h>

#define MIG_NR_STATES 8u

/* Feature flags (VFIO_MIGRATION_*). */
#define MIG_F_STOP_COPY 0x1u
#define MIG_F_P2P 0x2u
#define MIG_F_PRE_COPY 0x4u

/** Whether @state exists for a device with @flags. */
bool mig_fsm_state_ok(uint32_t state, uint32_t flags);

/** Whether @state saves (PRE_COPY, STOP_COPY, PRE_COPY_P2P). */
bool mig_fsm_saving(uint32_t state);

/** Whether a device in @state must stand still (STOP, STOP_COPY,
 * RESUMING, ERROR). */
bool mig_fsm_stopped(uint32_t state);

/** Whether from -> to is a direct arc for a device with @flags. */
bool mig_fsm_arc_ok(uint32_t from, uint32_t to, uint32_t flags);

/**
 * The next state on the way from @cur to @target (both checked < 8):
 * 0 with *next set, or -EINVAL if @target cannot be reached (unknown or
 * unsupported state, ERROR, a saving state from outside the saving group
 * that needs one, STOP_COPY -> PRE_COPY, anything from ERROR).
 * @cur == @target gives *next = @cur.
 */
int mig_fsm_next(uint32_t cur, uint32_t target, uint32_t flags,
		 uint32_t *next);

#endif /* VUS_MIG_FSM_H */
