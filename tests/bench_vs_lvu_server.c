/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The comparator for bench_vs: the same device as `bench_vs serve`, written
 * against libvfio-user's public API (vfu_*), for measuring libvfio-user
 * side by side with libvus. Not built by meson: tests/bench_vs.sh compiles
 * it when LIBVFIO_USER names a libvfio-user build (its include/ and a
 * directory with libvfio-user.so).
 *
 * A PCI device (libvfio-user serves only PCI) whose BAR0 is 4 KiB of
 * registers answered by a callback, with DMA grants accepted (no
 * register/unregister callbacks: the library maps each grant itself). The
 * context is blocking, libvfio-user's simplest loop: vfu_attach_ctx()
 * accepts and negotiates, vfu_run_ctx() serves until the client goes.
 *
 *   bench_vs_lvu_server PATH
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libvfio-user.h"

static uint32_t regs[1024];

static ssize_t bar0(vfu_ctx_t *ctx, char *buf, size_t count, loff_t off,
		    bool is_write)
{
	(void)ctx;
	if (off < 0 || (size_t)off + count > sizeof(regs))
		return -1;
	if (is_write)
		memcpy((char *)regs + off, buf, count);
	else
		memcpy(buf, (char *)regs + off, count);
	return (ssize_t)count;
}

int main(int argc, char **argv)
{
	vfu_ctx_t *ctx;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH\n", argv[0]);
		return 2;
	}
	ctx = vfu_create_ctx(VFU_TRANS_SOCK, argv[1], 0, NULL,
			     VFU_DEV_TYPE_PCI);
	if (ctx == NULL ||
	    vfu_pci_init(ctx, VFU_PCI_TYPE_CONVENTIONAL,
			 PCI_HEADER_TYPE_NORMAL, 0) < 0 ||
	    vfu_setup_region(ctx, VFU_PCI_DEV_BAR0_REGION_IDX, sizeof(regs),
			     bar0, VFU_REGION_FLAG_RW, NULL, 0, -1, 0) < 0 ||
	    vfu_setup_device_dma(ctx, NULL, NULL) < 0 ||
	    vfu_realize_ctx(ctx) < 0 || vfu_attach_ctx(ctx) < 0) {
		perror("libvfio-user set-up");
		return 1;
	}
	do {
		ret = vfu_run_ctx(ctx);
	} while (ret >= 0);
	if (errno != ENOTCONN)
		perror("vfu_run_ctx");
	vfu_destroy_ctx(ctx);
	unlink(argv[1]);
	return 0;
}
