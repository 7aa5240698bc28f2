/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_io: region access (REGION_READ, REGION_WRITE, REGION_WRITE_MULTI)
 * and DEVICE_RESET. Bounds and permissions are checked by region_access();
 * here we check the message itself: lengths, counts and indexes.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "engine_priv.h"
#include "region_table.h"

static int access_check(const struct engine *e,
			const struct wire_region_access *a)
{
	if (a->count > e->lim.max_xfer)
		return -EINVAL;
	if (a->region >= engine_num_regions(e))
		return -EINVAL;
	return 0;
}

int handle_region_read(struct engine *e, struct msg *m, struct reply *r)
{
	struct wire_region_access a;
	int ret;

	memcpy(&a, m->payload, sizeof(a));
	ret = access_check(e, &a);
	if (ret < 0)
		return ret;
	memcpy(r->buf, &a, sizeof(a));
	r->len = sizeof(a);
	/* Memory is sent from where it lies; callbacks fill the reply. */
	r->tail = region_read_ptr(ctx_regions(e->ctx), a.region, a.offset,
				  a.count);
	if (r->tail != NULL) {
		r->tail_len = a.count;
		return 0;
	}
	ret = region_access(ctx_regions(e->ctx), a.region, a.offset,
			    r->buf + sizeof(a), a.count, false);
	if (ret < 0)
		return ret;
	r->len += a.count;
	return 0;
}

int handle_region_write(struct engine *e, struct msg *m, struct reply *r)
{
	struct wire_region_access a;
	int ret;

	memcpy(&a, m->payload, sizeof(a));
	ret = access_check(e, &a);
	if (ret < 0)
		return ret;
	if (m->len - sizeof(a) != a.count)
		return -EINVAL;
	ret = region_access(ctx_regions(e->ctx), a.region, a.offset,
			    m->payload + sizeof(a), a.count, true);
	if (ret < 0)
		return ret;
	memcpy(r->buf, &a, sizeof(a));
	r->len = sizeof(a);
	return 0;
}

int handle_region_write_multi(struct engine *e, struct msg *m, struct reply *r)
{
	uint64_t n, done = 0;

	memcpy(&n, m->payload, sizeof(n));
	if (n > WIRE_WRITE_MULTI_MAX ||
	    m->len != sizeof(n) + n * sizeof(struct wire_write_one))
		return -EINVAL;
	for (; done < n; done++) {
		struct wire_write_one w;
		int ret;

		memcpy(&w, m->payload + sizeof(n) + done * sizeof(w), sizeof(w));
		if (w.count == 0 || w.count > sizeof(w.data) ||
		    w.region >= engine_num_regions(e))
			return -EINVAL;
		/* Applied in order; the first failure ends the batch. */
		ret = region_access(ctx_regions(e->ctx), w.region, w.offset,
				    w.data, w.count, true);
		if (ret < 0)
			return ret;
	}
	memcpy(r->buf, &done, sizeof(done));
	r->len = sizeof(done);
	return 0;
}

int handle_device_reset(struct engine *e, struct msg *m, struct reply *r)
{
	/* The table made sure the device is quiesced. */
	return ctx_reset(e->ctx, VUS_RESET_CLIENT);
}
