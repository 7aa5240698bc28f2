/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * doorbell: per-connection eventfds standing in for the device's doorbell
 * eventfds (see doorbell.h). A short list: one entry per doorbell a
 * client asked for, at most the device's doorbells.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "common.h"
#include "doorbell.h"
#include "efd.h"
#include "loop.h"

struct doorbell {
	struct watch w;      /* the client's eventfd */
	int dev_fd;          /* the device's, borrowed */
	uint32_t region;
	unsigned int index;
	struct doorbell *next;
};

/* The client rang: pass it on once, whatever count it wrote. */
static void rang(struct watch *w, uint32_t events)
{
	struct doorbell *d = (struct doorbell *)((char *)w -
						 offsetof(struct doorbell, w));
	uint64_t n;

	(void)events;
	if (efd_drain(w->fd, &n) == 0 && n > 0)
		(void)efd_signal(d->dev_fd);
}

int doorbell_client_fd(struct doorbell **list, struct loop *loop,
		       uint32_t region, unsigned int index, int dev_fd)
{
	struct doorbell *d;
	int ret;

	for (d = *list; d != NULL; d = d->next)
		if (d->region == region && d->index == index)
			return d->w.fd;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->w = (struct watch){ .events = EPOLLIN, .cb = rang,
			       .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	if (d->w.fd < 0) {
		ret = -errno;
		free(d);
		return ret;
	}
	ret = loop_add(loop, &d->w);
	if (ret < 0) {
		close_fd(&d->w.fd);
		free(d);
		return ret;
	}
	d->dev_fd = dev_fd;
	d->region = region;
	d->index = index;
	d->next = *list;
	*list = d;
	return d->w.fd;
}

void doorbell_close_all(struct doorbell **list)
{
	while (*list != NULL) {
		struct doorbell *d = *list;

		*list = d->next;
		loop_del(&d->w);
		close_fd(&d->w.fd);
		free(d);
	}
}
