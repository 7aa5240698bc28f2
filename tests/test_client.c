/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client integration tests: the client library against a real server (a
 * SysBus test device served on a thread): negotiation, device and region
 * info (with the sparse-mmap argsz retry), mmap of the areas, region access
 * from 1 byte to 1 MiB split by the server's limit, posted writes, doorbell
 * fds, reset, and a server that outlives its client and takes the next.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"
#include "vus_client_raw.h"

static void negotiate_reports_server_caps(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	struct vus_client_caps caps = { .struct_size = sizeof(caps) };

	assert_int_equal(vus_client_server_caps(c, &caps), 0);
	assert_int_equal(caps.major, 0);
	assert_int_equal(caps.minor, 0);
	assert_int_equal(caps.max_msg_fds, TC_SRV_FDS);
	assert_int_equal(caps.max_data_xfer_size, TC_SRV_XFER);
	assert_int_equal(caps.pgsizes, 4096);
	assert_int_equal(caps.max_dma_maps, 8);
	assert_false(caps.write_multiple);
	/* VERSION used the first id. */
	assert_int_equal(vus_client_next_id(c), 1);
	assert_true(vus_client_fd(c) >= 0);
	tc_teardown(&d, c);
}

static bool connected_once(struct tc_dev *d)
{
	return atomic_load(&d->connects) == 1;
}

static void negotiate_by_hand(void **state)
{
	struct vus_client_config cfg = { .struct_size = sizeof(cfg) };
	struct vus_client_caps caps = { .struct_size = sizeof(caps) };
	struct tc_dev d;
	vus_client *c;

	tc_dev_init(&d);
	assert_int_equal(vus_client_attach_fd_raw(tc_dev_start(&d, false), &cfg,
						  &c), 0);
	assert_int_equal(vus_client_server_caps(c, &caps), -ENOTCONN);
	/* Before VERSION the server refuses everything else. */
	assert_int_equal(vus_client_reset(c), -EINVAL);
	assert_int_equal(vus_client_negotiate(c, 0, 0,
		"{\"capabilities\":{\"max_msg_fds\":2}}"), 0);
	assert_int_equal(vus_client_server_caps(c, &caps), 0);
	assert_int_equal(vus_client_negotiate(c, 0, 0, NULL), -EALREADY);
	assert_true(tc_wait_for(&d, connected_once));
	tc_teardown(&d, c);
}

static void negotiate_refused(void **state)
{
	struct vus_client_config cfg = { .struct_size = sizeof(cfg) };
	struct tc_dev d;
	vus_client *c = NULL;

	tc_dev_init(&d);
	/* A major the server does not speak: EINVAL, then it hangs up. */
	assert_int_equal(vus_client_attach_fd_raw(tc_dev_start(&d, false), &cfg,
						  &c), 0);
	assert_int_equal(vus_client_negotiate_ours(c, 1, 0), -EINVAL);
	vus_client_close(c);
	tc_dev_fini(&d);
	tc_dev_init(&d);
	assert_int_equal(vus_client_attach_fd_raw(tc_dev_start(&d, false), &cfg,
						  &c), 0);
	assert_int_equal(vus_client_negotiate(c, 0, 0,
		"{\"capabilities\":{\"max_msg_fds\":\"x\"}}"), -EINVAL);
	vus_client_close(c);
	c = NULL;
	/* Bad configs never reach the wire, and the fd is taken anyway. */
	cfg.max_msg_fds = 17;
	assert_int_equal(vus_client_attach_fd(tc_eventfd(), &cfg, &c), -EINVAL);
	cfg = (struct vus_client_config){ .struct_size = sizeof(cfg) + 8 };
	assert_int_equal(vus_client_attach_fd(tc_eventfd(), &cfg, &c), -EINVAL);
	assert_int_equal(vus_client_connect("/nonexistent/vus.sock", VTEST_CLIENT_CFG, &c),
			 -ENOENT);
	tc_dev_fini(&d);
}

static void device_info(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	struct vus_client_device_info di = { .struct_size = sizeof(di) };

	assert_int_equal(vus_client_device_info(c, &di), 0);
	assert_int_equal(di.flags, VUS_CLIENT_DEV_PLATFORM | VUS_CLIENT_DEV_RESET);
	assert_int_equal(di.num_regions, TC_NUM_REGIONS);
	assert_int_equal(di.num_irqs, TC_NUM_IRQS);
	tc_teardown(&d, c);
}

static void region_info_retries_for_sparse_caps(void **state)
{
	struct vus_trace_event ev[4];
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	unsigned int mark = tc_mark(&d);

	assert_int_equal(vus_client_region_info(c, TC_SPARSE, &ri), 0);
	/* argsz 32 first, then again with what the chain needs. */
	assert_int_equal(tc_find(&d, mark, VUS_CMD_DEVICE_GET_REGION_INFO, ev, 4), 2);
	assert_int_equal(ev[0].size, 16 + 32);
	assert_int_equal(ri.index, TC_SPARSE);
	assert_int_equal(ri.size, TC_SPARSE_SIZE);
	assert_int_equal(ri.flags, VUS_CLIENT_REGION_READ |
			 VUS_CLIENT_REGION_WRITE | VUS_CLIENT_REGION_MMAP);
	assert_int_equal(ri.nr_areas, 2);
	assert_int_equal(ri.areas[0].offset, 0);
	assert_int_equal(ri.areas[0].size, 0x4000);
	assert_int_equal(ri.areas[1].offset, 0x8000);
	assert_int_equal(ri.areas[1].size, 0x4000);
	assert_true(ri.has_type);
	assert_int_equal(ri.type, TC_SPARSE_TYPE);
	assert_int_equal(ri.subtype, TC_SPARSE_SUBTYPE);
	assert_true(ri.fd >= 0);
	close(ri.fd);

	/* MMAP without a sparse capability: one area, the whole region. */
	assert_int_equal(vus_client_region_info(c, TC_WHOLE, &ri), 0);
	assert_int_equal(ri.nr_areas, 1);
	assert_int_equal(ri.areas[0].size, TC_WHOLE_SIZE);
	assert_false(ri.has_type);
	assert_true(ri.fd >= 0);
	close(ri.fd);

	/* Callbacks only: no MMAP, no fd. */
	assert_int_equal(vus_client_region_info(c, TC_RAM, &ri), 0);
	assert_int_equal(ri.flags, VUS_CLIENT_REGION_READ | VUS_CLIENT_REGION_WRITE);
	assert_int_equal(ri.nr_areas, 0);
	assert_int_equal(ri.fd, -1);
	assert_int_equal(vus_client_region_mmap(&ri, &(void *){ NULL }), -EINVAL);
	assert_int_equal(vus_client_region_info(c, 40, &ri), -EINVAL);
	tc_teardown(&d, c);
}

/* The permissions of the mapping holding @p, from /proc/self/maps. */
static const char *map_perms(const void *p)
{
	static char perms[5];
	unsigned long lo, hi;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	strcpy(perms, "none");
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
		    (uintptr_t)p >= lo && (uintptr_t)p < hi)
			break;
		strcpy(perms, "none");
	}
	fclose(f);
	return perms;
}

static void region_mmap_is_shared_with_device(void **state)
{
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t *dev_mem, *base, buf[8];
	void *p = NULL;

	assert_int_equal(vus_client_region_info(c, TC_SPARSE, &ri), 0);
	assert_int_equal(vus_client_region_mmap(&ri, &p), 0);
	close(ri.fd); /* the mapping keeps the memory */
	base = p;
	dev_mem = vus_region_mem(d.ctx, TC_SPARSE);
	assert_non_null(dev_mem);
	memcpy(base + 0x10, "hello", 5);
	memcpy(base + 0x8ff0, "world", 5);
	assert_memory_equal(dev_mem + 0x10, "hello", 5);
	assert_memory_equal(dev_mem + 0x8ff0, "world", 5);
	memcpy(dev_mem + 0x3ff8, "device", 6);
	assert_memory_equal(base + 0x3ff8, "device", 6);
	/* Messages reach the same memory inside an area... */
	assert_int_equal(vus_client_region_read(c, TC_SPARSE, 0x8ff0, buf, 5), 0);
	assert_memory_equal(buf, "world", 5);
	/* ...and the device's callbacks outside. */
	assert_int_equal(vus_client_region_read(c, TC_SPARSE, 0x5000, buf, 8), 0);
	assert_memory_equal(buf, "\xab\xab\xab\xab\xab\xab\xab\xab", 8);
	/* The gap between the areas is reserved but not accessible. */
	assert_string_equal(map_perms(base + 0x4000), "---p");
	assert_string_equal(map_perms(base + 0x8000), "rw-s");
	assert_int_equal(munmap(p, ri.size), 0);
	tc_teardown(&d, c);
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

static void region_rw_from_1_byte_to_1_mib(void **state)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 8, 15, 4096, TC_SRV_XFER,
					TC_SRV_XFER + 1, 300000, 1u << 20 };
	const uint64_t offs[] = { 0, 1, 4093, 65535, (1u << 20) - 1 };
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t *out = malloc(1u << 20), *in = malloc(1u << 20);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint64_t off = offs[i % 5];
		unsigned int before = atomic_load(&d.ram_accesses);

		fill(out, n, (unsigned int)i);
		assert_int_equal(vus_client_region_write(c, TC_RAM, off, out, n), 0);
		assert_memory_equal(d.ram + off, out, n);
		memset(in, 0, n);
		assert_int_equal(vus_client_region_read(c, TC_RAM, off, in, n), 0);
		assert_memory_equal(in, out, n);
		/* Split into the server's transfer size, both ways. */
		assert_int_equal(atomic_load(&d.ram_accesses) - before,
				 2 * ((n + TC_SRV_XFER - 1) / TC_SRV_XFER));
	}
	assert_int_equal(atomic_load(&d.ram_max_len), TC_SRV_XFER);
	free(out);
	free(in);
	tc_teardown(&d, c);
}

static void region_rw_checks(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t b[16] = { 0 };

	/* The server refuses what lies outside the region. */
	assert_int_equal(vus_client_region_read(c, TC_RAM, TC_RAM_SIZE - 4, b, 8),
			 -EINVAL);
	assert_int_equal(vus_client_region_write(c, 9, 0, b, 1), -EINVAL);
	/* Wrapping ranges and NULL buffers never leave the client. */
	unsigned int mark = tc_mark(&d);
	assert_int_equal(vus_client_region_read(c, TC_RAM, UINT64_MAX, b, 2),
			 -EINVAL);
	assert_int_equal(vus_client_region_read(c, TC_RAM, 0, NULL, 2), -EINVAL);
	assert_int_equal(vus_client_region_read(c, TC_RAM, 0, b, 0), 0);
	assert_int_equal(tc_mark(&d), mark);
	tc_teardown(&d, c);
}

static void posted_writes_apply_in_order(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	unsigned int mark = tc_mark(&d);
	uint32_t v = 0, big[4096];

	for (uint32_t i = 1; i <= 200; i++) {
		assert_int_equal(vus_client_region_write_posted(c, TC_RAM, 0x40,
								&i, 4), 0);
		assert_int_equal(vus_client_region_write_posted(c, TC_RAM,
								0x100 + 4 * i,
								&i, 4), 0);
	}
	/* A posted write the server refuses gets no reply either. */
	assert_int_equal(vus_client_region_write_posted(c, 9, 0, &v, 4), 0);
	/* A posted write larger than the server's limit is split too. */
	for (uint32_t i = 0; i < 4096; i++)
		big[i] = i ^ 0x5a5a5a5a;
	assert_int_equal(vus_client_region_write_posted(c, TC_RAM, 0x10000, big,
							sizeof(big)), 0);
	assert_int_equal(vus_client_region_read(c, TC_RAM, 0x40, &v, 4), 0);
	assert_int_equal(v, 200);
	for (uint32_t i = 1; i <= 200; i++) {
		memcpy(&v, d.ram + 0x100 + 4 * i, 4);
		assert_int_equal(v, i);
	}
	assert_memory_equal(d.ram + 0x10000, big, sizeof(big));
	assert_int_equal(tc_count(&d, mark, VUS_CMD_REGION_WRITE, VUS_TRACE_TX), 0);
	assert_int_equal(tc_count(&d, mark, VUS_CMD_REGION_WRITE, VUS_TRACE_RX),
			 401 + 1);
	tc_teardown(&d, c);
}

static void io_fds_are_the_device_doorbells(void **state)
{
	struct vus_client_ioeventfd io[4];
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint32_t v = 0x1234;

	assert_int_equal(vus_client_region_io_fds(c, TC_CTL, NULL, 0), 3);
	assert_int_equal(vus_client_region_io_fds(c, TC_RAM, io, 4), 0);
	assert_int_equal(vus_client_region_io_fds(c, TC_CTL, io, 4), 3);
	assert_int_equal(io[0].offset, TC_CTL_DOORBELL);
	assert_int_equal(io[0].size, 4);
	assert_true(io[0].datamatch);
	assert_int_equal(io[0].data, 0x1234);
	assert_int_equal(io[1].offset, TC_CTL_DOORBELL2);
	assert_int_equal(io[1].size, 8);
	assert_false(io[1].datamatch);
	/* Signalling our fd rings the device's doorbell (the server passes
	 * it on: the fd is the client's own, not the device's). */
	assert_int_equal(write(io[1].fd, &(uint64_t){ 1 }, 8), 8);
	assert_int_equal(tc_eventfd_wait(d.doorbell_fd), 1);
	assert_int_equal(io[2].offset, TC_CTL_KICK);
	for (int i = 0; i < 3; i++)
		close(io[i].fd);
	/* Fewer wanted than there are: all fetched, the first kept. */
	assert_int_equal(vus_client_region_io_fds(c, TC_CTL, io, 1), 3);
	assert_true(io[0].fd >= 0);
	close(io[0].fd);
	/* A matching REGION_WRITE rings it too; another value does not. */
	assert_int_equal(vus_client_region_write(c, TC_CTL, TC_CTL_DOORBELL, &v, 4), 0);
	assert_int_equal(tc_eventfd_count(d.doorbell_fd), 1);
	v = 7;
	assert_int_equal(vus_client_region_write(c, TC_CTL, TC_CTL_DOORBELL, &v, 4), 0);
	assert_int_equal(tc_eventfd_count(d.doorbell_fd), 0);
	tc_teardown(&d, c);
}

static void reset_reaches_device(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	assert_int_equal(vus_client_reset(c), 0);
	assert_int_equal(atomic_load(&d.resets), 1);
	assert_int_equal(atomic_load(&d.last_reset), VUS_RESET_CLIENT);
	tc_teardown(&d, c);
}

static bool client_gone(struct tc_dev *d)
{
	return !vus_ctx_has_client(d->ctx) && vus_dma_nr_regions(d->ctx) == 0 &&
	       !vus_irq_is_bound(d->ctx, TC_IRQ_EDGE, 0) &&
	       atomic_load(&d->client_losts) == 1;
}

static void server_takes_next_client(void **state)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct tc_dev d;
	vus_client *c;
	void *mem;
	uint8_t b = 0x5a;

	tc_dev_init(&d);
	tc_dev_start(&d, true);
	assert_int_equal(vus_client_connect(d.path, VTEST_CLIENT_CFG, &c), 0);
	assert_int_equal(vus_client_region_write(c, TC_RAM, 7, &b, 1), 0);
	assert_int_equal(vus_client_dma_map_memfd(c, 0x10000, 0x4000,
						  VUS_CLIENT_DMA_READ, &mem), 0);
	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_EDGE, TC_IRQ_EDGE_N), 0);
	assert_int_equal(vus_dma_nr_regions(d.ctx), 1);
	assert_true(vus_irq_is_bound(d.ctx, TC_IRQ_EDGE, 0));
	vus_client_close(c);
	/* The server forgets the client's mappings and eventfds... */
	assert_true(tc_wait_for(&d, client_gone));
	assert_int_equal(atomic_load(&d.unmaps), 1);
	assert_int_equal(atomic_load(&d.resets), 0);

	/* ...and the next client finds what the first one wrote. */
	b = 0;
	assert_int_equal(vus_client_connect(d.path, VTEST_CLIENT_CFG, &c), 0);
	assert_int_equal(vus_client_device_info(c, &di), 0);
	assert_int_equal(vus_client_region_read(c, TC_RAM, 7, &b, 1), 0);
	assert_int_equal(b, 0x5a);
	assert_int_equal(vus_dma_nr_regions(d.ctx), 0);
	vus_client_close(c);
	tc_dev_fini(&d);
}

static void server_gone_is_enotconn(void **state)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	vus_ctx_stop(d.ctx);
	pthread_join(d.thread, NULL);
	d.running = false;
	vus_ctx_destroy(d.ctx);
	d.ctx = NULL;
	assert_int_equal(vus_client_device_info(c, &di), -ENOTCONN);
	assert_int_equal(vus_client_reset(c), -ENOTCONN);
	vus_client_close(c);
	tc_dev_fini(&d);
}

/* A heap block of exactly @size bytes whose leading struct_size says so. */
static void *sized_block(size_t size)
{
	void *p = calloc(1, size);

	assert_non_null(p);
	memcpy(p, &size, sizeof(size));
	return p;
}

/*
 * Info structs grow by struct_size: one from an older header (smaller)
 * gets the fields it has and nothing past them (each is a heap block of
 * exactly that size: ASan sees a write past it); a region info too small
 * for the fd gets none and the fd is closed (the per-test fd check sees a
 * leak); a size larger than the library knows is refused untouched.
 */
static void info_structs_take_the_callers_size(void **state)
{
	size_t old_di = offsetof(struct vus_client_device_info, num_irqs);
	size_t old_ri = offsetof(struct vus_client_region_info, fd);
	size_t old_caps = offsetof(struct vus_client_caps, write_multiple);
	size_t big = sizeof(struct vus_client_irq_info) + 8;
	struct vus_client_device_info di = { 0 };
	struct vus_client_region_info ri = { 0 };
	struct vus_client_caps caps = { 0 };
	struct vus_client_irq_info ii = { 0 };
	void *b_di = sized_block(old_di), *b_ri = sized_block(old_ri);
	void *b_caps = sized_block(old_caps), *b_ii = sized_block(big);
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	assert_int_equal(vus_client_device_info(c, b_di), 0);
	memcpy(&di, b_di, old_di);
	assert_int_equal(di.struct_size, old_di);
	assert_int_equal(di.num_regions, TC_NUM_REGIONS);
	assert_int_equal(vus_client_region_info(c, TC_SPARSE, b_ri), 0);
	memcpy(&ri, b_ri, old_ri);
	assert_int_equal(ri.size, TC_SPARSE_SIZE);
	assert_int_equal(ri.subtype, TC_SPARSE_SUBTYPE);
	assert_int_equal(vus_client_server_caps(c, b_caps), 0);
	memcpy(&caps, b_caps, old_caps);
	assert_int_equal(caps.max_msg_fds, TC_SRV_FDS);
	/* Newer than known: refused, and nothing written. */
	memset((uint8_t *)b_ii + sizeof(size_t), 0xa5, big - sizeof(size_t));
	assert_int_equal(vus_client_irq_info(c, TC_IRQ_LEVEL, b_ii), -EINVAL);
	memcpy(&ii, b_ii, sizeof(ii));
	assert_int_equal(ii.flags, 0xa5a5a5a5u);
	memset(b_ii, 0, sizeof(size_t));
	assert_int_equal(vus_client_irq_info(c, TC_IRQ_LEVEL, b_ii), -EINVAL);
	tc_teardown(&d, c);
	free(b_di);
	free(b_ri);
	free(b_caps);
	free(b_ii);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(negotiate_reports_server_caps),
		VTEST(negotiate_by_hand),
		VTEST(negotiate_refused),
		VTEST(device_info),
		VTEST(info_structs_take_the_callers_size),
		VTEST(region_info_retries_for_sparse_caps),
		VTEST(region_mmap_is_shared_with_device),
		VTEST(region_rw_from_1_byte_to_1_mib),
		VTEST(region_rw_checks),
		VTEST(posted_writes_apply_in_order),
		VTEST(io_fds_are_the_device_doorbells),
		VTEST(reset_reaches_device),
		VTEST(server_takes_next_client),
		VTEST(server_gone_is_enotconn),
	};

	return vtest_run("client", tests, argc, argv);
}
