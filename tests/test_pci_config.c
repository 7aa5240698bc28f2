/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pci_config: the type-0 header as a client sees it through region 7:
 * identity registers read-only, command/status write rules, BAR and ROM BAR
 * sizing for every BAR kind, access splitting for odd sizes and alignments,
 * device config callbacks, reset, and the setup API's errors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtest.h"

#include "ctx_internal.h"
#include "pci_priv.h"
#include "vus/irq.h"
#include "region_table.h"
#include "test_pci_util.h"

static void realize(vus_ctx *ctx)
{
	assert_int_equal(vus_ctx_realize(ctx), 0);
}

static void identity_is_read_only(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	vus_ctx *ctx = tp_new(&info);

	realize(ctx);
	assert_int_equal(tp_rd(ctx, 0x00, 4), 0x10f01af4);
	assert_int_equal(tp_rd(ctx, 0x08, 4), 0x02800002);
	assert_int_equal(tp_rd(ctx, 0x0e, 1), 0x00);
	assert_int_equal(tp_rd(ctx, 0x2c, 4), 0x11001af4);
	assert_int_equal(tp_rd(ctx, 0x3d, 1), 1);
	for (uint32_t off = 0; off < 0x0c; off += 4)
		if (off != 0x04)
			tp_wr(ctx, off, 0xffffffff, 4);
	tp_wr(ctx, 0x2c, 0, 4);
	tp_wr(ctx, 0x3c, 0xffff, 2);
	tp_wr(ctx, 0x0e, 0xffff, 2); /* header type, BIST */
	tp_wr(ctx, 0x34, 0xffffffff, 4);
	tp_wr(ctx, 0x38, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, 0x00, 4), 0x10f01af4);
	assert_int_equal(tp_rd(ctx, 0x08, 4), 0x02800002);
	assert_int_equal(tp_rd(ctx, 0x2c, 4), 0x11001af4);
	assert_int_equal(tp_rd(ctx, 0x0e, 2), 0);
	assert_int_equal(tp_rd(ctx, 0x34, 4), 0); /* no caps, reserved 0 */
	assert_int_equal(tp_rd(ctx, 0x38, 4), 0);
	/* Interrupt Line RW, Interrupt Pin RO, Min_Gnt/Max_Lat RO 0. */
	assert_int_equal(tp_rd(ctx, 0x3c, 4), 0x000001ff);
	vus_ctx_destroy(ctx);
}

static void command_bits_follow_resources(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct tp_bar *b = calloc(2, sizeof(*b));
	vus_ctx *ctx;

	/* No BAR: neither decode enable is writable. */
	ctx = tp_new(&info);
	realize(ctx);
	tp_wr(ctx, 0x04, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, 0x04, 2), 0x0544);
	vus_ctx_destroy(ctx);

	/* A memory BAR: Memory Space but not I/O Space. */
	ctx = tp_new(&info);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, &b[0]), 0);
	realize(ctx);
	tp_wr(ctx, 0x04, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, 0x04, 2), 0x0546);
	tp_wr(ctx, 0x04, 0, 2);
	assert_int_equal(tp_rd(ctx, 0x04, 2), 0);
	vus_ctx_destroy(ctx);

	/* An I/O BAR too. */
	ctx = tp_new(&info);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, &b[0]), 0);
	assert_int_equal(tp_setup_bar(ctx, 2, VUS_PCI_BAR_IO, 0x20, &b[1]), 0);
	realize(ctx);
	tp_wr(ctx, 0x04, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, 0x04, 2), 0x0547);
	vus_ctx_destroy(ctx);
	free(b);
}

static void status_rw1c_and_read_only_bits(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	vus_ctx *ctx = tp_new(&info);
	struct pci *p = ctx_bus(ctx, &pci_bus_ops);

	assert_true(vus_pci_add_cap_pm(ctx) > 0);
	realize(ctx);
	/* Capabilities List set; writes cannot set anything. */
	assert_int_equal(tp_rd(ctx, 0x06, 2), 0x0010);
	tp_wr(ctx, 0x06, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, 0x06, 2), 0x0010);
	/* Error bits the device reported clear on a 1, stay on a 0. */
	pci_put16(p, 0x06, 0x0010 | 0xf900);
	tp_wr(ctx, 0x06, 0x0100, 2);
	assert_int_equal(tp_rd(ctx, 0x06, 2), 0xf810);
	tp_wr(ctx, 0x06, 0, 2);
	assert_int_equal(tp_rd(ctx, 0x06, 2), 0xf810);
	/* A 4-byte write at 0x04 carries the status half too. */
	tp_wr(ctx, 0x04, 0x80000004, 4);
	assert_int_equal(tp_rd(ctx, 0x04, 4), 0x78100004);
	tp_wr(ctx, 0x07, 0xff, 1);
	assert_int_equal(tp_rd(ctx, 0x06, 2), 0x0010);
	vus_ctx_destroy(ctx);
}

static uint32_t size_bar(vus_ctx *ctx, uint32_t off)
{
	tp_wr(ctx, off, 0xffffffff, 4);
	return tp_rd(ctx, off, 4);
}

static void bar_sizing_every_kind(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct tp_bar *b = calloc(6, sizeof(*b));
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, &b[0]), 0);
	assert_int_equal(tp_setup_bar(ctx, 1, VUS_PCI_BAR_PREFETCH, 0x10,
				      &b[1]), 0);
	assert_int_equal(tp_setup_bar(ctx, 2, VUS_PCI_BAR_MEM64 |
				      VUS_PCI_BAR_PREFETCH, 0x100000, &b[2]), 0);
	assert_int_equal(tp_setup_bar(ctx, 4, VUS_PCI_BAR_IO, 0x20, &b[4]), 0);
	realize(ctx);
	/* Power-on values carry the type bits. */
	assert_int_equal(tp_rd(ctx, 0x10, 4), 0x0);
	assert_int_equal(tp_rd(ctx, 0x14, 4), 0x8);
	assert_int_equal(tp_rd(ctx, 0x18, 4), 0xc);
	assert_int_equal(tp_rd(ctx, 0x20, 4), 0x1);
	assert_int_equal(size_bar(ctx, 0x10), 0xfffff000);
	assert_int_equal(size_bar(ctx, 0x14), 0xfffffff8);
	assert_int_equal(size_bar(ctx, 0x18), 0xfff0000c);
	assert_int_equal(size_bar(ctx, 0x1c), 0xffffffff);
	assert_int_equal(size_bar(ctx, 0x20), 0xffffffe1);
	assert_int_equal(size_bar(ctx, 0x24), 0); /* unimplemented */
	/* Programming an address keeps the aligned part only. */
	tp_wr(ctx, 0x10, 0xfebc1234, 4);
	assert_int_equal(tp_rd(ctx, 0x10, 4), 0xfebc1000);
	tp_wr(ctx, 0x18, 0x12345678, 4);
	tp_wr(ctx, 0x1c, 0x00000001, 4);
	assert_int_equal(tp_rd(ctx, 0x18, 4), 0x1230000c);
	assert_int_equal(tp_rd(ctx, 0x1c, 4), 1);
	tp_wr(ctx, 0x20, 0xc05f, 4);
	assert_int_equal(tp_rd(ctx, 0x20, 4), 0xc041);
	/* Byte writes size too (a client may split the dword). */
	for (uint32_t i = 0; i < 4; i++)
		tp_wr(ctx, 0x10 + i, 0xff, 1);
	assert_int_equal(tp_rd(ctx, 0x10, 4), 0xfffff000);
	vus_ctx_destroy(ctx);
	free(b);
}

static void bar_sizing_large_64bit(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct tp_bar *b = calloc(1, sizeof(*b));
	vus_ctx *ctx = tp_new(&info);

	/* 8 GiB: no address bit in the low dword. */
	assert_int_equal(tp_setup_bar(ctx, 0, VUS_PCI_BAR_MEM64,
				      8ull << 30, b), 0);
	realize(ctx);
	assert_int_equal(size_bar(ctx, 0x10), 0x4);
	assert_int_equal(size_bar(ctx, 0x14), 0xfffffffe);
	vus_ctx_destroy(ctx);
	free(b);
}

static void rom_bar_without_rom_reads_zero(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	vus_ctx *ctx = tp_new(&info);
	struct region_info ri;

	realize(ctx);
	/* QEMU's ROM sizing sequence. */
	assert_int_equal(tp_rd(ctx, 0x30, 4), 0);
	tp_wr(ctx, 0x30, 0xfffff800, 4);
	assert_int_equal(tp_rd(ctx, 0x30, 4), 0);
	tp_wr(ctx, 0x30, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, 0x30, 4), 0);
	assert_int_equal(region_get_info(ctx_regions(ctx), 6, &ri), 0);
	assert_int_equal(ri.size, 0);
	vus_ctx_destroy(ctx);
}

static void rom_bar_with_rom(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	vus_ctx *ctx = tp_new(&info);
	uint8_t *img = malloc(8192), buf[16];
	struct region_info ri;

	for (unsigned int i = 0; i < 8192; i++)
		img[i] = (uint8_t)(i * 7);
	img[0] = 0x55;
	img[1] = 0xaa;
	assert_int_equal(vus_pci_setup_rom(ctx, img, 8192), 0);
	realize(ctx);
	tp_wr(ctx, 0x30, 0xfffff800, 4);
	assert_int_equal(tp_rd(ctx, 0x30, 4), 0xffffe000);
	tp_wr(ctx, 0x30, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, 0x30, 4), 0xffffe001);
	tp_wr(ctx, 0x30, 0, 4);
	/* A ROM makes Memory Space writable even without memory BARs. */
	tp_wr(ctx, 0x04, 0x2, 2);
	assert_int_equal(tp_rd(ctx, 0x04, 2), 0x2);
	assert_int_equal(region_get_info(ctx_regions(ctx), 6, &ri), 0);
	assert_int_equal(ri.size, 8192);
	assert_int_equal(ri.flags, VUS_REGION_READ);
	assert_int_equal(tp_access(ctx, 6, 4096, buf, sizeof(buf), false), 0);
	assert_memory_equal(buf, img + 4096, sizeof(buf));
	assert_int_equal(tp_access(ctx, 6, 0, buf, 4, true), -EINVAL);
	vus_ctx_destroy(ctx);
	free(img);
}

static void rw_registers(void **state)
{
	struct vus_pci_info conv = tp_info(false, 2), exp = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	vus_ctx *ctx = tp_new(&conv);

	realize(ctx);
	tp_wr(ctx, 0x0c, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, 0x0c, 2), 0xffff); /* cache line, latency */
	tp_wr(ctx, 0x3c, 0x0b, 1);
	assert_int_equal(tp_rd(ctx, 0x3c, 2), 0x020b);
	vus_ctx_destroy(ctx);

	ctx = tp_new(&exp);
	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	realize(ctx);
	tp_wr(ctx, 0x0c, 0xffff, 2);
	/* Latency timer is read-only 0 for PCI Express. */
	assert_int_equal(tp_rd(ctx, 0x0c, 2), 0x00ff);
	vus_ctx_destroy(ctx);
}

/* Config callbacks: record every piece that reaches the device. */
struct cfg_dev {
	unsigned int nr;
	struct tp_access_rec log[64];
	uint8_t regs[4096];
	unsigned int changes;
	uint32_t changed_off, changed_len;
};

static void cfg_log(struct cfg_dev *d, uint32_t off, size_t len, bool wr)
{
	/* Pieces are 1, 2 or 4 bytes, naturally aligned. */
	assert_true(len == 1 || len == 2 || len == 4);
	assert_int_equal(off % len, 0);
	if (d->nr < 64)
		d->log[d->nr++] = (struct tp_access_rec){ off, len, wr };
}

static int cfg_read(vus_ctx *ctx, void *opaque, uint32_t off, void *buf,
		    size_t len)
{
	struct cfg_dev *d = opaque;

	cfg_log(d, off, len, false);
	memcpy(buf, d->regs + off, len);
	return 0;
}

static int cfg_write(vus_ctx *ctx, void *opaque, uint32_t off, const void *buf,
		     size_t len)
{
	struct cfg_dev *d = opaque;

	cfg_log(d, off, len, true);
	memcpy(d->regs + off, buf, len);
	return 0;
}

static void cfg_changed(vus_ctx *ctx, void *opaque, uint32_t off, uint32_t len)
{
	struct cfg_dev *d = opaque;

	d->changes++;
	d->changed_off = off;
	d->changed_len = len;
}

static const struct vus_pci_config_ops cfg_ops = {
	.struct_size = sizeof(cfg_ops),
	.read = cfg_read,
	.write = cfg_write,
	.changed = cfg_changed,
};

static void device_owned_bytes_reach_callbacks(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct cfg_dev *d = calloc(1, sizeof(*d));
	vus_ctx *ctx = tp_new(&info);
	uint8_t buf[16];

	assert_int_equal(vus_pci_set_config_ops(ctx, &cfg_ops, d), 0);
	realize(ctx);
	for (unsigned int i = 0; i < 16; i++)
		d->regs[0x40 + i] = (uint8_t)(0xa0 + i);
	/* 7 bytes at 0x41: pieces 0x41/1, 0x42/2, 0x44/4. */
	assert_int_equal(tp_access(ctx, 7, 0x41, buf, 7, false), 0);
	assert_memory_equal(buf, d->regs + 0x41, 7);
	assert_int_equal(d->nr, 3);
	assert_int_equal(d->log[0].off, 0x41);
	assert_int_equal(d->log[0].len, 1);
	assert_int_equal(d->log[1].off, 0x42);
	assert_int_equal(d->log[1].len, 2);
	assert_int_equal(d->log[2].off, 0x44);
	assert_int_equal(d->log[2].len, 4);
	/* Header bytes never reach the device; a crossing access is split. */
	d->nr = 0;
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(tp_access(ctx, 7, 0x3e, buf, 4, true), 0);
	assert_int_equal(d->nr, 1);
	assert_int_equal(d->log[0].off, 0x40);
	assert_int_equal(d->log[0].len, 2);
	assert_true(d->log[0].write);
	assert_int_equal(d->regs[0x40], 0x5a);
	assert_int_equal(tp_rd(ctx, 0x3e, 2), 0); /* Min_Gnt/Max_Lat RO */
	vus_ctx_destroy(ctx);
	free(d);
}

static void changed_callback_on_library_bytes(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct cfg_dev *d = calloc(1, sizeof(*d));
	struct tp_bar *b = calloc(1, sizeof(*b));
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, b), 0);
	assert_int_equal(vus_pci_set_config_ops(ctx, &cfg_ops, d), 0);
	realize(ctx);
	tp_wr(ctx, 0x04, 0x0006, 2);
	assert_int_equal(d->changes, 1);
	assert_int_equal(d->changed_off, 0x04);
	assert_int_equal(d->changed_len, 2);
	/* Same value again, or only read-only bits: nothing changed. */
	tp_wr(ctx, 0x04, 0x0006, 2);
	tp_wr(ctx, 0x00, 0xffffffff, 4);
	assert_int_equal(d->changes, 1);
	tp_wr(ctx, 0x10, 0xfebf0000, 4);
	assert_int_equal(d->changes, 2);
	assert_int_equal(d->changed_off, 0x10);
	/* Library-owned writes never reach the write callback. */
	assert_int_equal(d->nr, 0);
	vus_ctx_destroy(ctx);
	free(b);
	free(d);
}

static void odd_sizes_and_alignments(void **state)
{
	struct vus_pci_info info = tp_info(true, 1);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	struct vus_pci_msi_desc m = { .struct_size = sizeof(m),
		.nr_vectors = 4, .addr64 = true,
		.per_vector_mask = true };
	struct tp_bar *b = calloc(1, sizeof(*b));
	uint8_t *whole = malloc(4096), *bytes = malloc(4096);
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, b), 0);
	assert_true(vus_pci_add_cap_pm(ctx) > 0);
	assert_true(vus_pci_add_cap_msi(ctx, &m) > 0);
	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	assert_true(vus_pci_add_ext_cap_dsn(ctx, 0x0123456789abcdefull) > 0);
	realize(ctx);
	/* One 4096-byte read equals 4096 one-byte reads. */
	assert_int_equal(tp_access(ctx, 7, 0, whole, 4096, false), 0);
	for (uint32_t i = 0; i < 4096; i++)
		bytes[i] = (uint8_t)tp_rd(ctx, i, 1);
	assert_memory_equal(whole, bytes, 4096);
	/* Every offset and length up to 9 reads the same bytes. */
	for (uint32_t off = 0; off < 0x120; off++) {
		for (size_t len = 1; len <= 9; len++) {
			uint8_t buf[9];

			assert_int_equal(tp_access(ctx, 7, off, buf, len,
						   false), 0);
			assert_memory_equal(buf, whole + off, len);
		}
	}
	/* A garbage write over everything leaves identity and chain intact. */
	memset(bytes, 0xff, 4096);
	assert_int_equal(tp_access(ctx, 7, 0, bytes, 4096, true), 0);
	assert_int_equal(tp_rd(ctx, 0x00, 4), 0x10f01af4);
	assert_int_equal(tp_rd(ctx, 0x34, 1), whole[0x34]);
	assert_int_equal(tp_rd(ctx, 0x10, 4), 0xfffff000);
	assert_int_equal(tp_rd(ctx, 0x104, 4), 0x89abcdef);
	/* Out of range is refused before any byte is touched. */
	assert_int_equal(tp_access(ctx, 7, 4095, bytes, 2, false), -EINVAL);
	assert_int_equal(tp_access(ctx, 7, UINT64_MAX, bytes, 2, true),
			 -EINVAL);
	vus_ctx_destroy(ctx);
	free(whole);
	free(bytes);
	free(b);
}

static void reset_restores_power_on(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	struct tp_bar *b = calloc(1, sizeof(*b));
	uint8_t before[256], after[256];
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, VUS_PCI_BAR_MEM64, 0x4000, b), 0);
	assert_true(vus_pci_add_cap_pm(ctx) > 0);
	realize(ctx);
	assert_int_equal(tp_access(ctx, 7, 0, before, 256, false), 0);
	tp_wr(ctx, 0x04, 0x0406, 2);
	tp_wr(ctx, 0x10, 0xfe000000, 4);
	tp_wr(ctx, 0x14, 0x1, 4);
	tp_wr(ctx, 0x0c, 0x10, 1);
	tp_wr(ctx, 0x3c, 0x0a, 1);
	tp_wr(ctx, 0x44, 0x3, 2); /* PM: D3hot */
	assert_int_equal(tp_rd(ctx, 0x44, 2) & 3, 3);
	tp_reset(ctx);
	assert_int_equal(tp_access(ctx, 7, 0, after, 256, false), 0);
	assert_memory_equal(before, after, 256);
	vus_ctx_destroy(ctx);
	free(b);
}

static void config_read_api(void **state)
{
	struct vus_pci_info info = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	vus_ctx *ctx = tp_new(&info);
	uint8_t a[64], b[64];

	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	/* Works before realize too (no client can write yet). */
	assert_int_equal(vus_pci_config_read(ctx, 0, a, 4), 0);
	assert_int_equal(a[0], 0xf4);
	realize(ctx);
	tp_wr(ctx, 0x04, 0x0004, 2);
	assert_int_equal(vus_pci_config_read(ctx, 0, a, sizeof(a)), 0);
	assert_int_equal(tp_access(ctx, 7, 0, b, sizeof(b), false), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(vus_pci_config_read(ctx, 4093, a, 3), 0);
	assert_int_equal(vus_pci_config_read(ctx, 4094, a, 3), -EINVAL);
	assert_int_equal(vus_pci_config_read(ctx, UINT32_MAX, a, 2), -EINVAL);
	assert_int_equal(vus_pci_config_read(NULL, 0, a, 2), -EINVAL);
	vus_ctx_destroy(ctx);
}

static void init_errors(void **state)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS };
	struct vus_pci_info info = tp_info(false, 0);
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	assert_int_equal(vus_pci_init(ctx, &info), -EINVAL);
	vus_ctx_destroy(ctx);

	cfg.bus = VUS_BUS_PCI;
	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(ctx, NULL), -EINVAL);
	info.vendor_id = 0;
	assert_int_equal(vus_pci_init(ctx, &info), -EINVAL);
	info.vendor_id = 0xffff;
	assert_int_equal(vus_pci_init(ctx, &info), -EINVAL);
	info = tp_info(false, 5);
	assert_int_equal(vus_pci_init(ctx, &info), -EINVAL);
	info = tp_info(false, 0);
	info.struct_size = sizeof(info) + 8;
	assert_int_equal(vus_pci_init(ctx, &info), -EINVAL);
	/* Without the adapter every other call refuses. */
	assert_int_equal(vus_pci_add_cap_pm(ctx), -EINVAL);
	assert_int_equal(vus_pci_intx(ctx, true), -EINVAL);
	info = tp_info(false, 0);
	assert_int_equal(vus_pci_init(ctx, &info), 0);
	assert_int_equal(vus_pci_init(ctx, &info), -EEXIST);
	/* The PCI indexes are reserved from the generic API. */
	assert_int_equal(vus_irq_setup(ctx, 0, 1, 0), -EINVAL);
	realize(ctx);
	assert_int_equal(vus_pci_add_cap_pm(ctx), -EBUSY);
	assert_int_equal(vus_pci_setup_rom(ctx, &info, 4096), -EBUSY);
	vus_ctx_destroy(ctx);
}

static void setup_bar_errors(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct tp_bar *b = calloc(1, sizeof(*b));
	struct vus_region_desc d = { .struct_size = sizeof(d), .size = 0x1000,
				     .flags = VUS_REGION_READ };
	vus_ctx *ctx = tp_new(&info);
	uint8_t rom[4096] = { 0 };

	assert_int_equal(tp_setup_bar(ctx, 6, 0, 0x1000, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, 0x80, 0x1000, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1800, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 8, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 1ull << 32, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, VUS_PCI_BAR_IO, 512, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, VUS_PCI_BAR_IO, 2, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 0, VUS_PCI_BAR_IO |
				      VUS_PCI_BAR_PREFETCH, 16, b), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 5, VUS_PCI_BAR_MEM64, 0x1000, b),
			 -EINVAL);
	/* No callbacks and no memory: nothing could serve it. */
	assert_int_equal(vus_pci_setup_bar(ctx, 0, 0, &d), -EINVAL);
	assert_int_equal(vus_pci_setup_bar(ctx, 0, 0, NULL), -EINVAL);
	assert_int_equal(tp_setup_bar(ctx, 1, VUS_PCI_BAR_MEM64, 0x1000, b), 0);
	assert_int_equal(tp_setup_bar(ctx, 1, 0, 0x1000, b), -EEXIST);
	assert_int_equal(tp_setup_bar(ctx, 2, 0, 0x1000, b), -EEXIST);
	assert_int_equal(tp_setup_bar(ctx, 0, VUS_PCI_BAR_MEM64, 0x1000, b),
			 -EEXIST);
	/* The generic API cannot take PCI indexes. */
	assert_int_equal(vus_region_setup(ctx, 3, &d), -EINVAL);
	assert_int_equal(vus_pci_setup_rom(ctx, rom, 1024), -EINVAL);
	assert_int_equal(vus_pci_setup_rom(ctx, rom, 3072), -EINVAL);
	assert_int_equal(vus_pci_setup_rom(ctx, NULL, 4096), -EINVAL);
	assert_int_equal(vus_pci_setup_rom(ctx, rom, 4096), 0);
	assert_int_equal(vus_pci_setup_rom(ctx, rom, 4096), -EEXIST);
	realize(ctx);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, b), -EBUSY);
	vus_ctx_destroy(ctx);
	free(b);
}

static void memory_backed_bar(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_region_desc d = {
		.struct_size = sizeof(d),
		.size = 0x2000,
		.backing = VUS_BACKING_MEM,
	};
	vus_ctx *ctx = tp_new(&info);
	uint8_t *mem;
	uint32_t v = 0x11223344, r = 0;
	struct region_info ri;

	/* flags 0 means READ|WRITE for a BAR. */
	assert_int_equal(vus_pci_setup_bar(ctx, 0, 0, &d), 0);
	realize(ctx);
	assert_int_equal(region_get_info(ctx_regions(ctx), 0, &ri), 0);
	assert_int_equal(ri.flags, VUS_REGION_READ | VUS_REGION_WRITE);
	mem = vus_region_mem(ctx, 0);
	assert_non_null(mem);
	assert_int_equal(tp_access(ctx, 0, 0x1ffc, &v, 4, true), 0);
	assert_memory_equal(mem + 0x1ffc, &v, 4);
	assert_int_equal(tp_access(ctx, 0, 0x1ffc, &r, 4, false), 0);
	assert_int_equal(r, v);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(identity_is_read_only),
		VTEST(command_bits_follow_resources),
		VTEST(status_rw1c_and_read_only_bits),
		VTEST(bar_sizing_every_kind),
		VTEST(bar_sizing_large_64bit),
		VTEST(rom_bar_without_rom_reads_zero),
		VTEST(rom_bar_with_rom),
		VTEST(rw_registers),
		VTEST(device_owned_bytes_reach_callbacks),
		VTEST(changed_callback_on_library_bytes),
		VTEST(odd_sizes_and_alignments),
		VTEST(reset_restores_power_on),
		VTEST(config_read_api),
		VTEST(init_errors),
		VTEST(setup_bar_errors),
		VTEST(memory_backed_bar),
	};

	return vtest_run("pci_config", tests, argc, argv);
}
