/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_virtio_stream: the virtio-net-pci sample's migration stream as the
 * tests read and patch it (a stream of one record per section, as a save
 * of a stopped device writes it): where a section's data starts, and the
 * trailer's CRC32C made right again after a patch; a stream loaded.
 */
#ifndef TEST_VIRTIO_STREAM_H
#define TEST_VIRTIO_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "test_virtio_util.h"

/** Offset of section @name's data in stream @s (@len bytes); its length
 * in *@data_len. Fails the test if there is none. */
size_t tv_section_at(const uint8_t *s, size_t len, const char *name,
		     uint32_t *data_len);

/** Rewrite the trailer's CRC so that only the sections' checks can object. */
void tv_fix_crc(uint8_t *s, size_t len);

/** Load @len bytes of stream @s into @t's device: the load's result
 * (0 or -errno); the device is reset after. */
int tv_load_stream(struct tv *t, const uint8_t *s, size_t len);

/** Store @v little-endian at @p. */
void tv_put_le32(uint8_t *p, uint32_t v);

#endif /* TEST_VIRTIO_STREAM_H */
