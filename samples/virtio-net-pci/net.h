/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net: a virtio 1.x network device (virtio device type 1) on the modern
 * PCI transport. One receive and one transmit queue per queue pair (with
 * several pairs, VIRTIO_NET_F_MQ and a control queue); the data path of
 * each pair runs on a worker thread of its own that moves frames between
 * its queues and its backend.
 *
 * Features offered: VERSION_1, ACCESS_PLATFORM, MAC, STATUS, MRG_RXBUF,
 * EVENT_IDX, INDIRECT_DESC, MTU (with a configured MTU), and with a vnet-header
 * backend (TAP) also CSUM, GUEST_CSUM, HOST/GUEST_TSO4/6 and ECN.
 *
 * Threads: vnet_create/destroy on the main thread; every other entry point
 * is a transport or worker callback.
 */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stdint.h>

#include <vus.h>

#include "backend.h"
#include "virtio_pci.h"

/* Feature bits of the network device. */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22

#define VIRTIO_NET_S_LINK_UP 1u

/* Within a queue pair: pair i's are queues 2i and 2i + 1. */
#define VNET_RXQ 0u
#define VNET_TXQ 1u

/** Most queue pairs: 2 x pairs + the control queue, one MSI-X vector
 * each plus one, fit the transport's VPCI_MAX_QUEUES. */
#define VNET_MAX_PAIRS ((VPCI_MAX_QUEUES - 1u) / 2u)

/** The virtio-net header (virtio 1.x: always with num_buffers). */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

/** Device configuration layout (struct virtio_net_config, first fields). */
#define VNET_CFG_MAC 0u
#define VNET_CFG_STATUS 6u
#define VNET_CFG_MAX_PAIRS 8u
#define VNET_CFG_MTU 10u
#define VNET_CFG_SIZE 12u

/** The header's size, and an Ethernet header's. */
#define VNET_HDR_LEN sizeof(struct virtio_net_hdr_v1)
#define VNET_ETH_HLEN 14u

/** Largest frame (Ethernet header included) either way. */
#define VNET_MAX_FRAME (65535u + 14u + 4u)

struct vnet_config {
	uint8_t mac[6];
	uint16_t queue_size;         /**< power of two, 2 .. 32768 */
	uint16_t mtu;                /**< 0: do not offer VIRTIO_NET_F_MTU */
	uint16_t queue_pairs;        /**< 1 .. VNET_MAX_PAIRS (0: 1); > 1: MQ */
	bool offloads;               /**< offer offloads if the backend can */
	enum vpci_notify_mode notify;
	uint32_t poll_spin_us;       /**< mmap mode: spin after activity */
	uint32_t poll_max_us;        /**< mmap mode: longest sleep when idle */
	uint32_t compat_version;     /**< migration: guest-visible version, >= 1 */
	const char *mig_stage_dir;   /**< migration: where a load spills, or NULL */
	uint64_t mig_stage_mem;      /**< migration: its memory budget (0: default) */
	int log_level;               /**< VUS_LOG_*: what vnet_log prints */
};

/** Counters, read after the worker stopped. */
struct vnet_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped;
	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t kicks, interrupts, queue_errors;
};

struct vnet;

/** The management methods (net_rpc.c), for --print-capabilities too. */
#define VNET_RPC_N_METHODS 3
extern const struct vus_rpc_method vnet_rpc_methods[VNET_RPC_N_METHODS];

/**
 * Make @ctx (created for PCI, not realized) a virtio-net device using
 * backends @be[0, cfg->queue_pairs), one per queue pair (still the
 * caller's; close them after vnet_destroy()). Starts one worker thread
 * per pair, parked. 0 or -errno (-EINVAL: a bad queue size or count).
 */
int vnet_create(vus_ctx *ctx, struct backend *const *be,
		const struct vnet_config *cfg, struct vnet **out);

/**
 * Stop the worker thread for good (joined): nothing touches guest memory
 * or raises interrupts afterwards. Call before vus_ctx_destroy(), which
 * unmaps guest memory without waiting for anyone.
 */
void vnet_shutdown(struct vnet *n);

/** Free everything (vnet_shutdown() included). After vus_ctx_destroy(). */
void vnet_destroy(struct vnet *n);

/** How many queue pairs the device has. */
unsigned int vnet_pairs(const struct vnet *n);

/**
 * Counters so far of pair @pair, or of all pairs (@pair < 0); call with
 * the workers stopped (after the context ended).
 */
void vnet_get_stats(const struct vnet *n, int pair, struct vnet_stats *out);

/** Log at @level (VUS_LOG_*) if the configured level lets it through. */
void vnet_log(const struct vnet *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* NET_H */
