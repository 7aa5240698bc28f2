/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * State the library migrates for the device, end to end between two
 * servers with the client library as the VMM: the interrupt sources
 * vus_pci_irq_raise() holds up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtest.h"
#include "vus.h"
#include "vus/client.h"

struct dev {
	vus_ctx *ctx;
	pthread_t th;
	vus_client *c;
};

static void *run(void *arg)
{
	vus_ctx_run(arg);
	return NULL;
}

/* A PCI function with INTx and 4 MSI vectors (so 4 interrupt sources). */
static void dev_start(struct dev *d)
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
	int sv[2];

	memset(d, 0, sizeof(*d));
	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(d->ctx, &id), 0);
	assert_true(vus_pci_add_cap_msi(d->ctx, &msi) > 0);
	assert_int_equal(vus_mig_setup(d->ctx, &mc), 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vus_ctx_attach_fd(d->ctx, sv[0]), 0);
	assert_int_equal(pthread_create(&d->th, NULL, run, d->ctx), 0);
	assert_int_equal(vus_client_attach_fd(sv[1], VTEST_CLIENT_CFG, &d->c), 0);
}

static void dev_stop(struct dev *d)
{
	vus_client_close(d->c);
	pthread_join(d->th, NULL);
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(raised_sources_travel),
	};

	return vtest_run("mig_lib", tests, argc, argv);
}
