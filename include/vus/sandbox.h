/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus sandbox: a seccomp-bpf allowlist of system calls for a device
 * server that has finished setting up.
 *
 * A server opens its files and sockets, realizes its context and starts
 * listening; from then on it only moves messages, maps client memory and
 * signals eventfds. vus_sandbox_apply() then confines the whole process
 * (every thread, present and future) to the system calls a listening libvus
 * context needs, plus the ones the device adds. Any other system call gets
 * the chosen action: the process is killed with SIGSYS (default), the call
 * fails with EPERM or ENOSYS, or, to find out what a device needs, it is
 * allowed and logged by the kernel.
 *
 *   vus_sandbox *sb;
 *   vus_sandbox_create(&sb);
 *   vus_sandbox_allow(sb, SYS_ioctl);      (what the device's back-end needs)
 *   vus_sandbox_apply(sb, ctx);            (after listen, before run)
 *   vus_sandbox_destroy(sb);
 *
 * What it does not do: restrict files (a path is a pointer, which seccomp
 * cannot see), namespaces, capabilities or resource limits. Combine it with
 * a service manager or bubblewrap (doc/sandbox.md).
 *
 * Linux only, x86_64 and aarch64; Linux 4.14 or later (SECCOMP_RET_LOG,
 * SECCOMP_RET_KILL_PROCESS). Not thread-safe: build and apply a sandbox from
 * one thread.
 */
#ifndef VUS_SANDBOX_H
#define VUS_SANDBOX_H

#include <stdint.h>

#include "vus/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque allowlist being built. */
typedef struct vus_sandbox vus_sandbox;

/** What happens to a system call that is not allowed. */
enum vus_sandbox_action {
	/** Kill the whole process with SIGSYS (core dump if enabled). */
	VUS_SANDBOX_KILL = 0,
	/** The call fails with EPERM. */
	VUS_SANDBOX_EPERM = 1,
	/** The call fails with ENOSYS, as if the kernel lacked it. */
	VUS_SANDBOX_ENOSYS = 2,
	/**
	 * The call is allowed and the kernel logs it (dmesg, audit): for
	 * finding out what a device needs. Confines nothing.
	 */
	VUS_SANDBOX_LOG = 3,
};

/**
 * Start an allowlist with what a realized, listening libvus context needs
 * (doc/sandbox.md lists it and says why), denied calls killing the process.
 * When libvus itself is built with AddressSanitizer, what the sanitizer
 * runtime needs (leak checking at exit, reports) is allowed too.
 * On success *out owns the allowlist; free it with vus_sandbox_destroy().
 * Returns -EINVAL if @out is NULL, -ENOTSUP on an architecture this library
 * cannot filter for, -ENOMEM.
 */
int vus_sandbox_create(vus_sandbox **out);

/** Free an allowlist. An applied filter stays in force. NULL is a no-op. */
void vus_sandbox_destroy(vus_sandbox *sb);

/**
 * Choose what happens to system calls that are not allowed (default
 * VUS_SANDBOX_KILL). Returns -EINVAL for a NULL @sb or an unknown action.
 */
int vus_sandbox_set_action(vus_sandbox *sb, enum vus_sandbox_action action);

/**
 * Allow system call @nr (a SYS_xxx number of this architecture, from
 * <sys/syscall.h>) with any arguments. Adding a call twice is harmless.
 * Returns -EINVAL for a NULL @sb or a negative or implausibly large @nr,
 * -ENOSPC when the allowlist is full (512 entries), -ENOMEM.
 */
int vus_sandbox_allow(vus_sandbox *sb, long nr);

/**
 * Allow system call @nr only when its argument number @arg (0..5) equals
 * @value, e.g. ioctl(fd, TUNSETOFFLOAD, ...) as (SYS_ioctl, 1,
 * TUNSETOFFLOAD). Several such rules for one call allow any of their
 * values; vus_sandbox_allow() of the same call allows all of them.
 *
 * Only the low 32 bits of the argument are compared: this is meant for
 * int, unsigned int and ioctl request arguments, whose upper half depends
 * on how the caller's C code widened them. Do not use it for pointers or
 * 64-bit sizes.
 * Returns -EINVAL for a NULL @sb, a bad @nr or @arg > 5, -ENOSPC when the
 * allowlist is full, -ENOMEM.
 */
int vus_sandbox_allow_if(vus_sandbox *sb, long nr, unsigned int arg,
			 uint32_t value);

/**
 * One test of a system call argument: (argument @arg & @mask) == @value,
 * all 64 bits compared. For int arguments (fds, flags, ioctl requests)
 * keep the mask within the low 32 bits: the upper half of such a register
 * depends on how the caller widened it. Pointers and sizes are compared
 * whole. @value bits outside @mask are ignored.
 */
struct vus_sandbox_arg {
	unsigned int arg; /**< 0..5 */
	uint64_t mask;
	uint64_t value;
};

/** Argument @i equals the int (fd, flag, request) @v. */
#define VUS_SANDBOX_ARG_INT(i, v)                                             \
	((struct vus_sandbox_arg){ .arg = (i), .mask = 0xffffffffu,           \
				   .value = (uint32_t)(v) })
/** Argument @i equals the pointer or 64-bit value @v. */
#define VUS_SANDBOX_ARG_U64(i, v)                                             \
	((struct vus_sandbox_arg){ .arg = (i), .mask = UINT64_MAX,            \
				   .value = (uint64_t)(uintptr_t)(v) })
/** Argument @i (an int of flags) has none of @bits set, e.g. PROT_EXEC. */
#define VUS_SANDBOX_ARG_CLEAR(i, bits)                                        \
	((struct vus_sandbox_arg){ .arg = (i), .mask = (uint32_t)(bits),      \
				   .value = 0 })

/** Most argument tests in one rule. */
#define VUS_SANDBOX_MAX_ARG_TESTS 4

/**
 * Allow system call @nr when all of @tests[0..@n) hold (1 <= n <= 4),
 * e.g. connect() on one fd to one address:
 *
 *   const struct vus_sandbox_arg t[] = { VUS_SANDBOX_ARG_INT(0, fd),
 *       VUS_SANDBOX_ARG_U64(1, &peer), VUS_SANDBOX_ARG_INT(2, sizeof(peer)) };
 *   vus_sandbox_allow_args(sb, SYS_connect, t, 3);
 *
 * A pointer test only says which object the caller passed: keep what it
 * points to read-only (seccomp cannot read memory). Several rules for one
 * call allow what any of them allows; vus_sandbox_allow() of the call
 * allows everything. Adding the same rule twice is harmless.
 * Returns -EINVAL for a NULL @sb or @tests, a bad @nr, @n or argument
 * index, -ENOSPC when the allowlist is full (512 rules, or a filter
 * program past the kernel's 4096 instructions).
 */
int vus_sandbox_allow_args(vus_sandbox *sb, long nr,
			   const struct vus_sandbox_arg *tests, unsigned int n);

/**
 * Make system call @nr fail with @err (1..4095) when all of @tests hold,
 * before any allow rule is looked at: the way to take back part of what
 * an allow rule grants, e.g. sendmsg() (libvus's own list allows it) on
 * one fd. A repeated rule takes the new @err. Errors as
 * vus_sandbox_allow_args(), and -EINVAL for a bad @err.
 */
int vus_sandbox_deny_args(vus_sandbox *sb, long nr,
			  const struct vus_sandbox_arg *tests, unsigned int n,
			  int err);

/**
 * Make system call @nr fail with @err (1..4095, e.g. ENOSYS) instead of
 * meeting the default action, unless an allow rule lets it through first.
 * Typical use: deny clone3 with ENOSYS so that the C library falls back to
 * clone, whose flags vus_sandbox_allow_if() can check (threads only, no
 * fork). Denying a call again replaces @err.
 * Returns -EINVAL for a NULL @sb, a bad @nr or @err, -ENOSPC when the
 * allowlist is full, -ENOMEM.
 */
int vus_sandbox_deny(vus_sandbox *sb, long nr, int err);

/**
 * Confine the calling process: set no_new_privs and install the filter on
 * every thread at once (SECCOMP_FILTER_FLAG_TSYNC); threads created later
 * inherit it. It cannot be removed; applying again stacks another filter,
 * which can only narrow what is allowed. Call it after everything that
 * opens files or sockets (vus_ctx_listen() included) and before
 * vus_ctx_run(). @ctx, if not NULL, gets a notice-level log line, and its
 * management plane stops offering what would open files (save-state and
 * load-state answer EPERM instead of the process being killed).
 * @sb stays owned by the caller.
 * Returns -EINVAL for a NULL @sb, -EBUSY if a thread could not be
 * synchronised (it already runs a filter not derived from ours; nothing is
 * installed then), or the negative errno of prctl() or seccomp() (e.g.
 * -ENOSYS, -EINVAL from a kernel without seccomp filters or actions we use).
 */
int vus_sandbox_apply(const vus_sandbox *sb, vus_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* VUS_SANDBOX_H */
