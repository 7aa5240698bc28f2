/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The migration stream format: round trip, and a destination that refuses
 * every truncation and every single-bit corruption of a stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mig_stream.h"
#include "vtest.h"

static void crc32c_check_value(void **state)
{
	(void)state;
	/* The standard CRC-32C check value. */
	assert_int_equal(mig_crc32c(0, "123456789", 9), 0xe3069283u);
	/* Incremental computation gives the same result. */
	assert_int_equal(mig_crc32c(mig_crc32c(0, "1234", 4), "56789", 5),
			 0xe3069283u);
}

/* The instruction path agrees with the table at every length and offset. */
static void crc32c_fast_matches_table(void **state)
{
	uint8_t buf[300];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 7)
			assert_int_equal(mig_crc32c(0x1234u, buf + off, len),
					 mig_crc32c_table(0x1234u, buf + off, len));
}

/*
 * Long buffers run three chains and join them (crc32c.c): lengths at and
 * around a three-block step (24 KiB) and several steps, at odd offsets.
 */
static void crc32c_three_chains_match_table(void **state)
{
	static const size_t lens[] = { 24575, 24576, 24577, 3 * 24576 + 13 };
	size_t n = 4 * 24576 + 16;
	uint8_t *buf = malloc(n);
	uint64_t x = 0x2545f4914f6cdd1dull;

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t off = 0; off < 3; off++)
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
			assert_int_equal(mig_crc32c(0xfeedu, buf + off, lens[k]),
					 mig_crc32c_table(0xfeedu, buf + off,
							  lens[k]));
	free(buf);
}

/*
 * A writer that sends and drops as it goes produces the same stream as
 * one that keeps everything: the end record's CRC covers the dropped part.
 */
static void dropping_sent_bytes_keeps_the_stream(void **state)
{
	struct mig_buf whole, part;
	uint8_t *sent = malloc(1 << 16);
	size_t n = 0, at;
	struct mig_parsed pp;

	(void)state;
	mig_buf_init(&whole, 1 << 16);
	mig_buf_init(&part, 1 << 16);
	for (int pass = 0; pass < 2; pass++) {
		struct mig_buf *b = pass ? &part : &whole;

		assert_int_equal(mig_stream_header(b, "pci:1:2", 1), 0);
		for (int r = 0; r < 5; r++) {
			char data[100];

			memset(data, 'a' + r, sizeof(data));
			assert_int_equal(mig_stream_record_begin(b, "s", 1, &at), 0);
			assert_int_equal(mig_buf_put(b, data, sizeof(data) - (size_t)r), 0);
			assert_int_equal(mig_stream_record_end(b, at), 0);
			if (pass) { /* "sent": copied out, then dropped */
				memcpy(sent + n, b->p, b->len);
				n += b->len;
				mig_buf_drop(b);
			}
		}
		assert_int_equal(mig_stream_end(b), 0);
	}
	memcpy(sent + n, part.p, part.len);
	n += part.len;
	assert_int_equal(n, whole.len);
	assert_memory_equal(sent, whole.p, n);
	assert_int_equal(part.dropped + part.len, n);
	assert_int_equal(mig_stream_parse(sent, n, &pp), 0);
	assert_int_equal(pp.nr_rec, 5);
	mig_parsed_free(&pp);
	mig_buf_free(&whole);
	mig_buf_free(&part);
	free(sent);
}

static void build(struct mig_buf *b)
{
	size_t at;

	mig_buf_init(b, 1 << 20);
	assert_int_equal(mig_stream_header(b, "pci:494f:0dc8", 3), 0);
	assert_int_equal(mig_stream_record_begin(b, "idio16", 1, &at), 0);
	assert_int_equal(mig_buf_put(b, "\x5a\x00\xc3\xa5", 4), 0);
	assert_int_equal(mig_stream_record_end(b, at), 0);
	assert_int_equal(mig_stream_record_begin(b, "empty", 2, &at), 0);
	assert_int_equal(mig_stream_record_end(b, at), 0);
	assert_int_equal(mig_stream_record_begin(b, "idio16", 1, &at), 0);
	assert_int_equal(mig_buf_put(b, "tail", 4), 0);
	assert_int_equal(mig_stream_record_end(b, at), 0);
	/* A record begun and dropped leaves no trace. */
	assert_int_equal(mig_stream_record_begin(b, "dropped", 1, &at), 0);
	assert_int_equal(mig_buf_put(b, "xyz", 3), 0);
	mig_stream_record_drop(b, at);
	assert_int_equal(mig_stream_end(b), 0);
}

static void round_trip(void **state)
{
	struct mig_parsed pp;
	struct mig_buf b;

	(void)state;
	build(&b);
	assert_int_equal(mig_stream_parse(b.p, b.len, &pp), 0);
	assert_string_equal(pp.identity, "pci:494f:0dc8");
	assert_int_equal(pp.compat, 3);
	assert_int_equal(pp.nr_rec, 3);
	assert_int_equal(pp.rec[0].name_len, 6);
	assert_memory_equal(pp.rec[0].name, "idio16", 6);
	assert_int_equal(pp.rec[0].len, 4);
	assert_memory_equal(pp.rec[0].data, "\x5a\x00\xc3\xa5", 4);
	assert_int_equal(pp.rec[1].len, 0);
	assert_int_equal(pp.rec[1].version, 2);
	assert_memory_equal(pp.rec[2].data, "tail", 4);
	mig_parsed_free(&pp);
	mig_buf_free(&b);
}

static void every_truncation_is_refused(void **state)
{
	struct mig_parsed pp;
	struct mig_buf b;

	(void)state;
	build(&b);
	for (size_t n = 0; n < b.len; n++)
		if (mig_stream_parse(b.p, n, &pp) != -EBADMSG)
			fail_msg("a stream cut to %zu of %zu bytes was accepted", n, b.len);
	mig_buf_free(&b);
}

static void every_bit_flip_is_refused(void **state)
{
	struct mig_parsed pp;
	struct mig_buf b;

	(void)state;
	build(&b);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int ret;

			b.p[i] ^= (uint8_t)(1u << bit);
			ret = mig_stream_parse(b.p, b.len, &pp);
			b.p[i] ^= (uint8_t)(1u << bit);
			/* The format word may say "another version" instead. */
			if (ret != -EBADMSG && ret != -EPROTONOSUPPORT)
				fail_msg("bit %d of byte %zu flipped: %d", bit, i, ret);
		}
	}
	mig_buf_free(&b);
}

static void trailing_bytes_and_limits(void **state)
{
	struct mig_parsed pp;
	struct mig_buf b, small;
	size_t at;

	(void)state;
	build(&b);
	assert_int_equal(mig_buf_put(&b, "!", 1), 0);
	assert_int_equal(mig_stream_parse(b.p, b.len, &pp), -EBADMSG);
	mig_buf_free(&b);
	/* The writer stops at its limit. */
	mig_buf_init(&small, 50); /* the header and a record head fit */
	assert_int_equal(mig_stream_header(&small, "sysbus:ns16550a", 1), 0);
	assert_int_equal(mig_stream_record_begin(&small, "uart", 1, &at), 0);
	assert_int_equal(mig_buf_put(&small, "0123456789abcdef", 16), -EFBIG);
	mig_buf_free(&small);
	/* Identities and names are bounded and printable. */
	mig_buf_init(&small, 4096);
	assert_int_equal(mig_stream_header(&small, "", 1), -EINVAL);
	assert_int_equal(mig_stream_record_begin(&small, "", 1, &at), -EINVAL);
	mig_buf_free(&small);
}

/* 63-character names and 255-character identities, and one more. */
static void names_and_identities_at_their_longest(void **state)
{
	char name[MIG_NAME_MAX + 2], id[MIG_IDENTITY_MAX + 2];
	struct mig_parsed pp;
	struct mig_buf b;
	size_t at;

	(void)state;
	memset(name, 'n', sizeof(name));
	memset(id, 'i', sizeof(id));
	name[MIG_NAME_MAX + 1] = id[MIG_IDENTITY_MAX + 1] = '\0';
	mig_buf_init(&b, 4096);
	assert_int_equal(mig_stream_header(&b, id, 1), -EINVAL);
	assert_int_equal(mig_stream_record_begin(&b, name, 1, &at), -EINVAL);
	name[MIG_NAME_MAX] = id[MIG_IDENTITY_MAX] = '\0';
	assert_int_equal(mig_stream_header(&b, id, 1), 0);
	assert_int_equal(mig_stream_record_begin(&b, name, 1, &at), 0);
	assert_int_equal(mig_stream_record_end(&b, at), 0);
	assert_int_equal(mig_stream_end(&b), 0);
	assert_int_equal(mig_stream_parse(b.p, b.len, &pp), 0);
	assert_int_equal(strlen(pp.identity), MIG_IDENTITY_MAX);
	assert_int_equal(pp.rec[0].name_len, MIG_NAME_MAX);
	mig_parsed_free(&pp);
	mig_buf_free(&b);
}

/* A stream written by hand: an identity of @id bytes, one record whose
 * name is @n bytes long. */
static size_t hand_stream(uint8_t *p, uint16_t id, uint8_t n)
{
	static const uint8_t head[] = { 'V', 'U', 'S', 'M', 'I', 'G', 0, 1,
					1, 0, 0, 0, 1, 0, 0, 0 };
	size_t len = 0;
	uint32_t crc;

	memcpy(p, head, sizeof(head));
	len = sizeof(head);
	p[len++] = (uint8_t)id;
	p[len++] = (uint8_t)(id >> 8);
	memset(p + len, 'x', id);
	len += id;
	p[len++] = 1;       /* a section record */
	p[len++] = n;
	memset(p + len, 'a', n);
	len += n;
	memset(p + len, 0, 8); /* version 1, no data */
	p[len] = 1;
	len += 8;
	p[len++] = 2;       /* the end */
	crc = mig_crc32c(0, p, len);
	memcpy(p + len, &crc, 4);
	return len + 4;
}

static void parsed_names_and_identities(void **state)
{
	uint8_t p[1024];
	struct mig_parsed pp;

	(void)state;
	assert_int_equal(mig_stream_parse(p, hand_stream(p, 1, MIG_NAME_MAX), &pp), 0);
	assert_int_equal(pp.rec[0].name_len, MIG_NAME_MAX);
	mig_parsed_free(&pp);
	assert_int_equal(mig_stream_parse(p, hand_stream(p, 1, MIG_NAME_MAX + 1),
					  &pp), -EBADMSG);
	assert_int_equal(mig_stream_parse(p, hand_stream(p, 1, 0), &pp), -EBADMSG);
	assert_int_equal(mig_stream_parse(p, hand_stream(p, MIG_IDENTITY_MAX, 1),
					  &pp), 0);
	assert_int_equal(strlen(pp.identity), MIG_IDENTITY_MAX);
	mig_parsed_free(&pp);
	assert_int_equal(mig_stream_parse(p, hand_stream(p, MIG_IDENTITY_MAX + 1, 1),
					  &pp), -EBADMSG);
}

/* A writer limited to @n bytes takes exactly @n. */
static void writer_limit_exactly(void **state)
{
	struct mig_buf b;

	(void)state;
	mig_buf_init(&b, 100);
	assert_int_equal(mig_buf_put(&b, "0123456789", 10), 0);
	for (int i = 1; i < 9; i++)
		assert_int_equal(mig_buf_put(&b, "0123456789", 10), 0);
	assert_int_equal(mig_buf_put(&b, "012345678", 9), 0);
	assert_int_equal(mig_buf_put(&b, "0", 2), -EFBIG);
	assert_int_equal(mig_buf_put(&b, "0", 1), 0);
	assert_int_equal(b.len, 100);
	assert_int_equal(mig_buf_put(&b, "0", 1), -EFBIG);
	mig_buf_free(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(crc32c_check_value),
		VTEST(crc32c_fast_matches_table),
		VTEST(crc32c_three_chains_match_table),
		VTEST(dropping_sent_bytes_keeps_the_stream),
		VTEST(round_trip),
		VTEST(every_truncation_is_refused),
		VTEST(every_bit_flip_is_refused),
		VTEST(trailing_bytes_and_limits),
		VTEST(names_and_identities_at_their_longest),
		VTEST(parsed_names_and_identities),
		VTEST(writer_limit_exactly),
	};

	return vtest_run("mig_stream", tests, argc, argv);
}
