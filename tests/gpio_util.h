/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gpio_util: what the tests that drive the vus-gpio-pci sample as a real
 * process share: its registers and config space through the client
 * library, and its management socket.
 */
#ifndef GPIO_UTIL_H
#define GPIO_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vus/client.h"

/** Read register @r of BAR 2 (one byte); the test fails on an error. */
uint8_t gpio_reg(vus_client *c, unsigned int r);

/** Write register @r of BAR 2. */
void gpio_set_reg(vus_client *c, unsigned int r, uint8_t v);

/** Read 4 bytes of config space at @off. */
uint32_t gpio_cfg32(vus_client *c, uint32_t off);

/**
 * Call @method with @params (a JSON object's text) on the management
 * socket at @path, over a connection of its own. The response (a new
 * reference; the test fails without one).
 */
struct json_object *gpio_call(const char *path, const char *method,
			      const char *params);

#endif /* GPIO_UTIL_H */
