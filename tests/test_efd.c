/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * efd: signalling and draining an eventfd whose description the other
 * side made blocking. Each call runs on a helper thread that must come
 * back: a blocking write() or read() would not, and the test then ends
 * the block itself (reads or fills the counter) before failing, so a
 * regression fails instead of hanging.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "efd.h"
#include "vtest.h"

struct call {
	int fd;
	bool drain;
	int ret;
	uint64_t val;
};

static void *run(void *arg)
{
	struct call *c = arg;

	c->ret = c->drain ? efd_drain(c->fd, &c->val) : efd_signal(c->fd);
	return NULL;
}

/* Run @c on a thread; whether it came back within a (scaled) second. */
static bool returns(struct call *c)
{
	struct timespec ts;
	pthread_t th;
	int ret;

	assert_int_equal(pthread_create(&th, NULL, run, c), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += vtest_ms(1000) / 1000 + 1;
	ret = pthread_timedjoin_np(th, NULL, &ts);
	if (ret == 0)
		return true;
	/* Unblock it: empty the counter a write waits on, or fill the one
	 * a read waits on. */
	if (c->drain)
		(void)eventfd_write(c->fd, 1);
	else
		(void)eventfd_read(c->fd, &(eventfd_t){ 0 });
	pthread_join(th, NULL);
	return false;
}

/* Red team, issue 10: a client's blocking eventfd, counter at its
 * maximum, made the server's next interrupt block the thread for good. */
static void signal_into_a_full_blocking_counter_returns(void **state)
{
	struct call c = { .fd = eventfd(0, EFD_CLOEXEC) }; /* blocking */
	eventfd_t v;

	(void)state;
	assert_true(c.fd >= 0);
	assert_int_equal(eventfd_write(c.fd, 0xfffffffffffffffeull), 0);
	assert_true(returns(&c));
	/* Merged with the pending ones (or dropped, without AIO): the reader
	 * still sees a full counter, never a wrapped one. */
	assert_true(c.ret == 0 || c.ret == -EAGAIN);
	assert_int_equal(eventfd_read(c.fd, &v), 0);
	assert_true(v >= 0xfffffffffffffffeull);
	/* An ordinary signal arrives as 1. */
	assert_true(returns(&c));
	assert_int_equal(c.ret, 0);
	assert_int_equal(eventfd_read(c.fd, &v), 0);
	assert_int_equal(v, 1);
	close(c.fd);
}

/* A client that drains its mask eventfd between our wake-up and our read
 * must not leave the context thread blocked in that read. */
static void drain_of_an_empty_blocking_counter_returns(void **state)
{
	struct call c = { .fd = eventfd(0, EFD_CLOEXEC), .drain = true };

	(void)state;
	assert_true(c.fd >= 0);
	assert_true(returns(&c));
	assert_int_equal(c.ret, 0);
	assert_int_equal(c.val, 0);
	assert_int_equal(eventfd_write(c.fd, 5), 0);
	assert_true(returns(&c));
	assert_int_equal(c.ret, 0);
	assert_int_equal(c.val, 5);
	close(c.fd);
}

/* Not an eventfd: refused or written, never a hang (efd_signal's callers
 * only hold eventfds; this is its fallback). */
static void signal_of_a_pipe_does_not_hang(void **state)
{
	int p[2];
	struct call c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	c = (struct call){ .fd = p[1] };
	assert_true(returns(&c));
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(signal_into_a_full_blocking_counter_returns),
		VTEST(drain_of_an_empty_blocking_counter_returns),
		VTEST(signal_of_a_pipe_does_not_hang),
	};

	return vtest_run("efd", tests, argc, argv);
}
