/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gpio_util: what the tests that drive the vus-gpio-pci sample as a real
 * process share: its registers and config space through the client
 * library, and its control socket.
 */
#ifndef GPIO_UTIL_H
#define GPIO_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vus/client.h"

/** Read register @r of BAR 2 (one byte); the test fails on an error. */
uint8_t gpio_reg(vus_client *c, unsigned int r);

/** Write register @r of BAR 2. */
void gpio_set_reg(vus_client *c, unsigned int r, uint8_t v);

/** Read 4 bytes of config space at @off. */
uint32_t gpio_cfg32(vus_client *c, uint32_t off);

/** Send one command to the control socket at @path; its reply in @reply. */
void gpio_control(const char *path, const char *cmd, char *reply, size_t cap);

#endif /* GPIO_UTIL_H */
