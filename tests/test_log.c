/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus_ctx_set_log(): a NULL sink keeps the stderr sink at the level asked
 * for (the threshold and one past it), VUS_LOG_OFF silences, a sink of
 * the device's own gets every message at or above its level, and NULL
 * after a sink gives stderr back. stderr is a memfd while we look.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx_internal.h"
#include "log.h"
#include "vtest.h"
#include "vus.h"

/*
 * Log @msg at @level (and @msg2 at @level2, if not NULL) on @ctx with
 * stderr on a memfd; what stderr got lands in @out.
 */
static void logged(vus_ctx *ctx, int level, const char *msg, int level2,
		   const char *msg2, char *out, size_t size)
{
	int fd = memfd_create("stderr", MFD_CLOEXEC), saved;
	ssize_t n;

	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_msg(ctx_log(ctx), level, "%s", msg);
	if (msg2 != NULL)
		log_client(ctx_log(ctx), level2, "%s", msg2);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, out, size - 1, 0);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
}

static vus_ctx *new_ctx(void)
{
	struct vus_ctx_config cfg = { .struct_size = sizeof(cfg),
				      .bus = VUS_BUS_SYSBUS, .name = "logtest" };
	vus_ctx *ctx;

	assert_int_equal(vus_ctx_create(&cfg, &ctx), 0);
	return ctx;
}

static void null_sink_keeps_stderr_at_the_level(void **state)
{
	vus_ctx *ctx = new_ctx();
	char out[512];

	/* The default: warnings and errors only. */
	logged(ctx, VUS_LOG_WARNING, "warned", VUS_LOG_NOTICE, "noticed",
	       out, sizeof(out));
	assert_string_equal(out, "logtest: warned\n");
	vus_ctx_set_log(ctx, VUS_LOG_NOTICE, NULL, NULL);
	logged(ctx, VUS_LOG_NOTICE, "at the level", VUS_LOG_INFO,
	       "one past it", out, sizeof(out));
	assert_string_equal(out, "logtest: at the level\n");
	vus_ctx_destroy(ctx);
}

static void log_off_silences(void **state)
{
	vus_ctx *ctx = new_ctx();
	char out[512];

	vus_ctx_set_log(ctx, VUS_LOG_OFF, NULL, NULL);
	logged(ctx, VUS_LOG_ERR, "an error", VUS_LOG_ERR, "a client's error",
	       out, sizeof(out));
	assert_string_equal(out, "");
	vus_ctx_destroy(ctx);
}

struct seen {
	int n;
	int level;
	char msg[128];
};

static void sink(void *opaque, int level, const char *msg)
{
	struct seen *s = opaque;

	s->n++;
	s->level = level;
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

static void own_sink_then_back_to_stderr(void **state)
{
	vus_ctx *ctx = new_ctx();
	struct seen s = { 0 };
	char out[512];

	vus_ctx_set_log(ctx, VUS_LOG_DEBUG, sink, &s);
	logged(ctx, VUS_LOG_DEBUG, "to the sink", 0, NULL, out, sizeof(out));
	assert_string_equal(out, "");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.level, VUS_LOG_DEBUG);
	assert_string_equal(s.msg, "logtest: to the sink");
	vus_ctx_set_log(ctx, VUS_LOG_DEBUG, NULL, &s);
	logged(ctx, VUS_LOG_DEBUG, "to stderr", 0, NULL, out, sizeof(out));
	assert_string_equal(out, "logtest: to stderr\n");
	assert_int_equal(s.n, 1);
	vus_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(null_sink_keeps_stderr_at_the_level),
		VTEST(log_off_silences),
		VTEST(own_sink_then_back_to_stderr),
	};

	return vtest_run("log", tests, argc, argv);
}
