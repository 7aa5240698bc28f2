/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: what crash recovery costs a message. A PCI device on a
 * server thread with a 64-byte migration section it marks changed on
 * every BAR write, the libvus client in the main thread, a real
 * socketpair between them; 4-byte REGION_WRITE round trips (the client
 * waits for each reply) and REGION_READs, with the context plain and with
 * vus_ctx_enable_recovery() (the fd store is a datagram socket of this
 * program). The difference is the state area's work per message: saving
 * the sections that changed and committing them. Round trips on a busy
 * machine are noisy, so the best of five runs is shown, and the work
 * itself is also timed alone: what the engine does after a BAR write
 * (the library's "pci" section and the device's section saved, the
 * message and its reply journaled, all CRC'd and committed), with no
 * socket in the way. The round trips include the rest: peeking each
 * message, taking it out after the commit, marking the reply sent.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "recovery.h"
#include "vus.h"
#include "vus/client.h"

#define OPS 50000
#define MIN_D(a, b) ((a) < (b) ? (a) : (b))

struct dev {
	vus_ctx *ctx;
	uint8_t regs[64];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rd(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	struct dev *d = o;

	memcpy(buf, d->regs + off, len);
	return 0;
}

static int wr(vus_ctx *ctx, void *o, uint64_t off, const void *buf, size_t len)
{
	struct dev *d = o;

	memcpy(d->regs + off, buf, len);
	(void)vus_ctx_state_changed(d->ctx, "regs");
	return 0;
}

static int save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	return vus_mig_put(out, ((struct dev *)o)->regs, 64);
}

static int load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return vus_mig_get(in, ((struct dev *)o)->regs, 64);
}

static void *serve(void *arg)
{
	vus_ctx_run(arg);
	return NULL;
}

static void make_server(struct dev *d, int fd, bool recover)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = rd, .write = wr };
	static const struct vus_mig_section_ops sops = {
		.struct_size = sizeof(sops), .save = save, .load = load };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI, .name = "bench" };
	struct vus_pci_info info = { .struct_size = sizeof(info),
				     .vendor_id = 0x1234, .device_id = 0x5678 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 64,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops,
		.opaque = d };
	struct vus_mig_config mc = { .struct_size = sizeof(mc),
				     .compat_version = 1 };

	if (vus_ctx_create(&cfg, &d->ctx) < 0 ||
	    (recover && vus_ctx_enable_recovery(d->ctx, NULL) < 0) ||
	    vus_pci_init(d->ctx, &info) < 0 ||
	    vus_pci_setup_bar(d->ctx, 0, 0, &bar) < 0 ||
	    vus_mig_setup(d->ctx, &mc) < 0 ||
	    vus_mig_add_section(d->ctx, "regs", 1, &sops, d) < 0 ||
	    vus_ctx_realize(d->ctx) < 0 || vus_ctx_attach_fd(d->ctx, fd) < 0) {
		fprintf(stderr, "bench_recover: server set-up failed\n");
		exit(1);
	}
}

static int store_fd = -1;

/* What the fake store was sent: read and dropped (fds closed). */
static void drain_store(void)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int) * 16)];
		} cbuf;
		char buf[4096];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.b,
				     .msg_controllen = sizeof(cbuf.b) };

		if (recvmsg(store_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(c))[i]);
	}
}

struct figures { double write_us, read_us; };

static void keep_best(struct figures *best, const struct figures *f)
{
	if (best->write_us == 0 || f->write_us < best->write_us)
		best->write_us = f->write_us;
	if (best->read_us == 0 || f->read_us < best->read_us)
		best->read_us = f->read_us;
}

/* The state area's work after one BAR write, alone: us per message. */
static double commit_cost(void)
{
	struct dev d = { 0 };
	int sv[2];
	double t0, best = 1e9;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	make_server(&d, sv[0], true);
	for (int round = 0; round < 5; round++) {
		t0 = now_s();
		for (int i = 0; i < OPS; i++) {
			struct kept_journal j = { .flags = KEPT_J_PEEKED };
			uint8_t reply[32] = { 0 };
			struct iovec iov = { reply, sizeof(reply) };

			d.regs[i & 63] = (uint8_t)i;
			(void)vus_ctx_state_changed(d.ctx, "regs");
			(void)recovery_message_done(ctx_recovery(d.ctx), KEPT_BUS,
						    &j, &iov, 1);
		}
		best = MIN_D(best, (now_s() - t0) / OPS * 1e6);
	}
	close(sv[1]);
	vus_ctx_destroy(d.ctx);
	drain_store();
	return best;
}

static void run(bool recover, struct figures *f)
{
	struct dev d = { 0 };
	uint32_t v = 1;
	vus_client *c;
	pthread_t th;
	double t0;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(1);
	make_server(&d, sv[0], recover);
	pthread_create(&th, NULL, serve, d.ctx);
	if (vus_client_attach_fd(sv[1], NULL, &c) < 0)
		exit(1);
	t0 = now_s();
	for (int i = 0; i < OPS; i++)
		if (vus_client_region_write(c, 0, 16, &i, 4) < 0)
			exit(1);
	f->write_us = (now_s() - t0) / OPS * 1e6;
	t0 = now_s();
	for (int i = 0; i < OPS; i++)
		if (vus_client_region_read(c, 0, 16, &v, 4) < 0)
			exit(1);
	f->read_us = (now_s() - t0) / OPS * 1e6;
	vus_client_close(c);
	pthread_join(th, NULL);
	vus_ctx_destroy(d.ctx);
	drain_store();
}

/* A datagram socket standing in for the service manager's fd store. */
static int fake_store(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len;

	snprintf(name, sizeof(name), "@vus-bench-recover-%d", (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	memcpy(sa.sun_path, name, strlen(name));
	sa.sun_path[0] = '\0';
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0)
		exit(1);
	setenv("NOTIFY_SOCKET", name, 1);
	return fd;
}

int main(void)
{
	struct figures plain = { 0 }, rec = { 0 }, f;

	store_fd = fake_store();
	for (int i = 0; i < 5; i++) {
		run(false, &f);
		keep_best(&plain, &f);
		run(true, &f);
		keep_best(&rec, &f);
	}
	printf("REGION_WRITE round trip, 4 bytes (section changed): %.2f us plain, "
	       "%.2f us with crash recovery (+%.2f us, x%.2f)\n",
	       plain.write_us, rec.write_us, rec.write_us - plain.write_us,
	       rec.write_us / plain.write_us);
	printf("REGION_READ round trip, 4 bytes (nothing changed):  %.2f us plain, "
	       "%.2f us with crash recovery (+%.2f us, x%.2f)\n",
	       plain.read_us, rec.read_us, rec.read_us - plain.read_us,
	       rec.read_us / plain.read_us);
	printf("state area work per BAR write (pci + device section saved, "
	       "reply journaled, committed): %.3f us\n", commit_cost());
	close(store_fd);
	return 0;
}
