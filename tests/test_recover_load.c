/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery of the vus-gpio-pci sample under load: the server is
 * SIGKILLed under vus-supervise at random moments while a client keeps
 * writing and reading the card's outputs.
 *
 *   test_recover_load VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
 */
#include <pthread.h>
#include <signal.h>
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(random_kills_under_load),
	};

	return recover_main("recover_load", tests, argc, argv);
}
