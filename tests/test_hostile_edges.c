/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every bound on a field of a client request, at the boundary (served)
 * and one past it (refused), over a real socket: transfer counts against
 * the negotiated max_data_xfer_size, argsz against the reply it must
 * hold, the migration commands' sizes and range counts, doorbells against
 * the client's max_msg_fds. Payload lengths as such are in
 * test_hostile_spec.c; each refusal here is followed by a request that
 * proves the connection still serves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_priv.h"
#include "test_hostile_util.h"

#define F_GET 0x10000u  /* VFIO_DEVICE_FEATURE_GET */
#define F_SET 0x20000u  /* VFIO_DEVICE_FEATURE_SET */
#define FEAT_MIG_STATE 2u
#define FEAT_LOG_START 6u
#define FEAT_LOG_REPORT 8u
#define ST_STOP 1u
#define ST_STOP_COPY 3u
#define ST_RESUMING 4u
#define MAX_RANGES 256u   /* DMA_LOGGING_START: a page of ranges */
#define PEER_XFER 4096u   /* what the client of these tests takes */

static int setup_mig(void **state)
{
	return hostile_setup_opts(state,
				  &(struct tserver_opts){ .with_migration = true });
}

/* Negotiated by the test: a client taking @PEER_XFER bytes, 2 fds. */
static int setup_small_peer(void **state)
{
	return hostile_setup_opts(state, &(struct tserver_opts){
		.with_migration = true, .no_negotiate = true,
		.extra_doorbells = 1 });
}

#define MCASE(fn) cmocka_unit_test_setup_teardown(fn, setup_mig, hostile_teardown)
#define PCASE(fn) \
	cmocka_unit_test_setup_teardown(fn, setup_small_peer, hostile_teardown)

static void negotiate(unsigned int fds, unsigned int xfer)
{
	char json[128];
	uint8_t buf[4 + sizeof(json)];
	int n = snprintf(json, sizeof(json),
			 "{\"capabilities\":{\"max_msg_fds\":%u,"
			 "\"max_data_xfer_size\":%u}}", fds, xfer);

	memset(buf, 0, 4);
	memcpy(buf + 4, json, (size_t)n + 1);
	assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, 4 + (size_t)n + 1, NULL, 0), 0);
}

static int feature(uint32_t argsz, uint32_t flags, const void *data,
		   size_t len)
{
	uint8_t q[8 + 16 + 16 * (MAX_RANGES + 1)];

	assert_true(len <= sizeof(q) - 8);
	memcpy(q, &argsz, 4);
	memcpy(q + 4, &flags, 4);
	memcpy(q + 8, data, len);
	return call(WIRE_CMD_DEVICE_FEATURE, 0, q, 8 + len, NULL, 0);
}

static int set_state(uint32_t st)
{
	const uint32_t d[2] = { st, 0 };

	return feature(16, F_SET | FEAT_MIG_STATE, d, sizeof(d));
}

/* REGION_READ and REGION_WRITE of max_data_xfer_size bytes, and one more. */
static void region_counts_at_the_transfer_limit(void **state)
{
	uint8_t *b = calloc(1, 16 + MAX_XFER + 1);
	struct wire_region_access a = { .region = 2, .count = MAX_XFER };

	(void)state;
	assert_non_null(b);
	memcpy(b, &a, sizeof(a));
	assert_int_equal(call(WIRE_CMD_REGION_READ, 0, b, 16, NULL, 0), 0);
	assert_int_equal(m->len, 16 + MAX_XFER);
	a.count = MAX_XFER + 1;  /* region 2 has room: only the limit says no */
	memcpy(b, &a, sizeof(a));
	assert_int_equal(call(WIRE_CMD_REGION_READ, 0, b, 16, NULL, 0), -EINVAL);
	assert_serves();
	free(b);
}

/* The state's argsz and data: 16 bytes of each, not 15. */
static void device_state_sizes(void **state)
{
	const uint32_t d[2] = { ST_STOP, 0 };

	(void)state;
	assert_int_equal(feature(15, F_SET | FEAT_MIG_STATE, d, sizeof(d)), -EINVAL);
	assert_int_equal(feature(16, F_SET | FEAT_MIG_STATE, d, 7), -EINVAL);
	assert_serves();
	assert_int_equal(feature(16, F_SET | FEAT_MIG_STATE, d, sizeof(d)), 0);
	/* A state number one past the last is no state. */
	assert_int_equal(feature(16, F_SET | FEAT_MIG_STATE,
				 (uint32_t[]){ 8, 0 }, 8), -EINVAL);
	assert_serves();
}

/* MIG_DATA_READ: size up to what the client takes, argsz room for it. */
static void data_read_sizes(void **state)
{
	(void)state;
	negotiate(2, PEER_XFER);
	assert_int_equal(set_state(ST_STOP_COPY), 0);
	assert_int_equal(call(WIRE_CMD_MIG_DATA_READ, 0,
			      (uint32_t[]){ 8 + PEER_XFER + 1, PEER_XFER + 1 }, 8,
			      NULL, 0), -EINVAL);
	assert_int_equal(call(WIRE_CMD_MIG_DATA_READ, 0,
			      (uint32_t[]){ 8 + 15, 16 }, 8, NULL, 0), -EINVAL);
	assert_serves();
	assert_int_equal(call(WIRE_CMD_MIG_DATA_READ, 0,
			      (uint32_t[]){ 8 + 16, 16 }, 8, NULL, 0), 0);
	assert_int_equal(m->len, 8 + 16);
	assert_int_equal(call(WIRE_CMD_MIG_DATA_READ, 0,
			      (uint32_t[]){ 8 + PEER_XFER, PEER_XFER }, 8,
			      NULL, 0), 0);
	assert_int_equal(m->len, 8 + PEER_XFER);
}

/* MIG_DATA_WRITE: size exactly the data that follows. */
static void data_write_sizes(void **state)
{
	uint32_t q[4] = { 16, 8, 0x11111111, 0x22222222 };

	(void)state;
	assert_int_equal(set_state(ST_STOP), 0);
	assert_int_equal(set_state(ST_RESUMING), 0);
	q[1] = 7;
	assert_int_equal(call(WIRE_CMD_MIG_DATA_WRITE, 0, q, 16, NULL, 0), -EINVAL);
	q[1] = 9;
	assert_int_equal(call(WIRE_CMD_MIG_DATA_WRITE, 0, q, 16, NULL, 0), -EINVAL);
	assert_serves();
	q[1] = 8;
	assert_int_equal(call(WIRE_CMD_MIG_DATA_WRITE, 0, q, 16, NULL, 0), 0);
}

/* DMA_LOGGING_START: up to a page of ranges, argsz as long as the echo. */
static void logging_start_ranges_and_argsz(void **state)
{
	uint8_t d[16 + 16 * (MAX_RANGES + 1)] = { 0 };
	const size_t len = 16 + 16 * MAX_RANGES;
	uint64_t page = 4096;
	uint32_t n = MAX_RANGES + 1;

	(void)state;
	memcpy(d, &page, 8);
	for (uint32_t i = 0; i <= MAX_RANGES; i++) {
		uint64_t r[2] = { 0x100000ull + 0x2000ull * i, 0x1000 };

		memcpy(d + 16 + 16 * i, r, 16);
	}
	memcpy(d + 8, &n, 4);
	assert_int_equal(feature((uint32_t)(8 + len + 16), F_SET | FEAT_LOG_START,
				 d, len + 16), -E2BIG);
	n = MAX_RANGES;
	memcpy(d + 8, &n, 4);
	assert_int_equal(feature((uint32_t)(8 + len - 1), F_SET | FEAT_LOG_START,
				 d, len), -EINVAL);
	assert_serves();
	assert_int_equal(feature((uint32_t)(8 + len), F_SET | FEAT_LOG_START, d,
				 len), 0);
}

/* DMA_LOGGING_REPORT: the 24-byte request whole, argsz for the bitmap. */
static void logging_report_sizes(void **state)
{
	struct wire_dma_map map = { .argsz = 32, .flags = WIRE_DMA_READ |
				    WIRE_DMA_WRITE, .addr = 0x100000,
				    .size = 0x40000 };
	const uint64_t start[2] = { 4096, 0 };
	/* 64 pages: one word of bitmap. */
	const uint64_t q[3] = { 0x100000, 0x40000, 4096 };

	(void)state;
	assert_int_equal(call(WIRE_CMD_DMA_MAP, 0, &map, sizeof(map), NULL, 0), 0);
	assert_int_equal(feature(24, F_SET | FEAT_LOG_START, start, 16), 0);
	assert_int_equal(feature(8 + 24 + 8, F_GET | FEAT_LOG_REPORT, q, 23),
			 -EINVAL);
	assert_int_equal(feature(8 + 24 + 7, F_GET | FEAT_LOG_REPORT, q, 24),
			 -EINVAL);
	assert_serves();
	assert_int_equal(feature(8 + 24 + 8, F_GET | FEAT_LOG_REPORT, q, 24), 0);
	assert_int_equal(m->len, 8 + 24 + 8);
}

/* GET_REGION_IO_FDS: as many doorbells as the client takes fds. */
static void doorbells_against_the_clients_fds(void **state)
{
	struct wire_io_fds_req q = { .argsz = UINT32_MAX, .index = 0 };

	(void)state;
	/* Region 0 has two doorbells: the device's and one extra. */
	negotiate(1, PEER_XFER);
	assert_int_equal(call(WIRE_CMD_DEVICE_GET_REGION_IO_FDS, 0, &q, sizeof(q),
			      NULL, 0), -E2BIG);
	assert_serves();
	tserver_stop(&s);
	tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true,
						  .extra_doorbells = 1 });
	negotiate(2, PEER_XFER);
	assert_int_equal(call(WIRE_CMD_DEVICE_GET_REGION_IO_FDS, 0, &q, sizeof(q),
			      NULL, 0), 0);
	assert_int_equal(m->len, 16 + 2 * 40);
}

/*
 * Region 1 is memory with callbacks, and two areas the client may mmap,
 * [0, 0x4000) and [0x8000, 0xc000): an access wholly inside an area is
 * memory (the device is not called, as for a client that mmap'd it), one
 * that reaches a byte outside goes to the callbacks.
 */
static void sparse_area_edges_decide_memory_or_callbacks(void **state)
{
	static const struct { uint64_t off; bool callback; } cases[] = {
		{ 0x4000 - 4, false }, { 0x4000 - 3, true },
		{ 0x8000, false }, { 0x8000 - 1, true },
		{ 0xc000 - 4, false }, { 0xc000 - 3, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t q[16 + 4] = { 0 };
		struct wire_region_access a = { .offset = cases[i].off,
						.region = 1, .count = 4 };
		unsigned int before = s.dev.writes;

		memcpy(q, &a, sizeof(a));
		assert_int_equal(call(WIRE_CMD_REGION_WRITE, 0, q, sizeof(q),
				      NULL, 0), 0);
		if ((s.dev.writes != before) != cases[i].callback)
			fail_msg("a write at %#llx %s the callbacks",
				 (unsigned long long)cases[i].off,
				 cases[i].callback ? "did not reach" : "reached");
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		CASE(region_counts_at_the_transfer_limit),
		MCASE(device_state_sizes),
		PCASE(data_read_sizes),
		MCASE(data_write_sizes),
		MCASE(logging_start_ranges_and_argsz),
		MCASE(logging_report_sizes),
		PCASE(doorbells_against_the_clients_fds),
		CASE(sparse_area_edges_decide_memory_or_callbacks),
	};

	return vtest_run("hostile_edges", tests, argc, argv);
}
