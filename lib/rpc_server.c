/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_server: the management socket. A listener and its connections live
 * in a loop of their own, nested in the context's loop as one watch that
 * handles at most RPC_BUDGET connection events per turn: however many
 * management clients are busy, the vfio-user client waits behind a few
 * calls at most.
 *
 * Framing: one JSON text per line. A connection handles at most one line
 * per event and never reads past a newline (it peeks, then reads through
 * the newline only), so what the client sends next stays in the socket:
 * level-triggered epoll brings us back for it, and a connection taken
 * over by rpc_detach_conn() starts exactly after its request.
 * Bounds: a line longer than RPC_LINE_MAX gets an error and the
 * connection is closed; a client whose unread replies pass RPC_OUT_MAX is
 * cut off; clients beyond RPC_MAX_CONNS get an error and are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "rpc_priv.h"

/* Buffers bigger than this are given back once empty. */
#define RPC_KEEP_BUF (64u << 10)

static void conn_cb(struct watch *w, uint32_t events);
static void conn_update(struct rpc_conn *c);

static void outer_cb(struct watch *w, uint32_t events)
{
	struct rpc *r = (struct rpc *)((char *)w - offsetof(struct rpc, outer_w));

	(void)events;
	(void)loop_run_max(r->loop, 0, RPC_BUDGET);
}

int rpc_of(vus_ctx *ctx, struct rpc **out)
{
	struct rpc *r = ctx_rpc(ctx);
	int ret;

	if (r != NULL) {
		*out = r;
		return 0;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->ctx = ctx;
	r->log = ctx_log(ctx);
	r->listen_w.fd = -1;
	ret = loop_create(&r->loop);
	if (ret == 0) {
		r->outer_w = (struct watch){ .fd = loop_fd(r->loop),
					     .events = EPOLLIN, .cb = outer_cb };
		ret = rpc_methods_init(r);
	}
	if (ret < 0) {
		rpc_methods_free(r);
		loop_destroy(r->loop);
		free(r);
		return ret;
	}
	ctx_set_rpc(ctx, r);
	*out = r;
	return 0;
}

struct rpc_conn *rpc_conn_new(struct rpc *r, int fd)
{
	struct rpc_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		close_fd(&fd);
		return NULL;
	}
	c->rpc = r;
	c->w = (struct watch){ .fd = fd, .events = EPOLLIN, .cb = conn_cb };
	if (fd >= 0 && loop_add(r->loop, &c->w) < 0) {
		close_fd(&c->w.fd);
		free(c);
		return NULL;
	}
	c->next = r->conns;
	r->conns = c;
	r->nconns++;
	return c;
}

static void unlink_conn(struct rpc_conn *c)
{
	for (struct rpc_conn **pp = &c->rpc->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static void free_bufs(struct rpc_conn *c)
{
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_head = c->out_len = c->out_cap = 0;
}

void rpc_conn_free(struct rpc_conn *c)
{
	if (!c->dead)
		c->rpc->nconns--;
	rpc_proto_drop(c);
	unlink_conn(c);
	loop_del(&c->w);
	close_fd(&c->w.fd);
	free_bufs(c);
	free(c);
}

/* Hang up. A call held for a quiesce keeps the struct until it ran. */
static void conn_close(struct rpc_conn *c, int why)
{
	rpc_detach_fn *fn = c->detach_fn;
	void *opaque = c->detach_opaque;

	c->detach_fn = NULL;
	if (c->has_job && c->job.held) {
		loop_del(&c->w);
		close_fd(&c->w.fd);
		free_bufs(c);
		c->dead = true;
		c->rpc->nconns--;
	} else {
		rpc_conn_free(c);
	}
	if (fn != NULL)
		fn(opaque, why);
}

/* The reply is out: give the connection to whoever asked for it. */
static void conn_detach(struct rpc_conn *c)
{
	rpc_detach_fn *fn = c->detach_fn;
	void *opaque = c->detach_opaque;
	int fd;

	loop_del(&c->w);
	fd = c->w.fd;
	c->w.fd = -1;
	c->detach_fn = NULL;
	rpc_conn_free(c);
	fn(opaque, fd);
}

void rpc_conn_emit(struct rpc_conn *c, struct json_object *reply)
{
	size_t len;
	const char *text = json_object_to_json_string_length(
		reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		&len);

	if (c->dead || c->overflow)
		return;
	if (text == NULL || len + 1 > RPC_OUT_MAX - c->out_len) {
		c->overflow = true;
		return;
	}
	if (c->out_head > 0) {
		memmove(c->out, c->out + c->out_head, c->out_len);
		c->out_head = 0;
	}
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = MAX(c->out_cap * 2, c->out_len + len + 1);
		char *p = realloc(c->out, MIN(cap, RPC_OUT_MAX));

		if (p == NULL) {
			c->overflow = true;
			return;
		}
		c->out = p;
		c->out_cap = MIN(cap, RPC_OUT_MAX);
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
}

/* Write what the socket takes: 0, or -errno when the client is gone. */
static int conn_flush(struct rpc_conn *c)
{
	while (c->out_len > 0) {
		struct iovec iov = { .iov_base = c->out + c->out_head,
				     .iov_len = c->out_len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = sendmsg(c->w.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->out_head += (size_t)n;
		c->out_len -= (size_t)n;
	}
	c->out_head = 0;
	if (c->out_cap > RPC_KEEP_BUF) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

static int in_reserve(struct rpc_conn *c, size_t need)
{
	size_t cap;
	char *p;

	if (need <= c->in_cap)
		return 0;
	cap = MIN(MAX(need, MAX(c->in_cap * 2, (size_t)RPC_PEEK)),
		  (size_t)RPC_LINE_MAX + 1);
	p = realloc(c->in, cap);
	if (p == NULL)
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

static void line_too_long(struct rpc_conn *c)
{
	char msg[80];
	struct json_object *e;

	snprintf(msg, sizeof(msg), "request line longer than %u bytes",
		 RPC_LINE_MAX);
	e = rpc_error_reply(NULL, RPC_INVALID_REQUEST, msg, 0);
	if (e != NULL)
		rpc_conn_emit(c, e);
	json_object_put(e);
	c->closing = true;
	c->rpc->st.clients_cut++;
	log_client(c->rpc->log, VUS_LOG_DEBUG,
		   "management client sent a line over %u bytes", RPC_LINE_MAX);
}

/* The line is complete in c->in: answer it and start the next one. */
static void line_done(struct rpc_conn *c)
{
	size_t len = c->in_len;

	c->in_len = 0;
	rpc_proto_line(c, c->in, len);
	if (c->in_cap > RPC_KEEP_BUF) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

/*
 * Peek at what arrived and take it up to and including the first
 * newline: -EAGAIN when nothing (more) is there, 1 when a line is
 * complete, 0 when a piece of a longer line was taken, or -errno; EOF
 * sets c->eof.
 */
static int read_piece(struct rpc_conn *c)
{
	char peek[RPC_PEEK];
	struct iovec iov = { .iov_base = peek, .iov_len = sizeof(peek) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(c->w.fd, &mh, MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	size_t take, content;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? -EAGAIN : -errno;
	if (n == 0) {
		c->eof = true;
		return -EAGAIN;
	}
	nl = memchr(peek, '\n', (size_t)n);
	take = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
	content = c->in_len + take - (nl ? 1 : 0);
	if (content > RPC_LINE_MAX) {
		line_too_long(c);
		return -EAGAIN;
	}
	if (in_reserve(c, c->in_len + take) < 0)
		return -ENOMEM;
	/* Only we read this socket: the peeked bytes are there to take. */
	n = read(c->w.fd, c->in + c->in_len, take);
	if (n != (ssize_t)take)
		return n < 0 ? -errno : -EPROTO;
	c->in_len = content;
	return nl ? 1 : 0;
}

/* At most one line, or RPC_READ_BUDGET bytes of a long one, per event. */
static int conn_read(struct rpc_conn *c)
{
	size_t got = 0;

	while (got < RPC_READ_BUDGET && !c->eof && !c->closing) {
		size_t before = c->in_len;
		int ret = read_piece(c);

		if (ret == -EAGAIN)
			return 0;
		if (ret < 0)
			return ret;
		if (ret == 1) {
			line_done(c);
			return 0;
		}
		got += c->in_len - before;
	}
	return 0;
}

static bool reading(const struct rpc_conn *c)
{
	return !c->eof && !c->closing && !c->has_job && c->detach_fn == NULL;
}

static void conn_cb(struct watch *w, uint32_t events)
{
	struct rpc_conn *c = (struct rpc_conn *)w;
	int ret = 0;

	if ((events & EPOLLOUT) || c->out_len > 0)
		ret = conn_flush(c);
	if (ret == 0 && reading(c) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		ret = conn_read(c);
	if (ret == 0 && c->out_len > 0)
		ret = conn_flush(c);
	/* Gone while not read from (a held call, replies going out): the
	 * hang-up would be reported again and again. */
	if (ret == 0 && !reading(c) && (events & (EPOLLHUP | EPOLLERR)))
		ret = -EPIPE;
	if (ret < 0) {
		conn_close(c, ret == -EAGAIN ? -EPIPE : ret);
		return;
	}
	conn_update(c);
}

/* After anything happened on @c: hang up, hand over, or watch again. */
static void conn_update(struct rpc_conn *c)
{
	uint32_t ev = c->out_len > 0 ? EPOLLOUT : 0;

	if (c->dead) {
		if (!c->has_job)
			rpc_conn_free(c);
		return;
	}
	if (c->overflow) {
		c->rpc->st.clients_cut++;
		log_client(c->rpc->log, VUS_LOG_NOTICE, "management client cut "
			   "off: over %u bytes of replies unread", RPC_OUT_MAX);
		conn_close(c, -ENOBUFS);
		return;
	}
	if (c->has_job) {
		(void)loop_mod(&c->w, ev); /* held for a quiesce */
		return;
	}
	if (c->detach_fn != NULL && c->out_len == 0) {
		conn_detach(c);
		return;
	}
	/* A fatal error that did not go out at once is not waited for. */
	if (c->closing || (c->eof && c->out_len == 0)) {
		conn_close(c, -EPIPE);
		return;
	}
	if (reading(c))
		ev |= EPOLLIN;
	(void)loop_mod(&c->w, ev);
}

static void refuse(struct rpc *r, int fd)
{
	char line[200];
	int n = snprintf(line, sizeof(line),
			 "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":"
			 "\"Server error\",\"data\":{\"message\":\"too many "
			 "management clients (%u)\",\"errno\":\"EUSERS\"}},"
			 "\"id\":null}\n", RPC_SERVER_ERROR, RPC_MAX_CONNS);

	/* A fresh socket has room for one short line; no waiting for it. */
	(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close_fd(&fd);
	r->st.clients_refused++;
	log_client(r->log, VUS_LOG_NOTICE, "management client refused: %u "
		   "connected already", RPC_MAX_CONNS);
}

static void listen_cb(struct watch *w, uint32_t events)
{
	struct rpc *r = (struct rpc *)((char *)w - offsetof(struct rpc, listen_w));

	(void)events;
	for (unsigned int i = 0; i < RPC_ACCEPT_BUDGET; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_msg(r->log, VUS_LOG_WARNING,
					"management accept: %s", strerror(errno));
			return;
		}
		if (r->nconns >= RPC_MAX_CONNS) {
			refuse(r, fd);
			continue;
		}
		if (rpc_conn_new(r, fd) == NULL) {
			log_msg(r->log, VUS_LOG_WARNING,
				"management client dropped: out of memory");
			continue;
		}
		r->st.clients_total++;
	}
}

static int adopt(struct rpc *r, int fd)
{
	int fl = fcntl(fd, F_GETFL), ret;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	r->listen_w = (struct watch){ .fd = fd, .events = EPOLLIN,
				      .cb = listen_cb };
	ret = loop_add(r->loop, &r->listen_w);
	if (ret == 0 && r->outer_w.loop == NULL)
		ret = loop_add(ctx_loop(r->ctx), &r->outer_w);
	if (ret < 0) {
		loop_del(&r->listen_w);
		r->listen_w.fd = -1;
	}
	return ret;
}

static int listen_check(vus_ctx *ctx, struct rpc **r)
{
	int ret;

	if (ctx == NULL || !ctx_realized(ctx))
		return -EINVAL;
	ret = rpc_of(ctx, r);
	if (ret == 0 && (*r)->listen_w.fd >= 0)
		ret = -EEXIST;
	return ret;
}

VUS_EXPORT int vus_ctx_rpc_listen_fd(vus_ctx *ctx, int fd)
{
	struct rpc *r = NULL;
	int ret = listen_check(ctx, &r);

	if (ret == 0)
		ret = unix_stream_check(fd, true);
	if (ret == 0)
		ret = adopt(r, fd);
	if (ret < 0)
		close_fd(&fd);
	return ret;
}

VUS_EXPORT int vus_ctx_rpc_listen(vus_ctx *ctx, const char *path)
{
	struct rpc *r = NULL;
	int ret, fd = -1;

	if (path == NULL || path[0] == '\0')
		return -EINVAL;
	ret = listen_check(ctx, &r);
	if (ret < 0)
		return ret;
	ret = ctx_listen_path(path, 0600, &fd);
	if (ret < 0)
		return ret;
	r->path = strdup(path);
	ret = r->path ? adopt(r, fd) : -ENOMEM;
	if (ret < 0) {
		(void)unlink(path);
		free(r->path);
		r->path = NULL;
		close_fd(&fd);
		return ret;
	}
	log_msg(r->log, VUS_LOG_INFO, "management (JSON-RPC) on %s", path);
	return 0;
}

int rpc_listener(vus_ctx *ctx, const char **path)
{
	struct rpc *r = ctx_rpc(ctx);

	*path = r ? r->path : NULL;
	return r ? r->listen_w.fd : -1;
}

void rpc_let_go(vus_ctx *ctx)
{
	struct rpc *r = ctx_rpc(ctx);

	if (r == NULL)
		return;
	loop_del(&r->listen_w);
	close_fd(&r->listen_w.fd);
	free(r->path);
	r->path = NULL;
}

int rpc_adopt_listener(vus_ctx *ctx, int fd, char *path)
{
	int ret = vus_ctx_rpc_listen_fd(ctx, fd);

	if (ret < 0) {
		free(path);
		return ret;
	}
	ctx_rpc(ctx)->path = path;
	if (path != NULL)
		log_msg(ctx_rpc(ctx)->log, VUS_LOG_INFO,
			"management (JSON-RPC) on %s, taken over", path);
	return 0;
}

void rpc_wakeup(struct rpc *r)
{
	struct rpc_conn *c, *next;

	if (r == NULL || r->nheld == 0)
		return;
	if (!device_quiesce_done(ctx_device(r->ctx)))
		return;
	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->has_job || !c->job.held)
			continue;
		rpc_proto_resume(c);
		if (c->w.fd >= 0 && c->out_len > 0 && conn_flush(c) < 0) {
			conn_close(c, -EPIPE);
			continue;
		}
		conn_update(c);
	}
}

int rpc_detach_conn(vus_rpc_req *req, rpc_detach_fn *fn, void *opaque)
{
	struct rpc_conn *c = req ? req->conn : NULL;

	if (c == NULL || fn == NULL || c->w.fd < 0 || c->detach_fn != NULL)
		return -EINVAL;
	c->detach_fn = fn;
	c->detach_opaque = opaque;
	return 0;
}

void rpc_destroy(struct rpc *r)
{
	if (r == NULL)
		return;
	while (r->conns != NULL) {
		struct rpc_conn *c = r->conns;
		rpc_detach_fn *fn = c->detach_fn;
		void *opaque = c->detach_opaque;

		c->detach_fn = NULL;
		rpc_conn_free(c);
		if (fn != NULL)
			fn(opaque, -ECANCELED);
	}
	loop_del(&r->listen_w);
	close_fd(&r->listen_w.fd);
	if (r->path != NULL) {
		(void)unlink(r->path);
		free(r->path);
	}
	loop_del(&r->outer_w);
	rpc_methods_free(r);
	loop_destroy(r->loop);
	ctx_set_rpc(r->ctx, NULL);
	free(r);
}
