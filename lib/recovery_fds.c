/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_fds: fds in the service manager's store. What a process
 * inherits ($LISTEN_FDS) belongs to the whole process, so it is read
 * once, under a lock, and every recoverable context takes its own names
 * from it ("vus.<context>.<what>" for the library's, "dev.<context>.<name>"
 * for a device's). The device API to keep and take fds by name is here.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "ctx_internal.h"
#include "fdstore.h"
#include "log.h"
#include "recovery_priv.h"

static pthread_mutex_t inherit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct listen_fds inherited;
static bool inherit_done;
static int inherit_err;

int recovery_inherit_init(void)
{
	pthread_mutex_lock(&inherit_lock);
	if (!inherit_done) {
		inherit_err = listen_fds_from_env(&inherited);
		inherit_done = true;
	}
	pthread_mutex_unlock(&inherit_lock);
	return inherit_err;
}

int recovery_inherit_take(const char *name)
{
	int fd;

	pthread_mutex_lock(&inherit_lock);
	fd = listen_fds_take(&inherited, name);
	pthread_mutex_unlock(&inherit_lock);
	return fd;
}

bool recovery_name_ok(const char *name)
{
	return token_name_ok(name, KEPT_NAME_MAX);
}

int recovery_fd_name(char *buf, size_t len, const char *prefix,
		     const char *what)
{
	int n = snprintf(buf, len, "%s.%s", prefix, what);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int recovery_store(struct recovery *r, const char *name, int fd)
{
	int ret = fdstore_put(r->n, name, &fd, 1, false);

	if (ret < 0)
		log_msg(ctx_log(r->ctx), VUS_LOG_ERR,
			"recovery: cannot store fd \"%s\": %s", name, strerror(-ret));
	return ret;
}

void recovery_unstore(struct recovery *r, const char *name)
{
	int ret = fdstore_remove(r->n, name);

	if (ret < 0)
		log_msg(ctx_log(r->ctx), VUS_LOG_WARNING,
			"recovery: cannot remove fd \"%s\" from the store: %s",
			name, strerror(-ret));
}

static struct recovery *rec_of(vus_ctx *ctx)
{
	return ctx ? ctx_recovery(ctx) : NULL;
}

static int find_kept(const struct recovery *r, const char *name)
{
	for (unsigned int i = 0; i < r->nr_kept; i++)
		if (strcmp(r->kept[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

/* Remember @name as kept (in the store) by this process. */
static int note_kept(struct recovery *r, const char *name)
{
	if (find_kept(r, name) >= 0)
		return -EEXIST;
	if (r->nr_kept >= KEPT_DEV_FDS_MAX)
		return -ENOSPC;
	memcpy(r->kept[r->nr_kept++].name, name, strlen(name) + 1);
	return 0;
}

VUS_EXPORT int vus_ctx_keep_fd(vus_ctx *ctx, const char *name, int fd)
{
	struct recovery *r = rec_of(ctx);
	char sname[FDSTORE_NAME_MAX + 1];
	int ret;

	if (r == NULL || fd < 0 || !recovery_name_ok(name))
		return -EINVAL;
	if (find_kept(r, name) >= 0)
		return -EEXIST;
	ret = recovery_fd_name(sname, sizeof(sname), r->dev_prefix, name);
	if (ret == 0)
		ret = recovery_store(r, sname, fd);
	return ret == 0 ? note_kept(r, name) : ret;
}

VUS_EXPORT int vus_ctx_take_fd(vus_ctx *ctx, const char *name)
{
	struct recovery *r = rec_of(ctx);
	char sname[FDSTORE_NAME_MAX + 1];
	int fd;

	if (r == NULL || !recovery_name_ok(name))
		return -EINVAL;
	if (recovery_fd_name(sname, sizeof(sname), r->dev_prefix, name) < 0)
		return -EINVAL;
	fd = recovery_inherit_take(sname);
	/* The store still holds it: it is kept without storing it again. */
	if (fd >= 0 && note_kept(r, name) < 0) {
		close_fd(&fd);
		return -EEXIST;
	}
	return fd;
}

VUS_EXPORT int vus_ctx_drop_fd(vus_ctx *ctx, const char *name)
{
	struct recovery *r = rec_of(ctx);
	char sname[FDSTORE_NAME_MAX + 1];
	int i;

	if (r == NULL || !recovery_name_ok(name))
		return -EINVAL;
	i = find_kept(r, name);
	if (i < 0)
		return -ENOENT;
	if (recovery_fd_name(sname, sizeof(sname), r->dev_prefix, name) == 0)
		recovery_unstore(r, sname);
	r->kept[i] = r->kept[--r->nr_kept];
	return 0;
}

/* The library's own fds: "vus.<context>.<what>". */
int recovery_keep_lib_fd(struct recovery *r, const char *what, int fd)
{
	char name[FDSTORE_NAME_MAX + 1];
	int ret = recovery_fd_name(name, sizeof(name), r->prefix, what);

	return ret == 0 ? recovery_store(r, name, fd) : ret;
}

int recovery_take_lib_fd(struct recovery *r, const char *what)
{
	char name[FDSTORE_NAME_MAX + 1];

	if (recovery_fd_name(name, sizeof(name), r->prefix, what) < 0)
		return -EINVAL;
	return recovery_inherit_take(name);
}

int recovery_keep_conn(struct recovery *r, int fd)
{
	int ret;

	if (r == NULL || r->conn_kept)
		return 0;
	ret = recovery_keep_lib_fd(r, "conn", fd);
	r->conn_kept = ret == 0;
	return ret;
}

void recovery_drop_conn(struct recovery *r)
{
	char name[FDSTORE_NAME_MAX + 1];

	if (r == NULL || !r->conn_kept)
		return;
	r->conn_kept = false;
	if (recovery_fd_name(name, sizeof(name), r->prefix, "conn") == 0)
		recovery_unstore(r, name);
}

int recovery_keep_listener(struct recovery *r, int fd)
{
	return r == NULL ? 0 : recovery_keep_lib_fd(r, "listen", fd);
}

int recovery_take_conn(struct recovery *r)
{
	int fd = recovery_take_lib_fd(r, "conn");

	/* Without the state that goes with it, a connection is no use. */
	if (fd >= 0 && !r->recovered) {
		close_fd(&fd);
		r->conn_kept = true;
		recovery_drop_conn(r);
		return -ENOENT;
	}
	if (fd >= 0)
		r->conn_kept = true; /* still in the store */
	return fd;
}

int recovery_take_listener(struct recovery *r)
{
	return recovery_take_lib_fd(r, "listen");
}

void recovery_sweep(struct recovery *r, const char *what)
{
	char prefix[FDSTORE_NAME_MAX + 1];
	size_t len;

	if (recovery_fd_name(prefix, sizeof(prefix), r->prefix, what) < 0)
		return;
	len = strlen(prefix);
	pthread_mutex_lock(&inherit_lock);
	for (unsigned int i = 0; i < inherited.n; i++) {
		const char *name = listen_fds_name(&inherited, i);

		/* "<prefix><digits>" only: another context's name may
		 * begin like ours. */
		if (inherited.fds[i] < 0 || name == NULL ||
		    strncmp(name, prefix, len) != 0 || name[len] == '\0' ||
		    strspn(name + len, "0123456789") != strlen(name + len))
			continue;
		close_fd(&inherited.fds[i]);
		recovery_unstore(r, name);
	}
	pthread_mutex_unlock(&inherit_lock);
}

void recovery_kill_point(struct recovery *r, const char *point)
{
	int fd;

	if (r == NULL || r->kill_at[0] == '\0' || strcmp(r->kill_at, point) != 0)
		return;
	if (++r->kill_seen < r->kill_nth)
		return;
	fd = open(r->kill_file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* killed here once already */
	close_fd(&fd);
	raise(SIGKILL);
}

/* Read $VUS_TEST_KILL_AT ("<point>[@<n>]:<file>") once, at enable time. */
void recovery_kill_init(struct recovery *r)
{
	const char *v = getenv("VUS_TEST_KILL_AT"), *colon, *at;

	if (v == NULL || (colon = strchr(v, ':')) == NULL ||
	    (size_t)(colon - v) >= sizeof(r->kill_at) ||
	    strlen(colon + 1) >= sizeof(r->kill_file))
		return;
	memcpy(r->kill_at, v, (size_t)(colon - v));
	r->kill_at[colon - v] = '\0';
	strcpy(r->kill_file, colon + 1);
	at = strchr(r->kill_at, '@');
	r->kill_nth = 1;
	if (at != NULL) {
		r->kill_nth = (unsigned int)atoi(at + 1);
		r->kill_at[at - r->kill_at] = '\0';
	}
}

bool recovery_recovered(const struct recovery *r)
{
	return r != NULL && r->recovered;
}
