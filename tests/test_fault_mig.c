/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection for migration: a VMM that vanishes at every point of a
 * migration. One well-formed conversation, with both halves of a
 * migration on one device (VERSION, a memfd DMA_MAP, DMA logging started,
 * a device write into guest memory, PRE_COPY and its reads, STOP_COPY and
 * its reads, a dirty report, STOP, RESUMING with a whole valid stream
 * written back in pieces, the load, RUNNING, and a second save left open),
 * is cut after every prefix of its bytes. The server runs on this thread
 * (vus_ctx_run_once), so each cut lands exactly where it is meant to.
 *
 * After every cut: the connection is torn down, the device was told the
 * client is gone (client_lost, never a reset) and resumed as often as it
 * was quiesced, the
 * migration state is RUNNING, no mapping and no fd is left, dirty logging
 * is off (a new client's report is refused), and a new client saves the
 * device and loads it back successfully.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"
#include "test_mig_sections.h"

#define MAX_MSGS 48
#define CONV_MAX 8192
#define STREAM_MAX 8192
#define BIG_SIZE 2048u   /* the pre-copy section */
#define BIG_PART 512u
#define PIECE 700u       /* MIG_DATA_WRITE pieces, not a power of two */
#define RAM 0x100000u    /* the mapped guest memory: 4 pages */
#define RAM_SIZE 0x4000u

#define F_GET 0x10000u
#define F_SET 0x20000u
#define FEAT_STATE 2u
#define FEAT_LOG_START 6u
#define FEAT_LOG_REPORT 8u
#define FEAT_DATA_SIZE 9u

/* The device: a u64 register that migrates, and a pre-copy section. */
struct mdev {
	vus_ctx *ctx;
	struct tmig_state m;   /* "counter" and "big" (pre-copy) */
	uint8_t big[BIG_SIZE];
	int quiesced;          /* quiesce calls minus resumes */
	unsigned int resets;
	enum vus_reset_reason last_reset;
	unsigned int client_losts;
	enum vus_mig_state last_to;
};

struct conv_msg {
	size_t start;
	size_t len;
	bool memfd;
};

struct conv {
	uint8_t bytes[CONV_MAX];
	size_t len;
	struct conv_msg msg[MAX_MSGS];
	unsigned int n;
};

static struct mdev d;
static struct tserver s; /* only its raw peer: ctx and peer fd */
static struct peer_msg *m;
static struct conv conv;
static uint8_t stream[STREAM_MAX];
static size_t stream_len;

static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

static int quiesce(vus_ctx *ctx, void *o)
{
	((struct mdev *)o)->quiesced++;
	return 0;
}

static void resume(vus_ctx *ctx, void *o)
{
	((struct mdev *)o)->quiesced--;
}

static int reset(vus_ctx *ctx, void *o, enum vus_reset_reason why)
{
	struct mdev *dv = o;

	dv->resets++;
	dv->last_reset = why;
	dv->m.big_sent = 0;
	return 0;
}

static void client_lost(vus_ctx *ctx, void *o)
{
	((struct mdev *)o)->client_losts++;
}

static void state_changed(vus_ctx *ctx, void *o, enum vus_mig_state from,
			  enum vus_mig_state to)
{
	struct mdev *dv = o;

	dv->last_to = to;
	if (to != VUS_MIG_PRE_COPY && to != VUS_MIG_STOP_COPY)
		dv->m.big_sent = 0; /* a new save session starts from scratch */
}

/* BAR 0: offset 0 takes an address the device writes 8 bytes to (DMA);
 * offset 8 is the counter. */
static int bar_write(vus_ctx *ctx, void *o, uint64_t off, const void *buf,
		     size_t len)
{
	struct mdev *dv = o;
	uint64_t v;

	if (len != 8)
		return -EINVAL;
	memcpy(&v, buf, 8);
	if (off == 8) {
		dv->m.counter = v;
		return 0;
	}
	return vus_dma_write(dv->ctx, v, "written!", 8);
}

static int bar_read(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	struct mdev *dv = o;

	memset(buf, 0, len);
	if (off == 8 && len == 8)
		memcpy(buf, &dv->m.counter, 8);
	return 0;
}

static void dev_create(void)
{
	static const struct vus_region_ops bar_ops = {
		.struct_size = sizeof(bar_ops), .read = bar_read,
		.write = bar_write };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI, .opaque = &d };
	struct vus_pci_info id = { .struct_size = sizeof(id), .vendor_id = 0xcafe,
				   .device_id = 0x0f17, .interrupt_pin = 1 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 0x1000,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &bar_ops,
		.opaque = &d };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = 1, .pre_copy = true };
	struct vus_device_ops ops = { .struct_size = sizeof(ops), .reset = reset,
				      .quiesce = quiesce, .resume = resume,
				      .client_lost = client_lost };

	memset(&d, 0, sizeof(d));
	for (unsigned int i = 0; i < BIG_SIZE; i++)
		d.big[i] = (uint8_t)(i * 7);
	d.m = (struct tmig_state){ .big = d.big, .big_size = BIG_SIZE,
				   .big_part = BIG_PART };
	assert_int_equal(vus_ctx_create(&cfg, &d.ctx), 0);
	vus_ctx_set_log(d.ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(d.ctx, &id), 0);
	assert_int_equal(vus_pci_setup_bar(d.ctx, 0, 0, &bar), 0);
	assert_int_equal(vus_mig_setup(d.ctx, &mc), 0);
	tmig_add_sections(d.ctx, &d.m);
	assert_int_equal(vus_mig_set_state_cb(d.ctx, state_changed, &d), 0);
	assert_int_equal(vus_ctx_set_device_ops(d.ctx, &ops, &d), 0);
	assert_int_equal(vus_ctx_realize(d.ctx), 0);
	s.ctx = d.ctx;
	s.peer = -1;
}

/* Let the server handle what is ready (it runs on this thread). */
static void serve(int rounds)
{
	for (int i = 0; i < rounds; i++)
		if (vus_ctx_run_once(d.ctx, 0) == 0)
			break;
}

static void connect_client(void)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vus_ctx_attach_fd(d.ctx, sv[0]), 0);
	s.peer = sv[1];
	s.next_id = 1;
}

/* Hang up; run the server until its teardown has told the device. */
static void hang_up_and_wait(unsigned int gone_before)
{
	close(s.peer);
	s.peer = -1;
	for (int i = 0; i < 1000; i++) {
		if (d.client_losts > gone_before && !vus_ctx_has_client(d.ctx)) {
			assert_int_equal(d.client_losts, gone_before + 1);
			return;
		}
		(void)vus_ctx_run_once(d.ctx, 1);
	}
	fail_msg("the server never tore the connection down");
}

static int memfd_ram(void)
{
	int fd = memfd_create("mig-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, RAM_SIZE), 0);
	return fd;
}

/*
 * A request and its reply, the server pumped meanwhile: 0 or -errno.
 * @fd (or -1) goes with the request and is closed here.
 */
static int call(uint16_t cmd, const void *p, size_t len, int fd)
{
	uint16_t id = peer_send(&s, cmd, 0, p, len, &fd, fd >= 0 ? 1 : 0);

	if (fd >= 0)
		close(fd);

	for (int i = 0; i < 1000; i++) {
		serve(8);
		if (peer_recv(&s, m, 0) == 0)
			break;
	}
	peer_msg_close_fds(m);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.cmd, cmd);
	return (m->hdr.flags & WIRE_F_ERROR) ? -(int)m->hdr.error : 0;
}

/* DEVICE_FEATURE payloads. */
static size_t feat(uint8_t *buf, uint32_t flags, uint32_t argsz,
		   const void *p, size_t n)
{
	struct wire_feature f = { .argsz = argsz, .flags = flags };

	memcpy(buf, &f, sizeof(f));
	if (n > 0)
		memcpy(buf + sizeof(f), p, n);
	return sizeof(f) + n;
}

static size_t feat_state(uint8_t *buf, uint32_t st)
{
	uint32_t v[2] = { st, 0 };

	return feat(buf, F_SET | FEAT_STATE, 16, v, sizeof(v));
}

static size_t feat_log_start(uint8_t *buf)
{
	uint8_t q[16 + 16] = { 0 };
	uint64_t r[2] = { RAM, RAM_SIZE }, ps = 4096;
	uint32_t one = 1;

	memcpy(q, &ps, 8);
	memcpy(q + 8, &one, 4);
	memcpy(q + 16, r, 16);
	return feat(buf, F_SET | FEAT_LOG_START, 8 + sizeof(q), q, sizeof(q));
}

static size_t feat_report(uint8_t *buf)
{
	uint64_t q[3] = { RAM, RAM_SIZE, 4096 };

	return feat(buf, F_GET | FEAT_LOG_REPORT, 8 + 24 + 8, q, sizeof(q));
}

static size_t mig_read_req(uint8_t *buf, uint32_t size)
{
	uint32_t q[2] = { 8 + size, size };

	memcpy(buf, q, sizeof(q));
	return sizeof(q);
}

static int set_state(uint32_t st)
{
	uint8_t buf[16];

	return call(WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, st), -1);
}

static void negotiate(void)
{
	uint8_t v[4 + sizeof(qemu_json)] = { 0 };

	memcpy(v + 4, qemu_json, sizeof(qemu_json));
	assert_int_equal(call(WIRE_CMD_VERSION, v, sizeof(v), -1), 0);
}

/* STOP_COPY, every byte of the stream, STOP: the stream into @out. */
static size_t save_all(uint8_t *out, size_t cap)
{
	size_t len = 0;
	uint8_t req[8];

	assert_int_equal(set_state(VUS_MIG_STOP_COPY), 0);
	for (;;) {
		uint32_t q[2];

		assert_int_equal(call(WIRE_CMD_MIG_DATA_READ, req,
				      mig_read_req(req, 1024), -1), 0);
		memcpy(q, m->payload, sizeof(q));
		if (q[1] == 0)
			break;
		assert_true(q[1] <= cap - len);
		memcpy(out + len, m->payload + 8, q[1]);
		len += q[1];
	}
	assert_int_equal(set_state(VUS_MIG_STOP), 0);
	return len;
}

/* RESUMING, the stream in pieces, then RUNNING: 0 or the refusal. */
static int load_all(const uint8_t *p, size_t len)
{
	uint8_t buf[8 + PIECE];
	int ret = set_state(VUS_MIG_RESUMING);

	for (size_t off = 0; ret == 0 && off < len; off += PIECE) {
		uint32_t n = (uint32_t)MIN((size_t)PIECE, len - off);
		uint32_t q[2] = { 8 + n, n };

		memcpy(buf, q, 8);
		memcpy(buf + 8, p + off, n);
		ret = call(WIRE_CMD_MIG_DATA_WRITE, buf, 8 + n, -1);
	}
	return ret ? ret : set_state(VUS_MIG_RUNNING);
}

static void add(struct conv *c, uint16_t cmd, const void *p, size_t len,
		bool memfd)
{
	struct wire_hdr h = { .msg_id = (uint16_t)(c->n + 1), .cmd = cmd,
			      .msg_size = (uint32_t)(16 + len) };

	assert_true(c->n < MAX_MSGS && c->len + 16 + len <= CONV_MAX);
	c->msg[c->n++] = (struct conv_msg){ .start = c->len, .len = 16 + len,
					    .memfd = memfd };
	memcpy(c->bytes + c->len, &h, 16);
	if (len > 0)
		memcpy(c->bytes + c->len + 16, p, len);
	c->len += 16 + len;
}

static void add_write(struct conv *c, uint64_t off, uint64_t v)
{
	struct wire_region_access a = { .offset = off, .region = 0, .count = 8 };
	uint8_t buf[16 + 8];

	memcpy(buf, &a, 16);
	memcpy(buf + 16, &v, 8);
	add(c, WIRE_CMD_REGION_WRITE, buf, sizeof(buf), false);
}

static void build_conversation(struct conv *c)
{
	struct wire_dma_map map = { .argsz = 32, .flags = 3, .addr = RAM,
				    .size = RAM_SIZE };
	uint8_t v[4 + sizeof(qemu_json)] = { 0 };
	uint8_t buf[8 + PIECE];

	memset(c, 0, sizeof(*c));
	memcpy(v + 4, qemu_json, sizeof(qemu_json));
	add(c, WIRE_CMD_VERSION, v, sizeof(v), false);
	add(c, WIRE_CMD_DMA_MAP, &map, sizeof(map), true);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_log_start(buf), false);
	add_write(c, 0, RAM + 0x1000);          /* the device writes page 1 */
	add_write(c, 8, 0x1111);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_PRE_COPY), false);
	for (int i = 0; i < 3; i++)
		add(c, WIRE_CMD_MIG_DATA_READ, buf, mig_read_req(buf, 600), false);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf,
	    feat(buf, F_GET | FEAT_DATA_SIZE, 16, NULL, 0), false);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_STOP_COPY), false);
	for (int i = 0; i < 3; i++)
		add(c, WIRE_CMD_MIG_DATA_READ, buf, mig_read_req(buf, 1024), false);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_report(buf), false);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_STOP), false);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_RESUMING), false);
	for (size_t off = 0; off < stream_len; off += PIECE) {
		uint32_t n = (uint32_t)MIN((size_t)PIECE, stream_len - off);
		uint32_t q[2] = { 8 + n, n };

		memcpy(buf, q, 8);
		memcpy(buf + 8, stream + off, n);
		add(c, WIRE_CMD_MIG_DATA_WRITE, buf, 8 + n, false);
	}
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_STOP), false);
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_RUNNING), false);
	/* A second save, left open when the conversation ends. */
	add(c, WIRE_CMD_DEVICE_FEATURE, buf, feat_state(buf, VUS_MIG_STOP_COPY), false);
	add(c, WIRE_CMD_MIG_DATA_READ, buf, mig_read_req(buf, 256), false);
}

/* The stream the conversation writes back: the device saved with 0x2222. */
static void record_stream(void)
{
	unsigned int gone = d.client_losts;

	connect_client();
	negotiate();
	d.m.counter = 0x2222;
	stream_len = save_all(stream, sizeof(stream));
	hang_up_and_wait(gone);
}

static int setup(void **state)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	vtest_setup(state);
	dev_create();
	record_stream();
	build_conversation(&conv);
	return 0;
}

static int teardown(void **state)
{
	if (s.peer >= 0)
		close(s.peer);
	s.peer = -1;
	vus_ctx_destroy(d.ctx);
	free(m);
	return vtest_teardown(state);
}

/* Send @len bytes of message @cm, its fds with the first byte. */
static void send_part(const struct conv_msg *cm, size_t len)
{
	int fd = cm->memfd ? memfd_ram() : -1;

	peer_send_raw(&s, conv.bytes + cm->start, len, &fd, fd >= 0 ? 1 : 0);
	if (fd >= 0)
		close(fd); /* what stays open is the server's */
}

/* Connect and send the first @cut bytes, the server keeping up. */
static void send_prefix(size_t cut)
{
	connect_client();
	for (unsigned int i = 0; i < conv.n && conv.msg[i].start < cut; i++) {
		const struct conv_msg *cm = &conv.msg[i];

		send_part(cm, MIN(cm->len, cut - cm->start));
		serve(8);
		/* Read and drop replies so that none of them blocks. */
		while (peer_recv(&s, m, 0) == 0)
			peer_msg_close_fds(m);
	}
}

/* Everything back to a clean, running device. */
static void assert_clean(int fds_before)
{
	assert_int_equal(vus_mig_state(d.ctx), VUS_MIG_RUNNING);
	assert_int_equal(d.quiesced, 0);
	/* Kept, not reset: nobody resets this device but a DEVICE_RESET. */
	assert_int_equal(d.resets, 0);
	assert_int_equal(vus_dma_nr_regions(d.ctx), 0);
	assert_int_equal(vtest_count_fds(), fds_before);
}

/*
 * A new client: logging is off (its report is refused), and it saves the
 * device and loads the saved stream back.
 */
static void next_client_migrates(void)
{
	static uint8_t saved[STREAM_MAX];
	struct wire_dma_map map = { .argsz = 32, .flags = 3, .addr = RAM,
				    .size = RAM_SIZE };
	unsigned int gone = d.client_losts;
	uint8_t buf[64];
	size_t len;

	connect_client();
	negotiate();
	assert_int_equal(call(WIRE_CMD_DMA_MAP, &map, sizeof(map), memfd_ram()), 0);
	assert_int_equal(call(WIRE_CMD_DEVICE_FEATURE, buf, feat_report(buf), -1),
			 -EINVAL);
	d.m.counter = 0x3333;
	len = save_all(saved, sizeof(saved));
	d.m.counter = 0;
	assert_int_equal(load_all(saved, len), 0);
	assert_int_equal(d.m.counter, 0x3333);
	assert_int_equal(d.last_to, VUS_MIG_RUNNING);
	hang_up_and_wait(gone);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Cut after every byte; print how long it took. */
static void cut_everywhere(void)
{
	int fds_before = vtest_count_fds();
	unsigned int cuts = 0;
	double t0 = now_s();

	for (size_t cut = 0; cut <= conv.len; cut++) {
		unsigned int gone = d.client_losts;

		send_prefix(cut);
		if (cut == conv.len) {
			/* All of it: loaded, then saving again. */
			assert_int_equal(vus_mig_state(d.ctx), VUS_MIG_STOP_COPY);
			assert_int_equal(d.m.counter, 0x2222);
			assert_int_equal(d.quiesced, 1);
		}
		hang_up_and_wait(gone);
		assert_clean(fds_before);
		next_client_migrates();
		assert_clean(fds_before);
		cuts++;
	}
	print_message("%u cuts of %zu bytes (%u messages) in %.2f s\n", cuts,
		      conv.len, conv.n, now_s() - t0);
}

static void vmm_vanishes_after_every_byte_of_a_migration(void **state)
{
	(void)state;
	cut_everywhere();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			vmm_vanishes_after_every_byte_of_a_migration, setup,
			teardown),
	};

	return vtest_run("fault_mig", tests, argc, argv);
}
