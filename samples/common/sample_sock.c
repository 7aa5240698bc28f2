/* SPDX-License-Identifier: BSD-3-Clause */
/* UNIX socket paths for the samples (sample_sock.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sample_sock.h"

int sample_unix_addr(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (path[0] == '\0')
		return -EINVAL;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int sample_clear_stale(const struct sockaddr_un *sa, int type)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Only "refused" means nobody is there; anything else (a live
	 * socket, one of another type, no permission) keeps the file. */
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	ret = ret == 0 ? -EADDRINUSE : (errno == ECONNREFUSED ? 0 : -EADDRINUSE);
	close(fd);
	if (ret == 0 && unlink(sa->sun_path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}
