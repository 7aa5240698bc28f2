/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fdstore: systemd's notification protocol and inherited fds, from the
 * service's side (fdstore.h). Facts from sd_notify(3), sd_listen_fds(3)
 * and systemd.service(5); the code is ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"
#include "fdstore.h"
#include "vus/recovery.h"

struct notify {
	int fd;
};

int notify_addr_parse(const char *s, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = s ? strlen(s) : 0;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0)
		return -EINVAL;
	if (s[0] != '/' && s[0] != '@')
		/* "vsock:CID:PORT" and the like: not a family we speak. */
		return strchr(s, ':') ? -EAFNOSUPPORT : -EINVAL;
	if (n == 1 && s[0] == '@')
		return -EINVAL;
	/* A path needs its NUL; an abstract name does not. */
	if (n >= sizeof(sa->sun_path) + (s[0] == '@'))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, s, n);
	if (s[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)sizeof(*sa);
	}
	return 0;
}

int notify_open(const char *addr, struct notify **out)
{
	struct timeval tv = { .tv_sec = NOTIFY_SEND_TIMEOUT_MS / 1000,
			      .tv_usec = (NOTIFY_SEND_TIMEOUT_MS % 1000) * 1000 };
	struct sockaddr_un sa;
	struct notify *n;
	socklen_t len;
	int ret = notify_addr_parse(addr, &sa, &len);

	if (ret < 0)
		return ret;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0 ||
	    setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(n->fd, (struct sockaddr *)&sa, len) < 0) {
		ret = -errno;
		notify_close(n);
		return ret;
	}
	*out = n;
	return 0;
}

int notify_open_env(struct notify **out)
{
	const char *addr = getenv("NOTIFY_SOCKET");

	*out = NULL;
	return addr == NULL ? 0 : notify_open(addr, out);
}

void notify_close(struct notify *n)
{
	if (n == NULL)
		return;
	close_fd(&n->fd);
	free(n);
}

int notify_send(struct notify *n, const char *state, const int *fds,
		unsigned int nfds)
{
	size_t len = state ? strlen(state) : 0;
	struct iovec iov = { .iov_base = (void *)state, .iov_len = len };
	long sent;

	if (n == NULL || len == 0 || (nfds > 0 && fds == NULL))
		return -EINVAL;
	if (len > NOTIFY_STATE_MAX || nfds > FDSTORE_FDS_PER_MSG)
		return -E2BIG;
	/* Blocking on purpose (bounded by SO_SNDTIMEO): a stored fd must be
	 * with the manager before the state that names it is committed. */
	sent = sendmsg_fds(n->fd, &iov, 1, fds, nfds, 0);
	if (sent < 0)
		return (int)sent;
	return (size_t)sent == len ? 0 : -EMSGSIZE;
}

bool fdstore_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > FDSTORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		/* ':' separates names in $LISTEN_FDNAMES. */
		if (c < 0x20 || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

int fdstore_put(struct notify *n, const char *name, const int *fds,
		unsigned int nfds, bool poll)
{
	char state[64 + FDSTORE_NAME_MAX];

	if (!fdstore_name_ok(name) || nfds == 0)
		return -EINVAL;
	snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s%s", name,
		 poll ? "" : "\nFDPOLL=0");
	return notify_send(n, state, fds, nfds);
}

int fdstore_remove(struct notify *n, const char *name)
{
	char state[64 + FDSTORE_NAME_MAX];

	if (!fdstore_name_ok(name))
		return -EINVAL;
	snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	return notify_send(n, state, NULL, 0);
}

/* A decimal number in 1..@max (no sign, no spaces, no leading junk). */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > max)
		return -EINVAL;
	return 0;
}

/* Split @names at ':' into exactly @n checked names. */
static int split_names(const char *names, unsigned int n, char **out)
{
	const char *p = names;

	for (unsigned int i = 0; i < n; i++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if ((end == NULL) != (i == n - 1))
			return -EINVAL; /* more or fewer names than fds */
		out[i] = strndup(p, len);
		if (out[i] == NULL)
			return -ENOMEM;
		if (!fdstore_name_ok(out[i]))
			return -EINVAL;
		p = end ? end + 1 : p + len;
	}
	return 0;
}

int listen_fds_parse(const char *pid, const char *count, const char *names,
		     pid_t self, struct listen_fds *out)
{
	unsigned long v, n;
	int ret;

	memset(out, 0, sizeof(*out));
	if (count == NULL)
		return 0;
	ret = parse_uint(pid, (unsigned long)INT32_MAX, &v);
	if (ret < 0)
		return ret;
	if (v != (unsigned long)self)
		return 0; /* meant for another process (e.g. our parent) */
	ret = parse_uint(count, LISTEN_FDS_MAX, &n);
	if (ret < 0 || n == 0)
		return ret;
	out->fds = malloc(n * sizeof(int));
	out->names = calloc(n, sizeof(char *));
	if (out->fds == NULL || out->names == NULL)
		ret = -ENOMEM;
	for (unsigned long i = 0; ret == 0 && i < n; i++)
		out->fds[i] = LISTEN_FDS_START + (int)i;
	out->n = (unsigned int)n;
	if (ret == 0 && names != NULL)
		ret = split_names(names, out->n, out->names);
	for (unsigned long i = 0; ret == 0 && names == NULL && i < n; i++)
		if ((out->names[i] = strdup("unknown")) == NULL)
			ret = -ENOMEM;
	if (ret < 0) {
		/* Nothing was taken yet: forget the numbers, close nothing. */
		for (unsigned int i = 0; out->fds && i < out->n; i++)
			out->fds[i] = -1;
		listen_fds_free(out);
	}
	return ret;
}

int listen_fds_from_env(struct listen_fds *out)
{
	int ret = listen_fds_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
				   getenv("LISTEN_FDNAMES"), getpid(), out);

	if (ret < 0 || out->n == 0)
		return ret;
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	for (unsigned int i = 0; i < out->n; i++) {
		if (fcntl(out->fds[i], F_SETFD, FD_CLOEXEC) < 0) {
			ret = -errno;
			break;
		}
	}
	if (ret < 0)
		listen_fds_free(out);
	return ret;
}

int listen_fds_take(struct listen_fds *lf, const char *name)
{
	for (unsigned int i = 0; i < lf->n; i++) {
		if (lf->fds[i] >= 0 && strcmp(lf->names[i], name) == 0) {
			int fd = lf->fds[i];

			lf->fds[i] = -1;
			return fd;
		}
	}
	return -ENOENT;
}

const char *listen_fds_name(const struct listen_fds *lf, unsigned int i)
{
	return i < lf->n ? lf->names[i] : NULL;
}

void listen_fds_free(struct listen_fds *lf)
{
	for (unsigned int i = 0; i < lf->n; i++) {
		if (lf->fds != NULL)
			close_fd(&lf->fds[i]);
		if (lf->names != NULL)
			free(lf->names[i]);
	}
	free(lf->fds);
	free(lf->names);
	memset(lf, 0, sizeof(*lf));
}

VUS_EXPORT int vus_notify(const char *state)
{
	struct notify *n;
	int ret = notify_open_env(&n);

	if (ret < 0 || n == NULL)
		return ret;
	ret = notify_send(n, state, NULL, 0);
	notify_close(n);
	return ret < 0 ? ret : 1;
}
