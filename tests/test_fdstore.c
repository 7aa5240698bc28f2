/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the notification protocol client (lib/fdstore.c): the
 * datagrams it sends to a real AF_UNIX receiver (text and fds), its
 * bounds, and the parsing of $LISTEN_PID/$LISTEN_FDS/$LISTEN_FDNAMES with
 * real inherited fds in a child process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdstore.h"
#include "vtest.h"
#include "vus/recovery.h"

/* A receiver bound to a unique abstract name; *addr gets "@name". */
static int receiver(char *addr, size_t len)
{
	static unsigned int seq;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t slen;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(addr, len, "@vus-test-notify-%d-%u", (int)getpid(), seq++);
	assert_int_equal(notify_addr_parse(addr, &sa, &slen), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, slen), 0);
	return fd;
}

/* Receive one datagram: its text (NUL-terminated) and fds. */
static ssize_t receive(int fd, char *buf, size_t len, int *fds,
		       unsigned int *nfds)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * 300)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf.b,
			     .msg_controllen = sizeof(cbuf.b) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned int k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
		*nfds += k;
	}
	return n;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void addresses_path_and_abstract(void **state)
{
	struct sockaddr_un sa;
	socklen_t len;
	char s[200];

	(void)state;
	assert_int_equal(notify_addr_parse("/run/x", &sa, &len), 0);
	assert_string_equal(sa.sun_path, "/run/x");
	assert_int_equal(notify_addr_parse("@abc", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], '\0');
	assert_memory_equal(sa.sun_path + 1, "abc", 3);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 4);
	assert_int_equal(notify_addr_parse("", &sa, &len), -EINVAL);
	assert_int_equal(notify_addr_parse("@", &sa, &len), -EINVAL);
	assert_int_equal(notify_addr_parse("run/x", &sa, &len), -EINVAL);
	assert_int_equal(notify_addr_parse("vsock:2:7", &sa, &len), -EAFNOSUPPORT);
	/* A path fills sun_path but for its NUL; one more is too long. */
	memset(s, 'a', sizeof(s));
	s[0] = '/';
	s[sizeof(sa.sun_path) - 1] = '\0';
	assert_int_equal(notify_addr_parse(s, &sa, &len), 0);
	s[sizeof(sa.sun_path) - 1] = 'a';
	s[sizeof(sa.sun_path)] = '\0';
	assert_int_equal(notify_addr_parse(s, &sa, &len), -ENAMETOOLONG);
	/* An abstract name may use every byte of sun_path. */
	s[0] = '@';
	assert_int_equal(notify_addr_parse(s, &sa, &len), 0);
	s[sizeof(sa.sun_path)] = 'a';
	s[sizeof(sa.sun_path) + 1] = '\0';
	assert_int_equal(notify_addr_parse(s, &sa, &len), -ENAMETOOLONG);
}

static void names_follow_systemds_rule(void **state)
{
	char s[FDSTORE_NAME_MAX + 2];

	(void)state;
	assert_true(fdstore_name_ok("vus.dma.7"));
	assert_false(fdstore_name_ok(""));
	assert_false(fdstore_name_ok(NULL));
	assert_false(fdstore_name_ok("a:b"));
	assert_false(fdstore_name_ok("a\nb"));
	assert_false(fdstore_name_ok("a\x7f"));
	memset(s, 'n', sizeof(s));
	s[FDSTORE_NAME_MAX] = '\0';
	assert_true(fdstore_name_ok(s));
	s[FDSTORE_NAME_MAX] = 'n';
	s[FDSTORE_NAME_MAX + 1] = '\0';
	assert_false(fdstore_name_ok(s));
}

static void store_and_remove_messages(void **state)
{
	char addr[108], buf[4200];
	int rfd = receiver(addr, sizeof(addr)), fds[4], efd;
	struct notify *n;
	unsigned int nfds;

	(void)state;
	assert_int_equal(notify_open(addr, &n), 0);
	efd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(fdstore_put(n, "vus.conn", &efd, 1, true), 0);
	assert_true(receive(rfd, buf, sizeof(buf), fds, &nfds) > 0);
	assert_string_equal(buf, "FDSTORE=1\nFDNAME=vus.conn");
	assert_int_equal(nfds, 1);
	assert_true(same_file(fds[0], efd));
	close(fds[0]);
	assert_int_equal(fdstore_put(n, "vus.dma.1", &efd, 1, false), 0);
	assert_true(receive(rfd, buf, sizeof(buf), fds, &nfds) > 0);
	assert_string_equal(buf, "FDSTORE=1\nFDNAME=vus.dma.1\nFDPOLL=0");
	close(fds[0]);
	assert_int_equal(fdstore_remove(n, "vus.dma.1"), 0);
	assert_true(receive(rfd, buf, sizeof(buf), fds, &nfds) > 0);
	assert_string_equal(buf, "FDSTOREREMOVE=1\nFDNAME=vus.dma.1");
	assert_int_equal(nfds, 0);
	/* Refused before anything is sent. */
	assert_int_equal(fdstore_put(n, "a:b", &efd, 1, true), -EINVAL);
	assert_int_equal(fdstore_put(n, "x", &efd, 0, true), -EINVAL);
	assert_int_equal(fdstore_remove(n, ""), -EINVAL);
	assert_int_equal(receive(rfd, buf, sizeof(buf), fds, &nfds), -EAGAIN);
	close(efd);
	notify_close(n);
	close(rfd);
}

static void bounds_of_state_and_fds(void **state)
{
	char addr[108], *big = malloc(NOTIFY_STATE_MAX + 2), buf[4200];
	int rfd = receiver(addr, sizeof(addr)), fds[FDSTORE_FDS_PER_MSG + 1];
	int got[300], sz = 1 << 20;
	struct notify *n;
	unsigned int nfds;

	(void)state;
	/* Room for the longest datagram. */
	setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	assert_int_equal(notify_open(addr, &n), 0);
	memset(big, 'x', NOTIFY_STATE_MAX + 1);
	memcpy(big, "STATUS=", 7);
	big[NOTIFY_STATE_MAX] = '\0';
	assert_int_equal(notify_send(n, big, NULL, 0), 0);
	assert_int_equal(receive(rfd, buf, sizeof(buf), got, &nfds),
			 (ssize_t)NOTIFY_STATE_MAX);
	big[NOTIFY_STATE_MAX] = 'x';
	big[NOTIFY_STATE_MAX + 1] = '\0';
	assert_int_equal(notify_send(n, big, NULL, 0), -E2BIG);
	assert_int_equal(notify_send(n, "", NULL, 0), -EINVAL);
	for (unsigned int i = 0; i <= FDSTORE_FDS_PER_MSG; i++)
		fds[i] = STDERR_FILENO;
	assert_int_equal(notify_send(n, "FDSTORE=1", fds, FDSTORE_FDS_PER_MSG), 0);
	assert_true(receive(rfd, buf, sizeof(buf), got, &nfds) > 0);
	assert_int_equal(nfds, FDSTORE_FDS_PER_MSG);
	for (unsigned int i = 0; i < nfds; i++)
		close(got[i]);
	assert_int_equal(notify_send(n, "FDSTORE=1", fds, FDSTORE_FDS_PER_MSG + 1),
			 -E2BIG);
	free(big);
	notify_close(n);
	close(rfd);
}

/* Nobody reads: the queue fills and a send waits, then says so. */
static void full_receiver_is_reported_not_dropped(void **state)
{
	char addr[108];
	int rfd = receiver(addr, sizeof(addr)), ret;
	struct notify *n;
	unsigned int sent = 0;

	(void)state;
	assert_int_equal(notify_open(addr, &n), 0);
	while ((ret = notify_send(n, "STATUS=filling", NULL, 0)) == 0)
		assert_true(++sent < 100000);
	assert_int_equal(ret, -EAGAIN);
	assert_true(sent > 0);
	notify_close(n);
	close(rfd);
}

static void nobody_listening(void **state)
{
	struct notify *n = NULL;

	(void)state;
	assert_int_equal(notify_open("@vus-test-nobody-listens-here", &n),
			 -ECONNREFUSED);
	assert_null(n);
}

static void vus_notify_reaches_notify_socket(void **state)
{
	char addr[108], buf[128];
	int rfd = receiver(addr, sizeof(addr)), fds[4];
	char *old = getenv("NOTIFY_SOCKET");
	unsigned int nfds;

	(void)state;
	assert_null(old);
	assert_int_equal(vus_notify("READY=1"), 0); /* unset: nothing to do */
	setenv("NOTIFY_SOCKET", addr, 1);
	assert_int_equal(vus_notify("READY=1\nSTATUS=serving"), 1);
	assert_true(receive(rfd, buf, sizeof(buf), fds, &nfds) > 0);
	assert_string_equal(buf, "READY=1\nSTATUS=serving");
	setenv("NOTIFY_SOCKET", "vsock:1:2", 1);
	assert_int_equal(vus_notify("READY=1"), -EAFNOSUPPORT);
	unsetenv("NOTIFY_SOCKET");
	close(rfd);
}

static void parse_counts_and_names(void **state)
{
	struct listen_fds lf;
	static char names[2 * (LISTEN_FDS_MAX + 1)];
	pid_t me = getpid();
	char pid[32], other[32];

	(void)state;
	snprintf(pid, sizeof(pid), "%d", (int)me);
	snprintf(other, sizeof(other), "%d", (int)me + 1);
	assert_int_equal(listen_fds_parse(NULL, NULL, NULL, me, &lf), 0);
	assert_int_equal(lf.n, 0);
	/* Meant for another process: not ours, not an error. */
	assert_int_equal(listen_fds_parse(other, "2", "a:b", me, &lf), 0);
	assert_int_equal(lf.n, 0);
	assert_int_equal(listen_fds_parse(pid, "0", NULL, me, &lf), 0);
	assert_int_equal(lf.n, 0);
	assert_int_equal(listen_fds_parse(pid, "3", "a:b:c", me, &lf), 0);
	assert_int_equal(lf.n, 3);
	assert_string_equal(listen_fds_name(&lf, 2), "c");
	assert_int_equal(lf.fds[1], LISTEN_FDS_START + 1);
	for (unsigned int i = 0; i < lf.n; i++)
		lf.fds[i] = -1; /* not really ours: do not close 3..5 */
	listen_fds_free(&lf);
	assert_int_equal(listen_fds_parse(pid, "2", NULL, me, &lf), 0);
	assert_string_equal(listen_fds_name(&lf, 0), "unknown");
	lf.fds[0] = lf.fds[1] = -1;
	listen_fds_free(&lf);
	/* Malformed. */
	assert_int_equal(listen_fds_parse(pid, "3", "a:b", me, &lf), -EINVAL);
	assert_int_equal(listen_fds_parse(pid, "2", "a:b:c", me, &lf), -EINVAL);
	assert_int_equal(listen_fds_parse(pid, "2", "a:", me, &lf), -EINVAL);
	assert_int_equal(listen_fds_parse(pid, "+2", "a:b", me, &lf), -EINVAL);
	assert_int_equal(listen_fds_parse(pid, "2x", "a:b", me, &lf), -EINVAL);
	assert_int_equal(listen_fds_parse("x", "2", "a:b", me, &lf), -EINVAL);
	assert_int_equal(lf.n, 0);
	/* The bound on the count, at and past it. */
	for (unsigned int i = 0; i <= LISTEN_FDS_MAX; i++) {
		names[2 * i] = 'n';
		names[2 * i + 1] = ':';
	}
	names[2 * LISTEN_FDS_MAX - 1] = '\0';
	assert_int_equal(listen_fds_parse(pid, "4096", names, me, &lf), 0);
	assert_int_equal(lf.n, LISTEN_FDS_MAX);
	for (unsigned int i = 0; i < lf.n; i++)
		lf.fds[i] = -1;
	listen_fds_free(&lf);
	/* One more fd, with its name: refused for the count alone. */
	names[2 * LISTEN_FDS_MAX - 1] = ':';
	names[2 * LISTEN_FDS_MAX + 1] = '\0';
	assert_int_equal(listen_fds_parse(pid, "4097", names, me, &lf), -EINVAL);
}

/* In a child: fds 3 and 4 inherited with names, as a manager passes them. */
static int inherited_child(void)
{
	struct listen_fds lf;
	char pid[32];
	int a = eventfd(0, 0), b = eventfd(0, 0), fd;

	if (dup2(a, 3) != 3 || dup2(b, 4) != 4)
		return 10;
	if (a > 4)
		close(a);
	if (b > 4)
		close(b);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "vus.conn:dev.backend", 1);
	if (listen_fds_from_env(&lf) != 0 || lf.n != 2)
		return 11;
	if (getenv("LISTEN_FDS") != NULL || getenv("LISTEN_PID") != NULL)
		return 12; /* taken once: not passed on */
	if (!(fcntl(3, F_GETFD) & FD_CLOEXEC) || !(fcntl(4, F_GETFD) & FD_CLOEXEC))
		return 13;
	fd = listen_fds_take(&lf, "dev.backend");
	if (fd != 4 || listen_fds_take(&lf, "dev.backend") != -ENOENT)
		return 14;
	listen_fds_free(&lf); /* closes 3, which nobody took */
	if (fcntl(3, F_GETFD) != -1 || fcntl(4, F_GETFD) < 0)
		return 15;
	return 0;
}

static void inherited_fds_taken_by_name(void **state)
{
	int status;
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(inherited_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(addresses_path_and_abstract),
		VTEST(names_follow_systemds_rule),
		VTEST(store_and_remove_messages),
		VTEST(bounds_of_state_and_fds),
		VTEST(full_receiver_is_reported_not_dropped),
		VTEST(nobody_listening),
		VTEST(vus_notify_reaches_notify_socket),
		VTEST(parse_counts_and_names),
		VTEST(inherited_fds_taken_by_name),
	};

	return vtest_run("fdstore", tests, argc, argv);
}
