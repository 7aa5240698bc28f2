/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the wire codec's pure checks. */
#include <errno.h>
#include <string.h>

#include "vtest.h"
#include "wire.h"

static void hdr_check_bounds(void **state)
{
	struct wire_hdr h = { .msg_size = 15 };

	(void)state;
	assert_int_equal(wire_hdr_check(&h, 4096), -EINVAL);
	h.msg_size = 16;
	assert_int_equal(wire_hdr_check(&h, 4096), 0);
	h.msg_size = 4096;
	assert_int_equal(wire_hdr_check(&h, 4096), 0);
	h.msg_size = 4097;
	assert_int_equal(wire_hdr_check(&h, 4096), -EMSGSIZE);
}

static void error_reply_is_bare_header_with_positive_errno(void **state)
{
	struct wire_hdr req = { .msg_id = 7, .cmd = 9, .msg_size = 32 }, rep;

	(void)state;
	wire_reply_hdr(&rep, &req, 100, -EINVAL);
	assert_int_equal(rep.msg_id, 7);
	assert_int_equal(rep.cmd, 9);
	assert_int_equal(rep.msg_size, 16);
	assert_int_equal(rep.flags, WIRE_F_TYPE_REPLY | WIRE_F_ERROR);
	assert_int_equal(rep.error, EINVAL);
	wire_reply_hdr(&rep, &req, 100, 0);
	assert_int_equal(rep.msg_size, 116);
	assert_int_equal(rep.flags, WIRE_F_TYPE_REPLY);
	assert_int_equal(rep.error, 0);
}

static void ranges_do_not_overflow(void **state)
{
	(void)state;
	assert_true(range_ok(0, 16, 16));
	assert_false(range_ok(1, 16, 16));
	assert_false(range_ok(UINT64_MAX, 2, 16));
	assert_false(range_ok(8, UINT64_MAX, 16));
	assert_true(range_ok(16, 0, 16));
	assert_false(span_ok(0, 0));
	assert_true(span_ok(UINT64_MAX, 1));
	assert_false(span_ok(UINT64_MAX, 2));
	assert_true(span_ok(1ull << 63, 1ull << 63)); /* ends exactly at 2^64 */
	assert_false(span_ok((1ull << 63) + 1, 1ull << 63));
	assert_int_equal(span_last(UINT64_MAX, 1), UINT64_MAX);
}

static void cmd_names(void **state)
{
	(void)state;
	assert_string_equal(wire_cmd_name(WIRE_CMD_VERSION), "VERSION");
	assert_string_equal(wire_cmd_name(14), "?");
	assert_string_equal(wire_cmd_name(0), "?");
	assert_string_equal(wire_cmd_name(60000), "?");
}

struct irqcase {
	uint32_t flags, start, count;
	size_t len;
	unsigned int nfds;
	uint32_t nvec, index_flags;
	int want;
};

#define T WIRE_IRQ_ACTION_TRIGGER
#define M WIRE_IRQ_ACTION_MASK
#define U WIRE_IRQ_ACTION_UNMASK
#define DN WIRE_IRQ_DATA_NONE
#define DB WIRE_IRQ_DATA_BOOL
#define DE WIRE_IRQ_DATA_EVENTFD
#define MSK WIRE_IRQ_MASKABLE

static const struct irqcase irqcases[] = {
	{ T | DE, 0, 1, 20, 1, 1, 0, 0 },          /* bind one */
	{ T | DE, 0, 1, 20, 0, 1, 0, 0 },          /* unbind one */
	{ T | DE, 0, 2, 20, 1, 2, 0, -EINVAL },    /* fd count neither 0 nor count */
	{ T | DN, 0, 0, 20, 0, 4, 0, 0 },          /* disable */
	{ T | DN, 1, 0, 20, 0, 4, 0, -EINVAL },    /* disable with start */
	{ T | DE, 0, 0, 20, 0, 4, 0, -EINVAL },    /* count 0 only for disable */
	{ T | DN, 3, 1, 20, 0, 4, 0, 0 },          /* last vector */
	{ T | DN, 4, 1, 20, 0, 4, 0, -EINVAL },    /* past the end */
	{ T | DN, 0, 4, 20, 0, 4, 0, 0 },          /* every vector */
	{ T | DN, 0, 5, 20, 0, 4, 0, -EINVAL },    /* one more than there are */
	{ T | DN, 1, 4, 20, 0, 4, 0, -EINVAL },    /* ending one past the last */
	{ T | DN, 1, UINT32_MAX, 20, 0, 4, 0, -EINVAL }, /* start + count wraps */
	{ T | DB, 0, 3, 23, 0, 4, 0, 0 },          /* bools */
	{ T | DB, 0, 3, 22, 0, 4, 0, -EINVAL },    /* short bools */
	{ T | DN, 0, 1, 21, 0, 4, 0, -EINVAL },    /* trailing bytes */
	{ T | DN, 0, 1, 20, 1, 4, 0, -EINVAL },    /* fd without EVENTFD */
	{ T | DN | DB, 0, 1, 20, 0, 4, 0, -EINVAL }, /* two data types */
	{ T | M | DN, 0, 1, 20, 0, 4, MSK, -EINVAL }, /* two actions */
	{ DN, 0, 1, 20, 0, 4, 0, -EINVAL },        /* no action */
	{ T, 0, 1, 20, 0, 4, 0, -EINVAL },         /* no data */
	{ T | DN | 0x40, 0, 1, 20, 0, 4, 0, -EINVAL }, /* unknown bit */
	{ M | DN, 0, 1, 20, 0, 1, 0, -EINVAL },    /* mask, not maskable */
	{ M | DN, 0, 1, 20, 0, 1, MSK, 0 },
	{ U | DE, 0, 1, 20, 1, 1, MSK, 0 },        /* unmask eventfd */
	{ T | DN, 0, 0, 20, 0, 0, 0, 0 },          /* disable an empty index */
	{ T | DN, 0, 1, 20, 0, 0, 0, -EINVAL },    /* trigger on an empty index */
};

static void irq_set_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(irqcases) / sizeof(irqcases[0]); i++) {
		const struct irqcase *c = &irqcases[i];
		struct wire_irq_set s = { .argsz = 20, .flags = c->flags,
					  .start = c->start, .count = c->count };
		int got = wire_irq_set_check(&s, c->len, c->nvec, c->index_flags,
					     c->nfds);
		if (got != c->want)
			fail_msg("case %zu: got %d want %d", i, got, c->want);
	}
}

static void irq_set_small_argsz(void **state)
{
	struct wire_irq_set s = { .argsz = 19, .flags = T | DN, .count = 1 };

	(void)state;
	assert_int_equal(wire_irq_set_check(&s, 20, 1, 0, 0), -EINVAL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(hdr_check_bounds),
		VTEST(error_reply_is_bare_header_with_positive_errno),
		VTEST(ranges_do_not_overflow),
		VTEST(cmd_names),
		VTEST(irq_set_rules),
		VTEST(irq_set_small_argsz),
	};

	return vtest_run("wire", tests, argc, argv);
}
