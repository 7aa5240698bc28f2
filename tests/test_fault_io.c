/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection into the socket transport, without LD_PRELOAD: test
 * executables linked with -Wl,--wrap=recvmsg,--wrap=sendmsg get these
 * wrappers for every call, the library's included. On the server's thread
 * (any thread but the main one: tserver runs the server on its own) every
 * recvmsg() returns at most 1..7 bytes and every sendmsg() writes at most
 * 1..7 bytes, and one call in four fails instead with EINTR or EAGAIN, at
 * pseudo-random points; the main thread (the test's raw peer) is left
 * alone. The engine test suites linked with this shim must pass unchanged.
 *
 * FAULT_SEED=n picks another sequence (default 1); the sequence is per
 * thread, so a run is repeatable up to thread scheduling.
 *
 * A 60 KiB message takes thousands of such calls, each a wake-up on a
 * machine that may be busy: the shim raises the suites' deadline
 * multiplier tenfold (vtest_time_scale_raise).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vtest.h"

ssize_t __real_recvmsg(int fd, struct msghdr *mh, int flags);
ssize_t __real_sendmsg(int fd, const struct msghdr *mh, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *mh, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *mh, int flags);

__attribute__((constructor)) static void fault_io_slows_down(void)
{
	vtest_time_scale_raise(10.0);
}

enum fault { FAULT_NONE, FAULT_EINTR, FAULT_EAGAIN, FAULT_SHORT };

static __thread uint32_t rng;

static uint32_t next_random(void)
{
	if (rng == 0) {
		const char *seed = getenv("FAULT_SEED");

		rng = seed != NULL ? (uint32_t)strtoul(seed, NULL, 0) : 1u;
		if (rng == 0)
			rng = 1;
	}
	/* xorshift32 */
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* One in eight calls fails with EINTR, one in eight with EAGAIN, the rest
 * are cut short; only on the server's thread. */
static enum fault pick(void)
{
	uint32_t r;

	if (gettid() == getpid())
		return FAULT_NONE;
	r = next_random() % 16;
	if (r < 2)
		return FAULT_EINTR;
	if (r < 4)
		return FAULT_EAGAIN;
	return FAULT_SHORT;
}

static size_t short_len(void)
{
	return 1 + next_random() % 7;
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *mh, int flags)
{
	struct msghdr copy;
	struct iovec v;
	ssize_t n;

	switch (pick()) {
	case FAULT_EINTR:
		errno = EINTR;
		return -1;
	case FAULT_EAGAIN:
		errno = EAGAIN;
		return -1;
	case FAULT_SHORT:
		if (mh->msg_iovlen < 1 || mh->msg_iov[0].iov_len == 0)
			break;
		copy = *mh;
		v = mh->msg_iov[0];
		if (v.iov_len > 1)
			v.iov_len = 1 + (short_len() - 1) % v.iov_len;
		copy.msg_iov = &v;
		copy.msg_iovlen = 1;
		n = __real_recvmsg(fd, &copy, flags);
		/* The kernel's answers about control data go back out. */
		mh->msg_controllen = copy.msg_controllen;
		mh->msg_flags = copy.msg_flags;
		return n;
	default:
		break;
	}
	return __real_recvmsg(fd, mh, flags);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	struct iovec v[16];
	struct msghdr copy;
	size_t left;
	size_t n = 0;

	switch (pick()) {
	case FAULT_EINTR:
		errno = EINTR;
		return -1;
	case FAULT_EAGAIN:
		errno = EAGAIN;
		return -1;
	case FAULT_SHORT:
		if (mh->msg_iovlen > 16)
			break;
		/* The first 1..7 bytes of the iovec, fds still attached. */
		left = short_len();
		for (size_t i = 0; i < mh->msg_iovlen && left > 0; i++) {
			v[n] = mh->msg_iov[i];
			if (v[n].iov_len > left)
				v[n].iov_len = left;
			left -= v[n].iov_len;
			n++;
		}
		copy = *mh;
		copy.msg_iov = v;
		copy.msg_iovlen = n;
		return __real_sendmsg(fd, &copy, flags);
	default:
		break;
	}
	return __real_sendmsg(fd, mh, flags);
}
