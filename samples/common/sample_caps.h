/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_caps: --print-capabilities, after the vhost-user back-end
 * convention: a device program prints one JSON object saying what it is
 * and what it understands, and exits, so a management tool can learn what
 * a binary offers without starting a device (doc/management.md):
 *
 *   {"type": "gpio-pci", "protocol": "vfio-user", "bus": "pci",
 *    "pci": {"vendor-id": 18767, "device-id": 3528, "class-code": 16711680},
 *    "features": ["migration", "recovery", "take-over", "rpc", ...],
 *    "options": ["socket-path", "fd", "rpc-path", ..., "take-over"],
 *    "rpc-methods": ["gpio.get", ...]}
 *
 * "options" comes from the program's own getopt table and "rpc-methods"
 * from the table it registers, so neither can drift from what it does.
 */
#ifndef SAMPLE_CAPS_H
#define SAMPLE_CAPS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vus.h>

struct sample_caps {
	const char *type;   /* the program's device type, e.g. "gpio-pci" */
	enum vus_bus bus;
	uint16_t vendor_id, device_id; /* PCI */
	uint32_t class_code;           /* PCI */
	const char *compatible;        /* SysBus */
	const char *const *features;   /* NULL-terminated */
	const struct vus_rpc_method *methods; /* its device methods */
	size_t n_methods;
};

/** Print @caps and the long options of @lo (up to the zero entry) as one
 * line of JSON on @f. */
void sample_caps_print(FILE *f, const struct sample_caps *caps,
		       const struct option *lo);

#endif /* SAMPLE_CAPS_H */
