/* SPDX-License-Identifier: BSD-3-Clause */
/* tserver: the threaded test server and raw peer (see tserver.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport.h"
#include "tserver.h"
#include "vtest.h"

static int regs_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	struct tdev *d = opaque;

	d->reads++;
	if (d->connects == 0)
		d->early_accesses++;
	memcpy(buf, d->regs + off, len);
	return 0;
}

static int regs_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		      size_t len)
{
	struct tdev *d = opaque;

	d->writes++;
	if (d->write_hook != NULL)
		return d->write_hook(d, off, buf, len);
	memcpy(d->regs + off, buf, len);
	return 0;
}

static int dev_reset(vus_ctx *ctx, void *opaque, enum vus_reset_reason why)
{
	struct tdev *d = opaque;

	d->resets++;
	d->last_reset = why;
	if (why == VUS_RESET_DISCONNECT)
		d->disconnect_resets++;
	return 0;
}

static int dev_quiesce(vus_ctx *ctx, void *opaque)
{
	struct tdev *d = opaque;

	d->quiesces++;
	return d->quiesce_busy ? -EBUSY : 0;
}

static void dev_resume(vus_ctx *ctx, void *opaque)
{
	((struct tdev *)opaque)->resumes++;
}

static void dev_connected(vus_ctx *ctx, void *opaque)
{
	((struct tdev *)opaque)->connects++;
}

static void dev_client_lost(vus_ctx *ctx, void *opaque)
{
	struct tdev *d = opaque;

	d->client_losts++;
	if (d->lost_hook != NULL)
		d->lost_hook(d);
}

static void dev_map(vus_ctx *ctx, void *opaque,
		    const struct vus_dma_region *r)
{
	((struct tdev *)opaque)->maps++;
}

static void dev_unmap(vus_ctx *ctx, void *opaque,
		      const struct vus_dma_region *r)
{
	((struct tdev *)opaque)->unmaps++;
}

/* Region 1's parts outside its mmap areas: the same memory, counted. */
static int mem_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct tdev *d = opaque;

	d->reads++;
	memcpy(buf, (uint8_t *)vus_region_mem(d->ctx, 1) + off, len);
	return 0;
}

static int mem_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	struct tdev *d = opaque;

	d->writes++;
	memcpy((uint8_t *)vus_region_mem(d->ctx, 1) + off, buf, len);
	return 0;
}

static const struct vus_region_ops mem_ops = {
	.struct_size = sizeof(mem_ops), .read = mem_read, .write = mem_write,
};

static const struct vus_region_ops regs_ops = {
	.struct_size = sizeof(regs_ops), .read = regs_read, .write = regs_write,
};

/* The migration option's one section: the first 8 register bytes. */
static int mig_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	return vus_mig_put(out, ((struct tdev *)o)->regs, 8);
}

static int mig_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t version)
{
	return vus_mig_get(in, ((struct tdev *)o)->regs, 8);
}

static void setup_migration(struct tserver *s, uint32_t compat)
{
	static const struct vus_mig_section_ops ops = {
		.struct_size = sizeof(ops), .save = mig_save, .load = mig_load };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = compat ? compat : 1 };

	assert_int_equal(vus_mig_setup(s->ctx, &mc), 0);
	assert_int_equal(vus_mig_add_section(s->ctx, "regs", 1, &ops, &s->dev), 0);
}

static void setup_device(struct tserver *s, const struct tserver_opts *o)
{
	static const struct vus_mmap_area areas[] = {
		{ .offset = 0x0000, .size = 0x4000 },
		{ .offset = 0x8000, .size = 0x4000 },
	};
	struct vus_region_desc r0 = {
		.struct_size = sizeof(r0), .size = 4096,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &regs_ops,
		.access_flags = VUS_ACCESS_ANY, /* tests send odd lengths */
	};
	struct vus_region_desc r1 = {
		.struct_size = sizeof(r1), .size = 0x10000,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &mem_ops,
		.access_flags = VUS_ACCESS_ANY,
		/* keeps the streams the tests cut small */
		.no_migrate = !o->migrate_mem,
		.backing = VUS_BACKING_MEM, .mmap_areas = areas,
		.nr_mmap_areas = 2,
	};
	struct vus_region_desc r2 = {
		.struct_size = sizeof(r2), .size = 2u << 20,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE,
		.backing = VUS_BACKING_MEM, .no_migrate = true,
	};
	struct vus_device_ops ops = {
		.struct_size = sizeof(ops), .reset = dev_reset,
		.dma_map = dev_map, .dma_unmap = dev_unmap,
		.connected = dev_connected, .client_lost = dev_client_lost,
	};
	struct vus_ioeventfd io = { .struct_size = sizeof(io),
		.offset = 0x100, .size = 4 };

	if (o->with_quiesce) {
		ops.quiesce = dev_quiesce;
		ops.resume = dev_resume;
	}
	s->dev.ioev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	io.fd = s->dev.ioev_fd;
	assert_int_equal(vus_region_setup(s->ctx, 0, &r0), 0);
	assert_int_equal(vus_region_setup(s->ctx, 1, &r1), 0);
	assert_int_equal(vus_region_setup(s->ctx, 2, &r2), 0);
	assert_int_equal(vus_region_add_ioeventfd(s->ctx, 0, &io), 0);
	for (unsigned int i = 0; i < o->extra_doorbells; i++) {
		io.offset = 0x400 + 4 * (uint64_t)i;
		assert_int_equal(vus_region_add_ioeventfd(s->ctx, 0, &io), 0);
	}
	assert_int_equal(vus_irq_setup(s->ctx, 0, 1,
				       VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED), 0);
	assert_int_equal(vus_irq_setup(s->ctx, 1, 4, 0), 0);
	assert_int_equal(vus_ctx_set_device_ops(s->ctx, &ops, &s->dev), 0);
	if (o->with_migration)
		setup_migration(s, o->compat);
	if (o->handover_ops != NULL)
		assert_int_equal(vus_ctx_set_handover_ops(s->ctx, o->handover_ops,
							  &s->dev), 0);
}

static void *server_main(void *arg)
{
	struct tserver *s = arg;

	s->run_ret = vus_ctx_run(s->ctx);
	return NULL;
}

void tserver_start(struct tserver *s, const struct tserver_opts *o)
{
	static const struct tserver_opts none;
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS, .name = "tserver" };
	int sv[2];

	if (o == NULL)
		o = &none;
	memset(s, 0, sizeof(*s));
	cfg.opaque = &s->dev;
	cfg.max_data_xfer_size = o->max_xfer;
	cfg.max_msg_fds = o->max_fds;
	cfg.max_dma_maps = o->max_dma_maps;
	cfg.flags = o->reset_on_disconnect ? VUS_CTX_RESET_ON_DISCONNECT : 0;
	assert_int_equal(vus_ctx_create(&cfg, &s->ctx), 0);
	vus_ctx_set_log(s->ctx, o->log_fn != NULL ? o->log_level : VUS_LOG_OFF,
			o->log_fn, o->log_opaque);
	s->dev.ctx = s->ctx;
	setup_device(s, o);
	assert_int_equal(vus_ctx_realize(s->ctx), 0);
	s->peer = -1;
	if (o->no_serve)
		return;
	if (o->listen_path != NULL) {
		assert_int_equal(vus_ctx_listen(s->ctx, o->listen_path), 0);
	} else if (o->listen_fd > 0) {
		assert_int_equal(vus_ctx_listen_fd(s->ctx, o->listen_fd), 0);
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(vus_ctx_attach_fd(s->ctx, sv[0]), 0);
		s->peer = sv[1];
	}
	if (!o->no_thread) {
		assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
		s->running = true;
	}
	if (s->peer >= 0 && !o->no_negotiate)
		peer_negotiate(s);
}

int tserver_join(struct tserver *s)
{
	if (s->running) {
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	return s->run_ret;
}

void tserver_pause(struct tserver *s)
{
	if (!s->running)
		return;
	vus_ctx_stop(s->ctx);
	(void)tserver_join(s);
}

void tserver_resume(struct tserver *s)
{
	assert_false(s->running);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	s->running = true;
}

void tserver_stop(struct tserver *s)
{
	if (s->running) {
		vus_ctx_stop(s->ctx);
		tserver_join(s);
	}
	vus_ctx_destroy(s->ctx);
	if (s->peer >= 0)
		close(s->peer);
	close(s->dev.ioev_fd);
	s->peer = -1;
}

void peer_connect(struct tserver *s, const char *path, bool negotiate)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (s->peer >= 0)
		close(s->peer);
	s->peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->peer >= 0);
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	assert_int_equal(connect(s->peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (negotiate)
		peer_negotiate(s);
}

void peer_wait_taken(struct tserver *s)
{
	int queued = 0;

	/* A stream socket's SIOCOUTQ counts what the reader has not taken. */
	while (ioctl(s->peer, SIOCOUTQ, &queued) == 0 && queued > 0)
		(void)poll(NULL, 0, 1);
	assert_int_equal(queued, 0);
}

void peer_send_raw(struct tserver *s, const void *buf, size_t len,
		   const int *fds, unsigned int nfds)
{
	size_t sent = 0;

	while (sent < len) {
		struct iovec iov = { .iov_base = (char *)buf + sent,
				     .iov_len = len - sent };
		/* The fds go with the first byte only. */
		ssize_t n = transport_sendmsg(s->peer, &iov, 1, fds,
					      sent ? 0 : nfds);

		if (n == -EAGAIN) {
			struct pollfd pf = { .fd = s->peer, .events = POLLOUT };
			assert_int_equal(poll(&pf, 1, vtest_ms(5000)), 1);
			continue;
		}
		assert_true(n > 0);
		sent += (size_t)n;
	}
}

uint16_t peer_send(struct tserver *s, uint16_t cmd, uint32_t flags,
		   const void *payload, size_t len, const int *fds,
		   unsigned int nfds)
{
	uint8_t *buf = malloc(sizeof(struct wire_hdr) + len);
	struct wire_hdr h = { .msg_id = s->next_id++, .cmd = cmd,
			      .msg_size = (uint32_t)(16 + len), .flags = flags };

	assert_non_null(buf);
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	peer_send_raw(s, buf, sizeof(h) + len, fds, nfds);
	free(buf);
	return h.msg_id;
}

static int read_exact(struct tserver *s, void *p, size_t len, int timeout_ms,
		      struct peer_msg *m)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pf = { .fd = s->peer, .events = POLLIN };
		char cbuf[CMSG_SPACE(sizeof(int) * 16)];
		struct iovec iov = { .iov_base = (char *)p + got,
				     .iov_len = len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n;

		if (poll(&pf, 1, vtest_ms(timeout_ms)) == 0)
			return -ETIMEDOUT;
		n = recvmsg(s->peer, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return -EPIPE;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k && m->nfds < 16; i++)
				memcpy(&m->fds[m->nfds++],
				       CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		got += (size_t)n;
	}
	return 0;
}

int peer_recv(struct tserver *s, struct peer_msg *m, int timeout_ms)
{
	int ret;

	m->nfds = 0;
	m->len = 0;
	ret = read_exact(s, &m->hdr, sizeof(m->hdr), timeout_ms, m);
	if (ret < 0)
		return ret;
	assert_true(m->hdr.msg_size >= 16);
	assert_true(m->hdr.msg_size - 16 <= sizeof(m->payload));
	m->len = m->hdr.msg_size - 16;
	return read_exact(s, m->payload, m->len, timeout_ms, m);
}

bool peer_eof(struct tserver *s, int timeout_ms)
{
	struct pollfd pf = { .fd = s->peer, .events = POLLIN };
	char c;

	ssize_t n;

	if (poll(&pf, 1, vtest_ms(timeout_ms)) <= 0)
		return false;
	n = recv(s->peer, &c, 1, MSG_DONTWAIT);
	/* ECONNRESET: it closed with bytes of ours unread. */
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

void peer_msg_close_fds(struct peer_msg *m)
{
	for (unsigned int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

int peer_call(struct tserver *s, uint16_t cmd, const void *payload, size_t len,
	      const int *fds, unsigned int nfds, struct peer_msg *m)
{
	uint16_t id = peer_send(s, cmd, 0, payload, len, fds, nfds);

	assert_int_equal(peer_recv(s, m, 5000), 0);
	assert_int_equal(m->hdr.msg_id, id);
	assert_int_equal(m->hdr.cmd, cmd);
	assert_int_equal(m->hdr.flags & WIRE_F_TYPE_MASK, WIRE_F_TYPE_REPLY);
	if (m->hdr.flags & WIRE_F_ERROR) {
		assert_int_equal(m->hdr.msg_size, 16);
		assert_true(m->hdr.error > 0);
		return -(int)m->hdr.error;
	}
	return 0;
}

void peer_negotiate(struct tserver *s)
{
	static const char json[] =
		"{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576}}";
	uint8_t buf[4 + sizeof(json)];
	struct peer_msg *m = malloc(sizeof(*m));

	memset(buf, 0, 4);
	memcpy(buf + 4, json, sizeof(json));
	assert_int_equal(peer_call(s, WIRE_CMD_VERSION, buf, sizeof(buf), NULL, 0, m), 0);
	free(m);
}

int peer_region_rw(struct tserver *s, uint32_t region, uint64_t off,
		   void *buf, uint32_t len, bool write, struct peer_msg *m)
{
	uint8_t req[sizeof(struct wire_region_access) + 64];
	struct wire_region_access a = { .offset = off, .region = region,
					.count = len };
	int ret;

	assert_true(len <= 64);
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
