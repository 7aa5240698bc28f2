/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client DMA tests against a real server: memfd mappings the device reaches
 * directly (vus_dma_read/write/sg on the server thread), fd-less mappings
 * the client serves with DMA_READ/DMA_WRITE while it waits for its own
 * reply or for an interrupt, the client's own map checks, and unmaps that
 * reach the device's dma_unmap callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"
#include "vus_client_raw.h"

#define MEMFD_ADDR 0x100000u
#define MEMFD_SIZE (64u << 10)
#define MEM_ADDR 0x400000u
#define MEM_SIZE (256u << 10)

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 29 + seed + (i >> 9));
}

/* Put @n bytes into the device's DMA buffer (by REGION_WRITE). */
static void dev_buf_set(vus_client *c, const void *p, size_t n)
{
	assert_int_equal(vus_client_region_write(c, TC_CTL, TC_CTL_BUF, p, n), 0);
}

static void memfd_map_is_direct_device_memory(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t *mem, pat[2000], b[16];
	void *p;

	assert_int_equal(vus_client_dma_map_memfd(c, MEMFD_ADDR, MEMFD_SIZE,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, &p), 0);
	mem = p;
	assert_int_equal(atomic_load(&d.maps), 1);
	assert_int_equal(vus_dma_nr_regions(d.ctx), 1);
	fill(mem, MEMFD_SIZE, 1);
	/* The device reads it (server thread)... */
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR + 0x10, 1000), 0);
	assert_memory_equal(d.ctl + TC_CTL_BUF, mem + 0x10, 1000);
	/* ...and writes it, with no message to us. */
	fill(pat, sizeof(pat), 9);
	dev_buf_set(c, pat, sizeof(pat));
	unsigned int mark = tc_mark(&d);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEMFD_ADDR + 0x800,
				sizeof(pat)), 0);
	assert_memory_equal(mem + 0x800, pat, sizeof(pat));
	assert_int_equal(tc_count(&d, mark, VUS_CMD_DMA_WRITE, VUS_TRACE_TX), 0);
	/* Scatter-gather: one piece, filled in place. */
	dev_buf_set(c, "\x77", 1);
	assert_int_equal(tc_run(c, TC_OP_SG_FILL, MEMFD_ADDR + 0x3000, 0x100), 1);
	memset(b, 0x77, sizeof(b));
	assert_memory_equal(mem + 0x3000, b, sizeof(b));
	assert_memory_equal(mem + 0x30f0, b, sizeof(b));
	/* Outside the mapping: the device gets EFAULT. */
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR + MEMFD_SIZE - 4, 8),
			 -EFAULT);
	/* Other device threads may use fd-backed memory too. */
	assert_int_equal(vus_dma_read(d.ctx, MEMFD_ADDR, b, 4), 0);
	assert_memory_equal(b, mem, 4);
	tc_teardown(&d, c);
}

static void memfd_map_keeps_its_protection(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	void *p;

	assert_int_equal(vus_client_dma_map_memfd(c, MEMFD_ADDR, MEMFD_SIZE,
						  VUS_CLIENT_DMA_READ, &p), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR, 64), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEMFD_ADDR, 64), -EACCES);
	tc_teardown(&d, c);
}

/* A scratch regular file of @size bytes, @flags as open(2); unlinked. */
static int scratch_file(size_t size, int flags)
{
	char path[] = "/tmp/vus-client-dma.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC), ro;
	uint8_t *pat = malloc(size);

	assert_true(fd >= 0 && pat != NULL);
	fill(pat, size, 5);
	assert_int_equal(pwrite(fd, pat, size, 0), (ssize_t)size);
	free(pat);
	if (flags == O_RDWR) {
		unlink(path);
		return fd;
	}
	ro = open(path, flags | O_CLOEXEC);
	unlink(path);
	close(fd);
	assert_true(ro >= 0);
	return ro;
}

/*
 * A caller's regular file at an offset that is not page aligned: the
 * device reads and writes the file itself; the fd stays the caller's.
 */
static void file_map_is_device_memory(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	int fd = scratch_file(3 * 4096, O_RDWR);
	uint8_t want[1000], got[1000];
	void *p;

	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 2 * 4096,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, fd, 0x123, &p), 0);
	assert_int_equal(pread(fd, want, sizeof(want), 0x123 + 0x10),
			 (ssize_t)sizeof(want));
	assert_memory_equal(want, (uint8_t *)p + 0x10, sizeof(want));
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR + 0x10, 1000), 0);
	assert_memory_equal(d.ctl + TC_CTL_BUF, want, sizeof(want));
	fill(want, sizeof(want), 3);
	dev_buf_set(c, want, sizeof(want));
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEMFD_ADDR + 0x1000,
				sizeof(want)), 0);
	assert_int_equal(pread(fd, got, sizeof(got), 0x123 + 0x1000),
			 (ssize_t)sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	/* The last byte of the grant is the device's, the next is not. */
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR + 2 * 4096 - 8, 8), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR + 2 * 4096 - 8, 9),
			 -EFAULT);
	/* Up to the file's end exactly, and one byte past it. */
	assert_int_equal(vus_client_dma_map_fd(c, 0x800000, 4096 - 0x124,
		VUS_CLIENT_DMA_READ, fd, 2 * 4096 + 0x124, NULL), 0);
	assert_int_equal(vus_client_dma_map_fd(c, 0x900000, 4096 - 0x123,
		VUS_CLIENT_DMA_READ, fd, 2 * 4096 + 0x124, NULL), -EINVAL);
	assert_int_equal(vus_client_dma_map_fd(c, 0x900000, 1,
		VUS_CLIENT_DMA_READ, fd, 3 * 4096, NULL), -EINVAL);
	assert_int_equal(vus_client_dma_unmap(c, MEMFD_ADDR, 2 * 4096), 0);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC); /* still ours */
	close(fd);
	tc_teardown(&d, c);
}

/* The fd's access mode bounds what may be granted; checked before sending. */
static void file_map_follows_the_fd_mode(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	int ro = scratch_file(4096, O_RDONLY), wo = scratch_file(4096, O_WRONLY);
	unsigned int mark = tc_mark(&d);
	void *p;

	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 4096,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, ro, 0, &p), -EACCES);
	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 4096,
		VUS_CLIENT_DMA_READ, wo, 0, &p), -EACCES);
	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 4096,
		VUS_CLIENT_DMA_READ, -1, 0, &p), -EBADF);
	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 4096,
		VUS_CLIENT_DMA_READ, 1000, 0, &p), -EBADF);
	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 0,
		VUS_CLIENT_DMA_READ, ro, 0, &p), -EINVAL);
	/* No DMA_MAP reached the server (counting all messages would race
	 * with the trace of the setup's last reply). */
	assert_int_equal(tc_count(&d, mark, VUS_CMD_DMA_MAP, VUS_TRACE_RX), 0);
	/* Read-only for the device: it reads, its writes are refused. */
	assert_int_equal(vus_client_dma_map_fd(c, MEMFD_ADDR, 4096,
		VUS_CLIENT_DMA_READ, ro, 0, &p), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR, 64), 0);
	assert_memory_equal(d.ctl + TC_CTL_BUF, p, 64);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEMFD_ADDR, 64), -EACCES);
	close(ro);
	close(wo);
	tc_teardown(&d, c);
}

static void fdless_map_is_served_while_waiting(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t *mem = malloc(MEM_SIZE), *pat = malloc(100000);

	fill(mem, MEM_SIZE, 3);
	assert_int_equal(vus_client_dma_map_mem(c, MEM_ADDR, MEM_SIZE,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, mem), 0);
	/* The device reads inside a region write callback: the client
	 * serves the DMA_READs while it waits for its REGION_WRITE reply. */
	/* (150000 bytes: three DMA_READs of the server's 64 KiB limit.) */
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEM_ADDR + 3, 150000), 0);
	assert_memory_equal(d.ctl + TC_CTL_BUF, mem + 3, 150000);
	fill(pat, 100000, 5);
	dev_buf_set(c, pat, 100000);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEM_ADDR + MEM_SIZE - 100000,
				100000), 0);
	assert_memory_equal(mem + MEM_SIZE - 100000, pat, 100000);
	/* No local address for the device to use directly. */
	assert_int_equal(tc_run(c, TC_OP_SG_FILL, MEM_ADDR, 16), -EOPNOTSUPP);
	tc_teardown(&d, c);
	free(mem);
	free(pat);
}

/*
 * VUS_CTX_DMA_MESSAGES: memory the client mapped with an fd is still
 * reached only by DMA_READ/DMA_WRITE messages, which the client serves
 * from that memory; the device gets no local address.
 */
static void dma_messages_option_ignores_fds(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup_flags(&d, VUS_CTX_DMA_MESSAGES);
	uint8_t *mem, pat[3000], b[4];
	unsigned int mark;
	void *p;

	assert_int_equal(vus_client_dma_map_memfd(c, MEMFD_ADDR, MEMFD_SIZE,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, &p), 0);
	mem = p;
	fill(mem, MEMFD_SIZE, 4);
	mark = tc_mark(&d);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEMFD_ADDR + 0x10, 1000), 0);
	assert_memory_equal(d.ctl + TC_CTL_BUF, mem + 0x10, 1000);
	assert_int_equal(tc_count(&d, mark, VUS_CMD_DMA_READ, VUS_TRACE_TX), 1);
	fill(pat, sizeof(pat), 11);
	dev_buf_set(c, pat, sizeof(pat));
	mark = tc_mark(&d);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEMFD_ADDR + 0x800,
				sizeof(pat)), 0);
	assert_memory_equal(mem + 0x800, pat, sizeof(pat));
	assert_int_equal(tc_count(&d, mark, VUS_CMD_DMA_WRITE, VUS_TRACE_TX), 1);
	/* No pointer, and no direct access from other threads. */
	assert_int_equal(tc_run(c, TC_OP_SG_FILL, MEMFD_ADDR, 16), -EOPNOTSUPP);
	assert_int_equal(vus_dma_read(d.ctx, MEMFD_ADDR, b, sizeof(b)),
			 -EOPNOTSUPP);
	tc_teardown(&d, c);
}

static void fdless_map_keeps_its_protection(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t mem[4096] = { 0 };

	assert_int_equal(vus_client_dma_map_mem(c, MEM_ADDR, sizeof(mem),
						VUS_CLIENT_DMA_READ, mem), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEM_ADDR, 64), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEM_ADDR, 64), -EACCES);
	tc_teardown(&d, c);
}

/* Find the kick among the region's doorbells; returns its fd. */
static int kick_fd(vus_client *c)
{
	struct vus_client_ioeventfd io[4];
	int n = vus_client_region_io_fds(c, TC_CTL, io, 4), fd = -1;

	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++) {
		if (io[i].offset == TC_CTL_KICK)
			fd = io[i].fd;
		else
			close(io[i].fd);
	}
	assert_true(fd >= 0);
	return fd;
}

static void fdless_map_is_served_while_idle(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	struct tc_cmd cmd = { .op = TC_OP_DMA_READ, .addr = MEM_ADDR + 8,
			      .len = 5000 };
	uint8_t *mem = malloc(MEM_SIZE);
	int kick, served = 0;

	fill(mem, MEM_SIZE, 7);
	assert_int_equal(vus_client_dma_map_mem(c, MEM_ADDR, MEM_SIZE,
						VUS_CLIENT_DMA_READ, mem), 0);
	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_EDGE, 1), 0);
	assert_int_equal(vus_client_region_write(c, TC_CTL, TC_CTL_KICK_CMD, &cmd,
						 sizeof(cmd)), 0);
	kick = kick_fd(c);
	/* As a hypervisor would on a guest write: the device works from its
	 * eventfd, DMAs, then interrupts; waiting serves the DMA_READ. */
	assert_int_equal(write(kick, &(uint64_t){ 1 }, 8), 8);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 0, vtest_ms(3000)), 1);
	assert_int_equal(atomic_load(&d.result), 0);
	assert_memory_equal(d.ctl + TC_CTL_BUF, mem + 8, 5000);
	/* vus_client_process() serves it as well. */
	memset(mem, 0x3c, 5008);
	assert_int_equal(write(kick, &(uint64_t){ 1 }, 8), 8);
	for (int i = 0; i < 50 && served == 0; i++)
		served = vus_client_process(c, vtest_ms(100));
	assert_int_equal(served, 1);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 0, vtest_ms(3000)), 1);
	assert_memory_equal(d.ctl + TC_CTL_BUF, mem + 8, 5000);
	assert_int_equal(vus_client_process(c, vtest_ms(0)), 0);
	close(kick);
	tc_teardown(&d, c);
	free(mem);
}

static void map_checks_before_sending(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t mem[8192];
	unsigned int mark;
	void *p;

	assert_int_equal(vus_client_dma_map_mem(c, 0x10000, 4096,
						VUS_CLIENT_DMA_READ, mem), 0);
	mark = tc_mark(&d);
	assert_int_equal(vus_client_dma_map_mem(c, 0x10fff, 4096,
						VUS_CLIENT_DMA_READ, mem), -EEXIST);
	assert_int_equal(vus_client_dma_map_memfd(c, 0xf000, 0x1001,
						  VUS_CLIENT_DMA_READ, &p), -EEXIST);
	assert_int_equal(vus_client_dma_map_mem(c, 0x20000, 0,
						VUS_CLIENT_DMA_READ, mem), -EINVAL);
	assert_int_equal(vus_client_dma_map_mem(c, 0x20000, 4096, 0, mem), -EINVAL);
	assert_int_equal(vus_client_dma_map_mem(c, 0x20000, 4096, 4, mem), -EINVAL);
	assert_int_equal(vus_client_dma_map_mem(c, UINT64_MAX - 10, 4096,
						VUS_CLIENT_DMA_READ, mem), -EINVAL);
	assert_int_equal(vus_client_dma_map_mem(c, 0x20000, 4096,
						VUS_CLIENT_DMA_READ, NULL), -EINVAL);
	assert_int_equal(vus_client_dma_unmap(c, 0x10000, 8192), -ENOENT);
	assert_int_equal(vus_client_dma_unmap(c, 0x30000, 4096), -ENOENT);
	assert_int_equal(tc_mark(&d), mark);
	/* The server allows 8 mappings: the ninth is refused locally. */
	for (uint64_t i = 1; i < 8; i++)
		assert_int_equal(vus_client_dma_map_mem(c, 0x100000 * i, 4096,
				 VUS_CLIENT_DMA_READ, mem), 0);
	mark = tc_mark(&d);
	assert_int_equal(vus_client_dma_map_mem(c, 0x100000 * 9, 4096,
						VUS_CLIENT_DMA_READ, mem), -ENOSPC);
	assert_int_equal(tc_mark(&d), mark);
	/* A mapping ending at 2^64 is fine. */
	assert_int_equal(vus_client_dma_unmap(c, 0x100000, 4096), 0);
	assert_int_equal(vus_client_dma_map_mem(c, UINT64_MAX - 4095, 4096,
						VUS_CLIENT_DMA_READ, mem), 0);
	tc_teardown(&d, c);
}

static void unmaps_reach_the_device(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	uint8_t mem[3][4096];
	void *p;

	assert_int_equal(vus_client_dma_map_memfd(c, MEMFD_ADDR, MEMFD_SIZE,
						  VUS_CLIENT_DMA_WRITE, &p), 0);
	assert_int_equal(vus_client_dma_map_mem(c, MEM_ADDR, sizeof(mem[0]),
						VUS_CLIENT_DMA_READ, mem[0]), 0);
	assert_int_equal(vus_client_dma_unmap(c, MEMFD_ADDR, MEMFD_SIZE), 0);
	assert_int_equal(atomic_load(&d.unmaps), 1);
	assert_int_equal(atomic_load(&d.last_unmap_addr), MEMFD_ADDR);
	assert_int_equal(atomic_load(&d.last_unmap_size), MEMFD_SIZE);
	assert_int_equal(vus_dma_nr_regions(d.ctx), 1);
	assert_int_equal(tc_run(c, TC_OP_DMA_WRITE, MEMFD_ADDR, 4), -EFAULT);
	/* Unmapped means gone here too: a second unmap is ours to refuse. */
	assert_int_equal(vus_client_dma_unmap(c, MEMFD_ADDR, MEMFD_SIZE), -ENOENT);
	for (int i = 1; i < 3; i++)
		assert_int_equal(vus_client_dma_map_mem(c, MEM_ADDR + 0x10000 * i,
			sizeof(mem[i]), VUS_CLIENT_DMA_READ, mem[i]), 0);
	assert_int_equal(vus_client_dma_unmap_all(c), 0);
	assert_int_equal(atomic_load(&d.unmaps), 4);
	assert_int_equal(vus_dma_nr_regions(d.ctx), 0);
	assert_int_equal(tc_run(c, TC_OP_DMA_READ, MEM_ADDR, 4), -EFAULT);
	/* The addresses are free again. */
	assert_int_equal(vus_client_dma_map_mem(c, MEM_ADDR, sizeof(mem[0]),
						VUS_CLIENT_DMA_READ, mem[0]), 0);
	tc_teardown(&d, c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(memfd_map_is_direct_device_memory),
		VTEST(memfd_map_keeps_its_protection),
		VTEST(file_map_is_device_memory),
		VTEST(file_map_follows_the_fd_mode),
		VTEST(fdless_map_is_served_while_waiting),
		VTEST(fdless_map_keeps_its_protection),
		VTEST(dma_messages_option_ignores_fds),
		VTEST(fdless_map_is_served_while_idle),
		VTEST(map_checks_before_sending),
		VTEST(unmaps_reach_the_device),
	};

	return vtest_run("client_dma", tests, argc, argv);
}
