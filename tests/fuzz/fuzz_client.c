/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_client: the client library against a hostile server. The input
 * (fuzz_client_input.h) is a script of client calls and of the server's
 * answers to them: replies with any payload, error replies, raw bytes,
 * stale message ids, wrong command numbers, unexpected fds, silence, and
 * server requests (DMA_READ/DMA_WRITE into the client's mappings). So
 * every reply parser of the client is fuzzed: VERSION, device, region
 * (capability chains) and IRQ info, region I/O, io-fds, the SysBus
 * description, the migration features, MIG_DATA_READ/WRITE, and
 * DMA_LOGGING_REPORT bitmaps.
 *
 * No thread: the client and the "server" share one socketpair, and
 * poll() is wrapped (-Wl,--wrap=poll) so that whenever the client waits
 * for its socket, the harness first reads what the client sent and
 * answers with the next reply item; the real poll() then never blocks.
 * A reply that never comes makes the client's wait end with ETIMEDOUT at
 * once. At the end the harness hangs up, closes the client and checks
 * that no fd is left open; ASan/LSan check memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_client_input.h"
#include "vus/client.h"
#include "vus_client_raw.h"
#include "wire.h"
#include "fuzz_util.h"

int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define DMA_LEN 16384u

struct harness {
	const uint8_t *in;
	size_t left;
	uint8_t cfg;
	int cli;           /* the client's fd (its number, for poll) */
	int srv;           /* ours; -1 once we hung up */
	bool version_done;
	/* The client's messages, parsed just enough to know what it asked. */
	uint8_t hdr[16];
	size_t hdr_got;
	size_t body_left;
	bool have;         /* a request waits for an answer */
	uint16_t id, cmd;
	uint16_t srv_id;   /* ids of our own requests */
	uint8_t rx[65536];
	uint8_t tx[16 + 65536];
};

static struct harness *cur;
static uint8_t dma_mem[2][DMA_LEN];

static const char version_json[] =
	"{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":65536,"
	"\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":1048576}}}";

static void hang_up(struct harness *h)
{
	if (h->srv >= 0)
		close(h->srv);
	h->srv = -1;
}

/* A whole header from the client: a request now waits for its answer. */
static void client_msg(struct harness *h)
{
	struct wire_hdr hd;

	memcpy(&hd, h->hdr, sizeof(hd));
	h->body_left = hd.msg_size > 16 ? hd.msg_size - 16u : 0;
	if ((hd.flags & WIRE_F_TYPE_MASK) == WIRE_F_TYPE_CMD) {
		h->have = !(hd.flags & WIRE_F_NO_REPLY);
		h->id = hd.msg_id;
		h->cmd = hd.cmd;
	}
}

/* Read what the client sent; close any fds it passed. */
static void drain(struct harness *h)
{
	while (h->srv >= 0) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 16)];
		} cbuf;
		struct iovec iov = { .iov_base = h->rx, .iov_len = sizeof(h->rx) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.buf,
				     .msg_controllen = sizeof(cbuf.buf) };
		ssize_t n = recvmsg(h->srv, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		const uint8_t *p = h->rx;

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; c->cmsg_type == SCM_RIGHTS && i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
		while (n > 0) {
			size_t take;

			if (h->body_left > 0) {
				take = MIN((size_t)n, h->body_left);
				h->body_left -= take;
			} else {
				take = MIN((size_t)n, sizeof(h->hdr) - h->hdr_got);
				memcpy(h->hdr + h->hdr_got, p, take);
				h->hdr_got += take;
				if (h->hdr_got == sizeof(h->hdr)) {
					h->hdr_got = 0;
					client_msg(h);
				}
			}
			p += take;
			n -= (ssize_t)take;
		}
	}
}

static void send_msg(struct harness *h, size_t len, bool fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = h->tx, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int efd = fd ? eventfd(0, EFD_CLOEXEC) : -1;
	ssize_t n;

	if (efd >= 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &efd, sizeof(int));
	}
	n = sendmsg(h->srv, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (efd >= 0)
		close(efd);
	/* A full socket would cut a message: end the connection instead. */
	if (n != (ssize_t)len)
		hang_up(h);
}

static size_t put_hdr(struct harness *h, uint16_t id, uint16_t cmd,
		      uint32_t flags, uint32_t error, size_t body)
{
	struct wire_hdr hd = { .msg_id = id, .cmd = cmd,
			       .msg_size = (uint32_t)(16 + body),
			       .flags = flags, .error = error };

	memcpy(h->tx, &hd, sizeof(hd));
	return 16 + body;
}

/* The canned VERSION answer (FC_CFG_AUTO_VERSION). */
static void answer_version(struct harness *h)
{
	struct wire_version v = { 0, 0 };

	memcpy(h->tx + 16, &v, sizeof(v));
	memcpy(h->tx + 20, version_json, sizeof(version_json));
	h->have = false;
	h->version_done = true;
	send_msg(h, put_hdr(h, h->id, h->cmd, WIRE_F_TYPE_REPLY, 0,
			    4 + sizeof(version_json)), false);
}

/* The next reply item, sent as its kind says. */
static void answer(struct harness *h)
{
	uint8_t kind = h->in[0];
	size_t len = h->left >= FC_REPLY_HDR ? (size_t)(h->in[1] | h->in[2] << 8) : 0;
	const uint8_t *p;
	uint16_t id = (kind & FC_F_STALE) ? (uint16_t)(h->id - 1) : h->id;
	uint16_t cmd = (kind & FC_F_ALT) ? (uint16_t)(h->cmd ^ 1) : h->cmd;
	uint32_t err = 0;
	size_t n;

	n = MIN(h->left, (size_t)FC_REPLY_HDR);
	h->in += n;
	h->left -= n;
	len = MIN(len, MIN(h->left, (size_t)65536));
	p = h->in;
	h->in += len;
	h->left -= len;
	if (kind & FC_F_SILENT)
		return;
	memcpy(h->tx + 16, p, len);
	switch (kind & FC_K_MASK) {
	case FC_K_REPLY:
		n = put_hdr(h, id, cmd, WIRE_F_TYPE_REPLY, 0, len);
		break;
	case FC_K_ERROR:
		if (len >= 4)
			memcpy(&err, p, 4);
		n = put_hdr(h, id, cmd, WIRE_F_TYPE_REPLY | WIRE_F_ERROR, err,
			    len >= 4 ? len - 4 : 0);
		memmove(h->tx + 16, h->tx + 20, len >= 4 ? len - 4 : 0);
		break;
	case FC_K_RAW:
		memcpy(h->tx, p, len);
		n = len;
		break;
	default:
		n = put_hdr(h, h->srv_id++, (kind & FC_F_ALT) ?
			    WIRE_CMD_DMA_WRITE : WIRE_CMD_DMA_READ, 0, 0, len);
		send_msg(h, n, kind & FC_F_FD);
		return; /* the client's request still waits */
	}
	if (!(kind & FC_F_STALE))
		h->have = false;
	if (n > 0)
		send_msg(h, n, kind & FC_F_FD);
}

/* The client waits for its socket: play the server for one turn. */
static void server_turn(struct harness *h)
{
	drain(h);
	if (h->srv < 0 || !h->have)
		return;
	if ((h->cfg & FC_CFG_AUTO_VERSION) && !h->version_done &&
	    h->cmd == WIRE_CMD_VERSION) {
		answer_version(h);
		return;
	}
	if (h->left == 0) {
		hang_up(h);
		return;
	}
	answer(h);
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	for (nfds_t i = 0; cur != NULL && i < n; i++) {
		if (fds[i].fd == cur->cli) {
			server_turn(cur);
			timeout = 0;
			break;
		}
	}
	return __real_poll(fds, n, timeout);
}

static int memfd_with(size_t len)
{
	int fd = memfd_create("fuzz-client", MFD_CLOEXEC);

	if (fd >= 0 && len > 0 && ftruncate(fd, (off_t)len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void mig_ops(vus_client *c, unsigned int op, uint8_t a, uint32_t b)
{
	static uint8_t buf[65536];
	uint64_t v64;
	uint32_t v32;
	size_t got;
	int fd;

	switch (op) {
	case FC_OP_MIG_FLAGS:
		(void)vus_client_mig_flags(c, &v64);
		break;
	case FC_OP_MIG_GET_STATE:
		(void)vus_client_mig_get_state(c, &v32);
		break;
	case FC_OP_MIG_SET_STATE:
		(void)vus_client_mig_set_state(c, a & 7);
		break;
	case FC_OP_MIG_READ:
		(void)vus_client_mig_read(c, buf, b % sizeof(buf), &got);
		break;
	case FC_OP_MIG_WRITE:
		(void)vus_client_mig_write(c, buf, b % 8192);
		break;
	case FC_OP_MIG_DATA_SIZE:
		(void)vus_client_mig_data_size(c, &v64);
		break;
	case FC_OP_MIG_SAVE:
		fd = memfd_with(0);
		if (fd >= 0) {
			(void)vus_client_mig_save(c, fd, &v64);
			close(fd);
		}
		break;
	default: /* FC_OP_MIG_LOAD */
		fd = memfd_with(b % 8192);
		if (fd >= 0) {
			(void)vus_client_mig_load(c, fd);
			close(fd);
		}
		break;
	}
}

static void dirty_ops(vus_client *c, unsigned int op, uint8_t a, uint32_t b)
{
	static const struct vus_client_range r[3] = {
		{ 0x100000, 0x4000 }, { 0x400000, 0x4000 }, { 0x800000, 0x1000 },
	};
	uint64_t bm[64];
	uint64_t pages = b % 4096 + 1, ps = 4096ull << (a & 3);

	if (op == FC_OP_DIRTY_START)
		(void)vus_client_dirty_start(c, 4096, r, a & 3);
	else if (op == FC_OP_DIRTY_STOP)
		(void)vus_client_dirty_stop(c);
	else
		(void)vus_client_dirty_report(c, 0x100000, pages * ps, ps, bm,
					      sizeof(bm) / sizeof(bm[0]));
}

static void info_ops(vus_client *c, unsigned int op, uint8_t a, uint32_t b)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	struct vus_client_irq_info ii = { .struct_size = sizeof(ii) };
	struct vus_client_ioeventfd io[8];
	struct vus_client_sysbus_desc *sd;
	int n;

	switch (op) {
	case FC_OP_DEVICE_INFO:
		(void)vus_client_device_info(c, &di);
		break;
	case FC_OP_REGION_INFO:
		if (vus_client_region_info(c, a, &ri) == 0 && ri.fd >= 0)
			close(ri.fd);
		break;
	case FC_OP_IRQ_INFO:
		(void)vus_client_irq_info(c, a, &ii);
		break;
	case FC_OP_IO_FDS:
		n = vus_client_region_io_fds(c, a, io, a % 8);
		for (int i = 0; i < n && i < (int)(a % 8); i++)
			if (io[i].fd >= 0)
				close(io[i].fd);
		break;
	default: /* FC_OP_SYSBUS_DESC */
		if (vus_client_sysbus_desc(c, &sd) == 0) {
			(void)vus_client_sysbus_prop_str(sd, "compatible");
			(void)vus_client_sysbus_prop_u64(sd, "reg-shift", &(uint64_t){ 0 });
			vus_client_sysbus_desc_free(sd);
		}
		break;
	}
	(void)b;
}

static void step(vus_client *c, unsigned int op, uint8_t a, uint32_t b)
{
	static uint8_t buf[2048];
	struct vus_client_reply rep;
	void *mem;

	switch (op) {
	case FC_OP_MIG_FLAGS: case FC_OP_MIG_GET_STATE: case FC_OP_MIG_SET_STATE:
	case FC_OP_MIG_READ: case FC_OP_MIG_WRITE: case FC_OP_MIG_DATA_SIZE:
	case FC_OP_MIG_SAVE: case FC_OP_MIG_LOAD:
		mig_ops(c, op, a, b);
		break;
	case FC_OP_DIRTY_START: case FC_OP_DIRTY_STOP: case FC_OP_DIRTY_REPORT:
		dirty_ops(c, op, a, b);
		break;
	case FC_OP_REGION_READ:
		(void)vus_client_region_read(c, a, b >> 16, buf, b % sizeof(buf));
		break;
	case FC_OP_REGION_WRITE:
		(void)vus_client_region_write(c, a, b >> 16, buf, b % sizeof(buf));
		break;
	case FC_OP_WRITE_POSTED:
		(void)vus_client_region_write_posted(c, a, b >> 16, buf,
						     b % sizeof(buf));
		break;
	case FC_OP_RESET:
		(void)vus_client_reset(c);
		break;
	case FC_OP_DMA_MAP_MEM:
		(void)vus_client_dma_map_mem(c, 0x100000ull << (a & 1), DMA_LEN,
					     VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE,
					     dma_mem[a & 1]);
		break;
	case FC_OP_DMA_MAP_MEMFD:
		(void)vus_client_dma_map_memfd(c, 0x400000, DMA_LEN,
					       VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE,
					       &mem);
		break;
	case FC_OP_DMA_UNMAP_ALL:
		(void)vus_client_dma_unmap_all(c);
		break;
	case FC_OP_IRQ_ENABLE:
		if (vus_client_irq_enable(c, a & 0xf, a >> 4) == 0)
			(void)vus_client_irq_poll(c, a & 0xf, 0);
		break;
	case FC_OP_RAW_REQUEST:
		if (vus_client_request(c, a, 0, buf, b % 64, NULL, 0, &rep) == 0)
			vus_client_reply_free(&rep);
		break;
	case FC_OP_PROCESS:
		(void)vus_client_process(c, 0);
		break;
	default:
		info_ops(c, op, a, b);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	struct vus_client_config cfg = { .struct_size = sizeof(cfg),
					 .timeout_ms = 1000 };
	vus_client *c = NULL;
	int sv[2], base, now;

	if (size < 1)
		return 0;
	base = fuzz_count_fds();
	memset(&h, 0, offsetof(struct harness, rx));
	h.cfg = data[0];
	h.in = data + 1;
	h.left = size - 1;
	if (h.cfg & FC_CFG_SMALL) {
		cfg.max_data_xfer_size = 4096;
		cfg.max_msg_fds = 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	h.srv = sv[0];
	h.cli = sv[1];
	(void)fcntl(h.srv, F_SETFL, O_NONBLOCK);
	cur = &h;
	if (vus_client_attach_fd(sv[1], &cfg, &c) < 0)
		c = NULL;
	while (c != NULL && h.left >= FC_STEP_LEN) {
		unsigned int op = h.in[0] % FC_NR_OPS;
		uint8_t a = h.in[1];
		uint32_t b;

		memcpy(&b, h.in + 2, 4);
		h.in += FC_STEP_LEN;
		h.left -= FC_STEP_LEN;
		step(c, op, a, b);
	}
	hang_up(&h);
	vus_client_close(c);
	cur = NULL;
	now = fuzz_count_fds();
	if (now != base) {
		fprintf(stderr, "fuzz_client: fd leak: %d open, %d before\n", now,
			base);
		abort();
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}
