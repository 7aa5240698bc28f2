/* SPDX-License-Identifier: BSD-3-Clause */
/* common: clock, fd and struct-copy helpers (see common.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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
