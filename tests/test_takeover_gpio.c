/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live upgrade of the vus-gpio-pci sample: a new process takes the
 * running one's place (--take-over RPC_PATH) under a client.
 *
 *   test_takeover_gpio VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
 */
#include <signal.h>
#include <sys/prctl.h>
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
 * Live upgrade of the sample: a new vus-gpio-pci --take-over RPC_PATH
 * replaces the running one while the client keeps writing and reading
 * the outputs (every write is read back, none is lost across the
 * hand-over); the card's registers and config space and its management
 * socket move along; the old process exits 0.
 */
static void session_survives_a_take_over(void **state)
{
	struct server s;
	pid_t old, n;
	int status = 0;
	unsigned int i = 0, after = 0;
	long long end;

	(void)state;
	memset(&s, 0, sizeof(s));
	snprintf(s.sock, sizeof(s.sock), "%s", vtest_sock_path("gpio"));
	snprintf(s.rpc, sizeof(s.rpc), "%s", vtest_sock_path("gpiorpc"));
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(gpio_bin, gpio_bin, "--socket-path", s.sock, "--rpc-path",
		      s.rpc, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	connect_client(&s);
	program_card(&s);
	old = s.pid;
	n = fork();
	assert_true(n >= 0);
	if (n == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(gpio_bin, gpio_bin, "--take-over", s.rpc, (char *)NULL);
		_exit(127);
	}
	/* Traffic across the hand-over, and 200 writes after it. */
	end = vtest_deadline(30000);
	for (; after < 200; i++) {
		if (vtest_expired(end))
			fail_msg("the old process did not hand over");
		set_reg(&s, IDIO16_REG_OUT0_7, (uint8_t)i);
		assert_int_equal(reg(&s, IDIO16_REG_OUT0_7), (uint8_t)i);
		if (after > 0 || waitpid(old, &status, WNOHANG) == old)
			after++;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	s.pid = n;
	set_reg(&s, IDIO16_REG_OUT0_7, 0x5a);
	expect_programmed(&s);
	/* The management socket is the new process's too. */
	set_inputs(&s, "{\"inputs\":240}");
	assert_int_equal(reg(&s, IDIO16_REG_IN0_7), 0xf0);
	stop(&s);
	assert_int_equal(access(s.sock, F_OK), -1);
	assert_int_equal(access(s.rpc, F_OK), -1);
	printf("%u writes read back across the take-over\n", i);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(session_survives_a_take_over),
	};

	return recover_main("takeover_gpio", tests, argc, argv);
}
