/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend: stdio, pty and UNIX socket ends of the serial line (see
 * backend.h).
 *
 * The backend's fds live in an epoll set of its own, which is the one fd
 * it adds to the context loop: interest changes all the time (input only
 * while the RX FIFO has room, output only while a write is pending) and
 * an inner set lets us change it with EPOLL_CTL_MOD instead of removing
 * and re-adding watches on the context.
 *
 * Input readiness is remembered in in_ready, so a caller may ask for
 * bytes whenever it has room without a wasted system call; level-triggered
 * epoll brings it back whenever data is there and we are listening.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "backend.h"
#include "sample_sock.h"

enum kind { BE_STDIO, BE_PTY, BE_UNIX, BE_LISTEN };
enum tag { TAG_IN = 1, TAG_OUT, TAG_LISTEN };

/* One fd in the inner epoll set. */
struct bwatch {
	int fd;
	uint32_t tag;
	uint32_t mask;
	bool added;
	bool pollable; /* false for regular files and /dev/null */
};

struct backend {
	vus_ctx *ctx;
	enum kind kind;
	int log_level;
	int epfd;
	struct bwatch in, out, listen; /* out.fd == in.fd: one watch (in) */
	bool want_in;
	bool in_ready;    /* a read may return data or EOF */
	bool in_hup;      /* hung up: unwatched, read what is left */
	bool in_eof;      /* no more input from this peer */
	bool out_blocked; /* waiting for EPOLLOUT */
	bool out_dead;    /* output is discarded */
	int pty_slave;    /* held open so the master never sees a hang-up */
	char *listen_path;
	bool tty_saved;
	struct termios saved_tio;
	int saved_fl[2];
	backend_kick_fn *kick;
	void *opaque;
};

__attribute__((format(printf, 3, 4)))
static void blog(const struct backend *b, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > b->log_level)
		return;
	fputs("vus-sysbus-uart: backend: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool shared_fd(const struct backend *b)
{
	return b->in.fd >= 0 && b->in.fd == b->out.fd;
}

/* ---- the inner epoll set ---- */

static void watch_set(struct backend *b, struct bwatch *w, uint32_t mask)
{
	struct epoll_event ev = { .events = mask, .data.u32 = w->tag };

	if (w->fd < 0 || !w->pollable || (w->added && w->mask == mask))
		return;
	if (epoll_ctl(b->epfd, w->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      w->fd, &ev) == 0) {
		w->added = true;
		w->mask = mask;
	} else if (errno == EPERM) {
		w->pollable = false; /* always ready: reads and writes never wait */
	}
}

static void watch_drop(struct backend *b, struct bwatch *w)
{
	if (w->added)
		(void)epoll_ctl(b->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = false;
	w->mask = 0;
}

static void watch_init(struct bwatch *w, int fd, uint32_t tag)
{
	*w = (struct bwatch){ .fd = fd, .tag = tag, .pollable = true };
}

/* Bring the epoll interest in line with what we are waiting for. */
static void rewatch(struct backend *b)
{
	uint32_t in = b->want_in && !b->in_eof ? EPOLLIN : 0;
	uint32_t out = b->out_blocked && !b->out_dead ? EPOLLOUT : 0;

	/* One peer at a time: the next waits in the backlog. */
	watch_set(b, &b->listen, b->in.fd < 0 ? EPOLLIN : 0);
	if (shared_fd(b)) {
		if (!b->in_hup)
			watch_set(b, &b->in, in | out);
		return;
	}
	/* Once hung up or broken an fd stays out: errors would come forever. */
	if (!b->in_hup)
		watch_set(b, &b->in, in);
	if (!b->out_dead)
		watch_set(b, &b->out, out);
	if (!b->in.pollable)
		b->in_ready = true;
}

/* ---- peers coming and going ---- */

static void peer_reset_flags(struct backend *b)
{
	b->in_ready = false;
	b->in_hup = false;
	b->in_eof = false;
	b->out_blocked = false;
	b->out_dead = false;
}

/* The far end is gone for good (socket) or has nothing more to say. */
static void peer_gone(struct backend *b)
{
	b->in_eof = true;
	b->in_ready = false;
	if (b->kind != BE_UNIX && b->kind != BE_LISTEN)
		return;
	watch_drop(b, &b->in);
	close(b->in.fd);
	b->in.fd = b->out.fd = -1;
	b->out_dead = true; /* no one there: output is discarded */
	blog(b, VUS_LOG_NOTICE, "peer disconnected%s",
	     b->kind == BE_LISTEN ? ", waiting for the next one" : "");
}

static size_t unread_bytes(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}

/*
 * The other end hung up. Stop watching (a hang-up is reported on every
 * epoll_wait whatever we ask for) but keep what it sent before leaving:
 * it is read as the RX FIFO makes room, then the peer is dropped.
 */
static void hang_up(struct backend *b)
{
	if (b->in_hup || b->in.fd < 0)
		return;
	watch_drop(b, &b->in);
	b->in_hup = true;
	b->in_ready = true;
	if (shared_fd(b))
		b->out_dead = true;
	if (unread_bytes(b->in.fd) == 0)
		peer_gone(b);
}

static void accept_peer(struct backend *b)
{
	int fd = accept4(b->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			blog(b, VUS_LOG_WARNING, "accept: %s", strerror(errno));
		return;
	}
	if (b->in.fd >= 0) { /* not listening while a peer is there */
		close(fd);
		return;
	}
	watch_init(&b->in, fd, TAG_IN);
	watch_init(&b->out, fd, TAG_OUT);
	peer_reset_flags(b);
	blog(b, VUS_LOG_NOTICE, "peer connected");
}

static void handle_event(struct backend *b, uint32_t tag, uint32_t events)
{
	bool broken = events & (EPOLLHUP | EPOLLERR);

	switch (tag) {
	case TAG_LISTEN:
		accept_peer(b);
		break;
	case TAG_IN:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			b->in_ready = true;
		if (events & EPOLLOUT)
			b->out_blocked = false;
		if (broken)
			hang_up(b);
		break;
	case TAG_OUT:
		b->out_blocked = false;
		if (broken) { /* e.g. the reader of our stdout pipe left */
			watch_drop(b, &b->out);
			b->out_dead = true;
		}
		break;
	default:
		break;
	}
}

static void on_epoll(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	struct backend *b = opaque;
	struct epoll_event ev[8];
	int n = epoll_wait(b->epfd, ev, 8, 0);

	(void)fd;
	(void)events;
	for (int i = 0; i < n; i++)
		handle_event(b, ev[i].data.u32, ev[i].events);
	rewatch(b);
	b->kick(b->opaque);
}

/* ---- data ---- */

size_t backend_read(struct backend *b, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (len == 0 || b->in.fd < 0 || b->in_eof || !b->in_ready)
		return 0;
	n = read(b->in.fd, buf, len);
	if (n > 0) {
		/* Short: drained for now; epoll says when there is more. */
		if ((size_t)n < len && b->in.pollable && !b->in_hup)
			b->in_ready = false;
		return (size_t)n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (b->in.pollable && !b->in_hup)
			b->in_ready = false;
		return 0;
	}
	if (n < 0)
		blog(b, VUS_LOG_INFO, "read: %s", strerror(errno));
	/* EOF or a hard error. A socket peer may still read (half-close). */
	if (b->in_hup || n < 0)
		peer_gone(b);
	else
		b->in_eof = true;
	rewatch(b);
	return 0;
}

static ssize_t out_write(const struct backend *b, const uint8_t *buf,
			 size_t len)
{
	if (b->kind == BE_UNIX || b->kind == BE_LISTEN)
		return send(b->out.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return write(b->out.fd, buf, len);
}

size_t backend_write(struct backend *b, const uint8_t *buf, size_t len)
{
	ssize_t n;

	if (b->out.fd < 0 || b->out_dead)
		return len; /* nobody there: discarded */
	if (b->out_blocked || len == 0)
		return 0;
	n = out_write(b, buf, len);
	if (n >= 0 && (size_t)n == len)
		return len;
	if (n >= 0 || errno == EAGAIN || errno == EINTR) {
		/* Full: wait for EPOLLOUT (a file that cannot poll never is). */
		b->out_blocked = b->out.pollable;
		rewatch(b);
		return n > 0 ? (size_t)n : 0;
	}
	blog(b, VUS_LOG_INFO, "write: %s; output is discarded", strerror(errno));
	b->out_dead = true;
	if (shared_fd(b))
		hang_up(b);
	rewatch(b);
	return len;
}

void backend_want_input(struct backend *b, bool want)
{
	if (b->want_in == want)
		return;
	b->want_in = want;
	rewatch(b);
}

/* ---- opening ---- */

static int set_nonblock(int fd, int *saved)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (saved)
		*saved = fl;
	return 0;
}

static int open_stdio(struct backend *b)
{
	struct termios raw;
	int ret;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &b->saved_tio) == 0) {
		raw = b->saved_tio;
		cfmakeraw(&raw);
		raw.c_lflag |= ISIG; /* Ctrl-C still stops the server */
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			b->tty_saved = true;
	}
	ret = set_nonblock(STDIN_FILENO, &b->saved_fl[0]);
	if (ret == 0)
		ret = set_nonblock(STDOUT_FILENO, &b->saved_fl[1]);
	watch_init(&b->in, STDIN_FILENO, TAG_IN);
	watch_init(&b->out, STDOUT_FILENO, TAG_OUT);
	return ret;
}

/* Make the pty's slave side raw: no echo back into the UART, no newline
 * translation. We keep it open (see backend.h). */
static int hold_slave(struct backend *b, const char *name)
{
	struct termios raw;

	b->pty_slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (b->pty_slave < 0 || tcgetattr(b->pty_slave, &raw) < 0)
		return -errno;
	cfmakeraw(&raw);
	return tcsetattr(b->pty_slave, TCSANOW, &raw) < 0 ? -errno : 0;
}

static int open_pty(struct backend *b)
{
	char name[128];
	int ret = 0, m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		ret = -errno;
	else if ((ret = ptsname_r(m, name, sizeof(name))) != 0)
		ret = -ret;
	else
		ret = hold_slave(b, name);
	if (ret < 0) {
		close(m);
		return ret;
	}
	watch_init(&b->in, m, TAG_IN);
	watch_init(&b->out, m, TAG_OUT);
	fprintf(stderr, "pty: %s\n", name);
	return 0;
}

static int open_unix(struct backend *b, const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = sample_unix_addr(path, &sa);

	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    set_nonblock(fd, NULL) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	watch_init(&b->in, fd, TAG_IN);
	watch_init(&b->out, fd, TAG_OUT);
	return 0;
}

static int open_listen(struct backend *b, const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = sample_unix_addr(path, &sa);

	if (ret == 0)
		ret = sample_clear_stale(&sa, SOCK_STREAM);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	b->listen_path = strdup(path);
	if (b->listen_path == NULL) {
		unlink(path);
		close(fd);
		return -ENOMEM;
	}
	watch_init(&b->listen, fd, TAG_LISTEN);
	return 0;
}

static int open_kind(struct backend *b, const char *spec)
{
	if (strcmp(spec, "stdio") == 0) {
		b->kind = BE_STDIO;
		return open_stdio(b);
	}
	if (strcmp(spec, "pty") == 0) {
		b->kind = BE_PTY;
		return open_pty(b);
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		b->kind = BE_UNIX;
		return open_unix(b, spec + 5);
	}
	if (strncmp(spec, "unix-listen:", 12) == 0) {
		b->kind = BE_LISTEN;
		return open_listen(b, spec + 12);
	}
	return -EINVAL;
}

/* The kind @spec names, without opening anything (a hand-over). */
static int prepare_kind(struct backend *b, const char *spec)
{
	static const struct {
		const char *prefix;
		enum kind kind;
	} kinds[] = {
		{ "stdio", BE_STDIO }, { "pty", BE_PTY }, { "unix:", BE_UNIX },
		{ "unix-listen:", BE_LISTEN },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncmp(spec, kinds[i].prefix, n) != 0 ||
		    (kinds[i].prefix[n - 1] != ':' && spec[n] != '\0'))
			continue;
		b->kind = kinds[i].kind;
		if (b->kind == BE_STDIO)
			return open_stdio(b);
		if (b->kind == BE_LISTEN) {
			b->listen_path = strdup(spec + n);
			return b->listen_path ? 0 : -ENOMEM;
		}
		return 0;
	}
	return -EINVAL;
}

static int backend_new(struct backend **out, vus_ctx *ctx,
		       const struct backend_config *cfg, bool prepare)
{
	struct backend *b = calloc(1, sizeof(*b));
	int ret;

	if (b == NULL)
		return -ENOMEM;
	*b = (struct backend){ .ctx = ctx, .log_level = cfg->log_level,
			       .pty_slave = -1, .saved_fl = { -1, -1 },
			       .kick = cfg->kick,
			       .opaque = cfg->opaque };
	watch_init(&b->in, -1, TAG_IN);
	watch_init(&b->out, -1, TAG_OUT);
	watch_init(&b->listen, -1, TAG_LISTEN);
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	ret = b->epfd < 0 ? -errno
			  : prepare ? prepare_kind(b, cfg->spec)
				    : open_kind(b, cfg->spec);
	if (ret == 0) {
		rewatch(b);
		ret = vus_ctx_add_fd(ctx, b->epfd, EPOLLIN, on_epoll, b);
	}
	if (ret < 0) {
		backend_close(b);
		return ret;
	}
	*out = b;
	return 0;
}

int backend_open(struct backend **out, vus_ctx *ctx,
		 const struct backend_config *cfg)
{
	return backend_new(out, ctx, cfg, false);
}

int backend_prepare(struct backend **out, vus_ctx *ctx,
		    const struct backend_config *cfg)
{
	return backend_new(out, ctx, cfg, true);
}

/* ---- hand-over ---- */

int backend_save_fds(struct backend *b, vus_handover_fds *h)
{
	int ret = 0;

	if (b->kind != BE_STDIO && b->in.fd >= 0)
		ret = vus_handover_put_fd(h, "line", b->in.fd, b->kind == BE_PTY
					  ? VUS_FD_TTY : VUS_FD_SOCKET);
	if (ret == 0 && b->pty_slave >= 0)
		ret = vus_handover_put_fd(h, "slave", b->pty_slave, VUS_FD_TTY);
	if (ret == 0 && b->listen.fd >= 0)
		ret = vus_handover_put_fd(h, "listen", b->listen.fd,
					  VUS_FD_SOCKET);
	return ret;
}

/* The line, a pty's slave and a listener (taken; -1 or -errno: none). */
static int adopt(struct backend *b, int line, int slave, int listen_fd)
{
	b->pty_slave = slave < 0 ? -1 : slave;
	/* A pty has its line, a listener may be waiting for its next peer. */
	if ((b->kind == BE_PTY && (line < 0 || b->pty_slave < 0)) ||
	    (b->kind == BE_UNIX && line < 0) ||
	    (b->kind == BE_LISTEN && listen_fd < 0)) {
		if (line >= 0)
			close(line);
		if (listen_fd >= 0)
			close(listen_fd);
		return -ENOENT;
	}
	if (line >= 0) {
		watch_init(&b->in, line, TAG_IN);
		watch_init(&b->out, line, TAG_OUT);
	}
	if (listen_fd >= 0)
		watch_init(&b->listen, listen_fd, TAG_LISTEN);
	rewatch(b);
	return 0;
}

int backend_load_fds(struct backend *b, vus_handover_fds *h)
{
	int line = vus_handover_take_fd(h, "line");
	int listen_fd = vus_handover_take_fd(h, "listen");

	return adopt(b, line, vus_handover_take_fd(h, "slave"), listen_fd);
}

/* ---- crash recovery ---- */

int backend_keep_fds(struct backend *b)
{
	int ret = 0;

	/* A listener's peer comes and goes; the peer connects again. */
	if ((b->kind == BE_PTY || b->kind == BE_UNIX) && b->in.fd >= 0)
		ret = vus_ctx_keep_fd(b->ctx, "line", b->in.fd);
	if (ret == 0 && b->pty_slave >= 0)
		ret = vus_ctx_keep_fd(b->ctx, "slave", b->pty_slave);
	if (ret == 0 && b->listen.fd >= 0)
		ret = vus_ctx_keep_fd(b->ctx, "listen", b->listen.fd);
	return ret;
}

int backend_take_kept_fds(struct backend *b)
{
	int line = vus_ctx_take_fd(b->ctx, "line");

	return adopt(b, line, vus_ctx_take_fd(b->ctx, "slave"),
		     vus_ctx_take_fd(b->ctx, "listen"));
}

void backend_keep_path(struct backend *b)
{
	free(b->listen_path);
	b->listen_path = NULL;
}

static void restore_stdio(struct backend *b)
{
	if (b->tty_saved)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &b->saved_tio);
	if (b->saved_fl[0] >= 0)
		(void)fcntl(STDIN_FILENO, F_SETFL, b->saved_fl[0]);
	if (b->saved_fl[1] >= 0)
		(void)fcntl(STDOUT_FILENO, F_SETFL, b->saved_fl[1]);
}

void backend_close(struct backend *b)
{
	if (b == NULL)
		return;
	if (b->epfd >= 0) {
		(void)vus_ctx_del_fd(b->ctx, b->epfd);
		close(b->epfd);
	}
	if (b->kind == BE_STDIO)
		restore_stdio(b);
	else if (b->in.fd >= 0)
		close(b->in.fd);
	if (b->pty_slave >= 0)
		close(b->pty_slave);
	if (b->listen.fd >= 0)
		close(b->listen.fd);
	if (b->listen_path) {
		(void)unlink(b->listen_path);
		free(b->listen_path);
	}
	free(b);
}
