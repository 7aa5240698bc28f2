/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_sections: the sections of a device's state. Library sections (the
 * bus adapter's emulated state) come first, the device's in the order they
 * were added. Saving appends one record per call; loading is
 * mig_load.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "log.h"
#include "mig_priv.h"

void mig_identity(struct migration *m, char *buf, size_t len)
{
	const struct bus_ops *b = ctx_bus_ops(m->ctx);

	if (b == NULL || b->identity == NULL ||
	    b->identity(ctx_bus(m->ctx, b), buf, len) < 0)
		snprintf(buf, len, "generic");
}

static struct mig_section *find(struct migration *m, const char *name,
				size_t len)
{
	for (unsigned int i = 0; i < m->nr_sec; i++)
		if (strlen(m->sec[i].name) == len &&
		    memcmp(m->sec[i].name, name, len) == 0)
			return &m->sec[i];
	return NULL;
}

/* Insert a section at @at (library sections go before the device's). */
static int insert(struct migration *m, unsigned int at, const char *name,
		  uint32_t version, const struct vus_mig_section_ops *ops,
		  void *opaque, uint64_t bound)
{
	struct mig_section s = { .version = version, .opaque = opaque,
				 .bound = bound };
	struct mig_section *n;

	if (!token_name_ok(name, MIG_NAME_MAX) || version == 0 ||
	    copy_sized(&s.ops, sizeof(s.ops), ops) < 0 ||
	    s.ops.save == NULL || s.ops.load == NULL)
		return -EINVAL;
	if (find(m, name, strlen(name)) != NULL)
		return -EEXIST;
	n = realloc(m->sec, (m->nr_sec + 1) * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	m->sec = n;
	memmove(&m->sec[at + 1], &m->sec[at], (m->nr_sec - at) * sizeof(*n));
	memcpy(s.name, name, strlen(name) + 1);
	m->sec[at] = s;
	m->nr_sec++;
	return 0;
}

int mig_add_lib_section(struct migration *m, const char *name,
			uint32_t version, const struct vus_mig_section_ops *ops,
			void *opaque, uint64_t bound)
{
	int ret = insert(m, m->nr_lib_sec, name, version, ops, opaque, bound);

	if (ret == 0)
		m->nr_lib_sec++;
	return ret;
}

VUS_EXPORT int vus_mig_add_section(vus_ctx *ctx, const char *name,
				   uint32_t version,
				   const struct vus_mig_section_ops *ops,
				   void *opaque)
{
	struct migration *m = ctx ? ctx_mig(ctx) : NULL;

	if (m == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	return insert(m, m->nr_sec, name, version, ops,
		      opaque ? opaque : vus_ctx_opaque(ctx), 0);
}

int mig_save_section(struct migration *m, struct mig_section *s, bool live)
{
	/* Only a final part may refer: the device is stopped until the
	 * session ends, while a live part's memory still changes. */
	struct vus_mig_out out = { .buf = &m->out,
				   .refs = live ? NULL : &m->refs };
	uint64_t by_ref = m->refs.bytes;
	size_t at, before;
	int ret;

	ret = mig_stream_record_begin(&m->out, s->name, s->version, &at);
	if (ret < 0)
		return ret;
	before = m->out.len;
	ret = live ? s->ops.save_live(m->ctx, s->opaque, &out)
		   : s->ops.save(m->ctx, s->opaque, &out);
	if (ret < 0) {
		mig_refs_trim(&m->refs, at);
		mig_stream_record_drop(&m->out, at);
		return ret;
	}
	if (live && ret == 1)
		s->live_done = true;
	/* A live part with nothing in it is not worth a record. */
	if (live && m->out.len == before) {
		mig_stream_record_drop(&m->out, at);
		return 0;
	}
	by_ref = m->refs.bytes - by_ref;
	if (!live)
		m->last_final_size += m->out.len - at + by_ref;
	return mig_stream_record_end_ref(&m->out, at, by_ref);
}
