/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl: inspect and drive a running vfio-user device server. This file
 * is GPL-2.0-or-later because vus-ctl links libpci (GPL-2.0-or-later); the
 * rest of libvus is BSD-3-Clause.
 *
 * What the command files share: the connection, output mode, error
 * reporting, and names for vfio flags. vus-ctl uses only the public client
 * API (vus/client.h), libpci and json-c.
 */
#ifndef VUS_CTL_H
#define VUS_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vus/client.h"

#define CTL_MAX_DMA 16

/** Memory this run granted with dma-map (a memfd or a file, mapped here too). */
struct ctl_dma {
	uint64_t iova;
	uint64_t size;
	uint8_t *mem;
	bool read_only; /* a file we could only open for reading */
};

struct ctl {
	const char *socket;
	const char *rpc; /* --rpc: the management socket (alone, or to
			    ask it why a load failed) */
	bool json;
	int timeout_ms;
	vus_client *c;
	unsigned int nr_dma;
	struct ctl_dma dma[CTL_MAX_DMA];
};

/**
 * Report a failure as "vus-ctl: <what>: <strerror(-err)>" on stderr and
 * return the exit status for failures (1). printf-style @fmt names what
 * failed, e.g. "REGION_READ region %u".
 */
int ctl_fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Report a failure that has no errno; returns 1. */
int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Print @o (pretty) on stdout and drop it; returns 0. */
int ctl_print_json(struct json_object *o);

/** Add @v under @key, or mark the document unusable (returns -ENOMEM). */
int ctl_json_add(struct json_object *o, const char *key,
		 struct json_object *v);

/** One hexdump line of @n (<= 16) bytes at offset @off. */
void ctl_dump_line(uint64_t off, const uint8_t *p, size_t n);

/** A whole unsigned number (0x.. hex, 0.. octal, decimal) up to @max. */
int ctl_parse_u64(const char *s, uint64_t max, const char *what,
		  uint64_t *out);

/** Region name for a PCI device ("BAR0".."CONFIG", "VGA"), else NULL. */
const char *ctl_pci_region_name(uint32_t index);

/** IRQ index name for a PCI device ("INTX".."REQ"), else NULL. */
const char *ctl_pci_irq_name(uint32_t index);

/* Commands: each returns the process exit status. */
int ctl_info(struct ctl *x);
int ctl_config(struct ctl *x);
int ctl_mig_save(struct ctl *x, const char *file);
int ctl_mig_load(struct ctl *x, const char *file);
int ctl_mig_info(struct ctl *x);
int ctl_msi_enable(struct ctl *x);
int ctl_dma_map(struct ctl *x, char **argv);
int ctl_dma_fill(struct ctl *x, char **argv);
int ctl_dma_dump(struct ctl *x, char **argv);
int ctl_msix_enable(struct ctl *x);

/**
 * Before irq-wait on a PCI function: 0 when interrupts of @index can
 * arrive, else 1 after saying which config space bit stops them.
 */
int ctl_irq_check(struct ctl *x, uint32_t index);

/**
 * --rpc: call METHOD (argv[0]) with PARAMS (the words after it) on the
 * management socket x->rpc, waiting at most @timeout_ms for the reply.
 */
int ctl_rpc(const struct ctl *x, int timeout_ms, int argc, char **argv);

/**
 * Why the device refused the last stream, from query-status's
 * migration.last-load-error on x->rpc, as one line into @buf: 0, -ENOENT
 * (the server names none), or the socket's errno.
 */
int ctl_rpc_load_error(const struct ctl *x, int timeout_ms, char *buf,
		       size_t len);

#endif /* VUS_CTL_H */
