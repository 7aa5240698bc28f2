/* SPDX-License-Identifier: BSD-3-Clause */
/* test_pci_util: helpers shared by the PCI adapter tests (see the header). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vtest.h"

#include "ctx_internal.h"
#include "irq_table.h"
#include "region_table.h"
#include "test_pci_util.h"

struct vus_pci_info tp_info(bool express, uint8_t pin)
{
	struct vus_pci_info i = {
		.struct_size = sizeof(i),
		.vendor_id = 0x1af4,
		.device_id = 0x10f0,
		.subsys_vendor_id = 0x1af4,
		.subsys_id = 0x1100,
		.revision = 0x02,
		.class_code = 0x028000,
		.interrupt_pin = pin,
		.express = express,
	};
	return i;
}

vus_ctx *tp_new(const struct vus_pci_info *info)
{
	struct vus_ctx_config cfg = {
		.struct_size = sizeof(cfg),
		.bus = VUS_BUS_PCI,
		.name = "test-pci",
	};
	vus_ctx *ctx = NULL;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(ctx, info), 0);
	return ctx;
}

int tp_access(vus_ctx *ctx, uint32_t index, uint64_t off, void *buf,
	      size_t len, bool is_write)
{
	return region_access(ctx_regions(ctx), index, off, buf, len, is_write);
}

uint32_t tp_rd(vus_ctx *ctx, uint32_t off, size_t len)
{
	uint8_t b[4] = { 0 };
	uint32_t v = 0;

	assert_true(len == 1 || len == 2 || len == 4);
	assert_int_equal(tp_access(ctx, VUS_PCI_REGION_CONFIG, off, b, len,
				   false), 0);
	for (size_t i = len; i > 0; i--)
		v = v << 8 | b[i - 1];
	return v;
}

void tp_wr(vus_ctx *ctx, uint32_t off, uint32_t val, size_t len)
{
	uint8_t b[4];

	assert_true(len == 1 || len == 2 || len == 4);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	assert_int_equal(tp_access(ctx, VUS_PCI_REGION_CONFIG, off, b, len,
				   true), 0);
}

void tp_reset(vus_ctx *ctx)
{
	assert_int_equal(ctx_reset(ctx, VUS_RESET_CLIENT), 0);
}

static void bar_log(struct tp_bar *b, uint64_t off, size_t len, bool write)
{
	if (b->nr < TP_BAR_LOG)
		b->log[b->nr++] = (struct tp_access_rec){ off, len, write };
}

static int bar_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct tp_bar *b = opaque;

	bar_log(b, off, len, false);
	memset(buf, 0, len);
	if (off < TP_BAR_MEM)
		memcpy(buf, b->mem + off, len < TP_BAR_MEM - off ?
		       len : TP_BAR_MEM - off);
	return 0;
}

static int bar_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	struct tp_bar *b = opaque;

	bar_log(b, off, len, true);
	if (off < TP_BAR_MEM)
		memcpy(b->mem + off, buf, len < TP_BAR_MEM - off ?
		       len : TP_BAR_MEM - off);
	return 0;
}

const struct vus_region_ops tp_bar_ops = {
	.struct_size = sizeof(tp_bar_ops),
	.read = bar_read,
	.write = bar_write,
};

int tp_setup_bar(vus_ctx *ctx, unsigned int bar, uint32_t flags,
		 uint64_t size, struct tp_bar *b)
{
	struct vus_region_desc d = {
		.struct_size = sizeof(d),
		.size = size,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.ops = &tp_bar_ops,
		.opaque = b,
		.access_flags = VUS_ACCESS_ANY, /* tests cut odd lengths */
	};

	return vus_pci_setup_bar(ctx, bar, flags, &d);
}

int tp_bind(vus_ctx *ctx, uint32_t index, uint32_t vector)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int fds[1];

	assert_true(fd >= 0);
	fds[0] = dup(fd);
	assert_true(fds[0] >= 0);
	/* The irq table takes fds[0]; we keep @fd to read the signals. */
	assert_int_equal(irq_bind(ctx_irqs(ctx), index, vector, 1, fds), 0);
	return fd;
}

uint64_t tp_events(int fd)
{
	eventfd_t v = 0;

	if (eventfd_read(fd, &v) < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return v;
}

unsigned int tp_walk_caps(vus_ctx *ctx, uint8_t *ids, uint16_t *offs,
			  unsigned int max)
{
	uint32_t off = tp_rd(ctx, 0x34, 1);
	unsigned int n = 0;

	/* At most 48 dword-aligned capabilities fit in 0x40..0xff. */
	while (off != 0 && n < max && n < 48) {
		assert_true(off >= 0x40 && off <= 0xfc && off % 4 == 0);
		ids[n] = (uint8_t)tp_rd(ctx, off, 1);
		offs[n++] = (uint16_t)off;
		off = tp_rd(ctx, off + 1, 1);
	}
	assert_int_equal(off, 0);
	return n;
}

unsigned int tp_walk_ext(vus_ctx *ctx, uint16_t *ids, uint16_t *offs,
			 unsigned int max)
{
	uint32_t off = 0x100;
	unsigned int n = 0;

	while (off != 0 && n < max && n < 960) {
		uint32_t hdr;

		assert_true(off >= 0x100 && off <= 0xffc && off % 4 == 0);
		hdr = tp_rd(ctx, off, 4);
		if (hdr == 0)
			break;
		ids[n] = (uint16_t)hdr;
		offs[n++] = (uint16_t)off;
		off = hdr >> 20;
	}
	return n;
}
