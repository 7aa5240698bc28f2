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

/* Watch @fd (taken, also on error) as the client's end of a doorbell. */
static int add(struct doorbell **list, struct loop *loop, uint32_t region,
	       unsigned int index, int dev_fd, int fd)
{
	struct doorbell *d;
	int ret;

	if (fd < 0)
		return -errno;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	d->w = (struct watch){ .events = EPOLLIN, .cb = rang, .fd = fd };
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

static struct doorbell *find(struct doorbell *list, uint32_t region,
			     unsigned int index)
{
	for (; list != NULL; list = list->next)
		if (list->region == region && list->index == index)
			return list;
	return NULL;
}

int doorbell_client_fd(struct doorbell **list, struct loop *loop,
		       uint32_t region, unsigned int index, int dev_fd)
{
	struct doorbell *d = find(*list, region, index);

	if (d != NULL)
		return d->w.fd;
	return add(list, loop, region, index, dev_fd,
		   eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

int doorbell_adopt(struct doorbell **list, struct loop *loop, uint32_t region,
		   unsigned int index, int dev_fd, int fd)
{
	int ret;

	if (find(*list, region, index) != NULL) {
		close_fd(&fd);
		return -EEXIST;
	}
	ret = add(list, loop, region, index, dev_fd, fd);
	if (ret < 0)
		return ret;
	/* The other process drained the client's count into its own
	 * device, which may have died or stopped before serving it. */
	(void)efd_signal(dev_fd);
	return 0;
}

int doorbell_get(const struct doorbell *list, unsigned int i,
		 uint32_t *region, unsigned int *index, int *fd)
{
	for (; list != NULL && i > 0; i--)
		list = list->next;
	if (list == NULL)
		return -ENOENT;
	*region = list->region;
	*index = list->index;
	*fd = list->w.fd;
	return 0;
}

void doorbell_hold(struct doorbell *list, bool hold)
{
	for (; list != NULL; list = list->next)
		(void)loop_mod(&list->w, hold ? 0 : EPOLLIN);
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
