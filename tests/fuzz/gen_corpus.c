/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen_corpus: writes the seed corpora of the fuzz targets at build time
 * (no binary files in git). One file per well-formed conversation:
 *
 *   gen_corpus engine DIR   fuzz_engine (fuzz_input.h format)
 *   gen_corpus pci DIR      fuzz_engine_pci: the above plus PCI traffic
 *   gen_corpus wire DIR     fuzz_wire (selector byte + input)
 *   gen_corpus client DIR   fuzz_client (fuzz_client_input.h format)
 *
 * Every command has at least one seed: VERSION with QEMU 10.2's exact
 * JSON, DMA_MAP with and without an fd, every GET_*_INFO, SET_IRQS with
 * each action/data kind, region I/O, WRITE_MULTI, RESET, FEATURE and
 * MIG_DATA_*; plus server DMA answered in each way, quiesce held and
 * released, framing in pieces and a few broken messages.
 *
 * Migration: every state change the devices offer (pre-copy, stop-copy,
 * resuming, the errors), the stream read back and written again during
 * RESUMING (the harness's replay action, and for the SysBus device a
 * stream built here with its CRC), DMA logging around device writes, and
 * sections that fail to save.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_client_input.h"
#include "fuzz_input.h"
#include "wire.h"

struct seed {
	uint8_t buf[32768];
	size_t len;
	uint16_t id;
};

static const char *outdir;
static unsigned int nwritten;

static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

static void put(struct seed *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (s->len + n > sizeof(s->buf)) {
		fprintf(stderr, "gen_corpus: seed too large\n");
		exit(1);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void begin(struct seed *s, uint8_t cfg)
{
	s->len = 0;
	s->id = 1;
	put(s, &cfg, 1);
}

static void save(const struct seed *s, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: cannot write %s\n", path);
		exit(1);
	}
	nwritten++;
}

static void chunk(struct seed *s, uint8_t op, uint8_t aux, const void *p,
		  size_t n)
{
	uint8_t h[4] = { op, aux, (uint8_t)n, (uint8_t)(n >> 8) };

	put(s, h, sizeof(h));
	put(s, p, n);
}

/* One whole message as one chunk; the server runs after it. */
static void msgx(struct seed *s, uint8_t op, uint8_t aux, uint16_t cmd,
		 uint32_t flags, const void *payload, size_t n)
{
	uint8_t buf[16 + 8192];
	struct wire_hdr h = { .msg_id = s->id++, .cmd = cmd,
			      .msg_size = (uint32_t)(16 + n), .flags = flags };

	memcpy(buf, &h, sizeof(h));
	if (n > 0)
		memcpy(buf + 16, payload, n);
	chunk(s, op | FZ_OP_RUN, aux, buf, 16 + n);
}

static void msg(struct seed *s, uint16_t cmd, const void *payload, size_t n)
{
	msgx(s, 0, 0, cmd, 0, payload, n);
}

static void action(struct seed *s, unsigned int act, uint8_t aux)
{
	chunk(s, (uint8_t)(act << FZ_OP_ACT_SHIFT | FZ_OP_RUN), aux, NULL, 0);
}

static void version(struct seed *s, const char *json)
{
	uint8_t buf[4 + 256] = { 0 };
	size_t n = json ? strlen(json) + 1 : 0;

	memcpy(buf + 4, json ? json : "", n);
	msg(s, WIRE_CMD_VERSION, buf, 4 + n);
}

static void get_info(struct seed *s)
{
	struct wire_device_info d = { .argsz = 16 };

	msg(s, WIRE_CMD_DEVICE_GET_INFO, &d, sizeof(d));
}

static void region_info(struct seed *s, uint32_t index, uint32_t argsz)
{
	struct wire_region_info r = { .argsz = argsz, .index = index };

	msg(s, WIRE_CMD_DEVICE_GET_REGION_INFO, &r, sizeof(r));
}

static void rd(struct seed *s, uint32_t region, uint64_t off, uint32_t count)
{
	struct wire_region_access a = { .offset = off, .region = region,
					.count = count };

	msg(s, WIRE_CMD_REGION_READ, &a, sizeof(a));
}

static void wrx(struct seed *s, uint32_t flags, uint32_t region, uint64_t off,
		const void *data, uint32_t count)
{
	uint8_t buf[16 + 256];
	struct wire_region_access a = { .offset = off, .region = region,
					.count = count };

	memcpy(buf, &a, sizeof(a));
	memcpy(buf + 16, data, count);
	msgx(s, 0, 0, WIRE_CMD_REGION_WRITE, flags, buf, 16 + count);
}

static void wr(struct seed *s, uint32_t region, uint64_t off, const void *data,
	       uint32_t count)
{
	wrx(s, 0, region, off, data, count);
}

static void wr64(struct seed *s, uint32_t region, uint64_t off, uint64_t v)
{
	wr(s, region, off, &v, 8);
}

static void set_irqs(struct seed *s, uint32_t flags, uint32_t index,
		     uint32_t start, uint32_t count, unsigned int nfds)
{
	uint8_t buf[20 + 64];
	struct wire_irq_set q = { .argsz = 20, .flags = flags, .index = index,
				  .start = start, .count = count };
	size_t n = sizeof(q);

	memcpy(buf, &q, sizeof(q));
	if (flags & WIRE_IRQ_DATA_BOOL) {
		memset(buf + n, 1, count);
		n += count;
	}
	msgx(s, (uint8_t)(nfds | FZ_FD_EVENTFD << FZ_OP_KIND_SHIFT), 0,
	     WIRE_CMD_DEVICE_SET_IRQS, 0, buf, n);
}

static void dma_map(struct seed *s, uint64_t addr, uint64_t size,
		    uint64_t off, bool fd, uint8_t pages)
{
	struct wire_dma_map q = { .argsz = 32, .flags = WIRE_DMA_READ | WIRE_DMA_WRITE,
				  .offset = off, .addr = addr, .size = size };

	msgx(s, fd ? (uint8_t)(1 | FZ_FD_MEMFD << FZ_OP_KIND_SHIFT) : 0,
	     (uint8_t)(pages - 1), WIRE_CMD_DMA_MAP, 0, &q, sizeof(q));
}

static void dma_unmap(struct seed *s, uint64_t addr, uint64_t size,
		      uint32_t flags)
{
	struct wire_dma_unmap q = { .argsz = 24, .flags = flags, .addr = addr,
				    .size = size };

	msg(s, WIRE_CMD_DMA_UNMAP, &q, sizeof(q));
}

#define NEG FZ_CFG_NEGOTIATE
#define RW (WIRE_DMA_READ | WIRE_DMA_WRITE)
#define TRIG WIRE_IRQ_ACTION_TRIGGER
#define MASK WIRE_IRQ_ACTION_MASK
#define UNMASK WIRE_IRQ_ACTION_UNMASK

static void seeds_negotiation(struct seed *s)
{
	begin(s, 0);
	version(s, qemu_json); /* exactly the 214 bytes QEMU 10.2 sends */
	get_info(s);
	save(s, "version-qemu");
	begin(s, 0);
	version(s, NULL);
	get_info(s);
	save(s, "version-no-json");
	begin(s, 0);
	get_info(s); /* before VERSION */
	version(s, "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":4096,"
		   "\"twin_socket\":{\"supported\":true}}}");
	version(s, "{}"); /* again */
	save(s, "version-small-then-again");
	begin(s, 0);
	version(s, "{\"capabilities\":{\"max_msg_fds\":0}}");
	region_info(s, 1, 256);
	save(s, "version-no-fds");
}

static void seeds_info(struct seed *s)
{
	begin(s, NEG);
	get_info(s);
	for (uint32_t i = 0; i < 9; i++) {
		region_info(s, i, 32);
		region_info(s, i, 512);
	}
	save(s, "region-info");
	begin(s, NEG);
	for (uint32_t i = 0; i < 6; i++) {
		struct wire_irq_info q = { .argsz = 16, .index = i };

		msg(s, WIRE_CMD_DEVICE_GET_IRQ_INFO, &q, sizeof(q));
	}
	save(s, "irq-info");
	begin(s, NEG);
	for (uint32_t argsz = 16; argsz <= 256; argsz *= 4) {
		struct wire_io_fds_req q = { .argsz = argsz, .index = 0 };

		msg(s, WIRE_CMD_DEVICE_GET_REGION_IO_FDS, &q, sizeof(q));
	}
	save(s, "io-fds");
}

static void seeds_irqs(struct seed *s)
{
	static const uint32_t actions[] = { TRIG, MASK, UNMASK };
	static const uint32_t datas[] = { WIRE_IRQ_DATA_NONE, WIRE_IRQ_DATA_BOOL,
					  WIRE_IRQ_DATA_EVENTFD };
	char name[64];

	for (int a = 0; a < 3; a++) {
		for (int d = 0; d < 3; d++) {
			uint32_t index = actions[a] == TRIG ? 1 : 0;
			uint32_t count = index == 1 ? 4 : 1;
			bool efd = datas[d] == WIRE_IRQ_DATA_EVENTFD;

			begin(s, NEG);
			/* A trigger eventfd first, so firing has somewhere to go. */
			set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, index, 0, count, count);
			set_irqs(s, actions[a] | datas[d], index, 0, count,
				 efd ? count : 0);
			action(s, FZ_ACT_SIGNAL, 0x7);
			wr64(s, 0, FZ_REG_IRQ, 0x7);
			set_irqs(s, TRIG | WIRE_IRQ_DATA_NONE, index, 0, 0, 0);
			snprintf(name, sizeof(name), "set-irqs-%d-%d", a, d);
			save(s, name);
		}
	}
	begin(s, NEG);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 0, 0, 1, 1);
	set_irqs(s, UNMASK | WIRE_IRQ_DATA_EVENTFD, 0, 0, 1, 1);
	wr64(s, 0, FZ_REG_IRQ, 0x4);
	action(s, FZ_ACT_SIGNAL, 0x4);
	set_irqs(s, MASK | WIRE_IRQ_DATA_NONE, 0, 0, 1, 0);
	set_irqs(s, UNMASK | WIRE_IRQ_DATA_NONE, 0, 0, 1, 0);
	save(s, "intx-like-kvm-resample");
}

static void seeds_io(struct seed *s)
{
	uint8_t data[256];
	uint32_t db = FZ_DOORBELL_DATA;
	uint64_t db8 = FZ_DOORBELL_DATA;

	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	begin(s, NEG);
	for (uint32_t r = 0; r < 5; r++) {
		rd(s, r, 0, 4);
		rd(s, r, 8, 8);
		wr(s, r, 16, data, 8);
		rd(s, r, 0, 256);
	}
	wr(s, 0, FZ_REG_DOORBELL, &db, 4);
	wr(s, 0, FZ_REG_DOORBELL_DM, &db8, 8);
	wrx(s, WIRE_F_NO_REPLY, 0, 0x40, data, 4);
	rd(s, 1, 0x4000, 16); /* outside the mmap areas: callbacks */
	save(s, "region-io");
	begin(s, NEG);
	{
		uint8_t buf[8 + 3 * 24] = { 3 };
		struct wire_write_one w[3] = {
			{ .offset = 0, .region = 0, .count = 4 },
			{ .offset = FZ_REG_DOORBELL, .region = 0, .count = 4 },
			{ .offset = 0x8000, .region = 1, .count = 8 },
		};

		memcpy(buf + 8, w, sizeof(w));
		msg(s, WIRE_CMD_REGION_WRITE_MULTI, buf, sizeof(buf));
		msgx(s, 0, 0, WIRE_CMD_REGION_WRITE_MULTI, WIRE_F_NO_REPLY, buf,
		     sizeof(buf));
	}
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
	{
		struct wire_feature f = { .argsz = 16, .flags = 0x10001 };
		uint8_t mig[8] = { 16, 0, 0, 0, 8, 0, 0, 0 };

		msg(s, WIRE_CMD_DEVICE_FEATURE, &f, sizeof(f));
		msg(s, WIRE_CMD_MIG_DATA_READ, mig, sizeof(mig));
		msg(s, WIRE_CMD_MIG_DATA_WRITE, data, 16);
	}
	save(s, "multi-reset-feature-mig");
}

static void seeds_dma(struct seed *s)
{
	begin(s, NEG);
	dma_map(s, 0x100000, 0x4000, 0, true, 4);
	dma_map(s, 0x200000, 0x1000, 0x1000, true, 2);
	wr64(s, 0, FZ_REG_DMA_LEN, 255);
	wr64(s, 0, FZ_REG_DMA_SG, 0x100f80);
	wr64(s, 0, FZ_REG_DMA_UNTORN, 0x100ff8);
	wr64(s, 0, FZ_REG_DMA_READ, 0x100010);
	wr64(s, 0, FZ_REG_DMA_WRITE, 0x200000);
	dma_unmap(s, 0x100000, 0x4000, 0);
	dma_unmap(s, 0x300000, 0x1000, 0);
	dma_unmap(s, 0, 0, WIRE_DMA_UNMAP_ALL);
	save(s, "dma-map-fd");
	for (unsigned int policy = 0; policy < 4; policy++) {
		char name[64];

		begin(s, (uint8_t)(NEG | policy << 2));
		dma_map(s, 0x400000, 0x10000, 0, false, 1);
		wr64(s, 0, FZ_REG_DMA_LEN, 63);
		wr64(s, 0, FZ_REG_DMA_READ, 0x400100);
		if (policy == 0) {
			/* The client answers from the input: id 0, spec layout. */
			uint8_t rep[16 + 16 + 64] = { 0 };
			struct wire_hdr h = { .msg_id = 0, .cmd = WIRE_CMD_DMA_READ,
					      .msg_size = sizeof(rep),
					      .flags = WIRE_F_TYPE_REPLY };
			struct wire_dma_access a = { .addr = 0x400100, .count = 64 };

			memcpy(rep, &h, 16);
			memcpy(rep + 16, &a, 16);
			chunk(s, FZ_OP_RUN, 0, rep, sizeof(rep));
		}
		wr64(s, 0, FZ_REG_DMA_WRITE, 0x400200);
		get_info(s);
		snprintf(name, sizeof(name), "dma-map-nofd-reply%u", policy);
		save(s, name);
	}
}

static void seeds_quiesce(struct seed *s)
{
	begin(s, NEG | FZ_CFG_QUIESCE | FZ_CFG_BUSY);
	dma_map(s, 0x100000, 0x1000, 0, true, 1);
	dma_unmap(s, 0x100000, 0x1000, 0); /* held: the device is busy */
	get_info(s);
	action(s, FZ_ACT_QUIESCED, 0);
	action(s, FZ_ACT_BUSY, 0);
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
	save(s, "quiesce-busy-then-confirmed");
	begin(s, NEG | FZ_CFG_QUIESCE | FZ_CFG_BUSY);
	dma_map(s, 0x100000, 0x1000, 0, false, 1);
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0); /* hang up while held */
	save(s, "quiesce-held-at-hangup");
}

/* Replies pile up: tiny socket buffers and a client that stops reading. */
static void seeds_backlog(struct seed *s)
{
	begin(s, NEG | FZ_CFG_TINY_BUF);
	action(s, FZ_ACT_BUSY, 2); /* stop reading */
	for (int i = 0; i < 80; i++)
		rd(s, 2, 0, 0x10000);
	get_info(s);
	action(s, FZ_ACT_BUSY, 2); /* read again */
	get_info(s);
	save(s, "backlog-4mib");
	begin(s, NEG | FZ_CFG_TINY_BUF | FZ_CFG_ABRUPT);
	rd(s, 2, 0, 0x10000);
	rd(s, 1, 0, 0x10000);
	region_info(s, 1, 512);
	save(s, "backlog-then-vanish");
	begin(s, NEG | FZ_CFG_QUIESCE | FZ_CFG_BUSY | FZ_CFG_ABRUPT);
	dma_map(s, 0x100000, 0x1000, 0, true, 1);
	dma_unmap(s, 0x100000, 0x1000, 0);
	get_info(s);
	save(s, "vanish-while-held");
}

/* Device callbacks other than region writes doing message DMA. */
static void seeds_hooks(struct seed *s)
{
	begin(s, NEG | FZ_CFG_REPLY_GOOD);
	dma_map(s, 0x400000, 0x1000, 0, false, 1);
	wr64(s, 0, FZ_REG_HOOK_ADDR, 0x400000);
	wr64(s, 0, FZ_REG_HOOKS, FZ_HOOK_MAP | FZ_HOOK_IRQ_STATE |
	     FZ_HOOK_RESET | FZ_HOOK_UNMAP);
	dma_map(s, 0x500000, 0x1000, 0, true, 1);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 1, 0, 2, 2);
	dma_unmap(s, 0x500000, 0x1000, 0);
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
	save(s, "dma-from-callbacks");
	begin(s, NEG | FZ_CFG_SMALL);
	for (uint64_t i = 0; i < 9; i++)
		dma_map(s, (i + 1) << 20, 0x1000, 0, i & 1, 1);
	save(s, "dma-map-limit");
}

static void seeds_framing(struct seed *s)
{
	struct wire_hdr h = { .msg_id = 7, .cmd = WIRE_CMD_DEVICE_GET_INFO,
			      .msg_size = 32 };
	struct wire_device_info d = { .argsz = 16 };
	uint8_t buf[32];

	memcpy(buf, &h, 16);
	memcpy(buf + 16, &d, 16);
	begin(s, NEG);
	chunk(s, FZ_OP_RUN, 0, buf, 3);
	chunk(s, FZ_OP_RUN, 0, buf + 3, 17);
	chunk(s, FZ_OP_RUN, 0, buf + 20, 12);
	save(s, "pieces");
	begin(s, NEG | FZ_CFG_SMALL);
	{
		static uint8_t big[16 + 9000];
		struct wire_hdr b = { .msg_id = 9, .cmd = WIRE_CMD_REGION_WRITE,
				      .msg_size = sizeof(big) };

		memcpy(big, &b, 16);
		chunk(s, FZ_OP_RUN, 0, big, sizeof(big));
	}
	get_info(s);
	save(s, "oversized-drained");
	begin(s, NEG);
	msgx(s, 0, 0, WIRE_CMD_DMA_READ, WIRE_F_TYPE_REPLY, buf, 16); /* stray */
	msgx(s, 0, 0, WIRE_CMD_DEVICE_GET_INFO, 7, &d, sizeof(d)); /* bad type */
	msgx(s, 2 | FZ_FD_PIPE << FZ_OP_KIND_SHIFT, 0, WIRE_CMD_DEVICE_GET_INFO,
	     0, &d, sizeof(d)); /* fds nobody asked for */
	h.msg_size = 15;
	memcpy(buf, &h, 16);
	chunk(s, FZ_OP_RUN, 0, buf, 16); /* msg_size < 16: hang-up */
	save(s, "broken");
}

/* PCI: config space, BARs, MSI and MSI-X through region I/O. */
static void seeds_pci(struct seed *s)
{
	uint16_t cmd = 0x0006; /* memory, bus master */
	uint16_t msi_ctl = 0x0001, msix_ctl = 0x8000;
	uint8_t entry[16] = { 0, 0, 0xe0, 0xfe, 0, 0, 0, 0, 0x41, 0, 0, 0, 0 };
	uint32_t bar = 0xffffffff, rombar = 0xfffff800;

	begin(s, NEG);
	get_info(s);
	rd(s, 7, 0, 256);
	rd(s, 7, 0, 4096);
	wr(s, 7, 4, &cmd, 2);
	wr(s, 7, 0x10, &bar, 4);
	rd(s, 7, 0x10, 4);
	wr(s, 7, 0x30, &rombar, 4);
	rd(s, 7, 0x30, 4);
	rd(s, 6, 0, 4096);
	for (uint32_t off = 0x40; off < 0x100; off += 4)
		rd(s, 7, off, 4);
	for (uint32_t off = 0x100; off < 0x140; off += 4)
		rd(s, 7, off, 4);
	save(s, "pci-config");
	begin(s, NEG);
	wr(s, 7, 4, &cmd, 2);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 1, 0, 4, 4);
	/* MSI enable: the capability sits after PM (0x40) at 0x48. */
	wr(s, 7, 0x4a, &msi_ctl, 2);
	wr64(s, 0, FZ_REG_IRQ, 0x3);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_NONE, 1, 0, 0, 0);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 2, 0, 4, 4);
	wr(s, 7, 0x62, &msix_ctl, 2);
	wr(s, 2, 0, entry, 16);
	wr(s, 2, 12, "\0\0\0\0", 4);
	wr64(s, 0, FZ_REG_IRQ, 0x8);
	rd(s, 2, 0x1000, 8);
	action(s, FZ_ACT_SIGNAL, 0x1f);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 0, 0, 1, 1);
	set_irqs(s, UNMASK | WIRE_IRQ_DATA_EVENTFD, 0, 0, 1, 1);
	cmd = 0x0406;
	wr(s, 7, 4, &cmd, 2);
	wr64(s, 0, FZ_REG_IRQ, 0x4);
	cmd = 0x0006;
	wr(s, 7, 4, &cmd, 2);
	rd(s, 1, 0, 4);
	wr(s, 1, 0, &cmd, 2);
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
	save(s, "pci-irqs");
}

/* Per-vector masks: raised while masked, delivered on unmask. */
static void seeds_pci_masks(struct seed *s)
{
	uint16_t cmd = 0x0006, msi_ctl = 0x0001, msix_ctl = 0x8000;
	uint8_t entry[16] = { 0, 0, 0xe0, 0xfe, 0, 0, 0, 0, 0x41, 0, 0, 0, 0 };

	begin(s, NEG);
	wr(s, 7, 4, &cmd, 2);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 1, 0, 4, 4);
	wr(s, 7, 0x4a, &msi_ctl, 2);
	wr(s, 7, 0x58, "\x01\0\0\0", 4);  /* MSI mask, vector 0 */
	wr64(s, 0, FZ_REG_IRQ, 0x0);
	rd(s, 7, 0x5c, 4);                  /* pending */
	wr(s, 7, 0x58, "\0\0\0\0", 4);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_NONE, 1, 0, 0, 0);
	msi_ctl = 0;
	wr(s, 7, 0x4a, &msi_ctl, 2);
	set_irqs(s, TRIG | WIRE_IRQ_DATA_EVENTFD, 2, 0, 2, 2);
	wr(s, 7, 0x62, &msix_ctl, 2);
	wr(s, 2, 0, entry, 16);
	wr(s, 2, 12, "\x01\0\0\0", 4);   /* MSI-X vector 0 masked */
	wr64(s, 0, FZ_REG_IRQ, 0x0);
	rd(s, 2, 0x1000, 8);                /* PBA */
	wr(s, 2, 12, "\0\0\0\0", 4);
	msix_ctl = 0xc000;                  /* function mask */
	wr(s, 7, 0x62, &msix_ctl, 2);
	wr64(s, 0, FZ_REG_IRQ, 0x0);
	msix_ctl = 0x8000;
	wr(s, 7, 0x62, &msix_ctl, 2);
	save(s, "pci-masks");
}

/* Migration (fuzz_dev_mig.c). Feature numbers and flags of the protocol. */
#define F_GET 0x10000u
#define F_SET 0x20000u
#define F_PROBE 0x40000u
#define ST_STOP 1u
#define ST_RUNNING 2u
#define ST_STOP_COPY 3u
#define ST_RESUMING 4u
#define ST_PRE_COPY 6u

static void feature(struct seed *s, uint32_t flags, uint32_t argsz,
		    const void *p, size_t n)
{
	uint8_t buf[8 + 512];
	struct wire_feature f = { .argsz = argsz, .flags = flags };

	memcpy(buf, &f, sizeof(f));
	if (n > 0)
		memcpy(buf + 8, p, n);
	msg(s, WIRE_CMD_DEVICE_FEATURE, buf, 8 + n);
}

static void set_state(struct seed *s, uint32_t st)
{
	uint32_t v[2] = { st, 0 };

	feature(s, F_SET | 2, 16, v, sizeof(v));
}

static void mig_read(struct seed *s, uint32_t size)
{
	uint32_t q[2] = { 8 + size, size };

	msg(s, WIRE_CMD_MIG_DATA_READ, q, sizeof(q));
}

static void mig_write(struct seed *s, const uint8_t *p, size_t n)
{
	uint8_t buf[8 + 4096];

	for (size_t off = 0; off < n; off += 4096) {
		uint32_t k = (uint32_t)MIN((size_t)4096, n - off);
		uint32_t q[2] = { 8 + k, k };

		memcpy(buf, q, sizeof(q));
		memcpy(buf + 8, p + off, k);
		msg(s, WIRE_CMD_MIG_DATA_WRITE, buf, 8 + k);
	}
}

/* CRC32C, bitwise: the seeds must carry a stream the server accepts. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
	}
	return ~c;
}

struct sbuf {
	uint8_t p[16384];
	size_t len;
};

static void sput(struct sbuf *b, const void *p, size_t n)
{
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void sput32(struct sbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	sput(b, x, 4);
}

static void srecord(struct sbuf *b, const char *name, uint32_t version,
		    const void *data, uint32_t n)
{
	uint8_t kind = 1, nl = (uint8_t)strlen(name);

	sput(b, &kind, 1);
	sput(b, &nl, 1);
	sput(b, name, nl);
	sput32(b, version);
	sput32(b, n);
	sput(b, data, n);
}

/*
 * A whole stream for the SysBus fuzz device (identity "generic", compat
 * 1): fz.regs of @regs_version with page 0 split over two records, as
 * pre-copy would send it, and fz.ctrl.
 */
static void build_stream(struct sbuf *b, uint32_t regs_version)
{
	static uint8_t regs[4 * 1026 + 2], ctrl[1 + 256 + 4];
	uint32_t h = 2166136261u;
	uint16_t idlen = 7;
	uint8_t end = 2;
	size_t n = 0;

	b->len = 0;
	sput(b, "VUSMIG\0\1", 8);
	sput32(b, 1);
	sput32(b, 1);
	sput(b, &idlen, 2);
	sput(b, "generic", 7);
	for (unsigned int i = 0; i < 4; i++) {
		regs[n++] = 1;
		regs[n++] = (uint8_t)i;
		memset(regs + n, (int)(0x10 + i), 1024);
		n += 1024;
	}
	if (regs_version >= 2) {
		regs[n++] = 2;
		regs[n++] = 4;
	}
	srecord(b, "fz.regs", regs_version, regs, 100);
	srecord(b, "fz.regs", regs_version, regs + 100, (uint32_t)n - 100);
	ctrl[0] = 3;
	for (unsigned int i = 0; i < 256; i++) {
		ctrl[1 + i] = (uint8_t)(i * 7);
		h = (h ^ ctrl[1 + i]) * 16777619u;
	}
	memcpy(ctrl + 257, &h, 4);
	srecord(b, "fz.ctrl", 1, ctrl, sizeof(ctrl));
	sput(b, &end, 1);
	sput32(b, crc32c(b->p, b->len));
}

/* Save with pre-copy, dirty a page, stop-copy; then resume what was read. */
static void seed_mig_cycle(struct seed *s, uint8_t cfg, bool direct,
			   const char *name)
{
	begin(s, cfg);
	feature(s, F_GET | 1, 16, NULL, 0);
	feature(s, F_GET | 2, 16, NULL, 0);
	if (!direct) {
		set_state(s, ST_PRE_COPY);
		feature(s, F_GET | 9, 16, NULL, 0);
		for (int i = 0; i < 3; i++)
			mig_read(s, 2048);
		wr64(s, 0, 0x10, 0x1122334455667788ull); /* page 0 again */
		mig_read(s, 4096);
		mig_read(s, 4096);
	}
	set_state(s, ST_STOP_COPY);
	feature(s, F_GET | 9, 16, NULL, 0);
	for (int i = 0; i < 4; i++)
		mig_read(s, 4096);
	set_state(s, direct ? ST_RESUMING : ST_STOP);
	set_state(s, ST_RESUMING);
	action(s, FZ_ACT_BUSY, 4); /* write the stream back */
	set_state(s, direct ? ST_RUNNING : ST_STOP);
	set_state(s, ST_RUNNING);
	rd(s, 0, 0x10, 8);
	save(s, name);
}

static void seeds_mig_states(struct seed *s)
{
	begin(s, NEG);
	feature(s, F_GET | F_PROBE | 1, 8, NULL, 0);
	feature(s, F_SET | F_PROBE | 2, 8, NULL, 0);
	feature(s, F_GET | 1, 8, NULL, 0);           /* argsz too small */
	feature(s, F_GET | F_SET | 2, 16, NULL, 0);  /* both */
	feature(s, F_GET | 5, 16, NULL, 0);          /* unknown */
	set_state(s, ST_STOP);
	set_state(s, ST_PRE_COPY);                   /* unreachable */
	set_state(s, ST_RESUMING);
	mig_write(s, (const uint8_t *)"VUSMIG\0\1garbage", 16);
	set_state(s, ST_RUNNING);                    /* refused: ERROR */
	feature(s, F_GET | 2, 16, NULL, 0);
	set_state(s, ST_RUNNING);                    /* ERROR stays */
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
	feature(s, F_GET | 2, 16, NULL, 0);
	save(s, "mig-states-and-refusals");
	/* Saving fails in save() and in save_live(). */
	for (uint8_t bad = FZ_MIG_SAVE_FAIL; bad <= FZ_MIG_LIVE_FAIL; bad++) {
		char name[64];

		begin(s, NEG);
		wr(s, 0, FZ_REG_MIG, &bad, 1);
		set_state(s, ST_PRE_COPY);
		mig_read(s, 4096);
		set_state(s, ST_STOP_COPY);
		mig_read(s, 4096);
		msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
		feature(s, F_GET | 2, 16, NULL, 0);
		snprintf(name, sizeof(name), "mig-save-fails-%u", bad);
		save(s, name);
	}
	/* The device busy when asked to stop; the client leaves mid-save. */
	begin(s, NEG | FZ_CFG_QUIESCE | FZ_CFG_BUSY | FZ_CFG_ABRUPT);
	set_state(s, ST_STOP_COPY);
	feature(s, F_GET | 2, 16, NULL, 0);
	action(s, FZ_ACT_QUIESCED, 0);
	mig_read(s, 1024);
	save(s, "mig-busy-then-vanish");
	/* The state callback does message DMA. */
	{
		uint8_t v = FZ_MIG_STATE_DMA;

		begin(s, NEG | FZ_CFG_REPLY_GOOD);
		dma_map(s, 0x400000, 0x1000, 0, false, 1);
		wr64(s, 0, FZ_REG_HOOK_ADDR, 0x400000);
		wr(s, 0, FZ_REG_MIG, &v, 1);
		set_state(s, ST_STOP);
		set_state(s, ST_RUNNING);
		save(s, "mig-state-cb-dma");
	}
}

static void seeds_mig_resume(struct seed *s)
{
	static struct sbuf b;

	for (uint32_t v = 1; v <= 2; v++) {
		char name[64];

		build_stream(&b, v);
		begin(s, NEG);
		set_state(s, ST_RESUMING);
		mig_write(s, b.p, b.len);
		set_state(s, ST_RUNNING);
		rd(s, 0, 0x10, 8);
		set_state(s, ST_STOP_COPY);
		mig_read(s, 8192);
		snprintf(name, sizeof(name), "mig-resume-built-v%u", v);
		save(s, name);
	}
	/* The same stream cut short and past the size limit. */
	build_stream(&b, 2);
	begin(s, NEG);
	set_state(s, ST_RESUMING);
	mig_write(s, b.p, b.len - 1);
	set_state(s, ST_STOP);
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);
	set_state(s, ST_RESUMING);
	for (int i = 0; i < 3; i++) /* past FZ_MIG_MAX_STREAM (EFBIG) */
		mig_write(s, b.p, b.len);
	set_state(s, ST_STOP);
	save(s, "mig-resume-short-and-long");
}

static void seeds_mig_dirty(struct seed *s)
{
	uint8_t start[16 + 16] = { 0 };
	uint64_t ps = 4096, rep[3] = { 0x100000, 0x4000, 4096 };
	uint32_t one = 1;
	uint64_t r0[2] = { 0x100000, 0x4000 };

	memcpy(start, &ps, 8);
	memcpy(start + 8, &one, 4);
	memcpy(start + 16, r0, 16);
	begin(s, NEG);
	dma_map(s, 0x100000, 0x4000, 0, true, 4);
	feature(s, F_SET | 6, 8 + sizeof(start), start, sizeof(start));
	wr64(s, 0, FZ_REG_DMA_LEN, 255);
	wr64(s, 0, FZ_REG_DMA_WRITE, 0x100ff0);
	wr64(s, 0, FZ_REG_DMA_SG, 0x102000);
	wr64(s, 0, FZ_REG_DMA_UNTORN, 0x103000);
	feature(s, F_GET | 8, 8 + 24 + 8, rep, sizeof(rep));
	rep[2] = 8192;
	feature(s, F_GET | 8, 8 + 24 + 8, rep, sizeof(rep));
	dma_map(s, 0x200000, 0x1000, 0, true, 1); /* mapped while logging */
	wr64(s, 0, FZ_REG_DMA_WRITE, 0x200000);
	rep[0] = 0;
	rep[1] = 0x400000;
	rep[2] = 4096;
	feature(s, F_GET | 8, 8 + 24 + 128, rep, sizeof(rep));
	dma_unmap(s, 0x100000, 0x4000, 0);
	feature(s, F_SET | 6, 8 + sizeof(start), start, sizeof(start)); /* again */
	feature(s, F_SET | 7, 8, NULL, 0);
	feature(s, F_GET | 8, 8 + 24 + 128, rep, sizeof(rep)); /* off */
	save(s, "mig-dirty-logging");
	begin(s, NEG);
	dma_map(s, 0x100000, 0x4000, 0, true, 4);
	memcpy(start + 8, (uint32_t[]){ 0 }, 4);
	feature(s, F_SET | 6, 8 + 16, start, 16); /* no ranges: everything */
	wr64(s, 0, FZ_REG_DMA_WRITE, 0x100000);
	set_state(s, ST_STOP_COPY);
	rep[0] = 0x100000;
	rep[1] = 0x4000;
	feature(s, F_GET | 8, 8 + 24 + 8, rep, sizeof(rep));
	msg(s, WIRE_CMD_DEVICE_RESET, NULL, 0);   /* logging ends too */
	feature(s, F_GET | 8, 8 + 24 + 8, rep, sizeof(rep));
	save(s, "mig-dirty-then-reset");
	/* Two ranges, then two that overlap (refused). */
	{
		uint8_t two[16 + 32] = { 0 };
		uint32_t n2 = 2;
		uint64_t r2[4] = { 0x100000, 0x1000, 0x102000, 0x2000 };

		memcpy(two, &ps, 8);
		memcpy(two + 8, &n2, 4);
		memcpy(two + 16, r2, 32);
		begin(s, NEG);
		dma_map(s, 0x100000, 0x4000, 0, true, 4);
		feature(s, F_SET | 6, 8 + sizeof(two), two, sizeof(two));
		feature(s, F_SET | 7, 8, NULL, 0);
		r2[2] = 0x100000;
		memcpy(two + 16, r2, 32);
		feature(s, F_SET | 6, 8 + sizeof(two), two, sizeof(two));
		save(s, "mig-dirty-two-ranges");
	}
	/* Found by fuzz_engine: a mapping without fd too big to track. */
	begin(s, NEG);
	feature(s, F_SET | 6, 8 + 16, start, 16);
	dma_map(s, 1ull << 62, 1ull << 62, 0, false, 1);
	dma_map(s, 0x100000, 0x1000, 0, false, 1);
	feature(s, F_SET | 7, 8, NULL, 0);
	dma_map(s, 1ull << 62, 1ull << 62, 0, false, 1);
	feature(s, F_SET | 6, 8 + 16, start, 16);
	save(s, "mig-dirty-huge-map");
}

static void seeds_mig(struct seed *s, bool pci)
{
	seed_mig_cycle(s, NEG, false, "mig-precopy-cycle");
	seed_mig_cycle(s, NEG | FZ_CFG_SMALL, true, "mig-stopcopy-cycle-small");
	seed_mig_cycle(s, NEG | FZ_CFG_QUIESCE, false, "mig-precopy-quiesce");
	seeds_mig_states(s);
	seeds_mig_dirty(s);
	if (!pci)
		seeds_mig_resume(s);
}

static void gen_engine(bool pci)
{
	struct seed *s = malloc(sizeof(*s));

	if (s == NULL)
		exit(1);
	seeds_negotiation(s);
	seeds_info(s);
	seeds_irqs(s);
	seeds_io(s);
	seeds_dma(s);
	seeds_quiesce(s);
	seeds_framing(s);
	seeds_backlog(s);
	seeds_hooks(s);
	seeds_mig(s, pci);
	if (pci) {
		seeds_pci(s);
		seeds_pci_masks(s);
	}
	free(s);
}

/* fuzz_wire: selector byte, then the target's input. */
static void wire_seed(uint8_t sel, const void *p, size_t n, const char *name)
{
	struct seed *s = malloc(sizeof(*s));

	if (s == NULL)
		exit(1);
	s->len = 0;
	put(s, &sel, 1);
	put(s, p, n);
	save(s, name);
	free(s);
}

static void gen_wire(void)
{
	static const char *const docs[] = {
		qemu_json, "{}", "{\"capabilities\":{}}",
		"{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,"
		"\"pgsizes\":4096,\"max_dma_maps\":65535}}",
		"{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}",
		"{\"capabilities\":{\"max_msg_fds\":1099511627776}}",
		"[1,2,{\"a\":\"b\\u0000\"}]",
	};
	char name[64];
	uint8_t buf[512];

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		size_t n = strlen(docs[i]) + 1;

		memset(buf, 0, 4);
		memcpy(buf + 4, docs[i], n);
		snprintf(name, sizeof(name), "version-%zu", i);
		wire_seed(0, buf, 4 + n, name);
		snprintf(name, sizeof(name), "json-%zu", i);
		wire_seed(1, docs[i], n - 1, name);
	}
	for (uint32_t f = 0; f < 9; f++) {
		uint32_t flags = (1u << (f % 3)) | (8u << (f / 3));
		struct wire_irq_set q = { .argsz = 20, .flags = flags, .index = 1,
					  .start = 1, .count = 2 };
		uint32_t tail[3] = { 4, 0x7, 20 + ((flags & 2) ? 2 : 0) };

		memcpy(buf, &q, 20);
		memcpy(buf + 20, tail, 12);
		buf[32] = (flags & 4) ? 2 : 0;
		snprintf(name, sizeof(name), "irq-set-%u", f);
		wire_seed(2, buf, 33, name);
	}
	{
		struct wire_hdr h = { .msg_id = 3, .cmd = 9, .msg_size = 32 };
		uint32_t tail[3] = { 8192, 16, 0 };

		memcpy(buf, &h, 16);
		memcpy(buf + 16, tail, 12);
		wire_seed(3, buf, 28, "hdr");
	}
	for (uint16_t cmd = 0; cmd <= 20; cmd++) {
		uint8_t p[6 + 64] = { 0 };

		memcpy(p, &cmd, 2);
		p[2] = 3;                  /* negotiated, small transfers */
		p[3] = 16;                 /* fds allowed */
		memset(p + 6, 0, 64);
		p[6] = 64;                 /* argsz */
		snprintf(name, sizeof(name), "cmd-%u", cmd);
		wire_seed(4, p, 6 + 32, name);
	}
}

/* fuzz_client: client calls and the server's answers, well-formed. */
static void cstep(struct seed *s, unsigned int op, uint8_t a, uint32_t b)
{
	uint8_t x[FC_STEP_LEN] = { (uint8_t)op, a };

	memcpy(x + 2, &b, 4);
	put(s, x, sizeof(x));
}

static void creply(struct seed *s, uint8_t kind, const void *p, size_t n)
{
	uint8_t h[FC_REPLY_HDR] = { kind, (uint8_t)n, (uint8_t)(n >> 8) };

	put(s, h, sizeof(h));
	put(s, p, n);
}

/* A DEVICE_FEATURE reply: argsz, the request's flags, then @p. */
static void cfeat(struct seed *s, uint32_t flags, const void *p, size_t n)
{
	uint8_t buf[8 + 256];
	struct wire_feature f = { .argsz = (uint32_t)(8 + n), .flags = flags };

	memcpy(buf, &f, 8);
	memcpy(buf + 8, p, n);
	creply(s, FC_K_REPLY, buf, 8 + n);
}

static void cstate(struct seed *s, uint32_t st)
{
	uint32_t v[2] = { st, 0 };

	cfeat(s, F_SET | 2, v, sizeof(v));
}

static void client_info(struct seed *s)
{
	struct wire_device_info di = { 16, 0x2, 9, 5 };
	struct wire_irq_info ii = { 16, WIRE_IRQ_EVENTFD | WIRE_IRQ_MASKABLE, 1, 4 };
	struct wire_region_access ra = { .offset = 0, .region = 0, .count = 8 };
	uint8_t ri[32 + 16 + 32 + 16] = { 0 };
	struct wire_region_info r = { .argsz = sizeof(ri),
		.flags = WIRE_REGION_READ | WIRE_REGION_WRITE | WIRE_REGION_MMAP |
			 WIRE_REGION_CAPS,
		.index = 2, .cap_offset = 32, .size = 0x10000 };
	struct wire_cap_sparse_mmap sp = { { WIRE_REGION_CAP_SPARSE_MMAP, 1, 80 }, 2, 0 };
	struct wire_sparse_area areas[2] = { { 0, 0x4000 }, { 0x8000, 0x4000 } };
	struct wire_cap_type ty = { { WIRE_REGION_CAP_TYPE, 1, 0 }, 0x80001af4u, 7 };
	uint8_t rd[16 + 8] = { 0 };

	memcpy(ri, &r, 32);
	memcpy(ri + 32, &sp, 16);
	memcpy(ri + 48, areas, 32);
	memcpy(ri + 80, &ty, 16);
	memcpy(rd, &ra, 16);
	memset(rd + 16, 0xab, 8);
	begin(s, FC_CFG_AUTO_VERSION);
	cstep(s, FC_OP_DEVICE_INFO, 0, 0);
	creply(s, FC_K_REPLY, &di, sizeof(di));
	cstep(s, FC_OP_REGION_INFO, 2, 0);
	creply(s, FC_K_REPLY | FC_F_FD, ri, sizeof(ri));
	cstep(s, FC_OP_IRQ_INFO, 1, 0);
	creply(s, FC_K_REPLY, &ii, sizeof(ii));
	cstep(s, FC_OP_REGION_READ, 0, 8);
	creply(s, FC_K_REPLY, rd, sizeof(rd));
	cstep(s, FC_OP_REGION_WRITE, 0, 8);
	creply(s, FC_K_REPLY, &ra, sizeof(ra));
	cstep(s, FC_OP_RESET, 0, 0);
	creply(s, FC_K_REPLY, NULL, 0);
	cstep(s, FC_OP_IRQ_ENABLE, 0x21, 0);
	creply(s, FC_K_REPLY, NULL, 0);
	save(s, "client-info");
	/* The same answers, each a little wrong. */
	begin(s, FC_CFG_AUTO_VERSION | FC_CFG_SMALL);
	cstep(s, FC_OP_DEVICE_INFO, 0, 0);
	creply(s, FC_K_REPLY | FC_F_STALE, &di, sizeof(di));
	creply(s, FC_K_REPLY | FC_F_ALT, &di, sizeof(di));
	cstep(s, FC_OP_REGION_INFO, 2, 0);
	ri[36] = 0x60; /* the chain points at itself */
	creply(s, FC_K_REPLY, ri, sizeof(ri));
	cstep(s, FC_OP_IRQ_INFO, 1, 0);
	creply(s, FC_K_ERROR, (uint32_t[]){ EINVAL }, 4);
	cstep(s, FC_OP_REGION_READ, 0, 8);
	creply(s, FC_K_REPLY | FC_F_SILENT, NULL, 0);
	cstep(s, FC_OP_RAW_REQUEST, WIRE_CMD_DEVICE_GET_INFO, 16);
	creply(s, FC_K_REPLY | FC_F_FD, &di, sizeof(di));
	save(s, "client-info-wrong");
}

static void client_mig(struct seed *s)
{
	uint64_t flags = 7, size = 100;
	uint32_t st[2] = { 2, 0 };
	uint8_t data[8 + 100];
	uint32_t q[2] = { 8 + 100, 100 }, q0[2] = { 8, 0 };

	memcpy(data, q, 8);
	memset(data + 8, 0x5a, 100);
	begin(s, FC_CFG_AUTO_VERSION);
	cstep(s, FC_OP_MIG_FLAGS, 0, 0);
	cfeat(s, F_GET | 1, &flags, 8);
	cstep(s, FC_OP_MIG_GET_STATE, 0, 0);
	cfeat(s, F_GET | 2, st, 8);
	cstep(s, FC_OP_MIG_DATA_SIZE, 0, 0);
	cfeat(s, F_GET | 9, &size, 8);
	cstep(s, FC_OP_MIG_SAVE, 0, 0);
	cstate(s, ST_STOP_COPY);
	creply(s, FC_K_REPLY, data, sizeof(data));
	creply(s, FC_K_REPLY, q0, sizeof(q0));
	cstate(s, ST_STOP);
	cstep(s, FC_OP_MIG_LOAD, 0, 100);
	cstate(s, ST_RESUMING);
	creply(s, FC_K_REPLY, NULL, 0);
	cstate(s, ST_STOP);
	cstate(s, ST_RUNNING);
	cstep(s, FC_OP_MIG_READ, 0, 200);
	creply(s, FC_K_REPLY, data, sizeof(data));
	cstep(s, FC_OP_MIG_WRITE, 0, 16);
	creply(s, FC_K_REPLY, NULL, 0);
	cstep(s, FC_OP_MIG_SET_STATE, ST_PRE_COPY, 0);
	cstate(s, ST_PRE_COPY);
	save(s, "client-mig");
	/* Lies: a state other than asked, a size over the buffer, errors. */
	begin(s, FC_CFG_AUTO_VERSION | FC_CFG_SMALL);
	cstep(s, FC_OP_MIG_SET_STATE, ST_STOP, 0);
	cstate(s, ST_RUNNING);
	cstep(s, FC_OP_MIG_READ, 0, 50);
	creply(s, FC_K_REPLY, data, sizeof(data));
	cstep(s, FC_OP_MIG_SAVE, 0, 0);
	cstate(s, ST_STOP_COPY);
	creply(s, FC_K_ERROR, (uint32_t[]){ EIO }, 4);
	cstep(s, FC_OP_MIG_LOAD, 0, 5000);
	cstate(s, ST_RESUMING);
	creply(s, FC_K_REPLY, NULL, 0);
	creply(s, FC_K_ERROR, (uint32_t[]){ EFBIG }, 4);
	save(s, "client-mig-lies");
}

static void client_dirty(struct seed *s)
{
	uint8_t echo[16 + 16] = { 0 };
	uint64_t ps = 4096, r[2] = { 0x100000, 0x4000 };
	uint32_t one = 1;
	uint8_t rep[24 + 8];
	uint64_t q[3] = { 0x100000, 64 * 4096, 4096 }, bits = 0x8001;

	memcpy(echo, &ps, 8);
	memcpy(echo + 8, &one, 4);
	memcpy(echo + 16, r, 16);
	memcpy(rep, q, 24);
	memcpy(rep + 24, &bits, 8);
	begin(s, FC_CFG_AUTO_VERSION);
	cstep(s, FC_OP_DIRTY_START, 1, 0);
	cfeat(s, F_SET | 6, echo, sizeof(echo));
	cstep(s, FC_OP_DIRTY_REPORT, 0, 63);
	cfeat(s, F_GET | 8, rep, sizeof(rep));
	cstep(s, FC_OP_DIRTY_STOP, 0, 0);
	cfeat(s, F_SET | 7, NULL, 0);
	cstep(s, FC_OP_DIRTY_REPORT, 0, 63);
	cfeat(s, F_GET | 8, rep, 24); /* no bitmap */
	save(s, "client-dirty");
}

static void client_dma(struct seed *s)
{
	struct wire_device_info di = { 16, 0x2, 9, 5 };
	struct wire_dma_access rd = { 0x100000, 16 };
	uint8_t wr[16 + 4] = { 0 };
	struct wire_dma_access w = { 0x100010, 4 };
	struct wire_dma_access bad = { 0x0fff00, 0x200 };

	memcpy(wr, &w, 16);
	begin(s, FC_CFG_AUTO_VERSION);
	cstep(s, FC_OP_DMA_MAP_MEM, 0, 0);
	creply(s, FC_K_REPLY, NULL, 0);
	cstep(s, FC_OP_DMA_MAP_MEMFD, 0, 0);
	creply(s, FC_K_REPLY, NULL, 0);
	cstep(s, FC_OP_DEVICE_INFO, 0, 0);
	creply(s, FC_K_REQUEST, &rd, sizeof(rd));
	creply(s, FC_K_REQUEST | FC_F_ALT, wr, sizeof(wr));
	creply(s, FC_K_REQUEST, &bad, sizeof(bad));
	creply(s, FC_K_REPLY, &di, sizeof(di));
	cstep(s, FC_OP_DMA_UNMAP_ALL, 0, 0);
	creply(s, FC_K_REPLY, NULL, 0);
	save(s, "client-dma-requests");
}

static void client_version(struct seed *s)
{
	static const char json[] =
		"{\"capabilities\":{\"max_msg_fds\":4,\"max_data_xfer_size\":4096,"
		"\"pgsizes\":4096,\"max_dma_maps\":16,\"write_multiple\":true}}";
	uint8_t v[4 + sizeof(json)] = { 0 };
	struct wire_device_info di = { 16, 0x4, 2, 1 };

	memcpy(v + 4, json, sizeof(json));
	begin(s, 0);
	creply(s, FC_K_REPLY, v, sizeof(v));
	cstep(s, FC_OP_DEVICE_INFO, 0, 0);
	creply(s, FC_K_REPLY, &di, sizeof(di));
	cstep(s, FC_OP_SYSBUS_DESC, 0, 0);
	save(s, "client-version");
	begin(s, 0);
	creply(s, FC_K_REPLY | FC_F_FD, v, sizeof(v));
	save(s, "client-version-with-fd");
	/* Found by this target: an empty VERSION reply (a NULL payload) met
	 * pointer arithmetic before its length check (UBSan). */
	begin(s, 0);
	creply(s, FC_K_REPLY, NULL, 0);
	save(s, "client-version-empty");
}

static void gen_client(void)
{
	struct seed *s = malloc(sizeof(*s));

	if (s == NULL)
		exit(1);
	client_info(s);
	client_mig(s);
	client_dirty(s);
	client_dma(s);
	client_version(s);
	free(s);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen_corpus engine|pci|wire|client DIR\n");
		return 2;
	}
	outdir = argv[2];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		perror(outdir);
		return 1;
	}
	if (strcmp(argv[1], "engine") == 0)
		gen_engine(false);
	else if (strcmp(argv[1], "pci") == 0)
		gen_engine(true);
	else if (strcmp(argv[1], "wire") == 0)
		gen_wire();
	else if (strcmp(argv[1], "client") == 0)
		gen_client();
	else
		return 2;
	printf("gen_corpus: %u seeds in %s\n", nwritten, outdir);
	return 0;
}
