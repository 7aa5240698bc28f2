/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_format: the facts of the migration stream format both sides need
 * (the writer and parser in migration/mig_stream.c, the client's check
 * before it sends a stream). All integers little-endian:
 *
 *   header  : magic "VUSMIG\0\1" (8) | format u32 (1) | compat u32 |
 *             identity length u16 | identity (printable ASCII, 1..255)
 *   records : kind u8 (1 = section data) | name length u8 | name |
 *             section version u32 | data length u32 | data
 *   end     : kind u8 (2) | CRC32C u32 of every byte before it
 */
#ifndef VUS_MIG_FORMAT_H
#define VUS_MIG_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define MIG_STREAM_MAGIC "VUSMIG\0\1"
#define MIG_STREAM_FORMAT 1u
#define MIG_REC_SECTION 1u
#define MIG_REC_END 2u
#define MIG_NAME_MAX 63u
#define MIG_IDENTITY_MAX 255u
/* magic, format, compat, identity length */
#define MIG_HEADER_FIXED (8u + 4u + 4u + 2u)
/* kind, name length; then name, version, data length */
#define MIG_RECORD_FIXED (1u + 1u + 4u + 4u)

/**
 * CRC32C (Castagnoli) of @len bytes, continuing from @crc (0 to start).
 * Uses the CPU's CRC32 instruction where there is one (crc32c.c).
 */
uint32_t mig_crc32c(uint32_t crc, const void *data, size_t len);
/** The same, always with the portable table (for tests). */
uint32_t mig_crc32c_table(uint32_t crc, const void *data, size_t len);

#endif /* VUS_MIG_FORMAT_H */
