/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_priv: the DMA table's layout and lock-free access helpers, shared by
 * dma.c (mappings, translation, copies) and dma_log.c (dirty logging)
 * only. See dma.c for how readers and the one writer cooperate.
 */
#ifndef VUS_DMA_PRIV_H
#define VUS_DMA_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dma_table.h"
#include "interval.h"

#define DMA_PROT_ALL (VUS_DMA_READ | VUS_DMA_WRITE)

struct dma_map {
	uint64_t addr;
	uint64_t last;   /* inclusive: a mapping may end at 2^64 */
	uint32_t prot;
	void *map;       /* our mmap, NULL for message-only mappings */
	size_t map_len;
	uint8_t *vaddr;  /* the byte at @addr */
	uint64_t *dirty; /* one bit per 4 KiB page while logging, else NULL */
	int32_t share;   /* @map is shares[share]'s, or -1: our own (or none) */
	/* Context thread only (a hand-over re-maps from them). */
	uint64_t offset; /* of @addr in the file */
	int32_t file;    /* index in files[], or -1: none kept (or no fd) */
};

/* Most files mapped whole at once (dma_share.c), and their address space. */
#define DMA_MAX_SHARES 256u
#define DMA_SHARE_MAX_VA (1ull << 44)

/* One mmap of a whole file that mappings of its ranges point into. */
struct dma_share {
	uint64_t dev;
	uint64_t ino;
	uint32_t prot;   /* VUS_DMA_*: a read-only grant maps read-only */
	void *map;
	size_t len;
	uint32_t refs;   /* mappings using it; 0: idle (@map set) or free */
	uint32_t repairs; /* the table's repairs when mapped (see find()) */
};

/*
 * A file the client's mappings come from, kept open once however many
 * mappings use it (QEMU maps guest RAM from a few memfds; a vIOMMU guest
 * maps thousands of small ranges of the same one). Identified by device,
 * inode and access mode (a read-only fd cannot back a writable mapping;
 * a read-write one backs any, so it serves the file's later grants).
 */
struct dma_file {
	uint64_t dev;
	uint64_t ino;
	int accmode;
	int fd;          /* -1: free slot */
	uint32_t refs;
};

/* Mappings per block of the table (dma_blocks.c). */
#define DMA_BLOCK 64u

/* A block of mappings, in the directory's address order. */
struct dma_dir {
	uint64_t last;   /* last byte of its last mapping */
	uint32_t blk;    /* its mappings are m[blk * DMA_BLOCK ...] */
	uint32_t cnt;    /* how many (0 only mid-change) */
};

/* Where a mapping is: block dir[d], its j-th. */
struct dma_pos {
	uint32_t d;
	uint32_t j;
};

struct dma_table {
	struct log *log;
	atomic_uint seq;   /* odd while the context thread changes m[] */
	uint32_t n;        /* accessed with LD/ST: readers race on it */
	uint32_t max;
	/* Blocks (dma_blocks.c); m and dir never move. */
	struct dma_map *m; /* the pool: @nblk blocks of DMA_BLOCK */
	size_t m_bytes;
	struct dma_dir *dir; /* @nd in use, in address order (LD/ST) */
	uint32_t nd;
	uint32_t nblk;
	uint32_t *free_blk; /* free blocks, @nfree of them (context thread) */
	uint32_t nfree;
	unsigned int nth_seq; /* dma_blocks_nth()'s last answer */
	uint32_t nth_i;
	struct dma_pos nth_pos;
	bool logging;      /* dirty logging is on (context thread) */
	uint64_t log_words; /* bitmap words held now (context thread) */
	dma_msg_fn *msg_fn;
	void *msg_opaque;
	bool messages_only; /* fds are not mapped (VUS_CTX_DMA_MESSAGES) */
	/* Counters (context thread). */
	uint64_t maps_total;
	uint64_t unmaps_total;
	uint64_t dirty_reported;
	/* SIGBUS recovery (dma_fault.c): the list of tables, faults repaired
	 * since the last report, the last one's DMA address, whom to wake. */
	struct dma_table *_Atomic fault_next;
	atomic_uint faults;
	_Atomic uint64_t fault_addr;
	atomic_int fault_wake_fd;
	atomic_uint repairs; /* ever: shares mapped before one are suspect */
	struct dma_share shares[DMA_MAX_SHARES]; /* context thread */
	uint64_t share_va; /* bytes of the shares' mmaps */
	struct dma_file files[DMA_MAX_FILES]; /* context thread */
	uint32_t unkept;   /* fd-backed mappings whose file is not kept */
};

/* Fields that readers may load while the context thread stores them. */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static inline void map_load(const struct dma_map *s, struct dma_map *d)
{
	d->addr = LD(s->addr);
	d->last = LD(s->last);
	d->prot = LD(s->prot);
	d->map = LD(s->map);
	d->map_len = LD(s->map_len);
	d->vaddr = LD(s->vaddr);
	d->dirty = LD(s->dirty);
	d->share = LD(s->share);
	d->offset = LD(s->offset);
	d->file = LD(s->file);
}

static inline void map_store(struct dma_map *d, const struct dma_map *s)
{
	ST(d->addr, s->addr);
	ST(d->last, s->last);
	ST(d->prot, s->prot);
	ST(d->map, s->map);
	ST(d->map_len, s->map_len);
	ST(d->vaddr, s->vaddr);
	ST(d->dirty, s->dirty);
	ST(d->share, s->share);
	ST(d->offset, s->offset);
	ST(d->file, s->file);
}

/* Only the context thread writes; each change is bracketed by these. */
static inline void write_begin(struct dma_table *dt)
{
	atomic_fetch_add_explicit(&dt->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static inline void write_end(struct dma_table *dt)
{
	atomic_fetch_add_explicit(&dt->seq, 1, memory_order_release);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#define DMA_LAYOUT INTERVAL_LAYOUT(struct dma_map, addr, last)

/* dma_blocks.c: the mappings in address order (context thread unless
 * said otherwise; changes are bracketed for readers inside). */
/** Set up room for dt->max mappings: 0 or -ENOMEM. */
int dma_blocks_init(struct dma_table *dt);
void dma_blocks_fini(struct dma_table *dt);
/** The first mapping whose last byte is >= @addr (invalid if none). */
struct dma_pos dma_blocks_seek(const struct dma_table *dt, uint64_t addr);
/** Add @m (fits: dma_map_check() said so). */
void dma_blocks_insert(struct dma_table *dt, const struct dma_map *m);
/** Remove the mapping at @p (valid). */
void dma_blocks_remove(struct dma_table *dt, struct dma_pos p);
/** The @i-th mapping in address order; false past the end. */
bool dma_blocks_nth(struct dma_table *dt, uint32_t i, struct dma_pos *out);

#define DMA_DIR_LAYOUT INTERVAL_LAYOUT(struct dma_dir, last, last)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/*
 * Any thread: the mapping holding @addr, maybe torn (dma_find() retries).
 * Inline: translation is the device's hot path.
 */
static inline bool dma_blocks_find_racy(const struct dma_table *dt,
					uint64_t addr, struct dma_map *out)
{
	uint32_t nd = MIN(LD(dt->nd), dt->nblk), d, blk, cnt, j;
	const struct dma_map *b;

	/* One block (up to DMA_BLOCK mappings, the usual case): its search
	 * alone finds @addr or says it is not there. */
	d = nd == 1 ? 0 : interval_lower_bound(dt->dir, nd, DMA_DIR_LAYOUT, addr);
	if (d >= nd)
		return false;
	blk = LD(dt->dir[d].blk);
	cnt = MIN(LD(dt->dir[d].cnt), DMA_BLOCK);
	if (blk >= dt->nblk)
		return false;
	b = &dt->m[(size_t)blk * DMA_BLOCK];
	j = interval_find(b, cnt, DMA_LAYOUT, addr);
	if (j >= cnt)
		return false;
	map_load(&b[j], out);
	return true;
}

static inline bool dma_pos_ok(const struct dma_table *dt, struct dma_pos p)
{
	return p.d < dt->nd;
}

static inline struct dma_map *dma_at(const struct dma_table *dt,
				     struct dma_pos p)
{
	return &dt->m[(size_t)dt->dir[p.d].blk * DMA_BLOCK + p.j];
}

static inline struct dma_pos dma_pos_next(const struct dma_table *dt,
					  struct dma_pos p)
{
	if (++p.j >= dt->dir[p.d].cnt)
		p = (struct dma_pos){ p.d + 1, 0 };
	return p;
}

/* Each mapping in address order, as @m (the table unchanged meanwhile). */
#define DMA_EACH(dt, p, m)                                                 \
	for (struct dma_pos p = { 0, 0 }; dma_pos_ok(dt, p) &&             \
	     ((m) = dma_at(dt, p), true); p = dma_pos_next(dt, p))

/** A consistent copy of the mapping containing @addr; false if none. */
bool dma_find(const struct dma_table *dt, uint64_t addr, struct dma_map *out);

/* dma_fault.c: SIGBUS in client memory (see there). */
/** Let the SIGBUS handler find @dt's mappings (and install it). */
void dma_fault_register(struct dma_table *dt);
/**
 * Make sure our SIGBUS handler is the installed one (before each mmap of
 * a client's file, not each grant: a program may have installed its own
 * since); the one it replaces gets every SIGBUS outside client mappings.
 */
void dma_fault_arm(void);
/** Forget @dt (before it is freed; its device threads have stopped). */
void dma_fault_unregister(struct dma_table *dt);
/* dma_files.c */
struct stat;

void dma_files_init(struct dma_table *dt);
void dma_files_close(struct dma_table *dt);
/**
 * Keep @fd (taken), whose fstat is @st, as the fd of its file unless one
 * is kept already (with the same access mode, or read-write, which serves
 * any grant): the slot's index, or -1 when none is free (@fd is closed then).
 * @rdwr: @fd is known to be open read-write (a shared writable mmap of it
 * succeeded), so its mode need not be asked.
 */
int32_t dma_file_keep(struct dma_table *dt, int fd, const struct stat *st,
		      bool rdwr);
/** A mapping goes: its file's count drops (the fd is closed at 0). */
void dma_file_drop(struct dma_table *dt, const struct dma_map *m);

/* dma_share.c */


/**
 * A reference to an mmap of all of regular file @fd (borrowed; @st its
 * fstat) with @prot, whose length, the file's size rounded up to @align,
 * reaches @end: an existing one of the same file, or a new one (then
 * *@mapped is set true). The slot's index, or -1 when it cannot be shared
 * (map the range alone).
 */
int32_t dma_share_get(struct dma_table *dt, int fd, const struct stat *st,
		      uint64_t align, uint32_t prot, uint64_t end, bool *mapped);
/**
 * Drop a reference; at the last one the file stays mapped, idle, for its
 * next grant (one idle file at most), or is unmapped (see dma_share.c).
 */
void dma_share_put(struct dma_table *dt, int32_t i);
/** Unmap the idle file, if any (no grant left to want it again). */
void dma_share_drop_idle(struct dma_table *dt);
/** Files mapped whole now for grants (tests, benchmarks). */
uint32_t dma_share_count(const struct dma_table *dt);
/** Files mapped whole and idle (0 or 1; tests). */
uint32_t dma_share_idle(const struct dma_table *dt);

/* dma_log.c */

/* Most dirty bitmap kept at once: 256 MiB, 8 TiB of mappings at 4 KiB. */
#define DMA_LOG_MAX_WORDS ((256ull << 20) / 8)

/**
 * A bitmap for @m when logging is on (at insert). 0, -ENOMEM, or -E2BIG
 * when the bitmaps would pass DMA_LOG_MAX_WORDS.
 */
int dma_log_attach(struct dma_table *dt, struct dma_map *m);

/** Free @m's bitmap, if any (context thread, device quiesced). */
void dma_log_detach(struct dma_table *dt, struct dma_map *m);

/** Mark [addr, addr + len) of mapping copy @m written (thread-safe). */
void dma_log_mark(const struct dma_map *m, uint64_t addr, uint64_t len);

#endif /* VUS_DMA_PRIV_H */
