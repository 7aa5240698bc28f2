/* SPDX-License-Identifier: BSD-3-Clause */
/* vtest: fd-leak checks and group runner shared by the tests. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vtest.h"

int vtest_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own fd */
}

static int fds_before;

unsigned int vtest_dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	unsigned int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(dir);
	return n;
}

int vtest_setup(void **state)
{
	(void)state;
	fds_before = vtest_count_fds();
	return 0;
}

int vtest_teardown(void **state)
{
	int after = vtest_count_fds();

	(void)state;
	if (after != fds_before) {
		fprintf(stderr, "fd leak: %d open before the test, %d after\n",
			fds_before, after);
		return -1;
	}
	return 0;
}

int vtest_run_group(const char *name, const struct CMUnitTest *tests,
		    size_t n, int argc, char **argv)
{
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

pid_t vtest_child_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		char path[300], buf[512], *p;
		int ppid = 0;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			found = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

void vtest_kill_child(pid_t supervisor)
{
	long long end = vtest_deadline(10000);
	pid_t old, now;

	while ((old = vtest_child_of(supervisor)) == 0 && !vtest_expired(end))
		usleep(1000);
	if (old <= 0)
		fail_msg("no child of %d to kill", (int)supervisor);
	if (kill(old, SIGKILL) != 0)
		fail_msg("kill %d: %s", (int)old, strerror(errno));
	do {
		usleep(1000);
		now = vtest_child_of(supervisor);
	} while ((now == 0 || now == old) && !vtest_expired(end));
	if (now <= 0 || now == old)
		fail_msg("%d was not restarted", (int)supervisor);
}

const char *vtest_sock_path(const char *tag)
{
	static char buf[256];
	const char *dir = getenv("TMPDIR");
	static unsigned int seq;

	snprintf(buf, sizeof(buf), "%s/vus-test-%d-%s-%u.sock",
		 dir ? dir : "/tmp", (int)getpid(), tag, seq++);
	/* The path is this process's by its pid: a file there was left by a
	 * killed run of an earlier process with the same pid, and would make
	 * a test that checks the path is gone fail. */
	unlink(buf);
	return buf;
}

#if defined(__SANITIZE_ADDRESS__)
#define VTEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VTEST_ASAN 1
#endif
#endif

static double shim_factor = 1.0;

void vtest_time_scale_raise(double factor)
{
	if (factor > 1.0)
		shim_factor *= factor;
}

/* Valgrind runs us with its preload objects in LD_PRELOAD. */
bool vtest_under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

double vtest_time_scale(void)
{
	const char *env = getenv("VUS_TEST_TIME_SCALE");
	double f = env != NULL ? strtod(env, NULL) : 1.0;

	if (!(f >= 1.0)) /* also NaN and junk */
		f = 1.0;
#ifdef VTEST_ASAN
	f *= 3.0;
#endif
	if (vtest_under_valgrind())
		f *= 10.0;
	return f * shim_factor;
}

int vtest_ms(int ms)
{
	double v;

	if (ms <= 0)
		return ms;
	v = (double)ms * vtest_time_scale();
	return v >= (double)INT_MAX ? INT_MAX : (int)v;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long vtest_deadline(int ms)
{
	return now_ms() + vtest_ms(ms);
}

bool vtest_expired(long long deadline)
{
	return now_ms() > deadline;
}
