/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vus-supervise as a real process around a real child
 * (supervise_helper.c): fds stored by one child reach the next as
 * $LISTEN_FDS with their names and $LISTEN_PID set to the child's own
 * pid; FDSTOREREMOVE closes them; the store's bound; names systemd
 * forbids; notifications from another process; hang-ups; --listen;
 * no other fd inherited; SIGTERM passed on; the restart limit; bad
 * options.
 *
 *   test_supervise VUS_SUPERVISE SUPERVISE_HELPER
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtest.h"

static const char *sup_bin, *helper_bin;

struct run {
	char report[256];
	pid_t pid;
};

/* Start vus-supervise with @opts (NULL-terminated) around the helper. */
static void start(struct run *r, const char *mode, const char *const *opts)
{
	const char *argv[32];
	unsigned int n = 0;

	snprintf(r->report, sizeof(r->report), "%s.report",
		 vtest_sock_path(mode));
	unlink(r->report);
	argv[n++] = sup_bin;
	for (; opts && *opts; opts++)
		argv[n++] = *opts;
	argv[n++] = "--";
	argv[n++] = helper_bin;
	argv[n++] = mode;
	argv[n++] = r->report;
	argv[n] = NULL;
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		execv(sup_bin, (char **)argv);
		_exit(126);
	}
}

/* Wait for vus-supervise; its exit status. */
static int finish(struct run *r)
{
	int status;

	assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Line @gen of the report, or NULL. */
static char *line(struct run *r, int gen)
{
	static char buf[1024];
	FILE *f = fopen(r->report, "r");
	int i = 0;

	if (f == NULL)
		return NULL;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (i++ == gen) {
			fclose(f);
			buf[strcspn(buf, "\n")] = '\0';
			return buf;
		}
	}
	fclose(f);
	return NULL;
}

static int lines(struct run *r)
{
	int n = 0;

	while (line(r, n) != NULL)
		n++;
	return n;
}

static void done(struct run *r)
{
	unlink(r->report);
}

/*
 * One child stores fds and is killed; the next reports what it inherited
 * (line 1 of the report) and exits 0, and so does vus-supervise.
 */
struct gen1_case {
	const char *mode;
	const char *opts[3];
	const char *gen1;
};

static void check_gen1(const struct gen1_case *c)
{
	struct run r;

	start(&r, c->mode, c->opts);
	assert_int_equal(finish(&r), 0);
	assert_string_equal(line(&r, 0), "gen=0 fds=0 names=- pid_ok=0 ");
	assert_string_equal(line(&r, 1), c->gen1);
	assert_int_equal(lines(&r), 2);
	done(&r);
}

static void stored_fds_reach_the_next_child(void **state)
{
	/* Same memfd (its bytes), same eventfd (its count), in store order,
	 * and $LISTEN_PID is the new child's own pid. */
	static const struct gen1_case c = { "persist", { NULL },
		"gen=1 fds=2 names=m1:e1 pid_ok=1 content=hello count=5" };

	(void)state;
	check_gen1(&c);
}

static void removed_fds_are_closed_and_not_passed(void **state)
{
	/* The helper only dies once its read saw the supervisor close "w". */
	static const struct gen1_case c = { "remove", { NULL },
		"gen=1 fds=1 names=r pid_ok=1 " };

	(void)state;
	check_gen1(&c);
}

static void store_keeps_at_most_its_bound(void **state)
{
	static const struct gen1_case c = { "bound", { "--fd-store-max", "2" },
		"gen=1 fds=2 names=a:b pid_ok=1 " };

	(void)state;
	check_gen1(&c);
}

static void forbidden_name_is_refused(void **state)
{
	static const struct gen1_case c = { "badname", { NULL },
		"gen=1 fds=1 names=ok pid_ok=1 " };

	(void)state;
	check_gen1(&c);
}

static void only_the_child_itself_may_store(void **state)
{
	static const struct gen1_case c = { "grandchild", { NULL },
		"gen=1 fds=0 names=- pid_ok=0 " };

	(void)state;
	check_gen1(&c);
}

static void hung_up_socket_is_dropped(void **state)
{
	static const struct gen1_case c = { "hup", { NULL },
		"gen=1 fds=0 names=- pid_ok=0 " };

	(void)state;
	check_gen1(&c);
}

static void listen_socket_comes_first(void **state)
{
	char path[256], opt[300];
	const char *opts[] = { "--listen", opt, NULL };
	struct run r;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s", vtest_sock_path("listen"));
	snprintf(opt, sizeof(opt), "%s:vfio-user", path);
	start(&r, "listen", opts);
	assert_int_equal(finish(&r), 0);
	assert_string_equal(line(&r, 0),
		"gen=0 fds=1 names=vfio-user pid_ok=1 listening=1");
	assert_int_equal(stat(path, &st), -1); /* removed at exit */
	done(&r);
}

/* dup2 @fd to @at if @at is free (not inherited with FD_CLOEXEC). */
static int leak_at(int fd, int at)
{
	return fcntl(at, F_GETFD) < 0 ? dup2(fd, at) : -1;
}

static void only_stdio_and_passed_fds_are_inherited(void **state)
{
	char path[256], opt[300];
	const char *opts[] = { "--listen", opt, NULL };
	int nul, leaked[3];
	struct run r;

	(void)state;
	snprintf(path, sizeof(path), "%s", vtest_sock_path("fds"));
	snprintf(opt, sizeof(opt), "%s:vfio-user", path);
	/* Ours without FD_CLOEXEC: right past what each start is passed
	 * (4, then 5), and far off. */
	nul = open("/dev/null", O_RDONLY);
	assert_true(nul >= 0);
	leaked[0] = leak_at(nul, 4);
	leaked[1] = leak_at(nul, 5);
	leaked[2] = fcntl(nul, F_DUPFD, 100);
	assert_true(leaked[2] >= 100);
	start(&r, "fds", opts);
	close(nul);
	for (unsigned int i = 0; i < 3; i++)
		if (leaked[i] >= 0)
			close(leaked[i]);
	assert_int_equal(finish(&r), 0);
	assert_string_equal(line(&r, 0),
		"gen=0 fds=1 names=vfio-user pid_ok=1 open=3");
	assert_string_equal(line(&r, 1),
		"gen=1 fds=2 names=vfio-user:e pid_ok=1 open=3,4");
	assert_int_equal(lines(&r), 2);
	done(&r);
}

static void sigterm_is_passed_on_and_status_returned(void **state)
{
	struct run r;

	(void)state;
	start(&r, "term", NULL);
	/* The child reports once its handler is in place. */
	while (line(&r, 0) == NULL)
		usleep(10000);
	assert_int_equal(kill(r.pid, SIGTERM), 0);
	assert_int_equal(finish(&r), 3);
	assert_int_equal(lines(&r), 1); /* not restarted */
	done(&r);
}

static void restarts_are_limited(void **state)
{
	static const char *const opts[] = { "--burst", "3", "--interval", "3600",
					     NULL };
	struct run r;

	(void)state;
	start(&r, "fail", opts);
	assert_int_equal(finish(&r), 1);
	assert_int_equal(lines(&r), 3);
	done(&r);
}

static void restart_no_returns_the_signal(void **state)
{
	static const char *const opts[] = { "--restart", "no", NULL };
	struct run r;

	(void)state;
	start(&r, "persist", opts);
	assert_int_equal(finish(&r), 128 + SIGKILL);
	assert_int_equal(lines(&r), 1);
	done(&r);
}

static int run_plain(const char *const *argv)
{
	int status, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid = fork();

	if (pid == 0) {
		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(argv[0], (char **)argv);
		_exit(126);
	}
	close(devnull);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void options_are_checked(void **state)
{
	const char *ok[] = { sup_bin, "--fd-store-max", "4096", "--", "true", NULL };
	const char *big[] = { sup_bin, "--fd-store-max", "4097", "--", "true", NULL };
	const char *burst[] = { sup_bin, "--burst", "0", "true", NULL };
	const char *mode[] = { sup_bin, "--restart", "sometimes", "true", NULL };
	const char *none[] = { sup_bin, NULL };
	const char *missing[] = { sup_bin, "--burst", "2", "--",
				  "/nonexistent/vus-command", NULL };

	(void)state;
	assert_int_equal(run_plain(ok), 0);
	assert_int_equal(run_plain(big), 2);
	assert_int_equal(run_plain(burst), 2);
	assert_int_equal(run_plain(mode), 2);
	assert_int_equal(run_plain(none), 2);
	/* A command that cannot run is tried --burst times, then given up. */
	assert_int_equal(run_plain(missing), 127);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(stored_fds_reach_the_next_child),
		VTEST(removed_fds_are_closed_and_not_passed),
		VTEST(store_keeps_at_most_its_bound),
		VTEST(forbidden_name_is_refused),
		VTEST(only_the_child_itself_may_store),
		VTEST(hung_up_socket_is_dropped),
		VTEST(listen_socket_comes_first),
		VTEST(only_stdio_and_passed_fds_are_inherited),
		VTEST(sigterm_is_passed_on_and_status_returned),
		VTEST(restarts_are_limited),
		VTEST(restart_no_returns_the_signal),
		VTEST(options_are_checked),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VUS_SUPERVISE SUPERVISE_HELPER [TEST]\n",
			argv[0]);
		return 2;
	}
	sup_bin = argv[1];
	helper_bin = argv[2];
	return vtest_run("supervise", tests, argc - 2, argv + 2);
}
