/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_recover_util: the crash recovery tests' shared parts
 * (test_recover_util.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpio_util.h"
#include "test_recover_util.h"
#include "vus.h"
#include "vus_client_raw.h"

#include "../samples/gpio-pci/idio16.h"

const char *sup_bin, *gpio_bin;

int recover_run(const char *name, const struct CMUnitTest *tests, size_t n,
		int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s VUS_SUPERVISE VUS_GPIO_PCI [TEST]\n",
			argv[0]);
		return 2;
	}
	sup_bin = argv[1];
	gpio_bin = argv[2];
	return vtest_run_group(name, tests, n, argc - 2, argv + 2);
}

/* Retried until the server listens (a restarted one may not yet). */
static void connect_with(struct server *s,
			 int (*fn)(const char *, const struct vus_client_config *,
				   vus_client **))
{
	long long end = vtest_deadline(10000);
	int ret;

	while ((ret = fn(s->sock, VTEST_CLIENT_CFG, &s->c)) < 0 && !vtest_expired(end))
		usleep(2000);
	assert_int_equal(ret, 0);
}

void connect_client(struct server *s)
{
	connect_with(s, vus_client_connect);
}

void connect_raw(struct server *s)
{
	connect_with(s, vus_client_connect_raw);
}

void supervised_start_env(struct server *s, const char *kill_at)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->sock, sizeof(s->sock), "%s", vtest_sock_path("gpio"));
	snprintf(s->rpc, sizeof(s->rpc), "%s", vtest_sock_path("gpiorpc"));
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (kill_at != NULL)
			setenv("VUS_TEST_KILL_AT", kill_at, 1);
		/* Restarts as often as the tests kill it. */
		execl(sup_bin, sup_bin, "--burst", "1000", "--", gpio_bin, "--recover",
		      "--socket-path", s->sock, "--rpc-path", s->rpc,
		      "--log-level", "error", (char *)NULL);
		_exit(127);
	}
}

void supervised_start(struct server *s)
{
	supervised_start_env(s, NULL);
	connect_client(s);
}

void stop(struct server *s)
{
	int status;

	vus_client_close(s->c);
	s->c = NULL;
	assert_int_equal(kill(s->pid, SIGTERM), 0);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

void crash(struct server *s)
{
	vtest_kill_child(s->pid);
}

uint8_t reg(struct server *s, unsigned int r)
{
	return gpio_reg(s->c, r);
}

void set_reg(struct server *s, unsigned int r, uint8_t v)
{
	gpio_set_reg(s->c, r, v);
}

void set_inputs(struct server *s, const char *params)
{
	json_object_put(gpio_call(s->rpc, "gpio.set-inputs", params));
}

void program_card(struct server *s)
{
	assert_int_equal(vus_client_region_write(s->c, VUS_PCI_REGION_CONFIG, 0x18,
						 "\x01\xc0\x00\x00", 4), 0);
	assert_int_equal(vus_client_region_write(s->c, VUS_PCI_REGION_CONFIG, 0x04,
						 "\x01\x00", 2), 0);
	set_reg(s, IDIO16_REG_OUT0_7, 0x5a);
	set_reg(s, IDIO16_REG_OUT8_15, 0xa5);
	(void)reg(s, IDIO16_REG_IRQ_CTL); /* reading it enables the IRQ */
	set_inputs(s, "{\"inputs\":3840}");
	assert_int_equal(reg(s, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_HIGH | IDIO16_STATUS_PENDING);
}

void expect_programmed(struct server *s)
{
	assert_int_equal(reg(s, IDIO16_REG_OUT0_7), 0x5a);
	assert_int_equal(reg(s, IDIO16_REG_OUT8_15), 0xa5);
	assert_int_equal(reg(s, IDIO16_REG_IN8_15), 0x0f);
	assert_int_equal(reg(s, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_HIGH | IDIO16_STATUS_PENDING);
	assert_int_equal(gpio_cfg32(s->c, 0x18), 0xc001);
	assert_int_equal(gpio_cfg32(s->c, 0x04) & 0xffff, 0x0001);
}

int raw_dma_map_file(vus_client *c, uint64_t addr, uint64_t size,
			    struct stat *file)
{
	uint8_t p[32] = { 0 };
	struct vus_client_reply r;
	uint32_t argsz = 32, flags = 1;
	int fd = memfd_create("dma", MFD_CLOEXEC), ret;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (file != NULL)
		assert_int_equal(fstat(fd, file), 0);
	memcpy(p, &argsz, 4);
	memcpy(p + 4, &flags, 4);
	memcpy(p + 16, &addr, 8);
	memcpy(p + 24, &size, 8);
	ret = vus_client_request(c, VUS_CMD_DMA_MAP, 0, p, sizeof(p), &fd, 1, &r);
	close(fd);
	assert_int_equal(ret, 0);
	ret = r.error > 0 ? -r.error : r.error;
	vus_client_reply_free(&r);
	return ret;
}

int raw_dma_map(vus_client *c, uint64_t addr, uint64_t size)
{
	return raw_dma_map_file(c, addr, size, NULL);
}

int fds_on(pid_t pid, const struct stat *file)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char fd[320];
		struct stat st;

		snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
		n += e->d_name[0] != '.' && stat(fd, &st) == 0 &&
		     st.st_dev == file->st_dev && st.st_ino == file->st_ino;
	}
	closedir(d);
	return n;
}

int client_fds_handed_over(pid_t sup)
{
	static const char id[] = "vus.gpio-pci.fd.";
	char path[64], env[8192];
	pid_t child = vtest_child_of(sup);
	ssize_t len;
	int fd, n = 0;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)child);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	len = read(fd, env, sizeof(env) - 1);
	close(fd);
	assert_true(len > 0);
	env[len] = '\0';
	for (char *v = env; v < env + len; v += strlen(v) + 1) {
		if (strncmp(v, "LISTEN_FDNAMES=", 15) != 0)
			continue;
		for (char *p = strstr(v, id); p != NULL; p = strstr(p + 1, id))
			n++;
	}
	return n;
}

int raw_dma_unmap(vus_client *c, uint64_t addr, uint64_t size)
{
	uint8_t p[24] = { 0 };
	struct vus_client_reply r;
	uint32_t argsz = 24;
	int ret;

	memcpy(p, &argsz, 4);
	memcpy(p + 8, &addr, 8);
	memcpy(p + 16, &size, 8);
	ret = vus_client_request(c, VUS_CMD_DMA_UNMAP, 0, p, sizeof(p), NULL, 0, &r);
	assert_int_equal(ret, 0);
	ret = r.error > 0 ? -r.error : r.error;
	vus_client_reply_free(&r);
	return ret;
}
