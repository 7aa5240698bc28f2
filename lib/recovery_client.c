/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_client: what the client gave a context, kept across a crash:
 * its DMA mappings (one fd per file), its interrupt eventfds (trigger,
 * mask, unmask), the doorbell eventfds we gave it, and the region memory
 * it may have mmap'ed. The fds live in the service manager's store, each
 * under a name of its own ("vus.<ctx>.fd.<id>"; an id a crash left as a
 * spare is swept before it is given again); the "client" block of the
 * state area (recovery_client.h) says which mapping or vector each id
 * belongs to. A changed fd is stored under a new id
 * before the commit that refers to it and the old id removed after, so a
 * crash at any point leaves the committed block's ids in the store (and
 * maybe spare ones, swept by the next process). This file holds the
 * tables of ids and their life; writing the block is
 * recovery_client_save.c, reading it back recovery_client_restore.c.
 *
 * Region memory ("vus.<ctx>.region.<index>") is stored at realize and
 * adopted by a process that continues the state.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "irq_table.h"
#include "log.h"
#include "recovery_client.h"
#include "region_table.h"
#include "state_area.h"

int recovery_client_id_name(struct recovery *r, uint64_t id, char *buf,
			    size_t len)
{
	char what[32];

	snprintf(what, sizeof(what), "fd.%" PRIu64, id);
	return recovery_fd_name(buf, len, r->prefix, what);
}

uint64_t recovery_client_put(struct recovery *r, int fd)
{
	char name[FDSTORE_NAME_MAX + 1];
	uint64_t id = r->kc->next_id++;

	if (recovery_client_id_name(r, id, name, sizeof(name)) < 0 ||
	    recovery_store(r, name, fd) < 0)
		return 0;
	return id;
}

static void unstore_id(struct recovery *r, uint64_t id)
{
	char name[FDSTORE_NAME_MAX + 1];

	if (id != 0 && recovery_client_id_name(r, id, name, sizeof(name)) == 0)
		recovery_unstore(r, name);
}

void recovery_client_drop_id(struct recovery *r, uint64_t id)
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
	uint64_t n = KC_HEAD + 12 +
		     (uint64_t)KC_DMA_ENTRY * dma_max_maps(ctx_dma(r->ctx)) +
		     (uint64_t)KC_VEC_ENTRY * k->nr_vec + (uint64_t)KC_DB_ENTRY * k->max_db;

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
		recovery_client_drop_id(r, k->files[i].id);
	k->nr_files = 0;
	for (uint32_t i = 0; i < k->nr_vec * 3; i++) {
		recovery_client_drop_id(r, k->vec_ids[i]);
		k->vec_ids[i] = 0;
	}
	memset(k->vec_flag, 0, k->nr_vec);
	for (uint32_t i = 0; i < k->nr_db; i++)
		recovery_client_drop_id(r, k->db[i].id);
	k->nr_db = 0;
	r->client_dirty = true;
	r->any_dirty = true;
}

struct kc_db *recovery_client_db_find(struct kept_client *k, uint32_t region,
				      unsigned int index)
{
	for (uint32_t i = 0; i < k->nr_db; i++)
		if (k->db[i].region == region && k->db[i].index == index)
			return &k->db[i];
	return NULL;
}

void recovery_client_committed(struct recovery *r)
{
	struct kept_client *k = r->kc;

	for (uint32_t i = 0; k != NULL && i < k->nr_gone; i++)
		unstore_id(r, k->gone[i]);
	if (k != NULL)
		k->nr_gone = 0;
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
			log_msg(ctx_log(r->ctx), VUS_LOG_WARNING,
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
