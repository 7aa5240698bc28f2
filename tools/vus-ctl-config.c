/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl config: read PCI config space (region 7) and decode it in the
 * manner of lspci: identity with names from the PCI ids database, class,
 * command and status, BARs with the sizes from region info, the capability
 * list and the extended capabilities. libpci does the reading and the
 * capability walks: a struct pci_dev made with pci_get_dev() is fed our
 * bytes with pci_setup_cache(), on the "dump" access method pointed at
 * /dev/null, so no bus is touched. This file, and with it vus-ctl, is
 * GPL-2.0-or-later because it links libpci (GPL-2.0-or-later).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pci/pci.h>

#include "vus-ctl.h"

#define CFG_REGION 7u
#define CFG_MAX 4096u
#define NR_BARS 6u
#define ROM_REGION 6u
#define MAX_CAPS 64u

struct named {
	unsigned int id;
	const char *name;
};

static const struct named cap_names[] = {
	{ 0x01, "Power Management" }, { 0x02, "AGP" },
	{ 0x03, "Vital Product Data" }, { 0x04, "Slot Identification" },
	{ 0x05, "MSI" }, { 0x06, "CompactPCI Hot Swap" }, { 0x07, "PCI-X" },
	{ 0x08, "HyperTransport" }, { 0x09, "Vendor Specific" },
	{ 0x0a, "Debug Port" }, { 0x0c, "PCI Hot-Plug" },
	{ 0x0d, "Bridge Subsystem Vendor ID" }, { 0x0f, "Secure Device" },
	{ 0x10, "PCI Express" }, { 0x11, "MSI-X" }, { 0x12, "SATA" },
	{ 0x13, "Advanced Features" }, { 0x14, "Enhanced Allocation" },
	{ 0, NULL },
};

static const struct named ext_cap_names[] = {
	{ 0x01, "Advanced Error Reporting" }, { 0x02, "Virtual Channel" },
	{ 0x03, "Device Serial Number" }, { 0x04, "Power Budgeting" },
	{ 0x0b, "Vendor Specific" }, { 0x0d, "Access Control Services" },
	{ 0x0e, "Alternative Routing-ID Interpretation" },
	{ 0x0f, "Address Translation Services" },
	{ 0x10, "Single Root I/O Virtualization" }, { 0x12, "Multicast" },
	{ 0x13, "Page Request Interface" }, { 0x15, "Resizable BAR" },
	{ 0x17, "TPH Requester" }, { 0x18, "Latency Tolerance Reporting" },
	{ 0x19, "Secondary PCI Express" }, { 0x1b, "PASID" },
	{ 0x1d, "Downstream Port Containment" }, { 0x1e, "L1 PM Substates" },
	{ 0x1f, "Precision Time Measurement" },
	{ 0x23, "Designated Vendor-Specific" }, { 0x25, "Data Link Feature" },
	{ 0, NULL },
};

static const char *const exp_types[16] = {
	[0x0] = "Endpoint", [0x1] = "Legacy Endpoint", [0x4] = "Root Port",
	[0x5] = "Upstream Port", [0x6] = "Downstream Port",
	[0x7] = "PCI/PCI-X Bridge", [0x8] = "PCI/PCI-X to Express Bridge",
	[0x9] = "Root Complex Integrated Endpoint",
	[0xa] = "Root Complex Event Collector",
};

/* Bits of the command and status registers, low bit first. */
static const char *const command_bits[] = { "I/O", "Mem", "BusMaster",
	"SpecCycle", "MemWINV", "VGASnoop", "ParErr", "Stepping", "SERR",
	"FastB2B", "DisINTx" };
static const char *const status_bits[] = { NULL, NULL, NULL, "INTx", "Cap",
	"66MHz", "UDF", "FastB2B", "ParErr", NULL, NULL, ">TAbort",
	"<TAbort", "<MAbort", ">SERR", "<PERR" };

/* What is decoded, gathered first so text and JSON show the same. */
struct bar {
	bool present;
	bool io;
	bool mem64;
	bool prefetch;
	uint64_t addr;
	uint64_t size; /* from region info */
};

struct cfg {
	uint8_t raw[CFG_MAX];
	uint32_t len;
	struct pci_access *pacc;
	struct pci_dev *dev;
	struct bar bars[NR_BARS];
	uint64_t rom_size;
	unsigned int nr_caps, nr_ext;
	struct pci_cap *caps[MAX_CAPS]; /* in chain order */
	struct pci_cap *ext[MAX_CAPS];
};

static const char *lookup(const struct named *t, unsigned int id)
{
	for (; t->name != NULL; t++)
		if (t->id == id)
			return t->name;
	return NULL;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
pci_fatal(char *fmt, ...)
{
	va_list ap;

	fputs("vus-ctl: libpci: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((format(printf, 1, 2))) pci_warn(char *fmt, ...)
{
	va_list ap;

	fputs("vus-ctl: libpci: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Read config space and the BAR/ROM sizes over the connection. */
static int fetch(struct ctl *x, struct cfg *g)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
	int ret = vus_client_device_info(x->c, &di);

	if (ret < 0)
		return ctl_fail(ret, "DEVICE_GET_INFO");
	if (!(di.flags & VUS_CLIENT_DEV_PCI))
		return ctl_error("%s: not a PCI device", x->socket);
	for (uint32_t i = 0; i <= CFG_REGION; i++) {
		ret = vus_client_region_info(x->c, i, &ri);
		if (ret < 0)
			return ctl_fail(ret, "DEVICE_GET_REGION_INFO region %" PRIu32, i);
		if (ri.fd >= 0)
			close(ri.fd);
		if (i < NR_BARS)
			g->bars[i].size = ri.size;
		else if (i == ROM_REGION)
			g->rom_size = ri.size;
		else
			g->len = ri.size < CFG_MAX ? (uint32_t)ri.size : CFG_MAX;
	}
	if (g->len < 64)
		return ctl_error("config space of %" PRIu32 " bytes is too small",
				 g->len);
	ret = vus_client_region_read(x->c, CFG_REGION, 0, g->raw, g->len);
	if (ret < 0)
		return ctl_fail(ret, "REGION_READ region %u", CFG_REGION);
	return 0;
}

/* Split libpci's list (in the order it walked the chains) by kind. */
static void collect_caps(struct cfg *g)
{
	unsigned int n = 0;

	/* Bounded: libpci stops at loops, but a count costs nothing. */
	for (struct pci_cap *c = g->dev->first_cap; c && n < 2 * MAX_CAPS;
	     c = c->next, n++) {
		if (c->type == PCI_CAP_NORMAL && g->nr_caps < MAX_CAPS)
			g->caps[g->nr_caps++] = c;
		else if (c->type == PCI_CAP_EXTENDED && g->nr_ext < MAX_CAPS)
			g->ext[g->nr_ext++] = c;
	}
}

static void decode_bars(struct cfg *g)
{
	for (unsigned int i = 0; i < NR_BARS; i++) {
		uint32_t lo = pci_read_long(g->dev, PCI_BASE_ADDRESS_0 + 4 * i);
		struct bar *b = &g->bars[i];

		b->present = b->size > 0;
		b->io = lo & PCI_BASE_ADDRESS_SPACE_IO;
		if (b->io) {
			b->addr = lo & PCI_BASE_ADDRESS_IO_MASK;
			continue;
		}
		b->addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
		b->prefetch = lo & PCI_BASE_ADDRESS_MEM_PREFETCH;
		b->mem64 = (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) ==
			   PCI_BASE_ADDRESS_MEM_TYPE_64;
		if (b->mem64 && i + 1 < NR_BARS) {
			/* The upper half is the next register, not a BAR. */
			b->addr |= (uint64_t)pci_read_long(g->dev,
				PCI_BASE_ADDRESS_0 + 4 * (i + 1)) << 32;
			g->bars[++i].present = false;
		}
	}
}

static int decode(struct cfg *g)
{
	g->pacc = pci_alloc();
	if (g->pacc == NULL)
		return ctl_fail(-ENOMEM, "libpci");
	g->pacc->error = pci_fatal;
	g->pacc->warning = pci_warn;
	g->pacc->method = PCI_ACCESS_DUMP;
	/* An empty dump: libpci initialises without looking for a bus. */
	if (pci_set_param(g->pacc, "dump.name", "/dev/null") < 0)
		return ctl_error("libpci has no dump access method");
	pci_init(g->pacc);
	g->dev = pci_get_dev(g->pacc, 0, 0, 0, 0);
	pci_setup_cache(g->dev, g->raw, (int)g->len);
	pci_fill_info(g->dev, PCI_FILL_IDENT | PCI_FILL_CLASS |
		      PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS | PCI_FILL_CAPS |
		      PCI_FILL_EXT_CAPS);
	collect_caps(g);
	if ((pci_read_byte(g->dev, PCI_HEADER_TYPE) & 0x7f) ==
	    PCI_HEADER_TYPE_NORMAL)
		decode_bars(g);
	return 0;
}

static void release(struct cfg *g)
{
	if (g->dev != NULL)
		pci_free_dev(g->dev);
	if (g->pacc != NULL)
		pci_cleanup(g->pacc);
}

/*
 * A database name for @flags with ids @a and @b (as pci_lookup_name()
 * takes them), or NULL when the ids are unknown or no database is there.
 */
static const char *name_of(struct cfg *g, char *buf, int size, int flags,
			   unsigned int a, unsigned int b)
{
	/* pci.ids only: libpci's udev hwdb fallback for ids it lacks leaks
	 * its udev handle (LeakSanitizer fails vus-ctl on the README's
	 * example), and describes this host's hardware, not the device. */
	return pci_lookup_name(g->pacc, buf, size, flags | PCI_LOOKUP_NO_NUMBERS |
			       PCI_LOOKUP_NO_HWDB, a, b);
}

static void print_bits(const char *label, uint16_t v, const char *const *bits,
		       unsigned int n)
{
	printf("\t%s:", label);
	for (unsigned int i = 0; i < n; i++)
		if (bits[i] != NULL)
			printf(" %s%c", bits[i], (v >> i) & 1 ? '+' : '-');
	putchar('\n');
}

static void print_size(uint64_t size)
{
	static const char units[] = "KMGTPE";
	unsigned int u = 0;

	if (size < 1024 || size % 1024) {
		printf("[size=%" PRIu64 "]", size);
		return;
	}
	size /= 1024;
	while (size >= 1024 && size % 1024 == 0 && u + 1 < sizeof(units) - 1) {
		size /= 1024;
		u++;
	}
	printf("[size=%" PRIu64 "%c]", size, units[u]);
}

static void print_bars(const struct cfg *g)
{
	for (unsigned int i = 0; i < NR_BARS; i++) {
		const struct bar *b = &g->bars[i];

		if (!b->present)
			continue;
		if (b->io)
			printf("\tRegion %u: I/O ports at %04" PRIx64 " ", i, b->addr);
		else
			printf("\tRegion %u: Memory at %08" PRIx64 " (%s, %s) ", i,
			       b->addr, b->mem64 ? "64-bit" : "32-bit",
			       b->prefetch ? "prefetchable" : "non-prefetchable");
		print_size(b->size);
		putchar('\n');
	}
	if (g->rom_size > 0) {
		printf("\tExpansion ROM at %08x ", (unsigned int)(
		       pci_read_long(g->dev, PCI_ROM_ADDRESS) & PCI_ROM_ADDRESS_MASK));
		print_size(g->rom_size);
		putchar('\n');
	}
}

static void print_msix(struct pci_dev *d, unsigned int at, uint16_t ctl)
{
	uint32_t t = pci_read_long(d, at + PCI_MSIX_TABLE);
	uint32_t p = pci_read_long(d, at + PCI_MSIX_PBA);

	printf(": Enable%c Count=%u Masked%c\n",
	       ctl & PCI_MSIX_ENABLE ? '+' : '-', (ctl & PCI_MSIX_TABSIZE) + 1,
	       ctl & PCI_MSIX_MASK ? '+' : '-');
	printf("\t\tVector table: BAR=%u offset=%08x\n", t & PCI_MSIX_BIR,
	       t & ~PCI_MSIX_BIR);
	printf("\t\tPBA: BAR=%u offset=%08x\n", p & PCI_MSIX_BIR,
	       p & ~PCI_MSIX_BIR);
}

/* One line (and details) per conventional capability. */
static void print_cap(const struct cfg *g, const struct pci_cap *c)
{
	struct pci_dev *d = g->dev;
	const char *name = lookup(cap_names, c->id);
	uint16_t ctl = pci_read_word(d, c->addr + 2);

	printf("\tCapabilities: [%02x] ", c->addr);
	if (name == NULL) {
		printf("Capability ID 0x%02x\n", c->id);
		return;
	}
	printf("%s", name);
	switch (c->id) {
	case PCI_CAP_ID_PM:
		printf(" version %u, D%u\n", ctl & PCI_PM_CAP_VER_MASK,
		       pci_read_word(d, c->addr + PCI_PM_CTRL) &
		       PCI_PM_CTRL_STATE_MASK);
		break;
	case PCI_CAP_ID_MSI:
		printf(": Enable%c Count=%u/%u Maskable%c 64bit%c\n",
		       ctl & PCI_MSI_FLAGS_ENABLE ? '+' : '-',
		       1u << ((ctl & PCI_MSI_FLAGS_QSIZE) >> 4),
		       1u << ((ctl & PCI_MSI_FLAGS_QMASK) >> 1),
		       ctl & PCI_MSI_FLAGS_MASK_BIT ? '+' : '-',
		       ctl & PCI_MSI_FLAGS_64BIT ? '+' : '-');
		break;
	case PCI_CAP_ID_MSIX:
		print_msix(d, c->addr, ctl);
		break;
	case PCI_CAP_ID_EXP: {
		const char *type = exp_types[(ctl & PCI_EXP_FLAGS_TYPE) >> 4];

		printf(" (v%u) %s\n", ctl & PCI_EXP_FLAGS_VERS,
		       type ? type : "Unknown type");
		break;
	}
	case PCI_CAP_ID_VNDR:
		printf(" len=%u\n", pci_read_byte(d, c->addr + 2));
		break;
	default:
		putchar('\n');
	}
}

static void print_ext_cap(const struct cfg *g, const struct pci_cap *c)
{
	uint32_t hdr = pci_read_long(g->dev, c->addr);
	const char *name = lookup(ext_cap_names, c->id);

	printf("\tCapabilities: [%03x v%u] ", c->addr, (hdr >> 16) & 0xf);
	if (name == NULL)
		printf("Extended Capability ID 0x%04x", c->id);
	else
		printf("%s", name);
	if (c->id == PCI_EXT_CAP_ID_DSN) {
		uint32_t lo = pci_read_long(g->dev, c->addr + 4);
		uint32_t hi = pci_read_long(g->dev, c->addr + 8);

		printf(" %02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", hi >> 24,
		       (hi >> 16) & 0xff, (hi >> 8) & 0xff, hi & 0xff, lo >> 24,
		       (lo >> 16) & 0xff, (lo >> 8) & 0xff, lo & 0xff);
	}
	putchar('\n');
}

static void print_text(struct cfg *g, const char *socket)
{
	struct pci_dev *d = g->dev;
	char b1[256], b2[256], b3[256];
	const char *cls = name_of(g, b1, sizeof(b1), PCI_LOOKUP_CLASS,
				  d->device_class, 0);
	const char *ven = name_of(g, b2, sizeof(b2), PCI_LOOKUP_VENDOR,
				  d->vendor_id, 0);
	const char *dev = name_of(g, b3, sizeof(b3), PCI_LOOKUP_DEVICE,
				  d->vendor_id, d->device_id);
	uint8_t pin = pci_read_byte(d, PCI_INTERRUPT_PIN);

	/* A class the database only half knows already ends in its id. */
	if (cls != NULL && strchr(cls, '[') != NULL)
		printf("%s: %s:", socket, cls);
	else
		printf("%s: %s [%04x]:", socket, cls ? cls : "Class",
		       d->device_class);
	printf(" %s %s [%04x:%04x] (rev %02x, prog-if %02x)\n",
	       ven ? ven : "Vendor", dev ? dev : "Device", d->vendor_id,
	       d->device_id, d->rev_id, d->prog_if);
	printf("\tSubsystem: [%04x:%04x]\n", d->subsys_vendor_id, d->subsys_id);
	print_bits("Control", pci_read_word(d, PCI_COMMAND), command_bits, 11);
	print_bits("Status", pci_read_word(d, PCI_STATUS), status_bits, 16);
	if (pin > 0 && pin <= 4)
		printf("\tInterrupt: pin %c\n", 'A' + pin - 1);
	print_bars(g);
	for (unsigned int i = 0; i < g->nr_caps; i++)
		print_cap(g, g->caps[i]);
	for (unsigned int i = 0; i < g->nr_ext; i++)
		print_ext_cap(g, g->ext[i]);
}

/*
 * Add a name as a JSON string, or null when pci.ids does not know it
 * (json-c's null is a NULL object, which ctl_json_add() takes for ENOMEM).
 */
static int add_name(struct json_object *o, const char *key, const char *s)
{
	if (s != NULL)
		return ctl_json_add(o, key, json_object_new_string(s));
	return o != NULL && json_object_object_add(o, key, NULL) == 0 ? 0
								: -ENOMEM;
}

static struct json_object *json_bars(const struct cfg *g)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; a != NULL && i < NR_BARS; i++) {
		const struct bar *b = &g->bars[i];
		struct json_object *o;
		int err = 0;

		if (!b->present)
			continue;
		o = json_object_new_object();
		err |= ctl_json_add(o, "index", json_object_new_int(i));
		err |= ctl_json_add(o, "type", json_object_new_string(b->io ? "io" : "memory"));
		err |= ctl_json_add(o, "bits", json_object_new_int(b->io ? 32 : b->mem64 ? 64 : 32));
		err |= ctl_json_add(o, "prefetchable", json_object_new_boolean(b->prefetch));
		err |= ctl_json_add(o, "address", json_object_new_uint64(b->addr));
		err |= ctl_json_add(o, "size", json_object_new_uint64(b->size));
		json_object_array_add(a, err ? NULL : o);
	}
	return a;
}

static struct json_object *json_caps(struct pci_cap *const *caps,
				     unsigned int n, const struct named *names)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; a != NULL && i < n; i++) {
		struct json_object *o = json_object_new_object();

		ctl_json_add(o, "offset", json_object_new_int(caps[i]->addr));
		ctl_json_add(o, "id", json_object_new_int(caps[i]->id));
		add_name(o, "name", lookup(names, caps[i]->id));
		json_object_array_add(a, o);
	}
	return a;
}

static int print_json(struct cfg *g)
{
	struct pci_dev *d = g->dev;
	struct json_object *o = json_object_new_object();
	char b[256];
	int err = 0;

	err |= ctl_json_add(o, "vendor_id", json_object_new_int(d->vendor_id));
	err |= ctl_json_add(o, "device_id", json_object_new_int(d->device_id));
	err |= add_name(o, "vendor", name_of(g, b, sizeof(b),
			PCI_LOOKUP_VENDOR, d->vendor_id, 0));
	err |= add_name(o, "device", name_of(g, b, sizeof(b),
			PCI_LOOKUP_DEVICE, d->vendor_id, d->device_id));
	err |= ctl_json_add(o, "class", json_object_new_int(d->device_class));
	err |= add_name(o, "class_name", name_of(g, b, sizeof(b),
			PCI_LOOKUP_CLASS, d->device_class, 0));
	err |= ctl_json_add(o, "prog_if", json_object_new_int(d->prog_if));
	err |= ctl_json_add(o, "revision", json_object_new_int(d->rev_id));
	err |= ctl_json_add(o, "subsystem_vendor_id", json_object_new_int(d->subsys_vendor_id));
	err |= ctl_json_add(o, "subsystem_id", json_object_new_int(d->subsys_id));
	err |= ctl_json_add(o, "command", json_object_new_int(pci_read_word(d, PCI_COMMAND)));
	err |= ctl_json_add(o, "status", json_object_new_int(pci_read_word(d, PCI_STATUS)));
	err |= ctl_json_add(o, "interrupt_pin", json_object_new_int(pci_read_byte(d, PCI_INTERRUPT_PIN)));
	err |= ctl_json_add(o, "config_size", json_object_new_int((int)g->len));
	err |= ctl_json_add(o, "bars", json_bars(g));
	err |= ctl_json_add(o, "rom_size", json_object_new_uint64(g->rom_size));
	err |= ctl_json_add(o, "capabilities", json_caps(g->caps, g->nr_caps, cap_names));
	err |= ctl_json_add(o, "extended_capabilities",
			    json_caps(g->ext, g->nr_ext, ext_cap_names));
	if (err) {
		json_object_put(o);
		return ctl_fail(-ENOMEM, "config");
	}
	return ctl_print_json(o);
}

int ctl_config(struct ctl *x)
{
	struct cfg *g = calloc(1, sizeof(*g));
	int ret;

	if (g == NULL)
		return ctl_fail(-ENOMEM, "config");
	ret = fetch(x, g);
	if (ret == 0)
		ret = decode(g);
	if (ret == 0 && x->json)
		ret = print_json(g);
	else if (ret == 0)
		print_text(g, x->socket);
	release(g);
	free(g);
	return ret;
}
