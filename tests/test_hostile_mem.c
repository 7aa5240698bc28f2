/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client memory that vanishes under the server (issue 10): a memfd the
 * client shrinks after DMA_MAP, and a sparse file on a full tmpfs whose
 * holes cannot be filled (an unprivileged client can mount a small tmpfs
 * in a user namespace). The first device access raised SIGBUS and killed
 * the process; here the server is a thread of the test process, so the
 * whole test died. Now the mapping turns into anonymous memory, the
 * access reads zeros, and the server goes on serving.
 *
 * The device reaches the memory three ways, on a register write of the
 * DMA address: vus_dma_read() of 64 bytes (0x200), a pointer from
 * vus_dma_sg() read with memcpy (0x208), vus_dma_read16() (0x210); each
 * leaves what it read in the registers at 0x300, 0x340, 0x380. A write
 * to 0x218 has it vus_dma_write() 64 bytes of 0x5a there.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport.h"
#include "tserver.h"
#include "vtest.h"

#define BASE 0x100000u
#define SIZE (1u << 20)

static struct peer_msg *m;
static struct tserver s;
static atomic_uint vanished_logs; /* warnings naming the lost memory */

/* Runs on the context thread. */
static void count_vanished(void *opaque, int level, const char *msg)
{
	(void)opaque;
	if (level == VUS_LOG_WARNING && strstr(msg, "vanished") != NULL &&
	    strstr(msg, "0x100000") != NULL)
		atomic_fetch_add(&vanished_logs, 1);
}

static int setup(void **state)
{
	struct tserver_opts o = { .log_fn = count_vanished,
				  .log_level = VUS_LOG_WARNING };

	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	vtest_setup(state);
	atomic_store(&vanished_logs, 0);
	tserver_start(&s, &o);
	return 0;
}

static int teardown(void **state)
{
	tserver_stop(&s);
	free(m);
	return vtest_teardown(state);
}

static int access_on_write(struct tdev *d, uint64_t off, const void *buf,
			   size_t len)
{
	struct vus_sg sg;
	uint64_t addr;
	uint16_t v16;
	size_t n;
	int ret;

	if (len != 8 || off < 0x200 || off > 0x218) {
		memcpy(d->regs + off, buf, len);
		return 0;
	}
	memcpy(&addr, buf, sizeof(addr));
	if (off == 0x200)
		return vus_dma_read(d->ctx, addr, d->regs + 0x300, 64);
	if (off == 0x208) {
		ret = vus_dma_sg(d->ctx, addr, 64, VUS_DMA_READ, &sg, 1, &n);
		if (ret == 0)
			memcpy(d->regs + 0x340, sg.vaddr, 64);
		return ret;
	}
	if (off == 0x218) {
		uint8_t fill[64];

		memset(fill, 0x5a, sizeof(fill));
		return vus_dma_write(d->ctx, addr, fill, sizeof(fill));
	}
	ret = vus_dma_read16(d->ctx, addr, &v16);
	memcpy(d->regs + 0x380, &v16, sizeof(v16));
	return ret;
}

static void map(int fd)
{
	struct wire_dma_map q = { .argsz = sizeof(q), .addr = BASE, .size = SIZE,
				  .flags = WIRE_DMA_READ | WIRE_DMA_WRITE };

	assert_int_equal(peer_call(&s, WIRE_CMD_DMA_MAP, &q, sizeof(q), &fd, 1,
				   m), 0);
}

/* Write @addr to the device's register @off: it accesses memory there. */
static void device_access(uint64_t off, uint64_t addr)
{
	uint8_t w[16 + 8];
	struct wire_region_access a = { .offset = off, .region = 0,
					.count = 8 };

	memcpy(w, &a, sizeof(a));
	memcpy(w + sizeof(a), &addr, sizeof(addr));
	assert_int_equal(peer_call(&s, WIRE_CMD_REGION_WRITE, w, sizeof(w),
				   NULL, 0, m), 0);
}

/* Have the device read at @addr each of the three ways. */
static void device_reads(uint64_t addr)
{
	for (uint64_t off = 0x200; off <= 0x210; off += 8)
		device_access(off, addr);
}

/* What the device read: 0x300 and 0x340 (64 bytes each), 0x380 (2). */
static void device_read_is(uint8_t byte)
{
	uint8_t want[64];

	/* Valgrind's emulation of a copy that faulted half way and was
	 * resumed on the new mapping leaves some old bytes: there only the
	 * server's survival is checked. */
	if (byte == 0 && vtest_under_valgrind())
		return;
	memset(want, byte, sizeof(want));
	assert_memory_equal(s.dev.regs + 0x300, want, 64);
	assert_memory_equal(s.dev.regs + 0x340, want, 64);
	assert_memory_equal(s.dev.regs + 0x380, want, 2);
}

/*
 * The server unmaps and serves on, and logs the loss once per repaired
 * mapping. It logs when it next waits for events (the fault woke it),
 * which may come after it answered requests already waiting.
 */
static void unmap_and_serve(void)
{
	long long deadline;

	struct wire_dma_unmap u = { .argsz = sizeof(u), .addr = BASE,
				    .size = SIZE };
	struct wire_device_info di = { .argsz = sizeof(di) };

	assert_int_equal(peer_call(&s, WIRE_CMD_DMA_UNMAP, &u, sizeof(u), NULL,
				   0, m), 0);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	assert_int_equal(peer_call(&s, WIRE_CMD_DEVICE_GET_INFO, &di,
				   sizeof(di), NULL, 0, m), 0);
	deadline = vtest_deadline(5000);
	while (atomic_load(&vanished_logs) == 0 && !vtest_expired(deadline))
		usleep(1000);
	assert_int_equal(atomic_load(&vanished_logs), 1);
}

static void shrunk_memfd_costs_the_client_its_memory_not_the_server(void **state)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);
	uint8_t page[4096];

	(void)state;
	s.dev.write_hook = access_on_write;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	memset(page, 0xa5, sizeof(page));
	assert_int_equal(pwrite(fd, page, sizeof(page), 0x3000), sizeof(page));
	map(fd);
	device_reads(BASE + 0x3000);
	device_read_is(0xa5);
	/* The client takes its memory back after the map. Pages the server
	 * never touched read as zeros, through a fault that replaced the
	 * mapping (not always the first access: a page just emptied may read
	 * as zeros once without a fault; under valgrind a page read before
	 * may still show its old bytes, so that one is not read again). */
	assert_int_equal(ftruncate(fd, 0), 0);
	device_reads(BASE + SIZE - 64);
	device_read_is(0);
	device_reads(BASE + SIZE / 2);
	device_read_is(0);
	device_reads(BASE + 0x10000);
	device_read_is(0);
	/* The device's writes land in the replacement (and never reach the
	 * client: its file stays empty). */
	device_access(0x218, BASE + 0x20000);
	device_reads(BASE + 0x20000);
	device_read_is(0x5a);
	assert_int_equal(lseek(fd, 0, SEEK_END), 0);
	close(fd);
	unmap_and_serve();
}

static void send_fd(int sock, int fd)
{
	char c = 0;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };

	(void)transport_sendmsg(sock, &iov, 1, &fd, 1);
}

static int recv_fd(int sock)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;

	assert_int_equal(recvmsg(sock, &mh, MSG_CMSG_CLOEXEC), 1);
	cm = CMSG_FIRSTHDR(&mh);
	assert_non_null(cm);
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

/*
 * In a user namespace of a child: a 64 KiB tmpfs, filled, holding a
 * 1 MiB sparse file; the file's fd comes back over @sock. Exit status 0
 * when sent, 1 when namespaces or mounts are not allowed here.
 */
static bool write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Be root in the new user namespace: uid and gid 0 map to ours. */
static bool map_ids(uid_t uid, gid_t gid)
{
	char line[32];
	int n;

	n = snprintf(line, sizeof(line), "0 %u 1\n", (unsigned int)uid);
	if (!write_file("/proc/self/uid_map", line, (size_t)n))
		return false;
	(void)write_file("/proc/self/setgroups", "deny", 4);
	n = snprintf(line, sizeof(line), "0 %u 1\n", (unsigned int)gid);
	return write_file("/proc/self/gid_map", line, (size_t)n);
}

static int full_tmpfs_child(int sock)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	/* A forked child of a threaded process: no locks (snprintf into a
	 * local buffer takes none). */
	static char dir[] = "/tmp/vus-tmpfs-XXXXXX", path[64];
	static char fill[64 << 10];
	int fd, filler;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || !map_ids(uid, gid) ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mkdtemp(dir) == NULL)
		return 1;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0) {
		rmdir(dir);
		return 1;
	}
	memcpy(path, dir, sizeof(dir) - 1);
	memcpy(path + sizeof(dir) - 1, "/guest", 7);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	memcpy(path + sizeof(dir) - 1, "/fill", 6);
	filler = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || filler < 0 || ftruncate(fd, SIZE) < 0)
		return 2;
	/* Fill every block: the sparse file's holes cannot get one. */
	while (write(filler, fill, sizeof(fill)) > 0)
		;
	send_fd(sock, fd);
	return 0;
}

static void hole_on_a_full_tmpfs_costs_the_client_its_memory(void **state)
{
	int sv[2], st, fd;
	pid_t pid;

	(void)state;
	s.dev.write_hook = access_on_write;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(full_tmpfs_child(sv[1]));
	}
	close(sv[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WEXITSTATUS(st) == 1) {
		close(sv[0]);
		print_message("skipped: no user namespace or tmpfs mount here\n");
		return;
	}
	assert_int_equal(WEXITSTATUS(st), 0);
	fd = recv_fd(sv[0]);
	close(sv[0]);
	map(fd);
	device_access(0x218, BASE + 0x7000);
	close(fd);
	device_reads(BASE + 0x5000);
	device_read_is(0);
	unmap_and_serve();
}

/* A program's own SIGBUS handler, installed after the context: it
 * repairs its own mappings the way libvus does, and counts. */
static void *own_page;
static volatile sig_atomic_t own_faults;

static void own_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if ((uint8_t *)si->si_addr < (uint8_t *)own_page ||
	    (uint8_t *)si->si_addr >= (uint8_t *)own_page + 4096)
		abort();
	own_faults++;
	(void)mmap(own_page, 4096, PROT_READ | PROT_WRITE,
		   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/*
 * The program replaced libvus's handler after the context was made: the
 * next DMA_MAP puts libvus's back in front, which passes the program the
 * faults outside client memory and keeps those inside for itself.
 */
static void handler_installed_later_keeps_its_faults(void **state)
{
	struct sigaction sa = { .sa_sigaction = own_sigbus,
				.sa_flags = SA_SIGINFO }, old;
	int fd = memfd_create("guest", MFD_CLOEXEC);
	int own = memfd_create("own", MFD_CLOEXEC);

	(void)state;
	s.dev.write_hook = access_on_write;
	assert_true(fd >= 0 && own >= 0);
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGBUS, &sa, &old), 0);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	assert_int_equal(ftruncate(own, 4096), 0);
	own_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
	assert_true(own_page != MAP_FAILED);
	map(fd);
	/* A fault of the program's own goes to the program's handler. */
	assert_int_equal(ftruncate(own, 0), 0);
	own_faults = 0;
	*(volatile uint8_t *)own_page = 1;
	assert_int_equal(own_faults, 1);
	/* One in client memory is libvus's. */
	assert_int_equal(ftruncate(fd, 0), 0);
	device_reads(BASE + 0x1000);
	device_read_is(0);
	assert_int_equal(own_faults, 1);
	close(fd);
	close(own);
	unmap_and_serve();
	munmap(own_page, 4096);
	assert_int_equal(sigaction(SIGBUS, &old, NULL), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			shrunk_memfd_costs_the_client_its_memory_not_the_server,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			hole_on_a_full_tmpfs_costs_the_client_its_memory,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			handler_installed_later_keeps_its_faults,
			setup, teardown),
	};

	return vtest_run("hostile_mem", tests, argc, argv);
}
