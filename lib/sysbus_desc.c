/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sysbus_desc: the platform device description. Built once at realize
 * with json-c and published as a read-only region right after the last
 * MMIO window, marked with the VFIO TYPE capability
 * VUS_SYSBUS_DESC_TYPE/VUS_SYSBUS_DESC_SUBTYPE, so that any client finds
 * it with GET_REGION_INFO alone. The format is specified in doc/sysbus.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common.h"
#include "ctx_internal.h"
#include "region_table.h"
#include "sysbus_priv.h"

#define SYSBUS_DESC_VERSION 1

static const char *const trigger_names[] = {
	[VUS_SYSBUS_LEVEL_HIGH] = "level-high",
	[VUS_SYSBUS_LEVEL_LOW] = "level-low",
	[VUS_SYSBUS_EDGE_RISING] = "edge-rising",
	[VUS_SYSBUS_EDGE_FALLING] = "edge-falling",
};

/* json-c: 0 on success; collects failures so callers check once. */
static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int push(struct json_object *a, struct json_object *v)
{
	if (v == NULL || json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *u64(uint64_t v)
{
	return v > INT64_MAX ? json_object_new_uint64(v)
			     : json_object_new_int64((int64_t)v);
}

static int add_windows(const struct sysbus *sb, struct json_object *root)
{
	struct json_object *a = json_object_new_array();
	int ret = add(root, "mmio", a);

	for (unsigned int i = 0; ret == 0 && i < sb->nr_win; i++) {
		struct json_object *w = json_object_new_object();

		ret = push(a, w);
		ret = ret ? ret : add(w, "index", json_object_new_int(i));
		ret = ret ? ret : add(w, "size", u64(sb->win[i].size));
		if (ret == 0 && sb->win[i].base != VUS_SYSBUS_NO_BASE)
			ret = add(w, "base", u64(sb->win[i].base));
	}
	return ret;
}

static int add_lines(const struct sysbus *sb, struct json_object *root)
{
	struct json_object *a = json_object_new_array();
	int ret = add(root, "irqs", a);

	for (unsigned int i = 0; ret == 0 && i < sb->nr_lines; i++) {
		struct json_object *l = json_object_new_object();

		ret = push(a, l);
		ret = ret ? ret : add(l, "index", json_object_new_int(i));
		ret = ret ? ret : add(l, "trigger",
				      json_object_new_string(trigger_names[sb->line[i]]));
	}
	return ret;
}

static int add_props(const struct sysbus *sb, struct json_object *root)
{
	struct json_object *o = json_object_new_object();
	int ret = add(root, "properties", o);

	for (unsigned int i = 0; ret == 0 && i < sb->nr_props; i++) {
		const struct sysbus_prop *p = &sb->props[i];

		ret = add(o, p->key, p->is_str ? json_object_new_string(p->s)
					       : u64(p->u));
	}
	return ret;
}

static int build(const struct sysbus *sb, struct json_object *root)
{
	struct json_object *compat = json_object_new_array();
	int ret = add(root, "version", json_object_new_int(SYSBUS_DESC_VERSION));

	ret = ret ? ret : add(root, "compatible", compat);
	for (unsigned int i = 0; ret == 0 && i < sb->nr_compat; i++)
		ret = push(compat, json_object_new_string(sb->compatible[i]));
	if (ret == 0 && sb->name != NULL)
		ret = add(root, "name", json_object_new_string(sb->name));
	ret = ret ? ret : add_windows(sb, root);
	ret = ret ? ret : add_lines(sb, root);
	return ret ? ret : add_props(sb, root);
}

static int desc_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	const struct sysbus *sb = opaque;

	/* The region layer checked off + len against the region's size. */
	memcpy(buf, sb->desc + off, len);
	return 0;
}

int sysbus_desc_publish(struct sysbus *sb)
{
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = desc_read,
	};
	struct json_object *root = json_object_new_object();
	struct vus_region_desc d;
	const char *text;
	int ret;

	ret = root ? build(sb, root) : -ENOMEM;
	text = ret == 0 ? json_object_to_json_string_ext(root,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
			: NULL;
	if (ret == 0 && text == NULL)
		ret = -ENOMEM;
	if (ret == 0) {
		free(sb->desc);
		sb->desc_size = strlen(text) + 1;
		sb->desc = strdup(text);
		ret = sb->desc ? 0 : -ENOMEM;
	}
	json_object_put(root);
	if (ret < 0)
		return ret;
	d = (struct vus_region_desc){
		.struct_size = sizeof(d), .size = sb->desc_size,
		.flags = VUS_REGION_READ, .ops = &ops, .opaque = sb,
		.type = VUS_SYSBUS_DESC_TYPE, .subtype = VUS_SYSBUS_DESC_SUBTYPE,
		.access_flags = VUS_ACCESS_ANY, /* read as a whole document */
	};
	return region_add(ctx_regions(sb->ctx), sb->nr_win, &d, sb);
}
