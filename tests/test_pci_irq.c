/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pci_irq: INTx, MSI and MSI-X as the client sees them, through
 * eventfds bound to interrupt indexes 0-2: INTx Disable and Status.Interrupt,
 * automasking, MSI enable/count/per-vector masks with pending bits, MSI-X
 * function and vector masks with the PBA, the rule that our table's vector
 * masks only apply once a client wrote the table, the BAR access split
 * around table and PBA, and reset.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vtest.h"

#include "ctx_internal.h"
#include "irq_table.h"
#include "pci_priv.h"
#include "test_pci_util.h"

static void unmask_intx(vus_ctx *ctx)
{
	assert_int_equal(irq_mask(ctx_irqs(ctx), 0, 0, 1, NULL, false), 0);
}

static bool status_intx(vus_ctx *ctx)
{
	return tp_rd(ctx, 0x06, 2) & 0x8;
}

static void intx_level_status_and_automask(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	vus_ctx *ctx = tp_new(&info);
	int fd;

	assert_int_equal(vus_ctx_realize(ctx), 0);
	fd = tp_bind(ctx, 0, 0);
	assert_false(status_intx(ctx));
	assert_int_equal(vus_pci_intx(ctx, true), 1);
	assert_int_equal(tp_events(fd), 1);
	assert_true(status_intx(ctx));
	/* Still raised: no new edge. */
	assert_int_equal(vus_pci_intx(ctx, true), 0);
	assert_int_equal(tp_events(fd), 0);
	/* The client's unmask (EOI) re-fires a line that is still high. */
	unmask_intx(ctx);
	assert_int_equal(tp_events(fd), 1);
	assert_int_equal(vus_pci_intx(ctx, false), 0);
	assert_false(status_intx(ctx));
	/* Automasked after firing: the next raise waits for the unmask. */
	assert_int_equal(vus_pci_intx(ctx, true), 0);
	assert_int_equal(tp_events(fd), 0);
	unmask_intx(ctx);
	assert_int_equal(tp_events(fd), 1);
	assert_int_equal(vus_pci_intx(ctx, false), 0);
	unmask_intx(ctx);
	assert_int_equal(tp_events(fd), 0);
	close(fd);
	vus_ctx_destroy(ctx);
}

static void intx_disable_gates_the_line(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	vus_ctx *ctx = tp_new(&info);
	int fd;

	assert_int_equal(vus_ctx_realize(ctx), 0);
	fd = tp_bind(ctx, 0, 0);
	tp_wr(ctx, 0x04, 0x0400, 2);
	/* Disabled: Status.Interrupt shows the line, the client hears nothing. */
	assert_int_equal(vus_pci_intx(ctx, true), 0);
	assert_true(status_intx(ctx));
	assert_int_equal(tp_events(fd), 0);
	assert_false(irq_is_pending(ctx_irqs(ctx), 0, 0));
	/* Clearing INTx Disable delivers the line that is still raised. */
	tp_wr(ctx, 0x04, 0x0000, 2);
	assert_int_equal(tp_events(fd), 1);
	/* Setting it again lowers the output; a later clear re-raises. */
	unmask_intx(ctx);
	assert_int_equal(tp_events(fd), 1);
	tp_wr(ctx, 0x05, 0x04, 1);
	unmask_intx(ctx);
	assert_int_equal(tp_events(fd), 0);
	assert_true(status_intx(ctx));
	tp_wr(ctx, 0x05, 0x00, 1);
	assert_int_equal(tp_events(fd), 1);
	/* Status.Interrupt is read-only for the client. */
	assert_int_equal(vus_pci_intx(ctx, false), 0);
	tp_wr(ctx, 0x06, 0x0008, 2);
	assert_false(status_intx(ctx));
	close(fd);
	vus_ctx_destroy(ctx);
}

static void intx_raised_before_realize(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	vus_ctx *ctx = tp_new(&info);
	int fd;

	/* No index yet: the level is kept and reaches the table at realize. */
	assert_int_equal(vus_pci_intx(ctx, true), -EINVAL);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_true(status_intx(ctx));
	fd = tp_bind(ctx, 0, 0);
	assert_int_equal(tp_events(fd), 1);
	close(fd);
	vus_ctx_destroy(ctx);
}

static void irq_indexes_declared(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 8 };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 100, .table_offset = 0,
		.pba_offset = 0x800 };
	struct tp_bar *b = calloc(1, sizeof(*b));
	const uint32_t count[5] = { 1, 8, 100, 0, 0 };
	const uint32_t flags[5] = { 0x7, 0x9, 0x1, 0x1, 0x1 };
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, b), 0);
	assert_true(vus_pci_add_cap_msi(ctx, &msi) > 0);
	assert_true(vus_pci_add_cap_msix(ctx, &msix) > 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(irq_count(ctx_irqs(ctx)), 5);
	for (uint32_t i = 0; i < 5; i++) {
		uint32_t c, f;

		assert_int_equal(irq_get_info(ctx_irqs(ctx), i, &c, &f), 0);
		assert_int_equal(c, count[i]);
		assert_int_equal(f, flags[i]);
	}
	vus_ctx_destroy(ctx);
	free(b);

	/* No pin, no caps: every index present and empty. */
	info = tp_info(false, 0);
	ctx = tp_new(&info);
	assert_int_equal(vus_pci_intx(ctx, true), -EINVAL);
	assert_int_equal(vus_pci_msi(ctx, 0), -EINVAL);
	assert_int_equal(vus_pci_msix(ctx, 0), -EINVAL);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	for (uint32_t i = 0; i < 5; i++) {
		uint32_t c, f;

		assert_int_equal(irq_get_info(ctx_irqs(ctx), i, &c, &f), 0);
		assert_int_equal(c, 0);
	}
	assert_int_equal(irq_count(ctx_irqs(ctx)), 5);
	vus_ctx_destroy(ctx);
}

static void close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

static void msi_enable_and_count(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msi_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 4, .addr64 = true,
		.per_vector_mask = true };
	vus_ctx *ctx = tp_new(&info);
	int a = vus_pci_add_cap_msi(ctx, &d);
	int fd[4];

	assert_int_equal(vus_ctx_realize(ctx), 0);
	tp_wr(ctx, 0x04, 0x0004, 2); /* bus master: MSIs are writes */
	for (unsigned int v = 0; v < 4; v++)
		fd[v] = tp_bind(ctx, 1, v);
	/* Disabled: dropped, not held. */
	assert_int_equal(vus_pci_msi(ctx, 0), 0);
	assert_int_equal(tp_events(fd[0]), 0);
	assert_int_equal(vus_pci_irq_mode(ctx), VUS_PCI_IRQ_MODE_NONE);
	tp_wr(ctx, a + 2, 0x0001, 2); /* enable, one vector */
	assert_int_equal(vus_pci_irq_mode(ctx), VUS_PCI_IRQ_MODE_MSI);
	assert_int_equal(vus_pci_msi(ctx, 0), 1);
	assert_int_equal(tp_events(fd[0]), 1);
	/* Beyond the enabled count: dropped. */
	assert_int_equal(vus_pci_msi(ctx, 1), 0);
	assert_int_equal(tp_events(fd[1]), 0);
	assert_int_equal(vus_pci_msi(ctx, 4), -EINVAL);
	tp_wr(ctx, a + 2, 0x0021, 2); /* four vectors */
	assert_int_equal(vus_pci_msi(ctx, 3), 1);
	assert_int_equal(tp_events(fd[3]), 1);
	/* Without Bus Master Enable the function sends no messages. */
	tp_wr(ctx, 0x04, 0x0000, 2);
	assert_int_equal(vus_pci_msi(ctx, 3), 0);
	assert_int_equal(tp_events(fd[3]), 0);
	close_all(fd, 4);
	vus_ctx_destroy(ctx);
}

static void msi_masks_and_pending(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msi_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 4, .addr64 = true,
		.per_vector_mask = true };
	vus_ctx *ctx = tp_new(&info);
	int a = vus_pci_add_cap_msi(ctx, &d);
	int fd[4];

	assert_int_equal(vus_ctx_realize(ctx), 0);
	tp_wr(ctx, 0x04, 0x0004, 2); /* bus master: MSIs are writes */
	for (unsigned int v = 0; v < 4; v++)
		fd[v] = tp_bind(ctx, 1, v);
	tp_wr(ctx, a + 2, 0x0021, 2); /* enable, four vectors */
	/* A masked vector is held in its pending bit... */
	tp_wr(ctx, a + 0x10, 0x4, 4);
	assert_int_equal(vus_pci_msi(ctx, 2), 0);
	assert_int_equal(tp_events(fd[2]), 0);
	assert_int_equal(tp_rd(ctx, a + 0x14, 4), 0x4);
	/* ...which the client cannot clear, and fires on unmask. */
	tp_wr(ctx, a + 0x14, 0, 4);
	assert_int_equal(tp_rd(ctx, a + 0x14, 4), 0x4);
	tp_wr(ctx, a + 0x10, 0x0, 1);
	assert_int_equal(tp_events(fd[2]), 1);
	assert_int_equal(tp_rd(ctx, a + 0x14, 4), 0);
	/* Held while masked, then MSI off: stays held until enabled again. */
	tp_wr(ctx, a + 0x10, 0x1, 4);
	assert_int_equal(vus_pci_msi(ctx, 0), 0);
	tp_wr(ctx, a + 2, 0x0020, 2);
	tp_wr(ctx, a + 0x10, 0x0, 4);
	assert_int_equal(tp_events(fd[0]), 0);
	tp_wr(ctx, a + 2, 0x0021, 2);
	assert_int_equal(tp_events(fd[0]), 1);
	/* Reset clears pending and mask bits. */
	tp_wr(ctx, a + 0x10, 0x2, 4);
	assert_int_equal(vus_pci_msi(ctx, 1), 0);
	tp_reset(ctx);
	assert_int_equal(tp_rd(ctx, a + 0x10, 4), 0);
	assert_int_equal(tp_rd(ctx, a + 0x14, 4), 0);
	assert_int_equal(tp_rd(ctx, a + 2, 2), 0x0184);
	close_all(fd, 4);
	vus_ctx_destroy(ctx);
}

struct msix_dev {
	vus_ctx *ctx;
	struct tp_bar *bar;
	int cap;
	int fd[4];
};

/* 4 vectors in BAR 0: table at 0x1000, PBA at 0x1800; fds bound. */
static void msix_dev_new(struct msix_dev *m)
{
	struct vus_pci_info info = tp_info(false, 1);
	struct vus_pci_msix_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 4, .table_bar = 0,
		.table_offset = 0x1000, .pba_bar = 0,
		.pba_offset = 0x1800 };

	m->bar = calloc(1, sizeof(*m->bar));
	m->ctx = tp_new(&info);
	assert_int_equal(tp_setup_bar(m->ctx, 0, 0, 0x2000, m->bar), 0);
	m->cap = vus_pci_add_cap_msix(m->ctx, &d);
	assert_true(m->cap > 0);
	assert_int_equal(vus_ctx_realize(m->ctx), 0);
	tp_wr(m->ctx, 0x04, 0x0006, 2); /* memory + bus master */
	for (unsigned int v = 0; v < 4; v++)
		m->fd[v] = tp_bind(m->ctx, 2, v);
}

static void msix_dev_free(struct msix_dev *m)
{
	close_all(m->fd, 4);
	vus_ctx_destroy(m->ctx);
	free(m->bar);
}

static uint64_t pba(struct msix_dev *m)
{
	uint64_t v = 0;

	assert_int_equal(tp_access(m->ctx, 0, 0x1800, &v, 8, false), 0);
	return v;
}

static void table_write32(struct msix_dev *m, uint32_t vec, uint32_t reg,
			  uint32_t val)
{
	assert_int_equal(tp_access(m->ctx, 0, 0x1000 + vec * 16 + reg, &val,
				   4, true), 0);
}

static uint32_t table_read32(struct msix_dev *m, uint32_t vec, uint32_t reg)
{
	uint32_t val = 0;

	assert_int_equal(tp_access(m->ctx, 0, 0x1000 + vec * 16 + reg, &val,
				   4, false), 0);
	return val;
}

static void msix_function_mask(void **state)
{
	struct msix_dev m;
	uint64_t zero = 0;

	msix_dev_new(&m);
	assert_int_equal(vus_pci_msix(m.ctx, 0), 0);
	assert_int_equal(tp_events(m.fd[0]), 0);
	assert_int_equal(pba(&m), 0);
	assert_int_equal(vus_pci_irq_mode(m.ctx), VUS_PCI_IRQ_MODE_INTX);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	assert_int_equal(vus_pci_irq_mode(m.ctx), VUS_PCI_IRQ_MODE_MSIX);
	/* Our table says "masked" (reset value) but nobody wrote it. */
	assert_int_equal(table_read32(&m, 0, 12), 1);
	assert_int_equal(vus_pci_msix(m.ctx, 0), 1);
	assert_int_equal(tp_events(m.fd[0]), 1);
	/* Function Mask holds every vector in the PBA. */
	tp_wr(m.ctx, m.cap + 3, 0xc0, 1);
	assert_int_equal(vus_pci_msix(m.ctx, 1), 0);
	assert_int_equal(vus_pci_msix(m.ctx, 3), 0);
	assert_int_equal(tp_events(m.fd[1]), 0);
	assert_int_equal(pba(&m), 0xa);
	/* PBA writes are dropped. */
	assert_int_equal(tp_access(m.ctx, 0, 0x1800, &zero, 8, true), 0);
	assert_int_equal(pba(&m), 0xa);
	tp_wr(m.ctx, m.cap + 3, 0x80, 1);
	assert_int_equal(tp_events(m.fd[1]), 1);
	assert_int_equal(tp_events(m.fd[3]), 1);
	assert_int_equal(pba(&m), 0);
	assert_int_equal(vus_pci_msix(m.ctx, 4), -EINVAL);
	msix_dev_free(&m);
}

static void msix_table_masks_apply_after_table_write(void **state)
{
	struct msix_dev m;

	msix_dev_new(&m);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	/* A client that uses our table: unmask vector 0 only. */
	table_write32(&m, 0, 0, 0xfee00000);
	table_write32(&m, 0, 8, 0x4021);
	table_write32(&m, 0, 12, 0);
	assert_int_equal(table_read32(&m, 0, 0), 0xfee00000);
	assert_int_equal(table_read32(&m, 0, 8), 0x4021);
	assert_int_equal(vus_pci_msix(m.ctx, 0), 1);
	assert_int_equal(tp_events(m.fd[0]), 1);
	/* Vector 1 is still masked in our table now: held in the PBA. */
	assert_int_equal(vus_pci_msix(m.ctx, 1), 0);
	assert_int_equal(tp_events(m.fd[1]), 0);
	assert_int_equal(pba(&m), 0x2);
	/* Reserved vector control bits read 0; unmasking fires. */
	table_write32(&m, 1, 12, 0xfffffffe);
	assert_int_equal(table_read32(&m, 1, 12), 0);
	assert_int_equal(tp_events(m.fd[1]), 1);
	assert_int_equal(pba(&m), 0);
	/* Reset: all masked again, and back to "table not in use". */
	assert_int_equal(vus_pci_msix(m.ctx, 2), 0);
	assert_int_equal(pba(&m), 0x4);
	tp_reset(m.ctx);
	assert_int_equal(pba(&m), 0);
	assert_int_equal(table_read32(&m, 0, 0), 0);
	assert_int_equal(table_read32(&m, 0, 12), 1);
	assert_int_equal(tp_rd(m.ctx, m.cap + 2, 2), 3);
	assert_int_equal(vus_pci_msix(m.ctx, 2), 0); /* disabled by reset */
	tp_wr(m.ctx, 0x04, 0x0006, 2);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	assert_int_equal(vus_pci_msix(m.ctx, 2), 1);
	assert_int_equal(tp_events(m.fd[2]), 1);
	msix_dev_free(&m);
}

static void msix_pba_shows_unbound_pending(void **state)
{
	struct msix_dev m;
	int fds[1];

	msix_dev_new(&m);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	/* Unbind vector 2: a raise is pending in the irq table. */
	assert_int_equal(irq_bind(ctx_irqs(m.ctx), 2, 2, 1, NULL), 0);
	assert_int_equal(vus_pci_msix(m.ctx, 2), 0);
	assert_int_equal(pba(&m), 0x4);
	/* Binding delivers it and the PBA clears. */
	fds[0] = dup(m.fd[2]);
	assert_int_equal(irq_bind(ctx_irqs(m.ctx), 2, 2, 1, fds), 0);
	assert_int_equal(tp_events(m.fd[2]), 1);
	assert_int_equal(pba(&m), 0);
	msix_dev_free(&m);
}

static void msix_bar_split_around_table(void **state)
{
	struct msix_dev m;
	uint8_t buf[32];

	msix_dev_new(&m);
	memset(m.bar->mem, 0x77, TP_BAR_MEM);
	/* Device registers reach the device as sent. */
	assert_int_equal(tp_access(m.ctx, 0, 0x10, buf, 8, false), 0);
	assert_int_equal(m.bar->nr, 1);
	assert_int_equal(m.bar->log[0].off, 0x10);
	assert_int_equal(m.bar->log[0].len, 8);
	/* Table and PBA never do. */
	m.bar->nr = 0;
	table_write32(&m, 3, 4, 0x12345678);
	(void)table_read32(&m, 3, 4);
	(void)pba(&m);
	assert_int_equal(m.bar->nr, 0);
	assert_int_equal(m.bar->mem[0x1034], 0x77);
	/* An access straddling the table's start is cut there. */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(tp_access(m.ctx, 0, 0xff8, buf, 16, true), 0);
	assert_int_equal(m.bar->nr, 1);
	assert_int_equal(m.bar->log[0].off, 0xff8);
	assert_int_equal(m.bar->log[0].len, 8);
	assert_int_equal(table_read32(&m, 0, 0), 0xaaaaaaaa);
	/* ...and at its end. */
	assert_int_equal(tp_access(m.ctx, 0, 0x1038, buf, 16, false), 0);
	assert_int_equal(m.bar->nr, 2);
	assert_int_equal(m.bar->log[1].off, 0x1040);
	assert_int_equal(m.bar->log[1].len, 8);
	assert_int_equal(buf[8], 0x77);
	/* Odd sizes inside the table are fine too. */
	assert_int_equal(tp_access(m.ctx, 0, 0x1001, buf, 3, false), 0);
	assert_int_equal(buf[0], 0xaa);
	/* A byte written to the table marks it used. */
	buf[0] = 0;
	assert_int_equal(tp_access(m.ctx, 0, 0x100c, buf, 1, true), 0);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	assert_int_equal(vus_pci_msix(m.ctx, 1), 0);
	assert_int_equal(vus_pci_msix(m.ctx, 0), 1);
	assert_int_equal(tp_events(m.fd[0]), 1);
	msix_dev_free(&m);
}

/* A doorbell over the MSI-X table would swallow the guest's table writes. */
static void doorbell_over_msix_table_is_refused(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msix_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 4, .table_bar = 0,
		.table_offset = 0x1000, .pba_bar = 0,
		.pba_offset = 0x1800 };
	struct tp_bar *b = calloc(1, sizeof(*b));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct vus_ioeventfd on_table = { .struct_size = sizeof(on_table),
		.offset = 0x1010, .size = 4, .fd = efd };
	struct vus_ioeventfd beside = { .struct_size = sizeof(beside),
		.offset = 0x0100, .size = 4, .fd = efd };
	vus_ctx *ctx = tp_new(&info);

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x2000, b), 0);
	assert_true(vus_pci_add_cap_msix(ctx, &d) > 0);
	assert_int_equal(vus_region_add_ioeventfd(ctx, 0, &beside), 0);
	assert_int_equal(vus_region_add_ioeventfd(ctx, 0, &on_table), 0);
	assert_int_equal(vus_ctx_realize(ctx), -EINVAL);
	vus_ctx_destroy(ctx);

	/* Only the one beside the table: fine. */
	ctx = tp_new(&info);
	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x2000, b), 0);
	assert_true(vus_pci_add_cap_msix(ctx, &d) > 0);
	assert_int_equal(vus_region_add_ioeventfd(ctx, 0, &beside), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	vus_ctx_destroy(ctx);
	close(efd);
	free(b);
}

static void irq_mode_follows_config(void **state)
{
	struct vus_pci_info info = tp_info(false, 0);
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
		.nr_vectors = 2 };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 2, .pba_offset = 0x800 };
	struct tp_bar *b = calloc(1, sizeof(*b));
	vus_ctx *ctx = tp_new(&info);
	int a, x;

	assert_int_equal(tp_setup_bar(ctx, 0, 0, 0x1000, b), 0);
	a = vus_pci_add_cap_msi(ctx, &msi);
	x = vus_pci_add_cap_msix(ctx, &msix);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	assert_int_equal(vus_pci_irq_mode(ctx), VUS_PCI_IRQ_MODE_NONE);
	tp_wr(ctx, a + 2, 1, 2);
	assert_int_equal(vus_pci_irq_mode(ctx), VUS_PCI_IRQ_MODE_MSI);
	tp_wr(ctx, x + 2, 0x8000, 2);
	assert_int_equal(vus_pci_irq_mode(ctx), VUS_PCI_IRQ_MODE_MSIX);
	tp_reset(ctx);
	assert_int_equal(vus_pci_irq_mode(ctx), VUS_PCI_IRQ_MODE_NONE);
	assert_int_equal(vus_pci_irq_mode(NULL), VUS_PCI_IRQ_MODE_NONE);
	vus_ctx_destroy(ctx);
	free(b);
}

struct raiser {
	vus_ctx *ctx;
	uint32_t vector;
	unsigned int signalled;
};

/*
 * vus_pci_irq_raise/lower: one call for every mode. INTx is the OR of the
 * raised sources; MSI folds sources onto the enabled vectors; MSI-X sends
 * each source on its own vector; the pin is silent while messages are on.
 */
static void irq_raise_follows_the_mode(void **state)
{
	struct msix_dev m;
	int intx;

	msix_dev_new(&m);
	intx = tp_bind(m.ctx, 0, 0);
	/* The widest mode has 4 vectors: 3 is a source, 4 is not. */
	assert_int_equal(vus_pci_irq_raise(m.ctx, 4), -EINVAL);
	assert_int_equal(vus_pci_irq_lower(m.ctx, 4), -EINVAL);
	assert_int_equal(vus_pci_irq_raise(m.ctx, 3), 1);
	assert_int_equal(tp_events(intx), 1);
	assert_int_equal(vus_pci_irq_raise(m.ctx, 1), 0); /* already up */
	assert_int_equal(vus_pci_irq_lower(m.ctx, 3), 0);
	assert_true(status_intx(m.ctx));                  /* 1 still up */
	assert_int_equal(vus_pci_irq_lower(m.ctx, 1), 0);
	assert_false(status_intx(m.ctx));
	/* MSI-X: each source on its vector; the pin stays quiet. */
	unmask_intx(m.ctx);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	assert_int_equal(vus_pci_irq_raise(m.ctx, 2), 1);
	assert_int_equal(tp_events(m.fd[2]), 1);
	assert_int_equal(tp_events(intx), 0);
	assert_false(status_intx(m.ctx));
	/* An edge per raise, even while the source is up. */
	assert_int_equal(vus_pci_irq_raise(m.ctx, 2), 1);
	assert_int_equal(tp_events(m.fd[2]), 1);
	/* MSI-X off again: the source still up asserts the pin. */
	tp_wr(m.ctx, m.cap + 2, 0x0000, 2);
	assert_true(status_intx(m.ctx));
	assert_int_equal(tp_events(intx), 1);
	assert_int_equal(vus_pci_irq_lower(m.ctx, 2), 0);
	assert_false(status_intx(m.ctx));
	close(intx);
	msix_dev_free(&m);
}

static void irq_raise_folds_onto_enabled_msi(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	struct vus_pci_msi_desc d = { .struct_size = sizeof(d),
		.nr_vectors = 4, .addr64 = true };
	vus_ctx *ctx = tp_new(&info);
	int a = vus_pci_add_cap_msi(ctx, &d);
	int fd[4];

	assert_int_equal(vus_ctx_realize(ctx), 0);
	tp_wr(ctx, 0x04, 0x0004, 2);
	for (unsigned int v = 0; v < 4; v++)
		fd[v] = tp_bind(ctx, 1, v);
	tp_wr(ctx, a + 2, 0x0001, 2); /* one vector: every source on it */
	assert_int_equal(vus_pci_irq_raise(ctx, 3), 1);
	assert_int_equal(tp_events(fd[0]), 1);
	assert_int_equal(tp_events(fd[3]), 0);
	tp_wr(ctx, a + 2, 0x0011, 2); /* two vectors: 3 lands on 1 */
	assert_int_equal(vus_pci_irq_raise(ctx, 3), 1);
	assert_int_equal(tp_events(fd[1]), 1);
	tp_wr(ctx, a + 2, 0x0021, 2); /* four: each on its own */
	assert_int_equal(vus_pci_irq_raise(ctx, 3), 1);
	assert_int_equal(tp_events(fd[3]), 1);
	assert_int_equal(vus_pci_irq_raise(ctx, 4), -EINVAL);
	close_all(fd, 4);
	vus_ctx_destroy(ctx);
}

/* A reset leaves raised sources as they were: the device lowers them. */
static void irq_sources_survive_reset(void **state)
{
	struct vus_pci_info info = tp_info(false, 1);
	vus_ctx *ctx = tp_new(&info);
	int fd;

	assert_int_equal(vus_ctx_realize(ctx), 0);
	fd = tp_bind(ctx, 0, 0);
	assert_int_equal(vus_pci_irq_raise(ctx, 0), 1);
	assert_int_equal(vus_pci_irq_raise(ctx, 1), -EINVAL); /* INTx only */
	tp_wr(ctx, 0x04, 0x0400, 2);
	tp_reset(ctx);
	assert_true(status_intx(ctx));
	assert_int_equal(tp_rd(ctx, 0x04, 2), 0);
	assert_int_equal(vus_pci_irq_lower(ctx, 0), 0);
	assert_false(status_intx(ctx));
	close(fd);
	vus_ctx_destroy(ctx);
}

static void *raise_many(void *arg)
{
	struct raiser *r = arg;

	for (unsigned int i = 0; i < 2000; i++)
		if (vus_pci_msix(r->ctx, r->vector) == 1)
			r->signalled++;
	return NULL;
}

static void msix_from_threads(void **state)
{
	struct msix_dev m;
	struct raiser r[4];
	pthread_t t[4];

	msix_dev_new(&m);
	tp_wr(m.ctx, m.cap + 2, 0x8000, 2);
	for (unsigned int i = 0; i < 4; i++) {
		r[i] = (struct raiser){ m.ctx, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, raise_many, &r[i]),
				 0);
	}
	/* The context thread toggles the function mask meanwhile. */
	for (unsigned int i = 0; i < 200; i++)
		tp_wr(m.ctx, m.cap + 3, i % 2 ? 0x80 : 0xc0, 1);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	tp_wr(m.ctx, m.cap + 3, 0x80, 1);
	assert_int_equal(pba(&m), 0);
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t ev = tp_events(m.fd[i]);

		/* Every raise was signalled or held, then released. */
		assert_true(ev >= r[i].signalled);
		assert_true(ev >= 1);
	}
	msix_dev_free(&m);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(intx_level_status_and_automask),
		VTEST(intx_disable_gates_the_line),
		VTEST(intx_raised_before_realize),
		VTEST(irq_indexes_declared),
		VTEST(msi_enable_and_count),
		VTEST(msi_masks_and_pending),
		VTEST(msix_function_mask),
		VTEST(msix_table_masks_apply_after_table_write),
		VTEST(msix_pba_shows_unbound_pending),
		VTEST(msix_bar_split_around_table),
		VTEST(doorbell_over_msix_table_is_refused),
		VTEST(irq_mode_follows_config),
		VTEST(msix_from_threads),
		VTEST(irq_raise_follows_the_mode),
		VTEST(irq_raise_folds_onto_enabled_msi),
		VTEST(irq_sources_survive_reset),
	};

	return vtest_run("pci_irq", tests, argc, argv);
}
