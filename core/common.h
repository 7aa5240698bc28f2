/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * common: small helpers every part of libvus uses: the export macro,
 * array sizes, overflow-checked arithmetic and fd helpers.
 */
#ifndef VUS_COMMON_H
#define VUS_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Public symbols are marked; everything else is hidden by the build. */
#define VUS_EXPORT __attribute__((visibility("default")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/*
 * The page size libvus works in, on both ends: mmap granularity of regions
 * and MSI-X pages (at least), DMA dirty tracking, and the pgsizes announced
 * in VERSION (also the spec's default).
 */
#define PAGE_4K 4096u
#define PAGE_4K_SHIFT 12u

/** a + b, saturating at UINT64_MAX. */
static inline uint64_t satadd_u64(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline bool is_pow2_u64(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/**
 * Whether [off, off + len) lies inside [0, limit), computed without
 * overflow. len 0 is inside iff off <= limit.
 */
static inline bool range_ok(uint64_t off, uint64_t len, uint64_t limit)
{
	return off <= limit && len <= limit - off;
}

/**
 * Whether [addr, addr + size) is non-empty and does not wrap past 2^64
 * (ending exactly at 2^64 is allowed).
 */
static inline bool span_ok(uint64_t addr, uint64_t size)
{
	return size != 0 && size - 1 <= UINT64_MAX - addr;
}

/** Last byte of a span checked with span_ok(). */
static inline uint64_t span_last(uint64_t addr, uint64_t size)
{
	return addr + (size - 1);
}

/**
 * Bytes of a dirty bitmap with one bit per @psize page of a @len-byte span
 * (len > 0, psize a power of two), in whole u64 words: 0, or -E2BIG when
 * it would exceed @cap bytes. Computed without overflow, whatever the
 * span (a client's 2^64 - 1 bytes at 1-byte pages must not wrap to 0).
 */
static inline int dirty_bitmap_bytes(uint64_t len, uint64_t psize,
				     uint64_t cap, uint64_t *bytes)
{
	uint64_t pages = (len - 1) / psize + 1;

	if (pages / 64 + (pages % 64 != 0) > cap / 8)
		return -E2BIG;
	*bytes = (pages / 64 + (pages % 64 != 0)) * 8;
	return 0;
}

/** Store the low @n bytes of @v at @p, little-endian (n <= 8). */
static inline void le_put(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/** Load @n little-endian bytes from @p (n <= 8). */
static inline uint64_t le_get(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

/** Monotonic milliseconds (deadlines, rate limits). */
uint64_t now_ms(void);

/* The kernel's limit on fds in one SCM_RIGHTS message (SCM_MAX_FD). */
#define SCM_FDS_MAX 253u

struct iovec;

/**
 * sendmsg() of @iov with @fds (borrowed, at most SCM_FDS_MAX) attached to
 * the first byte, with MSG_NOSIGNAL and @flags (e.g. MSG_DONTWAIT); EINTR
 * is retried. Bytes sent, -EAGAIN, -EINVAL (too many fds) or -errno.
 */
long sendmsg_fds(int fd, const struct iovec *iov, int iovcnt, const int *fds,
		 unsigned int nfds, int flags);

/**
 * A zeroed memfd of @size bytes (close-on-exec), sealed against growing,
 * shrinking and further seals, so whoever it is handed to can trust the
 * size it maps (no SIGBUS). Sets *fd; 0 or -errno, with nothing left open.
 */
int sealed_memfd(const char *name, uint64_t size, int *fd);

/**
 * Whether @name is 1..@max characters of [a-z0-9._-]: the names of state
 * sections, kept fds and a device's hand-over fds.
 */
bool token_name_ok(const char *name, size_t max);

/**
 * Connect a new AF_UNIX stream socket (close-on-exec) to @path; EINTR is
 * retried. Sets *out; 0, -ENAMETOOLONG, or the errno of socket/connect.
 */
int unix_connect(const char *path, int *out);

/**
 * Whether @fd is an AF_UNIX stream socket, listening or connected as
 * @listening says: 0, -ENOTSOCK, -EINVAL, or getsockopt's errno.
 */
int unix_stream_check(int fd, bool listening);

/** Close *fd if it is open and mark it closed. */
void close_fd(int *fd);

/** Close every open fd in @fds[0..n) and mark them closed. */
void close_fds(int *fds, unsigned int n);

/** Write all @len bytes to a blocking @fd (a file): 0 or -errno. */
int write_all(int fd, const void *p, size_t len);

/**
 * Copy a caller's versioned struct (first member size_t struct_size) into
 * @dst of @dst_size bytes, zeroing what the caller's older struct lacks.
 * -EINVAL if struct_size is smaller than a size_t or larger than @dst_size.
 */
int copy_sized(void *dst, size_t dst_size, const void *src);

/**
 * For a versioned struct the library fills (first member size_t
 * struct_size, set by the caller): 0 if its struct_size is at least a
 * size_t and at most @full, the size this library fills; else -EINVAL.
 */
int sized_out_check(const void *dst, size_t full);

/**
 * Fill a caller's versioned struct, checked with sized_out_check(), from
 * @src (@full bytes): as much as the caller's struct_size covers, which
 * stays as the caller set it.
 */
void copy_sized_out(void *dst, const void *src, size_t full);

#endif /* VUS_COMMON_H */
