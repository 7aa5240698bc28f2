/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_vus_ctl_server: a device for test_vus_ctl.sh to point vus-ctl at.
 *
 *   test_vus_ctl_server pci|sysbus SOCKET_PATH
 *
 * "pci": a PCI Express function (1af4:1000, class 0x020000) with a 4 KiB
 * register BAR holding the MSI-X table and PBA, an I/O BAR, a 64-bit
 * prefetchable BAR of backing memory with two mmap areas, a 2 KiB ROM,
 * PM, MSI, MSI-X, Express, vendor-specific and DSN capabilities, INTx.
 * BAR0 0x40 runs a DMA copy, BAR0 0x48 raises an MSI-X vector.
 * "sysbus": one memory window and one level-triggered line that is held
 * raised, so every client that binds it gets an interrupt at once.
 * Prints "ready" once listening; serves until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vus.h"

#define DSN 0x0123456789abcdefull

static vus_ctx *ctx;
static uint8_t regs[4096];
static uint8_t ports[256];

static int regs_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	memcpy(buf, (uint8_t *)opaque + off, len);
	return 0;
}

/* BAR0's DMA engine: an IOVA written at DMA_REG copies 16 bytes there to
 * the next 16 (read, then write, client memory). */
#define DMA_REG 0x40u
#define DMA_LEN 16u

static int dma_copy(vus_ctx *ctx, const uint8_t *reg)
{
	uint8_t b[DMA_LEN];
	uint64_t iova;
	int ret;

	memcpy(&iova, reg, sizeof(iova));
	ret = vus_dma_read(ctx, iova, b, sizeof(b));
	return ret < 0 ? ret : vus_dma_write(ctx, iova + DMA_LEN, b, sizeof(b));
}

/* BAR0's doorbell: a vector number written at MSIX_REG raises it (MSI-X;
 * a masked vector is left pending, as on hardware). */
#define MSIX_REG 0x48u

static int regs_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		      size_t len)
{
	uint32_t v;

	memcpy((uint8_t *)opaque + off, buf, len);
	if (opaque == regs && off == DMA_REG && len == 8)
		return dma_copy(ctx, regs + DMA_REG);
	if (opaque == regs && off == MSIX_REG && len == 4) {
		memcpy(&v, buf, 4);
		return vus_pci_msix(ctx, v) < 0 ? -EINVAL : 0;
	}
	return 0;
}

static const struct vus_region_ops ops = { sizeof(ops), regs_read, regs_write };

static void on_signal(int sig)
{
	vus_ctx_stop(ctx);
}

static int check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "test_vus_ctl_server: %s: %s\n", what,
			strerror(-ret));
		exit(1);
	}
	return ret;
}

static void setup_bars(void)
{
	static const struct vus_mmap_area areas[] = {
		{ .offset = 0x0, .size = 0x4000 },
		{ .offset = 0x8000, .size = 0x4000 },
	};
	struct vus_region_desc r = {
		.struct_size = sizeof(r), .size = sizeof(regs),
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops,
		.opaque = regs,
	};

	check(vus_pci_setup_bar(ctx, 0, 0, &r), "BAR0");
	r.size = sizeof(ports);
	r.opaque = ports;
	check(vus_pci_setup_bar(ctx, 2, VUS_PCI_BAR_IO, &r), "BAR2");
	/* Memory only: the gap between the areas is served from it too. */
	r = (struct vus_region_desc){
		.struct_size = sizeof(r), .size = 0x10000,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM, .mmap_areas = areas,
		.nr_mmap_areas = 2,
	};
	check(vus_pci_setup_bar(ctx, 4, VUS_PCI_BAR_MEM64 | VUS_PCI_BAR_PREFETCH,
				&r), "BAR4");
}

static void setup_pci(void)
{
	struct vus_pci_info info = {
		.struct_size = sizeof(info), .vendor_id = 0x1af4,
		.device_id = 0x1000, .subsys_vendor_id = 0x1af4,
		.subsys_id = 0x0001, .revision = 1, .class_code = 0x020000,
		.interrupt_pin = 1, .express = true,
	};
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 4, .addr64 = true };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 8, .table_bar = 0,
		.table_offset = 0x800, .pba_bar = 0, .pba_offset = 0xc00 };
	struct vus_pci_exp_desc exp = { .struct_size = sizeof(exp),
		.type = VUS_PCI_EXP_ENDPOINT };
	static uint8_t rom[2048] = { 0x55, 0xaa };

	check(vus_pci_init(ctx, &info), "vus_pci_init");
	setup_bars();
	check(vus_pci_setup_rom(ctx, rom, sizeof(rom)), "ROM");
	check(vus_pci_add_cap_pm(ctx), "PM");
	check(vus_pci_add_cap_msi(ctx, &msi), "MSI");
	check(vus_pci_add_cap_msix(ctx, &msix), "MSI-X");
	check(vus_pci_add_cap_exp(ctx, &exp), "Express");
	check(vus_pci_add_cap_vendor(ctx, "vus", 4), "vendor cap");
	check(vus_pci_add_ext_cap_dsn(ctx, DSN), "DSN");
}

static void setup_sysbus(void)
{
	struct vus_region_desc r = {
		.struct_size = sizeof(r), .size = sizeof(regs),
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops,
		.opaque = regs,
	};

	check(vus_region_setup(ctx, 0, &r), "region 0");
	check(vus_irq_setup(ctx, 0, 1, VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED),
	      "irq 0");
}

int main(int argc, char **argv)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg) };
	bool pci = argc == 3 && strcmp(argv[1], "pci") == 0;
	int ret;

	if (argc != 3 || (!pci && strcmp(argv[1], "sysbus") != 0)) {
		fprintf(stderr, "usage: %s pci|sysbus SOCKET_PATH\n", argv[0]);
		return 2;
	}
	cfg.bus = pci ? VUS_BUS_PCI : VUS_BUS_SYSBUS;
	cfg.name = "vus-ctl-test";
	check(vus_ctx_create(&cfg, &ctx), "vus_ctx_create");
	if (pci)
		setup_pci();
	else
		setup_sysbus();
	check(vus_ctx_realize(ctx), "realize");
	if (!pci)
		check(vus_irq_set_level(ctx, 0, 0, true), "level");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	check(vus_ctx_listen(ctx, argv[2]), "listen");
	printf("ready\n");
	fflush(stdout);
	ret = vus_ctx_run(ctx);
	vus_ctx_destroy(ctx);
	return ret < 0 ? 1 : 0;
}
