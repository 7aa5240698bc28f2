/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_info: VERSION negotiation and the "describe the device" commands
 * (DEVICE_GET_INFO, GET_REGION_INFO with its capability chain,
 * GET_REGION_IO_FDS, GET_IRQ_INFO). Replies never exceed what the request's
 * argsz allows; QEMU sizes its receive buffer from the request.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "doorbell.h"
#include "engine_priv.h"
#include "irq_table.h"
#include "log.h"
#include "region_table.h"
#include "vus/sysbus.h"

/* The description's type is public for devices and a wire fact for clients. */
_Static_assert(VUS_SYSBUS_DESC_TYPE == WIRE_SYSBUS_DESC_TYPE, "desc type");
_Static_assert(VUS_SYSBUS_DESC_SUBTYPE == WIRE_SYSBUS_DESC_SUBTYPE, "subtype");


int handle_version(struct engine *e, struct msg *m, struct reply *r)
{
	struct caps peer, ours;
	uint16_t major, minor;

	/* Our minor is 0, never more than a client proposes. */
	int ret;

	if (m->nfds)
		return -EINVAL;
	ret = caps_parse_version(m->payload, m->len, &major, &minor, &peer);
	if (ret < 0)
		return ret;
	if (major != WIRE_VERSION_MAJOR) {
		/* Nothing else can be said in a language we do not speak. */
		r->close_after = true;
		return -EINVAL;
	}
	e->peer = peer;
	e->peer_fds = (uint32_t)MIN(peer.max_msg_fds, WIRE_MAX_FDS_LIMIT);
	/* QEMU checks our requests against *our* announced limit too. */
	e->peer_xfer = (uint32_t)MIN(peer.max_data_xfer_size,
				     (uint64_t)e->lim.max_xfer);

	caps_defaults(&ours);
	ours.max_msg_fds = e->lim.max_fds;
	ours.max_data_xfer_size = e->lim.max_xfer;
	ours.pgsizes = PAGE_4K; /* for DMA mappings; more is not needed */
	ours.max_dma_maps = e->lim.max_dma_maps;
	ret = caps_build_version(r->buf, r->cap, WIRE_VERSION_MAJOR,
				 WIRE_VERSION_MINOR, &ours);
	if (ret < 0)
		return ret;
	r->len = (uint32_t)ret;
	e->state = CONN_READY;
	e->notify_connected = true;
	log_msg(e->log, VUS_LOG_INFO,
		"negotiated: client max_msg_fds %u, max_data_xfer_size %u",
		e->peer_fds, e->peer_xfer);
	return 0;
}

int handle_device_get_info(struct engine *e, struct msg *m, struct reply *r)
{
	struct wire_device_info info = {
		.argsz = sizeof(info),
		.flags = engine_dev_flags(e),
		.num_regions = engine_num_regions(e),
		.num_irqs = engine_num_irqs(e),
	};

	memcpy(r->buf, &info, sizeof(info));
	r->len = sizeof(info);
	return 0;
}

/* Append the capability chain for @ri at @buf + 32; returns its length. */
static uint32_t region_caps(const struct region_info *ri, bool mmap,
			    uint8_t *buf, bool write)
{
	uint32_t off = sizeof(struct wire_region_info), start = off;
	uint32_t prev = 0; /* offset of the previous capability, 0 if none */

	if (mmap && ri->sparse) {
		struct wire_cap_sparse_mmap c = {
			.hdr = { .id = WIRE_REGION_CAP_SPARSE_MMAP, .version = 1 },
			.nr_areas = ri->nr_areas,
		};
		if (write) {
			memcpy(buf + off, &c, sizeof(c));
			for (uint32_t i = 0; i < ri->nr_areas; i++) {
				struct wire_sparse_area a = {
					.offset = ri->areas[i].offset,
					.size = ri->areas[i].size,
				};
				memcpy(buf + off + sizeof(c) + i * sizeof(a), &a,
				       sizeof(a));
			}
			prev = off;
		}
		off += sizeof(c) + ri->nr_areas * sizeof(struct wire_sparse_area);
	}
	if (ri->type != 0) {
		struct wire_cap_type c = {
			.hdr = { .id = WIRE_REGION_CAP_TYPE, .version = 1 },
			.type = ri->type, .subtype = ri->subtype,
		};
		if (write) {
			if (prev != 0)
				memcpy(buf + prev + offsetof(struct wire_cap_hdr, next),
				       &off, sizeof(off));
			memcpy(buf + off, &c, sizeof(c));
		}
		off += sizeof(c);
	}
	return off - start;
}

int handle_device_get_region_info(struct engine *e, struct msg *m,
				  struct reply *r)
{
	struct wire_region_info req, info = { 0 };
	struct region_info ri;
	uint32_t caps_len;
	bool mmap;
	int ret;

	memcpy(&req, m->payload, sizeof(req));
	if (req.index >= engine_num_regions(e))
		return -EINVAL;
	ret = region_get_info(ctx_regions(e->ctx), req.index, &ri);
	if (ret < 0)
		return ret;
	/* The fd travels with the reply: only if the client takes fds. */
	mmap = ri.fd >= 0 && e->peer_fds >= 1;
	caps_len = region_caps(&ri, mmap, r->buf, false);
	info.argsz = (uint32_t)sizeof(info) + caps_len;
	info.index = req.index;
	info.size = ri.size;
	info.flags = (ri.flags & VUS_REGION_READ ? WIRE_REGION_READ : 0) |
		     (ri.flags & VUS_REGION_WRITE ? WIRE_REGION_WRITE : 0) |
		     (mmap ? WIRE_REGION_MMAP : 0);
	info.offset = mmap ? ri.fd_offset : 0;
	r->len = sizeof(info);
	if (info.argsz <= req.argsz) {
		if (caps_len) {
			info.flags |= WIRE_REGION_CAPS;
			info.cap_offset = sizeof(info);
			region_caps(&ri, mmap, r->buf, true);
		}
		r->len = info.argsz;
		if (mmap)
			r->fds[r->nfds++] = ri.fd;
	}
	/* Too small: the fixed part with argsz = what is needed, no CAPS
	 * flag (QEMU rejects CAPS without a chain), and the client asks
	 * again. */
	memcpy(r->buf, &info, sizeof(info));
	return 0;
}

int handle_device_get_region_io_fds(struct engine *e, struct msg *m,
				    struct reply *r)
{
	struct wire_io_fds_req req, head;
	const struct region_ioev *ev;
	unsigned int n;

	memcpy(&req, m->payload, sizeof(req));
	if (req.flags != 0 || req.count != 0 ||
	    req.index >= engine_num_regions(e))
		return -EINVAL;
	n = region_ioeventfds(ctx_regions(e->ctx), req.index, &ev);
	head = (struct wire_io_fds_req){
		.argsz = (uint32_t)(sizeof(head) + n * sizeof(struct wire_io_fd_entry)),
		.index = req.index, .count = n,
	};
	r->len = sizeof(head);
	if (n > 0 && head.argsz <= req.argsz) {
		/* Every doorbell has its own fd; they and the entries must
		 * fit one message (our reply buffer is one message long). */
		if (n > e->peer_fds || head.argsz > r->cap)
			return -E2BIG;
		for (unsigned int i = 0; i < n; i++) {
			struct wire_io_fd_entry x = {
				.offset = ev[i].offset, .size = ev[i].size,
				.fd_index = i, .type = WIRE_IO_FD_IOEVENTFD,
				.flags = ev[i].datamatch ? WIRE_IOEVENTFD_DATAMATCH : 0,
				.datamatch = ev[i].data,
			};
			/* The client's own eventfd, never the device's. */
			int fd = doorbell_client_fd(&e->doorbells, ctx_loop(e->ctx),
						    req.index, i, ev[i].fd);

			if (fd < 0)
				return fd;
			memcpy(r->buf + sizeof(head) + i * sizeof(x), &x, sizeof(x));
			r->fds[r->nfds++] = fd;
		}
		r->len = head.argsz;
	}
	memcpy(r->buf, &head, sizeof(head));
	return 0;
}

int handle_device_get_irq_info(struct engine *e, struct msg *m,
			       struct reply *r)
{
	struct wire_irq_info req, info;
	uint32_t count, flags;
	int ret;

	memcpy(&req, m->payload, sizeof(req));
	if (req.index >= engine_num_irqs(e))
		return -EINVAL;
	ret = irq_get_info(ctx_irqs(e->ctx), req.index, &count, &flags);
	if (ret < 0)
		return ret;
	info = (struct wire_irq_info){ .argsz = sizeof(info), .flags = flags,
				       .index = req.index, .count = count };
	memcpy(r->buf, &info, sizeof(info));
	r->len = sizeof(info);
	return 0;
}
