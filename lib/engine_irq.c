/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * engine_irq: DEVICE_SET_IRQS. The request is validated whole by
 * wire_irq_set_check() against the index it names, every fd is checked to
 * be an eventfd, and only then is one of the nine action/data combinations
 * applied to the interrupt table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "engine_priv.h"
#include "irq_table.h"
#include "recovery.h"

/*
 * Whether @fd is an eventfd. We write 8 bytes to trigger fds: anything
 * else (a socket, a file) could be made to receive data it should not.
 */
static bool is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return access("/proc/self/fd", F_OK) != 0; /* no /proc: trust */
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static int eventfds_check(const struct msg *m)
{
	for (unsigned int i = 0; i < m->nfds; i++)
		if (!is_eventfd(m->fds[i]))
			return -EINVAL;
	return 0;
}

static int apply(struct irq_table *it, const struct wire_irq_set *s,
		 const uint8_t *bools, struct msg *m)
{
	uint32_t data = s->flags & WIRE_IRQ_DATA_TYPE_MASK;
	uint32_t action = s->flags & WIRE_IRQ_ACTION_TYPE_MASK;
	int *fds = m->nfds ? m->fds : NULL;

	switch (action) {
	case WIRE_IRQ_ACTION_TRIGGER:
		if (data == WIRE_IRQ_DATA_EVENTFD)
			return irq_bind(it, s->index, s->start, s->count, fds);
		if (s->count == 0)
			return irq_disable(it, s->index);
		return irq_fire(it, s->index, s->start, s->count, bools);
	case WIRE_IRQ_ACTION_MASK:
	case WIRE_IRQ_ACTION_UNMASK:
		if (data == WIRE_IRQ_DATA_EVENTFD)
			return irq_bind_mask_fds(it, s->index, s->start, s->count,
						 fds, action == WIRE_IRQ_ACTION_UNMASK);
		return irq_mask(it, s->index, s->start, s->count, bools,
				action == WIRE_IRQ_ACTION_MASK);
	default:
		return -EINVAL;
	}
}

int handle_device_set_irqs(struct engine *e, struct msg *m, struct reply *r)
{
	struct irq_table *it = ctx_irqs(e->ctx);
	struct wire_irq_set s;
	uint32_t count, flags;
	int ret;

	memcpy(&s, m->payload, sizeof(s));
	if (s.index >= engine_num_irqs(e))
		return -EINVAL;
	ret = irq_get_info(it, s.index, &count, &flags);
	if (ret == 0)
		ret = wire_irq_set_check(&s, m->len, count, flags, m->nfds);
	if (ret == 0)
		ret = eventfds_check(m);
	if (ret < 0)
		return ret;
	/* An empty index has nothing to disable. */
	if (count == 0)
		return 0;
	ret = apply(it, &s, (s.flags & WIRE_IRQ_DATA_BOOL) ?
			    m->payload + sizeof(s) : NULL, m);
	/* Crash recovery keeps the vectors' eventfds (even on a partial
	 * failure, whatever is bound now). */
	recovery_irq_touched(ctx_recovery(e->ctx), s.index, s.start, s.count,
			     m->nfds > 0);
	return ret;
}
