/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * worker: the data-path thread (see worker.h). The requested state lives
 * under a mutex; the worker reads it after every round of events (the
 * control eventfd wakes it from epoll_wait) and acknowledges a park by
 * setting `parked` under the same mutex, so worker_park() can tell "parked
 * already" from "will park" without a race.
 *
 * A worker asleep in epoll_wait holds no guest pointer, so a park can be
 * granted at once, without waking it and waiting for its answer (behind a
 * vIOMMU every DMA_UNMAP quiesces, and that hand-off was most of what an
 * unmap cost). `idle` says so: the worker sets IDLE before it sleeps and
 * takes it back (IDLE to BUSY) with a compare-exchange when it wakes,
 * before it touches anything; worker_park() turns IDLE into IDLE_PARKED
 * with a compare-exchange. Exactly one of the two wins: either the park
 * was granted and the waking worker goes to park touching nothing (the
 * state stays IDLE_PARKED until it is parked under the lock), or the
 * worker was awake and the park is answered -EBUSY as before.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "sample_cli.h"
#include "worker.h"

enum want { WANT_PARK, WANT_RUN, WANT_EXIT };
enum idle { BUSY, IDLE, IDLE_PARKED };

struct watch {
	int fd;
	worker_fd_fn *fn;
	void *opaque;
};

struct worker {
	struct worker_ops ops;
	void *opaque;
	pthread_t thread;
	bool started;
	int epfd;
	int ctl_fd;   /* wakes the worker to look at @want */
	int timer_fd; /* poll ticks */
	int64_t timer_ns;
	struct watch watches[WORKER_MAX_WATCHES];
	unsigned int nr_watches;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic enum want want; /* written under @lock */
	bool parked;            /* under @lock */
	bool notify;            /* under @lock: call ops.parked when parked */
	atomic_int idle;        /* enum idle (see the file comment) */
};

/* Sentinels in epoll_event.data for our own fds. */
static struct watch ctl_tag, timer_tag;

int64_t worker_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

/* Arm the poll timer for @ns (periodic), or disarm it (ns <= 0). */
static void set_timer(struct worker *w, int64_t ns)
{
	struct itimerspec its = { 0 };

	if (ns == w->timer_ns)
		return;
	w->timer_ns = ns;
	if (ns > 0) {
		its.it_value.tv_sec = ns / 1000000000;
		its.it_value.tv_nsec = ns % 1000000000;
		its.it_interval = its.it_value;
	}
	(void)timerfd_settime(w->timer_fd, 0, &its, NULL);
}

/* Park, tell whoever asked, and wait for the next request. */
static enum want park_and_wait(struct worker *w)
{
	enum want want;
	bool notify;

	set_timer(w, 0);
	pthread_mutex_lock(&w->lock);
	w->parked = true;
	/* From here `parked` says it; an IDLE_PARKED left by idle_wait()
	 * must not grant a later park while we run. */
	atomic_store(&w->idle, BUSY);
	notify = w->notify;
	w->notify = false;
	pthread_mutex_unlock(&w->lock);
	if (notify && w->ops.parked != NULL)
		w->ops.parked(w->opaque);
	pthread_mutex_lock(&w->lock);
	while ((want = atomic_load(&w->want)) == WANT_PARK)
		pthread_cond_wait(&w->cond, &w->lock);
	if (want == WANT_RUN)
		w->parked = false;
	pthread_mutex_unlock(&w->lock);
	return want;
}

static void dispatch(struct worker *w, const struct epoll_event *ev)
{
	struct watch *wa = ev->data.ptr;

	if (wa == &ctl_tag) {
		drain(w->ctl_fd);
	} else if (wa == &timer_tag) {
		drain(w->timer_fd);
	} else {
		wa->fn(wa->opaque, ev->events);
	}
}

/* Sleep until an event (or the poll timer). false if parked meanwhile. */
static bool idle_wait(struct worker *w, struct epoll_event *ev, int *n)
{
	int idle = IDLE;

	atomic_store(&w->idle, IDLE);
	/* A park asked for before we said so finds us busy: see it here. */
	if (atomic_load(&w->want) != WANT_RUN)
		*n = 0;
	else
		*n = epoll_wait(w->epfd, ev, 16, -1);
	/* Parked while asleep: stay IDLE_PARKED, so worker_parked() holds
	 * until park_and_wait() has recorded the park under the lock (a save
	 * in between was refused -EBUSY, and a hand-over gave up). */
	return atomic_compare_exchange_strong(&w->idle, &idle, BUSY);
}

static void run_loop(struct worker *w)
{
	int64_t next = -1;

	while (atomic_load(&w->want) == WANT_RUN) {
		struct epoll_event ev[16];
		int n;

		/* Spin: do not sleep; a delay: the timer wakes us. */
		set_timer(w, next > 0 ? next : 0);
		if (next == 0)
			n = epoll_wait(w->epfd, ev, 16, 0);
		else if (!idle_wait(w, ev, &n))
			break; /* parked while asleep: touch nothing */
		/* Spinning: let whoever makes our work (the vCPU) run. */
		if (n == 0 && next == 0)
			sched_yield();
		for (int i = 0; i < n; i++)
			dispatch(w, &ev[i]);
		next = w->ops.poll != NULL ? w->ops.poll(w->opaque) : -1;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (park_and_wait(w) == WANT_RUN) {
		if (w->ops.run != NULL)
			w->ops.run(w->opaque);
		run_loop(w);
		if (w->ops.park != NULL)
			w->ops.park(w->opaque);
	}
	return NULL;
}

static void request(struct worker *w, enum want want)
{
	atomic_store(&w->want, want);
	pthread_cond_signal(&w->cond);
	(void)eventfd_write(w->ctl_fd, 1);
}

void worker_run(struct worker *w)
{
	int parked = IDLE_PARKED;

	pthread_mutex_lock(&w->lock);
	if (atomic_load(&w->want) != WANT_EXIT) {
		atomic_store(&w->want, WANT_RUN);
		/* Parked while asleep and asleep still: it never knew. */
		if (!atomic_compare_exchange_strong(&w->idle, &parked, IDLE))
			request(w, WANT_RUN);
	}
	pthread_mutex_unlock(&w->lock);
}

/* Under @lock, with a park requested: grant it to a sleeping worker. */
static bool park_idle(struct worker *w)
{
	int idle = IDLE;

	return atomic_compare_exchange_strong(&w->idle, &idle, IDLE_PARKED) ||
	       idle == IDLE_PARKED;
}

int worker_park(struct worker *w, bool notify)
{
	int ret = 0;

	pthread_mutex_lock(&w->lock);
	if (atomic_load(&w->want) != WANT_EXIT) {
		atomic_store(&w->want, WANT_PARK);
		/* Asleep holding nothing: granted, no need to wake it. */
		if (!w->parked && park_idle(w)) {
			pthread_mutex_unlock(&w->lock);
			return 0;
		}
		request(w, WANT_PARK);
	}
	/* Parked means waiting in park_and_wait(), not asked to run. */
	if (!w->parked) {
		if (notify)
			w->notify = true;
		ret = -EBUSY;
	}
	pthread_mutex_unlock(&w->lock);
	return ret;
}

bool worker_parked(struct worker *w)
{
	bool parked;

	pthread_mutex_lock(&w->lock);
	parked = (w->parked || atomic_load(&w->idle) == IDLE_PARKED) &&
		 atomic_load(&w->want) != WANT_RUN;
	pthread_mutex_unlock(&w->lock);
	return parked;
}

bool worker_park_requested(struct worker *w)
{
	return atomic_load(&w->want) != WANT_RUN;
}

static int add_fd(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int worker_watch(struct worker *w, int fd, uint32_t events, worker_fd_fn *fn,
		 void *opaque)
{
	struct watch *wa;
	int ret;

	if (w->nr_watches >= WORKER_MAX_WATCHES)
		return -ENOSPC;
	wa = &w->watches[w->nr_watches];
	*wa = (struct watch){ .fd = fd, .fn = fn, .opaque = opaque };
	ret = add_fd(w->epfd, fd, events, wa);
	if (ret == 0)
		w->nr_watches++;
	return ret;
}

int worker_unwatch(struct worker *w, int fd)
{
	for (unsigned int i = 0; i < w->nr_watches; i++) {
		if (w->watches[i].fd != fd)
			continue;
		w->watches[i].fd = -1;
		return epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
	}
	return -ENOENT;
}

int worker_set_events(struct worker *w, int fd, uint32_t events)
{
	for (unsigned int i = 0; i < w->nr_watches; i++) {
		struct epoll_event ev = { .events = events,
					  .data.ptr = &w->watches[i] };

		if (w->watches[i].fd != fd)
			continue;
		return epoll_ctl(w->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
	}
	return -ENOENT;
}

static int open_fds(struct worker *w)
{
	int ret;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->epfd < 0 || w->ctl_fd < 0 || w->timer_fd < 0)
		return -errno;
	ret = add_fd(w->epfd, w->ctl_fd, EPOLLIN, &ctl_tag);
	if (ret == 0)
		ret = add_fd(w->epfd, w->timer_fd, EPOLLIN, &timer_tag);
	return ret;
}

static void close_fds(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	if (w->timer_fd >= 0)
		close(w->timer_fd);
}

/* Born with the stop signals blocked: they belong to the loop's thread
 * (sample_stop_signals()). */
static int start_thread(struct worker *w)
{
	sigset_t stop, old;
	int ret;

	sample_stop_signals(&stop);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	ret = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w->started = ret == 0;
	return ret;
}

int worker_create(const struct worker_ops *ops, void *opaque,
		  struct worker **out)
{
	struct worker *w = calloc(1, sizeof(*w));
	int ret;

	if (w == NULL)
		return -ENOMEM;
	w->ops = *ops;
	w->opaque = opaque;
	w->epfd = w->ctl_fd = w->timer_fd = -1;
	w->timer_ns = 0;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	atomic_init(&w->want, WANT_PARK);
	atomic_init(&w->idle, BUSY);
	w->parked = true; /* it does nothing until worker_run() */
	ret = open_fds(w);
	if (ret == 0)
		ret = start_thread(w);
	if (ret < 0) {
		worker_destroy(w);
		return ret;
	}
	*out = w;
	return 0;
}

void worker_stop(struct worker *w)
{
	if (w == NULL || !w->started)
		return;
	pthread_mutex_lock(&w->lock);
	request(w, WANT_EXIT);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void worker_destroy(struct worker *w)
{
	if (w == NULL)
		return;
	worker_stop(w);
	close_fds(w);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
