/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device-side setup API at each of its limits: the last region index
 * and the first one past it, as many mmap areas and doorbells as a region
 * takes and one more, a doorbell on a region's last bytes and one byte
 * further, the last interrupt index and vector count and one past each,
 * and raising the last vector of an index and the first past it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "irq_table.h"
#include "region_table.h"
#include "vtest.h"
#include "vus.h"

static vus_ctx *sysbus_ctx(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	return ctx;
}

static int region(vus_ctx *ctx, uint32_t index, uint64_t size,
		  const struct vus_mmap_area *areas, uint32_t nr)
{
	struct vus_region_desc d = {
		.struct_size = sizeof(d), .size = size,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM, .mmap_areas = areas,
		.nr_mmap_areas = nr,
	};

	return vus_region_setup(ctx, index, &d);
}

static void region_indexes(void **state)
{
	vus_ctx *ctx = sysbus_ctx();

	(void)state;
	assert_int_equal(region(ctx, REGION_MAX_INDEX - 1, 4096, NULL, 0), 0);
	assert_int_equal(region(ctx, REGION_MAX_INDEX, 4096, NULL, 0), -EINVAL);
	vus_ctx_destroy(ctx);
}

static void mmap_areas_per_region(void **state)
{
	const uint32_t n = REGION_MAX_AREAS + 1;
	struct vus_mmap_area *a = calloc(n, sizeof(*a));
	vus_ctx *ctx = sysbus_ctx();

	(void)state;
	assert_non_null(a);
	/* Every other page, so that no two areas touch. */
	for (uint32_t i = 0; i < n; i++)
		a[i] = (struct vus_mmap_area){ .offset = 2 * 4096ull * i,
					       .size = 4096 };
	assert_int_equal(region(ctx, 0, 2 * 4096ull * n, a, n), -EINVAL);
	assert_int_equal(region(ctx, 0, 2 * 4096ull * n, a, n - 1), 0);
	vus_ctx_destroy(ctx);
	free(a);
}

static int doorbell(vus_ctx *ctx, uint64_t off, uint32_t size, int fd)
{
	struct vus_ioeventfd io = { .struct_size = sizeof(io),
		.offset = off, .size = size, .fd = fd };

	return vus_region_add_ioeventfd(ctx, 0, &io);
}

static void doorbells_at_the_region_end(void **state)
{
	vus_ctx *ctx = sysbus_ctx();
	int fd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	assert_int_equal(region(ctx, 0, 4096, NULL, 0), 0);
	/* On the last four bytes; four bytes one byte further. */
	assert_int_equal(doorbell(ctx, 4096 - 3, 4, fd), -EINVAL);
	assert_int_equal(doorbell(ctx, 4096 - 4, 4, fd), 0);
	assert_int_equal(doorbell(ctx, 4096, 1, fd), -EINVAL);
	vus_ctx_destroy(ctx);
	close(fd);
}

static void doorbells_per_region(void **state)
{
	vus_ctx *ctx = sysbus_ctx();
	int fd = eventfd(0, EFD_CLOEXEC);

	(void)state;
	assert_int_equal(region(ctx, 0, 4096, NULL, 0), 0);
	for (uint32_t i = 0; i < REGION_MAX_IOEVENTFDS; i++)
		assert_int_equal(doorbell(ctx, 4ull * i, 4, fd), 0);
	assert_int_equal(doorbell(ctx, 4ull * REGION_MAX_IOEVENTFDS, 4, fd),
			 -ENOSPC);
	vus_ctx_destroy(ctx);
	close(fd);
}

static void irq_indexes_and_counts(void **state)
{
	vus_ctx *ctx = sysbus_ctx();

	(void)state;
	assert_int_equal(vus_irq_setup(ctx, IRQ_MAX_INDEX, 1, 0), -EINVAL);
	assert_int_equal(vus_irq_setup(ctx, IRQ_MAX_INDEX - 1, 1, 0), 0);
	assert_int_equal(vus_irq_setup(ctx, 0, IRQ_MAX_VECTORS + 1, 0), -EINVAL);
	assert_int_equal(vus_irq_setup(ctx, 0, IRQ_MAX_VECTORS, 0), 0);
	vus_ctx_destroy(ctx);
}

static void raising_the_last_vector_and_past_it(void **state)
{
	vus_ctx *ctx = sysbus_ctx();

	(void)state;
	assert_int_equal(vus_irq_setup(ctx, 1, 4, 0), 0);
	assert_int_equal(vus_irq_setup(ctx, IRQ_MAX_INDEX - 1, 1, 0), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	/* Unbound: kept pending (0), not refused. */
	assert_int_equal(vus_irq_trigger(ctx, 1, 3), 0);
	assert_int_equal(vus_irq_trigger(ctx, 1, 4), -EINVAL);
	assert_int_equal(vus_irq_set_level(ctx, 1, 3, true), 0);
	assert_int_equal(vus_irq_set_level(ctx, 1, 4, true), -EINVAL);
	assert_false(vus_irq_is_bound(ctx, 1, 4));
	assert_int_equal(vus_irq_trigger(ctx, IRQ_MAX_INDEX - 1, 0), 0);
	assert_int_equal(vus_irq_trigger(ctx, IRQ_MAX_INDEX, 0), -EINVAL);
	/* An index that was never set up has no vector 0. */
	assert_int_equal(vus_irq_trigger(ctx, 0, 0), -EINVAL);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(region_indexes),
		VTEST(mmap_areas_per_region),
		VTEST(doorbells_at_the_region_end),
		VTEST(doorbells_per_region),
		VTEST(irq_indexes_and_counts),
		VTEST(raising_the_last_vector_and_past_it),
	};

	return vtest_run("api_limits", tests, argc, argv);
}
