/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_spill: sections a destination stages on disk (mig_spill.h). The
 * files are created unnamed (O_TMPFILE) in a directory opened at setup,
 * so nothing is left behind however the load ends, and a sandboxed
 * process needs no path lookups: only openat() on that directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "log.h"
#include "mig_spill.h"

/* The read-back window: small reads (integers, a device's records)
 * come from it, reads of its size or more go straight to the caller. */
#define WIN_SIZE (1u << 20)

int mig_spill_dir_open(vus_ctx *ctx, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs sf;

	if (fd < 0) {
		int err = -errno;

		log_msg(ctx_log(ctx), VUS_LOG_ERR, "migration: stage directory "
			"%s: %s", path, strerror(-err));
		return err;
	}
	if (fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
		log_msg(ctx_log(ctx), VUS_LOG_WARNING, "migration: stage "
			"directory %s is tmpfs: spilled sections take memory",
			path);
	return fd;
}

int mig_spill_create(int dirfd)
{
	/* The flags are exactly what the sandbox lets through (sandbox_calls.c). */
	int fd = openat(dirfd, ".", MIG_SPILL_OPEN_FLAGS, 0600);

	return fd < 0 ? -errno : fd;
}

int mig_spill_view_init(struct mig_spill_view *v, int fd)
{
	*v = (struct mig_spill_view){ .fd = fd };
	v->win = malloc(WIN_SIZE);
	return v->win ? 0 : -ENOMEM;
}

void mig_spill_view_free(struct mig_spill_view *v)
{
	free(v->win);
	v->win = NULL;
}

/* All @len bytes at @off, or -errno (-EIO: the file is shorter). */
static int pread_all(int fd, void *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p = (uint8_t *)p + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int mig_spill_read(struct mig_spill_view *v, uint64_t pos, void *data,
		   size_t len, uint64_t total)
{
	size_t k;
	int ret;

	if (len >= WIN_SIZE)
		return pread_all(v->fd, data, len, pos);
	while (len > 0) {
		if (pos < v->win_at || pos >= v->win_at + v->win_len) {
			v->win_at = pos;
			v->win_len = (size_t)MIN((uint64_t)WIN_SIZE, total - pos);
			ret = pread_all(v->fd, v->win, v->win_len, pos);
			if (ret < 0) {
				v->win_len = 0;
				return ret;
			}
		}
		k = MIN(len, (size_t)(v->win_at + v->win_len - pos));
		memcpy(data, v->win + (pos - v->win_at), k);
		data = (uint8_t *)data + k;
		pos += k;
		len -= k;
	}
	return 0;
}
