/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * caps: the VERSION message's capabilities JSON, parsed and built with
 * json-c, and the strict parser for any JSON a peer sends. Used by the
 * server engine and by the client library.
 */
#ifndef VUS_CAPS_H
#define VUS_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one side announces in VERSION. */
struct caps {
	uint64_t max_msg_fds;        /* fds the sender can receive per message */
	uint64_t max_data_xfer_size; /* largest data transfer it accepts */
	uint64_t pgsizes;            /* DMA page sizes, OR-ed */
	uint64_t max_dma_maps;
	bool write_multiple;
	bool twin_socket;            /* offered; libvus never enables it */
	bool has_migration;          /* legacy "migration" object present */
	uint64_t mig_pgsize;
	uint64_t mig_max_bitmap_size;
};

/* Upper bounds for values a peer may announce; larger is rejected. */
#define CAPS_MAX_MSG_FDS 1024u
#define CAPS_MAX_DMA_MAPS 0xffffffffu

struct json_object;

/**
 * Parse @len bytes of JSON text received from a peer: strict syntax (no
 * single quotes, no trailing commas), nesting bounded, nothing after the
 * document. *out is a new reference the caller puts. 0, -EINVAL, -ENOMEM.
 */
int caps_json_parse(const char *text, size_t len, struct json_object **out);

/** The spec's defaults for keys that are absent. */
void caps_defaults(struct caps *c);

/**
 * Validate a VERSION payload: 4 bytes of major/minor, then optionally JSON
 * text ending with the payload's last byte, a NUL. Fills *major, *minor and
 * @c (defaults for absent keys; unknown keys are ignored). Returns 0 or
 * -EINVAL: short payload, missing or embedded NUL, JSON that does not parse
 * strictly, is not an object, nests too deep, or has a member of the wrong
 * type or out of range (zero sizes, max_msg_fds above CAPS_MAX_MSG_FDS,
 * pgsizes with bits below 4 KiB, ...). The version numbers are not judged.
 */
int caps_parse_version(const void *payload, size_t len, uint16_t *major,
		       uint16_t *minor, struct caps *c);

/**
 * Write a VERSION payload announcing @c into @buf (@cap bytes): major,
 * minor, compact JSON and its NUL. write_multiple and migration are only
 * included when set. Returns the payload length, -ENOSPC or -ENOMEM.
 */
int caps_build_version(void *buf, size_t cap, uint16_t major, uint16_t minor,
		       const struct caps *c);

#endif /* VUS_CAPS_H */
