/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_priv: the network device's state, shared by net.c (device model,
 * transport and worker glue) and datapath.c (frames between the queues and
 * the backend). Fields are grouped by the thread that owns them.
 */
#ifndef NET_PRIV_H
#define NET_PRIV_H

#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net.h"
#include "virtqueue.h"
#include "worker.h"

/*
 * Frames taken from the transmit ring and sent with one call, and read
 * from the backend with one call: each batch costs one system call on a
 * datagram link. A received batch is held until the ring takes it.
 */
#define VNET_TX_BATCH 64u
#define VNET_RX_BATCH 32u

/*
 * One queue pair (receive queue 2i, transmit queue 2i + 1) and the worker
 * thread that serves it with its own backend fd (a TAP queue of its own
 * with --queues N). Fields belong to that worker while it runs; the
 * context thread touches them only while it is parked (start, reset).
 */
struct vnet_pair {
	struct vnet *n;
	unsigned int idx;
	struct worker *w;
	struct backend *be;
	/* A TAP queue taken off the interface while the pair is unused:
	 * the kernel steers no flow to it (net_pair.c). */
	atomic_bool detached;

	bool mrg_rxbuf;
	struct virtqueue vq[2];        /* VNET_RXQ, VNET_TXQ */
	bool reported[2];              /* a broken queue was reported */
	/* A batch of transmit chains: their pieces share one pool. */
	struct vq_elem tx_elem[VNET_TX_BATCH];
	struct iovec *tx_pool;
	struct vus_sg *tx_sg;
	unsigned int tx_pool_max;      /* entries in tx_pool and tx_sg */
	unsigned int tx_chain_max;     /* pieces one chain may take */
	struct iovec *tx_iov;          /* header + frame pieces for the backend */
	struct mmsghdr tx_msgs[VNET_TX_BATCH];
	struct virtio_net_hdr_v1 tx_hdr[VNET_TX_BATCH];
	uint32_t tx_len[VNET_TX_BATCH]; /* frame bytes; 0: the driver's error */
	struct vq_elem rx_elem[2];     /* first buffer of a frame, the others */
	/* Frames from the backend, each in a slot of rx_buf_size bytes. */
	uint8_t *rx_buf;
	size_t rx_buf_size;
	uint32_t rx_len[VNET_RX_BATCH]; /* header included; 0: dropped */
	unsigned int rx_head;          /* next slot to deliver */
	unsigned int rx_count;         /* slots from rx_head still to deliver */
	struct mmsghdr rx_msgs[VNET_RX_BATCH];
	struct iovec rx_iov[VNET_RX_BATCH];
	bool rx_watch;                 /* reading the backend */
	bool tx_blocked;               /* backend full: waiting for EPOLLOUT */
	bool tx_more;                  /* budget ran out: continue on the next poll */
	uint32_t be_events;            /* what the worker watches on the backend */
	bool be_failed;                /* the backend is gone: no more watching */
	bool busy;                     /* work was done this round (polling) */
	int64_t last_busy_ns;
	int64_t idle_ns;               /* current poll interval while idle */
	struct vnet_stats st;
};

struct vnet {
	vus_ctx *ctx;
	struct vpci *pci;
	struct vnet_config cfg;
	uint64_t offered;
	unsigned int nr_pairs;         /* cfg.queue_pairs */
	struct vnet_pair *pairs;

	/* Context thread. */
	bool started;  /* DRIVER_OK and not stopped since */
	bool quiesced; /* libvus asked us to be quiet */
	bool mig_stopped; /* a migration state where the device must not run */
	bool client_gone; /* parked until a new client grants the rings again */
	uint64_t features;
	/* Pairs the driver uses (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET); 1 from
	 * a reset. Read by the workers when they park. */
	atomic_uint active_pairs;
	/* The control queue (VIRTIO_NET_F_CTRL_VQ), served on the context
	 * thread when the driver kicks it (net_ctrl.c). */
	struct virtqueue ctrl;
	struct vq_elem ctrl_elem;
	bool ctrl_reported;
	/* A quiesce waits for this many workers still to park. */
	atomic_uint parking;

	/* Any thread: net.set-link (context thread), config reads. */
	atomic_bool link_down;
	/* Worker: the backend has no peer (a shm link); also in the status. */
	atomic_bool carrier_down;

	/* Log rate limit (any thread). */
	atomic_llong log_window;
	atomic_int log_count;
};

/**
 * Log something a guest or peer can cause, at most a few lines per second
 * (any thread).
 */
void vnet_log_limited(struct vnet *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Let the worker run or park it, as the state now says (context thread). */
void vnet_update_run(struct vnet *n);

/** What the driver reads in the status (VIRTIO_NET_S_LINK_UP): the link
 * is up (net.set-link) and has its carrier. Any thread. */
bool vnet_link_up(struct vnet *n);

/** net_rpc.c: register the management methods (before realize). */
int vnet_rpc_setup(struct vnet *n);

/** net_mig.c: the section of the pairs in use (several pairs only),
 * which the control queue marks changed for crash recovery. */
#define VNET_PAIRS_SECTION "virtio-net-pairs"

/** net_mig.c: make the device migratable (before realize). 0 or -errno. */
int vnet_mig_setup(struct vnet *n);

/** net_handover.c: the backend's fd through a hand-over. 0 or -errno. */
int vnet_handover_setup(struct vnet *n);

/** Let pair @p's worker watch its backend (once it has its fd). */
int vnet_watch_backend(struct vnet_pair *p);

/* net_pair.c, context thread (see there). */
/** Create the pairs' workers, parked, watching their doorbells. */
int vnet_pairs_setup(struct vnet *n);
void vnet_pairs_destroy(struct vnet *n);
/** Ask every worker to park; 0 if all are, else -EBUSY and
 * vus_ctx_quiesced() once the last one has. */
int vnet_pairs_quiesce(struct vnet *n);
/** Whether every worker is parked. */
bool vnet_pairs_parked(struct vnet *n);

/* net_ctrl.c, context thread. */
/** The control queue's index: after the last pair's. */
static inline unsigned int vnet_ctrl_queue(const struct vnet *n)
{
	return 2 * n->nr_pairs;
}
/** Allocate the control queue's element. 0 or -ENOMEM. */
int vnet_ctrl_init(struct vnet *n);
void vnet_ctrl_free(struct vnet *n);
/** DRIVER_OK: take the control queue from @q (all queues), if there is
 * one and the driver negotiated it. */
void vnet_ctrl_start(struct vnet *n, const struct vpci_queue *q, uint32_t flags);
void vnet_ctrl_reset(struct vnet *n);
/** The driver kicked queue @q, the control queue (vpci_ops.ctx_kick):
 * serve every command in it. */
void vnet_ctrl_kick(void *opaque, unsigned int q);

/**
 * Start @vq from the driver's registers @q (queue @idx) with VQ_F_*
 * @flags: 0, or -EINVAL with the queue left broken, DEVICE_NEEDS_RESET
 * set and a log line. Parked (context thread).
 */
int vnet_queue_start(struct vnet *n, struct virtqueue *vq,
		     const struct vpci_queue *q, uint32_t flags, unsigned int idx);

/* datapath.c, worker thread. */
void datapath_tx(struct vnet_pair *p);
void datapath_rx(struct vnet_pair *p);
/** The backend fd became ready. */
void datapath_backend_event(struct vnet_pair *p, uint32_t events);
/** Watch the backend for what the data path waits for now. */
void datapath_update_events(struct vnet_pair *p);
/** Allocate the buffers for queues of @queue_size. 0 or -ENOMEM. */
int datapath_init(struct vnet_pair *p, unsigned int queue_size);
void datapath_free(struct vnet_pair *p);

#endif /* NET_PRIV_H */
