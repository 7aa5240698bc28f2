/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_handover: the network device in a hand-over to a new process. Its
 * state travels in its migration sections; its fds of its own, the
 * backends (TAP or datagram socket; a TAP queue per pair with several
 * pairs), travel as "backend", "backend.1", ...: the new process
 * prepared a backend without an fd (backend_prepare) and takes it here,
 * before its sections are loaded, so frames that arrived meanwhile are
 * still waiting in the same socket. The old process, once handed over,
 * closes its copy but leaves the bound path to the new one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net_priv.h"

/* Pair @i's fd's name: "backend" for the first (as with one pair). */
static const char *fd_name(unsigned int i, char *buf, size_t len)
{
	if (i == 0)
		return "backend";
	snprintf(buf, len, "backend.%u", i);
	return buf;
}

static int save_fds(void *opaque, vus_handover_fds *h)
{
	struct vnet *n = opaque;
	struct backend *be = n->pairs[0].be;

	/* A shm link is a map, a socket and its peer's state: not one fd. */
	if (backend_is_shm(be)) {
		vnet_log(n, VUS_LOG_ERR, "a shm link cannot be handed over");
		return -EOPNOTSUPP;
	}
	for (unsigned int i = 0; i < n->nr_pairs; i++) {
		char buf[32];
		int ret;

		be = n->pairs[i].be;
		ret = vus_handover_put_fd(h, fd_name(i, buf, sizeof(buf)),
					  backend_fd(be), backend_is_tap(be)
					  ? VUS_FD_CHAR : VUS_FD_SOCKET);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int load_fds(void *opaque, vus_handover_fds *h)
{
	struct vnet *n = opaque;
	int ret = 0;

	/* One per pair: the new process has as many (the old one's
	 * command line). */
	for (unsigned int i = 0; ret == 0 && i < n->nr_pairs; i++) {
		char buf[32];
		int fd = vus_handover_take_fd(h, fd_name(i, buf, sizeof(buf)));

		ret = fd < 0 ? fd : backend_adopt(n->pairs[i].be, fd);
		if (ret == 0)
			ret = vnet_watch_backend(&n->pairs[i]);
	}
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
