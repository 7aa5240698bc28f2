/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * irq: interrupt indexes, their eventfds and vector state (see irq.h for
 * the semantics). One mutex guards every vector's state and trigger fd, so
 * device threads can raise interrupts while the context thread rebinds;
 * mask/unmask eventfds are watched by the context loop. Every eventfd here
 * is the client's, its description shared with it: signals and drains go
 * through efd.c, which never blocks whatever mode the client set.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "common.h"
#include "ctx_internal.h"
#include "efd.h"
#include "irq_table.h"
#include "log.h"
#include "loop.h"

/* VFIO_IRQ_INFO_EVENTFD: every index here is driven by eventfds. */
#define IRQ_INFO_EVENTFD 0x1u

struct irq_vec {
	struct irq_table *it;
	uint32_t index;
	uint32_t vector;
	int trigger_fd;
	struct watch mask_w;   /* fd -1 when unbound */
	struct watch unmask_w;
	bool masked;
	bool pending;
	bool level;
};

struct irq_index {
	bool declared;
	uint32_t count;
	uint32_t flags;
	struct irq_vec *v;
	/* Counters: changed under the lock, read without it. */
	uint64_t raised;
	uint64_t signaled;
};

/* One writer at a time (the lock): a plain relaxed store, no locked add. */
#define COUNT(x) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + 1, \
				  __ATOMIC_RELAXED)

struct irq_table {
	struct log *log;
	struct loop *loop;
	pthread_mutex_t lock;
	uint32_t reserved;
	struct irq_index idx[IRQ_MAX_INDEX];
	vus_irq_state_fn *state_fn;
	vus_ctx *state_ctx;
	void *state_opaque;
	/* Signals that could not be delivered, and how many we told of. */
	atomic_uint_fast64_t dropped;
	uint64_t dropped_told; /* under @lock */
};

_Static_assert(IRQ_MAX_INDEX <= 32, "reserved is a 32-bit mask");

int irq_table_create(struct log *log, struct loop *loop,
		     struct irq_table **out)
{
	struct irq_table *it = calloc(1, sizeof(*it));

	if (it == NULL)
		return -ENOMEM;
	it->log = log;
	it->loop = loop;
	pthread_mutex_init(&it->lock, NULL);
	if (efd_init() < 0)
		log_msg(log, VUS_LOG_WARNING, "no Linux AIO: a client that "
			"blocks its interrupt eventfd can stall an interrupt");
	*out = it;
	return 0;
}

static void watch_drop(struct watch *w)
{
	loop_del(w);
	close_fd(&w->fd);
}

static void vec_unbind_all(struct irq_vec *v)
{
	close_fd(&v->trigger_fd);
	watch_drop(&v->mask_w);
	watch_drop(&v->unmask_w);
}

void irq_table_destroy(struct irq_table *it)
{
	if (it == NULL)
		return;
	for (unsigned int i = 0; i < IRQ_MAX_INDEX; i++) {
		for (uint32_t j = 0; j < it->idx[i].count; j++)
			vec_unbind_all(&it->idx[i].v[j]);
		free(it->idx[i].v);
	}
	pthread_mutex_destroy(&it->lock);
	free(it);
}

void irq_reserve(struct irq_table *it, uint32_t first, uint32_t n)
{
	for (uint32_t i = first; i < first + n && i < IRQ_MAX_INDEX; i++)
		it->reserved |= 1u << i;
}

bool irq_reserved(const struct irq_table *it, uint32_t index)
{
	return index < IRQ_MAX_INDEX && (it->reserved & (1u << index));
}

static void mask_watch_cb(struct watch *w, uint32_t events);
static void unmask_watch_cb(struct watch *w, uint32_t events);

int irq_add(struct irq_table *it, uint32_t index, uint32_t count,
	    uint32_t flags)
{
	const uint32_t known = VUS_IRQ_MASKABLE | VUS_IRQ_AUTOMASKED |
			       VUS_IRQ_NORESIZE;
	struct irq_index *x;

	if (index >= IRQ_MAX_INDEX || count > IRQ_MAX_VECTORS ||
	    (flags & ~known))
		return -EINVAL;
	/* A vector that masks itself must be unmaskable by the client. */
	if ((flags & VUS_IRQ_AUTOMASKED) && !(flags & VUS_IRQ_MASKABLE))
		return -EINVAL;
	x = &it->idx[index];
	if (x->declared)
		return -EEXIST;
	x->v = count ? calloc(count, sizeof(*x->v)) : NULL;
	if (count && x->v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		struct irq_vec *v = &x->v[i];

		v->it = it;
		v->index = index;
		v->vector = i;
		v->trigger_fd = -1;
		v->mask_w = (struct watch){ .fd = -1, .events = EPOLLIN,
					    .cb = mask_watch_cb };
		v->unmask_w = (struct watch){ .fd = -1, .events = EPOLLIN,
					      .cb = unmask_watch_cb };
	}
	x->declared = true;
	x->count = count;
	x->flags = flags;
	return 0;
}

uint32_t irq_count(const struct irq_table *it)
{
	for (uint32_t i = IRQ_MAX_INDEX; i > 0; i--)
		if (it->idx[i - 1].declared)
			return i;
	return 0;
}

int irq_get_info(const struct irq_table *it, uint32_t index, uint32_t *count,
		 uint32_t *flags)
{
	if (index >= IRQ_MAX_INDEX)
		return -EINVAL;
	*count = it->idx[index].count;
	*flags = IRQ_INFO_EVENTFD | it->idx[index].flags;
	return 0;
}

/* The vector, or NULL for an index/vector the table does not have. */
static struct irq_vec *vec(struct irq_table *it, uint32_t index,
			   uint32_t vector)
{
	if (index >= IRQ_MAX_INDEX || vector >= it->idx[index].count)
		return NULL;
	return &it->idx[index].v[vector];
}

/*
 * Signal the vector, or keep it pending. Lock held. A signal that cannot
 * be delivered without blocking is dropped and counted: an interrupt is
 * an edge, and the client's counter still holds the ones before it.
 */
static int fire_locked(struct irq_table *it, struct irq_vec *v)
{
	if (v->masked || v->trigger_fd < 0) {
		v->pending = true;
		return 0;
	}
	v->pending = false;
	if (efd_signal(v->trigger_fd) < 0)
		atomic_fetch_add(&it->dropped, 1);
	else
		COUNT(it->idx[v->index].signaled);
	if (it->idx[v->index].flags & VUS_IRQ_AUTOMASKED)
		v->masked = true;
	return 1;
}

/* Unlock, then say (rate-limited) if signals were dropped meanwhile. */
static void unlock_and_report(struct irq_table *it)
{
	uint64_t n = atomic_load(&it->dropped), told = it->dropped_told;

	it->dropped_told = n;
	pthread_mutex_unlock(&it->lock);
	if (n != told)
		log_client(it->log, VUS_LOG_NOTICE,
			   "%" PRIu64 " interrupt signals dropped: the client's "
			   "eventfd could not take them", n);
}

static void unmask_locked(struct irq_table *it, struct irq_vec *v)
{
	v->masked = false;
	if (v->pending || v->level)
		(void)fire_locked(it, v);
}

static void notify(struct irq_table *it, uint32_t index, uint32_t start,
		   uint32_t count)
{
	if (it->state_fn != NULL)
		it->state_fn(it->state_ctx, it->state_opaque, index, start,
			     count);
}

int irq_bind(struct irq_table *it, uint32_t index, uint32_t start,
	     uint32_t count, int *fds)
{
	if (vec(it, index, start) == NULL || count > it->idx[index].count - start)
		return -EINVAL;
	pthread_mutex_lock(&it->lock);
	for (uint32_t i = 0; i < count; i++) {
		struct irq_vec *v = &it->idx[index].v[start + i];

		close_fd(&v->trigger_fd);
		if (fds != NULL) {
			v->trigger_fd = fds[i];
			fds[i] = -1;
		}
		/* Something raised while nobody listened fires on binding. */
		if (v->trigger_fd >= 0 && !v->masked && (v->pending || v->level))
			(void)fire_locked(it, v);
	}
	unlock_and_report(it);
	notify(it, index, start, count);
	return 0;
}

int irq_disable(struct irq_table *it, uint32_t index)
{
	struct irq_index *x;

	if (index >= IRQ_MAX_INDEX)
		return -EINVAL;
	x = &it->idx[index];
	pthread_mutex_lock(&it->lock);
	for (uint32_t i = 0; i < x->count; i++) {
		vec_unbind_all(&x->v[i]);
		x->v[i].masked = false;
		x->v[i].pending = false;
	}
	pthread_mutex_unlock(&it->lock);
	if (x->count)
		notify(it, index, 0, x->count);
	return 0;
}

int irq_fire(struct irq_table *it, uint32_t index, uint32_t start,
	     uint32_t count, const uint8_t *bools)
{
	if (vec(it, index, start) == NULL || count > it->idx[index].count - start)
		return -EINVAL;
	pthread_mutex_lock(&it->lock);
	for (uint32_t i = 0; i < count; i++)
		if (bools == NULL || bools[i])
			(void)fire_locked(it, &it->idx[index].v[start + i]);
	unlock_and_report(it);
	return 0;
}

int irq_mask(struct irq_table *it, uint32_t index, uint32_t start,
	     uint32_t count, const uint8_t *bools, bool mask)
{
	if (vec(it, index, start) == NULL || count > it->idx[index].count - start)
		return -EINVAL;
	pthread_mutex_lock(&it->lock);
	for (uint32_t i = 0; i < count; i++) {
		struct irq_vec *v = &it->idx[index].v[start + i];

		if (bools != NULL && !bools[i])
			continue;
		if (mask)
			v->masked = true;
		else
			unmask_locked(it, v);
	}
	unlock_and_report(it);
	return 0;
}

static void mask_event(struct watch *w, bool unmask)
{
	struct irq_vec *v = (struct irq_vec *)((char *)w -
		(unmask ? offsetof(struct irq_vec, unmask_w)
			: offsetof(struct irq_vec, mask_w)));
	struct irq_table *it = v->it;
	uint64_t cnt;

	/* Clear the eventfd first so the next signal is a new event. The
	 * client may have emptied it already, in a mode that would block. */
	(void)efd_drain(w->fd, &cnt);
	pthread_mutex_lock(&it->lock);
	if (unmask)
		unmask_locked(it, v);
	else
		v->masked = true;
	unlock_and_report(it);
}

static void mask_watch_cb(struct watch *w, uint32_t events)
{
	(void)events;
	mask_event(w, false);
}

static void unmask_watch_cb(struct watch *w, uint32_t events)
{
	(void)events;
	mask_event(w, true);
}

int irq_bind_mask_fds(struct irq_table *it, uint32_t index, uint32_t start,
		      uint32_t count, int *fds, bool unmask)
{
	int ret = 0;

	if (vec(it, index, start) == NULL || count > it->idx[index].count - start)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		struct irq_vec *v = &it->idx[index].v[start + i];
		struct watch *w = unmask ? &v->unmask_w : &v->mask_w;

		watch_drop(w);
		if (fds == NULL)
			continue;
		w->fd = fds[i];
		fds[i] = -1;
		if (it->loop == NULL)
			continue;
		int r = loop_add(it->loop, w);
		if (r < 0) {
			/* Not an eventfd we can poll: refuse it. */
			close_fd(&w->fd);
			ret = r;
		}
	}
	return ret;
}

void irq_drop_client(struct irq_table *it)
{
	for (uint32_t i = 0; i < IRQ_MAX_INDEX; i++) {
		struct irq_index *x = &it->idx[i];

		if (!x->declared || x->count == 0)
			continue;
		pthread_mutex_lock(&it->lock);
		for (uint32_t j = 0; j < x->count; j++)
			vec_unbind_all(&x->v[j]);
		pthread_mutex_unlock(&it->lock);
		notify(it, i, 0, x->count);
	}
}

void irq_reset(struct irq_table *it)
{
	for (uint32_t i = 0; i < IRQ_MAX_INDEX; i++)
		if (it->idx[i].declared)
			(void)irq_disable(it, i);
}

int irq_trigger(struct irq_table *it, uint32_t index, uint32_t vector)
{
	struct irq_vec *v = vec(it, index, vector);
	int ret;

	if (v == NULL)
		return -EINVAL;
	pthread_mutex_lock(&it->lock);
	COUNT(it->idx[index].raised);
	ret = fire_locked(it, v);
	unlock_and_report(it);
	return ret;
}

int irq_set_level(struct irq_table *it, uint32_t index, uint32_t vector,
		  bool level)
{
	struct irq_vec *v = vec(it, index, vector);
	int ret = 0;

	if (v == NULL)
		return -EINVAL;
	pthread_mutex_lock(&it->lock);
	if (level && !v->level) {
		v->level = true;
		COUNT(it->idx[index].raised);
		ret = fire_locked(it, v);
	} else if (!level) {
		/* A lowered line is no longer pending. */
		v->level = false;
		v->pending = false;
	}
	unlock_and_report(it);
	return ret;
}

bool irq_is_pending(struct irq_table *it, uint32_t index, uint32_t vector)
{
	struct irq_vec *v = vec(it, index, vector);
	bool ret;

	if (v == NULL)
		return false;
	pthread_mutex_lock(&it->lock);
	ret = v->pending;
	pthread_mutex_unlock(&it->lock);
	return ret;
}

bool irq_is_bound(struct irq_table *it, uint32_t index, uint32_t vector)
{
	struct irq_vec *v = vec(it, index, vector);
	bool ret;

	if (v == NULL)
		return false;
	pthread_mutex_lock(&it->lock);
	ret = v->trigger_fd >= 0;
	pthread_mutex_unlock(&it->lock);
	return ret;
}

void irq_get_stats(struct irq_table *it, uint32_t index,
		   struct irq_stats *out)
{
	*out = (struct irq_stats){ 0 };
	if (index >= IRQ_MAX_INDEX)
		return;
	out->raised = __atomic_load_n(&it->idx[index].raised, __ATOMIC_RELAXED);
	out->signaled = __atomic_load_n(&it->idx[index].signaled,
					__ATOMIC_RELAXED);
}

int irq_vec_save(struct irq_table *it, uint32_t index, uint32_t vector,
		 struct irq_vec_state *out)
{
	struct irq_vec *v = vec(it, index, vector);

	if (v == NULL)
		return -EINVAL;
	pthread_mutex_lock(&it->lock);
	*out = (struct irq_vec_state){
		.masked = v->masked, .pending = v->pending, .level = v->level,
		.trigger = v->trigger_fd, .mask = v->mask_w.fd,
		.unmask = v->unmask_w.fd,
	};
	pthread_mutex_unlock(&it->lock);
	return 0;
}

/* Watch a mask or unmask eventfd; @fd taken, also on error. */
static int watch_take(struct irq_table *it, struct watch *w, int fd)
{
	int ret;

	w->fd = fd;
	if (fd < 0 || it->loop == NULL)
		return 0;
	ret = loop_add(it->loop, w);
	if (ret < 0)
		close_fd(&w->fd);
	return ret;
}

int irq_vec_load(struct irq_table *it, uint32_t index, uint32_t vector,
		 struct irq_vec_state *in)
{
	struct irq_vec *v = vec(it, index, vector);
	int ret;

	if (v == NULL || v->trigger_fd >= 0 || v->mask_w.fd >= 0 ||
	    v->unmask_w.fd >= 0) {
		close_fd(&in->trigger);
		close_fd(&in->mask);
		close_fd(&in->unmask);
		return -EINVAL;
	}
	pthread_mutex_lock(&it->lock);
	v->masked = in->masked;
	v->pending = in->pending;
	v->level = in->level;
	v->trigger_fd = in->trigger;
	pthread_mutex_unlock(&it->lock);
	in->trigger = -1;
	ret = watch_take(it, &v->mask_w, in->mask);
	in->mask = -1;
	if (ret == 0)
		ret = watch_take(it, &v->unmask_w, in->unmask);
	else
		close_fd(&in->unmask);
	in->unmask = -1;
	notify(it, index, vector, 1);
	return ret;
}

void irq_hold_mask_fds(struct irq_table *it, bool hold)
{
	for (uint32_t i = 0; i < IRQ_MAX_INDEX; i++) {
		for (uint32_t j = 0; j < it->idx[i].count; j++) {
			struct irq_vec *v = &it->idx[i].v[j];

			if (v->mask_w.loop != NULL)
				(void)loop_mod(&v->mask_w, hold ? 0 : EPOLLIN);
			if (v->unmask_w.loop != NULL)
				(void)loop_mod(&v->unmask_w, hold ? 0 : EPOLLIN);
		}
	}
}

void irq_set_state_cb(struct irq_table *it, vus_irq_state_fn *fn,
		      vus_ctx *ctx, void *opaque)
{
	it->state_ctx = ctx;
	it->state_fn = fn;
	it->state_opaque = opaque;
}

/* Public API. */

VUS_EXPORT int vus_irq_setup(vus_ctx *ctx, uint32_t index, uint32_t count,
			     uint32_t flags)
{
	struct irq_table *it;

	if (ctx == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	it = ctx_irqs(ctx);
	if (irq_reserved(it, index))
		return -EINVAL;
	return irq_add(it, index, count, flags);
}

VUS_EXPORT int vus_irq_trigger(vus_ctx *ctx, uint32_t index, uint32_t vector)
{
	return ctx ? irq_trigger(ctx_irqs(ctx), index, vector) : -EINVAL;
}

VUS_EXPORT int vus_irq_set_level(vus_ctx *ctx, uint32_t index,
				 uint32_t vector, bool level)
{
	return ctx ? irq_set_level(ctx_irqs(ctx), index, vector, level)
		   : -EINVAL;
}

VUS_EXPORT bool vus_irq_is_bound(vus_ctx *ctx, uint32_t index,
				 uint32_t vector)
{
	return ctx ? irq_is_bound(ctx_irqs(ctx), index, vector) : false;
}

VUS_EXPORT int vus_irq_set_state_cb(vus_ctx *ctx, vus_irq_state_fn *fn,
				    void *opaque)
{
	if (ctx == NULL)
		return -EINVAL;
	if (ctx_realized(ctx))
		return -EBUSY;
	irq_set_state_cb(ctx_irqs(ctx), fn, ctx,
			 opaque ? opaque : vus_ctx_opaque(ctx));
	return 0;
}
