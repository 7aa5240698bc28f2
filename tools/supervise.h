/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervise: vus-supervise's state, shared by vus-supervise.c (the loop,
 * restarts, signals) and supervise_child.c (options, starting a child,
 * receiving notifications).
 */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervise_store.h"

/* Bound on --burst (the ring of start times). */
#define SUP_BURST_MAX 1000u

enum restart_mode { RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_NO };

struct sup_options {
	const char *notify_path;   /* NULL: an abstract socket of our own */
	const char *listen_path;   /* --listen: a socket kept for the child */
	const char *listen_name;
	unsigned int store_max;
	enum restart_mode restart;
	unsigned int restart_delay_ms;
	unsigned int burst;        /* at most this many starts ... */
	unsigned int interval_s;   /* ... within this many seconds */
	bool verbose;
};

struct sup {
	struct sup_options opt;
	char **argv;               /* the command */
	pid_t self;                /* our pid, as the child's parent */
	int epfd, sig_fd, timer_fd, notify_fd;
	char notify_addr[128];
	bool notify_bound, listen_bound;
	sigset_t old_mask;         /* restored in the child */
	struct store store;
	pid_t child;               /* 0: none running */
	unsigned int generation;   /* children started so far */
	bool stopping, gave_up;
	int last_status;
	uint64_t starts[SUP_BURST_MAX];
	unsigned int nr_starts, start_pos;
};

void supervise_init(struct sup *s);

/**
 * Parse the command line into @s. 0 to run, 1 after --help, -EINVAL after
 * printing what is wrong.
 */
int supervise_options(struct sup *s, int argc, char **argv);

/**
 * In the forked child: put the stored fds at 3.., close every fd above
 * them (the command gets 0-2 and its $LISTEN_FDS, nothing else we
 * inherited), set $LISTEN_FDS, $LISTEN_FDNAMES (@names, may be NULL),
 * $LISTEN_PID and $NOTIFY_SOCKET, restore signals and exec the command.
 * Never returns (127 on failure).
 */
void supervise_exec_child(struct sup *s, const char *names)
	__attribute__((noreturn));

/**
 * Receive one notification without waiting: its bytes (at most @len - 1,
 * NUL-terminated), fds (at most FDSTORE_FDS_PER_MSG, taken), the sender's
 * pid, and whether anything was cut off. Bytes, or -EAGAIN / -errno.
 */
ssize_t supervise_recv(int fd, char *buf, size_t len, int *fds,
		       unsigned int *nfds, pid_t *from, bool *trunc);

#endif /* SUPERVISE_H */
