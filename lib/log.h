/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log: per-context logging through the user's sink, with a threshold and a
 * rate limit for messages a client can provoke. Messages carry no newline.
 */
#ifndef VUS_LOG_H
#define VUS_LOG_H

#include <pthread.h>
#include <stdint.h>

#include "common.h"
#include "vus/ctx.h"

struct log {
	char name[32];
	int level;
	vus_log_fn *fn;
	void *opaque;
	/* Rate limit for client-triggered messages: a burst per second. */
	pthread_mutex_t lock;
	uint64_t window_start_ms;
	unsigned int window_count;
	unsigned int suppressed;
};

void log_init(struct log *l, const char *name);
/** As vus_ctx_set_log(): @fn NULL is the stderr sink. */
void log_set(struct log *l, int level, vus_log_fn *fn, void *opaque);
void log_fini(struct log *l);

/** Log at @level if the threshold allows. Thread-safe. */
void log_msg(struct log *l, int level, const char *fmt, ...) PRINTF_LIKE(3, 4);

/**
 * Log something a client or guest caused: at most a burst of 10 per second
 * get through, then one summary line. Thread-safe.
 */
void log_client(struct log *l, int level, const char *fmt, ...) PRINTF_LIKE(3, 4);

#endif /* VUS_LOG_H */
