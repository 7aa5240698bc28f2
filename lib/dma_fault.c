/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dma_fault: a SIGBUS in client memory costs the client its memory, not
 * the server its life.
 *
 * A client can make the memory behind a DMA mapping vanish after the map:
 * shrink the memfd (QEMU's memory-backend-memfd seals against that by
 * default, other backends do not), or map a sparse file whose holes
 * cannot be filled (a full tmpfs). The next access, by the library or by
 * a device through a vus_dma_sg() pointer, raises SIGBUS. The handler
 * installed here looks the faulting address up in every context's DMA
 * table; if it lies in a mapping, the whole mapping is replaced by
 * anonymous memory of the same size and protection (one mmap, async-
 * signal-safe), the access is retried and succeeds, and the context
 * thread is woken to log it. The device sees zeros where the client's
 * memory was and its writes go nowhere: garbage from a client that broke
 * its grant, which a device must tolerate from guest memory anyway. A
 * SIGBUS anywhere else goes to the handler installed before ours, or
 * kills the process as it would have.
 *
 * Tables are found through a list that only context creation and
 * destruction change (under a mutex); the handler reads it with atomic
 * loads. A table's mappings are read as dma.c's readers do, under its
 * sequence count.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "dma_priv.h"
#include "log.h"

#define SNAPSHOT_TRIES 1000u /* a writer mid-change is done long before */

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dma_table *_Atomic tables;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous; /* under install_lock */

/* Whether one of block @blk's @cnt mappings holds local address @p. */
static bool block_holds(const struct dma_table *dt, uint32_t blk,
			uint32_t cnt, const uint8_t *p, struct dma_map *out)
{
	if (blk >= dt->nblk)
		return false; /* a torn read: the sequence count will tell */
	for (uint32_t j = 0; j < MIN(cnt, DMA_BLOCK); j++) {
		map_load(&dt->m[(size_t)blk * DMA_BLOCK + j], out);
		if (out->map != NULL && p >= (uint8_t *)out->map &&
		    (size_t)(p - (uint8_t *)out->map) < out->map_len)
			return true;
	}
	return false;
}

/* The mapping of @dt that holds local address @p, read consistently. */
static bool find_local(struct dma_table *dt, const uint8_t *p,
		       struct dma_map *out)
{
	for (unsigned int t = 0; t < SNAPSHOT_TRIES; t++) {
		unsigned int s1 = atomic_load_explicit(&dt->seq,
						       memory_order_acquire);
		uint32_t nd = MIN(LD(dt->nd), dt->nblk);
		bool found = false;

		if (s1 & 1)
			continue;
		/* By local address, not DMA address: every block is looked at. */
		for (uint32_t d = 0; d < nd && !found; d++)
			found = block_holds(dt, LD(dt->dir[d].blk),
					    LD(dt->dir[d].cnt), p, out);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&dt->seq, memory_order_relaxed) == s1)
			return found;
	}
	return false;
}

/* Anonymous memory in place of the mapping at @addr; whether it was ours. */
static bool repair(void *addr)
{
	struct dma_table *dt;
	struct dma_map m;
	uint64_t one = 1;
	int wake;

	for (dt = atomic_load(&tables); dt != NULL; dt = atomic_load(&dt->fault_next)) {
		if (!find_local(dt, addr, &m))
			continue;
		if (mmap(m.map, m.map_len,
			 ((m.prot & VUS_DMA_READ) ? PROT_READ : 0) |
			 ((m.prot & VUS_DMA_WRITE) ? PROT_WRITE : 0),
			 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0) == MAP_FAILED)
			return false;
		atomic_store(&dt->fault_addr, m.addr);
		atomic_fetch_add(&dt->faults, 1);
		atomic_fetch_add(&dt->repairs, 1);
		wake = atomic_load(&dt->fault_wake_fd);
		if (wake >= 0)
			(void)!write(wake, &one, sizeof(one));
		return true;
	}
	return false;
}

/* Not ours: whoever handled SIGBUS before us, or what SIGBUS does. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, si, uc);
		return;
	}
	if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
		return;
	}
	/* The default: a fault comes back and kills the process on return;
	 * a SIGBUS someone sent is raised again (delivered after return). */
	signal(SIGBUS, SIG_DFL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (si->si_code <= 0 || !repair(si->si_addr))
		pass_on(sig, si, uc);
	errno = saved;
}

static bool ours(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_sigbus;
}

void dma_fault_arm(void)
{
	struct sigaction cur, sa = { .sa_sigaction = on_sigbus,
				     .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	if (sigaction(SIGBUS, NULL, &cur) == 0 && ours(&cur))
		return;
	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&install_lock);
	/* Whoever installed a handler since (a test harness, the program)
	 * keeps getting the faults that are not ours. */
	if (sigaction(SIGBUS, NULL, &cur) == 0 && !ours(&cur))
		(void)sigaction(SIGBUS, &sa, &previous);
	pthread_mutex_unlock(&install_lock);
}

void dma_fault_register(struct dma_table *dt)
{
	dma_fault_arm();
	atomic_store(&dt->fault_wake_fd, -1);
	pthread_mutex_lock(&tables_lock);
	atomic_store(&dt->fault_next, atomic_load(&tables));
	atomic_store(&tables, dt);
	pthread_mutex_unlock(&tables_lock);
}

void dma_fault_unregister(struct dma_table *dt)
{
	struct dma_table *_Atomic *pp;

	pthread_mutex_lock(&tables_lock);
	for (pp = &tables; atomic_load(pp) != NULL; pp = &atomic_load(pp)->fault_next) {
		if (atomic_load(pp) == dt) {
			atomic_store(pp, atomic_load(&dt->fault_next));
			break;
		}
	}
	pthread_mutex_unlock(&tables_lock);
}

void dma_fault_set_wake(struct dma_table *dt, int fd)
{
	atomic_store(&dt->fault_wake_fd, fd);
}

void dma_fault_report(struct dma_table *dt)
{
	unsigned int n = atomic_exchange(&dt->faults, 0);

	if (n == 0)
		return;
	log_client(dt->log, VUS_LOG_WARNING,
		   "client memory at DMA address 0x%" PRIx64 " vanished under "
		   "an access (file shrunk, or a hole that cannot be filled): "
		   "%u mapping(s) replaced by anonymous memory",
		   (uint64_t)atomic_load(&dt->fault_addr), n);
}
