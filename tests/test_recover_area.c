/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state area of the vus-gpio-pci sample, started by a fake service
 * manager (this test) with an area it kept: a good one restores the
 * card's outputs; a damaged one, or an fd of the wrong kind, makes it
 * start clean and store a new area.
 *
 *   test_recover_area VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
 */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_recover_util.h"
#include "vus.h"
#include "vus/client.h"

#include "../samples/gpio-pci/idio16.h"

/*
 * A fake service manager: the sample's notifications arrive here, and it
 * starts the sample with fds of its choosing as $LISTEN_FDS.
 */
struct manager {
	int fd;
	char addr[108];
	int area;            /* the state area the sample stored, or -1 */
};

static void manager_open(struct manager *m)
{
	static unsigned int seq;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;

	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(m->fd >= 0);
	snprintf(m->addr, sizeof(m->addr), "@vus-test-manager-%d-%u",
		 (int)getpid(), seq++);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(m->addr));
	memcpy(sa.sun_path, m->addr, strlen(m->addr));
	sa.sun_path[0] = '\0';
	assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, len), 0);
	m->area = -1;
}

/* Take every queued notification; keep the stored state area's fd. */
static void manager_drain(struct manager *m)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int) * 8)];
		} cbuf;
		char buf[4096];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.b,
				     .msg_controllen = sizeof(cbuf.b) };
		ssize_t n = recvmsg(m->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		int fd = -1;

		if (n < 0)
			return;
		buf[n] = '\0';
		if (c != NULL && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (fd >= 0 && strstr(buf, "FDNAME=vus.gpio-pci.state") != NULL) {
			if (m->area >= 0)
				close(m->area);
			m->area = fd;
		} else if (fd >= 0) {
			close(fd);
		}
	}
}

/* Start the sample as the manager would, with @fd (or none) as the area. */
static void managed_start(struct server *s, struct manager *m, int fd)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->sock, sizeof(s->sock), "%s", vtest_sock_path("gpio"));
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		char pid[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("NOTIFY_SOCKET", m->addr, 1);
		if (fd >= 0) {
			if (dup2(fd, 3) != 3)
				_exit(126);
			snprintf(pid, sizeof(pid), "%d", (int)getpid());
			setenv("LISTEN_PID", pid, 1);
			setenv("LISTEN_FDS", "1", 1);
			setenv("LISTEN_FDNAMES", "vus.gpio-pci.state", 1);
		}
		execl(gpio_bin, gpio_bin, "--recover", "--socket-path", s->sock,
		      "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	connect_client(s);
	manager_drain(m);
}

/* The area a sample kept when it was killed with outputs 0x5a, 0xa5:
 * the caller owns it. */
static int kept_area(struct manager *m)
{
	int area;
	struct server s;

	managed_start(&s, m, -1);
	set_reg(&s, IDIO16_REG_OUT0_7, 0x5a);
	set_reg(&s, IDIO16_REG_OUT8_15, 0xa5);
	assert_int_equal(kill(s.pid, SIGKILL), 0);
	assert_int_equal(waitpid(s.pid, NULL, 0), s.pid);
	vus_client_close(s.c);
	manager_drain(m);
	assert_true(m->area >= 0);
	area = m->area;
	m->area = -1;
	return area;
}

static void kept_area_restores_outputs(void **state)
{
	struct manager m;
	struct server s;
	int area;

	(void)state;
	manager_open(&m);
	area = kept_area(&m);
	managed_start(&s, &m, area);
	assert_int_equal(reg(&s, IDIO16_REG_OUT0_7), 0x5a);
	assert_int_equal(reg(&s, IDIO16_REG_OUT8_15), 0xa5);
	/* It goes on with the same area: nothing new was stored. */
	assert_int_equal(m.area, -1);
	stop(&s);
	close(area);
	close(m.fd);
}

static void damaged_area_starts_clean(void **state)
{
	struct manager m;
	struct server s;
	struct stat st;
	uint8_t *p, *hit;
	int area;

	(void)state;
	manager_open(&m);
	area = kept_area(&m);
	/* The "idio16" section: outputs 0xa55a, little-endian. */
	assert_int_equal(fstat(area, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 area, 0);
	assert_true(p != MAP_FAILED);
	hit = memmem(p, (size_t)st.st_size, "\x5a\xa5", 2);
	assert_non_null(hit);
	hit[0] = 0x5b; /* the checksum no longer matches */
	munmap(p, (size_t)st.st_size);
	managed_start(&s, &m, area);
	assert_int_equal(reg(&s, IDIO16_REG_OUT0_7), 0);
	assert_int_equal(reg(&s, IDIO16_REG_OUT8_15), 0);
	/* ... and stored a new area in place of the refused one. */
	assert_true(m.area >= 0);
	stop(&s);
	close(area);
	close(m.area);
	close(m.fd);
}

static void wrong_kind_of_area_starts_clean(void **state)
{
	struct manager m;
	struct server s;
	int p[2];

	(void)state;
	manager_open(&m);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	managed_start(&s, &m, p[0]);
	assert_int_equal(reg(&s, IDIO16_REG_OUT0_7), 0);
	assert_true(m.area >= 0);
	stop(&s);
	close(p[0]);
	close(p[1]);
	close(m.area);
	close(m.fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(kept_area_restores_outputs),
		VTEST(damaged_area_starts_clean),
		VTEST(wrong_kind_of_area_starts_clean),
	};

	return recover_main("recover_area", tests, argc, argv);
}
