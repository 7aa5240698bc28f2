/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client interrupt tests against a real server: IRQ info, binding in runs
 * split by the server's max_msg_fds (as QEMU does), loop-back triggers,
 * level-triggered AUTOMASKED semantics with unmask by message and by
 * eventfd, disable, and waiting.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "test_client_util.h"
#include "vtest.h"
#include "vus_client_raw.h"

static void irq_info(void **state)
{
	struct vus_client_irq_info ii = { .struct_size = sizeof(ii) };
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	assert_int_equal(vus_client_irq_info(c, TC_IRQ_LEVEL, &ii), 0);
	assert_int_equal(ii.count, 1);
	assert_int_equal(ii.flags, VUS_CLIENT_IRQ_EVENTFD |
			 VUS_CLIENT_IRQ_MASKABLE | VUS_CLIENT_IRQ_AUTOMASKED);
	assert_int_equal(vus_client_irq_info(c, TC_IRQ_EDGE, &ii), 0);
	assert_int_equal(ii.count, TC_IRQ_EDGE_N);
	assert_int_equal(ii.flags, VUS_CLIENT_IRQ_EVENTFD);
	assert_int_equal(vus_client_irq_info(c, 5, &ii), -EINVAL);
	tc_teardown(&d, c);
}

static void bind_splits_runs_by_max_msg_fds(void **state)
{
	struct vus_trace_event ev[8];
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	int fds[TC_IRQ_EDGE_N];
	unsigned int mark;

	for (unsigned int i = 0; i < TC_IRQ_EDGE_N; i++)
		fds[i] = tc_eventfd();
	close(fds[5]);
	close(fds[6]);
	fds[5] = fds[6] = -1;
	mark = tc_mark(&d);
	assert_int_equal(vus_client_irq_bind(c, TC_IRQ_EDGE, 0, TC_IRQ_EDGE_N,
					     fds), 0);
	/* Valid 0-3 (the server takes 4 fds), valid 4, unbind 5-6, valid 7. */
	assert_int_equal(tc_find(&d, mark, VUS_CMD_DEVICE_SET_IRQS, ev, 8), 4);
	assert_int_equal(ev[0].nr_fds, 4);
	assert_int_equal(ev[1].nr_fds, 1);
	assert_int_equal(ev[2].nr_fds, 0);
	assert_int_equal(ev[3].nr_fds, 1);
	for (unsigned int i = 0; i < TC_IRQ_EDGE_N; i++)
		assert_int_equal(vus_irq_is_bound(d.ctx, TC_IRQ_EDGE, i),
				 fds[i] >= 0);
	/* The server has its own copies: ours are still ours. */
	assert_int_equal(vus_irq_trigger(d.ctx, TC_IRQ_EDGE, 7), 1);
	assert_int_equal(tc_eventfd_count(fds[7]), 1);
	/* NULL unbinds the range in one message. */
	mark = tc_mark(&d);
	assert_int_equal(vus_client_irq_bind(c, TC_IRQ_EDGE, 0, 4, NULL), 0);
	assert_int_equal(tc_find(&d, mark, VUS_CMD_DEVICE_SET_IRQS, ev, 8), 1);
	assert_false(vus_irq_is_bound(d.ctx, TC_IRQ_EDGE, 0));
	assert_true(vus_irq_is_bound(d.ctx, TC_IRQ_EDGE, 4));
	/* Out of range is the server's to refuse; count 0 is ours. */
	assert_int_equal(vus_client_irq_bind(c, TC_IRQ_EDGE, 7, 2, fds), -EINVAL);
	assert_int_equal(vus_client_irq_bind(c, TC_IRQ_EDGE, 0, 0, fds), -EINVAL);
	for (unsigned int i = 0; i < TC_IRQ_EDGE_N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	tc_teardown(&d, c);
}

static void trigger_loops_back(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 0, vtest_ms(0)), -ENOENT);
	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_EDGE, TC_IRQ_EDGE_N), 0);
	assert_int_equal(vus_client_irq_trigger(c, TC_IRQ_EDGE, 2, 2), 0);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 2, vtest_ms(1000)), 1);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_EDGE, 3), 1);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_EDGE, 4), 0);
	/* The device raises a vector from its own thread. */
	assert_int_equal(vus_irq_trigger(d.ctx, TC_IRQ_EDGE, 5), 1);
	assert_int_equal(vus_irq_trigger(d.ctx, TC_IRQ_EDGE, 5), 1);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 5, vtest_ms(1000)), 2);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 5, vtest_ms(20)), -ETIMEDOUT);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_EDGE, TC_IRQ_EDGE_N),
			 -EINVAL);
	assert_int_equal(vus_client_irq_trigger(c, TC_IRQ_EDGE, 0, 0), -EINVAL);
	/* Enabling again replaces the eventfds. */
	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_EDGE, 2), 0);
	assert_int_equal(vus_irq_trigger(d.ctx, TC_IRQ_EDGE, 1), 1);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_EDGE, 1, vtest_ms(1000)), 1);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_EDGE, 2), -EINVAL);
	tc_teardown(&d, c);
}

static void level_is_automasked_until_unmask(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_LEVEL, 1), 0);
	assert_int_equal(vus_irq_set_level(d.ctx, TC_IRQ_LEVEL, 0, true), 1);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(1000)), 1);
	/* Fired once and masked itself: a message loop-back stays pending. */
	assert_int_equal(vus_client_irq_trigger(c, TC_IRQ_LEVEL, 0, 1), 0);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_LEVEL, 0), 0);
	/* Unmask while the line is still up: it fires again, and masks. */
	assert_int_equal(vus_client_irq_mask(c, TC_IRQ_LEVEL, 0, 1, false), 0);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(1000)), 1);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_LEVEL, 0), 0);
	/* Line lowered: unmask brings nothing. */
	assert_int_equal(vus_irq_set_level(d.ctx, TC_IRQ_LEVEL, 0, false), 0);
	assert_int_equal(vus_client_irq_mask(c, TC_IRQ_LEVEL, 0, 1, false), 0);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_LEVEL, 0), 0);
	/* Masked by message: a raise waits for the unmask. */
	assert_int_equal(vus_client_irq_mask(c, TC_IRQ_LEVEL, 0, 1, true), 0);
	assert_int_equal(vus_irq_set_level(d.ctx, TC_IRQ_LEVEL, 0, true), 0);
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_LEVEL, 0), 0);
	assert_int_equal(vus_client_irq_mask(c, TC_IRQ_LEVEL, 0, 1, false), 0);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(1000)), 1);
	/* Edge indexes are not maskable: the server says so. */
	assert_int_equal(vus_client_irq_mask(c, TC_IRQ_EDGE, 0, 1, true), -EINVAL);
	tc_teardown(&d, c);
}

/* Wait until the server has read (cleared) an eventfd we signalled. */
static void wait_consumed(int fd)
{
	for (long long end = vtest_deadline(5000); !vtest_expired(end);) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 0) == 0)
			return;
		usleep(10000);
	}
	fail_msg("the server never read the eventfd");
}

static void unmask_eventfd_resamples(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);
	int resample = tc_eventfd();

	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_LEVEL, 1), 0);
	assert_int_equal(vus_client_irq_bind_mask_fd(c, TC_IRQ_LEVEL, 0,
						     resample, true), 0);
	assert_int_equal(vus_irq_set_level(d.ctx, TC_IRQ_LEVEL, 0, true), 1);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(1000)), 1);
	/* Like KVM at guest EOI: signal the resample fd; still raised, so
	 * the server fires again. */
	assert_int_equal(write(resample, &(uint64_t){ 1 }, 8), 8);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(1000)), 1);
	/* Lowered: the next resample unmasks but brings nothing. */
	assert_int_equal(vus_irq_set_level(d.ctx, TC_IRQ_LEVEL, 0, false), 0);
	assert_int_equal(write(resample, &(uint64_t){ 1 }, 8), 8);
	wait_consumed(resample);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(100)), -ETIMEDOUT);
	/* Unbound (fd -1): signalling it no longer unmasks. */
	assert_int_equal(vus_client_irq_bind_mask_fd(c, TC_IRQ_LEVEL, 0, -1,
						     true), 0);
	assert_int_equal(vus_irq_set_level(d.ctx, TC_IRQ_LEVEL, 0, true), 1);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(1000)), 1);
	assert_int_equal(write(resample, &(uint64_t){ 1 }, 8), 8);
	assert_int_equal(vus_client_irq_wait(c, TC_IRQ_LEVEL, 0, vtest_ms(100)), -ETIMEDOUT);
	close(resample);
	tc_teardown(&d, c);
}

static void disable_unbinds_everything(void **state)
{
	struct tc_dev d;
	vus_client *c = tc_setup(&d);

	assert_int_equal(vus_client_irq_enable(c, TC_IRQ_EDGE, TC_IRQ_EDGE_N), 0);
	for (unsigned int i = 0; i < TC_IRQ_EDGE_N; i++)
		assert_true(vus_irq_is_bound(d.ctx, TC_IRQ_EDGE, i));
	assert_int_equal(vus_client_irq_disable(c, TC_IRQ_EDGE), 0);
	for (unsigned int i = 0; i < TC_IRQ_EDGE_N; i++)
		assert_false(vus_irq_is_bound(d.ctx, TC_IRQ_EDGE, i));
	/* Our eventfds went with it. */
	assert_int_equal(vus_client_irq_poll(c, TC_IRQ_EDGE, 0), -ENOENT);
	assert_int_equal(vus_irq_trigger(d.ctx, TC_IRQ_EDGE, 0), 0);
	tc_teardown(&d, c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(irq_info),
		VTEST(bind_splits_runs_by_max_msg_fds),
		VTEST(trigger_loops_back),
		VTEST(level_is_automasked_until_unmask),
		VTEST(unmask_eventfd_resamples),
		VTEST(disable_unbinds_everything),
	};

	return vtest_run("client_irq", tests, argc, argv);
}
