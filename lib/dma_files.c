/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_files: the files behind the client's mappings. One fd per distinct
 * file is kept open, counted by the mappings that use it, so that a
 * hand-over can give a new process what it needs to map the same memory
 * again without keeping an fd per mapping (a vIOMMU guest maps thousands
 * of ranges of one memfd). Context thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "common.h"
#include "dma_priv.h"

void dma_files_init(struct dma_table *dt)
{
	for (uint32_t i = 0; i < DMA_MAX_FILES; i++)
		dt->files[i].fd = -1;
}

void dma_files_close(struct dma_table *dt)
{
	for (uint32_t i = 0; i < DMA_MAX_FILES; i++)
		close_fd(&dt->files[i].fd);
}

/* A kept fd of @st's file open for reading and writing: it can map any
 * grant of that file, so the grant's own fd need not be asked its mode. */
static int32_t kept_rdwr(const struct dma_table *dt, const struct stat *st)
{
	for (uint32_t i = 0; i < DMA_MAX_FILES; i++) {
		const struct dma_file *f = &dt->files[i];

		if (f->fd >= 0 && f->dev == (uint64_t)st->st_dev &&
		    f->ino == (uint64_t)st->st_ino && f->accmode == O_RDWR)
			return (int32_t)i;
	}
	return -1;
}

int32_t dma_file_keep(struct dma_table *dt, int fd, const struct stat *st,
		      bool rdwr)
{
	int32_t i = kept_rdwr(dt, st), free_slot = -1;
	int fl;

	/* The common case, QEMU's guest RAM: no system call but the close. */
	if (i >= 0) {
		close_fd(&fd);
		dt->files[i].refs++;
		return i;
	}
	/* A file's first grant, read-write as QEMU's are: its mmap told. */
	fl = rdwr ? O_RDWR : fcntl(fd, F_GETFL);
	if (fl < 0) {
		close_fd(&fd);
		return -1;
	}
	for (i = 0; i < (int32_t)DMA_MAX_FILES; i++) {
		struct dma_file *f = &dt->files[i];

		if (f->fd < 0) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (f->dev == (uint64_t)st->st_dev && f->ino == (uint64_t)st->st_ino &&
		    f->accmode == (fl & O_ACCMODE)) {
			close_fd(&fd);
			f->refs++;
			return i;
		}
	}
	if (free_slot >= 0)
		dt->files[free_slot] = (struct dma_file){
			.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino,
			.accmode = fl & O_ACCMODE, .fd = fd, .refs = 1,
		};
	else
		close_fd(&fd);
	return free_slot;
}

void dma_file_drop(struct dma_table *dt, const struct dma_map *m)
{
	if (m->file >= 0) {
		struct dma_file *f = &dt->files[m->file];

		if (--f->refs == 0)
			close_fd(&f->fd);
	} else if (m->map != NULL) {
		dt->unkept--;
	}
}

uint32_t dma_count(const struct dma_table *dt)
{
	return dt->n;
}

uint32_t dma_max_maps(const struct dma_table *dt)
{
	return dt->max;
}

uint32_t dma_kept_files(const struct dma_table *dt)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < DMA_MAX_FILES; i++)
		n += dt->files[i].fd >= 0;
	return n;
}

int dma_save(struct dma_table *dt, uint32_t i, struct dma_saved *out)
{
	const struct dma_map *m;
	struct dma_pos p;

	if (!dma_blocks_nth(dt, i, &p))
		return -ENOENT;
	m = dma_at(dt, p);
	if (m->map != NULL && m->file < 0)
		return -EMFILE;
	*out = (struct dma_saved){
		.addr = m->addr, .size = m->last - m->addr + 1, .prot = m->prot,
		.fd = -1, .offset = m->offset,
	};
	if (m->file >= 0) {
		const struct dma_file *f = &dt->files[m->file];

		out->fd = f->fd;
		out->file_dev = f->dev;
		out->file_ino = f->ino;
		out->file_accmode = f->accmode;
	}
	return 0;
}
