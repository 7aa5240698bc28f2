/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * State the library migrates for the device, end to end between two
 * servers with the client library as the VMM: the interrupt sources
 * vus_pci_irq_raise() holds up, and the memory of BARs the library
 * allocated (unless a BAR opts out).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"
#include "vus.h"
#include "vus/client.h"

struct dev {
	vus_ctx *ctx;
	pthread_t th;
	vus_client *c;
};

/* Memory BARs: BAR0 (4 KiB unless @bar0_size; migrates unless
 * @bar0_stays), BAR2 (4 KiB, opted out unless @bar2_moves). */
struct layout {
	uint64_t bar0_size;
	bool bar0_stays;
	bool bar2_moves;
};

static void memory_bars(vus_ctx *ctx, const struct layout *l)
{
	struct vus_region_desc m = { .struct_size = sizeof(m), .size = 4096,
				     .backing = VUS_BACKING_MEM };

	if (l->bar0_size != 0)
		m.size = l->bar0_size;
	m.no_migrate = l->bar0_stays;
	assert_int_equal(vus_pci_setup_bar(ctx, 0, 0, &m), 0);
	m.size = 4096;
	m.no_migrate = !l->bar2_moves;
	assert_int_equal(vus_pci_setup_bar(ctx, 2, 0, &m), 0);
}

/*
 * A PCI function with INTx and 4 MSI vectors (so 4 interrupt sources),
 * and the memory BARs of @l.
 */
static void dev_start_with(struct dev *d, const struct layout *l)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id),
				   .vendor_id = 0xcafe, .device_id = 2,
				   .interrupt_pin = 1 };
	struct vus_pci_msi_desc msi = { .struct_size = sizeof(msi),
					.nr_vectors = 4 };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = 1 };

	memset(d, 0, sizeof(*d));
	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(d->ctx, &id), 0);
	assert_true(vus_pci_add_cap_msi(d->ctx, &msi) > 0);
	memory_bars(d->ctx, l);
	assert_int_equal(vus_mig_setup(d->ctx, &mc), 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
	d->c = tc_serve(d->ctx, &d->th);
}

static void dev_start(struct dev *d)
{
	dev_start_with(d, &(struct layout){ 0 });
}

static void dev_stop(struct dev *d)
{
	tc_serve_end(d->c, d->th);
	vus_ctx_destroy(d->ctx);
}

/* Save @a into a memfd and load it into @b; returns load's result. */
static int migrate(struct dev *a, struct dev *b)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	uint64_t size;
	int ret;

	assert_true(fd >= 0);
	assert_int_equal(vus_client_mig_save(a->c, fd, &size), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	ret = vus_client_mig_load(b->c, fd);
	close(fd);
	return ret;
}

static bool status_intx(struct dev *d)
{
	uint16_t sts = 0;

	assert_int_equal(vus_client_region_read(d->c, VUS_PCI_REGION_CONFIG,
						0x06, &sts, 2), 0);
	return sts & 0x8;
}

/*
 * Two sources up on the source: the destination's line stays up until
 * both are lowered there (the level alone would drop at the first).
 */
static void raised_sources_travel(void **state)
{
	struct dev a, b;

	dev_start(&a);
	dev_start(&b);
	assert_int_equal(vus_pci_irq_raise(a.ctx, 1), 0); /* nothing bound */
	assert_int_equal(vus_pci_irq_raise(a.ctx, 3), 0);
	assert_int_equal(migrate(&a, &b), 0);
	assert_true(status_intx(&b));
	assert_int_equal(vus_pci_irq_lower(b.ctx, 1), 0);
	assert_true(status_intx(&b));
	assert_int_equal(vus_pci_irq_lower(b.ctx, 3), 0);
	assert_false(status_intx(&b));
	dev_stop(&a);
	dev_stop(&b);
}

static void fill(struct dev *d, uint32_t bar, uint8_t seed, size_t len)
{
	uint8_t *p = vus_region_mem(d->ctx, bar);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static bool filled(struct dev *d, uint32_t bar, uint8_t seed, size_t len)
{
	const uint8_t *p = vus_region_mem(d->ctx, bar);

	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

/*
 * What the guest wrote into a memory BAR (here the device's own mapping
 * of it) is on the destination, to the last byte, as the client reads it;
 * an opted-out BAR keeps the destination's contents.
 */
static void memory_bars_travel_unless_opted_out(void **state)
{
	struct dev a, b;
	uint8_t last = 0;

	dev_start(&a);
	dev_start(&b);
	fill(&a, 0, 1, 4096);
	fill(&a, 2, 2, 4096);
	fill(&b, 2, 3, 4096);
	assert_int_equal(migrate(&a, &b), 0);
	assert_true(filled(&b, 0, 1, 4096));
	assert_true(filled(&b, 2, 3, 4096));
	assert_int_equal(vus_client_region_read(b.c, 0, 4095, &last, 1), 0);
	assert_int_equal(last, (uint8_t)(1 + 4095 * 7));
	dev_stop(&a);
	dev_stop(&b);
}

/* A destination whose BAR is larger, or not migrated, or with one more
 * migrated BAR refuses the stream, and its memory is untouched. */
static void other_memory_layouts_refuse(void **state)
{
	const struct layout other[] = {
		{ .bar0_size = 8192 },
		{ .bar0_stays = true },
		{ .bar2_moves = true },
	};

	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct dev a, b;

		dev_start(&a);
		dev_start_with(&b, &other[i]);
		fill(&a, 0, 1, 4096);
		fill(&b, 0, 9, 4096);
		assert_true(migrate(&a, &b) < 0);
		assert_true(filled(&b, 0, 9, 4096));
		dev_stop(&a);
		dev_stop(&b);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(raised_sources_travel),
		VTEST(memory_bars_travel_unless_opted_out),
		VTEST(other_memory_layouts_refuse),
	};

	return vtest_run("mig_lib", tests, argc, argv);
}
