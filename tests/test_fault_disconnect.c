/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection: a client that vanishes at every point. One well-formed
 * conversation (VERSION, DMA_MAP with and without an fd, SET_IRQS binding
 * trigger and unmask eventfds, region I/O and a doorbell, then DMA_UNMAP
 * and DEVICE_RESET, which a busy device holds with -EBUSY) is cut after
 * every prefix of its bytes, including right after the first byte that
 * carried fds. The server runs on this thread (vus_ctx_run_once), so each
 * cut lands exactly where it is meant to.
 *
 * After every cut the server must tear down: the device told the client
 * is gone (client_lost; with VUS_CTX_RESET_ON_DISCONNECT a reset with
 * VUS_RESET_DISCONNECT instead), every mapping reported unmapped and gone,
 * every eventfd the client sent closed (the process's fd count is back to
 * where it was), and the next client on the listening socket served.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"

#define MAX_MSGS 16
#define CONV_MAX 2048

/* One message of the conversation and the fds it carries. */
struct conv_msg {
	size_t start;
	size_t len;
	unsigned int neventfds;
	bool memfd;
};

struct conv {
	uint8_t bytes[CONV_MAX];
	size_t len;
	struct conv_msg msg[MAX_MSGS];
	unsigned int n;
};

static struct peer_msg *m;
static struct tserver s;
static const char *path;
static struct conv conv;

static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

static void add(struct conv *c, uint16_t cmd, const void *p, size_t len,
		unsigned int neventfds, bool memfd)
{
	struct wire_hdr h = { .msg_id = (uint16_t)(c->n + 1), .cmd = cmd,
			      .msg_size = (uint32_t)(16 + len) };

	assert_true(c->n < MAX_MSGS && c->len + 16 + len <= CONV_MAX);
	c->msg[c->n++] = (struct conv_msg){ .start = c->len, .len = 16 + len,
					    .neventfds = neventfds,
					    .memfd = memfd };
	memcpy(c->bytes + c->len, &h, 16);
	if (len > 0)
		memcpy(c->bytes + c->len + 16, p, len);
	c->len += 16 + len;
}

static void add_set_irqs(struct conv *c, uint32_t flags, uint32_t index,
			 uint32_t count)
{
	struct wire_irq_set q = { .argsz = 20, .flags = flags, .index = index,
				  .start = 0, .count = count };

	add(c, WIRE_CMD_DEVICE_SET_IRQS, &q, sizeof(q), count, false);
}

static void build_conversation(struct conv *c)
{
	uint8_t version[4 + sizeof(qemu_json)] = { 0 };
	struct wire_dma_map map_fd = { .argsz = 32, .flags = 3, .addr = 0x100000,
				       .size = 0x4000 };
	struct wire_dma_map map_msg = { .argsz = 32, .flags = 3, .addr = 0x200000,
					.size = 0x1000 };
	struct wire_dma_unmap unmap = { .argsz = 24, .addr = 0x100000,
					.size = 0x4000 };
	struct wire_region_access rd = { .offset = 0, .region = 1, .count = 64 };
	uint8_t wr[20] = { 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4 };
	uint8_t bell[20] = { 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4 };
	struct wire_device_info di = { .argsz = 16 };

	memset(c, 0, sizeof(*c));
	memcpy(version + 4, qemu_json, sizeof(qemu_json));
	add(c, WIRE_CMD_VERSION, version, sizeof(version), 0, false);
	add(c, WIRE_CMD_DMA_MAP, &map_fd, sizeof(map_fd), 0, true);
	add(c, WIRE_CMD_DMA_MAP, &map_msg, sizeof(map_msg), 0, false);
	add_set_irqs(c, WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD, 1, 4);
	add_set_irqs(c, WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD, 0, 1);
	add_set_irqs(c, WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_EVENTFD, 0, 1);
	add(c, WIRE_CMD_REGION_WRITE, wr, sizeof(wr), 0, false);
	add(c, WIRE_CMD_REGION_READ, &rd, sizeof(rd), 0, false);
	add(c, WIRE_CMD_REGION_WRITE, bell, sizeof(bell), 0, false);
	add(c, WIRE_CMD_DMA_UNMAP, &unmap, sizeof(unmap), 0, false);
	add(c, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di), 0, false);
	add(c, WIRE_CMD_DEVICE_RESET, NULL, 0, 0, false);
}

static int setup_opts(void **state, bool busy, bool reset)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	vtest_setup(state);
	path = vtest_sock_path("cut");
	tserver_start(&s, &(struct tserver_opts){ .listen_path = path,
						   .no_thread = true,
						   .with_quiesce = busy,
						   .reset_on_disconnect = reset });
	s.dev.quiesce_busy = busy;
	build_conversation(&conv);
	return 0;
}

static int setup(void **state)
{
	return setup_opts(state, false, false);
}

static int setup_busy(void **state)
{
	return setup_opts(state, true, false);
}

static int setup_reset(void **state)
{
	return setup_opts(state, false, true);
}

/* One teardown's mark: what the device sees when a client goes. */
static unsigned int gone_count(void)
{
	return s.dev.client_losts + s.dev.disconnect_resets;
}

static int teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

/* Let the server handle what is ready (it runs on this thread). */
static void serve(int rounds)
{
	for (int i = 0; i < rounds; i++)
		if (vus_ctx_run_once(s.ctx, 0) == 0)
			break;
}

/* Send @len bytes of message @i from @from, with its fds on byte 0. */
static void send_part(const struct conv_msg *cm, size_t from, size_t len)
{
	int fds[8];
	unsigned int n = 0;

	if (from == 0) {
		for (; n < cm->neventfds; n++)
			fds[n] = eventfd(0, EFD_CLOEXEC);
		if (cm->memfd) {
			fds[n] = memfd_create("cut-ram", MFD_CLOEXEC);
			assert_int_equal(ftruncate(fds[n++], 0x4000), 0);
		}
	}
	peer_send_raw(&s, conv.bytes + cm->start + from, len, fds, n);
	/* Ours are closed at once: what stays open is the server's. */
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

/* Connect and send the first @cut bytes, the server keeping up. */
static void send_prefix(size_t cut)
{
	peer_connect(&s, path, false);
	serve(4); /* accept */
	for (unsigned int i = 0; i < conv.n && conv.msg[i].start < cut; i++) {
		const struct conv_msg *cm = &conv.msg[i];
		size_t len = MIN(cm->len, cut - cm->start);

		/* Header bytes one at a time near the cut: pieces too. */
		send_part(cm, 0, len);
		serve(8);
		/* Read and drop replies so that none of them blocks. */
		while (peer_recv(&s, m, 0) == 0)
			peer_msg_close_fds(m);
	}
}

/* Hang up; run the server (confirming quiesces late, as a device with
 * threads would) until its teardown told (or reset) the device. */
static void hang_up_and_wait(unsigned int gone_before)
{
	close(s.peer);
	s.peer = -1;
	for (int i = 0; i < 1000; i++) {
		if (gone_count() > gone_before && !vus_ctx_has_client(s.ctx)) {
			assert_int_equal(gone_count(), gone_before + 1);
			return;
		}
		if (vus_ctx_run_once(s.ctx, 1) == 0 && s.dev.quiesce_busy)
			vus_ctx_quiesced(s.ctx);
	}
	fail_msg("the server never tore the connection down");
}

static void assert_clean(int fds_before)
{
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	assert_int_equal(s.dev.unmaps, s.dev.maps);
	for (uint32_t v = 0; v < 4; v++)
		assert_false(vus_irq_is_bound(s.ctx, 1, v));
	assert_false(vus_irq_is_bound(s.ctx, 0, 0));
	assert_int_equal(vtest_count_fds(), fds_before);
}

/* A new client negotiates and is answered; then it leaves too. */
static void next_client_is_served(void)
{
	struct wire_device_info di = { .argsz = 16 };
	unsigned int gone = gone_count();
	bool busy = s.dev.quiesce_busy;
	uint16_t id;

	s.dev.quiesce_busy = false;
	send_prefix(conv.msg[1].start); /* just the VERSION */
	id = peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0);
	for (long long end = vtest_deadline(1000);
	     peer_recv(&s, m, 0) == -ETIMEDOUT && !vtest_expired(end);)
		(void)vus_ctx_run_once(s.ctx, 1);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	hang_up_and_wait(gone);
	s.dev.quiesce_busy = busy;
}

static void cut_everywhere(void)
{
	int fds_before = vtest_count_fds();

	for (size_t cut = 0; cut <= conv.len; cut++) {
		unsigned int gone = gone_count();

		send_prefix(cut);
		hang_up_and_wait(gone);
		assert_clean(fds_before);
		next_client_is_served();
		assert_clean(fds_before);
	}
}

static void client_vanishes_after_every_byte(void **state)
{
	(void)state;
	cut_everywhere();
}

static void client_vanishes_while_the_device_is_busy(void **state)
{
	(void)state;
	cut_everywhere();
	/* The busy device was asked, and each connection ended quiesced. */
	assert_true(s.dev.quiesces > conv.len);
}

/* The opt-in: every teardown resets the device instead of telling it. */
static void client_vanishes_after_every_byte_with_reset(void **state)
{
	(void)state;
	cut_everywhere();
	assert_int_equal(s.dev.client_losts, 0);
	assert_int_equal(s.dev.disconnect_resets, 2 * (conv.len + 1));
}

/* The cut lands right after the first byte of each fd-carrying message:
 * the fds are in the server, the message is not. */
static void client_vanishes_right_after_its_fds(void **state)
{
	int fds_before = vtest_count_fds();

	(void)state;
	for (unsigned int i = 0; i < conv.n; i++) {
		unsigned int gone = gone_count();

		if (conv.msg[i].neventfds == 0 && !conv.msg[i].memfd)
			continue;
		send_prefix(conv.msg[i].start + 1);
		hang_up_and_wait(gone);
		assert_clean(fds_before);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(client_vanishes_after_every_byte,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			client_vanishes_while_the_device_is_busy, setup_busy,
			teardown),
		cmocka_unit_test_setup_teardown(client_vanishes_right_after_its_fds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			client_vanishes_after_every_byte_with_reset, setup_reset,
			teardown),
	};

	return vtest_run("fault_disconnect", tests, argc, argv);
}
