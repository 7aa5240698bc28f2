/* SPDX-License-Identifier: BSD-3-Clause */
/* A PCI device with one BAR of 4 KiB scratch registers; writing the
 * register at 0x0 raises an MSI. Serve it: ./example /tmp/example.sock */
#include <string.h>
#include <vus.h>

static uint8_t regs[4096];

static int bar_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	memcpy(buf, regs + off, len); /* libvus checked off + len <= 4096 */
	return 0;
}

static int bar_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	memcpy(regs + off, buf, len);
	if (off == 0)
		vus_pci_msi(ctx, 0); /* "done": interrupt the guest */
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = bar_read, .write = bar_write };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg), .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id), .vendor_id = 0xcafe,
				   .device_id = 0x0001, .class_code = 0xff0000 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 4096,
				       .flags = VUS_REGION_READ | VUS_REGION_WRITE,
				       .ops = &ops };
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 1, .addr64 = true };
	vus_ctx *ctx;

	if (argc != 2 || vus_ctx_create(&cfg, &ctx) < 0)
		return 1;
	if (vus_pci_init(ctx, &id) < 0 || vus_pci_setup_bar(ctx, 0, 0, &bar) < 0 ||
	    vus_pci_add_cap_msi(ctx, &msi) < 0 || vus_ctx_realize(ctx) < 0 ||
	    vus_ctx_listen(ctx, argv[1]) < 0)
		return 1;
	return vus_ctx_run(ctx) < 0; /* serves one client after another */
}
