/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend: TAP and AF_UNIX datagram frame backends (see backend.h).
 *
 * The datagram socket is connect()ed to its peer whenever the peer exists:
 * only a connected AF_UNIX datagram socket reports EPOLLOUT according to
 * the peer's receive queue, which gives the transmit path real
 * backpressure. If the peer is missing (or went away and came back), the
 * next send reconnects; frames sent while there is no peer are dropped,
 * as on a cable nobody listens to.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "sample_sock.h"

enum kind { KIND_TAP, KIND_DGRAM };

struct backend {
	enum kind kind;
	int fd;
	bool vnet_hdr;
	/* dgram */
	struct sockaddr_un peer;
	bool connected;
	char *bound_path;
};

int backend_open_tap(const char *name, bool vnet_hdr, struct backend **out)
{
	struct ifreq ifr = { 0 };
	int hdr_len = BACKEND_VNET_HDR_LEN;
	struct backend *b;
	int fd, ret = 0;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		ret = -errno;
	/* The virtio 1.x header, num_buffers included. */
	if (ret == 0 && vnet_hdr && ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
		ret = -errno;
	/* No offloads towards us until the guest accepts them. */
	if (ret == 0 && vnet_hdr && ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		ret = -errno;
	b = ret == 0 ? calloc(1, sizeof(*b)) : NULL;
	if (b == NULL) {
		close(fd);
		return ret < 0 ? ret : -ENOMEM;
	}
	b->kind = KIND_TAP;
	b->fd = fd;
	b->vnet_hdr = vnet_hdr;
	*out = b;
	return 0;
}

/* Bind @fd at @path, replacing a datagram socket file nobody is bound to. */
static int bind_path(int fd, const char *path)
{
	struct sockaddr_un sa;
	int ret = sample_unix_addr(path, &sa);

	ret = ret ? ret : sample_clear_stale(&sa, SOCK_DGRAM);
	if (ret < 0)
		return ret;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

int backend_open_dgram(const char *bind_at, const char *peer_path,
		       struct backend **out)
{
	struct backend *b = calloc(1, sizeof(*b));
	int ret;

	if (b == NULL)
		return -ENOMEM;
	b->kind = KIND_DGRAM;
	b->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ret = b->fd < 0 ? -errno : sample_unix_addr(peer_path, &b->peer);
	if (ret == 0 && bind_at != NULL) {
		ret = bind_path(b->fd, bind_at);
		if (ret == 0) {
			b->bound_path = strdup(bind_at);
			ret = b->bound_path ? 0 : -ENOMEM;
		}
	}
	if (ret < 0) {
		backend_close(b);
		return ret;
	}
	*out = b;
	return 0;
}

void backend_close(struct backend *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	if (b->bound_path != NULL) {
		unlink(b->bound_path);
		free(b->bound_path);
	}
	free(b);
}

int backend_fd(const struct backend *b)
{
	return b->fd;
}

int backend_take_error(struct backend *b)
{
	socklen_t len = sizeof(int);
	int err = 0;

	/* A detached TAP queue reports EPOLLERR for as long as it lives. */
	if (b->kind == KIND_TAP)
		return -EIO;
	if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return 0;
}

size_t backend_hdr_len(const struct backend *b)
{
	return b->vnet_hdr ? BACKEND_VNET_HDR_LEN : 0;
}

int backend_set_offloads(struct backend *b, unsigned int offloads)
{
	if (!b->vnet_hdr)
		return -EOPNOTSUPP;
	if (ioctl(b->fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0)
		return -errno;
	return 0;
}

/* Errors that mean "nobody at the peer address (any more)". */
static bool peer_gone(int err)
{
	return err == ECONNREFUSED || err == ENOENT || err == ENOTCONN ||
	       err == EDESTADDRREQ || err == ECONNRESET;
}

static int dgram_connect(struct backend *b)
{
	if (connect(b->fd, (struct sockaddr *)&b->peer, sizeof(b->peer)) < 0)
		return -errno;
	b->connected = true;
	return 0;
}

static int dgram_send(struct backend *b, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	int ret;

	if (!b->connected) {
		ret = dgram_connect(b);
		if (ret < 0)
			return peer_gone(-ret) ? -ENOTCONN : ret;
	}
	if (sendmsg(b->fd, &mh, MSG_NOSIGNAL) >= 0)
		return 0;
	ret = -errno;
	if (peer_gone(-ret)) {
		/* The peer went away; it may be back (at a new inode) later. */
		struct sockaddr sa = { .sa_family = AF_UNSPEC };

		(void)connect(b->fd, &sa, sizeof(sa));
		b->connected = false;
	}
	return ret;
}

int backend_send(struct backend *b, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	if (b->kind == KIND_DGRAM)
		return dgram_send(b, iov, iovcnt);
	n = writev(b->fd, iov, iovcnt);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

ssize_t backend_recv(struct backend *b, void *buf, size_t len)
{
	ssize_t n;

	if (b->kind == KIND_TAP) {
		n = read(b->fd, buf, len);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return n;
	}
	/* MSG_TRUNC: the datagram's real length, to notice oversized ones. */
	n = recv(b->fd, buf, len, MSG_TRUNC);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n > len ? -EMSGSIZE : n;
}
