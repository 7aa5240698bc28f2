/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_raw: the test-only protocol access of vus_client_raw.h, below
 * the typed calls: connecting without VERSION, negotiating by hand, any
 * command with any payload and fds, arbitrary bytes with no framing, the
 * next message whatever it is. Built into a static library for tests only;
 * nothing here is exported from libvus-client.so.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client_priv.h"
#include "common.h"
#include "vus_client_raw.h"

_Static_assert(VUS_CLIENT_F_NO_REPLY == WIRE_F_NO_REPLY, "NO_REPLY");

int vus_client_attach_fd_raw(int fd, const struct vus_client_config *cfg,
			     vus_client **out)
{
	return client_attach(fd, cfg, false, out);
}

int vus_client_connect_raw(const char *path,
			   const struct vus_client_config *cfg,
			   vus_client **out)
{
	return client_connect(path, cfg, false, out);
}

int vus_client_negotiate(vus_client *c, uint16_t major, uint16_t minor,
			 const char *json)
{
	return client_negotiate(c, major, minor, json, false);
}

int vus_client_negotiate_ours(vus_client *c, uint16_t major, uint16_t minor)
{
	return client_negotiate(c, major, minor, NULL, true);
}

void vus_client_reply_free(struct vus_client_reply *r)
{
	if (r == NULL)
		return;
	free(r->payload);
	close_fds(r->fds, r->nfds);
	memset(r, 0, sizeof(*r));
}

/* Copy a received message into the caller's reply (fds taken). */
static int reply_fill(struct vus_client_reply *r, struct msg *m)
{
	memset(r, 0, sizeof(*r));
	r->msg_id = m->hdr.msg_id;
	r->cmd = m->hdr.cmd;
	r->flags = m->hdr.flags;
	if (m->hdr.flags & WIRE_F_ERROR)
		r->error = (int)MIN(m->hdr.error, (uint32_t)INT32_MAX);
	if (m->len > 0) {
		r->payload = malloc(m->len);
		if (r->payload == NULL) {
			msg_release(m);
			return -ENOMEM;
		}
		memcpy(r->payload, m->payload, m->len);
		r->len = m->len;
	}
	/* The transport never gives us more than our limit, <= 16. */
	for (unsigned int i = 0; i < m->nfds && i < ARRAY_SIZE(r->fds); i++)
		r->fds[r->nfds++] = msg_take_fd(m, i);
	msg_release(m);
	return 0;
}

int vus_client_request(vus_client *c, uint16_t cmd, uint32_t flags,
				  const void *payload, size_t len,
				  const int *fds, unsigned int nfds,
				  struct vus_client_reply *reply)
{
	struct client_req rq = {
		.cmd = cmd, .flags = flags, .iovcnt = len > 0 ? 1 : 0,
		.iov = { { .iov_base = (void *)payload, .iov_len = len } },
		.fds = fds, .nfds = nfds,
	};
	struct msg m;
	int ret;

	if (reply != NULL)
		memset(reply, 0, sizeof(*reply));
	if (c == NULL || (payload == NULL && len > 0) ||
	    (fds == NULL && nfds > 0) ||
	    (reply == NULL && !(flags & WIRE_F_NO_REPLY)))
		return -EINVAL;
	ret = client_call(c, &rq, &m);
	if (ret < 0 || (flags & WIRE_F_NO_REPLY))
		return ret;
	return reply_fill(reply, &m);
}


int vus_client_send_raw(vus_client *c, const void *bytes,
				   size_t len, const int *fds,
				   unsigned int nfds)
{
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = len };
	uint64_t deadline;
	int ret;

	if (c == NULL || (bytes == NULL && len > 0) || len == 0 ||
	    (fds == NULL && nfds > 0) || nfds > WIRE_MAX_FDS_LIMIT)
		return -EINVAL;
	if (c->dead)
		return -ENOTCONN;
	deadline = client_deadline(c);
	/* What the transport queued goes first, or the bytes interleave. */
	ret = client_flush_all(c, deadline);
	while (ret == 0 && iov.iov_len > 0) {
		ssize_t n = transport_sendmsg(transport_fd(c->t), &iov, 1, fds, nfds);

		if (n == -EAGAIN) {
			struct pollfd p = { .fd = transport_fd(c->t),
					    .events = POLLOUT };
			ret = poll(&p, 1, c->timeout_ms) == 0 ? -ETIMEDOUT : 0;
			continue;
		}
		if (n < 0)
			return client_broken(c);
		/* The fds went with the first byte. */
		nfds = 0;
		iov.iov_base = (uint8_t *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
	}
	return ret;
}

int vus_client_recv(vus_client *c, struct vus_client_reply *reply,
			       int timeout_ms)
{
	uint64_t deadline = client_deadline_in(timeout_ms);

	if (reply != NULL)
		memset(reply, 0, sizeof(*reply));
	if (c == NULL || reply == NULL)
		return -EINVAL;
	for (;;) {
		struct msg m;
		int ret = client_recv_one(c, &m);

		if (ret == 0 && m.reject) {
			/* Refused by the transport (too large, too many
			 * fds): the stream is intact, the message unusable. */
			ret = m.reject;
			msg_release(&m);
			return ret;
		}
		if (ret == 0)
			return reply_fill(reply, &m);
		if (ret != -EAGAIN)
			return ret;
		ret = client_poll(c, -1, deadline);
		if (ret < 0)
			return ret;
	}
}

uint16_t vus_client_next_id(const vus_client *c)
{
	return c != NULL ? c->next_id : 0;
}
