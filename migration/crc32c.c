/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc32c: the migration stream's integrity check. Every byte of every
 * stream passes through it twice (source and destination), so it must
 * keep up with memcpy: x86-64 CPUs with SSE4.2 have an instruction for
 * exactly this polynomial (8 bytes per step); elsewhere a table does it
 * a byte at a time.
 */
#include <pthread.h>
#include <string.h>

#include "mig_stream.h"

/* CRC32C with the reflected Castagnoli polynomial. */
static uint32_t crc_table[256];

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
		crc_table[i] = c;
	}
}

static uint32_t table_run(uint32_t crc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
#define HAVE_HW 1
__attribute__((target("sse4.2")))
static uint32_t hw_run(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	for (; len > 0 && ((uintptr_t)p & 7); len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len > 0; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#else
#define HAVE_HW 0
#endif

static bool use_hw;

static void init(void)
{
	table_init();
#if HAVE_HW
	__builtin_cpu_init();
	use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

uint32_t mig_crc32c_table(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&once, init);
	return ~table_run(~crc, data, len);
}

uint32_t mig_crc32c(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&once, init);
#if HAVE_HW
	if (use_hw)
		return ~hw_run(~crc, data, len);
#endif
	return ~table_run(~crc, data, len);
}
