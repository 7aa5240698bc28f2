/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * efd: eventfds shared with a client, signalled and drained without ever
 * blocking (see efd.h for why a plain write() can block).
 *
 * Signalling: one process-wide Linux AIO context. An IOCB_CMD_POLL on the
 * eventfd itself, for POLLIN | POLLOUT, is always ready (a counter is
 * either above 0 or below its maximum), so it completes inside io_submit,
 * and the kernel's completion adds 1 to the request's result eventfd,
 * which is that same eventfd: the kernel's eventfd_signal() never blocks
 * and saturates at the maximum. Completions pile up in the ring and are
 * reaped without waiting every REAP_EVERY signals, or when the ring is
 * full. Without AIO (no CONFIG_AIO, io_setup refused) a write() is made
 * only when poll() says it cannot block; a client changing the counter in
 * between can still block that write (documented in doc/security.md).
 *
 * Draining: preadv2(RWF_NOWAIT) fails with EAGAIN on an empty counter
 * whatever the description's mode (Linux 5.12 and later); before that,
 * poll() then read().
 */
#include <errno.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "efd.h"

#define RING 256u       /* completions the AIO context holds */
#define REAP_EVERY 64u  /* reap once this many are waiting */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int state;        /* 0 untried, 1 AIO ready, -errno: none */
static aio_context_t aio_ctx;   /* written once, under init_lock */
static atomic_uint unreaped;    /* completions left in the ring */

/* A forked child has none of its parent's AIO contexts. */
static void forked_child(void)
{
	atomic_store(&state, 0);
	aio_ctx = 0;
	atomic_store(&unreaped, 0);
}

int efd_init(void)
{
	static bool atfork;
	int s = atomic_load(&state);

	if (s != 0)
		return s > 0 ? 0 : s;
	pthread_mutex_lock(&init_lock);
	if (atomic_load(&state) == 0) {
		aio_context_t c = 0;

		if (!atfork)
			atfork = pthread_atfork(NULL, NULL, forked_child) == 0;
		if (syscall(SYS_io_setup, RING, &c) == 0) {
			aio_ctx = c;
			atomic_store(&state, 1);
		} else {
			atomic_store(&state, errno > 0 ? -errno : -ENOSYS);
		}
	}
	s = atomic_load(&state);
	pthread_mutex_unlock(&init_lock);
	return s > 0 ? 0 : s;
}

/* Take the completions out of the ring, without waiting. */
static void reap(void)
{
	struct io_event ev[RING / 4];
	struct timespec zero = { 0, 0 };
	long n;

	do {
		n = syscall(SYS_io_getevents, aio_ctx, 0L, (long)ARRAY_SIZE(ev),
			    ev, &zero);
		if (n > 0)
			atomic_fetch_sub(&unreaped, (unsigned int)n);
	} while (n == (long)ARRAY_SIZE(ev));
}

/* The kernel signals @fd: 0, -EAGAIN (ring full), or why AIO cannot. */
static int aio_signal(int fd)
{
	struct iocb cb = {
		.aio_lio_opcode = IOCB_CMD_POLL, .aio_fildes = (uint32_t)fd,
		.aio_buf = POLLIN | POLLOUT, .aio_flags = IOCB_FLAG_RESFD,
		.aio_resfd = (uint32_t)fd,
	};
	struct iocb *p = &cb;

	for (int tries = 0; tries < 2; tries++) {
		if (syscall(SYS_io_submit, aio_ctx, 1L, &p) == 1) {
			if (atomic_fetch_add(&unreaped, 1) + 1 >= REAP_EVERY)
				reap();
			return 0;
		}
		if (errno != EAGAIN)
			return -errno;
		reap();
	}
	return -EAGAIN;
}

/* Without AIO: write only if poll() says the write cannot block now. */
static int write_signal(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
		return -EAGAIN; /* full: the signal merges with the pending */
	if (eventfd_write(fd, 1) < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	return 0;
}

int efd_signal(int fd)
{
	int ret;

	if (fd < 0)
		return -EBADF;
	if (efd_init() == 0) {
		ret = aio_signal(fd);
		/* EINVAL: not an eventfd, or a kernel without AIO poll. */
		if (ret != -EINVAL)
			return ret;
	}
	return write_signal(fd);
}

int efd_drain(int fd, uint64_t *val)
{
	struct iovec iov = { .iov_base = val, .iov_len = sizeof(*val) };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	*val = 0;
	n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
	if (n == (ssize_t)sizeof(*val))
		return 0;
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n >= 0 || errno != EOPNOTSUPP)
		return n < 0 ? -errno : -EIO;
	/* Before Linux 5.12: racy against a client that reads it too. */
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return 0;
	n = read(fd, val, sizeof(*val));
	if (n < 0) {
		*val = 0;
		return errno == EAGAIN ? 0 : -errno;
	}
	return 0;
}
