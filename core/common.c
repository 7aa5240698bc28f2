/* SPDX-License-Identifier: BSD-3-Clause */
/* common: clock, fd, socket, memfd and struct-copy helpers (see common.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sealed_memfd(const char *name, uint64_t size, int *fd)
{
	int ret;

	*fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0)
		return -errno;
	if (size > INT64_MAX || ftruncate(*fd, (off_t)size) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = size > INT64_MAX ? -EFBIG : -errno;
		close_fd(fd);
		return ret;
	}
	return 0;
}

void close_fd(int *fd)
{
	if (*fd >= 0) {
		/* close() releases the fd even when it reports EINTR on Linux. */
		(void)close(*fd);
		*fd = -1;
	}
}

void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close_fd(&fds[i]);
}

int sized_out_check(const void *dst, size_t full)
{
	size_t n;

	if (dst == NULL)
		return -EINVAL;
	memcpy(&n, dst, sizeof(n));
	return n < sizeof(size_t) || n > full ? -EINVAL : 0;
}

void copy_sized_out(void *dst, const void *src, size_t full)
{
	size_t n;

	memcpy(&n, dst, sizeof(n));
	memcpy((uint8_t *)dst + sizeof(n), (const uint8_t *)src + sizeof(n),
	       MIN(n, full) - sizeof(n));
}

int write_all(int fd, const void *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p = (const char *)p + n;
		len -= (size_t)n;
	}
	return 0;
}

int copy_sized(void *dst, size_t dst_size, const void *src)
{
	size_t n;

	if (src == NULL)
		return -EINVAL;
	memcpy(&n, src, sizeof(n));
	if (n < sizeof(size_t) || n > dst_size)
		return -EINVAL;
	memset(dst, 0, dst_size);
	memcpy(dst, src, n);
	return 0;
}

long sendmsg_fds(int fd, const struct iovec *iov, int iovcnt, const int *fds,
		 unsigned int nfds, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SCM_FDS_MAX)];
	} cbuf;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	if (nfds > SCM_FDS_MAX)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(cbuf.buf, 0, sizeof(cbuf.buf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

int unix_stream_check(int fd, bool listening)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	if (v != AF_UNIX)
		return -EINVAL;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 ||
	    v != SOCK_STREAM)
		return -EINVAL;
	len = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 ||
	    (v != 0) != listening)
		return -EINVAL;
	return 0;
}

bool token_name_ok(const char *name, size_t max)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

int unix_connect(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do {
		ret = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		close_fd(&fd);
		return ret;
	}
	*out = fd;
	return 0;
}
