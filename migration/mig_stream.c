/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_stream: writing and checking the migration stream (format in
 * mig_stream.h). The parser reads each field only after checking that it
 * lies inside the buffer; lengths are checked without overflow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mig_stream.h"

void mig_buf_init(struct mig_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
}

void mig_buf_free(struct mig_buf *b)
{
	mig_mem_free(b->p, b->cap);
	memset(b, 0, sizeof(*b));
}

/* Bring the running CRC up to the end of the buffer. */
static uint32_t buf_crc(struct mig_buf *b)
{
	b->crc = mig_crc32c(b->crc, b->p + b->crc_len, b->len - b->crc_len);
	b->crc_len = b->len;
	return b->crc;
}

void mig_buf_drop(struct mig_buf *b)
{
	(void)buf_crc(b);
	b->dropped += b->len;
	b->len = 0;
	b->crc_len = 0;
}

int mig_buf_put(struct mig_buf *b, const void *data, size_t len)
{
	if (len > b->limit - b->len || b->len > b->limit)
		return -EFBIG;
	if (b->len + len > b->cap) {
		size_t cap = MAX(b->cap * 2, MAX(b->len + len, (size_t)4096));
		uint8_t *n = mig_mem_resize(b->p, b->cap, MIN(cap, b->limit));

		if (n == NULL)
			return -ENOMEM;
		b->p = n;
		b->cap = MIN(cap, b->limit);
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static int put_u8(struct mig_buf *b, uint8_t v) { return mig_buf_put(b, &v, 1); }

static int put_u16(struct mig_buf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	return mig_buf_put(b, x, 2);
}

static void le32(uint8_t *x, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
}

static int put_u32(struct mig_buf *b, uint32_t v)
{
	uint8_t x[4];

	le32(x, v);
	return mig_buf_put(b, x, 4);
}

int mig_stream_header(struct mig_buf *b, const char *identity, uint32_t compat)
{
	return mig_stream_header_as(b, MIG_STREAM_MAGIC, MIG_STREAM_FORMAT,
				    identity, compat);
}

int mig_stream_header_as(struct mig_buf *b, const char *magic, uint32_t format,
			 const char *identity, uint32_t compat)
{
	size_t n = strlen(identity);
	int ret;

	if (n == 0 || n > MIG_IDENTITY_MAX)
		return -EINVAL;
	ret = mig_buf_put(b, magic, 8);
	ret = ret ? ret : put_u32(b, format);
	ret = ret ? ret : put_u32(b, compat);
	ret = ret ? ret : put_u16(b, (uint16_t)n);
	return ret ? ret : mig_buf_put(b, identity, n);
}

int mig_stream_record_begin(struct mig_buf *b, const char *name,
			    uint32_t version, size_t *rec_at)
{
	size_t n = strlen(name);
	int ret;

	if (n == 0 || n > MIG_NAME_MAX)
		return -EINVAL;
	*rec_at = b->len;
	ret = put_u8(b, MIG_REC_SECTION);
	ret = ret ? ret : put_u8(b, (uint8_t)n);
	ret = ret ? ret : mig_buf_put(b, name, n);
	ret = ret ? ret : put_u32(b, version);
	ret = ret ? ret : put_u32(b, 0);
	if (ret < 0)
		b->len = *rec_at;
	return ret;
}

/* Where the data length of the record starting at @rec_at lives. */
static size_t len_field(const struct mig_buf *b, size_t rec_at)
{
	return rec_at + 2 + b->p[rec_at + 1] + 4;
}

int mig_stream_record_end(struct mig_buf *b, size_t rec_at)
{
	return mig_stream_record_end_ref(b, rec_at, 0);
}

int mig_stream_record_end_ref(struct mig_buf *b, size_t rec_at,
			      uint64_t by_ref)
{
	size_t at = len_field(b, rec_at);
	uint64_t len = b->len - (at + 4) + by_ref;

	if (len > UINT32_MAX)
		return -EFBIG;
	le32(b->p + at, (uint32_t)len);
	return 0;
}

void mig_stream_record_drop(struct mig_buf *b, size_t rec_at)
{
	b->len = rec_at;
}

int mig_stream_end(struct mig_buf *b)
{
	int ret = put_u8(b, MIG_REC_END);

	return ret ? ret : put_u32(b, buf_crc(b));
}

/* A cursor over the buffer being parsed. */
struct cur {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static bool take(struct cur *c, void *out, size_t n)
{
	if (n > c->len - c->pos)
		return false;
	if (out != NULL)
		memcpy(out, c->p + c->pos, n);
	c->pos += n;
	return true;
}

static bool take_u32(struct cur *c, uint32_t *v)
{
	uint8_t x[4];

	if (!take(c, x, 4))
		return false;
	*v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 |
	     (uint32_t)x[3] << 24;
	return true;
}

static bool printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return n > 0;
}

static int parse_header(struct cur *c, const char *want_magic,
			uint32_t want_format, struct mig_parsed *out)
{
	uint8_t magic[8], l[2];
	uint32_t format;
	size_t n;

	if (!take(c, magic, 8) || memcmp(magic, want_magic, 8) != 0)
		return -EBADMSG;
	if (!take_u32(c, &format))
		return -EBADMSG;
	if (format != want_format)
		return -EPROTONOSUPPORT;
	if (!take_u32(c, &out->compat) || !take(c, l, 2))
		return -EBADMSG;
	n = (size_t)l[0] | (size_t)l[1] << 8;
	if (n > MIG_IDENTITY_MAX || n > c->len - c->pos ||
	    !printable(c->p + c->pos, n))
		return -EBADMSG;
	memcpy(out->identity, c->p + c->pos, n);
	out->identity[n] = '\0';
	c->pos += n;
	return 0;
}

static int add_record(struct mig_parsed *out, const struct mig_record *r,
		      unsigned int *cap)
{
	if (out->nr_rec == *cap) {
		unsigned int ncap = *cap ? *cap * 2 : 16;
		struct mig_record *n = realloc(out->rec, ncap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		out->rec = n;
		*cap = ncap;
	}
	out->rec[out->nr_rec++] = *r;
	return 0;
}

/* One section record (the kind byte was taken). */
static int parse_record(struct cur *c, struct mig_record *r)
{
	uint8_t n;

	if (!take(c, &n, 1) || n == 0 || n > MIG_NAME_MAX ||
	    n > c->len - c->pos || !printable(c->p + c->pos, n))
		return -EBADMSG;
	r->name = (const char *)c->p + c->pos;
	r->name_len = n;
	c->pos += n;
	if (!take_u32(c, &r->version) || !take_u32(c, &r->len) ||
	    r->len > c->len - c->pos)
		return -EBADMSG;
	r->data = c->p + c->pos;
	c->pos += r->len;
	return 0;
}

static int parse_records(struct cur *c, struct mig_parsed *out)
{
	unsigned int cap = 0;

	for (;;) {
		struct mig_record r;
		size_t end_at = c->pos;
		uint8_t kind;
		uint32_t crc;
		int ret;

		if (!take(c, &kind, 1))
			return -EBADMSG;
		if (kind == MIG_REC_END) {
			/* The CRC ends the stream: nothing may follow it. */
			if (!take_u32(c, &crc) || c->pos != c->len)
				return -EBADMSG;
			return crc == mig_crc32c(0, c->p, end_at + 1) ? 0 : -EBADMSG;
		}
		if (kind != MIG_REC_SECTION)
			return -EBADMSG;
		ret = parse_record(c, &r);
		if (ret == 0)
			ret = add_record(out, &r, &cap);
		if (ret < 0)
			return ret;
	}
}

int mig_stream_parse(const uint8_t *p, size_t len, struct mig_parsed *out)
{
	return mig_stream_parse_as(p, len, MIG_STREAM_MAGIC, MIG_STREAM_FORMAT,
				   out);
}

int mig_stream_parse_as(const uint8_t *p, size_t len, const char *magic,
			uint32_t format, struct mig_parsed *out)
{
	struct cur c = { .p = p, .len = len };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = parse_header(&c, magic, format, out);
	if (ret == 0)
		ret = parse_records(&c, out);
	if (ret < 0)
		mig_parsed_free(out);
	return ret;
}

void mig_parsed_free(struct mig_parsed *pp)
{
	free(pp->rec);
	pp->rec = NULL;
	pp->nr_rec = 0;
}
