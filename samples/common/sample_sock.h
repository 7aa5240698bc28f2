/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_sock: UNIX socket paths the samples bind (back-ends, control
 * sockets).
 */
#ifndef SAMPLE_SOCK_H
#define SAMPLE_SOCK_H

#include <sys/un.h>

/** Fill @sa for @path: 0, -EINVAL (empty), -ENAMETOOLONG. */
int sample_unix_addr(const char *path, struct sockaddr_un *sa);

/**
 * Make @sa's path free to bind: nothing there (0), or a stale socket of
 * @type (SOCK_STREAM, SOCK_DGRAM) that nobody is bound to any more,
 * which is removed (0). A live socket, another kind of socket or any
 * other file is left alone: -EADDRINUSE (or the probe's errno).
 */
int sample_clear_stale(const struct sockaddr_un *sa, int type);

#endif /* SAMPLE_SOCK_H */
