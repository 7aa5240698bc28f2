/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crash recovery keeps what the client gave the vus-gpio-pci sample: its
 * DMA mappings and interrupt eventfds live in vus-supervise's fd store and
 * are the restarted process's; a file stored for a commit the dead
 * process never made is swept from the store.
 *
 *   test_recover_client VUS_SUPERVISE VUS_GPIO_PCI [TEST-FILTER]
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

#include "../samples/gpio-pci/idio16.h"

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
	assert_int_equal(raw_dma_map(s.c, a, len), -EEXIST);
	assert_int_equal(vus_client_dma_map_memfd(s.c, b, len,
						  VUS_CLIENT_DMA_READ, &mem), 0);
	crash(&s);
	assert_int_equal(raw_dma_map(s.c, a, len), -EEXIST);
	assert_int_equal(raw_dma_map(s.c, b, len), -EEXIST);
	intx_fires(&s, 7);
	/* Unmapped, then killed: gone in the next process too. */
	assert_int_equal(vus_client_dma_unmap(s.c, b, len), 0);
	crash(&s);
	assert_int_equal(raw_dma_map(s.c, b, len), 0);
	intx_fires(&s, 15);
	stop(&s);
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
	assert_int_equal(raw_dma_map(s.c, 0x100000, 0x10000), -EEXIST);
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
		VTEST(client_memory_and_interrupts_survive),
		VTEST(spare_fds_are_swept),
	};

	return recover_main("recover_client", tests, argc, argv);
}
