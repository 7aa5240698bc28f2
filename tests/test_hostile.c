/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile clients, table-driven: for every command number 0..20 the bad
 * inputs are generated from the engine's command table (the same
 * struct cmd_desc entries the engine checks against) rather than written
 * by hand: every payload length below the minimum, one byte above the
 * maximum and far beyond the message limit, argsz below the minimum and
 * at UINT32_MAX, fds where none belong (and too many), replies and
 * undefined types where requests are due, NO_REPLY variants, reused ids,
 * and everything before VERSION. The per-command traps the table cannot
 * describe are in test_hostile_cmds.c.
 *
 * Each case expects the errno documented in doc/protocol.md (the wire
 * reference's §21), then proves the connection still serves with a
 * well-formed request; fds the client sent are counted back (every case
 * also runs under vtest's per-test fd check).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_priv.h"
#include "test_hostile_util.h"

/* --- From the table: every command, every length class. --- */

static void well_formed_gets_the_documented_answer(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		int ret = call(cmd, 0, buf, good(cmd, buf), NULL, 0);

		assert_int_equal(ret, good_answer(cmd));
		undo(cmd, ret);
		assert_serves();
	}
}

static void every_truncated_payload_is_refused(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		const struct cmd_desc *d = engine_cmd(cmd);
		size_t n = good(cmd, buf);

		if (d == NULL) {
			for (size_t len = 0; len < n; len++)
				assert_int_equal(call(cmd, 0, buf, len, NULL, 0), -ENOSYS);
			continue;
		}
		for (uint32_t len = 0; len < d->min_len; len++) {
			assert_int_equal(call(cmd, 0, buf, len, NULL, 0), -EINVAL);
			assert_serves();
		}
	}
}

/* The longest payload the table allows for @d, as the engine computes it. */
static uint32_t table_max(const struct cmd_desc *d)
{
	return d->data_max ? d->min_len + MAX_XFER : d->max_len;
}

static void one_byte_over_the_maximum_is_refused(void **state)
{
	uint8_t *buf = calloc(1, MAX_MSG + 1);

	(void)state;
	assert_non_null(buf);
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		const struct cmd_desc *d = engine_cmd(cmd);
		size_t len;
		int want;

		if (d == NULL)
			continue;
		len = (size_t)table_max(d) + 1;
		(void)good(cmd, buf);
		/* Past the message limit the transport drains and refuses it. */
		want = WIRE_HDR_SIZE + len > MAX_MSG ? -EMSGSIZE : -EINVAL;
		assert_int_equal(call(cmd, 0, buf, len, NULL, 0), want);
		assert_serves();
	}
	free(buf);
}

static void far_beyond_the_message_limit_is_drained(void **state)
{
	const size_t len = 2 * MAX_MSG;
	uint8_t *buf = calloc(1, len);

	(void)state;
	assert_non_null(buf);
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		uint8_t first[64];

		memcpy(buf, first, good(cmd, first));
		assert_int_equal(call(cmd, 0, buf, len, NULL, 0), -EMSGSIZE);
		/* NO_REPLY: drained just the same, and silent. */
		peer_send(&s, cmd, WIRE_F_NO_REPLY, buf, len, NULL, 0);
		assert_serves();
	}
	free(buf);
}

static void argsz_below_the_minimum_is_refused(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		const struct cmd_desc *d = engine_cmd(cmd);
		size_t n = good(cmd, buf);
		uint32_t bad[] = { 0, 1, 0 };

		if (d == NULL || d->argsz_min == 0)
			continue;
		bad[2] = d->argsz_min - 1;
		for (size_t i = 0; i < 3; i++) {
			memcpy(buf, &bad[i], 4);
			assert_int_equal(call(cmd, 0, buf, n, NULL, 0), -EINVAL);
			assert_serves();
		}
	}
}

/*
 * argsz far above anything: the same errno as with the honest argsz, and
 * no reply longer than the complete answer (whose own argsz says how long
 * it is).
 */
static void argsz_at_uint32_max_changes_nothing(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		const struct cmd_desc *d = engine_cmd(cmd);
		size_t n = good(cmd, buf);
		uint32_t honest_len, argsz = UINT32_MAX;
		int want, ret;

		if (d == NULL || d->argsz_min == 0)
			continue;
		want = call(cmd, 0, buf, n, NULL, 0);
		honest_len = m->len;
		undo(cmd, want);
		memcpy(buf, &argsz, 4);
		ret = call(cmd, 0, buf, n, NULL, 0);
		assert_int_equal(ret, want);
		if (ret == 0 && cmd >= WIRE_CMD_DEVICE_GET_INFO &&
		    cmd <= WIRE_CMD_DEVICE_GET_IRQ_INFO) {
			uint32_t need;

			/* The whole answer, which says its own size. */
			memcpy(&need, m->payload, sizeof(need));
			assert_int_equal(m->len, need);
		} else {
			assert_int_equal(m->len, honest_len);
		}
		undo(cmd, ret);
		assert_serves();
	}
}

static void fds_where_none_belong_are_refused_and_closed(void **state)
{
	uint8_t buf[64];
	int before = vtest_count_fds();

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		const struct cmd_desc *d = engine_cmd(cmd);
		unsigned int extra = 1;
		int fds[17];
		int want = d ? -EINVAL : -ENOSYS;

		if (d != NULL && d->max_fds == 1)
			extra = 2;      /* DMA_MAP takes one */
		else if (d != NULL && d->max_fds != 0)
			extra = 17;     /* SET_IRQS: above the negotiated 16 */
		for (unsigned int i = 0; i < extra; i++)
			fds[i] = make_fd(FD_EVENTFD);
		if (cmd == WIRE_CMD_DEVICE_SET_IRQS)
			want = -EINVAL; /* more fds than the limit */
		assert_int_equal(call(cmd, 0, buf, good(cmd, buf), fds, extra), want);
		close_all(fds, extra);
		assert_fds_back_to(before);
	}
}

/* fds travel with a message's first byte; on later bytes they are refused. */
static void fds_with_the_body_are_refused_and_closed(void **state)
{
	struct wire_hdr h = { .cmd = WIRE_CMD_DEVICE_SET_IRQS, .msg_size = 36 };
	struct wire_irq_set q = { .argsz = 20, .index = 1, .count = 1,
		.flags = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD };
	int before = vtest_count_fds(), fd = make_fd(FD_EVENTFD);

	(void)state;
	h.msg_id = 4242;
	peer_send_raw(&s, &h, sizeof(h), NULL, 0);
	/* The header was read: fds coming after it are the body's. (Sent
	 * together they may be read as one piece, indistinguishable from a
	 * message whose first byte carries them; doc/protocol.md.) */
	peer_wait_taken(&s);
	peer_send_raw(&s, &q, sizeof(q), &fd, 1);
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, 4242);
	assert_int_equal(m->hdr.error, EINVAL);
	assert_false(vus_irq_is_bound(s.ctx, 1, 0));
	close(fd);
	assert_fds_back_to(before);
}

static void replies_where_requests_are_due_are_dropped(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		size_t n = good(cmd, buf);

		/* Nothing of ours is outstanding: no answer, stream intact. */
		peer_send(&s, cmd, WIRE_F_TYPE_REPLY, buf, n, NULL, 0);
		peer_send(&s, cmd, WIRE_F_TYPE_REPLY | WIRE_F_ERROR, buf, 0, NULL, 0);
		assert_serves();
		/* Types 2..15 do not exist. */
		for (uint32_t type = 2; type <= 15; type += 13)
			assert_int_equal(call(cmd, type, buf, n, NULL, 0), -EINVAL);
		peer_send(&s, cmd, 3 | WIRE_F_NO_REPLY, buf, n, NULL, 0);
		assert_serves();
	}
}

static void no_reply_errors_stay_silent(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		const struct cmd_desc *d = engine_cmd(cmd);
		size_t n = good(cmd, buf);
		int efd = make_fd(FD_EVENTFD);

		/* Short, with a stray fd, and (for a known command) too long. */
		if (n > 0)
			peer_send(&s, cmd, WIRE_F_NO_REPLY, buf, n - 1, NULL, 0);
		peer_send(&s, cmd, WIRE_F_NO_REPLY, buf, n, &efd, 1);
		if (d != NULL && table_max(d) < 64)
			peer_send(&s, cmd, WIRE_F_NO_REPLY, buf, table_max(d) + 1,
				  NULL, 0);
		close(efd);
		/* The next thing we hear is the answer to this. */
		assert_serves();
	}
}

static void reused_message_ids_are_answered_in_order(void **state)
{
	struct wire_hdr h = { .cmd = WIRE_CMD_REGION_READ, .msg_size = 32 };
	struct wire_region_access a = { .offset = 0, .region = 0, .count = 4 };
	uint8_t one[32];

	(void)state;
	s.dev.regs[0] = 0x11;
	for (int i = 0; i < 3; i++) {
		h.msg_id = 0xffff;
		memcpy(one, &h, 16);
		a.offset = (uint64_t)i * 4;
		memcpy(one + 16, &a, 16);
		peer_send_raw(&s, one, sizeof(one), NULL, 0);
	}
	for (int i = 0; i < 3; i++) {
		struct wire_region_access r;

		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, 0xffff);
		memcpy(&r, m->payload, sizeof(r));
		assert_int_equal(r.offset, (uint64_t)i * 4);
	}
	assert_serves();
}

/*
 * A header whose msg_size is below its own 16 bytes breaks framing: for
 * every command, the connection is dropped and the device told the client
 * is gone, with nothing left open (a fresh server each time).
 */
static void msg_size_below_16_drops_the_connection(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 8, 15 };
	int before = vtest_count_fds();

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct wire_hdr h = { .msg_id = 1, .cmd = cmd,
					      .msg_size = sizes[i] };
			struct tserver t;

			tserver_start(&t, NULL);
			peer_send_raw(&t, &h, sizeof(h), NULL, 0);
			assert_true(peer_eof(&t, 5000));
			assert_int_equal(tserver_join(&t), -ENOTCONN);
			assert_int_equal(t.dev.client_losts, 1);
			tserver_stop(&t);
			assert_int_equal(vtest_count_fds(), before);
		}
	}
}

/* --- Before and during negotiation. --- */

static void every_command_before_version_is_refused(void **state)
{
	uint8_t buf[64];

	(void)state;
	for (uint16_t cmd = 0; cmd < NCMDS; cmd++) {
		int want = engine_cmd(cmd) ? -EINVAL : -ENOSYS;

		if (cmd == WIRE_CMD_VERSION)
			continue;
		assert_int_equal(call(cmd, 0, buf, good(cmd, buf), NULL, 0), want);
	}
	/* The server kept waiting: negotiation works, once. */
	assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, good(WIRE_CMD_VERSION, buf),
			      NULL, 0), 0);
	assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, good(WIRE_CMD_VERSION, buf),
			      NULL, 0), -EINVAL);
	assert_serves();
}

static void malformed_versions_are_refused_and_retry_works(void **state)
{
	static const char *const bad[] = {
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_msg_fds\":1025}}",
		"{\"capabilities\":{\"max_data_xfer_size\":4294967296}}",
		"{\"capabilities\":{\"pgsizes\":4097}}",
		"{\"capabilities\":{\"pgsizes\":0}}",
		"{\"capabilities\":{\"max_dma_maps\":0}}",
		"{\"capabilities\":{\"migration\":{\"pgsize\":100}}}",
		"{\"capabilities\":{\"write_multiple\":1}}",
		"{\"capabilities\":{\"twin_socket\":true}}",
		"{\"capabilities\":[]}",
		"[]",
		"{'capabilities':{}}",
		"{\"capabilities\":{},}",
		"{} {}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}",
	};
	uint8_t buf[256];
	int efd = make_fd(FD_EVENTFD);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]) + 1;

		memset(buf, 0, 4);
		memcpy(buf + 4, bad[i], n);
		assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, 4 + n, NULL, 0), -EINVAL);
		/* Without its NUL, and with a NUL inside. */
		assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, 4 + n - 1, NULL, 0),
				 -EINVAL);
	}
	memcpy(buf + 4, "{}\0{}", 6);
	assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, 10, NULL, 0), -EINVAL);
	/* A good VERSION with an fd attached. */
	assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, good(WIRE_CMD_VERSION, buf),
			      &efd, 1), -EINVAL);
	close(efd);
	assert_int_equal(call(WIRE_CMD_VERSION, 0, buf, good(WIRE_CMD_VERSION, buf),
			      NULL, 0), 0);
	assert_serves();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		CASE(well_formed_gets_the_documented_answer),
		CASE(every_truncated_payload_is_refused),
		CASE(one_byte_over_the_maximum_is_refused),
		CASE(far_beyond_the_message_limit_is_drained),
		CASE(argsz_below_the_minimum_is_refused),
		CASE(argsz_at_uint32_max_changes_nothing),
		CASE(fds_where_none_belong_are_refused_and_closed),
		CASE(fds_with_the_body_are_refused_and_closed),
		CASE(replies_where_requests_are_due_are_dropped),
		CASE(no_reply_errors_stay_silent),
		CASE(reused_message_ids_are_answered_in_order),
		CASE(msg_size_below_16_drops_the_connection),
		RAW_CASE(every_command_before_version_is_refused),
		RAW_CASE(malformed_versions_are_refused_and_retry_works),
	};

	return vtest_run("hostile", tests, argc, argv);
}
