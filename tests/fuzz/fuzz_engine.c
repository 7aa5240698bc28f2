/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_engine: a whole connection per input. The input (fuzz_input.h) is
 * written, chunk by chunk and with the fds it asks for, to one end of a
 * socketpair whose other end is attached to a real context serving a
 * fuzz device (fuzz_dev.h). The harness drives vus_ctx_run_once(ctx, 0)
 * itself, drains and discards what the server sends (closing any fds),
 * and at the end hangs up, lets the server tear down, destroys everything
 * and checks that no fd was left open.
 *
 * When a device callback makes the server wait for its own DMA request,
 * the server polls its socket; poll() is wrapped (-Wl,--wrap=poll) so
 * that the harness plays the client there: it answers the request as the
 * config byte says, or feeds the next chunk, or hangs up when the input is
 * used up. So a DMA wait always ends, without threads and without timing.
 *
 * A client may also stop reading replies for a while (the server's output
 * queue and its 4 MiB limit), have tiny socket buffers, or vanish outright
 * at the end while the context is destroyed under it.
 *
 * Built twice: fuzz_engine (SysBus-style device) and fuzz_engine_pci
 * (FZ_PCI: a PCI function, config space and MSI-X through region I/O).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_dev.h"
#include "fuzz_input.h"
#include "wire.h"
#include "fuzz_util.h"

#ifndef FZ_PCI
#define FZ_PCI 0
#endif

#define KEEP_MAX 16       /* eventfds the harness keeps to signal */
#define SERVE_ROUNDS 64   /* run_once calls per "let the server run" */
#define FINISH_ROUNDS 4096 /* after hang-up; more means the server hangs */
#define STUCK_WRITES 8    /* tries to write a chunk the server won't take */
#define MIG_CAP 32768     /* migration stream bytes the harness keeps */
#define MIG_PIECE 2048    /* data bytes per replayed MIG_DATA_WRITE */
#define MIG_REPLAY (MIG_CAP + (MIG_CAP / MIG_PIECE + 1) * 24)

int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct harness {
	const uint8_t *in;   /* chunks not yet fed */
	size_t left;
	uint8_t cfg;
	struct fdev dev;
	int cli;             /* our end */
	int srv;             /* the server's end (its fd number) */
	bool eof;            /* we hung up (SHUT_WR) */
	bool stalled;        /* not reading replies (outside DMA waits) */
	const uint8_t *pend; /* rest of a chunk the socket did not take */
	size_t pend_len;
	/* What the server sends, parsed just enough to see its requests. */
	uint8_t hdr[16];
	size_t hdr_got;
	uint8_t head[16];    /* first bytes of the body */
	size_t body_len;
	size_t body_got;
	bool have_req;
	struct wire_hdr req_hdr;
	struct wire_dma_access req;
	bool cap_on;         /* a MIG_DATA_READ reply is being read */
	unsigned int nreplies;
	int keep[KEEP_MAX];
	unsigned int nkeep;
	/*
	 * The stream the server sent in MIG_DATA_READ replies, kept so that
	 * an action can write it back during RESUMING: a valid stream (CRC
	 * and all) that the fuzzer could never guess, so successful loads
	 * and the states after them are reachable. Not cleared per input
	 * (only mig_len): large.
	 */
	uint8_t capbody[8 + MIG_CAP];
	uint8_t mig[MIG_CAP];
	size_t mig_len;
	uint8_t replay[MIG_REPLAY];
	uint8_t rx[65536];
};

static struct harness *cur; /* for the poll wrapper */
static bool trace;          /* FUZZ_TRACE=1: print every message */

static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

/* A MIG_DATA_READ reply done: keep its data; a new stream starts over. */
static void mig_capture(struct harness *h)
{
	size_t got = MIN(h->body_got, sizeof(h->capbody));
	uint32_t size;
	size_t n;

	if (got < 8)
		return;
	memcpy(&size, h->capbody + 4, sizeof(size));
	n = MIN((size_t)size, got - 8);
	if (n >= 8 && memcmp(h->capbody + 8, "VUSMIG\0\1", 8) == 0)
		h->mig_len = 0;
	n = MIN(n, sizeof(h->mig) - h->mig_len);
	memcpy(h->mig + h->mig_len, h->capbody + 8, n);
	h->mig_len += n;
}

/* One message of the server done: remember a DMA request. */
static void msg_done(struct harness *h)
{
	struct wire_hdr hd;

	memcpy(&hd, h->hdr, sizeof(hd));
	h->hdr_got = 0;
	if (h->cap_on)
		mig_capture(h);
	h->cap_on = false;
	if ((hd.flags & WIRE_F_TYPE_MASK) != WIRE_F_TYPE_CMD ||
	    (hd.cmd != WIRE_CMD_DMA_READ && hd.cmd != WIRE_CMD_DMA_WRITE) ||
	    h->body_len < sizeof(h->req))
		return;
	h->have_req = true;
	h->req_hdr = hd;
	memcpy(&h->req, h->head, sizeof(h->req));
}

static void parse(struct harness *h, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t take;

		if (h->hdr_got < sizeof(h->hdr)) {
			struct wire_hdr hd;

			take = MIN(n, sizeof(h->hdr) - h->hdr_got);
			memcpy(h->hdr + h->hdr_got, p, take);
			h->hdr_got += take;
			p += take;
			n -= take;
			if (h->hdr_got < sizeof(h->hdr))
				return;
			memcpy(&hd, h->hdr, sizeof(hd));
			h->body_len = hd.msg_size > 16 ? hd.msg_size - 16u : 0;
			h->body_got = 0;
			h->cap_on = hd.cmd == WIRE_CMD_MIG_DATA_READ &&
				    (hd.flags & WIRE_F_TYPE_MASK) == WIRE_F_TYPE_REPLY &&
				    !(hd.flags & WIRE_F_ERROR);
			if (h->body_len == 0)
				msg_done(h);
			continue;
		}
		take = MIN(n, h->body_len - h->body_got);
		if (h->body_got < sizeof(h->head))
			memcpy(h->head + h->body_got, p,
			       MIN(take, sizeof(h->head) - h->body_got));
		if (h->cap_on && h->body_got < sizeof(h->capbody))
			memcpy(h->capbody + h->body_got, p,
			       MIN(take, sizeof(h->capbody) - h->body_got));
		h->body_got += take;
		p += take;
		n -= take;
		if (h->body_got == h->body_len)
			msg_done(h);
	}
}

/* Read and discard what the server sent; close fds it attached. */
static void drain(struct harness *h)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 253)];
		} cbuf;
		struct iovec iov = { .iov_base = h->rx, .iov_len = sizeof(h->rx) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.buf,
				     .msg_controllen = sizeof(cbuf.buf) };
		ssize_t n = recvmsg(h->cli, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

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
		parse(h, h->rx, (size_t)n);
	}
}

/* sendmsg without blocking; the fds go with the first byte. */
static ssize_t send_fds(int fd, const void *p, size_t len, const int *fds,
			unsigned int nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void serve(struct harness *h)
{
	for (int i = 0; i < SERVE_ROUNDS; i++) {
		int n = vus_ctx_run_once(h->dev.ctx, 0);

		if (!h->stalled)
			drain(h);
		if (n <= 0)
			break;
	}
}

/*
 * Write the pending rest of a chunk. Outside the server, run it while the
 * socket is full and drop what a server that takes nothing leaves; inside
 * (the server is pumping its socket) keep the rest for the next turn.
 */
static void flush_pend(struct harness *h, bool nested)
{
	int stuck = 0;

	while (h->pend_len > 0) {
		ssize_t n = send_fds(h->cli, h->pend, h->pend_len, NULL, 0);

		if (n > 0) {
			h->pend += n;
			h->pend_len -= (size_t)n;
			stuck = 0;
			continue;
		}
		if (n < 0 && errno == EAGAIN && nested)
			return;
		if (n < 0 && errno == EAGAIN && ++stuck <= STUCK_WRITES) {
			serve(h);
			continue;
		}
		break;
	}
	h->pend_len = 0;
}

static void keep_eventfd(struct harness *h, int fd)
{
	if (h->nkeep == KEEP_MAX) {
		close(h->keep[0]);
		memmove(h->keep, h->keep + 1, sizeof(int) * (KEEP_MAX - 1));
		h->nkeep--;
	}
	h->keep[h->nkeep++] = fd;
}

/* Make @n fds of @kind; our copies go to *ours (to close or keep). */
static unsigned int make_fds(unsigned int kind, unsigned int n, uint8_t aux,
			     int *send, int *ours)
{
	unsigned int made = 0;

	for (unsigned int i = 0; i < n; i++) {
		int p[2] = { -1, -1 };

		switch (kind) {
		case FZ_FD_EVENTFD:
			p[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			break;
		case FZ_FD_MEMFD:
			p[0] = memfd_create("fuzz-ram", MFD_CLOEXEC);
			if (p[0] >= 0 &&
			    ftruncate(p[0], (off_t)(aux + 1u) * 4096) < 0) {
				close(p[0]);
				p[0] = -1;
			}
			break;
		case FZ_FD_PIPE:
			if (pipe2(p, O_CLOEXEC) < 0)
				p[0] = p[1] = -1;
			break;
		default:
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
				p[0] = p[1] = -1;
			break;
		}
		if (p[0] < 0)
			break;
		if (p[1] >= 0)
			close(p[1]);
		send[made] = p[0];
		ours[made++] = p[0];
	}
	return made;
}

static void flush_pend(struct harness *h, bool nested);

/*
 * Write the kept stream back as MIG_DATA_WRITE messages (outside the
 * server only: inside, the rest would interleave with the next chunk).
 */
static void mig_replay(struct harness *h)
{
	size_t len = 0;
	uint16_t id = 0xf000;

	for (size_t off = 0; off < h->mig_len; off += MIG_PIECE) {
		uint32_t n = (uint32_t)MIN((size_t)MIG_PIECE, h->mig_len - off);
		struct wire_hdr hd = { .msg_id = id++, .cmd = WIRE_CMD_MIG_DATA_WRITE,
				       .msg_size = 16 + 8 + n };
		uint32_t q[2] = { 8 + n, n };

		memcpy(h->replay + len, &hd, sizeof(hd));
		memcpy(h->replay + len + 16, q, sizeof(q));
		memcpy(h->replay + len + 24, h->mig + off, n);
		len += 24 + n;
	}
	h->pend = h->replay;
	h->pend_len = len;
	flush_pend(h, false);
}

static void act(struct harness *h, unsigned int action, uint8_t aux,
		bool nested)
{
	switch (action) {
	case FZ_ACT_QUIESCED:
		vus_ctx_quiesced(h->dev.ctx);
		break;
	case FZ_ACT_BUSY:
		if (aux == 0 || (aux & 1))
			h->dev.busy = !h->dev.busy;
		if (aux & 2)
			h->stalled = !h->stalled;
		if ((aux & 4) && !nested)
			mig_replay(h);
		break;
	case FZ_ACT_SIGNAL:
		for (unsigned int i = 0; i < h->nkeep; i++)
			(void)eventfd_write(h->keep[i], 1);
		fdev_irqs(&h->dev, aux);
		break;
	default:
		break;
	}
}

/* Take the next chunk from the input and write it, with its fds. */
static void feed_chunk(struct harness *h, bool nested)
{
	uint8_t op = 0, aux = 0;
	size_t len = h->left;
	const uint8_t *p;
	int fds[8], ours[8];
	unsigned int nfds, kind;
	ssize_t n = 0;

	if (h->left >= FZ_CHUNK_HDR) {
		op = h->in[0];
		aux = h->in[1];
		len = MIN((size_t)(h->in[2] | h->in[3] << 8), h->left - FZ_CHUNK_HDR);
		h->in += FZ_CHUNK_HDR;
		h->left -= FZ_CHUNK_HDR;
	}
	p = h->in;
	h->in += len;
	h->left -= len;
	act(h, (op & FZ_OP_ACT_MASK) >> FZ_OP_ACT_SHIFT, aux, nested);
	kind = (op & FZ_OP_KIND_MASK) >> FZ_OP_KIND_SHIFT;
	nfds = len > 0 ? make_fds(kind, op & FZ_OP_NFDS_MASK, aux, fds, ours) : 0;
	if (len > 0) {
		n = send_fds(h->cli, p, len, fds, nfds);
		if (n < 0 && errno == EAGAIN && !nested) {
			/* Full: let the server read, then try once more. */
			serve(h);
			n = send_fds(h->cli, p, len, fds, nfds);
		}
		if (n < 0)
			n = 0; /* the fds are dropped, the bytes wait */
	}
	for (unsigned int i = 0; i < nfds; i++) {
		if (kind == FZ_FD_EVENTFD && n > 0)
			keep_eventfd(h, ours[i]);
		else
			close(ours[i]);
	}
	if ((size_t)n < len) {
		h->pend = p + n;
		h->pend_len = len - (size_t)n;
		flush_pend(h, nested);
	}
	if (!nested && (op & FZ_OP_RUN))
		serve(h);
}

/* Answer the server's DMA request as the config says. */
static void answer(struct harness *h)
{
	uint8_t buf[16 + 16 + 256 + 16];
	struct wire_hdr r = { .msg_id = h->req_hdr.msg_id, .cmd = h->req_hdr.cmd,
			      .flags = WIRE_F_TYPE_REPLY };
	struct wire_dma_access a = h->req;
	bool read = h->req_hdr.cmd == WIRE_CMD_DMA_READ;
	size_t data = read ? (size_t)MIN(a.count, 256u) : 0;
	size_t body = sizeof(a) + data;
	unsigned int variant = (h->cfg & FZ_CFG_REPLY_MASK) == FZ_CFG_REPLY_MIXED
			       ? h->nreplies % 7 : 0;

	h->have_req = false;
	h->nreplies++;
	memset(buf, 0, sizeof(buf));
	memset(buf + 32, 0x5a, data);
	switch (variant) {
	case 1: /* the client refuses */
		r.flags |= WIRE_F_ERROR;
		r.error = EFAULT;
		body = 0;
		break;
	case 2: /* a length that fits nothing */
		body = read ? body - 1 : 13;
		break;
	case 3: /* another address */
		a.addr ^= 0x1000;
		break;
	case 4: /* a bare header (what QEMU sends for DMA_WRITE) */
		body = 0;
		break;
	case 5: /* an errno out of range */
		r.flags |= WIRE_F_ERROR;
		r.error = 100000;
		body = 0;
		break;
	case 6: /* DMA_WRITE: the spec table's 12 bytes; DMA_READ: a lie */
		if (read)
			a.count++;
		else
			body = 12;
		break;
	default:
		break;
	}
	memcpy(buf + 16, &a, sizeof(a));
	r.msg_size = (uint32_t)(16 + body);
	memcpy(buf, &r, sizeof(r));
	if (send_fds(h->cli, buf, 16 + body, NULL, 0) != (ssize_t)(16 + body)) {
		/* The socket is full: the server reads, we hang up instead. */
		shutdown(h->cli, SHUT_WR);
		h->eof = true;
	}
}

/* The server waits for its socket: play the client for one step. */
static void client_turn(struct harness *h)
{
	unsigned int policy = h->cfg & FZ_CFG_REPLY_MASK;

	if (h->cli < 0)
		return;
	drain(h);
	if (h->pend_len > 0) {
		flush_pend(h, true);
		return;
	}
	if (h->have_req && (policy == FZ_CFG_REPLY_GOOD ||
			    policy == FZ_CFG_REPLY_MIXED)) {
		answer(h);
		return;
	}
	if (h->left > 0) {
		feed_chunk(h, true);
		return;
	}
	if (!h->eof) {
		shutdown(h->cli, SHUT_WR);
		h->eof = true;
	}
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (cur != NULL && n == 1 && fds[0].fd == cur->srv) {
		client_turn(cur);
		timeout = 0;
	}
	return __real_poll(fds, n, timeout);
}

/*
 * Vanish: close our end at once, let the server notice (failed sends, a
 * hang-up while it holds a message), then destroy the context whatever
 * state the connection is in.
 */
static void finish_abrupt(struct harness *h)
{
	close(h->cli);
	h->cli = -1;
	h->eof = true;
	for (int i = 0; i < 8; i++)
		(void)vus_ctx_run_once(h->dev.ctx, 0);
}

/* Hang up and let the server finish with us: a bounded number of turns. */
static void finish(struct harness *h)
{
	h->stalled = false;
	flush_pend(h, false);
	shutdown(h->cli, SHUT_WR);
	h->eof = true;
	for (int i = 0; i < FINISH_ROUNDS; i++) {
		int n = vus_ctx_run_once(h->dev.ctx, 0);

		drain(h);
		if (n == -ENOTCONN)
			return;
		/* A real device confirms its quiesce eventually. */
		if (n == 0 && h->dev.quiesce_asked)
			vus_ctx_quiesced(h->dev.ctx);
	}
	fprintf(stderr, "fuzz_engine: the server never finished the connection\n");
	abort();
}

static void trace_msg(void *opaque, const struct vus_trace_event *ev)
{
	(void)opaque;
	fprintf(stderr, "%s %-24s id %5u flags %#x size %u fds %u error %d\n",
		ev->dir == VUS_TRACE_RX ? "rx" : "tx", wire_cmd_name(ev->cmd),
		ev->msg_id, ev->flags, ev->size, ev->nr_fds, ev->error);
}

static int setup(struct harness *h, uint8_t cfg)
{
	struct fdev_opts o = {
		.pci = FZ_PCI, .quiesce = cfg & FZ_CFG_QUIESCE,
		.busy = cfg & FZ_CFG_BUSY,
	};
	int sv[2];

	if (cfg & FZ_CFG_SMALL) {
		o.max_xfer = 4096;
		o.max_fds = 4;
		o.max_dma_maps = 8;
	}
	if (fdev_create(&h->dev, &o) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		fdev_destroy(&h->dev);
		return -1;
	}
	if (cfg & FZ_CFG_TINY_BUF) {
		int one = 1; /* the kernel rounds up to its minimum */

		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
		(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	}
	h->cli = sv[1];
	h->srv = sv[0];
	if (trace)
		vus_ctx_set_trace(h->dev.ctx, trace_msg, NULL);
	if (vus_ctx_attach_fd(h->dev.ctx, sv[0]) < 0) {
		close(sv[1]);
		fdev_destroy(&h->dev);
		return -1;
	}
	return 0;
}

static void negotiate(struct harness *h)
{
	uint8_t buf[16 + 4 + sizeof(qemu_json)];
	struct wire_hdr hd = { .msg_id = 0xffff, .cmd = WIRE_CMD_VERSION,
			       .msg_size = sizeof(buf) };

	memcpy(buf, &hd, sizeof(hd));
	memset(buf + 16, 0, 4);
	memcpy(buf + 20, qemu_json, sizeof(qemu_json));
	(void)send_fds(h->cli, buf, sizeof(buf), NULL, 0);
	serve(h);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The client may hang up on us at any time. */
	signal(SIGPIPE, SIG_IGN);
	trace = getenv("FUZZ_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	int base_fds, fds;

	if (size < 1)
		return 0;
	base_fds = fuzz_count_fds();
	memset(&h, 0, offsetof(struct harness, capbody));
	h.mig_len = 0;
	h.cfg = data[0];
	h.in = data + 1;
	h.left = size - 1;
	if (setup(&h, h.cfg) < 0)
		abort();
	cur = &h;
	if (h.cfg & FZ_CFG_NEGOTIATE)
		negotiate(&h);
	while (h.left > 0 || h.pend_len > 0) {
		if (h.pend_len > 0)
			flush_pend(&h, false);
		else
			feed_chunk(&h, false);
	}
	serve(&h);
	if (h.cfg & FZ_CFG_ABRUPT)
		finish_abrupt(&h);
	else
		finish(&h);
	cur = NULL;
	fdev_destroy(&h.dev);
	if (h.cli >= 0)
		close(h.cli);
	for (unsigned int i = 0; i < h.nkeep; i++)
		close(h.keep[i]);
	/* Every fd the client sent was closed by the server. */
	fds = fuzz_count_fds();
	if (fds != base_fds) {
		fprintf(stderr, "fuzz_engine: fd leak: %d open, %d before\n",
			fds, base_fds);
		abort();
	}
	return 0;
}
