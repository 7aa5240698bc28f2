/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_take: the new process's side of a hand-over (protocol in ho.h). It
 * runs before the new context serves anything, so it simply waits on the
 * channel with a deadline per step. Nothing it does reaches the client
 * before the old process has let go: the state is installed into the
 * context with the listener and connection kept aside, and only the ACK
 * (or the old process's EOF after READY, which means it died committed)
 * makes the context serve them.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common.h"
#include "ctx_internal.h"
#include "engine.h"
#include "ho.h"
#include "log.h"

struct vus_takeover {
	struct transport *t;
	uint32_t timeout_ms;
	vus_log_fn *log;
	void *log_opaque;
	uint32_t compat;
	char identity[MIG_IDENTITY_MAX + 1];
	char *config;
};

static void say(const vus_takeover *tk, int level, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

static void say(const vus_takeover *tk, int level, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (tk->log != NULL)
		tk->log(tk->log_opaque, level, msg);
	else
		fprintf(stderr, "take-over: %s\n", msg);
}

static uint64_t deadline(const vus_takeover *tk)
{
	return now_ms() + tk->timeout_ms;
}

static void takeover_free(vus_takeover *tk)
{
	transport_destroy(tk->t);
	free(tk->config);
	free(tk);
}

/* INFO: protocol, compat, identity, configuration. */
static int parse_info(vus_takeover *tk, const struct msg *m)
{
	vus_mig_in in = { .p = m->payload, .len = m->len };
	uint32_t proto = 0, cfg_len = 0;
	uint16_t id_len = 0;
	int ret = vus_mig_get_u32(&in, &proto);

	ret = ret ? ret : vus_mig_get_u32(&in, &tk->compat);
	ret = ret ? ret : vus_mig_get_u16(&in, &id_len);
	if (ret == 0 && (id_len == 0 || id_len > MIG_IDENTITY_MAX))
		ret = -EBADMSG;
	ret = ret ? ret : vus_mig_get(&in, tk->identity, id_len);
	ret = ret ? ret : vus_mig_get_u32(&in, &cfg_len);
	if (ret == 0 && (cfg_len > HO_CONFIG_MAX || cfg_len != vus_mig_remaining(&in)))
		ret = -EBADMSG;
	if (ret == 0 && proto != HO_PROTOCOL)
		ret = -EPROTO;
	if (ret < 0)
		return -EPROTO;
	tk->identity[id_len] = '\0';
	tk->config = calloc(1, (size_t)cfg_len + 1);
	if (tk->config == NULL)
		return -ENOMEM;
	(void)vus_mig_get(&in, tk->config, cfg_len);
	return strlen(tk->config) == cfg_len ? 0 : -EPROTO;
}

/* An ABORT from the old process: its reason, and its errno for us. */
static int aborted(const vus_takeover *tk, const struct msg *m, const char *when)
{
	char why[HO_WHY_MAX];

	ho_abort_why(m, why, sizeof(why));
	say(tk, VUS_LOG_ERR, "the running server %s: %s", when, why);
	return m->hdr.error > 0 && m->hdr.error < 4096 ? -(int)m->hdr.error : -EPROTO;
}

VUS_EXPORT int vus_takeover_begin_fd(int fd, const struct vus_takeover_config *cfg,
				     vus_takeover **out)
{
	struct vus_takeover_config c = { .timeout_ms = 0 };
	vus_takeover *tk;
	uint32_t hello = htole32(HO_PROTOCOL);
	struct msg m;
	int ret;

	if (out == NULL || (cfg != NULL && copy_sized(&c, sizeof(c), cfg) < 0)) {
		close_fd(&fd);
		return -EINVAL;
	}
	tk = calloc(1, sizeof(*tk));
	if (tk == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	tk->timeout_ms = c.timeout_ms ? c.timeout_ms : HO_DEFAULT_TIMEOUT_MS;
	tk->log = c.log;
	tk->log_opaque = c.log_opaque;
	ret = ho_chan_open(fd, &tk->t);
	ret = ret ? ret : ho_send(tk->t, HO_MSG_HELLO, &hello, 4, NULL, 0);
	ret = ret ? ret : ho_recv_wait(tk->t, &m, deadline(tk));
	if (ret == 0) {
		if (m.hdr.cmd == HO_MSG_ABORT)
			ret = aborted(tk, &m, "refused the hand-over");
		else if (m.hdr.cmd != HO_MSG_INFO || (ret = parse_info(tk, &m)) < 0)
			say(tk, VUS_LOG_ERR, "the running server's answer is not a hand-over offer");
		ret = ret ? ret : (m.hdr.cmd == HO_MSG_INFO ? 0 : -EPROTO);
		msg_release(&m);
	} else {
		say(tk, VUS_LOG_ERR, "no hand-over offer from the running server: %s",
		    strerror(-ret));
	}
	if (ret < 0) {
		takeover_free(tk);
		return ret;
	}
	ho_fault("new.info");
	*out = tk;
	return 0;
}

VUS_EXPORT const char *vus_takeover_config(const vus_takeover *t)
{
	return t && t->config ? t->config : "";
}

VUS_EXPORT void vus_takeover_abort(vus_takeover *t, const char *why)
{
	if (t == NULL)
		return;
	(void)ho_send_abort(t->t, ECANCELED, why ? why : "the new process gave up");
	(void)ho_flush_wait(t->t, deadline(t));
	takeover_free(t);
}

/* The old process's answer is ours to judge before it stops anything. */
static int same_device(vus_ctx *ctx, vus_takeover *tk, char *why, size_t len)
{
	char id[MIG_IDENTITY_MAX + 1];
	uint32_t compat;

	ho_identity(ctx, id, sizeof(id), &compat);
	if (strcmp(id, tk->identity) != 0) {
		snprintf(why, len, "the running server is another kind of device "
			 "(\"%s\", this is \"%s\")", tk->identity, id);
		return -ENODEV;
	}
	if (compat != tk->compat) {
		snprintf(why, len, "the running server has compatibility version "
			 "%u, this one %u", tk->compat, compat);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

static int add_data(struct ho_in *in, struct msg *m)
{
	if (m->len > HO_MAX_STREAM - in->len || m->nfds > HO_MAX_FDS - in->nfds)
		return -EFBIG;
	if (m->len > 0) {
		uint8_t *p = realloc(in->p, in->len + m->len);

		if (p == NULL)
			return -ENOMEM;
		in->p = p;
		memcpy(in->p + in->len, m->payload, m->len);
		in->len += m->len;
	}
	if (m->nfds > 0) {
		int *f = realloc(in->fds, (in->nfds + m->nfds) * sizeof(int));

		if (f == NULL)
			return -ENOMEM;
		in->fds = f;
		for (unsigned int i = 0; i < m->nfds; i++)
			in->fds[in->nfds++] = msg_take_fd(m, i);
	}
	return 0;
}

/* END: as many bytes and fds as the old process sent. */
static int end_check(const struct ho_in *in, const struct msg *m)
{
	uint64_t bytes;
	uint32_t fds;

	if (m->len != 12)
		return -EBADMSG;
	memcpy(&bytes, m->payload, 8);
	memcpy(&fds, m->payload + 8, 4);
	return le64toh(bytes) == in->len && le32toh(fds) == in->nfds ? 0 : -EBADMSG;
}

/* DATA until END; everything the old process saved. */
static int receive(vus_takeover *tk, struct ho_in *in, struct log *log)
{
	for (;;) {
		struct msg m;
		int ret = ho_recv_wait(tk->t, &m, deadline(tk));

		if (ret < 0) {
			snprintf(in->why, sizeof(in->why), "%s before the state was complete",
				 ret == -ETIMEDOUT ? "the running server stopped sending"
						   : "the running server went away");
			return ret == -ETIMEDOUT ? ret : -ECONNRESET;
		}
		if (m.hdr.cmd == HO_MSG_DATA) {
			ret = add_data(in, &m);
			ho_fault("new.data");
		} else if (m.hdr.cmd == HO_MSG_END) {
			ret = end_check(in, &m);
			msg_release(&m);
			ho_fault("new.end");
			if (ret < 0)
				snprintf(in->why, sizeof(in->why),
					 "the hand-over stream is incomplete");
			return ret ? ret : 1;
		} else if (m.hdr.cmd == HO_MSG_ABORT) {
			ret = aborted(tk, &m, "gave up");
			snprintf(in->why, sizeof(in->why), "the running server gave up");
		} else {
			ret = -EPROTO;
			snprintf(in->why, sizeof(in->why), "unexpected message %u",
				 m.hdr.cmd);
		}
		msg_release(&m);
		if (ret < 0)
			return ret;
		(void)log;
	}
}

/* After READY: ACK, or EOF without a word (it died committed), commit. */
static int verdict(vus_takeover *tk, struct log *log)
{
	struct msg m;
	int ret = ho_recv_wait(tk->t, &m, deadline(tk));

	if (ret == -ECONNRESET)
		return 0;
	if (ret < 0) {
		log_msg(log, VUS_LOG_ERR, "take-over: no answer from the running "
			"server after it was sent everything: %s", strerror(-ret));
		return ret;
	}
	if (m.hdr.cmd == HO_MSG_ACK)
		ret = 0;
	else if (m.hdr.cmd == HO_MSG_ABORT)
		ret = aborted(tk, &m, "resumed instead");
	else
		ret = -EPROTO;
	msg_release(&m);
	return ret;
}

static int ctx_ready(vus_ctx *ctx)
{
	if (!ctx_realized(ctx) || ctx_listen_fd(ctx) >= 0 ||
	    engine_busy(ctx_engine(ctx)) || ctx_mig(ctx) == NULL)
		return -EINVAL;
	return 0;
}

/* Receive, check and install; on failure tell the old process why. */
static int take(vus_ctx *ctx, vus_takeover *tk, struct ho_in *in,
		struct ho_pending *pend)
{
	struct log *log = ctx_log(ctx);
	int ret = same_device(ctx, tk, in->why, sizeof(in->why));

	ret = ret ? ret : ho_send(tk->t, HO_MSG_START, NULL, 0, NULL, 0);
	if (ret == 0)
		ho_fault("new.start");
	ret = ret ? ret : receive(tk, in, log);
	ret = ret < 0 ? ret : ho_in_check(in);
	if (ret == 0 && (strcmp(in->pp.identity, tk->identity) != 0 ||
			 in->pp.compat != tk->compat)) {
		snprintf(in->why, sizeof(in->why), "the stream names another device");
		ret = -EBADMSG;
	}
	ret = ret ? ret : ho_state_load(ctx, in, pend);
	if (ret < 0) {
		log_msg(log, VUS_LOG_ERR, "take-over refused: %s",
			in->why[0] ? in->why : strerror(-ret));
		(void)ho_send_abort(tk->t, ret, in->why[0] ? in->why : strerror(-ret));
		(void)ho_flush_wait(tk->t, deadline(tk));
	}
	return ret;
}

VUS_EXPORT int vus_ctx_take_over(vus_ctx *ctx, vus_takeover *tk)
{
	struct ho_pending pend = { .listen_fd = -1, .rpc_fd = -1 };
	struct ho_in in;
	int64_t t0 = now_ms();
	int ret;

	if (tk == NULL)
		return -EINVAL;
	ho_in_init(&in);
	ret = ctx ? ctx_ready(ctx) : -EINVAL;
	if (ret < 0)
		vus_takeover_abort(tk, "the new process is not ready to take over");
	if (ret < 0)
		return ret;
	ret = take(ctx, tk, &in, &pend);
	if (ret == 0)
		ho_fault("new.loaded");
	/* An old process that cannot read READY any more died after sending
	 * everything (commit), or gave up and said so first (its ABORT is
	 * still to be read): the verdict tells which. */
	if (ret == 0 && ho_send(tk->t, HO_MSG_READY, NULL, 0, NULL, 0) == 0 &&
	    ho_flush_wait(tk->t, deadline(tk)) == 0)
		ho_fault("new.ready");
	ret = ret ? ret : verdict(tk, ctx_log(ctx));
	if (ret == 0)
		ho_fault("new.ack");
	ret = ret ? ret : ho_state_activate(ctx, &pend);
	if (ret == 0)
		log_msg(ctx_log(ctx), VUS_LOG_NOTICE, "took the device over "
			"(%zu bytes of state, %u fds, %lld ms from START)",
			in.len, in.nfds, (long long)(now_ms() - t0));
	ho_pending_free(&pend);
	ho_in_free(&in);
	takeover_free(tk);
	return ret;
}
