/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_dma: the memory a client grants the server. DMA_MAP of memfd
 * memory (shared: the server mmaps it) or of the caller's memory without an
 * fd (the server reaches it with DMA_READ/DMA_WRITE messages, served here);
 * DMA_UNMAP of one mapping or of all.
 *
 * The server is not trusted with message DMA: every DMA_READ/DMA_WRITE is
 * checked for its length, its range (inside mappings, no wrap), the
 * mappings' permission and our transfer limit before a byte is copied, and
 * refused with an errno otherwise. Mappings are kept sorted by address in
 * an array searched by binary search.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_priv.h"
#include "common.h"
#include "interval.h"

#define DMA_PROT_ALL (VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE)

_Static_assert(VUS_CLIENT_DMA_READ == WIRE_DMA_READ &&
	       VUS_CLIENT_DMA_WRITE == WIRE_DMA_WRITE, "DMA flags");

#define MAP_LAYOUT INTERVAL_LAYOUT(struct client_map, addr, last)

/* Index of the first mapping whose last byte is >= @addr (may be n). */
static uint32_t lower_bound(const vus_client *c, uint64_t addr)
{
	return interval_lower_bound(c->maps, c->nr_maps, MAP_LAYOUT, addr);
}

static const struct client_map *find(const vus_client *c, uint64_t addr)
{
	uint32_t i = interval_find(c->maps, c->nr_maps, MAP_LAYOUT, addr);

	return i < c->nr_maps ? &c->maps[i] : NULL;
}

/* Whether a new mapping may be made: arguments, overlap, the server's limit. */
static int map_check(const vus_client *c, uint64_t addr, uint64_t size,
		     uint32_t prot)
{
	if (!span_ok(addr, size) || size > SIZE_MAX)
		return -EINVAL;
	if (prot == 0 || (prot & ~DMA_PROT_ALL))
		return -EINVAL;
	if (interval_overlaps(c->maps, c->nr_maps, MAP_LAYOUT, addr,
			      span_last(addr, size)))
		return -EEXIST;
	if (c->nr_maps >= c->srv.max_dma_maps)
		return -ENOSPC;
	return 0;
}

static int map_insert(vus_client *c, const struct client_map *m)
{
	uint32_t i = lower_bound(c, m->addr);

	if (c->nr_maps == c->cap_maps) {
		uint32_t cap = c->cap_maps ? c->cap_maps * 2 : 16;
		struct client_map *n = realloc(c->maps, (size_t)cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		c->maps = n;
		c->cap_maps = cap;
	}
	memmove(&c->maps[i + 1], &c->maps[i], (c->nr_maps - i) * sizeof(*m));
	c->maps[i] = *m;
	c->nr_maps++;
	return 0;
}

static void map_drop(vus_client *c, uint32_t i)
{
	struct client_map *m = &c->maps[i];

	if (m->map_len > 0)
		munmap(m->map, m->map_len);
	memmove(m, m + 1, (c->nr_maps - i - 1) * sizeof(*m));
	c->nr_maps--;
}

/* DMA_MAP for @m, with @fd (borrowed) at @offset, or none. */
static int send_map(vus_client *c, const struct client_map *m, int fd,
		    uint64_t offset)
{
	struct wire_dma_map mp = { .argsz = sizeof(mp), .flags = m->prot,
				   .offset = offset, .addr = m->addr,
				   .size = m->last - m->addr + 1 };
	struct client_req rq = {
		.cmd = WIRE_CMD_DMA_MAP, .iovcnt = 1,
		.iov = { { .iov_base = &mp, .iov_len = sizeof(mp) } },
		.fds = &fd, .nfds = fd >= 0 ? 1 : 0,
	};
	struct msg r;
	int ret = client_call_checked(c, &rq, 0, 0, 0, &r);

	if (ret == 0)
		msg_release(&r);
	return ret;
}

/*
 * Map [offset, +size) of @fd here: readable, and writable when the fd is.
 * -EACCES when @prot grants the device more than the fd allows, -EINVAL
 * for a range past a regular file's end (touching it would raise SIGBUS).
 */
static int map_local(int fd, uint64_t offset, uint64_t size, uint32_t prot,
		     struct client_map *m)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t lead = offset & (uint64_t)(page - 1);
	int acc = fcntl(fd, F_GETFL), mprot = PROT_READ;
	struct stat st;
	void *p;

	if (acc < 0 || fstat(fd, &st) < 0)
		return -errno;
	acc &= O_ACCMODE;
	if (acc == O_WRONLY || (acc == O_RDONLY && (prot & VUS_CLIENT_DMA_WRITE)))
		return -EACCES;
	if (acc == O_RDWR)
		mprot |= PROT_WRITE;
	if (offset > (uint64_t)INT64_MAX || size > SIZE_MAX - lead ||
	    (S_ISREG(st.st_mode) && (offset > (uint64_t)st.st_size ||
				     size > (uint64_t)st.st_size - offset)))
		return -EINVAL;
	p = mmap(NULL, (size_t)(lead + size), mprot, MAP_SHARED, fd,
		 (off_t)(offset - lead));
	if (p == MAP_FAILED)
		return -errno;
	m->map = p;
	m->map_len = (size_t)(lead + size);
	m->mem = (uint8_t *)p + lead;
	return 0;
}

/* Map @fd here, grant it and keep the mapping; *mem: our view of it. */
static int map_fd(vus_client *c, uint64_t addr, uint64_t size, uint32_t prot,
		  int fd, uint64_t offset, void **mem)
{
	struct client_map m = { .addr = addr, .prot = prot };
	int ret = map_local(fd, offset, size, prot, &m);

	if (ret < 0)
		return ret;
	m.last = span_last(addr, size);
	ret = send_map(c, &m, fd, offset);
	if (ret == 0)
		ret = map_insert(c, &m);
	if (ret < 0) {
		munmap(m.map, m.map_len);
		return ret;
	}
	if (mem != NULL)
		*mem = m.mem;
	return 0;
}

VUS_EXPORT int vus_client_dma_map_memfd(vus_client *c, uint64_t addr,
					uint64_t size, uint32_t prot,
					void **mem)
{
	int ret, fd = -1;

	if (c == NULL || mem == NULL)
		return -EINVAL;
	ret = map_check(c, addr, size, prot);
	if (ret == 0 && size > (uint64_t)INT64_MAX)
		ret = -EINVAL;
	if (ret == 0)
		ret = sealed_memfd("vus-client-dma", size, &fd);
	if (ret == 0)
		ret = map_fd(c, addr, size, prot, fd, 0, mem);
	close_fd(&fd); /* the server has its own copy; our mapping stays */
	return ret;
}

VUS_EXPORT int vus_client_dma_map_fd(vus_client *c, uint64_t addr,
				     uint64_t size, uint32_t prot, int fd,
				     uint64_t offset, void **mem)
{
	int ret;

	if (c == NULL)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	ret = map_check(c, addr, size, prot);
	return ret < 0 ? ret : map_fd(c, addr, size, prot, fd, offset, mem);
}

VUS_EXPORT int vus_client_dma_map_mem(vus_client *c, uint64_t addr,
				      uint64_t size, uint32_t prot, void *mem)
{
	struct client_map m = { .addr = addr, .prot = prot, .mem = mem };
	int ret;

	if (c == NULL || mem == NULL)
		return -EINVAL;
	ret = map_check(c, addr, size, prot);
	if (ret < 0)
		return ret;
	m.last = span_last(addr, size);
	/* Known before the server can ask for it, so DMA during the map
	 * reply cannot miss it; withdrawn again if the map fails. */
	ret = map_insert(c, &m);
	if (ret < 0)
		return ret;
	ret = send_map(c, &m, -1, 0);
	if (ret < 0)
		map_drop(c, lower_bound(c, addr));
	return ret;
}

static int send_unmap(vus_client *c, uint64_t addr, uint64_t size,
		      uint32_t flags)
{
	struct wire_dma_unmap u = { .argsz = sizeof(u), .flags = flags,
				    .addr = addr, .size = size };
	struct client_req rq = {
		.cmd = WIRE_CMD_DMA_UNMAP, .iovcnt = 1,
		.iov = { { .iov_base = &u, .iov_len = sizeof(u) } },
	};
	struct msg r;
	int ret;

	/* The reply echoes the entry, or (older servers) is empty. */
	ret = client_call_checked(c, &rq, 0, sizeof(u), 0, &r);
	if (ret < 0)
		return ret;
	if (r.len != 0 && r.len != sizeof(u))
		ret = -EPROTO;
	msg_release(&r);
	return ret;
}

VUS_EXPORT int vus_client_dma_unmap(vus_client *c, uint64_t addr,
				    uint64_t size)
{
	uint32_t i;
	int ret;

	if (c == NULL || !span_ok(addr, size))
		return -EINVAL;
	i = lower_bound(c, addr);
	/* Only a whole mapping of ours, as the spec asks. */
	if (i >= c->nr_maps || c->maps[i].addr != addr ||
	    c->maps[i].last != span_last(addr, size))
		return -ENOENT;
	/* The memory stays ours to serve until the server confirms. */
	ret = send_unmap(c, addr, size, 0);
	if (ret == 0)
		map_drop(c, lower_bound(c, addr));
	return ret;
}

VUS_EXPORT int vus_client_dma_unmap_dirty(vus_client *c, uint64_t addr,
					  uint64_t size, uint64_t page_size,
					  uint64_t *bitmap, size_t words)
{
	struct wire_dma_unmap u = { .flags = WIRE_DMA_UNMAP_GET_DIRTY_BITMAP,
				    .addr = addr, .size = size };
	struct wire_dma_unmap_bitmap b = { .pgsize = page_size };
	struct client_req rq = {
		.cmd = WIRE_CMD_DMA_UNMAP, .iovcnt = 2,
		.iov = { { .iov_base = &u, .iov_len = sizeof(u) },
			 { .iov_base = &b, .iov_len = sizeof(b) } },
	};
	uint64_t bytes;
	uint32_t i;
	struct msg r;
	int ret;

	if (c == NULL || bitmap == NULL || !span_ok(addr, size) ||
	    !is_pow2_u64(page_size) ||
	    dirty_bitmap_bytes(size, page_size, WIRE_MAX_DIRTY_BITMAP, &bytes) < 0 ||
	    words < bytes / 8)
		return -EINVAL;
	b.size = bytes;
	u.argsz = (uint32_t)(sizeof(u) + sizeof(b) + b.size);
	i = lower_bound(c, addr);
	if (i >= c->nr_maps || c->maps[i].addr != addr ||
	    c->maps[i].last != span_last(addr, size))
		return -ENOENT;
	ret = client_call_checked(c, &rq, u.argsz, u.argsz, 0, &r);
	if (ret < 0)
		return ret;
	memcpy(&b, r.payload + sizeof(u), sizeof(b));
	if (b.pgsize != page_size || b.size != bytes)
		ret = -EPROTO;
	else
		memcpy(bitmap, r.payload + sizeof(u) + sizeof(b), (size_t)b.size);
	msg_release(&r);
	if (ret == 0)
		map_drop(c, lower_bound(c, addr));
	return ret;
}

VUS_EXPORT int vus_client_dma_unmap_all(vus_client *c)
{
	int ret;

	if (c == NULL)
		return -EINVAL;
	ret = send_unmap(c, 0, 0, WIRE_DMA_UNMAP_ALL);
	if (ret == 0)
		client_dma_release(c);
	return ret;
}

void client_dma_release(vus_client *c)
{
	while (c->nr_maps > 0)
		map_drop(c, c->nr_maps - 1);
	free(c->maps);
	c->maps = NULL;
	c->cap_maps = 0;
}

/*
 * Check that [addr, addr + len) lies in mappings that all allow @prot:
 * 0, -EFAULT (a byte is not mapped, or the range wraps), -EACCES.
 */
static int dma_range_check(const vus_client *c, uint64_t addr, uint64_t len,
			   uint32_t prot)
{
	if (!span_ok(addr, len))
		return -EFAULT;
	while (len > 0) {
		const struct client_map *m = find(c, addr);
		uint64_t piece;

		if (m == NULL)
			return -EFAULT;
		if ((m->prot & prot) != prot)
			return -EACCES;
		piece = MIN(len - 1, m->last - addr) + 1;
		len -= piece;
		addr += piece; /* wraps to 0 only when len reached 0 */
	}
	return 0;
}

/* Copy between a checked range and @buf, piece by piece. */
static void dma_copy(const vus_client *c, uint64_t addr, uint8_t *buf,
		     uint64_t len, bool to_client)
{
	while (len > 0) {
		const struct client_map *m = find(c, addr);
		uint64_t piece = MIN(len - 1, m->last - addr) + 1;
		uint8_t *p = m->mem + (addr - m->addr);

		if (to_client)
			memcpy(p, buf, (size_t)piece);
		else
			memcpy(buf, p, (size_t)piece);
		len -= piece;
		addr += piece;
		buf += piece;
	}
}

/* Check a DMA request's shape; fills *a. Pure. */
static int dma_req_check(const vus_client *c, const struct msg *m,
			 struct wire_dma_access *a)
{
	bool write = m->hdr.cmd == WIRE_CMD_DMA_WRITE;

	if (m->reject == -EMSGSIZE)
		return -E2BIG;
	if (m->reject || m->nfds > 0)
		return -EINVAL; /* fds have no business here (closed) */
	if (m->len < sizeof(*a))
		return -EINVAL;
	memcpy(a, m->payload, sizeof(*a));
	if (a->count == 0)
		return -EINVAL;
	if (a->count > c->max_xfer)
		return -E2BIG; /* above what we announced */
	if (m->len != sizeof(*a) + (write ? a->count : 0))
		return -EINVAL;
	return dma_range_check(c, a->addr, a->count,
			       write ? VUS_CLIENT_DMA_WRITE : VUS_CLIENT_DMA_READ);
}

static void send_reply(vus_client *c, const struct msg *req, int err,
		       const struct iovec *iov, int iovcnt)
{
	struct wire_hdr h;
	size_t len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	wire_reply_hdr(&h, &req->hdr, (uint32_t)len, err);
	if (transport_send(c->t, &h, iov, err ? 0 : iovcnt, NULL, 0) < 0)
		(void)client_broken(c);
}

/* Serve one DMA_READ/DMA_WRITE; the reply is queued (flushed by callers). */
static int serve_dma(vus_client *c, const struct msg *m)
{
	bool write = m->hdr.cmd == WIRE_CMD_DMA_WRITE;
	struct wire_dma_access a;
	struct iovec iov[2];
	uint8_t *data = NULL;
	int ret = dma_req_check(c, m, &a);

	if (ret == 0 && write)
		dma_copy(c, a.addr, m->payload + sizeof(a), a.count, true);
	if (ret == 0 && !write) {
		data = malloc((size_t)a.count);
		if (data == NULL)
			ret = -ENOMEM;
		else
			dma_copy(c, a.addr, data, a.count, false);
	}
	if (m->hdr.flags & WIRE_F_NO_REPLY) {
		free(data);
		return ret;
	}
	/* Both replies echo addr and count; a read's carries the data. */
	iov[0] = (struct iovec){ .iov_base = &a, .iov_len = sizeof(a) };
	iov[1] = (struct iovec){ .iov_base = data,
				 .iov_len = write ? 0 : (size_t)a.count };
	send_reply(c, m, ret, iov, write ? 1 : 2);
	free(data);
	return ret;
}

void client_serve_request(vus_client *c, struct msg *m)
{
	uint16_t cmd = m->hdr.cmd;

	if (cmd == WIRE_CMD_DMA_READ || cmd == WIRE_CMD_DMA_WRITE)
		(void)serve_dma(c, m);
	else if (!(m->hdr.flags & WIRE_F_NO_REPLY))
		send_reply(c, m, -ENOSYS, NULL, 0); /* as QEMU answers */
	msg_release(m);
}
