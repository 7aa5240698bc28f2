/* SPDX-License-Identifier: BSD-3-Clause */
/* log: formatting, threshold and rate limiting (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define LOG_BURST 10u

static void default_sink(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	fprintf(stderr, "%s\n", msg);
}

void log_init(struct log *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name ? name : "vus");
	pthread_mutex_init(&l->lock, NULL);
	log_set(l, VUS_LOG_WARNING, NULL, NULL);
}

void log_set(struct log *l, int level, vus_log_fn *fn, void *opaque)
{
	l->level = level;
	l->fn = fn != NULL ? fn : default_sink;
	l->opaque = fn != NULL ? opaque : NULL;
}

void log_fini(struct log *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* Format-checked like its callers (clang's -Wformat=2 needs to know). */
PRINTF_LIKE(3, 0)
static void emit(struct log *l, int level, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s: ", l->name);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	l->fn(l->opaque, level, buf);
}

void log_msg(struct log *l, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > l->level)
		return;
	va_start(ap, fmt);
	emit(l, level, fmt, ap);
	va_end(ap);
}

static bool rate_ok(struct log *l, unsigned int *suppressed)
{
	uint64_t now = now_ms();
	bool ok;

	pthread_mutex_lock(&l->lock);
	*suppressed = 0;
	if (now - l->window_start_ms >= 1000u) {
		*suppressed = l->suppressed;
		l->window_start_ms = now;
		l->window_count = 0;
		l->suppressed = 0;
	}
	ok = l->window_count < LOG_BURST;
	if (ok)
		l->window_count++;
	else
		l->suppressed++;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

void log_client(struct log *l, int level, const char *fmt, ...)
{
	unsigned int suppressed;
	va_list ap;

	if (level > l->level)
		return;
	if (!rate_ok(l, &suppressed))
		return;
	if (suppressed)
		log_msg(l, level, "%u similar messages suppressed", suppressed);
	va_start(ap, fmt);
	emit(l, level, fmt, ap);
	va_end(ap);
}
