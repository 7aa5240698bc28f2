/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mig_sections: the two state sections the migration tests give
 * their devices. "counter" (v1): one u64, saved at the stop. "big" (v1):
 * a byte array sent in parts while the device runs (pre-copy), the rest
 * at the stop; both sides check its exact size.
 */
#ifndef TEST_MIG_SECTIONS_H
#define TEST_MIG_SECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "vus.h"

struct tmig_state {
	uint64_t counter;
	uint8_t *big;      /* the caller's, big_size bytes */
	size_t big_size;
	size_t big_part;   /* bytes per pre-copy part */
	size_t big_sent;   /* in this save session */
};

/** Add "counter" and "big" over @s to @ctx (before realize). */
void tmig_add_sections(vus_ctx *ctx, struct tmig_state *s);

#endif /* TEST_MIG_SECTIONS_H */
