/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fdstore (internal): systemd's service notification protocol, spoken
 * directly (no libsystemd), from the service's side: datagrams to
 * $NOTIFY_SOCKET carrying "KEY=value" lines and, for the fd store, fds
 * (FDSTORE=1 with FDNAME=, FDSTOREREMOVE=1); and the fds a service manager
 * hands a (re)started process ($LISTEN_PID, $LISTEN_FDS, $LISTEN_FDNAMES,
 * fds from 3). The same protocol is served by systemd (a unit with
 * FileDescriptorStoreMax=) and by tools/vus-supervise.
 *
 * Everything is bounded: state text, names, fds per message, inherited fds.
 */
#ifndef VUS_FDSTORE_H
#define VUS_FDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "common.h"

/* The longest notification we send: systemd reads at most 4096 bytes. */
#define NOTIFY_STATE_MAX 4095u
/* systemd's limit on FDNAME= (and on each name in $LISTEN_FDNAMES). */
#define FDSTORE_NAME_MAX 255u
/* The kernel's limit on fds in one SCM_RIGHTS message. */
#define FDSTORE_FDS_PER_MSG SCM_FDS_MAX
/* Most inherited fds we accept; systemd caps its fd store at 4096 too. */
#define LISTEN_FDS_MAX 4096u
/* The first inherited fd (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3
/* How long a notification may wait for room in the receiver's queue. */
#define NOTIFY_SEND_TIMEOUT_MS 2000

struct notify;

/**
 * Parse a $NOTIFY_SOCKET value: an absolute path, or "@name" for an
 * abstract socket. Fills @sa and its length. -EINVAL (empty, relative, a
 * "@" alone), -ENAMETOOLONG, -EAFNOSUPPORT (another family, e.g. "vsock:").
 */
int notify_addr_parse(const char *s, struct sockaddr_un *sa, socklen_t *len);

/**
 * Open a notification socket to @addr (a $NOTIFY_SOCKET value). On success
 * *out owns it (free with notify_close). -errno of notify_addr_parse, of
 * socket() or connect() (-ECONNREFUSED: nobody listens there).
 */
int notify_open(const char *addr, struct notify **out);

/**
 * Open to $NOTIFY_SOCKET. 0 with *out NULL when the variable is unset (no
 * service manager listens), else as notify_open().
 */
int notify_open_env(struct notify **out);

void notify_close(struct notify *n);

/**
 * Send @state (at most NOTIFY_STATE_MAX bytes, no NUL inside) with @fds
 * (borrowed, at most FDSTORE_FDS_PER_MSG) as one datagram. A full receiver
 * makes it wait up to NOTIFY_SEND_TIMEOUT_MS (then -EAGAIN): a notification
 * is never dropped silently. 0, -EINVAL, -E2BIG, or the errno of sendmsg.
 */
int notify_send(struct notify *n, const char *state, const int *fds,
		unsigned int nfds);

/** Whether @name may be an FDNAME: 1..255 chars, no ':', no control chars. */
bool fdstore_name_ok(const char *name);

/**
 * Store @fds (borrowed: the manager keeps duplicates) under @name. @poll
 * false adds FDPOLL=0: the manager then does not drop them on EPOLLHUP or
 * EPOLLERR. -EINVAL for a bad name or count, else as notify_send().
 */
int fdstore_put(struct notify *n, const char *name, const int *fds,
		unsigned int nfds, bool poll);

/** Drop (and close, in the manager) every stored fd named @name. */
int fdstore_remove(struct notify *n, const char *name);

/*
 * Inherited fds. Each entry is fd LISTEN_FDS_START + i with its name
 * ("unknown" when $LISTEN_FDNAMES is unset, as systemd documents).
 */
struct listen_fds {
	unsigned int n;
	int *fds;     /* -1 once taken or closed */
	char **names;
};

/**
 * Parse the three variables without touching any fd. @pid must equal
 * @self, else the fds were meant for another process: 0 fds. NULL @count
 * also means 0 fds. -EINVAL for a malformed number, a count over
 * LISTEN_FDS_MAX, a name count that does not match, a bad name; -ENOMEM.
 */
int listen_fds_parse(const char *pid, const char *count, const char *names,
		     pid_t self, struct listen_fds *out);

/**
 * Parse the environment, mark the fds close-on-exec and unset the
 * variables (so they are taken once, and not passed on). -errno as
 * listen_fds_parse(), or -EBADF when a listed fd is not open.
 */
int listen_fds_from_env(struct listen_fds *out);

/** Take the first untaken fd named @name: the fd (caller owns it) or -ENOENT. */
int listen_fds_take(struct listen_fds *lf, const char *name);

/** The name of entry @i, or NULL. */
const char *listen_fds_name(const struct listen_fds *lf, unsigned int i);

/** Close every fd not taken and free the table. */
void listen_fds_free(struct listen_fds *lf);

#endif /* VUS_FDSTORE_H */
