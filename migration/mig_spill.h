/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_spill: where a destination stages the sections that do not fit in
 * memory (vus_mig_config.stage_dir): one unnamed file per section in the
 * configured directory, appended to (write_all) as the stream arrives,
 * read back by
 * check() and load() through the same vus_mig_get() (a window of the file,
 * or straight into the caller's buffer for large reads). Devices cannot
 * tell a spilled section from one in memory.
 */
#ifndef VUS_MIG_SPILL_H
#define VUS_MIG_SPILL_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#include "vus/ctx.h"

/* How a spill file is opened: the only openat() a sandbox allows. */
#define MIG_SPILL_OPEN_FLAGS (O_TMPFILE | O_RDWR | O_CLOEXEC)

/* Reading a spilled section back (vus_mig_in.spill). */
struct mig_spill_view {
	int fd;
	uint8_t *win;      /* bytes [win_at, win_at + win_len) of the file */
	uint64_t win_at;
	size_t win_len;
};

/*
 * Open the directory @path for spilling (before any sandbox): its fd, or
 * -errno. Logs on @ctx if it is tmpfs (spilling there takes memory).
 */
int mig_spill_dir_open(vus_ctx *ctx, const char *path);

/* A new unnamed file in directory @dirfd: its fd, or -errno. */
int mig_spill_create(int dirfd);

/* Start reading @fd (0 or -ENOMEM); free the window afterwards. */
int mig_spill_view_init(struct mig_spill_view *v, int fd);
void mig_spill_view_free(struct mig_spill_view *v);

/*
 * vus_mig_get() of a spilled section of @total bytes: @len bytes at
 * offset @pos (the caller checked they are there). 0 or -errno (-EIO on
 * a short file).
 */
int mig_spill_read(struct mig_spill_view *v, uint64_t pos, void *data,
		   size_t len, uint64_t total);

#endif /* VUS_MIG_SPILL_H */
