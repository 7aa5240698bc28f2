/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig: the migration of one device: its sections, the state machine's
 * current state and the session in progress.
 *
 * Stopped states (STOP, STOP_COPY, RESUMING, ERROR) keep a quiesce
 * reference on the device, so it stays quiet across many commands; the
 * running ones drop it. A save session begins in PRE_COPY (live parts of
 * sections, on demand) or STOP_COPY and ends when the saving group is left.
 * A resume session parses the stream as it comes and stages each
 * section's bytes (mig_load.c: in memory, or on disk in the stage
 * directory, mig_spill.c); leaving RESUMING checks it (format, CRC,
 * identity, compatibility version, every section known and accepted by
 * its check callback) before any section is loaded, so a bad stream never
 * half-applies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "device.h"
#include "dma_table.h"
#include "log.h"
#include "mig.h"
#include "mig_fsm.h"
#include "mig_priv.h"
#include "mig_spill.h"

#define MIG_DEFAULT_MAX_STREAM (64ull << 20)
#define MIG_DEFAULT_STAGE_MEM (256ull << 20)
#define MIG_DEFAULT_STAGE_DISK (4ull << 30)
/* What a save session may grow to before the client reads it. */
#define MIG_OUT_LIMIT (1ull << 30)

struct migration *mig_of(vus_ctx *ctx)
{
	return ctx ? ctx_mig(ctx) : NULL;
}

uint32_t mig_flags(const struct migration *m)
{
	return MIG_F_STOP_COPY | (m->cfg.pre_copy ? MIG_F_PRE_COPY : 0) |
	       (m->cfg.p2p ? MIG_F_P2P : 0);
}

uint32_t mig_state(const struct migration *m)
{
	return m->state;
}

static void end_save(struct migration *m)
{
	mig_buf_free(&m->out);
	mig_refs_free(&m->refs);
	m->out_pos = 0;
	m->save_open = false;
	m->final_done = false;
	for (unsigned int i = 0; i < m->nr_sec; i++)
		m->sec[i].live_done = false;
}

static int begin_save(struct migration *m)
{
	char id[MIG_IDENTITY_MAX + 1];

	end_save(m);
	mig_buf_init(&m->out, MIG_OUT_LIMIT);
	mig_identity(m, id, sizeof(id));
	m->save_open = true;
	return mig_stream_header(&m->out, id, m->cfg.compat_version);
}

/* STOP_COPY: every section's final part, then the end record. */
static int save_final(struct migration *m)
{
	int ret = 0;

	if (m->final_done)
		return 0;
	m->last_final_size = 0;
	for (unsigned int i = 0; ret == 0 && i < m->nr_sec; i++)
		ret = mig_save_section(m, &m->sec[i], false);
	if (ret == 0) {
		mig_refs_crc(&m->refs, &m->out);
		ret = mig_stream_end(&m->out);
	}
	if (ret == 0)
		m->final_done = true;
	return ret;
}

/* The device stops or runs again as the state says. */
static void hold_for(struct migration *m, uint32_t next)
{
	struct device *dev = ctx_device(m->ctx);

	if (mig_fsm_stopped(next) && !m->holding) {
		/* The engine quiesced the device for this command already. */
		(void)device_quiesce(dev);
		m->holding = true;
	} else if (!mig_fsm_stopped(next) && m->holding) {
		m->holding = false;
		device_resume(dev);
	}
}

/* Run the one arc cur -> next. */
static int do_arc(struct migration *m, uint32_t next)
{
	uint32_t cur = m->state;
	int ret = 0;

	if (!mig_fsm_saving(cur) && mig_fsm_saving(next))
		ret = begin_save(m);
	if (ret == 0 && next == VUS_MIG_STOP_COPY)
		ret = save_final(m);
	if (ret == 0 && next == VUS_MIG_RESUMING)
		ret = mig_load_begin(m);
	if (ret == 0 && cur == VUS_MIG_RESUMING)
		ret = mig_load_finish(m);
	if (ret < 0)
		return ret;
	if (mig_fsm_saving(cur) && !mig_fsm_saving(next))
		end_save(m);
	hold_for(m, next);
	m->state = next;
	if (m->state_fn != NULL)
		m->state_fn(m->ctx, m->state_opaque, (enum vus_mig_state)cur,
			    (enum vus_mig_state)next);
	return 0;
}

int mig_set_state(struct migration *m, uint32_t target)
{
	uint32_t flags = mig_flags(m);

	if (target >= MIG_NR_STATES)
		return -EINVAL;
	while (m->state != target) {
		uint32_t next;
		int ret = mig_fsm_next(m->state, target, flags, &next);

		if (ret < 0)
			return ret;
		ret = do_arc(m, next);
		if (ret < 0) {
			log_msg(ctx_log(m->ctx), VUS_LOG_WARNING,
				"migration: %u -> %u failed: %s", m->state, next,
				strerror(-ret));
			/* A stream that did not load, or a save that failed. */
			end_save(m);
			mig_load_end(m);
			hold_for(m, VUS_MIG_ERROR);
			m->state = VUS_MIG_ERROR;
			return ret;
		}
	}
	return 0;
}

/* PRE_COPY: live parts until some bytes are there or nothing is left. */
static int produce_live(struct migration *m)
{
	for (unsigned int i = 0; i < m->nr_sec; i++) {
		struct mig_section *s = &m->sec[i];
		int ret;

		if (s->live_done || s->ops.save_live == NULL)
			continue;
		ret = mig_save_section(m, s, true);
		if (ret < 0)
			return ret;
		if (m->out.len > m->out_pos)
			return 0;
	}
	return 0;
}

/* Everything produced so far has been read. */
static bool all_sent(const struct migration *m)
{
	return m->out_pos == m->out.len && m->refs.next == m->refs.nr;
}

/*
 * The next piece from the read position, at most @len bytes: a
 * referenced block, or buffered bytes up to the next block. 0 at the end
 * of what was produced. Nothing is produced here.
 */
static size_t next_piece(struct migration *m, size_t len, const uint8_t **data)
{
	struct mig_refs *r = &m->refs;
	size_t n, upto;

	if (r->next < r->nr && m->out_pos == r->v[r->next].at) {
		const struct mig_ref *f = &r->v[r->next];

		n = MIN(len, f->len - r->off);
		*data = f->p + r->off;
		r->off += n;
		r->sent += n;
		if (r->off == f->len) {
			r->next++;
			r->off = 0;
		}
		return n;
	}
	upto = r->next < r->nr ? r->v[r->next].at : m->out.len;
	n = MIN(len, upto - m->out_pos);
	*data = m->out.p + m->out_pos;
	m->out_pos += n;
	return n;
}

int mig_data_gather(struct migration *m, size_t len, struct iovec *iov,
		    unsigned int max, unsigned int *n, size_t *got)
{
	const uint8_t *data;
	size_t k;
	int ret = 0;

	*n = 0;
	*got = 0;
	if (!mig_fsm_saving(m->state) || !m->save_open)
		return -EINVAL;
	if (all_sent(m) && m->state != VUS_MIG_STOP_COPY)
		ret = produce_live(m);
	if (ret < 0)
		return ret;
	while (*n < max && *got < len &&
	       (k = next_piece(m, len - *got, &data)) > 0) {
		iov[(*n)++] = (struct iovec){ (void *)data, k };
		*got += k;
	}
	/* All sent: reuse the buffer rather than let pre-copy pile up (its
	 * bytes stay where they are until the next production, which only
	 * a later call makes). */
	if (all_sent(m)) {
		mig_buf_drop(&m->out);
		mig_refs_clear(&m->refs);
		m->out_pos = 0;
	}
	return 0;
}

int mig_data_read(struct migration *m, void *buf, size_t len, size_t *got)
{
	struct iovec iov[8];
	unsigned int n;
	size_t k;
	int ret;

	*got = 0;
	do {
		ret = mig_data_gather(m, len - *got, iov, ARRAY_SIZE(iov), &n, &k);
		for (unsigned int i = 0; ret == 0 && i < n; i++) {
			memcpy((uint8_t *)buf + *got, iov[i].iov_base,
			       iov[i].iov_len);
			*got += iov[i].iov_len;
		}
	} while (ret == 0 && k > 0 && *got < len);
	return ret;
}

int mig_data_write(struct migration *m, const void *buf, size_t len)
{
	if (m->state != VUS_MIG_RESUMING)
		return -EINVAL;
	return mig_load_write(m, buf, len);
}

uint64_t mig_data_size(struct migration *m)
{
	uint64_t unread = m->save_open ? m->out.len - m->out_pos +
				  m->refs.bytes - m->refs.sent : 0;

	if (m->state == VUS_MIG_STOP_COPY)
		return unread;
	return unread + m->last_final_size;
}

void mig_reset(struct migration *m)
{
	uint32_t was;

	if (m == NULL)
		return;
	/* A new client starts without logging. */
	dma_log_stop(ctx_dma(m->ctx));
	end_save(m);
	mig_load_end(m);
	hold_for(m, VUS_MIG_RUNNING);
	was = m->state;
	m->state = VUS_MIG_RUNNING;
	/* A device that stopped its backend in STOP starts it again. */
	if (was != VUS_MIG_RUNNING && m->state_fn != NULL)
		m->state_fn(m->ctx, m->state_opaque, (enum vus_mig_state)was,
			    VUS_MIG_RUNNING);
}

void mig_destroy(struct migration *m)
{
	if (m == NULL)
		return;
	end_save(m);
	mig_load_end(m);
	close_fd(&m->stage_dirfd);
	free(m->stage_dir);
	free(m->sec);
	free(m);
}

/* Public API. */

/* Where a load stages what memory does not take; the defaults. */
static int stage_setup(struct migration *m)
{
	struct vus_mig_config *c = &m->cfg;

	m->stage_dirfd = -1;
	if (c->stage_disk_max == 0)
		c->stage_disk_max = MIG_DEFAULT_STAGE_DISK;
	if (c->stage_mem_max == 0)
		c->stage_mem_max = c->stage_dir ? MIG_DEFAULT_STAGE_MEM : UINT64_MAX;
	if (c->stage_dir == NULL)
		return 0;
	m->stage_dir = strdup(c->stage_dir);
	if (m->stage_dir == NULL)
		return -ENOMEM;
	c->stage_dir = m->stage_dir;
	m->stage_dirfd = mig_spill_dir_open(m->ctx, m->stage_dir);
	if (m->stage_dirfd < 0) {
		int err = m->stage_dirfd;

		free(m->stage_dir);
		return err;
	}
	return 0;
}

VUS_EXPORT int vus_mig_setup(vus_ctx *ctx, const struct vus_mig_config *cfg)
{
	struct migration *m;
	int ret;

	if (ctx == NULL || cfg == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	if (ctx_mig(ctx) != NULL)
		return -EEXIST;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	if (copy_sized(&m->cfg, sizeof(m->cfg), cfg) < 0) {
		free(m);
		return -EINVAL;
	}
	if (m->cfg.max_stream_size == 0)
		m->cfg.max_stream_size = MIG_DEFAULT_MAX_STREAM;
	m->ctx = ctx;
	ret = stage_setup(m);
	if (ret < 0) {
		free(m);
		return ret;
	}
	m->state = VUS_MIG_RUNNING;
	ctx_set_mig(ctx, m);
	return 0;
}

VUS_EXPORT enum vus_mig_state vus_mig_state(vus_ctx *ctx)
{
	struct migration *m = mig_of(ctx);

	return m ? (enum vus_mig_state)m->state : VUS_MIG_RUNNING;
}

VUS_EXPORT bool vus_mig_state_stopped(enum vus_mig_state state)
{
	return mig_fsm_stopped((uint32_t)state);
}

VUS_EXPORT int vus_mig_set_state_cb(vus_ctx *ctx, vus_mig_state_fn *fn,
				    void *opaque)
{
	struct migration *m = mig_of(ctx);

	if (m == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	m->state_fn = fn;
	m->state_opaque = opaque ? opaque : vus_ctx_opaque(ctx);
	return 0;
}
