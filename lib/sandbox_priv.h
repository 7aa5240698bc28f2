/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sandbox_priv: internals shared by the seccomp allowlist builder (sandbox.c)
 * and the lists of system calls libvus itself needs (sandbox_calls.c).
 */
#ifndef VUS_SANDBOX_PRIV_H
#define VUS_SANDBOX_PRIV_H

#include <stdbool.h>

#include "vus/sandbox.h"

/** Fill @sb with what a listening context needs. 0 or -errno. */
int sandbox_add_base(vus_sandbox *sb);

/**
 * Whether this library is built with a sanitizer runtime whose needs
 * sandbox_add_base() also allowed (for the log line).
 */
bool sandbox_sanitizer_build(void);

#endif /* VUS_SANDBOX_PRIV_H */
