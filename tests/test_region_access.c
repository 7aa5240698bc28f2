/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which accesses reach a region's callbacks (vus_region_desc.access_*):
 * by default naturally aligned 1, 2, 4 or 8 bytes, refused with EINVAL
 * before any callback runs otherwise; declared sizes at their edges and
 * one past; memory, ioeventfds, PCI config space and the ROM keep any
 * length. Accesses go through region_access(), the engine's only path for
 * REGION_READ/WRITE/WRITE_MULTI.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "region_table.h"
#include "test_pci_util.h"
#include "vtest.h"
#include "vus.h"

struct rec {
	unsigned int calls;
	size_t max_len;
	char log[256];
};

static int rec_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct rec *r = opaque;

	r->calls++;
	r->max_len = len > r->max_len ? len : r->max_len;
	memset(buf, 0xab, len);
	return 0;
}

static int rec_write(vus_ctx *ctx, void *opaque, uint64_t off,
		     const void *buf, size_t len)
{
	return rec_read(ctx, opaque, off, (void *)buf, len);
}

static const struct vus_region_ops rec_ops = {
	.struct_size = sizeof(rec_ops), .read = rec_read, .write = rec_write,
};

static void rec_log(void *opaque, int level, const char *msg)
{
	struct rec *r = opaque;

	if (r->log[0] == '\0') /* the first: the rest are rate-limited */
		strncpy(r->log, msg, sizeof(r->log) - 1);
}

static vus_ctx *new_ctx(struct rec *r)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_WARNING, rec_log, r);
	return ctx;
}

static struct vus_region_desc rec_desc(struct rec *r)
{
	return (struct vus_region_desc){
		.struct_size = sizeof(struct vus_region_desc), .size = 4096,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.ops = &rec_ops, .opaque = r,
	};
}

/* Read then write [off, +len) of region 0; both must give @want. */
static void both(vus_ctx *ctx, uint64_t off, size_t len, int want)
{
	uint8_t buf[64] = { 0 };

	assert_true(len <= sizeof(buf));
	assert_int_equal(region_access(ctx_regions(ctx), 0, off, buf, len,
				       false), want);
	assert_int_equal(region_access(ctx_regions(ctx), 0, off, buf, len,
				       true), want);
}

static void callbacks_get_naturally_aligned_1_to_8_bytes(void **state)
{
	struct rec r = { 0 };
	vus_ctx *ctx = new_ctx(&r);
	struct vus_region_desc d = rec_desc(&r);

	assert_int_equal(vus_region_setup(ctx, 0, &d), 0);
	for (size_t len = 1; len <= 8; len *= 2)
		both(ctx, 4096 - len, len, 0);
	assert_int_equal(r.calls, 8);
	assert_int_equal(r.max_len, 8);
	/* vus-ctl dump's 16 bytes, one past 8, and lengths not 2^n. */
	both(ctx, 0, 16, -EINVAL);
	both(ctx, 0, 9, -EINVAL);
	both(ctx, 0, 3, -EINVAL);
	both(ctx, 0, 6, -EINVAL);
	/* Misaligned by one byte (and by half the length). */
	both(ctx, 1, 2, -EINVAL);
	both(ctx, 2, 4, -EINVAL);
	both(ctx, 4, 8, -EINVAL);
	both(ctx, 7, 8, -EINVAL);
	assert_int_equal(r.calls, 8); /* no callback saw any of them */
	assert_non_null(strstr(r.log, "region 0: 16-byte read at 0x0 refused "
				  "(accepts 1 to 8 bytes, naturally aligned)"));
	vus_ctx_destroy(ctx);
}

static void declared_sizes_at_their_edges(void **state)
{
	struct rec r = { 0 };
	vus_ctx *ctx = new_ctx(&r);
	struct vus_region_desc d = rec_desc(&r);

	d.access_min = 2;
	d.access_max = 4;
	assert_int_equal(vus_region_setup(ctx, 0, &d), 0);
	both(ctx, 0, 1, -EINVAL);
	both(ctx, 0, 2, 0);
	both(ctx, 0, 4, 0);
	both(ctx, 0, 8, -EINVAL);
	both(ctx, 2, 4, -EINVAL);
	assert_int_equal(r.calls, 4);
	vus_ctx_destroy(ctx);

	/* Wider than the default, unaligned allowed: still powers of two. */
	r = (struct rec){ 0 };
	ctx = new_ctx(&r);
	d.access_min = 1;
	d.access_max = 32;
	d.access_flags = VUS_ACCESS_UNALIGNED;
	assert_int_equal(vus_region_setup(ctx, 0, &d), 0);
	both(ctx, 1, 4, 0);
	both(ctx, 3, 32, 0);
	both(ctx, 0, 64, -EINVAL);
	both(ctx, 1, 3, -EINVAL);
	assert_int_equal(r.calls, 4);
	assert_int_equal(r.max_len, 32);
	vus_ctx_destroy(ctx);

	/* VUS_ACCESS_ANY: what the client sends, within the region. */
	r = (struct rec){ 0 };
	ctx = new_ctx(&r);
	d.access_min = d.access_max = 0;
	d.access_flags = VUS_ACCESS_ANY;
	assert_int_equal(vus_region_setup(ctx, 0, &d), 0);
	both(ctx, 3, 3, 0);
	both(ctx, 4096 - 64, 64, 0);
	both(ctx, 4096 - 63, 64, -EINVAL); /* past the region's end */
	assert_int_equal(r.calls, 4);
	vus_ctx_destroy(ctx);
}

static void bad_access_rules_are_refused(void **state)
{
	const struct { uint32_t min, max, flags; } bad[] = {
		{ 3, 0, 0 },   /* not a power of two */
		{ 0, 12, 0 },
		{ 16, 0, 0 },  /* min past the default max */
		{ 8, 4, 0 },
		{ 0, 0, 0x4 }, /* unknown flag */
		{ 1, 0, VUS_ACCESS_ANY },
		{ 0, 8, VUS_ACCESS_ANY },
	};
	struct rec r = { 0 };
	vus_ctx *ctx = new_ctx(&r);
	struct vus_region_desc d = rec_desc(&r);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.access_min = bad[i].min;
		d.access_max = bad[i].max;
		d.access_flags = bad[i].flags;
		assert_int_equal(vus_region_setup(ctx, 0, &d), -EINVAL);
	}
	/* The edges that are accepted: min = max = 8, min = max = 1. */
	d.access_min = d.access_max = 8;
	d.access_flags = 0;
	assert_int_equal(vus_region_setup(ctx, 0, &d), 0);
	both(ctx, 0, 4, -EINVAL);
	both(ctx, 0, 8, 0);
	d.access_min = d.access_max = 1;
	assert_int_equal(vus_region_setup(ctx, 1, &d), 0);
	/* An older descriptor without the fields gets the default rule. */
	d = rec_desc(&r);
	d.struct_size = offsetof(struct vus_region_desc, access_min);
	assert_int_equal(vus_region_setup(ctx, 2, &d), 0);
	assert_int_equal(region_access(ctx_regions(ctx), 2, 0,
				       (uint8_t[16]){ 0 }, 16, false), -EINVAL);
	vus_ctx_destroy(ctx);
}

static void memory_and_doorbells_take_any_length(void **state)
{
	static const struct vus_mmap_area area = { .offset = 4096,
						   .size = 4096 };
	struct rec r = { 0 };
	vus_ctx *ctx = new_ctx(&r);
	struct vus_region_desc d = rec_desc(&r);
	struct vus_ioeventfd io = { .struct_size = sizeof(io), .offset = 2,
				    .size = 4 };
	uint8_t buf[128] = { 0 };
	uint64_t n = 0;

	/* Callbacks with memory behind one area. */
	d.size = 8192;
	d.backing = VUS_BACKING_MEM;
	d.mmap_areas = &area;
	d.nr_mmap_areas = 1;
	assert_int_equal(vus_region_setup(ctx, 0, &d), 0);
	both(ctx, 4096 + 3, 64, 0);
	both(ctx, 8192 - 64, 64, 0);
	both(ctx, 4096 - 64, 64, -EINVAL); /* the callbacks' part */
	assert_int_equal(r.calls, 0);
	/* Memory only. */
	d = (struct vus_region_desc){ .struct_size = sizeof(d), .size = 100,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM };
	assert_int_equal(vus_region_setup(ctx, 1, &d), 0);
	assert_int_equal(region_access(ctx_regions(ctx), 1, 1, buf, 99, false),
			 0);
	/* A doorbell matches its own (unaligned) length. */
	io.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(io.fd >= 0);
	assert_int_equal(vus_region_add_ioeventfd(ctx, 0, &io), 0);
	assert_int_equal(region_access(ctx_regions(ctx), 0, 2, buf, 4, true), 0);
	assert_int_equal(read(io.fd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);
	assert_int_equal(r.calls, 0);
	close(io.fd);
	vus_ctx_destroy(ctx);
}

static void pci_bars_config_and_rom(void **state)
{
	const struct vus_pci_info info = tp_info(false, 1);
	static const uint8_t rom[2048] = { 0x55, 0xaa };
	vus_ctx *ctx = tp_new(&info);
	struct rec r = { 0 };
	struct vus_region_desc d = rec_desc(&r);
	uint8_t buf[2048];

	assert_int_equal(vus_pci_setup_bar(ctx, 0, 0, &d), 0);
	/* Memory too small to mmap: served through the BAR's callbacks. */
	d = (struct vus_region_desc){ .struct_size = sizeof(d), .size = 128,
		.backing = VUS_BACKING_MEM };
	assert_int_equal(vus_pci_setup_bar(ctx, 1, 0, &d), 0);
	assert_int_equal(vus_pci_setup_rom(ctx, rom, sizeof(rom)), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	/* A callback BAR: the default rule. */
	assert_int_equal(tp_access(ctx, 0, 8, buf, 8, false), 0);
	assert_int_equal(tp_access(ctx, 0, 0, buf, 16, false), -EINVAL);
	assert_int_equal(tp_access(ctx, 0, 4, buf, 8, true), -EINVAL);
	assert_int_equal(r.calls, 1);
	/* A memory BAR, config space and the ROM: any length. */
	assert_int_equal(tp_access(ctx, 1, 3, buf, 100, true), 0);
	assert_int_equal(tp_access(ctx, VUS_PCI_REGION_CONFIG, 1, buf, 255,
				   false), 0);
	assert_int_equal(tp_access(ctx, VUS_PCI_REGION_ROM, 0, buf, sizeof(rom),
				   false), 0);
	assert_memory_equal(buf, rom, sizeof(rom));
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(callbacks_get_naturally_aligned_1_to_8_bytes),
		VTEST(declared_sizes_at_their_edges),
		VTEST(bad_access_rules_are_refused),
		VTEST(memory_and_doorbells_take_any_length),
		VTEST(pci_bars_config_and_rom),
	};

	return vtest_run("region_access", tests, argc, argv);
}
