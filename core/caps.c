/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * caps: parse and build the capabilities object of VERSION with json-c,
 * and the strict parser every JSON document received from a peer goes
 * through (VERSION, the SysBus description).
 * Each known key has a checker in a table (one rule per key); unknown keys
 * are ignored as the spec requires.
 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "caps.h"
#include "wire.h"

/* Bound the parser's recursion: the document is at most three levels. */
#define CAPS_JSON_DEPTH 8

void caps_defaults(struct caps *c)
{
	memset(c, 0, sizeof(*c));
	c->max_msg_fds = 1;
	c->max_data_xfer_size = WIRE_DEFAULT_XFER;
	c->pgsizes = PAGE_4K;
	c->max_dma_maps = 65535;
	c->mig_max_bitmap_size = 256u << 20;
}

/* A non-negative JSON integer, or -EINVAL. */
static int get_uint(struct json_object *o, uint64_t *out)
{
	if (!json_object_is_type(o, json_type_int))
		return -EINVAL;
	if (json_object_get_int64(o) < 0)
		return -EINVAL;
	*out = json_object_get_uint64(o);
	return 0;
}

static int get_bool(struct json_object *o, bool *out)
{
	if (!json_object_is_type(o, json_type_boolean))
		return -EINVAL;
	*out = json_object_get_boolean(o);
	return 0;
}

static int check_max_msg_fds(struct json_object *o, struct caps *c)
{
	int ret = get_uint(o, &c->max_msg_fds);

	if (ret == 0 && c->max_msg_fds > CAPS_MAX_MSG_FDS)
		ret = -EINVAL;
	return ret;
}

static int check_max_xfer(struct json_object *o, struct caps *c)
{
	int ret = get_uint(o, &c->max_data_xfer_size);

	/* Zero would stall chunked transfers; sizes are u32 on the wire. */
	if (ret == 0 && (c->max_data_xfer_size == 0 ||
			 c->max_data_xfer_size > UINT32_MAX))
		ret = -EINVAL;
	return ret;
}

static int check_pgsizes(struct json_object *o, struct caps *c)
{
	int ret = get_uint(o, &c->pgsizes);

	/* No page size below 4 KiB exists for DMA mappings. */
	if (ret == 0 && (c->pgsizes == 0 || (c->pgsizes & 0xfffu)))
		ret = -EINVAL;
	return ret;
}

static int check_max_dma_maps(struct json_object *o, struct caps *c)
{
	int ret = get_uint(o, &c->max_dma_maps);

	if (ret == 0 && (c->max_dma_maps == 0 ||
			 c->max_dma_maps > CAPS_MAX_DMA_MAPS))
		ret = -EINVAL;
	return ret;
}

static int check_write_multiple(struct json_object *o, struct caps *c)
{
	return get_bool(o, &c->write_multiple);
}

static int check_twin_socket(struct json_object *o, struct caps *c)
{
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	c->twin_socket = false;
	if (json_object_object_get_ex(o, "supported", &v))
		return get_bool(v, &c->twin_socket);
	return 0;
}

static int check_migration(struct json_object *o, struct caps *c)
{
	struct json_object *v;
	int ret = 0;

	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	c->has_migration = true;
	if (json_object_object_get_ex(o, "pgsize", &v)) {
		ret = get_uint(v, &c->mig_pgsize);
		if (ret == 0 && (c->mig_pgsize == 0 || (c->mig_pgsize & 0xfffu)))
			ret = -EINVAL;
	}
	if (ret == 0 && json_object_object_get_ex(o, "max_bitmap_size", &v)) {
		ret = get_uint(v, &c->mig_max_bitmap_size);
		if (ret == 0 && c->mig_max_bitmap_size == 0)
			ret = -EINVAL;
	}
	return ret;
}

static const struct {
	const char *key;
	int (*check)(struct json_object *o, struct caps *c);
} cap_keys[] = {
	{ "max_msg_fds", check_max_msg_fds },
	{ "max_data_xfer_size", check_max_xfer },
	{ "pgsizes", check_pgsizes },
	{ "max_dma_maps", check_max_dma_maps },
	{ "write_multiple", check_write_multiple },
	{ "twin_socket", check_twin_socket },
	{ "migration", check_migration },
};

static int parse_caps_object(struct json_object *root, struct caps *c)
{
	struct json_object *caps, *v;

	if (!json_object_is_type(root, json_type_object))
		return -EINVAL;
	if (!json_object_object_get_ex(root, "capabilities", &caps))
		return 0;
	if (!json_object_is_type(caps, json_type_object))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(cap_keys) / sizeof(cap_keys[0]); i++) {
		if (!json_object_object_get_ex(caps, cap_keys[i].key, &v))
			continue;
		int ret = cap_keys[i].check(v, c);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* json-c accepts single-quoted strings even when strict; JSON does not. */
static bool has_single_quotes(const char *text, size_t len)
{
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		if (in_str && text[i] == '\\')
			i++;
		else if (text[i] == '"')
			in_str = !in_str;
		else if (!in_str && text[i] == '\'')
			return true;
	}
	return false;
}

int caps_json_parse(const char *text, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *root;

	*out = NULL;
	if (len > INT32_MAX || has_single_quotes(text, len))
		return -EINVAL;
	tok = json_tokener_new_ex(CAPS_JSON_DEPTH);
	if (tok == NULL)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	/* The whole text must be one complete document. */
	if (root != NULL &&
	    json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len)
		*out = root;
	else
		json_object_put(root);
	json_tokener_free(tok);
	return *out ? 0 : -EINVAL;
}

static int parse_json(const char *text, size_t len, struct caps *c)
{
	struct json_object *root;
	int ret = caps_json_parse(text, len, &root);

	if (ret == 0)
		ret = parse_caps_object(root, c);
	json_object_put(root);
	return ret;
}

int caps_parse_version(const void *payload, size_t len, uint16_t *major,
		       uint16_t *minor, struct caps *c)
{
	const struct wire_version *v = payload;
	const char *json;
	size_t jlen;

	caps_defaults(c);
	/* Before any pointer arithmetic: an empty payload may be NULL. */
	if (len < sizeof(*v))
		return -EINVAL;
	*major = v->major;
	*minor = v->minor;
	jlen = len - sizeof(*v);
	if (jlen == 0)
		return 0;
	json = (const char *)payload + sizeof(*v);
	/* NUL-terminated at the very end, with no NUL inside the text. */
	if (json[jlen - 1] != '\0' || strlen(json) != jlen - 1)
		return -EINVAL;
	return parse_json(json, jlen - 1, c);
}

static int add_uint(struct json_object *o, const char *key, uint64_t v)
{
	/* Unsigned: values above INT64_MAX must not come out negative. */
	struct json_object *n = json_object_new_uint64(v);

	if (n == NULL || json_object_object_add(o, key, n) < 0) {
		json_object_put(n);
		return -ENOMEM;
	}
	return 0;
}

static int build_caps(struct json_object *caps, const struct caps *c)
{
	int ret = 0;

	ret |= add_uint(caps, "max_msg_fds", c->max_msg_fds);
	ret |= add_uint(caps, "max_data_xfer_size", c->max_data_xfer_size);
	ret |= add_uint(caps, "pgsizes", c->pgsizes);
	ret |= add_uint(caps, "max_dma_maps", c->max_dma_maps);
	if (ret == 0 && c->write_multiple) {
		struct json_object *b = json_object_new_boolean(1);
		if (b == NULL || json_object_object_add(caps, "write_multiple", b) < 0) {
			json_object_put(b);
			ret = -ENOMEM;
		}
	}
	if (ret == 0 && c->has_migration) {
		struct json_object *m = json_object_new_object();
		if (m == NULL || json_object_object_add(caps, "migration", m) < 0) {
			json_object_put(m);
			return -ENOMEM;
		}
		/* An absent pgsize (0) stays absent: 0 is not a page size. */
		if (c->mig_pgsize != 0)
			ret |= add_uint(m, "pgsize", c->mig_pgsize);
		ret |= add_uint(m, "max_bitmap_size", c->mig_max_bitmap_size);
	}
	return ret ? -ENOMEM : 0;
}

int caps_build_version(void *buf, size_t cap, uint16_t major, uint16_t minor,
		       const struct caps *c)
{
	struct json_object *root = json_object_new_object();
	struct json_object *caps = json_object_new_object();
	struct wire_version v = { .major = major, .minor = minor };
	const char *text;
	size_t tlen;
	int ret;

	if (root == NULL || caps == NULL ||
	    json_object_object_add(root, "capabilities", caps) < 0) {
		json_object_put(caps);
		json_object_put(root);
		return -ENOMEM;
	}
	ret = build_caps(caps, c);
	if (ret == 0) {
		text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
		tlen = text ? strlen(text) : 0;
		if (text == NULL)
			ret = -ENOMEM;
		else if (sizeof(v) + tlen + 1 > cap)
			ret = -ENOSPC;
		else {
			memcpy(buf, &v, sizeof(v));
			memcpy((char *)buf + sizeof(v), text, tlen + 1);
			ret = (int)(sizeof(v) + tlen + 1);
		}
	}
	json_object_put(root);
	return ret;
}
