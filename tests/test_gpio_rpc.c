/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vus-gpio-pci sample's management methods as a real process: the
 * input lines an operator sets reach the guest's registers and its
 * interrupt, bad values get -32602, and --print-capabilities says what
 * the binary offers (the same methods rpc.discover lists once it runs).
 *
 *   test_gpio_rpc VUS_GPIO_PCI [TEST-FILTER]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpio_util.h"
#include "rpc_util.h"
#include "vtest.h"
#include "vus.h"
#include "vus/client.h"

#include "../samples/gpio-pci/idio16.h"

static const char *exe;

struct card {
	pid_t pid;
	char sock[256], rpc[256];
	vus_client *c;
	int m; /* the management connection */
};

/* The RPC socket is bound before the vfio-user one: once a client got
 * in, the management socket is there too. */
static void card_start(struct card *k, const char *inputs)
{
	long long end = vtest_deadline(10000);
	int ret;

	memset(k, 0, sizeof(*k));
	snprintf(k->sock, sizeof(k->sock), "%s", vtest_sock_path("gpio"));
	snprintf(k->rpc, sizeof(k->rpc), "%s", vtest_sock_path("gpiorpc"));
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(exe, exe, "--socket-path", k->sock, "--rpc-path", k->rpc,
		      "--inputs", inputs, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	while ((ret = vus_client_connect(k->sock, VTEST_CLIENT_CFG, &k->c)) < 0 &&
	       !vtest_expired(end))
		usleep(2000);
	assert_int_equal(ret, 0);
	k->m = trpc_connect(k->rpc);
	assert_true(k->m >= 0);
}

static void card_stop(struct card *k)
{
	int status;

	close(k->m);
	vus_client_close(k->c);
	assert_int_equal(kill(k->pid, SIGTERM), 0);
	assert_int_equal(waitpid(k->pid, &status, 0), k->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Both sockets are gone with the server. */
	assert_int_equal(access(k->rpc, F_OK), -1);
}

static struct json_object *call(struct card *k, const char *method,
				const char *params)
{
	char line[512];
	struct json_object *r;

	snprintf(line, sizeof(line),
		 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"%s\",\"params\":%s}",
		 method, params);
	r = trpc_call(k->m, line);
	assert_non_null(r);
	return r;
}

static void inputs_reach_the_guest_and_interrupt(void **state)
{
	struct json_object *r;
	struct card k;

	(void)state;
	card_start(&k, "0x00ff");
	assert_int_equal(gpio_reg(k.c, IDIO16_REG_IN0_7), 0xff);
	gpio_set_reg(k.c, IDIO16_REG_OUT0_7, 0x5a);
	(void)gpio_reg(k.c, IDIO16_REG_IRQ_CTL); /* reading it enables the IRQ */
	assert_int_equal(vus_client_irq_enable(k.c, VUS_PCI_IRQ_INTX, 1), 0);

	r = call(&k, "gpio.set-inputs", "{\"inputs\":3840}"); /* 0x0f00 */
	assert_int_equal(trpc_int(r, "result.inputs"), 0x0f00);
	assert_int_equal(trpc_int(r, "result.outputs"), 0x5a);
	assert_true(json_object_get_boolean(trpc_get(r, "result.irq-enabled")));
	json_object_put(r);
	assert_true(vus_client_irq_wait(k.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(5000)) >= 1);
	assert_int_equal(gpio_reg(k.c, IDIO16_REG_IN0_7), 0x00);
	assert_int_equal(gpio_reg(k.c, IDIO16_REG_IN8_15), 0x0f);
	assert_int_equal(gpio_reg(k.c, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_LOW | IDIO16_STATUS_HIGH |
			 IDIO16_STATUS_PENDING);

	/* One line: line 15 high, the others kept. */
	r = call(&k, "gpio.set-input", "{\"line\":15,\"level\":true}");
	assert_int_equal(trpc_int(r, "result.inputs"), 0x8f00);
	json_object_put(r);
	r = call(&k, "gpio.set-input", "{\"line\":0,\"level\":true}");
	assert_int_equal(trpc_int(r, "result.inputs"), 0x8f01);
	json_object_put(r);
	r = call(&k, "gpio.set-input", "{\"line\":8,\"level\":false}");
	assert_int_equal(trpc_int(r, "result.inputs"), 0x8e01);
	json_object_put(r);
	assert_int_equal(gpio_reg(k.c, IDIO16_REG_IN8_15), 0x8e);

	r = call(&k, "gpio.get", "{}");
	assert_int_equal(trpc_int(r, "result.inputs"), 0x8e01);
	assert_int_equal(trpc_int(r, "result.input-lines"), 0x8e01);
	assert_int_equal(trpc_int(r, "result.irqs-raised"), 1);
	assert_false(json_object_get_boolean(trpc_get(r, "result.stopped")));
	json_object_put(r);
	card_stop(&k);
}

/* The boundaries of each parameter: the last good value and one past. */
static void bad_values_are_invalid_params(void **state)
{
	static const struct {
		const char *method, *params;
		int64_t code;
	} cases[] = {
		{ "gpio.set-inputs", "{\"inputs\":65535}", 0 },
		{ "gpio.set-inputs", "{\"inputs\":65536}", -32602 },
		{ "gpio.set-inputs", "{\"inputs\":-1}", -32602 },
		{ "gpio.set-inputs", "{\"inputs\":\"0x10\"}", -32602 },
		{ "gpio.set-inputs", "{}", -32602 },
		{ "gpio.set-input", "{\"line\":15,\"level\":false}", 0 },
		{ "gpio.set-input", "{\"line\":16,\"level\":true}", -32602 },
		{ "gpio.set-input", "{\"line\":-1,\"level\":true}", -32602 },
		{ "gpio.set-input", "{\"line\":0,\"level\":1}", -32602 },
		{ "gpio.set-input", "{\"line\":0}", -32602 },
		{ "gpio.nope", "{}", -32601 },
	};
	struct json_object *r;
	struct card k;

	(void)state;
	card_start(&k, "0");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = call(&k, cases[i].method, cases[i].params);
		if (cases[i].code == 0)
			assert_non_null(trpc_get(r, "result"));
		else
			assert_int_equal(trpc_int(r, "error.code"), cases[i].code);
		json_object_put(r);
	}
	/* What was refused changed nothing: the last good call set 0xffff
	 * and then cleared line 15. */
	assert_int_equal(gpio_reg(k.c, IDIO16_REG_IN8_15), 0x7f);
	card_stop(&k);
}

/* The binary's --print-capabilities output, parsed. */
static struct json_object *capabilities(void)
{
	char cmd[1024], buf[8192];
	size_t got;
	FILE *p;
	struct json_object *o;

	snprintf(cmd, sizeof(cmd), "'%s' --print-capabilities", exe);
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(buf, 1, sizeof(buf) - 1, p);
	assert_int_equal(pclose(p), 0);
	buf[got] = '\0';
	o = json_tokener_parse(buf);
	assert_non_null(o);
	return o;
}

static bool has(struct json_object *arr, const char *s)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)),
			   s) == 0)
			return true;
	return false;
}

static void capabilities_match_the_running_device(void **state)
{
	struct json_object *caps = capabilities(), *d, *methods;
	struct card k;
	size_t n_dev = 0;

	(void)state;
	assert_string_equal(trpc_str(caps, "type"), "gpio-pci");
	assert_string_equal(trpc_str(caps, "bus"), "pci");
	assert_int_equal(trpc_int(caps, "pci.vendor-id"), IDIO16_VENDOR);
	assert_int_equal(trpc_int(caps, "pci.device-id"), IDIO16_DEVICE);
	assert_true(has(trpc_get(caps, "options"), "rpc-path"));
	assert_true(has(trpc_get(caps, "options"), "socket-path"));
	assert_true(has(trpc_get(caps, "options"), "inputs"));
	assert_true(has(trpc_get(caps, "features"), "migration"));
	/* What a VMM checks before it upgrades or supervises the program. */
	assert_true(has(trpc_get(caps, "features"), "take-over"));
	assert_true(has(trpc_get(caps, "features"), "recovery"));
	assert_true(has(trpc_get(caps, "options"), "take-over"));
	assert_true(has(trpc_get(caps, "options"), "recover"));
	/* Every gpio.* method the running device lists, and no other. */
	card_start(&k, "0");
	d = call(&k, "rpc.discover", "{}");
	methods = trpc_get(d, "result.methods");
	for (size_t i = 0; i < json_object_array_length(methods); i++) {
		const char *name = trpc_str(json_object_array_get_idx(methods, i),
					    "name");

		if (strncmp(name, "gpio.", 5) != 0)
			continue;
		n_dev++;
		assert_true(has(trpc_get(caps, "rpc-methods"), name));
	}
	assert_int_equal(n_dev, json_object_array_length(trpc_get(caps, "rpc-methods")));
	assert_int_equal(n_dev, 3);
	json_object_put(d);
	json_object_put(caps);
	card_stop(&k);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(inputs_reach_the_guest_and_interrupt),
		VTEST(bad_values_are_invalid_params),
		VTEST(capabilities_match_the_running_device),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_gpio_rpc VUS_GPIO_PCI [FILTER]\n");
		return 2;
	}
	exe = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return vtest_run("gpio_rpc", tests, argc - 1, argv + 1);
}
