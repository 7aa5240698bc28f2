/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_priv: the migration state shared by mig.c (state machine and
 * sessions), mig_sections.c (sections, save, two-phase load), mig_io.c
 * (the put/get helpers) and mig_refs.c (blocks sent by reference) only.
 */
#ifndef VUS_MIG_PRIV_H
#define VUS_MIG_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "mig.h"
#include "mig_stream.h"

struct mig_section {
	char name[MIG_NAME_MAX + 1];
	uint32_t version;
	struct vus_mig_section_ops ops;
	void *opaque;
	bool live_done;  /* save_live said: nothing more until the stop */
	uint64_t bound;  /* most bytes a stream may carry; 0: the config's */
};

/* A block of a STOP_COPY save sent from where it is (mig_refs.c). */
struct mig_ref {
	size_t at;        /* it comes before byte @at of the save buffer */
	const uint8_t *p;
	size_t len;
};

/* The save session's referenced blocks, in stream order. */
struct mig_refs {
	struct mig_ref *v;
	unsigned int nr, cap;
	unsigned int next; /* the reader: block being sent, and how far */
	size_t off;
	uint64_t bytes;    /* all blocks' bytes, and those sent */
	uint64_t sent;
};

/* From this size vus_mig_put_ref() refers instead of copying. */
#define MIG_REF_MIN (64u << 10)

struct migration {
	vus_ctx *ctx;
	struct vus_mig_config cfg;
	uint32_t state;
	struct mig_section *sec; /* library sections first, then the device's */
	unsigned int nr_sec;
	unsigned int nr_lib_sec;
	vus_mig_state_fn *state_fn;
	void *state_opaque;
	bool holding;            /* a quiesce reference for a stopped state */
	/* Save session. */
	struct mig_buf out;
	size_t out_pos;
	struct mig_refs refs;    /* final parts' large blocks, not copied */
	bool save_open;
	bool final_done;
	uint64_t last_final_size;
	/* Resume session (mig_load.c). */
	struct mig_load *load;
	struct mig_refusal refused; /* why the last load failed */
	int stage_dirfd;         /* cfg.stage_dir, open; -1: no spilling */
	char *stage_dir;         /* cfg.stage_dir points here (a copy) */
	uint64_t staged_mem;     /* the last load's most bytes in memory */
	uint64_t staged_disk;    /* and spilled */
};


/**
 * Append one record of section @s to the save session: its live part
 * (@live, save_live) or its final part (save). 0 or -errno.
 */
int mig_save_section(struct migration *m, struct mig_section *s, bool live);

/*
 * Referenced blocks: add one that comes at @b's end (0 or -ENOMEM), trim
 * those added after byte @at (a record dropped), fold them into @b's CRC
 * (before the end record), clear them (all sent), free the list.
 */
int mig_refs_add(struct mig_refs *r, const struct mig_buf *b, const void *p,
		 size_t len);
void mig_refs_trim(struct mig_refs *r, size_t at);
void mig_refs_crc(const struct mig_refs *r, struct mig_buf *b);
void mig_refs_clear(struct mig_refs *r);
void mig_refs_free(struct mig_refs *r);

/*
 * The resume session (mig_load.c): begin on entering RESUMING, write as
 * MIG_DATA_WRITE brings bytes (0, or -EFBIG once a section passed its
 * bound; other faults are reported by finish), finish on leaving it
 * (check every staged section, then load them all; 0 or why the stream
 * was refused, with the device untouched). end frees what is staged.
 */
int mig_load_begin(struct migration *m);
int mig_load_write(struct migration *m, const void *buf, size_t len);
int mig_load_finish(struct migration *m);
void mig_load_end(struct migration *m);

#endif /* VUS_MIG_PRIV_H */
