/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervise_child: vus-supervise's command line, how a child is started
 * with the stored fds, and how a notification is received with its fds
 * and the sender's credentials (supervise.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "fdstore.h"
#include "supervise.h"

void supervise_init(struct sup *s)
{
	memset(s, 0, sizeof(*s));
	s->opt = (struct sup_options){
		.listen_name = "vfio-user", .store_max = 1024,
		.restart = RESTART_ON_FAILURE, .burst = 10, .interval_s = 60,
	};
	s->epfd = s->sig_fd = s->timer_fd = s->notify_fd = -1;
	s->self = getpid();
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vus-supervise [options] [--] COMMAND [ARG...]\n"
		"Run COMMAND, keep the fds it stores (sd_notify FDSTORE=1) and restart it\n"
		"with them ($LISTEN_FDS) when it dies. COMMAND gets fds 0-2 and those, no\n"
		"other fd vus-supervise inherited.\n"
		"  --notify-socket PATH   notification socket (default: abstract, private)\n"
		"  --listen PATH[:NAME]   listen at PATH and pass the socket first, named\n"
		"                         NAME (default vfio-user), like a socket unit\n"
		"  --fd-store-max N       most fds kept, 0..4096 (default 1024)\n"
		"  --restart MODE         on-failure (default), always or no\n"
		"  --restart-delay MS     wait before restarting (default 0)\n"
		"  --burst N --interval S give up after N starts within S seconds\n"
		"                         (default 10 in 60)\n"
		"  -v, --verbose          log notifications and stored fds\n"
		"SIGTERM, SIGINT and SIGHUP are passed to COMMAND; vus-supervise then exits\n"
		"with its status (128 + signal number when it was killed).\n");
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int parse_listen(struct sup_options *o, char *arg)
{
	char *colon = strrchr(arg, ':');

	if (colon != NULL) {
		*colon = '\0';
		o->listen_name = colon + 1;
	}
	o->listen_path = arg;
	return arg[0] && fdstore_name_ok(o->listen_name) ? 0 : -EINVAL;
}

static int parse_restart(struct sup_options *o, const char *arg)
{
	static const char *const modes[] = { "on-failure", "always", "no" };

	for (unsigned int i = 0; i < 3; i++) {
		if (strcmp(arg, modes[i]) == 0) {
			o->restart = (enum restart_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_one(struct sup_options *o, int c, char *arg)
{
	switch (c) {
	case 'n': o->notify_path = arg; return arg[0] == '/' ? 0 : -EINVAL;
	case 'l': return parse_listen(o, arg);
	case 'm': return parse_uint(arg, 0, STORE_MAX_LIMIT, &o->store_max);
	case 'r': return parse_restart(o, arg);
	case 'd': return parse_uint(arg, 0, 3600000, &o->restart_delay_ms);
	case 'b': return parse_uint(arg, 1, SUP_BURST_MAX, &o->burst);
	case 'i': return parse_uint(arg, 1, 86400, &o->interval_s);
	case 'v': o->verbose = true; return 0;
	default: return -EINVAL;
	}
}

int supervise_options(struct sup *s, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "notify-socket", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "fd-store-max", required_argument, NULL, 'm' },
		{ "restart", required_argument, NULL, 'r' },
		{ "restart-delay", required_argument, NULL, 'd' },
		{ "burst", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'i' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* "+": options end at the command's name. */
	while ((c = getopt_long(argc, argv, "+vh", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (parse_one(&s->opt, c, optarg) < 0) {
			if (c != '?')
				fprintf(stderr, "vus-supervise: bad value for option -%c/--%s\n",
					c, optarg ? optarg : "");
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	s->argv = argv + optind;
	return 0;
}

/* Move the stored fds to 3, 4, ... without one clobbering another. */
static int place_fds(const struct store *st)
{
	int base = LISTEN_FDS_START + (int)st->n, tmp[STORE_MAX_LIMIT];

	/* First out of the way (above the target range), then into place. */
	for (unsigned int i = 0; i < st->n; i++) {
		tmp[i] = fcntl(st->e[i].fd, F_DUPFD, base);
		if (tmp[i] < 0)
			return -errno;
	}
	for (unsigned int i = 0; i < st->n; i++) {
		/* dup2 clears FD_CLOEXEC: the command inherits exactly these. */
		if (dup2(tmp[i], LISTEN_FDS_START + (int)i) < 0)
			return -errno;
		close(tmp[i]);
	}
	return 0;
}

/* Nothing past the passed fds: what we inherited without FD_CLOEXEC is
 * not the command's (systemd passes 0-2 and $LISTEN_FDS alone). */
static int close_others(const struct store *st)
{
	unsigned int first = LISTEN_FDS_START + st->n;
	struct rlimit rl;

	if (close_range(first, ~0u, 0) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	/* Before Linux 5.9 (or filtered): one by one, up to the limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	for (rlim_t fd = first; fd < rl.rlim_cur && fd < INT_MAX; fd++)
		(void)close((int)fd);
	return 0;
}

static int child_env(const struct sup *s, const char *names)
{
	char num[32];

	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	if (setenv("NOTIFY_SOCKET", s->notify_addr, 1) < 0)
		return -errno;
	if (s->store.n == 0)
		return 0;
	snprintf(num, sizeof(num), "%u", s->store.n);
	if (setenv("LISTEN_FDS", num, 1) < 0 ||
	    (names != NULL && setenv("LISTEN_FDNAMES", names, 1) < 0))
		return -errno;
	/* Only now, in the child, is its pid known. */
	snprintf(num, sizeof(num), "%d", (int)getpid());
	return setenv("LISTEN_PID", num, 1) < 0 ? -errno : 0;
}

void supervise_exec_child(struct sup *s, const char *names)
{
	int ret;

	/* Die with the supervisor rather than outlive the store. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != s->self)
		_exit(127); /* it died before prctl() took effect */
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	(void)sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	ret = place_fds(&s->store);
	if (ret == 0)
		ret = close_others(&s->store);
	if (ret == 0)
		ret = child_env(s, names);
	if (ret == 0) {
		execvp(s->argv[0], s->argv);
		ret = -errno;
	}
	fprintf(stderr, "vus-supervise: cannot run %s: %s\n", s->argv[0],
		strerror(-ret));
	_exit(127);
}

ssize_t supervise_recv(int fd, char *buf, size_t len, int *fds,
		       unsigned int *nfds, pid_t *from, bool *trunc)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(struct ucred)) +
		       CMSG_SPACE(sizeof(int) * FDSTORE_FDS_PER_MSG)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b) };
	ssize_t n;

	do {
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	buf[n] = '\0';
	*nfds = 0;
	*from = 0;
	*trunc = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*from = uc.pid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			k = MIN(k, (size_t)FDSTORE_FDS_PER_MSG - *nfds);
			memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
			*nfds += (unsigned int)k;
		}
	}
	return n;
}
