/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_region: describing the device and its regions, and region access.
 * DEVICE_GET_INFO; GET_REGION_INFO with the argsz retry and a bounded,
 * bounds-checked walk of the capability chain; mmap of the sparse areas;
 * GET_REGION_IO_FDS; REGION_READ/WRITE split into transfers both sides
 * accept; DEVICE_RESET. Every reply is checked against what was asked
 * before a field of it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_priv.h"
#include "common.h"

/* How often a server may ask for a larger argsz before we give up. */
#define REGION_INFO_TRIES 3
/* No reply to a describing command may exceed a control message. */
#define INFO_MAX_ARGSZ WIRE_MAX_CONTROL_MSG
#define IO_FD_ENTRY ((uint32_t)sizeof(struct wire_io_fd_entry))

VUS_EXPORT int vus_client_device_info(vus_client *c,
				      struct vus_client_device_info *out)
{
	struct wire_device_info info = { .argsz = sizeof(info) };
	struct vus_client_device_info di;
	int ret;

	if (c == NULL || sized_out_check(out, sizeof(di)) < 0)
		return -EINVAL;
	ret = client_call_fixed(c, WIRE_CMD_DEVICE_GET_INFO, &info, sizeof(info));
	if (ret < 0)
		return ret;
	di = (struct vus_client_device_info){ .flags = info.flags,
		.num_regions = info.num_regions, .num_irqs = info.num_irqs };
	copy_sized_out(out, &di, sizeof(di));
	return 0;
}

static int cap_sparse(const uint8_t *p, uint32_t off, uint32_t limit,
		      struct vus_client_region_info *out)
{
	struct wire_cap_sparse_mmap cap;

	if (!range_ok(off, sizeof(cap), limit))
		return -EPROTO;
	memcpy(&cap, p + off, sizeof(cap));
	if (cap.nr_areas > VUS_CLIENT_MAX_AREAS)
		return -E2BIG;
	if (!range_ok(off + sizeof(cap),
		      (uint64_t)cap.nr_areas * sizeof(struct wire_sparse_area),
		      limit))
		return -EPROTO;
	out->nr_areas = 0;
	for (uint32_t i = 0; i < cap.nr_areas; i++) {
		struct wire_sparse_area a;

		memcpy(&a, p + off + sizeof(cap) + i * sizeof(a), sizeof(a));
		if (!range_ok(a.offset, a.size, out->size))
			return -EPROTO;
		if (a.size == 0)
			continue; /* nothing to map, as QEMU reads it */
		out->areas[out->nr_areas++] =
			(struct vus_client_area){ .offset = a.offset, .size = a.size };
	}
	return 0;
}

static int cap_type(const uint8_t *p, uint32_t off, uint32_t limit,
		    struct vus_client_region_info *out)
{
	struct wire_cap_type cap;

	if (!range_ok(off, sizeof(cap), limit))
		return -EPROTO;
	memcpy(&cap, p + off, sizeof(cap));
	out->has_type = true;
	out->type = cap.type;
	out->subtype = cap.subtype;
	return 0;
}

/*
 * Walk the capability chain in @p[0..limit). Every header must lie inside
 * the reply, after the fixed part; the walk is bounded by the number of
 * headers that fit, so a chain that loops ends as -EPROTO.
 */
static int walk_caps(const uint8_t *p, uint32_t limit, uint32_t first,
		     struct vus_client_region_info *out, bool *sparse)
{
	const uint32_t max_steps = limit / sizeof(struct wire_cap_hdr);
	uint32_t off = first, steps = 0;
	int ret = 0;

	if (off == 0)
		return -EPROTO; /* CAPS without a chain */
	while (off != 0 && ret == 0) {
		struct wire_cap_hdr h;

		if (++steps > max_steps || off < sizeof(struct wire_region_info) ||
		    !range_ok(off, sizeof(h), limit))
			return -EPROTO;
		memcpy(&h, p + off, sizeof(h));
		if (h.id == WIRE_REGION_CAP_SPARSE_MMAP) {
			if (*sparse)
				return -EPROTO; /* which one would count? */
			*sparse = true;
			ret = cap_sparse(p, off, limit, out);
		} else if (h.id == WIRE_REGION_CAP_TYPE) {
			ret = cap_type(p, off, limit, out);
		}
		/* Other capabilities (MSIX_MAPPABLE, ...) are skipped. */
		off = h.next;
	}
	return ret;
}

/* Fill @out from a complete reply of @limit usable bytes. */
static int region_parse(const uint8_t *p, uint32_t limit,
			const struct wire_region_info *info,
			struct vus_client_region_info *out)
{
	const uint32_t known = WIRE_REGION_READ | WIRE_REGION_WRITE |
			       WIRE_REGION_MMAP;
	bool sparse = false;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->index = info->index;
	out->flags = info->flags & known;
	out->size = info->size;
	out->offset = info->offset;
	if (info->flags & WIRE_REGION_CAPS)
		ret = walk_caps(p, limit, info->cap_offset, out, &sparse);
	if (ret < 0)
		return ret;
	if (!(out->flags & WIRE_REGION_MMAP))
		out->nr_areas = 0; /* areas mean nothing without MMAP */
	else if (!sparse && out->size > 0)
		out->areas[out->nr_areas++] =
			(struct vus_client_area){ .offset = 0, .size = out->size };
	return 0;
}

/* One GET_REGION_INFO with @argsz; *need is the argsz the server wants. */
static int region_info_once(vus_client *c, uint32_t index, uint32_t argsz,
			    uint32_t *need, struct vus_client_region_info *out)
{
	struct wire_region_info req = { .argsz = argsz, .index = index }, info;
	struct client_req rq = {
		.cmd = WIRE_CMD_DEVICE_GET_REGION_INFO, .iovcnt = 1,
		.iov = { { .iov_base = &req, .iov_len = sizeof(req) } },
	};
	struct msg m;
	int ret;

	/* At most one fd: the region's, for mmap (as QEMU accepts). */
	ret = client_call_checked(c, &rq, sizeof(info), argsz, 1, &m);
	if (ret < 0)
		return ret;
	memcpy(&info, m.payload, sizeof(info));
	*need = info.argsz;
	if (info.index != index || info.argsz < sizeof(info))
		ret = -EPROTO;
	else if (info.argsz <= argsz)
		ret = region_parse(m.payload, MIN(m.len, info.argsz), &info, out);
	/* Keep the fd only when it is complete and meant for mmap. */
	if (ret == 0 && info.argsz <= argsz && (out->flags & WIRE_REGION_MMAP))
		out->fd = msg_take_fd(&m, 0);
	msg_release(&m);
	return ret;
}

/* Hand @ri to the caller; an older struct without room for the fd closes it. */
static int region_info_out(struct vus_client_region_info *out,
			   struct vus_client_region_info *ri)
{
	size_t n;

	memcpy(&n, out, sizeof(n));
	if (n < offsetof(struct vus_client_region_info, fd) + sizeof(ri->fd))
		close_fd(&ri->fd);
	copy_sized_out(out, ri, sizeof(*ri));
	return 0;
}

VUS_EXPORT int vus_client_region_info(vus_client *c, uint32_t index,
				      struct vus_client_region_info *out)
{
	/* Ask for the fixed part first, as QEMU does, then what it needs. */
	uint32_t argsz = sizeof(struct wire_region_info), need = 0;
	struct vus_client_region_info ri;

	if (c == NULL || sized_out_check(out, sizeof(ri)) < 0)
		return -EINVAL;
	for (int i = 0; i < REGION_INFO_TRIES; i++) {
		int ret = region_info_once(c, index, argsz, &need, &ri);

		if (ret < 0)
			return ret;
		if (need <= argsz)
			return region_info_out(out, &ri);
		if (need > INFO_MAX_ARGSZ)
			return -EPROTO;
		argsz = need;
	}
	/* The server keeps asking for more: it is not converging. */
	return -EPROTO;
}

static int mmap_area_check(const struct vus_client_region_info *ri,
			   const struct vus_client_area *a, uint64_t page)
{
	if (!range_ok(a->offset, a->size, ri->size))
		return -EINVAL;
	if (a->offset % page || a->size % page)
		return -EINVAL;
	if (ri->offset > (uint64_t)INT64_MAX - a->offset ||
	    (ri->offset + a->offset) % page)
		return -EINVAL;
	return 0;
}

VUS_EXPORT int vus_client_region_mmap(const struct vus_client_region_info *desc,
				      void **base)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), len;
	struct vus_client_region_info rc;
	const struct vus_client_region_info *ri = &rc;
	int prot = 0;
	uint8_t *res;

	/* What vus_client_region_info() filled; a struct without the fd
	 * field has nothing to map. */
	if (desc == NULL || base == NULL ||
	    copy_sized(&rc, sizeof(rc), desc) < 0 ||
	    desc->struct_size < offsetof(struct vus_client_region_info, fd) +
				sizeof(rc.fd) ||
	    !(ri->flags & VUS_CLIENT_REGION_MMAP))
		return -EINVAL;
	if (ri->fd < 0)
		return -EBADF;
	if (ri->size == 0 || ri->size > SIZE_MAX - page ||
	    ri->nr_areas == 0 || ri->nr_areas > VUS_CLIENT_MAX_AREAS)
		return -EINVAL;
	len = (ri->size + page - 1) & ~(page - 1);
	prot |= (ri->flags & VUS_CLIENT_REGION_READ) ? PROT_READ : 0;
	prot |= (ri->flags & VUS_CLIENT_REGION_WRITE) ? PROT_WRITE : 0;
	/* Reserve the whole region, then lay the areas over it. */
	res = mmap(NULL, (size_t)len, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	for (uint32_t i = 0; i < ri->nr_areas; i++) {
		const struct vus_client_area *a = &ri->areas[i];
		int ret = mmap_area_check(ri, a, page);

		if (ret == 0 && a->size > 0 &&
		    mmap(res + a->offset, (size_t)a->size, prot,
			 MAP_SHARED | MAP_FIXED, ri->fd,
			 (off_t)(ri->offset + a->offset)) == MAP_FAILED)
			ret = -errno;
		if (ret < 0) {
			munmap(res, (size_t)len);
			return ret;
		}
	}
	*base = res;
	return 0;
}

/* Check a REGION_READ/WRITE reply head against the request. */
static int access_reply_check(const struct msg *m, uint32_t index,
			      uint64_t offset, uint32_t n, bool write)
{
	struct wire_region_access r;

	if (m->len < sizeof(r))
		return -EPROTO;
	memcpy(&r, m->payload, sizeof(r));
	if (r.region != index || r.offset != offset || r.count > n)
		return -EPROTO;
	if (m->len != sizeof(r) + (write ? 0 : r.count))
		return -EPROTO;
	/* Short transfers are legal, but the caller asked for all of it. */
	return r.count < n ? -EIO : 0;
}

/* One REGION_READ or REGION_WRITE of @n bytes (n <= the transfer limit). */
static int access_once(vus_client *c, uint32_t index, uint64_t offset,
		       void *buf, uint32_t n, bool write, bool posted)
{
	struct wire_region_access a = { .offset = offset, .region = index,
					.count = n };
	struct client_req rq = {
		.cmd = write ? WIRE_CMD_REGION_WRITE : WIRE_CMD_REGION_READ,
		.flags = posted ? WIRE_F_NO_REPLY : 0,
		.iovcnt = write ? 2 : 1,
		.iov = { { .iov_base = &a, .iov_len = sizeof(a) },
			 { .iov_base = buf, .iov_len = n } },
	};
	struct msg m;
	int ret;

	if (posted)
		return client_call(c, &rq, NULL);
	ret = client_call_checked(c, &rq, 0, sizeof(a) + (write ? 0 : n), 0, &m);
	if (ret < 0)
		return ret;
	/* Some servers answer a write with the bare header. */
	if (!(write && m.len == 0))
		ret = access_reply_check(&m, index, offset, n, write);
	if (ret == 0 && !write)
		memcpy(buf, m.payload + sizeof(a), n);
	msg_release(&m);
	return ret;
}

static int region_xfer(vus_client *c, uint32_t index, uint64_t offset,
		       uint8_t *buf, size_t len, bool write, bool posted)
{
	uint32_t chunk;

	if (c == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (!span_ok(offset, len))
		return -EINVAL;
	/* Reads come back to us: our receive limit bounds them too. */
	chunk = write ? c->srv.max_xfer : MIN(c->srv.max_xfer, c->max_xfer);
	while (len > 0) {
		uint32_t n = (uint32_t)MIN(len, (size_t)chunk);
		int ret = access_once(c, index, offset, buf, n, write, posted);

		if (ret < 0)
			return ret;
		offset += n;
		buf += n;
		len -= n;
	}
	return 0;
}

VUS_EXPORT int vus_client_region_read(vus_client *c, uint32_t index,
				      uint64_t offset, void *buf, size_t len)
{
	return region_xfer(c, index, offset, buf, len, false, false);
}

VUS_EXPORT int vus_client_region_write(vus_client *c, uint32_t index,
				       uint64_t offset, const void *buf,
				       size_t len)
{
	return region_xfer(c, index, offset, (uint8_t *)buf, len, true, false);
}

VUS_EXPORT int vus_client_region_write_posted(vus_client *c, uint32_t index,
					      uint64_t offset, const void *buf,
					      size_t len)
{
	return region_xfer(c, index, offset, (uint8_t *)buf, len, true, true);
}

/* Check one doorbell entry against the region and the fds that came. */
static int io_entry_check(const struct wire_io_fd_entry *e, uint64_t rsize,
			  unsigned int nfds)
{
	if (e->type != WIRE_IO_FD_IOEVENTFD || e->fd_index >= nfds)
		return -EPROTO;
	if (e->size != 0 && e->size != 1 && e->size != 2 && e->size != 4 &&
	    e->size != 8)
		return -EPROTO;
	/* Size 0 matches any access: the offset alone must be inside. */
	if (e->size == 0 ? e->offset >= rsize : !range_ok(e->offset, e->size, rsize))
		return -EPROTO;
	return 0;
}

/*
 * Fill @out with the first min(@n, @max) entries of a complete reply,
 * each with its own fd (entries may share one on the wire, so every
 * caller entry gets a dup; the message's originals close with it).
 */
static int io_fds_fill(const struct msg *m, uint32_t n, uint64_t rsize,
		       struct vus_client_ioeventfd *out, unsigned int max)
{
	unsigned int k = MIN(n, max), i;
	int ret = 0;

	for (i = 0; i < k; i++) {
		struct wire_io_fd_entry e;

		memcpy(&e, m->payload + sizeof(struct wire_io_fds_req) +
		       i * IO_FD_ENTRY, sizeof(e));
		ret = io_entry_check(&e, rsize, m->nfds);
		if (ret < 0)
			break;
		out[i] = (struct vus_client_ioeventfd){
			.offset = e.offset, .size = e.size,
			.datamatch = e.flags & WIRE_IOEVENTFD_DATAMATCH,
			.data = e.datamatch,
			.fd = fcntl(m->fds[e.fd_index], F_DUPFD_CLOEXEC, 0),
		};
		if (out[i].fd < 0) {
			ret = -errno;
			break;
		}
	}
	if (ret < 0)
		while (i-- > 0)
			close_fd(&out[i].fd);
	return ret;
}

/* One GET_REGION_IO_FDS asking for @want entries. */
static int io_fds_once(vus_client *c, uint32_t index, uint32_t want,
		       uint32_t *count, struct msg *m)
{
	struct wire_io_fds_req req = { .argsz = 16 + want * IO_FD_ENTRY,
				       .index = index }, head;
	struct client_req rq = {
		.cmd = WIRE_CMD_DEVICE_GET_REGION_IO_FDS, .iovcnt = 1,
		.iov = { { .iov_base = &req, .iov_len = sizeof(req) } },
	};
	int ret = client_call_checked(c, &rq, sizeof(head), req.argsz,
				      c->max_fds, m);

	if (ret < 0)
		return ret;
	memcpy(&head, m->payload, sizeof(head));
	*count = head.count;
	if (head.index != index)
		ret = -EPROTO;
	/* Entries come all or none; with them, the spec's 40-byte stride. */
	else if (m->len > sizeof(head) &&
		 (head.argsz != 16 + (uint64_t)head.count * IO_FD_ENTRY ||
		  m->len != head.argsz || m->nfds == 0))
		ret = -EPROTO;
	if (ret < 0)
		msg_release(m);
	return ret;
}

VUS_EXPORT int vus_client_region_io_fds(vus_client *c, uint32_t index,
					struct vus_client_ioeventfd *out,
					unsigned int max)
{
	const uint32_t fit = (INFO_MAX_ARGSZ - 16) / IO_FD_ENTRY;
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	uint32_t n = 0, again = 0;
	struct msg m;
	int ret;

	if (c == NULL || (out == NULL && max > 0))
		return -EINVAL;
	/* Doorbells must lie inside their region: learn its size first (a
	 * reply is only valid until the next request). */
	if (max > 0) {
		ret = vus_client_region_info(c, index, &ri);
		if (ret < 0)
			return ret;
		close_fd(&ri.fd);
	}
	ret = io_fds_once(c, index, MIN(max, fit), &n, &m);
	if (ret < 0)
		return ret;
	if (max == 0 || n == 0) {
		msg_release(&m);
		return (int)n;
	}
	if (m.len == sizeof(struct wire_io_fds_req)) {
		/* Fewer wanted than there are: the server sends all or
		 * nothing, so fetch them all and keep what was asked for. */
		msg_release(&m);
		if (n > fit)
			return -E2BIG;
		ret = io_fds_once(c, index, n, &again, &m);
		if (ret < 0)
			return ret;
		if (again != n || m.len == sizeof(struct wire_io_fds_req)) {
			msg_release(&m);
			return -EPROTO;
		}
	}
	ret = io_fds_fill(&m, n, ri.size, out, max);
	msg_release(&m);
	return ret < 0 ? ret : (int)n;
}

VUS_EXPORT int vus_client_reset(vus_client *c)
{
	struct client_req rq = { .cmd = WIRE_CMD_DEVICE_RESET };
	struct msg m;
	int ret;

	if (c == NULL)
		return -EINVAL;
	ret = client_call_checked(c, &rq, 0, 0, 0, &m);
	if (ret == 0)
		msg_release(&m);
	return ret;
}
