/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade, what moves with the device: a served device handed to
 * another context (the "new process") over a socketpair, both in this
 * process so every step can be watched. The raw peer is the client: it
 * never learns a hand-over happened. What it set up (negotiated caps, DMA
 * mappings, interrupt eventfds and masks, region memory it wrote, device
 * registers, doorbells) is the new context's, and so are the device's
 * own fds; DMA files are kept once each, and bounded.
 */
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dma_table.h"
#include "ho.h"
#include "test_handover_util.h"

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
	assert_int_equal(peer_region_rw(&o, 0, 0, "handover", 8, true, m), 0);
	assert_int_equal(peer_region_rw(&o, 1, 0x9000, "abcd", 4, true, m), 0);
	assert_int_equal(hand_over(&o, &n), 0);
	move_client(&o, &n);
	/* The device's state, its memory and the client's mappings. */
	assert_int_equal(peer_region_rw(&n, 0, 0, buf, 8, false, m), 0);
	assert_memory_equal(buf, "handover", 8);
	assert_int_equal(peer_region_rw(&n, 1, 0x9000, buf, 4, false, m), 0);
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
	assert_int_equal(peer_region_rw(&o, 1, 0x9000, "save", 4, true, m), 0);
	late_mem = vus_region_mem(o.ctx, 1);
	assert_non_null(late_mem);
	ho_fault_hook = store_late;
	assert_int_equal(hand_over(&o, &n), 0);
	ho_fault_hook = NULL;
	move_client(&o, &n);
	assert_int_equal(peer_region_rw(&n, 1, 0x9000, buf, 4, false, m), 0);
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		HO_TEST(the_client_session_goes_on),
		HO_TEST(adopted_memory_keeps_a_late_store),
		HO_TEST(a_kick_the_old_device_never_served_is_given_again),
		HO_TEST(a_doorbell_rung_during_the_hand_over_is_passed_on),
		HO_TEST(the_devices_fds_go_along),
		HO_TEST(dma_files_are_kept_once_and_bounded),
	};

	return vtest_run("handover_session", tests, argc, argv);
}
