/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Benchmark: migration. Prints
 *   - the stop-copy and resume time of a small device (the PCI state plus
 *     a 256-byte section), i.e. the device's share of a migration's
 *     downtime, also in client/server round trips;
 *   - stream throughput for a large state (256 MiB section; 1 to 256 MiB
 *     with --csv) on save and on load, against memcpy of the same bytes;
 *   - the same load into a destination whose staging budget (64 MiB) is
 *     below the state, so it spills to /var/tmp: time against memcpy and
 *     the resident memory the load adds, beside a load staged in memory;
 *   - what dirty logging costs the datapath: a 64-byte vus_dma_write with
 *     logging off and on;
 *   - DMA_LOGGING_REPORT of 64 GiB of guest memory with 1% of its pages
 *     dirty: time per full report and guest memory scanned per second.
 * Server and client are threads of this process over a socketpair.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vus.h"
#include "vus/client.h"

#define SMALL 256u
#define BIG_STATE (256ull << 20)
#define GUEST (64ull << 30)
#define PAGE 4096ull

/* The staging of the next dev_start()'s device (NULL/0: in memory). */
static const char *stage_dir_next;
static uint64_t stage_mem_next;

struct dev {
	vus_ctx *ctx;
	pthread_t th;
	vus_client *c;
	uint8_t *state;
	size_t size;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (client and server threads). */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* Peak resident memory since the last reset_peak(), in MiB (0: unknown). */
static long peak_mib(void)
{
	char line[128];
	long kib = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kib >> 10;
}

/* Start the peak over from what is resident now (Linux's clear_refs 5). */
static void reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f != NULL) {
		fputs("5", f);
		fclose(f);
	}
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_mig: %s: %s\n", what, strerror(-err));
	exit(1);
}

static int sec_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct dev *d = o;

	/* The state is the device's own and does not change while it is
	 * stopped: the stream may send it from where it is. */
	return vus_mig_put_ref(out, d->state, d->size);
}

static int sec_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	(void)v;
	return vus_mig_remaining(in) == ((struct dev *)o)->size ? 0 : -EBADMSG;
}

static int sec_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	struct dev *d = o;

	(void)v;
	return vus_mig_get(in, d->state, d->size);
}

static int noop_read(vus_ctx *ctx, void *o, uint64_t off, void *buf, size_t len)
{
	(void)o;
	(void)off;
	memset(buf, 0, len);
	return 0;
}

static void *run(void *arg)
{
	vus_ctx_run(arg);
	return NULL;
}

static void dev_start(struct dev *d, size_t size)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = noop_read };
	static const struct vus_mig_section_ops sops = {
		.struct_size = sizeof(sops), .save = sec_save,
		.check = sec_check, .load = sec_load };
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg), .bus = VUS_BUS_PCI };
	struct vus_pci_info id = { .struct_size = sizeof(id), .vendor_id = 0x1b36,
				   .device_id = 0x00ff, .interrupt_pin = 1 };
	struct vus_region_desc bar = { .struct_size = sizeof(bar), .size = 0x4000,
		.flags = VUS_REGION_READ, .ops = &ops };
	struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = 16, .table_bar = 0,
		.table_offset = 0x2000, .pba_bar = 0, .pba_offset = 0x3000 };
	struct vus_mig_config mc = { .struct_size = sizeof(mc), .compat_version = 1,
				     .max_stream_size = BIG_STATE,
				     .stage_dir = stage_dir_next,
				     .stage_mem_max = stage_mem_next };
	int sv[2], ret;

	memset(d, 0, sizeof(*d));
	d->size = size;
	d->state = malloc(size);
	if (d->state == NULL)
		die("malloc", -ENOMEM);
	for (size_t i = 0; i < size; i += 4096)
		d->state[i] = (uint8_t)i;
	cfg.opaque = d;
	ret = vus_ctx_create(&cfg, &d->ctx);
	ret = ret ? ret : vus_pci_init(d->ctx, &id);
	ret = ret ? ret : vus_pci_setup_bar(d->ctx, 0, 0, &bar);
	ret = ret ? ret : (vus_pci_add_cap_msix(d->ctx, &msix) > 0 ? 0 : -EINVAL);
	ret = ret ? ret : vus_mig_setup(d->ctx, &mc);
	ret = ret ? ret : vus_mig_add_section(d->ctx, "state", 1, &sops, d);
	ret = ret ? ret : vus_ctx_realize(d->ctx);
	if (ret == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		ret = -errno;
	ret = ret ? ret : vus_ctx_attach_fd(d->ctx, sv[0]);
	if (ret == 0 && pthread_create(&d->th, NULL, run, d->ctx) != 0)
		ret = -EAGAIN;
	{
		/* A large state's STOP_COPY runs in one request: a loaded
		 * machine may need more than the default 5 s for it. */
		struct vus_client_config cc = { .struct_size = sizeof(cc),
						.timeout_ms = 120000 };

		ret = ret ? ret : vus_client_attach_fd(sv[1], &cc, &d->c);
	}
	if (ret < 0)
		die("device set-up", ret);
}

static void dev_stop(struct dev *d)
{
	vus_client_close(d->c);
	pthread_join(d->th, NULL);
	vus_ctx_destroy(d->ctx);
	free(d->state);
}

static int memfd(void)
{
	int fd = memfd_create("bench-stream", MFD_CLOEXEC);

	if (fd < 0)
		die("memfd_create", -errno);
	return fd;
}

static int write_all_fd(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	return 0;
}

static void small_device(void)
{
	const int n = 2000;
	struct dev a, b;
	double t_save = 0, t_load = 0, t_rtt, t0;
	uint64_t size = 0;
	uint32_t st;
	int fd = memfd(), ret;

	dev_start(&a, SMALL);
	dev_start(&b, SMALL);
	t0 = now_s();
	for (int i = 0; i < n; i++)
		if ((ret = vus_client_mig_get_state(a.c, &st)) < 0)
			die("get state", ret);
	t_rtt = (now_s() - t0) / n;
	for (int i = 0; i < n; i++) {
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
			die("ftruncate", -errno);
		t0 = now_s();
		ret = vus_client_mig_save(a.c, fd, &size);
		t_save += now_s() - t0;
		if (ret < 0 || (ret = vus_client_mig_set_state(a.c, VUS_MIG_RUNNING)) < 0)
			die("save", ret);
		if (lseek(fd, 0, SEEK_SET) < 0)
			die("lseek", -errno);
		t0 = now_s();
		ret = vus_client_mig_load(b.c, fd);
		t_load += now_s() - t0;
		if (ret < 0)
			die("load", ret);
	}
	printf("small device (PCI config + 16 MSI-X vectors + %u-byte section, "
	       "%llu-byte stream):\n", SMALL, (unsigned long long)size);
	printf("  save (STOP_COPY, read, STOP)        %8.1f us = %.1f round trips "
	       "(target <= 6)\n", t_save / n * 1e6, t_save / n / t_rtt);
	printf("  load (RESUMING, write, RUNNING)       %6.1f us = %.1f round trips\n",
	       t_load / n * 1e6, t_load / n / t_rtt);
	printf("  one round trip (MIG_DEVICE_STATE GET) %6.1f us\n", t_rtt * 1e6);
	close(fd);
	dev_stop(&a);
	dev_stop(&b);
}

/*
 * A second save of @d (after the first and a return to RUNNING): on a VM
 * the first pass of 256 MiB through a socket gets kernel pages the host
 * has not backed yet; this one shows the library without that.
 */
static double save_again(struct dev *d, int fd)
{
	uint64_t size;
	double t0;
	int ret = vus_client_mig_set_state(d->c, VUS_MIG_RUNNING);

	if (ret < 0 || lseek(fd, 0, SEEK_SET) < 0)
		die("save again", ret < 0 ? ret : -errno);
	t0 = now_s();
	ret = vus_client_mig_save(d->c, fd, &size);
	if (ret < 0)
		die("save again", ret);
	return now_s() - t0;
}

/* Push @big bytes of @src through socket @s[1] to a child reading @s[0]
 * into a 1 MiB buffer: the seconds it took. */
static double socket_pass(const int s[2], const uint8_t *src, size_t big)
{
	double t0 = now_s();
	pid_t pid = fork();
	int st;

	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		static uint8_t buf[1 << 20];

		for (size_t got = 0; got < big;) {
			ssize_t n = read(s[0], buf, sizeof(buf));

			if (n <= 0)
				_exit(1);
			got += (size_t)n;
		}
		_exit(0);
	}
	if (write_all_fd(s[1], src, big) < 0 || waitpid(pid, &st, 0) != pid ||
	    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("socket pass", -EIO);
	return now_s() - t0;
}

/*
 * What this machine charges whatever the library does, in memcpy times
 * (@t_copy): copying @big bytes into memory never touched (a destination
 * stages the stream in such memory) and moving them through a new
 * socket, a first and a second time (on a VM the first pass meets kernel
 * pages the host has not backed yet). Without libvus. Then that toll of
 * a first pass beside the first save's extra time over the second
 * (@t_first, @t_second), which a save pays in the kernel's copy into the
 * socket (doc/performance.md). The toll falls on whatever first takes
 * kernel pages the host gave up; measured here, after the saves, the
 * socket pays less of it than the first save did.
 */
static void print_floors(const uint8_t *src, size_t big, double t_copy,
			 double t_first, double t_second)
{
	uint8_t *fresh = mmap(NULL, big, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t0, t_fresh, t1, t2;
	int s[2];

	if (fresh == MAP_FAILED)
		die("mmap", -errno);
	t0 = now_s();
	memcpy(fresh, src, big);
	__asm__ volatile("" : : "r"(fresh) : "memory");
	t_fresh = now_s() - t0;
	munmap(fresh, big);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0)
		die("socketpair", -errno);
	t1 = socket_pass(s, src, big);
	t2 = socket_pass(s, src, big);
	close(s[0]);
	close(s[1]);
	printf("  floors here, without libvus: memcpy into untouched memory "
	       "%.1fx; through a new socket %.1fx, again %.1fx\n",
	       t_fresh / t_copy, t1 / t_copy, t2 / t_copy);
	printf("  a first pass's toll: the first save took %.0f ms more than "
	       "the second, a new socket's first pass %.0f ms more than its "
	       "second\n", (t_first - t_second) * 1e3, (t1 - t2) * 1e3);
}

static void big_state(size_t big, FILE *csv)
{
	struct dev a, b;
	uint8_t *copy = malloc(big);
	double t_save, t_load, t_copy, t0, c_save, c_load, c_copy, c0;
	long f_save, f_load, f0, m_save;
	uint64_t size;
	int fd = memfd(), ret;

	if (copy == NULL)
		die("malloc", -ENOMEM);
	dev_start(&a, big);
	dev_start(&b, big);
	memset(copy, 1, big);
	memset(b.state, 0, big);
	/* The memfd's pages exist before the save, as memcpy's target does:
	 * what is timed is the library, not the sink's page allocation. */
	if (write_all_fd(fd, copy, big) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		die("memfd fill", -errno);
	t0 = now_s();
	c0 = cpu_s();
	memcpy(copy, a.state, big);
	__asm__ volatile("" : : "r"(copy) : "memory"); /* the copy is used */
	c_copy = cpu_s() - c0;
	t_copy = now_s() - t0;
	reset_peak();
	m_save = peak_mib();
	f0 = faults();
	c0 = cpu_s();
	t0 = now_s();
	ret = vus_client_mig_save(a.c, fd, &size);
	t_save = now_s() - t0;
	c_save = cpu_s() - c0;
	f_save = faults() - f0;
	m_save = peak_mib() - m_save;
	if (ret < 0)
		die("save", ret);
	if (lseek(fd, 0, SEEK_SET) < 0)
		die("lseek", -errno);
	f0 = faults();
	c0 = cpu_s();
	t0 = now_s();
	ret = vus_client_mig_load(b.c, fd);
	t_load = now_s() - t0;
	c_load = cpu_s() - c0;
	f_load = faults() - f0;
	if (ret < 0 || memcmp(a.state, b.state, big) != 0)
		die("load", ret < 0 ? ret : -EIO);
	printf("large state (%llu MiB section), stream into a memfd and back:\n",
	       (unsigned long long)(big >> 20));
	printf("  save %7.2f GB/s   load %7.2f GB/s   memcpy %7.2f GB/s\n",
	       big / t_save / 1e9, big / t_load / 1e9,
	       big / t_copy / 1e9);
	printf("  ratio to memcpy: save %.1fx, load %.1fx the time "
	       "(target <= 6.7x)\n", t_save / t_copy, t_load / t_copy);
	/* CPU time (both ends, this process) holds up better than wall time
	 * on a busy machine; page faults are what fresh memory costs. */
	printf("  CPU time: save %.0f ms, load %.0f ms, memcpy %.0f ms; "
	       "page faults: save %ld, load %ld (%llu pages of state)\n",
	       c_save * 1e3, c_load * 1e3, c_copy * 1e3, f_save, f_load,
	       (unsigned long long)(big / PAGE));
	printf("  resident memory during the save: peak %ld MiB over what "
	       "was resident before it\n", m_save);
	c0 = cpu_s();
	t0 = save_again(&a, fd);
	printf("  a second save: %.2f GB/s, %.1fx memcpy's time, CPU time "
	       "%.0f ms\n", big / t0 / 1e9, t0 / t_copy, (cpu_s() - c0) * 1e3);
	print_floors(copy, big, t_copy, t_save, t0);
	if (csv != NULL)
		fprintf(csv, "%zu,%.3f,%.3f,%.3f\n", big >> 20, big / t_save / 1e9,
			big / t_load / 1e9, big / t_copy / 1e9);
	close(fd);
	free(copy);
	dev_stop(&a);
	dev_stop(&b);
}

/* Load @fd into a new device (staging as @dir, @mem say): seconds taken,
 * *@peak the MiB of resident memory it added at most. */
static double load_staged(struct dev *a, int fd, size_t big, const char *dir,
			  uint64_t mem, long *peak)
{
	struct dev b;
	double t0, t;
	long m0;
	int ret;

	stage_dir_next = dir;
	stage_mem_next = mem;
	dev_start(&b, big);
	stage_dir_next = NULL;
	stage_mem_next = 0;
	memset(b.state, 0, big);
	if (lseek(fd, 0, SEEK_SET) < 0)
		die("lseek", -errno);
	reset_peak();
	m0 = peak_mib();
	t0 = now_s();
	ret = vus_client_mig_load(b.c, fd);
	t = now_s() - t0;
	*peak = peak_mib() - m0;
	if (ret < 0 || memcmp(a->state, b.state, big) != 0)
		die("staged load", ret < 0 ? ret : -EIO);
	dev_stop(&b);
	return t;
}

/*
 * A destination with a 64 MiB staging budget and a state of @big bytes
 * (more): the section goes to an unnamed file in /var/tmp and load()
 * reads it back. Against memcpy and a load staged in memory, one run.
 */
static void spill_load(size_t big)
{
	const uint64_t budget = 64ull << 20;
	uint8_t *copy = malloc(big);
	double t_copy, t_mem, t_disk, t0;
	long p_mem, p_disk;
	uint64_t size;
	struct dev a;
	int fd = memfd(), ret;

	if (copy == NULL)
		die("malloc", -ENOMEM);
	dev_start(&a, big);
	for (size_t i = 0; i < big; i += 64)
		a.state[i] = (uint8_t)(i >> 6);
	memset(copy, 1, big);
	t0 = now_s();
	memcpy(copy, a.state, big);
	__asm__ volatile("" : : "r"(copy) : "memory");
	t_copy = now_s() - t0;
	if ((ret = vus_client_mig_save(a.c, fd, &size)) < 0)
		die("save", ret);
	t_mem = load_staged(&a, fd, big, NULL, 0, &p_mem);
	t_disk = load_staged(&a, fd, big, "/var/tmp", budget, &p_disk);
	printf("load of a %zu MiB state, staging budget %llu MiB (spilled to "
	       "/var/tmp) and in memory:\n", big >> 20,
	       (unsigned long long)(budget >> 20));
	printf("  spilled %.2f GB/s = %.1fx memcpy's time, resident peak +%ld "
	       "MiB\n", big / t_disk / 1e9, t_disk / t_copy, p_disk);
	printf("  in memory %.2f GB/s = %.1fx memcpy's time, resident peak +%ld "
	       "MiB\n", big / t_mem / 1e9, t_mem / t_copy, p_mem);
	close(fd);
	free(copy);
	dev_stop(&a);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void dirty_logging(void)
{
	const uint64_t base = 1ull << 32, pages = GUEST / PAGE;
	const size_t words = (size_t)(pages / 64);
	const int writes = 2000000, reports = 5;
	uint64_t *bm = malloc(words * 8), seed = 88172645463325252ull;
	uint8_t payload[64] = { 0 };
	double t_off, t_on, t_report = 0, t0;
	uint64_t marked = 0, seen = 0;
	struct dev d;
	void *mem;
	int ret;

	if (bm == NULL)
		die("malloc", -ENOMEM);
	dev_start(&d, SMALL);
	ret = vus_client_dma_map_memfd(d.c, base, GUEST,
		VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE, &mem);
	if (ret < 0)
		die("map 64 GiB", ret);
	/* The datapath: the same 64-byte writes without and with logging. */
	t0 = now_s();
	for (int i = 0; i < writes; i++)
		(void)vus_dma_write(d.ctx, base + (uint64_t)(i & 1023) * PAGE, payload, 64);
	t_off = (now_s() - t0) / writes;
	if ((ret = vus_client_dirty_start(d.c, PAGE, NULL, 0)) < 0)
		die("logging start", ret);
	t0 = now_s();
	for (int i = 0; i < writes; i++)
		(void)vus_dma_write(d.ctx, base + (uint64_t)(i & 1023) * PAGE, payload, 64);
	t_on = (now_s() - t0) / writes;
	printf("dirty logging on the datapath (64-byte vus_dma_write):\n");
	printf("  off %6.1f ns   on %6.1f ns   ratio %.2fx\n", t_off * 1e9,
	       t_on * 1e9, t_on / t_off);
	/* 64 GiB, 1% of its pages dirty at each report. */
	for (int r = 0; r < reports; r++) {
		for (uint64_t k = 0; k < pages / 100; k++) {
			uint64_t p = rnd(&seed) % pages;

			(void)vus_dma_mark_dirty(d.ctx, base + p * PAGE, 1);
			marked++;
		}
		memset(bm, 0, words * 8);
		t0 = now_s();
		ret = vus_client_dirty_report(d.c, base, GUEST, PAGE, bm, words);
		t_report += now_s() - t0;
		if (ret < 0)
			die("report", ret);
		for (size_t w = 0; w < words; w++)
			seen += (uint64_t)__builtin_popcountll(bm[w]);
	}
	printf("DMA_LOGGING_REPORT of %llu GiB (%llu pages, %zu KiB bitmap), "
	       "1%% dirty:\n", (unsigned long long)(GUEST >> 30),
	       (unsigned long long)pages, words * 8 / 1024);
	printf("  %.2f ms per report = %.0f GB of guest memory per second; "
	       "%llu pages marked, %llu reported (repeats counted once)\n",
	       t_report / reports * 1e3, GUEST / (t_report / reports) / 1e9,
	       (unsigned long long)marked, (unsigned long long)seen);
	vus_client_dirty_stop(d.c);
	free(bm);
	dev_stop(&d);
}

/*
 * Arguments: a part to run alone (small, large, spill or dirty); --csv PATH runs
 * the large state at 1 to 256 MiB and writes its rates there.
 */
int main(int argc, char **argv)
{
	const char *only = NULL, *csv_path = NULL;
	FILE *csv = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
			csv_path = argv[++i];
		else
			only = argv[i];
	}
	if (csv_path != NULL) {
		csv = fopen(csv_path, "w");
		if (csv == NULL)
			die("--csv", -errno);
		fprintf(csv, "size_mib,save_gbps,load_gbps,memcpy_gbps\n");
	}
	if (only == NULL || strcmp(only, "small") == 0)
		small_device();
	for (size_t mib = csv ? 1 : 256; only == NULL || strcmp(only, "large") == 0;
	     mib *= 4) {
		big_state(mib << 20, csv);
		if (mib >= 256)
			break;
	}
	if (csv != NULL)
		fclose(csv);
	if (only == NULL || strcmp(only, "spill") == 0)
		spill_load(BIG_STATE);
	if (only == NULL || strcmp(only, "dirty") == 0)
		dirty_logging();
	return 0;
}
