/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_chan: the hand-over channel's messages. They use the vfio-user
 * framing of the socket transport (16-byte header, payload, fds with the
 * first byte), with numbers of their own in the command field: the
 * transport already reads and writes without blocking, bounds sizes and
 * fds, and closes fds that come where they should not. The new process
 * waits on the channel with poll() and a deadline (it serves nothing
 * yet); the old process only ever uses it from its loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "ho.h"

void (*ho_fault_hook)(const char *step);

int ho_chan_open(int fd, struct transport **out)
{
	const struct transport_limits lim = { .max_msg_size = HO_MAX_MSG,
					      .max_fds = HO_MAX_FDS_PER_MSG };

	return transport_sock_create(fd, &lim, out);
}

int ho_send(struct transport *t, enum ho_msg kind, const void *p, size_t len,
	    const int *fds, unsigned int nfds)
{
	struct wire_hdr h = { .cmd = (uint16_t)kind,
			      .msg_size = (uint32_t)(WIRE_HDR_SIZE + len),
			      .flags = WIRE_F_TYPE_CMD };
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };

	if (len > HO_MAX_MSG - WIRE_HDR_SIZE)
		return -EMSGSIZE;
	return transport_send(t, &h, &iov, len ? 1 : 0, fds, nfds);
}

int ho_send_abort(struct transport *t, int err, const char *why)
{
	struct wire_hdr h = { .cmd = HO_MSG_ABORT, .flags = WIRE_F_TYPE_CMD,
			      .error = (uint32_t)(err < 0 ? -err : err) };
	size_t len = strnlen(why, HO_WHY_MAX - 1);
	struct iovec iov = { .iov_base = (void *)why, .iov_len = len };

	h.msg_size = (uint32_t)(WIRE_HDR_SIZE + len);
	return transport_send(t, &h, &iov, len ? 1 : 0, NULL, 0);
}

void ho_abort_why(const struct msg *m, char *buf, size_t len)
{
	size_t n = MIN(m->len, len - 1);

	if (m->payload != NULL)
		memcpy(buf, m->payload, n);
	else
		n = 0;
	buf[n] = '\0';
	/* The peer's text: keep it printable. */
	for (size_t i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '?';
}

static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd pf = { .fd = fd, .events = events };
	uint64_t now = now_ms(), left = deadline_ms > now ? deadline_ms - now : 0;
	int n;

	if (left == 0)
		return -ETIMEDOUT;
	n = poll(&pf, 1, left > 1000 ? 1000 : (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;
}

int ho_flush_wait(struct transport *t, uint64_t deadline_ms)
{
	for (;;) {
		int ret = transport_flush(t);

		if (ret != -EAGAIN)
			return ret;
		ret = wait_fd(transport_fd(t), POLLOUT, deadline_ms);
		if (ret < 0)
			return ret;
	}
}

int ho_recv_wait(struct transport *t, struct msg *m, uint64_t deadline_ms)
{
	for (;;) {
		short events = POLLIN;
		int ret = transport_flush(t);

		if (ret < 0 && ret != -EAGAIN)
			return ret;
		if (ret == -EAGAIN)
			events |= POLLOUT;
		ret = transport_recv(t, m);
		if (ret == 0)
			return 0;
		if (ret == -EPIPE)
			return -ECONNRESET;
		if (ret != -EAGAIN)
			return ret;
		ret = wait_fd(transport_fd(t), events, deadline_ms);
		if (ret < 0)
			return ret;
	}
}
