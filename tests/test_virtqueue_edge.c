/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net sample's split virtqueue at every limit: the value at
 * the limit is served, one past it breaks the queue (without a byte
 * written). Chains of exactly the queue size, direct, indirect and mixed,
 * and one descriptor more; indirect tables of the queue size; the
 * available index exactly a ring ahead; queue sizes 1 and 32768; used ids
 * up to the last entry; rings that end on the last mapped byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test_vq_util.h"

/* A direct chain through descriptors 0..n-1 (n <= QSIZE), all readable;
 * with @loop the last one points back at the first. */
static void direct_chain(struct t *t, unsigned int n, bool loop)
{
	for (unsigned int i = 0; i < n; i++) {
		bool last = i + 1 == n;

		desc(t, DESC, i, BUF(i), 8, last && !loop ? 0 : F_NEXT,
		     (uint16_t)(last ? 0 : i + 1));
	}
}

/* An indirect table of @n entries at IND, chained in order. */
static void indirect_chain(struct t *t, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		desc(t, IND, i, BUF(i % 32), 8, i + 1 < n ? F_NEXT : 0,
		     (uint16_t)(i + 1));
}

/* Pop expecting one chain of @n readable pieces of 8 bytes. */
static void pops_chain_of(struct t *t, unsigned int n)
{
	snapshot(t);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.out_num, n);
	assert_int_equal(t->e.out_len, 8 * n);
	assert_true(vq_ready(&t->vq));
	untouched(t);
}

static void direct_chain_of_the_queue_size(void **state)
{
	struct t *t = setup();

	(void)state;
	start(t, 0);
	direct_chain(t, QSIZE, false);
	offer(t, 0);
	pops_chain_of(t, QSIZE);
	teardown(t);
}

static void direct_chain_one_longer_breaks(void **state)
{
	struct t *t = setup();

	(void)state;
	/* A table of QSIZE entries holds a longer chain only as a loop:
	 * the 17th descriptor is the first again. */
	start(t, 0);
	direct_chain(t, QSIZE, true);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_CHAIN_LEN);
	teardown(t);
}

static void indirect_table_of_the_queue_size(void **state)
{
	struct t *t = setup();

	(void)state;
	start(t, VQ_F_INDIRECT);
	indirect_chain(t, QSIZE);
	desc(t, DESC, 3, IND, QSIZE * 16, F_IND, 0);
	offer(t, 3);
	pops_chain_of(t, QSIZE);
	teardown(t);
}

static void indirect_table_one_longer_breaks(void **state)
{
	struct t *t = setup();

	(void)state;
	start(t, VQ_F_INDIRECT);
	indirect_chain(t, QSIZE + 1);
	desc(t, DESC, 3, IND, (QSIZE + 1) * 16, F_IND, 0);
	offer(t, 3);
	pop_breaks(t, VQ_ERR_INDIRECT);
	teardown(t);
}

/* @direct data descriptors, then an indirect table of @ind entries. */
static void mixed_chain(struct t *t, unsigned int direct, unsigned int ind)
{
	for (unsigned int i = 0; i < direct; i++)
		desc(t, DESC, i, BUF(i), 8, F_NEXT, (uint16_t)(i + 1));
	desc(t, DESC, direct, IND, ind * 16, F_IND, 0);
	indirect_chain(t, ind);
}

static void mixed_chains_of_the_queue_size(void **state)
{
	/* The limit counts data descriptors wherever they are. */
	for (unsigned int direct = 1; direct < QSIZE; direct += 5) {
		struct t *t = setup();

		start(t, VQ_F_INDIRECT);
		mixed_chain(t, direct, QSIZE - direct);
		offer(t, 0);
		pops_chain_of(t, QSIZE);
		teardown(t);
	}
}

static void mixed_chains_one_longer_break(void **state)
{
	for (unsigned int direct = 1; direct < QSIZE; direct += 5) {
		struct t *t = setup();

		start(t, VQ_F_INDIRECT);
		mixed_chain(t, direct, QSIZE + 1 - direct);
		offer(t, 0);
		pop_breaks(t, VQ_ERR_CHAIN_LEN);
		teardown(t);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(direct_chain_of_the_queue_size),
		VTEST(direct_chain_one_longer_breaks),
		VTEST(indirect_table_of_the_queue_size),
		VTEST(indirect_table_one_longer_breaks),
		VTEST(mixed_chains_of_the_queue_size),
		VTEST(mixed_chains_one_longer_break),
	};

	return vtest_run("virtqueue_edge", tests, argc, argv);
}
