/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_kept: the engine's part in crash recovery (lib/recovery.c keeps
 * the state area). On a kept connection:
 *
 *   - a message stays in the socket (peek mode) while it is handled;
 *   - what handling it changed is committed together with a journal of
 *     it (header, checksum, reply when small), then it is taken out of
 *     the socket, then its reply is sent, each step marked in the area;
 *   - one reply at most is outstanding, so the journal covers it.
 *
 * A process started after a crash adopts the connection and settles the
 * journaled message by how far the dead one got: still in the socket ->
 * taken out and answered; taken out, reply not sent -> reply sent from the
 * journal; reply being sent -> sent again if it is a bare header (the
 * client drops a duplicate header as an unknown reply), else answered
 * with a bare error header; a large reply cut in the middle -> the stream
 * cannot be mended: hang up. A message that was not committed is still at
 * the head of the socket and is handled again from the committed state.
 * Server-initiated DMA by message is refused on a kept connection: it
 * would take client messages out of the socket before they are handled.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common.h"
#include "ctx_internal.h"
#include "engine_priv.h"
#include "log.h"
#include "loop.h"
#include "mig_stream.h"
#include "recovery.h"

/* A reply this small goes out in one piece of the socket or not at all. */
#define KEPT_ATOMIC_MAX (16u * 1024u)

/* The engine's kept state: format 1, little-endian. */
#define ENGINE_STATE_FORMAT 1u
#define ENGINE_STATE_LEN 64u

static struct recovery *rec(struct engine *e)
{
	return ctx_recovery(e->ctx);
}

/* The connection as a restarted process needs it. */
static void save_state(struct engine *e)
{
	uint8_t b[ENGINE_STATE_LEN] = { 0 };
	const struct caps *c = &e->peer;

	le_put(b, ENGINE_STATE_FORMAT, 4);
	le_put(b + 4, e->state, 4);
	le_put(b + 8, c->max_msg_fds, 8);
	le_put(b + 16, c->max_data_xfer_size, 8);
	le_put(b + 24, c->pgsizes, 8);
	le_put(b + 32, c->max_dma_maps, 8);
	le_put(b + 40, c->mig_pgsize, 8);
	le_put(b + 48, c->mig_max_bitmap_size, 8);
	b[56] = c->write_multiple | c->twin_socket << 1 | c->has_migration << 2;
	le_put(b + 57, e->peer_fds, 2); /* at most WIRE_MAX_FDS_LIMIT */
	le_put(b + 59, e->peer_xfer, 4);
	(void)recovery_save_engine(rec(e), b, sizeof(b));
}

/* Take the saved connection state, checked as a VERSION would be. */
static int load_state(struct engine *e, const uint8_t *b, size_t len)
{
	uint32_t state = (uint32_t)le_get(b + 4, 4);
	struct caps c = {
		.max_msg_fds = le_get(b + 8, 8),
		.max_data_xfer_size = le_get(b + 16, 8),
		.pgsizes = le_get(b + 24, 8), .max_dma_maps = le_get(b + 32, 8),
		.mig_pgsize = le_get(b + 40, 8),
		.mig_max_bitmap_size = le_get(b + 48, 8),
		.write_multiple = b[56] & 1, .twin_socket = b[56] & 2,
		.has_migration = b[56] & 4,
	};
	uint32_t fds = (uint32_t)le_get(b + 57, 2), xfer = (uint32_t)le_get(b + 59, 4);

	if (len != ENGINE_STATE_LEN || le_get(b, 4) != ENGINE_STATE_FORMAT)
		return -EBADMSG;
	if ((state != CONN_NEGOTIATING && state != CONN_READY) ||
	    fds == 0 || fds > WIRE_MAX_FDS_LIMIT || xfer < WIRE_MIN_XFER ||
	    xfer > WIRE_MAX_XFER)
		return -EBADMSG;
	e->peer = c;
	e->peer_fds = fds;
	e->peer_xfer = xfer;
	e->state = state;
	return 0;
}

static uint32_t request_crc(const struct msg *m)
{
	uint32_t crc = mig_crc32c(0, &m->hdr, sizeof(m->hdr));

	return m->payload ? mig_crc32c(crc, m->payload, m->len) : crc;
}

int engine_kept_finish(struct engine *e, uint32_t changes, struct msg *m,
		       const struct wire_hdr *rh, const struct iovec *iov,
		       int iovcnt, unsigned int nfds)
{
	struct kept_journal j = { .req = m->hdr };
	struct iovec all[2 + REPLY_IOV_MAX]; /* header, buffer, the rest */
	int n = 0, ret;

	if (!e->kept) {
		(void)recovery_message_done(rec(e), changes, NULL, NULL, 0);
		return 0;
	}
	if (changes & KEPT_ENGINE)
		save_state(e);
	j.flags = m->peeked ? KEPT_J_PEEKED : 0;
	j.req_crc = m->peeked ? request_crc(m) : 0;
	e->kept_total = 0;
	if (rh == NULL) {
		j.flags |= KEPT_J_NO_REPLY;
	} else {
		all[n++] = (struct iovec){ (void *)rh, WIRE_HDR_SIZE };
		for (int i = 0; i < iovcnt && n < (int)ARRAY_SIZE(all); i++)
			all[n++] = iov[i];
		e->kept_total = rh->msg_size;
		/* fds cannot be journaled: such a reply is not either. */
		if (nfds > 0 || e->kept_total > KEPT_JOURNAL_MAX)
			j.flags |= KEPT_J_UNJOURNALED;
		if (e->kept_total > KEPT_ATOMIC_MAX)
			j.flags |= KEPT_J_BIG;
	}
	ret = recovery_message_done(rec(e), changes, &j,
				    (j.flags & KEPT_J_UNJOURNALED) ? NULL : all,
				    (j.flags & KEPT_J_UNJOURNALED) ? 0 : n);
	if (ret < 0)
		return 0; /* recovery is off: still answer the client */
	e->kept_seq = j.seq;
	recovery_kill_point(rec(e), "committed");
	if (m->peeked && transport_consume(e->t, m, false) < 0)
		return -EPROTO;
	recovery_mark(rec(e), j.seq, rh == NULL ? KEPT_SENT : KEPT_DEQUEUED);
	recovery_kill_point(rec(e), "dequeued");
	return 0;
}

int engine_kept_take_fds(struct engine *e, uint32_t max_fds, struct msg *m)
{
	struct kept_journal j = { .req = m->hdr,
				  .flags = KEPT_J_PEEKED | KEPT_J_INTENT };
	int ret;

	if (!e->kept || !m->peeked || max_fds == 0)
		return 0;
	/* Journaled first: if we die with the fds taken, the message is
	 * answered with an error (its fds died with us). */
	j.req_crc = request_crc(m);
	if (m->hdr.flags & WIRE_F_NO_REPLY)
		j.flags |= KEPT_J_NO_REPLY;
	if (recovery_message_done(rec(e), 0, &j, NULL, 0) == 0)
		e->kept_seq = j.seq;
	recovery_kill_point(rec(e), "taking");
	ret = transport_consume(e->t, m, true);
	recovery_kill_point(rec(e), "taken");
	return ret;
}

int engine_kept_drop(struct engine *e, struct msg *m)
{
	/* Nothing to keep or answer: out of the socket it goes. */
	return m->peeked ? transport_consume(e->t, m, false) : 0;
}

void engine_kept_sent(struct engine *e)
{
	size_t out;
	enum kept_stage st;

	if (!e->kept || e->kept_seq == 0 || e->t == NULL)
		return;
	recovery_kill_point(rec(e), "written");
	out = transport_out_pending(e->t);
	/* Nothing else is queued: what is left is this reply's. */
	st = out == 0 ? KEPT_SENT : out >= e->kept_total ? KEPT_DEQUEUED : KEPT_SENDING;
	recovery_mark(rec(e), e->kept_seq, st);
	if (st == KEPT_SENT)
		recovery_kill_point(rec(e), "sent");
}

void engine_kept_sending(struct engine *e)
{
	if (!e->kept || e->kept_seq == 0)
		return;
	recovery_mark(rec(e), e->kept_seq, KEPT_SENDING);
	recovery_kill_point(rec(e), "sending");
}

int engine_kept_attached(struct engine *e)
{
	e->kept = rec(e) != NULL;
	e->kept_seq = 0;
	return e->kept ? recovery_keep_conn(rec(e), transport_fd(e->t)) : 0;
}

void engine_kept_detached(struct engine *e, int why)
{
	/* A client gone, not a context being destroyed with its client:
	 * the next process may continue that one. */
	if (e->kept && why != -ECONNABORTED)
		recovery_drop_conn(rec(e));
	e->kept = false;
}

/*
 * Whether the journaled message is still at the head of the socket; with
 * @take, taken out. Whatever is there otherwise (or then) is handled
 * first, as any other message.
 */
static bool take_out_if_there(struct engine *e, const struct kept_journal *j,
			      bool take)
{
	bool there;
	struct msg m;

	if (transport_recv(e->t, &m) != 0)
		return false; /* nothing whole there: it was taken out */
	there = m.peeked && memcmp(&m.hdr, &j->req, sizeof(m.hdr)) == 0 &&
		request_crc(&m) == j->req_crc;
	if (there && take) {
		if (transport_consume(e->t, &m, false) < 0)
			e->broken = true;
		msg_release(&m);
		return true;
	}
	if (engine_defer(e, &m) < 0) {
		msg_release(&m);
		e->broken = true;
	}
	return there;
}

static void send_error(struct engine *e, const struct wire_hdr *req)
{
	struct iovec none = { 0 };
	struct wire_hdr h;

	wire_reply_hdr(&h, req, 0, -EINTR);
	e->kept_total = WIRE_HDR_SIZE;
	engine_kept_sending(e);
	if (transport_send(e->t, &h, &none, 0, NULL, 0) < 0)
		e->broken = true;
}

/* Answer the journaled message as far as the dead process did not. */
static void answer_again(struct engine *e, const struct kept_journal *j,
			 const uint8_t *reply, enum kept_stage st)
{
	struct wire_hdr h;
	struct iovec iov;
	bool whole = !(j->flags & KEPT_J_UNJOURNALED);

	if (st == KEPT_SENDING && !whole && (j->flags & KEPT_J_BIG)) {
		/* Part of a large reply may be out: the stream is lost. */
		log_msg(e->log, VUS_LOG_WARNING,
			"recovery: a large reply was cut by the crash; hanging up");
		e->broken = true;
		return;
	}
	/* A duplicate bare header is dropped by the client as an unknown
	 * reply; a duplicate with a payload would break its framing. */
	if (!whole || (st == KEPT_SENDING && j->reply_len > WIRE_HDR_SIZE)) {
		send_error(e, &j->req);
		return;
	}
	memcpy(&h, reply, WIRE_HDR_SIZE);
	iov = (struct iovec){ (void *)(reply + WIRE_HDR_SIZE),
			      j->reply_len - WIRE_HDR_SIZE };
	e->kept_total = j->reply_len;
	engine_kept_sending(e);
	if (transport_send(e->t, &h, &iov, 1, NULL, 0) < 0)
		e->broken = true;
}

/* Settle the message the dead process handled last. */
static void settle(struct engine *e)
{
	struct kept_journal j;
	const void *reply;
	enum kept_stage st;

	if (recovery_last_message(rec(e), &j, &reply, &st) < 0)
		return;
	e->kept_seq = j.seq;
	if (j.flags & KEPT_J_INTENT) {
		/* Its fds were being taken: still there, it is handled anew;
		 * gone, they went with the dead process. */
		if (!take_out_if_there(e, &j, false) &&
		    !(j.flags & KEPT_J_NO_REPLY)) {
			send_error(e, &j.req);
			engine_kept_sent(e);
		}
		return;
	}
	if (st == KEPT_COMMITTED && (j.flags & KEPT_J_PEEKED))
		(void)take_out_if_there(e, &j, true);
	if (st != KEPT_SENT && !(j.flags & KEPT_J_NO_REPLY)) {
		log_msg(e->log, VUS_LOG_NOTICE,
			"recovery: answering %s (id %u) again (stage %d)",
			wire_cmd_name(j.req.cmd), j.req.msg_id, (int)st);
		answer_again(e, &j, reply, st);
	}
	engine_kept_sent(e);
}

struct doorbell **engine_doorbells(struct engine *e)
{
	return &e->doorbells;
}

int engine_adopt(struct engine *e, int fd)
{
	const void *p = NULL;
	size_t len = 0;
	int ret = engine_attach(e, fd);

	if (ret == 0 && (recovery_engine_state(rec(e), &p, &len) < 0 || len == 0))
		ret = -ENOENT;
	if (ret == 0)
		ret = load_state(e, p, len);
	if (ret == 0)
		ret = recovery_client_restore(rec(e));
	if (ret < 0) {
		log_msg(e->log, VUS_LOG_WARNING,
			"recovery: the kept connection cannot be continued: %s",
			strerror(-ret));
		/* Its memory and eventfds go with it, as at any disconnect. */
		if (engine_connected(e))
			engine_drop(e, ret);
		return ret;
	}
	settle(e);
	log_msg(e->log, VUS_LOG_NOTICE, "recovery: continuing the client session");
	return 0;
}
