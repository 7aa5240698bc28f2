/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery of the vus-gpio-pci sample as a real process: killed
 * with SIGKILL under vus-supervise, the restarted server continues the
 * same client session (the client library's connection) with the card's
 * registers, latches and PCI config space of the dead one; started by a
 * fake service manager (this test) with a state area that is damaged or
 * of the wrong kind, it starts clean instead. And its live upgrade: a new
 * process takes the running one's place (--take-over) under the client.
 *
 *   test_recover VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpio_util.h"
#include "vtest.h"
#include "vus.h"
#include "vus/client.h"
#include "vus_client_raw.h"

#include "../samples/gpio-pci/idio16.h"

#define WIRE_TEST_HDR 16

static const char *sup_bin, *gpio_bin;

struct server {
	pid_t pid;          /* vus-supervise, or the sample itself */
	char sock[256], rpc[256];
	vus_client *c;
};

static void connect_client(struct server *s)
{
	long long end = vtest_deadline(10000);
	int ret;

	while ((ret = vus_client_connect(s->sock, VTEST_CLIENT_CFG, &s->c)) < 0 &&
	       !vtest_expired(end))
		usleep(2000);
	assert_int_equal(ret, 0);
}

/* vus-supervise around vus-gpio-pci --recover; @kill_at: see recovery.h. */
static void connect_raw(struct server *s)
{
	long long end = vtest_deadline(10000);
	int ret;

	while ((ret = vus_client_connect_raw(s->sock, VTEST_CLIENT_CFG, &s->c)) < 0 &&
	       !vtest_expired(end))
		usleep(2000);
	assert_int_equal(ret, 0);
}

static void supervised_start_env(struct server *s, const char *kill_at)
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

static void supervised_start(struct server *s)
{
	supervised_start_env(s, NULL);
	connect_client(s);
}

static void stop(struct server *s)
{
	int status;

	vus_client_close(s->c);
	s->c = NULL;
	assert_int_equal(kill(s->pid, SIGTERM), 0);
	assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* SIGKILL the supervised server; returns once a new one runs. */
static void crash(struct server *s)
{
	vtest_kill_child(s->pid);
}

static uint8_t reg(struct server *s, unsigned int r)
{
	return gpio_reg(s->c, r);
}

static void set_reg(struct server *s, unsigned int r, uint8_t v)
{
	gpio_set_reg(s->c, r, v);
}

/* Set the card's inputs through its management socket. */
static void set_inputs(struct server *s, const char *params)
{
	json_object_put(gpio_call(s->rpc, "gpio.set-inputs", params));
}

/* The guest's view: BAR placed, I/O on, outputs, IRQ armed and latched. */
static void program_card(struct server *s)
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

static void expect_programmed(struct server *s)
{
	assert_int_equal(reg(s, IDIO16_REG_OUT0_7), 0x5a);
	assert_int_equal(reg(s, IDIO16_REG_OUT8_15), 0xa5);
	assert_int_equal(reg(s, IDIO16_REG_IN8_15), 0x0f);
	assert_int_equal(reg(s, IDIO16_REG_IRQ_STATUS),
			 IDIO16_STATUS_HIGH | IDIO16_STATUS_PENDING);
	assert_int_equal(gpio_cfg32(s->c, 0x18), 0xc001);
	assert_int_equal(gpio_cfg32(s->c, 0x04) & 0xffff, 0x0001);
}

static void session_survives_sigkill(void **state)
{
	struct server s;

	(void)state;
	supervised_start(&s);
	program_card(&s);
	/* Killed between two messages: the same client session goes on,
	 * the client sees nothing. */
	crash(&s);
	expect_programmed(&s);
	/* And again: the restarted server keeps what it is given. */
	set_reg(&s, IDIO16_REG_OUT0_7, 0x33);
	crash(&s);
	assert_int_equal(reg(&s, IDIO16_REG_OUT0_7), 0x33);
	assert_int_equal(reg(&s, IDIO16_REG_OUT8_15), 0xa5);
	stop(&s);
}

/*
 * Killed at each step of handling a message, and of a restart: the
 * client's requests are all answered, the outputs hold what was
 * acknowledged (a request answered with an error may have been applied),
 * and the session goes on. The kill happens once per step (a file marks
 * it); the file proves the step was reached.
 */
static void write_read(struct server *s, uint8_t v)
{
	uint8_t got = 0;
	int ret = vus_client_region_write(s->c, IDIO16_BAR, IDIO16_REG_OUT0_7,
					  &v, 1);

	assert_true(ret == 0 || ret == -EINTR);
	assert_int_equal(vus_client_region_read(s->c, IDIO16_BAR,
						IDIO16_REG_OUT0_7, &got, 1), 0);
	assert_int_equal(got, v); /* applied, even when answered -EINTR */
}

static void killed_at_every_step(void **state)
{
	static const char *const steps[] = {
		"committed", "dequeued", "sending", "written", "sent",
		"inherited", "restored", "resumed",
	};
	/* "taking", "taken": fd_message_killed_*() below. */

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char env[300], flag[256];
		struct server s;
		struct stat st;

		snprintf(flag, sizeof(flag), "%s.killed", vtest_sock_path(steps[i]));
		snprintf(env, sizeof(env), "%s:%s", steps[i], flag);
		unlink(flag);
		supervised_start_env(&s, env);
		connect_client(&s);
		program_card(&s);
		for (int v = 1; v <= 8; v++)
			write_read(&s, (uint8_t)(0x10 * v));
		/* A restart's steps: one more crash gets there. */
		if (i >= 5)
			crash(&s);
		for (int v = 1; v <= 8; v++)
			write_read(&s, (uint8_t)v);
		assert_int_equal(stat(flag, &st), 0);
		assert_int_equal(reg(&s, IDIO16_REG_OUT8_15), 0xa5);
		assert_int_equal(reg(&s, IDIO16_REG_IN8_15), 0x0f);
		stop(&s);
		unlink(flag);
	}
}

/*
 * One reply per request, whatever step the server died at: the second
 * message of the session (a REGION_WRITE, sent as raw bytes) kills the
 * server at @point; the messages that reach the client before the reply
 * to the REGION_READ behind it are exactly the two replies, in order.
 */
static void raw_rw(vus_client *c, uint16_t id, uint16_t cmd, uint8_t v)
{
	uint8_t b[WIRE_TEST_HDR + 17] = { 0 };
	uint32_t size = cmd == VUS_CMD_REGION_WRITE ? 33 : 32, region = IDIO16_BAR;
	uint32_t count = 1;

	memcpy(b, &id, 2);
	memcpy(b + 2, &cmd, 2);
	memcpy(b + 4, &size, 4);
	memcpy(b + 16 + 8, &region, 4);
	memcpy(b + 16 + 12, &count, 4);
	b[32] = v;
	assert_int_equal(vus_client_send_raw(c, b, size, NULL, 0), 0);
}

static void one_reply_per_request(const char *point)
{
	char env[300], flag[256];
	struct vus_client_reply r;
	struct server s;
	struct stat st;
	uint16_t id;

	snprintf(flag, sizeof(flag), "%s.killed", vtest_sock_path(point));
	snprintf(env, sizeof(env), "%s@2:%s", point, flag);
	unlink(flag);
	supervised_start_env(&s, env);
	connect_raw(&s);
	assert_int_equal(vus_client_negotiate_ours(s.c, 0, 0), 0);
	id = vus_client_next_id(s.c);
	raw_rw(s.c, id, VUS_CMD_REGION_WRITE, 0x77);
	raw_rw(s.c, (uint16_t)(id + 1), VUS_CMD_REGION_READ, 0);
	assert_int_equal(vus_client_recv(s.c, &r, vtest_ms(10000)), 0);
	assert_int_equal(r.msg_id, id);
	/* Answered with an error only when it died sending a reply. */
	assert_true(r.error == 0 || (r.error == EINTR && strcmp(point, "sending") == 0));
	vus_client_reply_free(&r);
	assert_int_equal(vus_client_recv(s.c, &r, vtest_ms(10000)), 0);
	/* Died after writing the reply, before noting it: the new process
	 * cannot tell, and adds a bare error header, which a client drops
	 * as a reply to nothing; never a second reply with a payload. */
	if (strcmp(point, "written") == 0) {
		assert_int_equal(r.msg_id, id);
		assert_int_equal(r.error, EINTR);
		assert_int_equal(r.len, 0);
		vus_client_reply_free(&r);
		assert_int_equal(vus_client_recv(s.c, &r, vtest_ms(10000)), 0);
	}
	assert_int_equal(r.msg_id, (uint16_t)(id + 1));
	assert_int_equal(r.error, 0);
	assert_int_equal(r.len, 17);
	assert_int_equal(r.payload[16], 0x77);
	vus_client_reply_free(&r);
	assert_int_equal(stat(flag, &st), 0);
	stop(&s);
	unlink(flag);
}

static void one_reply_per_request_killed_committed(void **state)
{
	(void)state;
	one_reply_per_request("committed");
}

static void one_reply_per_request_killed_dequeued(void **state)
{
	(void)state;
	one_reply_per_request("dequeued");
}

static void one_reply_per_request_killed_sending(void **state)
{
	(void)state;
	one_reply_per_request("sending");
}

static void one_reply_per_request_killed_written(void **state)
{
	(void)state;
	one_reply_per_request("written");
}

static void one_reply_per_request_killed_sent(void **state)
{
	(void)state;
	one_reply_per_request("sent");
}

/*
 * A message with fds (SET_IRQS binding INTx's eventfd) is taken out of
 * the socket before it is handled, its fds with it. Killed just before:
 * it is still there and handled anew. Killed just after: its fds died
 * with the process, so it is answered with an error; bound again, INTx
 * works.
 */
static void fd_message_killed(const char *point, int first_ret)
{
	char env[300], flag[256];
	struct server s;
	struct stat st;
	int ret;

	snprintf(flag, sizeof(flag), "%s.killed", vtest_sock_path(point));
	snprintf(env, sizeof(env), "%s:%s", point, flag);
	unlink(flag);
	supervised_start_env(&s, env);
	connect_client(&s);
	(void)reg(&s, IDIO16_REG_IRQ_CTL); /* reading it enables the IRQ */
	ret = vus_client_irq_enable(s.c, VUS_PCI_IRQ_INTX, 1);
	assert_int_equal(ret, first_ret);
	assert_int_equal(stat(flag, &st), 0);
	if (ret < 0)
		assert_int_equal(vus_client_irq_enable(s.c, VUS_PCI_IRQ_INTX, 1), 0);
	set_inputs(&s, "{\"inputs\":3840}");
	assert_true(vus_client_irq_wait(s.c, VUS_PCI_IRQ_INTX, 0, vtest_ms(5000)) >= 1);
	stop(&s);
	unlink(flag);
}

static void fd_message_killed_before_taking_its_fds(void **state)
{
	(void)state;
	fd_message_killed("taking", 0);
}

static void fd_message_killed_after_taking_its_fds(void **state)
{
	(void)state;
	fd_message_killed("taken", -EINTR);
}

/*
 * Kills under load: a thread SIGKILLs the server at random moments (also
 * while a restarted one is still recovering) while the client writes and
 * reads the outputs. Every request is answered -- with its reply, or with
 * an error when the server died handling it -- and never waits out the
 * client's timeout; a read returns the last value acknowledged, or one
 * whose write was answered with an error (it may have been applied).
 */
struct killer {
	pid_t sup;
	int kills;
	volatile bool done;
	unsigned int seed;
};

static void *kill_loop(void *arg)
{
	struct killer *k = arg;
	pid_t last = 0;

	while (!k->done && k->kills < 40) {
		pid_t now = vtest_child_of(k->sup);

		if (now == 0 || now == last) {
			usleep(200);
			continue;
		}
		/* Anywhere from at once (mid-recovery) to several messages in. */
		usleep((useconds_t)(rand_r(&k->seed) % 8000));
		if (kill(now, SIGKILL) == 0)
			k->kills++;
		last = now;
	}
	return NULL;
}

static void random_kills_under_load(void **state)
{
	struct killer k = { .seed = (unsigned int)getpid() };
	unsigned int acked = 0, maybe = 0, errors = 0, ops = 0;
	struct server s;
	pthread_t th;

	(void)state;
	supervised_start(&s);
	k.sup = s.pid;
	assert_int_equal(pthread_create(&th, NULL, kill_loop, &k), 0);
	while (k.kills < 40) {
		uint8_t v = (uint8_t)(ops++ & 0xff), got = 0;
		int ret = vus_client_region_write(s.c, IDIO16_BAR,
						  IDIO16_REG_OUT0_7, &v, 1);

		assert_true(ret == 0 || ret == -EINTR);
		if (ret == 0) {
			acked = v;
			maybe = v;
		} else {
			maybe = v;
			errors++;
		}
		ret = vus_client_region_read(s.c, IDIO16_BAR, IDIO16_REG_OUT0_7,
					     &got, 1);
		assert_true(ret == 0 || ret == -EINTR);
		if (ret == 0) {
			assert_true(got == acked || got == maybe);
			acked = maybe = got;
		} else {
			errors++;
		}
	}
	k.done = true;
	pthread_join(th, NULL);
	/* Answered: the last one killed has a successor, which stop() ends. */
	(void)reg(&s, IDIO16_REG_OUT0_7);
	fprintf(stderr, "random kills: %d kills, %u writes, %u error replies\n",
		k.kills, ops, errors);
	stop(&s);
}

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

/*
 * DMA_MAP of a new memfd by message, past the client library's own overlap
 * check; @file (if not NULL) gets the memfd's identity.
 */
static int raw_dma_map_file(vus_client *c, uint64_t addr, uint64_t size,
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

static int vtest_raw_dma_map(vus_client *c, uint64_t addr, uint64_t size)
{
	return raw_dma_map_file(c, addr, size, NULL);
}

/*
 * What the client gave the dead process is the restarted one's: its DMA
 * mapping (the same range again is refused as mapped, and the one mapped
 * after a restart is kept too) and its INTx eventfd (the card's next
 * interrupt reaches the eventfd bound before the crash).
 */
static void intx_fires(struct server *s, unsigned int inputs)
{
	char params[64];

	snprintf(params, sizeof(params), "{\"inputs\":%u}", inputs);
	/* Answered: a restarted server serves its management socket too. */
	(void)reg(s, IDIO16_REG_IN0_7);
	set_inputs(s, params);
	assert_true(vus_client_irq_wait(s->c, VUS_PCI_IRQ_INTX, 0,
					vtest_ms(10000)) >= 1);
	set_reg(s, IDIO16_REG_IRQ_STATUS, 0); /* any write clears it */
	/* INTx masks itself when it fires, until the guest unmasks it. */
	assert_int_equal(vus_client_irq_mask(s->c, VUS_PCI_IRQ_INTX, 0, 1, false), 0);
}

static void client_memory_and_interrupts_survive(void **state)
{
	const uint64_t a = 0x100000, b = 0x200000, len = 0x10000;
	struct server s;
	void *mem;

	(void)state;
	supervised_start(&s);
	program_card(&s);
	set_reg(&s, IDIO16_REG_IRQ_STATUS, 0);
	assert_int_equal(vus_client_irq_enable(s.c, VUS_PCI_IRQ_INTX, 1), 0);
	assert_int_equal(vus_client_dma_map_memfd(s.c, a, len,
						  VUS_CLIENT_DMA_READ | VUS_CLIENT_DMA_WRITE,
						  &mem), 0);
	intx_fires(&s, 1);
	crash(&s);
	intx_fires(&s, 3);
	/* Still mapped in the new process: the same range is refused. */
	assert_int_equal(vtest_raw_dma_map(s.c, a, len), -EEXIST);
	assert_int_equal(vus_client_dma_map_memfd(s.c, b, len,
						  VUS_CLIENT_DMA_READ, &mem), 0);
	crash(&s);
	assert_int_equal(vtest_raw_dma_map(s.c, a, len), -EEXIST);
	assert_int_equal(vtest_raw_dma_map(s.c, b, len), -EEXIST);
	intx_fires(&s, 7);
	/* Unmapped, then killed: gone in the next process too. */
	assert_int_equal(vus_client_dma_unmap(s.c, b, len), 0);
	crash(&s);
	assert_int_equal(vtest_raw_dma_map(s.c, b, len), 0);
	intx_fires(&s, 15);
	stop(&s);
}

/* How many of process @pid's fds are open on @file. */
static int fds_on(pid_t pid, const struct stat *file)
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

/*
 * How many client fds ("vus.gpio-pci.fd.<id>") the supervisor handed its
 * running child, which has answered a request (so it runs the sample):
 * its $LISTEN_FDNAMES, as the supervisor set it from its store.
 */
static int client_fds_handed_over(pid_t sup)
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

/*
 * Killed when a DMA_MAP's file was in the store under its new id but the
 * commit naming it was not made: the request is answered with an error
 * (its fd died with the process), the restarted process removes the spare
 * from the store, and the range maps again (and is kept). What the store
 * holds is read where the supervisor cannot lag behind: the names it gave
 * a child it started (it takes a dead child's last messages before it
 * starts the next one), and its fds after that restart. Counting its fds
 * while it may still be handling the child's messages is not.
 */
static void spare_fds_are_swept(void **state)
{
	char env[300], flag[256];
	struct stat st, spare, kept;
	struct server s;

	(void)state;
	snprintf(flag, sizeof(flag), "%s.killed", vtest_sock_path("stored"));
	snprintf(env, sizeof(env), "stored@2:%s", flag);
	unlink(flag);
	supervised_start_env(&s, env);
	connect_client(&s);
	(void)reg(&s, IDIO16_REG_OUT0_7);
	assert_int_equal(raw_dma_map_file(s.c, 0x100000, 0x10000, &spare), -EINTR);
	assert_int_equal(stat(flag, &st), 0);
	/* The spare was stored: the restarted process was handed it. */
	assert_int_equal(client_fds_handed_over(s.pid), 1);
	assert_int_equal(raw_dma_map_file(s.c, 0x100000, 0x10000, &kept), 0);
	crash(&s);
	assert_int_equal(vtest_raw_dma_map(s.c, 0x100000, 0x10000), -EEXIST);
	/* Swept: the next restart hands over the mapping's file alone, and
	 * the supervisor holds no fd of the spare's. */
	assert_int_equal(client_fds_handed_over(s.pid), 1);
	assert_int_equal(fds_on(s.pid, &spare), 0);
	assert_int_equal(fds_on(s.pid, &kept), 1);
	stop(&s);
	unlink(flag);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(session_survives_sigkill),
		VTEST(killed_at_every_step),
		VTEST(one_reply_per_request_killed_committed),
		VTEST(one_reply_per_request_killed_dequeued),
		VTEST(one_reply_per_request_killed_sending),
		VTEST(one_reply_per_request_killed_written),
		VTEST(one_reply_per_request_killed_sent),
		VTEST(fd_message_killed_before_taking_its_fds),
		VTEST(fd_message_killed_after_taking_its_fds),
		VTEST(client_memory_and_interrupts_survive),
		VTEST(spare_fds_are_swept),
		VTEST(random_kills_under_load),
		VTEST(kept_area_restores_outputs),
		VTEST(damaged_area_starts_clean),
		VTEST(wrong_kind_of_area_starts_clean),
		VTEST(session_survives_a_take_over),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s VUS_SUPERVISE VUS_GPIO_PCI [TEST]\n",
			argv[0]);
		return 2;
	}
	sup_bin = argv[1];
	gpio_bin = argv[2];
	return vtest_run("recover", tests, argc - 2, argv + 2);
}
