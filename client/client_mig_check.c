/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_mig_check: a migration stream's framing and checksum, checked on
 * the client before it is sent, so that a truncated or damaged file is
 * named by section and offset instead of coming back from the server as
 * one errno. The format is core/mig_format.h. Pure: no connection.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "mig_format.h"
#include "vus/client_mig.h"

struct walk {
	const uint8_t *p;
	size_t len;
	size_t pos;
	unsigned int record;
	struct vus_client_mig_stream_problem pr;
};

/* Record the problem at @at; returns -EBADMSG (or @err). */
static int walk_fail(struct walk *w, size_t at, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int walk_fail(struct walk *w, size_t at, int err, const char *fmt, ...)
{
	va_list ap;

	w->pr.offset = at;
	w->pr.record = w->record;
	va_start(ap, fmt);
	vsnprintf(w->pr.what, sizeof(w->pr.what), fmt, ap);
	va_end(ap);
	return err;
}

static bool walk_has(const struct walk *w, size_t n)
{
	return n <= w->len - w->pos;
}

static int walk_header(struct walk *w)
{
	uint32_t format;
	uint16_t id_len;

	if (w->len < MIG_HEADER_FIXED)
		return walk_fail(w, 0, -EBADMSG, "truncated: %zu bytes, shorter "
				 "than a stream header", w->len);
	if (memcmp(w->p, MIG_STREAM_MAGIC, 8) != 0)
		return walk_fail(w, 0, -EBADMSG, "not a libvus migration stream "
				 "(no VUSMIG magic)");
	format = (uint32_t)le_get(w->p + 8, 4);
	if (format != MIG_STREAM_FORMAT)
		return walk_fail(w, 8, -EPROTONOSUPPORT, "stream format %u, this "
				 "client knows %u", format, MIG_STREAM_FORMAT);
	id_len = (uint16_t)le_get(w->p + 16, 2);
	w->pos = MIG_HEADER_FIXED;
	if (id_len == 0 || id_len > MIG_IDENTITY_MAX)
		return walk_fail(w, 16, -EBADMSG, "identity length %u (1 to %u)",
				 id_len, MIG_IDENTITY_MAX);
	if (!walk_has(w, id_len))
		return walk_fail(w, w->pos, -EBADMSG, "truncated in the header's "
				 "identity");
	w->pos += id_len;
	return 0;
}

/* One section record at w->pos (its kind byte already checked). */
static int walk_section(struct walk *w)
{
	size_t at = w->pos;
	uint8_t name_len;
	uint32_t data_len;

	if (!walk_has(w, 2))
		return walk_fail(w, at, -EBADMSG, "truncated in record %u's head",
				 w->record);
	name_len = w->p[at + 1];
	if (name_len == 0 || name_len > MIG_NAME_MAX)
		return walk_fail(w, at + 1, -EBADMSG, "record %u: name length %u "
				 "(1 to %u)", w->record, name_len, MIG_NAME_MAX);
	if (!walk_has(w, 2u + name_len))
		return walk_fail(w, at, -EBADMSG, "truncated in record %u's name",
				 w->record);
	memcpy(w->pr.section, w->p + at + 2, name_len);
	w->pr.section[name_len] = '\0';
	if (!walk_has(w, MIG_RECORD_FIXED + name_len))
		return walk_fail(w, at, -EBADMSG, "truncated in the record's head");
	data_len = (uint32_t)le_get(w->p + at + 2 + name_len + 4, 4);
	w->pos += MIG_RECORD_FIXED + name_len;
	if (!walk_has(w, data_len))
		return walk_fail(w, w->pos, -EBADMSG, "truncated: %u data bytes "
				 "announced, %zu left in the stream", data_len,
				 w->len - w->pos);
	w->pos += data_len;
	return 0;
}

/* The end record at w->pos: last, with the checksum of all before it. */
static int walk_end(struct walk *w)
{
	size_t at = w->pos;
	uint32_t crc;

	if (!walk_has(w, 5))
		return walk_fail(w, at, -EBADMSG, "truncated in the end record");
	if (w->len - at > 5)
		return walk_fail(w, at + 5, -EBADMSG, "%zu bytes after the end "
				 "record", w->len - at - 5);
	crc = (uint32_t)le_get(w->p + at + 1, 4);
	if (crc != mig_crc32c(0, w->p, at + 1))
		return walk_fail(w, at + 1, -EBADMSG, "checksum mismatch: bytes "
				 "changed after the stream was saved (end record: 0x%08x "
				 "recorded, 0x%08x computed over 0x%zx bytes)",
				 crc, mig_crc32c(0, w->p, at + 1), at + 1);
	return 0;
}

static int walk_records(struct walk *w)
{
	int ret = 0;

	while (ret == 0) {
		uint8_t kind;

		if (!walk_has(w, 1))
			return walk_fail(w, w->pos, -EBADMSG, "truncated: the "
					 "stream ends without its end record");
		kind = w->p[w->pos];
		w->record++;
		if (kind == MIG_REC_END) {
			w->pr.section[0] = '\0';
			return walk_end(w);
		}
		if (kind != MIG_REC_SECTION) {
			w->pr.section[0] = '\0';
			return walk_fail(w, w->pos, -EBADMSG, "record %u: unknown "
					 "kind %u", w->record, kind);
		}
		ret = walk_section(w);
	}
	return ret;
}

VUS_EXPORT int vus_client_mig_stream_check(const void *stream, size_t len,
				struct vus_client_mig_stream_problem *problem)
{
	struct walk w = { .p = stream, .len = len };
	int ret;

	if ((stream == NULL && len > 0) ||
	    (problem != NULL && sized_out_check(problem, sizeof(w.pr)) < 0))
		return -EINVAL;
	w.pr.struct_size = sizeof(w.pr);
	ret = walk_header(&w);
	if (ret == 0)
		ret = walk_records(&w);
	if (ret < 0 && problem != NULL)
		copy_sized_out(problem, &w.pr, sizeof(w.pr));
	return ret;
}
