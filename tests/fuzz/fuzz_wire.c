/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_wire: the pure parsers and checkers, each with the property it
 * promises checked on every input (a checker that says yes to something
 * its contract rules out is a bug even if nothing crashes).
 *
 * The first byte picks the target, the rest is its input:
 *   0  caps_parse_version(); what parses must build and parse back equal
 *   1  caps_json_parse() of arbitrary text
 *   2  wire_irq_set_check() against an index described by the input
 *   3  wire_hdr_check() and wire_reply_hdr()
 *   4  the command table: engine_cmd(), engine_cmd_check() and each
 *      command's own check, as the engine runs them before any handler
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "caps.h"
#include "ctx_internal.h"
#include "dma_table.h"
#include "engine_priv.h"
#include "vus.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_wire: %s:%d: %s\n", __FILE__,  \
				__LINE__, #cond);                            \
			abort();                                             \
		}                                                            \
	} while (0)

static vus_ctx *ctx; /* for checks that look at the DMA table */

static bool caps_equal(const struct caps *a, const struct caps *b)
{
	return a->max_msg_fds == b->max_msg_fds &&
	       a->max_data_xfer_size == b->max_data_xfer_size &&
	       a->pgsizes == b->pgsizes && a->max_dma_maps == b->max_dma_maps &&
	       a->write_multiple == b->write_multiple;
}

static void fuzz_version(const uint8_t *p, size_t n)
{
	struct caps c, back;
	uint16_t major = 0, minor = 0, major2 = 0, minor2 = 0;
	uint8_t buf[1024];
	int len;

	if (caps_parse_version(p, n, &major, &minor, &c) < 0)
		return;
	/* Whatever we accept respects the documented bounds. */
	CHECK(c.max_msg_fds <= CAPS_MAX_MSG_FDS);
	CHECK(c.max_data_xfer_size > 0 && c.max_data_xfer_size <= UINT32_MAX);
	CHECK(c.pgsizes != 0 && (c.pgsizes & 0xfff) == 0);
	CHECK(c.max_dma_maps > 0 && c.max_dma_maps <= CAPS_MAX_DMA_MAPS);
	/* ...and survives a round trip through our own writer. */
	len = caps_build_version(buf, sizeof(buf), major, minor, &c);
	CHECK(len > 4);
	CHECK(caps_parse_version(buf, (size_t)len, &major2, &minor2, &back) == 0);
	CHECK(major2 == major && minor2 == minor);
	CHECK(caps_equal(&c, &back));
}

static void fuzz_json(const uint8_t *p, size_t n)
{
	struct json_object *o = NULL;

	if (caps_json_parse((const char *)p, n, &o) == 0) {
		CHECK(o != NULL);
		/* Serialising what we accepted must work too. */
		CHECK(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) != NULL);
	} else {
		CHECK(o == NULL);
	}
	json_object_put(o);
}

static void fuzz_irq_set(const uint8_t *p, size_t n)
{
	struct wire_irq_set s;
	uint32_t nvec, flags, len;
	uint8_t nfds;
	uint32_t data, action;

	if (n < sizeof(s) + 13)
		return;
	memcpy(&s, p, sizeof(s));
	memcpy(&nvec, p + 20, 4);
	memcpy(&flags, p + 24, 4);
	memcpy(&len, p + 28, 4);
	nfds = p[32];
	nvec %= 2 * WIRE_MAX_IRQ_COUNT;
	if (wire_irq_set_check(&s, len, nvec, flags, nfds) < 0)
		return;
	data = s.flags & WIRE_IRQ_DATA_TYPE_MASK;
	action = s.flags & WIRE_IRQ_ACTION_TYPE_MASK;
	CHECK(s.argsz >= sizeof(s));
	CHECK((s.flags & ~0x3fu) == 0);
	CHECK(data && !(data & (data - 1)) && action && !(action & (action - 1)));
	if (s.count == 0)
		CHECK(data == WIRE_IRQ_DATA_NONE &&
		      action == WIRE_IRQ_ACTION_TRIGGER && s.start == 0);
	else
		CHECK((uint64_t)s.start + s.count <= nvec);
	if (action != WIRE_IRQ_ACTION_TRIGGER)
		CHECK(flags & WIRE_IRQ_MASKABLE);
	CHECK(len == sizeof(s) + (data == WIRE_IRQ_DATA_BOOL ? s.count : 0));
	CHECK(nfds == 0 || (data == WIRE_IRQ_DATA_EVENTFD && nfds == s.count));
}

static void fuzz_hdr(const uint8_t *p, size_t n)
{
	struct wire_hdr h, r;
	uint32_t max, payload;
	int err, ret;

	if (n < sizeof(h) + 12)
		return;
	memcpy(&h, p, sizeof(h));
	memcpy(&max, p + 16, 4);
	memcpy(&payload, p + 20, 4);
	memcpy(&err, p + 24, 4);
	ret = wire_hdr_check(&h, max);
	CHECK(ret == 0 || ret == -EINVAL || ret == -EMSGSIZE);
	if (ret == 0)
		CHECK(h.msg_size >= WIRE_HDR_SIZE && h.msg_size <= max);
	if (err == INT32_MIN)
		err = -EINVAL;
	payload %= 1u << 26;
	wire_reply_hdr(&r, &h, payload, err);
	CHECK(r.msg_id == h.msg_id && r.cmd == h.cmd);
	CHECK(wire_is_reply(&r));
	if (err != 0)
		CHECK(r.msg_size == WIRE_HDR_SIZE && (r.flags & WIRE_F_ERROR) &&
		      r.error != 0);
	else
		CHECK(r.msg_size == WIRE_HDR_SIZE + payload && r.error == 0);
	(void)wire_cmd_name(h.cmd);
}

/*
 * The checks the engine runs before any handler, from the table: the
 * input gives the command, the connection state, the limits, the fd count
 * and the payload.
 */
static void fuzz_cmd_table(const uint8_t *p, size_t n)
{
	static struct engine e;
	const struct cmd_desc *d;
	struct msg m;
	uint16_t cmd;
	int ret;

	if (n < 6)
		return;
	memcpy(&cmd, p, 2);
	memset(&e, 0, sizeof(e));
	e.ctx = ctx;
	e.state = (p[2] & 1) ? CONN_READY : CONN_NEGOTIATING;
	e.lim.max_xfer = (p[2] & 2) ? 4096 : WIRE_DEFAULT_XFER;
	e.lim.max_fds = (uint32_t)(p[3] % (WIRE_MAX_FDS_LIMIT + 1));
	memset(&m, 0, sizeof(m));
	m.hdr.cmd = cmd;
	m.nfds = p[4];
	m.payload = (uint8_t *)p + 6;
	m.len = (uint32_t)(n - 6);
	m.hdr.msg_size = WIRE_HDR_SIZE + m.len;
	d = engine_cmd(cmd);
	if (d == NULL) {
		CHECK(cmd == 0 || cmd == 14 || cmd >= WIRE_CMD_MAX);
		return;
	}
	ret = engine_cmd_check(&e, d, &m);
	CHECK(ret == 0 || ret == -EINVAL);
	if (ret < 0)
		return;
	/* What passes the table is safe for the handler to read. */
	CHECK(m.len >= d->min_len);
	CHECK(d->data_max ? m.len <= d->min_len + e.lim.max_xfer
			  : m.len <= d->max_len);
	CHECK(d->states & CONN_BIT(e.state));
	if (d->argsz_min)
		CHECK(m.len >= 4 && engine_argsz(&m) >= d->argsz_min);
	if (d->check != NULL) {
		ret = d->check(&e, &m);
		CHECK(ret <= 0);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS, .max_dma_maps = 16 };
	struct vus_region_desc r = { .struct_size = sizeof(r), .size = 4096,
				     .flags = VUS_REGION_READ,
				     .backing = VUS_BACKING_MEM };
	struct vus_dma_region out;

	(void)argc;
	(void)argv;
	/* A context with a few message-only mappings for DMA_UNMAP's check. */
	if (vus_ctx_create(&cfg, &ctx) < 0 ||
	    vus_region_setup(ctx, 0, &r) < 0 || vus_ctx_realize(ctx) < 0)
		abort();
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	for (uint64_t i = 0; i < 4; i++)
		if (dma_add(ctx_dma(ctx), 0x10000 * (i + 1), 0x1000 << i,
			    VUS_DMA_READ, -1, 0, &out) < 0)
			abort();
	if (dma_add(ctx_dma(ctx), UINT64_MAX - 0xfff, 0x1000, VUS_DMA_READ, -1,
		    0, &out) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_version(data + 1, size - 1);
		break;
	case 1:
		fuzz_json(data + 1, size - 1);
		break;
	case 2:
		fuzz_irq_set(data + 1, size - 1);
		break;
	case 3:
		fuzz_hdr(data + 1, size - 1);
		break;
	default:
		fuzz_cmd_table(data + 1, size - 1);
		break;
	}
	return 0;
}
