/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMA through the server, with real memfds over a real socket: mapping and
 * unmapping rules (size 0, wrap past 2^64, two fds, fd smaller than the
 * range, overlaps, limits), quiesce before unmap, and server-initiated
 * DMA_READ/DMA_WRITE for memory mapped without an fd, interleaved with the
 * client's own pipelined commands.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"

static struct peer_msg *m;
static struct tserver s;

static int setup_opts(void **state, const struct tserver_opts *o)
{
	m = calloc(1, sizeof(*m));
	vtest_setup(state);
	tserver_start(&s, o);
	return 0;
}

static int setup(void **state)
{
	return setup_opts(state, &(struct tserver_opts){ .max_dma_maps = 8 });
}

static int setup_quiesce(void **state)
{
	return setup_opts(state, &(struct tserver_opts){ .with_quiesce = true });
}

static int teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define QCASE(fn) cmocka_unit_test_setup_teardown(fn, setup_quiesce, teardown)

static int memfd(size_t size)
{
	int fd = memfd_create("test-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int dma_map(uint64_t addr, uint64_t size, uint64_t off, uint32_t flags,
		   const int *fds, unsigned int nfds)
{
	struct wire_dma_map q = { .argsz = 32, .flags = flags, .offset = off,
				  .addr = addr, .size = size };

	return peer_call(&s, WIRE_CMD_DMA_MAP, &q, sizeof(q), fds, nfds, m);
}

static int dma_unmap(uint64_t addr, uint64_t size, uint32_t flags)
{
	struct wire_dma_unmap q = { .argsz = 24, .flags = flags, .addr = addr,
				    .size = size };

	return peer_call(&s, WIRE_CMD_DMA_UNMAP, &q, sizeof(q), NULL, 0, m);
}

#define RW (WIRE_DMA_READ | WIRE_DMA_WRITE)

static void map_checks(void **state)
{
	int fd = memfd(0x10000), fd2 = memfd(0x1000), fds[2] = { fd, fd2 };

	(void)state;
	assert_int_equal(dma_map(0x100000, 0, 0, RW, &fd, 1), -EINVAL);         /* size 0 */
	assert_int_equal(dma_map(UINT64_MAX - 0xfff, 0x2000, 0, RW, NULL, 0), -EINVAL); /* wraps */
	assert_int_equal(dma_map(0x100000, 0x1000, 0, RW, fds, 2), -EINVAL);    /* two fds */
	assert_int_equal(dma_map(0x100000, 0x20000, 0, RW, &fd, 1), -EINVAL);   /* > file */
	assert_int_equal(dma_map(0x100000, 0x1000, 0xf000 + 1, RW, &fd, 1), -EINVAL);
	assert_int_equal(dma_map(0x100000, 0x1000, UINT64_MAX - 10, RW, &fd, 1), -EINVAL);
	assert_int_equal(dma_map(0x100000, 0x1000, 0, 0x4, &fd, 1), -EINVAL);   /* flags */
	assert_int_equal(dma_map(0x100000, 0x1000, 0, 0, &fd, 1), -EINVAL);
	assert_int_equal(dma_map(0x100000, 0x1000, 0x1000, RW, NULL, 0), -EINVAL); /* offset, no fd */
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	assert_int_equal(s.dev.maps, 0);

	assert_int_equal(dma_map(0x100000, 0x10000, 0, RW, &fd, 1), 0);
	assert_int_equal(s.dev.maps, 1);
	assert_int_equal(dma_map(0x10f000, 0x2000, 0, RW, NULL, 0), -EEXIST);   /* overlap */
	assert_int_equal(dma_map(0x100000, 0x10000, 0, RW, &fd, 1), -EEXIST);   /* again */
	assert_int_equal(dma_map(0xfff000, 0x1000, 0, RW, NULL, 0), 0);
	/* A mapping may end exactly at 2^64. */
	assert_int_equal(dma_map(UINT64_MAX - 0xfff, 0x1000, 0, RW, NULL, 0), 0);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 3);
	close(fd);
	close(fd2);
}

static void map_limit_gives_enospc(void **state)
{
	(void)state;
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(dma_map(i << 20, 0x1000, 0, RW, NULL, 0), 0);
	assert_int_equal(dma_map(9ull << 20, 0x1000, 0, RW, NULL, 0), -ENOSPC);
	assert_int_equal(dma_unmap(0, 0, WIRE_DMA_UNMAP_ALL), 0);
	assert_int_equal(s.dev.unmaps, 8);
	assert_int_equal(dma_map(9ull << 20, 0x1000, 0, RW, NULL, 0), 0);
}

static void non_mappable_fds_fail_cleanly(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_true(dma_map(0x100000, 0x1000, 0, RW, &p[0], 1) < 0);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	close(p[0]);
	close(p[1]);
}

static void device_reads_and_writes_mapped_memory(void **state)
{
	int fd = memfd(0x4000);
	uint8_t *ram = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct vus_sg sg[2];
	size_t n;
	uint32_t v32;
	uint8_t buf[16];

	(void)state;
	/* Two mappings of one file, adjacent in DMA space. */
	assert_int_equal(dma_map(0x10000, 0x2000, 0, RW, &fd, 1), 0);
	assert_int_equal(dma_map(0x12000, 0x2000, 0x2000, WIRE_DMA_READ, &fd, 1), 0);
	memcpy(ram + 0x1ff8, "abcdefghijklmnop", 16);
	assert_int_equal(vus_dma_read(s.ctx, 0x11ff8, buf, 16), 0);
	assert_memory_equal(buf, "abcdefghijklmnop", 16);
	assert_int_equal(vus_dma_sg(s.ctx, 0x11ff8, 16, VUS_DMA_READ, sg, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sg[0].len, 8);
	assert_int_equal(sg[1].addr, 0x12000);
	/* The second mapping is read-only. */
	assert_int_equal(vus_dma_write(s.ctx, 0x11ff8, buf, 16), -EACCES);
	assert_int_equal(vus_dma_sg(s.ctx, 0x11ff8, 16, VUS_DMA_WRITE, sg, 2, &n), -EACCES);
	assert_int_equal(vus_dma_sg(s.ctx, 0x11ff8, 16, VUS_DMA_READ, sg, 1, &n), -ENOSPC);
	assert_int_equal(n, 2);
	assert_int_equal(vus_dma_write32(s.ctx, 0x10010, 0xdeadbeef), 0);
	assert_int_equal(memcmp(ram + 0x10, "\xef\xbe\xad\xde", 4), 0);
	assert_int_equal(vus_dma_read32(s.ctx, 0x10010, &v32), 0);
	assert_int_equal(v32, 0xdeadbeef);
	assert_int_equal(vus_dma_read32(s.ctx, 0x10011, &v32), -EINVAL); /* unaligned */
	assert_int_equal(vus_dma_read(s.ctx, 0x14000, buf, 1), -EFAULT);  /* unmapped */
	assert_int_equal(vus_dma_read(s.ctx, UINT64_MAX, buf, 2), -EINVAL);
	munmap(ram, 0x4000);
	close(fd);
}

static void unmap_rules(void **state)
{
	(void)state;
	assert_int_equal(dma_map(0x10000, 0x1000, 0, RW, NULL, 0), 0);
	assert_int_equal(dma_map(0x11000, 0x1000, 0, RW, NULL, 0), 0);
	/* Nothing there: done, as the kernel's type1 IOMMU answers. */
	assert_int_equal(dma_unmap(0x20000, 0x1000, 0), 0);
	assert_int_equal(m->len, 24);
	assert_int_equal(dma_unmap(0x10800, 0x1000, 0), -EINVAL); /* would split */
	assert_int_equal(dma_unmap(0, 0, 0), -EINVAL);
	assert_int_equal(dma_unmap(0x10000, 0x1000, WIRE_DMA_UNMAP_ALL), -EINVAL);
	assert_int_equal(dma_unmap(0x10000, 0x1000, 0x1), -EINVAL); /* legacy bitmap */
	assert_int_equal(s.dev.unmaps, 0);
	/* A range covering whole mappings removes them all. */
	assert_int_equal(dma_unmap(0x10000, 0x2000, 0), 0);
	assert_int_equal(m->len, 24); /* the reply echoes the entry */
	assert_int_equal(s.dev.unmaps, 2);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
}

/*
 * What QEMU 10.2 sends behind its intel-iommu (traced with
 * --trace 'vfio_user_dma*'): at boot its replay unmaps the address space
 * in power-of-two pieces where nothing is mapped; with iommu.strict=1
 * every guest buffer is a 4 KiB map and an unmap of just that page, the
 * same page may be mapped at several IOVAs; at shutdown one 16 MiB unmap
 * covers hundreds of pages. It failed the empty ranges with ENOENT
 * ("error reply on async request command 3").
 */
static void qemu_viommu_unmap_patterns_succeed(void **state)
{
	int fd = memfd(0x4000);

	(void)state;
	for (uint64_t a = 0x100000000ull; a <= 0x800000000000ull; a <<= 1)
		assert_int_equal(dma_unmap(a, a, 0), 0);
	assert_int_equal(dma_unmap(0xfef00000, 0x100000, 0), 0);
	assert_int_equal(s.dev.unmaps, 0);
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(dma_map(0xfffc1000 - i * 0x1000, 0x1000,
					 i < 2 ? 0 : 0x1000, RW, &fd, 1), 0);
	assert_int_equal(dma_unmap(0xfffc1000, 0x1000, 0), 0);
	assert_int_equal(s.dev.unmaps, 1);
	assert_int_equal(dma_unmap(0xfffc1000, 0x1000, 0), 0); /* again: nothing */
	assert_int_equal(s.dev.unmaps, 1);
	/* Past either end of a mapping: a split, refused, nothing removed. */
	assert_int_equal(dma_unmap(0xfffbf800, 0x1000, 0), -EINVAL);
	assert_int_equal(dma_unmap(0xfffbe000, 0x1800, 0), -EINVAL);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 3);
	/* A range covering the rest and space around them. */
	assert_int_equal(dma_unmap(0xff000000, 0x1000000, 0), 0);
	assert_int_equal(s.dev.unmaps, 4);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	close(fd);
}

static void unmap_waits_for_a_busy_quiesce(void **state)
{
	struct wire_dma_unmap q = { .argsz = 24, .addr = 0x10000, .size = 0x1000 };
	struct wire_device_info di = { .argsz = 16 };
	uint16_t id1, id2;

	(void)state;
	assert_int_equal(dma_map(0x10000, 0x1000, 0, RW, NULL, 0), 0);
	s.dev.quiesce_busy = true;
	id1 = peer_send(&s, WIRE_CMD_DMA_UNMAP, 0, &q, sizeof(q), NULL, 0);
	id2 = peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0);
	/* Nothing is answered while the device is busy. */
	assert_int_equal(peer_recv(&s, m, 300), -ETIMEDOUT);
	assert_int_equal(s.dev.unmaps, 0);
	assert_int_equal(s.dev.quiesces, 1);
	vus_ctx_quiesced(s.ctx);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id1);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id2);
	assert_int_equal(s.dev.unmaps, 1);
	assert_int_equal(s.dev.resumes, 1);
}

static void reset_quiesces_first(void **state)
{
	(void)state;
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_RESET, NULL, 0, NULL, 0, m), 0);
	assert_int_equal(s.dev.quiesces, 1);
	assert_int_equal(s.dev.resets, 1);
	assert_int_equal(s.dev.resumes, 1);
}

static void disconnect_drops_maps_and_keeps_the_device(void **state)
{
	int fd = memfd(0x1000);

	(void)state;
	assert_int_equal(dma_map(0x10000, 0x1000, 0, RW, &fd, 1), 0);
	close(fd);
	close(s.peer);
	s.peer = -1;
	assert_int_equal(tserver_join(&s), -ENOTCONN);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	assert_int_equal(s.dev.unmaps, 1);
	/* Told, not reset: the state waits for the next client. */
	assert_int_equal(s.dev.client_losts, 1);
	assert_int_equal(s.dev.resets, 0);
}

/*
 * Server-initiated DMA: a region write makes the device read 64 bytes of
 * fd-less memory, which only the client can serve.
 */
static int dma_on_write(struct tdev *d, uint64_t off, const void *buf, size_t len)
{
	uint64_t addr;

	memcpy(&addr, buf, sizeof(addr));
	if (off == 0x200)
		return vus_dma_read(d->ctx, addr, d->regs + 0x300, 64);
	if (off == 0x208)
		return vus_dma_write(d->ctx, addr, d->regs + 0x300, 64);
	memcpy(d->regs + off, buf, len);
	return 0;
}

static uint16_t write_addr(uint64_t off, uint64_t addr)
{
	uint8_t q[24];
	struct wire_region_access a = { .offset = off, .region = 0, .count = 8 };

	memcpy(q, &a, 16);
	memcpy(q + 16, &addr, 8);
	return peer_send(&s, WIRE_CMD_REGION_WRITE, 0, q, sizeof(q), NULL, 0);
}

/*
 * The server's first DMA request on a connection asks which payload
 * layout the client reads: a DMA_WRITE of no bytes at the address it is
 * about to reach. QEMU 10.2 answers with a bare header; a spec client
 * echoes address and count, or refuses the count (libvus-client).
 */
enum probe_answer { PROBE_BARE, PROBE_ECHO, PROBE_ERROR };

static void answer_layout_probe(enum probe_answer a)
{
	struct wire_dma_access req;
	uint8_t buf[16 + 16];
	struct wire_hdr h = { .cmd = WIRE_CMD_DMA_WRITE,
			      .flags = WIRE_F_TYPE_REPLY };

	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_WRITE);
	assert_int_equal(m->hdr.flags & WIRE_F_TYPE_MASK, WIRE_F_TYPE_CMD);
	assert_int_equal(m->len, 16);
	memcpy(&req, m->payload, sizeof(req));
	assert_int_equal(req.count, 0);
	h.msg_id = m->hdr.msg_id;
	h.msg_size = a == PROBE_ECHO ? 32 : 16;
	if (a == PROBE_ERROR) {
		h.flags |= WIRE_F_ERROR;
		h.error = EINVAL;
	}
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &req, 16);
	peer_send_raw(&s, buf, h.msg_size, NULL, 0);
}

static void server_dma_read_while_client_pipelines(void **state)
{
	struct wire_device_info di = { .argsz = 16 };
	struct wire_dma_access req;
	uint8_t reply[16 + 64];
	uint16_t id_w, id_i;

	(void)state;
	s.dev.write_hook = dma_on_write;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	id_w = write_addr(0x200, 0x40010);
	/* The client sends another command before serving the server. */
	id_i = peer_send(&s, WIRE_CMD_DEVICE_GET_INFO, 0, &di, sizeof(di), NULL, 0);
	answer_layout_probe(PROBE_ECHO);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_READ);
	assert_int_equal(m->hdr.flags & WIRE_F_TYPE_MASK, WIRE_F_TYPE_CMD);
	memcpy(&req, m->payload, sizeof(req));
	assert_int_equal(req.addr, 0x40010);
	assert_int_equal(req.count, 64);
	/* Answer it (spec layout). */
	{
		struct wire_hdr h = { .msg_id = m->hdr.msg_id, .cmd = WIRE_CMD_DMA_READ,
				      .msg_size = 16 + sizeof(reply),
				      .flags = WIRE_F_TYPE_REPLY };
		uint8_t buf[16 + sizeof(reply)];

		memcpy(reply, &req, 16);
		for (int i = 0; i < 64; i++)
			reply[16 + i] = (uint8_t)(0xa0 + i);
		memcpy(buf, &h, 16);
		memcpy(buf + 16, reply, sizeof(reply));
		peer_send_raw(&s, buf, sizeof(buf), NULL, 0);
	}
	/* Replies come in the client's order: the write, then the info. */
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id_w);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id_i);
	assert_int_equal(s.dev.regs[0x300], 0xa0);
	assert_int_equal(s.dev.regs[0x33f], 0xa0 + 63);
}

static void server_dma_errors_reach_the_device(void **state)
{
	struct wire_dma_access req;
	uint16_t id;

	(void)state;
	s.dev.write_hook = dma_on_write;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	/* The client refuses the DMA_WRITE: the region write fails with it. */
	id = write_addr(0x208, 0x40000);
	answer_layout_probe(PROBE_ECHO);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_WRITE);
	assert_int_equal(m->len, 16 + 64);
	memcpy(&req, m->payload, sizeof(req));
	{
		struct wire_hdr h = { .msg_id = m->hdr.msg_id, .cmd = WIRE_CMD_DMA_WRITE,
				      .msg_size = 16, .error = EFAULT,
				      .flags = WIRE_F_TYPE_REPLY | WIRE_F_ERROR };
		peer_send_raw(&s, &h, sizeof(h), NULL, 0);
	}
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.error, EFAULT);
	/* Unmapped addresses never reach the client. */
	id = write_addr(0x200, 0x90000);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.error, EFAULT);
}

/*
 * Fuzz find (fuzz_engine, first minute): the data of a REGION_WRITE lies
 * in the transport's receive buffer; while the device waits in the write
 * callback for a DMA_READ reply, the engine receives the client's next
 * messages into that buffer, which a larger message reallocates. A device
 * that looked at its write data after the DMA, or the next entry of a
 * WRITE_MULTI, read freed memory.
 */
static int dma_then_keep(struct tdev *d, uint64_t off, const void *buf,
			 size_t len)
{
	int ret = 0;
	uint64_t addr;

	memcpy(&addr, buf, sizeof(addr));
	if (off == 0x200)
		ret = vus_dma_read(d->ctx, addr, d->regs + 0x300, 64);
	memcpy(d->regs + off, buf, len); /* after the DMA, on purpose */
	return ret;
}

/* Answer the server's pending DMA_READ (spec layout) with @fill bytes. */
static void answer_dma_read(uint8_t fill)
{
	struct wire_dma_access req;
	uint8_t buf[16 + 16 + 64];
	struct wire_hdr h = { .cmd = WIRE_CMD_DMA_READ, .msg_size = sizeof(buf),
			      .flags = WIRE_F_TYPE_REPLY };

	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_READ);
	memcpy(&req, m->payload, sizeof(req));
	h.msg_id = m->hdr.msg_id;
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &req, 16);
	memset(buf + 32, fill, 64);
	peer_send_raw(&s, buf, sizeof(buf), NULL, 0);
}

/*
 * What the client sends before answering: 64 bytes of junk (a
 * DEVICE_FEATURE with every flag bit set, refused) that land where the pending message lies, then
 * a 60 KiB write to region 2 that makes the receive buffer move.
 */
static void send_interleaved(uint16_t ids[2])
{
	const uint32_t n = 60 * 1024;
	uint8_t *q = malloc(16 + n);
	struct wire_region_access a = { .offset = 0, .region = 2, .count = n };

	assert_non_null(q);
	memset(q, 0xff, 64);
	memset(q, 0, 4);
	q[0] = 64; /* argsz */
	ids[0] = peer_send(&s, WIRE_CMD_DEVICE_FEATURE, 0, q, 64, NULL, 0);
	memcpy(q, &a, 16);
	memset(q + 16, 0xee, n);
	ids[1] = peer_send(&s, WIRE_CMD_REGION_WRITE, 0, q, 16 + n, NULL, 0);
	free(q);
}

/* The replies to send_interleaved(), in order. */
static void recv_interleaved(const uint16_t ids[2])
{
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, ids[0]);
	assert_int_equal(m->hdr.error, EINVAL); /* flag bits above 18 */
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, ids[1]);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
}

static void bigger_message_during_server_dma_keeps_the_write_data(void **state)
{
	uint16_t id_w, ids[2];
	uint64_t seen;

	(void)state;
	s.dev.write_hook = dma_then_keep;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	id_w = write_addr(0x200, 0x40010);
	send_interleaved(ids);
	answer_layout_probe(PROBE_ECHO);
	answer_dma_read(0xa5);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id_w);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	recv_interleaved(ids);
	memcpy(&seen, s.dev.regs + 0x200, sizeof(seen));
	assert_int_equal(seen, 0x40010);
	assert_int_equal(s.dev.regs[0x300], 0xa5);
}

static void bigger_message_during_server_dma_keeps_write_multi(void **state)
{
	uint8_t q[8 + 2 * 24] = { 2 };
	struct wire_write_one w[2] = {
		{ .offset = 0x200, .region = 0, .count = 8 },
		{ .offset = 0x40, .region = 0, .count = 8 },
	};
	uint64_t addr = 0x40010, seen;
	uint16_t id_w, ids[2];

	(void)state;
	s.dev.write_hook = dma_then_keep;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	memcpy(w[0].data, &addr, 8);
	memcpy(w[1].data, "survives", 8);
	memcpy(q + 8, w, sizeof(w));
	id_w = peer_send(&s, WIRE_CMD_REGION_WRITE_MULTI, 0, q, sizeof(q), NULL, 0);
	send_interleaved(ids);
	answer_layout_probe(PROBE_ECHO);
	answer_dma_read(0x5a);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id_w);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	memcpy(&seen, m->payload, sizeof(seen));
	assert_int_equal(seen, 2); /* both writes done */
	recv_interleaved(ids);
	assert_memory_equal(s.dev.regs + 0x40, "survives", 8);
}

/* Answer the pending DMA request with @len bytes of payload: its head
 * echoed (spec layout), then zeros. */
static void answer_dma_with(uint16_t cmd, size_t len)
{
	uint8_t buf[16 + 16 + 64 + 1] = { 0 };
	struct wire_hdr h = { .cmd = cmd, .flags = WIRE_F_TYPE_REPLY };

	assert_true(len <= sizeof(buf) - 16);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, cmd);
	h.msg_id = m->hdr.msg_id;
	h.msg_size = (uint32_t)(16 + len);
	memcpy(buf, &h, 16);
	memcpy(buf + 16, m->payload, 16);
	peer_send_raw(&s, buf, 16 + len, NULL, 0);
}

/* The region write that made the device do DMA: its errno. */
static int write_result(uint16_t id)
{
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	return -(int)m->hdr.error;
}

/*
 * Replies to the server's own DMA requests, exactly as long as the spec
 * says and one byte longer: a DMA_READ reply is the 16-byte head and the
 * data, a DMA_WRITE reply the head (or nothing, or QEMU's 12 bytes).
 */
static void server_dma_replies_one_byte_long_are_refused(void **state)
{
	(void)state;
	s.dev.write_hook = dma_on_write;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	uint16_t id = write_addr(0x200, 0x40000);
	answer_layout_probe(PROBE_ECHO);
	answer_dma_with(WIRE_CMD_DMA_READ, 16 + 64 + 1);
	assert_int_equal(write_result(id), -EPROTO);
	id = write_addr(0x200, 0x40000);
	answer_dma_with(WIRE_CMD_DMA_READ, 16 + 64);
	assert_int_equal(write_result(id), 0);
	id = write_addr(0x208, 0x40000);
	answer_dma_with(WIRE_CMD_DMA_WRITE, 17);
	assert_int_equal(write_result(id), -EPROTO);
	id = write_addr(0x208, 0x40000);
	answer_dma_with(WIRE_CMD_DMA_WRITE, 16);
	assert_int_equal(write_result(id), 0);
}

/* Answer the pending DMA_WRITE with a bare header (QEMU's success). */
static void answer_write_bare(void)
{
	struct wire_hdr h = { .msg_id = m->hdr.msg_id, .cmd = WIRE_CMD_DMA_WRITE,
			      .msg_size = 16, .flags = WIRE_F_TYPE_REPLY };

	peer_send_raw(&s, &h, sizeof(h), NULL, 0);
}

/*
 * Answer the pending DMA_READ as QEMU 10.2 does: @len bytes of payload,
 * the address echoed, a u32 @count, 64 bytes of @fill at +12, zeros.
 */
static void answer_qemu_read(size_t len, uint32_t count, uint8_t fill)
{
	uint8_t buf[16 + 16 + 64 + 1] = { 0 };
	struct wire_hdr h = { .cmd = WIRE_CMD_DMA_READ,
			      .flags = WIRE_F_TYPE_REPLY };

	assert_true(len <= sizeof(buf) - 16);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_READ);
	assert_int_equal(m->len, 16); /* QEMU reads the spec's head alike */
	h.msg_id = m->hdr.msg_id;
	h.msg_size = (uint32_t)(16 + len);
	memcpy(buf, &h, 16);
	memcpy(buf + 16, m->payload, 8);
	memcpy(buf + 24, &count, 4);
	memset(buf + 28, fill, 64);
	peer_send_raw(&s, buf, 16 + len, NULL, 0);
}

/*
 * QEMU 10.2's layout, learned from its bare answer to the probe: a
 * DMA_READ reply carries the data at +12 and 4 bytes of padding after it
 * (16 + count, as long as the spec's); a DMA_WRITE goes out as {u64
 * address; u32 count; data; 4 zero bytes}, answered by a bare header.
 * A reply one byte long or with another count is refused.
 */
static void qemu_layout_is_learned_and_used(void **state)
{
	static const uint8_t zero[4];
	uint32_t count;
	uint64_t addr;
	uint16_t id;

	(void)state;
	s.dev.write_hook = dma_on_write;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	id = write_addr(0x200, 0x40000);
	answer_layout_probe(PROBE_BARE);
	answer_qemu_read(16 + 64, 64, 0xc3);
	assert_int_equal(write_result(id), 0);
	assert_int_equal(s.dev.regs[0x300], 0xc3);
	assert_int_equal(s.dev.regs[0x300 + 63], 0xc3);
	id = write_addr(0x200, 0x40000);
	answer_qemu_read(16 + 64 + 1, 64, 0xc3);
	assert_int_equal(write_result(id), -EPROTO);
	id = write_addr(0x200, 0x40000);
	answer_qemu_read(16 + 64, 63, 0xc3);
	assert_int_equal(write_result(id), -EPROTO);
	/* The device writes back what it read. */
	id = write_addr(0x208, 0x40800);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_WRITE);
	assert_int_equal(m->len, 12 + 64 + 4);
	memcpy(&addr, m->payload, sizeof(addr));
	memcpy(&count, m->payload + 8, sizeof(count));
	assert_int_equal(addr, 0x40800);
	assert_int_equal(count, 64);
	assert_memory_equal(m->payload + 12, s.dev.regs + 0x300, 64);
	assert_memory_equal(m->payload + 12 + 64, zero, 4);
	answer_write_bare();
	assert_int_equal(write_result(id), 0);
}

/* After the probe's @answer, a device's DMA_WRITE goes out in the
 * spec's layout, and a bare header completes it. */
static void spec_write_after(enum probe_answer answer)
{
	uint16_t id;

	s.dev.write_hook = dma_on_write;
	assert_int_equal(dma_map(0x40000, 0x1000, 0, RW, NULL, 0), 0);
	id = write_addr(0x208, 0x40000);
	answer_layout_probe(answer);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_WRITE);
	assert_int_equal(m->len, 16 + 64);
	answer_write_bare();
	assert_int_equal(write_result(id), 0);
}

/* A spec client echoes the probe: the spec's layout. */
static void spec_layout_after_an_echo(void **state)
{
	(void)state;
	spec_write_after(PROBE_ECHO);
}

/* An error for the probe's count of 0 (libvus-client's answer): the
 * spec's layout too, and the device's transfer goes on. */
static void spec_layout_after_an_error(void **state)
{
	(void)state;
	spec_write_after(PROBE_ERROR);
}

/*
 * Mappings at both ends of the address space, over the wire: the first
 * page (IOVA 0) and the last one (ending at 2^64) map, one byte more
 * does not; the device reads up to the last byte of each and no further.
 * After the first page an fd-less one, then a gap: a read across the two
 * is a copy and one DMA_READ for the fd-less part, and a read from there
 * one byte into the gap fails before any message is sent.
 */
#define TOP_PAGE (0ull - 0x1000)

/* Answer the pending DMA_READ of @count bytes at @addr with @fill. */
static void answer_dma_read_of(uint64_t addr, uint64_t count, uint8_t fill)
{
	struct wire_dma_access req;
	uint8_t buf[16 + 16 + 64];
	struct wire_hdr h = { .cmd = WIRE_CMD_DMA_READ,
			      .flags = WIRE_F_TYPE_REPLY };

	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_DMA_READ);
	memcpy(&req, m->payload, sizeof(req));
	assert_int_equal(req.addr, addr);
	assert_int_equal(req.count, count);
	h.msg_id = m->hdr.msg_id;
	h.msg_size = (uint32_t)(32 + count);
	memcpy(buf, &h, 16);
	memcpy(buf + 16, &req, 16);
	memset(buf + 32, fill, (size_t)count);
	peer_send_raw(&s, buf, 32 + count, NULL, 0);
}

static void mappings_at_both_ends_of_the_address_space(void **state)
{
	int fd = memfd(0x2000);
	uint8_t *ram = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint8_t buf[16];
	uint16_t id;

	(void)state;
	for (int i = 0; i < 0x2000; i++)
		ram[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(dma_map(0, 0x1000, 0, RW, &fd, 1), 0);
	assert_int_equal(dma_map(0x1000, 0x1000, 0, RW, NULL, 0), 0);
	/* One byte past 2^64 is a wrap, refused; ending at 2^64 is not. */
	assert_int_equal(dma_map(TOP_PAGE, 0x1001, 0x1000, RW, &fd, 1), -EINVAL);
	assert_int_equal(dma_map(TOP_PAGE + 1, 0x1000, 0x1000, RW, &fd, 1), -EINVAL);
	assert_int_equal(dma_map(TOP_PAGE, 0x1000, 0x1000, RW, &fd, 1), 0);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 3);
	/* The device reads the last bytes of both, and no byte more. */
	assert_int_equal(vus_dma_read(s.ctx, 0, buf, 8), 0);
	assert_memory_equal(buf, ram, 8);
	assert_int_equal(vus_dma_read(s.ctx, UINT64_MAX - 7, buf, 8), 0);
	assert_memory_equal(buf, ram + 0x2000 - 8, 8);
	assert_int_equal(vus_dma_read(s.ctx, UINT64_MAX - 7, buf, 9), -EINVAL);
	assert_int_equal(vus_dma_read(s.ctx, TOP_PAGE - 1, buf, 2), -EFAULT);
	/* From the first page into the fd-less one: two pieces. */
	s.dev.write_hook = dma_on_write;
	id = write_addr(0x200, 0x1000 - 32);
	answer_layout_probe(PROBE_ECHO);
	answer_dma_read_of(0x1000, 32, 0xa5);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.flags & WIRE_F_ERROR, 0);
	assert_memory_equal(s.dev.regs + 0x300, ram + 0x1000 - 32, 32);
	assert_int_equal(s.dev.regs[0x300 + 32], 0xa5);
	assert_int_equal(s.dev.regs[0x300 + 63], 0xa5);
	/* From the fd-less page one byte into the gap: no DMA_READ at all. */
	id = write_addr(0x200, 0x2000 - 63);
	assert_int_equal(peer_recv(&s, m, 2000), 0);
	assert_int_equal(m->hdr.cmd, WIRE_CMD_REGION_WRITE);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.error, EFAULT);
	/* Unmapping takes the exact range too. */
	assert_int_equal(dma_unmap(TOP_PAGE, 0x1001, 0), -EINVAL);
	assert_int_equal(dma_unmap(TOP_PAGE, 0x1000, 0), 0);
	munmap(ram, 0x2000);
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		CASE(map_checks),
		CASE(map_limit_gives_enospc),
		CASE(non_mappable_fds_fail_cleanly),
		CASE(device_reads_and_writes_mapped_memory),
		CASE(unmap_rules),
		CASE(qemu_viommu_unmap_patterns_succeed),
		QCASE(unmap_waits_for_a_busy_quiesce),
		QCASE(reset_quiesces_first),
		CASE(disconnect_drops_maps_and_keeps_the_device),
		CASE(server_dma_read_while_client_pipelines),
		CASE(server_dma_errors_reach_the_device),
		CASE(bigger_message_during_server_dma_keeps_the_write_data),
		CASE(bigger_message_during_server_dma_keeps_write_multi),
		CASE(mappings_at_both_ends_of_the_address_space),
		CASE(server_dma_replies_one_byte_long_are_refused),
		CASE(qemu_layout_is_learned_and_used),
		CASE(spec_layout_after_an_echo),
		CASE(spec_layout_after_an_error),
	};

	return vtest_run("engine_dma", tests, argc, argv);
}
