/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_util: small helpers the fuzz targets share.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <dirent.h>

/* Open fds of this process: an input must not leave one behind. */
static inline int fuzz_count_fds(void)
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
	return n;
}

#endif /* FUZZ_UTIL_H */
