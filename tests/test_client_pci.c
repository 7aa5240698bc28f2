/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client against a PCI device served by the PCI adapter: region info of
 * the vfio-pci indexes, config space read and written through REGION_READ/
 * WRITE, INTx with its unmask, and MSI-X enabled and unmasked the way a
 * guest driver does it (config space, then the vector table in its BAR),
 * with the device raising vectors from its own thread. And what a driver
 * set up surviving its client, until a new VM's DEVICE_RESET.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vus.h"
#include "vus/client.h"
#include "vtest.h"

#define CFG VUS_PCI_REGION_CONFIG
#define NR_MSIX 4u
#define TABLE 0x800u
#define PBA 0xc00u

struct pdev {
	vus_ctx *ctx;
	pthread_t thread;
	uint8_t regs[4096];
};

static int regs_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	memcpy(buf, (uint8_t *)opaque + off, len);
	return 0;
}

static int regs_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		      size_t len)
{
	memcpy((uint8_t *)opaque + off, buf, len);
	return 0;
}

/* @express: a PCIe endpoint with PM, MSI, MSI-X and a serial number. */
static vus_client *pdev_start_as(struct pdev *d, bool express)
{
	static const struct vus_region_ops ops = { sizeof(ops), regs_read,
						   regs_write };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI };
	struct vus_pci_info info = { .struct_size = sizeof(info),
		.vendor_id = 0x1af4, .device_id = 0x10f3, .class_code = 0xff0000,
		.interrupt_pin = 1 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 4096,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops,
		.opaque = d->regs };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = NR_MSIX,
		.table_bar = 0, .table_offset = TABLE, .pba_bar = 0,
		.pba_offset = PBA };

	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	info.express = express;
	assert_int_equal(vus_pci_init(d->ctx, &info), 0);
	assert_int_equal(vus_pci_setup_bar(d->ctx, 0, 0, &bar), 0);
	if (express) {
		struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
						.nr_vectors = 1 };
		struct vus_pci_exp_desc exp = { .struct_size = sizeof(exp),
						.type = VUS_PCI_EXP_ENDPOINT };

		assert_true(vus_pci_add_cap_pm(d->ctx) > 0);
		assert_true(vus_pci_add_cap_msi(d->ctx, &msi) > 0);
		assert_true(vus_pci_add_cap_exp(d->ctx, &exp) > 0);
		assert_true(vus_pci_add_ext_cap_dsn(d->ctx, 0x1122334455667788ull) > 0);
	}
	assert_true(vus_pci_add_cap_msix(d->ctx, &msix) > 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
	return tc_serve(d->ctx, &d->thread);
}

static vus_client *pdev_start(struct pdev *d)
{
	return pdev_start_as(d, false);
}

/* The client goes; the next one comes on a new socketpair. */
static vus_client *pdev_next_client(struct pdev *d, vus_client *c)
{
	tc_serve_end(c, d->thread);
	return tc_serve(d->ctx, &d->thread);
}

static void pdev_stop(struct pdev *d, vus_client *c)
{
	vus_client_close(c);
	vus_ctx_stop(d->ctx);
	pthread_join(d->thread, NULL);
	vus_ctx_destroy(d->ctx);
}

static uint32_t cfg_read(vus_client *c, uint32_t off, size_t len)
{
	uint32_t v = 0;

	assert_int_equal(vus_client_region_read(c, CFG, off, &v, len), 0);
	return v;
}

static void cfg_write(vus_client *c, uint32_t off, uint32_t v, size_t len)
{
	assert_int_equal(vus_client_region_write(c, CFG, off, &v, len), 0);
}

/* Offset of capability @id in config space, walking at most 48 links. */
static uint32_t find_cap(vus_client *c, uint8_t id)
{
	uint32_t at = cfg_read(c, 0x34, 1) & ~3u;

	for (int i = 0; i < 48 && at >= 0x40; i++) {
		if (cfg_read(c, at, 1) == id)
			return at;
		at = cfg_read(c, at + 1, 1) & ~3u;
	}
	fail_msg("capability 0x%02x not found", id);
	return 0;
}

static void pci_regions_and_config(void **state)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	struct pdev d;
	vus_client *c = pdev_start(&d);
	uint8_t cfg[256];

	assert_int_equal(vus_client_device_info(c, &di), 0);
	assert_int_equal(di.flags, VUS_CLIENT_DEV_PCI | VUS_CLIENT_DEV_RESET);
	assert_true(di.num_regions >= 9);
	assert_true(di.num_irqs >= 5);
	assert_int_equal(vus_client_region_info(c, CFG, &ri), 0);
	assert_int_equal(ri.size, 256);
	assert_int_equal(ri.fd, -1);
	assert_int_equal(vus_client_region_info(c, 1, &ri), 0);
	assert_int_equal(ri.size, 0); /* no BAR 1 */
	/* The whole config space in one read, as QEMU does at realize. */
	assert_int_equal(vus_client_region_read(c, CFG, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(cfg[0] | cfg[1] << 8, 0x1af4);
	assert_int_equal(cfg[2] | cfg[3] << 8, 0x10f3);
	/* BAR sizing through config writes. */
	cfg_write(c, 0x10, 0xffffffff, 4);
	assert_int_equal(cfg_read(c, 0x10, 4) & ~0xfu, 0xfffff000);
	pdev_stop(&d, c);
}

static void pci_intx_and_unmask(void **state)
{
	struct pdev d;
	vus_client *c = pdev_start(&d);

	assert_int_equal(vus_client_irq_enable(c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(vus_pci_intx(d.ctx, true), 1);
	assert_int_equal(vus_client_irq_wait(c, VUS_PCI_IRQ_INTX, 0, vtest_ms(1000)), 1);
	/* Status.Interrupt follows the line. */
	assert_true(cfg_read(c, 0x06, 2) & 0x8);
	/* Still raised: the unmask (a guest's EOI) brings it again. */
	assert_int_equal(vus_client_irq_mask(c, VUS_PCI_IRQ_INTX, 0, 1, false), 0);
	assert_int_equal(vus_client_irq_wait(c, VUS_PCI_IRQ_INTX, 0, vtest_ms(1000)), 1);
	assert_int_equal(vus_pci_intx(d.ctx, false), 0);
	assert_false(cfg_read(c, 0x06, 2) & 0x8);
	pdev_stop(&d, c);
}

static void pci_msix_as_a_driver_enables_it(void **state)
{
	struct pdev d;
	vus_client *c = pdev_start(&d);
	uint32_t cap = find_cap(c, 0x11), zero = 0, pba = 0;

	assert_int_equal(cfg_read(c, cap + 2, 2) & 0x7ff, NR_MSIX - 1);
	assert_int_equal(vus_client_irq_enable(c, VUS_PCI_IRQ_MSIX, NR_MSIX), 0);
	/* Disabled: nothing is sent; and without Bus Master neither. */
	assert_int_equal(vus_pci_msix(d.ctx, 1), 0);
	cfg_write(c, cap + 2, 0x8000, 2); /* MSI-X Enable */
	assert_int_equal(vus_pci_msix(d.ctx, 1), 0);
	cfg_write(c, 0x04, 0x0006, 2);    /* Memory, Bus Master */
	/* Unmask vector 1 in the table; vector 2 stays masked. */
	assert_int_equal(vus_client_region_write(c, 0, TABLE + 16 * 1 + 12,
						 &zero, 4), 0);
	assert_int_equal(vus_pci_msix(d.ctx, 1), 1);
	assert_int_equal(vus_client_irq_wait(c, VUS_PCI_IRQ_MSIX, 1, vtest_ms(1000)), 1);
	/* A masked vector is pending in the PBA, and fires on unmask. */
	assert_int_equal(vus_pci_msix(d.ctx, 2), 0);
	assert_int_equal(vus_client_region_read(c, 0, PBA, &pba, 4), 0);
	assert_int_equal(pba, 1u << 2);
	assert_int_equal(vus_client_irq_poll(c, VUS_PCI_IRQ_MSIX, 2), 0);
	assert_int_equal(vus_client_region_write(c, 0, TABLE + 16 * 2 + 12,
						 &zero, 4), 0);
	assert_int_equal(vus_client_irq_wait(c, VUS_PCI_IRQ_MSIX, 2, vtest_ms(1000)), 1);
	assert_int_equal(vus_client_region_read(c, 0, PBA, &pba, 4), 0);
	assert_int_equal(pba, 0);
	/* The rest of BAR 0 is the device's. */
	assert_int_equal(vus_client_region_write(c, 0, 0x10, "abcd", 4), 0);
	assert_memory_equal(d.regs + 0x10, "abcd", 4);
	pdev_stop(&d, c);
}

/*
 * A driver's set-up outlives its client: BAR address, command register,
 * MSI-X enable, the table's masks and pending bits, a vector raised with
 * nobody connected. A new VM's DEVICE_RESET brings power-on back.
 */
static void pci_state_survives_the_client(void **state)
{
	struct pdev d;
	vus_client *c = pdev_start(&d);
	uint32_t cap = find_cap(c, 0x11), zero = 0, pba = 0;

	cfg_write(c, 0x10, 0xfebf0000, 4);
	cfg_write(c, 0x04, 0x0006, 2);    /* Memory, Bus Master */
	cfg_write(c, cap + 2, 0x8000, 2); /* MSI-X Enable */
	assert_int_equal(vus_client_region_write(c, 0, TABLE + 16 * 1 + 12,
						 &zero, 4), 0);
	assert_int_equal(vus_client_irq_enable(c, VUS_PCI_IRQ_MSIX, NR_MSIX), 0);
	assert_int_equal(vus_pci_msix(d.ctx, 2), 0); /* masked: PBA */
	c = pdev_next_client(&d, c);
	/* Unmasked but unbound now: kept pending until the next binding. */
	assert_int_equal(vus_pci_msix(d.ctx, 1), 0);
	assert_int_equal(cfg_read(c, 0x10, 4), 0xfebf0000);
	assert_int_equal(cfg_read(c, 0x04, 2) & 0x6, 0x6);
	assert_int_equal(cfg_read(c, cap + 2, 2) & 0x8000, 0x8000);
	/* Both pending: 2 masked in the table, 1 with no eventfd. */
	assert_int_equal(vus_client_region_read(c, 0, PBA, &pba, 4), 0);
	assert_int_equal(pba, 1u << 2 | 1u << 1);
	assert_int_equal(vus_client_irq_enable(c, VUS_PCI_IRQ_MSIX, NR_MSIX), 0);
	assert_int_equal(vus_client_irq_wait(c, VUS_PCI_IRQ_MSIX, 1, vtest_ms(1000)), 1);
	assert_int_equal(vus_client_irq_poll(c, VUS_PCI_IRQ_MSIX, 2), 0);
	assert_int_equal(vus_client_region_read(c, 0, PBA, &pba, 4), 0);
	assert_int_equal(pba, 1u << 2);
	/* A new VM starts with DEVICE_RESET: everything at power-on. */
	assert_int_equal(vus_client_reset(c), 0);
	assert_int_equal(cfg_read(c, 0x10, 4) & ~0xfu, 0);
	assert_int_equal(cfg_read(c, 0x04, 2) & 0x6, 0);
	assert_int_equal(cfg_read(c, cap + 2, 2) & 0x8000, 0);
	assert_int_equal(vus_client_region_read(c, 0, PBA, &pba, 4), 0);
	assert_int_equal(pba, 0);
	pdev_stop(&d, c);
}

/*
 * vus_client_pci_find_cap() agrees with a walk of our own, finds the next
 * capability of an id after a match (none here), and says -ENOENT for what
 * is not there, extended capabilities of a conventional function included.
 */
static void find_cap_walks_both_lists(void **state)
{
	struct pdev d, e;
	vus_client *c = pdev_start_as(&d, true);
	vus_client *ce = pdev_start(&e);
	const uint8_t ids[] = { 0x01, 0x05, 0x10, 0x11 };
	int at;

	for (size_t i = 0; i < sizeof(ids); i++)
		assert_int_equal(vus_client_pci_find_cap(c, ids[i], false, 0),
				 (int)find_cap(c, ids[i]));
	at = vus_client_pci_find_cap(c, 0x11, false, 0);
	assert_int_equal(vus_client_pci_find_cap(c, 0x11, false, (uint32_t)at),
			 -ENOENT);
	assert_int_equal(vus_client_pci_find_cap(c, 0x09, false, 0), -ENOENT);
	assert_int_equal(vus_client_pci_find_cap(c, 0xff, false, 0), -ENOENT);
	assert_int_equal(vus_client_pci_find_cap(c, 0x100, false, 0), -EINVAL);
	/* @after: the last conventional offset and the first past it. */
	assert_int_equal(vus_client_pci_find_cap(c, 0x11, false, 0xff), -ENOENT);
	assert_int_equal(vus_client_pci_find_cap(c, 0x11, false, 0x100), -EINVAL);
	/* The serial number is the first (and only) extended capability. */
	at = vus_client_pci_find_cap(c, 0x0003, true, 0);
	assert_int_equal(at, 0x100);
	assert_int_equal(cfg_read(c, (uint32_t)at + 4, 4), 0x55667788);
	assert_int_equal(vus_client_pci_find_cap(c, 0x0003, true, (uint32_t)at),
			 -ENOENT);
	assert_int_equal(vus_client_pci_find_cap(c, 0x0001, true, 0), -ENOENT);
	assert_int_equal(vus_client_pci_find_cap(c, 0x0003, true, 0x1000),
			 -EINVAL);
	/* A conventional function: MSI-X there, no extended space. */
	assert_int_equal(vus_client_pci_find_cap(ce, 0x11, false, 0),
			 (int)find_cap(ce, 0x11));
	assert_int_equal(vus_client_pci_find_cap(ce, 0x0003, true, 0), -ENOENT);
	pdev_stop(&d, c);
	pdev_stop(&e, ce);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(pci_regions_and_config),
		VTEST(pci_intx_and_unmask),
		VTEST(pci_msix_as_a_driver_enables_it),
		VTEST(pci_state_survives_the_client),
		VTEST(find_cap_walks_both_lists),
	};

	return vtest_run("client_pci", tests, argc, argv);
}
