/* SPDX-License-Identifier: BSD-3-Clause */
/* gpio_util: driving the vus-gpio-pci sample from tests (gpio_util.h). */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gpio_util.h"
#include "vtest.h"
#include "vus.h"

#include "../samples/gpio-pci/idio16.h"

uint8_t gpio_reg(vus_client *c, unsigned int r)
{
	uint8_t v = 0xee;

	assert_int_equal(vus_client_region_read(c, IDIO16_BAR, r, &v, 1), 0);
	return v;
}

void gpio_set_reg(vus_client *c, unsigned int r, uint8_t v)
{
	assert_int_equal(vus_client_region_write(c, IDIO16_BAR, r, &v, 1), 0);
}

uint32_t gpio_cfg32(vus_client *c, uint32_t off)
{
	uint32_t v = 0;

	assert_int_equal(vus_client_region_read(c, VUS_PCI_REGION_CONFIG, off,
						&v, 4), 0);
	return v;
}

void gpio_control(const char *path, const char *cmd, char *reply, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	assert_int_equal(write(fd, "\n", 1), 1);
	while (got < cap - 1 && memchr(reply, '\n', got) == NULL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&p, 1, vtest_ms(5000)), 1);
		n = read(fd, reply + got, cap - 1 - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	reply[got] = '\0';
	close(fd);
}
