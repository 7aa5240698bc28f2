/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery of the sysbus-uart sample as a real process: under
 * vus-supervise with --recover and a unix: backend (the line is a
 * connection the test accepted), killed with SIGKILL; the restarted
 * process has the guest's registers and the byte waiting in the receive
 * FIFO, the same line (no new connection; a byte sent while no process
 * ran arrives), and the same client session.
 *
 *   test_recover_uart VUS_SUPERVISE VUS_SYSBUS_UART [TEST]
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtest.h"

#include "test_uart_util.h"

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0 && strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static bool pending(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static void line_and_registers_survive_sigkill(void **state)
{
	char line[256], spec[300], got = 0;
	struct rig r = { .pid = 0 };
	int lfd;

	(void)state;
	snprintf(line, sizeof(line), "%s", vtest_sock_path("uline"));
	lfd = listen_at(line);
	snprintf(spec, sizeof(spec), "unix:%s", line);
	rig_spawn(&r, spec, NULL);
	assert_true(pending(lfd, vtest_ms(10000)));
	r.peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(r.peer >= 0);
	set_divisor(&r, 12);
	wr(&r, UART_SCR, 0x5a);
	wr(&r, UART_IER, 0x01);
	wr(&r, UART_FCR, 0x01);
	peer_send(&r, "a", 1);
	wait_dr(&r, 5000);
	vtest_kill_child(r.pid);
	/* Into the kept line while no process (or a new one) runs. */
	peer_send(&r, "b", 1);
	assert_int_equal(rd(&r, UART_SCR), 0x5a);
	assert_int_equal(rd(&r, UART_IER), 0x01);
	assert_int_equal(rd(&r, UART_LCR), 0x03);
	assert_int_equal(rd(&r, UART_RBR), 'a');
	wait_dr(&r, 5000);
	assert_int_equal(rd(&r, UART_RBR), 'b');
	wr(&r, UART_THR, 'z');
	assert_int_equal(peer_recv(&r, &got, 1, 5000), 1);
	assert_int_equal(got, 'z');
	/* The same connection: the restarted server did not dial again. */
	assert_false(pending(lfd, 0));
	rig_stop(&r);
	close(lfd);
	unlink(line);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(line_and_registers_survive_sigkill),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VUS_SUPERVISE VUS_SYSBUS_UART [TEST]\n",
			argv[0]);
		return 2;
	}
	uart_supervise = argv[1];
	uart_exe = argv[2];
	return vtest_run("recover_uart", tests, argc - 2, argv + 2);
}
