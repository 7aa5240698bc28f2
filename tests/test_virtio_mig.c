/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live migration of the virtio-net-pci sample between two real processes,
 * with the test as the VMM: guest memory is copied from the source's
 * RAM to the destination's with the device's dirty page log (a full copy
 * while frames keep arriving, then the pages the log reports, then the
 * last ones after the stop; receive buffers, which only the device
 * writes, travel by the log alone), the device state is saved on one
 * side and loaded on the other, and the driver carries on against the
 * destination.
 *
 * Checked: every frame the source device had taken from its link arrives
 * in the guest exactly once and intact (including the ones it held for
 * lack of ring space), every transmitted frame leaves exactly once from
 * one side or the other, completions made on the source are seen after
 * the move, the MAC the guest saw survives, destinations configured
 * differently refuse the stream and keep working, and so does a
 * destination fed sections no source could have written (CRC fixed up).
 *
 *   test_virtio_mig VUS-VIRTIO-NET-PCI [TEST]
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"

#include "test_virtio_stream.h"
#include "test_virtio_util.h"

#define F(b) (1ull << (b))
#define FEATURES (F(32) | F(5) | F(16) | F(15) | F(29) | F(28))
#define QSIZE 64u
#define PAGE 4096u
#define FRAME_LEN 200u
#define RX_STREAM 1
#define TX_STREAM 2

static const uint8_t dev_mac[6] = { 0x02, 0, 0, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0xaa, 0xbb, 0xcc };
static const char *const src_args[] = { "--mac", "02:00:00:12:34:56", NULL };

static int memfd(void)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Copy the pages the source's log reports from @src to @dst; how many. */
static unsigned int copy_dirty(vus_client *c, uint64_t base, uint64_t size,
			       const uint8_t *src, uint8_t *dst)
{
	size_t words = (size_t)(size / PAGE + 63) / 64;
	uint64_t *bm = calloc(words, sizeof(*bm));
	unsigned int n = 0;

	assert_non_null(bm);
	assert_int_equal(vus_client_dirty_report(c, base, size, PAGE, bm, words), 0);
	for (uint64_t p = 0; p < size / PAGE; p++)
		if ((bm[p / 64] >> (p % 64)) & 1) {
			memcpy(dst + p * PAGE, src + p * PAGE, PAGE);
			n++;
		}
	free(bm);
	return n;
}

/* Destination RAM: both of the driver's areas, mapped like the source's. */
static uint8_t *map_buffers(struct tv *t)
{
	void *mem;

	assert_int_equal(vus_client_dma_map_memfd(t->c, TVD_MEM, TVD_MEM_SIZE,
						  VUS_CLIENT_DMA_READ |
						  VUS_CLIENT_DMA_WRITE, &mem), 0);
	return mem;
}

static void peer_send(struct tv *t, uint8_t stream, uint32_t seq)
{
	uint8_t f[FRAME_LEN];

	tv_frame_make(f, sizeof(f), dev_mac, peer_mac, stream, seq);
	tv_peer_send(t, f, sizeof(f));
}

/* Receive frames of @stream until @want seqs in order from *next. */
static void rx_expect(struct tvd *d, uint8_t stream, uint32_t *next,
		      uint32_t until)
{
	uint8_t buf[TVD_MAX_FRAME];
	long long end = tv_now_ns() + vtest_ms(10000) * 1000000ll;
	struct tvd *ds[1] = { d };

	while (*next < until) {
		ssize_t n = tvd_rx(d, buf, sizeof(buf));
		uint32_t seq;

		if (n < 0) {
			if (tv_now_ns() > end) {
				tvd_dump(d, "rx");
				fail_msg("frame %u never arrived", *next);
			}
			tvd_flush(d); /* buffers given back: kick if asked */
			(void)tvd_wait(ds, 1, 100);
			continue;
		}
		assert_true(tv_frame_check(buf, (size_t)n, stream, true, &seq));
		if (seq != *next)
			fail_msg("frame %u arrived, expected %u", seq, *next);
		(*next)++;
	}
}

/* Transmitted frames at a peer: mark their seqs in @seen (no twice). */
static unsigned int tx_collect(struct tv *t, bool *seen, uint32_t nr, int ms)
{
	uint8_t buf[TVD_MAX_FRAME];
	unsigned int n = 0;
	ssize_t len;

	while ((len = tv_peer_recv(t, buf, sizeof(buf), ms)) > 0) {
		uint32_t seq;

		assert_true(tv_frame_check(buf, (size_t)len, TX_STREAM, true, &seq));
		assert_true(seq < nr);
		if (seen[seq])
			fail_msg("frame %u transmitted twice", seq);
		seen[seq] = true;
		n++;
	}
	return n;
}

static void tx_frames(struct tvd *d, uint32_t first, uint32_t nr)
{
	uint8_t f[FRAME_LEN];

	for (uint32_t i = first; i < first + nr; i++) {
		tv_frame_make(f, sizeof(f), peer_mac, dev_mac, TX_STREAM, i);
		assert_true(tvd_tx(d, f, sizeof(f), i));
	}
}

static void traffic_survives_live_migration(void **state)
{
	const struct tvd_config cfg = { .features = FEATURES, .qsize = QSIZE,
					.kick = TV_KICK_IOEVENTFD };
	const struct vus_client_range ranges[] = {
		{ TV_RAM, TV_RAM_SIZE }, { TVD_MEM, TVD_MEM_SIZE },
	};
	bool seen[40] = { false };
	struct tv a, b;
	struct tvd d;
	uint32_t next = 0, state_now;
	unsigned int pages, sent_a, sent_b;
	uint64_t size;
	uint8_t *bmem, mac[6];
	int fd = memfd();

	(void)state;
	tv_start(&a, src_args);
	tv_start(&b, NULL); /* another, random MAC: the guest's must win */
	tvd_init(&d, &a, &cfg);
	bmem = map_buffers(&b);

	/* Running normally: frames both ways. */
	for (uint32_t i = 0; i < 10; i++)
		peer_send(&a, RX_STREAM, i);
	rx_expect(&d, RX_STREAM, &next, 10);
	tx_frames(&d, 0, 10);
	tvd_flush(&d);

	/* Pre-copy: log, copy everything, let traffic dirty more. */
	assert_int_equal(vus_client_dirty_start(a.c, PAGE, ranges, 2), 0);
	memcpy(b.ram, a.ram, TV_RAM_SIZE);
	memcpy(bmem, d.mem, TVD_MEM_SIZE);
	/*
	 * The guest stops taking frames: 64 fill the ring, the device holds
	 * the 65th, the rest wait in the source's socket (and are lost with
	 * it, as a real link loses them).
	 */
	for (uint32_t i = 10; i < 10 + QSIZE + 6; i++)
		peer_send(&a, RX_STREAM, i);
	assert_true(tv_wait_used(&a, 0, (uint16_t)(10 + QSIZE), 5000));
	pages = copy_dirty(a.c, TV_RAM, TV_RAM_SIZE, a.ram, b.ram);
	pages += copy_dirty(a.c, TVD_MEM, TVD_MEM_SIZE, d.mem, bmem);
	/* 64 frames of 212 bytes in 2 KiB buffers, the used ring, ... */
	assert_true(pages >= QSIZE * 2048 / PAGE);
	/* Queued but not kicked: the source may or may not send them. */
	tx_frames(&d, 10, 20);

	/* Stop and copy: the last dirty pages, then the device state. */
	assert_int_equal(vus_client_mig_save(a.c, fd, &size), 0);
	copy_dirty(a.c, TV_RAM, TV_RAM_SIZE, a.ram, b.ram);
	copy_dirty(a.c, TVD_MEM, TVD_MEM_SIZE, d.mem, bmem);
	/*
	 * What the guest itself wrote since the full copy (KVM's log, for a
	 * real VMM): rings and transmit slots. The receive buffers, which
	 * only the device wrote, reach the destination through its log alone.
	 */
	memcpy(b.ram, a.ram, TV_RAM_SIZE);
	memcpy(bmem, d.mem, TVD_RX_AREA);
	assert_int_equal(vus_client_dirty_stop(a.c), 0);
	assert_int_equal(vus_client_mig_get_state(a.c, &state_now), 0);
	assert_int_equal(state_now, VUS_MIG_STOP);
	/* What the source sent before it stopped. */
	sent_a = tx_collect(&a, seen, 30, 200);
	assert_true(sent_a >= 10);

	/* Resume on the destination. */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	tv_read_mac(&b, mac);
	assert_memory_equal(mac, dev_mac, 6);
	assert_int_equal(tv_status(&b), 0x0f);
	tvd_move(&d, &b, bmem);
	tv_stop(&a);

	/* The frames in the ring and the held one, each once, intact. */
	rx_expect(&d, RX_STREAM, &next, 10 + QSIZE + 1);
	/* The transmissions left over leave from the destination. */
	tvd_flush(&d);
	sent_b = tx_collect(&b, seen, 30, 500);
	assert_int_equal(sent_a + sent_b, 30);
	for (unsigned int i = 0; i < 30; i++)
		assert_true(seen[i]);
	/* Completions made on either side are all visible to the driver. */
	(void)tvd_reap_tx(&d);
	assert_int_equal(tvd_tx_inflight(&d), 0);

	/* And the link keeps working, both ways. */
	for (uint32_t i = 0; i < 20; i++)
		peer_send(&b, RX_STREAM + 2, i);
	next = 0;
	rx_expect(&d, RX_STREAM + 2, &next, 20);
	/* Nothing more came: the frames left in the source are gone. */
	assert_int_equal(tvd_rx(&d, (uint8_t[TVD_MAX_FRAME]){ 0 }, TVD_MAX_FRAME), -1);
	tvd_fini(&d);
	tv_stop(&b);
	close(fd);
}

/* Save a running driver's device from a fresh source into @fd. */
static void save_running(struct tv *a, struct tvd *d, int fd)
{
	const struct tvd_config cfg = { .features = FEATURES, .qsize = QSIZE,
					.kick = TV_KICK_IOEVENTFD };
	uint64_t size;

	tv_start(a, src_args);
	tvd_init(d, a, &cfg);
	assert_int_equal(vus_client_mig_save(a->c, fd, &size), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

/* The stream of a running driver's device from a fresh source, in @s
 * (room: @cap bytes; the stream must be shorter). Its length. */
static size_t saved_stream(uint8_t *s, size_t cap)
{
	struct tv a;
	struct tvd d;
	ssize_t len;
	int fd = memfd();

	save_running(&a, &d, fd);
	tvd_fini(&d);
	tv_stop(&a);
	len = read(fd, s, cap);
	assert_true(len > 0 && len < (ssize_t)cap);
	close(fd);
	return (size_t)len;
}

/* A refused load leaves the destination as it was: usable from scratch. */
static void load_refused(const char *const *dst_args, int fd, int want)
{
	const struct tvd_config cfg = { .features = FEATURES, .qsize = 32,
					.kick = TV_KICK_IOEVENTFD };
	struct tv b;
	struct tvd d;
	uint32_t next = 0;

	tv_start(&b, dst_args);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), want);
	assert_int_equal(vus_client_reset(b.c), 0);
	assert_int_equal(tv_status(&b), 0);
	tvd_init(&d, &b, &cfg);
	peer_send(&b, RX_STREAM, 0);
	rx_expect(&d, RX_STREAM, &next, 1);
	tvd_fini(&d);
	tv_stop(&b);
}

static void destinations_configured_differently_refuse(void **state)
{
	static const char *const mtu[] = { "--mtu", "1400", NULL };
	static const char *const small[] = { "--queue-size", "32", NULL };
	static const char *const compat[] = { "--compat-version", "2", NULL };
	struct tv a;
	struct tvd d;
	int fd = memfd();

	(void)state;
	save_running(&a, &d, fd);
	tvd_fini(&d);
	tv_stop(&a);
	/* The guest saw no MTU; a queue of 64 does not fit a device of 32. */
	load_refused(mtu, fd, -ENODEV);
	load_refused(small, fd, -ENODEV);
	load_refused(compat, fd, -EPROTONOSUPPORT);
	close(fd);
}

static void a_device_never_started_migrates_too(void **state)
{
	const struct tvd_config cfg = { .features = FEATURES, .qsize = QSIZE,
					.kick = TV_KICK_IOEVENTFD };
	struct tv a, b;
	struct tvd d;
	uint32_t next = 0;
	uint64_t size;
	uint8_t mac[6];
	int fd = memfd();

	(void)state;
	tv_start(&a, src_args);
	tv_start(&b, NULL);
	assert_int_equal(vus_client_mig_save(a.c, fd, &size), 0);
	tv_stop(&a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	assert_int_equal(tv_status(&b), 0);
	tv_read_mac(&b, mac);
	assert_memory_equal(mac, dev_mac, 6);
	/* A driver brings it up on the destination as on any new card. */
	tvd_init(&d, &b, &cfg);
	peer_send(&b, RX_STREAM, 0);
	rx_expect(&d, RX_STREAM, &next, 1);
	tvd_fini(&d);
	tv_stop(&b);
	close(fd);
}

/*
 * INTx, no MSI-X: an interrupt the driver has not acknowledged yet (ISR
 * not read) is still pending on the destination. The destination's load
 * reset the transport after libvus's "pci" section had restored the line,
 * which lowered it: status INTx 1 on the source, 0 on the destination
 * with ISR 0x1 and no interrupt.
 */
static void pending_intx_survives_migration(void **state)
{
	uint8_t frame[64], got[128], isr = 0;
	struct tv a, b;
	uint64_t size;
	uint16_t sts;
	int fd = memfd();

	(void)state;
	tv_start(&a, src_args);
	tv_start(&b, NULL);
	assert_int_equal(vus_client_irq_enable(a.c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(vus_client_irq_enable(b.c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(tv_init(&a, F(32) | F(5) | F(16) | F(15), QSIZE), 0x0f);
	memset(frame, 0x5a, sizeof(frame));
	tv_send(&a, 0, frame, sizeof(frame));
	assert_int_equal(tv_peer_recv(&a, got, sizeof(got), 5000), sizeof(frame));
	assert_true(vus_client_irq_wait(a.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(5000)) >= 1);
	assert_int_equal(vus_client_region_read(a.c, VUS_PCI_REGION_CONFIG, 6,
						&sts, 2), 0);
	assert_int_equal(sts & 0x08, 0x08); /* Interrupt Status */
	assert_int_equal(vus_client_mig_save(a.c, fd, &size), 0);
	memcpy(b.ram, a.ram, TV_RAM_SIZE); /* the rings, as the VMM copies them */
	tv_stop(&a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	assert_int_equal(vus_client_region_read(b.c, VUS_PCI_REGION_CONFIG, 6,
						&sts, 2), 0);
	assert_int_equal(sts & 0x08, 0x08);
	assert_true(vus_client_irq_wait(b.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(5000)) >= 1);
	/* The driver's handler reads the ISR: the queue bit, and the line drops. */
	assert_int_equal(vus_client_region_read(b.c, TV_BAR, TV_ISR, &isr, 1), 0);
	assert_int_equal(isr, 1);
	assert_int_equal(vus_client_region_read(b.c, VUS_PCI_REGION_CONFIG, 6,
						&sts, 2), 0);
	assert_int_equal(sts & 0x08, 0);
	tv_stop(&b);
	close(fd);
}

/* A source that is told to go on after saving carries on where it was. */
static void source_resumes_after_a_cancelled_migration(void **state)
{
	struct tv a;
	struct tvd d;
	uint32_t next = 0;
	int fd = memfd();

	(void)state;
	save_running(&a, &d, fd);
	for (uint32_t i = 0; i < 5; i++)
		peer_send(&a, RX_STREAM, i);
	/* Stopped: the frames wait in the link. */
	usleep((useconds_t)vtest_ms(100) * 1000);
	assert_int_equal(tvd_rx(&d, (uint8_t[TVD_MAX_FRAME]){ 0 }, TVD_MAX_FRAME), -1);
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	rx_expect(&d, RX_STREAM, &next, 5);
	tvd_fini(&d);
	tv_stop(&a);
	close(fd);
}

/* The virtio-net section without held frames (version 2): 25 bytes of
 * MAC, MTU and queues, the link byte, the frame count. */
#define NET_FIXED 27u

static void hostile_sections_are_refused(void **state)
{
	/* Section, offset in its data, byte written there, errno expected. */
	static const struct {
		const char *sec;
		unsigned int off;
		uint8_t val;
		int err;
	} bad[] = {
		{ "virtio-pci", 0, 3, -ENODEV },       /* queues */
		{ "virtio-pci", 18, 0x04, -EBADMSG },  /* DRIVER_OK alone */
		{ "virtio-pci", 18, 0x2f, -EBADMSG },  /* a bit no driver sets */
		{ "virtio-pci", 19, 2, -EBADMSG },     /* needs_reset */
		{ "virtio-pci", 21, 0x80, -EBADMSG },  /* ISR */
		{ "virtio-pci", 24, 9, -EBADMSG },     /* config vector */
		{ "virtio-pci", 24, 3, -EBADMSG },     /* one past the last */
		{ "virtio-pci", 28, 9, -EBADMSG },     /* queue 0 vector */
		{ "virtio-pci", 28, 3, -EBADMSG },     /* one past the last */
		{ "virtio-pci", 30, 2, -EBADMSG },     /* queue 0 enabled */
		{ "virtio-pci", 27, 0x04, -ENODEV },   /* queue 0 size 1024 */
		{ "virtio-pci", 15, 0x01, -ENODEV },   /* feature 40, not offered */
		{ "virtio-pci", 14, 0x00, -EBADMSG },  /* no VERSION_1 */
		{ "virtio-net", 0, 0x03, -EBADMSG },   /* multicast MAC */
		{ "virtio-net", 6, 0xdc, -ENODEV },    /* an MTU never shown */
		{ "virtio-net", 8, 3, -ENODEV },       /* queues */
		{ "virtio-net", 15, 2, -EBADMSG },     /* signalled_valid */
		{ "virtio-net", 16, 99, -EBADMSG },    /* queue error */
		{ "virtio-net", 25, 2, -EBADMSG },     /* link neither up nor down */
		{ "virtio-net", 26, 33, -EBADMSG },    /* frames: one past the batch */
		{ "virtio-net", 26, 1, -EBADMSG },     /* a frame that is not there */
	};
	const struct tvd_config cfg = { .features = FEATURES, .qsize = 32,
					.kick = TV_KICK_IOEVENTFD };
	uint8_t stream[4096], copy[4096];
	struct tv b;
	struct tvd d;
	uint32_t next = 0, dl;
	size_t len = saved_stream(stream, sizeof(stream));
	int bfd;

	(void)state;
	/* The offsets above assume these layouts. */
	tv_section_at(stream, (size_t)len, "virtio-pci", &dl);
	assert_int_equal(dl, 26 + 2 * 29);
	tv_section_at(stream, (size_t)len, "virtio-net", &dl);
	assert_int_equal(dl, NET_FIXED);
	tv_start(&b, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t at = tv_section_at(stream, (size_t)len, bad[i].sec, &dl);

		memcpy(copy, stream, (size_t)len);
		copy[at + bad[i].off] = bad[i].val;
		tv_fix_crc(copy, (size_t)len);
		bfd = memfd();
		assert_int_equal(write(bfd, copy, (size_t)len), len);
		assert_int_equal(lseek(bfd, 0, SEEK_SET), 0);
		if (vus_client_mig_load(b.c, bfd) != bad[i].err)
			fail_msg("%s+%u = %#x: not refused with %d", bad[i].sec,
				 bad[i].off, bad[i].val, bad[i].err);
		close(bfd);
		assert_int_equal(vus_client_reset(b.c), 0);
	}
	/* The stream itself, CRC recomputed, is fine: the CRC code agrees. */
	tv_fix_crc(stream, (size_t)len);
	bfd = memfd();
	assert_int_equal(write(bfd, stream, (size_t)len), len);
	assert_int_equal(lseek(bfd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, bfd), 0);
	close(bfd);
	/* Refusals left nothing behind: a driver starts from scratch. */
	assert_int_equal(vus_client_reset(b.c), 0);
	tvd_init(&d, &b, &cfg);
	peer_send(&b, RX_STREAM, 0);
	rx_expect(&d, RX_STREAM, &next, 1);
	tvd_fini(&d);
	tv_stop(&b);
}

/*
 * Frames read in one batch that the ring cannot take are all held, and
 * all travel: 10 frames wait in the socket while the device is stopped;
 * running again, it reads them with one call, its 16 receive buffers of
 * 100 bytes take 5 (3 buffers each) and it holds the other 5. The section
 * carries those 5, and the destination delivers them after the 5 in the
 * ring, in order, each once.
 */
static void held_frames_survive_migration(void **state)
{
	const struct tvd_config cfg = { .features = FEATURES, .qsize = 16,
					.kick = TV_KICK_IOEVENTFD,
					.rx_buf_len = 100 };
	static uint8_t stream[16384];
	struct tv a, b;
	struct tvd d;
	uint32_t next = 0, dl;
	uint64_t size;
	uint8_t *bmem;
	ssize_t len;
	size_t at;
	int fd = memfd();

	(void)state;
	tv_start(&a, src_args);
	tv_start(&b, NULL);
	tvd_init(&d, &a, &cfg);
	bmem = map_buffers(&b);
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_STOP), 0);
	for (uint32_t i = 0; i < 10; i++)
		peer_send(&a, RX_STREAM, i);
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	assert_true(tv_wait_used(&a, 0, 15, 5000));
	assert_int_equal(vus_client_mig_save(a.c, fd, &size), 0);
	memcpy(b.ram, a.ram, TV_RAM_SIZE);
	memcpy(bmem, d.mem, TVD_MEM_SIZE);
	tv_stop(&a);
	len = pread(fd, stream, sizeof(stream), 0);
	assert_true(len > 0 && len < (ssize_t)sizeof(stream));
	at = tv_section_at(stream, (size_t)len, "virtio-net", &dl);
	assert_int_equal(stream[at + NET_FIXED - 1], 5);
	assert_int_equal(dl, NET_FIXED + 5 * (4 + 12 + FRAME_LEN));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	tvd_move(&d, &b, bmem);
	rx_expect(&d, RX_STREAM, &next, 10);
	assert_int_equal(tvd_rx(&d, (uint8_t[TVD_MAX_FRAME]){ 0 }, TVD_MAX_FRAME), -1);
	tvd_fini(&d);
	tv_stop(&b);
	close(fd);
}

/*
 * @s (@len bytes, its virtio-net section holding no frames) rebuilt into
 * @out with @nr held frames of 72 bytes (header and frame) in that
 * section, the section's length and the CRC made right. The new length.
 */
static size_t with_frames(const uint8_t *s, size_t len, uint8_t *out,
			  unsigned int nr)
{
	uint32_t dl;
	size_t at = tv_section_at(s, len, "virtio-net", &dl), o = at + NET_FIXED;

	assert_int_equal(dl, NET_FIXED);
	memcpy(out, s, o);
	out[o - 1] = (uint8_t)nr;
	for (unsigned int i = 0; i < nr; i++, o += 4)
		tv_put_le32(out + o, 72);
	for (unsigned int i = 0; i < nr; i++, o += 72) {
		memset(out + o, 0, 12);
		tv_frame_make(out + o + 12, 60, dev_mac, peer_mac, RX_STREAM, i);
	}
	memcpy(out + o, s + at + dl, len - at - dl);
	o += len - at - dl;
	tv_put_le32(out + at - 4, NET_FIXED + nr * (4 + 72));
	tv_fix_crc(out, o);
	return o;
}

/* The device holds at most one read batch (32 frames): a section with 32
 * loads, one with 33 is refused. */
static void held_frames_at_the_batch_bound(void **state)
{
	static uint8_t stream[4096], big[4096 + 33 * (4 + 72)];
	size_t len = saved_stream(stream, sizeof(stream));
	struct tv b;

	(void)state;
	tv_start(&b, NULL);
	assert_int_equal(tv_load_stream(&b, big, with_frames(stream, (size_t)len, big, 32)), 0);
	assert_int_equal(tv_load_stream(&b, big, with_frames(stream, (size_t)len, big, 33)),
			 -EBADMSG);
	tv_stop(&b);
}

/*
 * The link status the operator set (net.set-link) is guest-visible state:
 * it travels. A version 1 section, which had no link byte, still loads
 * and leaves the destination's own status.
 */
static void link_status_travels(void **state)
{
	char rpc[256];
	const char *const args[] = { "--mac", "02:00:00:12:34:56", "--rpc-path",
				     rpc, NULL };
	static uint8_t stream[4096], v1[4096];
	struct json_object *r;
	uint16_t link = 0xffff;
	struct tv a, b;
	uint64_t size;
	uint32_t dl;
	ssize_t len;
	size_t at;
	int fd = memfd(), m;

	(void)state;
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("migrpc"));
	tv_start(&a, args);
	m = trpc_connect(rpc);
	assert_true(m >= 0);
	r = trpc_call(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"net.set-link\","
			 "\"params\":{\"up\":false}}");
	assert_true(json_object_get_boolean(trpc_get(r, "result.changed")));
	json_object_put(r);
	close(m);
	assert_int_equal(vus_client_mig_save(a.c, fd, &size), 0);
	tv_stop(&a);
	len = pread(fd, stream, sizeof(stream), 0);
	assert_true(len > 0 && len < (ssize_t)sizeof(stream));
	at = tv_section_at(stream, (size_t)len, "virtio-net", &dl);
	assert_int_equal(stream[at + 25], 1);
	tv_start(&b, NULL);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(b.c, fd), 0);
	assert_int_equal(vus_client_region_read(b.c, TV_BAR, TV_DEVCFG + 6, &link, 2), 0);
	assert_int_equal(le16toh(link), 0);
	assert_int_equal(vus_client_reset(b.c), 0);
	/* The same stream as version 1 would have written it. */
	memcpy(v1, stream, at + 25);
	memcpy(v1 + at + 25, stream + at + 26, (size_t)len - at - 26);
	tv_put_le32(v1 + at - 8, 1);
	tv_put_le32(v1 + at - 4, dl - 1);
	tv_fix_crc(v1, (size_t)len - 1);
	tv_stop(&b);
	tv_start(&b, NULL);
	assert_int_equal(tv_load_stream(&b, v1, (size_t)len - 1), 0);
	assert_int_equal(vus_client_region_read(b.c, TV_BAR, TV_DEVCFG + 6, &link, 2), 0);
	assert_int_equal(le16toh(link), 1);
	tv_stop(&b);
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(traffic_survives_live_migration),
		VTEST(destinations_configured_differently_refuse),
		VTEST(a_device_never_started_migrates_too),
		VTEST(source_resumes_after_a_cancelled_migration),
		VTEST(pending_intx_survives_migration),
		VTEST(hostile_sections_are_refused),
		VTEST(held_frames_survive_migration),
		VTEST(held_frames_at_the_batch_bound),
		VTEST(link_status_travels),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS-VIRTIO-NET-PCI [TEST]\n", argv[0]);
		return 2;
	}
	vnet_exe = argv[1];
	return vtest_run("virtio_mig", tests, argc - 1, argv + 1);
}
