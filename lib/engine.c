/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine: connection lifecycle and the message loop.
 *
 * A connection goes NEGOTIATING -> READY -> (client gone) TEARDOWN -> IDLE.
 * Messages are handled strictly in arrival order; a message that needs the
 * device quiesced is held (and reading stops) until the device confirms.
 * Teardown quiesces the device, drops the client's mappings and eventfds
 * and keeps the device's state (or resets it, if the context asked), then
 * the engine is ready for the next client.
 * Nothing a client sends ends the process: bad requests get error replies,
 * broken framing ends the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "doorbell.h"
#include "engine_priv.h"
#include "irq_table.h"
#include "log.h"
#include "recovery.h"
#include "region_table.h"

static void conn_cb(struct watch *w, uint32_t events);
static void process(struct engine *e, bool readable);
static bool output_full(const struct engine *e);

int engine_create(vus_ctx *ctx, const struct engine_limits *lim,
		  struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return -ENOMEM;
	e->ctx = ctx;
	e->log = ctx_log(ctx);
	e->lim = *lim;
	/* A full data transfer with its headers, or the largest control
	 * message, whichever is bigger. */
	e->max_msg = MAX(WIRE_HDR_SIZE + 16u + lim->max_xfer,
			 WIRE_HDR_SIZE + WIRE_MAX_CONTROL_MSG);
	e->scratch_cap = e->max_msg;
	e->scratch = malloc(e->scratch_cap);
	if (e->scratch == NULL) {
		free(e);
		return -ENOMEM;
	}
	e->w = (struct watch){ .fd = -1, .cb = conn_cb };
	dma_set_msg_fn(ctx_dma(ctx), engine_dma_msg, e);
	*out = e;
	return 0;
}

void engine_set_idle_cb(struct engine *e, engine_idle_fn *fn, void *opaque)
{
	e->idle_fn = fn;
	e->idle_opaque = opaque;
}

bool engine_busy(const struct engine *e)
{
	return e->state != CONN_IDLE;
}

bool engine_connected(const struct engine *e)
{
	return e->state == CONN_NEGOTIATING || e->state == CONN_READY;
}

bool engine_has_work(const struct engine *e)
{
	if (!engine_connected(e) || e->in_request)
		return false;
	if (e->dq_head != NULL || e->broken)
		return true;
	/* Messages read already: the socket will not say they are there
	 * (a hand-over holding the engine takes them as they are). */
	return e->t != NULL && !e->has_held && !e->closing && !output_full(e) &&
	       e->hold == ENGINE_RUN && transport_buffered(e->t);
}

uint32_t engine_dev_flags(const struct engine *e)
{
	/* Every device resets; the bus is the one the context was made for. */
	if (ctx_bus_type(e->ctx) == VUS_BUS_PCI)
		return WIRE_DEV_PCI | WIRE_DEV_RESET;
	return WIRE_DEV_PLATFORM | WIRE_DEV_RESET;
}

uint32_t engine_num_regions(const struct engine *e)
{
	const struct bus_ops *b = ctx_bus_ops(e->ctx);
	uint32_t n = region_count(ctx_regions(e->ctx));

	return b != NULL ? MAX(n, b->min_regions) : n;
}

uint32_t engine_num_irqs(const struct engine *e)
{
	const struct bus_ops *b = ctx_bus_ops(e->ctx);
	uint32_t n = irq_count(ctx_irqs(e->ctx));

	return b != NULL ? MAX(n, b->min_irqs) : n;
}

const struct engine_stats *engine_get_stats(const struct engine *e)
{
	return &e->st;
}

bool engine_negotiated(const struct engine *e, struct caps *out)
{
	if (e->state != CONN_READY)
		return false;
	*out = e->peer;
	return true;
}

/* Every message in and out passes here: the counters. */
static void count(struct engine_stats *st, enum vus_trace_dir dir,
		  const struct wire_hdr *h)
{
	if (dir == VUS_TRACE_RX) {
		st->msgs_in++;
		st->bytes_in += h->msg_size;
		if (!wire_is_reply(h))
			st->cmds[h->cmd < WIRE_CMD_MAX ? h->cmd : 0]++;
		return;
	}
	st->msgs_out++;
	st->bytes_out += h->msg_size;
	if (h->flags & WIRE_F_ERROR)
		st->errors[h->error < ENGINE_ERRNO_MAX ? h->error : 0]++;
}

void engine_trace(struct engine *e, enum vus_trace_dir dir,
		  const struct wire_hdr *h, unsigned int nfds)
{
	struct vus_trace_event ev = {
		.dir = dir, .msg_id = h->msg_id, .cmd = h->cmd,
		.flags = h->flags, .size = h->msg_size, .nr_fds = nfds,
		.error = (h->flags & WIRE_F_ERROR) ? (int)h->error : 0,
	};

	count(&e->st, dir, h);
	ctx_trace(e->ctx, &ev);
}

/* Whether the client left so many replies unread (bytes, or fds dup'd
 * for them) that we stop taking requests until it reads. */
static bool output_full(const struct engine *e)
{
	/* Kept: one reply outstanding at most, the one the journal holds. */
	if (e->kept)
		return transport_out_pending(e->t) > 0;
	return transport_out_pending(e->t) >= ENGINE_OUT_HIGH ||
	       transport_out_fds(e->t) >= ENGINE_OUT_HIGH_FDS;
}

/* Listen for what we can handle now: no reading while a message is held
 * or the client does not read our replies. */
void engine_update_events(struct engine *e)
{
	uint32_t ev = 0;
	size_t out;

	if (e->t == NULL || e->hold == ENGINE_FREEZE)
		return;
	out = transport_out_pending(e->t);
	if (!e->has_held && !e->closing && !output_full(e) &&
	    e->hold == ENGINE_RUN)
		ev |= EPOLLIN;
	if (out > 0)
		ev |= EPOLLOUT;
	/* Peek mode: a partial message in the socket stays readable, so
	 * wait for new bytes instead; and see a hang-up while waiting. */
	if (e->kept)
		ev |= EPOLLRDHUP | (transport_stalled(e->t) ? EPOLLET : 0);
	if (loop_mod(&e->w, ev) < 0)
		e->broken = true;
}

int engine_attach(struct engine *e, int fd)
{
	struct transport_limits tl = { .max_msg_size = e->max_msg,
				       .max_fds = e->lim.max_fds,
				       .peek = ctx_recovery(e->ctx) != NULL };
	int ret;

	if (e->state != CONN_IDLE) {
		close_fd(&fd);
		return -EBUSY;
	}
	ret = transport_sock_create(fd, &tl, &e->t);
	if (ret < 0)
		return ret;
	e->w.fd = transport_fd(e->t);
	e->w.events = EPOLLIN;
	ret = loop_add(ctx_loop(e->ctx), &e->w);
	if (ret < 0) {
		transport_destroy(e->t);
		e->t = NULL;
		return ret;
	}
	caps_defaults(&e->peer);
	e->notify_connected = false;
	e->peer_fds = 1;
	e->peer_xfer = WIRE_DEFAULT_XFER;
	e->dma_layout = ENGINE_DMA_LAYOUT_UNKNOWN;
	e->broken = false;
	e->closing = false;
	e->state = CONN_NEGOTIATING;
	e->st.clients++;
	log_msg(e->log, VUS_LOG_INFO, "client connected");
	/* Kept from its first message on (not fatal: then not recoverable). */
	if (engine_kept_attached(e) < 0)
		log_msg(e->log, VUS_LOG_WARNING,
			"recovery: the connection is not in the fd store");
	return 0;
}

static void drop_deferred(struct engine *e)
{
	while (e->dq_head != NULL) {
		struct deferred *d = e->dq_head;

		e->dq_head = d->next;
		msg_release(&d->m);
		free(d);
	}
	e->dq_tail = NULL;
	e->dq_count = 0;
	e->dq_bytes = 0;
	e->dq_fds = 0;
}

static void dma_unmap_notify(void *opaque, const struct vus_dma_region *r)
{
	device_dma_unmap(opaque, r);
}

/* The device is quiet: forget the client, keep (or reset) the device. */
static void finish_teardown(struct engine *e)
{
	struct device *dev = ctx_device(e->ctx);
	int ret;

	e->quiesce_pending = false;
	dma_remove_all(ctx_dma(e->ctx), dma_unmap_notify, dev);
	ret = ctx_client_gone(e->ctx);
	recovery_client_gone(ctx_recovery(e->ctx));
	if (ret < 0)
		log_msg(e->log, VUS_LOG_WARNING,
			"device reset after disconnect failed: %s", strerror(-ret));
	device_resume(dev);
	e->state = CONN_IDLE;
	log_msg(e->log, VUS_LOG_INFO, "ready for the next client");
	if (e->idle_fn != NULL)
		e->idle_fn(e->idle_opaque);
}

static void disconnect(struct engine *e, int why)
{
	struct device *dev = ctx_device(e->ctx);

	if (!engine_connected(e))
		return;
	if (why == -EPIPE)
		log_msg(e->log, VUS_LOG_INFO, "client disconnected");
	else
		log_msg(e->log, VUS_LOG_NOTICE, "dropping client: %s",
			strerror(-why));
	engine_kept_detached(e, why);
	loop_del(&e->w);
	transport_destroy(e->t);
	e->t = NULL;
	e->w.fd = -1;
	doorbell_close_all(&e->doorbells);
	if (e->has_held) {
		msg_release(&e->held);
		e->has_held = false;
	}
	drop_deferred(e);
	e->state = CONN_TEARDOWN;
	/* A quiesce already asked for keeps running; otherwise ask now. */
	if (e->quiesce_pending || device_quiesce(dev) == -EBUSY) {
		e->quiesce_pending = true;
		return;
	}
	finish_teardown(e);
}

void engine_drop(struct engine *e, int why)
{
	disconnect(e, why);
}

void engine_destroy(struct engine *e)
{
	if (e == NULL)
		return;
	disconnect(e, -ECONNABORTED);
	doorbell_close_all(&e->doorbells); /* adopted with no connection */
	/* Destroy cannot wait: the owner has stopped its threads by now. */
	if (e->state == CONN_TEARDOWN)
		finish_teardown(e);
	dma_set_msg_fn(ctx_dma(e->ctx), NULL, NULL);
	free(e->scratch);
	free(e);
}

void *engine_reply_tail(struct reply *r, size_t len)
{
	free(r->tail_own);
	r->tail_own = calloc(1, len ? len : 1);
	r->tail = r->tail_own;
	r->tail_len = r->tail_own ? (uint32_t)len : 0;
	return r->tail_own;
}

/*
 * Answer @m with @r (or the error) after crash recovery, if on, kept what
 * it changed (@changes) and took it out of the socket. An owned tail goes
 * to the transport, which frees it once written, so a large bitmap is
 * neither copied nor kept twice.
 */
static void answer(struct engine *e, uint32_t changes, struct msg *m,
		   int err, struct reply *r)
{
	bool reply = !(m->hdr.flags & WIRE_F_NO_REPLY) && e->t != NULL;
	struct wire_hdr h;
	struct iovec iov[1 + REPLY_IOV_MAX] = {
		{ .iov_base = r->buf, .iov_len = r->len },
		{ .iov_base = (void *)r->tail, .iov_len = r->tail_len },
	};
	int n = r->tail_len ? 2 : 1, ret;
	size_t total = r->len + r->tail_len;
	bool more;

	for (unsigned int i = 0; i < r->iovcnt && !r->tail_len; i++) {
		iov[n++] = r->iov[i];
		total += r->iov[i].iov_len;
	}
	if (err < 0)
		n = 0;
	wire_reply_hdr(&h, &m->hdr, err < 0 ? 0 : (uint32_t)total, err);
	if (e->t != NULL &&
	    engine_kept_finish(e, changes, m, reply ? &h : NULL, iov, n,
			       err < 0 ? 0 : r->nfds) < 0) {
		e->broken = true; /* the socket lost the message */
		return;
	}
	if (!reply)
		return;
	engine_kept_sending(e);
	/* The next request is in already: this reply may wait for its
	 * reply (or the batch's end, after_batch) and share its write.
	 * Not when kept: recovery's journal counts a reply sent once the
	 * socket has it. */
	more = !e->kept && transport_buffered(e->t);
	if (err < 0)
		ret = transport_send_more(e->t, &h, iov, 0, more);
	else if (r->tail_own != NULL)
		ret = transport_send_owned(e->t, &h, iov, 1, r->fds, r->nfds,
					   r->tail_own, r->tail_len);
	else if (r->nfds > 0)
		ret = transport_send(e->t, &h, iov, n, r->fds, r->nfds);
	else
		ret = transport_send_more(e->t, &h, iov, n, more);
	if (err == 0)
		r->tail_own = NULL; /* the transport's now */
	engine_trace(e, VUS_TRACE_TX, &h, err < 0 ? 0 : r->nfds);
	engine_kept_sent(e);
	if (ret < 0)
		e->broken = true;
}

static bool needs_quiesce(const struct cmd_desc *d, const struct msg *m)
{
	return d->quiesce_if != NULL ? d->quiesce_if(m) : d->quiesce;
}

/* Run a validated command (@quiesced if it needed that) and answer it. */
static void execute(struct engine *e, const struct cmd_desc *d, struct msg *m,
		    bool quiesced)
{
	struct reply *r = &e->reply;
	int ret;

	r->buf = e->scratch;
	r->cap = e->scratch_cap;
	r->len = 0;
	r->tail = NULL;
	r->tail_len = 0;
	r->tail_own = NULL;
	r->iovcnt = 0;
	r->nfds = 0;
	r->close_after = false;
	e->cur = m;
	ret = d->handler(e, m, r);
	e->cur = NULL;
	if (quiesced)
		device_resume(ctx_device(e->ctx));
	if (ret < 0)
		log_client(e->log, VUS_LOG_DEBUG, "%s failed: %s", wire_cmd_name(m->hdr.cmd),
			   strerror(-ret));
	answer(e, d->changes, m, ret, r);
	free(r->tail_own); /* not sent: an error, NO_REPLY, or no client */
	r->tail_own = NULL;
	/* The reply says why we hang up: it must go out first. */
	if (r->close_after)
		e->closing = true;
	msg_release(m);
	/* Negotiated: tell the device before any later message reaches it. */
	if (e->notify_connected) {
		e->notify_connected = false;
		if (!e->broken)
			device_connected(ctx_device(e->ctx));
	}
}

static void reply_error(struct engine *e, struct msg *m, int err)
{
	log_client(e->log, VUS_LOG_DEBUG, "rejecting %s (id %u): %s",
		   wire_cmd_name(m->hdr.cmd), m->hdr.msg_id, strerror(-err));
	answer(e, 0, m, err, &(struct reply){ 0 });
	msg_release(m);
}

/* Keep @m until the device confirms its quiesce. */
static void hold(struct engine *e, const struct cmd_desc *d, struct msg *m)
{
	if (msg_detach(m) < 0) {
		device_resume(ctx_device(e->ctx));
		reply_error(e, m, -ENOMEM);
		return;
	}
	e->held = *m;
	e->held_desc = d;
	e->has_held = true;
	e->quiesce_pending = true;
}

/*
 * Before VERSION, a reply or a message larger than any VERSION means the
 * peer does not speak vfio-user (an HTTP request reads as a 1.4 GB
 * message): say so and hang up rather than wait for a body.
 */
static bool refuse_stranger(struct engine *e, struct msg *m)
{
	if (e->state != CONN_NEGOTIATING ||
	    (m->reject != -EMSGSIZE && !wire_is_reply(&m->hdr)))
		return false;
	log_client(e->log, VUS_LOG_NOTICE,
		   "not a vfio-user client: %s of %u bytes before VERSION; closing",
		   wire_is_reply(&m->hdr) ? "a reply" : "a message",
		   m->hdr.msg_size);
	msg_release(m);
	e->closing = true;
	return true;
}

static void handle_msg(struct engine *e, struct msg *m)
{
	const struct cmd_desc *d;
	bool quiesce;
	int ret;

	engine_trace(e, VUS_TRACE_RX, &m->hdr, m->nfds);
	if (refuse_stranger(e, m))
		return;
	if (wire_is_reply(&m->hdr)) {
		/* Nothing of ours is outstanding outside engine_dma_msg(). */
		log_client(e->log, VUS_LOG_DEBUG, "unexpected reply id %u",
			   m->hdr.msg_id);
		if (engine_kept_drop(e, m) < 0)
			e->broken = true;
		msg_release(m);
		return;
	}
	if ((m->hdr.flags & WIRE_F_TYPE_MASK) != WIRE_F_TYPE_CMD) {
		reply_error(e, m, -EINVAL);
		return;
	}
	if (m->reject) {
		reply_error(e, m, m->reject);
		return;
	}
	d = engine_cmd(m->hdr.cmd);
	if (d == NULL) {
		reply_error(e, m, -ENOSYS);
		return;
	}
	if (engine_kept_take_fds(e, engine_cmd_max_fds(e, d), m) < 0) {
		msg_release(m);
		e->broken = true;
		return;
	}
	if (m->reject) {
		reply_error(e, m, m->reject);
		return;
	}
	ret = engine_cmd_check(e, d, m);
	if (ret == 0 && d->check != NULL)
		ret = d->check(e, m);
	if (ret < 0) {
		reply_error(e, m, ret);
		return;
	}
	quiesce = needs_quiesce(d, m);
	if (quiesce && device_quiesce(ctx_device(e->ctx)) == -EBUSY) {
		hold(e, d, m);
		return;
	}
	execute(e, d, m, quiesce);
}

/* The next message: deferred ones first; then from the transport, which
 * reads the socket only when @probe (it was reported readable) or when
 * its last read may have left bytes there. */
static bool next_msg(struct engine *e, struct msg *m, bool probe)
{
	int ret;

	if (e->dq_head != NULL) {
		struct deferred *d = e->dq_head;

		e->dq_head = d->next;
		if (e->dq_head == NULL)
			e->dq_tail = NULL;
		e->dq_count--;
		e->dq_bytes -= d->m.len;
		e->dq_fds -= d->m.nfds;
		*m = d->m;
		free(d);
		return true;
	}
	/* A hand-over is waiting for a message boundary. */
	if (e->hold != ENGINE_RUN)
		return false;
	ret = probe ? transport_recv(e->t, m) : transport_recv_more(e->t, m);
	if (ret == 0)
		return true;
	if (ret != -EAGAIN)
		disconnect(e, ret);
	return false;
}

static void after_batch(struct engine *e)
{
	int ret;

	if (e->t == NULL || e->hold == ENGINE_FREEZE)
		return;
	ret = 0;
	if (transport_out_pending(e->t) > 0) {
		engine_kept_sending(e);
		ret = transport_flush(e->t);
		engine_kept_sent(e);
	}
	if (ret < 0 && ret != -EAGAIN)
		e->broken = true;
	if (e->broken ||
	    (e->closing && transport_out_pending(e->t) == 0)) {
		disconnect(e, -EPROTO);
		return;
	}
	engine_update_events(e);
}

/*
 * Handle up to ENGINE_BUDGET messages. In steady state each costs one
 * read (header and body together, or several messages at once) and one
 * send: once a read found the socket empty, no read is tried until the
 * loop reports it readable again.
 */
static void process(struct engine *e, bool readable)
{
	for (unsigned int n = 0; n < ENGINE_BUDGET; n++) {
		struct msg m;

		if (!engine_connected(e) || e->has_held || e->broken ||
		    e->closing)
			break;
		if (output_full(e))
			break;
		if (!next_msg(e, &m, readable && n == 0))
			break;
		handle_msg(e, &m);
	}
	after_batch(e);
}

static void conn_cb(struct watch *w, uint32_t events)
{
	struct engine *e = (struct engine *)((char *)w - offsetof(struct engine, w));

	/* Nobody can read our replies any more (and nothing it sent is
	 * read while a hand-over holds the engine). */
	if ((events & (EPOLLHUP | EPOLLERR)) &&
	    (!(events & EPOLLIN) || e->hold != ENGINE_RUN)) {
		disconnect(e, -EPIPE);
		return;
	}
	process(e, events & EPOLLIN);
}

void engine_run_deferred(struct engine *e)
{
	if (engine_has_work(e))
		process(e, false);
}

void engine_wakeup(struct engine *e)
{
	struct device *dev = ctx_device(e->ctx);

	if (!e->quiesce_pending || !device_quiesce_done(dev))
		return;
	e->quiesce_pending = false;
	if (e->state == CONN_TEARDOWN) {
		finish_teardown(e);
		return;
	}
	if (e->has_held) {
		struct msg m = e->held;

		e->has_held = false;
		execute(e, e->held_desc, &m, true); /* held: it was quiesced */
	}
	process(e, false);
}
