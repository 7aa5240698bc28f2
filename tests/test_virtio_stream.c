/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_virtio_stream: reading and patching the sample's migration stream
 * (test_virtio_stream.h).
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtest.h"

#include "test_virtio_stream.h"

/* CRC32C (Castagnoli, reflected), bit by bit: the stream's trailer. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return ~c;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

size_t tv_section_at(const uint8_t *s, size_t len, const char *name,
		     uint32_t *data_len)
{
	size_t off = 18 + (size_t)(s[16] | s[17] << 8); /* header, identity */

	while (off + 1 < len && s[off] == 1) {
		size_t nl = s[off + 1];
		uint32_t dl = le32(s + off + 2 + nl + 4);

		if (nl == strlen(name) && memcmp(s + off + 2, name, nl) == 0) {
			*data_len = dl;
			return off + 2 + nl + 8;
		}
		off += 2 + nl + 8 + dl;
	}
	fail_msg("no section %s", name);
	return 0;
}

void tv_fix_crc(uint8_t *s, size_t len)
{
	uint32_t c = crc32c(s, len - 4);

	for (int i = 0; i < 4; i++)
		s[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

void tv_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int tv_load_stream(struct tv *t, const uint8_t *s, size_t len)
{
	int fd = memfd_create("stream", MFD_CLOEXEC), ret;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	ret = vus_client_mig_load(t->c, fd);
	close(fd);
	assert_int_equal(vus_client_reset(t->c), 0);
	return ret;
}
