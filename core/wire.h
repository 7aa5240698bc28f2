/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire: the vfio-user message codec. Layouts, constants and pure checks
 * that turn bytes into validated values or an errno. No I/O, no allocation,
 * no device knowledge. Used by the server engine, the client library and
 * the fuzz targets. Layout facts follow QEMU's docs/interop/vfio-user.rst
 * and the VFIO UAPI; the struct names are ours.
 */
#ifndef VUS_WIRE_H
#define VUS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "wire_cmds.h"

#define WIRE_PACKED __attribute__((packed))

enum wire_cmd {
#define WIRE_CMD_ENUM(name, num) WIRE_CMD_##name = num,
	WIRE_COMMANDS(WIRE_CMD_ENUM)
#undef WIRE_CMD_ENUM
	WIRE_CMD_MAX = 19, /* first number past the table */
};

#define WIRE_CMD_BELOW_MAX(name, num) \
	_Static_assert(num < WIRE_CMD_MAX, #name " fits the table");
WIRE_COMMANDS(WIRE_CMD_BELOW_MAX)
#undef WIRE_CMD_BELOW_MAX

/* Header flags. */
#define WIRE_F_TYPE_MASK 0x0000000fu
#define WIRE_F_TYPE_CMD 0x0u
#define WIRE_F_TYPE_REPLY 0x1u
#define WIRE_F_NO_REPLY 0x00000010u
#define WIRE_F_ERROR 0x00000020u

struct wire_hdr {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size; /* including this header */
	uint32_t flags;
	uint32_t error;    /* errno in error replies */
} WIRE_PACKED;

#define WIRE_HDR_SIZE ((uint32_t)sizeof(struct wire_hdr))

struct wire_version {
	uint16_t major;
	uint16_t minor;
	/* NUL-terminated JSON follows */
} WIRE_PACKED;

#define WIRE_VERSION_MAJOR 0
#define WIRE_VERSION_MINOR 0

#define WIRE_DMA_READ 0x1u
#define WIRE_DMA_WRITE 0x2u

struct wire_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset; /* in the passed fd */
	uint64_t addr;
	uint64_t size;
} WIRE_PACKED;

#define WIRE_DMA_UNMAP_GET_DIRTY_BITMAP 0x1u
#define WIRE_DMA_UNMAP_ALL 0x2u

struct wire_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
} WIRE_PACKED;

/* After the entry with GET_DIRTY_BITMAP, in the request and the reply. */
struct wire_dma_unmap_bitmap {
	uint64_t pgsize;
	uint64_t size;   /* bitmap bytes: one bit per page, whole u64 words */
} WIRE_PACKED;

/* Largest dirty bitmap we build for one reply (1 TiB of 4 KiB pages). */
#define WIRE_MAX_DIRTY_BITMAP (32u << 20)

/* Device flags (VFIO_DEVICE_FLAGS_*). */
#define WIRE_DEV_RESET 0x1u
#define WIRE_DEV_PCI 0x2u
#define WIRE_DEV_PLATFORM 0x4u

struct wire_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
} WIRE_PACKED;

/* Region info flags and capabilities. */
#define WIRE_REGION_READ 0x1u
#define WIRE_REGION_WRITE 0x2u
#define WIRE_REGION_MMAP 0x4u
#define WIRE_REGION_CAPS 0x8u

#define WIRE_REGION_CAP_SPARSE_MMAP 1u
#define WIRE_REGION_CAP_TYPE 2u

struct wire_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset; /* from the start of this struct */
	uint64_t size;
	uint64_t offset;     /* mmap offset in the passed fd */
} WIRE_PACKED;

struct wire_cap_hdr {
	uint16_t id;
	uint16_t version;
	uint32_t next; /* from the start of wire_region_info; 0 ends */
} WIRE_PACKED;

struct wire_sparse_area {
	uint64_t offset;
	uint64_t size;
} WIRE_PACKED;

struct wire_cap_sparse_mmap {
	struct wire_cap_hdr hdr;
	uint32_t nr_areas;
	uint32_t reserved;
	/* nr_areas x struct wire_sparse_area */
} WIRE_PACKED;

struct wire_cap_type {
	struct wire_cap_hdr hdr;
	uint32_t type;
	uint32_t subtype;
} WIRE_PACKED;

/* libvus's platform device description (doc/sysbus.md): a region with a
 * TYPE capability in the vendor-specific space (0x80000000 | vendor, with
 * vendor 0xffff, which no PCI vendor holds), holding JSON. */
#define WIRE_SYSBUS_DESC_TYPE 0x8000ffffu
#define WIRE_SYSBUS_DESC_SUBTYPE 1u

struct wire_io_fds_req {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
} WIRE_PACKED;

/* IO_FDS entry, as in the spec (40 bytes). */
#define WIRE_IO_FD_IOEVENTFD 0u
#define WIRE_IOEVENTFD_DATAMATCH 0x1u

struct wire_io_fd_entry {
	uint64_t offset;
	uint64_t size;
	uint32_t fd_index;
	uint32_t type;
	uint32_t flags;
	uint32_t padding;
	uint64_t datamatch;
} WIRE_PACKED;

/* IRQ info flags. */
#define WIRE_IRQ_EVENTFD 0x1u
#define WIRE_IRQ_MASKABLE 0x2u
#define WIRE_IRQ_AUTOMASKED 0x4u
#define WIRE_IRQ_NORESIZE 0x8u

struct wire_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
} WIRE_PACKED;

/* SET_IRQS flags. */
#define WIRE_IRQ_DATA_NONE 0x01u
#define WIRE_IRQ_DATA_BOOL 0x02u
#define WIRE_IRQ_DATA_EVENTFD 0x04u
#define WIRE_IRQ_ACTION_MASK 0x08u
#define WIRE_IRQ_ACTION_UNMASK 0x10u
#define WIRE_IRQ_ACTION_TRIGGER 0x20u
#define WIRE_IRQ_DATA_TYPE_MASK 0x07u
#define WIRE_IRQ_ACTION_TYPE_MASK 0x38u

struct wire_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
	/* count bytes with DATA_BOOL */
} WIRE_PACKED;

struct wire_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* count data bytes in REGION_WRITE requests and REGION_READ replies */
} WIRE_PACKED;

/* QEMU 10.2's DMA_READ/DMA_WRITE payload: u64 address, u32 count, the
 * data, then 4 bytes of padding that its length counts (engine_dma.c). */
#define WIRE_DMA_QEMU_HEAD 12u
#define WIRE_DMA_QEMU_PAD 4u

struct wire_dma_access {
	uint64_t addr;
	uint64_t count;
	/* data in DMA_WRITE requests and DMA_READ replies */
} WIRE_PACKED;

struct wire_write_one {
	uint64_t offset;
	uint32_t region;
	uint32_t count; /* 1..8 */
	uint8_t data[8];
} WIRE_PACKED;

/* REGION_WRITE_MULTI: the count, then count writes; the reply is the
 * count applied. */
struct wire_write_multi {
	uint64_t count;
} WIRE_PACKED;

#define WIRE_WRITE_MULTI_MAX 200u

/*
 * DEVICE_FEATURE (VFIO_DEVICE_FEATURE_*, vfio-user-wire.md 15): a head whose
 * flags hold the feature number and the operation, then the feature's data.
 */
#define WIRE_FEAT_MASK 0x0000ffffu
#define WIRE_FEAT_GET 0x00010000u
#define WIRE_FEAT_SET 0x00020000u
#define WIRE_FEAT_PROBE 0x00040000u

enum wire_feature_id {
	WIRE_FEAT_MIGRATION = 1,
	WIRE_FEAT_MIG_DEVICE_STATE = 2,
	WIRE_FEAT_DMA_LOGGING_START = 6,
	WIRE_FEAT_DMA_LOGGING_STOP = 7,
	WIRE_FEAT_DMA_LOGGING_REPORT = 8,
	WIRE_FEAT_MIG_DATA_SIZE = 9, /* the kernel's; not in the vfio-user spec */
};

struct wire_feature {
	uint32_t argsz;
	uint32_t flags;
} WIRE_PACKED;

/* MIGRATION (GET): VFIO_MIGRATION_* flags. */
struct wire_feature_migration {
	uint64_t flags;
} WIRE_PACKED;

/* MIG_DEVICE_STATE (GET, SET). */
struct wire_feature_mig_state {
	uint32_t device_state;
	int32_t data_fd; /* no fd in vfio-user: -1 */
} WIRE_PACKED;

/* DMA_LOGGING_START (and the spec's STOP): num_ranges ranges follow. */
struct wire_feature_dma_logging {
	uint64_t page_size;
	uint32_t num_ranges;
	uint32_t reserved;
} WIRE_PACKED;

struct wire_feature_dma_range {
	uint64_t iova;
	uint64_t length;
} WIRE_PACKED;

/* DMA_LOGGING_REPORT (GET): the bitmap follows in the reply. */
struct wire_feature_dma_report {
	uint64_t iova;
	uint64_t length;
	uint64_t page_size;
} WIRE_PACKED;

/* MIG_DATA_SIZE (GET). */
struct wire_feature_mig_data_size {
	uint64_t stop_copy_length;
} WIRE_PACKED;

/* MIG_DATA_READ and MIG_DATA_WRITE: @size data bytes follow. */
struct wire_mig_data {
	uint32_t argsz;
	uint32_t size;
} WIRE_PACKED;

_Static_assert(sizeof(struct wire_hdr) == 16, "hdr");
_Static_assert(sizeof(struct wire_version) == 4, "version");
_Static_assert(sizeof(struct wire_dma_map) == 32, "dma_map");
_Static_assert(sizeof(struct wire_dma_unmap) == 24, "dma_unmap");
_Static_assert(sizeof(struct wire_device_info) == 16, "device_info");
_Static_assert(sizeof(struct wire_region_info) == 32, "region_info");
_Static_assert(sizeof(struct wire_cap_sparse_mmap) == 16, "sparse");
_Static_assert(sizeof(struct wire_cap_type) == 16, "type cap");
_Static_assert(sizeof(struct wire_io_fd_entry) == 40, "io fd entry");
_Static_assert(sizeof(struct wire_irq_info) == 16, "irq_info");
_Static_assert(sizeof(struct wire_irq_set) == 20, "irq_set");
_Static_assert(sizeof(struct wire_region_access) == 16, "region_access");
_Static_assert(sizeof(struct wire_dma_access) == 16, "dma_access");
_Static_assert(sizeof(struct wire_write_one) == 24, "write_one");
_Static_assert(sizeof(struct wire_write_multi) == 8, "write_multi");
_Static_assert(sizeof(struct wire_dma_unmap_bitmap) == 16, "unmap bitmap");
_Static_assert(sizeof(struct wire_io_fds_req) == 16, "io_fds_req");
_Static_assert(sizeof(struct wire_feature) == 8, "feature");
_Static_assert(sizeof(struct wire_feature_migration) == 8, "migration");
_Static_assert(sizeof(struct wire_feature_mig_state) == 8, "mig_state");
_Static_assert(sizeof(struct wire_feature_dma_logging) == 16, "logging");
_Static_assert(sizeof(struct wire_feature_dma_range) == 16, "range");
_Static_assert(sizeof(struct wire_feature_dma_report) == 24, "report");
_Static_assert(sizeof(struct wire_feature_mig_data_size) == 8, "data size");
_Static_assert(sizeof(struct wire_mig_data) == 8, "mig_data");

/* Limits shared by both ends. */
#define WIRE_MAX_FDS_LIMIT 253u /* SCM_MAX_FD */
#define WIRE_MIN_XFER 4096u
#define WIRE_MAX_XFER (64u << 20)
#define WIRE_DEFAULT_XFER (1u << 20)
/* Largest message that is not a data transfer (SET_IRQS with 2048 bools,
 * WRITE_MULTI with 200 writes, region info with a long capability chain). */
#define WIRE_MAX_CONTROL_MSG 8192u
#define WIRE_MAX_IRQ_COUNT 2048u

/** Name of a command for logs and tools ("?" for unknown). */
const char *wire_cmd_name(uint32_t cmd);

/** Whether a header's Type field says reply. */
static inline bool wire_is_reply(const struct wire_hdr *h)
{
	return (h->flags & WIRE_F_TYPE_MASK) == WIRE_F_TYPE_REPLY;
}

/**
 * Check a received header against our message size limit: 0, or -EINVAL
 * (msg_size < 16) or -EMSGSIZE (msg_size > @max_msg). Pure.
 */
int wire_hdr_check(const struct wire_hdr *h, uint32_t max_msg);

/** Fill a reply header for request @req with @payload bytes. */
void wire_reply_hdr(struct wire_hdr *out, const struct wire_hdr *req,
		    uint32_t payload, int err);

/**
 * Validate a SET_IRQS request against an index with @nvec vectors and
 * @index_flags (WIRE_IRQ_*): flags, range, DATA_BOOL length, fd count,
 * MASK/UNMASK only on maskable indexes. @nfds is the number of fds
 * attached. Pure. 0 or -EINVAL.
 */
int wire_irq_set_check(const struct wire_irq_set *s, size_t payload_len,
		       uint32_t nvec, uint32_t index_flags, unsigned int nfds);

#endif /* VUS_WIRE_H */
