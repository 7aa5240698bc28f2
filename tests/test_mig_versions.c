/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Section versions at the edge: a device registered at version N loads a
 * stream whose section is at N, refuses one at N + 1 with EPROTONOSUPPORT
 * (doc/migration.md) and stays exactly as it was, and gets one at N - 1
 * with the version passed to check() and load(), so the section decides
 * whether it still reads that layout. Versions below 1 and names past 63
 * characters do not register; a section's reader ends at its last byte.
 *
 * Two contexts with the same device and a "counter" section whose layout
 * grows by one word per version; the migration module is driven directly
 * (no client: the wire is covered by test_migration.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mig.h"
#include "vtest.h"
#include "vus.h"

struct vdev {
	vus_ctx *ctx;
	uint64_t counter;
	uint32_t version;         /* registered, and what save() writes */
	uint32_t oldest;          /* the oldest layout check() reads */
	uint32_t checked, loaded; /* versions seen; 0: not called */
};

/* Version v: the counter, then v - 1 words holding v. */
static int v_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct vdev *d = o;
	int ret = vus_mig_put_u64(out, d->counter);

	for (uint32_t i = 1; ret == 0 && i < d->version; i++)
		ret = vus_mig_put_u64(out, d->version);
	return ret;
}

static int v_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	struct vdev *d = o;

	size_t n = vus_mig_remaining(in);
	uint8_t buf[64];

	d->checked = v;
	if (v < d->oldest)
		return vus_mig_refuse(in, -EPROTONOSUPPORT, "layout %u, the "
				      "oldest read here is %u", v, d->oldest);
	if (n != 8ull * v || n >= sizeof(buf))
		return -EBADMSG;
	/* The reader ends at the section's last byte: one more is refused
	 * and takes nothing, exactly all of it is served. */
	if (vus_mig_get(in, buf, n + 1) != -EBADMSG ||
	    vus_mig_get(in, buf, n) != 0 || vus_mig_remaining(in) != 0)
		return -EIO;
	return 0;
}

static int v_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	struct vdev *d = o;

	d->loaded = v;
	return vus_mig_get_u64(in, &d->counter);
}

static const struct vus_mig_section_ops v_ops = {
	.struct_size = sizeof(v_ops), .save = v_save, .check = v_check,
	.load = v_load,
};

/* A PCI device with "counter" at @version, reading back to @oldest. */
static void vdev_init(struct vdev *d, uint32_t version, uint32_t oldest)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id),
				   .vendor_id = 0xcafe, .device_id = 1 };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = 1 };

	memset(d, 0, sizeof(*d));
	d->version = version;
	d->oldest = oldest;
	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(d->ctx, &id), 0);
	assert_int_equal(vus_mig_setup(d->ctx, &mc), 0);
	assert_int_equal(vus_mig_add_section(d->ctx, "counter", version, &v_ops,
					     d), 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
}

/* Save @d's whole state into a malloc'd buffer. */
static uint8_t *save(struct vdev *d, size_t *len)
{
	struct migration *m = mig_of(d->ctx);
	size_t cap = 1 << 16, got;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	*len = 0;
	assert_int_equal(mig_set_state(m, VUS_MIG_STOP_COPY), 0);
	do {
		assert_int_equal(mig_data_read(m, buf + *len, cap - *len, &got), 0);
		*len += got;
	} while (got > 0);
	assert_int_equal(mig_set_state(m, VUS_MIG_RUNNING), 0);
	return buf;
}

/* Write @p into @d and resume: the result of the load. */
static int load(struct vdev *d, const uint8_t *p, size_t len)
{
	struct migration *m = mig_of(d->ctx);

	assert_int_equal(mig_set_state(m, VUS_MIG_RESUMING), 0);
	assert_int_equal(mig_data_write(m, p, len), 0);
	return mig_set_state(m, VUS_MIG_STOP);
}

/* A stream of "counter" at @from, loaded into a device at @to (reading
 * back to @oldest): the load's result, with both devices at hand. */
static int migrate(struct vdev *a, struct vdev *b, uint32_t from, uint32_t to,
		   uint32_t oldest)
{
	size_t len;
	uint8_t *s;
	int ret;

	vdev_init(a, from, from);
	vdev_init(b, to, oldest);
	a->counter = 0x1234567890abcdefull;
	b->counter = 5;
	s = save(a, &len);
	ret = load(b, s, len);
	free(s);
	return ret;
}

static void vdev_fini(struct vdev *a, struct vdev *b)
{
	vus_ctx_destroy(a->ctx);
	vus_ctx_destroy(b->ctx);
}

/* Refused: nothing loaded, the device in ERROR as it was otherwise. */
static void untouched(struct vdev *b)
{
	assert_int_equal(b->loaded, 0);
	assert_int_equal(b->counter, 5);
	assert_int_equal(mig_state(mig_of(b->ctx)), VUS_MIG_ERROR);
}

/* What the management socket will show for the refused load. */
static void refused_as(struct vdev *b, int err, const char *phase,
		       const char *section, const char *reason)
{
	const struct mig_refusal *r = mig_last_refusal(mig_of(b->ctx));

	assert_int_equal(r->err, err);
	assert_string_equal(r->phase, phase);
	assert_string_equal(r->section, section);
	assert_string_equal(r->reason, reason);
}

static void same_version_loads(void **state)
{
	struct vdev a, b;

	(void)state;
	assert_int_equal(migrate(&a, &b, 2, 2, 2), 0);
	assert_int_equal(mig_last_refusal(mig_of(b.ctx))->err, 0);
	/* A refusal is always an errno. */
	assert_int_equal(vus_mig_refuse(NULL, 5, "x"), -EINVAL);
	assert_int_equal(vus_mig_refuse(NULL, 0, "x"), -EINVAL);
	assert_int_equal(vus_mig_refuse(NULL, -EIO, "x"), -EIO);
	assert_int_equal(b.checked, 2);
	assert_int_equal(b.loaded, 2);
	assert_int_equal(b.counter, a.counter);
	vdev_fini(&a, &b);
}

static void one_version_newer_is_refused(void **state)
{
	struct vdev a, b;

	(void)state;
	assert_int_equal(migrate(&a, &b, 3, 2, 1), -EPROTONOSUPPORT);
	assert_int_equal(b.checked, 0); /* refused before any check */
	untouched(&b);
	refused_as(&b, -EPROTONOSUPPORT, "header", "counter",
		   "a record of another version than this device reads");
	vdev_fini(&a, &b);
}

static void one_version_older_loads_where_the_section_reads_it(void **state)
{
	struct vdev a, b;

	(void)state;
	assert_int_equal(migrate(&a, &b, 1, 2, 1), 0);
	assert_int_equal(b.checked, 1);
	assert_int_equal(b.loaded, 1);
	assert_int_equal(b.counter, a.counter);
	vdev_fini(&a, &b);
}

static void one_version_older_is_the_sections_to_refuse(void **state)
{
	struct vdev a, b;

	(void)state;
	assert_int_equal(migrate(&a, &b, 1, 2, 2), -EPROTONOSUPPORT);
	assert_int_equal(b.checked, 1);
	untouched(&b);
	refused_as(&b, -EPROTONOSUPPORT, "check", "counter",
		   "layout 1, the oldest read here is 2");
	vdev_fini(&a, &b);
}

/* Versions from 1; names of 1 to 63 characters. */
static void section_versions_and_names_at_their_limits(void **state)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id),
				   .vendor_id = 0xcafe, .device_id = 1 };
	struct vus_mig_config mc = { .struct_size = sizeof(mc) };
	struct vdev d = { 0 };
	vus_ctx *ctx;

	(void)state;
	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	assert_int_equal(vus_pci_init(ctx, &id), 0);
	assert_int_equal(vus_mig_setup(ctx, &mc), 0);
	assert_int_equal(vus_mig_add_section(ctx, "zero", 0, &v_ops, &d), -EINVAL);
	assert_int_equal(vus_mig_add_section(ctx, "one", 1, &v_ops, &d), 0);
	assert_int_equal(vus_mig_add_section(ctx, "top", UINT32_MAX, &v_ops, &d), 0);
	char name[65];

	memset(name, 'a', 64);
	name[64] = '\0';
	assert_int_equal(vus_mig_add_section(ctx, name, 1, &v_ops, &d), -EINVAL);
	name[63] = '\0';
	assert_int_equal(vus_mig_add_section(ctx, name, 1, &v_ops, &d), 0);
	assert_int_equal(vus_mig_add_section(ctx, "", 1, &v_ops, &d), -EINVAL);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(same_version_loads),
		VTEST(one_version_newer_is_refused),
		VTEST(one_version_older_loads_where_the_section_reads_it),
		VTEST(one_version_older_is_the_sections_to_refuse),
		VTEST(section_versions_and_names_at_their_limits),
	};

	return vtest_run("mig_versions", tests, argc, argv);
}
