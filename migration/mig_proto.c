/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_proto: the migration commands as engine handlers: DEVICE_FEATURE
 * (MIGRATION, MIG_DEVICE_STATE, DMA logging, MIG_DATA_SIZE, with PROBE),
 * MIG_DATA_READ and MIG_DATA_WRITE. Layouts and errnos follow the
 * protocol reference (vfio-user-wire.md 15-16): unknown features give
 * ENOTTY (what QEMU reads as "not supported"), a known feature asked for
 * an operation it lacks gives EINVAL.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "ctx.h"
#include "engine_priv.h"
#include "mig.h"
#include "mig_dirty.h"
#include "mig_fsm.h"

#define FEAT_MASK 0xffffu
#define FEAT_GET 0x10000u
#define FEAT_SET 0x20000u
#define FEAT_PROBE 0x40000u

enum {
	FEAT_MIGRATION = 1,
	FEAT_MIG_DEVICE_STATE = 2,
	FEAT_DMA_LOGGING_START = 6,
	FEAT_DMA_LOGGING_STOP = 7,
	FEAT_DMA_LOGGING_REPORT = 8,
	FEAT_MIG_DATA_SIZE = 9, /* the kernel's; not in the vfio-user spec */
};

/* The operations each feature supports. */
static uint32_t feature_ops(uint32_t feature)
{
	switch (feature) {
	case FEAT_MIGRATION: return FEAT_GET;
	case FEAT_MIG_DEVICE_STATE: return FEAT_GET | FEAT_SET;
	case FEAT_DMA_LOGGING_START: return FEAT_SET;
	case FEAT_DMA_LOGGING_STOP: return FEAT_SET;
	case FEAT_DMA_LOGGING_REPORT: return FEAT_GET;
	case FEAT_MIG_DATA_SIZE: return FEAT_GET;
	default: return 0;
	}
}

bool mig_feature_needs_quiesce(const struct msg *m)
{
	struct wire_feature f;
	uint32_t feature;

	if (m->len < sizeof(f))
		return false;
	memcpy(&f, m->payload, sizeof(f));
	feature = f.flags & FEAT_MASK;
	/* State changes may stop the device; logging changes what its
	 * threads mark. Probes and reads need nothing. */
	return (f.flags & FEAT_SET) && !(f.flags & FEAT_PROBE) &&
	       (feature == FEAT_MIG_DEVICE_STATE ||
		feature == FEAT_DMA_LOGGING_START ||
		feature == FEAT_DMA_LOGGING_STOP);
}

/* Flags, feature and the operations asked for: 0 or the errno. */
static int feature_check(struct migration *mg, const struct wire_feature *f)
{
	uint32_t feature = f->flags & FEAT_MASK;
	uint32_t ops = f->flags & (FEAT_GET | FEAT_SET);

	if (f->flags & ~(FEAT_MASK | FEAT_GET | FEAT_SET | FEAT_PROBE))
		return -EINVAL;
	if (mg == NULL || feature_ops(feature) == 0)
		return -ENOTTY;
	if (!(f->flags & FEAT_PROBE) && ops != FEAT_GET && ops != FEAT_SET)
		return -EINVAL; /* exactly one of GET and SET, unless probing */
	if ((ops & feature_ops(feature)) != ops || (ops == 0 && !(f->flags & FEAT_PROBE)))
		return -EINVAL;
	return 0;
}

/* Reply head + @len data bytes; -EINVAL if the client's argsz is smaller. */
static int reply(struct reply *r, const struct wire_feature *req,
		 const void *data, uint32_t len)
{
	struct wire_feature h = { .argsz = (uint32_t)sizeof(h) + len,
				  .flags = req->flags };

	if (req->argsz < h.argsz)
		return -EINVAL;
	memcpy(r->buf, &h, sizeof(h));
	if (len)
		memcpy(r->buf + sizeof(h), data, len);
	r->len = h.argsz;
	return 0;
}

int mig_feature_echo(struct reply *r, const struct msg *m)
{
	memcpy(r->buf, m->payload, m->len);
	r->len = m->len;
	return 0;
}

static int device_state(struct migration *mg, const struct wire_feature *f,
			const struct msg *m, struct reply *r)
{
	/* device_state, data_fd: no fd in vfio-user, -1 as the kernel says. */
	uint32_t st[2] = { 0, UINT32_MAX };
	int ret;

	if (f->argsz < sizeof(*f) + sizeof(st))
		return -EINVAL;
	if (!(f->flags & FEAT_SET)) {
		st[0] = mig_state(mg);
		return reply(r, f, st, sizeof(st));
	}
	if (m->len < sizeof(*f) + sizeof(st))
		return -EINVAL;
	memcpy(st, m->payload + sizeof(*f), sizeof(st));
	if (st[0] >= MIG_NR_STATES)
		return -EINVAL;
	ret = mig_set_state(mg, st[0]);
	if (ret < 0)
		return ret;
	return mig_feature_echo(r, m);
}

int handle_device_feature(struct engine *e, struct msg *m, struct reply *r)
{
	struct migration *mg = mig_of(e->ctx);
	struct wire_feature f;
	uint64_t v;
	int ret;

	memcpy(&f, m->payload, sizeof(f));
	ret = feature_check(mg, &f);
	if (ret < 0)
		return ret;
	if (f.flags & FEAT_PROBE)
		return reply(r, &f, NULL, 0);
	switch (f.flags & FEAT_MASK) {
	case FEAT_MIGRATION:
		v = mig_flags(mg);
		return reply(r, &f, &v, sizeof(v));
	case FEAT_MIG_DEVICE_STATE:
		return device_state(mg, &f, m, r);
	case FEAT_MIG_DATA_SIZE:
		v = mig_data_size(mg);
		return reply(r, &f, &v, sizeof(v));
	default:
		return mig_dirty_feature(e, mg, &f, m, r);
	}
}

int handle_mig_data_read(struct engine *e, struct msg *m, struct reply *r)
{
	struct migration *mg = mig_of(e->ctx);
	uint32_t q[2]; /* argsz, size */
	uint32_t asked;
	size_t got;
	int ret;

	memcpy(q, m->payload, sizeof(q));
	if (mg == NULL)
		return -ENOTSUP;
	/* No more than the client takes, and its buffer must hold it. */
	if (q[1] > e->peer_xfer || q[0] < 8 || q[0] - 8 < q[1])
		return -EINVAL;
	asked = q[1];
	ret = mig_data_read(mg, r->buf + 8, asked, &got);
	if (ret < 0)
		return ret;
	/* The payload is padded to the size asked for (libvfio-user's
	 * client requires it); argsz and size say how much is data. */
	memset(r->buf + 8 + got, 0, asked - got);
	q[0] = (uint32_t)(8 + got);
	q[1] = (uint32_t)got;
	memcpy(r->buf, q, sizeof(q));
	r->len = 8 + asked;
	return 0;
}

int handle_mig_data_write(struct engine *e, struct msg *m, struct reply *r)
{
	struct migration *mg = mig_of(e->ctx);
	uint32_t q[2]; /* argsz, size */

	memcpy(q, m->payload, sizeof(q));
	if (mg == NULL)
		return -ENOTSUP;
	if (m->len - 8 != q[1])
		return -EINVAL;
	return mig_data_write(mg, m->payload + 8, q[1]);
}
