/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_virtio_util: a real vus-virtio-net-pci process with a datagram
 * backend whose peer socket is the test, a vfio-user client connected to
 * it with memfd "guest RAM", and a minimal virtio-net driver on the
 * client side: capability walk, feature negotiation, split queues laid
 * out in that RAM, kicks, interrupts on MSI-X eventfds.
 *
 * Also two such processes linked to each other (tv_start_pair) and a
 * driver that moves real traffic through one (struct tvd): slots,
 * mergeable receive buffers, event-index kicks and interrupts, doorbells
 * of each kind; used by test_virtio_b2b.c and bench_virtio_b2b.c.
 */
#ifndef TEST_VIRTIO_UTIL_H
#define TEST_VIRTIO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vus.h"
#include "vus/client.h"

/** The server binary, from argv[1]. */
extern const char *vnet_exe;
/** When set (crash recovery tests): the server runs under this
 * vus-supervise, restarted as often as it dies; struct tv's pid is the
 * supervisor's. */
extern const char *vus_supervise;

/* Guest RAM: GPA and size; queue q's rings at RAM + q * 0x10000. */
#define TV_RAM 0x100000ull
#define TV_RAM_SIZE 0x400000ull
#define TV_RXBUF(i) (TV_RAM + 0x100000 + (uint64_t)(i) * 0x800)
#define TV_TXBUF(i) (TV_RAM + 0x200000 + (uint64_t)(i) * 0x800)
#define TV_BUF_SIZE 0x800u

/* Register BAR layout the device documents. */
#define TV_BAR 4u
#define TV_COMMON 0x0000u
#define TV_ISR 0x1000u
#define TV_DEVCFG 0x2000u
#define TV_NOTIFY 0x3000u

/* MSI-X vectors the rig assigns. */
#define TV_VEC_CONFIG 0u
#define TV_VEC_RX 1u
#define TV_VEC_TX 2u

/* Queues a device may have (2 x 63 pairs + a control queue). */
#define TV_MAX_QUEUES 127u

struct tvq {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t avail_idx; /* ours, as the driver */
};

struct tv {
	pid_t pid;
	char sock[256], bind[256], peer[256];
	vus_client *c;
	int peer_fd;     /* the far end of the link, bound at @peer */
	uint8_t *ram;    /* guest RAM, our view */
	int ram_fd;      /* its memfd when ours (tv_start_pair), else -1 */
	uint8_t *notify; /* mmap'd notification page, or NULL */
	void *bar_map;
	struct tvq q[TV_MAX_QUEUES];
	uint64_t features;
	int log_fd;      /* the server's stderr (tv_start_pair), or 0 */
};

/** Start the server with @extra arguments (NULL-terminated, may be NULL).
 * With "--tap" or "--shm-listen/--shm-connect" among them the server gets
 * no datagram link. */
void tv_start(struct tv *t, const char *const *extra);
/** tv_start, keeping the server's output for tv_stop_stats(). */
void tv_start_logged(struct tv *t, const char *const *extra);
/** Close the client, SIGTERM the server; it must exit 0 and clean up. */
void tv_stop(struct tv *t);

/* Common configuration registers (offsets within it), any width. */
uint32_t tv_rd(struct tv *t, uint32_t off, unsigned int size);
void tv_wr(struct tv *t, uint32_t off, unsigned int size, uint32_t val);
uint8_t tv_status(struct tv *t);
/** The MAC address in device configuration, a byte at a time (as Linux). */
void tv_read_mac(struct tv *t, uint8_t mac[6]);
/** The device configuration's status says LINK_UP (VIRTIO_NET_F_STATUS). */
bool tv_link_up(struct tv *t);
/** Wait until tv_link_up() says @up (up to vtest_ms(10000), else fail). */
void tv_wait_link(struct tv *t, bool up);
/** Write @status; for 0 wait until the reset has completed. */
void tv_set_status(struct tv *t, uint8_t status);
uint64_t tv_device_features(struct tv *t);

/** Enable MSI-X (and bus mastering) with eventfds on all 3 vectors. */
void tv_enable_msix(struct tv *t);

/**
 * Drive the device to DRIVER_OK with @features and both queues of
 * @qsize (MSI-X vectors as above if enabled). Returns the status read
 * back (FEATURES_OK may be refused).
 */
uint8_t tv_init(struct tv *t, uint64_t features, uint16_t qsize);

/**
 * The same with queue q's rings of @sizes[q] entries (up to 32768) at
 * @bases[q] in RAM: descriptors, driver area, device area, each at least
 * 16 KiB apart. The free RAM between TV_RAM + 0x20000 and TV_RXBUF(0)
 * holds the rings of one 32768-entry queue.
 */
uint8_t tv_init_layout(struct tv *t, uint64_t features,
		       const uint32_t sizes[2], const uint64_t bases[2]);

/**
 * The first steps of tv_init: reset, ACKNOWLEDGE, DRIVER, @features,
 * FEATURES_OK (MSI-X configuration vector set if accepted). Returns the
 * status read back; then tv_setup_queue() each queue and set 0x0f.
 */
uint8_t tv_negotiate(struct tv *t, uint64_t features);
/** Lay queue @q out with @size entries at @base (as tv_init_layout)
 * and enable it; its MSI-X vector is TV_VEC_RX for queue 0, else TV_VEC_TX. */
void tv_setup_queue(struct tv *t, unsigned int q, uint32_t size,
		    uint64_t base);

/** Ring queue @q's doorbell (REGION_WRITE, or a store to the mmap page). */
void tv_kick(struct tv *t, unsigned int q);

/** Write descriptor @i of queue @q. */
void tv_desc(struct tv *t, unsigned int q, uint16_t i, uint64_t addr,
	     uint32_t len, uint16_t flags, uint16_t next);
/** Make chain @head available on queue @q (no kick). */
void tv_offer(struct tv *t, unsigned int q, uint16_t head);
/** The device's used index of queue @q. */
uint16_t tv_used_idx(struct tv *t, unsigned int q);
/** Used element @i of queue @q: id and len. */
void tv_used_elem(struct tv *t, unsigned int q, uint16_t i, uint32_t *id,
		  uint32_t *len);
/** Wait until queue @q's used index reaches @idx; false after vtest_ms(@ms). */
bool tv_wait_used(struct tv *t, unsigned int q, uint16_t idx, int ms);

/** Our pointer to guest address @gpa. */
uint8_t *tv_gp(struct tv *t, uint64_t gpa);

/** Transmit @frame with a zero header from TX buffer slot @slot. */
void tv_send(struct tv *t, uint16_t slot, const void *frame, size_t len);
/** Post RX buffers in slots [first, first + n) and kick. */
void tv_post_rx(struct tv *t, uint16_t first, uint16_t n);

/** A datagram from the device at the peer, or -1 after vtest_ms(@ms). */
ssize_t tv_peer_recv(struct tv *t, void *buf, size_t len, int ms);
/** A frame from the peer to the device. */
void tv_peer_send(struct tv *t, const void *frame, size_t len);
/** The same without waiting: false if the device's queue is full. */
bool tv_peer_try_send(struct tv *t, const void *frame, size_t len);

/** Monotonic nanoseconds. */
long long tv_now_ns(void);

/*
 * Back to back: two servers, each the other's datagram peer, and a
 * driver (struct tvd) on each client that moves real traffic: buffers in
 * a memfd of their own, MSI-X on eventfds, doorbells of a chosen kind.
 */

/** Start @a and @b wired back to back (--bind/--peer swapped), with
 * @extra_a/@extra_b arguments; each one's stderr is kept for
 * tv_stop_stats(). */
void tv_start_pair(struct tv *a, struct tv *b, const char *const *extra_a,
		   const char *const *extra_b);

/** The counters a server prints when it stops. */
struct tv_dev_stats {
	unsigned long long tx_packets, tx_bytes, tx_dropped;
	unsigned long long rx_packets, rx_bytes, rx_dropped;
	unsigned long long kicks, interrupts, queue_errors;
};

/**
 * Close the client, SIGTERM the server (it must exit 0 and remove its
 * paths) and parse the counters it printed into @st. For servers started
 * with tv_start_pair() or tv_start_logged(); their output is copied to our
 * stderr.
 */
void tv_stop_stats(struct tv *t, struct tv_dev_stats *st);

/** A log for servers' stderr, which several processes may write at once
 * (a take-over's old and new one, a supervisor's restarts) without
 * losing a line: a memfd opened for appending. */
int tv_log_create(void);

/** The last counters a server printed into @log_fd (several processes
 * may share it: a take-over's new one writes after the old one). */
void tv_log_stats(int log_fd, struct tv_dev_stats *st);

/** Add @s's counters to @sum. */
void tv_stats_add(struct tv_dev_stats *sum, const struct tv_dev_stats *s);

/**
 * Close the client and connect a new one as a new VM's QEMU does: fresh
 * RAM, DEVICE_RESET, the notification page mapped again (the server
 * forgot the old mappings and eventfds).
 */
void tv_reconnect(struct tv *t);

/** How a driver rings doorbells. */
enum tv_kick_mode {
	TV_KICK_IOEVENTFD,    /* eventfds from DEVICE_GET_REGION_IO_FDS */
	TV_KICK_REGION_WRITE, /* REGION_WRITE, waiting for the reply */
	TV_KICK_POSTED,       /* REGION_WRITE with NO_REPLY (as QEMU) */
	TV_KICK_MMAP,         /* a store to the mmap'd notification page */
};

/* The driver's buffer memory: its own DMA mapping. */
#define TVD_MEM 0x80000000ull
#define TVD_MEM_SIZE 0x4000000ull      /* 64 MiB */
#define TVD_TX_SLOT 0x11000u           /* per transmit slot */
#define TVD_RX_AREA 0x3000000ull       /* receive buffers from here */
#define TVD_MAX_FRAME 65535u
#define TVD_MAX_QSIZE 512u

struct tvd_config {
	uint64_t features;
	uint16_t qsize;          /* both queues; <= TVD_MAX_QSIZE */
	enum tv_kick_mode kick;
	uint32_t rx_buf_len;     /* bytes per receive buffer; 0: 2048 */
};

struct tvd_stats {
	uint64_t tx_frames, tx_bytes, tx_done; /* submitted, completed */
	uint64_t rx_frames, rx_bytes, rx_bufs;
	uint64_t kicks, irqs, config_irqs;
};

struct tvd {
	struct tv *t;
	struct tvd_config cfg;
	uint8_t *mem;                 /* TVD_MEM, our view */
	int mem_fd;                   /* its memfd, or -1 (tvd_move) */
	int irq_fd[3];                /* MSI-X vectors 0..2 */
	int kick_fd[2];               /* ioeventfds per queue, or -1 */
	bool down;                    /* reset: no more offers or kicks */
	bool gone;                    /* client closed: rings unreadable */
	bool rx_paused;               /* the caller takes no frames for now */
	uint16_t tx_used, rx_used;    /* next used entry to consume */
	uint16_t kicked[2];           /* avail idx at the last kick check */
	uint16_t nr_slots, nr_free;
	uint16_t free_slot[TVD_MAX_QSIZE / 2];
	bool slot_busy[TVD_MAX_QSIZE / 2];
	uint32_t slot_tag[TVD_MAX_QSIZE / 2];
	bool rx_out[TVD_MAX_QSIZE];   /* buffer offered to the device */
	struct tvd_stats st;
};

/**
 * Bring @t's device up as a driver would: buffer memory, MSI-X on our
 * eventfds, doorbells as @cfg says, DRIVER_OK with @cfg's features, all
 * receive buffers offered. Fails the test on any refusal.
 */
void tvd_init(struct tvd *d, struct tv *t, const struct tvd_config *cfg);
/** Before closing the client: the rings go with its memory, so the
 * driver stops touching them (tvd_rx, tvd_reap_tx find nothing). */
void tvd_detach(struct tvd *d);
/** After tv_reconnect: map, bind and fetch the doorbells again, then
 * initialise as tvd_init. Counters are kept. */
void tvd_reattach(struct tvd *d);
/**
 * The same VM's client reconnects (tv_start_pair rigs): close the client,
 * connect a new one and grant it the same memory at the same addresses,
 * bind the same interrupt eventfds, fetch the doorbells again. No reset:
 * the driver carries on where it was.
 */
void tvd_reconnect_same_vm(struct tvd *d);
/**
 * Reset the device: status 0 (waiting until it reads 0), or with
 * @device_reset a DEVICE_RESET message. The rings stay readable (tvd_rx,
 * tvd_reap_tx) but nothing is offered or kicked.
 */
void tvd_reset(struct tvd *d, bool device_reset);
/** After tvd_reset: initialise again (MSI-X too) with fresh rings. */
void tvd_reinit(struct tvd *d);
/** Close our eventfds and doorbell fds (the client owns the memory). */
void tvd_fini(struct tvd *d);

/**
 * After a migration of @d's device to @to (a server of its own, with the
 * buffer memory mapped at TVD_MEM as @mem and the state loaded): carry on
 * there. The driver's ring positions and features move to @to; doorbells
 * and interrupt eventfds are bound on @to's client.
 */
void tvd_move(struct tvd *d, struct tv *to, uint8_t *mem);

/**
 * Queue @frame (with a zero virtio-net header) for transmission, tagged
 * @tag; layouts alternate between one descriptor, a header+frame chain
 * and (with INDIRECT_DESC) an indirect table. false if all slots are in
 * flight. No kick: see tvd_flush().
 */
bool tvd_tx(struct tvd *d, const void *frame, size_t len, uint32_t tag);
/** Completed transmissions: frees their slots, returns how many. */
unsigned int tvd_reap_tx(struct tvd *d);
/** Slots in flight. */
unsigned int tvd_tx_inflight(const struct tvd *d);
/** The smallest tag in flight, or UINT32_MAX. */
uint32_t tvd_min_inflight_tag(const struct tvd *d);
/**
 * The next received frame (header checked and stripped, mergeable
 * buffers joined) copied to @buf (room @len): its length, or -1 if none
 * is complete yet. Consumed buffers are offered again (unless down).
 */
ssize_t tvd_rx(struct tvd *d, void *buf, size_t len);
/** Kick each queue whose new buffers the device asked to hear about. */
void tvd_flush(struct tvd *d);
/**
 * Ask for interrupts on the next used entry of every queue of @ds, then
 * sleep on their MSI-X eventfds for at most vtest_ms(@ms). Returns true when there
 * may be work (an interrupt, or used entries that came meanwhile).
 */
bool tvd_wait(struct tvd *const *ds, unsigned int n, int ms);
/** One line of driver and ring state, for failure messages. */
void tvd_dump(const struct tvd *d, const char *name);

/* Test frames: Ethernet header, ethertype 0x88b5, then seq and length,
 * then a pattern of (stream, seq). At least TV_FRAME_MIN bytes. */
#define TV_FRAME_MIN 60u
void tv_frame_make(uint8_t *f, size_t len, const uint8_t dst[6],
		   const uint8_t src[6], uint8_t stream, uint32_t seq);
/** Check @f (length @len) is a frame of @stream; its seq in *seq.
 * @every_byte false checks only the header. false on any mismatch. */
bool tv_frame_check(const uint8_t *f, size_t len, uint8_t stream,
		    bool every_byte, uint32_t *seq);

#endif /* TEST_VIRTIO_UTIL_H */
