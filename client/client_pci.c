/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_pci: walking a PCI device's capability lists through REGION_READ
 * of its config space (region 7). Every link is bounded: the walk ends
 * after as many capabilities as the space can hold, so a list that loops
 * or points outside the space is an error, not a hang.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "client_priv.h"
#include "common.h"

#define CFG_REGION 7u
#define CFG_STATUS 0x06u
#define CFG_STATUS_CAP_LIST 0x10u
#define CFG_CAP_PTR 0x34u
#define CONV_FIRST 0x40u  /* capabilities live above the header */
#define CONV_END 0x100u
#define EXT_FIRST 0x100u
#define EXT_END 0x1000u

static int cfg_read(vus_client *c, uint32_t off, void *v, size_t len)
{
	return vus_client_region_read(c, CFG_REGION, off, v, len);
}

/* Conventional list: byte id, byte next; 48 capabilities fit at most. */
static int find_conv(vus_client *c, uint8_t id, uint32_t after)
{
	uint8_t status = 0, hdr[2], ptr = 0;
	int ret = cfg_read(c, CFG_STATUS, &status, 1);

	if (ret == 0 && !(status & CFG_STATUS_CAP_LIST))
		return -ENOENT;
	ret = ret ? ret : cfg_read(c, after ? after + 1 : CFG_CAP_PTR, &ptr, 1);
	for (unsigned int n = 0; ret == 0 && (ptr & ~3u) != 0; n++) {
		uint32_t at = ptr & ~3u;

		if (at < CONV_FIRST || n >= (CONV_END - CONV_FIRST) / 4)
			return -ELOOP;
		ret = cfg_read(c, at, hdr, sizeof(hdr));
		if (ret == 0 && hdr[0] == id)
			return (int)at;
		ptr = hdr[1];
	}
	return ret ? ret : -ENOENT;
}

/* Extended list: u32 header, id in bits 0-15, next in bits 20-31. */
static int find_ext(vus_client *c, uint16_t id, uint32_t after)
{
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	uint32_t at = EXT_FIRST, h = 0;
	uint8_t b[4];
	int ret = vus_client_region_info(c, CFG_REGION, &ri);

	if (ret < 0)
		return ret;
	if (ri.fd >= 0)
		close_fd(&ri.fd);
	if (ri.size < EXT_END)
		return -ENOENT; /* conventional PCI: no extended space */
	if (after != 0) {
		ret = cfg_read(c, after, b, 4);
		at = ((uint32_t)le_get(b, 4) >> 20) & ~3u;
	}
	for (unsigned int n = 0; ret == 0 && at != 0; n++) {
		if (at < EXT_FIRST || n >= (EXT_END - EXT_FIRST) / 4)
			return -ELOOP;
		ret = cfg_read(c, at, b, 4);
		h = (uint32_t)le_get(b, 4);
		if (ret == 0 && (h == 0 || h == UINT32_MAX))
			return -ENOENT; /* an empty list */
		if (ret == 0 && (h & 0xffffu) == id)
			return (int)at;
		at = (h >> 20) & ~3u;
	}
	return ret ? ret : -ENOENT;
}

VUS_EXPORT int vus_client_pci_find_cap(vus_client *c, uint16_t id, bool ext,
				       uint32_t after)
{
	if (c == NULL || (!ext && id > 0xff))
		return -EINVAL;
	if (after != 0 && (ext ? after < EXT_FIRST || after >= EXT_END
			       : after < CONV_FIRST || after >= CONV_END))
		return -EINVAL;
	return ext ? find_ext(c, id, after) : find_conv(c, (uint8_t)id, after);
}
