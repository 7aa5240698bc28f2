/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A STOP_COPY save that refers to the device's large blocks
 * (vus_mig_put_ref) instead of copying them, end to end over a real
 * socket: the stream is byte for byte the one a copying save writes,
 * whatever the client's read sizes (1 byte, odd sizes, reads spanning
 * many blocks); leaving STOP_COPY or a reset in the middle of the reads
 * ends the session and the next save starts over; blocks from 64 KiB on
 * are sent from where they are (a change after the stop shows, and the
 * destination refuses the stream), smaller ones are copied.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"
#include "vus.h"
#include "vus/client.h"

#define BLK (64u << 10)  /* referenced from this size on */
#define NR_BLK 20u       /* each after a 1-byte put: 40 pieces per MiB */
#define SMALL (BLK - 1)  /* one byte short: copied */
#define TAIL 300001u
#define BIG_SIZE (NR_BLK * BLK + SMALL + TAIL)

struct dev {
	vus_ctx *ctx;
	pthread_t th;
	vus_client *c;
	bool copy;        /* vus_mig_put for everything */
	uint64_t counter;
	uint8_t *big;
};

static int blocks_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct dev *d = o;
	int (*put)(vus_mig_out *, const void *, size_t) =
		d->copy ? vus_mig_put : vus_mig_put_ref;
	size_t at = NR_BLK * BLK;
	int ret = vus_mig_put_u64(out, d->counter);

	for (unsigned int i = 0; ret == 0 && i < NR_BLK; i++) {
		ret = vus_mig_put_u8(out, (uint8_t)i);
		ret = ret ? ret : put(out, d->big + i * BLK, BLK);
	}
	ret = ret ? ret : put(out, d->big + at, SMALL);
	return ret ? ret : put(out, d->big + at + SMALL, TAIL);
}

static int blocks_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	struct dev *d = o;
	size_t at = NR_BLK * BLK;
	uint8_t k;
	int ret;

	if (vus_mig_remaining(in) != 8 + NR_BLK + BIG_SIZE)
		return -EBADMSG;
	ret = vus_mig_get_u64(in, &d->counter);
	for (unsigned int i = 0; ret == 0 && i < NR_BLK; i++) {
		ret = vus_mig_get_u8(in, &k);
		ret = ret ? ret : vus_mig_get(in, d->big + i * BLK, BLK);
	}
	return ret ? ret : vus_mig_get(in, d->big + at, SMALL + TAIL);
}

static int blocks_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return vus_mig_remaining(in) == 8 + NR_BLK + BIG_SIZE ? 0 : -EBADMSG;
}

static int bar_read(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	memset(buf, 0, len);
	return 0;
}

static void dev_start(struct dev *d, bool copy)
{
	static const struct vus_region_ops bar_ops = {
		.struct_size = sizeof(bar_ops), .read = bar_read };
	static const struct vus_mig_section_ops ops = {
		.struct_size = sizeof(ops), .save = blocks_save,
		.check = blocks_check, .load = blocks_load };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg), .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id), .vendor_id = 0xcafe,
				   .device_id = 0x0042 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 0x1000,
		.flags = VUS_REGION_READ, .ops = &bar_ops };
	struct vus_mig_config mc = { .struct_size = sizeof(mc), .compat_version = 1 };

	memset(d, 0, sizeof(*d));
	d->copy = copy;
	d->big = calloc(1, BIG_SIZE);
	assert_non_null(d->big);
	cfg.opaque = d;
	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(d->ctx, &id), 0);
	assert_int_equal(vus_pci_setup_bar(d->ctx, 0, 0, &bar), 0);
	assert_int_equal(vus_mig_setup(d->ctx, &mc), 0);
	assert_int_equal(vus_mig_add_section(d->ctx, "blocks", 1, &ops, d), 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
	d->c = tc_serve(d->ctx, &d->th);
}

static void dev_stop(struct dev *d)
{
	tc_serve_end(d->c, d->th);
	vus_ctx_destroy(d->ctx);
	free(d->big);
}

static void fill(struct dev *d, uint64_t counter, uint8_t seed)
{
	d->counter = counter;
	for (size_t i = 0; i < BIG_SIZE; i++)
		d->big[i] = (uint8_t)(i * 13 + seed + i / 4099);
}

/* The whole stream as the client library saves it (reads of 16 KiB..1 MiB). */
static uint8_t *save_all(struct dev *d, uint64_t *size)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	uint8_t *s;

	assert_true(fd >= 0);
	assert_int_equal(vus_client_mig_save(d->c, fd, size), 0);
	s = malloc(*size);
	assert_non_null(s);
	assert_int_equal(pread(fd, s, *size, 0), (ssize_t)*size);
	close(fd);
	assert_int_equal(vus_client_mig_set_state(d->c, VUS_MIG_RUNNING), 0);
	return s;
}

/* The stream a copying save writes for the state (@counter, @seed). */
static uint8_t *reference(uint64_t counter, uint8_t seed, uint64_t *size)
{
	struct dev c;
	uint8_t *s;

	dev_start(&c, true);
	fill(&c, counter, seed);
	s = save_all(&c, size);
	dev_stop(&c);
	return s;
}

/* Read the rest of the stream (in STOP_COPY) with read sizes @sizes[]. */
static size_t read_rest(struct dev *d, uint8_t *buf, size_t cap,
			const size_t *sizes, size_t nr)
{
	size_t len = 0, got;

	for (size_t i = 0;; i++) {
		size_t want = sizes[i % nr];

		assert_true(len + want <= cap);
		assert_int_equal(vus_client_mig_read(d->c, buf + len, want, &got), 0);
		len += got;
		if (got < want)
			return len;
	}
}

static void load_into_new(const uint8_t *s, uint64_t size, uint64_t counter,
			  uint8_t seed)
{
	struct dev b, want;
	int fd = memfd_create("stream", MFD_CLOEXEC);

	assert_int_equal(pwrite(fd, s, size, 0), (ssize_t)size);
	dev_start(&b, false);
	dev_start(&want, false);
	fill(&want, counter, seed);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	assert_int_equal(b.counter, counter);
	assert_memory_equal(b.big, want.big, BIG_SIZE);
	close(fd);
	dev_stop(&want);
	dev_stop(&b);
}

/* A device in the state (@counter, @seed), stopped (STOP_COPY) to save. */
static void dev_stopped(struct dev *d, uint64_t counter, uint8_t seed)
{
	dev_start(d, false);
	fill(d, counter, seed);
	assert_int_equal(vus_client_mig_set_state(d->c, VUS_MIG_STOP_COPY), 0);
}

/* A whole new save of @d is @ref (@size bytes), byte for byte. */
static void saves_as(struct dev *d, const uint8_t *ref, uint64_t size)
{
	uint64_t got;
	uint8_t *s = save_all(d, &got);

	assert_int_equal(got, size);
	assert_memory_equal(s, ref, size);
	free(s);
}

static void stream_is_the_same_in_any_read_sizes(void **state)
{
	static const size_t sizes[] = { 1, 2, BLK, 3, 4093, 1u << 20, BLK + 1,
					7, 200003, 1 };
	uint64_t size;
	uint8_t *ref = reference(5, 3, &size), *buf = malloc(size + (2u << 20));
	struct dev a;

	assert_non_null(buf);
	assert_int_equal(vus_client_mig_stream_check(ref, size, NULL), 0);
	dev_stopped(&a, 5, 3);
	assert_int_equal(read_rest(&a, buf, size + (2u << 20), sizes,
				   sizeof(sizes) / sizeof(sizes[0])), size);
	assert_memory_equal(buf, ref, size);
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	/* Whole-MiB reads: many blocks in each reply. */
	saves_as(&a, ref, size);
	load_into_new(ref, size, 5, 3);
	dev_stop(&a);
	free(buf);
	free(ref);
}

/* Leaving STOP_COPY mid-stream ends the session; the next one starts over. */
static void leaving_stop_copy_mid_read_starts_over(void **state)
{
	uint64_t size;
	uint8_t *ref = reference(9, 77, &size), buf[100000];
	struct dev a;
	size_t got;

	dev_stopped(&a, 1, 1);
	assert_int_equal(vus_client_mig_read(a.c, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, sizeof(buf));
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	assert_int_equal(vus_client_mig_read(a.c, buf, 1, &got), -EINVAL);
	fill(&a, 9, 77);
	saves_as(&a, ref, size);
	load_into_new(ref, size, 9, 77);
	dev_stop(&a);
	free(ref);
}

/* A reset mid-stream ends the session: reads are refused, then a new save. */
static void a_read_after_reset_is_refused(void **state)
{
	uint64_t size;
	uint8_t *ref = reference(4, 2, &size), buf[BLK + 5];
	struct dev a;
	uint32_t st;
	size_t got;

	dev_stopped(&a, 4, 2);
	assert_int_equal(vus_client_mig_read(a.c, buf, sizeof(buf), &got), 0);
	assert_int_equal(got, sizeof(buf));
	assert_int_equal(vus_client_reset(a.c), 0);
	assert_int_equal(vus_client_mig_get_state(a.c, &st), 0);
	assert_int_equal(st, VUS_MIG_RUNNING);
	assert_int_equal(vus_client_mig_read(a.c, buf, sizeof(buf), &got), -EINVAL);
	saves_as(&a, ref, size);
	dev_stop(&a);
	free(ref);
}

/*
 * From 64 KiB on a block is sent from where it is: a byte changed after
 * the stop shows in the stream, whose checksum (taken at the stop) then
 * fails, and a destination refuses it untouched. A block one byte smaller
 * was copied at the stop: a change to it does not show.
 */
static void blocks_from_64k_are_sent_from_where_they_are(void **state)
{
	static const size_t sizes[] = { 1u << 20 };
	uint64_t size;
	uint8_t *ref = reference(5, 3, &size), *buf = malloc(size + (1u << 20));
	struct dev a, b;
	size_t diff = 0, at = 0;
	int fd = memfd_create("stream", MFD_CLOEXEC);

	assert_non_null(buf);
	dev_stopped(&a, 5, 3);
	a.big[NR_BLK * BLK + 10] ^= 0xff;   /* in the copied block */
	a.big[(NR_BLK - 1) * BLK] ^= 0xff;  /* first byte of the last 64 KiB one */
	assert_int_equal(read_rest(&a, buf, size + (1u << 20), sizes, 1), size);
	for (size_t i = 0; i < size - 4; i++)
		if (buf[i] != ref[i]) {
			diff++;
			at = i;
		}
	assert_int_equal(diff, 1);
	assert_int_equal(buf[at], a.big[(NR_BLK - 1) * BLK]);
	assert_int_equal(vus_client_mig_stream_check(buf, size, NULL), -EBADMSG);
	dev_start(&b, false);
	assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
	assert_int_equal(vus_client_mig_load(b.c, fd), -EBADMSG);
	assert_int_equal(b.counter, 0);
	dev_stop(&b);
	dev_stop(&a);
	close(fd);
	free(buf);
	free(ref);
}

/*
 * A reply sends up to five pieces from where they are and copies the
 * rest: a read of exactly five pieces from the start (framing, block,
 * 1 byte, block, 1 byte) and one of six (one byte of the next block) both
 * come back whole and as the copying save wrote them.
 */
static void reads_of_five_and_six_pieces(void **state)
{
	uint64_t size;
	uint8_t *ref = reference(5, 3, &size), *buf;
	struct dev a;
	const uint8_t *first;
	size_t five, got;

	dev_start(&a, false);
	fill(&a, 5, 3);
	first = memmem(ref, size, a.big, 300); /* where block 0 starts */
	assert_non_null(first);
	five = (size_t)(first - ref) + 2 * BLK + 2;
	buf = malloc(five + 1);
	assert_non_null(buf);
	for (size_t want = five; want <= five + 1; want++) {
		assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_STOP_COPY), 0);
		assert_int_equal(vus_client_mig_read(a.c, buf, want, &got), 0);
		assert_int_equal(got, want);
		assert_memory_equal(buf, ref, want);
		assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	}
	dev_stop(&a);
	free(buf);
	free(ref);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(stream_is_the_same_in_any_read_sizes),
		VTEST(leaving_stop_copy_mid_read_starts_over),
		VTEST(a_read_after_reset_is_refused),
		VTEST(blocks_from_64k_are_sent_from_where_they_are),
		VTEST(reads_of_five_and_six_pieces),
	};

	return vtest_run("mig_ref", tests, argc, argv);
}
