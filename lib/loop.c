/* SPDX-License-Identifier: BSD-3-Clause */
/* loop: epoll-based watch dispatch (see loop.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common.h"
#include "loop.h"

#define LOOP_BATCH 32

struct loop {
	int epfd;
	/* The batch being dispatched, so loop_del can cancel its entries. */
	struct epoll_event ev[LOOP_BATCH];
	int nev;
	int cur;
};

int loop_create(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;
		free(l);
		return err;
	}
	*out = l;
	return 0;
}

void loop_destroy(struct loop *l)
{
	if (l == NULL)
		return;
	close_fd(&l->epfd);
	free(l);
}

int loop_fd(const struct loop *l)
{
	return l->epfd;
}

int loop_add(struct loop *l, struct watch *w)
{
	struct epoll_event ev = { .events = w->events, .data.ptr = w };

	if (w->loop != NULL)
		return -EEXIST;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	w->loop = l;
	return 0;
}

int loop_mod(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->loop == NULL)
		return -ENOENT;
	if (w->events == events)
		return 0;
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void loop_del(struct watch *w)
{
	struct loop *l = w->loop;

	if (l == NULL)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	/* The owner may free @w right after; forget queued events for it. */
	for (int i = l->cur; i < l->nev; i++)
		if (l->ev[i].data.ptr == w)
			l->ev[i].data.ptr = NULL;
	w->loop = NULL;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	return loop_run_max(l, timeout_ms, LOOP_BATCH);
}

int loop_run_max(struct loop *l, int timeout_ms, int max)
{
	int n = epoll_wait(l->epfd, l->ev, MIN(MAX(max, 1), LOOP_BATCH),
			   timeout_ms);
	int done = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->nev = n;
	for (l->cur = 0; l->cur < l->nev; l->cur++) {
		struct watch *w = l->ev[l->cur].data.ptr;
		uint32_t events = l->ev[l->cur].events;

		if (w == NULL)
			continue;
		/* Advance first: the callback may delete later watches. */
		l->ev[l->cur].data.ptr = NULL;
		w->cb(w, events);
		done++;
	}
	l->nev = 0;
	l->cur = 0;
	return done;
}
