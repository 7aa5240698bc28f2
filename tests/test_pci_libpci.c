/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pci_libpci: an independent decoder reads our emulated config space.
 * The image a client reads from region 7 is handed to libpci (pciutils)
 * twice: as an lspci-style dump file scanned by its "dump" access method,
 * and as the config cache of a device (pci_setup_cache). libpci must then
 * find every capability we built, conventional and extended, at the
 * offsets the builder returned, and decode their fields as we meant them.
 *
 * This test program links libpci, which is GPL-2.0-or-later: the resulting
 * executable is covered by the GPL. It is only a test and is never
 * installed; the library itself does not link libpci.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtest.h"

#ifdef VTEST_HAVE_LIBPCI

#include <pci/pci.h>

#include "ctx_internal.h"
#include "region_table.h"
#include "test_pci_util.h"

struct built {
	vus_ctx *ctx;
	struct tp_bar *bar;
	int pm, msi, msix, exp, vndr, dsn, acs, vsec;
};

static void build_express(struct built *b)
{
	struct vus_pci_info info = tp_info(true, 1);
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 8, .addr64 = true,
		.per_vector_mask = true };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 16, .table_bar = 2,
		.table_offset = 0, .pba_bar = 2,
		.pba_offset = 0x800 };
	struct vus_pci_exp_desc exp = { .struct_size = sizeof(exp),
		.type = VUS_PCI_EXP_ENDPOINT,
		.max_payload = 256, .link_speed = 2,
		.link_width = 4 };
	const uint8_t vbody[8] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4 };
	const uint8_t acs[4] = { 0x1f, 0, 0, 0 };
	const uint8_t vsec[8] = { 0xf4, 0x1a, 0x10, 0x00, 0, 0, 0, 0 };

	memset(b, 0, sizeof(*b));
	b->bar = calloc(1, sizeof(*b->bar));
	b->ctx = tp_new(&info);
	assert_int_equal(tp_setup_bar(b->ctx, 0, VUS_PCI_BAR_MEM64, 0x4000,
				      b->bar), 0);
	assert_int_equal(tp_setup_bar(b->ctx, 2, 0, 0x1000, b->bar), 0);
	b->pm = vus_pci_add_cap_pm(b->ctx);
	b->msi = vus_pci_add_cap_msi(b->ctx, &msi);
	b->msix = vus_pci_add_cap_msix(b->ctx, &msix);
	b->exp = vus_pci_add_cap_exp(b->ctx, &exp);
	b->vndr = vus_pci_add_cap_vendor(b->ctx, vbody, sizeof(vbody));
	b->dsn = vus_pci_add_ext_cap_dsn(b->ctx, 0x0102030405060708ull);
	b->acs = vus_pci_add_ext_cap(b->ctx, 0x000d, 1, acs, sizeof(acs));
	b->vsec = vus_pci_add_ext_cap(b->ctx, 0x000b, 1, vsec, sizeof(vsec));
	assert_int_equal(vus_ctx_realize(b->ctx), 0);
	/* Program a BAR as firmware would, to decode it back. */
	tp_wr(b->ctx, 0x10, 0xfe004000, 4);
	tp_wr(b->ctx, 0x14, 0x1, 4);
}

static void built_free(struct built *b)
{
	vus_ctx_destroy(b->ctx);
	free(b->bar);
}

static void read_image(vus_ctx *ctx, uint8_t *img, size_t size)
{
	assert_int_equal(region_access(ctx_regions(ctx), VUS_PCI_REGION_CONFIG,
				       0, img, size, false), 0);
}

/* A unique dump file name under $TMPDIR (or /tmp). */
static void dump_path(char *path, size_t size)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, size, "%s/vus-libpci-XXXXXX", dir ? dir : "/tmp");
}

/* lspci -xxxx format: a device line, then 16 bytes per line. */
static void write_dump(char *path, const uint8_t *img, size_t size)
{
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "00:04.0 Network controller: libvus test function\n");
	for (size_t off = 0; off < size; off += 16) {
		fprintf(f, "%03zx:", off);
		for (size_t i = 0; i < 16; i++)
			fprintf(f, " %02x", img[off + i]);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
	assert_int_equal(fclose(f), 0);
}

static struct pci_access *open_dump(char *path)
{
	struct pci_access *a = pci_alloc();
	char param[] = "dump.name";

	assert_non_null(a);
	a->method = PCI_ACCESS_DUMP;
	assert_int_equal(pci_set_param(a, param, path), 0);
	pci_init(a);
	return a;
}

static unsigned int count_caps(struct pci_dev *d, unsigned int type)
{
	unsigned int n = 0;

	for (struct pci_cap *c = d->first_cap; c != NULL && n < 1024;
	     c = c->next)
		if (c->type == type)
			n++;
	return n;
}

static int cap_at(struct pci_dev *d, unsigned int id, unsigned int type)
{
	struct pci_cap *c = pci_find_cap(d, id, type);

	return c ? (int)c->addr : -1;
}

/* What libpci must make of the express function: identity and chains... */
static void check_express_chain(struct pci_dev *d, const struct built *b)
{
	unsigned int nr = 0;

	pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_BASES |
		      PCI_FILL_CAPS | PCI_FILL_EXT_CAPS);
	assert_int_equal(d->vendor_id, 0x1af4);
	assert_int_equal(d->device_id, 0x10f0);
	assert_int_equal(d->device_class, 0x0280);
	assert_int_equal(d->base_addr[0], 0x1fe004004ull);
	assert_int_equal(cap_at(d, PCI_CAP_ID_PM, PCI_CAP_NORMAL), b->pm);
	assert_int_equal(cap_at(d, PCI_CAP_ID_MSI, PCI_CAP_NORMAL), b->msi);
	assert_int_equal(cap_at(d, PCI_CAP_ID_MSIX, PCI_CAP_NORMAL), b->msix);
	assert_int_equal(cap_at(d, PCI_CAP_ID_EXP, PCI_CAP_NORMAL), b->exp);
	assert_int_equal(cap_at(d, PCI_CAP_ID_VNDR, PCI_CAP_NORMAL), b->vndr);
	assert_int_equal(count_caps(d, PCI_CAP_NORMAL), 5);
	assert_int_equal(cap_at(d, PCI_EXT_CAP_ID_DSN, PCI_CAP_EXTENDED),
			 b->dsn);
	assert_int_equal(cap_at(d, PCI_EXT_CAP_ID_ACS, PCI_CAP_EXTENDED),
			 b->acs);
	assert_int_equal(cap_at(d, PCI_EXT_CAP_ID_VNDR, PCI_CAP_EXTENDED),
			 b->vsec);
	(void)pci_find_cap_nr(d, PCI_EXT_CAP_ID_VNDR, PCI_CAP_EXTENDED, &nr);
	assert_int_equal(nr, 1);
	assert_int_equal(count_caps(d, PCI_CAP_EXTENDED), 3);
}

/* ...and of the fields inside them. */
static void check_express_fields(struct pci_dev *d, const struct built *b)
{
	u16 flags;

	assert_int_equal(pci_read_word(d, b->pm + 2) & PCI_PM_CAP_VER_MASK, 3);
	assert_true(pci_read_word(d, b->pm + PCI_PM_CTRL) &
		    PCI_PM_CTRL_NO_SOFT_RST);
	flags = pci_read_word(d, b->msi + PCI_MSI_FLAGS);
	assert_true(flags & PCI_MSI_FLAGS_64BIT);
	assert_true(flags & PCI_MSI_FLAGS_MASK_BIT);
	assert_int_equal((flags & PCI_MSI_FLAGS_QMASK) >> 1, 3);
	flags = pci_read_word(d, b->msix + 2);
	assert_int_equal((flags & PCI_MSIX_TABSIZE) + 1, 16);
	assert_int_equal(pci_read_long(d, b->msix + PCI_MSIX_TABLE), 2);
	assert_int_equal(pci_read_long(d, b->msix + PCI_MSIX_PBA), 0x802);
	flags = pci_read_word(d, b->exp + PCI_EXP_FLAGS);
	assert_int_equal(flags & PCI_EXP_FLAGS_VERS, 2);
	assert_int_equal((flags & PCI_EXP_FLAGS_TYPE) >> 4,
			 PCI_EXP_TYPE_ENDPOINT);
	assert_int_equal(pci_read_long(d, b->exp + PCI_EXP_DEVCAP) &
			 PCI_EXP_DEVCAP_PAYLOAD, 1);
	assert_int_equal(pci_read_long(d, b->exp + PCI_EXP_LNKCAP) &
			 PCI_EXP_LNKCAP_SPEED, 2);
	assert_int_equal((pci_read_long(d, b->exp + PCI_EXP_LNKCAP) &
			  PCI_EXP_LNKCAP_WIDTH) >> 4, 4);
	assert_int_equal(pci_read_byte(d, b->vndr + 2), 11);
	assert_int_equal(pci_read_byte(d, b->vndr + 3), 0xde);
	assert_int_equal(pci_read_long(d, b->dsn + 4), 0x05060708);
	assert_int_equal(pci_read_long(d, b->dsn + 8), 0x01020304);
	assert_int_equal(pci_read_byte(d, PCI_INTERRUPT_PIN), 1);
}

static void express_function_from_dump(void **state)
{
	char path[256];
	uint8_t *img = malloc(4096);
	struct pci_access *a;
	struct built b;

	dump_path(path, sizeof(path));
	build_express(&b);
	read_image(b.ctx, img, 4096);
	write_dump(path, img, 4096);
	a = open_dump(path);
	pci_scan_bus(a);
	assert_non_null(a->devices);
	assert_null(a->devices->next);
	check_express_chain(a->devices, &b);
	check_express_fields(a->devices, &b);
	pci_cleanup(a);
	unlink(path);
	built_free(&b);
	free(img);
}

static void express_function_from_cache(void **state)
{
	char path[256];
	uint8_t *img = malloc(4096);
	struct pci_access *a;
	struct pci_dev *d;
	struct built b;

	dump_path(path, sizeof(path));
	build_express(&b);
	read_image(b.ctx, img, 4096);
	/* An empty dump only provides the access method; the cache the data. */
	write_dump(path, img, 0);
	a = open_dump(path);
	d = pci_get_dev(a, 0, 1, 0, 0);
	assert_non_null(d);
	pci_setup_cache(d, img, 4096);
	check_express_chain(d, &b);
	check_express_fields(d, &b);
	pci_free_dev(d);
	pci_cleanup(a);
	unlink(path);
	built_free(&b);
	free(img);
}

static void conventional_function_from_cache(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 1 };
	char path[256];
	uint8_t img[256];
	struct pci_access *a;
	struct pci_dev *d;
	vus_ctx *ctx = tp_new(&info);
	int vndr, msi_off, pm;

	dump_path(path, sizeof(path));
	vndr = vus_pci_add_cap_vendor(ctx, NULL, 0);
	msi_off = vus_pci_add_cap_msi(ctx, &msi);
	pm = vus_pci_add_cap_pm(ctx);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	read_image(ctx, img, sizeof(img));
	write_dump(path, img, 0);
	a = open_dump(path);
	d = pci_get_dev(a, 0, 1, 0, 0);
	pci_setup_cache(d, img, sizeof(img));
	pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CAPS | PCI_FILL_EXT_CAPS);
	assert_int_equal(cap_at(d, PCI_CAP_ID_VNDR, PCI_CAP_NORMAL), vndr);
	assert_int_equal(cap_at(d, PCI_CAP_ID_MSI, PCI_CAP_NORMAL), msi_off);
	assert_int_equal(cap_at(d, PCI_CAP_ID_PM, PCI_CAP_NORMAL), pm);
	assert_int_equal(count_caps(d, PCI_CAP_NORMAL), 3);
	/* No Express capability: libpci does not look past 0x100. */
	assert_int_equal(count_caps(d, PCI_CAP_EXTENDED), 0);
	assert_int_equal(pci_read_byte(d, vndr + 2), 3);
	pci_free_dev(d);
	pci_cleanup(a);
	unlink(path);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(express_function_from_dump),
		VTEST(express_function_from_cache),
		VTEST(conventional_function_from_cache),
	};

	return vtest_run("pci_libpci", tests, argc, argv);
}

#else /* !VTEST_HAVE_LIBPCI */

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "libpci not available: skipped\n");
	return 77; /* meson: skipped */
}

#endif
