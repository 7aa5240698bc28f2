/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One mmap per file for the client's mappings (lib/dma_share.c): many
 * grants of ranges of one memfd point into one mapping of it, which goes
 * with the last of them; a read-only grant never shares a writable
 * mapping; a file grown since gets a mapping that reaches its new end;
 * and whatever cannot be shared (a full table, the address-space budget,
 * a file that is not regular) is mapped range by range as before. The
 * process's own /proc/self/maps is the witness: each memfd has a name of
 * its own there, and this test never maps them itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "dma_table.h"
#include "dma_priv.h"
#include "vtest.h"
#include "vus.h"

#define RW (VUS_DMA_READ | VUS_DMA_WRITE)
#define PG 4096u

/* Lines of /proc/self/maps naming memfd @name; with @perms, only those. */
static int vmas(const char *name, const char *perms)
{
	char want[64], line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	assert_non_null(f);
	snprintf(want, sizeof(want), "/memfd:%s ", name);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, want) != NULL &&
		    (perms == NULL || strstr(line, perms) != NULL))
			n++;
	fclose(f);
	return n;
}

/* A memfd of @size bytes whose byte at offset o is (uint8_t)(o / PG + o). */
static int filled_memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	uint8_t *b = malloc(size);

	assert_true(fd >= 0 && b != NULL);
	for (size_t o = 0; o < size; o++)
		b[o] = (uint8_t)(o / PG + o);
	assert_int_equal(pwrite(fd, b, size, 0), (ssize_t)size);
	free(b);
	return fd;
}

static vus_ctx *new_ctx(uint32_t max_maps)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS,
				      .max_dma_maps = max_maps };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	return ctx;
}

static void add(vus_ctx *ctx, uint64_t iova, uint64_t size, uint32_t prot,
		int fd, uint64_t off)
{
	struct vus_dma_region r;

	assert_int_equal(dma_add(ctx_dma(ctx), iova, size, prot, dup(fd), off,
				 &r), 0);
}

/* The byte at @iova reads as the file's byte at @off. */
static void reads_file_byte(vus_ctx *ctx, uint64_t iova, uint64_t off)
{
	uint8_t v = 0;

	assert_int_equal(vus_dma_read(ctx, iova, &v, 1), 0);
	assert_int_equal(v, (uint8_t)(off / PG + off));
}

#define MANY 1000u
#define MANY_FILE (64u * PG)
#define IOVA(i) (0x100000000ull + (uint64_t)(i) * 2 * PG)

static void grants_of_one_file_share_one_mmap(void **state)
{
	vus_ctx *ctx = new_ctx(MANY + 1);
	int fd = filled_memfd("share-many", MANY_FILE);
	uint8_t v = 0x5a, back = 0;

	(void)state;
	for (uint32_t i = 0; i < MANY; i++)
		add(ctx, IOVA(i), PG, RW, fd, (uint64_t)i * PG % MANY_FILE);
	assert_int_equal(dma_share_count(ctx_dma(ctx)), 1);
	assert_int_equal(vmas("share-many", NULL), 1);
	for (uint32_t i = 0; i < MANY; i += 37)
		reads_file_byte(ctx, IOVA(i) + 5, (uint64_t)i * PG % MANY_FILE + 5);
	/* A device write lands in the file, at the grant's offset. */
	assert_int_equal(vus_dma_write(ctx, IOVA(3) + 7, &v, 1), 0);
	assert_int_equal(pread(fd, &back, 1, 3 * PG + 7), 1);
	assert_int_equal(back, 0x5a);
	/* Withdrawn one by one: the mapping stays for the last grant. */
	for (uint32_t i = 0; i + 1 < MANY; i++)
		assert_int_equal(dma_remove(ctx_dma(ctx), IOVA(i), PG, NULL, NULL), 1);
	assert_int_equal(vmas("share-many", NULL), 1);
	reads_file_byte(ctx, IOVA(MANY - 1), (uint64_t)(MANY - 1) * PG % MANY_FILE);
	/* The last one's withdrawal leaves it idle, for the next grant. */
	assert_int_equal(dma_remove(ctx_dma(ctx), IOVA(MANY - 1), PG, NULL, NULL), 1);
	assert_int_equal(dma_share_count(ctx_dma(ctx)), 0);
	assert_int_equal(dma_share_idle(ctx_dma(ctx)), 1);
	assert_int_equal(vmas("share-many", NULL), 1);
	vus_ctx_destroy(ctx);
	assert_int_equal(vmas("share-many", NULL), 0);
	close(fd);
}

static void read_only_grants_never_share_a_writable_mmap(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	int fd = filled_memfd("share-prot", 4 * PG);
	uint8_t v = 1;

	(void)state;
	add(ctx, IOVA(0), PG, RW, fd, 0);
	add(ctx, IOVA(1), PG, VUS_DMA_READ, fd, PG);
	add(ctx, IOVA(2), PG, VUS_DMA_READ, fd, 2 * PG);
	assert_int_equal(dma_share_count(ctx_dma(ctx)), 2);
	assert_int_equal(vmas("share-prot", "rw-s"), 1);
	assert_int_equal(vmas("share-prot", "r--s"), 1);
	assert_int_equal(vus_dma_write(ctx, IOVA(1), &v, 1), -EACCES);
	reads_file_byte(ctx, IOVA(2) + 9, 2 * PG + 9);
	vus_ctx_destroy(ctx);
	assert_int_equal(vmas("share-prot", NULL), 0);
	close(fd);
}

static void a_grown_file_is_mapped_again_to_its_new_end(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	int fd = filled_memfd("share-grow", 2 * PG);

	(void)state;
	add(ctx, IOVA(1), PG, RW, fd, 0);
	assert_int_equal(ftruncate(fd, 8 * PG), 0);
	add(ctx, IOVA(2), PG, RW, fd, 6 * PG);  /* past the first mmap */
	add(ctx, IOVA(3), PG, RW, fd, PG);      /* inside the first: shared */
	assert_int_equal(dma_share_count(ctx_dma(ctx)), 2);
	assert_int_equal(vmas("share-grow", NULL), 2);
	reads_file_byte(ctx, IOVA(1) + 1, 1);
	reads_file_byte(ctx, IOVA(3) + 2, PG + 2);
	assert_int_equal(dma_remove(ctx_dma(ctx), IOVA(1), PG, NULL, NULL), 1);
	assert_int_equal(dma_remove(ctx_dma(ctx), IOVA(3), PG, NULL, NULL), 1);
	assert_int_equal(vmas("share-grow", NULL), 1);
	vus_ctx_destroy(ctx);
	assert_int_equal(vmas("share-grow", NULL), 0);
	close(fd);
}

/*
 * The last grant's withdrawal leaves its file mapped, idle: the next grant
 * of it points into that mapping (no new one beside it). One file is kept
 * idle at most: the next to go idle replaces it, and withdrawing all
 * grants (DMA_UNMAP_ALL, a reset, a disconnection) keeps none.
 */
static void one_idle_file_serves_its_next_grant(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	struct dma_table *dt = ctx_dma(ctx);
	int a = filled_memfd("idle-a", 8 * PG), b = filled_memfd("idle-b", 8 * PG);

	struct vus_dma_region r1, r2;

	(void)state;
	assert_int_equal(dma_add(dt, IOVA(0), PG, RW, dup(a), PG, &r1), 0);
	assert_int_equal(dma_remove(dt, IOVA(0), PG, NULL, NULL), 1);
	assert_int_equal(dma_share_count(dt), 0);
	assert_int_equal(dma_share_idle(dt), 1);
	assert_int_equal(vmas("idle-a", NULL), 1);
	/* The same mapping: its address, two pages further into the file. */
	assert_int_equal(dma_add(dt, IOVA(1), PG, RW, dup(a), 3 * PG, &r2), 0);
	assert_ptr_equal((uint8_t *)r2.vaddr, (uint8_t *)r1.vaddr + 2 * PG);
	assert_int_equal(dma_share_count(dt), 1);
	assert_int_equal(dma_share_idle(dt), 0);
	assert_int_equal(vmas("idle-a", NULL), 1);
	reads_file_byte(ctx, IOVA(1) + 6, 3 * PG + 6);
	assert_int_equal(dma_remove(dt, IOVA(1), PG, NULL, NULL), 1);
	/* A second file going idle replaces the first. */
	add(ctx, IOVA(2), PG, RW, b, 0);
	assert_int_equal(vmas("idle-a", NULL), 1);
	assert_int_equal(dma_remove(dt, IOVA(2), PG, NULL, NULL), 1);
	assert_int_equal(dma_share_idle(dt), 1);
	assert_int_equal(vmas("idle-a", NULL), 0);
	assert_int_equal(vmas("idle-b", NULL), 1);
	dma_remove_all(dt, NULL, NULL);
	assert_int_equal(dma_share_idle(dt), 0);
	assert_int_equal(vmas("idle-b", NULL), 0);
	vus_ctx_destroy(ctx);
	close(a);
	close(b);
}

/*
 * A file that changed size while idle: its next grant is checked against
 * the size now (past a shrunk end: refused; inside: served by the idle
 * mapping), and one past the idle mapping's end maps the grown file anew,
 * the idle mapping going.
 */
static void an_idle_file_resized_is_checked_again(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	struct dma_table *dt = ctx_dma(ctx);
	int fd = filled_memfd("idle-size", 4 * PG);
	struct vus_dma_region r;
	uint8_t v = 0, w = 0x3c;

	(void)state;
	add(ctx, IOVA(0), PG, RW, fd, 0);
	assert_int_equal(dma_remove(dt, IOVA(0), PG, NULL, NULL), 1);
	assert_int_equal(ftruncate(fd, 2 * PG), 0);
	assert_int_equal(dma_add(dt, IOVA(1), PG, RW, dup(fd), 2 * PG, &r), -EINVAL);
	assert_int_equal(dma_add(dt, IOVA(1), PG, RW, dup(fd), PG, &r), 0);
	assert_int_equal(dma_share_idle(dt), 0);
	reads_file_byte(ctx, IOVA(1) + 3, PG + 3);
	assert_int_equal(dma_remove(dt, IOVA(1), PG, NULL, NULL), 1);
	assert_int_equal(ftruncate(fd, 8 * PG), 0);
	assert_int_equal(pwrite(fd, &w, 1, 7 * PG + 1), 1);
	add(ctx, IOVA(2), PG, RW, fd, 7 * PG);
	assert_int_equal(dma_share_idle(dt), 0);
	assert_int_equal(vmas("idle-size", NULL), 1);
	assert_int_equal(vus_dma_read(ctx, IOVA(2) + 1, &v, 1), 0);
	assert_int_equal(v, w);
	vus_ctx_destroy(ctx);
	close(fd);
}

/* Grant page @off of @fd at @iova, shrink the file to nothing and touch
 * the grant: the SIGBUS repair gives it zeros. */
static void grant_and_repair(vus_ctx *ctx, uint64_t iova, int fd, uint64_t off)
{
	uint8_t v = 1;

	add(ctx, iova, PG, RW, fd, off);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(vus_dma_read(ctx, iova, &v, 1), 0);
	assert_int_equal(v, 0);
}

/* The file regrown to @size with byte @w at @off; a grant of its page
 * @off & ~(PG - 1) at @iova reads @w there. */
static void regrow_and_grant(vus_ctx *ctx, uint64_t iova, int fd, size_t size,
			     uint64_t off, uint8_t w)
{
	uint8_t v = 0;

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(pwrite(fd, &w, 1, (off_t)off), 1);
	add(ctx, iova, PG, RW, fd, off & ~(uint64_t)(PG - 1));
	assert_int_equal(vus_dma_read(ctx, iova + (off & (PG - 1)), &v, 1), 0);
	assert_int_equal(v, w);
}

/*
 * A file mapped before a SIGBUS repair is not kept idle: the repaired
 * mapping is anonymous memory, and the file's next grant must see the file.
 */
static void no_file_is_kept_idle_after_a_repair(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	struct dma_table *dt = ctx_dma(ctx);
	int fd = filled_memfd("idle-fault", 2 * PG);

	(void)state;
	grant_and_repair(ctx, IOVA(0), fd, PG);
	dma_fault_report(dt);
	assert_int_equal(dma_remove(dt, IOVA(0), PG, NULL, NULL), 1);
	assert_int_equal(dma_share_idle(dt), 0);
	regrow_and_grant(ctx, IOVA(1), fd, 2 * PG, PG + 2, 0x77);
	vus_ctx_destroy(ctx);
	close(fd);
}

/*
 * A repair replaces a shared mapping by anonymous memory; a later grant of
 * the file (regrown by then) must see the file, not that memory: it gets
 * a mapping of its own, while the repaired one keeps serving (zeros) the
 * grant it had. Before the report too: the engine may handle the next
 * DMA_MAP before it wakes to the fault.
 */
static void a_grant_after_a_repair_sees_the_file(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	struct dma_table *dt = ctx_dma(ctx);
	int fd = filled_memfd("repair-new", 2 * PG);
	uint8_t v = 1;

	(void)state;
	grant_and_repair(ctx, IOVA(0), fd, 0);
	regrow_and_grant(ctx, IOVA(1), fd, 2 * PG, PG + 4, 0x5e);
	assert_int_equal(dma_share_count(dt), 2);
	assert_int_equal(vus_dma_read(ctx, IOVA(0) + PG - 1, &v, 1), 0);
	assert_int_equal(v, 0);
	dma_fault_report(dt);
	vus_ctx_destroy(ctx);
	close(fd);
}

/* DMA_MAX_SHARES files share; the next one is mapped by range, and works. */
static void a_full_share_table_maps_the_next_file_by_range(void **state)
{
	vus_ctx *ctx = new_ctx(DMA_MAX_SHARES + 2);
	char name[32];
	int fds[DMA_MAX_SHARES + 1];

	(void)state;
	for (uint32_t i = 0; i <= DMA_MAX_SHARES; i++) {
		snprintf(name, sizeof(name), "share-full-%u", i);
		fds[i] = filled_memfd(name, 4 * PG);
		add(ctx, IOVA(2 * i), PG, RW, fds[i], PG);
		assert_int_equal(dma_share_count(ctx_dma(ctx)),
				 i < DMA_MAX_SHARES ? i + 1 : DMA_MAX_SHARES);
	}
	/* The last file's range mapping: a second grant of it maps again
	 * (offsets apart, so the kernel cannot merge the two VMAs). */
	add(ctx, IOVA(2 * DMA_MAX_SHARES + 1), PG, RW, fds[DMA_MAX_SHARES], 3 * PG);
	assert_int_equal(vmas(name, NULL), 2);
	reads_file_byte(ctx, IOVA(2 * DMA_MAX_SHARES) + 3, PG + 3);
	reads_file_byte(ctx, IOVA(2 * DMA_MAX_SHARES + 1) + 3, 3 * PG + 3);
	reads_file_byte(ctx, IOVA(2 * (DMA_MAX_SHARES - 1)) + 4, PG + 4);
	/* A slot freed is used again. */
	assert_int_equal(dma_remove(ctx_dma(ctx), IOVA(0), PG, NULL, NULL), 1);
	add(ctx, IOVA(0), PG, RW, fds[DMA_MAX_SHARES], PG);
	assert_int_equal(dma_share_count(ctx_dma(ctx)), DMA_MAX_SHARES);
	assert_int_equal(vmas(name, NULL), 3);
	vus_ctx_destroy(ctx);
	assert_int_equal(vmas(name, NULL), 0);
	for (uint32_t i = 0; i <= DMA_MAX_SHARES; i++)
		close(fds[i]);
}

/* Up to DMA_SHARE_MAX_VA of shared mmaps; a file past it maps by range. */
static void the_address_space_budget_is_kept(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	struct dma_table *dt = ctx_dma(ctx);
	int a = filled_memfd("share-va-a", 2 * PG);
	int b = filled_memfd("share-va-b", 4 * PG);

	(void)state;
	/* As if other files held all of it but two pages. */
	dt->share_va = DMA_SHARE_MAX_VA - 2 * PG;
	add(ctx, IOVA(0), PG, RW, a, 0);          /* exactly fills it */
	assert_int_equal(dma_share_count(dt), 1);
	assert_int_equal(dt->share_va, DMA_SHARE_MAX_VA);
	/* A page past it. (Offsets apart: the kernel would merge the VMAs
	 * of adjacent mmaps of adjacent file pages.) */
	add(ctx, IOVA(1), PG, RW, b, 3 * PG);
	add(ctx, IOVA(2), PG, RW, b, 0);
	assert_int_equal(dma_share_count(dt), 1);
	assert_int_equal(vmas("share-va-b", NULL), 2);
	reads_file_byte(ctx, IOVA(1) + 8, 3 * PG + 8);
	/* Idle, the mapping still counts; unmapped, it is given back. */
	assert_int_equal(dma_remove(dt, IOVA(0), PG, NULL, NULL), 1);
	assert_int_equal(dt->share_va, DMA_SHARE_MAX_VA);
	dma_share_drop_idle(dt);
	assert_int_equal(dt->share_va, DMA_SHARE_MAX_VA - 2 * PG);
	dt->share_va = 0;
	vus_ctx_destroy(ctx);
	close(a);
	close(b);
}

/* A character device has no size to map whole: each grant maps its range. */
static void other_files_are_mapped_by_range(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	uint64_t v = 1;

	(void)state;
	assert_true(fd >= 0);
	add(ctx, IOVA(0), PG, RW, fd, 0);
	add(ctx, IOVA(1), PG, RW, fd, 0);
	assert_int_equal(dma_share_count(ctx_dma(ctx)), 0);
	assert_int_equal(vus_dma_read(ctx, IOVA(1), &v, sizeof(v)), 0);
	assert_int_equal(v, 0);
	vus_ctx_destroy(ctx);
	close(fd);
}

/*
 * /dev/zero at any offset: its shared mmap is new memory sized to the
 * mapping, which a mapping at a later offset would lie past (SIGBUS at the
 * first touch, repaired by dma_fault.c into anonymous memory with a
 * warning). Mapped at 0 instead, the memory works and nothing faults: at
 * offset 0, one page on, and far on.
 */
static void dev_zero_is_mapped_at_any_offset_without_a_fault(void **state)
{
	static const uint64_t offs[] = { 0, PG, 1ull << 40 };
	vus_ctx *ctx = new_ctx(0);
	struct dma_table *dt = ctx_dma(ctx);
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	for (uint32_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint64_t v = 1, w = 0x1122334455667788ull;

		add(ctx, IOVA(2 * i), 2 * PG, RW, fd, offs[i]);
		assert_int_equal(vus_dma_read(ctx, IOVA(2 * i) + PG, &v, sizeof(v)), 0);
		assert_int_equal(v, 0);
		assert_int_equal(vus_dma_write(ctx, IOVA(2 * i) + 8, &w, sizeof(w)), 0);
		assert_int_equal(vus_dma_read(ctx, IOVA(2 * i) + 8, &v, sizeof(v)), 0);
		assert_int_equal(v, w);
		assert_int_equal(atomic_load(&dt->faults), 0);
	}
	vus_ctx_destroy(ctx);
	close(fd);
}

/* An fd of @fd's file opened anew with @mode (another open file). */
static int reopen(int fd, int mode)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, mode | O_CLOEXEC);
	assert_true(r >= 0);
	return r;
}

/*
 * One fd is kept per file and access mode, for a hand-over; a read-write
 * one serves every later grant of its file (without asking the grant's fd
 * its mode, a system call per grant), a read-only one only read-only fds
 * until a read-write one is kept. A file's first grant, when read-write,
 * is not asked either (its shared writable mmap proves the fd's mode);
 * a read-only one is (its fd may be read-only or read-write).
 */
static void a_kept_read_write_fd_serves_every_grant_of_its_file(void **state)
{
	vus_ctx *ctx = new_ctx(0);
	int fd = filled_memfd("keep-rw", 4 * PG), ro = reopen(fd, O_RDONLY);
	int other = filled_memfd("keep-ro", 4 * PG), other_ro = reopen(other, O_RDONLY);
	struct dma_saved a, b;

	(void)state;
	add(ctx, IOVA(0), PG, RW, fd, 0);
	add(ctx, IOVA(1), PG, VUS_DMA_READ, ro, PG);
	assert_int_equal(dma_kept_files(ctx_dma(ctx)), 1);
	assert_int_equal(dma_save(ctx_dma(ctx), 0, &a), 0);
	assert_int_equal(dma_save(ctx_dma(ctx), 1, &b), 0);
	assert_int_equal(b.fd, a.fd);
	assert_int_equal(b.file_accmode, O_RDWR);
	/* Read-only kept first: the read-write fd is kept beside it. */
	add(ctx, IOVA(2), PG, VUS_DMA_READ, other_ro, 0);
	add(ctx, IOVA(3), PG, RW, other, PG);
	add(ctx, IOVA(4), PG, VUS_DMA_READ, other_ro, 2 * PG);
	assert_int_equal(dma_kept_files(ctx_dma(ctx)), 3);
	assert_int_equal(dma_save(ctx_dma(ctx), 2, &a), 0);
	assert_int_equal(dma_save(ctx_dma(ctx), 3, &b), 0);
	assert_int_equal(a.file_accmode, O_RDONLY);
	assert_int_equal(b.file_accmode, O_RDWR);
	assert_true(a.fd != b.fd);
	/* ... and from then on serves the read-only grants too. */
	assert_int_equal(dma_save(ctx_dma(ctx), 4, &a), 0);
	assert_int_equal(a.fd, b.fd);
	/* The last grant of a kept fd closes it. */
	assert_int_equal(dma_remove(ctx_dma(ctx), IOVA(2), PG, NULL, NULL), 1);
	assert_int_equal(dma_kept_files(ctx_dma(ctx)), 2);
	vus_ctx_destroy(ctx);
	close(fd);
	close(ro);
	close(other);
	close(other_ro);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(grants_of_one_file_share_one_mmap),
		VTEST(read_only_grants_never_share_a_writable_mmap),
		VTEST(a_grown_file_is_mapped_again_to_its_new_end),
		VTEST(one_idle_file_serves_its_next_grant),
		VTEST(an_idle_file_resized_is_checked_again),
		VTEST(no_file_is_kept_idle_after_a_repair),
		VTEST(a_grant_after_a_repair_sees_the_file),
		VTEST(a_full_share_table_maps_the_next_file_by_range),
		VTEST(the_address_space_budget_is_kept),
		VTEST(other_files_are_mapped_by_range),
		VTEST(dev_zero_is_mapped_at_any_offset_without_a_fault),
		VTEST(a_kept_read_write_fd_serves_every_grant_of_its_file),
	};

	return vtest_run("dma_share", tests, argc, argv);
}
