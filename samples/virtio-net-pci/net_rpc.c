/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_rpc: the network card's management methods (net.h):
 *
 *   net.set-link {"up": bool}  the link status the driver reads
 *                              (VIRTIO_NET_S_LINK_UP); a change raises
 *                              the configuration-change interrupt
 *   net.query-link             {"up": bool, "carrier": bool,
 *                              "guest-link-up": bool}: the operator's
 *                              setting, the backend's peer (only a shm
 *                              link can lack one), and what the driver
 *                              reads (both)
 *   net.query-stats            frames, bytes and drops per queue (rx and
 *                              tx of every pair, by queue index), kicks,
 *                              interrupts, queue errors
 *
 * The counters belong to the worker thread: net.query-stats runs with the
 * device quiesced (VUS_RPC_QUIESCE), i.e. the worker parked, so it reads
 * them without a lock and the worker pays nothing for being counted.
 */
#include "net_priv.h"

static int query_link(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		      vus_rpc_out *res)
{
	struct vnet *n = opaque;

	(void)ctx;
	(void)req;
	vus_rpc_out_bool(res, "up", !atomic_load(&n->link_down));
	/* As the worker last saw it: the backend's own state is its. */
	vus_rpc_out_bool(res, "carrier", !atomic_load(&n->carrier_down));
	return vus_rpc_out_bool(res, "guest-link-up", vnet_link_up(n));
}

static int set_link(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		    vus_rpc_out *res)
{
	struct vnet *n = opaque;
	bool up = true;

	(void)ctx;
	(void)vus_rpc_get_bool(req, "up", &up); /* required */
	if (atomic_exchange(&n->link_down, !up) == !up)
		return vus_rpc_out_bool(res, "changed", false);
	vnet_log(n, VUS_LOG_INFO, "link %s (management)", up ? "up" : "down");
	vpci_config_changed(n->pci);
	return vus_rpc_out_bool(res, "changed", true);
}

static void queue_out(vus_rpc_out *res, unsigned int q, uint64_t frames,
		      uint64_t bytes, uint64_t dropped)
{
	vus_rpc_out_begin_object(res, NULL);
	vus_rpc_out_uint(res, "index", q);
	vus_rpc_out_str(res, "name", q % 2 == VNET_RXQ ? "rx" : "tx");
	vus_rpc_out_uint(res, "frames", frames);
	vus_rpc_out_uint(res, "bytes", bytes);
	vus_rpc_out_uint(res, "dropped", dropped);
	vus_rpc_out_end(res);
}

static int query_stats(vus_ctx *ctx, void *opaque, vus_rpc_req *req,
		       vus_rpc_out *res)
{
	const struct vnet *n = opaque;
	struct vnet_stats s;

	(void)ctx;
	(void)req;
	vus_rpc_out_begin_array(res, "queues");
	for (unsigned int i = 0; i < n->nr_pairs; i++) {
		vnet_get_stats(n, (int)i, &s);
		queue_out(res, 2 * i + VNET_RXQ, s.rx_packets, s.rx_bytes,
			  s.rx_dropped);
		queue_out(res, 2 * i + VNET_TXQ, s.tx_packets, s.tx_bytes,
			  s.tx_dropped);
	}
	vus_rpc_out_end(res);
	vnet_get_stats(n, -1, &s);
	vus_rpc_out_uint(res, "kicks", s.kicks);
	vus_rpc_out_uint(res, "interrupts", s.interrupts);
	return vus_rpc_out_uint(res, "queue-errors", s.queue_errors);
}

static const struct vus_rpc_param up_p[] = {
	{ .struct_size = sizeof(struct vus_rpc_param), .name = "up",
	  .type = VUS_RPC_BOOL, .required = true,
	  .summary = "true: link up; false: cable pulled" },
};

const struct vus_rpc_method vnet_rpc_methods[VNET_RPC_N_METHODS] = {
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "net.set-link",
	  .summary = "set the link status the driver sees "
		     "(a change interrupts the guest)",
	  .params = up_p, .n_params = 1, .handler = set_link },
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "net.query-link",
	  .summary = "the link status: set (up), the peer's (carrier) and "
		     "what the driver reads (guest-link-up)",
	  .handler = query_link },
	{ .struct_size = sizeof(struct vus_rpc_method), .name = "net.query-stats",
	  .summary = "frames, bytes and drops per queue (briefly "
		     "quiesces the data path)",
	  .handler = query_stats, .flags = VUS_RPC_QUIESCE },
};

int vnet_rpc_setup(struct vnet *n)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < VNET_RPC_N_METHODS; i++)
		ret = vus_rpc_register(n->ctx, &vnet_rpc_methods[i], n);
	return ret;
}
