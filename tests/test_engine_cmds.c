/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-command server tests with real bytes: device/region/IRQ info, region
 * access, doorbells, SET_IRQS, WRITE_MULTI and reset; for each, the
 * well-formed case and the inputs that must be refused (short, lying
 * argsz, overflowing offsets, bad indexes, extra fds), followed by a check
 * that the connection still serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"

static struct peer_msg *m;
static struct tserver s;

static int setup(void **state)
{
	m = calloc(1, sizeof(*m));
	vtest_setup(state);
	tserver_start(&s, NULL);
	return 0;
}

static int teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int get_info(struct wire_device_info *out)
{
	struct wire_device_info di = { .argsz = 16 };
	int ret = peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, m);

	if (ret == 0) {
		assert_int_equal(m->len, 16);
		memcpy(out, m->payload, sizeof(*out));
	}
	return ret;
}

static void device_info(void **state)
{
	struct wire_device_info di = { .argsz = 15 };

	(void)state;
	assert_int_equal(get_info(&di), 0);
	assert_int_equal(di.argsz, 16);
	assert_int_equal(di.flags, WIRE_DEV_PLATFORM | WIRE_DEV_RESET);
	assert_int_equal(di.num_regions, 3);
	assert_int_equal(di.num_irqs, 2);
	di.argsz = 15;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, sizeof(di),
				   NULL, 0, m), -EINVAL);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di, 12,
				   NULL, 0, m), -EINVAL);
	assert_int_equal(get_info(&di), 0);
}

static int region_info(uint32_t index, uint32_t argsz)
{
	struct wire_region_info ri = { .argsz = argsz, .index = index };

	return peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri),
			 NULL, 0, m);
}

static void region_info_plain(void **state)
{
	struct wire_region_info ri;

	(void)state;
	assert_int_equal(region_info(0, 32), 0);
	assert_int_equal(m->len, 32);
	assert_int_equal(m->nfds, 0);
	memcpy(&ri, m->payload, sizeof(ri));
	assert_int_equal(ri.argsz, 32);
	assert_int_equal(ri.flags, WIRE_REGION_READ | WIRE_REGION_WRITE);
	assert_int_equal(ri.size, 4096);
	assert_int_equal(ri.cap_offset, 0);
	assert_int_equal(region_info(3, 32), -EINVAL); /* index past the end */
	assert_int_equal(region_info(0xffffffff, 32), -EINVAL);
	assert_int_equal(region_info(0, 31), -EINVAL);  /* argsz too small */
}

static void region_info_sparse_needs_a_second_ask(void **state)
{
	struct wire_region_info ri;
	struct wire_cap_sparse_mmap cap;
	struct wire_sparse_area a[2];
	uint32_t need;
	uint8_t *p;

	(void)state;
	/* First ask with 32, as QEMU does: the fixed part, no chain, no fd. */
	assert_int_equal(region_info(1, 32), 0);
	assert_int_equal(m->len, 32);
	assert_int_equal(m->nfds, 0);
	memcpy(&ri, m->payload, sizeof(ri));
	need = ri.argsz;
	assert_int_equal(need, 32 + 16 + 2 * 16);
	assert_int_equal(ri.flags & WIRE_REGION_CAPS, 0);
	assert_int_equal(ri.cap_offset, 0);
	assert_true(ri.flags & WIRE_REGION_MMAP);
	/* Then with enough room: the chain and the fd. */
	assert_int_equal(region_info(1, need), 0);
	assert_int_equal(m->len, need);
	assert_int_equal(m->nfds, 1);
	memcpy(&ri, m->payload, sizeof(ri));
	assert_true(ri.flags & WIRE_REGION_CAPS);
	assert_int_equal(ri.cap_offset, 32);
	memcpy(&cap, m->payload + 32, sizeof(cap));
	assert_int_equal(cap.hdr.id, WIRE_REGION_CAP_SPARSE_MMAP);
	assert_int_equal(cap.hdr.next, 0);
	assert_int_equal(cap.nr_areas, 2);
	memcpy(a, m->payload + 48, sizeof(a));
	assert_int_equal(a[0].offset, 0);
	assert_int_equal(a[1].offset, 0x8000);
	/* The fd maps the region's memory: the device sees what we write. */
	p = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
		 (off_t)(ri.offset + 0x8000));
	assert_true(p != MAP_FAILED);
	memcpy(p, "mapped", 6);
	assert_memory_equal((uint8_t *)vus_region_mem(s.ctx, 1) + 0x8000, "mapped", 6);
	munmap(p, 0x4000);
	peer_msg_close_fds(m);
}

static int rw(uint16_t cmd, uint32_t region, uint64_t off, void *data,
	      uint32_t count, uint32_t claimed)
{
	uint8_t buf[16 + 256];
	struct wire_region_access a = { .offset = off, .region = region,
					.count = claimed };
	size_t len = sizeof(a) + (cmd == WIRE_CMD_REGION_WRITE ? count : 0);
	int ret;

	memcpy(buf, &a, sizeof(a));
	if (cmd == WIRE_CMD_REGION_WRITE)
		memcpy(buf + 16, data, count);
	ret = peer_call(&s, cmd, buf, len, NULL, 0, m);
	if (ret == 0 && cmd == WIRE_CMD_REGION_READ) {
		assert_int_equal(m->len, 16 + claimed);
		memcpy(data, m->payload + 16, claimed);
	}
	return ret;
}

static void region_access_bounds(void **state)
{
	uint8_t v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, r[8];
	const uint32_t R = WIRE_CMD_REGION_READ, W = WIRE_CMD_REGION_WRITE;

	(void)state;
	assert_int_equal(rw(W, 0, 4088, v, 8, 8), 0);
	assert_int_equal(rw(R, 0, 4088, r, 8, 8), 0);
	assert_memory_equal(r, v, 8);
	assert_int_equal(rw(R, 0, 4089, r, 8, 8), -EINVAL);      /* past the end */
	assert_int_equal(rw(R, 0, UINT64_MAX - 3, r, 8, 8), -EINVAL); /* wraps */
	assert_int_equal(rw(R, 3, 0, r, 8, 8), -EINVAL);         /* no region */
	assert_int_equal(rw(R, 0xffffffff, 0, r, 8, 8), -EINVAL);
	assert_int_equal(rw(W, 0, 0, v, 4, 8), -EINVAL);         /* data != count */
	assert_int_equal(rw(W, 0, 0, v, 8, 4), -EINVAL);
	assert_int_equal(rw(R, 0, 0, r, 0, (2u << 20)), -EINVAL); /* > max xfer */
	assert_int_equal(rw(R, 0, 4096, r, 0, 0), 0);            /* empty at end */
	/* A read carries no data; extra bytes are refused. */
	assert_int_equal(peer_call(&s, R, "0123456789abcdefXX", 18, NULL, 0, m), -EINVAL);
	assert_int_equal(rw(R, 0, 4088, r, 8, 8), 0);
}

static void doorbell_write_signals_eventfd(void **state)
{
	uint32_t v = 0x1234;
	eventfd_t cnt = 0;
	unsigned int writes;

	(void)state;
	writes = s.dev.writes;
	assert_int_equal(rw(WIRE_CMD_REGION_WRITE, 0, 0x100, &v, 4, 4), 0);
	assert_int_equal(eventfd_read(s.dev.ioev_fd, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(s.dev.writes, writes); /* the callback did not run */
	/* A write of another size at the same place is a register write. */
	assert_int_equal(rw(WIRE_CMD_REGION_WRITE, 0, 0x100, &v, 2, 2), 0);
	assert_int_equal(s.dev.writes, writes + 1);
}

static void io_fds_reports_the_doorbell(void **state)
{
	struct wire_io_fds_req q = { .argsz = 16, .index = 0 }, head;
	struct wire_io_fd_entry e;
	eventfd_t cnt;

	(void)state;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), 0);
	memcpy(&head, m->payload, sizeof(head));
	assert_int_equal(head.count, 1);
	assert_int_equal(head.argsz, 16 + 40);
	assert_int_equal(m->nfds, 0);
	q.argsz = head.argsz;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), 0);
	assert_int_equal(m->len, 56);
	assert_int_equal(m->nfds, 1);
	memcpy(&e, m->payload + 16, sizeof(e));
	assert_int_equal(e.offset, 0x100);
	assert_int_equal(e.size, 4);
	assert_int_equal(e.fd_index, 0);
	/* The fd rings the device's doorbell (passed on by the server). */
	assert_int_equal(eventfd_write(m->fds[0], 1), 0);
	assert_int_equal(poll(&(struct pollfd){ .fd = s.dev.ioev_fd,
						.events = POLLIN }, 1,
			      vtest_ms(5000)), 1);
	assert_int_equal(eventfd_read(s.dev.ioev_fd, &cnt), 0);
	peer_msg_close_fds(m);
	q.flags = 1;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), -EINVAL);
	q.flags = 0;
	q.count = 3;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q,
				   sizeof(q), NULL, 0, m), -EINVAL);
}

static int irq_info(uint32_t index, struct wire_irq_info *out)
{
	struct wire_irq_info q = { .argsz = 16, .index = index };
	int ret = peer_call(&s, WIRE_CMD_DEVICE_GET_IRQ_INFO, &q, sizeof(q),
			    NULL, 0, m);

	if (ret == 0)
		memcpy(out, m->payload, sizeof(*out));
	return ret;
}

static void irq_info_flags(void **state)
{
	struct wire_irq_info i;

	(void)state;
	assert_int_equal(irq_info(0, &i), 0);
	assert_int_equal(i.count, 1);
	assert_int_equal(i.flags, WIRE_IRQ_EVENTFD | WIRE_IRQ_MASKABLE |
				  WIRE_IRQ_AUTOMASKED);
	assert_int_equal(irq_info(1, &i), 0);
	assert_int_equal(i.count, 4);
	assert_int_equal(i.flags, WIRE_IRQ_EVENTFD);
	assert_int_equal(irq_info(2, &i), -EINVAL);
}

static int set_irqs(uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const int *fds, unsigned int nfds)
{
	struct wire_irq_set q = { .argsz = 20, .flags = flags, .index = index,
				  .start = start, .count = count };

	return peer_call(&s, WIRE_CMD_DEVICE_SET_IRQS, &q, sizeof(q), fds, nfds, m);
}

static bool fired(int fd)
{
	eventfd_t v;

	return eventfd_read(fd, &v) == 0 && v > 0;
}

static void intx_style_level_line(void **state)
{
	const uint32_t TE = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD;
	const uint32_t UN = WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_NONE;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	(void)state;
	assert_int_equal(set_irqs(TE, 0, 0, 1, &fd, 1), 0);
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, true), 1);
	assert_true(fired(fd));
	/* Automasked: still raised, nothing more until the client unmasks. */
	assert_int_equal(set_irqs(UN, 0, 0, 1, NULL, 0), 0);
	assert_true(fired(fd));
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, false), 0);
	assert_int_equal(set_irqs(UN, 0, 0, 1, NULL, 0), 0);
	assert_false(fired(fd));
	/* Masked by message: the raise waits for the unmask. */
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_MASK | WIRE_IRQ_DATA_NONE,
				  0, 0, 1, NULL, 0), 0);
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, true), 0);
	assert_false(fired(fd));
	assert_int_equal(set_irqs(UN, 0, 0, 1, NULL, 0), 0);
	assert_true(fired(fd));
	/* Disable: the eventfd is dropped. */
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_NONE,
				  0, 0, 0, NULL, 0), 0);
	assert_false(vus_irq_is_bound(s.ctx, 0, 0));
	close(fd);
}

static void unmask_eventfd_like_kvm_resample(void **state)
{
	int trig = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int res = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	(void)state;
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD,
				  0, 0, 1, &trig, 1), 0);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_EVENTFD,
				  0, 0, 1, &res, 1), 0);
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, true), 1);
	assert_true(fired(trig));
	/* The client signals the resample fd: the still-raised line fires. */
	assert_int_equal(eventfd_write(res, 1), 0);
	for (long long end = vtest_deadline(1000);
	     !fired(trig) && !vtest_expired(end);)
		usleep(5000);
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, false), 0);
	close(trig);
	close(res);
}

static void msi_style_vectors_and_loopback(void **state)
{
	int fds[4];
	uint8_t q[20 + 4];
	struct wire_irq_set h = { .argsz = 24, .index = 1, .start = 0, .count = 4,
		.flags = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_BOOL };

	(void)state;
	for (int i = 0; i < 4; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD,
				  1, 0, 4, fds, 4), 0);
	assert_int_equal(vus_irq_trigger(s.ctx, 1, 2), 1);
	assert_true(fired(fds[2]));
	assert_false(fired(fds[1]));
	/* Loop-back with booleans: vectors 1 and 3. */
	memcpy(q, &h, sizeof(h));
	memcpy(q + 20, "\0\1\0\1", 4);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_SET_IRQS, q, sizeof(q),
				   NULL, 0, m), 0);
	assert_true(fired(fds[1]));
	assert_true(fired(fds[3]));
	assert_false(fired(fds[0]));
	/* Unbind vector 2 (no fds): raising it is held pending, then fires on bind. */
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD,
				  1, 2, 1, NULL, 0), 0);
	assert_int_equal(vus_irq_trigger(s.ctx, 1, 2), 0);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD,
				  1, 2, 1, &fds[2], 1), 0);
	assert_true(fired(fds[2]));
	/* Edge vectors cannot be masked by message. */
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_MASK | WIRE_IRQ_DATA_NONE,
				  1, 0, 1, NULL, 0), -EINVAL);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

static void set_irqs_refuses_bad_requests(void **state)
{
	const uint32_t TE = WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD;
	int efd = eventfd(0, EFD_CLOEXEC), pfd[2], fds[2];

	(void)state;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(set_irqs(TE, 1, 3, 2, NULL, 0), -EINVAL);    /* range */
	assert_int_equal(set_irqs(TE, 1, UINT32_MAX, 2, NULL, 0), -EINVAL);
	assert_int_equal(set_irqs(TE, 7, 0, 1, &efd, 1), -EINVAL);    /* index */
	fds[0] = efd; fds[1] = efd;
	assert_int_equal(set_irqs(TE, 1, 0, 1, fds, 2), -EINVAL);     /* fd count */
	assert_int_equal(set_irqs(TE, 1, 0, 1, &pfd[0], 1), -EINVAL); /* not an eventfd */
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_NONE,
				  1, 0, 1, &efd, 1), -EINVAL);             /* fd with NONE */
	assert_int_equal(set_irqs(0x3f, 1, 0, 1, NULL, 0), -EINVAL);  /* all flags */
	assert_false(vus_irq_is_bound(s.ctx, 1, 0));
	close(efd);
	close(pfd[0]);
	close(pfd[1]);
}

static void write_multi_in_order(void **state)
{
	uint8_t q[8 + 3 * 24];
	uint64_t n = 3;
	struct wire_write_one w[3] = {
		{ .offset = 0x10, .region = 0, .count = 4, .data = { 1, 1, 1, 1 } },
		{ .offset = 0x12, .region = 0, .count = 2, .data = { 2, 2 } },
		{ .offset = 0x20, .region = 0, .count = 8, .data = { 3, 3, 3, 3, 3, 3, 3, 3 } },
	};
	uint64_t done;

	(void)state;
	memcpy(q, &n, 8);
	memcpy(q + 8, w, sizeof(w));
	assert_int_equal(peer_call(&s, WIRE_CMD_REGION_WRITE_MULTI, q, sizeof(q),
				   NULL, 0, m), 0);
	memcpy(&done, m->payload, 8);
	assert_int_equal(done, 3);
	assert_memory_equal(s.dev.regs + 0x10, "\1\1\2\2", 4);
	/* A count the payload does not match, and a 9-byte write. */
	n = 4;
	memcpy(q, &n, 8);
	assert_int_equal(peer_call(&s, WIRE_CMD_REGION_WRITE_MULTI, q, sizeof(q),
				   NULL, 0, m), -EINVAL);
	n = 3;
	w[1].count = 9;
	memcpy(q, &n, 8);
	memcpy(q + 8, w, sizeof(w));
	assert_int_equal(peer_call(&s, WIRE_CMD_REGION_WRITE_MULTI, q, sizeof(q),
				   NULL, 0, m), -EINVAL);
	n = UINT64_MAX;
	memcpy(q, &n, 8);
	assert_int_equal(peer_call(&s, WIRE_CMD_REGION_WRITE_MULTI, q, sizeof(q),
				   NULL, 0, m), -EINVAL);
}

static void device_reset_reaches_the_device(void **state)
{
	(void)state;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_RESET, NULL, 0, NULL, 0, m), 0);
	assert_int_equal(s.dev.resets, 1);
	assert_int_equal(s.dev.last_reset, VUS_RESET_CLIENT);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_RESET, "x", 1, NULL, 0, m),
			 -EINVAL);
	assert_int_equal(s.dev.resets, 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		CASE(device_info),
		CASE(region_info_plain),
		CASE(region_info_sparse_needs_a_second_ask),
		CASE(region_access_bounds),
		CASE(doorbell_write_signals_eventfd),
		CASE(io_fds_reports_the_doorbell),
		CASE(irq_info_flags),
		CASE(intx_style_level_line),
		CASE(unmask_eventfd_like_kvm_resample),
		CASE(msi_style_vectors_and_loopback),
		CASE(set_irqs_refuses_bad_requests),
		CASE(write_multi_in_order),
		CASE(device_reset_reaches_the_device),
	};

	return vtest_run("engine_cmds", tests, argc, argv);
}
