/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * client_irq: interrupts. DEVICE_GET_IRQ_INFO, and DEVICE_SET_IRQS in each
 * form a VMM uses: binding trigger eventfds (in runs of valid and -1
 * entries, each run within the server's max_msg_fds, as QEMU sends them),
 * disabling, loop-back triggers, mask/unmask by message or by eventfd.
 * vus_client_irq_enable() makes eventfds the client owns and waits on them.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client_priv.h"
#include "common.h"

VUS_EXPORT int vus_client_irq_info(vus_client *c, uint32_t index,
				   struct vus_client_irq_info *out)
{
	struct wire_irq_info info = { .argsz = sizeof(info), .index = index };
	struct vus_client_irq_info ii;
	int ret;

	if (c == NULL || sized_out_check(out, sizeof(ii)) < 0)
		return -EINVAL;
	ret = client_call_fixed(c, WIRE_CMD_DEVICE_GET_IRQ_INFO, &info,
				sizeof(info));
	if (ret < 0)
		return ret;
	if (info.index != index)
		return -EPROTO;
	ii = (struct vus_client_irq_info){ .flags = info.flags,
					   .count = info.count };
	copy_sized_out(out, &ii, sizeof(ii));
	return 0;
}

/* One SET_IRQS message; @fds (borrowed) go with it. */
static int set_irqs(vus_client *c, uint32_t flags, uint32_t index,
		    uint32_t start, uint32_t count, const int *fds,
		    unsigned int nfds)
{
	/* argsz is the fixed part, as QEMU sends it: fds are not data. */
	struct wire_irq_set s = { .argsz = sizeof(s), .flags = flags,
				  .index = index, .start = start,
				  .count = count };
	struct client_req rq = {
		.cmd = WIRE_CMD_DEVICE_SET_IRQS, .iovcnt = 1,
		.iov = { { .iov_base = &s, .iov_len = sizeof(s) } },
		.fds = fds, .nfds = nfds,
	};
	struct msg m;
	int ret = client_call_checked(c, &rq, 0, 0, 0, &m);

	if (ret == 0)
		msg_release(&m);
	return ret;
}

/* [start, start + count) is a non-empty range of vectors. */
static int range_check(uint32_t start, uint32_t count)
{
	return count > 0 && count - 1 <= UINT32_MAX - start ? 0 : -EINVAL;
}

/* Length of the run of all-valid or all -1 entries starting at @fds. */
static uint32_t run_length(const int *fds, uint32_t left, uint32_t limit)
{
	bool valid = fds[0] >= 0;
	uint32_t n = 1;

	while (n < left && n < limit && (fds[n] >= 0) == valid)
		n++;
	return n;
}

VUS_EXPORT int vus_client_irq_bind(vus_client *c, uint32_t index,
				   uint32_t start, uint32_t count,
				   const int *fds)
{
	const uint32_t flags = WIRE_IRQ_DATA_EVENTFD | WIRE_IRQ_ACTION_TRIGGER;
	uint32_t done = 0, limit;

	if (c == NULL || range_check(start, count) < 0)
		return -EINVAL;
	if (fds == NULL)
		return set_irqs(c, flags, index, start, count, NULL, 0);
	/* No fd can travel to a server that takes none: -1 runs can, as
	 * messages without fds, in one piece. */
	limit = c->srv.max_msg_fds ? c->srv.max_msg_fds : count;
	while (done < count) {
		uint32_t n = run_length(fds + done, count - done, limit);
		bool valid = fds[done] >= 0;
		int ret;

		if (valid && c->srv.max_msg_fds == 0)
			return -E2BIG;
		ret = set_irqs(c, flags, index, start + done, n,
			       valid ? fds + done : NULL, valid ? n : 0);
		if (ret < 0)
			return ret;
		done += n;
	}
	return 0;
}

static struct client_irq *irq_find(vus_client *c, uint32_t index)
{
	for (unsigned int i = 0; i < c->nr_irqs; i++)
		if (c->irqs[i].index == index)
			return &c->irqs[i];
	return NULL;
}

/* Close our eventfds of @index, if we made any. */
static void irq_forget(vus_client *c, uint32_t index)
{
	struct client_irq *e = irq_find(c, index);

	if (e == NULL)
		return;
	close_fds(e->fds, e->count);
	free(e->fds);
	*e = c->irqs[--c->nr_irqs];
}

VUS_EXPORT int vus_client_irq_disable(vus_client *c, uint32_t index)
{
	int ret;

	if (c == NULL)
		return -EINVAL;
	ret = set_irqs(c, WIRE_IRQ_DATA_NONE | WIRE_IRQ_ACTION_TRIGGER, index,
		       0, 0, NULL, 0);
	if (ret == 0)
		irq_forget(c, index);
	return ret;
}

VUS_EXPORT int vus_client_irq_trigger(vus_client *c, uint32_t index,
				      uint32_t start, uint32_t count)
{
	/* count 0 would mean "disable": not what a trigger asks for. */
	if (c == NULL || range_check(start, count) < 0)
		return -EINVAL;
	return set_irqs(c, WIRE_IRQ_DATA_NONE | WIRE_IRQ_ACTION_TRIGGER, index,
			start, count, NULL, 0);
}

VUS_EXPORT int vus_client_irq_mask(vus_client *c, uint32_t index,
				   uint32_t start, uint32_t count, bool mask)
{
	if (c == NULL || range_check(start, count) < 0)
		return -EINVAL;
	return set_irqs(c, WIRE_IRQ_DATA_NONE | (mask ? WIRE_IRQ_ACTION_MASK
						      : WIRE_IRQ_ACTION_UNMASK),
			index, start, count, NULL, 0);
}

VUS_EXPORT int vus_client_irq_bind_mask_fd(vus_client *c, uint32_t index,
					   uint32_t vector, int fd, bool unmask)
{
	uint32_t action = unmask ? WIRE_IRQ_ACTION_UNMASK : WIRE_IRQ_ACTION_MASK;

	if (c == NULL)
		return -EINVAL;
	if (fd >= 0 && c->srv.max_msg_fds == 0)
		return -E2BIG;
	return set_irqs(c, WIRE_IRQ_DATA_EVENTFD | action, index, vector, 1,
			fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}

/* Record @fds as the eventfds of @index, replacing (closing) old ones. */
static int irq_remember(vus_client *c, uint32_t index, uint32_t count,
			int *fds)
{
	struct client_irq *e = irq_find(c, index), *n;

	if (e != NULL) {
		close_fds(e->fds, e->count);
		free(e->fds);
	} else {
		n = realloc(c->irqs, (c->nr_irqs + 1) * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		c->irqs = n;
		e = &c->irqs[c->nr_irqs++];
	}
	*e = (struct client_irq){ .index = index, .count = count, .fds = fds };
	return 0;
}

VUS_EXPORT int vus_client_irq_enable(vus_client *c, uint32_t index,
				     uint32_t count)
{
	int *fds, ret = 0;
	uint32_t i;

	if (c == NULL || count == 0 || count > WIRE_MAX_IRQ_COUNT)
		return -EINVAL;
	fds = malloc(count * sizeof(*fds));
	if (fds == NULL)
		return -ENOMEM;
	for (i = 0; i < count && ret == 0; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[i] < 0)
			ret = -errno;
	}
	if (ret == 0)
		ret = vus_client_irq_bind(c, index, 0, count, fds);
	if (ret == 0)
		ret = irq_remember(c, index, count, fds);
	if (ret < 0) {
		/* On a failed eventfd(), fds[i - 1] is the -1 it returned. */
		close_fds(fds, i);
		free(fds);
	}
	return ret;
}

/* The eventfd of an enabled vector, or -errno. */
static int vector_fd(vus_client *c, uint32_t index, uint32_t vector)
{
	struct client_irq *e;

	if (c == NULL)
		return -EINVAL;
	e = irq_find(c, index);
	if (e == NULL)
		return -ENOENT;
	if (vector >= e->count)
		return -EINVAL;
	return e->fds[vector];
}

/* Consume the eventfd's count: signals since the last read, 0 if none. */
static int take_signals(int fd)
{
	eventfd_t v = 0;

	if (eventfd_read(fd, &v) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return (int)MIN(v, (eventfd_t)INT_MAX);
}

VUS_EXPORT int vus_client_irq_poll(vus_client *c, uint32_t index,
				   uint32_t vector)
{
	int fd = vector_fd(c, index, vector);

	return fd < 0 ? fd : take_signals(fd);
}

VUS_EXPORT int vus_client_irq_wait(vus_client *c, uint32_t index,
				   uint32_t vector, int timeout_ms)
{
	uint64_t deadline = client_deadline_in(timeout_ms);
	int fd = vector_fd(c, index, vector);

	if (fd < 0)
		return fd;
	for (;;) {
		struct msg m;
		int ret = take_signals(fd);

		if (ret != 0)
			return ret;
		/* Serve the server while we wait: it may need our memory to
		 * get to the interrupt. */
		while ((ret = client_recv_one(c, &m)) == 0)
			(void)client_dispatch(c, &m);
		if (ret != -EAGAIN)
			return ret;
		ret = client_poll(c, fd, deadline);
		if (ret < 0)
			return ret;
	}
}

void client_irq_release(vus_client *c)
{
	for (unsigned int i = 0; i < c->nr_irqs; i++) {
		close_fds(c->irqs[i].fds, c->irqs[i].count);
		free(c->irqs[i].fds);
	}
	free(c->irqs);
	c->irqs = NULL;
	c->nr_irqs = 0;
}
