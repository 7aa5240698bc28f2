/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-virtio-net-pci: serve a virtio 1.x network card over vfio-user.
 *
 *   vus-virtio-net-pci --socket-path /tmp/net.sock --tap vnet0
 *   vus-virtio-net-pci --socket-path /tmp/a.sock --bind /tmp/a.dgram --peer /tmp/b.dgram
 *   vus-virtio-net-pci --socket-path /tmp/a.sock --shm-listen /tmp/link.shm
 *   vus-virtio-net-pci --socket-path /tmp/b.sock --shm-connect /tmp/link.shm
 *   vus-virtio-net-pci --fd 3 ...         (an inherited listening socket)
 *   ... --sandbox[=kill|eperm|log]        (seccomp once it listens)
 *
 * Attach it to QEMU with
 *   -device '{"driver":"vfio-user-pci","socket":{"type":"unix","path":"/tmp/net.sock"}}'
 * and Linux's virtio_pci + virtio_net drive it (README).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dma_stats.h"
#include "net.h"
#include "sample_caps.h"
#include "sample_cli.h"

struct opts {
	struct sample_cli cli;
	const char *tap;
	const char *peer;
	const char *bind;
	const char *shm;   /* --shm-listen / --shm-connect PATH */
	bool shm_listen;
	struct vnet_config net;
};

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* A multicast address cannot be a station's. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

/* 02:xx:xx:xx:xx:xx: locally administered, unicast, random. */
static void default_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		unsigned int seed = (unsigned int)getpid();

		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)rand_r(&seed);
	}
	mac[0] = 0x02;
}

static unsigned long parse_num(const char *s, unsigned long max, int *err)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v > max)
		*err = -EINVAL;
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vus-virtio-net-pci (--socket-path PATH | --fd N) BACKEND [options]\n"
		"backends:\n"
		"  --tap NAME            a TAP interface (created if missing)\n"
		"  --peer PATH           AF_UNIX datagrams to PATH, one frame each,\n"
		"  [--bind PATH]           received at PATH (a peer sends from there)\n"
		"  --shm-listen PATH     frame rings in shared memory with one peer,\n"
		"  --shm-connect PATH      which connects to PATH (or listens there)\n"
		"options:\n"
		"  --mac XX:XX:XX:XX:XX:XX  (default: random, locally administered)\n"
		"  --queue-size N        queue size, a power of two (default 256)\n"
		"  --notify MODE         ioeventfd (default) or mmap (a polled page)\n"
		"  --poll-us N           mmap mode: spin N us after activity (default 50)\n"
		"  --poll-max-us N       mmap mode: poll at least every N us when idle\n"
		"                        (default 250)\n"
		"  --mtu N               offer VIRTIO_NET_F_MTU with this MTU\n"
		"  --offload on|off      TAP checksum/segmentation offloads (default on)\n"
		"  --queues N            queue pairs, 1..%u (default 1); N > 1: a\n"
		"                        multi-queue TAP, one worker thread per pair\n",
		VNET_MAX_PAIRS);
	sample_cli_usage(f, 24);
}

static int parse_one(struct opts *o, int c, const char *arg)
{
	int err = 0;

	switch (c) {
	case 't': o->tap = arg; break;
	case 'p': o->peer = arg; break;
	case 'b': o->bind = arg; break;
	case 'L':
	case 'C':
		if (o->shm != NULL)
			err = -EINVAL;
		o->shm = arg;
		o->shm_listen = c == 'L';
		break;
	case 'm': err = parse_mac(arg, o->net.mac); break;
	case 'q': o->net.queue_size = (uint16_t)parse_num(arg, 32768, &err); break;
	case 'u': o->net.poll_spin_us = (uint32_t)parse_num(arg, 1000000, &err); break;
	case 'U': o->net.poll_max_us = (uint32_t)parse_num(arg, 1000000, &err); break;
	case 'M': o->net.mtu = (uint16_t)parse_num(arg, 65535, &err); break;
	case 'Q': o->net.queue_pairs = (uint16_t)parse_num(arg, 65535, &err); break;
	case 'n':
		if (strcmp(arg, "mmap") == 0)
			o->net.notify = VPCI_NOTIFY_MMAP;
		else if (strcmp(arg, "ioeventfd") != 0)
			err = -EINVAL;
		break;
	case 'o':
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
			err = -EINVAL;
		o->net.offloads = strcmp(arg, "on") == 0;
		break;
	default: err = -EINVAL; break;
	}
	return err;
}

static const char *const features[] = { "migration", "recovery",
					"take-over", "rpc", "sandbox", "msix",
					"intx", "tap", "dgram", "shm", NULL };
static const struct sample_caps caps = {
	.type = "virtio-net-pci", .bus = VUS_BUS_PCI, .vendor_id = 0x1af4,
	.device_id = 0x1041, .class_code = 0x020000, .features = features,
	.methods = vnet_rpc_methods, .n_methods = VNET_RPC_N_METHODS,
};

/* --queues: what several pairs need, said clearly (not just usage). */
static int check_queues(const struct opts *o)
{
	unsigned int n = o->net.queue_pairs;
	const char *why = NULL;

	if (n < 1 || n > VNET_MAX_PAIRS) {
		fprintf(stderr, "vus-virtio-net-pci: --queues %u: from 1 to %u "
			"(2 x pairs + a control queue, each with its MSI-X "
			"vector, fill the device's %u queues)\n", n,
			VNET_MAX_PAIRS, VPCI_MAX_QUEUES);
		return -EINVAL;
	}
	if (n == 1)
		return 0;
	if (o->tap == NULL)
		why = "needs --tap (one TAP queue per pair)";
	else if (o->net.notify != VPCI_NOTIFY_IOEVENTFD)
		why = "needs --notify ioeventfd (the control queue's doorbell "
		      "is served by the main loop)";
	if (why == NULL)
		return 0;
	fprintf(stderr, "vus-virtio-net-pci: --queues %u %s\n", n, why);
	return -EINVAL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		SAMPLE_CLI_LONGOPTS,
		{ "tap", required_argument, NULL, 't' },
		{ "peer", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "shm-listen", required_argument, NULL, 'L' },
		{ "shm-connect", required_argument, NULL, 'C' },
		{ "mac", required_argument, NULL, 'm' },
		{ "queue-size", required_argument, NULL, 'q' },
		{ "notify", required_argument, NULL, 'n' },
		{ "poll-us", required_argument, NULL, 'u' },
		{ "poll-max-us", required_argument, NULL, 'U' },
		{ "mtu", required_argument, NULL, 'M' },
		{ "offload", required_argument, NULL, 'o' },
		{ "queues", required_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	*o = (struct opts){ 0 };
	sample_cli_init(&o->cli);
	o->net = (struct vnet_config){ .queue_size = 256, .offloads = true,
				       .queue_pairs = 1,
				       .notify = VPCI_NOTIFY_IOEVENTFD,
				       .poll_spin_us = 50, .poll_max_us = 250 };
	default_mac(o->net.mac);
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		ret = sample_cli_option(&o->cli, c, optarg);
		if (ret < 0 || (ret == 0 && parse_one(o, c, optarg) < 0))
			return -EINVAL;
	}
	if (o->cli.print_caps) {
		sample_caps_print(stdout, &caps, lo);
		exit(0);
	}
	if (optind != argc || sample_cli_check(&o->cli) < 0)
		return -EINVAL;
	o->net.compat_version = o->cli.compat_version;
	o->net.mig_stage_dir = o->cli.mig_stage_dir;
	o->net.mig_stage_mem = o->cli.mig_stage_mem;
	o->net.log_level = o->cli.log_level;
	/* Exactly one backend; --bind only with --peer. */
	if ((o->tap != NULL) + (o->peer != NULL) + (o->shm != NULL) != 1 ||
	    (o->bind && !o->peer))
		return -EINVAL;
	if (o->net.queue_size < 2 || (o->net.queue_size & (o->net.queue_size - 1)))
		return -EINVAL;
	if (o->net.mtu != 0 && o->net.mtu < 68)
		return -EINVAL;
	return check_queues(o);
}

static void print_stats(const struct vnet *n)
{
	struct vnet_stats s;

	/* Per pair first: the totals stay the last line (tests read it). */
	for (unsigned int i = 0; vnet_pairs(n) > 1 && i < vnet_pairs(n); i++) {
		vnet_get_stats(n, (int)i, &s);
		fprintf(stderr, "vus-virtio-net-pci: pair %u: tx %llu frames, "
			"rx %llu frames, %llu kicks, %llu interrupts\n", i,
			(unsigned long long)s.tx_packets,
			(unsigned long long)s.rx_packets,
			(unsigned long long)s.kicks,
			(unsigned long long)s.interrupts);
	}
	vnet_get_stats(n, -1, &s);
	fprintf(stderr,
		"vus-virtio-net-pci: tx %llu frames %llu bytes %llu dropped, "
		"rx %llu frames %llu bytes %llu dropped, %llu kicks, "
		"%llu interrupts, %llu queue errors\n",
		(unsigned long long)s.tx_packets, (unsigned long long)s.tx_bytes,
		(unsigned long long)s.tx_dropped, (unsigned long long)s.rx_packets,
		(unsigned long long)s.rx_bytes, (unsigned long long)s.rx_dropped,
		(unsigned long long)s.kicks, (unsigned long long)s.interrupts,
		(unsigned long long)s.queue_errors);
}

static int open_backend(const struct opts *o, vus_ctx *ctx,
			struct backend **be)
{
	int fd, ret;

	/* A shm link is set up afresh: with --recover the new process meets
	 * its peer again (backend_shm.h); a hand-over cannot carry it. */
	if (o->shm != NULL && sample_taking_over()) {
		fprintf(stderr, "vus-virtio-net-pci: a shm link cannot be taken "
			"over; restart the device instead (--recover)\n");
		return -EOPNOTSUPP;
	}
	if (o->shm != NULL)
		return backend_open_shm(o->shm, o->shm_listen, be);
	/* Taking over: the running server's fd comes with its state. */
	if (sample_taking_over())
		return backend_prepare(o->tap != NULL, o->net.offloads, o->bind,
				       o->peer, be);
	/* After a crash (--recover): the dead process's, with the frames
	 * waiting in it; it stays in the fd store for the next one. */
	fd = o->cli.recover ? vus_ctx_take_fd(ctx, "backend") : -ENOENT;
	if (fd >= 0) {
		ret = backend_prepare(o->tap != NULL, o->net.offloads, o->bind,
				      o->peer, be);
		if (ret < 0) {
			close(fd);
			return ret;
		}
		return backend_adopt(*be, fd);
	}
	ret = o->tap != NULL ? backend_open_tap(o->tap, o->net.offloads, false, be)
			     : backend_open_dgram(o->bind, o->peer, be);
	if (ret == 0 && o->cli.recover)
		ret = vus_ctx_keep_fd(ctx, "backend", backend_fd(*be));
	return ret;
}

/* TAP queue @i of a multi-queue TAP: taking over, the running server's
 * (net_handover.c); after a crash (--recover) the dead process's (fd
 * store name "backend.I"); else a new one, kept there. */
static int open_tap_queue(const struct opts *o, vus_ctx *ctx, unsigned int i,
			  struct backend **be)
{
	char name[32];
	int fd, ret;

	snprintf(name, sizeof(name), "backend.%u", i);
	/* Taking over: the running server's fds come with its state. */
	if (sample_taking_over())
		return backend_prepare(true, o->net.offloads, NULL, NULL, be);
	fd = o->cli.recover ? vus_ctx_take_fd(ctx, name) : -ENOENT;
	if (fd >= 0) {
		ret = backend_prepare(true, o->net.offloads, NULL, NULL, be);
		if (ret < 0) {
			close(fd);
			return ret;
		}
		return backend_adopt(*be, fd);
	}
	ret = backend_open_tap(o->tap, o->net.offloads, true, be);
	if (ret == 0 && o->cli.recover)
		ret = vus_ctx_keep_fd(ctx, name, backend_fd(*be));
	return ret;
}

/* One backend per queue pair into @be: several only as queues of a
 * multi-queue TAP (check_queues). */
static int open_backends(const struct opts *o, vus_ctx *ctx,
			 struct backend **be)
{
	int ret = 0;

	if (o->net.queue_pairs == 1)
		return open_backend(o, ctx, &be[0]);
	for (unsigned int i = 0; ret == 0 && i < o->net.queue_pairs; i++)
		ret = open_tap_queue(o, ctx, i, &be[i]);
	return ret;
}

static void close_backends(struct backend **be)
{
	for (unsigned int i = 0; be[i] != NULL; i++)
		backend_close(be[i]);
}

/*
 * The data path once serving, on the worker thread (started at set-up,
 * so no clone): frames with readv/writev, the worker's timer and its
 * yield while polling, and what the backend needs on its own fd only
 * (backend_sandbox: the TAP's offloads; the datagram socket's connect()
 * to its configured peer and nowhere else).
 */
static int sandbox_calls(vus_sandbox *sb, void *opaque)
{
	static const long calls[] = {
		SYS_readv, SYS_writev, SYS_timerfd_settime, SYS_sched_yield,
	};
	struct backend *const *be = opaque;
	int ret = sample_allow_all(sb, calls, sizeof(calls) / sizeof(calls[0]));

	/* Each pair's backend, on its own fd. */
	for (unsigned int i = 0; ret == 0 && be[i] != NULL; i++)
		ret = backend_sandbox(be[i], sb);
	return ret;
}

static int serve(const struct opts *o)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_PCI, .name = "virtio-net",
				      .flags = sample_cli_ctx_flags(&o->cli) };
	const uint8_t *m = o->net.mac;
	/* NULL-terminated: one per queue pair. */
	struct backend *be[VNET_MAX_PAIRS + 1] = { NULL };
	struct dma_stats dst;
	struct vnet *n = NULL;
	vus_ctx *ctx = NULL;
	int ret;

	ret = vus_ctx_create(&cfg, &ctx);
	if (ret == 0) {
		vus_ctx_set_log(ctx, o->net.log_level, sample_log_sink, NULL);
		ret = sample_cli_recovery(ctx, &o->cli);
	}
	if (ret == 0) {
		ret = open_backends(o, ctx, be);
		if (ret < 0)
			fprintf(stderr, "vus-virtio-net-pci: backend: %s\n",
				strerror(-ret));
	}
	if (ret == 0) {
		dma_stats_attach(ctx, &dst);
		ret = vnet_create(ctx, be, &o->net, &n);
	}
	if (ret == 0)
		ret = vus_ctx_realize(ctx);
	if (ret == 0)
		ret = sample_cli_listen(ctx, &o->cli);
	if (ret == 0) {
		fprintf(stderr, "vus-virtio-net-pci: serving virtio-net (1af4:1041) "
			"%02x:%02x:%02x:%02x:%02x:%02x on %s\n", m[0], m[1], m[2],
			m[3], m[4], m[5],
			o->cli.socket_path ? o->cli.socket_path : "inherited fd");
		ret = sample_cli_run(ctx, &o->cli, sandbox_calls, be);
	}
	/* The worker must be gone before the context unmaps guest memory. */
	if (n != NULL)
		vnet_shutdown(n);
	vus_ctx_destroy(ctx);
	if (n != NULL) {
		print_stats(n);
		dma_stats_print(&dst, stderr);
	}
	vnet_destroy(n);
	close_backends(be);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	int ret;

	sample_hold_stop_signals();
	if (sample_takeover_prepare(&argc, &argv) < 0)
		return 1;
	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		sample_takeover_free();
		return 2;
	}
	ret = serve(&o);
	sample_takeover_free();
	if (ret < 0) {
		fprintf(stderr, "vus-virtio-net-pci: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
