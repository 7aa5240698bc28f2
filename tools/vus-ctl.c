/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl: command line, connection and the simple commands (read, write,
 * dump, irq-wait, reset). GPL-2.0-or-later because vus-ctl links libpci
 * (GPL-2.0-or-later); see vus-ctl-config.c.
 *
 *   vus-ctl --socket PATH [--json] [--timeout MS] COMMAND [ARGS]
 *           [, COMMAND [ARGS]]...
 *   vus-ctl --rpc PATH [--json] [--timeout MS] METHOD [PARAMS]
 *
 * Exit status 0 on success, 1 on failure with a message on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vus-ctl.h"

#define DUMP_CHUNK (64u << 10)
#define MAX_STEPS 16

static const char usage_text[] =
	"usage: vus-ctl --socket PATH [--json] [--timeout MS] COMMAND [ARGS]\n"
	"       vus-ctl --rpc PATH [--json] [--timeout MS] METHOD [PARAMS]\n"
	"       (--socket with --rpc: load asks the management socket why a\n"
	"       stream was refused)\n"
	"commands:\n"
	"  info                             capabilities, device, regions, IRQs\n"
	"  config                           decode PCI config space (region 7)\n"
	"  read REGION OFFSET SIZE          read 1, 2, 4 or 8 bytes (hex value)\n"
	"  write REGION OFFSET SIZE VALUE   write 1, 2, 4 or 8 bytes\n"
	"  dump REGION OFFSET LENGTH        hexdump of a region range\n"
	"  irq-wait INDEX VECTOR TIMEOUT_MS enable INDEX, wait for VECTOR\n"
	"  msi-enable, msix-enable          turn MSI / MSI-X on as a driver does\n"
	"  dma-map IOVA SIZE [FILE]         grant SIZE bytes of new memory (memfd),\n"
	"                                   or of FILE (read-only if not writable)\n"
	"  dma-fill IOVA LENGTH BYTE        fill granted memory\n"
	"  dma-dump IOVA LENGTH             hexdump of granted memory\n"
	"  reset                            DEVICE_RESET\n"
	"  migration                        migration flags and state\n"
	"  save FILE                        stop the device, write its state\n"
	"  load FILE                        resume the device from a saved state\n"
	"Several commands separated by ',' run over one connection:\n"
	"msi-enable , write 0 0 4 1 , irq-wait 1 0 500. The device keeps its state when a\n"
	"client leaves, so the next run finds it (unless the server runs\n"
	"with --reset-on-disconnect): write 2 0 1 0x5a, then read 2 0 1.\n"
	"Interrupt bindings are the connection's: irq-wait with what raises\n"
	"the interrupt in the same run.\n"
	"--json applies to info, config, migration, save and load.\n"
	"Values are little-endian.\n"
	"--rpc calls METHOD on a server's management socket (JSON-RPC 2.0,\n"
	"doc/management.md): PARAMS are NAME=VALUE words (VALUE: JSON, 0x hex or\n"
	"text) or one JSON object; rpc.discover lists the methods. The result\n"
	"is printed readably, or with --json as the server's response line.\n";

int ctl_fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("vus-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(err < 0 ? -err : err));
	return 1;
}

int ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("vus-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int ctl_print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

int ctl_json_add(struct json_object *o, const char *key,
		 struct json_object *v)
{
	if (o == NULL || v == NULL || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

const char *ctl_pci_region_name(uint32_t index)
{
	static const char *const names[] = { "BAR0", "BAR1", "BAR2", "BAR3",
		"BAR4", "BAR5", "ROM", "CONFIG", "VGA" };

	return index < sizeof(names) / sizeof(names[0]) ? names[index] : NULL;
}

const char *ctl_pci_irq_name(uint32_t index)
{
	static const char *const names[] = { "INTX", "MSI", "MSIX", "ERR",
		"REQ" };

	return index < sizeof(names) / sizeof(names[0]) ? names[index] : NULL;
}

/* A whole unsigned number (0x.. hex, 0.. octal, decimal) up to @max. */
static int parse_u64(const char *s, uint64_t max, const char *what,
		     uint64_t *out)
{
	char *end;

	errno = 0;
	if (s == NULL || s[0] == '\0' || s[0] == '-')
		return ctl_error("bad %s '%s'", what, s ? s : "");
	*out = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || *out > max)
		return ctl_error("bad %s '%s'", what, s);
	return 0;
}

int ctl_parse_u64(const char *s, uint64_t max, const char *what,
		  uint64_t *out)
{
	return parse_u64(s, max, what, out);
}

static int parse_u32(const char *s, const char *what, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, UINT32_MAX, what, &v))
		return 1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_size(const char *s, unsigned int *out)
{
	uint64_t v;

	if (parse_u64(s, 8, "size", &v) || (v != 1 && v != 2 && v != 4 && v != 8))
		return ctl_error("SIZE must be 1, 2, 4 or 8");
	*out = (unsigned int)v;
	return 0;
}

static int cmd_read(struct ctl *x, char **argv)
{
	uint8_t b[8] = { 0 };
	unsigned int size;
	uint32_t region;
	uint64_t off, v = 0;
	int ret;

	if (parse_u32(argv[0], "region", &region) ||
	    parse_u64(argv[1], UINT64_MAX, "offset", &off) ||
	    parse_size(argv[2], &size))
		return 1;
	ret = vus_client_region_read(x->c, region, off, b, size);
	if (ret < 0)
		return ctl_fail(ret, "REGION_READ region %" PRIu32, region);
	for (unsigned int i = size; i > 0; i--)
		v = (v << 8) | b[i - 1];
	printf("0x%0*" PRIx64 "\n", (int)(2 * size), v);
	return 0;
}

static int cmd_write(struct ctl *x, char **argv)
{
	uint8_t b[8];
	unsigned int size;
	uint32_t region;
	uint64_t off, v;
	int ret;

	if (parse_u32(argv[0], "region", &region) ||
	    parse_u64(argv[1], UINT64_MAX, "offset", &off) ||
	    parse_size(argv[2], &size))
		return 1;
	if (parse_u64(argv[3], size == 8 ? UINT64_MAX
					 : (UINT64_C(1) << (8 * size)) - 1,
		      "value", &v))
		return 1;
	for (unsigned int i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	ret = vus_client_region_write(x->c, region, off, b, size);
	if (ret < 0)
		return ctl_fail(ret, "REGION_WRITE region %" PRIu32, region);
	return 0;
}

/* One hexdump line of @n (<= 16) bytes at region offset @off. */
void ctl_dump_line(uint64_t off, const uint8_t *p, size_t n)
{
	printf("%08" PRIx64 " ", off);
	for (size_t i = 0; i < 16; i++) {
		if (i == 8)
			putchar(' ');
		if (i < n)
			printf(" %02x", p[i]);
		else
			fputs("   ", stdout);
	}
	fputs("  |", stdout);
	for (size_t i = 0; i < n; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
	puts("|");
}

/*
 * Read @n bytes at @off. A region served by callbacks refuses what they do
 * not accept (EINVAL; by default anything but a naturally aligned 1, 2, 4
 * or 8 bytes): read such a chunk again in the largest aligned pieces it
 * takes.
 */
static int dump_read(struct ctl *x, uint32_t region, uint64_t off,
		     uint8_t *buf, size_t n)
{
	int ret = vus_client_region_read(x->c, region, off, buf, n);
	size_t piece = 8, done = 0;

	if (ret != -EINVAL)
		return ret;
	while (done < n) {
		size_t k = piece;

		while (k > 1 && ((off + done) % k != 0 || k > n - done))
			k /= 2;
		ret = vus_client_region_read(x->c, region, off + done,
					     buf + done, k);
		if (ret == -EINVAL && k > 1)
			piece = k / 2; /* the region's largest is smaller */
		else if (ret < 0)
			return ret;
		else
			done += k;
	}
	return 0;
}

static int cmd_dump(struct ctl *x, char **argv)
{
	uint64_t off, len;
	uint32_t region;
	uint8_t *buf;
	int ret = 0;

	if (parse_u32(argv[0], "region", &region) ||
	    parse_u64(argv[1], UINT64_MAX, "offset", &off) ||
	    parse_u64(argv[2], UINT64_MAX - off, "length", &len))
		return 1;
	buf = malloc(DUMP_CHUNK);
	if (buf == NULL)
		return ctl_fail(-ENOMEM, "dump");
	/* In chunks: a region may be far larger than we want to hold. */
	while (len > 0 && ret == 0) {
		size_t n = len < DUMP_CHUNK ? (size_t)len : DUMP_CHUNK;

		ret = dump_read(x, region, off, buf, n);
		if (ret < 0)
			break; /* @off names the chunk that failed */
		for (size_t i = 0; i < n; i += 16)
			ctl_dump_line(off + i, buf + i, n - i < 16 ? n - i : 16);
		off += n;
		len -= n;
	}
	free(buf);
	if (ret < 0)
		return ctl_fail(ret, "REGION_READ region %" PRIu32
				" offset 0x%" PRIx64, region, off);
	return 0;
}

static int cmd_irq_wait(struct ctl *x, char **argv)
{
	struct vus_client_irq_info ii = { .struct_size = sizeof(ii) };
	uint32_t index, vector, timeout;
	int ret;

	if (parse_u32(argv[0], "index", &index) ||
	    parse_u32(argv[1], "vector", &vector) ||
	    parse_u32(argv[2], "timeout", &timeout) || timeout > INT32_MAX)
		return 1;
	ret = vus_client_irq_info(x->c, index, &ii);
	if (ret < 0)
		return ctl_fail(ret, "DEVICE_GET_IRQ_INFO index %" PRIu32, index);
	if (vector >= ii.count)
		return ctl_error("irq index %" PRIu32 " has %" PRIu32
				 " vectors, no vector %" PRIu32, index,
				 ii.count, vector);
	if (ctl_irq_check(x, index))
		return 1;
	/* Bound earlier in this run (msi-enable): keep what arrived since. */
	ret = vus_client_irq_poll(x->c, index, vector);
	if (ret == -ENOENT)
		ret = vus_client_irq_enable(x->c, index, ii.count);
	if (ret < 0)
		return ctl_fail(ret, "DEVICE_SET_IRQS index %" PRIu32, index);
	if (ret == 0)
		ret = vus_client_irq_wait(x->c, index, vector, (int)timeout);
	if (ret < 0)
		return ctl_fail(ret, "irq-wait index %" PRIu32 " vector %" PRIu32,
				index, vector);
	printf("%d\n", ret);
	return 0;
}

static int cmd_msi_enable(struct ctl *x, char **argv)
{
	return ctl_msi_enable(x);
}

static int cmd_msix_enable(struct ctl *x, char **argv)
{
	return ctl_msix_enable(x);
}

static int cmd_reset(struct ctl *x, char **argv)
{
	int ret = vus_client_reset(x->c);

	return ret < 0 ? ctl_fail(ret, "DEVICE_RESET") : 0;
}

static int cmd_info(struct ctl *x, char **argv)
{
	return ctl_info(x);
}

static int cmd_config(struct ctl *x, char **argv)
{
	return ctl_config(x);
}

static int cmd_migration(struct ctl *x, char **argv)
{
	return ctl_mig_info(x);
}

static int cmd_save(struct ctl *x, char **argv)
{
	return ctl_mig_save(x, argv[0]);
}

static int cmd_load(struct ctl *x, char **argv)
{
	return ctl_mig_load(x, argv[0]);
}

static const struct command {
	const char *name;
	int nargs;
	int (*run)(struct ctl *x, char **argv);
	int optional; /* more arguments it may take; argv ends with NULL */
} commands[] = {
	{ "info", 0, cmd_info, 0 },
	{ "config", 0, cmd_config, 0 },
	{ "read", 3, cmd_read, 0 },
	{ "write", 4, cmd_write, 0 },
	{ "dump", 3, cmd_dump, 0 },
	{ "irq-wait", 3, cmd_irq_wait, 0 },
	{ "msi-enable", 0, cmd_msi_enable, 0 },
	{ "msix-enable", 0, cmd_msix_enable, 0 },
	{ "dma-map", 2, ctl_dma_map, 1 },
	{ "dma-fill", 3, ctl_dma_fill, 0 },
	{ "dma-dump", 2, ctl_dma_dump, 0 },
	{ "reset", 0, cmd_reset, 0 },
	{ "migration", 0, cmd_migration, 0 },
	{ "save", 1, cmd_save, 0 },
	{ "load", 1, cmd_load, 0 },
};

static int usage(void)
{
	fputs(usage_text, stderr);
	return 1;
}

/* Options before the command: --socket PATH, --json, --timeout MS. */
static int parse_options(int argc, char **argv, struct ctl *x,
			 struct vus_client_config *cfg, int *next)
{
	int i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		uint32_t ms;

		if (strcmp(argv[i], "--json") == 0) {
			x->json = true;
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			x->socket = argv[++i];
		} else if (strcmp(argv[i], "--rpc") == 0 && i + 1 < argc) {
			x->rpc = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], "timeout", &ms) || ms == 0 ||
			    ms > INT32_MAX)
				return 1;
			cfg->timeout_ms = (int)ms;
		} else if (strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		} else {
			return usage();
		}
	}
	*next = i;
	/* A device's vfio-user socket, its management socket, or both (load
	 * then asks the second why a stream was refused). */
	return x->socket == NULL && x->rpc == NULL ? usage() : 0;
}

/* Print the usage; -1 for parse_steps(). */
static int bad_usage(void)
{
	(void)usage();
	return -1;
}

struct step {
	const struct command *cmd;
	char **args;
};

/*
 * Split argv[0..argc) into commands separated by ","; each must have its
 * arguments (and may end with --json). Returns the number of steps, or
 * -1 after printing the usage.
 */
static int parse_steps(int argc, char **argv, struct ctl *x,
		       struct step *steps, int max)
{
	int n = 0;

	for (int i = 0; i < argc;) {
		int end = i, nargs;

		while (end < argc && strcmp(argv[end], ",") != 0)
			end++;
		nargs = end - i - 1;
		if (n == max || nargs < 0)
			return bad_usage();
		steps[n].cmd = NULL;
		for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
			if (strcmp(argv[i], commands[k].name) == 0)
				steps[n].cmd = &commands[k];
		if (steps[n].cmd != NULL && nargs > steps[n].cmd->nargs &&
		    strcmp(argv[end - 1], "--json") == 0) {
			x->json = true;
			nargs--;
		}
		if (steps[n].cmd == NULL || nargs < steps[n].cmd->nargs ||
		    nargs > steps[n].cmd->nargs + steps[n].cmd->optional)
			return bad_usage();
		steps[n++].args = argv + i + 1;
		if (end == argc - 1)
			return bad_usage(); /* a trailing "," */
		argv[i + 1 + nargs] = NULL; /* the "," or --json: the step's end */
		i = end + 1;
	}
	return n > 0 ? n : bad_usage();
}

int main(int argc, char **argv)
{
	struct vus_client_config cfg = { .struct_size = sizeof(cfg) };
	struct step steps[MAX_STEPS];
	struct ctl x = { 0 };
	int i = argc, n, ret = 0;

	if (parse_options(argc, argv, &x, &cfg, &i))
		return 1;
	x.timeout_ms = cfg.timeout_ms ? cfg.timeout_ms : 5000;
	if (x.socket == NULL)
		return ctl_rpc(&x, x.timeout_ms, argc - i, argv + i);
	n = parse_steps(argc - i, argv + i, &x, steps, MAX_STEPS);
	if (n < 0)
		return 1;
	ret = vus_client_connect(x.socket, &cfg, &x.c);
	if (ret < 0)
		return ctl_fail(ret, "%s", x.socket);
	/* One connection for all: interrupt bindings end with it. */
	for (int k = 0; k < n && ret == 0; k++)
		ret = steps[k].cmd->run(&x, steps[k].args);
	vus_client_close(x.c);
	return ret;
}
