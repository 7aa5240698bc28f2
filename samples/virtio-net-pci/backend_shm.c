/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend_shm: the shared-memory link (see backend_shm.h): rendezvous,
 * the peer's arrival and departure, doorbells, and frames through the
 * rings of shm_ring.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend_shm.h"
#include "sample_sock.h"
#include "shm_ring.h"

/* What the listener sends, with the memfd. */
struct shm_hello {
	uint32_t magic, version, slots, slot_size;
	uint64_t map_size;
};

struct shm_link {
	bool listener;
	bool up;          /* a peer is there and the rings are ours */
	bool broken;      /* the peer broke the ring: say -EPROTO once */
	int epfd;
	int listen_fd;    /* listener */
	int conn_fd;      /* the peer's connection, or -1 */
	int timer_fd;     /* connector: retry */
	int self_efd;     /* ours alone: wakes our epoll set (shm_link_arm) */
	int memfd;        /* listener: the map's, sent to every peer */
	uint8_t *map;
	const struct sockaddr_un *addr; /* connector: read-only page */
	size_t page;
	char *path;       /* listener: removed at close */
	struct shm_ring tx, rx;
	long long log_window;
	int log_count;
};

static void link_log(struct shm_link *l, const char *what)
{
	struct timespec ts;

	/* A peer that comes and goes in a loop gets a few lines a second. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != l->log_window) {
		l->log_window = ts.tv_sec;
		l->log_count = 0;
	}
	if (l->log_count++ < 5) {
		fprintf(stderr, "vus-virtio-net-pci: shm link: %s\n", what);
	}
}

/*
 * Kick the peer: one byte on the connection. Not an eventfd: a peer
 * holding an eventfd we write can set its counter to the maximum and
 * clear O_NONBLOCK on the file they share, and our next write would
 * block for ever; MSG_DONTWAIT is ours alone. Full means a kick waits.
 */
static void kick_peer(struct shm_link *l)
{
	char c = 0;
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	(void)sendmsg(l->conn_fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int watch(struct shm_link *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void close_fd(struct shm_link *l, int *fd)
{
	if (*fd < 0)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

static void retry_timer(struct shm_link *l, bool on)
{
	struct itimerspec it = { 0 };

	if (on) {
		it.it_value.tv_nsec = SHM_RETRY_MS * 1000000l;
		it.it_interval = it.it_value;
	}
	(void)timerfd_settime(l->timer_fd, 0, &it, NULL);
}

/* The peer is gone (or was sent away): drop the rings' frames. */
static void link_down(struct shm_link *l, const char *why)
{
	if (l->conn_fd >= 0 || l->up)
		link_log(l, why);
	close_fd(l, &l->conn_fd);
	l->up = false;
	if (!l->listener) {
		if (l->map != NULL)
			munmap(l->map, SHM_MAP_SIZE);
		l->map = NULL;
		retry_timer(l, true);
	}
}

static void rings_attach(struct shm_link *l)
{
	shm_ring_attach(&l->tx, l->map, l->listener ? SHM_RING_L2C : SHM_RING_C2L,
			true);
	shm_ring_attach(&l->rx, l->map, l->listener ? SHM_RING_C2L : SHM_RING_L2C,
			false);
}

/* Listener: a peer knocks. One at a time; the rings start empty. */
static void on_accept(struct shm_link *l)
{
	const struct shm_hello h = { SHM_MAGIC, SHM_VERSION, SHM_SLOTS,
				     SHM_SLOT_SIZE, SHM_MAP_SIZE };
	union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct iovec iov = { (void *)&h, sizeof(h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (l->conn_fd >= 0) {
		link_log(l, "a second peer refused (one at a time)");
		close(fd);
		return;
	}
	shm_ring_format(l->map);
	rings_attach(l);
	memset(u.b, 0, sizeof(u.b));
	u.c.cmsg_level = SOL_SOCKET;
	u.c.cmsg_type = SCM_RIGHTS;
	u.c.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&u.c), &l->memfd, sizeof(int));
	if (sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(h) ||
	    watch(l, fd, EPOLLIN) < 0) {
		link_log(l, "rendezvous failed");
		close(fd);
		return;
	}
	l->conn_fd = fd;
	l->up = true;
	link_log(l, "peer connected");
}

/* Connector: check the listener's memfd; map it. */
static int take_rings(struct shm_link *l, const struct shm_hello *h, int fd)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (h->magic != SHM_MAGIC || h->version != SHM_VERSION ||
	    h->slots != SHM_SLOTS || h->slot_size != SHM_SLOT_SIZE ||
	    h->map_size != SHM_MAP_SIZE)
		return -EPROTO;
	/* Unsealed, it could shrink under our map: SIGBUS on access. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != (off_t)SHM_MAP_SIZE || seals < 0 ||
	    !(seals & F_SEAL_SHRINK))
		return -EBADF;
	l->map = mmap(NULL, SHM_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fd, 0);
	if (l->map == MAP_FAILED) {
		l->map = NULL;
		return -errno;
	}
	return 0;
}

/* Take the fds of @m's SCM_RIGHTS: the first into *@fd, the rest closed.
 * How many came. */
static int take_fds(struct msghdr *m, int *fd)
{
	int nfds = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (nfds++ == 0)
				*fd = f;
			else
				close(f);
		}
	}
	return nfds;
}

/* Connector: the listener's hello, with exactly one fd. */
static void on_hello(struct shm_link *l)
{
	union { struct cmsghdr c; char b[CMSG_SPACE(2 * sizeof(int))]; } u;
	struct shm_hello h;
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	int fd = -1, nfds, ret;
	ssize_t n = recvmsg(l->conn_fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	nfds = n > 0 ? take_fds(&m, &fd) : 0;
	ret = n != sizeof(h) || nfds != 1 || (m.msg_flags & MSG_CTRUNC)
		? -EPROTO : take_rings(l, &h, fd);
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		link_down(l, n == 0 ? "closed before the rendezvous"
				    : "bad rendezvous message or memfd");
		return;
	}
	rings_attach(l);
	l->up = true;
	link_log(l, "connected to the listener");
}

/* Connector: knock (again). */
static void try_connect(struct shm_link *l)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)l->addr, sizeof(*l->addr)) < 0 ||
	    watch(l, fd, EPOLLIN) < 0) {
		close(fd);
		retry_timer(l, true);
		return;
	}
	l->conn_fd = fd;
	retry_timer(l, false);
}

/* The connection: the hello, kicks (bytes), or the peer leaving. */
static void on_conn(struct shm_link *l, uint32_t events)
{
	char buf[256];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (!l->listener && !l->up) {
		on_hello(l);
		return;
	}
	/* Fds sent with kicks are closed by the kernel (no control room). */
	n = recvmsg(l->conn_fd, &m, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		link_down(l, "hung up");
	else if (n < 0 && (events & (EPOLLHUP | EPOLLERR)))
		link_down(l, "connection error");
}

uint32_t shm_link_ready(struct shm_link *l)
{
	struct epoll_event evs[4];
	uint32_t ready = 0;
	uint64_t v;
	int n = epoll_wait(l->epfd, evs, 4, 0);

	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;

		if (fd == l->listen_fd)
			on_accept(l);
		else if (fd == l->conn_fd)
			on_conn(l, evs[i].events);
		else if (fd == l->timer_fd && read(fd, &v, sizeof(v)) > 0 &&
			 l->conn_fd < 0)
			try_connect(l);
		else if (fd == l->self_efd)
			(void)!read(fd, &v, sizeof(v));
	}
	/* Frames or room the peer's index promises, past what can be. */
	if (l->up && (shm_ring_broken(&l->rx) || shm_ring_broken(&l->tx))) {
		link_down(l, "impossible ring index");
		l->broken = true;
	}
	if (l->broken)
		return EPOLLIN | EPOLLOUT; /* recv says -EPROTO */
	if (!l->up)
		return EPOLLOUT; /* sends are dropped at once */
	if (shm_ring_ready(&l->rx) != 0)
		ready |= EPOLLIN;
	if (shm_ring_room(&l->tx) != 0)
		ready |= EPOLLOUT;
	return ready;
}

void shm_link_arm(struct shm_link *l, uint32_t want)
{
	bool now = false;

	if (!l->up)
		return;
	if (want & EPOLLIN)
		now |= shm_ring_sleep(&l->rx);
	if (want & EPOLLOUT)
		now |= shm_ring_wait_room(&l->tx);
	if (now)
		(void)!write(l->self_efd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

unsigned int shm_link_send(struct shm_link *l, struct mmsghdr *msgs,
			   unsigned int n)
{
	unsigned int i;
	int r = 0;

	for (i = 0; i < n && l->up; i++) {
		const struct msghdr *h = &msgs[i].msg_hdr;
		size_t len = 0;

		for (size_t k = 0; k < h->msg_iovlen; k++)
			len += h->msg_iov[k].iov_len;
		r = shm_ring_put(&l->tx, h->msg_iov, (int)h->msg_iovlen, len);
		if (r == 0 && shm_ring_wait_room(&l->tx))
			r = shm_ring_put(&l->tx, h->msg_iov, (int)h->msg_iovlen, len);
		if (r == 0 || r == -EPROTO)
			break;
		msgs[i].msg_len = r == 1 ? (unsigned int)len : 0;
	}
	if (r == -EPROTO)
		link_down(l, "impossible consumer index");
	else if (l->up && shm_ring_publish(&l->tx))
		kick_peer(l);
	if (!l->up)
		return n; /* the rest dropped (msg_len 0) */
	return i;
}

int shm_link_recv(struct shm_link *l, struct mmsghdr *msgs, unsigned int n)
{
	int got = 0;

	if (l->broken) {
		l->broken = false;
		return -EPROTO;
	}
	while (l->up && (unsigned int)got < n) {
		const struct iovec *iov = msgs[got].msg_hdr.msg_iov;
		long len = shm_ring_get(&l->rx, iov->iov_base, iov->iov_len);

		if (len == -EAGAIN && got == 0 && shm_ring_sleep(&l->rx))
			continue;
		if (len < 0) {
			if (len == -EPROTO) {
				link_down(l, "impossible producer index");
				l->broken = got > 0; /* said on the next call */
				return got > 0 ? got : -EPROTO;
			}
			break;
		}
		if (len > SHM_FRAME_MAX)
			link_log(l, "a frame length past its slot: dropped");
		msgs[got++].msg_len = (unsigned int)len;
	}
	if (got > 0 && shm_ring_release(&l->rx))
		kick_peer(l);
	return got > 0 ? got : -EAGAIN;
}

/* Connector: the listener's address in a read-only page (the sandbox pins
 * connect() to this pointer; see backend.c's peer_addrs). */
static int pin_addr(struct shm_link *l, const char *path)
{
	struct sockaddr_un *a;
	int ret;

	l->page = (size_t)sysconf(_SC_PAGESIZE);
	a = mmap(NULL, l->page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return -errno;
	ret = sample_unix_addr(path, a);
	if (ret == 0 && mprotect(a, l->page, PROT_READ) < 0)
		ret = -errno;
	if (ret < 0) {
		munmap(a, l->page);
		return ret;
	}
	l->addr = a;
	return 0;
}

/* Listener: the sealed map, both doorbells, the listening socket. */
static int open_listener(struct shm_link *l, const char *path)
{
	struct sockaddr_un sa;
	int ret = sample_unix_addr(path, &sa);

	l->memfd = memfd_create("vnet-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (l->memfd < 0 || ftruncate(l->memfd, SHM_MAP_SIZE) < 0 ||
	    fcntl(l->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_SEAL) < 0)
		return -errno;
	l->map = mmap(NULL, SHM_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      l->memfd, 0);
	if (l->map == MAP_FAILED) {
		l->map = NULL;
		return -errno;
	}
	l->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->listen_fd < 0)
		return -errno;
	ret = ret ? ret : sample_clear_stale(&sa, SOCK_STREAM);
	if (ret == 0 && bind(l->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	if (ret < 0)
		return ret;
	l->path = strdup(path);
	if (l->path == NULL)
		return -ENOMEM;
	if (listen(l->listen_fd, 4) < 0)
		return -errno;
	return watch(l, l->listen_fd, EPOLLIN);
}

int shm_link_open(const char *path, bool listen, struct shm_link **out)
{
	struct shm_link *l = calloc(1, sizeof(*l));
	int ret;

	if (l == NULL)
		return -ENOMEM;
	*l = (struct shm_link){ .listener = listen, .listen_fd = -1,
				.conn_fd = -1, .timer_fd = -1, .self_efd = -1,
				.memfd = -1 };
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->self_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = l->epfd < 0 || l->self_efd < 0 ? -errno : 0;
	ret = ret ? ret : watch(l, l->self_efd, EPOLLIN);
	if (ret == 0 && listen) {
		ret = open_listener(l, path);
	} else if (ret == 0) {
		ret = pin_addr(l, path);
		l->timer_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (ret == 0 && l->timer_fd < 0)
			ret = -errno;
		ret = ret ? ret : watch(l, l->timer_fd, EPOLLIN);
		if (ret == 0)
			try_connect(l);
	}
	if (ret < 0) {
		shm_link_close(l);
		return ret;
	}
	*out = l;
	return 0;
}

void shm_link_close(struct shm_link *l)
{
	int *fds[] = { &l->listen_fd, &l->conn_fd, &l->timer_fd, &l->self_efd,
		       &l->memfd, &l->epfd };

	if (l == NULL)
		return;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	if (l->map != NULL)
		munmap(l->map, SHM_MAP_SIZE);
	if (l->addr != NULL)
		munmap((void *)l->addr, l->page);
	if (l->path != NULL) {
		unlink(l->path);
		free(l->path);
	}
	free(l);
}

int shm_link_fd(const struct shm_link *l)
{
	return l->epfd;
}

bool shm_link_up(const struct shm_link *l)
{
	return l->up;
}

int shm_link_sandbox(const struct shm_link *l, vus_sandbox *sb)
{
	const struct vus_sandbox_arg sock[] = {
		VUS_SANDBOX_ARG_INT(0, AF_UNIX),
		VUS_SANDBOX_ARG_INT(1, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC),
		VUS_SANDBOX_ARG_INT(2, 0) };
	const struct vus_sandbox_arg to_listener[] = {
		VUS_SANDBOX_ARG_U64(1, l->addr),
		VUS_SANDBOX_ARG_INT(2, sizeof(*l->addr)) };
	int ret;

	/* A listener accepts, sends and reads eventfds: libvus's own calls. */
	if (l->listener)
		return 0;
	ret = vus_sandbox_allow_args(sb, SYS_socket, sock, 3);
	return ret ? ret : vus_sandbox_allow_args(sb, SYS_connect, to_listener, 2);
}
