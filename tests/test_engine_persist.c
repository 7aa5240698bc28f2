/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device outlives its client: one client after another on a listening
 * socket. What the first client leaves behind (masks, pending vectors,
 * levels) is there for the next, what was the first client's (its
 * eventfds, its memory) is gone and never touched again, and the device is
 * told at the right moment. VUS_CTX_RESET_ON_DISCONNECT brings back the
 * reset for devices that ask for it.
 *
 * The second client's negotiation is the synchronisation point: the
 * server takes the next client from its backlog only once the teardown of
 * the previous one is complete.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tserver.h"
#include "vtest.h"

static struct peer_msg *m;
static struct tserver s;
static const char *path;

/* What the device saw when client_lost ran (see lost_probe). */
static struct {
	int quiesced; /* quiesces minus resumes */
	unsigned int unmaps;
	unsigned int regions;
	bool bound;
} at_lost;

static void start(bool reset_opt_in)
{
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	path = vtest_sock_path("persist");
	tserver_start(&s, &(struct tserver_opts){
		.listen_path = path, .with_quiesce = true,
		.reset_on_disconnect = reset_opt_in });
	peer_connect(&s, path, true);
}

static void stop(void)
{
	tserver_stop(&s);
	free(m);
}

/* The next client: by the time it is answered, the last one is gone. */
static void next_client(void)
{
	close(s.peer);
	s.peer = -1;
	peer_connect(&s, path, true);
}

static int set_irqs(uint32_t flags, uint32_t index, uint32_t start_vec,
		    uint32_t count, const int *fds, unsigned int nfds)
{
	struct wire_irq_set q = { .argsz = sizeof(q), .flags = flags,
				  .index = index, .start = start_vec,
				  .count = count };

	return peer_call(&s, WIRE_CMD_DEVICE_SET_IRQS, &q, sizeof(q), fds, nfds,
			 m);
}

static int bind_triggers(uint32_t index, int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(fds[i] >= 0);
	}
	return set_irqs(WIRE_IRQ_ACTION_TRIGGER | WIRE_IRQ_DATA_EVENTFD, index,
			0, n, fds, n);
}

static uint64_t events(int fd)
{
	eventfd_t v = 0;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

static void close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

static int dma_map_memfd(uint64_t addr, uint64_t size)
{
	struct wire_dma_map q = { .argsz = sizeof(q), .flags = 3, .addr = addr,
				  .size = size };
	int fd = memfd_create("persist-ram", MFD_CLOEXEC), ret;

	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	ret = peer_call(&s, WIRE_CMD_DMA_MAP, &q, sizeof(q), &fd, 1, m);
	close(fd);
	return ret;
}

/*
 * A masked level line, an edge vector raised while nobody listens, and a
 * raised level: the next client finds each as it was left, and the first
 * client's eventfds never hear a thing after it left.
 */
static void next_client_finds_masks_pending_and_levels(void **state)
{
	int old[4], old_line, new[4], new_line;

	(void)state;
	start(false);
	assert_int_equal(bind_triggers(0, &old_line, 1), 0);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_MASK | WIRE_IRQ_DATA_NONE, 0,
				  0, 1, NULL, 0), 0);
	assert_int_equal(bind_triggers(1, old, 4), 0);
	next_client();
	assert_int_equal(s.dev.client_losts, 1);
	/* Raised with nobody bound: pending, not lost. */
	assert_int_equal(vus_irq_trigger(s.ctx, 1, 2), 0);
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, true), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(events(old[i]), 0);
	assert_int_equal(events(old_line), 0);
	/* Binding fires what is pending, and only that. */
	assert_int_equal(bind_triggers(1, new, 4), 0);
	assert_int_equal(events(new[0]), 0);
	assert_int_equal(events(new[1]), 0);
	assert_int_equal(events(new[2]), 1);
	assert_int_equal(events(new[3]), 0);
	/* The line is still masked; the unmask brings the raised level. */
	assert_int_equal(bind_triggers(0, &new_line, 1), 0);
	assert_int_equal(events(new_line), 0);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_NONE, 0,
				  0, 1, NULL, 0), 0);
	assert_int_equal(events(new_line), 1);
	assert_int_equal(events(old_line), 0);
	assert_int_equal(s.dev.resets, 0);
	close_all(old, 4);
	close_all(new, 4);
	close(old_line);
	close(new_line);
	stop();
}

/* Everything the first client sent is closed when it goes, not later. */
static void the_clients_fds_go_with_it(void **state)
{
	int fds[4], unmask, before;

	(void)state;
	start(false);
	before = vtest_count_fds();
	assert_int_equal(dma_map_memfd(0x100000, 0x4000), 0);
	assert_int_equal(bind_triggers(1, fds, 4), 0);
	unmask = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_UNMASK | WIRE_IRQ_DATA_EVENTFD,
				  0, 0, 1, &unmask, 1), 0);
	close_all(fds, 4);
	close(unmask);
	assert_true(vtest_count_fds() > before); /* the server's copies */
	next_client();
	assert_int_equal(vtest_count_fds(), before);
	assert_int_equal(vus_dma_nr_regions(s.ctx), 0);
	assert_false(vus_irq_is_bound(s.ctx, 1, 0));
	stop();
}

static void lost_probe(struct tdev *d)
{
	at_lost.quiesced = (int)d->quiesces - (int)d->resumes;
	at_lost.unmaps = d->unmaps;
	at_lost.regions = vus_dma_nr_regions(d->ctx);
	at_lost.bound = vus_irq_is_bound(d->ctx, 1, 0);
}

/* client_lost runs quiesced, after the unmaps, with no eventfd left. */
static void the_device_is_told_quiesced_after_the_unmaps(void **state)
{
	int fds[4];

	(void)state;
	start(false);
	s.dev.lost_hook = lost_probe;
	assert_int_equal(dma_map_memfd(0x100000, 0x4000), 0);
	assert_int_equal(dma_map_memfd(0x200000, 0x4000), 0);
	assert_int_equal(bind_triggers(1, fds, 4), 0);
	close_all(fds, 4);
	next_client();
	assert_int_equal(s.dev.client_losts, 1);
	assert_int_equal(at_lost.quiesced, 1);
	assert_int_equal(at_lost.unmaps, 2);
	assert_int_equal(at_lost.regions, 0);
	assert_false(at_lost.bound);
	/* And resumed afterwards, as often as it was quiesced. */
	assert_int_equal(s.dev.quiesces, s.dev.resumes);
	assert_int_equal(s.dev.resets, 0);
	stop();
}

/* The opt-in: reset with VUS_RESET_DISCONNECT, masks and pending cleared. */
static void reset_on_disconnect_is_an_opt_in(void **state)
{
	int line, fds[4];

	(void)state;
	start(true);
	assert_int_equal(bind_triggers(0, &line, 1), 0);
	assert_int_equal(set_irqs(WIRE_IRQ_ACTION_MASK | WIRE_IRQ_DATA_NONE, 0,
				  0, 1, NULL, 0), 0);
	close(line);
	next_client();
	assert_int_equal(s.dev.client_losts, 0);
	assert_int_equal(s.dev.disconnect_resets, 1);
	assert_int_equal(vus_irq_trigger(s.ctx, 1, 2), 0);
	assert_int_equal(vus_irq_set_level(s.ctx, 0, 0, true), 0);
	/* Pending survives the reset of a later client... */
	assert_int_equal(bind_triggers(1, fds, 4), 0);
	assert_int_equal(events(fds[2]), 1);
	/* ...but the mask did not survive the first one's. */
	assert_int_equal(bind_triggers(0, &line, 1), 0);
	assert_int_equal(events(line), 1);
	close_all(fds, 4);
	close(line);
	stop();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(next_client_finds_masks_pending_and_levels),
		VTEST(the_clients_fds_go_with_it),
		VTEST(the_device_is_told_quiesced_after_the_unmaps),
		VTEST(reset_on_disconnect_is_an_opt_in),
	};

	return vtest_run("engine_persist", tests, argc, argv);
}
