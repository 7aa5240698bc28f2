/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervise_helper: the child test_supervise runs under vus-supervise.
 *
 *   supervise_helper MODE REPORT
 *
 * Each start appends one line to REPORT: its generation (the lines before
 * it), what it inherited ($LISTEN_FDS, $LISTEN_FDNAMES, whether
 * $LISTEN_PID is its own pid) and what MODE found; then MODE decides what
 * it stores through $NOTIFY_SOCKET and how it ends (see the modes below).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdstore.h"

static const char *report_path;
static char extra[512];

static int generation(void)
{
	FILE *f = fopen(report_path, "r");
	int c, lines = 0;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines;
}

static void report(int gen)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	FILE *f = fopen(report_path, "a");

	if (f == NULL)
		exit(90);
	fprintf(f, "gen=%d fds=%s names=%s pid_ok=%d %s\n", gen, n ? n : "0",
		names ? names : "-",
		pid != NULL && atoi(pid) == (int)getpid(), extra);
	fclose(f);
}

static struct notify *nt(void)
{
	static struct notify *n;

	if (n == NULL && notify_open_env(&n) < 0)
		exit(91);
	if (n == NULL)
		exit(92);
	return n;
}

static void put(const char *name, int fd, bool poll)
{
	if (fdstore_put(nt(), name, &fd, 1, poll) < 0)
		exit(93);
}

static void die(void)
{
	raise(SIGKILL);
	exit(94);
}

/* gen 0: a memfd with bytes in it, an eventfd with a count; then SIGKILL. */
static int mode_persist(int gen)
{
	char buf[8] = { 0 };
	uint64_t v = 0;

	if (gen > 0) {
		/* fds 3 and 4, in the order they were stored. */
		if (pread(3, buf, 5, 0) != 5 || read(4, &v, 8) != 8)
			return 10;
		snprintf(extra, sizeof(extra), "content=%s count=%llu", buf,
			 (unsigned long long)v);
		return -1; /* report, then exit 0 */
	}
	int m = memfd_create("helper", MFD_CLOEXEC), e = eventfd(5, EFD_CLOEXEC);

	if (m < 0 || e < 0 || pwrite(m, "hello", 5, 0) != 5)
		return 11;
	put("m1", m, false);
	put("e1", e, true);
	if (notify_send(nt(), "READY=1\nSTATUS=stored two", NULL, 0) < 0)
		return 12;
	die();
	return 0;
}

/* gen 0: store both ends of a pipe, remove the write end: EOF proves the
 * supervisor closed its copy. */
static int mode_remove(int gen)
{
	int p[2];
	char c;

	if (gen > 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return 20;
	put("r", p[0], false);
	put("w", p[1], false);
	if (fdstore_remove(nt(), "w") < 0)
		return 21;
	close(p[1]);
	if (read(p[0], &c, 1) != 0) /* waits for the supervisor */
		return 22;
	die();
	return 0;
}

/* gen 0: three fds into a store of two. */
static int mode_bound(int gen)
{
	if (gen > 0)
		return -1;
	put("a", eventfd(0, EFD_CLOEXEC), true);
	put("b", eventfd(0, EFD_CLOEXEC), true);
	put("c", eventfd(0, EFD_CLOEXEC), true);
	die();
	return 0;
}

/* gen 0: a name systemd forbids (sent raw), then a good one. */
static int mode_badname(int gen)
{
	int e = eventfd(0, EFD_CLOEXEC);

	if (gen > 0)
		return -1;
	if (notify_send(nt(), "FDSTORE=1\nFDNAME=a:b", &e, 1) < 0)
		return 30;
	put("ok", e, true);
	die();
	return 0;
}

/* gen 0: only the supervised process itself may store fds. */
static int mode_grandchild(int gen)
{
	int status;
	pid_t pid;

	if (gen > 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		put("gc", eventfd(0, EFD_CLOEXEC), true);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0)
		return 40;
	die();
	return 0;
}

/* gen 0: a socket whose peer goes away is dropped (it was polled). */
static int mode_hup(int gen)
{
	int sv[2];

	if (gen > 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 50;
	put("a", sv[0], true);
	put("b", sv[1], false);
	if (fdstore_remove(nt(), "b") < 0)
		return 51;
	die();
	return 0;
}

/* Its fds above stderr, "open=3,4": what it inherited. */
static void list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t len = (size_t)snprintf(extra, sizeof(extra), "open=");
	const char *sep = "";
	struct dirent *e;

	if (d == NULL)
		exit(95);
	while ((e = readdir(d)) != NULL && len < sizeof(extra)) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d))
			continue;
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, "%s%d",
					sep, fd);
		sep = ",";
	}
	closedir(d);
}

/* Each start reports its fds; gen 0 stores one and dies, gen 1 exits 0. */
static int mode_fds(int gen)
{
	list_fds();
	report(gen);
	if (gen > 0)
		return 0;
	put("e", eventfd(0, EFD_CLOEXEC), true);
	die();
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(3);
}

/* Wait for SIGTERM, passed on by the supervisor; exit 3 (the handler is
 * in place before the report that tells the test to send it). */
static __attribute__((noreturn)) int mode_term(int gen)
{
	(void)gen;
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int gen);
	} modes[] = {
		{ "persist", mode_persist }, { "remove", mode_remove },
		{ "bound", mode_bound }, { "badname", mode_badname },
		{ "grandchild", mode_grandchild }, { "hup", mode_hup },
		{ "term", mode_term },
	};
	int gen, ret;

	if (argc != 3)
		return 2;
	report_path = argv[2];
	if (strcmp(argv[1], "term") == 0)
		signal(SIGTERM, on_term);
	gen = generation();
	if (strcmp(argv[1], "fail") == 0) {
		report(gen);
		return 1;
	}
	if (strcmp(argv[1], "fds") == 0)
		return mode_fds(gen);
	if (strcmp(argv[1], "listen") == 0) {
		int v = 0;
		socklen_t len = sizeof(v);

		getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &v, &len);
		snprintf(extra, sizeof(extra), "listening=%d", v);
		report(gen);
		return 0;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) != 0)
			continue;
		/* The first start reports before it acts (it may not return);
		 * later ones report what they found. */
		if (gen == 0)
			report(gen);
		ret = modes[i].fn(gen);
		if (gen > 0)
			report(gen);
		return ret < 0 ? 0 : ret;
	}
	return 2;
}
