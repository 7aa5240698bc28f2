/* SPDX-License-Identifier: BSD-3-Clause */
/* test_virtio_util: the vus-virtio-net-pci rig (see test_virtio_util.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_util.h"
#include "vus_client_raw.h"

const char *vnet_exe;
const char *vus_supervise;

/* Common configuration offsets. */
#define GFSELECT 0x08
#define GF 0x0c
#define DFSELECT 0x00
#define DF 0x04
#define MSIX_CONFIG 0x10
#define STATUS 0x14
#define Q_SELECT 0x16
#define Q_SIZE 0x18
#define Q_MSIX 0x1a
#define Q_ENABLE 0x1c
#define Q_DESC 0x20
#define Q_DRIVER 0x28
#define Q_DEVICE 0x30

long long tv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wait_for_path(const char *path, pid_t pid)
{
	long long end = tv_now_ns() + vtest_ms(10000) * 1000000ll;
	struct stat st;
	int status;

	while (stat(path, &st) < 0) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("vus-virtio-net-pci exited (status %#x)", status);
		if (tv_now_ns() > end)
			fail_msg("%s did not appear", path);
		usleep(2000);
	}
}

static void spawn(struct tv *t, const char *const *extra)
{
	const char *argv[44] = { vus_supervise, "--burst", "1000", "--" };
	unsigned int n = vus_supervise != NULL ? 4 : 0;
	const char *const ours[] = { vnet_exe, "--socket-path", t->sock,
				     "--log-level", "warning", NULL };
	const char *const link[] = { "--bind", t->bind, "--peer", t->peer, NULL };
	bool tap = false;

	/* A TAP back-end or a shm link instead of the datagram link: no
	 * --bind/--peer. */
	for (const char *const *a = extra; a && *a; a++)
		tap |= strcmp(*a, "--tap") == 0 || strncmp(*a, "--shm-", 6) == 0;
	for (const char *const *a = ours; *a; a++)
		argv[n++] = *a;
	for (const char *const *a = link; !tap && *a; a++)
		argv[n++] = *a;
	for (; extra && *extra && n < 43; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		/* Dies with us, should a test fail or time out. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* tv_start_pair keeps the server's output (counters). */
		if (t->log_fd > 2)
			dup2(t->log_fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

static int new_memfd(uint64_t size)
{
	int fd = memfd_create("tv-ram", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/*
 * Grant [addr, addr + size) of memfd @fd, which we keep (a client of the
 * same VM coming back grants the same memory); returns our mapping, made
 * now unless @have is one already.
 */
static void *grant_memfd(vus_client *c, uint64_t addr, uint64_t size, int fd,
			 void *have)
{
	struct {
		uint32_t argsz, flags;
		uint64_t offset, addr, size;
	} q = { .argsz = sizeof(q), .flags = 3, .addr = addr, .size = size };
	struct vus_client_reply rep;
	void *p = have;

	if (p == NULL) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		assert_true(p != MAP_FAILED);
	}
	assert_int_equal(vus_client_request(c, VUS_CMD_DMA_MAP, 0, &q, sizeof(q),
					    &fd, 1, &rep), 0);
	assert_int_equal(rep.error, 0);
	vus_client_reply_free(&rep);
	return p;
}

static void drop_memfd(void *mem, uint64_t size, int *fd)
{
	if (*fd < 0)
		return;
	munmap(mem, size);
	close(*fd);
	*fd = -1;
}

static void bind_peer(struct tv *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, t->peer);
	t->peer_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(t->peer_fd >= 0);
	unlink(t->peer);
	assert_int_equal(bind(t->peer_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* Room for bursts: the test reads at its own pace. */
	int sz = 4 << 20;
	setsockopt(t->peer_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* The path appears at bind(), a moment before listen(). */
static void connect_client(struct tv *t)
{
	long long end = tv_now_ns() + vtest_ms(10000) * 1000000ll;
	int ret;

	while ((ret = vus_client_connect(t->sock, VTEST_CLIENT_CFG, &t->c)) == -ECONNREFUSED &&
	       tv_now_ns() < end)
		usleep(2000);
	assert_int_equal(ret, 0);
}

/* Map BAR 4's notification page if the device offers it. */
static void map_notify(struct tv *t)
{
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };

	assert_int_equal(vus_client_region_info(t->c, TV_BAR, &ri), 0);
	assert_int_equal(ri.size, 0x4000);
	if (!(ri.flags & VUS_CLIENT_REGION_MMAP)) {
		if (ri.fd >= 0)
			close(ri.fd);
		return;
	}
	assert_int_equal(ri.nr_areas, 1);
	assert_int_equal(ri.areas[0].offset, TV_NOTIFY);
	assert_int_equal(vus_client_region_mmap(&ri, &t->bar_map), 0);
	close(ri.fd);
	t->notify = (uint8_t *)t->bar_map + TV_NOTIFY;
}

static void start_one(struct tv *t, const char *const *extra, bool logged)
{
	void *ram;

	*t = (struct tv){ .peer_fd = -1, .ram_fd = -1 };
	snprintf(t->sock, sizeof(t->sock), "%s", vtest_sock_path("vnet"));
	snprintf(t->bind, sizeof(t->bind), "%s", vtest_sock_path("vnet-dev"));
	snprintf(t->peer, sizeof(t->peer), "%s", vtest_sock_path("vnet-peer"));
	bind_peer(t);
	if (logged)
		t->log_fd = tv_log_create();
	spawn(t, extra);
	wait_for_path(t->sock, t->pid);
	connect_client(t);
	assert_int_equal(vus_client_dma_map_memfd(t->c, TV_RAM, TV_RAM_SIZE,
						  VUS_CLIENT_DMA_READ |
						  VUS_CLIENT_DMA_WRITE, &ram), 0);
	t->ram = ram;
	map_notify(t);
}

void tv_start(struct tv *t, const char *const *extra)
{
	start_one(t, extra, false);
}

void tv_start_logged(struct tv *t, const char *const *extra)
{
	start_one(t, extra, true);
}

void tv_stop(struct tv *t)
{
	int status = 0;

	if (t->bar_map != NULL)
		munmap(t->bar_map, 0x4000);
	vus_client_close(t->c);
	t->c = NULL;
	drop_memfd(t->ram, TV_RAM_SIZE, &t->ram_fd);
	close(t->peer_fd);
	unlink(t->peer);
	assert_int_equal(kill(t->pid, SIGTERM), 0);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The server removes its socket and its bound datagram path. */
	assert_int_equal(access(t->sock, F_OK), -1);
	assert_int_equal(access(t->bind, F_OK), -1);
}

uint32_t tv_rd(struct tv *t, uint32_t off, unsigned int size)
{
	uint32_t v = 0;

	assert_int_equal(vus_client_region_read(t->c, TV_BAR, TV_COMMON + off,
						&v, size), 0);
	return le32toh(v);
}

bool tv_link_up(struct tv *t)
{
	uint16_t v = 0;

	assert_int_equal(vus_client_region_read(t->c, TV_BAR, TV_DEVCFG + 6,
						&v, 2), 0);
	return le16toh(v) & 1;
}

void tv_wait_link(struct tv *t, bool up)
{
	long long end = tv_now_ns() + vtest_ms(10000) * 1000000ll;

	while (tv_link_up(t) != up) {
		if (tv_now_ns() > end)
			fail_msg("link still %s", up ? "down" : "up");
		usleep(1000);
	}
}

void tv_read_mac(struct tv *t, uint8_t mac[6])
{
	/* A BAR's callbacks take naturally aligned 1, 2, 4 or 8 bytes. */
	for (unsigned int i = 0; i < 6; i++)
		assert_int_equal(vus_client_region_read(t->c, TV_BAR,
							TV_DEVCFG + i, mac + i, 1), 0);
}

void tv_wr(struct tv *t, uint32_t off, unsigned int size, uint32_t val)
{
	val = htole32(val);
	assert_int_equal(vus_client_region_write(t->c, TV_BAR, TV_COMMON + off,
						 &val, size), 0);
}

uint8_t tv_status(struct tv *t)
{
	return (uint8_t)tv_rd(t, STATUS, 1);
}

void tv_set_status(struct tv *t, uint8_t status)
{
	long long end = tv_now_ns() + vtest_ms(5000) * 1000000ll;

	tv_wr(t, STATUS, 1, status);
	/* After a 0 the driver waits for the device to read 0. */
	while (status == 0 && tv_status(t) != 0) {
		if (tv_now_ns() > end)
			fail_msg("reset did not complete");
		usleep(100);
	}
}

uint64_t tv_device_features(struct tv *t)
{
	uint64_t f;

	tv_wr(t, DFSELECT, 4, 0);
	f = tv_rd(t, DF, 4);
	tv_wr(t, DFSELECT, 4, 1);
	return f | (uint64_t)tv_rd(t, DF, 4) << 32;
}

static void cfg_rd(struct tv *t, uint32_t off, void *buf, size_t len)
{
	assert_int_equal(vus_client_region_read(t->c, VUS_PCI_REGION_CONFIG, off,
						buf, len), 0);
}

static void cfg_wr16(struct tv *t, uint32_t off, uint16_t v)
{
	v = htole16(v);
	assert_int_equal(vus_client_region_write(t->c, VUS_PCI_REGION_CONFIG, off,
						 &v, 2), 0);
}

void tv_enable_msix(struct tv *t)
{
	uint8_t cfg[256];
	unsigned int p, steps = 0;

	cfg_rd(t, 0, cfg, sizeof(cfg));
	for (p = cfg[0x34]; p != 0 && steps < 48; p = cfg[p + 1], steps++)
		if (cfg[p] == 0x11)
			break;
	assert_true(p != 0 && cfg[p] == 0x11);
	cfg_wr16(t, 0x04, 0x0006); /* memory space, bus master */
	cfg_wr16(t, p + 2, 0x8000); /* MSI-X enable */
	assert_int_equal(vus_client_irq_enable(t->c, VUS_PCI_IRQ_MSIX, 3), 0);
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Rings at @base: descriptors, then the driver area, then the device
 * area, each at least 16 KiB apart (64 KiB in all up to 1024 entries). */
void tv_setup_queue(struct tv *t, unsigned int q, uint32_t size,
		    uint64_t base)
{
	struct tvq *v = &t->q[q];
	uint64_t avail = base + max_u64(16ull * size, 0x4000);
	uint64_t used = avail + max_u64((6ull + 2 * size + 4095) & ~4095ull,
					0x4000);

	*v = (struct tvq){ .size = (uint16_t)size, .desc = base, .avail = avail,
			   .used = used };
	memset(tv_gp(t, base), 0, used + 6 + 8ull * size - base);
	tv_wr(t, Q_SELECT, 2, q);
	tv_wr(t, Q_SIZE, 2, size);
	tv_wr(t, Q_MSIX, 2, q == 0 ? TV_VEC_RX : TV_VEC_TX);
	tv_wr(t, Q_DESC, 4, (uint32_t)v->desc);
	tv_wr(t, Q_DESC + 4, 4, (uint32_t)(v->desc >> 32));
	tv_wr(t, Q_DRIVER, 4, (uint32_t)v->avail);
	tv_wr(t, Q_DRIVER + 4, 4, (uint32_t)(v->avail >> 32));
	tv_wr(t, Q_DEVICE, 4, (uint32_t)v->used);
	tv_wr(t, Q_DEVICE + 4, 4, (uint32_t)(v->used >> 32));
	tv_wr(t, Q_ENABLE, 2, 1);
}

uint8_t tv_init(struct tv *t, uint64_t features, uint16_t qsize)
{
	const uint32_t sizes[2] = { qsize, qsize };
	const uint64_t bases[2] = { TV_RAM, TV_RAM + 0x10000 };

	return tv_init_layout(t, features, sizes, bases);
}

uint8_t tv_init_layout(struct tv *t, uint64_t features,
		       const uint32_t sizes[2], const uint64_t bases[2])
{
	uint8_t st = tv_negotiate(t, features);

	if (!(st & 0x08))
		return st;
	tv_setup_queue(t, 0, sizes[0], bases[0]);
	tv_setup_queue(t, 1, sizes[1], bases[1]);
	tv_set_status(t, 0x0f);
	return tv_status(t);
}

uint8_t tv_negotiate(struct tv *t, uint64_t features)
{
	uint8_t st;

	tv_set_status(t, 0);
	tv_set_status(t, 0x01);
	tv_set_status(t, 0x03);
	tv_wr(t, GFSELECT, 4, 0);
	tv_wr(t, GF, 4, (uint32_t)features);
	tv_wr(t, GFSELECT, 4, 1);
	tv_wr(t, GF, 4, (uint32_t)(features >> 32));
	tv_set_status(t, 0x0b);
	st = tv_status(t);
	if (!(st & 0x08))
		return st;
	t->features = features;
	tv_wr(t, MSIX_CONFIG, 2, TV_VEC_CONFIG);
	return st;
}

void tv_kick(struct tv *t, unsigned int q)
{
	uint16_t v = htole16((uint16_t)q);

	if (t->notify != NULL) {
		__atomic_store_n((uint16_t *)(void *)(t->notify + 4 * q), v,
				 __ATOMIC_SEQ_CST);
		return;
	}
	assert_int_equal(vus_client_region_write(t->c, TV_BAR, TV_NOTIFY + 4 * q,
						 &v, 2), 0);
}

uint8_t *tv_gp(struct tv *t, uint64_t gpa)
{
	assert_true(gpa >= TV_RAM && gpa < TV_RAM + TV_RAM_SIZE);
	return t->ram + (gpa - TV_RAM);
}

void tv_desc(struct tv *t, unsigned int q, uint16_t i, uint64_t addr,
	     uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = tv_gp(t, t->q[q].desc + 16ull * i);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

void tv_offer(struct tv *t, unsigned int q, uint16_t head)
{
	struct tvq *v = &t->q[q];
	uint16_t h = htole16(head), idx;

	memcpy(tv_gp(t, v->avail + 4 + 2 * (v->avail_idx % v->size)), &h, 2);
	v->avail_idx++;
	idx = htole16(v->avail_idx);
	__atomic_store_n((uint16_t *)(void *)tv_gp(t, v->avail + 2), idx,
			 __ATOMIC_RELEASE);
}

uint16_t tv_used_idx(struct tv *t, unsigned int q)
{
	return le16toh(__atomic_load_n(
		(uint16_t *)(void *)tv_gp(t, t->q[q].used + 2), __ATOMIC_ACQUIRE));
}

void tv_used_elem(struct tv *t, unsigned int q, uint16_t i, uint32_t *id,
		  uint32_t *len)
{
	uint8_t *p = tv_gp(t, t->q[q].used + 4 + 8ull * (i % t->q[q].size));

	memcpy(id, p, 4);
	memcpy(len, p + 4, 4);
	*id = le32toh(*id);
	*len = le32toh(*len);
}

bool tv_wait_used(struct tv *t, unsigned int q, uint16_t idx, int ms)
{
	long long end = tv_now_ns() + vtest_ms(ms) * 1000000ll;

	while ((uint16_t)(tv_used_idx(t, q) - idx) >= 0x8000) {
		if (tv_now_ns() > end)
			return false;
		usleep(50);
	}
	return true;
}

void tv_send(struct tv *t, uint16_t slot, const void *frame, size_t len)
{
	uint64_t buf = TV_TXBUF(slot);
	uint16_t head = (uint16_t)(slot % t->q[1].size);

	assert_true(12 + len <= TV_BUF_SIZE);
	memset(tv_gp(t, buf), 0, 12);
	memcpy(tv_gp(t, buf + 12), frame, len);
	tv_desc(t, 1, head, buf, (uint32_t)(12 + len), 0, 0);
	tv_offer(t, 1, head);
	tv_kick(t, 1);
}

void tv_post_rx(struct tv *t, uint16_t first, uint16_t n)
{
	for (uint16_t i = first; i < first + n; i++) {
		uint16_t head = (uint16_t)(i % t->q[0].size);

		tv_desc(t, 0, head, TV_RXBUF(i), TV_BUF_SIZE, 2 /* WRITE */, 0);
		tv_offer(t, 0, head);
	}
	tv_kick(t, 0);
}

ssize_t tv_peer_recv(struct tv *t, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = t->peer_fd, .events = POLLIN };

	if (poll(&pfd, 1, vtest_ms(ms)) <= 0)
		return -1;
	return recv(t->peer_fd, buf, len, MSG_DONTWAIT);
}

static ssize_t peer_sendto(struct tv *t, const void *frame, size_t len,
			   int flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, t->bind);
	return sendto(t->peer_fd, frame, len, flags, (struct sockaddr *)&sa,
		      sizeof(sa));
}

void tv_peer_send(struct tv *t, const void *frame, size_t len)
{
	assert_int_equal(peer_sendto(t, frame, len, 0), (ssize_t)len);
}

bool tv_peer_try_send(struct tv *t, const void *frame, size_t len)
{
	ssize_t n = peer_sendto(t, frame, len, MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return false;
	assert_int_equal(n, (ssize_t)len);
	return true;
}

/*
 * Back to back: two servers linked by their datagram backends, each with a
 * driver (struct tvd) on its own client.
 */

void tv_start_pair(struct tv *a, struct tv *b, const char *const *extra_a,
		   const char *const *extra_b)
{
	struct tv *both[2] = { a, b };
	const char *const *extra[2] = { extra_a, extra_b };

	*a = (struct tv){ .peer_fd = -1, .ram_fd = -1 };
	*b = (struct tv){ .peer_fd = -1, .ram_fd = -1 };
	snprintf(a->sock, sizeof(a->sock), "%s", vtest_sock_path("vnet-a"));
	snprintf(b->sock, sizeof(b->sock), "%s", vtest_sock_path("vnet-b"));
	snprintf(a->bind, sizeof(a->bind), "%s", vtest_sock_path("link-a"));
	snprintf(b->bind, sizeof(b->bind), "%s", vtest_sock_path("link-b"));
	memcpy(a->peer, b->bind, sizeof(a->peer));
	memcpy(b->peer, a->bind, sizeof(b->peer));
	for (int i = 0; i < 2; i++) {
		both[i]->log_fd = tv_log_create();
		spawn(both[i], extra[i]);
	}
	for (int i = 0; i < 2; i++) {
		wait_for_path(both[i]->sock, both[i]->pid);
		connect_client(both[i]);
		both[i]->ram_fd = new_memfd(TV_RAM_SIZE);
		both[i]->ram = grant_memfd(both[i]->c, TV_RAM, TV_RAM_SIZE,
					   both[i]->ram_fd, NULL);
		map_notify(both[i]);
	}
}

/* The end of the server's output (its counters come last), NUL-terminated. */
static void read_log(int fd, char *buf, size_t len)
{
	struct stat st;
	off_t from = 0;
	ssize_t n;

	if (fstat(fd, &st) == 0 && st.st_size > (off_t)len - 1)
		from = st.st_size - ((off_t)len - 1);
	n = pread(fd, buf, len - 1, from);
	buf[n > 0 ? n : 0] = '\0';
}

int tv_log_create(void)
{
	int fd = memfd_create("vnet-log", MFD_CLOEXEC);

	/* A memfd's offset is not serialized between the processes sharing
	 * it (unlike a regular file's): two writing at once write at the
	 * same offset, one line over the other. Appends are. */
	assert_true(fd > 2);
	assert_int_equal(fcntl(fd, F_SETFL, O_APPEND), 0);
	return fd;
}

void tv_log_stats(int log_fd, struct tv_dev_stats *st)
{
	static char out[65536];
	const char *line = NULL, *p;

	read_log(log_fd, out, sizeof(out));
	for (p = out; (p = strstr(p, "vus-virtio-net-pci: tx ")) != NULL; p++)
		line = p;
	assert_non_null(line);
	*st = (struct tv_dev_stats){ 0 };
	assert_int_equal(sscanf(line, "vus-virtio-net-pci: tx %llu frames %llu bytes "
				"%llu dropped, rx %llu frames %llu bytes %llu dropped, "
				"%llu kicks, %llu interrupts, %llu queue errors",
				&st->tx_packets, &st->tx_bytes, &st->tx_dropped,
				&st->rx_packets, &st->rx_bytes, &st->rx_dropped,
				&st->kicks, &st->interrupts, &st->queue_errors), 9);
}

void tv_stats_add(struct tv_dev_stats *sum, const struct tv_dev_stats *s)
{
	sum->tx_packets += s->tx_packets;
	sum->tx_bytes += s->tx_bytes;
	sum->tx_dropped += s->tx_dropped;
	sum->rx_packets += s->rx_packets;
	sum->rx_bytes += s->rx_bytes;
	sum->rx_dropped += s->rx_dropped;
	sum->kicks += s->kicks;
	sum->interrupts += s->interrupts;
	sum->queue_errors += s->queue_errors;
}

void tv_stop_stats(struct tv *t, struct tv_dev_stats *st)
{
	static char out[65536];
	int status = 0;

	if (t->bar_map != NULL)
		munmap(t->bar_map, 0x4000);
	t->bar_map = NULL;
	t->notify = NULL;
	vus_client_close(t->c);
	t->c = NULL;
	drop_memfd(t->ram, TV_RAM_SIZE, &t->ram_fd);
	assert_int_equal(kill(t->pid, SIGTERM), 0);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	read_log(t->log_fd, out, sizeof(out));
	tv_log_stats(t->log_fd, st);
	close(t->log_fd);
	t->log_fd = 0;
	if (t->peer_fd >= 0) { /* tv_start_logged: our end of the link */
		close(t->peer_fd);
		unlink(t->peer);
		t->peer_fd = -1;
	}
	fputs(out, stderr);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(t->sock, F_OK), -1);
	assert_int_equal(access(t->bind, F_OK), -1);
}

/* Close the client; a new one connects. */
static void client_again(struct tv *t)
{
	if (t->bar_map != NULL)
		munmap(t->bar_map, 0x4000);
	t->bar_map = NULL;
	t->notify = NULL;
	vus_client_close(t->c);
	t->c = NULL;
	connect_client(t);
}

void tv_reconnect(struct tv *t)
{
	bool ours = t->ram_fd >= 0;
	void *ram;

	drop_memfd(t->ram, TV_RAM_SIZE, &t->ram_fd);
	client_again(t);
	/* A new VM: the device it finds must be as at power-on. */
	assert_int_equal(vus_client_reset(t->c), 0);
	if (ours) {
		t->ram_fd = new_memfd(TV_RAM_SIZE);
		t->ram = grant_memfd(t->c, TV_RAM, TV_RAM_SIZE, t->ram_fd, NULL);
	} else {
		assert_int_equal(vus_client_dma_map_memfd(t->c, TV_RAM, TV_RAM_SIZE,
							  VUS_CLIENT_DMA_READ |
							  VUS_CLIENT_DMA_WRITE,
							  &ram), 0);
		t->ram = ram;
	}
	map_notify(t);
}

/* The driver. */

#define F_MRG_RXBUF (1ull << 15)
#define F_INDIRECT (1ull << 28)
#define F_EVENT_IDX (1ull << 29)
#define D_NEXT 1u
#define D_WRITE 2u
#define D_INDIRECT 4u
#define NET_HDR 12u
/* A transmit slot: indirect table, header, frame. */
#define SLOT_TABLE 0x00u
#define SLOT_HDR 0x40u
#define SLOT_FRAME (SLOT_HDR + NET_HDR)

_Static_assert(SLOT_FRAME + TVD_MAX_FRAME <= TVD_TX_SLOT, "slot size");
_Static_assert((TVD_MAX_QSIZE / 2) * TVD_TX_SLOT <= TVD_RX_AREA, "tx area");

static uint8_t *mem_at(const struct tvd *d, uint64_t gpa)
{
	assert_true(gpa >= TVD_MEM && gpa < TVD_MEM + TVD_MEM_SIZE);
	return d->mem + (gpa - TVD_MEM);
}

static uint64_t slot_gpa(unsigned int s)
{
	return TVD_MEM + (uint64_t)s * TVD_TX_SLOT;
}

static uint64_t rx_gpa(const struct tvd *d, unsigned int i)
{
	return TVD_MEM + TVD_RX_AREA + (uint64_t)i * d->cfg.rx_buf_len;
}

static void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

static uint16_t load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p,
				       __ATOMIC_ACQUIRE));
}

static void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELEASE);
}

static void fetch_kick_fds(struct tvd *d)
{
	struct vus_client_ioeventfd io[4];
	int n = vus_client_region_io_fds(d->t->c, TV_BAR, io, 4);

	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++) {
		uint64_t q = (io[i].offset - TV_NOTIFY) / 4;

		assert_true(q < 2 && io[i].offset == TV_NOTIFY + 4 * q);
		assert_int_equal(io[i].size, 2);
		assert_int_equal(d->kick_fd[q], -1);
		d->kick_fd[q] = io[i].fd;
	}
}

static void post_rx(struct tvd *d, uint16_t id)
{
	d->rx_out[id] = true;
	tv_offer(d->t, 0, id);
}

/* DRIVER_OK with fresh rings and every receive buffer offered. */
static void start(struct tvd *d)
{
	struct tv *t = d->t;

	/* MSI-X on (a reset may have turned it off), our eventfds bound. */
	tv_enable_msix(t);
	assert_int_equal(vus_client_irq_bind(t->c, VUS_PCI_IRQ_MSIX, 0, 3,
					     d->irq_fd), 0);
	assert_int_equal(tv_init(t, d->cfg.features, d->cfg.qsize), 0x0f);
	d->down = false;
	d->tx_used = d->rx_used = 0;
	d->kicked[0] = d->kicked[1] = 0;
	d->nr_slots = d->nr_free = d->cfg.qsize / 2;
	for (uint16_t s = 0; s < d->nr_slots; s++) {
		d->free_slot[s] = (uint16_t)(d->nr_slots - 1 - s);
		d->slot_busy[s] = false;
	}
	for (uint16_t i = 0; i < d->cfg.qsize; i++) {
		tv_desc(t, 0, i, rx_gpa(d, i), d->cfg.rx_buf_len, D_WRITE, 0);
		post_rx(d, i);
	}
	tvd_flush(d);
}

static void attach(struct tvd *d)
{
	struct tv *t = d->t;

	d->mem_fd = new_memfd(TVD_MEM_SIZE);
	d->mem = grant_memfd(t->c, TVD_MEM, TVD_MEM_SIZE, d->mem_fd, NULL);
	if (d->cfg.kick == TV_KICK_IOEVENTFD)
		fetch_kick_fds(d);
	if (d->cfg.kick == TV_KICK_MMAP)
		assert_non_null(t->notify);
	start(d);
}

void tvd_init(struct tvd *d, struct tv *t, const struct tvd_config *cfg)
{
	*d = (struct tvd){ .t = t, .cfg = *cfg, .irq_fd = { -1, -1, -1 },
			   .kick_fd = { -1, -1 }, .mem_fd = -1 };
	if (d->cfg.rx_buf_len == 0)
		d->cfg.rx_buf_len = 2048;
	assert_true(d->cfg.qsize >= 2 && d->cfg.qsize <= TVD_MAX_QSIZE);
	assert_true(d->cfg.rx_buf_len > NET_HDR);
	assert_true((uint64_t)d->cfg.qsize * d->cfg.rx_buf_len <=
		    TVD_MEM_SIZE - TVD_RX_AREA);
	for (int i = 0; i < 3; i++) {
		d->irq_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(d->irq_fd[i] >= 0);
	}
	attach(d);
}

static void close_kick_fds(struct tvd *d)
{
	for (int q = 0; q < 2; q++) {
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
		d->kick_fd[q] = -1;
	}
}

void tvd_detach(struct tvd *d)
{
	d->down = true;
	d->gone = true;
	drop_memfd(d->mem, TVD_MEM_SIZE, &d->mem_fd);
	d->mem = NULL;
}

void tvd_reattach(struct tvd *d)
{
	d->gone = false;
	close_kick_fds(d);
	attach(d);
}

void tvd_reset(struct tvd *d, bool device_reset)
{
	if (device_reset)
		assert_int_equal(vus_client_reset(d->t->c), 0);
	else
		tv_set_status(d->t, 0);
	assert_int_equal(tv_status(d->t), 0);
	d->down = true;
}

void tvd_reinit(struct tvd *d)
{
	start(d);
}

void tvd_reconnect_same_vm(struct tvd *d)
{
	struct tv *t = d->t;

	assert_true(t->ram_fd >= 0 && d->mem_fd >= 0);
	client_again(t);
	(void)grant_memfd(t->c, TV_RAM, TV_RAM_SIZE, t->ram_fd, t->ram);
	(void)grant_memfd(t->c, TVD_MEM, TVD_MEM_SIZE, d->mem_fd, d->mem);
	map_notify(t);
	close_kick_fds(d);
	if (d->cfg.kick == TV_KICK_IOEVENTFD)
		fetch_kick_fds(d);
	assert_int_equal(vus_client_irq_bind(t->c, VUS_PCI_IRQ_MSIX, 0, 3,
					     d->irq_fd), 0);
}

void tvd_move(struct tvd *d, struct tv *to, uint8_t *mem)
{
	struct tv *from = d->t;

	memcpy(to->q, from->q, sizeof(to->q));
	to->features = from->features;
	d->t = to;
	drop_memfd(d->mem, TVD_MEM_SIZE, &d->mem_fd);
	d->mem = mem;
	close_kick_fds(d);
	if (d->cfg.kick == TV_KICK_IOEVENTFD)
		fetch_kick_fds(d);
	assert_int_equal(vus_client_irq_bind(to->c, VUS_PCI_IRQ_MSIX, 0, 3,
					     d->irq_fd), 0);
}

void tvd_fini(struct tvd *d)
{
	close_kick_fds(d);
	drop_memfd(d->mem, TVD_MEM_SIZE, &d->mem_fd);
	for (int i = 0; i < 3; i++) {
		if (d->irq_fd[i] >= 0)
			close(d->irq_fd[i]);
		d->irq_fd[i] = -1;
	}
}

bool tvd_tx(struct tvd *d, const void *frame, size_t len, uint32_t tag)
{
	struct tv *t = d->t;
	unsigned int layouts = (t->features & F_INDIRECT) ? 3 : 2;
	uint64_t base;
	uint16_t s, head;
	uint8_t *tbl;

	assert_false(d->down);
	assert_true(len >= 14 && len <= TVD_MAX_FRAME);
	if (d->nr_free == 0 && tvd_reap_tx(d) == 0)
		return false;
	s = d->free_slot[--d->nr_free];
	base = slot_gpa(s);
	head = (uint16_t)(2 * s);
	memset(mem_at(d, base + SLOT_HDR), 0, NET_HDR);
	memcpy(mem_at(d, base + SLOT_FRAME), frame, len);
	switch (d->st.tx_frames % layouts) {
	case 0: /* header and frame in one descriptor */
		tv_desc(t, 1, head, base + SLOT_HDR, (uint32_t)(NET_HDR + len), 0, 0);
		break;
	case 1: /* header, then frame */
		tv_desc(t, 1, head, base + SLOT_HDR, NET_HDR, D_NEXT, head + 1);
		tv_desc(t, 1, head + 1, base + SLOT_FRAME, (uint32_t)len, 0, 0);
		break;
	default: /* an indirect table: header and the frame in two halves */
		tbl = mem_at(d, base + SLOT_TABLE);
		put_desc(tbl, base + SLOT_HDR, NET_HDR, D_NEXT, 1);
		put_desc(tbl + 16, base + SLOT_FRAME, (uint32_t)(len / 2), D_NEXT, 2);
		put_desc(tbl + 32, base + SLOT_FRAME + len / 2,
			 (uint32_t)(len - len / 2), 0, 0);
		tv_desc(t, 1, head, base + SLOT_TABLE, 48, D_INDIRECT, 0);
		break;
	}
	d->slot_busy[s] = true;
	d->slot_tag[s] = tag;
	tv_offer(t, 1, head);
	d->st.tx_frames++;
	d->st.tx_bytes += len;
	return true;
}

unsigned int tvd_reap_tx(struct tvd *d)
{
	uint16_t used;
	unsigned int n = 0;

	if (d->gone)
		return 0;
	used = tv_used_idx(d->t, 1);

	/* The device returns no more than we gave it. */
	assert_true((uint16_t)(used - d->tx_used) <= tvd_tx_inflight(d));
	while (d->tx_used != used) {
		uint32_t id, len;
		uint16_t s;

		tv_used_elem(d->t, 1, d->tx_used, &id, &len);
		s = (uint16_t)(id / 2);
		assert_true(id % 2 == 0 && s < d->nr_slots && d->slot_busy[s]);
		assert_int_equal(len, 0); /* nothing written into a tx chain */
		d->slot_busy[s] = false;
		d->free_slot[d->nr_free++] = s;
		d->tx_used++;
		d->st.tx_done++;
		n++;
	}
	return n;
}

unsigned int tvd_tx_inflight(const struct tvd *d)
{
	return (unsigned int)(d->nr_slots - d->nr_free);
}

uint32_t tvd_min_inflight_tag(const struct tvd *d)
{
	uint32_t min = UINT32_MAX;

	for (uint16_t s = 0; s < d->nr_slots; s++)
		if (d->slot_busy[s] && d->slot_tag[s] < min)
			min = d->slot_tag[s];
	return min;
}

/* Used receive element @k of the pending frame: its buffer and length. */
static uint8_t *rx_elem(struct tvd *d, uint16_t k, uint32_t *len)
{
	uint32_t id;

	tv_used_elem(d->t, 0, (uint16_t)(d->rx_used + k), &id, len);
	assert_true(id < d->cfg.qsize && d->rx_out[id]);
	assert_true(*len <= d->cfg.rx_buf_len && *len > (k == 0 ? NET_HDR : 0));
	d->rx_out[id] = false;
	return mem_at(d, rx_gpa(d, id));
}

ssize_t tvd_rx(struct tvd *d, void *buf, size_t len)
{
	uint16_t ready, nb;
	uint32_t id, l;
	const uint8_t *hdr;
	size_t total = 0;

	if (d->gone)
		return -1;
	ready = (uint16_t)(tv_used_idx(d->t, 0) - d->rx_used);
	if (ready == 0)
		return -1;
	assert_true(ready <= d->cfg.qsize);
	tv_used_elem(d->t, 0, d->rx_used, &id, &l);
	assert_true(id < d->cfg.qsize && d->rx_out[id]);
	hdr = mem_at(d, rx_gpa(d, id));
	/* No offloads on this link: flags, gso_type, csum all zero. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(hdr[i], 0);
	memcpy(&nb, hdr + 10, 2); /* buffers of any size: maybe unaligned */
	nb = le16toh(nb);
	assert_true(nb >= 1 && nb <= d->cfg.qsize);
	if (!(d->t->features & F_MRG_RXBUF))
		assert_int_equal(nb, 1);
	if (nb > ready)
		return -1; /* the rest is not published yet */
	for (uint16_t k = 0; k < nb; k++) {
		uint8_t *p = rx_elem(d, k, &l);
		uint32_t skip = k == 0 ? NET_HDR : 0;

		assert_true(total + (l - skip) <= len);
		memcpy((uint8_t *)buf + total, p + skip, l - skip);
		total += l - skip;
	}
	/* Give the buffers back: same descriptors, same memory. */
	for (uint16_t k = 0; k < nb && !d->down; k++) {
		tv_used_elem(d->t, 0, (uint16_t)(d->rx_used + k), &id, &l);
		post_rx(d, (uint16_t)id);
	}
	d->rx_used = (uint16_t)(d->rx_used + nb);
	d->st.rx_frames++;
	d->st.rx_bytes += total;
	d->st.rx_bufs += nb;
	return (ssize_t)total;
}

static void ring_doorbell(struct tvd *d, unsigned int q)
{
	uint16_t v = htole16((uint16_t)q);
	uint64_t one = 1;

	switch (d->cfg.kick) {
	case TV_KICK_IOEVENTFD:
		assert_int_equal(write(d->kick_fd[q], &one, 8), 8);
		break;
	case TV_KICK_REGION_WRITE:
		assert_int_equal(vus_client_region_write(d->t->c, TV_BAR,
							 TV_NOTIFY + 4 * q, &v, 2), 0);
		break;
	case TV_KICK_POSTED:
		assert_int_equal(vus_client_region_write_posted(d->t->c, TV_BAR,
								TV_NOTIFY + 4 * q,
								&v, 2), 0);
		break;
	case TV_KICK_MMAP:
		__atomic_store_n((uint16_t *)(void *)(d->t->notify + 4 * q), v,
				 __ATOMIC_SEQ_CST);
		break;
	}
	d->st.kicks++;
}

/* Kick queue @q if the device wants to hear of what we offered since. */
static void kick_check(struct tvd *d, unsigned int q)
{
	struct tvq *v = &d->t->q[q];
	uint16_t new = v->avail_idx, old = d->kicked[q];
	bool need;

	if (d->down || new == old)
		return;
	d->kicked[q] = new;
	/* Our avail index store before the load of the device's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (d->t->features & F_EVENT_IDX) {
		uint16_t ev = load16(tv_gp(d->t, v->used + 4 + 8ull * v->size));

		need = (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	} else {
		need = !(load16(tv_gp(d->t, v->used)) & 1); /* NO_NOTIFY */
	}
	if (need)
		ring_doorbell(d, q);
}

void tvd_flush(struct tvd *d)
{
	kick_check(d, 0);
	kick_check(d, 1);
}

/* Interrupt me at the next used entry of each queue. */
static void arm(struct tvd *d)
{
	struct tv *t = d->t;

	if (!(t->features & F_EVENT_IDX))
		return; /* interrupts stay on: avail flags are 0 */
	if (!d->rx_paused)
		store16(tv_gp(t, t->q[0].avail + 4 + 2ull * t->q[0].size),
			d->rx_used);
	store16(tv_gp(t, t->q[1].avail + 4 + 2ull * t->q[1].size), d->tx_used);
}

static bool has_work(struct tvd *d)
{
	if (d->down)
		return false;
	if (!d->rx_paused && tv_used_idx(d->t, 0) != d->rx_used)
		return true;
	return tv_used_idx(d->t, 1) != d->tx_used;
}

static void drain_irqs(struct tvd *d, const struct pollfd *pfd)
{
	for (int v = 0; v < 3; v++) {
		uint64_t cnt;

		if (!(pfd[v].revents & POLLIN) ||
		    read(d->irq_fd[v], &cnt, 8) != 8)
			continue;
		if (v == TV_VEC_CONFIG)
			d->st.config_irqs += cnt;
		else
			d->st.irqs += cnt;
	}
}

bool tvd_wait(struct tvd *const *ds, unsigned int n, int ms)
{
	struct pollfd pfd[12];
	int r;

	assert_true(n <= 4);
	for (unsigned int i = 0; i < n; i++)
		if (!ds[i]->down)
			arm(ds[i]);
	/* Our used_event stores before the loads of the used indexes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < n; i++)
		if (has_work(ds[i]))
			return true;
	for (unsigned int i = 0; i < n; i++)
		for (int v = 0; v < 3; v++)
			pfd[3 * i + v] = (struct pollfd){ .fd = ds[i]->irq_fd[v],
							  .events = POLLIN };
	r = poll(pfd, 3 * n, vtest_ms(ms));
	if (r < 0 && errno == EINTR)
		return true;
	assert_true(r >= 0);
	for (unsigned int i = 0; i < n; i++)
		drain_irqs(ds[i], pfd + 3 * i);
	return r > 0;
}

void tvd_dump(const struct tvd *d, const char *name)
{
	struct tv *t = d->t;

	fprintf(stderr, "%s: %s; tx avail %u used %u (seen %u) inflight %u, "
		"rx avail %u used %u (seen %u); kicks %llu irqs %llu config %llu; "
		"frames tx %llu done %llu rx %llu\n", name,
		d->down ? "down" : "up", t->q[1].avail_idx, tv_used_idx(t, 1),
		d->tx_used, tvd_tx_inflight(d), t->q[0].avail_idx,
		tv_used_idx(t, 0), d->rx_used, (unsigned long long)d->st.kicks,
		(unsigned long long)d->st.irqs,
		(unsigned long long)d->st.config_irqs,
		(unsigned long long)d->st.tx_frames,
		(unsigned long long)d->st.tx_done,
		(unsigned long long)d->st.rx_frames);
}

/* Test frames. */

#define TEST_ETHERTYPE 0x88b5u
#define FRAME_DATA 24u

static uint8_t pattern_base(uint8_t stream, uint32_t seq)
{
	return (uint8_t)((seq * 2654435761u) >> 24) ^ (uint8_t)(stream * 0x5bu);
}

void tv_frame_make(uint8_t *f, size_t len, const uint8_t dst[6],
		   const uint8_t src[6], uint8_t stream, uint32_t seq)
{
	uint32_t s = htole32(seq), l = htole32((uint32_t)len);
	uint8_t b = pattern_base(stream, seq);

	assert_true(len >= TV_FRAME_MIN);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = TEST_ETHERTYPE >> 8;
	f[13] = TEST_ETHERTYPE & 0xff;
	f[14] = stream;
	f[15] = 0;
	memcpy(f + 16, &s, 4);
	memcpy(f + 20, &l, 4);
	for (size_t i = FRAME_DATA; i < len; i++)
		f[i] = (uint8_t)(b + i * 7 + (i >> 8));
}

bool tv_frame_check(const uint8_t *f, size_t len, uint8_t stream,
		    bool every_byte, uint32_t *seq)
{
	uint32_t s, l;
	uint8_t b;

	if (len < TV_FRAME_MIN || f[12] != TEST_ETHERTYPE >> 8 ||
	    f[13] != (TEST_ETHERTYPE & 0xff) || f[14] != stream || f[15] != 0)
		return false;
	memcpy(&s, f + 16, 4);
	memcpy(&l, f + 20, 4);
	*seq = le32toh(s);
	if (le32toh(l) != len)
		return false;
	b = pattern_base(stream, *seq);
	for (size_t i = FRAME_DATA; every_byte && i < len; i++)
		if (f[i] != (uint8_t)(b + i * 7 + (i >> 8)))
			return false;
	return true;
}
