/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * efd (internal): signalling and draining eventfds whose file description
 * a client shares with us, without ever blocking. O_NONBLOCK is a flag of
 * the description, so a client that holds the same description can clear
 * it at any moment; a plain write() to a counter the client keeps at its
 * maximum would then block the calling thread for good. Device threads and
 * the context thread signal interrupts and doorbells through here only.
 */
#ifndef VUS_EFD_H
#define VUS_EFD_H

#include <stdint.h>

/**
 * Prepare the process-wide state efd_signal() uses (once per process,
 * again in a forked child). Call where system calls are still free,
 * before a sandbox. Thread-safe; 0 or -errno (efd_signal falls back).
 */
int efd_init(void);

/**
 * Add 1 to the eventfd @fd's counter and wake its readers, without
 * blocking whatever mode the description is in. The kernel does the
 * adding (an AIO poll completion on @fd with @fd as its result eventfd),
 * and at the counter's maximum it saturates: the signal merges with the
 * ones pending, as edges do. Returns 0, or -EAGAIN when the signal was
 * dropped (no AIO: the counter is full, or the description was made
 * blocking and could not be fixed), or another -errno. Thread-safe.
 */
int efd_signal(int fd);

/**
 * Read and reset the eventfd @fd's counter without blocking whatever mode
 * its description is in. *@val gets the count (0 if none). Returns 0 or
 * -errno (never -EAGAIN). Thread-safe.
 */
int efd_drain(int fd, uint64_t *val);

#endif /* VUS_EFD_H */
