/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * interval: lookups in a sorted array of non-overlapping byte ranges, each
 * held as two uint64_t fields (first byte, last byte: inclusive, so a
 * range may end at 2^64) of any element type. The server's DMA table
 * (lib/dma.c) and the client's mappings (client/client_dma.c) both use it.
 *
 * Loads are relaxed atomics: the server's device threads read while the
 * context thread changes the array under a sequence count, and a torn
 * 64-bit read must not happen even in a try that is thrown away. For a
 * single-threaded user they are plain loads. Inline, so that each table
 * gets code for its own element layout (the server's is a hot path).
 */
#ifndef VUS_INTERVAL_H
#define VUS_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the ranges sit in the elements. */
struct interval_layout {
	size_t stride; /* sizeof an element */
	size_t first;  /* offsetof its first byte */
	size_t last;   /* offsetof its last byte */
};

#define INTERVAL_LAYOUT(type, first_field, last_field)                 \
	((struct interval_layout){ sizeof(type),                       \
				   offsetof(type, first_field),        \
				   offsetof(type, last_field) })

static inline uint64_t interval_load(const void *base, uint32_t i,
				     size_t stride, size_t off)
{
	const char *p = (const char *)base + (size_t)i * stride + off;

	return __atomic_load_n((const uint64_t *)(const void *)p,
			       __ATOMIC_RELAXED);
}

/*
 * Index of the first of @n ranges whose last byte is >= @addr (@n if
 * none): where @addr is, or where a range starting at it goes. Branch
 * free: the step compiles to a conditional move, so random lookups do not
 * pay for mispredicted branches.
 */
static inline uint32_t interval_lower_bound(const void *base, uint32_t n,
					    struct interval_layout l,
					    uint64_t addr)
{
	uint32_t lo = 0;

	if (n == 0)
		return 0;
	while (n > 1) {
		uint32_t half = n / 2;

		lo = interval_load(base, lo + half - 1, l.stride, l.last) < addr
		     ? lo + half : lo;
		n -= half;
	}
	return lo + (interval_load(base, lo, l.stride, l.last) < addr);
}

/* Index of the range holding @addr, or @n if none does. */
static inline uint32_t interval_find(const void *base, uint32_t n,
				     struct interval_layout l, uint64_t addr)
{
	uint32_t i = interval_lower_bound(base, n, l, addr);

	return i < n && interval_load(base, i, l.stride, l.first) <= addr
	       ? i : n;
}

/* Whether [@first, @last] meets any of the @n ranges. */
static inline bool interval_overlaps(const void *base, uint32_t n,
				     struct interval_layout l, uint64_t first,
				     uint64_t last)
{
	uint32_t i = interval_lower_bound(base, n, l, first);

	return i < n && interval_load(base, i, l.stride, l.first) <= last;
}

#endif /* VUS_INTERVAL_H */
