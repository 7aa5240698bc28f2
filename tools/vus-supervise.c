/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-supervise: run a device server, keep its file descriptors, restart
 * it when it dies. The small, systemd-free equivalent of a service unit
 * with FileDescriptorStoreMax= and Restart=: it speaks the same
 * notification protocol (sd_notify(3)) on a socket it names in
 * $NOTIFY_SOCKET, keeps what the child stores (FDSTORE=1, FDNAME=,
 * FDSTOREREMOVE=1) and starts the next child with those fds from 3 and
 * $LISTEN_FDS, $LISTEN_FDNAMES and $LISTEN_PID (the child's own pid, set
 * after the fork), and no other fd (what we inherited stays ours).
 * SIGTERM, SIGINT and SIGHUP go to the child, and vus-supervise then
 * exits with its status. Restarts are rate-limited.
 *
 *   vus-supervise [options] [--] COMMAND [ARG...]
 *
 * One thread, one epoll loop: a signalfd (SIGCHLD and the forwarded
 * signals), the notification socket, a timerfd for the restart delay, and
 * the stored fds that are watched for hang-ups.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fdstore.h"
#include "supervise.h"
#include "supervise_store.h"

/* Tags of the loop's own fds in epoll data (stored fds use their number). */
#define TAG_SIGNAL (-2)
#define TAG_NOTIFY (-3)
#define TAG_TIMER (-4)

static int add_watch(struct sup *s, int fd, int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = tag };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The notification socket: ours, given a random abstract name by default. */
static int open_notify(struct sup *s)
{
	struct sockaddr_un sa;
	socklen_t len;
	int one = 1, ret;

	if (s->opt.notify_path == NULL) {
		uint64_t r = 0;

		(void)getrandom(&r, sizeof(r), GRND_NONBLOCK);
		snprintf(s->notify_addr, sizeof(s->notify_addr),
			 "@vus-supervise/%d/%016llx", (int)getpid(),
			 (unsigned long long)r);
	} else {
		snprintf(s->notify_addr, sizeof(s->notify_addr), "%s",
			 s->opt.notify_path);
	}
	ret = notify_addr_parse(s->notify_addr, &sa, &len);
	if (ret < 0)
		return ret;
	s->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->notify_fd < 0)
		return -errno;
	/* Credentials tell us who sent each message. */
	if (setsockopt(s->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -errno;
	if (s->opt.notify_path != NULL)
		(void)unlink(s->opt.notify_path);
	if (bind(s->notify_fd, (struct sockaddr *)&sa, len) < 0)
		return -errno;
	s->notify_bound = s->opt.notify_path != NULL;
	return add_watch(s, s->notify_fd, TAG_NOTIFY);
}

/* --listen PATH: a listening socket kept from the start, like a socket unit. */
static int open_listener(struct sup *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (s->opt.listen_path == NULL)
		return 0;
	if (strlen(s->opt.listen_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->opt.listen_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = -errno;

		close_fd(&fd);
		return err;
	}
	s->listen_bound = true;
	return store_add(&s->store, s->opt.listen_name, fd, false);
}

static int setup(struct sup *s)
{
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &s->old_mask) < 0)
		return -errno;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->epfd < 0 || s->sig_fd < 0 || s->timer_fd < 0)
		return -errno;
	ret = add_watch(s, s->sig_fd, TAG_SIGNAL);
	if (ret == 0)
		ret = add_watch(s, s->timer_fd, TAG_TIMER);
	if (ret == 0)
		ret = store_init(&s->store, s->opt.store_max, s->epfd, s->opt.verbose);
	if (ret == 0)
		ret = open_notify(s);
	if (ret == 0)
		ret = open_listener(s);
	return ret;
}

static void teardown(struct sup *s)
{
	store_fini(&s->store);
	if (s->notify_bound)
		(void)unlink(s->opt.notify_path);
	if (s->listen_bound)
		(void)unlink(s->opt.listen_path);
	close_fd(&s->notify_fd);
	close_fd(&s->sig_fd);
	close_fd(&s->timer_fd);
	close_fd(&s->epfd);
}

/* Wait @ms before the next start (0: at the next loop turn). */
static void arm_restart(struct sup *s, unsigned int ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = (long)(ms % 1000) * 1000000L } };

	if (ms == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm the timer */
	(void)timerfd_settime(s->timer_fd, 0, &its, NULL);
}

/* Whether another start keeps within --burst starts per --interval. */
static bool start_allowed(struct sup *s)
{
	uint64_t now = now_ms(), window = (uint64_t)s->opt.interval_s * 1000u;
	unsigned int recent = 0;

	for (unsigned int i = 0; i < s->nr_starts; i++)
		if (now - s->starts[i] < window)
			recent++;
	return recent < s->opt.burst;
}

static void note_start(struct sup *s)
{
	/* A ring of the last --burst start times. */
	s->starts[s->start_pos] = now_ms();
	s->start_pos = (s->start_pos + 1) % s->opt.burst;
	if (s->nr_starts < s->opt.burst)
		s->nr_starts++;
}

static void start_child(struct sup *s)
{
	char *names;
	pid_t pid;

	if (!start_allowed(s)) {
		fprintf(stderr, "vus-supervise: %s started %u times within %u s: giving up\n",
			s->argv[0], s->opt.burst, s->opt.interval_s);
		s->stopping = true;
		s->gave_up = true;
		return;
	}
	note_start(s);
	store_sweep(&s->store);
	names = store_names(&s->store);
	pid = fork();
	if (pid == 0)
		supervise_exec_child(s, names); /* does not return */
	free(names);
	if (pid < 0) {
		fprintf(stderr, "vus-supervise: fork: %s\n", strerror(errno));
		arm_restart(s, s->opt.restart_delay_ms ? s->opt.restart_delay_ms : 100);
		return;
	}
	s->child = pid;
	s->store.ready = false;
	if (s->opt.verbose || s->generation > 0)
		fprintf(stderr, "vus-supervise: started %s (pid %d) with %u stored fd(s)\n",
			s->argv[0], (int)pid, s->store.n);
	s->generation++;
}

/* Read every queued notification; only the child's are believed. */
static void drain_notify(struct sup *s)
{
	for (;;) {
		char buf[NOTIFY_STATE_MAX + 1];
		int fds[FDSTORE_FDS_PER_MSG];
		unsigned int nfds = 0;
		pid_t from = 0;
		bool trunc = false;
		ssize_t n = supervise_recv(s->notify_fd, buf, sizeof(buf), fds,
					   &nfds, &from, &trunc);

		if (n < 0)
			return;
		if (from != s->child || s->child <= 0 || trunc) {
			if (s->opt.verbose)
				fprintf(stderr, "vus-supervise: notification from pid %d ignored%s\n",
					(int)from, trunc ? " (truncated)" : "");
			close_fds(fds, nfds);
			continue;
		}
		store_message(&s->store, buf, (size_t)n, fds, nfds);
	}
}

/* Exit status of a wait status, as a shell reports it. */
static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

static void child_gone(struct sup *s, int status)
{
	bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;

	s->child = 0;
	s->last_status = exit_code(status);
	if (WIFSIGNALED(status))
		fprintf(stderr, "vus-supervise: %s killed by signal %d\n",
			s->argv[0], WTERMSIG(status));
	else if (failed || s->opt.verbose)
		fprintf(stderr, "vus-supervise: %s exited with status %d\n",
			s->argv[0], s->last_status);
	if (s->stopping || s->opt.restart == RESTART_NO ||
	    (s->opt.restart == RESTART_ON_FAILURE && !failed)) {
		s->stopping = true;
		return;
	}
	arm_restart(s, s->opt.restart_delay_ms);
}

static void reap(struct sup *s)
{
	int status;
	pid_t pid;

	/* The child's last notifications are in the queue: take them first. */
	drain_notify(s);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == s->child)
			child_gone(s, status);
}

static void on_signal(struct sup *s)
{
	struct signalfd_siginfo si;

	while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(s);
			continue;
		}
		/* Stop: pass it on and wait for the child's status. */
		s->stopping = true;
		if (s->child > 0)
			(void)kill(s->child, (int)si.ssi_signo);
		else if (!s->gave_up)
			s->last_status = 128 + (int)si.ssi_signo;
	}
}

static void dispatch(struct sup *s, const struct epoll_event *ev)
{
	uint64_t ticks;

	switch (ev->data.fd) {
	case TAG_SIGNAL:
		on_signal(s);
		break;
	case TAG_NOTIFY:
		drain_notify(s);
		break;
	case TAG_TIMER:
		if (read(s->timer_fd, &ticks, sizeof(ticks)) > 0 && !s->stopping &&
		    s->child == 0)
			start_child(s);
		break;
	default:
		store_hangup(&s->store, ev->data.fd);
		break;
	}
}

static int run(struct sup *s)
{
	start_child(s);
	while (!(s->stopping && s->child == 0)) {
		struct epoll_event ev[16];
		int n = epoll_wait(s->epfd, ev, 16, -1);

		if (n < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++)
			dispatch(s, &ev[i]);
	}
	return s->last_status;
}

int main(int argc, char **argv)
{
	struct sup s;
	int ret, code;

	supervise_init(&s);
	ret = supervise_options(&s, argc, argv);
	if (ret != 0)
		return ret < 0 ? 2 : 0;
	ret = setup(&s);
	if (ret < 0) {
		fprintf(stderr, "vus-supervise: %s\n", strerror(-ret));
		teardown(&s);
		return 1;
	}
	code = run(&s);
	teardown(&s);
	return code;
}
