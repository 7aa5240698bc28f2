/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Server protocol tests, real bytes over a real socketpair: VERSION
 * negotiation, message ordering, framing that arrives in pieces or breaks,
 * and what happens to a connection after each kind of bad input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "tserver.h"
#include "vtest.h"

static struct peer_msg *newmsg(void)
{
	struct peer_msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

static size_t version_payload(uint8_t *buf, uint16_t major, uint16_t minor,
			      const char *json)
{
	struct wire_version v = { .major = major, .minor = minor };
	size_t n = json ? strlen(json) + 1 : 0;

	memcpy(buf, &v, sizeof(v));
	if (n)
		memcpy(buf + sizeof(v), json, n);
	return sizeof(v) + n;
}

static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

static void version_reply_fits_qemus_buffer(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	uint8_t buf[256];
	uint16_t major = 9, minor = 9;
	struct caps c;
	size_t n = version_payload(buf, 0, 0, qemu_json);

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true });
	assert_int_equal(16 + n, 214); /* the exact size QEMU 10.2 sends */
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf, n, NULL, 0, m), 0);
	assert_true(m->hdr.msg_size <= 214);
	assert_int_equal(m->nfds, 0);
	assert_int_equal(caps_parse_version(m->payload, m->len, &major, &minor, &c), 0);
	assert_int_equal(major, 0);
	assert_int_equal(minor, 0);
	assert_int_equal(c.max_msg_fds, 16);
	assert_int_equal(c.max_data_xfer_size, 1048576);
	assert_int_equal(c.pgsizes, 4096);
	assert_false(c.write_multiple);
	tserver_stop(&s);
	free(m);
}

/*
 * Fuzz find (fuzz_wire, round-trip property): QEMU's JSON with the
 * migration object's "pgsize" key misspelt parsed fine, but writing those
 * capabilities back produced "pgsize":0, which our own parser refuses;
 * values above INT64_MAX were written as negative numbers.
 */
static void capabilities_written_back_parse_again(void **state)
{
	static const char *const docs[] = {
		"{\"capabilities\": {\"migration\": {\"pigsze\": 4096, "
		"\"max_bitmap_size\": 268435456}}}",
		"{\"capabilities\":{\"pgsizes\":18446744073709547520,"
		"\"migration\":{\"pgsize\":18446744073709547520,"
		"\"max_bitmap_size\":18446744073709551615}}}",
	};
	uint8_t buf[512], out[512];

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		uint16_t major, minor;
		struct caps c, back;
		int n = (int)version_payload(buf, 0, 0, docs[i]);

		assert_int_equal(caps_parse_version(buf, (size_t)n, &major, &minor, &c), 0);
		n = caps_build_version(out, sizeof(out), major, minor, &c);
		assert_true(n > 4);
		assert_int_equal(caps_parse_version(out, (size_t)n, &major, &minor,
						    &back), 0);
		assert_true(back.pgsizes == c.pgsizes);
		assert_true(back.has_migration && back.mig_pgsize == c.mig_pgsize);
		assert_true(back.mig_max_bitmap_size == c.mig_max_bitmap_size);
	}
}

static void commands_before_version_are_refused(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	struct wire_device_info di = { .argsz = 16 };
	uint8_t buf[64];

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true });
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), -EINVAL);
	/* Negotiation still works afterwards, and only once. */
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf,
				   version_payload(buf, 0, 0, "{}"), NULL, 0, m), 0);
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf,
				   version_payload(buf, 0, 0, "{}"), NULL, 0, m),
			 -EINVAL);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), 0);
	tserver_stop(&s);
	free(m);
}

static void bad_capabilities_are_refused_and_retry_works(void **state)
{
	static const char *const bad[] = {
		"{\"capabilities\":{\"max_msg_fds\":1099511627776}}",
		"{\"capabilities\":{\"max_data_xfer_size\":0}}",
		"{\"capabilities\":",
		"{\"capabilities\":{\"pgsizes\":\"4096\"}}",
	};
	struct tserver s;
	struct peer_msg *m = newmsg();
	uint8_t buf[256];

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true });
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf,
					   version_payload(buf, 0, 0, bad[i]),
					   NULL, 0, m), -EINVAL);
	/* JSON without its NUL. */
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf,
				   version_payload(buf, 0, 0, "{}") - 1, NULL, 0, m),
			 -EINVAL);
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf,
				   version_payload(buf, 0, 0, NULL), NULL, 0, m), 0);
	tserver_stop(&s);
	free(m);
}

static void wrong_major_version_closes(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	uint8_t buf[64];

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true });
	assert_int_equal(peer_call(&s, WIRE_CMD_VERSION, buf,
				   version_payload(buf, 1, 0, "{}"), NULL, 0, m),
			 -EINVAL);
	assert_true(peer_eof(&s, 2000));
	/* attach_fd without a listener: the server is done. */
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	tserver_stop(&s);
	free(m);
}

/*
 * Fault-injection find (test_fault_io: every server sendmsg short): the
 * EINVAL for a wrong major version was dropped when it could not be
 * written at once, because the hang-up did not wait for queued output.
 * Here the socket is full of replies to requests sent before VERSION that
 * the client has not read yet.
 */
static void wrong_major_reply_arrives_even_when_replies_are_queued(void **state)
{
	const unsigned int n = 2000;
	struct wire_device_info di = { .argsz = 16 };
	struct wire_hdr h = { .cmd = WIRE_CMD_DEVICE_GET_INFO, .msg_size = 32 };
	uint8_t *buf = malloc(n * 32);
	struct tserver s;
	struct peer_msg *m = newmsg();
	uint8_t v[64];
	uint16_t id;

	(void)state;
	assert_non_null(buf);
	tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true });
	for (unsigned int i = 0; i < n; i++) {
		h.msg_id = (uint16_t)i;
		memcpy(buf + i * 32, &h, 16);
		memcpy(buf + i * 32 + 16, &di, 16);
	}
	peer_send_raw(&s, buf, n * 32, NULL, 0);
	id = peer_send(&s, WIRE_CMD_VERSION, 0, v, version_payload(v, 1, 0, "{}"),
		       NULL, 0);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, i);
		assert_int_equal(m->hdr.error, EINVAL); /* before VERSION */
	}
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_VERSION);
	assert_int_equal(m->hdr.error, EINVAL);
	assert_true(peer_eof(&s, 5000));
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	tserver_stop(&s);
	free(buf);
	free(m);
}

static void unknown_commands_get_enosys(void **state)
{
	static const uint16_t cmds[] = { 0, 14, 19, 1000, 65535 };
	struct tserver s;
	struct peer_msg *m = newmsg();

	(void)state;
	tserver_start(&s, NULL);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_int_equal(peer_call(&s, cmds[i], "abcd", 4, NULL, 0, m),
				 -ENOSYS);
	/* Server-to-client commands sent the wrong way, and migration. */
	assert_int_equal(peer_call(&s, WIRE_CMD_DMA_READ, NULL, 0, NULL, 0, m), -EINVAL);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_FEATURE, "\x08\0\0\0\x01\0\x01\0",
				   8, NULL, 0, m), -ENOTTY);
	assert_int_equal(peer_call(&s, WIRE_CMD_MIG_DATA_READ, "\x10\0\0\0\x08\0\0\0",
				   8, NULL, 0, m), -ENOTSUP);
	tserver_stop(&s);
	free(m);
}

static void no_reply_means_no_reply_even_for_errors(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	struct wire_region_access a = { .offset = 5000, .region = 0, .count = 4 };
	uint8_t wr[20];
	struct wire_device_info di = { .argsz = 16 };
	uint16_t id;

	(void)state;
	tserver_start(&s, NULL);
	/* A posted write beyond the region fails silently... */
	memcpy(wr, &a, sizeof(a));
	memcpy(wr + 16, "\1\2\3\4", 4);
	peer_send(&s, WIRE_CMD_REGION_WRITE, WIRE_F_NO_REPLY, wr, sizeof(wr), NULL, 0);
	/* ...and a good posted write is applied before the next reply. */
	a.offset = 8;
	memcpy(wr, &a, sizeof(a));
	peer_send(&s, WIRE_CMD_REGION_WRITE, WIRE_F_NO_REPLY, wr, sizeof(wr), NULL, 0);
	id = peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_memory_equal(s.dev.regs + 8, "\1\2\3\4", 4);
	tserver_stop(&s);
	free(m);
}

static void stray_replies_and_bad_types_keep_the_stream(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	struct wire_device_info di = { .argsz = 16 };
	uint16_t id;

	(void)state;
	tserver_start(&s, NULL);
	/* A reply nobody asked for is dropped without an answer. */
	peer_send(&s, WIRE_CMD_DMA_READ, WIRE_F_TYPE_REPLY, "12345678", 8, NULL, 0);
	/* An undefined Type value is an error. */
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), 0);
	id = peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 7, &di, sizeof(di), NULL, 0);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.error, EINVAL);
	tserver_stop(&s);
	free(m);
}

static void pieces_of_header_and_body(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	const size_t len = 1u << 20;
	uint8_t *buf = calloc(1, 16 + 16 + len);
	struct wire_hdr h = { .msg_id = 77, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = (uint32_t)(32 + len) };
	struct wire_region_access a = { .offset = 0, .region = 1,
					.count = (uint32_t)len - 0x10000 };

	(void)state;
	/* A 1 MiB write will not fit region 1 (64 KiB); use a 64 KiB one
	 * split into odd pieces, then a 1 MiB one that must be refused. */
	tserver_start(&s, NULL);
	a.count = 0x10000;
	h.msg_size = 32 + a.count;
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &a, 16);
	for (uint32_t i = 0; i < a.count; i++)
		buf[32 + i] = (uint8_t)(i * 13);
	for (size_t off = 0, step = 1; off < h.msg_size; off += step, step = step * 3 + 1) {
		size_t n = h.msg_size - off < step ? h.msg_size - off : step;
		peer_send_raw(&s, buf + off, n, NULL, 0);
	}
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, 77);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_memory_equal(vus_region_mem(s.ctx, 1), buf + 32, a.count);

	a.count = (uint32_t)len;
	h.msg_size = (uint32_t)(32 + len);
	h.msg_id = 78;
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &a, 16);
	for (size_t off = 0; off < h.msg_size; off += 100000)
		peer_send_raw(&s, buf + off, h.msg_size - off < 100000 ?
			      h.msg_size - off : 100000, NULL, 0);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, 78);
	assert_int_equal(m->hdr.error, EINVAL); /* beyond the region */
	tserver_stop(&s);
	free(buf);
	free(m);
}

static void oversized_message_is_drained_and_refused(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	size_t len = (2u << 20) + 100;
	uint8_t *buf = calloc(1, len);
	struct wire_hdr h = { .msg_id = 5, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = (uint32_t)len };
	struct wire_device_info di = { .argsz = 16 };

	(void)state;
	tserver_start(&s, NULL);
	memcpy(buf, &h, sizeof(h));
	peer_send_raw(&s, buf, len, NULL, 0);
	assert_int_equal(peer_recv(&s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, 5);
	assert_int_equal(m->hdr.error, EMSGSIZE);
	/* Still in step. */
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), 0);
	tserver_stop(&s);
	free(buf);
	free(m);
}

/*
 * Protocol probe, issue 10: before VERSION an HTTP request (its "/ HT"
 * reads as a 1.4 GB msg_size) or a reply got silence while the server
 * waited for a body that never comes. Such a peer is not a vfio-user
 * client: the server hangs up at once and serves the next client.
 */
static void strangers_before_version_are_closed_at_once(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct wire_hdr reply = { .msg_id = 1, .cmd = WIRE_CMD_VERSION,
				  .msg_size = 16, .flags = WIRE_F_TYPE_REPLY };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct tserver s;

		tserver_start(&s, &(struct tserver_opts){ .no_negotiate = true });
		if (i == 0)
			peer_send_raw(&s, http, sizeof(http) - 1, NULL, 0);
		else
			peer_send_raw(&s, &reply, sizeof(reply), NULL, 0);
		assert_true(peer_eof(&s, 5000));
		assert_int_equal(tserver_join(&s), -ENOTCONN);
		assert_int_equal(s.dev.client_losts, 1);
		tserver_stop(&s);
	}
}

/*
 * Protocol probe, issue 10: after VERSION a header announcing more than
 * the limit (by one byte, by 256 MiB, 2 GiB, 4 GiB) got its EMSGSIZE only
 * once the whole body was drained: silence meanwhile. The refusal comes
 * as soon as the header is in; the body is drained after it.
 */
static void oversized_headers_are_refused_before_their_body(void **state)
{
	const uint32_t limit = 16 + 16 + (1u << 20);
	const uint32_t sizes[] = { limit + 1, limit + (256u << 20),
				   2u << 30, UINT32_MAX };
	struct wire_device_info di = { .argsz = 16 };
	struct peer_msg *m = newmsg();

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct wire_hdr h = { .msg_id = 9, .cmd = WIRE_CMD_REGION_WRITE,
				      .msg_size = sizes[i] };
		struct tserver s;

		tserver_start(&s, NULL);
		peer_send_raw(&s, &h, sizeof(h), NULL, 0);
		assert_int_equal(peer_recv(&s, m, 5000), 0);
		assert_int_equal(m->hdr.msg_id, 9);
		assert_int_equal(m->hdr.error, EMSGSIZE);
		if (i == 0) {
			/* The body is drained; the stream stays in step. */
			uint8_t *body = calloc(1, h.msg_size - 16);

			assert_non_null(body);
			peer_send_raw(&s, body, h.msg_size - 16, NULL, 0);
			free(body);
			assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO,
						   &di, sizeof(di), NULL, 0, m), 0);
		}
		tserver_stop(&s);
	}
	free(m);
}

static void short_msg_size_disconnects(void **state)
{
	struct tserver s;
	struct wire_hdr h = { .msg_id = 1, .cmd = 4, .msg_size = 15 };

	(void)state;
	tserver_start(&s, NULL);
	peer_send_raw(&s, &h, sizeof(h), NULL, 0);
	assert_true(peer_eof(&s, 2000));
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	/* The device was told, and kept its state for the next client. */
	assert_int_equal(s.dev.client_losts, 1);
	assert_int_equal(s.dev.resets, 0);
	tserver_stop(&s);
}

static void eof_inside_a_message_disconnects(void **state)
{
	struct tserver s;
	struct wire_hdr h = { .msg_id = 1, .cmd = 10, .msg_size = 100 };

	(void)state;
	tserver_start(&s, NULL);
	peer_send_raw(&s, &h, sizeof(h), NULL, 0);
	shutdown(s.peer, SHUT_WR);
	assert_true(peer_eof(&s, 2000));
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	tserver_stop(&s);
}

static void too_many_fds_are_refused_and_closed(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	struct wire_device_info di = { .argsz = 16 };
	int fds[20];

	(void)state;
	tserver_start(&s, &(struct tserver_opts){ .max_fds = 4 });
	for (int i = 0; i < 20; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   fds, 20, m), -EINVAL);
	/* Fds on a command that takes none: refused too. */
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   fds, 1, m), -EINVAL);
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	tserver_stop(&s); /* vtest checks no fd stayed open anywhere */
	free(m);
}

static void pipelined_requests_are_answered_in_order(void **state)
{
	struct tserver s;
	struct peer_msg *m = newmsg();
	struct wire_region_access a = { .offset = 0, .region = 0, .count = 4 };
	uint16_t ids[200];

	(void)state;
	tserver_start(&s, NULL);
	for (int i = 0; i < 200; i++)
		ids[i] = peer_send(&s, WIRE_CMD_REGION_READ, 0, &a, sizeof(a), NULL, 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(peer_recv(&s, m, 2000), 0);
		assert_int_equal(m->hdr.msg_id, ids[i]);
	}
	tserver_stop(&s);
	free(m);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(version_reply_fits_qemus_buffer),
		VTEST(capabilities_written_back_parse_again),
		VTEST(commands_before_version_are_refused),
		VTEST(bad_capabilities_are_refused_and_retry_works),
		VTEST(wrong_major_version_closes),
		VTEST(wrong_major_reply_arrives_even_when_replies_are_queued),
		VTEST(unknown_commands_get_enosys),
		VTEST(no_reply_means_no_reply_even_for_errors),
		VTEST(stray_replies_and_bad_types_keep_the_stream),
		VTEST(pieces_of_header_and_body),
		VTEST(oversized_message_is_drained_and_refused),
		VTEST(strangers_before_version_are_closed_at_once),
		VTEST(oversized_headers_are_refused_before_their_body),
		VTEST(short_msg_size_disconnects),
		VTEST(eof_inside_a_message_disconnects),
		VTEST(too_many_fds_are_refused_and_closed),
		VTEST(pipelined_requests_are_answered_in_order),
	};

	return vtest_run("engine_proto", tests, argc, argv);
}
