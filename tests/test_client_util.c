/* SPDX-License-Identifier: BSD-3-Clause */
/* test_client_util: the served test device (see test_client_util.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"

#define TC_MAX_DMA_MAPS 8u

static int ram_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct tc_dev *d = opaque;

	atomic_fetch_add(&d->ram_accesses, 1);
	if (len > atomic_load(&d->ram_max_len))
		atomic_store(&d->ram_max_len, (unsigned int)len);
	memcpy(buf, d->ram + off, len);
	return 0;
}

static int ram_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	struct tc_dev *d = opaque;

	atomic_fetch_add(&d->ram_accesses, 1);
	if (len > atomic_load(&d->ram_max_len))
		atomic_store(&d->ram_max_len, (unsigned int)len);
	memcpy(d->ram + off, buf, len);
	return 0;
}

/* The device's DMA, on the server thread, as a real device would do it. */
static int run_cmd(struct tc_dev *d, const struct tc_cmd *cmd)
{
	uint8_t *buf = d->ctl + TC_CTL_BUF;
	struct vus_sg sg[8];
	size_t n = 0;
	int ret;

	if (cmd->len > TC_CTL_BUF_SIZE)
		return -EINVAL;
	switch (cmd->op) {
	case TC_OP_DMA_READ:
		return vus_dma_read(d->ctx, cmd->addr, buf, cmd->len);
	case TC_OP_DMA_WRITE:
		return vus_dma_write(d->ctx, cmd->addr, buf, cmd->len);
	case TC_OP_SG_FILL:
		ret = vus_dma_sg(d->ctx, cmd->addr, cmd->len, VUS_DMA_WRITE, sg,
				 8, &n);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < n; i++)
			memset(sg[i].vaddr, buf[0], (size_t)sg[i].len);
		return (int)n;
	default:
		return -EINVAL;
	}
}

static int ctl_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct tc_dev *d = opaque;
	int32_t r = atomic_load(&d->result);

	memcpy(d->ctl + TC_CTL_RESULT, &r, sizeof(r));
	memcpy(buf, d->ctl + off, len);
	return 0;
}

static int ctl_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	struct tc_dev *d = opaque;
	struct tc_cmd cmd;

	if (off == TC_CTL_CMD && len == sizeof(cmd)) {
		memcpy(&cmd, buf, sizeof(cmd));
		atomic_store(&d->result, run_cmd(d, &cmd));
		return 0;
	}
	memcpy(d->ctl + off, buf, len);
	return 0;
}

/* Outside the sparse areas: a recognisable pattern, writes dropped. */
static int sparse_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		       size_t len)
{
	memset(buf, 0xab, len);
	return 0;
}

static int sparse_write(vus_ctx *ctx, void *opaque, uint64_t off,
			const void *buf, size_t len)
{
	return 0;
}

static int dev_reset(vus_ctx *ctx, void *opaque, enum vus_reset_reason why)
{
	struct tc_dev *d = opaque;

	atomic_fetch_add(&d->resets, 1);
	atomic_store(&d->last_reset, (int)why);
	return 0;
}

static void dev_dma_map(vus_ctx *ctx, void *opaque,
			const struct vus_dma_region *r)
{
	struct tc_dev *d = opaque;

	atomic_fetch_add(&d->maps, 1);
}

static void dev_dma_unmap(vus_ctx *ctx, void *opaque,
			  const struct vus_dma_region *r)
{
	struct tc_dev *d = opaque;

	atomic_store(&d->last_unmap_addr, r->addr);
	atomic_store(&d->last_unmap_size, r->size);
	atomic_fetch_add(&d->unmaps, 1);
}

static void dev_connected(vus_ctx *ctx, void *opaque)
{
	struct tc_dev *d = opaque;

	atomic_fetch_add(&d->connects, 1);
}

static void dev_client_lost(vus_ctx *ctx, void *opaque)
{
	struct tc_dev *d = opaque;

	atomic_fetch_add(&d->client_losts, 1);
}

static void trace_cb(void *opaque, const struct vus_trace_event *ev)
{
	struct tc_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	if (d->nr_trace < TC_TRACE_MAX)
		d->trace[d->nr_trace++] = *ev;
	pthread_mutex_unlock(&d->lock);
}

static void setup_regions(struct tc_dev *d)
{
	static const struct vus_region_ops ram_ops = {
		sizeof(ram_ops), ram_read, ram_write };
	static const struct vus_region_ops ctl_ops = {
		sizeof(ctl_ops), ctl_read, ctl_write };
	static const struct vus_region_ops sparse_ops = {
		sizeof(sparse_ops), sparse_read, sparse_write };
	static const struct vus_mmap_area areas[] = {
		{ .offset = 0x8000, .size = 0x4000 },
		{ .offset = 0x0, .size = 0x4000 },
	};
	const uint32_t rw = VUS_REGION_READ | VUS_REGION_WRITE;
	/* The callbacks emulate memory: transfers of any length. */
	struct vus_region_desc r = { .struct_size = sizeof(r), .flags = rw,
				     .opaque = d, .access_flags = VUS_ACCESS_ANY };

	r.size = TC_RAM_SIZE;
	r.ops = &ram_ops;
	assert_int_equal(vus_region_setup(d->ctx, TC_RAM, &r), 0);
	r.size = TC_CTL_SIZE;
	r.ops = &ctl_ops;
	assert_int_equal(vus_region_setup(d->ctx, TC_CTL, &r), 0);
	r.size = TC_SPARSE_SIZE;
	r.ops = &sparse_ops;
	r.backing = VUS_BACKING_MEM;
	r.mmap_areas = areas;
	r.nr_mmap_areas = 2;
	r.type = TC_SPARSE_TYPE;
	r.subtype = TC_SPARSE_SUBTYPE;
	assert_int_equal(vus_region_setup(d->ctx, TC_SPARSE, &r), 0);
	r = (struct vus_region_desc){ .struct_size = sizeof(r), .flags = rw,
		.size = TC_WHOLE_SIZE, .backing = VUS_BACKING_MEM };
	assert_int_equal(vus_region_setup(d->ctx, TC_WHOLE, &r), 0);
}

/* The kick: device work started by an eventfd, not by a message. */
static void kick_cb(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	struct tc_dev *d = opaque;
	struct tc_cmd cmd;

	if (tc_eventfd_count(fd) == 0)
		return;
	memcpy(&cmd, d->ctl + TC_CTL_KICK_CMD, sizeof(cmd));
	atomic_store(&d->result, run_cmd(d, &cmd));
	(void)vus_irq_trigger(d->ctx, TC_IRQ_EDGE, 0);
}

static void setup_doorbells(struct tc_dev *d)
{
	struct vus_ioeventfd io = { .struct_size = sizeof(io),
		.offset = TC_CTL_DOORBELL, .size = 4,
		.datamatch = true, .data = 0x1234 };

	d->doorbell_fd = tc_eventfd();
	io.fd = d->doorbell_fd;
	assert_int_equal(vus_region_add_ioeventfd(d->ctx, TC_CTL, &io), 0);
	io = (struct vus_ioeventfd){ .struct_size = sizeof(struct vus_ioeventfd),
		.offset = TC_CTL_DOORBELL2, .size = 8,
		.fd = d->doorbell_fd };
	assert_int_equal(vus_region_add_ioeventfd(d->ctx, TC_CTL, &io), 0);
	d->kick_fd = tc_eventfd();
	io = (struct vus_ioeventfd){ .struct_size = sizeof(struct vus_ioeventfd),
		.offset = TC_CTL_KICK, .size = 4,
		.fd = d->kick_fd };
	assert_int_equal(vus_region_add_ioeventfd(d->ctx, TC_CTL, &io), 0);
	assert_int_equal(vus_ctx_add_fd(d->ctx, d->kick_fd, EPOLLIN, kick_cb, d), 0);
}

void tc_dev_init(struct tc_dev *d)
{
	tc_dev_init_flags(d, 0);
}

void tc_dev_init_flags(struct tc_dev *d, uint32_t ctx_flags)
{
	struct vus_ctx_config cfg = {
		.struct_size = sizeof(cfg), .bus = VUS_BUS_SYSBUS,
		.name = "tc", .opaque = d, .max_data_xfer_size = TC_SRV_XFER,
		.max_msg_fds = TC_SRV_FDS, .max_dma_maps = TC_MAX_DMA_MAPS,
		.flags = ctx_flags,
	};
	struct vus_device_ops ops = {
		.struct_size = sizeof(ops), .reset = dev_reset,
		.dma_map = dev_dma_map, .dma_unmap = dev_dma_unmap,
		.connected = dev_connected, .client_lost = dev_client_lost,
	};

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->ram = calloc(1, TC_RAM_SIZE);
	assert_non_null(d->ram);
	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	vus_ctx_set_trace(d->ctx, trace_cb, d);
	assert_int_equal(vus_ctx_set_device_ops(d->ctx, &ops, d), 0);
	setup_regions(d);
	setup_doorbells(d);
	assert_int_equal(vus_irq_setup(d->ctx, TC_IRQ_LEVEL, 1,
				       VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED), 0);
	assert_int_equal(vus_irq_setup(d->ctx, TC_IRQ_EDGE, TC_IRQ_EDGE_N, 0), 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
}

static void *serve(void *arg)
{
	struct tc_dev *d = arg;

	d->run_ret = vus_ctx_run(d->ctx);
	return NULL;
}

int tc_dev_start(struct tc_dev *d, bool listen)
{
	int sv[2] = { -1, -1 };

	if (listen) {
		d->path = vtest_sock_path("client");
		assert_int_equal(vus_ctx_listen(d->ctx, d->path), 0);
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sv), 0);
		assert_int_equal(vus_ctx_attach_fd(d->ctx, sv[0]), 0);
	}
	assert_int_equal(pthread_create(&d->thread, NULL, serve, d), 0);
	d->running = true;
	return sv[1];
}

void tc_dev_fini(struct tc_dev *d)
{
	if (d->running) {
		vus_ctx_stop(d->ctx);
		pthread_join(d->thread, NULL);
		d->running = false;
	}
	vus_ctx_destroy(d->ctx);
	close(d->doorbell_fd);
	close(d->kick_fd);
	free(d->ram);
	pthread_mutex_destroy(&d->lock);
}

static void *tc_serve_run(void *ctx)
{
	(void)vus_ctx_run(ctx);
	return NULL;
}

int tc_serve_fd(vus_ctx *ctx, pthread_t *th)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vus_ctx_attach_fd(ctx, sv[0]), 0);
	assert_int_equal(pthread_create(th, NULL, tc_serve_run, ctx), 0);
	return sv[1];
}

vus_client *tc_serve(vus_ctx *ctx, pthread_t *th)
{
	vus_client *c = NULL;

	assert_int_equal(vus_client_attach_fd(tc_serve_fd(ctx, th),
					      VTEST_CLIENT_CFG, &c), 0);
	return c;
}

void tc_serve_end(vus_client *c, pthread_t th)
{
	vus_client_close(c);
	pthread_join(th, NULL);
}

size_t tc_mig_read_all(vus_client *c, int fd)
{
	uint8_t *buf = malloc(1 << 20);
	size_t got, all = 0;

	assert_non_null(buf);
	do {
		assert_int_equal(vus_client_mig_read(c, buf, 1 << 20, &got), 0);
		assert_int_equal(write(fd, buf, got), (ssize_t)got);
		all += got;
	} while (got > 0);
	free(buf);
	return all;
}

vus_client *tc_setup(struct tc_dev *d)
{
	return tc_setup_flags(d, 0);
}

vus_client *tc_setup_flags(struct tc_dev *d, uint32_t ctx_flags)
{
	vus_client *c = NULL;

	tc_dev_init_flags(d, ctx_flags);
	assert_int_equal(vus_client_attach_fd(tc_dev_start(d, false), VTEST_CLIENT_CFG, &c), 0);
	return c;
}

void tc_teardown(struct tc_dev *d, vus_client *c)
{
	vus_client_close(c);
	tc_dev_fini(d);
}

int tc_run(vus_client *c, uint32_t op, uint64_t addr, uint32_t len)
{
	struct tc_cmd cmd = { .op = op, .len = len, .addr = addr };
	int32_t r;

	assert_int_equal(vus_client_region_write(c, TC_CTL, TC_CTL_CMD, &cmd,
						 sizeof(cmd)), 0);
	assert_int_equal(vus_client_region_read(c, TC_CTL, TC_CTL_RESULT, &r,
						sizeof(r)), 0);
	return r;
}

unsigned int tc_mark(struct tc_dev *d)
{
	unsigned int n;

	pthread_mutex_lock(&d->lock);
	n = d->nr_trace;
	pthread_mutex_unlock(&d->lock);
	return n;
}

unsigned int tc_count(struct tc_dev *d, unsigned int from, uint16_t cmd,
		      enum vus_trace_dir dir)
{
	unsigned int n = 0;

	pthread_mutex_lock(&d->lock);
	for (unsigned int i = from; i < d->nr_trace; i++)
		if (d->trace[i].cmd == cmd && d->trace[i].dir == dir)
			n++;
	pthread_mutex_unlock(&d->lock);
	return n;
}

unsigned int tc_find(struct tc_dev *d, unsigned int from, uint16_t cmd,
		     struct vus_trace_event *out, unsigned int max)
{
	unsigned int n = 0;

	pthread_mutex_lock(&d->lock);
	for (unsigned int i = from; i < d->nr_trace && n < max; i++)
		if (d->trace[i].cmd == cmd && d->trace[i].dir == VUS_TRACE_RX)
			out[n++] = d->trace[i];
	pthread_mutex_unlock(&d->lock);
	return n;
}

bool tc_wait_for(struct tc_dev *d, bool (*cond)(struct tc_dev *d))
{
	for (long long end = vtest_deadline(5000); !vtest_expired(end);) {
		if (cond(d))
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return cond(d);
}

uint64_t tc_eventfd_count(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

uint64_t tc_eventfd_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	(void)poll(&p, 1, vtest_ms(5000));
	return tc_eventfd_count(fd);
}

int tc_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	return fd;
}
