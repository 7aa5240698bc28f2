/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net sample's split virtqueue (samples/virtio-net-pci/
 * virtqueue.c) against a hostile driver. Guest memory is memfds granted
 * to a real context with the DMA table; the test plays the driver by
 * writing rings and descriptors straight into its own mapping.
 *
 * Every malformed chain must break the queue (the device then sets
 * DEVICE_NEEDS_RESET) without a single byte written anywhere, and the
 * broken queue must refuse all further work; well-formed chains of every
 * shape must come out as the right pieces; interrupt and kick suppression
 * must follow the driver's flags and event indexes.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
#include "vtest.h"
#include "vus.h"
#include "test_vq_util.h"

/* Well-formed chains. */

static void empty_queue_pops_nothing(void **state)
{
	struct t *t = setup();

	start(t, 0);
	snapshot(t);
	assert_int_equal(vq_pop(&t->vq, &t->e), 0);
	assert_false(vq_publish(&t->vq));
	untouched(t);
	teardown(t);
}

static void readable_then_writable_chain(void **state)
{
	struct t *t = setup();

	start(t, 0);
	memcpy(gp(t, BUF(0)), "header", 6);
	desc(t, DESC, 3, BUF(0), 6, F_NEXT, 7);
	desc(t, DESC, 7, BUF(1), 100, F_NEXT, 1);
	desc(t, DESC, 1, BUF(2), 2000, F_WRITE, 0);
	offer(t, 3);
	snapshot(t);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.head, 3);
	assert_int_equal(t->e.out_num, 2);
	assert_int_equal(t->e.in_num, 1);
	assert_int_equal(t->e.out_len, 106);
	assert_int_equal(t->e.in_len, 2000);
	assert_memory_equal(t->e.iov[0].iov_base, "header", 6);
	assert_true(same_place(t, t->e.iov[2].iov_base, BUF(2)));
	/* The device writes only into the writable buffer and the used ring. */
	memset(t->e.iov[2].iov_base, 0xab, 2000);
	assert_int_equal(vq_push(&t->vq, t->e.head, 2000), 0);
	assert_true(vq_publish(&t->vq));
	assert_int_equal(get16(t, USED + 2), 1);
	assert_int_equal(get32(t, USED + 4), 3);
	assert_int_equal(get32(t, USED + 8), 2000);
	check_writes(t, true, BUF(2), BUF(2) + 2000);
	teardown(t);
}

static void indirect_table(void **state)
{
	struct t *t = setup();

	start(t, VQ_F_INDIRECT);
	desc(t, IND, 0, BUF(0), 12, F_NEXT, 2);
	desc(t, IND, 2, BUF(1), 64, F_WRITE | F_NEXT, 1);
	desc(t, IND, 1, BUF(2), 64, F_WRITE, 0);
	desc(t, DESC, 5, IND, 3 * 16, F_IND, 0);
	offer(t, 5);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.head, 5);
	assert_int_equal(t->e.out_num, 1);
	assert_int_equal(t->e.in_num, 2);
	assert_int_equal(t->e.in_len, 128);
	assert_true(same_place(t, t->e.iov[1].iov_base, BUF(1)));
	assert_true(same_place(t, t->e.iov[2].iov_base, BUF(2)));
	teardown(t);
}

static void direct_descriptors_then_indirect(void **state)
{
	struct t *t = setup();

	start(t, VQ_F_INDIRECT);
	desc(t, DESC, 0, BUF(0), 10, F_NEXT, 1);
	desc(t, DESC, 1, IND, 2 * 16, F_IND, 0);
	desc(t, IND, 0, BUF(1), 20, F_NEXT, 1);
	desc(t, IND, 1, BUF(2), 30, F_WRITE, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.out_len, 30);
	assert_int_equal(t->e.in_len, 30);
	teardown(t);
}

static void buffer_across_two_mappings(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, NEXT - 100, 300, F_WRITE, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.in_num, 2);
	assert_int_equal(t->e.iov[0].iov_len, 100);
	assert_int_equal(t->e.iov[1].iov_len, 200);
	assert_true(same_place(t, t->e.iov[1].iov_base, NEXT));
	teardown(t);
}

static void zero_length_descriptors_are_skipped(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, 0xdead0000, 0, F_NEXT, 1); /* not even mapped */
	desc(t, DESC, 1, BUF(0), 8, F_NEXT, 2);
	desc(t, DESC, 2, BUF(1), 0, F_WRITE, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.out_num, 1);
	assert_int_equal(t->e.in_num, 0);
	teardown(t);
}

static void full_ring_and_index_wrap(void **state)
{
	struct t *t = setup();

	start(t, 0);
	/* Both sides near the end of the 16-bit index space. */
	t->vq.last_avail = t->vq.avail_idx = 65530;
	t->vq.used_idx = t->vq.published = 65530;
	t->avail_idx = 65530;
	for (uint16_t i = 0; i < QSIZE; i++) {
		desc(t, DESC, i, BUF(i), 64, F_WRITE, 0);
		offer(t, i);
	}
	for (uint16_t i = 0; i < QSIZE; i++) {
		assert_int_equal(vq_pop(&t->vq, &t->e), 1);
		assert_int_equal(t->e.head, i);
		assert_int_equal(vq_push(&t->vq, t->e.head, i), 0);
	}
	assert_int_equal(vq_pop(&t->vq, &t->e), 0);
	assert_true(vq_publish(&t->vq));
	assert_int_equal(get16(t, USED + 2), (uint16_t)(65530 + QSIZE));
	teardown(t);
}

static void unpop_and_unpush_give_chains_back(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 4, BUF(0), 64, F_WRITE, 0);
	desc(t, DESC, 5, BUF(1), 64, F_WRITE, 0);
	offer(t, 4);
	offer(t, 5);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_push(&t->vq, t->e.head, 64), 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_push(&t->vq, t->e.head, 64), 0);
	vq_unpush(&t->vq, 2);
	vq_unpop(&t->vq, 2);
	assert_false(vq_publish(&t->vq)); /* nothing left to publish */
	assert_int_equal(vq_avail(&t->vq), 2);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(t->e.head, 4);
	teardown(t);
}

/* Hostile drivers. */

static void head_index_out_of_range(void **state)
{
	struct t *t = setup();

	start(t, 0);
	offer(t, QSIZE);
	pop_breaks(t, VQ_ERR_HEAD);
	teardown(t);
}

static void next_index_out_of_range(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, BUF(0), 8, F_NEXT, QSIZE);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_NEXT);
	teardown(t);
}

static void descriptor_loop(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, BUF(0), 8, F_NEXT, 1);
	desc(t, DESC, 1, BUF(1), 8, F_NEXT, 2);
	desc(t, DESC, 2, BUF(2), 8, F_NEXT, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_CHAIN_LEN);
	teardown(t);
}

static void descriptor_pointing_at_itself(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 9, BUF(0), 8, F_WRITE | F_NEXT, 9);
	offer(t, 9);
	pop_breaks(t, VQ_ERR_CHAIN_LEN);
	teardown(t);
}

static void chain_longer_than_the_ring(void **state)
{
	struct t *t = setup();

	/* 12 direct descriptors, then an indirect table of 8: 20 > 16. */
	start(t, VQ_F_INDIRECT);
	for (unsigned int i = 0; i < 12; i++)
		desc(t, DESC, i, BUF(i), 8, F_NEXT, (uint16_t)(i + 1));
	desc(t, DESC, 12, IND, 8 * 16, F_IND, 0);
	for (unsigned int i = 0; i < 8; i++)
		desc(t, IND, i, BUF(i), 8, i < 7 ? F_NEXT : 0, (uint16_t)(i + 1));
	offer(t, 0);
	pop_breaks(t, VQ_ERR_CHAIN_LEN);
	teardown(t);
}

static void indirect_inside_indirect(void **state)
{
	struct t *t = setup();

	start(t, VQ_F_INDIRECT);
	desc(t, DESC, 0, IND, 2 * 16, F_IND, 0);
	desc(t, IND, 0, BUF(0), 8, F_NEXT, 1);
	desc(t, IND, 1, IND2, 16, F_IND, 0);
	desc(t, IND2, 0, BUF(1), 8, 0, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_INDIRECT);
	teardown(t);
}

static void indirect_with_next_flag(void **state)
{
	struct t *t = setup();

	start(t, VQ_F_INDIRECT);
	desc(t, DESC, 0, IND, 16, F_IND | F_NEXT, 1);
	desc(t, DESC, 1, BUF(0), 8, 0, 0);
	desc(t, IND, 0, BUF(1), 8, 0, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_INDIRECT);
	teardown(t);
}

static void indirect_not_negotiated(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, IND, 16, F_IND, 0);
	desc(t, IND, 0, BUF(0), 8, 0, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_INDIRECT);
	teardown(t);
}

static void indirect_table_bad_lengths(void **state)
{
	/* Not whole entries, empty, and more entries than the ring size. */
	const uint32_t lens[] = { 24, 0, (QSIZE + 1) * 16, 0xfffffff0u };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct t *t = setup();

		start(t, VQ_F_INDIRECT);
		desc(t, DESC, 0, IND, lens[i], F_IND, 0);
		desc(t, IND, 0, BUF(0), 8, 0, 0);
		offer(t, 0);
		pop_breaks(t, VQ_ERR_INDIRECT);
		teardown(t);
	}
}

static void indirect_table_loop(void **state)
{
	struct t *t = setup();

	start(t, VQ_F_INDIRECT);
	desc(t, DESC, 0, IND, 4 * 16, F_IND, 0);
	desc(t, IND, 0, BUF(0), 8, F_NEXT, 1);
	desc(t, IND, 1, BUF(1), 8, F_NEXT, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_CHAIN_LEN);
	teardown(t);
}

static void indirect_next_out_of_table(void **state)
{
	struct t *t = setup();

	start(t, VQ_F_INDIRECT);
	desc(t, DESC, 0, IND, 2 * 16, F_IND, 0);
	desc(t, IND, 0, BUF(0), 8, F_NEXT, 2); /* the table has 2 entries */
	desc(t, IND, 2, BUF(1), 8, 0, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_NEXT);
	teardown(t);
}

static void indirect_table_outside_memory(void **state)
{
	const uint64_t addrs[] = { HOLE, NEXT + NEXT_SIZE - 16, UINT64_MAX - 15 };

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct t *t = setup();

		start(t, VQ_F_INDIRECT);
		/* The second entry lies beyond what is mapped (or wraps). */
		if (addrs[i] >= NEXT && addrs[i] < HOLE)
			desc(t, addrs[i], 0, BUF(0), 8, F_NEXT, 1);
		desc(t, DESC, 0, addrs[i], 2 * 16, F_IND, 0);
		offer(t, 0);
		pop_breaks(t, VQ_ERR_BUFFER);
		teardown(t);
	}
}

static void buffer_outside_memory(void **state)
{
	/* Unmapped, straddling the end of the mapped range, wrapping 2^64. */
	const struct { uint64_t addr; uint32_t len; } bufs[] = {
		{ HOLE + 0x1000, 64 },
		{ NEXT + NEXT_SIZE - 32, 64 },
		{ UINT64_MAX - 0xfff, 0x2000 },
		{ 0, 0xffffffffu },
	};

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		struct t *t = setup();

		start(t, 0);
		desc(t, DESC, 0, BUF(0), 8, F_NEXT, 1);
		desc(t, DESC, 1, bufs[i].addr, bufs[i].len, F_WRITE, 0);
		offer(t, 0);
		pop_breaks(t, VQ_ERR_BUFFER);
		teardown(t);
	}
}

static void writable_buffer_in_read_only_memory(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, RO, 64, F_WRITE, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_BUFFER);
	teardown(t);
}

static void readable_after_writable(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, BUF(0), 8, F_WRITE | F_NEXT, 1);
	desc(t, DESC, 1, BUF(1), 8, 0, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_ORDER);
	teardown(t);
}

static void buffer_in_too_many_pieces(void **state)
{
	struct t *t = setup();

	/* 40 mappings under one descriptor: more than an element holds. */
	start(t, 0);
	desc(t, DESC, 0, PIECES, NR_PIECES * 4096, F_WRITE, 0);
	offer(t, 0);
	pop_breaks(t, VQ_ERR_TOO_MANY_SG);
	teardown(t);
}

static void avail_index_jumps_past_the_ring(void **state)
{
	struct t *t = setup();

	start(t, 0);
	for (uint16_t i = 0; i < QSIZE; i++)
		desc(t, DESC, i, BUF(i), 8, 0, 0);
	/* One more than the ring can hold. */
	put16(t, AVAIL + 2, QSIZE + 1);
	pop_breaks(t, VQ_ERR_AVAIL_IDX);
	teardown(t);
}

static void avail_index_moves_backwards(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, BUF(0), 8, 0, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	put16(t, AVAIL + 2, 0xfff0); /* 0xfff0 - 1 > QSIZE ahead */
	pop_breaks(t, VQ_ERR_AVAIL_IDX);
	teardown(t);
}

static void rings_unmapped_under_the_device(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, BUF(0), 8, F_WRITE, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	/* The client withdraws the memory holding the rings. */
	assert_int_equal(dma_remove(ctx_dma(t->ctx), MAIN, MAIN_SIZE, NULL, NULL), 1);
	snapshot(t);
	assert_int_equal(vq_push(&t->vq, t->e.head, 8), -EIO);
	assert_false(vq_ready(&t->vq));
	assert_int_equal(t->vq.error, VQ_ERR_RING_ACCESS);
	assert_int_equal(vq_pop(&t->vq, &t->e), -EIO);
	untouched(t);
	teardown(t);
}

static void ring_moved_to_unmapped_memory(void **state)
{
	struct t *t = setup();
	struct vq_layout l = { .size = QSIZE, .desc = DESC, .avail = AVAIL,
			       .used = USED };

	/* Addresses changed under the device: a restart checks them again. */
	start(t, 0);
	l.avail = HOLE;
	snapshot(t);
	assert_int_equal(vq_start(&t->vq, t->ctx, &l, 0), -EINVAL);
	assert_broken(t, VQ_ERR_LAYOUT);
	teardown(t);
}

static void bad_layouts_are_refused(void **state)
{
	const struct vq_layout bad[] = {
		{ .size = 0, .desc = DESC, .avail = AVAIL, .used = USED },
		{ .size = 12, .desc = DESC, .avail = AVAIL, .used = USED },
		{ .size = QSIZE, .desc = DESC + 8, .avail = AVAIL, .used = USED },
		{ .size = QSIZE, .desc = DESC, .avail = AVAIL + 1, .used = USED },
		{ .size = QSIZE, .desc = DESC, .avail = AVAIL, .used = USED + 2 },
		{ .size = QSIZE, .desc = DESC, .avail = AVAIL, .used = RO },
		{ .size = QSIZE, .desc = HOLE, .avail = AVAIL, .used = USED },
		{ .size = QSIZE, .desc = DESC, .avail = AVAIL,
		  .used = NEXT + NEXT_SIZE - 64 }, /* runs off the end */
		{ .size = QSIZE, .desc = UINT64_MAX - 15, .avail = AVAIL,
		  .used = USED },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct t *t = setup();

		snapshot(t);
		assert_int_equal(vq_start(&t->vq, t->ctx, &bad[i], VQ_F_EVENT_IDX),
				 -EINVAL);
		assert_broken(t, VQ_ERR_LAYOUT);
		teardown(t);
	}
}

static void push_of_an_impossible_id(void **state)
{
	struct t *t = setup();

	start(t, 0);
	snapshot(t);
	assert_int_equal(vq_push(&t->vq, QSIZE, 0), -EIO);
	assert_broken(t, VQ_ERR_USED);
	teardown(t);
}

/* Notification suppression. */

static void no_interrupt_flag(void **state)
{
	struct t *t = setup();

	start(t, 0);
	desc(t, DESC, 0, BUF(0), 8, F_WRITE, 0);
	offer(t, 0);
	offer(t, 0);
	put16(t, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_push(&t->vq, t->e.head, 8), 0);
	assert_false(vq_publish(&t->vq));
	assert_int_equal(get16(t, USED + 2), 1); /* published all the same */
	put16(t, AVAIL, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_push(&t->vq, t->e.head, 8), 0);
	assert_true(vq_publish(&t->vq));
	teardown(t);
}

/* Publish one more used entry; whether the driver wants to hear of it. */
static bool complete_one(struct t *t)
{
	desc(t, DESC, 0, BUF(0), 8, F_WRITE, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_push(&t->vq, t->e.head, 8), 0);
	return vq_publish(&t->vq);
}

static void used_event_index(void **state)
{
	struct t *t = setup();
	uint64_t used_event = AVAIL + 4 + 2 * QSIZE;

	start(t, VQ_F_EVENT_IDX);
	put16(t, used_event, 0);
	assert_true(complete_one(t));  /* used 0 -> 1 crosses event 0 */
	put16(t, used_event, 4);
	assert_false(complete_one(t)); /* 1 -> 2 */
	assert_false(complete_one(t)); /* 2 -> 3 */
	assert_false(complete_one(t)); /* 3 -> 4 */
	assert_true(complete_one(t));  /* 4 -> 5 crosses event 4 */
	assert_false(complete_one(t)); /* event 4 is behind us now */
	/* The flag means nothing with EVENT_IDX. */
	put16(t, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	put16(t, used_event, 6);
	assert_true(complete_one(t));  /* 6 -> 7 */
	teardown(t);
}

static void kick_suppression_without_event_idx(void **state)
{
	struct t *t = setup();

	start(t, 0);
	assert_int_equal(vq_kick_enable(&t->vq, false), 0);
	assert_int_equal(get16(t, USED), VIRTQ_USED_F_NO_NOTIFY);
	assert_int_equal(vq_kick_enable(&t->vq, true), 0);
	assert_int_equal(get16(t, USED), 0);
	/* A buffer that came while kicks were off is reported. */
	assert_int_equal(vq_kick_enable(&t->vq, false), 0);
	desc(t, DESC, 0, BUF(0), 8, 0, 0);
	offer(t, 0);
	assert_int_equal(vq_kick_enable(&t->vq, true), 1);
	teardown(t);
}

static void kick_suppression_with_event_idx(void **state)
{
	struct t *t = setup();
	uint64_t avail_event = USED + 4 + 8 * QSIZE;

	start(t, VQ_F_EVENT_IDX);
	put16(t, avail_event, 0x5555);
	snapshot(t);
	assert_int_equal(vq_kick_enable(&t->vq, false), 0);
	untouched(t); /* nothing to write: the driver just stops kicking */
	desc(t, DESC, 0, BUF(0), 8, 0, 0);
	offer(t, 0);
	offer(t, 0);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_pop(&t->vq, &t->e), 1);
	assert_int_equal(vq_kick_enable(&t->vq, true), 0);
	assert_int_equal(get16(t, avail_event), 2); /* kick when entry 2 comes */
	offer(t, 0);
	assert_int_equal(vq_kick_enable(&t->vq, true), 1);
	assert_int_equal(vq_avail(&t->vq), 1);
	teardown(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(empty_queue_pops_nothing),
		VTEST(readable_then_writable_chain),
		VTEST(indirect_table),
		VTEST(direct_descriptors_then_indirect),
		VTEST(buffer_across_two_mappings),
		VTEST(zero_length_descriptors_are_skipped),
		VTEST(full_ring_and_index_wrap),
		VTEST(unpop_and_unpush_give_chains_back),
		VTEST(head_index_out_of_range),
		VTEST(next_index_out_of_range),
		VTEST(descriptor_loop),
		VTEST(descriptor_pointing_at_itself),
		VTEST(chain_longer_than_the_ring),
		VTEST(indirect_inside_indirect),
		VTEST(indirect_with_next_flag),
		VTEST(indirect_not_negotiated),
		VTEST(indirect_table_bad_lengths),
		VTEST(indirect_table_loop),
		VTEST(indirect_next_out_of_table),
		VTEST(indirect_table_outside_memory),
		VTEST(buffer_outside_memory),
		VTEST(writable_buffer_in_read_only_memory),
		VTEST(readable_after_writable),
		VTEST(buffer_in_too_many_pieces),
		VTEST(avail_index_jumps_past_the_ring),
		VTEST(avail_index_moves_backwards),
		VTEST(rings_unmapped_under_the_device),
		VTEST(ring_moved_to_unmapped_memory),
		VTEST(bad_layouts_are_refused),
		VTEST(push_of_an_impossible_id),
		VTEST(no_interrupt_flag),
		VTEST(used_event_index),
		VTEST(kick_suppression_without_event_idx),
		VTEST(kick_suppression_with_event_idx),
	};

	return vtest_run("virtqueue", tests, argc, argv);
}
