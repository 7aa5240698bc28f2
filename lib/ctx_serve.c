/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctx_serve: how a context meets its clients: a listening socket (created
 * here or inherited, e.g. from systemd), an already connected socket, the
 * run loop, and fds the device asks the loop to watch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "ctx_priv.h"
#include "engine.h"
#include "ho.h"
#include "log.h"
#include "recovery.h"

#define LISTEN_BACKLOG 16

void ctx_engine_idle(void *opaque)
{
	vus_ctx *ctx = opaque;

	/* Ready for the next client waiting in the backlog (unless a
	 * hand-over holds it there). */
	if (ctx->listen_w.loop != NULL && !ctx->listen_held)
		(void)loop_mod(&ctx->listen_w, EPOLLIN);
}

void ctx_listen_cb(struct watch *w, uint32_t events)
{
	vus_ctx *ctx = (vus_ctx *)((char *)w - offsetof(vus_ctx, listen_w));
	int fd, ret;

	(void)events;
	if (engine_busy(ctx->engine) || ctx->listen_held) {
		(void)loop_mod(w, 0);
		return;
	}
	fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_msg(&ctx->log, VUS_LOG_WARNING, "accept: %s",
				strerror(errno));
		return;
	}
	ret = engine_attach(ctx->engine, fd);
	if (ret < 0) {
		log_msg(&ctx->log, VUS_LOG_WARNING, "cannot serve client: %s",
			strerror(-ret));
		return;
	}
	/* One client at a time; the next waits in the backlog. */
	(void)loop_mod(w, 0);
}

static int adopt_listener(vus_ctx *ctx, int fd)
{
	int fl = fcntl(fd, F_GETFL), ret;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	ctx->listen_w.fd = fd;
	ctx->listen_w.events =
		engine_busy(ctx->engine) || ctx->listen_held ? 0 : EPOLLIN;
	ret = loop_add(ctx->loop, &ctx->listen_w);
	if (ret < 0)
		ctx->listen_w.fd = -1;
	return ret;
}

int ctx_adopt_listener(vus_ctx *ctx, int fd, char *path)
{
	int ret = ctx->listen_w.fd >= 0 ? -EEXIST : adopt_listener(ctx, fd);

	if (ret < 0) {
		close_fd(&fd);
		free(path);
		return ret;
	}
	ctx->sock_path = path;
	return 0;
}

static int serve_check(const vus_ctx *ctx)
{
	if (!ctx->realized)
		return -EINVAL;
	if (ctx->listen_w.fd >= 0)
		return -EEXIST;
	return 0;
}

VUS_EXPORT int vus_ctx_listen_fd(vus_ctx *ctx, int fd)
{
	int ret = ctx ? serve_check(ctx) : -EINVAL;

	if (ret == 0)
		ret = unix_stream_check(fd, true);
	if (ret == 0)
		ret = adopt_listener(ctx, fd);
	if (ret < 0)
		close_fd(&fd);
	return ret;
}

/* Remove a socket file nobody listens on; refuse a live one. */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE; /* never delete someone's file */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	ret = ret == 0 ? -EADDRINUSE : (errno == ECONNREFUSED ? 0 : -errno);
	close_fd(&fd);
	if (ret == 0 && unlink(sa->sun_path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

/*
 * Listen at @sa's path. The socket is bound under a temporary name in the
 * same directory and renamed into place once it listens, so the path never
 * exists without a listener behind it (a client that waits for the path
 * to appear is then never refused).
 */
static int bind_listen(const struct sockaddr_un *sa, unsigned int mode,
		       int *out)
{
	struct sockaddr_un tmp = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int n, err = 0;

	if (fd < 0)
		return -errno;
	n = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d.tmp",
		     sa->sun_path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp.sun_path))
		tmp = *sa; /* no room for a suffix: bind in place */
	(void)unlink(tmp.sun_path);
	if (bind(fd, (const struct sockaddr *)&tmp, sizeof(tmp)) < 0 ||
	    (mode != 0 && chmod(tmp.sun_path, mode) < 0) ||
	    listen(fd, LISTEN_BACKLOG) < 0 ||
	    (strcmp(tmp.sun_path, sa->sun_path) != 0 &&
	     rename(tmp.sun_path, sa->sun_path) < 0)) {
		err = -errno;
		(void)unlink(tmp.sun_path);
		close_fd(&fd);
		return err;
	}
	*out = fd;
	return 0;
}

/*
 * Whether a listener bound as @got was made by bind_listen() for @path:
 * there, or under the temporary name it was renamed from.
 */
static bool bound_for(const char *got, const char *path)
{
	size_t n = strlen(path), g = strlen(got);

	return strncmp(got, path, n) == 0 &&
	       (got[n] == '\0' ||
		(got[n] == '.' && g > n + 4 && strcmp(got + g - 4, ".tmp") == 0));
}

/*
 * Crash recovery: the listener a dead process made at @sa's path, if the
 * store kept it (the path is still bound to it). -ENOENT if there is
 * none; one made for another path is closed.
 */
static int inherited_listener(vus_ctx *ctx, const struct sockaddr_un *sa)
{
	struct sockaddr_un got = { 0 };
	socklen_t len = sizeof(got);
	int fd = ctx->rec ? recovery_take_listener(ctx->rec) : -ENOENT;

	if (fd < 0)
		return fd;
	if (unix_stream_check(fd, true) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &len) < 0 ||
	    !bound_for(got.sun_path, sa->sun_path)) {
		log_msg(&ctx->log, VUS_LOG_WARNING,
			"recovery: the kept listening socket is not one at %s",
			sa->sun_path);
		close_fd(&fd);
		return -ENOENT;
	}
	return fd;
}

int ctx_listen_path(const char *path, unsigned int mode, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret;

	if (path == NULL || path[0] == '\0')
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	ret = clear_stale(&sa);
	return ret < 0 ? ret : bind_listen(&sa, mode, out);
}

VUS_EXPORT int vus_ctx_listen(vus_ctx *ctx, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool kept;
	int ret, fd = -1;

	if (ctx == NULL || path == NULL || path[0] == '\0')
		return -EINVAL;
	ret = serve_check(ctx);
	if (ret < 0)
		return ret;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = inherited_listener(ctx, &sa);
	kept = fd >= 0;
	ret = kept ? 0 : clear_stale(&sa);
	if (ret == 0 && !kept)
		ret = bind_listen(&sa, 0, &fd);
	/* Kept from now on, so a restarted process listens on it. */
	if (ret == 0 && !kept && ctx->rec != NULL &&
	    (ret = recovery_keep_listener(ctx->rec, fd)) < 0)
		(void)unlink(path);
	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	ctx->sock_path = strdup(path);
	ret = ctx->sock_path ? adopt_listener(ctx, fd) : -ENOMEM;
	if (ret < 0) {
		(void)unlink(path);
		free(ctx->sock_path);
		ctx->sock_path = NULL;
		close_fd(&fd);
		return ret;
	}
	log_msg(&ctx->log, VUS_LOG_INFO, "listening on %s", path);
	return 0;
}

VUS_EXPORT int vus_ctx_attach_fd(vus_ctx *ctx, int fd)
{
	int ret;

	if (ctx == NULL || !ctx->realized || ctx->handed_over) {
		close_fd(&fd);
		return -EINVAL;
	}
	ret = ctx->ho != NULL ? -EBUSY : unix_stream_check(fd, false);
	if (ret < 0) {
		close_fd(&fd);
		return ret;
	}
	return engine_attach(ctx->engine, fd);
}

VUS_EXPORT int vus_ctx_get_poll_fd(const vus_ctx *ctx)
{
	return ctx ? loop_fd(ctx->loop) : -EINVAL;
}

VUS_EXPORT bool vus_ctx_has_client(const vus_ctx *ctx)
{
	return ctx ? engine_connected(ctx->engine) : false;
}

/*
 * One turn of the loop. Work left for the next turn (messages read
 * already, or deferred) makes the next wait return at once; with @kick
 * the poll fd says so too, for a caller's own loop that polls it.
 */
static int run_turn(vus_ctx *ctx, int timeout_ms, bool kick)
{
	int n;

	if (ctx == NULL || !ctx->realized)
		return -EINVAL;
	if (ctx->handed_over)
		return -ENOTCONN;
	if (!atomic_load(&ctx->thread_known) ||
	    !pthread_equal(ctx->thread, pthread_self())) {
		ctx->thread = pthread_self();
		atomic_store(&ctx->thread_known, true);
	}
	if (engine_has_work(ctx->engine))
		timeout_ms = 0;
	n = loop_run_once(ctx->loop, timeout_ms);
	/* Messages deferred while a handler awaited a DMA reply. */
	engine_run_deferred(ctx->engine);
	/* What device fd handlers changed is kept from this turn on. */
	recovery_turn_done(ctx->rec);
	if (kick && !ctx->kicked && engine_has_work(ctx->engine)) {
		ctx->kicked = true;
		(void)eventfd_write(ctx->wake_w.fd, 1);
	}
	/* A hand-over waiting for the device to quiesce or a boundary. */
	ho_serve_poll(ctx);
	if (n < 0)
		return n;
	if (ctx->listen_w.fd < 0 && !engine_busy(ctx->engine))
		return -ENOTCONN;
	return n;
}

VUS_EXPORT int vus_ctx_run_once(vus_ctx *ctx, int timeout_ms)
{
	return run_turn(ctx, timeout_ms, true);
}

VUS_EXPORT int vus_ctx_run(vus_ctx *ctx)
{
	if (ctx == NULL)
		return -EINVAL;
	for (;;) {
		int ret;

		if (atomic_exchange(&ctx->stop, false))
			return 0;
		ret = run_turn(ctx, -1, false);
		if (ret < 0)
			return ret;
	}
}

VUS_EXPORT void vus_ctx_stop(vus_ctx *ctx)
{
	if (ctx == NULL)
		return;
	atomic_store(&ctx->stop, true);
	(void)eventfd_write(ctx->wake_w.fd, 1);
}

static void handler_cb(struct watch *w, uint32_t events)
{
	struct fd_handler *h = (struct fd_handler *)w;

	h->fn(h->ctx, h->opaque, w->fd, events);
}

VUS_EXPORT int vus_ctx_add_fd(vus_ctx *ctx, int fd, uint32_t events,
			      vus_fd_fn *fn, void *opaque)
{
	struct fd_handler *h;
	int ret;

	if (ctx == NULL || fd < 0 || fn == NULL)
		return -EINVAL;
	for (h = ctx->handlers; h != NULL; h = h->next)
		if (h->w.fd == fd)
			return -EEXIST;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->w = (struct watch){ .fd = fd, .events = events, .cb = handler_cb };
	h->fn = fn;
	h->ctx = ctx;
	h->opaque = opaque;
	ret = loop_add(ctx->loop, &h->w);
	if (ret < 0) {
		free(h);
		return ret;
	}
	h->next = ctx->handlers;
	ctx->handlers = h;
	return 0;
}

VUS_EXPORT int vus_ctx_mod_fd(vus_ctx *ctx, int fd, uint32_t events)
{
	if (ctx == NULL)
		return -EINVAL;
	for (struct fd_handler *h = ctx->handlers; h != NULL; h = h->next)
		if (h->w.fd == fd)
			return loop_mod(&h->w, events);
	return -ENOENT;
}

VUS_EXPORT int vus_ctx_del_fd(vus_ctx *ctx, int fd)
{
	struct fd_handler **pp;

	if (ctx == NULL)
		return -EINVAL;
	for (pp = &ctx->handlers; *pp != NULL; pp = &(*pp)->next) {
		struct fd_handler *h = *pp;

		if (h->w.fd != fd)
			continue;
		*pp = h->next;
		loop_del(&h->w);
		free(h);
		return 0;
	}
	return -ENOENT;
}
