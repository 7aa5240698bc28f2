/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_dev_mig: the fuzz devices' migration state, so that DEVICE_FEATURE
 * and MIG_DATA_* reach the migration module's real code (see fuzz_dev.h).
 *
 * "fz.regs" v2: the 4 KiB register file in 1 KiB pages, sent while the
 * device runs (save_live, one page a call) and again at the stop for the
 * pages written since. Items: PAGE (tag 1, u8 index < 4, 1024 bytes) and,
 * from v2 on, one END (tag 2, u8 number of PAGEs) that must come last.
 * "fz.ctrl" v1, no live part: u8 mode (< 4) | io[256] | u32 FNV-1a of io.
 * Both checks are strict (every page present, counts and hash agree,
 * nothing left over), as a device facing an untrusted stream should be.
 *
 * The register FZ_REG_MIG makes save or save_live fail and the state
 * callback do DMA, so the error paths run too.
 */
#include <errno.h>
#include <string.h>

#include "fuzz_dev.h"
#include "fuzz_input.h"

#define PAGE_SIZE 1024u
#define NR_PAGES 4u
#define ALL_PAGES 0xfu
#define TAG_PAGE 1u
#define TAG_END 2u
#define REGS_VERSION 2u

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int put_page(struct fdev *d, vus_mig_out *out, unsigned int i)
{
	int ret = vus_mig_put_u8(out, TAG_PAGE);

	ret = ret ? ret : vus_mig_put_u8(out, (uint8_t)i);
	ret = ret ? ret : vus_mig_put(out, d->regs + i * PAGE_SIZE, PAGE_SIZE);
	if (ret == 0) {
		d->pages_sent++;
		d->page_dirty &= (uint8_t)~(1u << i);
	}
	return ret;
}

static int regs_live(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct fdev *d = o;
	int ret;

	if (d->regs[FZ_REG_MIG] & FZ_MIG_LIVE_FAIL)
		return -EIO;
	if (d->live_next >= NR_PAGES)
		return 1;
	ret = put_page(d, out, d->live_next++);
	return ret ? ret : (d->live_next == NR_PAGES);
}

/* The stop: pages not sent live or written since, then END. */
static int regs_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct fdev *d = o;
	int ret = 0;

	if (d->regs[FZ_REG_MIG] & FZ_MIG_SAVE_FAIL)
		return -EIO;
	for (unsigned int i = 0; ret == 0 && i < NR_PAGES; i++)
		if (i >= d->live_next || (d->page_dirty & (1u << i)))
			ret = put_page(d, out, i);
	ret = ret ? ret : vus_mig_put_u8(out, TAG_END);
	return ret ? ret : vus_mig_put_u8(out, (uint8_t)d->pages_sent);
}

/*
 * Walk the items; with @regs, apply the pages. 0 only for a complete,
 * consistent section: every page, and for v2 one END, last, that counts
 * the pages right.
 */
static int regs_walk(vus_mig_in *in, uint32_t version, uint8_t *regs)
{
	uint8_t page[PAGE_SIZE], tag, v;
	unsigned int seen = 0, count = 0;
	bool end = false;

	if (version == 0 || version > REGS_VERSION)
		return -EPROTONOSUPPORT;
	while (!end && vus_mig_remaining(in) > 0) {
		if (vus_mig_get_u8(in, &tag) < 0 || vus_mig_get_u8(in, &v) < 0)
			return -EBADMSG;
		if (tag == TAG_END && version >= 2) {
			if (v != count)
				return -EBADMSG;
			end = true;
			continue;
		}
		if (tag != TAG_PAGE || v >= NR_PAGES ||
		    vus_mig_get(in, page, PAGE_SIZE) < 0)
			return -EBADMSG;
		if (regs != NULL)
			memcpy(regs + v * PAGE_SIZE, page, PAGE_SIZE);
		seen |= 1u << v;
		count++;
	}
	if (seen != ALL_PAGES || (version >= 2 && !end) ||
	    vus_mig_remaining(in) > 0)
		return -EBADMSG;
	return 0;
}

static int regs_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t version)
{
	return regs_walk(in, version, NULL);
}

static int regs_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t version)
{
	return regs_walk(in, version, ((struct fdev *)o)->regs);
}

static int ctrl_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct fdev *d = o;
	int ret;

	if (d->regs[FZ_REG_MIG] & FZ_MIG_SAVE_FAIL)
		return -EIO;
	ret = vus_mig_put_u8(out, d->mig_mode);
	ret = ret ? ret : vus_mig_put(out, d->io, sizeof(d->io));
	return ret ? ret : vus_mig_put_u32(out, fnv1a(d->io, sizeof(d->io)));
}

/* Read the section whole into @mode/@io: 0 only if every field is valid. */
static int ctrl_get(vus_mig_in *in, uint32_t version, uint8_t *mode,
		    uint8_t *io, size_t io_len)
{
	uint32_t hash;

	if (version != 1)
		return -EPROTONOSUPPORT;
	if (vus_mig_remaining(in) != 1 + io_len + 4 ||
	    vus_mig_get_u8(in, mode) < 0 || vus_mig_get(in, io, io_len) < 0 ||
	    vus_mig_get_u32(in, &hash) < 0)
		return -EBADMSG;
	return *mode < 4 && hash == fnv1a(io, io_len) ? 0 : -EBADMSG;
}

static int ctrl_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t version)
{
	uint8_t mode, io[sizeof(((struct fdev *)o)->io)];

	return ctrl_get(in, version, &mode, io, sizeof(io));
}

static int ctrl_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t version)
{
	struct fdev *d = o;
	uint8_t mode, io[sizeof(d->io)];
	int ret = ctrl_get(in, version, &mode, io, sizeof(io));

	if (ret == 0) {
		d->mig_mode = mode;
		memcpy(d->io, io, sizeof(io));
	}
	return ret;
}

void fdev_mig_restart(struct fdev *d)
{
	d->live_next = 0;
	d->pages_sent = 0;
	d->page_dirty = 0;
}

/* A new save session starts from scratch once the saving group is left. */
static void state_changed(vus_ctx *ctx, void *o, enum vus_mig_state from,
			  enum vus_mig_state to)
{
	struct fdev *d = o;

	d->mig_changes++;
	if (to != VUS_MIG_PRE_COPY && to != VUS_MIG_STOP_COPY)
		fdev_mig_restart(d);
	if (d->regs[FZ_REG_MIG] & FZ_MIG_STATE_DMA) {
		uint64_t addr;
		uint8_t buf[16];

		memcpy(&addr, d->regs + FZ_REG_HOOK_ADDR, sizeof(addr));
		(void)vus_dma_read(d->ctx, addr, buf, sizeof(buf));
	}
}

int fdev_mig_setup(struct fdev *d)
{
	static const struct vus_mig_section_ops regs_ops = {
		.struct_size = sizeof(regs_ops), .save = regs_save,
		.check = regs_check, .load = regs_load, .save_live = regs_live,
	};
	static const struct vus_mig_section_ops ctrl_ops = {
		.struct_size = sizeof(ctrl_ops), .save = ctrl_save,
		.check = ctrl_check, .load = ctrl_load,
	};
	/* Small enough that a fuzz input can cross it (EFBIG). */
	const struct vus_mig_config mc = {
		.struct_size = sizeof(mc), .compat_version = 1, .pre_copy = true,
		.max_stream_size = FZ_MIG_MAX_STREAM,
	};
	int ret = vus_mig_setup(d->ctx, &mc);

	ret = ret ? ret : vus_mig_add_section(d->ctx, "fz.regs", REGS_VERSION,
					      &regs_ops, d);
	ret = ret ? ret : vus_mig_add_section(d->ctx, "fz.ctrl", 1, &ctrl_ops, d);
	return ret ? ret : vus_mig_set_state_cb(d->ctx, state_changed, d);
}
