/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery of the vus-gpio-pci sample under load: the server is
 * SIGKILLed under vus-supervise at random moments, or at seeded points
 * counted in acknowledged requests, while a client keeps writing and
 * reading the card's outputs (and, seeded, moving a DMA mapping).
 *
 *   test_recover_load VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
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

/*
 * Seeded kills under load: the supervised server is SIGKILLed ROUNDS
 * times, each time once the client has had a pseudo-random number
 * (1..GAP) of requests acknowledged since the last kill, so it dies with
 * a request in flight or between two, handling a write, a read, a DMA_MAP
 * with its fd or a DMA_UNMAP. The seed is printed ($VUS_TEST_SEED sets
 * it: the kill points repeat, the scheduling around them does not).
 * Meanwhile the client writes a counter sequence to the outputs, posted
 * and answered in turn, each read back, and moves one DMA mapping between
 * two ranges (a fresh memfd each time). Checked:
 *   - every request is answered, with success or EINTR (the server died
 *     handling it), within the client's (scaled) timeout: nothing hangs;
 *   - every read returns the last value written: a write answered with
 *     success or EINTR was applied, and a posted one before the read;
 *   - the store holds the client's fds of the committed state and no
 *     other: after a last restart, the supervisor hands over one client
 *     fd, of the mapped file, and holds no fd of the files unmapped or
 *     refused on the way.
 * No wall-clock deadline: the kills follow the acknowledgements. Nor
 * does the test's size depend on the scheduler: the client waits for the
 * kill once it is a GAP past the kill point, so a round is at most
 * 2 * GAP acknowledged requests, however late the killing thread runs
 * (without that wait a starved killer let the client run thousands of
 * steps, and map a file every 16, past SEEDED_FILES).
 */
#define SEEDED_ROUNDS 16
#define SEEDED_GAP 40
#define SEEDED_FILES 256
#define SEEDED_MAP_SIZE 0x10000ull

struct seeded {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int acks, kills, seed;
	unsigned int ack_limit;      /* the client waits for a kill here */
	bool done;                   /* read with __atomic outside the lock */
	pid_t sup;
	/* The client's side (the test thread only). */
	uint8_t out;                 /* the last value written */
	struct stat files[SEEDED_FILES];
	bool cand[SEEDED_FILES];     /* it may be the live mapping's file */
	unsigned int nr_files, applied_anyway, map_eintr;
	uint64_t map_addr;
};

static void seeded_acked(struct seeded *k, int ret)
{
	assert_true(ret == 0 || ret == -EINTR);
	if (ret != 0)
		return;
	pthread_mutex_lock(&k->lock);
	k->acks++;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

/* The supervisor's child: its children file is one read, /proc a scan. */
static pid_t seeded_child(pid_t sup)
{
	char path[96], buf[64] = "";
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup,
		 (int)sup);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vtest_child_of(sup); /* a kernel without it */
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return (pid_t)atoi(buf);
}

/* The supervisor's child other than @last, once it has one. */
static pid_t seeded_next_child(struct seeded *k, pid_t last)
{
	pid_t now = 0;

	while (!__atomic_load_n(&k->done, __ATOMIC_ACQUIRE) &&
	       ((now = seeded_child(k->sup)) == 0 || now == last))
		usleep(100);
	return __atomic_load_n(&k->done, __ATOMIC_ACQUIRE) ? 0 : now;
}

static void *seeded_kill_loop(void *arg)
{
	struct seeded *k = arg;
	pid_t victim = 0;

	pthread_mutex_lock(&k->lock);
	while (!k->done && k->kills < SEEDED_ROUNDS) {
		/* Counted from the last kill, acknowledged by any process. */
		unsigned int target = k->acks + 1 + rand_r(&k->seed) % SEEDED_GAP;

		/* The client may run a gap past it, not more: however late
		 * this thread gets the CPU, a round is a bounded number of
		 * requests (the files the test can stat are bounded too). */
		k->ack_limit = target + SEEDED_GAP;
		pthread_cond_broadcast(&k->cond);
		/* The process serving now (the last one was reaped). */
		pthread_mutex_unlock(&k->lock);
		victim = seeded_next_child(k, victim);
		pthread_mutex_lock(&k->lock);
		while (!k->done && k->acks < target)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->done || victim <= 0)
			break;
		if (kill(victim, SIGKILL) == 0)
			k->kills++;
	}
	pthread_cond_broadcast(&k->cond); /* the client waits no longer */
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

static void seeded_write_read(struct server *s, struct seeded *k, bool posted)
{
	uint8_t v = (uint8_t)(k->out + 1), got = 0;
	int ret;

	if (posted)
		assert_int_equal(vus_client_region_write_posted(s->c, IDIO16_BAR,
								IDIO16_REG_OUT0_7,
								&v, 1), 0);
	else
		seeded_acked(k, vus_client_region_write(s->c, IDIO16_BAR,
							IDIO16_REG_OUT0_7, &v, 1));
	k->out = v;
	ret = vus_client_region_read(s->c, IDIO16_BAR, IDIO16_REG_OUT0_7, &got, 1);
	seeded_acked(k, ret);
	if (ret == 0)
		assert_int_equal(got, v);
}

/*
 * Map the other range with a new file, then unmap the old one. A DMA_MAP
 * answered EINTR is tried again with another file; -EEXIST then says one
 * of the tries answered EINTR was applied after all (which one the store
 * tells at the end: they all stay candidates).
 */
static void seeded_remap(struct server *s, struct seeded *k)
{
	uint64_t old = k->map_addr, addr = old == 0x100000 ? 0x200000 : 0x100000;
	unsigned int first = k->nr_files;
	int ret;

	for (unsigned int i = 0; i < k->nr_files; i++)
		k->cand[i] = false;
	do {
		assert_true(k->nr_files < SEEDED_FILES);
		ret = raw_dma_map_file(s->c, addr, SEEDED_MAP_SIZE,
				       &k->files[k->nr_files]);
		k->cand[k->nr_files++] = ret != -EEXIST;
		k->map_eintr += ret == -EINTR;
		seeded_acked(k, ret == -EEXIST && k->nr_files - first > 1 ? 0 : ret);
	} while (ret == -EINTR);
	if (ret == -EEXIST)
		k->applied_anyway++;
	else
		for (unsigned int i = first; i + 1 < k->nr_files; i++)
			k->cand[i] = false; /* refused: only the last one maps */
	k->map_addr = addr;
	/* Unmapping a range already unmapped succeeds (and unmaps nothing). */
	while (old != 0 && (ret = raw_dma_unmap(s->c, old, SEEDED_MAP_SIZE)) != 0)
		seeded_acked(k, ret);
	if (old != 0)
		seeded_acked(k, 0);
}

static void seeded_kills_keep_every_acknowledged_write(void **state)
{
	const char *env = getenv("VUS_TEST_SEED");
	struct seeded k = { .lock = PTHREAD_MUTEX_INITIALIZER,
			    .cond = PTHREAD_COND_INITIALIZER };
	unsigned int steps = 0;
	struct server s;
	int held = 0;
	pthread_t th;

	(void)state;
	k.seed = env ? (unsigned int)strtoul(env, NULL, 0) :
		       (unsigned int)time(NULL) ^ (unsigned int)getpid();
	printf("seeded kills: seed %u (VUS_TEST_SEED=%u repeats the kill points)\n",
	       k.seed, k.seed);
	supervised_start(&s);
	k.sup = s.pid;
	seeded_write_read(&s, &k, false);
	seeded_remap(&s, &k);
	k.ack_limit = k.acks + 1 + 2 * SEEDED_GAP; /* until the first target */
	assert_int_equal(pthread_create(&th, NULL, seeded_kill_loop, &k), 0);
	for (;;) {
		pthread_mutex_lock(&k.lock);
		while (k.kills < SEEDED_ROUNDS && k.acks >= k.ack_limit)
			pthread_cond_wait(&k.cond, &k.lock);
		__atomic_store_n(&k.done, k.kills >= SEEDED_ROUNDS, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&k.lock);
		if (k.done)
			break;
		if (++steps % 16 == 0)
			seeded_remap(&s, &k);
		seeded_write_read(&s, &k, steps & 1);
	}
	pthread_cond_broadcast(&k.cond);
	pthread_join(th, NULL);
	/* Mappings moved with no kill (whose restart would sweep what the
	 * store kept beyond the commit), then a last restart shows it. */
	seeded_remap(&s, &k);
	seeded_remap(&s, &k);
	crash(&s);
	seeded_write_read(&s, &k, false);
	assert_int_equal(client_fds_handed_over(s.pid), 1);
	for (unsigned int i = 0; i < k.nr_files; i++) {
		int n = fds_on(s.pid, &k.files[i]);

		assert_true(n <= (int)k.cand[i]);
		held += n;
	}
	assert_int_equal(held, 1);
	assert_int_equal(raw_dma_map(s.c, k.map_addr, SEEDED_MAP_SIZE), -EEXIST);
	printf("seeded kills: %u kills, %u steps, %u DMA_MAPs (%u answered EINTR, %u of them applied)\n",
	       k.kills, steps, k.nr_files, k.map_eintr, k.applied_anyway);
	stop(&s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		VTEST(random_kills_under_load),
		VTEST(seeded_kills_keep_every_acknowledged_write),
	};

	return recover_main("recover_load", tests, argc, argv);
}
