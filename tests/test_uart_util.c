/* SPDX-License-Identifier: BSD-3-Clause */
/* test_uart_util: the vus-sysbus-uart process and its two ends (see .h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vtest.h"

#include "test_uart_util.h"

const char *uart_exe;
const char *uart_supervise;

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_for_path(const char *path, pid_t pid)
{
	long long end = now_ms() + vtest_ms(10000);
	struct stat st;
	int status;

	while (stat(path, &st) < 0) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("vus-sysbus-uart exited (status %#x)", status);
		if (now_ms() > end)
			fail_msg("%s did not appear", path);
		usleep(2000);
	}
}

/* In the child: @stdio[i] >= 0 becomes fd i. */
static void child_stdio(const int stdio[3])
{
	for (int i = 0; stdio && i < 3; i++)
		if (stdio[i] >= 0 && dup2(stdio[i], i) < 0)
			_exit(126);
}

static void spawn(struct rig *r, const char *backend,
		  const char *const *extra, const int stdio[3])
{
	const char *argv[40] = { uart_supervise, "--burst", "1000", "--" };
	unsigned int n = uart_supervise != NULL ? 4 : 0;
	const char *const ours[] = { uart_exe, "--socket-path", r->sock,
				     "--backend", backend, "--log-level",
				     "warning", NULL };

	for (const char *const *a = ours; *a; a++)
		argv[n++] = *a;
	if (uart_supervise != NULL)
		argv[n++] = "--recover";
	for (; extra && *extra && n < 39; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		/* Dies with us, should a test fail or time out. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		child_stdio(stdio);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

void rig_client_connect(struct rig *r)
{
	long long end = now_ms() + vtest_ms(10000);
	int ret;

	/* The file appears at bind(), a moment before listen(). */
	while ((ret = vus_client_connect(r->sock, VTEST_CLIENT_CFG, &r->c)) == -ECONNREFUSED &&
	       now_ms() < end)
		usleep(2000);
	assert_int_equal(ret, 0);
}

void rig_peer_connect(struct rig *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, r->line);
	r->peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(r->peer >= 0);
	assert_int_equal(connect(r->peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* The server accepts asynchronously: a byte through proves it did. */
	peer_send(r, "\x7e", 1);
	wait_dr(r, 5000);
	assert_int_equal(rd(r, UART_RBR), 0x7e);
}

/* What a failed test left behind (cmocka jumps out of it). */
static void rig_reap(struct rig *r)
{
	if (r->pid <= 0)
		return;
	vus_client_close(r->c);
	if (r->peer >= 0)
		close(r->peer);
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
}

static void rig_init(struct rig *r, const char *const *extra)
{
	rig_reap(r);
	*r = (struct rig){ .peer = -1 };
	snprintf(r->sock, sizeof(r->sock), "%s", vtest_sock_path("uart"));
	for (const char *const *a = extra; a && *a; a++)
		if (strcmp(*a, "--reg-shift") == 0 && a[1])
			r->shift = (unsigned int)atoi(a[1]);
}

void rig_spawn(struct rig *r, const char *backend, const int stdio[3])
{
	rig_init(r, NULL);
	spawn(r, backend, NULL, stdio);
	wait_for_path(r->sock, r->pid); /* made after the backend is open */
	rig_client_connect(r);
}

void rig_start(struct rig *r, const char *const *extra)
{
	char spec[300];

	rig_init(r, extra);
	snprintf(r->line, sizeof(r->line), "%s", vtest_sock_path("line"));
	snprintf(spec, sizeof(spec), "unix-listen:%s", r->line);
	spawn(r, spec, extra, NULL);
	wait_for_path(r->sock, r->pid);
	rig_client_connect(r);
	rig_peer_connect(r);
}

void rig_stop(struct rig *r)
{
	int status = 0;

	vus_client_close(r->c);
	r->c = NULL;
	if (r->peer >= 0)
		close(r->peer);
	r->peer = -1;
	assert_int_equal(kill(r->pid, SIGTERM), 0);
	assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
	r->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The server removes both socket files on its way out. */
	assert_int_equal(access(r->sock, F_OK), -1);
	if (r->line[0] != '\0')
		assert_int_equal(access(r->line, F_OK), -1);
}

uint8_t rd(struct rig *r, unsigned int reg)
{
	uint8_t v = 0xee;

	assert_int_equal(vus_client_region_read(r->c, 0, reg << r->shift, &v, 1), 0);
	return v;
}

void wr(struct rig *r, unsigned int reg, uint8_t val)
{
	assert_int_equal(vus_client_region_write(r->c, 0, reg << r->shift, &val, 1), 0);
}

uint8_t wait_dr(struct rig *r, int timeout_ms)
{
	long long end = now_ms() + vtest_ms(timeout_ms);
	uint8_t lsr;

	while (!((lsr = rd(r, UART_LSR)) & UART_LSR_DR)) {
		if (now_ms() > end)
			fail_msg("no data in RBR after %d ms", vtest_ms(timeout_ms));
		usleep(500);
	}
	return lsr;
}

void set_divisor(struct rig *r, uint16_t div)
{
	wr(r, UART_LCR, UART_LCR_DLAB | 0x03);
	wr(r, UART_DLL, (uint8_t)div);
	wr(r, UART_DLM, (uint8_t)(div >> 8));
	wr(r, UART_LCR, 0x03);
}

void peer_send(struct rig *r, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(r->peer, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

size_t peer_recv(struct rig *r, void *buf, size_t len, int timeout_ms)
{
	long long end = now_ms() + vtest_ms(timeout_ms);
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = r->peer, .events = POLLIN };
		long long left = end - now_ms();
		ssize_t n;

		if (left < 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(r->peer, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

long server_rss_kib(const struct rig *r)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)r->pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

long server_cpu_ms(const struct rig *r)
{
	char path[64], buf[1024], *p;
	unsigned long utime = 0, stime = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)r->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	/* Fields 14 and 15 (utime, stime) follow the ")" that ends comm. */
	p = strrchr(buf, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
				"%*u %lu %lu", &utime, &stime), 2);
	return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

void assert_server_idle(const struct rig *r, int ms)
{
	long before = server_cpu_ms(r), used;

	usleep((useconds_t)ms * 1000);
	used = server_cpu_ms(r) - before;
	if (used > ms / 5)
		fail_msg("server used %ld ms of CPU in %d ms idle", used, ms);
}
