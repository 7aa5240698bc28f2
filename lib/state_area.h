/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * state_area (internal): state that outlives the process, in a sealed
 * memfd the fd store keeps, consistent after a crash at any instruction.
 *
 * Layout, fixed when the area is opened: blocks, each an array of
 * elements of one capacity. Every element has two slots; a write goes to
 * the slot that does not hold the newest committed copy (or to the one
 * already written in this epoch), so a write cut short never damages the
 * copy recovery needs. A slot carries the epoch it was written in, its
 * length and a CRC32C (of its place, epoch, length and bytes). A commit
 * makes every write since the previous commit visible at once: it writes
 * the new epoch to one of two commit records (alternating, each with its
 * CRC). Recovery takes the newest valid commit record C and, for each
 * element, the slot with the newest epoch not after C; that slot must
 * verify, else the area is refused. Slots written after C (the epoch the
 * dead process never committed) are wiped before anything new is written.
 *
 * Epochs are 64-bit and compared as serial numbers (a - b as signed), so
 * the wrap from 2^64 - 1 to 1 is ordinary; 0 means "never written".
 *
 * Threads: one writer, the context thread. Not thread-safe.
 */
#ifndef VUS_STATE_AREA_H
#define VUS_STATE_AREA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SA_NAME_MAX 79u              /* block names */
#define SA_IDENTITY_MAX 127u         /* what the area belongs to */
#define SA_MAX_BLOCKS 256u
#define SA_MAX_ELEMS 65536u          /* per block */
#define SA_ELEM_MAX (64u << 20)      /* one element's capacity */
#define SA_AREA_MAX (1ull << 34)     /* the whole area (sparse) */

struct state_area;

/**
 * An area description for @identity (e.g. the device's migration identity
 * and compatibility version): an area of another identity is refused.
 * -EINVAL (empty or too long), -ENOMEM.
 */
int sa_create(const char *identity, struct state_area **out);

/** Unmap and close. NULL is ignored. */
void sa_destroy(struct state_area *sa);

/**
 * Add a block of @count elements of up to @elem_size bytes (before
 * opening). Returns the block's id (>= 0), -EINVAL (bad name, 0 or too
 * many elements, too large), -EEXIST (name taken), -E2BIG (the area would
 * pass SA_AREA_MAX), -EBUSY (opened), -ENOMEM.
 */
int sa_add_block(struct state_area *sa, const char *name, uint32_t version,
		 uint32_t elem_size, uint32_t count);

/** A fresh area in a new sealed memfd, nothing written. 0 or -errno. */
int sa_open_new(struct state_area *sa);

/**
 * Adopt the area a previous process left in @fd (taken; closed on error):
 * checks it is a memfd sealed as ours of the right size, its header,
 * identity and layout, the commit records and every element's newest
 * committed copy, then wipes slots written after the commit. On error a
 * reason fit for a log line is in @why. -EINVAL (not a memfd of ours:
 * wrong kind or size), -EPROTO (another identity, format or layout),
 * -EBADMSG (a broken header, no valid commit record, or a committed copy
 * whose checksum fails), -errno of fstat/mmap.
 */
int sa_open_fd(struct state_area *sa, int fd, char *why, size_t why_len);

/** The area's memfd (owned by the area), or -1 before opening. */
int sa_fd(const struct state_area *sa);

/** Block id by name, or -ENOENT. */
int sa_block(const struct state_area *sa, const char *name);

/**
 * The newest committed copy of an element: *data points into the area
 * (valid until the element is next written) and *len is its length; 0
 * with *len 0 when it was never written. -EINVAL for a bad block or
 * element.
 */
int sa_get(struct state_area *sa, unsigned int block, uint32_t elem,
	   const void **data, uint32_t *len);

/**
 * Write an element in two steps: begin returns the slot's buffer (the
 * element's capacity; NULL for a bad block or element); end records @len
 * bytes of it. Nothing is visible to recovery before sa_commit(). -EINVAL
 * (@len past the capacity, or no begin).
 */
void *sa_write_begin(struct state_area *sa, unsigned int block, uint32_t elem);
int sa_write_end(struct state_area *sa, unsigned int block, uint32_t elem,
		 uint32_t len);

/** Begin, copy @len bytes from @data, end. */
int sa_write(struct state_area *sa, unsigned int block, uint32_t elem,
	     const void *data, uint32_t len);

/** The element's capacity, or 0 for a bad block. */
uint32_t sa_elem_size(const struct state_area *sa, unsigned int block);

/** Make every write since the last commit the committed state. */
void sa_commit(struct state_area *sa);

/** The last committed epoch (0: none yet). */
uint64_t sa_epoch(const struct state_area *sa);

/**
 * One 64-bit word in the area outside the commit scheme, for progress
 * that must be recorded at once and on its own (a message's reply sent):
 * each store is whole, the last one wins, nothing checks it. 0 in a new
 * area.
 */
void sa_set_mark(struct state_area *sa, uint64_t v);
uint64_t sa_get_mark(struct state_area *sa);

/** Tests only: continue from epoch @e (e.g. just before the wrap). */
void sa_set_epoch(struct state_area *sa, uint64_t e);

#endif /* VUS_STATE_AREA_H */
