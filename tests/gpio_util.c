/* SPDX-License-Identifier: BSD-3-Clause */
/* gpio_util: driving the vus-gpio-pci sample from tests (gpio_util.h). */
#include <stdio.h>
#include <unistd.h>

#include "gpio_util.h"
#include "rpc_util.h"
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

struct json_object *gpio_call(const char *path, const char *method,
			      const char *params)
{
	char line[512];
	struct json_object *r;
	int fd = trpc_connect(path);

	assert_true(fd >= 0);
	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}",
		 method, params);
	r = trpc_call(fd, line);
	close(fd);
	assert_non_null(r);
	return r;
}
