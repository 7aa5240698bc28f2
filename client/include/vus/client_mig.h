/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus client, migration: the client as the VMM (VFIO migration v2 over
 * vfio-user): state changes, the data stream, dirty page logging.
 * Part of libvus-client; included by vus/client.h (errors and threading as
 * described there).
 */
#ifndef VUS_CLIENT_MIG_H
#define VUS_CLIENT_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VUS_CLIENT_TYPEDEF
#define VUS_CLIENT_TYPEDEF
/** Opaque client connection. */
typedef struct vus_client vus_client;
#endif

/* Migration feature flags (VFIO_MIGRATION_*). */
#define VUS_CLIENT_MIG_STOP_COPY 0x1u
#define VUS_CLIENT_MIG_P2P 0x2u
#define VUS_CLIENT_MIG_PRE_COPY 0x4u

/**
 * The device's migration flags (DEVICE_FEATURE MIGRATION, GET).
 * -ENOTTY if the device does not migrate.
 */
int vus_client_mig_flags(vus_client *c, uint64_t *flags);

/** The device's migration state (enum vus_mig_state values). */
int vus_client_mig_get_state(vus_client *c, uint32_t *state);

/**
 * Ask for migration state @state (the server walks the arcs). Returns 0,
 * or the server's errno (-EINVAL for an unreachable state; a failed load
 * of the stream when leaving RESUMING: -EBADMSG, -ENODEV, -EPROTONOSUPPORT).
 */
int vus_client_mig_set_state(vus_client *c, uint32_t state);

/**
 * MIG_DATA_READ of at most @len bytes (PRE_COPY, STOP_COPY): sets *got;
 * 0 bytes means nothing more for now (PRE_COPY) or the end (STOP_COPY).
 */
int vus_client_mig_read(vus_client *c, void *buf, size_t len, size_t *got);

/** MIG_DATA_WRITE @len bytes (RESUMING), split as the server accepts. */
int vus_client_mig_write(vus_client *c, const void *buf, size_t len);

/** The stop-copy size the server estimates (DEVICE_FEATURE MIG_DATA_SIZE). */
int vus_client_mig_data_size(vus_client *c, uint64_t *bytes);

/**
 * Save the device's state to @fd: STOP_COPY, read the whole stream
 * (reads grow from 16 KiB to 1 MiB; a short one ends it), STOP. The device is left stopped (resume it with RUNNING, or reset).
 * Sets *size to the stream's length. Returns 0 or -errno.
 */
int vus_client_mig_save(vus_client *c, int fd, uint64_t *size);

/**
 * Load a stream saved by vus_client_mig_save() from @fd into a device:
 * RESUMING (through STOP), write, RUNNING (through STOP, where the
 * server checks and loads it; one request). On a refused stream the device is in ERROR (reset it) and
 * its state untouched. Returns 0 or -errno.
 */
int vus_client_mig_load(vus_client *c, int fd);

/** Where a stream is not well formed (vus_client_mig_stream_check()). */
struct vus_client_mig_stream_problem {
	size_t struct_size;  /**< sizeof(struct vus_client_mig_stream_problem) */
	uint64_t offset;     /**< the stream byte where the problem shows */
	unsigned int record; /**< 1-based record number; 0: the header */
	char section[64];    /**< the record's section name; "" for the
				  header or the end record */
	char what[160];      /**< what is wrong, one line, no newline */
};

/**
 * Check the framing of a saved stream (@len bytes at @stream) before it is
 * sent: the header, every record's bounds and the end record's checksum
 * (CRC32C of everything before it). 0 when it is well formed; else
 * -EBADMSG (truncated, a malformed record, bytes after the end, a checksum
 * mismatch) or -EPROTONOSUPPORT (another format version), with *@problem
 * (may be NULL) saying where: a truncation or a malformed record names
 * its section; a checksum mismatch covers the whole stream, so it names
 * no section. -EINVAL for bad arguments (struct_size). Whether the device
 * accepts the sections' contents is for the device to say (a refused
 * load: vus_client_mig_load(); the server's management socket names the
 * section, doc/management.md). Pure: no connection, any thread.
 */
int vus_client_mig_stream_check(const void *stream, size_t len,
				struct vus_client_mig_stream_problem *problem);

/** A range for dirty logging. */
struct vus_client_range {
	uint64_t iova;
	uint64_t length;
};

/** DMA_LOGGING_START; @ranges may be NULL with @n 0 (everything). */
int vus_client_dirty_start(vus_client *c, uint64_t page_size,
			   const struct vus_client_range *ranges, unsigned int n);

/** DMA_LOGGING_STOP. */
int vus_client_dirty_stop(vus_client *c);

/**
 * DMA_LOGGING_REPORT for [iova, iova + len) at @page_size, into @bitmap
 * (@words uint64_t, at least ceil(len / page_size / 64)), split into
 * requests whose replies fit. Bit k is page iova + k * page_size; the
 * server clears what it reports.
 */
int vus_client_dirty_report(vus_client *c, uint64_t iova, uint64_t len,
			    uint64_t page_size, uint64_t *bitmap,
			    size_t words);

#ifdef __cplusplus
}
#endif

#endif /* VUS_CLIENT_MIG_H */
