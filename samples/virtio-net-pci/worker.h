/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * worker: the data-path thread. It has its own epoll set (doorbell
 * eventfds, the backend's fd, a control eventfd and a timerfd for
 * polling) and two states: *running*, where it dispatches fd events to
 * their callbacks, and *parked*, where it waits on a condition variable
 * and touches nothing. The context thread moves it between the two; a
 * park request can ask to be told (on the worker) once the worker is
 * parked, which is how a libvus quiesce is confirmed without blocking the
 * context thread.
 *
 * Threads: worker_create/destroy, worker_run and worker_park run on the
 * context thread; fd callbacks and the hooks in struct worker_ops run on
 * the worker; worker_watch/worker_set_events may be called from either.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdbool.h>
#include <stdint.h>

typedef void worker_fd_fn(void *opaque, uint32_t events);

struct worker_ops {
	/** The worker starts running (after worker_run()). */
	void (*run)(void *opaque);
	/** The worker is about to park: drop every guest-memory pointer. */
	void (*park)(void *opaque);
	/** Parked after a worker_park(notify = true) that had to wait. */
	void (*parked)(void *opaque);
	/**
	 * Optional: called after each round of events while running; returns
	 * how long to wait for the next round without events, in
	 * nanoseconds: 0 to come back at once, < 0 to wait for events only.
	 */
	int64_t (*poll)(void *opaque);
};

struct worker;

/**
 * Start the thread, parked. @ops is copied. 0 or -errno (epoll, eventfd,
 * timerfd, pthread_create).
 */
int worker_create(const struct worker_ops *ops, void *opaque,
		  struct worker **out);

/**
 * End the thread and join it. Afterwards the worker counts as parked for
 * good: worker_run() does nothing, worker_park() returns 0.
 */
void worker_stop(struct worker *w);

/** worker_stop(), then close its fds and free it. NULL is ignored. */
void worker_destroy(struct worker *w);

/**
 * Watch @fd (the caller keeps it) for @events; @fn runs on the worker
 * while running. At most WORKER_MAX_WATCHES. 0, -ENOSPC, epoll's errno.
 */
#define WORKER_MAX_WATCHES 16
int worker_watch(struct worker *w, int fd, uint32_t events, worker_fd_fn *fn,
		 void *opaque);

/** Stop watching @fd for good (it stays in the table, unused). */
int worker_unwatch(struct worker *w, int fd);

/** Change the events of a watched fd (0 to ignore it for now). */
int worker_set_events(struct worker *w, int fd, uint32_t events);

/** Let the worker run (from parked, or cancel a park still in progress). */
void worker_run(struct worker *w);

/**
 * Ask the worker to park. Returns 0 if it is parked already, or asleep
 * waiting for events (it holds nothing then, and parks when it wakes,
 * touching nothing); else -EBUSY: it parks after its current round, and
 * with @notify calls ops->parked once it has.
 */
int worker_park(struct worker *w, bool notify);

/** Whether the worker is parked (and not asked to run). */
bool worker_parked(struct worker *w);

/**
 * On the worker: whether it has been asked to park (or to end), so that a
 * long walk stops at once instead of after the round. Lock-free.
 */
bool worker_park_requested(struct worker *w);

/** Nanoseconds of CLOCK_MONOTONIC. */
int64_t worker_now_ns(void);

#endif /* WORKER_H */
