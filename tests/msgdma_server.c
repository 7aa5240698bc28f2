/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * msgdma_server: a PCI device for the QEMU guest test of message DMA
 * (tests/qemu/run-msgdma.sh). Its I/O BAR 0 takes a guest-physical
 * address (low word at 0x0, high word at 0x4; writing the high word
 * starts the job) and then, on the context thread: reads 32 bytes there
 * (vus_dma_read), writes 32 bytes of a pattern (vus_dma_write), reads
 * them back and compares, and raises INTx. 0x8 reads the result (and
 * lowers INTx): 1 when the first read saw 32 x 0x5a (what the guest put
 * there) and the read-back is the pattern, 2 when the first read was
 * wrong, 3 when the read-back was, or a negative errno from a transfer.
 * With guest RAM that is not shared, QEMU sends no fd and every byte
 * travels in DMA_READ/DMA_WRITE messages.
 *
 * The job runs after the write is answered (from an eventfd), not in the
 * write callback: QEMU serves DMA requests in its main loop, under the
 * lock a vCPU holds while it waits for a reply of ours. The guest waits
 * for the interrupt without touching the device meanwhile.
 *
 *   msgdma_server SOCKET_PATH [messages]   "messages": VUS_CTX_DMA_MESSAGES
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vus.h"

#define LEN 32

struct dev {
	vus_ctx *ctx;
	uint32_t lo;
	uint64_t addr; /* of the job the eventfd starts */
	int32_t result;
	int go;        /* eventfd */
};

static vus_ctx *the_ctx;

static void on_term(int sig)
{
	(void)sig;
	vus_ctx_stop(the_ctx);
}

static uint8_t pattern(unsigned int i)
{
	return (uint8_t)(i * 7 + 1);
}

static int32_t job(struct dev *d, uint64_t addr)
{
	uint8_t in[LEN], out[LEN];
	int ret;

	ret = vus_dma_read(d->ctx, addr, in, LEN);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < LEN; i++) {
		if (in[i] != 0x5a)
			return 2;
		out[i] = pattern(i);
	}
	ret = vus_dma_write(d->ctx, addr, out, LEN);
	if (ret == 0)
		ret = vus_dma_read(d->ctx, addr, in, LEN);
	if (ret < 0)
		return ret;
	return memcmp(in, out, LEN) == 0 ? 1 : 3;
}

static int bar_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct dev *d = opaque;
	uint32_t v = off == 0x8 ? (uint32_t)d->result : 0;

	if (off == 0x8)
		(void)vus_pci_intx(ctx, false);
	memset(buf, 0, len);
	memcpy(buf, &v, len < sizeof(v) ? len : sizeof(v));
	return 0;
}

static int bar_write(vus_ctx *ctx, void *opaque, uint64_t off,
		     const void *buf, size_t len)
{
	struct dev *d = opaque;
	uint32_t v = 0;

	(void)ctx;
	memcpy(&v, buf, len < sizeof(v) ? len : sizeof(v));
	if (off == 0x0)
		d->lo = v;
	else if (off == 0x4) {
		d->addr = (uint64_t)v << 32 | d->lo;
		(void)eventfd_write(d->go, 1);
	}
	return 0;
}

static void go_cb(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	struct dev *d = opaque;
	eventfd_t n;

	(void)events;
	if (eventfd_read(fd, &n) < 0)
		return;
	d->result = job(d, d->addr);
	fprintf(stderr, "job at 0x%llx: result %d, INTx %d\n",
		(unsigned long long)d->addr, (int)d->result,
		vus_pci_intx(ctx, true));
}

static void dev_dma_map(vus_ctx *ctx, void *opaque,
			const struct vus_dma_region *r)
{
	(void)ctx;
	(void)opaque;
	fprintf(stderr, "dma_map 0x%llx size 0x%llx %s\n",
		(unsigned long long)r->addr, (unsigned long long)r->size,
		r->vaddr != NULL ? "local" : "by messages");
}

static int setup(struct dev *d)
{
	static const struct vus_device_ops dev_ops = {
		.struct_size = sizeof(dev_ops), .dma_map = dev_dma_map,
	};
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = bar_read, .write = bar_write,
	};
	const struct vus_pci_info info = {
		.struct_size = sizeof(info), .vendor_id = 0x1af4,
		.device_id = 0x10f0, .class_code = 0xff0000,
		.interrupt_pin = 1,
	};
	const struct vus_region_desc bar = {
		.struct_size = sizeof(bar), .size = 16,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops,
		.opaque = d,
	};
	int ret = vus_pci_init(d->ctx, &info);

	if (ret == 0)
		ret = vus_pci_setup_bar(d->ctx, 0, VUS_PCI_BAR_IO, &bar);
	if (ret == 0)
		ret = vus_ctx_set_device_ops(d->ctx, &dev_ops, d);
	d->go = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ret == 0)
		ret = d->go < 0 ? -errno : vus_ctx_add_fd(d->ctx, d->go, EPOLLIN,
							  go_cb, d);
	return ret;
}

int main(int argc, char **argv)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI, .name = "msgdma" };
	struct dev d = { .go = -1 };
	int ret;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && strcmp(argv[2], "messages") != 0)) {
		fprintf(stderr, "usage: msgdma_server SOCKET_PATH [messages]\n");
		return 2;
	}
	if (argc == 3)
		cfg.flags = VUS_CTX_DMA_MESSAGES;
	ret = vus_ctx_create(&cfg, &d.ctx);
	if (ret < 0)
		return 1;
	the_ctx = d.ctx;
	vus_ctx_set_log(d.ctx, VUS_LOG_INFO, NULL, NULL);
	ret = setup(&d);
	if (ret == 0)
		ret = vus_ctx_realize(d.ctx);
	if (ret == 0)
		ret = vus_ctx_listen(d.ctx, argv[1]);
	signal(SIGTERM, on_term);
	if (ret == 0)
		ret = vus_ctx_run(d.ctx); /* until SIGTERM */
	if (ret < 0)
		fprintf(stderr, "msgdma_server: %s\n", strerror(-ret));
	vus_ctx_destroy(d.ctx);
	if (d.go >= 0)
		close(d.go);
	return ret < 0 ? 1 : 0;
}
