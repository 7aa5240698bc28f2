/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend: TAP and AF_UNIX datagram frame backends (see backend.h); the
 * shared-memory link is backend_shm.c's, reached from here.
 *
 * The datagram socket is connect()ed to its peer whenever the peer exists:
 * only a connected AF_UNIX datagram socket reports EPOLLOUT according to
 * the peer's receive queue, which gives the transmit path real
 * backpressure. If the peer is missing (or went away and came back), the
 * next send reconnects; frames sent while there is no peer are dropped,
 * as on a cable nobody listens to. Frames go out in batches with
 * sendmmsg() on the connected socket, never with an address of their
 * own; confined, where the sandbox cannot see inside sendmmsg's messages
 * to keep the socket to its peer, one writev() each (backend_sandbox).
 * Frames come in with recvmmsg().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "backend_shm.h"
#include "sample_sock.h"

#ifndef SYS_mseal
#define SYS_mseal 462 /* Linux 6.10; the same number on x86_64 and aarch64 */
#endif

enum kind { KIND_TAP, KIND_DGRAM, KIND_SHM };

/*
 * Where the datagram socket may connect: its peer, and AF_UNSPEC to drop
 * a peer that went away. The sandbox pins connect() to these pointers,
 * and seccomp cannot read what a pointer points to: so they live in a
 * page of their own, read-only once written, and sealed (mseal, Linux
 * 6.10) where the kernel can, so that not even mprotect() makes them
 * writable again.
 */
struct peer_addrs {
	struct sockaddr_un peer;
	struct sockaddr unspec;
};

struct backend {
	enum kind kind;
	int fd;
	bool vnet_hdr;
	/* dgram */
	const struct peer_addrs *addrs;
	size_t addrs_len;
	bool connected;
	bool no_mmsg;  /* confined: sendmmsg is refused, writev is not */
	char *bound_path;
	struct shm_link *shm;
};

int backend_open_tap(const char *name, bool vnet_hdr, bool multi_queue,
		     struct backend **out)
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
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0) |
			(multi_queue ? IFF_MULTI_QUEUE : 0);
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

/* The peer addresses in a read-only (and, if the kernel can, sealed) page. */
static int addrs_create(struct backend *b, const char *peer_path)
{
	size_t len = (size_t)sysconf(_SC_PAGESIZE);
	struct peer_addrs *a = mmap(NULL, len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (a == MAP_FAILED)
		return -errno;
	ret = sample_unix_addr(peer_path, &a->peer);
	a->unspec.sa_family = AF_UNSPEC;
	if (ret == 0 && mprotect(a, len, PROT_READ) < 0)
		ret = -errno;
	if (ret < 0) {
		munmap(a, len);
		return ret;
	}
	/* Older kernels: ENOSYS, and the page is only read-only. */
	(void)syscall(SYS_mseal, a, len, 0);
	b->addrs = a;
	b->addrs_len = len;
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
	ret = b->fd < 0 ? -errno : addrs_create(b, peer_path);
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

int backend_open_shm(const char *path, bool listen, struct backend **out)
{
	struct backend *b = calloc(1, sizeof(*b));
	int ret;

	if (b == NULL)
		return -ENOMEM;
	*b = (struct backend){ .kind = KIND_SHM, .fd = -1 };
	ret = shm_link_open(path, listen, &b->shm);
	if (ret < 0) {
		free(b);
		return ret;
	}
	b->fd = shm_link_fd(b->shm);
	*out = b;
	return 0;
}

int backend_prepare(bool tap, bool vnet_hdr, const char *bind_path,
		    const char *peer_path, struct backend **out)
{
	struct backend *b = calloc(1, sizeof(*b));
	int ret = 0;

	if (b == NULL)
		return -ENOMEM;
	*b = (struct backend){ .kind = tap ? KIND_TAP : KIND_DGRAM, .fd = -1,
			       .vnet_hdr = tap && vnet_hdr };
	if (!tap)
		ret = addrs_create(b, peer_path);
	if (ret == 0 && !tap && bind_path != NULL) {
		b->bound_path = strdup(bind_path);
		ret = b->bound_path ? 0 : -ENOMEM;
	}
	if (ret < 0) {
		backend_close(b);
		return ret;
	}
	*out = b;
	return 0;
}

int backend_adopt(struct backend *b, int fd)
{
	struct stat st;
	int type = 0;
	socklen_t len = sizeof(type);
	bool ok = fstat(fd, &st) == 0;

	if (ok && b->kind == KIND_TAP)
		ok = S_ISCHR(st.st_mode);
	else if (ok)
		ok = S_ISSOCK(st.st_mode) &&
		     getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		     type == SOCK_DGRAM;
	if (!ok || b->fd >= 0) {
		close(fd);
		return -EINVAL;
	}
	b->fd = fd;
	return 0;
}

void backend_keep_path(struct backend *b)
{
	free(b->bound_path);
	b->bound_path = NULL;
}

void backend_close(struct backend *b)
{
	if (b == NULL)
		return;
	if (b->shm != NULL)
		shm_link_close(b->shm); /* b->fd is its epoll set */
	else if (b->fd >= 0)
		close(b->fd);
	if (b->bound_path != NULL) {
		unlink(b->bound_path);
		free(b->bound_path);
	}
	/* A sealed page stays until the process ends (munmap says EPERM). */
	if (b->addrs != NULL)
		(void)munmap((void *)b->addrs, b->addrs_len);
	free(b);
}

int backend_fd(const struct backend *b)
{
	return b->fd;
}

bool backend_is_tap(const struct backend *b)
{
	return b->kind == KIND_TAP;
}

bool backend_is_shm(const struct backend *b)
{
	return b->kind == KIND_SHM;
}

bool backend_carrier(const struct backend *b)
{
	return b->kind != KIND_SHM || shm_link_up(b->shm);
}

uint32_t backend_poll_events(const struct backend *b, uint32_t want)
{
	/* The link's epoll set reads EPOLLIN for everything, and its peer's
	 * arrival must be seen even while no frames are wanted. */
	return b->kind == KIND_SHM ? EPOLLIN : want;
}

uint32_t backend_ready(struct backend *b, uint32_t events)
{
	return b->kind == KIND_SHM ? shm_link_ready(b->shm) : events;
}

void backend_arm(struct backend *b, uint32_t want)
{
	if (b->kind == KIND_SHM)
		shm_link_arm(b->shm, want);
}

int backend_take_error(struct backend *b)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (b->kind == KIND_SHM)
		return 0; /* its epoll set reports no errors */
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

int backend_tap_queue(struct backend *b, bool attach)
{
	struct ifreq ifr = { .ifr_flags = attach ? IFF_ATTACH_QUEUE
						 : IFF_DETACH_QUEUE };

	if (b->kind != KIND_TAP)
		return -EOPNOTSUPP;
	if (ioctl(b->fd, TUNSETQUEUE, &ifr) < 0)
		return -errno;
	return 0;
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
	if (connect(b->fd, (const struct sockaddr *)&b->addrs->peer,
		    sizeof(b->addrs->peer)) < 0)
		return -errno;
	b->connected = true;
	return 0;
}

static int dgram_send(struct backend *b, const struct iovec *iov, int iovcnt)
{
	int ret;

	if (!b->connected) {
		ret = dgram_connect(b);
		if (ret < 0)
			return peer_gone(-ret) ? -ENOTCONN : ret;
	}
	/* A datagram socket raises no SIGPIPE: writev needs no MSG_NOSIGNAL. */
	if (writev(b->fd, iov, iovcnt) >= 0)
		return 0;
	ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (peer_gone(-ret)) {
		/* The peer went away; it may be back (at a new inode) later. */
		(void)connect(b->fd, &b->addrs->unspec, sizeof(b->addrs->unspec));
		b->connected = false;
	}
	return ret;
}

/* One frame with writev: 0 sent, -EAGAIN (full), another -errno (dropped). */
static int send_one(struct backend *b, const struct iovec *iov, int iovcnt)
{
	if (b->kind == KIND_DGRAM)
		return dgram_send(b, iov, iovcnt);
	if (writev(b->fd, iov, iovcnt) < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/* Frames one writev at a time: a TAP, or a link that may not sendmmsg. */
static unsigned int send_each(struct backend *b, struct mmsghdr *msgs,
			      unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		int ret = send_one(b, msgs[i].msg_hdr.msg_iov,
				   (int)msgs[i].msg_hdr.msg_iovlen);

		if (ret == -EAGAIN)
			return i;
		msgs[i].msg_len = ret == 0;
	}
	return n;
}

/*
 * The datagram link: sendmmsg() on the connected socket. The kernel stops
 * at the first frame it cannot take and sends the ones before it; asked
 * again, it says why that frame failed: dropped, unless the peer's queue
 * is full (EAGAIN: the rest waits).
 */
static unsigned int dgram_send_batch(struct backend *b, struct mmsghdr *msgs,
				     unsigned int n)
{
	unsigned int i = 0;

	while (i < n && !b->no_mmsg) {
		int ret = 0, sent;

		if (!b->connected)
			ret = dgram_connect(b);
		sent = ret < 0 ? -1 : sendmmsg(b->fd, msgs + i, n - i, 0);
		if (sent > 0) {
			i += (unsigned int)sent;
			continue;
		}
		ret = ret < 0 ? ret : errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (ret == -EAGAIN)
			return i;
		/* Confined (backend_sandbox): one writev per frame from now. */
		if (ret == -EPERM && b->connected) {
			b->no_mmsg = true;
			break;
		}
		if (peer_gone(-ret) && b->connected) {
			/* Gone; it may be back (at a new inode) later. */
			(void)connect(b->fd, &b->addrs->unspec,
				      sizeof(b->addrs->unspec));
			b->connected = false;
		}
		msgs[i++].msg_len = 0; /* dropped */
	}
	return i + send_each(b, msgs + i, n - i);
}

unsigned int backend_send_batch(struct backend *b, struct mmsghdr *msgs,
				unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		msgs[i].msg_len = 0;
	if (b->kind == KIND_SHM)
		return shm_link_send(b->shm, msgs, n);
	if (b->kind == KIND_DGRAM)
		return dgram_send_batch(b, msgs, n);
	return send_each(b, msgs, n);
}

int backend_recv_batch(struct backend *b, struct mmsghdr *msgs, unsigned int n)
{
	int got;

	if (b->kind == KIND_SHM)
		return shm_link_recv(b->shm, msgs, n);
	if (b->kind == KIND_DGRAM) {
		/* MSG_TRUNC: each datagram's real length, to notice oversized
		 * ones. */
		got = recvmmsg(b->fd, msgs, n, MSG_TRUNC | MSG_DONTWAIT, NULL);
		if (got < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		/* Frames came, so the peer is likely there: two ends connected
		 * to each other are spared the kernel's limit of
		 * net.unix.max_dgram_qlen (10) datagrams queued, which would
		 * cut a one-way stream into batches of ten. */
		if (!b->connected)
			(void)dgram_connect(b);
		return got;
	}
	for (got = 0; (unsigned int)got < n; got++) {
		ssize_t len = readv(b->fd, msgs[got].msg_hdr.msg_iov,
				    (int)msgs[got].msg_hdr.msg_iovlen);

		if (len < 0 && got == 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (len < 0)
			break; /* what went wrong shows on the next call */
		msgs[got].msg_len = (unsigned int)len;
	}
	return got;
}

/* The rules of backend_sandbox() for the datagram socket on fd @fd. */
static int dgram_sandbox(const struct backend *b, vus_sandbox *sb)
{
	const struct vus_sandbox_arg on_fd = VUS_SANDBOX_ARG_INT(0, b->fd);
	const struct vus_sandbox_arg to_peer[] = { on_fd,
		VUS_SANDBOX_ARG_U64(1, &b->addrs->peer),
		VUS_SANDBOX_ARG_INT(2, sizeof(b->addrs->peer)) };
	const struct vus_sandbox_arg to_none[] = { on_fd,
		VUS_SANDBOX_ARG_U64(1, &b->addrs->unspec),
		VUS_SANDBOX_ARG_INT(2, sizeof(b->addrs->unspec)) };
	const struct vus_sandbox_arg so_error[] = { on_fd,
		VUS_SANDBOX_ARG_INT(1, SOL_SOCKET), VUS_SANDBOX_ARG_INT(2, SO_ERROR) };
	int ret = vus_sandbox_allow_args(sb, SYS_connect, to_peer, 3);

	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_connect, to_none, 3);
	/* After EPOLLERR: the error a vanished peer left (backend_take_error). */
	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_getsockopt, so_error, 3);
	/* recv() is recvfrom(); receiving reaches nobody. */
	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_recvfrom, &on_fd, 1);
	ret = ret ? ret : vus_sandbox_allow_args(sb, SYS_recvmmsg, &on_fd, 1);
	/* libvus allows sendmsg (its own socket): not here, where msg_name
	 * could name any socket; nor sendmmsg, for the same reason (the
	 * link falls back to writev on EPERM). sendto is not allowed at all. */
	ret = ret ? ret : vus_sandbox_deny_args(sb, SYS_sendmmsg, &on_fd, 1, EPERM);
	return ret ? ret : vus_sandbox_deny_args(sb, SYS_sendmsg, &on_fd, 1, EPERM);
}

int backend_sandbox(const struct backend *b, vus_sandbox *sb)
{
	const struct vus_sandbox_arg offload[] = { VUS_SANDBOX_ARG_INT(0, b->fd),
		VUS_SANDBOX_ARG_INT(1, TUNSETOFFLOAD) };
	const struct vus_sandbox_arg queue[] = { VUS_SANDBOX_ARG_INT(0, b->fd),
		VUS_SANDBOX_ARG_INT(1, TUNSETQUEUE) };
	int ret;

	if (b->kind == KIND_SHM)
		return shm_link_sandbox(b->shm, sb);
	if (b->kind == KIND_DGRAM)
		return dgram_sandbox(b, sb);
	/* The TAP: frames with read/readv/writev; the guest's offloads;
	 * a queue of a multi-queue TAP attached or detached. */
	ret = vus_sandbox_allow_args(sb, SYS_ioctl, offload, 2);
	return ret ? ret : vus_sandbox_allow_args(sb, SYS_ioctl, queue, 2);
}
