/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sysbus: the SysBus (platform device) adapter. Windows are regions
 * 0..n-1 and lines are IRQ indexes 0..m-1, both handed out in order; the
 * adapter reserves every index so the generic calls cannot interleave with
 * that numbering. At realize it publishes the device's description
 * (sysbus_desc.c). It has no emulated state of its own to reset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctx_internal.h"
#include "irq_table.h"
#include "region_table.h"
#include "sysbus_priv.h"

static int sysbus_realize(void *bus)
{
	return sysbus_desc_publish(bus);
}

static void sysbus_destroy(void *bus)
{
	struct sysbus *sb = bus;

	for (unsigned int i = 0; i < sb->nr_compat; i++)
		free(sb->compatible[i]);
	for (unsigned int i = 0; i < sb->nr_props; i++)
		free(sb->props[i].s);
	free(sb->name);
	free(sb->desc);
	free(sb);
}

/* Migration streams name the device by its first compatible string. */
static int sysbus_identity(void *bus, char *buf, size_t len)
{
	const struct sysbus *sb = bus;
	int n = snprintf(buf, len, "sysbus:%s", sb->compatible[0]);

	return n > 0 && (size_t)n < len ? 0 : -ENOSPC;
}

static const struct bus_ops sysbus_ops = {
	.name = "sysbus",
	.realize = sysbus_realize,
	.destroy = sysbus_destroy,
	.identity = sysbus_identity,
};

bool sysbus_str_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > SYSBUS_STR_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static int copy_identity(struct sysbus *sb, const struct vus_sysbus_info *in)
{
	if (in->compatible == NULL || in->compatible[0] == NULL)
		return -EINVAL;
	for (unsigned int i = 0; in->compatible[i] != NULL; i++) {
		if (i == SYSBUS_MAX_COMPAT || !sysbus_str_ok(in->compatible[i]))
			return -EINVAL;
		sb->compatible[i] = strdup(in->compatible[i]);
		if (sb->compatible[i] == NULL)
			return -ENOMEM;
		sb->nr_compat = i + 1;
	}
	if (in->name != NULL) {
		if (!sysbus_str_ok(in->name))
			return -EINVAL;
		sb->name = strdup(in->name);
		if (sb->name == NULL)
			return -ENOMEM;
	}
	return 0;
}

VUS_EXPORT int vus_sysbus_init(vus_ctx *ctx, const struct vus_sysbus_info *info)
{
	struct vus_sysbus_info in;
	struct sysbus *sb;
	int ret;

	if (ctx == NULL || ctx_bus_type(ctx) != VUS_BUS_SYSBUS ||
	    copy_sized(&in, sizeof(in), info) < 0)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	if (ctx_bus_ops(ctx) != NULL)
		return -EEXIST;
	sb = calloc(1, sizeof(*sb));
	if (sb == NULL)
		return -ENOMEM;
	sb->ctx = ctx;
	ret = copy_identity(sb, &in);
	if (ret == 0)
		ret = ctx_set_bus(ctx, &sysbus_ops, sb);
	if (ret < 0) {
		sysbus_destroy(sb);
		return ret;
	}
	/* Windows and lines are numbered by this adapter alone. */
	region_reserve(ctx_regions(ctx), 0, REGION_MAX_INDEX);
	irq_reserve(ctx_irqs(ctx), 0, IRQ_MAX_INDEX);
	return 0;
}

/* The adapter of an unrealized SysBus context, or an error. */
static int get_open(vus_ctx *ctx, struct sysbus **out)
{
	if (ctx == NULL)
		return -EINVAL;
	*out = ctx_bus(ctx, &sysbus_ops);
	if (*out == NULL)
		return -EINVAL;
	return ctx_realized(ctx) ? -EBUSY : 0;
}

VUS_EXPORT int vus_sysbus_add_mmio(vus_ctx *ctx,
				   const struct vus_region_desc *desc,
				   uint64_t base)
{
	struct sysbus *sb;
	int ret = get_open(ctx, &sb);

	if (ret < 0)
		return ret;
	if (desc == NULL)
		return -EINVAL;
	/* Keep one index free for the description region. */
	if (sb->nr_win + 1 >= REGION_MAX_INDEX)
		return -ENOSPC;
	ret = region_add(ctx_regions(ctx), sb->nr_win, desc, vus_ctx_opaque(ctx));
	if (ret < 0)
		return ret;
	sb->win[sb->nr_win] = (struct sysbus_window){ .size = desc->size,
						      .base = base };
	return (int)sb->nr_win++;
}

static bool is_level(enum vus_sysbus_trigger t)
{
	return t == VUS_SYSBUS_LEVEL_HIGH || t == VUS_SYSBUS_LEVEL_LOW;
}

VUS_EXPORT int vus_sysbus_add_irq(vus_ctx *ctx, enum vus_sysbus_trigger trigger)
{
	struct sysbus *sb;
	int ret = get_open(ctx, &sb);

	if (ret < 0)
		return ret;
	if ((unsigned int)trigger > VUS_SYSBUS_EDGE_FALLING)
		return -EINVAL;
	if (sb->nr_lines >= IRQ_MAX_INDEX)
		return -ENOSPC;
	ret = irq_add(ctx_irqs(ctx), sb->nr_lines, 1,
		      is_level(trigger) ? VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED : 0);
	if (ret < 0)
		return ret;
	sb->line[sb->nr_lines] = trigger;
	return (int)sb->nr_lines++;
}

/* A line of a SysBus context of the wanted kind (realized or not). */
static int get_line(vus_ctx *ctx, unsigned int line, bool level)
{
	struct sysbus *sb = ctx ? ctx_bus(ctx, &sysbus_ops) : NULL;

	if (sb == NULL || line >= sb->nr_lines || is_level(sb->line[line]) != level)
		return -EINVAL;
	return 0;
}

VUS_EXPORT int vus_sysbus_irq_set(vus_ctx *ctx, unsigned int line, bool asserted)
{
	int ret = get_line(ctx, line, true);

	return ret < 0 ? ret : irq_set_level(ctx_irqs(ctx), line, 0, asserted);
}

VUS_EXPORT int vus_sysbus_irq_pulse(vus_ctx *ctx, unsigned int line)
{
	int ret = get_line(ctx, line, false);

	return ret < 0 ? ret : irq_trigger(ctx_irqs(ctx), line, 0);
}

static bool key_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;

	if (n == 0 || n > SYSBUS_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') ||
		      strchr(",.+_-", k[i]) != NULL))
			return false;
	return true;
}

/* The slot for @key: the existing one, or a new one. */
static int prop_slot(vus_ctx *ctx, const char *key, struct sysbus_prop **out)
{
	struct sysbus *sb;
	int ret = get_open(ctx, &sb);

	if (ret < 0)
		return ret;
	if (!key_ok(key))
		return -EINVAL;
	for (unsigned int i = 0; i < sb->nr_props; i++) {
		if (strcmp(sb->props[i].key, key) == 0) {
			free(sb->props[i].s);
			sb->props[i].s = NULL;
			*out = &sb->props[i];
			return 0;
		}
	}
	if (sb->nr_props == SYSBUS_MAX_PROPS)
		return -ENOSPC;
	*out = &sb->props[sb->nr_props++];
	memset(*out, 0, sizeof(**out));
	memcpy((*out)->key, key, strlen(key) + 1);
	return 0;
}

VUS_EXPORT int vus_sysbus_set_prop_u64(vus_ctx *ctx, const char *key,
				       uint64_t value)
{
	struct sysbus_prop *p;
	int ret = prop_slot(ctx, key, &p);

	if (ret < 0)
		return ret;
	p->is_str = false;
	p->u = value;
	return 0;
}

VUS_EXPORT int vus_sysbus_set_prop_str(vus_ctx *ctx, const char *key,
				       const char *value)
{
	struct sysbus_prop *p;
	char *dup;
	int ret;

	if (!sysbus_str_ok(value))
		return -EINVAL;
	dup = strdup(value);
	if (dup == NULL)
		return -ENOMEM;
	ret = prop_slot(ctx, key, &p);
	if (ret < 0) {
		free(dup);
		return ret;
	}
	p->is_str = true;
	p->s = dup;
	return 0;
}
