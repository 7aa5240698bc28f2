/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_stream: writing and parsing the migration stream (its format is
 * in core/mig_format.h, shared with the client). A section may have
 * several records (pre-copy parts, then the final part); a reader
 * concatenates them in order. The writer appends to a growable buffer
 * with a size limit; the parser checks everything before anything is
 * used.
 */
#ifndef VUS_MIG_STREAM_H
#define VUS_MIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mig_format.h"

/*
 * A growable byte buffer with a hard limit. A writer may drop the bytes
 * it has sent (mig_buf_drop) so a long pre-copy does not pile up; a
 * running CRC covers what was dropped, so each byte is summed once.
 * Nothing in the buffer may change after a drop or the end record.
 */
struct mig_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t limit;
	uint32_t crc;    /* CRC32C of the dropped bytes and p[0, crc_len) */
	size_t crc_len;
	uint64_t dropped; /* bytes dropped so far */
};

/*
 * Memory for buffers and staged sections (mig_mem.c): resize a block of
 * @old bytes (NULL/0: a new one) to @len, keeping its bytes; NULL if out
 * of memory (the old block stays). Free with the size it has.
 */
void *mig_mem_resize(void *p, size_t old, size_t len);
void mig_mem_free(void *p, size_t len);

void mig_buf_init(struct mig_buf *b, size_t limit);
void mig_buf_free(struct mig_buf *b);
/** Append; -EFBIG past the limit, -ENOMEM. */
int mig_buf_put(struct mig_buf *b, const void *data, size_t len);
/** Forget every byte in the buffer (they were sent); keeps the memory. */
void mig_buf_drop(struct mig_buf *b);


/*
 * Where section callbacks write (vus_mig_put_*) and read (vus_mig_get_*):
 * a buffer, or bytes with a cursor. Other streams in this format (the
 * hand-over's records) use them too.
 */
struct mig_refs;
struct mig_spill_view;

struct vus_mig_out {
	struct mig_buf *buf;
	/* Where vus_mig_put_ref() records large blocks (a STOP_COPY save,
	 * mig_priv.h); NULL: every byte is copied into @buf. */
	struct mig_refs *refs;
};

struct vus_mig_in {
	const uint8_t *p;
	size_t len;
	size_t pos;
	char *why;      /* vus_mig_refuse() writes here, if not NULL */
	size_t why_len;
	/* A section spilled to disk (mig_spill.h): @len bytes in its file,
	 * @p unused. NULL: the bytes are at @p. */
	struct mig_spill_view *spill;
};

/** Write the header. */
int mig_stream_header(struct mig_buf *b, const char *identity,
		      uint32_t compat);

/**
 * The same framing under another @magic (8 bytes) and @format, for
 * streams that are not migration streams (lib/ho_stream.c).
 */
int mig_stream_header_as(struct mig_buf *b, const char *magic, uint32_t format,
			 const char *identity, uint32_t compat);

/**
 * Start a section record: writes its head with a zero length and returns
 * in *rec_at where the record starts, for the two calls below.
 */
int mig_stream_record_begin(struct mig_buf *b, const char *name,
			    uint32_t version, size_t *rec_at);
/** Patch the record's data length (bytes appended since begin). */
int mig_stream_record_end(struct mig_buf *b, size_t rec_at);
/** The same, for a record that also has @by_ref bytes not in @b. -EFBIG. */
int mig_stream_record_end_ref(struct mig_buf *b, size_t rec_at,
			      uint64_t by_ref);
/** Drop the record begun at @rec_at and everything appended after it. */
void mig_stream_record_drop(struct mig_buf *b, size_t rec_at);

/** Write the end record with the CRC of everything before it (dropped too). */
int mig_stream_end(struct mig_buf *b);

/* A parsed stream: pointers into the checked buffer. */
struct mig_record {
	const char *name; /* not NUL-terminated: use name_len */
	uint8_t name_len;
	uint32_t version;
	const uint8_t *data;
	uint32_t len;
};

struct mig_parsed {
	uint32_t compat;
	char identity[MIG_IDENTITY_MAX + 1];
	struct mig_record *rec; /* malloc'd */
	unsigned int nr_rec;
};

/**
 * Check a whole stream: magic, format, identity, every record's bounds,
 * names, exactly one end record at the very end, and the CRC. Fills @out
 * (free with mig_parsed_free). -EBADMSG for any malformation (also
 * truncation), -EPROTONOSUPPORT for another format version, -ENOMEM.
 */
int mig_stream_parse(const uint8_t *p, size_t len, struct mig_parsed *out);

/** mig_stream_parse() of a stream written by mig_stream_header_as(). */
int mig_stream_parse_as(const uint8_t *p, size_t len, const char *magic,
			uint32_t format, struct mig_parsed *out);
void mig_parsed_free(struct mig_parsed *pp);

#endif /* VUS_MIG_STREAM_H */
