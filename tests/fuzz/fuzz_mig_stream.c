/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_mig_stream: the destination's side of migration. Each input is a
 * stream written into a RESUMING device, which then leaves RESUMING: the
 * stream parser (framing, header, records, CRC), the identity and
 * compatibility checks, gathering records into sections, and the check()
 * and load() of the sections a real device has:
 *
 *   0  gpio-pci: libvus's "pci" section (a conventional PCI function with
 *      an I/O BAR and INTx) and the sample's "idio16", with a 64-byte
 *      memory budget: sections past it are spilled to /var/tmp files
 *   1  sysbus-uart: the sample's "uart16550" (registers, latches, FIFOs)
 *   2  the PCI fuzz device: "pci" with PM, MSI, MSI-X, Express and
 *      extended capabilities, then "fz.regs" (v1 and v2) and "fz.ctrl"
 *   3  the SysBus fuzz device: "fz.regs" and "fz.ctrl"
 *
 * Input: u8 config (bits 0-1 the device, bits 2-3 the mode), then
 *
 *   mode 0  the whole stream, as it is
 *   mode 1  the stream without its end record; the harness appends the
 *           end record with the right CRC32C
 *   mode 2  records only: (u8 section | u8 version | u16le length | data)*,
 *           section < 0x80 picks one of the device's sections by index,
 *           otherwise a name follows (u8 length | bytes); the harness
 *           writes the device's own header, each record's framing and the
 *           end record with its CRC
 *   mode 3  as mode 2 after a header from the input (u32 compat | u8
 *           identity length | identity)
 *
 * Why the fix-ups: a stream ends in a CRC32C of all its bytes, and a
 * mutated input matches it once in 2^32 tries, so without them every
 * mutation would stop at the CRC and no section's check() would ever see
 * fuzzed data. Mode 0 keeps the CRC and framing checks themselves fuzzed.
 *
 * Properties checked, beyond "no crash, leak, fd leak":
 *   - a refused stream leaves the device in ERROR with every section's
 *     state exactly as before (what save() writes is unchanged);
 *   - an accepted stream leaves it RUNNING; the device then uses the
 *     loaded state (pending interrupts delivered, registers read, FIFO
 *     bytes moved), and what it saves loads again and saves back byte
 *     for byte the same (a fixed point).
 *
 * FUZZ_MIG_SEEDS=DIR makes the binary write its seeds (each device's own
 * saved stream in every mode) into DIR and exit: the build runs it so.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fuzz_dev.h"
#include "fuzz_input.h"
#include "idio16.h"
#include "mig.h"
#include "mig_priv.h"
#include "mig_stream.h"
#include "pci_priv.h"
#include "port.h"
#include "fuzz_util.h"
#include "vus/client_mig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NR_KINDS 4
#define STREAM_MAX (256u << 10)
#define PIECE 3000 /* MIG_DATA_WRITE-sized appends, not a round number */

struct target {
	int kind;
	vus_ctx *ctx;
	struct migration *m;
	struct idio16 gpio;
	struct port uart;
	struct fdev fdev;
};

static uint8_t stream[STREAM_MAX];

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_mig_stream: %s\n", what);
	abort();
}

static void discard_log(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
}

static int create_sample(struct target *t)
{
	struct vus_ctx_config cfg = {
		.struct_size = sizeof(cfg), .name = "fuzz-mig",
		.bus = t->kind == 0 ? VUS_BUS_PCI : VUS_BUS_SYSBUS,
	};
	const struct port_config pc = { .clock_hz = 1843200, .speed = 115200,
					.base = VUS_SYSBUS_NO_BASE };
	/* The card stages all but the smallest sections on disk, so the
	 * spill path meets hostile streams too; the UART stays in memory. */
	const struct vus_mig_config mc = { .struct_size = sizeof(mc),
		.compat_version = 1, .stage_dir = t->kind == 0 ? "/var/tmp" : NULL,
		.stage_mem_max = 64 };
	int ret = vus_ctx_create(&cfg, &t->ctx);

	if (ret < 0)
		return ret;
	vus_ctx_set_log(t->ctx, VUS_LOG_DEBUG, discard_log, NULL);
	if (t->kind == 0) {
		memset(&t->gpio, 0, sizeof(t->gpio));
		ret = idio16_setup(&t->gpio, t->ctx);
		ret = ret ? ret : idio16_mig_setup(&t->gpio, &mc);
	} else {
		ret = port_setup(&t->uart, t->ctx, &pc);
		ret = ret ? ret : port_mig_setup(&t->uart, &mc);
	}
	return ret ? ret : vus_ctx_realize(t->ctx);
}

static void destroy(struct target *t)
{
	if (t->kind >= 2) {
		fdev_destroy(&t->fdev);
		return;
	}
	if (t->kind == 1)
		port_teardown(&t->uart);
	vus_ctx_destroy(t->ctx);
	t->ctx = NULL;
}

static int create(struct target *t, int kind)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->uart.timer_fd = -1;
	if (kind >= 2) {
		struct fdev_opts o = { .pci = kind == 2 };

		ret = fdev_create(&t->fdev, &o);
		t->ctx = t->fdev.ctx;
	} else {
		ret = create_sample(t);
		if (ret < 0)
			destroy(t);
	}
	if (ret < 0)
		return ret;
	t->m = mig_of(t->ctx);
	return t->m ? 0 : -EINVAL;
}

/* What every section's save() writes now: the device's whole state. */
static int snapshot(struct target *t, struct mig_buf *b)
{
	int ret = 0;

	mig_buf_init(b, STREAM_MAX);
	for (unsigned int i = 0; ret == 0 && i < t->m->nr_sec; i++) {
		struct mig_section *s = &t->m->sec[i];
		struct vus_mig_out out = { .buf = b };

		ret = s->ops.save(t->ctx, s->opaque, &out);
	}
	return ret;
}

/* Save the device through the state machine: RUNNING -> STOP_COPY. */
static int save_stream(struct target *t, uint8_t *buf, size_t cap,
		       size_t *len)
{
	size_t got;
	int ret = mig_set_state(t->m, VUS_MIG_STOP_COPY);

	*len = 0;
	do {
		ret = ret ? ret : mig_data_read(t->m, buf + *len,
						MIN((size_t)PIECE, cap - *len), &got);
		*len += got;
	} while (ret == 0 && got > 0 && *len < cap);
	return ret ? ret : mig_set_state(t->m, VUS_MIG_RUNNING);
}

/*
 * RESUMING, the stream in pieces, then RUNNING: 0 or why it was refused.
 * A section past the device's max_stream_size is refused (EFBIG) and the
 * stream goes on, as a client that ignores the error would do.
 */
static int load_stream(struct target *t, const uint8_t *p, size_t len)
{
	int ret = mig_set_state(t->m, VUS_MIG_RESUMING);

	if (ret < 0)
		fail("cannot enter RESUMING");
	for (size_t off = 0; off < len; off += PIECE)
		(void)mig_data_write(t->m, p + off, MIN((size_t)PIECE, len - off));
	return mig_set_state(t->m, VUS_MIG_RUNNING);
}

struct out {
	uint8_t *p;
	size_t len;
	bool full;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (n > STREAM_MAX - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void put32(struct out *o, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };

	put(o, x, 4);
}

static void put_end(struct out *o)
{
	uint8_t kind = MIG_REC_END;

	put(o, &kind, 1);
	if (!o->full)
		put32(o, mig_crc32c(0, o->p, o->len));
}

static void put_header(struct out *o, uint32_t compat, const char *id,
		       size_t id_len)
{
	uint8_t l[2] = { (uint8_t)id_len, (uint8_t)(id_len >> 8) };

	put(o, MIG_STREAM_MAGIC, 8);
	put32(o, MIG_STREAM_FORMAT);
	put32(o, compat);
	put(o, l, 2);
	put(o, id, id_len);
}

/* Mode 2/3 records: the harness frames what the input describes. */
static void put_records(struct target *t, struct out *o, const uint8_t *in,
			size_t n)
{
	size_t pos = 0;

	while (pos + 4 <= n) {
		uint8_t sel = in[pos], ver = in[pos + 1], kind = MIG_REC_SECTION;
		size_t len = (size_t)in[pos + 2] | (size_t)in[pos + 3] << 8;
		const char *name;
		uint8_t nl;

		pos += 4;
		if (sel < 0x80) {
			name = t->m->sec[sel % t->m->nr_sec].name;
			nl = (uint8_t)strlen(name);
		} else {
			nl = pos < n ? in[pos++] : 0;
			nl = (uint8_t)MIN((size_t)nl, n - pos);
			name = (const char *)in + pos;
			pos += nl;
		}
		len = MIN(len, n - pos);
		put(o, &kind, 1);
		put(o, &nl, 1);
		put(o, name, nl);
		put32(o, ver == 0xff ? UINT32_MAX : ver);
		put32(o, (uint32_t)len);
		put(o, in + pos, len);
		pos += len;
	}
}

/* The stream the input describes (see the top of the file). */
static size_t build(struct target *t, const uint8_t *in, size_t n, int mode)
{
	struct out o = { .p = stream };
	char id[MIG_IDENTITY_MAX + 1];

	switch (mode) {
	case 0:
		put(&o, in, n);
		break;
	case 1:
		put(&o, in, n);
		put_end(&o);
		break;
	case 2:
		mig_identity(t->m, id, sizeof(id));
		put_header(&o, 1, id, strlen(id));
		put_records(t, &o, in, n);
		put_end(&o);
		break;
	default: {
		uint32_t compat = 0;
		size_t l = 0;

		if (n >= 5) {
			memcpy(&compat, in, 4);
			l = MIN((size_t)in[4], n - 5);
		}
		put_header(&o, compat, (const char *)in + (n >= 5 ? 5 : 0), l);
		if (n >= 5)
			put_records(t, &o, in + 5 + l, n - 5 - l);
		put_end(&o);
		break;
	}
	}
	return o.len;
}

static bool same(const struct mig_buf *a, const struct mig_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/*
 * Use what was loaded as the running device would: deliver pending
 * interrupts, read every register, move FIFO bytes. A state that check()
 * let through but the model cannot handle shows up here.
 */
static void exercise(struct target *t)
{
	struct uart16550 *u = &t->uart.uart;
	struct pci *p;

	if ((t->kind == 0 || t->kind == 2) && pci_get(t->ctx, &p) == 0) {
		pthread_mutex_lock(&p->lock);
		if (p->msix.cap)
			pci_msix_flush(p);
		if (p->msi.cap)
			pci_msi_flush(p);
		(void)pci_intx_update(p);
		pthread_mutex_unlock(&p->lock);
	}
	if (t->kind == 0) {
		for (unsigned int r = 0; r < IDIO16_BAR_SIZE; r++)
			(void)idio16_read(&t->gpio, r);
		idio16_set_inputs(&t->gpio, (uint16_t)~t->gpio.inputs);
		idio16_write(&t->gpio, IDIO16_REG_IN0_7, 0);
	} else if (t->kind == 1) {
		port_sync(&t->uart);
		(void)uart16550_irq(u);
		(void)uart16550_timer_needed(u);
		uart16550_char_timeout(u);
		for (unsigned int r = 0; r < 8; r++)
			(void)uart16550_read(u, r);
		uart16550_tx_consume(u, 1);
		uart16550_rx_push(u, 'z', 0);
		port_sync(&t->uart);
	}
}

/*
 * An accepted stream: what the device saves now must load again and save
 * back identically. The fuzz devices' misbehaviour register (loaded with
 * fz.regs) is cleared first: a save that fails on purpose proves nothing.
 */
static void round_trip(struct target *t)
{
	static uint8_t a[STREAM_MAX], b[STREAM_MAX];
	size_t alen, blen;
	int ret;

	if (t->kind >= 2)
		t->fdev.regs[FZ_REG_MIG] = 0;
	if (save_stream(t, a, sizeof(a), &alen) < 0)
		fail("saving a loaded state failed");
	ret = load_stream(t, a, alen);
	if (ret < 0) {
		fprintf(stderr, "reload: %s\n", strerror(-ret));
		fail("the device refused its own saved stream");
	}
	if (save_stream(t, b, sizeof(b), &blen) < 0)
		fail("saving a reloaded state failed");
	if (alen != blen || memcmp(a, b, alen) != 0)
		fail("save(load(save(x))) differs from save(x)");
}

static void run(struct target *t, const uint8_t *in, size_t n, int mode)
{
	struct mig_buf before, after;
	size_t len = build(t, in, n, mode);
	int ret;

	if (snapshot(t, &before) < 0)
		fail("saving the device's state failed");
	ret = load_stream(t, stream, len);
	if (ret < 0) {
		if (mig_state(t->m) != VUS_MIG_ERROR)
			fail("a refused stream did not leave the device in ERROR");
		if (snapshot(t, &after) < 0 || !same(&before, &after))
			fail("a refused stream changed the device");
		mig_buf_free(&after);
		mig_reset(t->m);
	} else {
		if (mig_state(t->m) != VUS_MIG_RUNNING)
			fail("an accepted stream did not end RUNNING");
		exercise(t);
		round_trip(t);
	}
	mig_buf_free(&before);
}

/*
 * The client's check before sending (client/client_mig_check.c) never
 * refuses a stream the destination's parser takes: same format, two
 * readers.
 */
static void agree(const uint8_t *p, size_t len)
{
	struct vus_client_mig_stream_problem pr = { .struct_size = sizeof(pr) };
	struct mig_parsed pp;

	if (mig_stream_parse(p, len, &pp) < 0)
		return;
	mig_parsed_free(&pp);
	if (vus_client_mig_stream_check(p, len, &pr) != 0) {
		fprintf(stderr, "fuzz_mig_stream: the client refuses a stream the "
			"server takes: %s at %llu\n", pr.what,
			(unsigned long long)pr.offset);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target t;
	int base = fuzz_count_fds(), now;

	if (size < 1)
		return 0;
	agree(data + 1, size - 1);
	if (create(&t, data[0] & 3) < 0)
		fail("cannot create the device");
	run(&t, data + 1, size - 1, (data[0] >> 2) & 3);
	destroy(&t);
	now = fuzz_count_fds();
	if (now != base) {
		fprintf(stderr, "fuzz_mig_stream: fd leak: %d open, %d before\n",
			now, base);
		abort();
	}
	return 0;
}

/* ---- seeds: each device's own stream in every mode ---- */

/* Some state that is not the reset state, set as the device would. */
static void dirty_state(struct target *t)
{
	struct uart16550 *u = &t->uart.uart;

	switch (t->kind) {
	case 0:
		t->gpio.outputs = 0xa55a;
		t->gpio.inputs = t->gpio.wires = 0x0ff0;
		t->gpio.irq_enabled = true;
		t->gpio.status = IDIO16_STATUS_LOW | IDIO16_STATUS_PENDING;
		break;
	case 1:
		u->ier = 0x05;
		u->lcr = 0x03;
		u->fcr = UART_FCR_ENABLE | UART_FCR_TRIG_MASK;
		u->divisor = 12;
		u->rx = (struct uart_fifo){ .slot = { 'a', 'b', 'c' }, .count = 3 };
		u->tx = (struct uart_fifo){ .slot = { 'x', 'y' }, .count = 2 };
		break;
	default:
		for (unsigned int i = 0; i < sizeof(t->fdev.regs); i++)
			t->fdev.regs[i] = (uint8_t)(i * 13);
		t->fdev.regs[FZ_REG_MIG] = 0;
		memset(t->fdev.io, 0x42, sizeof(t->fdev.io));
		t->fdev.mig_mode = 2;
		break;
	}
}

static void write_seed(const char *dir, const char *name, const uint8_t *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "fuzz_mig_stream: cannot write %s\n", path);
		exit(1);
	}
}

/* The records of @p in mode 2 form. */
static size_t as_records(struct target *t, const uint8_t *p, size_t len,
			 uint8_t *o)
{
	struct mig_parsed pp;
	size_t n = 0;

	if (mig_stream_parse(p, len, &pp) < 0)
		return 0;
	for (unsigned int i = 0; i < pp.nr_rec; i++) {
		const struct mig_record *r = &pp.rec[i];
		uint8_t sel = 0;

		for (unsigned int k = 0; k < t->m->nr_sec; k++)
			if (strlen(t->m->sec[k].name) == r->name_len &&
			    memcmp(t->m->sec[k].name, r->name, r->name_len) == 0)
				sel = (uint8_t)k;
		o[n++] = sel;
		o[n++] = (uint8_t)r->version;
		o[n++] = (uint8_t)r->len;
		o[n++] = (uint8_t)(r->len >> 8);
		memcpy(o + n, r->data, r->len);
		n += r->len;
	}
	mig_parsed_free(&pp);
	return n;
}

static void write_seeds(const char *dir)
{
	static uint8_t s[STREAM_MAX], o[STREAM_MAX + 64];
	char name[64];

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		exit(1);
	for (int kind = 0; kind < NR_KINDS; kind++) {
		struct target t;
		size_t len, n;

		if (create(&t, kind) < 0)
			exit(1);
		dirty_state(&t);
		if (save_stream(&t, s, sizeof(s), &len) < 0 || len < 5)
			exit(1);
		o[0] = (uint8_t)kind;
		memcpy(o + 1, s, len);
		snprintf(name, sizeof(name), "dev%d-whole", kind);
		write_seed(dir, name, o, 1 + len);
		o[0] = (uint8_t)(kind | 1 << 2);
		snprintf(name, sizeof(name), "dev%d-no-end", kind);
		write_seed(dir, name, o, 1 + len - 5);
		o[0] = (uint8_t)(kind | 2 << 2);
		n = as_records(&t, s, len, o + 1);
		snprintf(name, sizeof(name), "dev%d-records", kind);
		write_seed(dir, name, o, 1 + n);
		/* Mode 3: compat 1 and the identity from the stream's header. */
		o[0] = (uint8_t)(kind | 3 << 2);
		memcpy(o + 1, s + 12, 4);
		o[5] = s[16];
		memcpy(o + 6, s + 18, s[16]);
		n = as_records(&t, s, len, o + 6 + s[16]);
		snprintf(name, sizeof(name), "dev%d-header-records", kind);
		write_seed(dir, name, o, 6 + s[16] + n);
		destroy(&t);
	}
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MIG_SEEDS");

	(void)argc;
	(void)argv;
	if (dir != NULL)
		write_seeds(dir);
	return 0;
}
