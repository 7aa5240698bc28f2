/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_params: a method's parameters, declared as data (struct
 * vus_rpc_param): copied and checked at registration, every call's params
 * checked against them before its handler runs (names, types, ranges,
 * lengths, choices), read by handlers through vus_rpc_get_*(), and
 * described for rpc.discover as OpenRPC content descriptors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common.h"
#include "rpc_priv.h"

#define MAX_CHOICES 32u

static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool text_ok(const char *s, size_t max)
{
	return s != NULL && strlen(s) <= max && rpc_utf8_ok(s, strlen(s));
}

static int copy_choices(struct rpc_param *d, const char *const *c,
			size_t max_len)
{
	size_t n = 0;

	while (c[n] != NULL) {
		if (n == MAX_CHOICES || strlen(c[n]) > max_len ||
		    !text_ok(c[n], max_len))
			return -EINVAL;
		n++;
	}
	if (n == 0)
		return -EINVAL;
	d->choices = calloc(n + 1, sizeof(char *));
	if (d->choices == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((d->choices[i] = strdup(c[i])) == NULL)
			return -ENOMEM;
	return 0;
}

/* Check one caller description @s and fill @d from it. */
static int copy_one(struct rpc_param *d, const struct vus_rpc_param *s)
{
	if (!name_ok(s->name, RPC_PARAM_NAME_MAX))
		return -EINVAL;
	if (s->type < VUS_RPC_BOOL || s->type > VUS_RPC_STRING)
		return -EINVAL;
	if (s->type == VUS_RPC_INT && s->min > s->max)
		return -EINVAL;
	if (s->choices != NULL && s->type != VUS_RPC_STRING)
		return -EINVAL;
	if (s->summary != NULL && !text_ok(s->summary, RPC_SUMMARY_MAX))
		return -EINVAL;
	strcpy(d->name, s->name);
	d->type = s->type;
	d->required = s->required;
	d->min = s->min;
	d->max = s->max;
	if (s->type == VUS_RPC_INT && s->min == 0 && s->max == 0) {
		d->min = INT64_MIN;
		d->max = INT64_MAX;
	}
	d->umax = s->umax ? s->umax : UINT64_MAX;
	d->max_len = s->max_len ? s->max_len : RPC_STRING_DEFAULT_MAX;
	if (s->summary != NULL && (d->summary = strdup(s->summary)) == NULL)
		return -ENOMEM;
	return s->choices ? copy_choices(d, s->choices, d->max_len) : 0;
}

int rpc_params_copy(struct rpc_method *m, const struct vus_rpc_param *p,
		    size_t n)
{
	size_t stride;
	int ret = 0;

	if (n == 0)
		return 0;
	if (p == NULL || n > RPC_MAX_PARAMS)
		return -EINVAL;
	/* The caller's element size: an older, smaller struct is fine. */
	stride = p->struct_size;
	if (stride < offsetof(struct vus_rpc_param, type) ||
	    stride > sizeof(struct vus_rpc_param))
		return -EINVAL;
	m->params = calloc(n, sizeof(*m->params));
	if (m->params == NULL)
		return -ENOMEM;
	m->n_params = (unsigned int)n;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct vus_rpc_param s;
		const void *src = (const char *)p + i * stride;

		if (copy_sized(&s, sizeof(s), src) < 0 || s.struct_size != stride)
			return -EINVAL;
		ret = copy_one(&m->params[i], &s);
		for (size_t k = 0; ret == 0 && k < i; k++)
			if (strcmp(m->params[k].name, m->params[i].name) == 0)
				ret = -EINVAL;
	}
	return ret;
}

void rpc_params_free(struct rpc_method *m)
{
	for (unsigned int i = 0; i < m->n_params; i++) {
		struct rpc_param *p = &m->params[i];

		for (size_t k = 0; p->choices && p->choices[k]; k++)
			free(p->choices[k]);
		free(p->choices);
		free(p->summary);
	}
	free(m->params);
	m->params = NULL;
	m->n_params = 0;
}

static const struct rpc_param *find(const struct rpc_method *m,
				    const char *name, size_t len)
{
	for (unsigned int i = 0; i < m->n_params; i++)
		if (strlen(m->params[i].name) == len &&
		    memcmp(m->params[i].name, name, len) == 0)
			return &m->params[i];
	return NULL;
}

PRINTF_LIKE(3, 4)
static int invalid(char *msg, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, cap, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A JSON integer as a sign and magnitude: json-c clamps int64 reads. */
static void int_value(struct json_object *v, bool *neg, uint64_t *mag,
		      int64_t *sv)
{
	*sv = json_object_get_int64(v);
	*neg = *sv < 0;
	*mag = *neg ? 0 : json_object_get_uint64(v);
}

static int check_int(const struct rpc_param *p, struct json_object *v,
		     char *msg, size_t cap)
{
	bool neg;
	uint64_t mag;
	int64_t sv;

	if (!json_object_is_type(v, json_type_int))
		goto bad;
	int_value(v, &neg, &mag, &sv);
	if (p->type == VUS_RPC_UINT && !neg && mag <= p->umax)
		return 0;
	if (p->type == VUS_RPC_INT && (neg || mag <= INT64_MAX) &&
	    sv >= p->min && sv <= p->max)
		return 0;
bad:
	if (p->type == VUS_RPC_UINT)
		return invalid(msg, cap, "'%s': expected an integer in 0..%" PRIu64,
			       p->name, p->umax);
	return invalid(msg, cap, "'%s': expected an integer in %" PRId64 "..%"
		       PRId64, p->name, p->min, p->max);
}

static int check_str(const struct rpc_param *p, struct json_object *v,
		     char *msg, size_t cap)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return invalid(msg, cap, "'%s': expected a string", p->name);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return invalid(msg, cap, "'%s': contains a NUL", p->name);
	if (len > p->max_len)
		return invalid(msg, cap, "'%s': longer than %zu bytes", p->name,
			       p->max_len);
	for (size_t i = 0; p->choices && p->choices[i]; i++)
		if (strcmp(p->choices[i], s) == 0)
			return 0;
	if (p->choices != NULL)
		return invalid(msg, cap, "'%s': not one of the allowed values",
			       p->name);
	return 0;
}

static int check_value(const struct rpc_param *p, struct json_object *v,
		       char *msg, size_t cap)
{
	switch (p->type) {
	case VUS_RPC_BOOL:
		return json_object_is_type(v, json_type_boolean) ? 0 :
		       invalid(msg, cap, "'%s': expected true or false", p->name);
	case VUS_RPC_INT:
	case VUS_RPC_UINT:
		return check_int(p, v, msg, cap);
	case VUS_RPC_STRING:
		return check_str(p, v, msg, cap);
	}
	return -EINVAL;
}

int rpc_params_check(const struct rpc_method *m, struct json_object *params,
		     char *msg, size_t msg_cap)
{
	struct json_object *v;

	if (params != NULL) {
		json_object_object_foreach(params, key, val) {
			const struct rpc_param *p = find(m, key, strlen(key));
			char q[48];

			(void)val;
			if (p == NULL)
				return invalid(msg, msg_cap, "unknown parameter %s",
					       rpc_quote(key, strlen(key), q,
							 sizeof(q)));
		}
	}
	for (unsigned int i = 0; i < m->n_params; i++) {
		const struct rpc_param *p = &m->params[i];
		int ret;

		if (params == NULL || !json_object_object_get_ex(params, p->name, &v)) {
			if (p->required)
				return invalid(msg, msg_cap,
					       "missing parameter '%s'", p->name);
			continue;
		}
		ret = check_value(p, v, msg, msg_cap);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The checked value of parameter @name of type @t, or an errno. */
static int get(const vus_rpc_req *req, const char *name,
	       enum vus_rpc_type t, struct json_object **v)
{
	const struct rpc_param *p;

	if (req == NULL || name == NULL)
		return -EINVAL;
	p = find(req->m, name, strlen(name));
	if (p == NULL || p->type != t)
		return -EINVAL;
	if (req->params == NULL ||
	    !json_object_object_get_ex(req->params, name, v))
		return -ENOENT;
	return 0;
}

VUS_EXPORT int vus_rpc_get_bool(const vus_rpc_req *req, const char *name,
				bool *out)
{
	struct json_object *v;
	int ret = get(req, name, VUS_RPC_BOOL, &v);

	if (ret == 0)
		*out = json_object_get_boolean(v);
	return ret;
}

VUS_EXPORT int vus_rpc_get_int(const vus_rpc_req *req, const char *name,
			       int64_t *out)
{
	struct json_object *v;
	int ret = get(req, name, VUS_RPC_INT, &v);

	/* Checked against the declared int64_t range: exact. */
	if (ret == 0)
		*out = json_object_get_int64(v);
	return ret;
}

VUS_EXPORT int vus_rpc_get_uint(const vus_rpc_req *req, const char *name,
				uint64_t *out)
{
	struct json_object *v;
	int ret = get(req, name, VUS_RPC_UINT, &v);

	if (ret == 0)
		*out = json_object_get_uint64(v);
	return ret;
}

VUS_EXPORT int vus_rpc_get_str(const vus_rpc_req *req, const char *name,
			       const char **out)
{
	struct json_object *v;
	int ret = get(req, name, VUS_RPC_STRING, &v);

	if (ret == 0)
		*out = json_object_get_string(v);
	return ret;
}

static int schema_add(struct json_object *o, const char *key,
		      struct json_object *v)
{
	if (v == NULL || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* The JSON Schema of one parameter's value. */
static struct json_object *schema(const struct rpc_param *p)
{
	static const char *const types[] = { [VUS_RPC_BOOL] = "boolean",
		[VUS_RPC_INT] = "integer", [VUS_RPC_UINT] = "integer",
		[VUS_RPC_STRING] = "string" };
	struct json_object *s = json_object_new_object();
	int ret;

	if (s == NULL)
		return NULL;
	ret = schema_add(s, "type", json_object_new_string(types[p->type]));
	if (p->type == VUS_RPC_INT) {
		ret |= schema_add(s, "minimum", json_object_new_int64(p->min));
		ret |= schema_add(s, "maximum", json_object_new_int64(p->max));
	} else if (p->type == VUS_RPC_UINT) {
		ret |= schema_add(s, "minimum", json_object_new_int64(0));
		ret |= schema_add(s, "maximum", json_object_new_uint64(p->umax));
	} else if (p->type == VUS_RPC_STRING) {
		ret |= schema_add(s, "maxLength",
				  json_object_new_uint64(p->max_len));
	}
	if (p->choices != NULL) {
		struct json_object *e = json_object_new_array();

		ret |= schema_add(s, "enum", e);
		for (size_t i = 0; ret == 0 && p->choices[i]; i++) {
			struct json_object *c = json_object_new_string(p->choices[i]);

			if (c == NULL || json_object_array_add(e, c) < 0) {
				json_object_put(c);
				ret = -ENOMEM;
			}
		}
	}
	if (ret != 0) {
		json_object_put(s);
		return NULL;
	}
	return s;
}

static struct json_object *descriptor(const struct rpc_param *p)
{
	struct json_object *d = json_object_new_object();
	int ret;

	if (d == NULL)
		return NULL;
	ret = schema_add(d, "name", json_object_new_string(p->name));
	if (p->summary != NULL)
		ret |= schema_add(d, "summary", json_object_new_string(p->summary));
	ret |= schema_add(d, "required", json_object_new_boolean(p->required));
	ret |= schema_add(d, "schema", schema(p));
	if (ret != 0) {
		json_object_put(d);
		return NULL;
	}
	return d;
}

struct json_object *rpc_params_describe(const struct rpc_method *m)
{
	struct json_object *a = json_object_new_array();

	for (unsigned int i = 0; a != NULL && i < m->n_params; i++) {
		struct json_object *d = descriptor(&m->params[i]);

		if (d == NULL || json_object_array_add(a, d) < 0) {
			json_object_put(d);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}
