/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crc32c: the migration stream's integrity check (in the core: the
 * client checks a stream before it sends it). Every byte of every
 * stream passes through it twice (source and destination), so it must
 * keep up with memcpy: x86-64 CPUs with SSE4.2 have an instruction for
 * exactly this polynomial (8 bytes per step); elsewhere a table does it
 * a byte at a time.
 *
 * One chain of that instruction waits for each step's result (3 cycles),
 * so long buffers run three chains over three adjacent blocks at once and
 * join them: the CRC register is linear, and running it over n zero bytes
 * multiplies it by x^(8n) modulo the polynomial, so
 * crc(A|B|C) = crc(A)*x^(16 BLK) ^ crc(B)*x^(8 BLK) ^ crc(C).
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "mig_format.h"

/* CRC32C with the reflected Castagnoli polynomial. */
#define POLY 0x82f63b78u
static uint32_t crc_table[256];

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
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
/*
 * a * b modulo the polynomial, both reflected (bit 31 is x^0). b is
 * multiplied by x once per bit of a.
 */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (uint32_t m = 0x80000000u; m != 0; m >>= 1) {
		if (a & m)
			p ^= b;
		b = (b >> 1) ^ (POLY & (0u - (b & 1u)));
	}
	return p;
}

/* x^(8 n) modulo the polynomial: what n zero bytes multiply by. */
static uint32_t x_pow_bytes(size_t n)
{
	uint32_t p = 0x80000000u; /* x^0 */

	for (size_t i = 0; i < n; i++)
		p = gf_mul(p, 0x00800000u); /* x^8 */
	return p;
}

/* Bytes per chain in a three-chain step (24 KiB a step). */
#define BLK 8192u
static uint32_t x_blk, x_2blk;

static inline uint64_t word_at(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

__attribute__((target("sse4.2")))
static uint32_t hw_one(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	for (; len > 0 && ((uintptr_t)p & 7); len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	for (; len >= 8; len -= 8, p += 8)
		c = __builtin_ia32_crc32di(c, word_at(p));
	for (; len > 0; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

__attribute__((target("sse4.2")))
static uint32_t hw_run(uint32_t crc, const uint8_t *p, size_t len)
{
	for (; len >= 3 * BLK; len -= 3 * BLK, p += 3 * BLK) {
		uint64_t a = crc, b = 0, c = 0;

		for (size_t i = 0; i < BLK; i += 8) {
			a = __builtin_ia32_crc32di(a, word_at(p + i));
			b = __builtin_ia32_crc32di(b, word_at(p + BLK + i));
			c = __builtin_ia32_crc32di(c, word_at(p + 2 * BLK + i));
		}
		crc = gf_mul((uint32_t)a, x_2blk) ^ gf_mul((uint32_t)b, x_blk) ^
		      (uint32_t)c;
	}
	return hw_one(crc, p, len);
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
	x_blk = x_pow_bytes(BLK);
	x_2blk = gf_mul(x_blk, x_blk);
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
