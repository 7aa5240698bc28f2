/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_fsm: VFIO migration v2 arcs and next steps (see mig_fsm.h). The arc
 * table is the UAPI's; the next-step tables are computed from it once per
 * feature combination by a breadth-first search, so the two cannot
 * disagree.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mig_fsm.h"
#include "vus/migration.h"

enum {
	ERROR = VUS_MIG_ERROR, STOP = VUS_MIG_STOP, RUNNING = VUS_MIG_RUNNING,
	STOP_COPY = VUS_MIG_STOP_COPY, RESUMING = VUS_MIG_RESUMING,
	RUNNING_P2P = VUS_MIG_RUNNING_P2P, PRE_COPY = VUS_MIG_PRE_COPY,
	PRE_COPY_P2P = VUS_MIG_PRE_COPY_P2P,
};

/* Arc kinds: always, needs a feature, or exists only without P2P. */
#define A 0x1u            /* always */
#define PC 0x2u           /* needs PRE_COPY */
#define P2 0x4u           /* needs P2P */
#define PC_P2 0x8u        /* needs PRE_COPY and P2P */
#define NO_P2 0x10u       /* only without P2P (else it goes via a P2P state) */
#define PC_NO_P2 0x20u    /* needs PRE_COPY, only without P2P */

static const uint8_t arcs[MIG_NR_STATES][MIG_NR_STATES] = {
	[STOP] = { [RUNNING] = NO_P2, [STOP_COPY] = A, [RESUMING] = A,
		   [RUNNING_P2P] = P2 },
	[RUNNING] = { [STOP] = NO_P2, [RUNNING_P2P] = P2, [PRE_COPY] = PC },
	[STOP_COPY] = { [STOP] = A },
	[RESUMING] = { [STOP] = A },
	[RUNNING_P2P] = { [STOP] = P2, [RUNNING] = P2,
			  [PRE_COPY_P2P] = PC_P2 },
	[PRE_COPY] = { [RUNNING] = PC, [STOP_COPY] = PC_NO_P2,
		       [PRE_COPY_P2P] = PC_P2 },
	[PRE_COPY_P2P] = { [RUNNING_P2P] = PC_P2, [PRE_COPY] = PC_P2,
			   [STOP_COPY] = PC_P2 },
};

bool mig_fsm_state_ok(uint32_t s, uint32_t flags)
{
	bool p2p = flags & MIG_F_P2P, pc = flags & MIG_F_PRE_COPY;

	switch (s) {
	case ERROR: case STOP: case RUNNING: case STOP_COPY: case RESUMING:
		return true;
	case RUNNING_P2P: return p2p;
	case PRE_COPY: return pc;
	case PRE_COPY_P2P: return pc && p2p;
	default: return false;
	}
}

bool mig_fsm_arc_ok(uint32_t from, uint32_t to, uint32_t flags)
{
	bool p2p = flags & MIG_F_P2P, pc = flags & MIG_F_PRE_COPY;
	uint8_t k;

	if (from >= MIG_NR_STATES || to >= MIG_NR_STATES)
		return false;
	k = arcs[from][to];
	return (k & A) || ((k & PC) && pc) || ((k & P2) && p2p) ||
	       ((k & PC_P2) && pc && p2p) || ((k & NO_P2) && !p2p) ||
	       ((k & PC_NO_P2) && pc && !p2p);
}

bool mig_fsm_saving(uint32_t s)
{
	return s == PRE_COPY || s == STOP_COPY || s == PRE_COPY_P2P;
}

bool mig_fsm_stopped(uint32_t s)
{
	return s == STOP || s == STOP_COPY || s == RESUMING || s == ERROR;
}

/* next[flags][from][to]: the first step, or 0xff when unreachable. */
static uint8_t next_tab[8][MIG_NR_STATES][MIG_NR_STATES];
static pthread_once_t next_once = PTHREAD_ONCE_INIT;

/*
 * Breadth-first from @from. A saving state may be passed through only by a
 * path that started in the saving group and has not left it: moving within
 * a save session is fine, starting one on the way is not.
 */
static void bfs(uint32_t flags, uint32_t from)
{
	uint8_t first[MIG_NR_STATES], queue[MIG_NR_STATES];
	bool in_group[MIG_NR_STATES] = { false };
	unsigned int head = 0, tail = 0;

	memset(first, 0xff, sizeof(first));
	first[from] = (uint8_t)from;
	in_group[from] = mig_fsm_saving(from);
	queue[tail++] = (uint8_t)from;
	while (head < tail) {
		uint32_t s = queue[head++];

		if (s != from && mig_fsm_saving(s) && !in_group[s])
			continue;
		for (uint32_t t = 0; t < MIG_NR_STATES; t++) {
			if (first[t] != 0xff || !mig_fsm_arc_ok(s, t, flags) ||
			    !mig_fsm_state_ok(t, flags))
				continue;
			first[t] = s == from ? (uint8_t)t : first[s];
			in_group[t] = in_group[s] && mig_fsm_saving(t);
			queue[tail++] = (uint8_t)t;
		}
	}
	memcpy(next_tab[flags][from], first, sizeof(first));
}

static void build_tables(void)
{
	for (uint32_t f = 0; f < 8; f++)
		for (uint32_t s = 0; s < MIG_NR_STATES; s++)
			bfs(f, s);
}

int mig_fsm_next(uint32_t cur, uint32_t target, uint32_t flags,
		 uint32_t *next)
{
	flags &= MIG_F_STOP_COPY | MIG_F_P2P | MIG_F_PRE_COPY;
	if (cur >= MIG_NR_STATES || target >= MIG_NR_STATES)
		return -EINVAL;
	/* ERROR is never requested and never left this way (reset does). */
	if (target == ERROR || cur == ERROR)
		return -EINVAL;
	/* A finished save session cannot go back to pre-copy (UAPI). */
	if (cur == STOP_COPY && (target == PRE_COPY || target == PRE_COPY_P2P))
		return -EINVAL;
	if (!mig_fsm_state_ok(target, flags) || !mig_fsm_state_ok(cur, flags))
		return -EINVAL;
	pthread_once(&next_once, build_tables);
	if (next_tab[flags][cur][target] == 0xff)
		return -EINVAL;
	*next = next_tab[flags][cur][target];
	return 0;
}
