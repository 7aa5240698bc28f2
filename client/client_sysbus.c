/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_sysbus: reading a platform device's description (doc/sysbus.md).
 * The region is found by its TYPE capability alone, the JSON is parsed
 * strictly, and every window and line it names is checked against what
 * the server reports through GET_REGION_INFO and GET_IRQ_INFO: a
 * description cannot point a VMM at something that is not there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "caps.h"
#include "client_priv.h"
#include "common.h"

#define DESC_MAX (64u * 1024u) /* far more than any description needs */
#define SCAN_MAX 64u           /* regions looked at (REGION_MAX_INDEX) */
#define LIST_MAX 64u

static const char *const trigger_names[] = {
	"level-high", "level-low", "edge-rising", "edge-falling",
};

/* The index and size of the description region. */
static int find_desc(vus_client *c, uint32_t nregions, uint32_t *index,
		     uint64_t *size)
{
	for (uint32_t i = 0; i < MIN(nregions, SCAN_MAX); i++) {
		struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
		int ret = vus_client_region_info(c, i, &ri);

		if (ret < 0)
			return ret;
		if (ri.fd >= 0)
			close(ri.fd);
		if (ri.has_type && ri.type == WIRE_SYSBUS_DESC_TYPE &&
		    ri.subtype == WIRE_SYSBUS_DESC_SUBTYPE) {
			*index = i;
			*size = ri.size;
			return 0;
		}
	}
	return -ENOENT;
}

static int read_text(vus_client *c, uint32_t index, uint64_t size, char **out)
{
	char *text;
	int ret;

	if (size < 3 || size > DESC_MAX)
		return -EPROTO;
	text = malloc(size);
	if (text == NULL)
		return -ENOMEM;
	ret = vus_client_region_read(c, index, 0, text, size);
	/* One NUL, at the very end. */
	if (ret == 0 && (text[size - 1] != '\0' || strlen(text) != size - 1))
		ret = -EPROTO;
	if (ret < 0) {
		free(text);
		return ret;
	}
	*out = text;
	return 0;
}

/* A non-negative JSON integer. */
static bool get_u64(struct json_object *o, uint64_t *out)
{
	if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0)
		return false;
	*out = json_object_get_uint64(o);
	return true;
}

static char *dup_str(struct json_object *o)
{
	const char *s;

	if (!json_object_is_type(o, json_type_string))
		return NULL;
	s = json_object_get_string(o);
	return s[0] != '\0' && strlen(s) <= 127 ? strdup(s) : NULL;
}

/* The array member @key with 1..@max (or 0..@max) entries, or NULL. */
static struct json_object *array(struct json_object *root, const char *key,
				 size_t min, size_t max, size_t *n)
{
	struct json_object *a;

	if (!json_object_object_get_ex(root, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	*n = json_object_array_length(a);
	return *n >= min && *n <= max ? a : NULL;
}

static int parse_compatible(struct json_object *root,
			    struct vus_client_sysbus_desc *d)
{
	size_t n;
	struct json_object *a = array(root, "compatible", 1, 8, &n);

	if (a == NULL)
		return -EPROTO;
	d->compatible = calloc(n, sizeof(char *));
	if (d->compatible == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		d->compatible[i] = dup_str(json_object_array_get_idx(a, i));
		if (d->compatible[i] == NULL)
			return -EPROTO;
		d->nr_compatible = (unsigned int)i + 1;
	}
	return 0;
}

static int parse_mmio(vus_client *c, struct json_object *root,
		      struct vus_client_sysbus_desc *d, uint32_t nregions)
{
	size_t n;
	struct json_object *a = array(root, "mmio", 0, LIST_MAX, &n);

	if (a == NULL)
		return -EPROTO;
	d->mmio = calloc(n ? n : 1, sizeof(*d->mmio));
	if (d->mmio == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *w = json_object_array_get_idx(a, i), *v;
		struct vus_client_sysbus_mmio *m = &d->mmio[i];
		struct vus_client_region_info ri = { .struct_size = sizeof(ri) };
		uint64_t idx;

		if (!json_object_object_get_ex(w, "index", &v) || !get_u64(v, &idx) ||
		    idx >= nregions || idx == d->region ||
		    !json_object_object_get_ex(w, "size", &v) || !get_u64(v, &m->size))
			return -EPROTO;
		m->index = (uint32_t)idx;
		if (json_object_object_get_ex(w, "base", &v)) {
			if (!get_u64(v, &m->base))
				return -EPROTO;
			m->has_base = true;
		}
		/* The window must be what the server says it is. */
		if (vus_client_region_info(c, m->index, &ri) < 0)
			return -EPROTO;
		if (ri.fd >= 0)
			close(ri.fd);
		if (ri.size != m->size)
			return -EPROTO;
		d->nr_mmio = (unsigned int)i + 1;
	}
	return 0;
}

static int parse_trigger(struct json_object *v, enum vus_client_trigger *out)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return -EPROTO;
	s = json_object_get_string(v);
	for (unsigned int t = 0; t < ARRAY_SIZE(trigger_names); t++) {
		if (strcmp(s, trigger_names[t]) == 0) {
			*out = (enum vus_client_trigger)t;
			return 0;
		}
	}
	return -EPROTO;
}

static int parse_irqs(vus_client *c, struct json_object *root,
		      struct vus_client_sysbus_desc *d, uint32_t nirqs)
{
	size_t n;
	struct json_object *a = array(root, "irqs", 0, LIST_MAX, &n);

	if (a == NULL)
		return -EPROTO;
	d->irqs = calloc(n ? n : 1, sizeof(*d->irqs));
	if (d->irqs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(a, i), *v;
		struct vus_client_irq_info ii = { .struct_size = sizeof(ii) };
		uint64_t idx;

		if (!json_object_object_get_ex(l, "index", &v) || !get_u64(v, &idx) ||
		    idx >= nirqs || !json_object_object_get_ex(l, "trigger", &v) ||
		    parse_trigger(v, &d->irqs[i].trigger) < 0)
			return -EPROTO;
		d->irqs[i].index = (uint32_t)idx;
		if (vus_client_irq_info(c, d->irqs[i].index, &ii) < 0 || ii.count != 1)
			return -EPROTO;
		d->nr_irqs = (unsigned int)i + 1;
	}
	return 0;
}

static int parse_props(struct json_object *root, struct vus_client_sysbus_desc *d)
{
	struct json_object *o;
	size_t n;

	if (!json_object_object_get_ex(root, "properties", &o))
		return 0; /* optional */
	if (!json_object_is_type(o, json_type_object))
		return -EPROTO;
	n = (size_t)json_object_object_length(o);
	if (n > LIST_MAX)
		return -EPROTO;
	d->props = calloc(n ? n : 1, sizeof(*d->props));
	if (d->props == NULL)
		return -ENOMEM;
	json_object_object_foreach(o, key, val) {
		struct vus_client_sysbus_prop *p = &d->props[d->nr_props];

		p->key = strlen(key) <= 63 ? strdup(key) : NULL;
		d->nr_props++;
		if (p->key == NULL)
			return -EPROTO;
		p->is_str = json_object_is_type(val, json_type_string);
		if (p->is_str ? (p->s = dup_str(val)) == NULL : !get_u64(val, &p->u))
			return -EPROTO;
	}
	return 0;
}

static int parse(vus_client *c, struct json_object *root,
		 struct vus_client_sysbus_desc *d,
		 const struct vus_client_device_info *di)
{
	struct json_object *v;
	uint64_t version;
	int ret;

	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "version", &v) ||
	    !get_u64(v, &version) || version != 1)
		return -EPROTO;
	d->version = (unsigned int)version;
	if (json_object_object_get_ex(root, "name", &v) &&
	    (d->name = dup_str(v)) == NULL)
		return -EPROTO;
	ret = parse_compatible(root, d);
	ret = ret ? ret : parse_mmio(c, root, d, di->num_regions);
	ret = ret ? ret : parse_irqs(c, root, d, di->num_irqs);
	return ret ? ret : parse_props(root, d);
}

VUS_EXPORT int vus_client_sysbus_desc(vus_client *c,
				      struct vus_client_sysbus_desc **out)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };
	struct vus_client_sysbus_desc *d;
	struct json_object *root = NULL;
	uint64_t size = 0;
	int ret;

	if (c == NULL || out == NULL)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	ret = vus_client_device_info(c, &di);
	ret = ret ? ret : find_desc(c, di.num_regions, &d->region, &size);
	ret = ret ? ret : read_text(c, d->region, size, &d->json);
	if (ret == 0 && caps_json_parse(d->json, size - 1, &root) < 0)
		ret = -EPROTO;
	ret = ret ? ret : parse(c, root, d, &di);
	json_object_put(root);
	if (ret < 0) {
		vus_client_sysbus_desc_free(d);
		return ret;
	}
	*out = d;
	return 0;
}

VUS_EXPORT void vus_client_sysbus_desc_free(struct vus_client_sysbus_desc *d)
{
	if (d == NULL)
		return;
	for (unsigned int i = 0; i < d->nr_compatible; i++)
		free(d->compatible[i]);
	for (unsigned int i = 0; i < d->nr_props; i++) {
		free(d->props[i].key);
		free(d->props[i].s);
	}
	free(d->compatible);
	free(d->name);
	free(d->mmio);
	free(d->irqs);
	free(d->props);
	free(d->json);
	free(d);
}

static const struct vus_client_sysbus_prop *
find_prop(const struct vus_client_sysbus_desc *d, const char *key)
{
	for (unsigned int i = 0; d != NULL && key != NULL && i < d->nr_props; i++)
		if (strcmp(d->props[i].key, key) == 0)
			return &d->props[i];
	return NULL;
}

VUS_EXPORT int vus_client_sysbus_prop_u64(const struct vus_client_sysbus_desc *d,
					  const char *key, uint64_t *out)
{
	const struct vus_client_sysbus_prop *p = find_prop(d, key);

	if (p == NULL || out == NULL)
		return -ENOENT;
	if (p->is_str)
		return -EINVAL;
	*out = p->u;
	return 0;
}

VUS_EXPORT const char *
vus_client_sysbus_prop_str(const struct vus_client_sysbus_desc *d,
			   const char *key)
{
	const struct vus_client_sysbus_prop *p = find_prop(d, key);

	return p != NULL && p->is_str ? p->s : NULL;
}
