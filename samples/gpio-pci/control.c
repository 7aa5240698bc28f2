/* SPDX-License-Identifier: BSD-3-Clause */
/* control: the input-line control socket (see control.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "sample_sock.h"

#define MAX_CONNS 8
#define LINE_MAX_LEN 256

struct conn {
	int fd;
	size_t used;
	char buf[LINE_MAX_LEN];
};

struct control {
	vus_ctx *ctx;
	struct idio16 *dev;
	int listen_fd;
	char *path;
	struct conn conns[MAX_CONNS];
};

static void conn_close(struct control *c, struct conn *k)
{
	vus_ctx_del_fd(c->ctx, k->fd);
	close(k->fd);
	k->fd = -1;
	k->used = 0;
}

static void state_json(const struct idio16 *d, char *out, size_t cap)
{
	snprintf(out, cap,
		 "{\"outputs\":\"0x%04x\",\"inputs\":\"0x%04x\","
		 "\"irq_enabled\":%s,\"irq_status\":\"0x%02x\","
		 "\"filters\":%s,\"irqs_raised\":%lu,\"stopped\":%s}\n",
		 d->outputs, d->inputs, d->irq_enabled ? "true" : "false",
		 d->status, d->filters ? "true" : "false", d->irqs_raised,
		 d->stopped ? "true" : "false");
}

static bool parse_u(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno == 0 && *end == '\0' && *out <= max;
}

/* Run one command line; the reply goes to @out. */
static void run_line(struct control *c, char *line, char *out, size_t cap)
{
	char *save = NULL, *cmd = strtok_r(line, " \t\r", &save);
	char *a1 = strtok_r(NULL, " \t\r", &save);
	char *a2 = strtok_r(NULL, " \t\r", &save);
	unsigned long v, n;

	if (cmd == NULL || strcmp(cmd, "get") == 0) {
		state_json(c->dev, out, cap);
	} else if (strcmp(cmd, "inputs") == 0 && parse_u(a1, 0xffff, &v)) {
		idio16_set_inputs(c->dev, (uint16_t)v);
		state_json(c->dev, out, cap);
	} else if (strcmp(cmd, "input") == 0 && parse_u(a1, 15, &n) &&
		   parse_u(a2, 1, &v)) {
		uint16_t in = c->dev->wires & (uint16_t)~(1u << n);
		idio16_set_inputs(c->dev, (uint16_t)(in | (v << n)));
		state_json(c->dev, out, cap);
	} else if (strcmp(cmd, "help") == 0) {
		snprintf(out, cap, "{\"commands\":[\"get\",\"inputs VALUE\","
			 "\"input N 0|1\",\"help\"]}\n");
	} else {
		snprintf(out, cap, "{\"error\":\"bad command; try help\"}\n");
	}
}

static void conn_read(struct control *c, struct conn *k)
{
	ssize_t n = read(k->fd, k->buf + k->used, sizeof(k->buf) - k->used);
	char *nl;

	if (n <= 0) {
		conn_close(c, k);
		return;
	}
	k->used += (size_t)n;
	while ((nl = memchr(k->buf, '\n', k->used)) != NULL) {
		char out[512];
		size_t len = (size_t)(nl - k->buf);

		*nl = '\0';
		run_line(c, k->buf, out, sizeof(out));
		if (send(k->fd, out, strlen(out), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			conn_close(c, k);
			return;
		}
		memmove(k->buf, nl + 1, k->used - len - 1);
		k->used -= len + 1;
	}
	if (k->used == sizeof(k->buf))
		conn_close(c, k); /* a line longer than any command */
}

static void conn_cb(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	struct control *c = opaque;

	for (int i = 0; i < MAX_CONNS; i++)
		if (c->conns[i].fd == fd) {
			conn_read(c, &c->conns[i]);
			return;
		}
}

static void accept_cb(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	struct control *c = opaque;
	int nfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (nfd < 0)
		return;
	for (int i = 0; i < MAX_CONNS; i++) {
		if (c->conns[i].fd >= 0)
			continue;
		if (vus_ctx_add_fd(c->ctx, nfd, EPOLLIN, conn_cb, c) == 0) {
			c->conns[i].fd = nfd;
			c->conns[i].used = 0;
			return;
		}
		break;
	}
	close(nfd); /* too many at once */
}

int control_open(struct control **out, vus_ctx *ctx, struct idio16 *d,
		 const char *path)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	int ret = c ? sample_unix_addr(path, &sa) : -ENOMEM;

	if (ret < 0) {
		free(c);
		return ret;
	}
	c->ctx = ctx;
	c->dev = d;
	for (int i = 0; i < MAX_CONNS; i++)
		c->conns[i].fd = -1;
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->listen_fd < 0)
		ret = -errno;
	/* Our own control socket from an earlier run, never a live one. */
	ret = ret ? ret : sample_clear_stale(&sa, SOCK_STREAM);
	if (ret == 0 && (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			 listen(c->listen_fd, 4) < 0))
		ret = -errno;
	if (ret == 0)
		ret = vus_ctx_add_fd(ctx, c->listen_fd, EPOLLIN, accept_cb, c);
	c->path = ret == 0 ? strdup(path) : NULL;
	if (ret < 0) {
		if (c->listen_fd >= 0)
			close(c->listen_fd);
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void control_close(struct control *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (c->conns[i].fd >= 0)
			conn_close(c, &c->conns[i]);
	vus_ctx_del_fd(c->ctx, c->listen_fd);
	close(c->listen_fd);
	if (c->path != NULL)
		unlink(c->path);
	free(c->path);
	free(c);
}

int control_send(const char *path, int argc, char **argv)
{
	char line[LINE_MAX_LEN], reply[512];
	struct sockaddr_un sa;
	size_t used = 0, got = 0;
	int fd, ret = sample_unix_addr(path, &sa);

	if (ret < 0)
		return ret;
	for (int i = 0; i < argc; i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s",
					 i ? " " : "", argv[i]);
	if (used + 1 >= sizeof(line))
		return -E2BIG;
	line[used++] = '\n';
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, line, used) != (ssize_t)used) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while (got < sizeof(reply) - 1 && memchr(reply, '\n', got) == NULL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0 ||
		    (n = read(fd, reply + got, sizeof(reply) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	reply[got] = '\0';
	fputs(reply, stdout);
	if (got == 0)
		return -EPROTO;
	return strstr(reply, "\"error\"") ? 1 : 0;
}
