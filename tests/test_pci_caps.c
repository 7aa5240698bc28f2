/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pci_caps: the capability chain builder as a client sees it: walks of
 * the conventional and extended chains (IDs, offsets, next pointers), each
 * capability's register layout and write rules (PM, MSI, MSI-X, PCI
 * Express, vendor-specific, DSN, generic), and the builder's errors.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vtest.h"

#include "ctx_internal.h"
#include "pci_priv.h"
#include "test_pci_util.h"

static void conventional_chain(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 1 };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 4, .table_bar = 0,
		.table_offset = 0x1000,
		.pba_bar = 0, .pba_offset = 0x1800 };
	struct tp_bar *b = calloc(1, sizeof(*b));
	const uint8_t body[5] = { 1, 2, 3, 4, 5 };
	int offs[4];
	uint8_t ids[8];
	uint16_t walked[8];
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x2000, b), 0);
	offs[0] = vus_pci_add_cap_pm(ctx);
	offs[1] = vus_pci_add_cap_msi(ctx, &msi);
	offs[2] = vus_pci_add_cap_msix(ctx, &msix);
	offs[3] = vus_pci_add_cap_vendor(ctx, body, sizeof(body));
	assert_int_equal(offs[0], 0x40);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_true(tp_rd(ctx, 0x06, 2) & 0x10);
	assert_int_equal(tp_walk_caps(ctx, ids, walked, 8), 4);
	assert_int_equal(ids[0], 0x01);
	assert_int_equal(ids[1], 0x05);
	assert_int_equal(ids[2], 0x11);
	assert_int_equal(ids[3], 0x09);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(walked[i], offs[i]);
		/* Capability IDs and next pointers are read-only. */
		tp_wr(ctx, walked[i], 0xffff, 2);
		assert_int_equal(tp_rd(ctx, walked[i], 1), ids[i]);
	}
	assert_int_equal(tp_walk_caps(ctx, ids, walked, 8), 4);
	tp_wr(ctx, 0x34, 0xff, 1);
	assert_int_equal(tp_rd(ctx, 0x34, 1), 0x40);
	vus_ctx_destroy(ctx);
	free(b);
}

static void no_caps(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	uint8_t ids[1];
	uint16_t offs[1];
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, 0x06, 2), 0);
	assert_int_equal(tp_walk_caps(ctx, ids, offs, 1), 0);
	vus_ctx_destroy(ctx);
}

static void extended_chain(void **state)
{
	struct vus_pci_info info = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	const uint8_t acs[4] = { 0x5f, 0x00, 0x00, 0x00 };
	const uint8_t vsec[8] = { 0xf4, 0x1a, 0x10, 0x00, 1, 2, 3, 4 };
	uint16_t ids[8], offs[8];
	int o[4];
	vus_ctx *ctx = tp_new(&info);

	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	o[0] = vus_pci_add_ext_cap_dsn(ctx, 0x0011223344556677ull);
	o[1] = vus_pci_add_ext_cap(ctx, 0x000d, 1, acs, sizeof(acs));
	o[2] = vus_pci_add_ext_cap(ctx, 0x000b, 1, vsec, sizeof(vsec));
	o[3] = vus_pci_add_ext_cap(ctx, 0x000b, 1, vsec, sizeof(vsec));
	assert_int_equal(o[0], 0x100);
	assert_int_equal(o[1], 0x10c);
	assert_int_equal(o[2], 0x114);
	assert_int_equal(o[3], 0x120);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_walk_ext(ctx, ids, offs, 8), 4);
	assert_int_equal(ids[0], 0x0003);
	assert_int_equal(ids[1], 0x000d);
	assert_int_equal(ids[2], 0x000b);
	assert_int_equal(ids[3], 0x000b);
	for (unsigned int i = 0; i < 4; i++) {
		uint32_t hdr = tp_rd(ctx, offs[i], 4);

		assert_int_equal(offs[i], o[i]);
		assert_int_equal((hdr >> 16) & 0xf, 1);
		assert_int_equal(hdr >> 20, i < 3 ? o[i + 1] : 0);
		/* Headers and bodies are read-only. */
		tp_wr(ctx, offs[i], 0, 4);
		tp_wr(ctx, offs[i] + 4, 0, 4);
		assert_int_equal(tp_rd(ctx, offs[i], 4), hdr);
	}
	assert_int_equal(tp_rd(ctx, 0x104, 4), 0x44556677);
	assert_int_equal(tp_rd(ctx, 0x108, 4), 0x00112233);
	assert_int_equal(tp_rd(ctx, 0x110, 4), 0x5f);
	assert_int_equal(tp_rd(ctx, 0x11c, 4), 0x04030201);
	vus_ctx_destroy(ctx);
}

static int ff_read(vus_ctx *ctx, void *opaque, uint32_t off, void *buf,
		   size_t len)
{
	memset(buf, 0xff, len);
	return 0;
}

static void no_ext_caps_reads_zero(void **state)
{
	struct vus_pci_info info = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	const struct vus_pci_config_ops ops = { .struct_size = sizeof(ops),
						.read = ff_read };
	vus_ctx *ctx = tp_new(&info);

	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	/* Even a device answering 0xff everywhere cannot fake a chain. */
	assert_int_equal(vus_pci_set_config_ops(ctx, &ops, NULL), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, 0x100, 4), 0);
	assert_int_equal(tp_rd(ctx, 0x104, 4), 0xffffffff);
	vus_ctx_destroy(ctx);
}

static void cap_errors_conventional(void **state)
{
	struct vus_pci_info conv = tp_info(false, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	struct vus_pci_msi_desc m = { .struct_size = sizeof(m),
		.nr_vectors = 3 };
	uint8_t big[252] = { 0 };
	vus_ctx *ctx = tp_new(&conv);
	int ret;

	/* Extended and Express capabilities need an Express function. */
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EINVAL);
	assert_int_equal(vus_pci_add_ext_cap_dsn(ctx, 1), -EINVAL);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0d, 1, big, 4), -EINVAL);
	assert_int_equal(vus_pci_add_cap_msi(ctx, &m), -EINVAL);
	m.nr_vectors = 64;
	assert_int_equal(vus_pci_add_cap_msi(ctx, &m), -EINVAL);
	m.nr_vectors = 0;
	assert_int_equal(vus_pci_add_cap_msi(ctx, &m), -EINVAL);
	assert_int_equal(vus_pci_add_cap_msi(ctx, NULL), -EINVAL);
	m.nr_vectors = 32;
	assert_true(vus_pci_add_cap_msi(ctx, &m) > 0);
	assert_int_equal(vus_pci_add_cap_msi(ctx, &m), -EEXIST);
	assert_true(vus_pci_add_cap_pm(ctx) > 0);
	assert_int_equal(vus_pci_add_cap_pm(ctx), -EEXIST);
	assert_int_equal(vus_pci_add_cap_vendor(ctx, big, 253), -EINVAL);
	assert_int_equal(vus_pci_add_cap_vendor(ctx, NULL, 4), -EINVAL);
	/* Room runs out: 0x40 + 12 (MSI) + 8 (PM) = 0x54, 172 bytes left. */
	assert_int_equal(vus_pci_add_cap_vendor(ctx, big, 170), -ENOSPC);
	ret = vus_pci_add_cap_vendor(ctx, big, 169);
	assert_int_equal(ret, 0x54);
	assert_int_equal(vus_pci_add_cap_vendor(ctx, NULL, 0), -ENOSPC);
	vus_ctx_destroy(ctx);
}

static void cap_errors_express(void **state)
{
	struct vus_pci_info exp = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	uint8_t big[8] = { 0 };
	vus_ctx *ctx = tp_new(&exp);

	e.type = 4; /* root port: not an endpoint */
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EINVAL);
	e = (struct vus_pci_exp_desc){ .struct_size = sizeof(struct vus_pci_exp_desc),
		.max_payload = 8192 };
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EINVAL);
	e = (struct vus_pci_exp_desc){ .struct_size = sizeof(struct vus_pci_exp_desc),
		.max_payload = 192 };
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EINVAL);
	e = (struct vus_pci_exp_desc){ .struct_size = sizeof(struct vus_pci_exp_desc),
		.link_speed = 6 };
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EINVAL);
	e = (struct vus_pci_exp_desc){ .struct_size = sizeof(struct vus_pci_exp_desc),
		.link_width = 3 };
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EINVAL);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0, 1, NULL, 0), -EINVAL);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0d, 16, NULL, 0), -EINVAL);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0d, 1, big, 6), -EINVAL);
	assert_true(vus_pci_add_ext_cap_dsn(ctx, 1) > 0);
	assert_int_equal(vus_pci_add_ext_cap_dsn(ctx, 1), -EEXIST);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x03, 1, big, 8), -EEXIST);
	assert_true(vus_pci_add_ext_cap(ctx, 0x0d, 1, NULL, 0) > 0);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0d, 1, NULL, 0), -EEXIST);
	/* A body length without a body. */
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0b, 1, NULL, 4076),
			 -EINVAL);
	/* An Express function without its capability does not realize. */
	assert_int_equal(vus_ctx_realize(ctx), -EINVAL);
	e = (struct vus_pci_exp_desc){ .struct_size = sizeof(struct vus_pci_exp_desc) };
	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	assert_int_equal(vus_pci_add_cap_exp(ctx, &e), -EEXIST);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	vus_ctx_destroy(ctx);
}

static void ext_space_runs_out(void **state)
{
	struct vus_pci_info info = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e) };
	uint8_t *body = calloc(1, 4096);
	vus_ctx *ctx = tp_new(&info);

	assert_true(vus_pci_add_cap_exp(ctx, &e) > 0);
	/* Bodies come in dwords: one more than the space holds, then exactly
	 * what it holds. */
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0b, 1, body, 3840), -ENOSPC);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0b, 1, body, 3836), 0x100);
	assert_int_equal(vus_pci_add_ext_cap(ctx, 0x0b, 1, NULL, 0), -ENOSPC);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, 0x100, 4), 0x0001000b);
	vus_ctx_destroy(ctx);
	free(body);
}

static void pm_rules(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	vus_ctx *ctx = tp_new(&info);
	int pm = vus_pci_add_cap_pm(ctx);

	assert_int_equal(vus_ctx_realize(ctx), 0);
	/* Version 3, no PME, no D1/D2. */
	assert_int_equal(tp_rd(ctx, pm + 2, 2), 0x0003);
	tp_wr(ctx, pm + 2, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, pm + 2, 2), 0x0003);
	/* PMCSR: D0 with No_Soft_Reset. */
	assert_int_equal(tp_rd(ctx, pm + 4, 4), 0x0008);
	tp_wr(ctx, pm + 4, 0x3, 2);
	assert_int_equal(tp_rd(ctx, pm + 4, 2), 0x000b);
	/* D1 and D2 are unsupported: the state stays D3hot. */
	tp_wr(ctx, pm + 4, 0x1, 1);
	assert_int_equal(tp_rd(ctx, pm + 4, 2), 0x000b);
	tp_wr(ctx, pm + 4, 0x2, 2);
	assert_int_equal(tp_rd(ctx, pm + 4, 2), 0x000b);
	tp_wr(ctx, pm + 4, 0x0, 2);
	assert_int_equal(tp_rd(ctx, pm + 4, 2), 0x0008);
	/* PME_En, PME_Status, the data registers: read-only 0. */
	tp_wr(ctx, pm + 4, 0xfffffffc, 4);
	assert_int_equal(tp_rd(ctx, pm + 4, 4), 0x0008);
	vus_ctx_destroy(ctx);
}

static void msi_registers(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msi_desc m32 = { .struct_size = sizeof(m32),
		.nr_vectors = 4 };
	struct vus_pci_msi_desc m64 = { .struct_size = sizeof(m64),
		.nr_vectors = 8, .addr64 = true,
		.per_vector_mask = true };
	vus_ctx *ctx = tp_new(&info);
	int a = vus_pci_add_cap_msi(ctx, &m32);

	assert_int_equal(vus_ctx_realize(ctx), 0);
	/* 32-bit, no masking: MMC = 2 (4 vectors). */
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0004);
	tp_wr(ctx, a + 2, 0xffff, 2);
	/* Enable set; MME capped at MMC; the rest read-only. */
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0025);
	tp_wr(ctx, a + 2, 0x0011, 2);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0015);
	tp_wr(ctx, a + 4, 0xfee00003, 4);
	assert_int_equal(tp_rd(ctx, a + 4, 4), 0xfee00000);
	tp_wr(ctx, a + 8, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, a + 8, 4), 0x0000ffff);
	vus_ctx_destroy(ctx);

	ctx = tp_new(&info);
	a = vus_pci_add_cap_msi(ctx, &m64);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0186);
	tp_wr(ctx, a + 8, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, a + 8, 4), 0xffffffff);
	tp_wr(ctx, a + 0xc, 0xabcd, 2);
	assert_int_equal(tp_rd(ctx, a + 0xc, 2), 0xabcd);
	/* Mask bits exist for 8 vectors; pending bits are read-only. */
	tp_wr(ctx, a + 0x10, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, a + 0x10, 4), 0xff);
	tp_wr(ctx, a + 0x14, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, a + 0x14, 4), 0);
	vus_ctx_destroy(ctx);
}

static void msix_registers(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msix_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 100, .table_bar = 2,
		.table_offset = 0x0,
		.pba_bar = 4, .pba_offset = 0x800 };
	struct tp_bar *b = calloc(2, sizeof(*b));
	vus_ctx *ctx = tp_new(&info);
	int a;

	assert_int_equal(tp_setup_bar(ctx, 2, 0, 0x2000, &b[0]), 0);
	assert_int_equal(tp_setup_bar(ctx, 4, VUS_PCI_BAR_MEM64, 0x1000,
				      &b[1]), 0);
	a = vus_pci_add_cap_msix(ctx, &d);
	assert_true(a > 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 99);
	assert_int_equal(tp_rd(ctx, a + 4, 4), 0x00000002);
	assert_int_equal(tp_rd(ctx, a + 8, 4), 0x00000804);
	tp_wr(ctx, a + 2, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0xc000 | 99);
	tp_wr(ctx, a + 4, 0, 4);
	tp_wr(ctx, a + 8, 0, 4);
	assert_int_equal(tp_rd(ctx, a + 4, 4), 0x00000002);
	assert_int_equal(tp_rd(ctx, a + 8, 4), 0x00000804);
	vus_ctx_destroy(ctx);
	free(b);
}

static void msix_errors(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	const struct vus_mmap_area area = { .offset = 0x1000, .size = 0x1000 };
	struct vus_region_desc mem = {
		.struct_size = sizeof(mem), .size = 0x4000,
		.backing = VUS_BACKING_MEM, .mmap_areas = &area,
		.nr_mmap_areas = 1, .ops = &tp_bar_ops,
	};
	struct vus_pci_msix_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 8, .table_bar = 0,
		.table_offset = 0, .pba_bar = 0,
		.pba_offset = 0x800 };
	struct tp_bar *b = calloc(3, sizeof(*b));
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, &b[0]), 0);
	assert_int_equal(tp_setup_bar(ctx, 1, VUS_PCI_BAR_IO, 0x100, &b[1]), 0);
	mem.opaque = &b[2];
	assert_int_equal(vus_pci_setup_bar(ctx, 2, 0, &mem), 0);
	d.nr_vectors = 0;
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.nr_vectors = 2049;
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.nr_vectors = 8;
	d.table_bar = 1; /* I/O BAR */
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.table_bar = 3; /* not set up */
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.table_bar = 0;
	d.table_offset = 4; /* misaligned */
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.table_offset = 0xf80 + 8; /* past the end of the BAR */
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.table_offset = 0x7c0; /* overlaps the PBA */
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	/* Table in a page the client may mmap. */
	d.table_bar = 2;
	d.table_offset = 0x1800;
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.table_offset = 0x2000;
	d.pba_bar = 2;
	d.pba_offset = 0x1ff8;
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EINVAL);
	d.pba_offset = 0x3000;
	assert_true(vus_pci_add_cap_msix(ctx, &d) > 0);
	assert_int_equal(vus_pci_add_cap_msix(ctx, &d), -EEXIST);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	vus_ctx_destroy(ctx);
	free(b);
}

static void exp_registers(void **state)
{
	struct vus_pci_info info = tp_info(true, 0);
	struct vus_pci_exp_desc e = { .struct_size = sizeof(e),
		.type = VUS_PCI_EXP_ENDPOINT,
		.max_payload = 256, .link_speed = 3,
		.link_width = 4 };
	vus_ctx *ctx = tp_new(&info);
	struct pci *p = ctx_bus(ctx, &pci_bus_ops);
	int a = vus_pci_add_cap_exp(ctx, &e);

	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, a, 1), 0x10);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0002);
	assert_int_equal(tp_rd(ctx, a + 4, 4), 0x8001);
	assert_int_equal(tp_rd(ctx, a + 8, 2), 0x2810);
	tp_wr(ctx, a + 8, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, a + 8, 2), 0x78ff);
	tp_wr(ctx, a + 8, 0, 2);
	assert_int_equal(tp_rd(ctx, a + 8, 2), 0);
	/* Device Status: error bits RW1C. */
	pci_put16(p, a + 10, 0x002f);
	tp_wr(ctx, a + 10, 0x0005, 2);
	assert_int_equal(tp_rd(ctx, a + 10, 2), 0x002a);
	assert_int_equal(tp_rd(ctx, a + 12, 4), 0x43);
	assert_int_equal(tp_rd(ctx, a + 18, 2), 0x43);
	tp_wr(ctx, a + 16, 0xffff, 2);
	assert_int_equal(tp_rd(ctx, a + 16, 2), 0x00c8);
	assert_int_equal(tp_rd(ctx, a + 44, 4), 0x0e);
	assert_int_equal(tp_rd(ctx, a + 48, 2), 3);
	/* Slot and root registers do not exist for an endpoint. */
	for (uint32_t off = 0x14; off < 0x24; off += 4) {
		tp_wr(ctx, a + off, 0xffffffff, 4);
		assert_int_equal(tp_rd(ctx, a + off, 4), 0);
	}
	vus_ctx_destroy(ctx);

	ctx = tp_new(&info);
	e = (struct vus_pci_exp_desc){ .struct_size = sizeof(struct vus_pci_exp_desc),
		.type = VUS_PCI_EXP_RC_ENDPOINT };
	a = vus_pci_add_cap_exp(ctx, &e);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0092);
	/* No link: link registers read 0 and ignore writes. */
	tp_wr(ctx, a + 16, 0xffff, 2);
	for (uint32_t off = 0x0c; off < 0x14; off += 4)
		assert_int_equal(tp_rd(ctx, a + off, 4), 0);
	assert_int_equal(tp_rd(ctx, a + 44, 4), 0);
	vus_ctx_destroy(ctx);
}

static int vendor_read(vus_ctx *ctx, void *opaque, uint32_t off, void *buf,
		       size_t len)
{
	unsigned int *calls = opaque;
	uint8_t *b = buf;

	(*calls)++;
	/* The library's body arrives prefilled: flip one byte only. */
	if (off <= 0x44 && 0x44 < off + len)
		b[0x44 - off] ^= 0xff;
	return 0;
}

static int vendor_write(vus_ctx *ctx, void *opaque, uint32_t off,
			const void *buf, size_t len)
{
	unsigned int *calls = opaque;

	*calls += 100;
	return 0;
}

static void vendor_body(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	const struct vus_pci_config_ops ops = { .struct_size = sizeof(ops),
						.read = vendor_read,
		.write = vendor_write };
	const uint8_t body[6] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
	unsigned int calls = 0;
	vus_ctx *ctx = tp_new(&info);
	int a = vus_pci_add_cap_vendor(ctx, body, sizeof(body));

	assert_int_equal(a, 0x40);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	/* id, next, length; the body read-only without callbacks. */
	assert_int_equal(tp_rd(ctx, 0x40, 4), 0x11090009);
	tp_wr(ctx, 0x40, 0xffffffff, 4);
	tp_wr(ctx, 0x44, 0xffffffff, 4);
	assert_int_equal(tp_rd(ctx, 0x40, 4), 0x11090009);
	assert_int_equal(tp_rd(ctx, 0x44, 4), 0x55443322);
	assert_int_equal(tp_rd(ctx, 0x48, 4), 0x66);
	vus_ctx_destroy(ctx);

	ctx = tp_new(&info);
	a = vus_pci_add_cap_vendor(ctx, body, sizeof(body));
	assert_int_equal(vus_pci_set_config_ops(ctx, &ops, &calls), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(tp_rd(ctx, 0x44, 1), 0x22 ^ 0xff);
	assert_int_equal(tp_rd(ctx, 0x45, 1), 0x33);
	assert_int_equal(calls, 2);
	/* The header is ours: the callbacks never see it. */
	assert_int_equal(tp_rd(ctx, 0x40, 4), 0x11090009);
	assert_int_equal(calls, 3); /* only byte 0x43 went to the device */
	tp_wr(ctx, 0x44, 0, 2);
	assert_int_equal(calls, 103);
	vus_ctx_destroy(ctx);
}

/*
 * Descriptors grow by struct_size: one from an older header (smaller) is
 * taken, the fields it lacks counting as zero; one larger than this
 * library knows is refused, though its fields would be taken at the right
 * size. Each is a heap block of exactly the size it declares, so ASan sees
 * a read past it.
 */
static void older_descriptors_taken_newer_refused(void **state)
{
	struct vus_pci_info info = tp_info(true, 0);
	size_t old_msi = offsetof(struct vus_pci_msi_desc, per_vector_mask);
	size_t old_exp = offsetof(struct vus_pci_exp_desc, link_width);
	size_t big_msi = sizeof(struct vus_pci_msi_desc) + 8;
	size_t big_io = sizeof(struct vus_ioeventfd) + 8;
	struct vus_pci_msi_desc *msi = calloc(1, old_msi);
	struct vus_pci_exp_desc *exp = calloc(1, old_exp);
	struct vus_pci_msi_desc *msi_new = calloc(1, big_msi);
	struct vus_ioeventfd *io = calloc(1, big_io);
	struct tp_bar *b = calloc(1, sizeof(*b));
	int efd = eventfd(0, EFD_CLOEXEC);
	vus_ctx *ctx = tp_new(&info);
	int a, e;

	assert_true(msi && exp && msi_new && io && b && efd >= 0);
	memcpy(msi, &(struct vus_pci_msi_desc){ .struct_size = old_msi,
		.nr_vectors = 8, .addr64 = true }, old_msi);
	memcpy(msi_new, &(struct vus_pci_msi_desc){ .struct_size = big_msi,
		.nr_vectors = 8, .addr64 = true }, sizeof(*msi_new));
	memcpy(exp, &(struct vus_pci_exp_desc){ .struct_size = old_exp,
		.type = VUS_PCI_EXP_ENDPOINT, .link_speed = 2 }, old_exp);
	*io = (struct vus_ioeventfd){ .struct_size = big_io, .size = 4,
				      .fd = efd };
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, b), 0);
	/* Newer than known: refused whatever the tail holds, zeros too. */
	assert_int_equal(vus_pci_add_cap_msi(ctx, msi_new), -EINVAL);
	assert_int_equal(vus_region_add_ioeventfd(ctx, 0, io), -EINVAL);
	io->struct_size = sizeof(*io);
	assert_int_equal(vus_region_add_ioeventfd(ctx, 0, io), 0);
	/* Not even a struct_size. */
	memcpy(msi_new, &(size_t){ sizeof(size_t) - 1 }, sizeof(size_t));
	assert_int_equal(vus_pci_add_cap_msi(ctx, msi_new), -EINVAL);
	/* Older: taken. */
	a = vus_pci_add_cap_msi(ctx, msi);
	assert_true(a > 0);
	e = vus_pci_add_cap_exp(ctx, exp);
	assert_true(e > 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	/* 64-bit, 8 vectors, and no per-vector masking: the field it lacked. */
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0086);
	/* Speed as given; width the default of one lane. */
	assert_int_equal(tp_rd(ctx, e + PCI_EXP_LNKCAP, 4), 0x12);
	vus_ctx_destroy(ctx);
	close(efd);
	free(msi);
	free(exp);
	free(msi_new);
	free(io);
	free(b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(conventional_chain),
		VTEST(no_caps),
		VTEST(extended_chain),
		VTEST(no_ext_caps_reads_zero),
		VTEST(cap_errors_conventional),
		VTEST(cap_errors_express),
		VTEST(ext_space_runs_out),
		VTEST(pm_rules),
		VTEST(msi_registers),
		VTEST(msix_registers),
		VTEST(msix_errors),
		VTEST(exp_registers),
		VTEST(vendor_body),
		VTEST(older_descriptors_taken_newer_refused),
	};

	return vtest_run("pci_caps", tests, argc, argv);
}
