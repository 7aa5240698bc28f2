/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client: the client connection: connect or attach, VERSION negotiation,
 * and the request/reply machinery every command uses. Requests carry
 * increasing message ids; a reply is matched by id, and stale replies (to
 * requests that timed out) are dropped rather than desynchronising the
 * stream. While waiting, the server's own requests are served, so a device
 * that DMAs into fd-less memory while it handles our request makes
 * progress. The server is not trusted: every reply is checked for its size
 * and fds, and unexpected fds are closed with the message.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "client_priv.h"
#include "common.h"

uint64_t client_deadline_in(int timeout_ms)
{
	if (timeout_ms < 0)
		return CLIENT_FOREVER;
	return now_ms() + (uint64_t)timeout_ms;
}

uint64_t client_deadline(const vus_client *c)
{
	return client_deadline_in(c->timeout_ms);
}

/* Milliseconds left for poll(): -1 forever, 0 when past. */
static int remaining_ms(uint64_t deadline)
{
	uint64_t now;

	if (deadline == CLIENT_FOREVER)
		return -1;
	now = now_ms();
	if (now >= deadline)
		return 0;
	return (int)MIN(deadline - now, (uint64_t)INT_MAX);
}

int client_broken(vus_client *c)
{
	c->dead = true;
	return -ENOTCONN;
}

int client_poll(vus_client *c, int extra, uint64_t deadline)
{
	struct pollfd p[2] = {
		{ .fd = transport_fd(c->t), .events = POLLIN },
		{ .fd = extra, .events = POLLIN },
	};
	int n, left = remaining_ms(deadline);

	if (left == 0)
		return -ETIMEDOUT;
	if (transport_out_pending(c->t) > 0)
		p[0].events |= POLLOUT;
	n = poll(p, extra >= 0 ? 2 : 1, left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ETIMEDOUT;
	return extra >= 0 && p[1].revents ? 1 : 0;
}

int client_flush_all(vus_client *c, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = transport_fd(c->t), .events = POLLOUT };
		int ret = transport_flush(c->t), left;

		if (ret == 0)
			return 0;
		if (ret != -EAGAIN)
			return client_broken(c);
		/* Only room to write is awaited: input stays for whoever
		 * reads next (a raw test may want to see it). */
		left = remaining_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		ret = poll(&p, 1, left);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret == 0)
			return -ETIMEDOUT;
	}
}

int client_recv_one(vus_client *c, struct msg *m)
{
	int ret;

	if (c->dead)
		return -ENOTCONN;
	ret = transport_flush(c->t);
	if (ret < 0 && ret != -EAGAIN)
		return client_broken(c);
	ret = transport_recv(c->t, m);
	if (ret == 0 || ret == -EAGAIN)
		return ret;
	/* EOF, broken framing or a socket error: nothing more will come. */
	return client_broken(c);
}

int client_dispatch(vus_client *c, struct msg *m)
{
	if ((m->hdr.flags & WIRE_F_TYPE_MASK) == WIRE_F_TYPE_CMD) {
		client_serve_request(c, m);
		return 1;
	}
	/* A reply to a request we gave up on, or a type the protocol does
	 * not define: nobody is waiting for it. */
	msg_release(m);
	return 0;
}

VUS_EXPORT int vus_client_process(vus_client *c, int timeout_ms)
{
	uint64_t deadline = client_deadline_in(timeout_ms);
	int served = 0, ret;

	if (c == NULL)
		return -EINVAL;
	for (;;) {
		struct msg m;

		ret = client_recv_one(c, &m);
		if (ret == 0) {
			served += client_dispatch(c, &m);
			continue;
		}
		if (ret != -EAGAIN)
			return ret;
		/* Wait only until something was served. */
		if (served > 0 || timeout_ms == 0)
			break;
		ret = client_poll(c, -1, deadline);
		if (ret == -ETIMEDOUT)
			break;
		if (ret < 0)
			return ret;
	}
	/* Our replies must reach the server, which is waiting for them. */
	ret = client_flush_all(c, client_deadline(c));
	return ret < 0 ? ret : served;
}

int client_reply_errno(const struct msg *m)
{
	uint32_t e = m->hdr.error;

	/* Only a real errno is passed on; 0 or garbage is a protocol error. */
	return e > 0 && e < 4096 ? -(int)e : -EPROTO;
}

static bool is_our_reply(const struct msg *m, uint16_t id)
{
	return wire_is_reply(&m->hdr) && m->hdr.msg_id == id;
}

/* Pump the socket until the reply to @id arrives. */
static int await_reply(vus_client *c, uint16_t id, uint16_t cmd,
		       struct msg *reply)
{
	uint64_t deadline = client_deadline(c);

	for (;;) {
		int ret = client_recv_one(c, reply);

		if (ret == -EAGAIN) {
			ret = client_poll(c, -1, deadline);
			if (ret < 0)
				return ret;
			continue;
		}
		if (ret < 0)
			return ret;
		if (!is_our_reply(reply, id)) {
			(void)client_dispatch(c, reply);
			continue;
		}
		/* Too large or with too many fds (already closed), or an
		 * answer to something else: unusable. */
		if (reply->reject || reply->hdr.cmd != cmd) {
			msg_release(reply);
			return -EPROTO;
		}
		return 0;
	}
}

int client_call(vus_client *c, const struct client_req *rq,
		struct msg *reply)
{
	size_t size = WIRE_HDR_SIZE;
	struct wire_hdr h;
	int ret;

	if (c->dead)
		return -ENOTCONN;
	for (int i = 0; i < rq->iovcnt; i++)
		size += rq->iov[i].iov_len;
	if (size > UINT32_MAX)
		return -EMSGSIZE;
	h = (struct wire_hdr){ .msg_id = c->next_id++, .cmd = rq->cmd,
			       .msg_size = (uint32_t)size, .flags = rq->flags };
	ret = transport_send(c->t, &h, rq->iov, rq->iovcnt, rq->fds, rq->nfds);
	if (ret == -ENOMEM || ret == -EINVAL)
		return ret;
	if (ret < 0)
		return client_broken(c);
	if (rq->flags & WIRE_F_NO_REPLY)
		return client_flush_all(c, client_deadline(c));
	return await_reply(c, h.msg_id, rq->cmd, reply);
}

int client_call_checked(vus_client *c, const struct client_req *rq,
			uint32_t min_len, uint32_t max_len,
			unsigned int max_fds, struct msg *reply)
{
	int ret = client_call(c, rq, reply);

	if (ret < 0)
		return ret;
	if (reply->hdr.flags & WIRE_F_ERROR)
		ret = client_reply_errno(reply);
	else if (reply->len < min_len || reply->len > max_len ||
		 reply->nfds > max_fds)
		ret = -EPROTO;
	if (ret < 0)
		msg_release(reply);
	return ret;
}

int client_call_fixed(vus_client *c, uint16_t cmd, void *req_out, size_t len)
{
	struct client_req rq = {
		.cmd = cmd, .iovcnt = 1,
		.iov = { { .iov_base = req_out, .iov_len = len } },
	};
	struct msg m;
	int ret;

	ret = client_call_checked(c, &rq, (uint32_t)len, (uint32_t)len, 0, &m);
	if (ret < 0)
		return ret;
	memcpy(req_out, m.payload, len);
	msg_release(&m);
	return 0;
}

/* Apply defaults and check ranges; @out has every field set. */
static int config_load(struct vus_client_config *out,
		       const struct vus_client_config *cfg)
{
	memset(out, 0, sizeof(*out));
	if (cfg != NULL && copy_sized(out, sizeof(*out), cfg) < 0)
		return -EINVAL;
	if (out->max_data_xfer_size == 0)
		out->max_data_xfer_size = WIRE_DEFAULT_XFER;
	if (out->max_data_xfer_size < WIRE_MIN_XFER ||
	    out->max_data_xfer_size > WIRE_MAX_XFER)
		return -EINVAL;
	if (out->max_msg_fds == 0)
		out->max_msg_fds = CLIENT_DEFAULT_FDS;
	if (out->max_msg_fds > CLIENT_MAX_FDS)
		return -EINVAL;
	if (out->timeout_ms == 0)
		out->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
	if (out->timeout_ms < 0)
		return -EINVAL;
	return 0;
}

static void server_defaults(struct client_server *s)
{
	struct caps d;

	caps_defaults(&d);
	*s = (struct client_server){
		.max_msg_fds = (uint32_t)d.max_msg_fds,
		.max_xfer = (uint32_t)d.max_data_xfer_size,
		.pgsizes = d.pgsizes, .max_dma_maps = d.max_dma_maps,
	};
}

static int client_new(int fd, const struct vus_client_config *cfg,
		      vus_client **out)
{
	struct transport_limits tl = { 0 };
	vus_client *c = calloc(1, sizeof(*c));
	int ret;

	if (c == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	c->max_xfer = cfg->max_data_xfer_size;
	c->max_fds = cfg->max_msg_fds;
	c->timeout_ms = cfg->timeout_ms;
	server_defaults(&c->srv);
	/* A DMA_WRITE of our largest transfer, or the largest control
	 * message, whichever is bigger. */
	tl.max_msg_size = MAX(WIRE_HDR_SIZE + 16u + c->max_xfer,
			      WIRE_HDR_SIZE + WIRE_MAX_CONTROL_MSG);
	tl.max_fds = c->max_fds;
	ret = transport_sock_create(fd, &tl, &c->t);
	if (ret < 0) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int client_attach(int fd, const struct vus_client_config *cfg,
		  bool negotiate, vus_client **out)
{
	struct vus_client_config conf;
	vus_client *c;
	int ret;

	if (out == NULL || fd < 0) {
		close_fd(&fd);
		return -EINVAL;
	}
	ret = config_load(&conf, cfg);
	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	ret = client_new(fd, &conf, &c);
	if (ret < 0)
		return ret;
	if (negotiate) {
		/* We announce our own limits, proposing 0.0. */
		ret = client_negotiate(c, WIRE_VERSION_MAJOR,
				       WIRE_VERSION_MINOR, NULL, true);
		if (ret < 0) {
			vus_client_close(c);
			return ret;
		}
	}
	*out = c;
	return 0;
}

int client_connect(const char *path, const struct vus_client_config *cfg,
		   bool negotiate, vus_client **out)
{
	int fd, ret;

	if (path == NULL || out == NULL || path[0] == '\0')
		return -EINVAL;
	ret = unix_connect(path, &fd);
	return ret < 0 ? ret : client_attach(fd, cfg, negotiate, out);
}

VUS_EXPORT int vus_client_attach_fd(int fd, const struct vus_client_config *cfg,
				    vus_client **out)
{
	return client_attach(fd, cfg, true, out);
}

VUS_EXPORT int vus_client_connect(const char *path,
				  const struct vus_client_config *cfg,
				  vus_client **out)
{
	return client_connect(path, cfg, true, out);
}

VUS_EXPORT void vus_client_close(vus_client *c)
{
	if (c == NULL)
		return;
	/* The socket first: the server drops its copies of our mappings and
	 * eventfds when it sees us go. */
	transport_destroy(c->t);
	client_dma_release(c);
	client_irq_release(c);
	free(c);
}

VUS_EXPORT int vus_client_fd(const vus_client *c)
{
	return c != NULL ? transport_fd(c->t) : -EINVAL;
}

VUS_EXPORT int vus_client_server_caps(const vus_client *c,
				      struct vus_client_caps *out)
{
	struct vus_client_caps caps;

	if (c == NULL || sized_out_check(out, sizeof(caps)) < 0)
		return -EINVAL;
	if (!c->negotiated || c->dead)
		return -ENOTCONN;
	caps = (struct vus_client_caps){
		.major = c->srv.major, .minor = c->srv.minor,
		.max_msg_fds = c->srv.max_msg_fds,
		.max_data_xfer_size = c->srv.max_xfer,
		.pgsizes = c->srv.pgsizes, .max_dma_maps = c->srv.max_dma_maps,
		.write_multiple = c->srv.write_multiple,
	};
	copy_sized_out(out, &caps, sizeof(caps));
	return 0;
}

/*
 * Build our VERSION payload into @buf: our own capabilities (@build), the
 * caller's JSON text sent with its NUL, or no JSON at all.
 */
static int version_payload(const vus_client *c, uint16_t major,
			   uint16_t minor, const char *json, bool build,
			   uint8_t *buf, size_t cap)
{
	struct wire_version v = { .major = major, .minor = minor };
	struct caps ours;
	size_t n;

	if (!build) {
		n = json != NULL ? strlen(json) + 1 : 0;
		if (sizeof(v) + n > cap)
			return -E2BIG;
		memcpy(buf, &v, sizeof(v));
		if (n > 0)
			memcpy(buf + sizeof(v), json, n);
		return (int)(sizeof(v) + n);
	}
	caps_defaults(&ours);
	ours.max_msg_fds = c->max_fds;
	ours.max_data_xfer_size = c->max_xfer;
	ours.pgsizes = PAGE_4K; /* our page size for DMA */
	return caps_build_version(buf, cap, major, minor, &ours);
}

/* Check the server's VERSION reply and record what it announced. */
static int version_reply(vus_client *c, const struct msg *m, uint16_t major,
			 uint16_t minor)
{
	uint16_t smajor, sminor;
	struct caps s;

	if (m->hdr.flags & WIRE_F_ERROR)
		return client_reply_errno(m);
	/* Twin sockets were never offered: no fd has a reason to come. */
	if (m->nfds > 0)
		return -EPROTO;
	if (caps_parse_version(m->payload, m->len, &smajor, &sminor, &s) < 0)
		return -EPROTO;
	/* Same major; a minor no higher than ours (the spec's rules). */
	if (smajor != major || sminor > minor)
		return -EPROTO;
	c->srv = (struct client_server){
		.major = smajor, .minor = sminor,
		.max_msg_fds = (uint32_t)MIN(s.max_msg_fds, WIRE_MAX_FDS_LIMIT),
		.max_xfer = (uint32_t)MIN(s.max_data_xfer_size, WIRE_MAX_XFER),
		.pgsizes = s.pgsizes, .max_dma_maps = s.max_dma_maps,
		.write_multiple = s.write_multiple,
	};
	c->negotiated = true;
	return 0;
}

int client_negotiate(vus_client *c, uint16_t major, uint16_t minor,
		     const char *json, bool build)
{
	uint8_t buf[WIRE_MAX_CONTROL_MSG];
	struct client_req rq = { .cmd = WIRE_CMD_VERSION, .iovcnt = 1 };
	struct msg m;
	int ret;

	if (c == NULL)
		return -EINVAL;
	if (c->negotiated)
		return -EALREADY;
	ret = version_payload(c, major, minor, json, build, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	rq.iov[0] = (struct iovec){ .iov_base = buf, .iov_len = (size_t)ret };
	ret = client_call(c, &rq, &m);
	if (ret < 0)
		return ret;
	ret = version_reply(c, &m, major, minor);
	msg_release(&m);
	return ret;
}
