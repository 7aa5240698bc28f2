/* SPDX-License-Identifier: BSD-3-Clause */
/* vtest: fd-leak checks and group runner shared by the tests. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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

const char *vtest_sock_path(const char *tag)
{
	static char buf[256];
	const char *dir = getenv("TMPDIR");
	static unsigned int seq;

	snprintf(buf, sizeof(buf), "%s/vus-test-%d-%s-%u.sock",
		 dir ? dir : "/tmp", (int)getpid(), tag, seq++);
	return buf;
}
