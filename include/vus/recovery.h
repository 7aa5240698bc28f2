/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus crash recovery: a device server that is killed (SIGKILL, a crash)
 * and restarted continues the same client session. Its fds live in a
 * service manager's fd store -- systemd's (a unit with
 * FileDescriptorStoreMax=) or tools/vus-supervise -- and its state in a
 * shared-memory area kept in that store (doc/persistence.md).
 *
 * The protocol to the service manager is systemd's notification protocol,
 * spoken directly: no libsystemd needed.
 */
#ifndef VUS_RECOVERY_H
#define VUS_RECOVERY_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Tell the service manager about this process, as sd_notify(3): @state is
 * newline-separated "KEY=value" lines such as "READY=1" or
 * "STATUS=serving". Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset
 * (nobody to tell), -EINVAL (empty), -E2BIG (over 4095 bytes),
 * -EAFNOSUPPORT (a $NOTIFY_SOCKET that is not AF_UNIX), or the errno of
 * the socket calls. A full receiver makes it wait up to 2 s (-EAGAIN).
 * Thread-safe: each call uses its own socket.
 */
int vus_notify(const char *state);

#ifdef __cplusplus
}
#endif

#endif /* VUS_RECOVERY_H */
