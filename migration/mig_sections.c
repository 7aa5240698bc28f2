/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_sections: the sections of a device's state. Library sections (the
 * bus adapter's emulated state) come first, the device's in the order they
 * were added. Saving appends one record per call; loading checks the
 * collected stream whole — format, integrity, identity, compatibility
 * version, every record belonging to a known section of an acceptable
 * version, every section present, every section's check callback — and
 * only then loads the sections.
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
		  void *opaque)
{
	struct mig_section s = { .version = version, .opaque = opaque };
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
			void *opaque)
{
	int ret = insert(m, m->nr_lib_sec, name, version, ops, opaque);

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
		      opaque ? opaque : vus_ctx_opaque(ctx));
}

int mig_save_section(struct migration *m, struct mig_section *s, bool live)
{
	struct vus_mig_out out = { .buf = &m->out };
	size_t at, before;
	int ret;

	ret = mig_stream_record_begin(&m->out, s->name, s->version, &at);
	if (ret < 0)
		return ret;
	before = m->out.len;
	ret = live ? s->ops.save_live(m->ctx, s->opaque, &out)
		   : s->ops.save(m->ctx, s->opaque, &out);
	if (ret < 0) {
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
	if (!live)
		m->last_final_size += m->out.len - at;
	return mig_stream_record_end(&m->out, at);
}

/* The data of section @s: its records concatenated (or one in place). */
struct gathered {
	const uint8_t *p;
	size_t len;
	uint8_t *owned;
	uint32_t version;
	bool present;
};

static int gather(const struct mig_parsed *pp, const struct mig_section *s,
		  struct gathered *g)
{
	size_t n = strlen(s->name), total = 0, pos = 0;
	unsigned int count = 0;

	memset(g, 0, sizeof(*g));
	for (unsigned int i = 0; i < pp->nr_rec; i++) {
		const struct mig_record *r = &pp->rec[i];

		if (r->name_len != n || memcmp(r->name, s->name, n) != 0)
			continue;
		/* One version per section, and none newer than ours. */
		if ((count && r->version != g->version) || r->version > s->version ||
		    r->version == 0)
			return -EPROTONOSUPPORT;
		g->version = r->version;
		g->p = r->data;
		total += r->len;
		count++;
	}
	g->present = count > 0;
	g->len = total;
	if (count <= 1)
		return 0;
	g->owned = malloc(total ? total : 1);
	if (g->owned == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < pp->nr_rec; i++) {
		const struct mig_record *r = &pp->rec[i];

		if (r->name_len == n && memcmp(r->name, s->name, n) == 0) {
			memcpy(g->owned + pos, r->data, r->len);
			pos += r->len;
		}
	}
	g->p = g->owned;
	return 0;
}

/* Every record must belong to one of our sections. */
static bool all_known(struct migration *m, const struct mig_parsed *pp)
{
	for (unsigned int i = 0; i < pp->nr_rec; i++)
		if (find(m, pp->rec[i].name, pp->rec[i].name_len) == NULL)
			return false;
	return true;
}

static int header_check(struct migration *m, const struct mig_parsed *pp)
{
	struct log *log = ctx_log(m->ctx);
	char id[MIG_IDENTITY_MAX + 1];

	mig_identity(m, id, sizeof(id));
	if (strcmp(pp->identity, id) != 0) {
		/* The stream's identity is the client's text: not logged. */
		log_msg(log, VUS_LOG_WARNING,
			"migration: stream is from another kind of device, this is \"%s\"",
			id);
		return -ENODEV;
	}
	if (pp->compat != m->cfg.compat_version) {
		log_msg(log, VUS_LOG_WARNING,
			"migration: stream has compatibility version %u, this device %u",
			pp->compat, m->cfg.compat_version);
		return -EPROTONOSUPPORT;
	}
	if (!all_known(m, pp)) {
		log_msg(log, VUS_LOG_WARNING, "migration: stream has an unknown section");
		return -EBADMSG;
	}
	return 0;
}

/* Phase 1 (check) or phase 2 (load) over every section. */
static int each_section(struct migration *m, struct gathered *g, bool load)
{
	for (unsigned int i = 0; i < m->nr_sec; i++) {
		struct mig_section *s = &m->sec[i];
		struct vus_mig_in in = { .p = g[i].p, .len = g[i].len };
		int ret = 0;

		if (load)
			ret = s->ops.load(m->ctx, s->opaque, &in, g[i].version);
		else if (s->ops.check != NULL)
			ret = s->ops.check(m->ctx, s->opaque, &in, g[i].version);
		if (ret < 0) {
			log_msg(ctx_log(m->ctx), VUS_LOG_WARNING,
				"migration: section \"%s\" %s failed: %s", s->name,
				load ? "load" : "check", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int mig_load_stream(struct migration *m)
{
	struct gathered *g = calloc(m->nr_sec ? m->nr_sec : 1, sizeof(*g));
	struct mig_parsed pp;
	int ret;

	if (g == NULL)
		return -ENOMEM;
	if (m->in_overflow) {
		log_msg(ctx_log(m->ctx), VUS_LOG_WARNING,
			"migration: refusing a stream longer than %llu bytes",
			(unsigned long long)m->cfg.max_stream_size);
		free(g);
		return -EFBIG;
	}
	ret = mig_stream_parse(m->in.p, m->in.len, &pp);
	if (ret < 0)
		log_msg(ctx_log(m->ctx), VUS_LOG_WARNING,
			"migration: refusing a malformed stream (%zu bytes): %s",
			m->in.len, strerror(-ret));
	ret = ret ? ret : header_check(m, &pp);
	for (unsigned int i = 0; ret == 0 && i < m->nr_sec; i++) {
		ret = gather(&pp, &m->sec[i], &g[i]);
		if (ret == 0 && !g[i].present)
			ret = -EBADMSG; /* the device's state would be incomplete */
	}
	if (ret == 0)
		ret = each_section(m, g, false);
	if (ret == 0)
		ret = each_section(m, g, true);
	for (unsigned int i = 0; i < m->nr_sec; i++)
		free(g[i].owned);
	free(g);
	mig_parsed_free(&pp);
	return ret;
}
