/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade of the sysbus-uart sample as a real process: a new
 * vus-sysbus-uart --take-over RPC_PATH replaces the running one while the
 * client keeps reading a register. The new process has the guest's
 * registers (divisor latch, line control, interrupt enable, scratch), the
 * bytes waiting in the receive FIFO in their order, and the same line: the
 * peer's connection stays, a byte it sends during the hand-over arrives
 * after the ones before it, and bytes go out through it. The old process
 * exits 0.
 *
 *   test_handover_uart VUS_SYSBUS_UART [TEST]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc_util.h"
#include "vtest.h"

#include "test_uart_util.h"

/* The receive FIFO's fill level, from the management socket. */
static unsigned int rx_fifo(const char *rpc)
{
	int fd = trpc_connect(rpc);
	char *line, *at;
	unsigned int n;

	assert_true(fd >= 0);
	assert_int_equal(trpc_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"uart.query-line\"}"), 0);
	line = trpc_recv_line(fd);
	close(fd);
	assert_non_null(line);
	at = strstr(line, "\"rx-fifo\":");
	if (at == NULL)
		fail_msg("no rx-fifo in %s", line);
	n = (unsigned int)strtoul(at + 10, NULL, 10);
	free(line);
	return n;
}

static void wait_rx_fifo(const char *rpc, unsigned int want)
{
	long long end = vtest_deadline(10000);

	while (rx_fifo(rpc) != want) {
		if (vtest_expired(end))
			fail_msg("the receive FIFO never held %u bytes", want);
		usleep(2000);
	}
}

static pid_t take_over(const char *rpc)
{
	pid_t n = fork();

	assert_true(n >= 0);
	if (n == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(uart_exe, uart_exe, "--take-over", rpc, (char *)NULL);
		_exit(127);
	}
	return n;
}

static void registers_fifo_and_line_move(void **state)
{
	char rpc[256];
	const char *const extra[] = { "--rpc-path", rpc, NULL };
	struct rig r = { .pid = 0 };
	unsigned int reads = 0;
	int status = -1;
	char got = 0;
	long long end;
	pid_t old;

	(void)state;
	snprintf(rpc, sizeof(rpc), "%s", vtest_sock_path("urpc"));
	rig_start(&r, extra);
	set_divisor(&r, 12);
	wr(&r, UART_LCR, 0x1b); /* 8 bits, even parity */
	wr(&r, UART_SCR, 0x5a);
	wr(&r, UART_IER, 0x01);
	wr(&r, UART_FCR, 0x01);
	peer_send(&r, "abc", 3);
	wait_rx_fifo(rpc, 3);
	old = r.pid;
	r.pid = take_over(rpc);
	/* The client goes on reading across the hand-over. */
	end = vtest_deadline(30000);
	while (waitpid(old, &status, WNOHANG) != old) {
		if (vtest_expired(end))
			fail_msg("the old process did not hand over");
		assert_int_equal(rd(&r, UART_SCR), 0x5a);
		if (++reads == 1)
			peer_send(&r, "d", 1); /* into the line mid-hand-over */
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(rd(&r, UART_SCR), 0x5a);
	assert_int_equal(rd(&r, UART_IER), 0x01);
	assert_int_equal(rd(&r, UART_LCR), 0x1b);
	wr(&r, UART_LCR, 0x1b | UART_LCR_DLAB);
	assert_int_equal(rd(&r, UART_DLL), 12);
	assert_int_equal(rd(&r, UART_DLM), 0);
	wr(&r, UART_LCR, 0x1b);
	/* The FIFO's bytes, then the one sent during the hand-over. */
	for (const char *c = "abcd"; *c; c++) {
		wait_dr(&r, 5000);
		assert_int_equal(rd(&r, UART_RBR), *c);
	}
	assert_int_equal(rx_fifo(rpc), 0);
	wr(&r, UART_THR, 'z');
	assert_int_equal(peer_recv(&r, &got, 1, 5000), 1);
	assert_int_equal(got, 'z');
	printf("%u register reads across the take-over\n", reads);
	rig_stop(&r);
	assert_int_equal(access(rpc, F_OK), -1);
}

/* --print-capabilities says so, as a VMM reads it before a take-over. */
static void capabilities_say_take_over(void **state)
{
	char cmd[1024], buf[8192];
	struct json_object *caps, *features, *options;
	size_t got;
	FILE *p;

	(void)state;
	snprintf(cmd, sizeof(cmd), "'%s' --print-capabilities", uart_exe);
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(buf, 1, sizeof(buf) - 1, p);
	assert_int_equal(pclose(p), 0);
	buf[got] = '\0';
	caps = json_tokener_parse(buf);
	assert_non_null(caps);
	features = trpc_get(caps, "features");
	options = trpc_get(caps, "options");
	assert_true(trpc_has(features, "take-over"));
	assert_true(trpc_has(features, "recovery"));
	assert_true(trpc_has(options, "take-over"));
	assert_true(trpc_has(options, "recover"));
	json_object_put(caps);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(registers_fifo_and_line_move),
		VTEST(capabilities_say_take_over),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s VUS_SYSBUS_UART [TEST]\n", argv[0]);
		return 2;
	}
	uart_exe = argv[1];
	return vtest_run("handover_uart", tests, argc - 1, argv + 1);
}
