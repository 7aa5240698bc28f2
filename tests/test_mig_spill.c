/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A destination that stages what does not fit in memory on disk
 * (vus_mig_config.stage_dir), end to end over a real socket: a state past
 * the memory budget, or a section past max_stream_size, loads through
 * unnamed files and equals the source byte for byte (also a section
 * whose pre-copy parts pass the bound half-way); each bound at the
 * boundary and one past it (memory: exactly-fits stays in memory, one
 * byte less spills; disk: exactly-fits loads, one byte less is refused
 * with the device untouched); a corrupted spilled byte is refused as
 * EBADMSG; an abandoned load leaves no file and no fd behind.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mig.h"
#include "test_client_util.h"
#include "test_mig_sections.h"
#include "vtest.h"
#include "vus.h"
#include "vus/client.h"

#define BIG_SIZE ((3u << 20) + 4321) /* "big": read back in one get */
#define MIX_SIZE ((2u << 20) + 777)  /* "mixed": read in odd pieces */

struct dev {
	vus_ctx *ctx;
	pthread_t th;
	vus_client *c;
	struct tmig_state m;
	uint8_t *mix;
};

/* The staging limits of the next dev_start() (0: the defaults). */
static struct {
	const char *dir;
	uint64_t mem, disk, max_stream;
	bool pre_copy;
} next;

static char stage_dir[PATH_MAX];

/* Read sizes that cross the read-back window's edges every way. */
static const size_t pieces[] = { 1, 7, 4096, 65537, 1u << 20, 3, 300001 };

static int mix_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	return vus_mig_put(out, ((struct dev *)o)->mix, MIX_SIZE);
}

/* Through the section in pieces, into @to (NULL: a scratch buffer). */
static int mix_walk(vus_mig_in *in, uint8_t *to)
{
	static uint8_t scratch[1u << 20]; /* the largest piece */
	size_t at = 0;
	int ret = 0;

	if (vus_mig_remaining(in) != MIX_SIZE)
		return -EBADMSG;
	for (unsigned int i = 0; ret == 0 && at < MIX_SIZE; i++) {
		size_t n = pieces[i % 7];

		n = n < MIX_SIZE - at ? n : MIX_SIZE - at;
		ret = vus_mig_get(in, to ? to + at : scratch, n);
		at += n;
	}
	return ret;
}

static int mix_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return mix_walk(in, NULL);
}

static int mix_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return mix_walk(in, ((struct dev *)o)->mix);
}

static int bar_read(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	memset(buf, 0, len);
	return 0;
}

static void dev_start(struct dev *d)
{
	static const struct vus_region_ops bar_ops = {
		.struct_size = sizeof(bar_ops), .read = bar_read };
	static const struct vus_mig_section_ops mix_ops = {
		.struct_size = sizeof(mix_ops), .save = mix_save,
		.check = mix_check, .load = mix_load };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg), .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id), .vendor_id = 0xcafe,
				   .device_id = 0x0043 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 0x1000,
		.flags = VUS_REGION_READ, .ops = &bar_ops };
	struct vus_mig_config mc = { .struct_size = sizeof(mc), .compat_version = 1,
		.pre_copy = next.pre_copy, .stage_dir = next.dir, .stage_mem_max = next.mem,
		.stage_disk_max = next.disk, .max_stream_size = next.max_stream };

	memset(d, 0, sizeof(*d));
	memset(&next, 0, sizeof(next));
	d->m.big = calloc(1, BIG_SIZE);
	d->m.big_size = BIG_SIZE;
	d->m.big_part = 1u << 20;
	d->mix = calloc(1, MIX_SIZE);
	assert_non_null(d->m.big);
	assert_non_null(d->mix);
	cfg.opaque = d;
	assert_int_equal(vus_ctx_create(&cfg, &d->ctx), 0);
	vus_ctx_set_log(d->ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(d->ctx, &id), 0);
	assert_int_equal(vus_pci_setup_bar(d->ctx, 0, 0, &bar), 0);
	assert_int_equal(vus_mig_setup(d->ctx, &mc), 0);
	tmig_add_sections(d->ctx, &d->m);
	assert_int_equal(vus_mig_add_section(d->ctx, "mixed", 1, &mix_ops, d), 0);
	assert_int_equal(vus_ctx_realize(d->ctx), 0);
	d->c = tc_serve(d->ctx, &d->th);
}

static void dev_stop(struct dev *d)
{
	tc_serve_end(d->c, d->th);
	vus_ctx_destroy(d->ctx);
	free(d->m.big);
	free(d->mix);
}

/* The source: counter 7 and patterns; its whole stream in *size bytes. */
static uint8_t *source_stream(struct dev *a, uint64_t *size)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);
	uint8_t *s;

	assert_true(fd >= 0);
	dev_start(a);
	a->m.counter = 7;
	for (size_t i = 0; i < BIG_SIZE; i++)
		a->m.big[i] = (uint8_t)(i * 7 + 1 + i / 4093);
	for (size_t i = 0; i < MIX_SIZE; i++)
		a->mix[i] = (uint8_t)(i * 11 + 5 + i / 65521);
	assert_int_equal(vus_client_mig_save(a->c, fd, size), 0);
	s = malloc(*size);
	assert_non_null(s);
	assert_int_equal(pread(fd, s, *size, 0), (ssize_t)*size);
	close(fd);
	return s;
}

/* Files of the stage directory this process holds open. */
static unsigned int spill_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned int n = 0;
	char path[300], to[PATH_MAX];

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, to, sizeof(to) - 1);
		if (k <= 0)
			continue;
		to[k] = '\0';
		if (strncmp(to, stage_dir, strlen(stage_dir)) == 0 &&
		    to[strlen(stage_dir)] == '/')
			n++;
	}
	closedir(dir);
	return n;
}

static void staged(struct dev *d, uint64_t *mem, uint64_t *disk)
{
	mig_stage_stats(mig_of(d->ctx), mem, disk);
}

/* Load @s into a fresh device with the limits in `next`: its result. */
static int load(struct dev *b, const uint8_t *s, uint64_t size)
{
	int ret;

	dev_start(b);
	b->m.counter = 5;
	assert_int_equal(vus_client_mig_set_state(b->c, VUS_MIG_RESUMING), 0);
	ret = vus_client_mig_write(b->c, s, size);
	if (ret == 0)
		ret = vus_client_mig_set_state(b->c, VUS_MIG_RUNNING);
	else
		assert_int_equal(vus_client_mig_set_state(b->c, VUS_MIG_RUNNING),
				 ret);
	assert_int_equal(spill_fds(), 0);
	assert_int_equal(vtest_dir_entries(stage_dir), 0);
	return ret;
}

static void same_as(const struct dev *b, const struct dev *a)
{
	assert_int_equal(b->m.counter, 7);
	assert_memory_equal(b->m.big, a->m.big, BIG_SIZE);
	assert_memory_equal(b->mix, a->mix, MIX_SIZE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Nothing of the stream reached @b, which is in ERROR. */
static void untouched(const struct dev *b)
{
	assert_int_equal(b->m.counter, 5);
	assert_true(all_zero(b->m.big, BIG_SIZE));
	assert_true(all_zero(b->mix, MIX_SIZE));
	assert_int_equal(vus_mig_state(b->ctx), VUS_MIG_ERROR);
}

/* Free the source's stream, stop the source and three destinations. */
static void end4(uint8_t *s, struct dev *a, struct dev *b, struct dev *c,
		 struct dev *d)
{
	free(s);
	dev_stop(a);
	dev_stop(b);
	dev_stop(c);
	dev_stop(d);
}

/* The sections together pass the memory budget: they load through disk. */
static void a_state_past_the_memory_budget_loads(void **state)
{
	struct dev a, b;
	uint64_t size, mem, disk;
	uint8_t *s = source_stream(&a, &size);

	(void)state;
	next.dir = stage_dir;
	next.mem = 1u << 20;
	assert_int_equal(load(&b, s, size), 0);
	same_as(&b, &a);
	staged(&b, &mem, &disk);
	assert_true(mem <= 1u << 20);
	assert_true(disk >= BIG_SIZE + MIX_SIZE);
	free(s);
	dev_stop(&a);
	dev_stop(&b);
}

/*
 * One section past max_stream_size: refused without a stage directory
 * (as before), loaded through a file with one, the rest in memory.
 */
static void a_section_past_max_stream_size_spills(void **state)
{
	struct dev a, b, c;
	uint64_t size, mem, disk;
	uint8_t *s = source_stream(&a, &size);

	(void)state;
	next.max_stream = BIG_SIZE - 1;
	assert_int_equal(load(&c, s, size), -EFBIG);
	untouched(&c);
	next.max_stream = BIG_SIZE - 1;
	next.dir = stage_dir;
	assert_int_equal(load(&b, s, size), 0);
	same_as(&b, &a);
	staged(&b, &mem, &disk);
	assert_int_equal(disk, BIG_SIZE);
	assert_true(mem >= MIX_SIZE);
	free(s);
	dev_stop(&a);
	dev_stop(&b);
	dev_stop(&c);
}

/*
 * The memory budget at the boundary: exactly what the stream takes in
 * memory keeps it all there; one byte less and a section spills (the
 * last, "mixed"); both load the same state.
 */
static void memory_budget_boundary(void **state)
{
	struct dev a, b, c, d;
	uint64_t size, all, mem, disk;
	uint8_t *s = source_stream(&a, &size);

	(void)state;
	next.dir = stage_dir;
	next.mem = UINT64_MAX;
	assert_int_equal(load(&b, s, size), 0);
	staged(&b, &all, &disk);
	assert_int_equal(disk, 0);
	assert_true(all >= BIG_SIZE + MIX_SIZE);

	next.dir = stage_dir;
	next.mem = all;
	assert_int_equal(load(&c, s, size), 0);
	same_as(&c, &a);
	staged(&c, &mem, &disk);
	assert_int_equal(mem, all);
	assert_int_equal(disk, 0);

	next.dir = stage_dir;
	next.mem = all - 1;
	assert_int_equal(load(&d, s, size), 0);
	same_as(&d, &a);
	staged(&d, &mem, &disk);
	assert_int_equal(mem, all - MIX_SIZE);
	assert_int_equal(disk, MIX_SIZE);
	end4(s, &a, &b, &c, &d);
}

/*
 * A budget without a stage directory bounds memory all the same: the
 * stream that takes exactly it loads, one byte less is refused (EFBIG)
 * with the device untouched.
 */
static void memory_budget_without_a_stage_dir(void **state)
{
	struct dev a, b, c, d;
	uint64_t size, all, disk;
	uint8_t *s = source_stream(&a, &size);

	(void)state;
	assert_int_equal(load(&b, s, size), 0);
	staged(&b, &all, &disk);
	assert_int_equal(disk, 0);
	next.mem = all;
	assert_int_equal(load(&c, s, size), 0);
	same_as(&c, &a);
	next.mem = all - 1;
	assert_int_equal(load(&d, s, size), -EFBIG);
	untouched(&d);
	end4(s, &a, &b, &c, &d);
}

/*
 * The disk limit at the boundary, everything spilled (a 1-byte memory
 * budget): exactly the stream's sections load; one byte less is refused
 * at the write that passes it, the device untouched, no file left.
 */
static void disk_limit_boundary(void **state)
{
	struct dev a, b, c, d;
	uint64_t size, all, mem;
	uint8_t *s = source_stream(&a, &size);

	(void)state;
	next.dir = stage_dir;
	next.mem = 1;
	next.disk = UINT64_MAX;
	assert_int_equal(load(&b, s, size), 0);
	staged(&b, &mem, &all);
	assert_true(all >= BIG_SIZE + MIX_SIZE);

	next.dir = stage_dir;
	next.mem = 1;
	next.disk = all;
	assert_int_equal(load(&c, s, size), 0);
	same_as(&c, &a);

	next.dir = stage_dir;
	next.mem = 1;
	next.disk = all - 1;
	assert_int_equal(load(&d, s, size), -EFBIG);
	untouched(&d);
	end4(s, &a, &b, &c, &d);
}

/* One flipped bit in a spilled section: EBADMSG, nothing loaded. */
static void corruption_in_a_spilled_section(void **state)
{
	struct dev a, b;
	uint64_t size, mem, disk;
	uint8_t *s = source_stream(&a, &size);
	uint8_t *at = memmem(s, size, a.m.big + 1000, 64);

	(void)state;
	assert_non_null(at);
	*at ^= 0x04;
	next.dir = stage_dir;
	next.mem = 1u << 20;
	assert_int_equal(load(&b, s, size), -EBADMSG);
	untouched(&b);
	staged(&b, &mem, &disk);
	assert_true(disk >= BIG_SIZE);
	free(s);
	dev_stop(&a);
	dev_stop(&b);
}

/*
 * A load abandoned half-way, with sections spilled: RESUMING -> STOP
 * without the end (EBADMSG), and a reset in RESUMING: no file is left,
 * nothing loaded.
 */
static void an_abandoned_load_leaves_no_file(void **state)
{
	struct dev a, b, c;
	uint64_t size;
	uint8_t *s = source_stream(&a, &size);

	(void)state;
	for (int reset = 0; reset < 2; reset++) {
		struct dev *d = reset ? &c : &b;

		next.dir = stage_dir;
		next.mem = 1u << 20;
		dev_start(d);
		d->m.counter = 5;
		assert_int_equal(vus_client_mig_set_state(d->c, VUS_MIG_RESUMING), 0);
		assert_int_equal(vus_client_mig_write(d->c, s, size - 100), 0);
		assert_true(spill_fds() > 0); /* it did spill */
		if (reset) {
			assert_int_equal(vus_client_reset(d->c), 0);
			assert_int_equal(vus_mig_state(d->ctx), VUS_MIG_RUNNING);
		} else {
			assert_int_equal(vus_client_mig_set_state(d->c, VUS_MIG_STOP),
					 -EBADMSG);
			assert_int_equal(vus_mig_state(d->ctx), VUS_MIG_ERROR);
		}
		assert_int_equal(spill_fds(), 0);
		assert_int_equal(vtest_dir_entries(stage_dir), 0);
		assert_int_equal(d->m.counter, 5);
		assert_true(all_zero(d->m.big, BIG_SIZE));
	}
	free(s);
	dev_stop(&a);
	dev_stop(&b);
	dev_stop(&c);
}

/*
 * A section that passes its bound half-way (pre-copy parts of 1 MiB, a
 * bound of MIX_SIZE, just over 2 MiB): its first two parts are staged in memory, the
 * third moves them to a file and follows, giving their memory back to
 * the budget; all of it loads, and only it was spilled.
 */
static void a_section_spills_half_way(void **state)
{
	struct dev a, b;
	uint64_t mem, disk;
	int fd = memfd_create("stream", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	next.pre_copy = true;
	dev_start(&a);
	for (size_t i = 0; i < BIG_SIZE; i++)
		a.m.big[i] = (uint8_t)(i ^ (i >> 12));
	a.m.counter = 7;
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_PRE_COPY), 0);
	assert_true(tc_mig_read_all(a.c, fd) >= BIG_SIZE);
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_STOP_COPY), 0);
	(void)tc_mig_read_all(a.c, fd);
	next.dir = stage_dir;
	next.max_stream = MIX_SIZE; /* "mixed" fits, 3 parts of "big" do not */
	/* Room for "mixed" only once "big" gave its 2 MiB back. */
	next.mem = MIX_SIZE + (1u << 20);
	dev_start(&b);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	same_as(&b, &a);
	staged(&b, &mem, &disk);
	assert_int_equal(disk, BIG_SIZE);
	assert_true(mem >= 2u << 20); /* two parts were in memory */
	assert_int_equal(spill_fds(), 0);
	close(fd);
	dev_stop(&a);
	dev_stop(&b);
}

/* A stage directory that is not there: vus_mig_setup() says so. */
static void a_missing_stage_dir_is_refused(void **state)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg), .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id), .vendor_id = 0xcafe };
	struct vus_mig_config mc = { .struct_size = sizeof(mc), .compat_version = 1,
				     .stage_dir = "/nonexistent/vus-stage" };
	vus_ctx *ctx;

	(void)state;
	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	assert_int_equal(vus_pci_init(ctx, &id), 0);
	assert_int_equal(vus_mig_setup(ctx, &mc), -ENOENT);
	mc.stage_dir = stage_dir;
	assert_int_equal(vus_mig_setup(ctx, &mc), 0);
	vus_ctx_destroy(ctx);
}

/* A directory of our own on a disk (tmpfs works too, logged). */
static void make_dir(void)
{
	snprintf(stage_dir, sizeof(stage_dir), "/var/tmp/vus-spill-XXXXXX");
	if (mkdtemp(stage_dir) != NULL)
		return;
	snprintf(stage_dir, sizeof(stage_dir), "/tmp/vus-spill-XXXXXX");
	if (mkdtemp(stage_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(a_state_past_the_memory_budget_loads),
		VTEST(a_section_past_max_stream_size_spills),
		VTEST(a_section_spills_half_way),
		VTEST(memory_budget_boundary),
		VTEST(memory_budget_without_a_stage_dir),
		VTEST(disk_limit_boundary),
		VTEST(corruption_in_a_spilled_section),
		VTEST(an_abandoned_load_leaves_no_file),
		VTEST(a_missing_stage_dir_is_refused),
	};
	int ret;

	make_dir();
	ret = vtest_run("mig_spill", tests, argc, argv);
	if (rmdir(stage_dir) < 0)
		ret = 1;
	return ret;
}
