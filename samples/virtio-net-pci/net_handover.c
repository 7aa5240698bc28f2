/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_handover: the network device in a hand-over to a new process. Its
 * state travels in its migration sections; its one fd of its own, the
 * backend (TAP or datagram socket), travels as "backend": the new process
 * prepared a backend without an fd (backend_prepare) and takes it here,
 * before its sections are loaded, so frames that arrived meanwhile are
 * still waiting in the same socket. The old process, once handed over,
 * closes its copy but leaves the bound path to the new one.
 */
#include <errno.h>
#include <string.h>

#include "net_priv.h"

static int save_fds(void *opaque, vus_handover_fds *h)
{
	struct vnet *n = opaque;
	struct backend *be = n->pairs[0].be;

	/* A shm link is a map, a socket and its peer's state: not one fd. */
	if (backend_is_shm(be)) {
		vnet_log(n, VUS_LOG_ERR, "a shm link cannot be handed over");
		return -EOPNOTSUPP;
	}
	/* Nor, yet, a TAP queue per pair (main.c refuses --take-over). */
	if (n->nr_pairs > 1) {
		vnet_log(n, VUS_LOG_ERR, "a device with %u queue pairs cannot "
			 "be handed over", n->nr_pairs);
		return -EOPNOTSUPP;
	}
	return vus_handover_put_fd(h, "backend", backend_fd(be),
				   backend_is_tap(be) ? VUS_FD_CHAR : VUS_FD_SOCKET);
}

static int load_fds(void *opaque, vus_handover_fds *h)
{
	struct vnet *n = opaque;
	int fd = vus_handover_take_fd(h, "backend");
	int ret = fd < 0 ? fd : backend_adopt(n->pairs[0].be, fd);

	if (ret == 0)
		ret = vnet_watch_backend(&n->pairs[0]);
	if (ret < 0)
		vnet_log(n, VUS_LOG_ERR, "the old process's backend: %s",
			 strerror(-ret));
	return ret;
}

static void handed_over(void *opaque)
{
	struct vnet *n = opaque;

	backend_keep_path(n->pairs[0].be);
}

int vnet_handover_setup(struct vnet *n)
{
	static const struct vus_handover_ops ops = {
		.struct_size = sizeof(ops), .save_fds = save_fds,
		.load_fds = load_fds, .handed_over = handed_over,
	};

	return vus_ctx_set_handover_ops(n->ctx, &ops, n);
}
