/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_client_restore: a process that continues a dead one's session
 * reads the committed "client" block (recovery_client.h) back, bounds
 * checked, and re-creates from the inherited fds the client's DMA
 * mappings, interrupt eventfds and doorbells.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "recovery_client.h"
#include "region_table.h"
#include "state_area.h"

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
	    recovery_client_id_name(r, id, name, sizeof(name)) < 0)
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
				 recovery_client_db_find(k, (uint32_t)region, (unsigned int)index)))
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
	if (ret == 0 && (format != KC_FORMAT || next == 0))
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
	log_msg(ctx_log(r->ctx), VUS_LOG_WARNING,
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
	ret = ret ? ret : skip(&rd, KC_DMA_ENTRY);
	ret = ret ? ret : restore_irq(r, &rd);
	return ret < 0 ? restore_failed(r, "interrupt eventfds", ret) : 0;
}

int recovery_client_restore(struct recovery *r)
{
	struct reader rd;
	int ret = open_block(r, &rd);

	if (ret == -ENOENT)
		return 0;
	ret = ret ? ret : skip(&rd, KC_DMA_ENTRY);
	ret = ret ? ret : skip(&rd, KC_VEC_ENTRY);
	ret = ret ? ret : restore_doorbells(r, &rd);
	if (ret == 0 && rd.at != rd.len)
		ret = -EBADMSG;
	/* What was adopted goes with the client's teardown (the caller
	 * drops it); the rest is swept with the spares a crash may leave. */
	return ret < 0 ? restore_failed(r, "doorbells", ret) : 0;
}
