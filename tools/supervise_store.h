/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervise_store: vus-supervise's file descriptor store and the
 * notifications that fill it (the service manager's side of systemd's
 * notification protocol): FDSTORE=1 with FDNAME= and FDPOLL=0,
 * FDSTOREREMOVE=1, READY=1, STATUS=. A bounded table of named fds, kept
 * in the order they were stored and handed to the next child as
 * $LISTEN_FDS/$LISTEN_FDNAMES.
 */
#ifndef SUPERVISE_STORE_H
#define SUPERVISE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Our own bound on --fd-store-max (systemd's FileDescriptorStoreMax= too). */
#define STORE_MAX_LIMIT 4096u

struct stored_fd {
	int fd;
	char *name;
	bool polled; /* watched for EPOLLHUP/EPOLLERR in the store's epoll set */
};

struct store {
	struct stored_fd *e;
	unsigned int n;
	unsigned int max;
	int epfd;       /* where polled fds are watched; -1: none */
	bool verbose;
	bool ready;     /* the child said READY=1 */
};

/** An empty store for at most @max fds; polled fds go into @epfd. */
int store_init(struct store *s, unsigned int max, int epfd, bool verbose);

/** Close every stored fd and free the table. */
void store_fini(struct store *s);

/**
 * Handle one notification datagram of @len bytes (not NUL-terminated)
 * with @fds (taken: stored or closed). FDSTORE fds beyond the bound, fds
 * without FDSTORE=1, and fds with a bad FDNAME are closed, as systemd does.
 */
void store_message(struct store *s, const char *msg, size_t len, int *fds,
		   unsigned int nfds);

/** Drop (close) every fd named @name. Returns how many. */
unsigned int store_remove(struct store *s, const char *name);

/** The stored fd with epoll tag @fd got EPOLLHUP/EPOLLERR: drop it. */
void store_hangup(struct store *s, int fd);

/**
 * Drop every polled fd that has hung up by now (before a child starts, so
 * it never inherits one whose hang-up is still queued in the loop).
 */
void store_sweep(struct store *s);

/**
 * Add an fd the supervisor made itself (--listen), as a socket unit's fd:
 * taken. -ENOSPC when full.
 */
int store_add(struct store *s, const char *name, int fd, bool poll);

/**
 * "a:b:c" for $LISTEN_FDNAMES (malloc'd), or NULL when the store is
 * empty or memory is short.
 */
char *store_names(const struct store *s);

#endif /* SUPERVISE_STORE_H */
