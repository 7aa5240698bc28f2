/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig (internal): one context's migration: the sections a device
 * registered, the state machine's current state, and the save or resume
 * session in progress. The engine's protocol handlers (lib/engine_mig.c)
 * call in here with plain values; the device only sees its section
 * callbacks. Nothing here knows the wire format or the engine.
 */
#ifndef VUS_MIG_H
#define VUS_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mig_stream.h"
#include "vus/migration.h"

struct migration;

/* Why the device refused the last stream it was asked to load. */
struct mig_refusal {
	int err;               /* negative errno; 0: none */
	const char *phase;     /* "stream", "header", "check" or "load" */
	char section[MIG_NAME_MAX + 1]; /* "" when no one section's */
	char reason[160];
};

/** The last load's refusal (err 0 if it loaded, or none was tried). */
const struct mig_refusal *mig_last_refusal(const struct migration *m);

/**
 * Bytes the current or last load staged: the most in memory at once and
 * the most spilled to the stage directory (management status, tests).
 */
void mig_stage_stats(const struct migration *m, uint64_t *mem, uint64_t *disk);

/** The context's migration, or NULL if the device is not migratable. */
struct migration *mig_of(vus_ctx *ctx);

/** VFIO_MIGRATION_* flags the device offers. */
uint32_t mig_flags(const struct migration *m);

uint32_t mig_state(const struct migration *m);

/**
 * Move to @target through the arcs the state machine prescribes, running
 * each arc's action (stopping or restarting the device, opening or
 * closing a session, checking and loading a stream). The engine has
 * quiesced the device for the command. 0, or -EINVAL (no such state, or
 * an unreachable one), or the errno of a failed arc (the state is then ERROR, or
 * wherever the failed arc started).
 */
int mig_set_state(struct migration *m, uint32_t target);

/**
 * Next bytes of the outgoing stream (PRE_COPY, STOP_COPY): at most @len of
 * them, as up to @max pieces in @iov (*n of them, *got bytes), so a reply
 * can be sent from where they are without a copy. They stay valid and
 * unchanged until the next call or the end of the session. *got < @len
 * only at the end of what is there (in STOP_COPY: the end of the stream;
 * 0 then) or when @max pieces were not enough. -EINVAL in other states,
 * or a section's save error.
 */
int mig_data_gather(struct migration *m, size_t len, struct iovec *iov,
		    unsigned int max, unsigned int *n, size_t *got);

/** The same, copied into @buf: *got < @len only at the end. */
int mig_data_read(struct migration *m, void *buf, size_t len, size_t *got);

/** Append stream bytes (RESUMING). -EINVAL in other states, -EFBIG. */
int mig_data_write(struct migration *m, const void *buf, size_t len);

/** Bytes STOP_COPY would still produce (an estimate while running). */
uint64_t mig_data_size(struct migration *m);

/**
 * A section of library-owned state (a bus adapter's emulation), saved and
 * loaded before the device's own sections. As vus_mig_add_section();
 * @bound: the most bytes a stream may carry for it (what the destination
 * stages), 0 for the config's max_stream_size.
 */
int mig_add_lib_section(struct migration *m, const char *name,
			uint32_t version, const struct vus_mig_section_ops *ops,
			void *opaque, uint64_t bound);

/*
 * The sections one at a time (mig_each.c), for the crash-recovery state
 * area: index i counts library sections first. Context thread.
 */
/** The compatibility version the device set (0 without migration). */
uint32_t mig_compat_version(const struct migration *m);
unsigned int mig_nr_sections(const struct migration *m);
unsigned int mig_nr_lib_sections(const struct migration *m);
const char *mig_section_name(const struct migration *m, unsigned int i);
uint32_t mig_section_version(const struct migration *m, unsigned int i);
/** Index of section @name, or -ENOENT. */
int mig_section_find(const struct migration *m, const char *name);
/** Run section @i's save() into @b. 0 or the callback's -errno. */
int mig_section_save(struct migration *m, unsigned int i, struct mig_buf *b);
/**
 * Run section @i's check() (@load false) or load() on @len bytes saved by
 * this same version. A failure is logged. 0 or -errno.
 */
int mig_section_apply(struct migration *m, unsigned int i, const void *p,
		      size_t len, bool load);

/** The device's identity for the stream header ("pci:...", "sysbus:..."). */
void mig_identity(struct migration *m, char *buf, size_t len);

/** Back to RUNNING with no session (DEVICE_RESET, client gone). */
void mig_reset(struct migration *m);

/** Free everything (context destroy). */
void mig_destroy(struct migration *m);

#endif /* VUS_MIG_H */
