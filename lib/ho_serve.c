/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_serve: the old process's side of a hand-over, a state machine in the
 * context's loop (the protocol is in ho.h):
 *
 *   HELLO     waiting for the new process's request; refuse it if this
 *             device cannot be handed over now (no sections, a migration
 *             in progress, dirty logging)
 *   INFO      sent our identity and configuration; still serving, the
 *             new process builds its device
 *   STOPPING  START came: take no more client messages or clients, stop
 *             watching mask eventfds, quiesce; once the device is quiet
 *             and the engine at a message boundary, stop the device
 *             (STOP_COPY), save everything, freeze the connection
 *   SENDING   the stream and its fds, a chunk at a time as the socket
 *             takes them
 *   READY     waiting for the verdict
 *
 * Any failure before READY arrives (ABORT, EOF, a bad message, the
 * deadline) rolls back: the device runs again, the engine reads again,
 * the listener is polled again; nothing was given away, since only
 * duplicates of our fds went out. Once READY is read the old process is
 * committed: ACK, handed_over, the context stops and never touches the
 * client, its memory or its eventfds again.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "engine.h"
#include "ho.h"
#include "irq_table.h"
#include "log.h"
#include "loop.h"
#include "mig.h"

enum phase { PH_HELLO, PH_INFO, PH_STOPPING, PH_SENDING, PH_READY };

struct ho_serve {
	vus_ctx *ctx;
	struct log *log;
	struct transport *t;
	struct watch w;        /* the channel */
	struct watch timer;    /* the deadline of the current phase */
	enum phase ph;
	bool held;             /* engine, listener and mask fds held */
	bool quiesced;         /* our own quiesce reference */
	bool stopped;          /* the migration state we moved to */
	struct ho_out out;
	struct vus_handover_fds devfds;
	size_t sent;
	uint32_t sent_fds;
	int64_t t_start;
};

static void serve_free(struct ho_serve *s)
{
	loop_del(&s->w);
	loop_del(&s->timer);
	close_fd(&s->timer.fd);
	transport_destroy(s->t);
	ho_out_free(&s->out);
	close_fds(s->devfds.fd, s->devfds.n);
	free(s);
}

static void arm(struct ho_serve *s, uint32_t ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L },
	};

	(void)timerfd_settime(s->timer.fd, 0, &its, NULL);
}

/* Let go of what STOPPING took, in reverse. */
static void release(struct ho_serve *s)
{
	struct device *dev = ctx_device(s->ctx);

	if (s->stopped) {
		/* Held quiet by the stopped state; back to RUNNING. */
		(void)device_quiesce(dev);
		if (mig_set_state(ctx_mig(s->ctx), VUS_MIG_RUNNING) < 0)
			log_msg(s->log, VUS_LOG_ERR,
				"hand-over: the device did not run again");
		device_resume(dev);
		s->stopped = false;
	}
	if (s->quiesced) {
		device_resume(dev);
		s->quiesced = false;
	}
	if (s->held) {
		irq_hold_mask_fds(ctx_irqs(s->ctx), false);
		engine_hold(ctx_engine(s->ctx), ENGINE_RUN);
		ctx_listen_hold(s->ctx, false);
		s->held = false;
	}
}

/* The hand-over did not happen: serve on as before. */
static void roll_back(struct ho_serve *s, int err, const char *why)
{
	if (s->ph >= PH_STOPPING)
		log_msg(s->log, VUS_LOG_WARNING,
			"hand-over failed, serving on: %s", why);
	else
		log_msg(s->log, VUS_LOG_NOTICE, "hand-over not started: %s", why);
	if (err != 0 && s->t != NULL) {
		(void)ho_send_abort(s->t, err, why);
		(void)transport_flush(s->t);
	}
	release(s);
	ctx_ho_set(s->ctx, NULL);
	serve_free(s);
}

static void commit(struct ho_serve *s)
{
	vus_ctx *ctx = s->ctx;

	ho_fault("old.ready");
	(void)ho_send(s->t, HO_MSG_ACK, NULL, 0, NULL, 0);
	(void)transport_flush(s->t); /* EOF tells the new process as well */
	ho_fault("old.ack");
	log_msg(s->log, VUS_LOG_NOTICE,
		"handed over to the new process (%lld ms stopped)",
		(long long)(now_ms() - s->t_start));
	ctx_ho_set(ctx, NULL);
	serve_free(s);
	ctx_handed_over(ctx);
}

/* HELLO: whether this device can be handed over now. */
static int can_hand_over(struct ho_serve *s, char *why, size_t len)
{
	struct migration *m = ctx_mig(s->ctx);

	if (m == NULL) {
		snprintf(why, len, "the device has no state sections (vus_mig_setup)");
		return -EOPNOTSUPP;
	}
	if (mig_state(m) != VUS_MIG_RUNNING || dma_log_active(ctx_dma(s->ctx))) {
		snprintf(why, len, "a migration is in progress");
		return -EBUSY;
	}
	return 0;
}

static void on_hello(struct ho_serve *s, const struct msg *m)
{
	char why[HO_WHY_MAX], id[MIG_IDENTITY_MAX + 1];
	const char *cfg = ctx_ho_config(s->ctx);
	uint32_t proto = 0, compat;
	vus_mig_out out;
	struct mig_buf b;
	int ret;

	ho_fault("old.hello");
	if (m->len != 4) {
		roll_back(s, -EPROTO, "a malformed request");
		return;
	}
	memcpy(&proto, m->payload, 4);
	proto = le32toh(proto);
	if (proto != HO_PROTOCOL) {
		snprintf(why, sizeof(why), "hand-over protocol %u, this server speaks %u",
			 proto, HO_PROTOCOL);
		roll_back(s, -EPROTONOSUPPORT, why);
		return;
	}
	ret = can_hand_over(s, why, sizeof(why));
	if (ret < 0) {
		roll_back(s, ret, why);
		return;
	}
	ho_identity(s->ctx, id, sizeof(id), &compat);
	mig_buf_init(&b, HO_MAX_MSG - WIRE_HDR_SIZE);
	out.buf = &b;
	ret = vus_mig_put_u32(&out, HO_PROTOCOL);
	ret = ret ? ret : vus_mig_put_u32(&out, compat);
	ret = ret ? ret : vus_mig_put_u16(&out, (uint16_t)strlen(id));
	ret = ret ? ret : vus_mig_put(&out, id, strlen(id));
	ret = ret ? ret : vus_mig_put_u32(&out, (uint32_t)strlen(cfg));
	ret = ret ? ret : vus_mig_put(&out, cfg, strlen(cfg));
	ret = ret ? ret : ho_send(s->t, HO_MSG_INFO, b.p, b.len, NULL, 0);
	mig_buf_free(&b);
	if (ret < 0) {
		roll_back(s, 0, "the new process went away");
		return;
	}
	s->ph = PH_INFO;
	arm(s, ctx_ho_timeout(s->ctx));
}

/* START: hold everything still and ask the device to quiesce. */
static void on_start(struct ho_serve *s)
{
	ho_fault("old.start");
	s->ph = PH_STOPPING;
	s->t_start = now_ms();
	arm(s, ctx_ho_timeout(s->ctx));
	engine_hold(ctx_engine(s->ctx), ENGINE_PAUSE);
	ctx_listen_hold(s->ctx, true);
	irq_hold_mask_fds(ctx_irqs(s->ctx), true);
	s->held = true;
	(void)device_quiesce(ctx_device(s->ctx));
	s->quiesced = true;
	ho_serve_poll(s->ctx);
}

static void on_message(struct ho_serve *s, struct msg *m)
{
	char why[HO_WHY_MAX + 40];

	if (m->hdr.cmd == HO_MSG_ABORT) {
		char text[HO_WHY_MAX];

		ho_abort_why(m, text, sizeof(text));
		snprintf(why, sizeof(why), "the new process refused: %s", text);
		roll_back(s, 0, why);
	} else if (m->hdr.cmd == HO_MSG_HELLO && s->ph == PH_HELLO) {
		on_hello(s, m);
	} else if (m->hdr.cmd == HO_MSG_START && s->ph == PH_INFO && m->len == 0) {
		on_start(s);
	} else if (m->hdr.cmd == HO_MSG_READY && s->ph == PH_READY && m->len == 0) {
		commit(s);
	} else {
		snprintf(why, sizeof(why), "unexpected message %u", m->hdr.cmd);
		roll_back(s, -EPROTO, why);
	}
}

/* The next DATA (or END) while the socket takes them. */
static int push(struct ho_serve *s)
{
	while (transport_out_pending(s->t) == 0 && s->ph == PH_SENDING) {
		size_t n = MIN((size_t)HO_CHUNK, s->out.b.len - s->sent);
		uint32_t k = MIN(HO_MAX_FDS_PER_MSG, s->out.nfds - s->sent_fds);
		int ret;

		if (n == 0 && k == 0) {
			uint8_t end[12];
			uint64_t bytes = htole64(s->out.b.len);
			uint32_t fds = htole32(s->out.nfds);

			memcpy(end, &bytes, 8);
			memcpy(end + 8, &fds, 4);
			ret = ho_send(s->t, HO_MSG_END, end, sizeof(end), NULL, 0);
			s->ph = PH_READY;
			ho_fault("old.end");
		} else {
			ret = ho_send(s->t, HO_MSG_DATA, s->out.b.p + s->sent, n,
				      s->out.fds + s->sent_fds, k);
			s->sent += n;
			s->sent_fds += k;
			ho_fault("old.data");
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The device's sections, as a migration to STOP_COPY saves them. */
static int save_sections(struct ho_serve *s, struct mig_buf *b)
{
	struct migration *m = ctx_mig(s->ctx);
	uint8_t chunk[64 << 10];
	size_t got;
	int ret = mig_set_state(m, VUS_MIG_STOP_COPY);

	if (ret < 0)
		return ret;
	s->stopped = true;
	do {
		ret = mig_data_read(m, chunk, sizeof(chunk), &got);
		if (ret == 0)
			ret = mig_buf_put(b, chunk, got);
	} while (ret == 0 && got > 0);
	return ret;
}

/* Quiet and at a message boundary: stop the device, save everything. */
static int save_all(struct ho_serve *s, char *why, size_t len)
{
	void *opaque;
	const struct vus_handover_ops *ops = ctx_ho_ops(s->ctx, &opaque);
	char id[MIG_IDENTITY_MAX + 1];
	struct mig_buf mig;
	uint32_t compat;
	int ret;

	mig_buf_init(&mig, HO_MAX_STREAM);
	ret = save_sections(s, &mig);
	if (ret < 0)
		snprintf(why, len, "saving the device's state: %s", strerror(-ret));
	if (ret == 0 && ops != NULL && ops->save_fds != NULL &&
	    (ret = ops->save_fds(opaque, &s->devfds)) < 0)
		snprintf(why, len, "the device could not give its fds: %s",
			 strerror(-ret));
	ho_identity(s->ctx, id, sizeof(id), &compat);
	ret = ret ? ret : ho_out_begin(&s->out, id, compat);
	ret = ret ? ret : ho_state_save(s->ctx, &s->out, mig.p, mig.len,
					&s->devfds, why, len);
	mig_buf_free(&mig);
	return ret;
}

void ho_serve_poll(vus_ctx *ctx)
{
	struct ho_serve *s = ctx_ho(ctx);
	char why[HO_WHY_MAX];
	int ret;

	if (s == NULL || s->ph != PH_STOPPING)
		return;
	if (!device_quiesce_done(ctx_device(ctx)) ||
	    !engine_at_rest(ctx_engine(ctx)))
		return;
	why[0] = '\0';
	ret = save_all(s, why, sizeof(why));
	if (ret < 0) {
		roll_back(s, ret, why[0] ? why : strerror(-ret));
		return;
	}
	/* From here the old process must not touch the connection. */
	engine_hold(ctx_engine(ctx), ENGINE_FREEZE);
	ho_fault("old.saved");
	s->ph = PH_SENDING;
	ret = push(s);
	if (ret < 0)
		roll_back(s, 0, "the new process went away");
	else
		(void)loop_mod(&s->w, EPOLLIN | (transport_out_pending(s->t) ? EPOLLOUT : 0));
}

static void chan_cb(struct watch *w, uint32_t events)
{
	struct ho_serve *s = (struct ho_serve *)((char *)w - offsetof(struct ho_serve, w));
	struct msg m;
	int ret;

	if (events & EPOLLOUT) {
		ret = transport_flush(s->t);
		if (ret == 0 && s->ph == PH_SENDING)
			ret = push(s);
		if (ret < 0 && ret != -EAGAIN) {
			roll_back(s, 0, "the new process went away");
			return;
		}
	}
	ret = transport_recv(s->t, &m);
	/* Ours from now on: handling it may free @s and its transport. */
	if (ret == 0 && (ret = msg_detach(&m)) < 0)
		msg_release(&m);
	if (ret == 0) {
		on_message(s, &m);
		msg_release(&m);
		return;
	}
	if (ret != -EAGAIN) {
		roll_back(s, 0, ret == -EPIPE ? "the new process went away"
					       : "the new process broke the protocol");
		return;
	}
	(void)loop_mod(&s->w, EPOLLIN | (transport_out_pending(s->t) ? EPOLLOUT : 0));
}

static void timer_cb(struct watch *w, uint32_t events)
{
	struct ho_serve *s = (struct ho_serve *)((char *)w - offsetof(struct ho_serve, timer));
	vus_ctx *ctx = s->ctx;
	char why[64];

	(void)events;
	/* A READY that came just now still counts. */
	chan_cb(&s->w, EPOLLIN);
	if (ctx_ho(ctx) != s)
		return;
	snprintf(why, sizeof(why), "no answer within %u ms", ctx_ho_timeout(s->ctx));
	roll_back(s, -ETIMEDOUT, why);
}

int ho_serve_start(vus_ctx *ctx, int fd)
{
	struct ho_serve *s;
	int ret;

	if (ctx_ho(ctx) != NULL) {
		close_fd(&fd);
		return -EBUSY;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	s->ctx = ctx;
	s->log = ctx_log(ctx);
	ho_out_init(&s->out);
	s->w = (struct watch){ .fd = -1, .events = EPOLLIN, .cb = chan_cb };
	s->timer = (struct watch){ .events = EPOLLIN, .cb = timer_cb };
	s->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ret = s->timer.fd < 0 ? -errno : ho_chan_open(fd, &s->t);
	if (ret == 0) {
		s->w.fd = transport_fd(s->t);
		ret = loop_add(ctx_loop(ctx), &s->w);
	}
	ret = ret ? ret : loop_add(ctx_loop(ctx), &s->timer);
	if (ret < 0) {
		if (s->t == NULL)
			close_fd(&fd);
		serve_free(s);
		return ret;
	}
	arm(s, ctx_ho_timeout(ctx));
	ctx_ho_set(ctx, s);
	return 0;
}

void ho_serve_destroy(vus_ctx *ctx)
{
	struct ho_serve *s = ctx_ho(ctx);

	if (s == NULL)
		return;
	/* Going away: the device will not run again here either way. */
	if (s->t != NULL) {
		(void)ho_send_abort(s->t, ECANCELED, "the server is shutting down");
		(void)transport_flush(s->t);
	}
	log_msg(s->log, VUS_LOG_NOTICE, "hand-over cancelled: shutting down");
	release(s);
	ctx_ho_set(ctx, NULL);
	serve_free(s);
}
