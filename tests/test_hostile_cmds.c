/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile clients, per command: the traps the command table cannot
 * describe. Offsets and sizes that overflow, region and IRQ indexes out of
 * range, SET_IRQS ranges, booleans and fd counts and kinds, WRITE_MULTI
 * counts whose size wraps, DMA maps that overlap, lie outside their file or
 * exceed the limit, unmaps of unknown or partial ranges. Each case expects
 * the errno of doc/protocol.md and then a connection that still serves
 * (and the fds the client sent closed again).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "test_hostile_util.h"

static void region_offsets_and_sizes_that_overflow(void **state)
{
	static const struct { uint64_t off; uint32_t count; } bad[] = {
		{ UINT64_MAX, 1 }, { UINT64_MAX - 3, 8 }, { 4096, 1 },
		{ 4093, 4 }, { 1ull << 63, 4 }, { 0, 4097 },
		{ 0, UINT32_MAX }, { UINT64_MAX - 0xffe, 0x1000 },
	};
	uint8_t buf[16 + 8] = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wire_region_access a = { .offset = bad[i].off, .region = 0,
						.count = bad[i].count };

		memcpy(buf, &a, 16);
		assert_int_equal(call(WIRE_CMD_REGION_READ, 0, buf, 16, NULL, 0),
				 -EINVAL);
		/* A write whose data length is not count, or past the end. */
		assert_int_equal(call(WIRE_CMD_REGION_WRITE, 0, buf, 16 + 8, NULL, 0),
				 -EINVAL);
	}
	/* count larger than the data sent, and smaller. */
	{
		struct wire_region_access a = { .offset = 0, .region = 0, .count = 9 };

		memcpy(buf, &a, 16);
		assert_int_equal(call(WIRE_CMD_REGION_WRITE, 0, buf, 24, NULL, 0), -EINVAL);
		a.count = 7;
		memcpy(buf, &a, 16);
		assert_int_equal(call(WIRE_CMD_REGION_WRITE, 0, buf, 24, NULL, 0), -EINVAL);
	}
	assert_serves();
}

static void region_and_irq_indexes_out_of_range(void **state)
{
	static const uint32_t regions[] = { 3, 8, 63, 64, 65, UINT32_MAX };
	static const uint32_t irqs[] = { 2, 15, 16, 17, UINT32_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct wire_region_info ri = { .argsz = 32, .index = regions[i] };
		struct wire_io_fds_req io = { .argsz = 16, .index = regions[i] };
		struct wire_region_access a = { .region = regions[i], .count = 4 };
		uint8_t wr[20] = { 0 }, multi[8 + 24] = { 1 };
		struct wire_write_one w = { .region = regions[i], .count = 4 };

		assert_int_equal(call(WIRE_CMD_DEVICE_GET_REGION_INFO, 0, &ri,
				      sizeof(ri), NULL, 0), -EINVAL);
		assert_int_equal(call(WIRE_CMD_DEVICE_GET_REGION_IO_FDS, 0, &io,
				      sizeof(io), NULL, 0), -EINVAL);
		assert_int_equal(call(WIRE_CMD_REGION_READ, 0, &a, sizeof(a),
				      NULL, 0), -EINVAL);
		memcpy(wr, &a, sizeof(a));
		assert_int_equal(call(WIRE_CMD_REGION_WRITE, 0, wr, sizeof(wr),
				      NULL, 0), -EINVAL);
		memcpy(multi + 8, &w, sizeof(w));
		assert_int_equal(call(WIRE_CMD_REGION_WRITE_MULTI, 0, multi,
				      sizeof(multi), NULL, 0), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(irqs) / sizeof(irqs[0]); i++) {
		struct wire_irq_info ii = { .argsz = 16, .index = irqs[i] };
		struct wire_irq_set q = { .argsz = 20, .index = irqs[i],
			.flags = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_NONE };

		assert_int_equal(call(WIRE_CMD_DEVICE_GET_IRQ_INFO, 0, &ii,
				      sizeof(ii), NULL, 0), -EINVAL);
		assert_int_equal(call(WIRE_CMD_DEVICE_SET_IRQS, 0, &q, sizeof(q),
				      NULL, 0), -EINVAL);
	}
	assert_serves();
}

static int set_irqs(uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const uint8_t *bools, size_t nbools,
		    const int *fds, unsigned int nfds)
{
	uint8_t buf[20 + 64];
	struct wire_irq_set q = { .argsz = 20, .flags = flags, .index = index,
				  .start = start, .count = count };

	memcpy(buf, &q, sizeof(q));
	if (nbools > 0)
		memcpy(buf + 20, bools, nbools);
	return call(WIRE_CMD_DEVICE_SET_IRQS, 0, buf, 20 + nbools, fds, nfds);
}

static void set_irqs_ranges_counts_and_fd_kinds(void **state)
{
	const uint32_t TE = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD;
	const uint32_t UE = WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_EVENTFD;
	const uint32_t TB = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_BOOL;
	const uint8_t ones[4] = { 1, 1, 1, 1 };
	int before = vtest_count_fds();
	int e[2] = { make_fd(FD_EVENTFD), make_fd(FD_EVENTFD) };

	(void)state;
	/* Ranges that overflow or end past the index. */
	assert_int_equal(set_irqs(TE, 1, 1, UINT32_MAX, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(set_irqs(TE, 1, UINT32_MAX, 1, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(set_irqs(TE, 1, 4, 1, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(set_irqs(TE, 1, 3, 2, NULL, 0, NULL, 0), -EINVAL);
	/* DATA_BOOL with too few or too many booleans. */
	assert_int_equal(set_irqs(TB, 1, 0, 4, ones, 3, NULL, 0), -EINVAL);
	assert_int_equal(set_irqs(TB, 1, 0, 3, ones, 4, NULL, 0), -EINVAL);
	/* Missing and surplus eventfds (none at all means "unbind"). */
	assert_int_equal(set_irqs(TE, 1, 0, 2, NULL, 0, e, 1), -EINVAL);
	assert_int_equal(set_irqs(TE, 1, 0, 1, NULL, 0, e, 2), -EINVAL);
	assert_int_equal(set_irqs(TE, 1, 0, 2, NULL, 0, NULL, 0), 0);
	/* MASK/UNMASK on an index that cannot be masked. */
	assert_int_equal(set_irqs(UE, 1, 0, 1, NULL, 0, e, 1), -EINVAL);
	/* Wrong kinds where an eventfd belongs, trigger and unmask alike. */
	for (int k = FD_PIPE; k < FD_KINDS; k++) {
		int fd = make_fd((enum fd_kind)k);

		assert_int_equal(set_irqs(TE, 1, 0, 1, NULL, 0, &fd, 1), -EINVAL);
		assert_int_equal(set_irqs(UE, 0, 0, 1, NULL, 0, &fd, 1), -EINVAL);
		close(fd);
	}
	assert_false(vus_irq_is_bound(s.ctx, 1, 0));
	/* One bad fd among good ones spoils the whole request. */
	{
		int mix[2] = { e[0], make_fd(FD_PIPE) };

		assert_int_equal(set_irqs(TE, 1, 0, 2, NULL, 0, mix, 2), -EINVAL);
		close(mix[1]);
	}
	assert_false(vus_irq_is_bound(s.ctx, 1, 0));
	close_all(e, 2);
	assert_fds_back_to(before);
}

static void write_multi_counts_that_overflow(void **state)
{
	static const uint64_t counts[] = {
		0, 2, 201, UINT64_MAX, 0x0aaaaaaaaaaaaaabull, /* 24 * n wraps to 8 */
	};
	uint8_t buf[8 + 24] = { 0 };
	struct wire_write_one w = { .offset = 0, .region = 0, .count = 4 };

	(void)state;
	memcpy(buf + 8, &w, sizeof(w));
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		memcpy(buf, &counts[i], 8);
		assert_int_equal(call(WIRE_CMD_REGION_WRITE_MULTI, 0, buf, sizeof(buf),
				      NULL, 0), -EINVAL);
	}
	/* Entries: count 0 and 9, an offset that wraps. */
	buf[0] = 1;
	for (uint32_t c = 0; c <= 9; c += 9) {
		w.count = c;
		memcpy(buf + 8, &w, sizeof(w));
		assert_int_equal(call(WIRE_CMD_REGION_WRITE_MULTI, 0, buf, sizeof(buf),
				      NULL, 0), -EINVAL);
	}
	w = (struct wire_write_one){ .offset = UINT64_MAX - 1, .count = 4 };
	memcpy(buf + 8, &w, sizeof(w));
	assert_int_equal(call(WIRE_CMD_REGION_WRITE_MULTI, 0, buf, sizeof(buf),
			      NULL, 0), -EINVAL);
	assert_serves();
}

static int dma_map(uint64_t addr, uint64_t size, uint64_t off,
		   const int *fds, unsigned int nfds)
{
	struct wire_dma_map q = { .argsz = 32, .flags = WIRE_DMA_READ | WIRE_DMA_WRITE,
				  .offset = off, .addr = addr, .size = size };

	return call(WIRE_CMD_DMA_MAP, 0, &q, sizeof(q), fds, nfds);
}

static int dma_unmap(uint64_t addr, uint64_t size, uint32_t flags)
{
	struct wire_dma_unmap q = { .argsz = 24, .flags = flags, .addr = addr,
				    .size = size };

	return call(WIRE_CMD_DMA_UNMAP, 0, &q, sizeof(q), NULL, 0);
}

static void dma_maps_that_overlap_or_exceed_the_limit(void **state)
{
	int before = vtest_count_fds();
	int ram = make_fd(FD_MEMFD);

	(void)state;
	/* Ranges that wrap, are empty, or lie outside the file. */
	assert_int_equal(dma_map(UINT64_MAX, 2, 0, NULL, 0), -EINVAL);
	assert_int_equal(dma_map(0x1000, 0, 0, NULL, 0), -EINVAL);
	assert_int_equal(dma_map(0x1000, 0x1000, UINT64_MAX - 0xfff, &ram, 1), -EINVAL);
	assert_int_equal(dma_map(0x1000, 0x2000, 0, &ram, 1), -EINVAL);
	assert_int_equal(dma_map(0x1000, UINT64_MAX, 0, &ram, 1), -EINVAL);
	/* fds that cannot be mapped fail as mmap says; nothing is kept. */
	for (int k = FD_EVENTFD; k < FD_KINDS; k++) {
		int fd;

		if (k == FD_MEMFD)
			continue;
		fd = make_fd((enum fd_kind)k);
		assert_true(dma_map(0x1000, 0x1000, 0, &fd, 1) < 0);
		close(fd);
	}
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	/* Overlaps at either end, inside and around. */
	assert_int_equal(dma_map(0x10000, 0x1000, 0, &ram, 1), 0);
	assert_int_equal(dma_map(0xf000, 0x1001, 0, NULL, 0), -EEXIST);
	assert_int_equal(dma_map(0x10fff, 0x1000, 0, NULL, 0), -EEXIST);
	assert_int_equal(dma_map(0x10800, 0x10, 0, NULL, 0), -EEXIST);
	assert_int_equal(dma_map(0, 0x100000, 0, NULL, 0), -EEXIST);
	/* The limit (8 here): the ninth mapping is refused. */
	for (uint64_t i = 1; i < 8; i++)
		assert_int_equal(dma_map(i << 20, 0x1000, 0, NULL, 0), 0);
	assert_int_equal(dma_map(9ull << 20, 0x1000, 0, &ram, 1), -ENOSPC);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 8);
	assert_int_equal(dma_unmap(0, 0, WIRE_DMA_UNMAP_ALL), 0);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	close(ram);
	assert_fds_back_to(before);
}

static void dma_unmaps_of_unknown_or_partial_ranges(void **state)
{
	(void)state;
	assert_int_equal(dma_map(0x10000, 0x2000, 0, NULL, 0), 0);
	/* Ranges with no mapping in them unmap nothing and succeed. */
	assert_int_equal(dma_unmap(0x20000, 0x1000, 0), 0);
	assert_int_equal(dma_unmap(0, 0x10000, 0), 0);   /* just below */
	assert_int_equal(dma_unmap(0x12000, 0x1000, 0), 0); /* just above */
	assert_int_equal(dma_unmap(0x11000, 0x1000, 0), -EINVAL); /* would split */
	assert_int_equal(dma_unmap(0xf000, 0x2000, 0), -EINVAL);
	assert_int_equal(dma_unmap(UINT64_MAX, 2, 0), -EINVAL);  /* wraps */
	assert_int_equal(dma_unmap(0x10000, 0, 0), -EINVAL);
	assert_int_equal(dma_unmap(0x10000, 0x2000, 0x1), -EINVAL); /* bitmap */
	assert_int_equal(dma_unmap(0x10000, 0x2000, 0x4), -EINVAL);
	assert_int_equal(dma_unmap(0x10000, 0x2000, WIRE_DMA_UNMAP_ALL), -EINVAL);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 1);
	assert_int_equal(s.dev.unmaps, 0);
	assert_int_equal(dma_unmap(0x10000, 0x2000, 0), 0);
	assert_int_equal(dma_unmap(0x10000, 0x2000, 0), 0); /* again: nothing */
	assert_int_equal(s.dev.unmaps, 1);
	assert_serves();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		CASE(region_offsets_and_sizes_that_overflow),
		CASE(region_and_irq_indexes_out_of_range),
		CASE(set_irqs_ranges_counts_and_fd_kinds),
		CASE(write_multi_counts_that_overflow),
		CASE(dma_maps_that_overlap_or_exceed_the_limit),
		CASE(dma_unmaps_of_unknown_or_partial_ranges),
	};

	return vtest_run("hostile_cmds", tests, argc, argv);
}
