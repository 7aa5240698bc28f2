/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SysBus adapter through the client library over a real socket: the
 * platform flag, windows and lines in order, the published description
 * read back and cross-checked by the client, level and edge lines, misuse
 * of the adapter, and hostile descriptions the client must refuse.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"
#include "vus.h"
#include "vus/client.h"

struct srv {
	vus_ctx *ctx;
	pthread_t th;
	vus_client *c;
	const char *fake; /* raw bytes for a hand-made description region */
	size_t fake_len;
	uint8_t regs[256];
};

static int regs_rw(void *opaque, uint64_t off, void *buf, size_t len, bool w)
{
	struct srv *s = opaque;

	if (w)
		memcpy(s->regs + off, buf, len);
	else
		memcpy(buf, s->regs + off, len);
	return 0;
}

static int regs_read(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	return regs_rw(o, off, buf, len, false);
}

static int regs_write(vus_ctx *ctx, void *o, uint64_t off, const void *buf,
		      size_t len)
{
	return regs_rw(o, off, (void *)buf, len, true);
}

static const struct vus_region_ops regs_ops = {
	.struct_size = sizeof(regs_ops), .read = regs_read, .write = regs_write,
};

static vus_ctx *new_ctx(enum vus_bus bus)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg), .bus = bus };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	return ctx;
}

/* Realize s->ctx, serve it on a thread, connect the client. */
static void serve(struct srv *s)
{
	assert_int_equal(vus_ctx_realize(s->ctx), 0);
	s->c = tc_serve(s->ctx, &s->th);
}

static void stop(struct srv *s)
{
	tc_serve_end(s->c, s->th);
	vus_ctx_destroy(s->ctx);
}

/* A UART-like device: two windows, a level line and an edge line. */
static void uart_like(struct srv *s)
{
	static const char *const compat[] = { "acme,uart-x", "ns16550a", NULL };
	const struct vus_sysbus_info info = { .struct_size = sizeof(info),
					      .compatible = compat, .name = "uart0" };
	struct vus_region_desc regs = { .struct_size = sizeof(regs), .size = 256,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &regs_ops,
		.opaque = s };
	struct vus_region_desc fifo = { .struct_size = sizeof(fifo), .size = 8192,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM };

	s->ctx = new_ctx(VUS_BUS_SYSBUS);
	assert_int_equal(vus_sysbus_init(s->ctx, &info), 0);
	assert_int_equal(vus_sysbus_add_mmio(s->ctx, &regs, 0x10000000), 0);
	assert_int_equal(vus_sysbus_add_mmio(s->ctx, &fifo, VUS_SYSBUS_NO_BASE), 1);
	assert_int_equal(vus_sysbus_add_irq(s->ctx, VUS_SYSBUS_LEVEL_HIGH), 0);
	assert_int_equal(vus_sysbus_add_irq(s->ctx, VUS_SYSBUS_EDGE_RISING), 1);
	assert_int_equal(vus_sysbus_set_prop_u64(s->ctx, "clock-frequency", 1), 0);
	assert_int_equal(vus_sysbus_set_prop_u64(s->ctx, "clock-frequency", 1843200), 0);
	assert_int_equal(vus_sysbus_set_prop_u64(s->ctx, "reg-shift", 0), 0);
	assert_int_equal(vus_sysbus_set_prop_str(s->ctx, "status", "okay"), 0);
}

static void description_round_trip(void **state)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct vus_client_sysbus_desc *d;
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	struct srv s = { 0 };
	uint64_t v;

	(void)state;
	uart_like(&s);
	serve(&s);
	assert_int_equal(vus_client_device_info(s.c, &di), 0);
	assert_int_equal(di.flags, VUS_CLIENT_DEV_PLATFORM | VUS_CLIENT_DEV_RESET);
	assert_int_equal(di.num_regions, 3); /* two windows and the description */
	assert_int_equal(di.num_irqs, 2);
	assert_int_equal(vus_client_sysbus_desc(s.c, &d), 0);
	assert_int_equal(d->region, 2);
	assert_int_equal(d->version, 1);
	assert_int_equal(d->nr_compatible, 2);
	assert_string_equal(d->compatible[0], "acme,uart-x");
	assert_string_equal(d->compatible[1], "ns16550a");
	assert_string_equal(d->name, "uart0");
	assert_int_equal(d->nr_mmio, 2);
	assert_int_equal(d->mmio[0].size, 256);
	assert_true(d->mmio[0].has_base);
	assert_int_equal(d->mmio[0].base, 0x10000000);
	assert_int_equal(d->mmio[1].size, 8192);
	assert_false(d->mmio[1].has_base);
	assert_int_equal(d->nr_irqs, 2);
	assert_int_equal(d->irqs[0].trigger, VUS_CLIENT_LEVEL_HIGH);
	assert_int_equal(d->irqs[1].trigger, VUS_CLIENT_EDGE_RISING);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "clock-frequency", &v), 0);
	assert_int_equal(v, 1843200); /* set twice: the last value */
	assert_string_equal(vus_client_sysbus_prop_str(d, "status"), "okay");
	assert_int_equal(vus_client_sysbus_prop_u64(d, "status", &v), -EINVAL);
	assert_int_equal(vus_client_sysbus_prop_u64(d, "nope", &v), -ENOENT);
	assert_non_null(strstr(d->json, "\"compatible\":[\"acme,uart-x\",\"ns16550a\"]"));
	vus_client_sysbus_desc_free(d);
	/* The description region is read-only; the windows work as regions. */
	assert_int_equal(vus_client_region_info(s.c, 2, &ri), 0);
	assert_int_equal(ri.flags, VUS_CLIENT_REGION_READ);
	assert_int_equal(vus_client_region_write(s.c, 2, 0, "x", 1), -EINVAL);
	assert_int_equal(vus_client_region_write(s.c, 0, 4, "abcd", 4), 0);
	assert_memory_equal(s.regs + 4, "abcd", 4);
	stop(&s);
}

static void level_and_edge_lines(void **state)
{
	struct srv s = { 0 };

	(void)state;
	uart_like(&s);
	serve(&s);
	assert_int_equal(vus_client_irq_enable(s.c, 0, 1), 0);
	assert_int_equal(vus_client_irq_enable(s.c, 1, 1), 0);
	/* Level: fires, is automasked, fires again on unmask while raised. */
	assert_int_equal(vus_sysbus_irq_set(s.ctx, 0, true), 1);
	assert_int_equal(vus_client_irq_wait(s.c, 0, 0, vtest_ms(2000)), 1);
	assert_int_equal(vus_client_irq_mask(s.c, 0, 0, 1, false), 0);
	assert_int_equal(vus_client_irq_wait(s.c, 0, 0, vtest_ms(2000)), 1);
	assert_int_equal(vus_sysbus_irq_set(s.ctx, 0, false), 0);
	assert_int_equal(vus_client_irq_mask(s.c, 0, 0, 1, false), 0);
	assert_int_equal(vus_client_irq_wait(s.c, 0, 0, vtest_ms(100)), -ETIMEDOUT);
	/* Edge: every pulse is an event; no unmask involved. */
	assert_int_equal(vus_sysbus_irq_pulse(s.ctx, 1), 1);
	assert_int_equal(vus_sysbus_irq_pulse(s.ctx, 1), 1);
	assert_int_equal(vus_client_irq_wait(s.c, 1, 0, vtest_ms(2000)), 2);
	/* The wrong call for a line's kind, or no such line. */
	assert_int_equal(vus_sysbus_irq_pulse(s.ctx, 0), -EINVAL);
	assert_int_equal(vus_sysbus_irq_set(s.ctx, 1, true), -EINVAL);
	assert_int_equal(vus_sysbus_irq_set(s.ctx, 2, true), -EINVAL);
	stop(&s);
}

static void adapter_misuse(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const ctl[] = { "bad\nname", NULL };
	static const char *const ok[] = { "ns16550a", NULL };
	struct vus_sysbus_info info = { .struct_size = sizeof(info) };
	struct vus_region_desc r = { .struct_size = sizeof(r), .size = 16,
		.flags = VUS_REGION_READ, .backing = VUS_BACKING_MEM };
	char longname[200];
	vus_ctx *pci = new_ctx(VUS_BUS_PCI), *sb = new_ctx(VUS_BUS_SYSBUS);

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	info.compatible = ok;
	assert_int_equal(vus_sysbus_init(pci, &info), -EINVAL);
	info.compatible = NULL;
	assert_int_equal(vus_sysbus_init(sb, &info), -EINVAL);
	info.compatible = none;
	assert_int_equal(vus_sysbus_init(sb, &info), -EINVAL);
	info.compatible = ctl;
	assert_int_equal(vus_sysbus_init(sb, &info), -EINVAL);
	info.compatible = ok;
	info.name = longname;
	assert_int_equal(vus_sysbus_init(sb, &info), -EINVAL);
	/* Nothing before init. */
	assert_int_equal(vus_sysbus_add_mmio(sb, &r, 0), -EINVAL);
	assert_int_equal(vus_sysbus_add_irq(sb, VUS_SYSBUS_LEVEL_HIGH), -EINVAL);
	info.name = NULL;
	assert_int_equal(vus_sysbus_init(sb, &info), 0);
	assert_int_equal(vus_sysbus_init(sb, &info), -EEXIST);
	/* The adapter numbers windows and lines itself. */
	assert_int_equal(vus_region_setup(sb, 0, &r), -EINVAL);
	assert_int_equal(vus_irq_setup(sb, 0, 1, 0), -EINVAL);
	assert_int_equal(vus_sysbus_add_irq(sb, (enum vus_sysbus_trigger)9), -EINVAL);
	assert_int_equal(vus_sysbus_set_prop_u64(sb, "Bad Key", 1), -EINVAL);
	assert_int_equal(vus_sysbus_set_prop_u64(sb, "", 1), -EINVAL);
	assert_int_equal(vus_sysbus_set_prop_str(sb, "model", ""), -EINVAL);
	assert_int_equal(vus_sysbus_add_mmio(sb, &r, 0), 0);
	assert_int_equal(vus_ctx_realize(sb), 0);
	assert_int_equal(vus_sysbus_add_mmio(sb, &r, 0), -EBUSY);
	assert_int_equal(vus_sysbus_set_prop_u64(sb, "reg-shift", 2), -EBUSY);
	vus_ctx_destroy(pci);
	vus_ctx_destroy(sb);
}

static void pci_devices_have_no_description(void **state)
{
	const struct vus_pci_info id = { .struct_size = sizeof(id),
					 .vendor_id = 0xcafe, .device_id = 1 };
	struct vus_client_sysbus_desc *d = NULL;
	struct srv s = { 0 };

	(void)state;
	s.ctx = new_ctx(VUS_BUS_PCI);
	assert_int_equal(vus_pci_init(s.ctx, &id), 0);
	serve(&s);
	assert_int_equal(vus_client_sysbus_desc(s.c, &d), -ENOENT);
	assert_null(d);
	stop(&s);
}

/* A server whose description region says whatever the test wants. */
static int fake_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	struct srv *s = opaque;

	memcpy(buf, s->fake + off, len);
	return 0;
}

static void fake_server(struct srv *s, const char *text, size_t len)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = fake_read };
	struct vus_region_desc w = { .struct_size = sizeof(w), .size = 256,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &regs_ops,
		.opaque = s };
	struct vus_region_desc d = { .struct_size = sizeof(d), .size = len,
		.flags = VUS_REGION_READ, .ops = &ops, .opaque = s,
		.type = VUS_SYSBUS_DESC_TYPE, .subtype = VUS_SYSBUS_DESC_SUBTYPE,
		.access_flags = VUS_ACCESS_ANY };

	memset(s, 0, sizeof(*s));
	s->fake = text;
	s->fake_len = len;
	s->ctx = new_ctx(VUS_BUS_SYSBUS); /* no adapter: regions by hand */
	assert_int_equal(vus_region_setup(s->ctx, 0, &w), 0);
	assert_int_equal(vus_region_setup(s->ctx, 1, &d), 0);
	assert_int_equal(vus_irq_setup(s->ctx, 0, 1, 0), 0);
	assert_int_equal(vus_irq_setup(s->ctx, 1, 4, 0), 0);
	serve(s);
}

#define GOOD_MMIO "\"mmio\":[{\"index\":0,\"size\":256}]"
#define GOOD_IRQS "\"irqs\":[{\"index\":0,\"trigger\":\"level-high\"}]"

static const char *const bad_docs[] = {
	"{\"version\":2,\"compatible\":[\"x\"]," GOOD_MMIO "," GOOD_IRQS "}",
	"{\"compatible\":[\"x\"]," GOOD_MMIO "," GOOD_IRQS "}",
	"{\"version\":1,\"compatible\":[]," GOOD_MMIO "," GOOD_IRQS "}",
	"{\"version\":1,\"compatible\":[7]," GOOD_MMIO "," GOOD_IRQS "}",
	"{\"version\":1,\"compatible\":[\"x\"],\"mmio\":[{\"index\":5,\"size\":256}]," GOOD_IRQS "}",
	"{\"version\":1,\"compatible\":[\"x\"],\"mmio\":[{\"index\":0,\"size\":4096}]," GOOD_IRQS "}",
	"{\"version\":1,\"compatible\":[\"x\"],\"mmio\":[{\"index\":1,\"size\":100}]," GOOD_IRQS "}",
	"{\"version\":1,\"compatible\":[\"x\"]," GOOD_MMIO ",\"irqs\":[{\"index\":0,\"trigger\":\"sideways\"}]}",
	"{\"version\":1,\"compatible\":[\"x\"]," GOOD_MMIO ",\"irqs\":[{\"index\":1,\"trigger\":\"edge-rising\"}]}",
	"{\"version\":1,\"compatible\":[\"x\"]," GOOD_MMIO ",\"irqs\":[{\"index\":9,\"trigger\":\"edge-rising\"}]}",
	"{\"version\":1,\"compatible\":[\"x\"]," GOOD_MMIO "," GOOD_IRQS ",\"properties\":{\"a\":-1}}",
	"{\"version\":1,\"compatible\":[\"x\"]," GOOD_MMIO "," GOOD_IRQS ",\"properties\":{\"a\":[1]}}",
	"{\"version\":1,\"compatible\":[\"x\"]," GOOD_MMIO "," GOOD_IRQS "} trailing",
	"[1,2,3]",
};

static void hostile_descriptions_are_refused(void **state)
{
	static const char good[] = "{\"version\":1,\"compatible\":[\"x\"],"
				   GOOD_MMIO "," GOOD_IRQS ",\"properties\":{\"p\":1}}";
	static const char nul_inside[] = "{\"version\":1}\0{}";
	struct vus_client_sysbus_desc *d;
	struct srv s;

	(void)state;
	/* The same server with a sound document is accepted. */
	fake_server(&s, good, sizeof(good));
	assert_int_equal(vus_client_sysbus_desc(s.c, &d), 0);
	vus_client_sysbus_desc_free(d);
	stop(&s);
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		fake_server(&s, bad_docs[i], strlen(bad_docs[i]) + 1);
		if (vus_client_sysbus_desc(s.c, &d) != -EPROTO)
			fail_msg("accepted: %s", bad_docs[i]);
		stop(&s);
	}
	/* No NUL at the end, or one inside. */
	fake_server(&s, good, sizeof(good) - 1);
	assert_int_equal(vus_client_sysbus_desc(s.c, &d), -EPROTO);
	stop(&s);
	fake_server(&s, nul_inside, sizeof(nul_inside));
	assert_int_equal(vus_client_sysbus_desc(s.c, &d), -EPROTO);
	stop(&s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(description_round_trip),
		VTEST(level_and_edge_lines),
		VTEST(adapter_misuse),
		VTEST(pci_devices_have_no_description),
		VTEST(hostile_descriptions_are_refused),
	};

	return vtest_run("sysbus", tests, argc, argv);
}
