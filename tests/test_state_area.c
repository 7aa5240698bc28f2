/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the crash-consistent state area (lib/state_area.c): what
 * a new process finds in an area after writes, commits, writes cut short,
 * damaged bytes, epochs wrapping past 2^64, areas of another kind or
 * layout; and a writer killed with SIGKILL at random points, whose area
 * must always hold one whole commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state_area.h"
#include "vtest.h"

#define ID "pci:1af4:1041:1af4:0001:01/1"

/* Blocks "regs" (one 64-byte element) and "dma" (8 of 32 bytes). */
static struct state_area *layout(const char *identity)
{
	struct state_area *sa;

	assert_int_equal(sa_create(identity, &sa), 0);
	assert_int_equal(sa_add_block(sa, "regs", 1, 64, 1), 0);
	assert_int_equal(sa_add_block(sa, "dma", 1, 32, 8), 1);
	return sa;
}

static struct state_area *fresh(void)
{
	struct state_area *sa = layout(ID);

	assert_int_equal(sa_open_new(sa), 0);
	return sa;
}

/* What a restarted process gets from the same memfd (-errno if refused). */
static int adopt(struct state_area *old, struct state_area **out)
{
	char why[200] = "";
	int ret;

	*out = layout(ID);
	ret = sa_open_fd(*out, fcntl(sa_fd(old), F_DUPFD_CLOEXEC, 0), why,
			 sizeof(why));
	if (ret < 0) {
		assert_true(why[0] != '\0'); /* a refusal says why */
		sa_destroy(*out);
		*out = NULL;
	}
	return ret;
}

static void put(struct state_area *sa, unsigned int b, uint32_t e,
		const char *s)
{
	assert_int_equal(sa_write(sa, b, e, s, (uint32_t)strlen(s) + 1), 0);
}

static void expect(struct state_area *sa, unsigned int b, uint32_t e,
		   const char *s)
{
	const void *p;
	uint32_t len;

	assert_int_equal(sa_get(sa, b, e, &p, &len), 0);
	if (s == NULL) {
		assert_int_equal(len, 0);
		return;
	}
	assert_int_equal(len, strlen(s) + 1);
	assert_string_equal((const char *)p, s);
}

static void committed_state_survives(void **state)
{
	struct state_area *a = fresh(), *b;

	(void)state;
	put(a, 0, 0, "regs-v1");
	put(a, 1, 3, "map-3");
	sa_commit(a);
	assert_int_equal(adopt(a, &b), 0);
	expect(b, 0, 0, "regs-v1");
	expect(b, 1, 3, "map-3");
	expect(b, 1, 4, NULL); /* never written */
	assert_int_equal(sa_epoch(b), sa_epoch(a));
	sa_destroy(b);
	sa_destroy(a);
}

static void uncommitted_writes_are_dropped_and_wiped(void **state)
{
	struct state_area *a = fresh(), *b, *c;

	(void)state;
	put(a, 0, 0, "v1");
	sa_commit(a);
	put(a, 0, 0, "v2");  /* the process dies before committing */
	put(a, 1, 0, "lost");
	assert_int_equal(adopt(a, &b), 0);
	expect(b, 0, 0, "v1");
	expect(b, 1, 0, NULL);
	/* The next process commits its own epoch, which has the number the
	 * dead one never committed: what the dead one wrote must not count. */
	put(b, 1, 1, "other");
	sa_commit(b);
	assert_int_equal(adopt(b, &c), 0);
	expect(c, 0, 0, "v1");
	expect(c, 1, 0, NULL);
	expect(c, 1, 1, "other");
	sa_destroy(c);
	sa_destroy(b);
	sa_destroy(a);
}

static void write_cut_short_keeps_committed_copy(void **state)
{
	struct state_area *a = fresh(), *b;
	char *p;

	(void)state;
	put(a, 0, 0, "whole");
	sa_commit(a);
	put(a, 0, 0, "newer");
	sa_commit(a);
	/* Killed inside a write: half the bytes, no end. */
	p = sa_write_begin(a, 0, 0);
	memcpy(p, "torn-torn", 4);
	assert_int_equal(adopt(a, &b), 0);
	expect(b, 0, 0, "newer");
	sa_destroy(b);
	sa_destroy(a);
}

/* Find @pat in the area's bytes (through a mapping of our own). */
static uint8_t *find(struct state_area *sa, const void *pat, size_t len,
		     uint8_t **map, size_t *size)
{
	struct stat st;

	assert_int_equal(fstat(sa_fd(sa), &st), 0);
	*size = (size_t)st.st_size;
	*map = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    sa_fd(sa), 0);
	assert_true(*map != MAP_FAILED);
	return memmem(*map, *size, pat, len);
}

static void rewrites_in_one_epoch_share_a_slot(void **state)
{
	struct state_area *a = fresh(), *b;
	uint8_t *map;
	size_t size;

	(void)state;
	put(a, 0, 0, "c1");
	sa_commit(a);
	/* Three writes before the next commit never reach the c1 copy. */
	put(a, 0, 0, "x");
	put(a, 0, 0, "y");
	put(a, 0, 0, "z");
	assert_non_null(find(a, "c1", 3, &map, &size));
	munmap(map, size);
	sa_commit(a);
	assert_int_equal(adopt(a, &b), 0);
	expect(b, 0, 0, "z");
	sa_destroy(b);
	sa_destroy(a);
}

static void damaged_committed_copy_is_refused(void **state)
{
	struct state_area *a = fresh(), *b;
	uint8_t *map, *p;
	size_t size;

	(void)state;
	put(a, 1, 5, "older-copy");
	sa_commit(a);
	put(a, 1, 5, "newest-copy");
	sa_commit(a);
	/* A flipped byte in the older copy does not matter ... */
	p = find(a, "older-copy", 10, &map, &size);
	assert_non_null(p);
	p[0] ^= 1;
	assert_int_equal(adopt(a, &b), 0);
	expect(b, 1, 5, "newest-copy");
	sa_destroy(b);
	/* ... one in the newest committed copy is a bad checksum. */
	p = memmem(map, size, "newest-copy", 11);
	assert_non_null(p);
	p[3] ^= 0x40;
	assert_int_equal(adopt(a, &b), -EBADMSG);
	munmap(map, size);
	sa_destroy(a);
}

static void torn_commit_record_falls_back(void **state)
{
	const uint64_t mark = 0x1122334455667788ull;
	struct state_area *a = fresh(), *b;
	uint8_t *map, *p;
	size_t size;

	(void)state;
	sa_set_epoch(a, mark - 1);
	put(a, 0, 0, "at-mark-1");
	sa_commit(a); /* epoch mark: its record is the one to tear */
	assert_int_equal(sa_epoch(a), mark);
	p = find(a, &mark, sizeof(mark), &map, &size);
	assert_non_null(p);
	/* Cut between the record's epoch and its CRC: the CRC is stale. */
	p[8] ^= 0xff;
	munmap(map, size);
	assert_int_equal(adopt(a, &b), 0);
	assert_int_equal(sa_epoch(b), mark - 1);
	expect(b, 0, 0, NULL); /* written in the epoch that did not commit */
	sa_destroy(b);
	/* Both records broken: nothing to trust. */
	p = find(a, (uint64_t[]){ mark - 1 }, sizeof(mark), &map, &size);
	assert_non_null(p);
	p[8] ^= 0xff;
	assert_int_equal(adopt(a, &b), -EBADMSG);
	munmap(map, size);
	sa_destroy(a);
}

static void epochs_wrap_past_2_64(void **state)
{
	struct state_area *a = fresh(), *b;
	char v[16];

	(void)state;
	sa_set_epoch(a, UINT64_MAX - 3);
	for (int i = 0; i < 8; i++) {
		snprintf(v, sizeof(v), "gen%d", i);
		put(a, 1, (uint32_t)(i % 2), v);
		sa_commit(a);
		assert_int_not_equal(sa_epoch(a), 0); /* 0 is never an epoch */
		assert_int_equal(adopt(a, &b), 0);
		expect(b, 1, (uint32_t)(i % 2), v);
		if (i > 0) {
			/* The other element, written one commit before (maybe
			 * on the other side of the wrap), still counts. */
			snprintf(v, sizeof(v), "gen%d", i - 1);
			expect(b, 1, (uint32_t)((i - 1) % 2), v);
		}
		sa_destroy(b);
	}
	/* From 2^64 - 4 eight commits on: 2^64 - 3 .. 2^64 - 1, then 1 .. 5. */
	assert_int_equal(sa_epoch(a), 5);
	sa_destroy(a);
}

static void other_identity_or_layout_is_refused(void **state)
{
	struct state_area *a = fresh(), *b;
	char why[200];

	(void)state;
	sa_commit(a);
	b = layout("pci:494f:0dc8:0000:0000:00/1");
	assert_int_equal(sa_open_fd(b, fcntl(sa_fd(a), F_DUPFD_CLOEXEC, 0), why,
				    sizeof(why)), -EPROTO);
	sa_destroy(b);
	assert_int_equal(sa_create(ID, &b), 0);
	assert_int_equal(sa_add_block(b, "regs", 2, 64, 1), 0); /* version 2 */
	assert_int_equal(sa_add_block(b, "dma", 1, 32, 8), 1);
	assert_int_equal(sa_open_fd(b, fcntl(sa_fd(a), F_DUPFD_CLOEXEC, 0), why,
				    sizeof(why)), -EPROTO);
	sa_destroy(b);
	sa_destroy(a);
}

static void wrong_kind_of_fd_is_refused(void **state)
{
	struct state_area *b;
	char why[200];
	int p[2], m;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	b = layout(ID);
	assert_int_equal(sa_open_fd(b, p[0], why, sizeof(why)), -EINVAL);
	sa_destroy(b);
	close(p[1]);
	/* A memfd without our seals, even of the right size. */
	m = memfd_create("x", MFD_CLOEXEC);
	assert_int_equal(ftruncate(m, 1 << 20), 0);
	b = layout(ID);
	assert_int_equal(sa_open_fd(b, m, why, sizeof(why)), -EINVAL);
	sa_destroy(b);
}

static void damaged_header_is_refused(void **state)
{
	struct state_area *a = fresh(), *b;
	uint8_t *map;
	size_t size;

	(void)state;
	assert_non_null(find(a, "VUSSTATE", 8, &map, &size));
	map[20] ^= 1;
	assert_int_equal(adopt(a, &b), -EBADMSG);
	munmap(map, size);
	sa_destroy(a);
}

static void bounds_at_and_past(void **state)
{
	struct state_area *sa;
	char name[SA_NAME_MAX + 2];
	void *p;

	(void)state;
	assert_int_equal(sa_create(ID, &sa), 0);
	memset(name, 'n', sizeof(name));
	name[SA_NAME_MAX] = '\0';
	assert_int_equal(sa_add_block(sa, name, 1, 8, SA_MAX_ELEMS), 0);
	name[SA_NAME_MAX] = 'n';
	name[SA_NAME_MAX + 1] = '\0';
	assert_int_equal(sa_add_block(sa, name, 1, 8, 1), -EINVAL);
	assert_int_equal(sa_add_block(sa, "b", 1, 8, SA_MAX_ELEMS + 1), -EINVAL);
	assert_int_equal(sa_add_block(sa, "b", 1, 8, 0), -EINVAL);
	assert_int_equal(sa_add_block(sa, "b", 1, SA_ELEM_MAX + 1, 1), -EINVAL);
	assert_int_equal(sa_add_block(sa, "b", 1, SA_ELEM_MAX, 1), 1);
	assert_int_equal(sa_add_block(sa, "b", 1, 8, 1), -EEXIST);
	/* 2 x 64 MiB x 128 elements: past SA_AREA_MAX. */
	assert_int_equal(sa_add_block(sa, "huge", 1, SA_ELEM_MAX, 128), -E2BIG);
	for (unsigned int i = 2; i < SA_MAX_BLOCKS; i++) {
		snprintf(name, sizeof(name), "blk%u", i);
		assert_int_equal(sa_add_block(sa, name, 1, 8, 1), (int)i);
	}
	assert_int_equal(sa_add_block(sa, "one-more", 1, 8, 1), -EINVAL);
	assert_int_equal(sa_open_new(sa), 0);
	assert_int_equal(sa_add_block(sa, "late", 1, 8, 1), -EBUSY);
	/* An element takes its capacity and not a byte more. */
	p = sa_write_begin(sa, 2, 0);
	assert_non_null(p);
	assert_int_equal(sa_write_end(sa, 2, 0, 9), -EINVAL);
	assert_int_equal(sa_write_end(sa, 2, 0, 8), 0);
	assert_null(sa_write_begin(sa, 2, 1));
	assert_null(sa_write_begin(sa, SA_MAX_BLOCKS, 0));
	sa_destroy(sa);
}

/*
 * A child writes every element of "dma" with the same generation number,
 * then commits, over and over, and is killed at a random moment. Whatever
 * the moment, the area holds one whole commit: all elements equal.
 */
static void writer(struct state_area *sa)
{
	for (uint64_t g = 1;; g++) {
		for (uint32_t i = 0; i < 8; i++)
			assert_int_equal(sa_write(sa, 1, i, &g, sizeof(g)), 0);
		sa_commit(sa);
	}
}

static void killed_at_random_points_keeps_whole_commits(void **state)
{
	struct state_area *a = fresh();
	unsigned int seed = (unsigned int)time(NULL);

	(void)state;
	for (int round = 0; round < 40; round++) {
		struct state_area *b;
		uint64_t first = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			writer(a);
		usleep((useconds_t)(rand_r(&seed) % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		assert_int_equal(adopt(a, &b), 0);
		for (uint32_t i = 0; i < 8; i++) {
			const void *p;
			uint32_t len;
			uint64_t g;

			assert_int_equal(sa_get(b, 1, i, &p, &len), 0);
			if (len == 0) { /* killed before its first commit */
				assert_int_equal(first, 0);
				continue;
			}
			memcpy(&g, p, sizeof(g));
			if (i == 0)
				first = g;
			assert_int_equal(g, first);
		}
		/* The next writer continues from the adopted area. */
		sa_destroy(a);
		a = b;
	}
	sa_destroy(a);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(committed_state_survives),
		VTEST(uncommitted_writes_are_dropped_and_wiped),
		VTEST(write_cut_short_keeps_committed_copy),
		VTEST(rewrites_in_one_epoch_share_a_slot),
		VTEST(damaged_committed_copy_is_refused),
		VTEST(torn_commit_record_falls_back),
		VTEST(epochs_wrap_past_2_64),
		VTEST(other_identity_or_layout_is_refused),
		VTEST(wrong_kind_of_fd_is_refused),
		VTEST(damaged_header_is_refused),
		VTEST(bounds_at_and_past),
		VTEST(killed_at_random_points_keeps_whole_commits),
	};

	return vtest_run("state_area", tests, argc, argv);
}
