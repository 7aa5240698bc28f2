/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Migrating the vus-gpio-pci sample between two real processes: the
 * card's registers and latched interrupt, the PCI state libvus carries
 * (BAR, command register, INTx level), input changes held back while the
 * source is stopped, destinations that must refuse the stream, and one
 * that stages the stream on disk (a 1-byte memory budget: run with
 * --sandbox too, it proves the confined server may spill).
 *
 *   test_gpio_mig VUS_GPIO_PCI [TEST-FILTER]
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
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
};

static struct card a, b;

/* The stage directory, and whether the next card_start() spills to it. */
static char stage_dir[] = "/var/tmp/vus-gpio-mig-XXXXXX";
static bool spill_next;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void card_start(struct card *k, const char *compat)
{
	long long end = now_ms() + vtest_ms(10000);
	int ret;

	if (k->pid > 0) { /* left over by a failed case */
		vus_client_close(k->c);
		kill(k->pid, SIGKILL);
		waitpid(k->pid, NULL, 0);
	}
	memset(k, 0, sizeof(*k));
	snprintf(k->sock, sizeof(k->sock), "%s", vtest_sock_path("gpio"));
	snprintf(k->rpc, sizeof(k->rpc), "%s", vtest_sock_path("gpiorpc"));
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(exe, exe, "--socket-path", k->sock, "--rpc-path", k->rpc,
		      "--compat-version", compat, "--log-level", "error",
		      "--mig-stage-dir", stage_dir, "--mig-stage-mem",
		      spill_next ? "1" : "0", (char *)NULL);
		_exit(127);
	}
	spill_next = false;
	while ((ret = vus_client_connect(k->sock, VTEST_CLIENT_CFG, &k->c)) < 0 &&
	       now_ms() < end)
		usleep(2000);
	assert_int_equal(ret, 0);
}

static void card_stop(struct card *k)
{
	int status;

	vus_client_close(k->c);
	assert_int_equal(kill(k->pid, SIGTERM), 0);
	assert_int_equal(waitpid(k->pid, &status, 0), k->pid);
	k->pid = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A management call on card @k; the response (the caller puts it). */
static struct json_object *call(struct card *k, const char *method,
				const char *params)
{
	return gpio_call(k->rpc, method, params);
}

static uint8_t reg(struct card *k, unsigned int r)
{
	return gpio_reg(k->c, r);
}

static void set_reg(struct card *k, unsigned int r, uint8_t v)
{
	gpio_set_reg(k->c, r, v);
}

static uint32_t cfg32(struct card *k, uint32_t off)
{
	return gpio_cfg32(k->c, off);
}

static int save(struct card *k)
{
	uint64_t size;
	int fd = memfd_create("gpio-state", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(vus_client_mig_save(k->c, fd, &size), 0);
	return fd;
}

static void load(struct card *k, int fd, int want)
{
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(vus_client_mig_load(k->c, fd), want);
}

static void card_and_pci_state_move(void **state)
{
	struct json_object *r;
	int fd;

	(void)state;
	card_start(&a, "1");
	card_start(&b, "1");
	/* The guest's view on A: BAR 2 placed, I/O on, outputs, IRQ armed. */
	assert_int_equal(vus_client_region_write(a.c, VUS_PCI_REGION_CONFIG, 0x18,
						 "\x01\xc0\x00\x00", 4), 0);
	assert_int_equal(vus_client_region_write(a.c, VUS_PCI_REGION_CONFIG, 0x04,
						 "\x01\x00", 2), 0);
	set_reg(&a, IDIO16_REG_OUT0_7, 0x5a);
	set_reg(&a, IDIO16_REG_OUT8_15, 0xa5);
	(void)reg(&a, IDIO16_REG_IRQ_CTL); /* reading it enables the IRQ */
	assert_int_equal(vus_client_irq_enable(a.c, VUS_PCI_IRQ_INTX, 1), 0);
	json_object_put(call(&a, "gpio.set-inputs", "{\"inputs\":3840}"));
	assert_true(vus_client_irq_wait(a.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(2000)) >= 1);
	assert_int_equal(reg(&a, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_HIGH | IDIO16_STATUS_PENDING);
	/* The VMM on B enables INTx before it resumes the device. */
	assert_int_equal(vus_client_irq_enable(b.c, VUS_PCI_IRQ_INTX, 1), 0);
	fd = save(&a);
	load(&b, fd, 0);
	/* B asserts the INTx it inherited, still pending until cleared. */
	assert_true(vus_client_irq_wait(b.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(2000)) >= 1);
	assert_true(cfg32(&b, 0x04) & (1u << 19)); /* status: INTx pending */
	assert_int_equal(cfg32(&b, 0x18), 0xc001);
	assert_int_equal(cfg32(&b, 0x04) & 0xffff, 0x0001);
	assert_int_equal(reg(&b, IDIO16_REG_OUT0_7), 0x5a);
	assert_int_equal(reg(&b, IDIO16_REG_OUT8_15), 0xa5);
	assert_int_equal(reg(&b, IDIO16_REG_IN8_15), 0x0f);
	assert_int_equal(reg(&b, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_HIGH | IDIO16_STATUS_PENDING);
	/* The guest's handler clears it on B, the VMM unmasks (INTx is
	 * automasked); B's own inputs then work. */
	set_reg(&b, IDIO16_REG_IN0_7, 0);
	assert_false(cfg32(&b, 0x04) & (1u << 19));
	assert_int_equal(vus_client_irq_mask(b.c, VUS_PCI_IRQ_INTX, 0, 1, false), 0);
	r = call(&b, "gpio.set-input", "{\"line\":0,\"level\":true}");
	assert_int_equal(json_object_get_int(trpc_get(r, "result.inputs")), 0x0f01);
	json_object_put(r);
	assert_true(vus_client_irq_wait(b.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(2000)) >= 1);
	assert_int_equal(reg(&b, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_LOW | IDIO16_STATUS_PENDING);
	close(fd);
	card_stop(&a);
	card_stop(&b);
}

static void inputs_wait_while_stopped(void **state)
{
	struct json_object *r;
	int fd;

	(void)state;
	card_start(&a, "1");
	card_start(&b, "1");
	(void)reg(&a, IDIO16_REG_IRQ_CTL);
	assert_int_equal(vus_client_irq_enable(a.c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_STOP), 0);
	r = call(&a, "gpio.set-inputs", "{\"inputs\":255}");
	assert_true(json_object_get_boolean(trpc_get(r, "result.stopped")));
	assert_int_equal(json_object_get_int(trpc_get(r, "result.inputs")), 0);
	assert_int_equal(json_object_get_int(trpc_get(r, "result.input-lines")), 0xff);
	json_object_put(r);
	/* A stopped card does not interrupt. */
	assert_int_equal(vus_client_irq_wait(a.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(200)), -ETIMEDOUT);
	fd = save(&a);
	load(&b, fd, 0);
	assert_int_equal(reg(&b, IDIO16_REG_IN0_7), 0x00);
	assert_int_equal(reg(&b, IDIO16_REG_IRQ_STATUS), 0);
	/* The source resumes: it sees the change and interrupts then. */
	assert_int_equal(vus_client_mig_set_state(a.c, VUS_MIG_RUNNING), 0);
	assert_true(vus_client_irq_wait(a.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(2000)) >= 1);
	assert_int_equal(reg(&a, IDIO16_REG_IN0_7), 0xff);
	assert_int_equal(reg(&a, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_LOW | IDIO16_STATUS_PENDING);
	close(fd);
	card_stop(&a);
	card_stop(&b);
}

static void other_versions_refuse(void **state)
{
	uint32_t st;
	int fd;

	(void)state;
	card_start(&a, "1");
	card_start(&b, "2");
	set_reg(&a, IDIO16_REG_OUT0_7, 0x11);
	set_reg(&b, IDIO16_REG_OUT0_7, 0x22);
	fd = save(&a);
	load(&b, fd, -EPROTONOSUPPORT);
	assert_int_equal(vus_client_mig_get_state(b.c, &st), 0);
	assert_int_equal(st, VUS_MIG_ERROR);
	assert_int_equal(reg(&b, IDIO16_REG_OUT0_7), 0x22);
	assert_int_equal(vus_client_reset(b.c), 0);
	close(fd);
	card_stop(&a);
	card_stop(&b);
}

/*
 * A destination that may stage 1 byte in memory spills every section to
 * its stage directory and still loads the card; the status says where
 * the bytes went, and no file is left.
 */
static void state_moves_through_spilled_sections(void **state)
{
	struct json_object *r;
	int fd;

	(void)state;
	card_start(&a, "1");
	spill_next = true;
	card_start(&b, "1");
	set_reg(&a, IDIO16_REG_OUT0_7, 0x3c);
	set_reg(&a, IDIO16_REG_OUT8_15, 0xc3);
	fd = save(&a);
	load(&b, fd, 0);
	assert_int_equal(reg(&b, IDIO16_REG_OUT0_7), 0x3c);
	assert_int_equal(reg(&b, IDIO16_REG_OUT8_15), 0xc3);
	r = call(&b, "query-status", "{}");
	assert_true(json_object_get_int64(trpc_get(r, "result.migration.staged.disk-bytes")) > 256);
	assert_true(json_object_get_int64(trpc_get(r, "result.migration.staged.memory-bytes")) <= 1);
	json_object_put(r);
	assert_int_equal(vtest_dir_entries(stage_dir), 0);
	close(fd);
	card_stop(&a);
	card_stop(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(card_and_pci_state_move),
		VTEST(inputs_wait_while_stopped),
		VTEST(other_versions_refuse),
		VTEST(state_moves_through_spilled_sections),
	};
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: test_gpio_mig VUS_GPIO_PCI [FILTER]\n");
		return 2;
	}
	exe = argv[1];
	if (mkdtemp(stage_dir) == NULL) {
		perror(stage_dir);
		return 1;
	}
	ret = vtest_run("gpio_mig", tests, argc - 1, argv + 1);
	if (rmdir(stage_dir) < 0)
		ret = 1;
	return ret;
}
