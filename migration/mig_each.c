/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_each: the sections one at a time, for state kept outside a
 * migration stream (the crash-recovery state area keeps each section in
 * its own slot and saves only the ones that changed). The stream's rules
 * hold: a section's bytes are what its save() wrote, and loading is
 * check() of every section first, then load().
 */
#include <errno.h>
#include <string.h>

#include "ctx_internal.h"
#include "log.h"
#include "mig_priv.h"

uint32_t mig_compat_version(const struct migration *m)
{
	return m ? m->cfg.compat_version : 0;
}

unsigned int mig_nr_sections(const struct migration *m)
{
	return m ? m->nr_sec : 0;
}

unsigned int mig_nr_lib_sections(const struct migration *m)
{
	return m ? m->nr_lib_sec : 0;
}

const char *mig_section_name(const struct migration *m, unsigned int i)
{
	return m && i < m->nr_sec ? m->sec[i].name : NULL;
}

uint32_t mig_section_version(const struct migration *m, unsigned int i)
{
	return m && i < m->nr_sec ? m->sec[i].version : 0;
}

int mig_section_find(const struct migration *m, const char *name)
{
	for (unsigned int i = 0; m && i < m->nr_sec; i++)
		if (strcmp(m->sec[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

int mig_section_save(struct migration *m, unsigned int i, struct mig_buf *b)
{
	struct vus_mig_out out = { .buf = b };

	if (m == NULL || i >= m->nr_sec)
		return -EINVAL;
	return m->sec[i].ops.save(m->ctx, m->sec[i].opaque, &out);
}

int mig_section_apply(struct migration *m, unsigned int i, const void *p,
		      size_t len, bool load)
{
	struct mig_section *s;
	struct vus_mig_in in = { .p = p, .len = len };
	int ret = 0;

	if (m == NULL || i >= m->nr_sec)
		return -EINVAL;
	s = &m->sec[i];
	if (load)
		ret = s->ops.load(m->ctx, s->opaque, &in, s->version);
	else if (s->ops.check != NULL)
		ret = s->ops.check(m->ctx, s->opaque, &in, s->version);
	if (ret < 0)
		log_msg(ctx_log(m->ctx), VUS_LOG_WARNING,
			"kept state: section \"%s\" %s failed: %s", s->name,
			load ? "load" : "check", strerror(-ret));
	return ret;
}
