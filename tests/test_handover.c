/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade: a served device handed to another context (the "new
 * process") over a socketpair, both in this process so every step can be
 * watched. The raw peer is the client: it never learns a hand-over
 * happened. What it set up (negotiated caps, DMA mappings, interrupt
 * eventfds and masks, region memory it wrote, device registers) is the new
 * context's, its message ids go on, a message it had half sent is
 * finished there, and the listening socket with its backlog moves too.
 * Refusals leave the old context serving as if nothing happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dma_table.h"
#include "ho.h"
#include "tserver.h"
#include "vtest.h"

#define RAM 0x100000u
#define RAM_SIZE 0x4000u

static struct peer_msg *m;
static const char *path;

static int setup(void **state)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	path = vtest_sock_path("ho");
	return vtest_setup(state);
}

static int teardown(void **state)
{
	free(m);
	return vtest_teardown(state);
}

static int set_irqs(struct tserver *s, uint32_t flags, uint32_t index,
		    uint32_t count, const int *fds, unsigned int nfds)
{
	struct wire_irq_set q = { .argsz = sizeof(q), .flags = flags,
				  .index = index, .count = count };

	return peer_call(s, WIRE_CMD_DEVICE_SET_IRQS, &q, sizeof(q), fds, nfds, m);
}

static void bind_triggers(struct tserver *s, uint32_t index, int *fds,
			  unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(set_irqs(s, WIRE_IRQ_ACTION_TRIGGER |
				  WIRE_IRQ_DATA_EVENTFD, index, n, fds, n), 0);
}

static uint64_t events(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

/* Guest RAM: a memfd we map too, granted at RAM. */
static uint8_t *grant_ram(struct tserver *s, int *fd)
{
	struct wire_dma_map q = { .argsz = sizeof(q), .flags = 3, .addr = RAM,
				  .size = RAM_SIZE };
	void *p;

	*fd = memfd_create("ho-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(*fd, RAM_SIZE), 0);
	p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(peer_call(s, WIRE_CMD_DMA_MAP, &q, sizeof(q), fd, 1, m), 0);
	return p;
}

static int region_rw(struct tserver *s, uint32_t region, uint64_t off,
		     void *buf, uint32_t len, bool write)
{
	uint8_t req[sizeof(struct wire_region_access) + 64];
	struct wire_region_access a = { .offset = off, .region = region,
					.count = len };
	int ret;

	memcpy(req, &a, sizeof(a));
	if (write)
		memcpy(req + sizeof(a), buf, len);
	ret = peer_call(s, write ? WIRE_CMD_REGION_WRITE : WIRE_CMD_REGION_READ,
			req, sizeof(a) + (write ? len : 0), NULL, 0, m);
	if (ret == 0 && !write) {
		assert_int_equal(m->len, sizeof(a) + len);
		memcpy(buf, m->payload + sizeof(a), len);
	}
	return ret;
}

static void no_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

static const struct vus_takeover_config quiet = {
	.struct_size = sizeof(quiet), .log = no_log,
};

/*
 * Hand @o's device to @n over a socketpair: @o serves the request from its
 * own thread, this thread takes it over into @n. Returns what
 * vus_ctx_take_over() (or vus_takeover_begin_fd()) said.
 */
static int hand_over(struct tserver *o, struct tserver *n)
{
	struct vus_takeover_config cfg = quiet;
	vus_takeover *tk;
	int sv[2], ret;

	cfg.timeout_ms = (uint32_t)vtest_ms(10000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tserver_pause(o);
	assert_int_equal(vus_ctx_handover_serve_fd(o->ctx, sv[0]), 0);
	tserver_resume(o);
	ret = vus_takeover_begin_fd(sv[1], &cfg, &tk);
	return ret < 0 ? ret : vus_ctx_take_over(n->ctx, tk);
}

/* After a hand-over: the client is @n's; @o stopped by itself. */
static void move_client(struct tserver *o, struct tserver *n)
{
	assert_int_equal(tserver_join(o), 0);
	assert_true(vus_ctx_handed_over(o->ctx));
	n->peer = o->peer;
	n->next_id = o->next_id;
	o->peer = -1;
	tserver_resume(n);
}

static const struct tserver_opts old_opts = {
	.with_migration = true, .with_quiesce = true,
};

static void start_pair(struct tserver *o, struct tserver *n,
		       const struct tserver_opts *nopts)
{
	struct tserver_opts no = nopts ? *nopts : old_opts;
	struct tserver_opts oo = old_opts;

	oo.handover_ops = no.handover_ops;

	oo.listen_path = path;
	tserver_start(o, &oo);
	peer_connect(o, path, true);
	no.no_serve = true;
	tserver_start(n, &no);
}

static void the_client_session_goes_on(void **state)
{
	struct tserver o, n;
	int trig[4], line, ram_fd;
	uint8_t *ram, buf[8];

	(void)state;
	start_pair(&o, &n, NULL);
	ram = grant_ram(&o, &ram_fd);
	bind_triggers(&o, 1, trig, 4);
	bind_triggers(&o, 0, &line, 1);
	assert_int_equal(set_irqs(&o, WIRE_IRQ_ACTION_MASK | WIRE_IRQ_DATA_NONE,
				  0, 1, NULL, 0), 0);
	assert_int_equal(region_rw(&o, 0, 0, "handover", 8, true), 0);
	assert_int_equal(region_rw(&o, 1, 0x9000, "abcd", 4, true), 0);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	/* The device's state, its memory and the client's mappings. */
	assert_int_equal(region_rw(&n, 0, 0, buf, 8, false), 0);
	assert_memory_equal(buf, "handover", 8);
	assert_int_equal(region_rw(&n, 1, 0x9000, buf, 4, false), 0);
	assert_memory_equal(buf, "abcd", 4);
	assert_int_equal(n.dev.maps, 1);
	assert_int_equal(vus_dma_write(n.ctx, RAM + 16, "dma!", 4), 0);
	assert_memory_equal(ram + 16, "dma!", 4);
	/* The client's eventfds, and the mask it set. */
	assert_int_equal(vus_irq_trigger(n.ctx, 1, 2), 1);
	assert_int_equal(events(trig[2]), 1);
	assert_int_equal(vus_irq_set_level(n.ctx, 0, 0, true), 0);
	assert_int_equal(events(line), 0);
	assert_int_equal(set_irqs(&n, WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_NONE,
				  0, 1, NULL, 0), 0);
	assert_int_equal(events(line), 1);
	/* The old context lets go of everything, the socket file too. */
	tserver_stop(&o);
	assert_int_equal(access(path, F_OK), 0);
	tserver_stop(&n);
	assert_int_equal(access(path, F_OK), -1);
	for (int i = 0; i < 4; i++)
		close(trig[i]);
	close(line);
	munmap(ram, RAM_SIZE);
	close(ram_fd);
}

static uint8_t *late_mem;

static void store_late(const char *step)
{
	if (strcmp(step, "new.adopted") == 0)
		memcpy(late_mem + 0x9000, "late", 4);
}

/*
 * Memory that migrates (a BAR the library allocated, in "regions") is the
 * same memory in the new process: a client store into its mapping after
 * the old process saved it and before the new one loads the sections is
 * kept, not overwritten by the older saved copy.
 */
static void adopted_memory_keeps_a_late_store(void **state)
{
	struct tserver_opts oo = old_opts, no = old_opts;
	struct tserver o, n;
	uint8_t buf[4];

	(void)state;
	oo.migrate_mem = no.migrate_mem = true;
	oo.listen_path = path;
	tserver_start(&o, &oo);
	peer_connect(&o, path, true);
	no.no_serve = true;
	tserver_start(&n, &no);
	assert_int_equal(region_rw(&o, 1, 0x9000, "save", 4, true), 0);
	late_mem = vus_region_mem(o.ctx, 1);
	assert_non_null(late_mem);
	ho_fault_hook = store_late;
	assert_int_equal(hand_over(&o, &n), 0);
	ho_fault_hook = NULL;
	move_client(&o, &n);
	assert_int_equal(region_rw(&n, 1, 0x9000, buf, 4, false), 0);
	assert_memory_equal(buf, "late", 4);
	tserver_stop(&o);
	tserver_stop(&n);
}

/* The client's end of the device's doorbell (region 0, 0x100). */
static int doorbell_fd(struct tserver *s)
{
	struct wire_io_fds_req q = { .argsz = 16 + 40, .index = 0 };
	int fd;

	assert_int_equal(peer_call(s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), 0);
	assert_int_equal(m->nfds, 1);
	fd = m->fds[0];
	m->nfds = 0;
	return fd;
}

static bool readable(int fd, int ms)
{
	return poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1,
		    ms) == 1;
}

/* Kicks @s's device takes in until it has @want (or the deadline). */
static uint64_t device_kicks(struct tserver *s, uint64_t want)
{
	long long end = vtest_deadline(5000);
	uint64_t got = 0;

	while (got < want && !vtest_expired(end))
		if (readable(s->dev.ioev_fd, 10))
			got += events(s->dev.ioev_fd);
	return got;
}

/*
 * The client rang, the old process passed it on to its device, and the
 * device stopped for the hand-over before serving it: the new process
 * kicks its device once per adopted doorbell, or that ring waits forever.
 */
static void a_kick_the_old_device_never_served_is_given_again(void **state)
{
	struct tserver o, n;
	int db;

	(void)state;
	start_pair(&o, &n, NULL);
	db = doorbell_fd(&o);
	assert_int_equal(eventfd_write(db, 1), 0);
	assert_true(readable(o.dev.ioev_fd, vtest_ms(5000)));
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	assert_int_equal(device_kicks(&n, 1), 1);
	assert_false(readable(n.dev.ioev_fd, 50));
	tserver_stop(&o);
	tserver_stop(&n);
	close(db);
}

static int late_db = -1;

static void ring_late(const char *step)
{
	if (strcmp(step, "old.saved") == 0)
		assert_int_equal(eventfd_write(late_db, 1), 0);
}

/*
 * A doorbell written after the old process stopped reading (its state
 * saved) and before the new one polls: the count waits in the client's
 * eventfd, which moves; the new process passes it on (after its own kick).
 */
static void a_doorbell_rung_during_the_hand_over_is_passed_on(void **state)
{
	struct tserver o, n;

	(void)state;
	start_pair(&o, &n, NULL);
	late_db = doorbell_fd(&o);
	ho_fault_hook = ring_late;
	assert_int_equal(hand_over(&o, &n), 0);
	ho_fault_hook = NULL;
	assert_int_equal(events(o.dev.ioev_fd), 0); /* the old one never saw it */
	move_client(&o, &n);
	assert_int_equal(device_kicks(&n, 2), 2);
	assert_false(readable(late_db, 0)); /* the new process drained it */
	tserver_stop(&o);
	tserver_stop(&n);
	close(late_db);
}

static int get_info(struct tserver *s)
{
	struct wire_device_info di = { .argsz = sizeof(di) };

	return peer_call(s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, m);
}

/* Bytes the peer sent that the server has not read yet. */
static int unread(struct tserver *s)
{
	int n = 0;

	assert_int_equal(ioctl(s->peer, SIOCOUTQ, &n), 0);
	return n;
}

/*
 * A message the old process had half read when it stopped: its header
 * and part of its body were in its buffer. The new process finishes
 * reading it and answers it, under its id.
 */
static void a_half_read_message_is_finished_by_the_new_process(void **state)
{
	struct wire_region_access a = { .offset = 0, .region = 0, .count = 8 };
	uint8_t req[sizeof(a) + 8], buf[8];
	struct wire_hdr h = { .msg_id = 77, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = WIRE_HDR_SIZE + sizeof(req) };
	struct tserver o, n;

	(void)state;
	start_pair(&o, &n, NULL);
	memcpy(req, &a, sizeof(a));
	memcpy(req + sizeof(a), "finished", 8);
	peer_send_raw(&o, &h, sizeof(h), NULL, 0);
	peer_send_raw(&o, req, 10, NULL, 0);
	/* Wait (on the socket, not the clock) until the server took them. */
	while (unread(&o) > 0)
		usleep(1000);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	peer_send_raw(&n, req + 10, sizeof(req) - 10, NULL, 0);
	assert_int_equal(peer_recv(&n, m, vtest_ms(5000)), 0);
	assert_int_equal(m->hdr.msg_id, 77);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(region_rw(&n, 0, 0, buf, 8, false), 0);
	assert_memory_equal(buf, "finished", 8);
	tserver_stop(&o);
	tserver_stop(&n);
}

/*
 * Replies the client has not read yet (more than the old process would
 * buffer: it stopped taking requests) reach it from the new process, in
 * order and whole.
 */
static void unread_replies_move_too(void **state)
{
	enum { N = 96, LEN = 64 << 10 };
	struct wire_region_access a = { .region = 2, .count = LEN };
	struct tserver o, n;
	uint8_t *mem;

	(void)state;
	start_pair(&o, &n, NULL);
	tserver_pause(&o);
	mem = vus_region_mem(o.ctx, 2);
	for (uint32_t i = 0; i < (2u << 20); i++)
		mem[i] = (uint8_t)(i * 13 + i / 4096);
	tserver_resume(&o);
	for (uint32_t i = 0; i < N; i++) {
		a.offset = (uint64_t)(i % 32) * LEN;
		(void)peer_send(&o, WIRE_CMD_REGION_READ, 0, &a, sizeof(a), NULL, 0);
	}
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	mem = vus_region_mem(n.ctx, 2);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(peer_recv(&n, m, vtest_ms(5000)), 0);
		assert_int_equal(m->hdr.msg_id, (uint16_t)(o.next_id - N + i));
		assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
		assert_int_equal(m->len, sizeof(a) + LEN);
		assert_memory_equal(m->payload + sizeof(a),
				    mem + (uint64_t)(i % 32) * LEN, LEN);
	}
	assert_int_equal(get_info(&n), 0);
	tserver_stop(&o);
	tserver_stop(&n);
}

/* A client that comes during the hand-over waits, and the new one serves it. */
static void the_backlog_moves_with_the_listener(void **state)
{
	struct tserver o, n, second = { .peer = -1 };

	(void)state;
	start_pair(&o, &n, NULL);
	peer_connect(&second, path, false); /* waits: one client at a time */
	(void)peer_send(&second, WIRE_CMD_VERSION, 0, "\0\0\0\0{}", 7, NULL, 0);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	assert_int_equal(get_info(&n), 0);
	close(n.peer);
	n.peer = second.peer;
	n.next_id = second.next_id;
	assert_int_equal(peer_recv(&n, m, vtest_ms(5000)), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_VERSION);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(get_info(&n), 0);
	tserver_stop(&o);
	tserver_stop(&n);
}

/* Refused before the old process stopped anything: it never noticed. */
static void assert_old_serves_untouched(struct tserver *o, unsigned int quiesces)
{
	uint8_t buf[8];

	assert_false(vus_ctx_handed_over(o->ctx));
	assert_int_equal(o->dev.quiesces, quiesces);
	assert_int_equal(get_info(o), 0);
	assert_int_equal(region_rw(o, 0, 0, buf, 8, false), 0);
	assert_memory_equal(buf, "original", 8);
}

static void another_compat_version_is_refused(void **state)
{
	struct tserver_opts no = old_opts;
	struct tserver o, n;
	unsigned int q;

	(void)state;
	no.compat = 2;
	start_pair(&o, &n, &no);
	assert_int_equal(region_rw(&o, 0, 0, "original", 8, true), 0);
	q = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -EPROTONOSUPPORT);
	assert_old_serves_untouched(&o, q);
	tserver_stop(&n);
	tserver_stop(&o);
}

static vus_ctx *other_kind_of_device(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id),
				   .vendor_id = 0x1af4, .device_id = 0x10f0 };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = 1 };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_ERR, NULL, NULL);
	assert_int_equal(vus_pci_init(ctx, &id), 0);
	assert_int_equal(vus_mig_setup(ctx, &mc), 0);
	assert_int_equal(vus_ctx_realize(ctx), 0);
	return ctx;
}

static void another_kind_of_device_is_refused(void **state)
{
	struct tserver o, n;
	unsigned int q;

	(void)state;
	start_pair(&o, &n, NULL);
	vus_ctx_destroy(n.ctx);
	n.ctx = other_kind_of_device();
	assert_int_equal(region_rw(&o, 0, 0, "original", 8, true), 0);
	q = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -ENODEV);
	assert_old_serves_untouched(&o, q);
	tserver_stop(&n);
	tserver_stop(&o);
}

/* Without state sections there is nothing to hand over: refused at once. */
static void a_device_without_sections_refuses(void **state)
{
	struct tserver_opts oo = old_opts;
	struct tserver o, n;
	unsigned int q;

	(void)state;
	oo.with_migration = false;
	oo.listen_path = path;
	tserver_start(&o, &oo);
	peer_connect(&o, path, true);
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true });
	assert_int_equal(region_rw(&o, 0, 0, "original", 8, true), 0);
	q = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -EOPNOTSUPP);
	assert_old_serves_untouched(&o, q);
	tserver_stop(&n);
	tserver_stop(&o);
}

/*
 * A stream as a real old process sends it, caught by a new process that
 * gives up afterwards (the old one resumes): its INFO, bytes and fds.
 */
struct capture {
	uint8_t info[1024];
	uint32_t info_len;
	uint8_t *bytes;
	size_t len;
	int fds[64];
	unsigned int nfds;
};

static void recv_msg(struct transport *t, struct msg *msg, uint16_t cmd)
{
	assert_int_equal(ho_recv_wait(t, msg, now_ms() + vtest_ms(10000)), 0);
	assert_int_equal(msg->hdr.cmd, cmd);
}

static void capture(struct tserver *o, struct capture *c)
{
	uint32_t hello = HO_PROTOCOL;
	struct transport *t;
	struct msg msg;
	int sv[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tserver_pause(o);
	assert_int_equal(vus_ctx_handover_serve_fd(o->ctx, sv[0]), 0);
	tserver_resume(o);
	assert_int_equal(ho_chan_open(sv[1], &t), 0);
	assert_int_equal(ho_send(t, HO_MSG_HELLO, &hello, 4, NULL, 0), 0);
	recv_msg(t, &msg, HO_MSG_INFO);
	assert_true(msg.len <= sizeof(c->info));
	memcpy(c->info, msg.payload, msg.len);
	c->info_len = msg.len;
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_START, NULL, 0, NULL, 0), 0);
	for (;;) {
		assert_int_equal(ho_recv_wait(t, &msg, now_ms() + vtest_ms(10000)), 0);
		if (msg.hdr.cmd == HO_MSG_END)
			break;
		assert_int_equal(msg.hdr.cmd, HO_MSG_DATA);
		c->bytes = realloc(c->bytes, c->len + msg.len);
		memcpy(c->bytes + c->len, msg.payload, msg.len);
		c->len += msg.len;
		for (unsigned int i = 0; i < msg.nfds; i++)
			c->fds[c->nfds++] = msg_take_fd(&msg, i);
		msg_release(&msg);
	}
	msg_release(&msg);
	assert_int_equal(ho_send_abort(t, ECANCELED, "caught it"), 0);
	assert_int_equal(ho_flush_wait(t, now_ms() + vtest_ms(10000)), 0);
	transport_destroy(t);
}

static void capture_free(struct capture *c)
{
	free(c->bytes);
	close_fds(c->fds, c->nfds);
}

/* A fake old process that sends what @c holds, as it says. */
struct fake_old {
	pthread_t th;
	int fd;
	const struct capture *c;
	uint16_t verdict;
	char abort_why[HO_WHY_MAX];
};

static void *fake_old_main(void *arg)
{
	struct fake_old *f = arg;
	const struct capture *c = f->c;
	uint8_t end[12];
	uint64_t len = c->len;
	uint32_t nfds = c->nfds;
	struct transport *t;
	struct msg msg;

	assert_int_equal(ho_chan_open(f->fd, &t), 0);
	recv_msg(t, &msg, HO_MSG_HELLO);
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_INFO, c->info, c->info_len, NULL, 0), 0);
	recv_msg(t, &msg, HO_MSG_START);
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_DATA, c->bytes, c->len, c->fds,
				 c->nfds), 0);
	memcpy(end, &len, 8);
	memcpy(end + 8, &nfds, 4);
	assert_int_equal(ho_send(t, HO_MSG_END, end, sizeof(end), NULL, 0), 0);
	/* The verdict: ABORT with the reason, or READY (EOF then commits). */
	f->abort_why[0] = '\0';
	f->verdict = ho_recv_wait(t, &msg, now_ms() + vtest_ms(10000)) == 0
		     ? msg.hdr.cmd : 0;
	if (f->verdict == HO_MSG_ABORT)
		ho_abort_why(&msg, f->abort_why, sizeof(f->abort_why));
	msg_release(&msg);
	transport_destroy(t);
	return NULL;
}

/* Take over from a fake old process that sends @c. */
static int take_from_fake(struct tserver *n, const struct capture *c,
			  struct fake_old *f)
{
	struct vus_takeover_config cfg = quiet;
	vus_takeover *tk;
	int sv[2], ret;

	cfg.timeout_ms = (uint32_t)vtest_ms(10000);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[0];
	f->c = c;
	assert_int_equal(pthread_create(&f->th, NULL, fake_old_main, f), 0);
	ret = vus_takeover_begin_fd(sv[1], &cfg, &tk);
	if (ret == 0)
		ret = vus_ctx_take_over(n->ctx, tk);
	pthread_join(f->th, NULL);
	return ret;
}

/*
 * What a damaged stream gets: refused whole, with the reason sent to the
 * old process, and the new context left unused (nothing listens, no
 * client, no mapping kept).
 */
static void damaged_streams_are_refused(void **state)
{
	struct tserver o, n;
	struct capture c;
	struct fake_old f;
	int dup0;

	(void)state;
	start_pair(&o, &n, NULL);
	{
		int fd;
		uint8_t *ram = grant_ram(&o, &fd);

		munmap(ram, RAM_SIZE);
		close(fd);
	}
	capture(&o, &c);
	assert_int_equal(get_info(&o), 0); /* the old one resumed */
	tserver_stop(&n);

	/* One bit flipped in the middle: the CRC says no. */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	c.bytes[c.len / 2] ^= 0x10;
	assert_int_equal(take_from_fake(&n, &c, &f), -EBADMSG);
	assert_non_null(strstr(f.abort_why, "corrupted"));
	assert_int_equal(vus_dma_nr_regions(n.ctx), 0);
	c.bytes[c.len / 2] ^= 0x10;
	tserver_stop(&n);

	/* Cut short (and END agreeing): refused the same way. */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	c.len -= 9;
	assert_int_equal(take_from_fake(&n, &c, &f), -EBADMSG);
	assert_non_null(strstr(f.abort_why, "truncated"));
	c.len += 9;
	tserver_stop(&n);

	/* The connection's fd replaced by a memfd: not a socket. */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	dup0 = c.fds[1];
	c.fds[1] = memfd_create("not-a-socket", MFD_CLOEXEC);
	assert_int_equal(take_from_fake(&n, &c, &f), -EBADMSG);
	assert_non_null(strstr(f.abort_why, "fd 1 is not a connection"));
	close(c.fds[1]);
	c.fds[1] = dup0;
	assert_int_equal(vus_dma_nr_regions(n.ctx), 0);
	tserver_stop(&n);

	/* And the stream as it was: accepted (then the client is ours). */
	tserver_start(&n, &(struct tserver_opts){ .no_serve = true,
						  .with_migration = true,
						  .with_quiesce = true });
	assert_int_equal(take_from_fake(&n, &c, &f), 0);
	assert_int_equal(f.verdict, HO_MSG_READY);
	assert_int_equal(vus_dma_nr_regions(n.ctx), 1);
	capture_free(&c);
	tserver_stop(&n);
	tserver_stop(&o);
}

/*
 * The new process refuses after the old one had stopped and sent it all
 * (here: a new process that only wanted to look): the old one runs again
 * exactly as before, its device resumed and its migration state RUNNING.
 */
static void a_late_refusal_resumes_the_old_process(void **state)
{
	struct tserver o, n;
	struct capture c;
	uint8_t buf[8];

	(void)state;
	start_pair(&o, &n, NULL);
	assert_int_equal(region_rw(&o, 0, 0, "original", 8, true), 0);
	capture(&o, &c);
	capture_free(&c);
	assert_int_equal(get_info(&o), 0);
	assert_false(vus_ctx_handed_over(o.ctx));
	tserver_pause(&o);
	assert_int_equal(vus_mig_state(o.ctx), VUS_MIG_RUNNING);
	assert_true(o.dev.quiesces > 0);
	assert_int_equal(o.dev.quiesces, o.dev.resumes);
	tserver_resume(&o);
	assert_int_equal(region_rw(&o, 0, 0, buf, 8, false), 0);
	assert_memory_equal(buf, "original", 8);
	tserver_stop(&n);
	tserver_stop(&o);
}

/*
 * A new process that takes everything and then says nothing: after the
 * hand-over timeout the old process resumes and tells it so.
 */
static void a_silent_new_process_times_out(void **state)
{
	uint32_t hello = HO_PROTOCOL;
	struct tserver o, n;
	struct transport *t;
	struct msg msg;
	int sv[2];

	(void)state;
	start_pair(&o, &n, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tserver_pause(&o);
	assert_int_equal(vus_ctx_set_handover_timeout(o.ctx, 300), 0);
	assert_int_equal(vus_ctx_handover_serve_fd(o.ctx, sv[0]), 0);
	tserver_resume(&o);
	assert_int_equal(ho_chan_open(sv[1], &t), 0);
	assert_int_equal(ho_send(t, HO_MSG_HELLO, &hello, 4, NULL, 0), 0);
	recv_msg(t, &msg, HO_MSG_INFO);
	msg_release(&msg);
	assert_int_equal(ho_send(t, HO_MSG_START, NULL, 0, NULL, 0), 0);
	do {
		assert_int_equal(ho_recv_wait(t, &msg, now_ms() + vtest_ms(10000)), 0);
		msg_release(&msg);
	} while (msg.hdr.cmd == HO_MSG_DATA);
	assert_int_equal(msg.hdr.cmd, HO_MSG_END);
	/* Silence; the old process gives up by itself. */
	recv_msg(t, &msg, HO_MSG_ABORT);
	assert_int_equal(msg.hdr.error, ETIMEDOUT);
	msg_release(&msg);
	transport_destroy(t);
	assert_int_equal(get_info(&o), 0);
	assert_false(vus_ctx_handed_over(o.ctx));
	tserver_stop(&n);
	tserver_stop(&o);
}

/* The device's own fds: a back-end socket reaches the new device. */
static int backend[2] = { -1, -1 };
static int taken = -1;

static int put_backend(void *opaque, vus_handover_fds *h)
{
	(void)opaque;
	return vus_handover_put_fd(h, "backend", backend[0], VUS_FD_SOCKET);
}

static int take_backend(void *opaque, vus_handover_fds *h)
{
	(void)opaque;
	taken = vus_handover_take_fd(h, "backend");
	return taken < 0 ? taken : 0;
}

static void the_devices_fds_go_along(void **state)
{
	static const struct vus_handover_ops ops = {
		.struct_size = sizeof(ops), .save_fds = put_backend,
		.load_fds = take_backend,
	};
	struct tserver_opts no = old_opts;
	struct tserver o, n;
	char c = 0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, backend), 0);
	no.handover_ops = &ops;
	start_pair(&o, &n, &no);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	assert_true(taken >= 0);
	assert_int_equal(write(backend[1], "x", 1), 1);
	assert_int_equal(read(taken, &c, 1), 1);
	assert_int_equal(c, 'x');
	close(taken);
	close(backend[0]);
	close(backend[1]);
	tserver_stop(&o);
	tserver_stop(&n);
}

/*
 * One fd per file, however many mappings: ten ranges of one memfd keep
 * one fd. At most DMA_MAX_FILES files are kept; a mapping of one more
 * works, but then the device cannot be handed over, and says why.
 */
static void dma_files_are_kept_once_and_bounded(void **state)
{
	struct wire_dma_map q = { .argsz = sizeof(q), .flags = 3, .size = 0x1000 };
	struct tserver o, n;
	int fd = memfd_create("ho-many", MFD_CLOEXEC), before;
	unsigned int q0;

	(void)state;
	start_pair(&o, &n, NULL);
	assert_int_equal(ftruncate(fd, 0x10000), 0);
	before = vtest_count_fds();
	for (unsigned int i = 0; i < 10; i++) {
		q.addr = 0x100000 + i * 0x1000;
		q.offset = i * 0x1000;
		assert_int_equal(peer_call(&o, WIRE_CMD_DMA_MAP, &q, sizeof(q), &fd, 1, m), 0);
	}
	assert_int_equal(vtest_count_fds(), before + 1);
	close(fd);
	q.offset = 0;
	for (unsigned int i = 0; i < DMA_MAX_FILES; i++) {
		fd = memfd_create("ho-one", MFD_CLOEXEC);
		assert_int_equal(ftruncate(fd, 0x1000), 0);
		q.addr = 0x10000000ull + i * 0x1000ull;
		assert_int_equal(peer_call(&o, WIRE_CMD_DMA_MAP, &q, sizeof(q), &fd, 1, m), 0);
		close(fd);
	}
	/* 256 files kept (the first one included): the last mapping's is not. */
	assert_int_equal(vtest_count_fds(), before + (int)DMA_MAX_FILES - 1);
	q0 = o.dev.quiesces;
	assert_int_equal(hand_over(&o, &n), -EMFILE);
	assert_int_equal(get_info(&o), 0);
	assert_true(o.dev.quiesces > q0); /* it had stopped, and runs again */
	assert_false(vus_ctx_handed_over(o.ctx));
	/* Unmapping the odd one out makes it possible again. */
	{
		struct wire_dma_unmap u = { .argsz = sizeof(u),
			.addr = 0x10000000ull + (DMA_MAX_FILES - 1) * 0x1000ull,
			.size = 0x1000 };

		assert_int_equal(peer_call(&o, WIRE_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, m), 0);
	}
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	assert_int_equal(vus_dma_nr_regions(n.ctx), 10 + DMA_MAX_FILES - 1);
	tserver_stop(&o);
	tserver_stop(&n);
}

/* A 20-byte message (header + 4 bytes) with id @id. */
static void small_msg(uint8_t *p, uint16_t id)
{
	struct wire_hdr h = { .msg_id = id, .cmd = WIRE_CMD_REGION_WRITE,
			      .msg_size = WIRE_HDR_SIZE + 4 };

	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), "body", 4);
}

static void expect_msg(struct transport *t, uint16_t id, unsigned int nfds)
{
	struct msg msg;

	assert_int_equal(transport_recv(t, &msg), 0);
	assert_int_equal(msg.hdr.msg_id, id);
	assert_int_equal(msg.nfds, nfds);
	assert_int_equal(msg.reject, 0);
	for (unsigned int i = 0; i < nfds; i++)
		assert_int_equal(write(msg.fds[i], &(uint64_t){ 1 }, 8), 8);
	msg_release(&msg);
}

/* Restore @in on a dup of @fd with its next fd dup'd: the result. */
static int restore_dup(int fd, const struct transport_limits *lim,
		       struct transport_saved_in in, struct transport **out)
{
	int next = in.next.n ? dup(in.next.fds[0]) : -1;

	in.next.fds = &next;
	return transport_sock_restore(dup(fd), lim, &in, out);
}

/*
 * Input read ahead moves whole: two messages and a third that brought an
 * fd came in one read; the first was handled. The new transport delivers
 * the second and the third with its fd. A saved input this side could
 * not hold at a message boundary is refused, its fds closed.
 */
static void input_read_ahead_moves_whole(void **state)
{
	struct transport_limits lim = { .max_msg_size = 4096, .max_fds = 8 };
	uint8_t two[40], third[20];
	struct iovec v = { .iov_base = third, .iov_len = sizeof(third) };
	struct transport_saved_in in, bad;
	struct transport *a, *b;
	int sv[2], efd = eventfd(0, EFD_CLOEXEC), before;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(transport_sock_create(sv[0], &lim, &a), 0);
	small_msg(two, 1);
	small_msg(two + 20, 2);
	small_msg(third, 3);
	assert_int_equal(write(sv[1], two, sizeof(two)), (ssize_t)sizeof(two));
	assert_int_equal(transport_sendmsg(sv[1], &v, 1, &efd, 1), (ssize_t)sizeof(third));
	expect_msg(a, 1, 0);
	transport_sock_save(a, &in);
	assert_int_equal(in.len, 40);
	assert_true(in.has_next);
	assert_int_equal(in.next_at, 20);
	assert_int_equal(in.next.n, 1);
	before = vtest_count_fds();
	bad = in;
	bad.next_at = 0;
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	bad.next_at = in.len;
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	bad = in;
	bad.skip = 1;
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	bad = in;
	bad.len = 64 * 1024 + 1; /* past the buffer (4096 < 64 KiB) */
	assert_int_equal(restore_dup(sv[0], &lim, bad, &b), -EBADMSG);
	assert_int_equal(vtest_count_fds(), before);
	assert_int_equal(restore_dup(sv[0], &lim, in, &b), 0);
	transport_destroy(a);
	expect_msg(b, 2, 0);
	expect_msg(b, 3, 1);
	assert_int_equal(events(efd), 1);
	transport_destroy(b);
	close(sv[1]);
	close(efd);
}

/* One JSON-RPC call on a new connection to @rpc: the reply line. */
static void rpc_line(const char *rpc, const char *req, char *buf, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", rpc);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < cap && (n == 0 || buf[n - 1] != '\n') &&
	       read(fd, buf + n, 1) == 1)
		n++;
	buf[n] = '\0';
	close(fd);
}

#define HO_REQ(proto) "{\"jsonrpc\":\"2.0\",\"method\":\"vus.handover\"," \
	"\"params\":{\"protocol\":" #proto "},\"id\":7}\n"
#define STATUS_REQ "{\"jsonrpc\":\"2.0\",\"method\":\"query-status\",\"id\":8}\n"

/*
 * Through the management socket, as the samples' --take-over does: the
 * new process calls "vus.handover" at the old one's RPC path, and the
 * management socket moves with the device, so the next process finds it
 * at the same path. The old context's destroy leaves that path; the new
 * one's removes it. A caller speaking another hand-over protocol is
 * refused and the old process serves on.
 */
static void the_management_socket_hands_over_and_moves(void **state)
{
	struct vus_takeover_config cfg = quiet;
	struct tserver o, n;
	vus_takeover *tk;
	char rpc[256], line[4096];

	(void)state;
	/* Not vtest_sock_path(): @path lives in its buffer. */
	snprintf(rpc, sizeof(rpc), "%s.rpc", path);
	start_pair(&o, &n, NULL);
	tserver_pause(&o);
	assert_int_equal(vus_ctx_rpc_listen(o.ctx, rpc), 0);
	tserver_resume(&o);
	rpc_line(rpc, HO_REQ(2), line, sizeof(line));
	assert_non_null(strstr(line, "EPROTONOSUPPORT"));
	assert_int_equal(get_info(&o), 0);
	cfg.timeout_ms = (uint32_t)vtest_ms(10000);
	assert_int_equal(vus_takeover_begin(rpc, &cfg, &tk), 0);
	assert_int_equal(vus_ctx_take_over(n.ctx, tk), 0);
	move_client(&o, &n);
	assert_int_equal(get_info(&n), 0);
	/* The management socket answers from the new context. */
	rpc_line(rpc, STATUS_REQ, line, sizeof(line));
	assert_non_null(strstr(line, "\"result\""));
	tserver_stop(&o);
	assert_int_equal(access(rpc, F_OK), 0);
	rpc_line(rpc, STATUS_REQ, line, sizeof(line));
	assert_non_null(strstr(line, "\"result\""));
	tserver_stop(&n);
	assert_int_equal(access(rpc, F_OK), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_client_session_goes_on,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_half_read_message_is_finished_by_the_new_process,
			setup, teardown),
		cmocka_unit_test_setup_teardown(unread_replies_move_too, setup,
						teardown),
		cmocka_unit_test_setup_teardown(the_backlog_moves_with_the_listener,
						setup, teardown),
		cmocka_unit_test_setup_teardown(another_compat_version_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(another_kind_of_device_is_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_device_without_sections_refuses,
						setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_streams_are_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_late_refusal_resumes_the_old_process, setup, teardown),
		cmocka_unit_test_setup_teardown(a_silent_new_process_times_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(the_devices_fds_go_along, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			dma_files_are_kept_once_and_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(input_read_ahead_moves_whole,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			adopted_memory_keeps_a_late_store, setup, teardown),
		cmocka_unit_test_setup_teardown(
			the_management_socket_hands_over_and_moves, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_kick_the_old_device_never_served_is_given_again,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_doorbell_rung_during_the_hand_over_is_passed_on,
			setup, teardown),
	};

	return vtest_run("handover", tests, argc, argv);
}
