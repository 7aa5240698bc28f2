/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_mem: memory for stream buffers and staged sections. Large blocks are their own
 * mappings: they grow with mremap (page tables move, no byte is copied),
 * go back to the system whole when freed, and ask for transparent huge
 * pages, since a fresh page costs a fault each (on a VM, many times a
 * memcpy of it) and a huge page takes 512 of them at once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "mig_stream.h"

/* From this size a block is a mapping of its own. */
#define MAP_MIN (1u << 20)

static size_t map_len(size_t n)
{
	return (n + PAGE_4K - 1) & ~(size_t)(PAGE_4K - 1);
}

static void *map_new(size_t len)
{
	void *p = mmap(NULL, map_len(len), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, map_len(len), MADV_HUGEPAGE); /* a hint only */
	return p;
}

void mig_mem_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	if (len >= MAP_MIN)
		(void)munmap(p, map_len(len));
	else
		free(p);
}

void *mig_mem_resize(void *p, size_t old, size_t len)
{
	void *n;

	if (p == NULL || old == 0) {
		mig_mem_free(p, old);
		return len >= MAP_MIN ? map_new(len) : malloc(MAX(len, (size_t)1));
	}
	if (old < MAP_MIN && len < MAP_MIN)
		return realloc(p, MAX(len, (size_t)1));
	if (old >= MAP_MIN && len >= MAP_MIN) {
		n = mremap(p, map_len(old), map_len(len), MREMAP_MAYMOVE);
		return n == MAP_FAILED ? NULL : n;
	}
	/* Across the threshold: a small block is copied once. */
	n = len >= MAP_MIN ? map_new(len) : malloc(MAX(len, (size_t)1));
	if (n == NULL)
		return NULL;
	memcpy(n, p, MIN(old, len));
	mig_mem_free(p, old);
	return n;
}
