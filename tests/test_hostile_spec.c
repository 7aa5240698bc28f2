/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request payload lengths as the vfio-user specification defines them
 * (QEMU's docs/interop/vfio-user.rst; digested in the team's protocol
 * reference, §2-§16), written down here as literal facts rather than read
 * from lib/, and checked two ways: against the engine's command table,
 * and over a real socket, where one byte short (and, for commands with a
 * fixed size, one byte long) is refused with EINVAL and the exact length
 * of a well-formed request is served. The suite in test_hostile.c walks
 * every length the table allows; this one keeps the table honest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_priv.h"
#include "test_hostile_util.h"

/* Maximum kinds besides a number: none defined, or one data transfer. */
#define SPEC_OPEN UINT32_MAX      /* the spec sets no maximum */
#define SPEC_DATA (UINT32_MAX - 1) /* min + max_data_xfer_size */

static const struct spec_len {
	uint16_t cmd;
	uint32_t min; /* request payload bytes */
	uint32_t max;
} spec[] = {
	{ 1, 4, SPEC_OPEN },   /* VERSION: major, minor, optional JSON */
	{ 2, 32, 32 },         /* DMA_MAP: argsz flags offset address size */
	{ 3, 24, 40 },         /* DMA_UNMAP: argsz flags address size, and
				* with GET_DIRTY_BITMAP pgsize and size */
	{ 4, 16, 16 },         /* DEVICE_GET_INFO */
	{ 5, 32, SPEC_OPEN },  /* DEVICE_GET_REGION_INFO: clients may pad
				* to argsz */
	{ 6, 16, 16 },         /* DEVICE_GET_REGION_IO_FDS */
	{ 7, 16, 16 },         /* DEVICE_GET_IRQ_INFO */
	{ 8, 20, SPEC_OPEN },  /* DEVICE_SET_IRQS: + count bools */
	{ 9, 16, 16 },         /* REGION_READ: offset region count */
	{ 10, 16, SPEC_DATA }, /* REGION_WRITE: + count bytes */
	{ 13, 0, 0 },          /* DEVICE_RESET */
	{ 15, 8, SPEC_OPEN },  /* REGION_WRITE_MULTI: wr_cnt + 24 each */
	{ 16, 8, SPEC_OPEN },  /* DEVICE_FEATURE: argsz flags + data */
	{ 17, 8, 8 },          /* MIG_DATA_READ: argsz size */
	{ 18, 8, SPEC_DATA },  /* MIG_DATA_WRITE: argsz size + data */
};

/* QEMU sends up to 200 writes in one REGION_WRITE_MULTI. */
#define QEMU_WRITE_MULTI 200u

static void table_has_the_spec_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++) {
		const struct spec_len *sp = &spec[i];
		const struct cmd_desc *d = engine_cmd(sp->cmd);

		assert_non_null(d);
		if (d->min_len != sp->min)
			fail_msg("command %u: minimum %u, the spec says %u",
				 sp->cmd, d->min_len, sp->min);
		if (sp->max == SPEC_DATA)
			assert_true(d->data_max);
		else if (sp->max != SPEC_OPEN)
			assert_true(!d->data_max && d->max_len == sp->max);
		else
			assert_true(d->data_max || d->max_len > sp->min);
	}
	/* Where the spec leaves the maximum open, ours still takes what
	 * QEMU sends. */
	assert_true(engine_cmd(15)->max_len >= 8 + 24 * QEMU_WRITE_MULTI);
	/* Server-to-client only, and the invalid numbers: no such request. */
	assert_null(engine_cmd(0));
	assert_null(engine_cmd(14));
	assert_null(engine_cmd(19));
}

/* --- Over the socket. --- */

#define F_GET 0x10000u  /* VFIO_DEVICE_FEATURE_GET */
#define F_SET 0x20000u  /* VFIO_DEVICE_FEATURE_SET */
#define FEAT_MIGRATION 1u
#define FEAT_MIG_STATE 2u
#define FEAT_LOG_START 6u
#define ST_STOP 1u
#define ST_RUNNING 2u
#define ST_STOP_COPY 3u
#define ST_RESUMING 4u

static int setup_mig(void **state)
{
	return hostile_setup_opts(state,
				  &(struct tserver_opts){ .with_migration = true });
}

#define MCASE(fn) cmocka_unit_test_setup_teardown(fn, setup_mig, hostile_teardown)

static void set_state(uint32_t st)
{
	uint32_t q[4] = { 16, F_SET | FEAT_MIG_STATE, st, 0 };

	assert_int_equal(call(16, 0, q, sizeof(q), NULL, 0), 0);
}

/* @p (a well-formed request of exactly @len bytes, room for @len + 1)
 * gets @want; one byte less, and with @fixed one byte more, EINVAL. */
static void lengths(uint16_t cmd, uint8_t *p, size_t len, bool fixed, int want)
{
	if (len > 0) {
		assert_int_equal(call(cmd, 0, p, len - 1, NULL, 0), -EINVAL);
		assert_serves();
	}
	if (fixed) {
		p[len] = 0;
		assert_int_equal(call(cmd, 0, p, len + 1, NULL, 0), -EINVAL);
		assert_serves();
	}
	assert_int_equal(call(cmd, 0, p, len, NULL, 0), want);
}

static void exact_minimum_served_one_byte_short_refused(void **state)
{
	struct wire_dma_map map = { .argsz = 32, .flags = WIRE_DMA_READ,
				    .addr = 0x100000, .size = 0x1000 };
	uint8_t b[64];

	(void)state;
	memcpy(b, &map, 32);
	lengths(2, b, 32, true, 0);
	memset(b, 0, sizeof(b));
	b[0] = 24;
	b[4] = WIRE_DMA_UNMAP_ALL;
	lengths(3, b, 24, false, 0);
	memset(b, 0, sizeof(b));
	b[0] = 16;
	lengths(4, b, 16, true, 0);
	lengths(6, b, 16, true, 0);   /* region 0 has an ioeventfd */
	lengths(7, b, 16, true, 0);
	memset(b, 0, sizeof(b));
	b[0] = 32;
	lengths(5, b, 32, false, 0);
	memset(b, 0, sizeof(b));
	b[0] = 20;
	b[4] = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_NONE; /* disable */
	b[8] = 1;
	lengths(8, b, 20, false, 0);
	memset(b, 0, sizeof(b));
	b[12] = 4;                    /* region 0, 4 bytes */
	lengths(9, b, 16, true, 0);
	b[12] = 0;                    /* a write of nothing */
	lengths(10, b, 16, false, 0);
	lengths(13, b, 0, true, 0);
	memset(b, 0, sizeof(b));      /* no writes */
	lengths(15, b, 8, false, 0);
	memset(b, 0, sizeof(b));
	b[0] = 16;
	memcpy(b + 4, &(uint32_t){ F_GET | FEAT_MIGRATION }, 4);
	lengths(16, b, 8, false, 0);
	/* Migration data in the states that take it. */
	set_state(ST_STOP_COPY);
	memset(b, 0, sizeof(b));
	b[0] = 8 + 8;
	b[4] = 8;
	lengths(17, b, 8, true, 0);
	set_state(ST_STOP);
	set_state(ST_RESUMING);
	memset(b, 0, sizeof(b));
	b[0] = 8;
	lengths(18, b, 8, false, 0);
}

/* VERSION comes first, before anything else is legal. */
static void version_exact_minimum_served_one_byte_short_refused(void **state)
{
	uint8_t v[5] = { 0 };

	(void)state;
	assert_int_equal(call(1, 0, v, 3, NULL, 0), -EINVAL);
	assert_int_equal(call(1, 0, v, 4, NULL, 0), 0);
	assert_serves();
}

/* The maximums: a whole data transfer, and DMA_UNMAP's bitmap form. */
static void exact_maximum_served_one_byte_long_refused(void **state)
{
	const size_t big = 16 + MAX_XFER;
	uint8_t *b = calloc(1, big + 1);
	struct wire_dma_unmap u = {
		.argsz = 24 + 16 + 8,
		.flags = WIRE_DMA_UNMAP_GET_DIRTY_BITMAP,
		.addr = 0x100000, .size = 0x1000 };
	struct wire_dma_map map = { .argsz = 32, .flags = WIRE_DMA_READ |
				    WIRE_DMA_WRITE, .addr = 0x100000,
				    .size = 0x1000 };
	uint8_t q[41] = { 0 };

	(void)state;
	assert_non_null(b);
	/* REGION_WRITE of max_data_xfer_size bytes into the 2 MiB region. */
	memcpy(b, &(struct wire_region_access){ .region = 2, .count = MAX_XFER }, 16);
	assert_int_equal(call(10, 0, b, big, NULL, 0), 0);
	memcpy(b, &(struct wire_region_access){ .region = 2,
						.count = MAX_XFER + 1 }, 16);
	/* One more is past the whole message limit too: drained, EMSGSIZE. */
	assert_int_equal(call(10, 0, b, big + 1, NULL, 0), -EMSGSIZE);
	assert_serves();
	/* MIG_DATA_WRITE of as much, while resuming. */
	set_state(ST_STOP);
	set_state(ST_RESUMING);
	memcpy(b, (uint32_t[]){ 8 + MAX_XFER, MAX_XFER }, 8);
	assert_int_equal(call(18, 0, b, 8 + MAX_XFER, NULL, 0), 0);
	memcpy(b, (uint32_t[]){ 8 + MAX_XFER + 1, MAX_XFER + 1 }, 8);
	assert_int_equal(call(18, 0, b, 8 + MAX_XFER + 1, NULL, 0), -EINVAL);
	/* The stream was junk: a reset, not a load, ends the session. */
	assert_int_equal(call(13, 0, NULL, 0, NULL, 0), 0);
	free(b);
	/* DMA_UNMAP with its bitmap header: 40 bytes, logging on. */
	assert_int_equal(call(2, 0, &map, sizeof(map), NULL, 0), 0);
	memcpy(q, (uint32_t[]){ 24, F_SET | FEAT_LOG_START }, 8);
	q[8 + 1] = 0x10; /* page_size 4096, no ranges */
	assert_int_equal(call(16, 0, q, 24, NULL, 0), 0);
	memcpy(q, &u, 24);
	memcpy(q + 24, (uint64_t[]){ 4096, 8 }, 16);
	assert_int_equal(call(3, 0, q, 41, NULL, 0), -EINVAL);
	assert_serves();
	assert_int_equal(call(3, 0, q, 40, NULL, 0), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(table_has_the_spec_lengths),
		MCASE(exact_minimum_served_one_byte_short_refused),
		RAW_CASE(version_exact_minimum_served_one_byte_short_refused),
		MCASE(exact_maximum_served_one_byte_long_refused),
	};

	return vtest_run("hostile_spec", tests, argc, argv);
}
