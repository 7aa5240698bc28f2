/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_ho: the engine's part in a hand-over. The old process holds the
 * engine still (no new client messages; then no I/O at all once its state
 * was saved) and reads the connection's state at a message boundary; the
 * new process continues that connection where the old one left it.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "common.h"
#include "ctx_internal.h"
#include "doorbell.h"
#include "engine_priv.h"
#include "log.h"
#include "loop.h"
#include "region_table.h"

bool engine_at_rest(const struct engine *e)
{
	/* Mid-teardown the device is quiesced for it: wait until idle. */
	if (e->state == CONN_TEARDOWN)
		return false;
	return !e->has_held && !e->quiesce_pending && e->dq_head == NULL &&
	       !e->in_request && e->cur == NULL;
}

void engine_hold(struct engine *e, enum engine_hold h)
{
	enum engine_hold was = e->hold;

	e->hold = h;
	/* A ring while held stays in the client's eventfd for the next
	 * process (or for us, should the hand-over fail). */
	if ((h == ENGINE_RUN) != (was == ENGINE_RUN))
		doorbell_hold(e->doorbells, h != ENGINE_RUN);
	if (e->t == NULL || h == was)
		return;
	/* Frozen, not even a hang-up may make us act: out of the loop. */
	if (h == ENGINE_FREEZE) {
		loop_del(&e->w);
		return;
	}
	if (was == ENGINE_FREEZE && loop_add(ctx_loop(e->ctx), &e->w) < 0)
		e->broken = true;
	engine_update_events(e);
}

bool engine_state_idle(const struct engine_state *st)
{
	return st->conn == CONN_IDLE;
}

bool engine_state_valid(const struct engine_state *st)
{
	return st->conn == CONN_IDLE || st->conn == CONN_NEGOTIATING ||
	       st->conn == CONN_READY;
}

void engine_save(const struct engine *e, struct engine_state *st,
		 struct transport **t)
{
	memset(st, 0, sizeof(*st));
	st->conn = engine_connected(e) ? e->state : CONN_IDLE;
	*t = engine_connected(e) ? e->t : NULL;
	if (*t == NULL)
		return;
	st->peer = e->peer;
	st->peer_fds = e->peer_fds;
	st->peer_xfer = e->peer_xfer;
	st->next_id = e->next_id;
	st->notify_connected = e->notify_connected;
}

int engine_transport_restore(struct engine *e, int fd,
			     const struct transport_saved_in *in,
			     struct transport **out)
{
	struct transport_limits tl = { .max_msg_size = e->max_msg,
				       .max_fds = e->lim.max_fds };

	return transport_sock_restore(fd, &tl, in, out);
}

int engine_restore(struct engine *e, const struct engine_state *st,
		   struct transport *t)
{
	int ret;

	if (e->state != CONN_IDLE || !engine_state_valid(st) ||
	    st->conn == CONN_IDLE) {
		transport_destroy(t);
		return -EINVAL;
	}
	e->t = t;
	e->w.fd = transport_fd(t);
	e->w.events = EPOLLIN | (transport_out_pending(t) ? EPOLLOUT : 0);
	ret = loop_add(ctx_loop(e->ctx), &e->w);
	if (ret < 0) {
		transport_destroy(t);
		e->t = NULL;
		e->w.fd = -1;
		return ret;
	}
	e->peer = st->peer;
	e->peer_fds = st->peer_fds;
	e->peer_xfer = st->peer_xfer;
	e->next_id = st->next_id;
	e->notify_connected = st->notify_connected;
	e->broken = false;
	e->closing = false;
	e->hold = ENGINE_RUN;
	e->state = (enum conn_state)st->conn;
	log_msg(e->log, VUS_LOG_INFO, "serving the client of the old process");
	return 0;
}

int engine_doorbell_get(const struct engine *e, unsigned int i,
			uint32_t *region, unsigned int *index, int *fd)
{
	return doorbell_get(e->doorbells, i, region, index, fd);
}

int engine_doorbell_adopt(struct engine *e, uint32_t region,
			  unsigned int index, int fd)
{
	const struct region_ioev *ev = NULL;
	unsigned int n = region < engine_num_regions(e)
			 ? region_ioeventfds(ctx_regions(e->ctx), region, &ev) : 0;

	if (index >= n) {
		close_fd(&fd);
		return -EBADMSG;
	}
	/* Kicks the new device once (see doorbell_adopt). */
	return doorbell_adopt(&e->doorbells, ctx_loop(e->ctx), region, index,
			      ev[index].fd, fd);
}

void engine_forget(struct engine *e)
{
	doorbell_close_all(&e->doorbells); /* the new process's now */
	if (e->t == NULL)
		return;
	loop_del(&e->w);
	transport_destroy(e->t);
	e->t = NULL;
	e->w.fd = -1;
	e->state = CONN_IDLE;
}
