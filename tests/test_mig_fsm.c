/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The migration state machine's paths, against the table in the protocol
 * reference (vfio-user-wire.md 15.3) and the UAPI's P2P routes.
 */
#include <errno.h>
#include <string.h>

#include "mig_fsm.h"
#include "vtest.h"
#include "vus/migration.h"

enum { E = VUS_MIG_ERROR, S = VUS_MIG_STOP, R = VUS_MIG_RUNNING,
       SC = VUS_MIG_STOP_COPY, RS = VUS_MIG_RESUMING, RP = VUS_MIG_RUNNING_P2P,
       PC = VUS_MIG_PRE_COPY, PCP = VUS_MIG_PRE_COPY_P2P, END = 99 };

/* Follow mig_fsm_next from @cur to @target; the states visited, END-terminated. */
static int path(uint32_t cur, uint32_t target, uint32_t flags, int *out)
{
	int n = 0;

	while (cur != target && n < 8) {
		uint32_t next;
		int ret = mig_fsm_next(cur, target, flags, &next);

		if (ret < 0)
			return ret;
		assert_true(mig_fsm_arc_ok(cur, next, flags));
		out[n++] = (int)next;
		cur = next;
	}
	out[n] = END;
	return 0;
}

struct row { int from, to; int want[5]; };

#define F_PC (MIG_F_STOP_COPY | MIG_F_PRE_COPY)

/* The reference table, non-P2P with PRE_COPY. */
static const struct row table[] = {
	{ S, R, { R, END } }, { S, SC, { SC, END } }, { S, RS, { RS, END } },
	{ S, PC, { R, PC, END } },
	{ R, S, { S, END } }, { R, SC, { S, SC, END } }, { R, RS, { S, RS, END } },
	{ R, PC, { PC, END } },
	{ SC, S, { S, END } }, { SC, R, { S, R, END } }, { SC, RS, { S, RS, END } },
	{ RS, S, { S, END } }, { RS, R, { S, R, END } }, { RS, SC, { S, SC, END } },
	{ RS, PC, { S, R, PC, END } },
	{ PC, S, { R, S, END } }, { PC, R, { R, END } }, { PC, SC, { SC, END } },
	{ PC, RS, { R, S, RS, END } },
};

static void paths_match_the_reference(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int got[9];

		assert_int_equal(path((uint32_t)table[i].from, (uint32_t)table[i].to,
				      F_PC, got), 0);
		for (int k = 0; ; k++) {
			if (got[k] != table[i].want[k])
				fail_msg("%d -> %d: step %d is %d, want %d",
					 table[i].from, table[i].to, k, got[k],
					 table[i].want[k]);
			if (got[k] == END)
				break;
		}
	}
}

static void invalid_targets(void **state)
{
	uint32_t next;

	(void)state;
	/* A finished save session does not go back to pre-copy. */
	assert_int_equal(mig_fsm_next(SC, PC, F_PC, &next), -EINVAL);
	/* ERROR is never a target, and only reset leaves it. */
	assert_int_equal(mig_fsm_next(R, E, F_PC, &next), -EINVAL);
	assert_int_equal(mig_fsm_next(E, S, F_PC, &next), -EINVAL);
	/* States the device did not announce, and numbers beyond the enum. */
	assert_int_equal(mig_fsm_next(R, PC, MIG_F_STOP_COPY, &next), -EINVAL);
	assert_int_equal(mig_fsm_next(R, RP, F_PC, &next), -EINVAL);
	assert_int_equal(mig_fsm_next(R, 8, F_PC, &next), -EINVAL);
	assert_int_equal(mig_fsm_next(R, 0xffffffff, F_PC, &next), -EINVAL);
	assert_int_equal(mig_fsm_next(MIG_NR_STATES, R, F_PC, &next), -EINVAL);
	/* The arc table itself: the last state, and one past it. */
	assert_true(mig_fsm_arc_ok(PC, R, F_PC | MIG_F_P2P));
	assert_false(mig_fsm_arc_ok(R, MIG_NR_STATES, F_PC | MIG_F_P2P));
	assert_false(mig_fsm_arc_ok(MIG_NR_STATES, R, F_PC | MIG_F_P2P));
	/* The same state again is a no-op step. */
	assert_int_equal(mig_fsm_next(S, S, F_PC, &next), 0);
	assert_int_equal(next, S);
}

static void p2p_routes(void **state)
{
	const uint32_t f = MIG_F_STOP_COPY | MIG_F_P2P | MIG_F_PRE_COPY;
	int got[9];

	(void)state;
	/* With P2P, running and stopped meet in RUNNING_P2P (UAPI). */
	assert_int_equal(path(R, S, f, got), 0);
	assert_memory_equal(got, ((int[]){ RP, S, END }), 3 * sizeof(int));
	assert_int_equal(path(S, R, f, got), 0);
	assert_memory_equal(got, ((int[]){ RP, R, END }), 3 * sizeof(int));
	/* Within a save session the P2P twin is a fine step. */
	assert_int_equal(path(PC, SC, f, got), 0);
	assert_memory_equal(got, ((int[]){ PCP, SC, END }), 3 * sizeof(int));
	assert_false(mig_fsm_arc_ok(R, S, f));
	assert_true(mig_fsm_arc_ok(R, S, MIG_F_STOP_COPY));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(paths_match_the_reference),
		VTEST(invalid_targets),
		VTEST(p2p_routes),
	};

	return vtest_run("mig_fsm", tests, argc, argv);
}
