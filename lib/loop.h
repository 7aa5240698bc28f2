/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loop: the context's epoll set. Its fd is what vus_ctx_get_poll_fd()
 * returns, so the whole context (listener, connection, unmask eventfds,
 * device fds) is one pollable fd for the user's own loop. Watches are
 * embedded in their owners; removing a watch while a batch of events is
 * being dispatched is safe.
 */
#ifndef VUS_LOOP_H
#define VUS_LOOP_H

#include <stdint.h>

struct loop;
struct watch;

typedef void watch_fn(struct watch *w, uint32_t events);

struct watch {
	int fd;
	uint32_t events;
	watch_fn *cb;
	struct loop *loop; /* non-NULL while added */
};

int loop_create(struct loop **out);
void loop_destroy(struct loop *l);

/** The epoll fd. */
int loop_fd(const struct loop *l);

/** Start watching w->fd for w->events (EPOLLIN...). -errno of epoll_ctl. */
int loop_add(struct loop *l, struct watch *w);

/** Change the events of an added watch. */
int loop_mod(struct watch *w, uint32_t events);

/** Stop watching (no-op if not added). Pending events for it are dropped. */
void loop_del(struct watch *w);

/**
 * Wait up to @timeout_ms (-1 forever, 0 not at all) and dispatch ready
 * watches. Returns the number dispatched or -errno (EINTR is 0).
 */
int loop_run_once(struct loop *l, int timeout_ms);

/**
 * loop_run_once() dispatching at most @max (1..32) watches: a loop nested
 * in another as one watch (the management plane's) takes a bounded turn.
 */
int loop_run_max(struct loop *l, int timeout_ms, int max);

#endif /* VUS_LOOP_H */
