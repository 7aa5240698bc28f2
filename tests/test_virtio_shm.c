/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-net sample's shared-memory link (--shm-listen/--shm-connect)
 * with the test as its peer: a real device process driven by the client
 * virtio driver of test_virtio_util.c, a real UNIX socket rendezvous with
 * the memfd passed by SCM_RIGHTS, and the rings of shm_ring.c on our side.
 *
 * Frames go both ways; a full ring holds the device's transmit back (its
 * chains wait in the virtqueue) and refuses the peer's frames (the peer
 * counts them dropped); a peer writing impossible indices or lengths is
 * disconnected or loses the frame, and the device keeps serving; a peer
 * that goes away takes the link down (LINK_UP clears) and one that comes
 * back brings it up; a bad rendezvous is refused. A device restarted
 * after a crash (--recover under vus-supervise) meets its peer again; a
 * take-over is refused and the old process serves on. net.query-link
 * tells the peer's absence (carrier) from the operator's net.set-link
 * (up), and says what the driver reads. With "sandboxed"
 * after the two programs, every device but the take-over's runs under
 * --sandbox.
 *
 *   test_virtio_shm VUS-VIRTIO-NET-PCI VUS-SUPERVISE [sandboxed] [TEST]
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtest.h"

#include "rpc_util.h"
#include "shm_ring.h"
#include "test_virtio_util.h"

#define F(b) (1ull << (b))
#define FEATURES (F(32) | F(5) | F(16) | F(29)) /* VERSION_1 MAC STATUS EVENT_IDX */
#define WAIT_MS 5000

static bool sandboxed;
static const char *supervise_exe;

struct peer {
	int conn, lfd, memfd;
	uint8_t *map;
	struct shm_ring tx, rx;
	char path[108];
};

static void start(struct tv *t, struct peer *p, bool dev_listens)
{
	const char *args[] = { dev_listens ? "--shm-listen" : "--shm-connect",
			       p->path, "--log-level", "info", "--queue-size",
			       "512", sandboxed ? "--sandbox" : NULL, NULL };

	tv_start_logged(t, args);
}

static int unix_sock(const char *path, bool listen_there)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (listen_there) {
		unlink(path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(fd, 4), 0);
	} else {
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, vtest_ms(ms)) == 1;
}

/* We connect to a listening device: its hello and memfd, checked. */
static void peer_connect(struct peer *p)
{
	union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct shm_hello { uint32_t magic, version, slots, slot_size;
			   uint64_t map_size; } h;
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct stat st;

	p->conn = unix_sock(p->path, false);
	p->lfd = -1;
	assert_true(readable(p->conn, WAIT_MS));
	assert_int_equal(recvmsg(p->conn, &m, MSG_CMSG_CLOEXEC), sizeof(h));
	assert_int_equal(h.magic, SHM_MAGIC);
	assert_int_equal(h.map_size, SHM_MAP_SIZE);
	assert_non_null(CMSG_FIRSTHDR(&m));
	memcpy(&p->memfd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	/* Sealed: nobody can shrink it under the device's map. */
	assert_true(fcntl(p->memfd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(fstat(p->memfd, &st), 0);
	assert_int_equal(st.st_size, SHM_MAP_SIZE);
	p->map = mmap(NULL, SHM_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->memfd, 0);
	assert_true(p->map != MAP_FAILED);
	shm_ring_attach(&p->tx, p->map, SHM_RING_C2L, true);
	shm_ring_attach(&p->rx, p->map, SHM_RING_L2C, false);
}

/* A fresh sealed map (ours as the listener). */
static void peer_map(struct peer *p)
{
	p->memfd = memfd_create("peer-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(p->memfd >= 0);
	assert_int_equal(ftruncate(p->memfd, SHM_MAP_SIZE), 0);
	assert_int_equal(fcntl(p->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	p->map = mmap(NULL, SHM_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->memfd, 0);
	assert_true(p->map != MAP_FAILED);
}

/* Send @h (and fd @fd unless negative) on @conn. */
static void send_hello(int conn, const void *h, size_t len, int fd)
{
	union { struct cmsghdr c; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct iovec iov = { (void *)h, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(u.b, 0, sizeof(u.b));
		m.msg_control = u.b;
		m.msg_controllen = sizeof(u.b);
		u.c.cmsg_level = SOL_SOCKET;
		u.c.cmsg_type = SCM_RIGHTS;
		u.c.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&u.c), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(conn, &m, MSG_NOSIGNAL), (ssize_t)len);
}

static const uint32_t good_hello[6] = { SHM_MAGIC, SHM_VERSION, SHM_SLOTS,
					SHM_SLOT_SIZE, (uint32_t)SHM_MAP_SIZE,
					(uint32_t)(SHM_MAP_SIZE >> 32) };

/* The device connects to us (it retries): accept, hello, rings. */
static void peer_accept(struct peer *p)
{
	assert_true(readable(p->lfd, WAIT_MS));
	p->conn = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(p->conn >= 0);
	shm_ring_format(p->map);
	shm_ring_attach(&p->tx, p->map, SHM_RING_L2C, true);
	shm_ring_attach(&p->rx, p->map, SHM_RING_C2L, false);
	send_hello(p->conn, good_hello, sizeof(good_hello), p->memfd);
}

static void peer_close(struct peer *p)
{
	if (p->conn >= 0)
		close(p->conn);
	p->conn = -1;
}

static void peer_fini(struct peer *p)
{
	peer_close(p);
	if (p->lfd >= 0) {
		close(p->lfd);
		unlink(p->path);
	}
	if (p->map != NULL)
		munmap(p->map, SHM_MAP_SIZE);
	if (p->memfd >= 0)
		close(p->memfd);
}

static void peer_init(struct peer *p)
{
	*p = (struct peer){ .conn = -1, .lfd = -1, .memfd = -1 };
	snprintf(p->path, sizeof(p->path), "%s", vtest_sock_path("shm"));
}

static void kick_device(struct peer *p)
{
	char c = 0;

	assert_int_equal(send(p->conn, &c, 1, MSG_NOSIGNAL), 1);
}

/* Drain the device's kicks (bytes on the socket). */
static void drain(struct peer *p)
{
	char buf[256];

	while (recv(p->conn, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The next frame from the device, waiting on its kicks; -1 if none came. */
static long peer_recv(struct peer *p, void *buf, size_t size)
{
	for (;;) {
		long len = shm_ring_get(&p->rx, buf, size);

		if (len >= 0) {
			if (shm_ring_release(&p->rx))
				kick_device(p);
			return len;
		}
		assert_int_equal(len, -EAGAIN);
		if (shm_ring_sleep(&p->rx))
			continue;
		if (!readable(p->conn, WAIT_MS))
			return -1;
		drain(p);
	}
}

/* A frame to the device: 1 put, 0 the ring was full (dropped). */
static int peer_send(struct peer *p, const void *frame, size_t len)
{
	struct iovec iov = { (void *)frame, len };
	int r = shm_ring_put(&p->tx, &iov, 1, len);

	if (r == 1 && shm_ring_publish(&p->tx))
		kick_device(p);
	return r;
}

static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seq);
	memcpy(f + 14, &seq, sizeof(seq));
}

/* Receive slot @i holds frame @seq of @len bytes (after the header). */
static void check_rx(struct tv *t, uint16_t i, uint32_t seq, size_t len)
{
	uint8_t want[128];
	uint32_t id, got;

	tv_used_elem(t, 0, i, &id, &got);
	assert_int_equal(got, 12 + len);
	make_frame(want, len, seq);
	assert_memory_equal(tv_gp(t, TV_RXBUF(id)) + 12, want, len);
}

/* A device listening, 64-entry queues (@qsize), and us connected to it. */
static void start_linked(struct tv *t, struct peer *p, uint16_t qsize)
{
	peer_init(p);
	start(t, p, true);
	assert_int_equal(tv_init(t, FEATURES, qsize), 0x0f);
	peer_connect(p);
	tv_wait_link(t, true);
}

/* Frame @seq of @len bytes from the device's TX slot @slot to us. */
static void dev_to_peer(struct tv *t, struct peer *p, uint16_t slot,
			size_t len, uint32_t seq)
{
	uint8_t f[128], got[256];

	make_frame(f, len, seq);
	tv_send(t, slot, f, len);
	assert_int_equal(peer_recv(p, got, sizeof(got)), (long)len);
	assert_memory_equal(got, f, len);
}

/* Both ways, the device listening; then the peer leaves and comes back. */
static void frames_both_ways_and_reconnect(void **state)
{
	uint8_t f[128], got[256];
	struct tv_dev_stats st;
	struct peer p;
	struct tv t;

	(void)state;
	start_linked(&t, &p, 64);
	for (uint32_t i = 0; i < 8; i++) {
		make_frame(f, 60 + i, i);
		tv_send(&t, (uint16_t)i, f, 60 + i);
	}
	for (uint32_t i = 0; i < 8; i++) {
		make_frame(f, 60 + i, i);
		assert_int_equal(peer_recv(&p, got, sizeof(got)), 60 + i);
		assert_memory_equal(got, f, 60 + i);
	}
	tv_post_rx(&t, 0, 8);
	for (uint32_t i = 0; i < 8; i++) {
		make_frame(f, 64 + i, 100 + i);
		assert_int_equal(peer_send(&p, f, 64 + i), 1);
	}
	assert_true(tv_wait_used(&t, 0, 8, WAIT_MS));
	for (uint16_t i = 0; i < 8; i++)
		check_rx(&t, i, 100 + i, 64 + i);
	/* The peer goes: link down, frames sent meanwhile dropped. */
	peer_close(&p);
	munmap(p.map, SHM_MAP_SIZE);
	close(p.memfd);
	tv_wait_link(&t, false);
	make_frame(f, 60, 50);
	tv_send(&t, 8, f, 60);
	assert_true(tv_wait_used(&t, 1, 9, WAIT_MS));
	/* It comes back: a fresh rendezvous, empty rings, frames flow. */
	peer_connect(&p);
	tv_wait_link(&t, true);
	dev_to_peer(&t, &p, 9, 61, 9);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.tx_packets, 9);
	assert_int_equal(st.tx_dropped, 1);
	assert_int_equal(st.rx_packets, 8);
	peer_fini(&p);
}

/*
 * The device's transmit into a ring nobody reads: exactly SHM_SLOTS
 * frames go in, the rest wait in the virtqueue (not used, not dropped),
 * and flow once the peer reads. The peer's frames into a device without
 * receive buffers: SHM_SLOTS go in, the next is refused (the peer's drop).
 */
static void full_ring_holds_back_and_refuses(void **state)
{
	const uint32_t n = SHM_SLOTS + 40;
	uint8_t f[128], got[256];
	struct tv_dev_stats st;
	struct peer p;
	struct tv t;
	uint32_t k;

	(void)state;
	start_linked(&t, &p, 512);
	for (uint32_t i = 0; i < n; i++) {
		make_frame(f, 60, i);
		tv_send(&t, (uint16_t)i, f, 60);
	}
	assert_true(tv_wait_used(&t, 1, SHM_SLOTS, WAIT_MS));
	/* Every kick has been seen, the ring is full: no more are used. */
	assert_int_equal(shm_ring_ready(&p.rx), SHM_SLOTS);
	assert_int_equal(tv_used_idx(&t, 1), SHM_SLOTS);
	for (uint32_t i = 0; i < n; i++) {
		make_frame(f, 60, i);
		assert_int_equal(peer_recv(&p, got, sizeof(got)), 60);
		assert_memory_equal(got, f, 60);
	}
	assert_true(tv_wait_used(&t, 1, (uint16_t)n, WAIT_MS));
	/* Towards the device, no buffers posted: it reads one frame, holds it
	 * (VNET_RX_BATCH's room for the frames the ring cannot take) and
	 * stops reading; then the ring fills and refuses the next. */
	make_frame(f, 64, 0);
	assert_int_equal(peer_send(&p, f, 64), 1);
	for (long long end = tv_now_ns() + vtest_ms(WAIT_MS) * 1000000ll;
	     shm_ring_room(&p.tx) != SHM_SLOTS;)
		assert_true(tv_now_ns() < end);
	for (k = 1; k < SHM_SLOTS + 2; k++) {
		make_frame(f, 64, k);
		if (peer_send(&p, f, 64) == 0)
			break;
	}
	assert_int_equal(k, SHM_SLOTS + 1);
	assert_int_equal(shm_ring_room(&p.tx), 0);
	tv_post_rx(&t, 0, 8);
	assert_true(tv_wait_used(&t, 0, 8, WAIT_MS));
	for (uint16_t i = 0; i < 8; i++)
		check_rx(&t, i, i, 64);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.tx_packets, n);
	assert_int_equal(st.tx_dropped + st.rx_dropped, 0);
	peer_fini(&p);
}

/*
 * A peer that scribbles: bad lengths lose their frame only; an impossible
 * index gets it disconnected; the device serves on, a new peer works.
 */
static void scribbling_peer_is_dropped_not_crashed(void **state)
{
	static const uint32_t bad_len[] = { 0xffffffffu, SHM_FRAME_MAX + 1, 5, 0 };
	uint8_t f[128], got[256];
	struct tv_dev_stats st;
	struct shm_hdr *h;
	struct peer p;
	struct tv t;

	(void)state;
	start_linked(&t, &p, 64);
	tv_post_rx(&t, 0, 16);
	/* Records whose length is garbage, then a good frame. */
	make_frame(f, 64, 0);
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		struct iovec iov = { f, 64 };

		/* Scribbled before the device can see the record. */
		assert_int_equal(shm_ring_put(&p.tx, &iov, 1, 64), 1);
		memcpy(p.tx.slots + (size_t)((p.tx.prod - 1) % SHM_SLOTS) *
		       SHM_SLOT_SIZE, &bad_len[i], 4);
	}
	make_frame(f, 64, 7);
	assert_int_equal(peer_send(&p, f, 64), 1);
	assert_true(tv_wait_used(&t, 0, 1, WAIT_MS));
	check_rx(&t, 0, 7, 64);
	assert_true(tv_link_up(&t));
	/* An impossible producer index: disconnected (the socket closes). */
	h = (struct shm_hdr *)p.map;
	atomic_store(&h->ring[SHM_RING_C2L].prod, p.tx.prod + SHM_SLOTS + 1);
	kick_device(&p);
	assert_true(readable(p.conn, WAIT_MS));
	drain(&p);
	assert_int_equal(recv(p.conn, got, 1, MSG_DONTWAIT), 0);
	tv_wait_link(&t, false);
	peer_fini(&p);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.rx_packets, 1);
	assert_int_equal(st.rx_dropped, 4 + 1); /* 4 lengths, 1 broken ring */
}

/* The device connects to us: retries until we listen, a bad rendezvous
 * is refused (link stays down), a good one works; impossible consumer
 * index from us: disconnected, and it comes back. */
static void connecting_device_retries_and_refuses_bad_hellos(void **state)
{
	uint32_t bad[6];
	uint8_t f[128], got[256];
	struct tv_dev_stats st;
	struct shm_hdr *h;
	struct peer p;
	struct tv t;
	int fd;

	(void)state;
	peer_init(&p);
	start(&t, &p, false);
	assert_int_equal(tv_init(&t, FEATURES, 64), 0x0f);
	assert_false(tv_link_up(&t));
	p.lfd = unix_sock(p.path, true);
	peer_map(&p);
	/* A wrong geometry, a short message, no fd, an unsealed memfd. */
	memcpy(bad, good_hello, sizeof(bad));
	bad[2] = SHM_SLOTS * 2;
	for (int round = 0; round < 4; round++) {
		assert_true(readable(p.lfd, WAIT_MS));
		p.conn = accept4(p.lfd, NULL, NULL, SOCK_CLOEXEC);
		assert_true(p.conn >= 0);
		if (round == 0)
			send_hello(p.conn, bad, sizeof(bad), p.memfd);
		else if (round == 1)
			send_hello(p.conn, good_hello, 8, p.memfd);
		else if (round == 2)
			send_hello(p.conn, good_hello, sizeof(good_hello), -1);
		fd = round == 3 ? memfd_create("unsealed", MFD_CLOEXEC) : -1;
		if (fd >= 0) {
			assert_int_equal(ftruncate(fd, SHM_MAP_SIZE), 0);
			send_hello(p.conn, good_hello, sizeof(good_hello), fd);
			close(fd);
		}
		/* The device hangs up on it. */
		assert_true(readable(p.conn, WAIT_MS));
		assert_int_equal(recv(p.conn, got, 1, 0), 0);
		peer_close(&p);
		assert_false(tv_link_up(&t));
	}
	peer_accept(&p);
	tv_wait_link(&t, true);
	dev_to_peer(&t, &p, 0, 70, 1);
	/* An impossible consumer index on the ring the device fills. */
	h = (struct shm_hdr *)p.map;
	atomic_store(&h->ring[SHM_RING_C2L].cons, 12345);
	tv_send(&t, 1, f, 70);
	assert_true(readable(p.conn, WAIT_MS));
	assert_int_equal(recv(p.conn, got, 1, 0), 0);
	peer_close(&p);
	tv_wait_link(&t, false);
	/* It comes back on its own. */
	peer_accept(&p);
	tv_wait_link(&t, true);
	dev_to_peer(&t, &p, 2, 71, 2);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.tx_dropped, 1);
	peer_fini(&p);
}

/*
 * Crash recovery (--recover under vus-supervise): the device connects to
 * us; SIGKILLed, its successor goes on with the client session and meets
 * us again with a fresh rendezvous (empty rings), and frames flow.
 */
static void recovered_device_meets_its_peer_again(void **state)
{
	const char *args[] = { "--shm-connect", NULL, "--recover",
			       sandboxed ? "--sandbox" : NULL, NULL };
	uint8_t f[128], got[256];
	struct peer p;
	struct tv t;

	(void)state;
	if (supervise_exe == NULL)
		skip();
	peer_init(&p);
	args[1] = p.path;
	p.lfd = unix_sock(p.path, true);
	peer_map(&p);
	vus_supervise = supervise_exe;
	tv_start(&t, args);
	vus_supervise = NULL;
	/* The successor carries on once the client's interrupts are bound. */
	tv_enable_msix(&t);
	assert_int_equal(tv_init(&t, FEATURES, 64), 0x0f);
	peer_accept(&p);
	tv_wait_link(&t, true);
	tv_post_rx(&t, 0, 4);
	for (uint32_t round = 0; round < 2; round++) {
		dev_to_peer(&t, &p, (uint16_t)round, 80, round);
		make_frame(f, 90, 10 + round);
		assert_int_equal(peer_send(&p, f, 90), 1);
		assert_true(tv_wait_used(&t, 0, (uint16_t)(round + 1), WAIT_MS));
		check_rx(&t, (uint16_t)round, 10 + round, 90);
		if (round == 1)
			break;
		vtest_kill_child(t.pid);
		/* The old one's connection ends; the new one knocks. */
		assert_true(readable(p.conn, WAIT_MS));
		drain(&p);
		assert_int_equal(recv(p.conn, got, 1, MSG_DONTWAIT), 0);
		peer_close(&p);
		peer_accept(&p);
		tv_wait_link(&t, true);
	}
	tv_stop(&t);
	peer_fini(&p);
}

/*
 * A take-over cannot carry a shm link: the new process says so and exits
 * 1, and the running one carries on (link up, frames flow).
 */
static void take_over_is_refused_and_the_old_one_serves_on(void **state)
{
	char rpc[256];
	const char *args[] = { "--shm-listen", NULL, "--rpc-path", rpc, NULL };
	struct tv_dev_stats st;
	struct peer p;
	struct tv t;
	int status;
	pid_t n;

	(void)state;
	peer_init(&p);
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("shm-rpc"));
	args[1] = p.path;
	tv_start_logged(&t, args);
	assert_int_equal(tv_init(&t, FEATURES, 64), 0x0f);
	peer_connect(&p);
	tv_wait_link(&t, true);
	n = fork();
	assert_true(n >= 0);
	if (n == 0) {
		dup2(t.log_fd, 2);
		execl(vnet_exe, vnet_exe, "--take-over", rpc, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(n, &status, 0), n);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_true(tv_link_up(&t));
	assert_int_equal(tv_status(&t), 0x0f);
	dev_to_peer(&t, &p, 0, 66, 3);
	tv_stop_stats(&t, &st);
	assert_int_equal(st.tx_packets, 1);
	peer_fini(&p);
}

/* net.query-link says @up (set), @carrier (the peer) and @guest (read). */
static void link_is(int m, bool up, bool carrier, bool guest)
{
	struct json_object *r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":1,"
					     "\"method\":\"net.query-link\"}");

	assert_int_equal(json_object_get_boolean(trpc_get(r, "result.up")), up);
	assert_int_equal(json_object_get_boolean(trpc_get(r, "result.carrier")),
			 carrier);
	assert_int_equal(json_object_get_boolean(trpc_get(r,
				"result.guest-link-up")), guest);
	json_object_put(r);
}

static void set_link(int m, bool up)
{
	struct json_object *r = trpc_call(m, up ?
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"net.set-link\","
		"\"params\":{\"up\":true}}" :
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"net.set-link\","
		"\"params\":{\"up\":false}}");

	assert_true(json_object_get_boolean(trpc_get(r, "result.changed")));
	json_object_put(r);
}

/*
 * net.query-link tells who holds the link down: the peer (carrier), the
 * operator (up), or both; guest-link-up is what the driver reads.
 */
static void query_link_tells_peer_and_operator_apart(void **state)
{
	char rpc[256];
	const char *args[] = { "--shm-listen", NULL, "--rpc-path", rpc,
			       sandboxed ? "--sandbox" : NULL, NULL };
	struct peer p;
	struct tv t;
	int m;

	(void)state;
	peer_init(&p);
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("shm-rpc"));
	args[1] = p.path;
	tv_start(&t, args);
	m = trpc_connect(rpc);
	assert_true(m >= 0);
	assert_int_equal(tv_init(&t, FEATURES, 64), 0x0f);
	assert_false(tv_link_up(&t));
	link_is(m, true, false, false);  /* no peer yet */
	peer_connect(&p);
	tv_wait_link(&t, true);
	link_is(m, true, true, true);
	set_link(m, false);
	assert_false(tv_link_up(&t));
	link_is(m, false, true, false);  /* cable pulled, peer there */
	set_link(m, true);
	assert_true(tv_link_up(&t));
	peer_close(&p);
	tv_wait_link(&t, false);
	link_is(m, true, false, false);  /* the peer went */
	set_link(m, false);
	link_is(m, false, false, false); /* both */
	close(m);
	tv_stop(&t);
	peer_fini(&p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(frames_both_ways_and_reconnect),
		VTEST(full_ring_holds_back_and_refuses),
		VTEST(scribbling_peer_is_dropped_not_crashed),
		VTEST(connecting_device_retries_and_refuses_bad_hellos),
		VTEST(recovered_device_meets_its_peer_again),
		VTEST(take_over_is_refused_and_the_old_one_serves_on),
		VTEST(query_link_tells_peer_and_operator_apart),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI VUS-SUPERVISE "
			"[sandboxed] [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	supervise_exe = argv[2];
	sandboxed = argc > 3 && strcmp(argv[3], "sandboxed") == 0;
	/* What follows (after "sandboxed") may name the tests to run. */
	return vtest_run(sandboxed ? "virtio_shm_sandboxed" : "virtio_shm", tests,
			 argc - 2 - sandboxed, argv + 2 + sandboxed);
}
