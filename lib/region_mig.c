/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * region_mig: the "regions" migration section, the contents of the memory
 * the library allocated for regions (VUS_BACKING_MEM, unless opted out).
 * The guest writes that memory through its own mapping, unseen by us, so
 * it is sent whole once the device has stopped, from where it is (it
 * lives as long as the context, and the stopped guest leaves it alone).
 * Layout (version 1):
 * u32 count, then per region u32 index, u64 size and its bytes, in index
 * order. A destination takes only the same regions with the same sizes.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "log.h"
#include "region_table.h"
#include "vus/migration.h"

static uint32_t mig_count(const struct region_table *rt)
{
	uint32_t n = 0;
	uint64_t size;

	for (uint32_t i = 0; i < REGION_MAX_INDEX; i++)
		n += region_migrates(rt, i, &size);
	return n;
}

uint64_t region_mig_bytes(const struct region_table *rt)
{
	uint64_t n = 4, size;

	for (uint32_t i = 0; i < REGION_MAX_INDEX; i++)
		if (region_migrates(rt, i, &size))
			n += 4 + 8 + size;
	return n;
}

static int region_mig_save(vus_ctx *ctx, void *opaque, vus_mig_out *out)
{
	struct region_table *rt = opaque;
	int ret = vus_mig_put_u32(out, mig_count(rt));
	uint64_t size;

	for (uint32_t i = 0; ret == 0 && i < REGION_MAX_INDEX; i++) {
		if (!region_migrates(rt, i, &size))
			continue;
		ret = vus_mig_put_u32(out, i);
		if (ret == 0)
			ret = vus_mig_put_u64(out, size);
		if (ret == 0)
			ret = vus_mig_put_ref(out, region_mem(rt, i),
					      (size_t)size);
	}
	return ret;
}

/* Pass over @len bytes (check() must not touch the memory yet). */
static int skip(vus_mig_in *in, uint64_t len)
{
	uint8_t scratch[4096];
	int ret = 0;

	while (ret == 0 && len > 0) {
		size_t n = len < sizeof(scratch) ? (size_t)len : sizeof(scratch);

		ret = vus_mig_get(in, scratch, n);
		len -= n;
	}
	return ret;
}

/*
 * Walk the section; with @apply copy each region's bytes in. Without it
 * nothing changes: the same regions, in index order, the same sizes.
 */
static int walk(vus_ctx *ctx, struct region_table *rt, vus_mig_in *in,
		bool apply)
{
	uint32_t n, index, prev = 0;
	uint64_t size, here;
	int ret = vus_mig_get_u32(in, &n);

	if (ret == 0 && n != mig_count(rt)) {
		log_msg(ctx_log(ctx), VUS_LOG_ERR, "regions: %" PRIu32
			" migrated regions in the stream, %" PRIu32 " here", n,
			mig_count(rt));
		return -EINVAL;
	}
	for (uint32_t k = 0; ret == 0 && k < n; k++, prev = index + 1) {
		ret = vus_mig_get_u32(in, &index);
		if (ret == 0)
			ret = vus_mig_get_u64(in, &size);
		if (ret < 0)
			break;
		if (index < prev || !region_migrates(rt, index, &here) ||
		    size != here) {
			log_msg(ctx_log(ctx), VUS_LOG_ERR, "regions: region %"
				PRIu32 " (0x%" PRIx64 " bytes) does not match "
				"this device's migrated memory", index, size);
			return -EINVAL;
		}
		if (vus_mig_remaining(in) < size)
			return -EBADMSG;
		ret = apply && !region_load_skips(rt, index)
			? vus_mig_get(in, region_mem(rt, index), (size_t)size)
			: skip(in, size);
	}
	if (ret == 0 && vus_mig_remaining(in) != 0)
		ret = -EBADMSG;
	return ret;
}

static int region_mig_check(vus_ctx *ctx, void *opaque, vus_mig_in *in,
			    uint32_t version)
{
	return walk(ctx, opaque, in, false);
}

static int region_mig_load(vus_ctx *ctx, void *opaque, vus_mig_in *in,
			   uint32_t version)
{
	return walk(ctx, opaque, in, true);
}

const struct vus_mig_section_ops region_mig_ops = {
	.struct_size = sizeof(region_mig_ops),
	.save = region_mig_save,
	.check = region_mig_check,
	.load = region_mig_load,
};
