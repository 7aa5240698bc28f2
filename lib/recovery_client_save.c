/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_client_save: the "client" block (recovery_client.h) written
 * for the next commit, from the context's DMA table, interrupt vectors
 * and doorbells; fds the store does not hold yet are stored under new ids
 * first, and ids no longer named leave it once the commit is made.
 */
#include <errno.h>
#include <stdint.h>

#include "common.h"
#include "ctx_internal.h"
#include "dma_table.h"
#include "doorbell.h"
#include "engine.h"
#include "irq_table.h"
#include "log.h"
#include "recovery_client.h"
#include "state_area.h"

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
			       .id = recovery_client_put(r, d->fd) };
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
		recovery_client_drop_id(r, k->files[i].id);
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
			recovery_client_drop_id(r, ids[i]);
			ids[i] = 0;
		} else if (ids[i] == 0 || fresh) {
			uint64_t id = recovery_client_put(r, fds[i]);

			if (id == 0)
				return -EIO;
			recovery_client_drop_id(r, ids[i]);
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
		struct kc_db *d = recovery_client_db_find(k, region, index);

		if (d == NULL) {
			if (k->nr_db >= k->max_db)
				return -ENOSPC;
			d = &k->db[k->nr_db];
			*d = (struct kc_db){ .region = region, .index = index,
					     .id = recovery_client_put(r, fd) };
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
		recovery_client_drop_id(r, k->db[i].id);
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
	ret = w_put(&w, KC_FORMAT, 4);
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
		log_msg(ctx_log(r->ctx), VUS_LOG_ERR,
			"recovery: the client's memory comes from more than %u files",
			DMA_MAX_FILES);
	return ret;
}
