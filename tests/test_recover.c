/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery of the vus-gpio-pci sample as a real process, killed
 * with SIGKILL under vus-supervise between messages and at each step of
 * handling one (a kill point the library reaches, $VUS_TEST_KILL_AT): the
 * restarted server continues the same client session with the card's
 * registers, latches and PCI config space of the dead one, and every
 * request gets exactly one reply.
 *
 *   test_recover VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_recover_util.h"
#include "vus.h"
#include "vus/client.h"
#include "vus_client_raw.h"

#include "../samples/gpio-pci/idio16.h"

#define WIRE_TEST_HDR 16

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
	};

	return recover_main("recover", tests, argc, argv);
}
