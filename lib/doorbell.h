/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * doorbell (internal): the eventfds a client is given for a device's
 * doorbells (DEVICE_GET_REGION_IO_FDS). Never the device's own: whoever
 * holds a file description can clear its O_NONBLOCK and fill its counter,
 * and then the server's next signal of it (a REGION_WRITE that hits the
 * doorbell) would block, for this client and every later one. Each
 * doorbell handed out gets an eventfd of this connection's; the context
 * loop drains it (never blocking) and signals the device's eventfd.
 */
#ifndef VUS_DOORBELL_H
#define VUS_DOORBELL_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct doorbell;

/**
 * The client's eventfd for doorbell @index of region @region, whose
 * device eventfd is @dev_fd (borrowed; it must outlive the list). Made
 * and watched in @loop on first use, the same fd after. The fd stays
 * owned by *@list. Returns it, or -errno. Context thread.
 */
int doorbell_client_fd(struct doorbell **list, struct loop *loop,
		       uint32_t region, unsigned int index, int dev_fd);

/**
 * Crash recovery: entry @i of the list (any order, stable while the list
 * does not change): its region, doorbell index and the client's eventfd
 * (borrowed). -ENOENT past the end. Context thread.
 */
int doorbell_get(const struct doorbell *list, unsigned int i,
		 uint32_t *region, unsigned int *index, int *fd);

/**
 * Crash recovery and hand-over: make @fd (taken, also on error), the
 * client's eventfd another process handed out, the client's end of
 * doorbell @index of @region again, and signal @dev_fd once: a ring the
 * other process passed on to its device but never served is looked at
 * again (a device takes spurious kicks). -EEXIST (that doorbell has one),
 * -ENOMEM, loop_add's errno. Context thread.
 */
int doorbell_adopt(struct doorbell **list, struct loop *loop, uint32_t region,
		   unsigned int index, int dev_fd, int fd);

/**
 * Hand-over: stop watching the client's eventfds (@hold), so that a ring
 * stays counted in its eventfd for whoever watches it next, or watch them
 * again. Context thread.
 */
void doorbell_hold(struct doorbell *list, bool hold);

/** Stop forwarding and close every fd of *@list (the client is gone). */
void doorbell_close_all(struct doorbell **list);

#endif /* VUS_DOORBELL_H */
