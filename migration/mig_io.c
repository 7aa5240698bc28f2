/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_io: what section callbacks write and read with: bytes and
 * little-endian integers, bounds-checked on the reading side.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "mig_priv.h"
#include "mig_spill.h"

VUS_EXPORT int vus_mig_put(vus_mig_out *out, const void *data, size_t len)
{
	if (out == NULL || (data == NULL && len > 0))
		return -EINVAL;
	return mig_buf_put(out->buf, data, len);
}

VUS_EXPORT int vus_mig_put_ref(vus_mig_out *out, const void *data, size_t len)
{
	if (out == NULL || (data == NULL && len > 0))
		return -EINVAL;
	/* Small blocks are cheaper copied than sent as a piece of their own. */
	if (out->refs == NULL || len < MIG_REF_MIN)
		return mig_buf_put(out->buf, data, len);
	return mig_refs_add(out->refs, out->buf, data, len);
}

static int put_le(vus_mig_out *out, uint64_t v, size_t n)
{
	uint8_t x[8];

	for (size_t i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	return vus_mig_put(out, x, n);
}

VUS_EXPORT int vus_mig_put_u8(vus_mig_out *out, uint8_t v) { return put_le(out, v, 1); }
VUS_EXPORT int vus_mig_put_u16(vus_mig_out *out, uint16_t v) { return put_le(out, v, 2); }
VUS_EXPORT int vus_mig_put_u32(vus_mig_out *out, uint32_t v) { return put_le(out, v, 4); }
VUS_EXPORT int vus_mig_put_u64(vus_mig_out *out, uint64_t v) { return put_le(out, v, 8); }

VUS_EXPORT int vus_mig_get(vus_mig_in *in, void *data, size_t len)
{
	if (in == NULL || (data == NULL && len > 0))
		return -EINVAL;
	if (len > in->len - in->pos)
		return -EBADMSG;
	if (in->spill != NULL && len > 0) {
		int ret = mig_spill_read(in->spill, in->pos, data, len, in->len);

		if (ret < 0)
			return ret;
	} else if (len) {
		memcpy(data, in->p + in->pos, len);
	}
	in->pos += len;
	return 0;
}

static int get_le(vus_mig_in *in, uint64_t *v, size_t n)
{
	uint8_t x[8];
	int ret = vus_mig_get(in, x, n);

	if (ret < 0)
		return ret;
	*v = 0;
	for (size_t i = n; i > 0; i--)
		*v = (*v << 8) | x[i - 1];
	return 0;
}

#define GET_UINT(name, type, n)                                        \
	VUS_EXPORT int name(vus_mig_in *in, type *v)                   \
	{                                                              \
		uint64_t x;                                            \
		int ret = v ? get_le(in, &x, n) : -EINVAL;             \
		if (ret == 0)                                          \
			*v = (type)x;                                  \
		return ret;                                            \
	}

GET_UINT(vus_mig_get_u8, uint8_t, 1)
GET_UINT(vus_mig_get_u16, uint16_t, 2)
GET_UINT(vus_mig_get_u32, uint32_t, 4)
GET_UINT(vus_mig_get_u64, uint64_t, 8)

VUS_EXPORT size_t vus_mig_remaining(const vus_mig_in *in)
{
	return in ? in->len - in->pos : 0;
}

VUS_EXPORT int vus_mig_refuse(vus_mig_in *in, int err, const char *fmt, ...)
{
	va_list ap;

	if (err >= 0)
		err = -EINVAL;
	if (in != NULL && in->why != NULL && in->why_len > 0 && fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(in->why, in->why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}
