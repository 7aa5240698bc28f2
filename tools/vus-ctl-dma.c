/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl: memory for a DMA device, as a VMM grants guest RAM. dma-map
 * creates a memfd (or opens a file), maps it here and grants it to the
 * server (DMA_MAP with the fd); dma-fill and dma-dump work on it from our
 * side, so with ','
 * chaining a DMA engine can be driven and checked from the shell. The
 * grants end with the connection. GPL-2.0-or-later as the rest of vus-ctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vus-ctl.h"

/* The mapping holding all of [iova, +len), or NULL. */
static struct ctl_dma *find(struct ctl *x, uint64_t iova, uint64_t len)
{
	for (unsigned int i = 0; i < x->nr_dma; i++) {
		struct ctl_dma *d = &x->dma[i];

		if (iova >= d->iova && iova - d->iova <= d->size &&
		    len <= d->size - (iova - d->iova))
			return d;
	}
	return NULL;
}

static int range(struct ctl *x, char **argv, struct ctl_dma **d,
		 uint64_t *iova, uint64_t *len)
{
	if (ctl_parse_u64(argv[0], UINT64_MAX, "IOVA", iova) ||
	    ctl_parse_u64(argv[1], UINT64_MAX - *iova, "length", len))
		return 1;
	*d = find(x, *iova, *len);
	if (*d == NULL)
		return ctl_error("0x%" PRIx64 "+0x%" PRIx64 " is not inside "
				 "memory this run mapped (dma-map)", *iova, *len);
	return 0;
}

/* FILE for reading and writing, or for reading only: the device may
 * then only read it (DMA_MAP without WRITE). */
static int map_file(struct ctl *x, uint64_t iova, uint64_t size,
		    const char *file, struct ctl_dma *d)
{
	uint32_t prot = VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE;
	void *mem = NULL;
	int fd, ret;

	fd = open(file, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EROFS)) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		prot = VUS_CLIENT_DMA_READ;
		d->read_only = true;
	}
	if (fd < 0)
		return ctl_fail(-errno, "dma-map: %s", file);
	ret = vus_client_dma_map_fd(x->c, iova, size, prot, fd, 0, &mem);
	close(fd); /* the server and our mapping keep what they need */
	if (ret == -EINVAL)
		return ctl_fail(ret, "DMA_MAP 0x%" PRIx64 "+0x%" PRIx64 " of %s "
				"(longer than the file?)", iova, size, file);
	if (ret < 0)
		return ctl_fail(ret, "DMA_MAP 0x%" PRIx64 "+0x%" PRIx64 " of %s",
				iova, size, file);
	d->mem = mem;
	return 0;
}

/* dma-map IOVA SIZE [FILE] */
int ctl_dma_map(struct ctl *x, char **argv)
{
	struct ctl_dma d = { 0 };
	void *mem;
	int ret;

	if (ctl_parse_u64(argv[0], UINT64_MAX, "IOVA", &d.iova) ||
	    ctl_parse_u64(argv[1], UINT64_MAX, "size", &d.size))
		return 1;
	if (x->nr_dma == CTL_MAX_DMA)
		return ctl_error("dma-map: at most %u mappings", CTL_MAX_DMA);
	if (argv[2] != NULL) {
		ret = map_file(x, d.iova, d.size, argv[2], &d);
		if (ret)
			return ret;
	} else {
		ret = vus_client_dma_map_memfd(x->c, d.iova, d.size,
					       VUS_CLIENT_DMA_READ |
					       VUS_CLIENT_DMA_WRITE, &mem);
		if (ret < 0)
			return ctl_fail(ret, "DMA_MAP 0x%" PRIx64 "+0x%" PRIx64,
					d.iova, d.size);
		d.mem = mem;
	}
	x->dma[x->nr_dma++] = d;
	return 0;
}

int ctl_dma_fill(struct ctl *x, char **argv)
{
	struct ctl_dma *d;
	uint64_t iova, len, byte;

	if (range(x, argv, &d, &iova, &len) ||
	    ctl_parse_u64(argv[2], 0xff, "byte", &byte))
		return 1;
	if (d->read_only)
		return ctl_error("dma-fill: 0x%" PRIx64 " is in a file opened "
				 "read-only", iova);
	memset(d->mem + (iova - d->iova), (int)byte, (size_t)len);
	return 0;
}

int ctl_dma_dump(struct ctl *x, char **argv)
{
	struct ctl_dma *d;
	uint64_t iova, len;

	if (range(x, argv, &d, &iova, &len))
		return 1;
	for (uint64_t i = 0; i < len; i += 16)
		ctl_dump_line(iova + i, d->mem + (iova - d->iova) + i,
			      len - i < 16 ? (size_t)(len - i) : 16);
	return 0;
}
