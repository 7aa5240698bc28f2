/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervise_store: the fd store of vus-supervise and the notification
 * messages that fill it (supervise_store.h). The rules are systemd's, as
 * sd_notify(3) and systemd.service(5) describe them: fds come with
 * FDSTORE=1 and take the FDNAME= of their message; FDSTOREREMOVE=1 drops
 * every fd of that name; a stored fd that reports EPOLLHUP or EPOLLERR is
 * dropped unless FDPOLL=0 came with it; beyond the store's size, fds are
 * closed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common.h"
#include "fdstore.h"
#include "supervise_store.h"

int store_init(struct store *s, unsigned int max, int epfd, bool verbose)
{
	memset(s, 0, sizeof(*s));
	if (max > STORE_MAX_LIMIT)
		return -EINVAL;
	s->e = max ? calloc(max, sizeof(*s->e)) : NULL;
	if (max && s->e == NULL)
		return -ENOMEM;
	s->max = max;
	s->epfd = epfd;
	s->verbose = verbose;
	return 0;
}

static void drop_at(struct store *s, unsigned int i)
{
	struct stored_fd *e = &s->e[i];

	if (e->polled)
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, e->fd, NULL);
	close_fd(&e->fd);
	free(e->name);
	/* Keep the order: the next child sees the fds as they were stored. */
	memmove(e, e + 1, (s->n - i - 1) * sizeof(*e));
	s->n--;
}

void store_fini(struct store *s)
{
	while (s->n > 0)
		drop_at(s, s->n - 1);
	free(s->e);
	s->e = NULL;
}

int store_add(struct store *s, const char *name, int fd, bool poll)
{
	struct stored_fd *e;

	if (s->n >= s->max) {
		close_fd(&fd);
		return -ENOSPC;
	}
	e = &s->e[s->n];
	e->name = strdup(name);
	if (e->name == NULL) {
		close_fd(&fd);
		return -ENOMEM;
	}
	e->fd = fd;
	/* Regular files and memfds cannot be polled (EPERM): kept as is. */
	e->polled = poll && s->epfd >= 0 &&
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd,
			      &(struct epoll_event){ .events = 0,
						     .data.fd = fd }) == 0;
	s->n++;
	return 0;
}

unsigned int store_remove(struct store *s, const char *name)
{
	unsigned int removed = 0;

	for (unsigned int i = s->n; i > 0; i--) {
		if (strcmp(s->e[i - 1].name, name) == 0) {
			drop_at(s, i - 1);
			removed++;
		}
	}
	return removed;
}

void store_hangup(struct store *s, int fd)
{
	for (unsigned int i = 0; i < s->n; i++) {
		if (s->e[i].fd == fd) {
			if (s->verbose)
				fprintf(stderr, "vus-supervise: stored fd \"%s\" hung up, dropped\n",
					s->e[i].name);
			drop_at(s, i);
			return;
		}
	}
}

void store_sweep(struct store *s)
{
	for (unsigned int i = s->n; i > 0; i--) {
		struct pollfd p = { .fd = s->e[i - 1].fd };

		if (s->e[i - 1].polled && poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLHUP | POLLERR)))
			store_hangup(s, p.fd);
	}
}

/* What one notification asks for. */
struct note {
	bool fdstore, remove, ready, nopoll;
	char name[FDSTORE_NAME_MAX + 1];
	bool has_name, bad_name;
	char status[128];
};

/* Take one "KEY=value" line; unknown keys are ignored, as systemd does. */
static void note_line(struct note *nt, const char *l, size_t len)
{
#define IS(k) (len >= sizeof(k) - 1 && memcmp(l, k, sizeof(k) - 1) == 0)
#define VAL(k) (l + sizeof(k) - 1), (len - (sizeof(k) - 1))
	if (len == 9 && IS("FDSTORE=1"))
		nt->fdstore = true;
	else if (len == 15 && IS("FDSTOREREMOVE=1"))
		nt->remove = true;
	else if (len == 7 && IS("READY=1"))
		nt->ready = true;
	else if (len == 8 && IS("FDPOLL=0"))
		nt->nopoll = true;
	else if (IS("STATUS="))
		snprintf(nt->status, sizeof(nt->status), "%.*s", (int)(len - 7),
			 l + 7);
	else if (IS("FDNAME=")) {
		size_t n = len - 7;

		nt->has_name = true;
		nt->bad_name = n > FDSTORE_NAME_MAX;
		if (!nt->bad_name) {
			memcpy(nt->name, VAL("FDNAME="));
			nt->name[n] = '\0';
			nt->bad_name = !fdstore_name_ok(nt->name);
		}
	}
#undef IS
#undef VAL
}

static void note_parse(struct note *nt, const char *msg, size_t len)
{
	size_t pos = 0;

	memset(nt, 0, sizeof(*nt));
	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (msg + pos)) : len - pos;

		note_line(nt, msg + pos, l);
		pos += l + 1;
	}
}

/* Store @fds under the message's name; each is taken (stored or closed). */
static void store_fds(struct store *s, const struct note *nt, int *fds,
		      unsigned int nfds)
{
	/* No name: systemd calls them "stored". */
	const char *name = nt->has_name ? nt->name : "stored";
	unsigned int kept = 0;

	for (unsigned int i = 0; i < nfds; i++) {
		if (store_add(s, name, fds[i], !nt->nopoll) == 0)
			kept++;
		fds[i] = -1;
	}
	if (kept < nfds)
		fprintf(stderr, "vus-supervise: fd store full (%u): %u fd(s) \"%s\" closed\n",
			s->max, nfds - kept, name);
	else if (s->verbose)
		fprintf(stderr, "vus-supervise: stored %u fd(s) \"%s\" (%u kept)\n",
			nfds, name, s->n);
}

void store_message(struct store *s, const char *msg, size_t len, int *fds,
		   unsigned int nfds)
{
	struct note nt;

	note_parse(&nt, msg, len);
	if (nt.ready && !s->ready) {
		s->ready = true;
		if (s->verbose)
			fprintf(stderr, "vus-supervise: child is ready\n");
	}
	if (nt.status[0] && s->verbose)
		fprintf(stderr, "vus-supervise: status: %s\n", nt.status);
	if (nt.bad_name) {
		fprintf(stderr, "vus-supervise: notification with a bad FDNAME ignored\n");
	} else if (nt.remove && nt.has_name) {
		unsigned int k = store_remove(s, nt.name);

		if (s->verbose)
			fprintf(stderr, "vus-supervise: removed %u fd(s) \"%s\"\n",
				k, nt.name);
	}
	if (nt.fdstore && !nt.bad_name)
		store_fds(s, &nt, fds, nfds);
	/* fds that came without FDSTORE=1 (or with a bad name) are closed. */
	close_fds(fds, nfds);
}

char *store_names(const struct store *s)
{
	size_t len = 0, pos = 0;
	char *out;

	if (s->n == 0)
		return NULL;
	for (unsigned int i = 0; i < s->n; i++)
		len += strlen(s->e[i].name) + 1;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	for (unsigned int i = 0; i < s->n; i++) {
		size_t l = strlen(s->e[i].name);

		memcpy(out + pos, s->e[i].name, l);
		pos += l;
		out[pos++] = i + 1 < s->n ? ':' : '\0';
	}
	return out;
}
