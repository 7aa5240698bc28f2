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
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
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

/* vq_start() of the QSIZE queue at @desc/@avail/@used with @flags. */
static int start_at(struct t *t, uint64_t desc, uint64_t avail, uint64_t used,
		    uint32_t flags)
{
	const struct vq_layout l = { .size = QSIZE, .desc = desc,
				     .avail = avail, .used = used };

	return vq_start(&t->vq, t->ctx, &l, flags);
}

/*
 * Each ring ending on the last byte of granted memory (NEXT, with a hole
 * after it) is accepted; one element further is refused. With EVENT_IDX
 * the driver and device areas grow by their event word.
 */
static void rings_ending_on_the_last_mapped_byte(void **state)
{
	const uint64_t end = NEXT + NEXT_SIZE;
	const uint64_t desc = end - 16 * QSIZE;
	const uint64_t avail = end - (4 + 2 * QSIZE + 2);
	const uint64_t used = end - (4 + 8 * QSIZE);
	struct t *t = setup();

	(void)state;
	assert_int_equal(start_at(t, desc, AVAIL, USED, 0), 0);
	assert_int_equal(start_at(t, desc + 16, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(start_at(t, DESC, avail, USED, VQ_F_EVENT_IDX), 0);
	assert_int_equal(start_at(t, DESC, avail + 2, USED, VQ_F_EVENT_IDX),
			 -EINVAL);
	assert_int_equal(start_at(t, DESC, avail + 2, USED, 0), 0);
	assert_int_equal(start_at(t, DESC, AVAIL, used, 0), 0);
	assert_int_equal(start_at(t, DESC, AVAIL, used + 4, 0), -EINVAL);
	assert_int_equal(start_at(t, DESC, AVAIL, used - 4, VQ_F_EVENT_IDX), 0);
	assert_int_equal(start_at(t, DESC, AVAIL, used, VQ_F_EVENT_IDX), -EINVAL);
	teardown(t);
}

/* Queue sizes 1 and 32768 (the spec's range) start; 0 does not. */
static void queue_sizes_at_the_spec_limits(void **state)
{
	const uint64_t big = 0x1000000ull, n = VQ_MAX_SIZE;
	struct vq_layout l = { .size = 1, .desc = DESC, .avail = AVAIL,
			       .used = USED };
	struct vus_dma_region out;
	struct t *t = setup();
	int fd = memfd_create("vq-big", MFD_CLOEXEC);

	(void)state;
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(dma_add(ctx_dma(t->ctx), big, 1 << 20,
				 VUS_DMA_READ | VUS_DMA_WRITE, fd, 0, &out), 0);
	assert_int_equal(vq_start(&t->vq, t->ctx, &l, 0), 0);
	/* 512 KiB of descriptors, then the two areas with event words. */
	l = (struct vq_layout){ .size = (uint16_t)n, .desc = big,
				.avail = big + 16 * n,
				.used = big + 16 * n + 0x10008 };
	assert_int_equal(vq_start(&t->vq, t->ctx, &l, VQ_F_EVENT_IDX), 0);
	l.size = 0;
	assert_int_equal(vq_start(&t->vq, t->ctx, &l, VQ_F_EVENT_IDX), -EINVAL);
	teardown(t);
}

/* A migrated queue: up to a ring of entries in flight, and no more. */
static void migrated_state_at_its_limits(void **state)
{
	struct vq_state st = { .last_avail = QSIZE + 5, .used_idx = 5 };
	struct t *t = setup();

	(void)state;
	start(t, 0);
	assert_int_equal(vq_set_state(&t->vq, &st), 0);
	assert_true(vq_ready(&t->vq));
	start(t, 0);
	st.last_avail++;
	assert_int_equal(vq_set_state(&t->vq, &st), -EINVAL);
	start(t, 0);
	st = (struct vq_state){ .error = VQ_ERR_MAX };
	assert_int_equal(vq_set_state(&t->vq, &st), 0);
	assert_false(vq_ready(&t->vq)); /* a broken source stays broken */
	start(t, 0);
	st.error = VQ_ERR_MAX + 1;
	assert_int_equal(vq_set_state(&t->vq, &st), -EINVAL);
	teardown(t);
}

/* A buffer in exactly as many pieces as an element holds, and one more. */
static void buffer_in_as_many_pieces_as_an_element_holds(void **state)
{
	struct t *t = setup();

	(void)state;
	assert_true(t->e.max_iov < NR_PIECES);
	start(t, 0);
	desc(t, DESC, 0, PIECES, t->e.max_iov * 4096, F_WRITE, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.in_num, t->e.max_iov);
	desc(t, DESC, 1, PIECES, (t->e.max_iov + 1) * 4096, F_WRITE, 0);
	offer(t, 1);
	pop_breaks(t, VQ_ERR_TOO_MANY_SG);
	teardown(t);
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
		VTEST(rings_ending_on_the_last_mapped_byte),
		VTEST(queue_sizes_at_the_spec_limits),
		VTEST(migrated_state_at_its_limits),
		VTEST(buffer_in_as_many_pieces_as_an_element_holds),
	};

	return vtest_run("virtqueue_edge", tests, argc, argv);
}
