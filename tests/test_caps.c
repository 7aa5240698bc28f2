/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of VERSION capability parsing and building. */
#include <errno.h>
#include <string.h>

#include "caps.h"
#include "vtest.h"
#include "wire.h"

/* What QEMU 10.2 sends (193 characters of JSON). */
static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

static size_t payload(uint8_t *buf, uint16_t major, uint16_t minor,
		      const char *json, size_t jlen)
{
	struct wire_version v = { .major = major, .minor = minor };

	memcpy(buf, &v, sizeof(v));
	memcpy(buf + sizeof(v), json, jlen);
	return sizeof(v) + jlen;
}

static int parse(const char *json, struct caps *c)
{
	uint8_t buf[1024];
	uint16_t major, minor;
	size_t n = payload(buf, 0, 0, json, strlen(json) + 1);

	return caps_parse_version(buf, n, &major, &minor, c);
}

static void parses_what_qemu_sends(void **state)
{
	struct caps c;

	(void)state;
	assert_int_equal(strlen(qemu_json), 193);
	assert_int_equal(parse(qemu_json, &c), 0);
	assert_int_equal(c.max_msg_fds, 16);
	assert_int_equal(c.max_data_xfer_size, 1048576);
	assert_int_equal(c.pgsizes, 4096);
	assert_int_equal(c.max_dma_maps, 65535);
	assert_true(c.write_multiple);
	assert_true(c.has_migration);
	assert_int_equal(c.mig_pgsize, 4096);
}

static void defaults_without_json(void **state)
{
	uint8_t buf[8];
	uint16_t major = 9, minor = 9;
	struct caps c;
	size_t n = payload(buf, 0, 2, "", 0);

	(void)state;
	assert_int_equal(caps_parse_version(buf, n, &major, &minor, &c), 0);
	assert_int_equal(major, 0);
	assert_int_equal(minor, 2);
	assert_int_equal(c.max_msg_fds, 1); /* the spec's default */
	assert_int_equal(c.max_data_xfer_size, 1048576);
	assert_int_equal(caps_parse_version(buf, 3, &major, &minor, &c), -EINVAL);
}

static void unknown_keys_are_ignored(void **state)
{
	struct caps c;

	(void)state;
	assert_int_equal(parse("{\"capabilities\":{\"future\":[1,2]},\"x\":1}", &c), 0);
	assert_int_equal(parse("{}", &c), 0);
}

static const char *const bad_json[] = {
	"{\"capabilities\":{\"max_msg_fds\":1099511627776}}", /* 2^40 */
	"{\"capabilities\":{\"max_msg_fds\":-1}}",
	"{\"capabilities\":{\"max_msg_fds\":\"16\"}}",
	"{\"capabilities\":{\"max_msg_fds\":1.5}}",
	"{\"capabilities\":{\"max_data_xfer_size\":0}}",
	"{\"capabilities\":{\"max_data_xfer_size\":4294967296}}",
	"{\"capabilities\":{\"pgsizes\":0}}",
	"{\"capabilities\":{\"pgsizes\":512}}",
	"{\"capabilities\":{\"max_dma_maps\":0}}",
	"{\"capabilities\":{\"write_multiple\":1}}",
	"{\"capabilities\":{\"migration\":{\"pgsize\":100}}}",
	"{\"capabilities\":{\"migration\":7}}",
	"{\"capabilities\":{\"twin_socket\":{\"supported\":\"yes\"}}}",
	"{\"capabilities\":[]}",
	"[]",
	"17",
	"{\"capabilities\":{}} trailing",
	"{\"capabilities\":{},}",
	"{'capabilities':{}}",
	"{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
	"{",
	"",
};

static void rejects_bad_documents(void **state)
{
	struct caps c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++)
		if (parse(bad_json[i], &c) != -EINVAL)
			fail_msg("accepted: %s", bad_json[i]);
}

/* Each limit a client may announce: its largest value, and one more. */
static void limits_at_their_edges(void **state)
{
	static const struct { const char *json; int want; } cases[] = {
		{ "{\"capabilities\":{\"max_msg_fds\":1024}}", 0 },
		{ "{\"capabilities\":{\"max_msg_fds\":1025}}", -EINVAL },
		{ "{\"capabilities\":{\"max_data_xfer_size\":4294967295}}", 0 },
		{ "{\"capabilities\":{\"max_data_xfer_size\":4294967296}}", -EINVAL },
		{ "{\"capabilities\":{\"max_data_xfer_size\":1}}", 0 },
		{ "{\"capabilities\":{\"max_data_xfer_size\":0}}", -EINVAL },
		{ "{\"capabilities\":{\"max_dma_maps\":4294967295}}", 0 },
		{ "{\"capabilities\":{\"max_dma_maps\":4294967296}}", -EINVAL },
		{ "{\"capabilities\":{\"max_dma_maps\":1}}", 0 },
		{ "{\"capabilities\":{\"max_dma_maps\":0}}", -EINVAL },
		{ "{\"capabilities\":{\"pgsizes\":4096}}", 0 },
		{ "{\"capabilities\":{\"pgsizes\":2048}}", -EINVAL },
	};
	struct caps c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (parse(cases[i].json, &c) != cases[i].want)
			fail_msg("%s: not %d", cases[i].json, cases[i].want);
	assert_int_equal(parse("{\"capabilities\":{\"max_msg_fds\":1024}}", &c), 0);
	assert_int_equal(c.max_msg_fds, 1024);
}

static void rejects_missing_or_embedded_nul(void **state)
{
	uint8_t buf[64];
	uint16_t major, minor;
	struct caps c;
	size_t n;

	(void)state;
	n = payload(buf, 0, 0, "{}", 2); /* no NUL */
	assert_int_equal(caps_parse_version(buf, n, &major, &minor, &c), -EINVAL);
	n = payload(buf, 0, 0, "{}\0{}", 6); /* NUL inside */
	assert_int_equal(caps_parse_version(buf, n, &major, &minor, &c), -EINVAL);
}

static void builds_a_reply_qemu_accepts(void **state)
{
	uint8_t buf[512];
	uint16_t major, minor;
	struct caps c, back;
	int n;

	(void)state;
	caps_defaults(&c);
	c.max_msg_fds = 16;
	c.max_data_xfer_size = 1048576;
	c.max_dma_maps = 65535;
	n = caps_build_version(buf, sizeof(buf), 0, 0, &c);
	assert_true(n > 4);
	/* QEMU reads our reply into its 214-byte request buffer. */
	assert_true(16 + n <= 214);
	assert_int_equal(buf[n - 1], '\0');
	assert_int_equal(caps_parse_version(buf, (size_t)n, &major, &minor, &back), 0);
	assert_int_equal(back.max_msg_fds, 16);
	assert_int_equal(back.max_dma_maps, 65535);
	assert_false(back.write_multiple);
	assert_int_equal(caps_build_version(buf, 20, 0, 0, &c), -ENOSPC);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(parses_what_qemu_sends),
		VTEST(defaults_without_json),
		VTEST(unknown_keys_are_ignored),
		VTEST(rejects_bad_documents),
		VTEST(limits_at_their_edges),
		VTEST(rejects_missing_or_embedded_nul),
		VTEST(builds_a_reply_qemu_accepts),
	};

	return vtest_run("caps", tests, argc, argv);
}
