/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_client: what the client gave a context, kept across a crash:
 * its DMA mappings (one fd per file), its interrupt eventfds (trigger,
 * mask, unmask), the doorbell eventfds we gave it, and the region memory
 * it may have mmap'ed. The fds live in the service manager's store, each
 * under a name used once ("vus.<ctx>.fd.<id>", ids never reused); the
 * "client" block of the state area says which mapping or vector each id
 * belongs to. A changed fd is stored under a new id before the commit
 * that refers to it and the old id removed after, so a crash at any point
 * leaves the committed block's ids in the store (and maybe spare ones,
 * swept by the next process).
 *
 * Block "client" version 1, little-endian:
 *   u32 format (1) | u32 0 | u64 next id |
 *   u32 n | n x (u64 addr | u64 size | u64 offset | u32 prot | u32 0 |
 *                u64 file id, 0: no fd)                      DMA mappings
 *   u32 n | n x (u32 index | u32 vector | u64 trigger | u64 mask |
 *                u64 unmask ids, 0: none)                    bound vectors
 *   u32 n | n x (u32 region | u32 doorbell | u64 id)         doorbells
 *
 * Region memory ("vus.<ctx>.region.<index>") is stored at realize and
 * adopted by a process that continues the state.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "doorbell.h"
#include "engine.h"
#include "irq_table.h"
#include "log.h"
#include "recovery_priv.h"
#include "region_table.h"
#include "state_area.h"

#define FORMAT 1u
#define HEAD 16u
#define DMA_ENTRY 40u
#define VEC_ENTRY 32u
#define DB_ENTRY 16u
#define KC_CHECK 0x1u /* the vector's fds may have changed */
#define KC_FRESH 0x2u /* ... and any bound one is a new file */

struct kc_file {
	uint64_t dev, ino, id;
	int mode;
	bool used;
};

struct kc_db {
	uint32_t region;
	unsigned int index;
	uint64_t id;
	bool used;
};

struct kept_client {
	uint64_t next_id;
	struct kc_file files[DMA_MAX_FILES];
	uint32_t nr_files;
	uint32_t vec_base[IRQ_MAX_INDEX], vec_count[IRQ_MAX_INDEX], nr_vec;
	uint64_t *vec_ids;  /* 3 per vector: trigger, mask, unmask */
	uint8_t *vec_flag;  /* KC_* per vector */
	struct kc_db *db;
	uint32_t nr_db, max_db;
	uint64_t *gone;     /* ids to remove once the commit is made */
	uint32_t nr_gone, max_gone;
};

static struct log *rlog(struct recovery *r)
{
	return ctx_log(r->ctx);
}

static int id_name(struct recovery *r, uint64_t id, char *buf, size_t len)
{
	char what[32];

	snprintf(what, sizeof(what), "fd.%" PRIu64, id);
	return recovery_fd_name(buf, len, r->prefix, what);
}

/* Store @fd (borrowed) under a new id: the id, or 0 on failure. */
static uint64_t put(struct recovery *r, int fd)
{
	char name[FDSTORE_NAME_MAX + 1];
	uint64_t id = r->kc->next_id++;

	if (id_name(r, id, name, sizeof(name)) < 0 ||
	    recovery_store(r, name, fd) < 0)
		return 0;
	return id;
}

static void unstore_id(struct recovery *r, uint64_t id)
{
	char name[FDSTORE_NAME_MAX + 1];

	if (id != 0 && id_name(r, id, name, sizeof(name)) == 0)
		recovery_unstore(r, name);
}

/* @id leaves the store once the block without it is committed. */
static void gone(struct recovery *r, uint64_t id)
{
	struct kept_client *k = r->kc;

	if (id == 0)
		return;
	if (k->nr_gone < k->max_gone)
		k->gone[k->nr_gone++] = id;
	else
		unstore_id(r, id); /* cannot happen: max_gone counts them all */
}

int recovery_client_init(struct recovery *r)
{
	struct irq_table *it = ctx_irqs(r->ctx);
	struct region_table *rt = ctx_regions(r->ctx);
	struct kept_client *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return -ENOMEM;
	r->kc = k;
	k->next_id = 1;
	for (uint32_t i = 0; i < IRQ_MAX_INDEX; i++) {
		uint32_t count = 0, flags;

		(void)irq_get_info(it, i, &count, &flags);
		k->vec_base[i] = k->nr_vec;
		k->vec_count[i] = count;
		k->nr_vec += count;
	}
	for (uint32_t i = 0; i < REGION_MAX_INDEX; i++) {
		const struct region_ioev *ev;

		k->max_db += region_ioeventfds(rt, i, &ev);
	}
	k->max_gone = DMA_MAX_FILES + 3 * k->nr_vec + k->max_db;
	k->vec_ids = calloc((size_t)k->nr_vec * 3 + 1, sizeof(*k->vec_ids));
	k->vec_flag = calloc((size_t)k->nr_vec + 1, 1);
	k->db = calloc((size_t)k->max_db + 1, sizeof(*k->db));
	k->gone = calloc(k->max_gone, sizeof(*k->gone));
	if (!k->vec_ids || !k->vec_flag || !k->db || !k->gone)
		return -ENOMEM;
	return 0;
}

uint32_t recovery_client_size(const struct recovery *r)
{
	const struct kept_client *k = r->kc;
	uint64_t n = HEAD + 12 +
		     (uint64_t)DMA_ENTRY * dma_max_maps(ctx_dma(r->ctx)) +
		     (uint64_t)VEC_ENTRY * k->nr_vec + (uint64_t)DB_ENTRY * k->max_db;

	return n > SA_ELEM_MAX ? 0 : (uint32_t)n;
}

void recovery_client_destroy(struct recovery *r)
{
	if (r->kc == NULL)
		return;
	free(r->kc->vec_ids);
	free(r->kc->vec_flag);
	free(r->kc->db);
	free(r->kc->gone);
	free(r->kc);
	r->kc = NULL;
}

void recovery_irq_touched(struct recovery *r, uint32_t index, uint32_t first,
			  uint32_t count, bool fresh)
{
	struct kept_client *k = r ? r->kc : NULL;

	if (k == NULL || index >= IRQ_MAX_INDEX || first >= k->vec_count[index])
		return;
	/* count 0 (disable all) and ranges past the end: up to the end. */
	if (count == 0 || count > k->vec_count[index] - first)
		count = k->vec_count[index] - first;
	for (uint32_t v = first; v < first + count; v++)
		k->vec_flag[k->vec_base[index] + v] |= KC_CHECK | (fresh ? KC_FRESH : 0);
	r->client_dirty = true;
	r->any_dirty = true;
}

void recovery_client_gone(struct recovery *r)
{
	struct kept_client *k = r ? r->kc : NULL;

	if (k == NULL)
		return;
	/* Every fd it gave is closed: forget them all now, so that the
	 * next client's fds are never taken for the old ones. */
	for (uint32_t i = 0; i < k->nr_files; i++)
		gone(r, k->files[i].id);
	k->nr_files = 0;
	for (uint32_t i = 0; i < k->nr_vec * 3; i++) {
		gone(r, k->vec_ids[i]);
		k->vec_ids[i] = 0;
	}
	memset(k->vec_flag, 0, k->nr_vec);
	for (uint32_t i = 0; i < k->nr_db; i++)
		gone(r, k->db[i].id);
	k->nr_db = 0;
	r->client_dirty = true;
	r->any_dirty = true;
}

/* Writes the block's parts into a bounded buffer. */
struct writer {
	uint8_t *p;
	uint32_t len, cap;
};

static int w_put(struct writer *w, uint64_t v, unsigned int bytes)
{
	if (w->cap - w->len < bytes)
		return -EFBIG;
	le_put(w->p + w->len, v, bytes);
	w->len += bytes;
	return 0;
}

static int file_id(struct recovery *r, const struct dma_saved *d, uint64_t *id)
{
	struct kept_client *k = r->kc;
	struct kc_file *f;

	*id = 0;
	if (d->fd < 0)
		return 0;
	for (uint32_t i = 0; i < k->nr_files; i++) {
		f = &k->files[i];
		if (f->dev == d->file_dev && f->ino == d->file_ino &&
		    f->mode == d->file_accmode) {
			f->used = true;
			*id = f->id;
			return 0;
		}
	}
	if (k->nr_files >= DMA_MAX_FILES)
		return -EMFILE;
	f = &k->files[k->nr_files];
	*f = (struct kc_file){ .dev = d->file_dev, .ino = d->file_ino,
			       .mode = d->file_accmode, .used = true,
			       .id = put(r, d->fd) };
	if (f->id == 0)
		return -EIO;
	k->nr_files++;
	*id = f->id;
	return 0;
}

static int save_dma(struct recovery *r, struct writer *w)
{
	struct kept_client *k = r->kc;
	struct dma_table *dt = ctx_dma(r->ctx);
	uint32_t n = dma_count(dt);
	int ret = w_put(w, n, 4);

	for (uint32_t i = 0; i < k->nr_files; i++)
		k->files[i].used = false;
	for (uint32_t i = 0; ret == 0 && i < n; i++) {
		struct dma_saved d;
		uint64_t id;

		ret = dma_save(dt, i, &d);
		ret = ret ? ret : file_id(r, &d, &id);
		ret = ret ? ret : w_put(w, d.addr, 8);
		ret = ret ? ret : w_put(w, d.size, 8);
		ret = ret ? ret : w_put(w, d.offset, 8);
		ret = ret ? ret : w_put(w, d.prot, 4);
		ret = ret ? ret : w_put(w, 0, 4);
		ret = ret ? ret : w_put(w, id, 8);
	}
	/* Files no mapping uses any more leave the store after the commit. */
	for (uint32_t i = 0; ret == 0 && i < k->nr_files;) {
		if (k->files[i].used) {
			i++;
			continue;
		}
		gone(r, k->files[i].id);
		k->files[i] = k->files[--k->nr_files];
	}
	return ret;
}

/* Bring the ids of vector @v (global number @g) up to date. */
static int sync_vector(struct recovery *r, uint32_t index, uint32_t v,
		       uint32_t g)
{
	struct kept_client *k = r->kc;
	struct irq_vec_state s;
	uint64_t *ids = &k->vec_ids[g * 3];
	bool fresh = k->vec_flag[g] & KC_FRESH;
	int ret = irq_vec_save(ctx_irqs(r->ctx), index, v, &s);
	const int fds[3] = { s.trigger, s.mask, s.unmask };

	k->vec_flag[g] = 0;
	for (unsigned int i = 0; ret == 0 && i < 3; i++) {
		if (fds[i] < 0) {
			gone(r, ids[i]);
			ids[i] = 0;
		} else if (ids[i] == 0 || fresh) {
			uint64_t id = put(r, fds[i]);

			if (id == 0)
				return -EIO;
			gone(r, ids[i]);
			ids[i] = id;
		}
	}
	return ret;
}

static int save_irq(struct recovery *r, struct writer *w)
{
	struct kept_client *k = r->kc;
	uint32_t n = 0, at;
	int ret = 0;

	for (uint32_t g = 0; g < k->nr_vec; g++)
		n += k->vec_ids[g * 3] || k->vec_ids[g * 3 + 1] || k->vec_ids[g * 3 + 2] ||
		     k->vec_flag[g];
	at = w->len;
	ret = w_put(w, 0, 4);
	n = 0;
	for (uint32_t i = 0; ret == 0 && i < IRQ_MAX_INDEX; i++) {
		for (uint32_t v = 0; ret == 0 && v < k->vec_count[i]; v++) {
			uint32_t g = k->vec_base[i] + v;
			uint64_t *ids = &k->vec_ids[g * 3];

			if (k->vec_flag[g])
				ret = sync_vector(r, i, v, g);
			if (ret < 0 || !(ids[0] || ids[1] || ids[2]))
				continue;
			n++;
			ret = w_put(w, i, 4);
			ret = ret ? ret : w_put(w, v, 4);
			for (unsigned int j = 0; ret == 0 && j < 3; j++)
				ret = w_put(w, ids[j], 8);
		}
	}
	if (ret == 0)
		le_put(w->p + at, n, 4);
	return ret;
}

static struct kc_db *db_find(struct kept_client *k, uint32_t region,
			     unsigned int index)
{
	for (uint32_t i = 0; i < k->nr_db; i++)
		if (k->db[i].region == region && k->db[i].index == index)
			return &k->db[i];
	return NULL;
}

static int save_doorbells(struct recovery *r, struct writer *w)
{
	struct kept_client *k = r->kc;
	struct doorbell **list = engine_doorbells(ctx_engine(r->ctx));
	uint32_t region;
	unsigned int index;
	int fd, ret = 0;

	for (uint32_t i = 0; i < k->nr_db; i++)
		k->db[i].used = false;
	/* Our fds for this connection: the same one while it lasts. */
	for (unsigned int i = 0; doorbell_get(*list, i, &region, &index, &fd) == 0; i++) {
		struct kc_db *d = db_find(k, region, index);

		if (d == NULL) {
			if (k->nr_db >= k->max_db)
				return -ENOSPC;
			d = &k->db[k->nr_db];
			*d = (struct kc_db){ .region = region, .index = index,
					     .id = put(r, fd) };
			if (d->id == 0)
				return -EIO;
			k->nr_db++;
		}
		d->used = true;
	}
	for (uint32_t i = 0; i < k->nr_db;) {
		if (k->db[i].used) {
			i++;
			continue;
		}
		gone(r, k->db[i].id);
		k->db[i] = k->db[--k->nr_db];
	}
	ret = w_put(w, k->nr_db, 4);
	for (uint32_t i = 0; ret == 0 && i < k->nr_db; i++) {
		ret = w_put(w, k->db[i].region, 4);
		ret = ret ? ret : w_put(w, k->db[i].index, 4);
		ret = ret ? ret : w_put(w, k->db[i].id, 8);
	}
	return ret;
}

int recovery_client_save(struct recovery *r)
{
	unsigned int blk = (unsigned int)r->client_block;
	struct writer w = { .p = sa_write_begin(r->sa, blk, 0),
			    .cap = sa_elem_size(r->sa, blk) };
	int ret;

	if (w.p == NULL)
		return -EINVAL;
	r->client_dirty = false;
	ret = w_put(&w, FORMAT, 4);
	ret = ret ? ret : w_put(&w, 0, 4);
	ret = ret ? ret : w_put(&w, 0, 8); /* next id, once known */
	ret = ret ? ret : save_dma(r, &w);
	ret = ret ? ret : save_irq(r, &w);
	ret = ret ? ret : save_doorbells(r, &w);
	if (ret == 0) {
		le_put(w.p + 8, r->kc->next_id, 8);
		ret = sa_write_end(r->sa, blk, 0, w.len);
	}
	if (ret == -EMFILE)
		log_msg(rlog(r), VUS_LOG_ERR,
			"recovery: the client's memory comes from more than %u files",
			DMA_MAX_FILES);
	return ret;
}

void recovery_client_committed(struct recovery *r)
{
	struct kept_client *k = r->kc;

	for (uint32_t i = 0; k != NULL && i < k->nr_gone; i++)
		unstore_id(r, k->gone[i]);
	if (k != NULL)
		k->nr_gone = 0;
}

/* Reads the committed block back, bounds checked. */
struct reader {
	const uint8_t *p;
	uint32_t len, at;
};

static int r_get(struct reader *rd, uint64_t *v, unsigned int bytes)
{
	if (rd->len - rd->at < bytes)
		return -EBADMSG;
	*v = le_get(rd->p + rd->at, bytes);
	rd->at += bytes;
	return 0;
}

static int take_id(struct recovery *r, uint64_t id)
{
	char name[FDSTORE_NAME_MAX + 1];

	if (id == 0 || id >= r->kc->next_id ||
	    id_name(r, id, name, sizeof(name)) < 0)
		return -EBADMSG;
	return recovery_inherit_take(name);
}

/* The fd of file @id, taken once and known by its identity after. */
static int file_fd(struct recovery *r, uint64_t id, int *fds)
{
	struct kept_client *k = r->kc;
	struct kc_file *f;
	struct stat st;
	int fd, fl;

	for (uint32_t i = 0; i < k->nr_files; i++)
		if (k->files[i].id == id)
			return fds[i];
	if (k->nr_files >= DMA_MAX_FILES)
		return -EMFILE;
	fd = take_id(r, id);
	if (fd < 0)
		return fd;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &st) < 0) {
		close_fd(&fd);
		return -EBADF;
	}
	f = &k->files[k->nr_files];
	*f = (struct kc_file){ .dev = (uint64_t)st.st_dev,
			       .ino = (uint64_t)st.st_ino,
			       .mode = fl & O_ACCMODE, .id = id };
	fds[k->nr_files++] = fd;
	return fd;
}

static int restore_dma(struct recovery *r, struct reader *rd, int *fds)
{
	uint64_t n;
	int ret = r_get(rd, &n, 4);

	if (ret == 0 && n > dma_max_maps(ctx_dma(r->ctx)))
		return -EBADMSG;
	for (uint64_t i = 0; ret == 0 && i < n; i++) {
		uint64_t addr, size, off, prot, pad, id;
		struct vus_dma_region out;
		int fd = -1;

		ret = r_get(rd, &addr, 8);
		ret = ret ? ret : r_get(rd, &size, 8);
		ret = ret ? ret : r_get(rd, &off, 8);
		ret = ret ? ret : r_get(rd, &prot, 4);
		ret = ret ? ret : r_get(rd, &pad, 4);
		ret = ret ? ret : r_get(rd, &id, 8);
		if (ret == 0 && id != 0) {
			ret = file_fd(r, id, fds);
			fd = ret < 0 ? -1 : fcntl(ret, F_DUPFD_CLOEXEC, 0);
			ret = ret < 0 ? ret : fd < 0 ? -errno : 0;
		}
		/* dma_add() takes the fd, also on error. */
		ret = ret ? ret : dma_add(ctx_dma(r->ctx), addr, size,
					  (uint32_t)prot, fd, off, &out);
		if (ret == 0)
			device_dma_map(ctx_device(r->ctx), &out);
	}
	return ret;
}

static int restore_vector(struct recovery *r, uint64_t index, uint64_t v,
			  const uint64_t ids[3])
{
	struct kept_client *k = r->kc;
	struct irq_vec_state s;
	int fds[3] = { -1, -1, -1 }, ret = 0;
	uint32_t g;

	if (index >= IRQ_MAX_INDEX || v >= k->vec_count[index])
		return -EBADMSG;
	g = k->vec_base[index] + (uint32_t)v;
	for (unsigned int i = 0; ret == 0 && i < 3; i++) {
		if (ids[i] == 0)
			continue;
		fds[i] = take_id(r, ids[i]);
		ret = fds[i] < 0 ? fds[i] : 0;
		k->vec_ids[g * 3 + i] = ret == 0 ? ids[i] : 0;
	}
	/* Masks and pending bits came back with the sections. */
	ret = ret ? ret : irq_vec_save(ctx_irqs(r->ctx), (uint32_t)index,
				       (uint32_t)v, &s);
	if (ret < 0) {
		for (unsigned int i = 0; i < 3; i++)
			close_fd(&fds[i]);
		return ret;
	}
	s.trigger = fds[0];
	s.mask = fds[1];
	s.unmask = fds[2];
	/* Takes the fds, also on error. */
	return irq_vec_load(ctx_irqs(r->ctx), (uint32_t)index, (uint32_t)v, &s);
}

static int restore_irq(struct recovery *r, struct reader *rd)
{
	uint64_t n;
	int ret = r_get(rd, &n, 4);

	if (ret == 0 && n > r->kc->nr_vec)
		return -EBADMSG;
	for (uint64_t i = 0; ret == 0 && i < n; i++) {
		uint64_t index, v, ids[3];

		ret = r_get(rd, &index, 4);
		ret = ret ? ret : r_get(rd, &v, 4);
		for (unsigned int j = 0; ret == 0 && j < 3; j++)
			ret = r_get(rd, &ids[j], 8);
		ret = ret ? ret : restore_vector(r, index, v, ids);
	}
	return ret;
}

static int restore_doorbells(struct recovery *r, struct reader *rd)
{
	struct kept_client *k = r->kc;
	uint64_t n;
	int ret = r_get(rd, &n, 4);

	if (ret == 0 && n > k->max_db)
		return -EBADMSG;
	for (uint64_t i = 0; ret == 0 && i < n; i++) {
		uint64_t region, index, id;
		const struct region_ioev *ev = NULL;
		int fd;

		ret = r_get(rd, &region, 4);
		ret = ret ? ret : r_get(rd, &index, 4);
		ret = ret ? ret : r_get(rd, &id, 8);
		if (ret == 0 && (region >= REGION_MAX_INDEX ||
				 index >= region_ioeventfds(ctx_regions(r->ctx),
							    (uint32_t)region, &ev) ||
				 db_find(k, (uint32_t)region, (unsigned int)index)))
			ret = -EBADMSG;
		fd = ret ? -1 : take_id(r, id);
		ret = ret ? ret : fd < 0 ? fd : 0;
		ret = ret ? ret : doorbell_adopt(engine_doorbells(ctx_engine(r->ctx)),
						 ctx_loop(r->ctx), (uint32_t)region,
						 (unsigned int)index, ev[index].fd, fd);
		if (ret == 0)
			k->db[k->nr_db++] = (struct kc_db){
				.region = (uint32_t)region,
				.index = (unsigned int)index, .id = id };
	}
	return ret;
}

/* The committed block, its header read: 0, -ENOENT (none), -EBADMSG. */
static int open_block(struct recovery *r, struct reader *rd)
{
	uint64_t format, pad, next;
	const void *p;
	int ret;

	*rd = (struct reader){ 0 };
	ret = sa_get(r->sa, (unsigned int)r->client_block, 0, &p, &rd->len);
	if (ret < 0 || rd->len == 0)
		return -ENOENT;
	rd->p = p;
	ret = r_get(rd, &format, 4);
	ret = ret ? ret : r_get(rd, &pad, 4);
	ret = ret ? ret : r_get(rd, &next, 8);
	if (ret == 0 && (format != FORMAT || next == 0))
		ret = -EBADMSG;
	if (ret == 0)
		r->kc->next_id = next;
	return ret;
}

/* Step over @count entries of @size bytes after their u32 count. */
static int skip(struct reader *rd, unsigned int size)
{
	uint64_t n;
	int ret = r_get(rd, &n, 4);

	if (ret == 0 && (rd->len - rd->at) / size < n)
		return -EBADMSG;
	rd->at += ret == 0 ? (uint32_t)n * size : 0;
	return ret;
}

static int restore_failed(struct recovery *r, const char *what, int err)
{
	log_msg(rlog(r), VUS_LOG_WARNING,
		"recovery: the client's %s cannot be restored (%s); dropping it",
		what, strerror(-err));
	return err;
}

int recovery_client_restore_dma(struct recovery *r)
{
	struct kept_client *k = r->kc;
	int fds[DMA_MAX_FILES];
	struct reader rd;
	int ret = open_block(r, &rd);

	if (ret == -ENOENT)
		return 0; /* nothing kept: no client had anything */
	ret = ret ? ret : restore_dma(r, &rd, fds);
	/* The mappings hold their own fds now. */
	for (uint32_t i = 0; i < k->nr_files; i++)
		close_fd(&fds[i]);
	return ret < 0 ? restore_failed(r, "DMA mappings", ret) : 0;
}

int recovery_client_restore_irqs(struct recovery *r)
{
	struct reader rd;
	int ret = open_block(r, &rd);

	if (ret == -ENOENT)
		return 0;
	ret = ret ? ret : skip(&rd, DMA_ENTRY);
	ret = ret ? ret : restore_irq(r, &rd);
	return ret < 0 ? restore_failed(r, "interrupt eventfds", ret) : 0;
}

int recovery_client_restore(struct recovery *r)
{
	struct reader rd;
	int ret = open_block(r, &rd);

	if (ret == -ENOENT)
		return 0;
	ret = ret ? ret : skip(&rd, DMA_ENTRY);
	ret = ret ? ret : skip(&rd, VEC_ENTRY);
	ret = ret ? ret : restore_doorbells(r, &rd);
	if (ret == 0 && rd.at != rd.len)
		ret = -EBADMSG;
	/* What was adopted goes with the client's teardown (the caller
	 * drops it); the rest is swept with the spares a crash may leave. */
	return ret < 0 ? restore_failed(r, "doorbells", ret) : 0;
}

static void unmapped(void *opaque, const struct vus_dma_region *reg)
{
	device_dma_unmap(opaque, reg);
}

void recovery_client_abandon(struct recovery *r)
{
	dma_remove_all(ctx_dma(r->ctx), unmapped, ctx_device(r->ctx));
	(void)ctx_client_gone(r->ctx);
	recovery_client_gone(r);
}

int recovery_client_regions(struct recovery *r, bool adopt)
{
	struct region_table *rt = ctx_regions(r->ctx);
	int ret = 0;

	for (uint32_t i = 0; ret == 0 && i < REGION_MAX_INDEX; i++) {
		char what[32], name[FDSTORE_NAME_MAX + 1];
		uint64_t off, size;
		int fd, old;

		if (region_backing(rt, i, &fd, &off, &size) < 0)
			continue;
		snprintf(what, sizeof(what), "region.%u", i);
		old = recovery_take_lib_fd(r, what);
		/* The client's mmap of the dead process's memory stays valid
		 * when that memory is the region's again (same address). */
		if (adopt && old >= 0) {
			ret = region_adopt_backing(rt, i, old, off, size);
			if (ret == 0)
				continue;
			log_msg(rlog(r), VUS_LOG_WARNING,
				"recovery: region %u's memory not adopted: %s",
				i, strerror(-ret));
		}
		if (old >= 0 &&
		    recovery_fd_name(name, sizeof(name), r->prefix, what) == 0)
			recovery_unstore(r, name);
		close_fd(&old);
		ret = recovery_keep_lib_fd(r, what, fd);
	}
	return ret;
}
