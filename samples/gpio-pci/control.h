/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control: the card's "outside world" socket. A line protocol on a UNIX
 * socket lets a person or a test change the input lines and look at the
 * outputs while a guest drives the card:
 *
 *   get                 -> {"outputs":"0x0000","inputs":"0x0000",...}
 *   inputs VALUE        set all 16 inputs (0x.... or decimal)
 *   input N 0|1         set input line N (0-15)
 *   help
 *
 * Every reply is one line of JSON; errors are {"error":"..."}. While the
 * card is stopped for migration ("stopped":true) input changes wait and
 * "inputs" shows the card's latched value.
 * Served by the device's context loop (vus_ctx_add_fd), so it needs no
 * thread and no lock.
 */
#ifndef GPIO_CONTROL_H
#define GPIO_CONTROL_H

#include "idio16.h"

struct control;

/** Listen on @path (replacing a stale socket). 0 or -errno. */
int control_open(struct control **out, vus_ctx *ctx, struct idio16 *d,
		 const char *path);
void control_close(struct control *c);

/**
 * Client side: send the words of @argv as one command to the control
 * socket at @path and print the reply. Returns 0, 1 for an error reply,
 * or -errno.
 */
int control_send(const char *path, int argc, char **argv);

#endif /* GPIO_CONTROL_H */
