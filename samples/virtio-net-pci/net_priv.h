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

struct vnet {
	vus_ctx *ctx;
	struct vpci *pci;
	struct worker *w;
	struct backend *be;
	struct vnet_config cfg;
	uint64_t offered;

	/* Context thread. */
	bool started;  /* DRIVER_OK and not stopped since */
	bool quiesced; /* libvus asked us to be quiet */
	bool mig_stopped; /* a migration state where the device must not run */
	bool client_gone; /* parked until a new client grants the rings again */

	/* Any thread: net.set-link (context thread), config reads. */
	atomic_bool link_down;
	/* Worker: the backend has no peer (a shm link); also in the status. */
	atomic_bool carrier_down;

	/*
	 * Worker thread while running; the context thread may touch them
	 * only while the worker is parked (start, reset).
	 */
	uint64_t features;
	bool mrg_rxbuf;
	struct virtqueue vq[VNET_NR_QUEUES];
	bool reported[VNET_NR_QUEUES]; /* a broken queue was reported */
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

/** net_rpc.c: register the management methods (before realize). */
int vnet_rpc_setup(struct vnet *n);

/** net_mig.c: make the device migratable (before realize). 0 or -errno. */
int vnet_mig_setup(struct vnet *n);

/** net_handover.c: the backend's fd through a hand-over. 0 or -errno. */
int vnet_handover_setup(struct vnet *n);

/** Let the worker watch the backend (once it has its fd). */
int vnet_watch_backend(struct vnet *n);

/* datapath.c, worker thread. */
void datapath_tx(struct vnet *n);
void datapath_rx(struct vnet *n);
/** The backend fd became ready. */
void datapath_backend_event(struct vnet *n, uint32_t events);
/** Watch the backend for what the data path waits for now. */
void datapath_update_events(struct vnet *n);
/** Allocate the buffers for queues of @queue_size. 0 or -ENOMEM. */
int datapath_init(struct vnet *n);
void datapath_free(struct vnet *n);

#endif /* NET_PRIV_H */
