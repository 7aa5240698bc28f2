/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sysbus_priv: state of the SysBus adapter, shared by sysbus.c
 * (windows, lines, properties, bus hooks) and sysbus_desc.c (the JSON
 * description and the region that publishes it).
 */
#ifndef VUS_SYSBUS_INTERNAL_H
#define VUS_SYSBUS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "irq_table.h"
#include "region_table.h"
#include "vus/sysbus.h"

#define SYSBUS_MAX_COMPAT 8u
#define SYSBUS_MAX_PROPS 64u
#define SYSBUS_STR_MAX 127u
#define SYSBUS_KEY_MAX 63u

struct sysbus_window {
	uint64_t size;
	uint64_t base; /* VUS_SYSBUS_NO_BASE: no preference */
};

struct sysbus_prop {
	char key[SYSBUS_KEY_MAX + 1];
	bool is_str;
	uint64_t u;
	char *s;
};

struct sysbus {
	vus_ctx *ctx;
	char *compatible[SYSBUS_MAX_COMPAT];
	unsigned int nr_compat;
	char *name;
	struct sysbus_window win[REGION_MAX_INDEX];
	unsigned int nr_win;
	enum vus_sysbus_trigger line[IRQ_MAX_INDEX];
	unsigned int nr_lines;
	struct sysbus_prop props[SYSBUS_MAX_PROPS];
	unsigned int nr_props;
	char *desc;       /* the published JSON, NUL-terminated */
	size_t desc_size; /* including the NUL */
};

/** Whether @s is a string we publish: 1..127 printable ASCII bytes. */
bool sysbus_str_ok(const char *s);

/**
 * Build the description JSON into sb->desc and add the read-only region
 * that publishes it after the last window. 0 or -errno.
 */
int sysbus_desc_publish(struct sysbus *sb);

#endif /* VUS_SYSBUS_INTERNAL_H */
